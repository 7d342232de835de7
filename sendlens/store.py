"""The corpus: one SQLite file (with FTS5) and a folder of original PDFs.

Writes happen in transactions: a crash or Ctrl-C in the middle of a letter
leaves the database as it was before that letter. PDFs are stored by content
hash and moved into place atomically, so a half-written file never has a name
the database could point at.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shlex
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from scraper.records import STRAIGHT_QUOTES, FetchRecord

try:
    import fcntl
except ImportError:  # Windows: no flock; concurrent runs there may both train
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 4
# Older schemas a read-only corpus (which cannot be upgraded) is still read in: each later
# one only added what readers do without (3: labels.themes_offered, read as NULL; 4: the
# taken_out table, which only `supersede --undo` and `info` read).
READABLE_SCHEMAS = (2, 3, 4)
DB_NAME = "sendlens.db"
LOCK_NAME = "models.lock"  # see Corpus.model_lock
SCRAPE_LOCK_NAME = "scrape.lock"  # see Corpus.scrape_lock
_HELD_LOCKS: dict[tuple[str, int], int] = {}  # (corpus root, thread) -> model_lock depth

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);

CREATE TABLE IF NOT EXISTS letters (
    letter_id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    area TEXT NOT NULL,
    area_published TEXT,
    ofsted_urn TEXT,
    la_code TEXT,
    region TEXT,
    framework TEXT NOT NULL,
    title TEXT,
    inspection_start TEXT,
    inspection_end TEXT,
    published TEXT,
    letter_date TEXT,
    previous_inspection TEXT,
    outcome TEXT,
    weaknesses_total INTEGER,
    weaknesses_progress INTEGER,
    next_inspection TEXT,
    source TEXT,
    pdf_path TEXT,
    n_pages INTEGER,
    n_passages INTEGER,
    clean_text TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    parser_version TEXT
);

CREATE TABLE IF NOT EXISTS sections (
    letter_id TEXT NOT NULL REFERENCES letters(letter_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    canonical TEXT NOT NULL,
    heading TEXT,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    PRIMARY KEY (letter_id, seq)
);

CREATE TABLE IF NOT EXISTS passages (
    passage_id TEXT PRIMARY KEY,
    letter_id TEXT NOT NULL REFERENCES letters(letter_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    section TEXT NOT NULL,
    heading TEXT,
    paragraph INTEGER NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_letter ON passages(letter_id, seq);
CREATE INDEX IF NOT EXISTS passages_section ON passages(section);

CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    text, content='passages', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER IF NOT EXISTS passages_au AFTER UPDATE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO passages_fts(rowid, text) VALUES (new.rowid, new.text);
END;

CREATE TABLE IF NOT EXISTS fetches (
    file_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    provider_urn TEXT,
    council TEXT,
    label TEXT,
    published TEXT,
    retrieved_at TEXT,
    sha256 TEXT,
    letter_id TEXT,
    status TEXT NOT NULL,
    error TEXT
);

-- Files whose text a later file of the same report replaced (a corrected report): known,
-- so that importing one again neither adds it nor swaps the text back.
CREATE TABLE IF NOT EXISTS replaced_files (
    sha256 TEXT PRIMARY KEY,
    letter_id TEXT NOT NULL,
    source TEXT,
    published TEXT,
    replaced_at TEXT NOT NULL
);

-- Inspections whose letter `sendlens supersede` took out as an earlier publication of
-- letter_id's report: another file of one is a copy of that report, not a new letter.
CREATE TABLE IF NOT EXISTS superseded (
    area TEXT NOT NULL,
    framework TEXT NOT NULL,
    inspection_start TEXT NOT NULL,
    letter_id TEXT NOT NULL,
    superseded_id TEXT NOT NULL,
    superseded_at TEXT NOT NULL,
    PRIMARY KEY (area, framework, inspection_start)
);

-- Letters `sendlens supersede` took out, with the rows it changed as they were (JSON), so
-- that `supersede --undo` can put one back; its PDF stays in the store until then.
CREATE TABLE IF NOT EXISTS taken_out (
    letter_id TEXT PRIMARY KEY,
    by_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT,
    published TEXT,
    ofsted_urn TEXT,
    before TEXT NOT NULL,
    taken_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS tags (
    passage_id TEXT PRIMARY KEY REFERENCES passages(passage_id) ON DELETE CASCADE,
    themes TEXT NOT NULL,
    stance TEXT NOT NULL,
    scores TEXT NOT NULL,
    model_version TEXT NOT NULL,
    tagged_at TEXT NOT NULL
);

-- themes_offered: the themes the correction's form offered (JSON list). It judges only
-- those, so a theme added to the codebook later does not take it for a negative. NULL
-- where that is not known (saved before schema 3, with no model to go by): such a
-- correction judges every theme, as it always did.
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id TEXT,
    letter TEXT,
    text TEXT NOT NULL,
    themes TEXT NOT NULL,
    stance TEXT,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    themes_offered TEXT
);
CREATE INDEX IF NOT EXISTS labels_passage ON labels(passage_id);

CREATE TABLE IF NOT EXISTS models (
    version TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    path TEXT NOT NULL,
    meta TEXT NOT NULL,
    is_current INTEGER NOT NULL DEFAULT 0
);
"""


# Letters of one area and framework begun closer than this are taken for one report held
# twice (close_pairs): full inspections are years apart, a revisit or a monitoring visit
# is of another framework.
TWIN_DAYS = 180
# How scrape, info and the app name such pairs, and what to do about one.
CLOSE_PAIRS = f"of letters of one area and framework begun within {TWIN_DAYS} days of each other"
SUPERSEDE_HINT = "`sendlens supersede OLD_ID --by CORRECTED_ID` takes the earlier out"


class CorpusError(Exception):
    """A corpus that cannot be opened or used: the message says why."""


# SQLite's primary result codes (the low byte of an extended code) that say why.
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT = 3, 8, 10, 11
_SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 13, 14, 26
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def database_problem(exc: sqlite3.Error, db_path: Path | str | None = None) -> str:
    """What went wrong with a corpus database, in words that point at the fix: a full
    disk or a folder that cannot be written is no reason to throw a corpus away."""
    where = f"{db_path}: " if db_path else "the corpus database: "
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_FULL:
        return (f"{where}the disk is full ({exc}); nothing was changed by the step that "
                "failed: free some space and run the command again")
    if primary in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_CANTOPEN):
        return (f"{where}cannot be written ({exc}): check the corpus folder's permissions, "
                "or copy the folder somewhere you can write and use --corpus (a corpus you "
                "may only read is still read by `info`, `export`, `classify` and the app)")
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return (f"{where}busy ({exc}): another sendlens run kept it locked for longer than "
                "sendlens waits; run the command again when that run has finished")
    if primary == _SQLITE_IOERR:
        return (f"{where}the disk could not be read or written ({exc}); if the disk is "
                "full or was unplugged, fix that and run the command again")
    damaged = ("restore it from a backup, or move it away and rebuild the corpus (`sendlens "
               "import`; the PDFs in its pdfs/ folder are kept, corrections made in the app "
               "are not)")
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return f"{where}damaged, not a usable sendlens database ({exc}); {damaged}"
    return f"{where}not a usable sendlens database ({exc}); {damaged}"


# How the store writes a date (inspection dates, publication dates): YYYY-MM-DD.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The date a letter (table alias `l`) is placed at in tables, filters and searches: when
# the inspection began, else when it was published, else the date it bears.
LETTER_DATE_SQL = "COALESCE(l.inspection_start, l.published, l.letter_date)"


def offered_column(con: sqlite3.Connection) -> str:
    """What to select for labels.themes_offered: the column, or NULL in a schema-2 corpus
    read where it cannot be upgraded (read-only, or opened by the app's readers)."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(labels)")}
    return "themes_offered" if "themes_offered" in columns else "NULL AS themes_offered"


def current_model_row(con: sqlite3.Connection) -> sqlite3.Row | None:
    """The current model's row of the models table (version, created_at, path, meta JSON);
    None when there is none. The newest, should more than one be marked current."""
    return con.execute("SELECT version, created_at, path, meta FROM models WHERE is_current = 1"
                       " ORDER BY created_at DESC").fetchone()


def _guess_themes_offered(con: sqlite3.Connection) -> None:
    """Corrections saved before schema 3 were offered the themes of the model current
    then: the current model's (and the correction's own) are the best guess. Left NULL
    (judging every theme, as before) when there is no model."""
    row = current_model_row(con)
    themes = json.loads(row["meta"] or "{}").get("themes") if row else None
    if not themes:
        return
    for label_id, given in con.execute("SELECT id, themes FROM labels").fetchall():
        offered = sorted(set(themes) | set(json.loads(given or "[]")))
        con.execute("UPDATE labels SET themes_offered = ? WHERE id = ?",
                    (json.dumps(offered), label_id))


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


_OWN_TABLES = frozenset(re.findall(r"CREATE (?:VIRTUAL )?TABLE IF NOT EXISTS (\w+)", SCHEMA))


def _sendlens_table(name: str) -> bool:
    """A table sendlens makes (the full-text index's shadow tables included)."""
    return name in _OWN_TABLES or name.startswith(("passages_fts", "sqlite_"))


def in_the_way(path: Path, *, link_hint: str) -> str | None:
    """What on the way to `path` is no folder ("X is a file, not a folder", or "X is a link
    to a folder that is not there (`link_hint`)"), or None."""
    for part in [*reversed(path.parents), path]:
        if part.is_symlink() and not part.exists():
            return f"{part} is a link to a folder that is not there ({link_hint})"
        if part.exists() and not part.is_dir():
            return f"{part} is a file, not a folder"
    return None


def not_a_folder(path: str | Path) -> str | None:
    """What is wrong with a corpus path that is no folder (a file, a link to nothing), and,
    for the corpus's own database (`--corpus corpus/sendlens.db`), the folder to give
    instead; None when it is a folder or is not there yet."""
    root = Path(path)
    said = in_the_way(root, link_hint="a drive not mounted?")
    if said and root.name == DB_NAME and root.is_file():
        said += (f": the corpus is the folder holding it, {root.parent} "
                 f"(sendlens app --corpus {shlex.quote(str(root.parent))})")
    return said


def check_folder(root: Path) -> None:
    """CorpusError when `root` is there but no folder (or cannot be looked at): checked
    before anything is read or made in it."""
    try:
        if root.exists() and not root.is_dir():
            raise CorpusError(f"{root}: not a folder")
    except OSError as exc:  # a name too long for the file system: a traceback
        raise CorpusError(f"{root}: {exc.strerror or exc}") from exc


@dataclass
class Corpus:
    """A corpus folder. Open with `Corpus.open(path)`."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)  # Corpus("corpus") would otherwise fail on its first path

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> Corpus:
        root = Path(path)
        check_folder(root)
        # Only import and scrape make a corpus: a command that reads one must not turn
        # any folder it is pointed at (a folder of PDFs, say) into an empty corpus.
        if not create and not (root / DB_NAME).is_file():
            # The full path: run from the wrong folder, "corpus: no corpus here" hid where
            # it looked, and how to look elsewhere.
            raise CorpusError(f"{root.absolute()}: no corpus here (run `sendlens import` or "
                              "`scrape`, or point to one with --corpus or $SENDLENS_CORPUS)")
        try:
            empty = not create and (root / DB_NAME).stat().st_size == 0
        except FileNotFoundError:  # removed meanwhile (an import that found nothing)
            empty = False
        if empty:
            # Being made by another run, or cut short (a failed disk or copy, a run killed
            # as it began): a reading command made an empty corpus of it without a word.
            raise CorpusError(
                f"{(root / DB_NAME).absolute()}: empty file (0 bytes), no corpus in it yet; "
                "if another sendlens run is just making it, try again in a moment; if it "
                "held a corpus, put it back from a backup (the PDFs in its pdfs folder can "
                "be imported again: `sendlens import` of that folder); `sendlens import` or "
                "`scrape` makes a new corpus there")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EIO,
                             errno.EDQUOT):
                raise  # named by the command line, with what to do
            # `--corpus notes.txt/corpus`, a link to nothing or a loop of links, a folder
            # no file can be made in (/proc): a traceback.
            if why := in_the_way(root, link_hint="or a loop of links"):
                raise CorpusError(f"{root}: cannot be made, as {why}") from exc
            raise CorpusError(f"{root}: cannot be made a folder ({exc.strerror})") from exc
        corpus = cls(root)
        try:
            version = (corpus.check_kind()
                       if corpus.db_path.is_file() and corpus.db_path.stat().st_size else None)
            if corpus.readonly:
                corpus._check_schema(version)
            else:
                corpus._migrate()
        except sqlite3.DatabaseError as exc:  # not SQLite, truncated, read-only, disk full
            # Only for an open refused (a damaged file is named as damaged below).
            if corpus.readonly and corpus.pending_wal and getattr(
                    exc, "sqlite_errorname", "").startswith(("SQLITE_CANTOPEN",
                                                             "SQLITE_READONLY")):
                raise CorpusError(
                    f"{corpus.db_path}: its latest changes are still in {DB_NAME}-wal "
                    f"beside it, which cannot be read here without a {DB_NAME}-shm file "
                    f"this user cannot create ({exc}); run any sendlens command on the "
                    "corpus once where its folder can be written (that folds them in), or "
                    "copy the folder and use --corpus") from exc
            raise CorpusError(database_problem(exc, corpus.db_path)) from exc
        return corpus

    @property
    def readonly(self) -> bool:
        """A corpus this user may read but not write (a shared folder): it is read through
        immutable connections, as SQLite's journal could not be written beside it."""
        return self.db_path.is_file() and not (
            os.access(self.root, os.W_OK) and os.access(self.db_path, os.W_OK))

    def _check_schema(self, version: int | None) -> None:
        """A read-only corpus cannot be upgraded: one of an older schema is refused (a
        newer one `check_kind` has refused already). `version` as `check_kind` read it;
        None when it read none (an empty file is then read here, and named if unusable)."""
        if version is None:
            con = self.connect(readonly=True)
            try:
                row = con.execute("SELECT value FROM meta WHERE key='schema_version'"
                                  ).fetchone()
            finally:
                con.close()
            version = int(row["value"]) if row else 0
        if version not in READABLE_SCHEMAS:
            raise CorpusError(
                f"{self.db_path}: made by an older sendlens (schema {version}) and read-only "
                "here, so it cannot be upgraded; copy the folder somewhere you can write and "
                "use --corpus")

    # --- paths ---------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def pdf_dir(self) -> Path:
        return self.root / "pdfs"

    @property
    def model_dir(self) -> Path:
        return self.root / "models"

    @property
    def tmp_dir(self) -> Path:
        path = self.root / "tmp"
        path.mkdir(exist_ok=True)
        return path

    def pdf_path_for(self, sha256: str) -> Path:
        return self.pdf_dir / sha256[:2] / f"{sha256}.pdf"

    # --- connections -----------------------------------------------------------
    @property
    def pending_wal(self) -> bool:
        """Whether writes committed to the corpus are still in sendlens.db-wal, not yet
        folded into sendlens.db (a run killed, or still running, or a copy taken then)."""
        wal = self.db_path.with_name(DB_NAME + "-wal")
        try:
            return wal.stat().st_size > 0
        except OSError:
            return False

    def connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        if readonly or self.readonly:
            # Immutable where the folder cannot be written: a WAL database is otherwise
            # unreadable without creating its -shm file beside it. Not while writes wait
            # in the -wal file: an immutable read ignores it, and showed the corpus as it
            # was before them (46 letters of 55), without a word. Read with it then.
            immutable = self.readonly and not self.pending_wal
            # The path percent-encoded: a "#", "?" or "%20" in a folder's name was read as
            # the URI's fragment, query or an escape, and another file opened (made).
            # Of its bytes: a name not in UTF-8 (a zip made on Windows) cannot be encoded.
            uri = (f"file:{quote(os.fsencode(self.db_path.resolve()))}?mode=ro"
                   + ("&immutable=1" if immutable else ""))
            con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            con = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA foreign_keys=ON")
        return con

    @contextmanager
    def transaction(self, con: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back on any exception, Ctrl-C included.

        Pass a connection from `connect()` to reuse it across many transactions
        (an import of many letters): closing a WAL connection costs a checkpoint.
        """
        own = con is None
        con = con or self.connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                if con.in_transaction:  # SQLite has rolled back itself after some errors
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            if own:
                con.close()

    @contextmanager
    def model_lock(self, waiting: Callable[[], None] | None = None) -> Iterator[None]:
        """Held while a model is trained or the corpus tagged (and while letters are read
        again, whose passage ids a `tag` would mis-tag), so that a second `tag`,
        `train` or the app's retrain (another process, or another app session's thread)
        waits for the first. Re-entrant within a thread; `waiting` is called before
        blocking. Without flock (Windows) it does not exclude anything."""
        self.check_writable()  # only runs that write take it
        key = (str(self.root.resolve()), threading.get_ident())
        if _HELD_LOCKS.get(key, 0) or fcntl is None:  # held by this thread, or no flock
            _HELD_LOCKS[key] = _HELD_LOCKS.get(key, 0) + 1
            try:
                yield
            finally:
                _HELD_LOCKS[key] -= 1
            return
        # Each acquisition opens the file anew: flock excludes other open files, so
        # other threads of this process block here too.
        with open(self.root / LOCK_NAME, "a+b") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting is not None:
                    waiting()
                fcntl.flock(fh, fcntl.LOCK_EX)
            _HELD_LOCKS[key] = 1
            try:
                yield
            finally:
                del _HELD_LOCKS[key]
                fcntl.flock(fh, fcntl.LOCK_UN)

    def check_writable(self) -> None:
        """Refuse, before any work, a run that would write to a read-only corpus."""
        if self.readonly:
            raise CorpusError(
                f"{self.root}: this corpus is read-only here (no permission to write in its "
                "folder): `info`, `export`, `classify` and the app read it; to scrape, tag, "
                "train or import, copy the folder somewhere you can write and use --corpus")

    @contextmanager
    def scrape_lock(self) -> Iterator[None]:
        """Held by a scrape, so that a second scrape of the same corpus is refused at once
        rather than fetching the same new files beside it (two requests in flight at
        the site). Without flock (Windows) it does not exclude anything."""
        self.check_writable()
        if fcntl is None:
            yield
            return
        with open(self.root / SCRAPE_LOCK_NAME, "a+b") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CorpusError(
                    f"{self.root}: another `sendlens scrape` is running on this corpus; let "
                    "it finish (or stop it) and run again if you need to") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def check_kind(self) -> int | None:
        """Refuse, before anything is written (even the switch to WAL), a newer sendlens's
        corpus or another program's database: opening must not change either. A database
        with no schema version yet is taken only if every table it has is sendlens's (a
        corpus another run is creating at this moment). Returns the schema version, if
        the database names one."""
        con = self.connect(readonly=True)
        try:
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            try:
                row = con.execute("SELECT value FROM meta WHERE key='schema_version'"
                                  ).fetchone() if "meta" in tables else None
            except sqlite3.OperationalError:  # a table "meta" of other columns
                row = None
                tables.add("meta (not sendlens's)")
        finally:
            con.close()
        if row is None and (other := sorted(t for t in tables if not _sendlens_table(t))):
            shown = ", ".join(other[:5]) + (", ..." if len(other) > 5 else "")
            raise CorpusError(
                f"{self.db_path}: not a sendlens corpus (a database of other tables: "
                f"{shown}); left as it is. Point --corpus at a sendlens corpus folder, or at "
                "a new folder to start one")
        try:
            version = int(row["value"]) if row else None
        except (TypeError, ValueError):
            raise CorpusError(f"{self.db_path}: damaged: its schema version reads "
                              f"{row['value']!r}, not a number; restore it from a backup, or "
                              "move it away and rebuild") from None
        if version is not None and version > SCHEMA_VERSION:
            raise CorpusError(f"{self.db_path}: made by a newer sendlens (schema "
                              f"{version}); upgrade sendlens to use it")
        return version

    def _migrate(self) -> None:
        # A damaged database raises sqlite3.DatabaseError, which open() turns into one
        # CorpusError whether it shows on connecting or on reading the schema.
        con = self.connect()
        try:
            con.executescript(SCHEMA)
            row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if (row and int(row["value"]) == SCHEMA_VERSION
                    and offered_column(con) == "themes_offered"):
                # Up to date: nothing written, so a corpus on a full disk still opens for
                # `info`, `export` and the app to read.
                return
            with self.transaction(con):
                if row and int(row["value"]) < 2:
                    _canonical_area_names(con)
                if offered_column(con) != "themes_offered":
                    # Schema 3; CREATE TABLE IF NOT EXISTS left an older table as it was.
                    con.execute("ALTER TABLE labels ADD COLUMN themes_offered TEXT")
                    _guess_themes_offered(con)
                con.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        finally:
            con.close()

    # --- small queries ------------------------------------------------------------
    def letter_with_sha256(
        self, sha256: str, con: sqlite3.Connection | None = None
    ) -> tuple[str, str | None] | None:
        """(letter_id, source) of the letter whose PDF has this hash, if there is one."""
        return self._first_letter("sha256=?", (sha256,), con)

    def replaced_file(
        self, sha256: str, con: sqlite3.Connection | None = None
    ) -> tuple[str, str | None, str] | None:
        """(letter_id, the letter's source now, when) for a file a later file of its report
        replaced."""
        if con is None:
            with self.reading() as own:
                return self.replaced_file(sha256, own)
        row = con.execute(
            "SELECT r.letter_id, l.source, r.replaced_at FROM replaced_files r "
            "JOIN letters l USING (letter_id) WHERE r.sha256=?", (sha256,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def taken_out_letter(self, sha256: str, con: sqlite3.Connection | None = None
                         ) -> str | None:
        """The id of the letter `supersede` took out whose file this is, if any."""
        if con is None:
            with self.reading() as own:
                return self.taken_out_letter(sha256, own)
        row = con.execute("SELECT letter_id FROM taken_out WHERE sha256=?",
                          (sha256,)).fetchone()
        return row[0] if row else None

    def letter_of_inspection(
        self, area: str, framework: str, inspection_start: str,
        con: sqlite3.Connection | None = None, *, other_than: str = "",
    ) -> tuple[str, str | None] | None:
        """(letter_id, source) of a letter already held for this area's inspection of this
        framework that began on this date, if there is one (other than letter `other_than`);
        else of the letter that superseded the inspection's letter (`superseded`)."""
        if con is None:
            with self.reading() as own:
                return self.letter_of_inspection(area, framework, inspection_start, own,
                                                 other_than=other_than)
        args = (area, framework, inspection_start, other_than)
        if found := self._first_letter(
                "area=? AND framework=? AND inspection_start=? AND letter_id != ?", args, con):
            return found
        row = con.execute(
            "SELECT s.letter_id, l.source FROM superseded s JOIN letters l USING (letter_id) "
            "WHERE s.area=? AND s.framework=? AND s.inspection_start=? AND s.letter_id != ?",
            args).fetchone()
        return (row["letter_id"], row["source"]) if row else None

    def _first_letter(self, where: str, args: tuple[str, ...],
                      con: sqlite3.Connection | None) -> tuple[str, str | None] | None:
        """(letter_id, source) of the first letter imported that matches `where`."""
        if con is None:
            with self.reading() as own:
                return self._first_letter(where, args, own)
        row = con.execute(f"SELECT letter_id, source FROM letters WHERE {where} "
                          "ORDER BY imported_at LIMIT 1", args).fetchone()
        return (row["letter_id"], row["source"]) if row else None

    def record_fetch(self, rec: FetchRecord, con: sqlite3.Connection | None = None) -> None:
        """Write what the scraper knows of a file (in `con`'s transaction when given)."""
        sql = (
            "INSERT OR REPLACE INTO fetches (file_id, url, provider_urn, council, label, "
            "published, retrieved_at, sha256, letter_id, status, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        values = (
            rec.file_id, rec.url, rec.provider_urn, rec.council, rec.label, rec.published,
            rec.retrieved_at, rec.sha256, rec.letter_id, rec.status, rec.error,
        )
        if con is not None:
            con.execute(sql, values)
            return
        with self.transaction() as own:
            own.execute(sql, values)

    def get_meta(self, key: str) -> str | None:
        with self.reading() as con:
            row = con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as con:
            con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def counts(self) -> dict[str, int]:
        with self.reading() as con:
            return {
                table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("letters", "passages", "fetches", "tags", "labels")
            }

    def close_pairs(self, days: int = TWIN_DAYS,
                    con: sqlite3.Connection | None = None) -> list[sqlite3.Row]:
        """Pairs of letters of one area and framework whose inspections began (else were
        published) within `days` of each other: no area is inspected twice so soon, so
        perhaps one report held twice, corrected and published again under other dates,
        which a theme table counts as two letters. Columns: area, framework, and of each
        letter its id, start and source (first the earlier). Read through `con` when
        given (a transaction that acts on a pair)."""
        if con is None:
            with self.reading() as own:
                return self.close_pairs(days, own)
        return con.execute(
            """SELECT a.area, a.framework,
                      a.letter_id AS first_id, coalesce(a.inspection_start, a.published)
                      AS first_start, a.source AS first_source,
                      b.letter_id AS second_id, coalesce(b.inspection_start, b.published)
                      AS second_start, b.source AS second_source
               FROM letters a JOIN letters b
                 ON a.area = b.area AND a.framework = b.framework
                AND (coalesce(a.inspection_start, a.published), a.letter_id)
                    < (coalesce(b.inspection_start, b.published), b.letter_id)
               WHERE abs(julianday(coalesce(b.inspection_start, b.published))
                         - julianday(coalesce(a.inspection_start, a.published))) <= ?
               ORDER BY a.area, first_start""", (days,)).fetchall()

    def close_pairs_text(self, letter_ids: Collection[str | None] | None = None) -> list[str]:
        """Each pair of `close_pairs()` (with one of `letter_ids`, when given), in words."""
        return [f"{r['area']}, {r['framework']}: {r['first_start']} (letter {r['first_id']}, "
                f"{r['first_source']}) and {r['second_start']} (letter {r['second_id']}, "
                f"{r['second_source']})"
                for r in self.close_pairs()
                if letter_ids is None or {r["first_id"], r["second_id"]} & set(letter_ids)]

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection that reads one state of the corpus: a table made of several
        queries (letters, cells, intervals) must not mix tags from before and after a
        `tag` or an import that commits between them."""
        con = self.connect()
        try:
            con.execute("BEGIN")  # a read transaction: the snapshot holds until it ends
            yield con
        finally:
            con.close()

    # --- files ---------------------------------------------------------------------
    def sweep_pdfs(self) -> int:
        """Remove what runs killed midway left in the store: half-written copies
        (`.partial-*`), and the PDF of a replaced file (`replaced_files`) when the run that
        replaced it stopped before removing it. Returns how many. Under the write lock, as
        every import stores its PDF inside its letter's transaction, so no other run's
        copy is caught while being written. Other whole PDFs no letter points to are kept
        (`unlisted_pdfs`): that is also what a database lost or put back from a backup
        looks like, and the store may hold the only copy of a scraped letter."""
        if not self.pdf_dir.is_dir():
            return 0
        removed = 0
        with self.transaction() as con:
            # (A letter taken out by `supersede` keeps its file, for `--undo`.)
            replaced = {r[0] for r in con.execute(
                "SELECT sha256 FROM replaced_files WHERE sha256 NOT IN "
                "(SELECT sha256 FROM letters WHERE sha256 IS NOT NULL) "
                "AND sha256 NOT IN (SELECT sha256 FROM taken_out)")}
            for path in self.pdf_dir.glob("*/*"):
                if (path.name.startswith(".partial-")
                        or (path.suffix == ".pdf" and path.stem in replaced)) and path.is_file():
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def unlisted_pdfs(self) -> list[Path]:
        """Whole PDFs in the store that no letter points to (nor a replaced file names):
        from a run stopped between storing a file and committing its letter, or a
        database lost or put back from a backup. `sendlens import` of the store folder
        takes them back in. (A run importing meanwhile may show one of its files here.)"""
        if not self.pdf_dir.is_dir():
            return []
        # The folder first, then the database: a letter committed in between is then
        # not taken for unlisted.
        found = [path for path in self.pdf_dir.glob("*/*.pdf") if path.is_file()]
        with self.reading() as con:
            known = {r[0] for r in con.execute(
                "SELECT sha256 FROM letters WHERE sha256 IS NOT NULL "
                "UNION SELECT sha256 FROM replaced_files")}
        return sorted(path for path in found if path.stem not in known)

    def pdf_intact(self, sha256: str) -> bool:
        """Whether the store holds this file as imported: there, and its content still
        hashes to its name (not gone, nor another file put in its place)."""
        path = self.pdf_path_for(sha256)
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256

    def store_pdf(self, data: bytes, sha256: str, *, check: bool = False) -> Path:
        """Write a PDF's bytes into the content-addressed store (atomic); return its path.

        Takes the bytes the importer already read, so each file is read once. With
        `check`, a copy already there is rewritten unless its content has that hash
        (one changed on disk since).
        """
        dest = self.pdf_path_for(sha256)
        # A complete copy is already there (a crash can leave none half-written:
        # the copy is renamed into place only once written).
        if dest.is_file() and dest.stat().st_size == len(data) and (
                not check or self.pdf_intact(sha256)):
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".partial-", suffix=".tmp")
        try:
            # mkstemp makes it 0600: readable by its writer alone, a corpus shared with
            # others (a group's folder) could not be re-imported or reparsed by them.
            os.chmod(tmp, 0o666 & ~_umask())
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                # On disk before the rename, and the rename on disk before the letter's
                # commit: else a power cut could leave a letter pointing at an empty file.
                os.fsync(out.fileno())
            os.replace(tmp, dest)
            _fsync_dir(dest.parent)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest


def _umask() -> int:
    # Read without setting it where the system tells (setting it, even for a moment,
    # would apply to files another thread creates meanwhile).
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # Windows: a folder cannot be opened, nor needs to be
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder: nothing more can be done
    finally:
        os.close(fd)


def tags_of_other_models(con: sqlite3.Connection, version: str) -> int:
    """Passages whose tags come from a model other than `version` (the current one)."""
    sql = "SELECT count(*) FROM tags WHERE model_version != ?"
    return int(con.execute(sql, (version,)).fetchone()[0])


def untagged_counts(con: sqlite3.Connection) -> tuple[int, int]:
    """(passages, letters) with no tags: imported after the last `sendlens tag`."""
    row = con.execute("SELECT count(*), count(DISTINCT p.letter_id) FROM passages p"
                      " LEFT JOIN tags t USING (passage_id) WHERE t.passage_id IS NULL"
                      ).fetchone()
    return int(row[0]), int(row[1])


def untagged_letter_ids(con: sqlite3.Connection) -> frozenset[str]:
    """The letters of `untagged_counts`: those with a passage not tagged yet."""
    return frozenset(r[0] for r in con.execute(
        "SELECT DISTINCT p.letter_id FROM passages p LEFT JOIN tags t USING (passage_id)"
        " WHERE t.passage_id IS NULL"))


def corpus_size(con: sqlite3.Connection) -> tuple[int, int]:
    """(letters, passages) a model trained now would learn from: letters with passages."""
    row = con.execute("SELECT count(DISTINCT letter_id), count(*) FROM passages").fetchone()
    return int(row[0]), int(row[1])


def letters_read_otherwise(con: sqlite3.Connection, parser_version: str) -> list[str]:
    """Ids of the letters read by another version of the parser than `parser_version`
    (the importer's, passed in so that the app need not load the PDF reader)."""
    sql = "SELECT letter_id FROM letters WHERE parser_version IS NOT ? ORDER BY letter_id"
    return [r[0] for r in con.execute(sql, (parser_version,))]


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _canonical_area_names(con: sqlite3.Connection) -> None:
    """Schema 1 -> 2: `area` becomes the local authority's name from the lookup table
    (one name per authority, whatever the letter's spelling); the name as published
    moves to `area_published`."""
    from textmine.areas import lookup_area

    columns = {r["name"] for r in con.execute("PRAGMA table_info(letters)")}
    if "area_published" not in columns:
        con.execute("ALTER TABLE letters ADD COLUMN area_published TEXT")
    con.execute("UPDATE letters SET area_published = area WHERE area_published IS NULL")
    for row in con.execute("SELECT DISTINCT la_code FROM letters WHERE la_code IS NOT NULL"):
        la = lookup_area(code=row["la_code"])
        if la is not None:
            con.execute("UPDATE letters SET area = ? WHERE la_code = ?",
                        (la.name, row["la_code"]))


# --- full-text search ----------------------------------------------------------------

MAX_FTS_QUERY = 200  # characters of a search: longer input is cut, not refused
_WORD = re.compile(r'"[^"]+"|[\w\-\u2019\']+', re.UNICODE)


def _search_words(text: str) -> tuple[str, list[re.Match[str]]]:
    """A search as both readings of it take it: cut to MAX_FTS_QUERY, curly quotes made
    straight (as scraper.extract makes the letters' clean text, so that a phrase pasted
    from a PDF, "children’s needs", matches; and “a phrase” is a "phrase"), and its words
    and "quoted phrases"."""
    text = text[:MAX_FTS_QUERY].translate(STRAIGHT_QUOTES)
    return text, list(_WORD.finditer(text))


def exact_phrases(text: str) -> list[str]:
    """The "quoted" words or phrases of a search, each as a LIKE pattern: the full-text
    index matches stems ("timely" finds "time" and "timescales"), so a quoted one must
    also occur as typed (any case). `fts_query` still requires it, which keeps a quoted
    word from matching inside a longer one ("timely" in "untimely") in all but passages
    that have both."""
    out = []
    for found in _search_words(text)[1]:
        token = found.group()
        if token.startswith('"') and (phrase := " ".join(token.strip('"').split())):
            escaped = phrase.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            out.append(f"%{escaped}%")
    return out


def exact_phrase_sql(text: str) -> tuple[list[str], list[str]]:
    """The SQL conditions on passages `p` and their parameters that hold a search's
    "quoted" words or phrases to the text as typed (`exact_phrases`), one LIKE each, with
    the escape character `exact_phrases` escapes with."""
    phrases = exact_phrases(text)
    return ["p.text LIKE ? ESCAPE '\\'"] * len(phrases), phrases


def fts_query(text: str) -> str:
    """A researcher's words as a safe FTS5 query: every word (or "quoted phrase") must occur.

    Words are quoted, so FTS5 operators and punctuation typed by the user cannot
    produce a syntax error; a trailing * on a word keeps prefix search.
    """
    parts: list[str] = []
    text, words = _search_words(text)
    for found in words:
        # The * after this very token ("plan plan*": the second, not the first).
        prefix = text[found.end():found.end() + 1] == "*"
        word = found.group().strip('"').replace('"', "")
        # Operators typed as such (capitals) are left out: the words are all required
        # anyway. In lower case they are words: "not timely" is not "timely".
        if word in {"AND", "OR", "NOT", "NEAR"}:
            continue
        if word:
            parts.append(f'"{word}"' + ("*" if prefix else ""))
    return " ".join(parts)
