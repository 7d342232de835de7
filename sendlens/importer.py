"""Import PDFs into the corpus: extract → parse → segment → store, one letter per transaction."""

from __future__ import annotations

import csv
import difflib
import errno
import hashlib
import json
import os
import re
import shlex
import sqlite3
import stat
import sys
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from scraper.extract import ExtractError, extract_pdf, pdf_header_in
from scraper.parse import (
    PARSER_VERSION,
    NotASendLetter,
    ParsedDocument,
    heading_runs,
    parse_date,
    parse_document,
)
from scraper.records import MAX_PDF_BYTES, FetchRecord, Letter, Passage
from sendlens.store import (
    ISO_DATE,
    Corpus,
    database_problem,
    dumps,
    in_the_way,
    letters_read_otherwise,
    now_iso,
)
from textmine.areas import LocalAuthority, lookup_area
from textmine.segment import segment

MANIFEST_NAME = "manifest.csv"
# Columns a manifest may give ("path"/"urn" are older names of "file"/"ofsted_urn"), and
# columns for people that are not read (the shared manifest has the area and framework).
MANIFEST_COLUMNS = frozenset({"file", "path", "ofsted_urn", "urn", "published", "file_date",
                              "url", "sha256"})
MANIFEST_NOTES = frozenset({"area", "framework", "title", "notes", "note", "comment"})
# When another file of the report on a held inspection replaces the held letter's text:
# never; when published later ("newer", the scraper: the site dates every file); unless
# published earlier ("not-older", `import --replace`: a file of unknown date is taken as
# the one the user means).
Replace = Literal["never", "newer", "not-older"]
# Reasons of a duplicate that are worth naming in a summary (not a plain re-import).
COPY_REASONS = ("the same file as", "another copy of", "an earlier file of")
NO_PDFS = "no PDF files found in this folder or its subfolders"
SHA256 = re.compile(r"[0-9a-f]{64}")


def unlisted_note(corpus: Corpus, n: int) -> str:
    """What import and info say of `n` whole PDFs in the store that no letter lists."""
    one = n == 1
    return (f"{n:,} PDF{' is' if one else 's are'} in the corpus's PDF store but in no letter "
            "of its database (a run stopped between storing a file and recording its letter, "
            "or a database lost or put back from a backup): kept; "
            f"`sendlens import {shlex.quote(str(corpus.pdf_dir))} --corpus "
            f"{shlex.quote(str(corpus.root))}` imports {'it' if one else 'them'}")


def shown_path(path: Path | str) -> str:
    """A path (or a message naming one) as text that can be printed and stored: bytes of
    a file name that are not UTF-8 (a zip made on Windows, unpacked here) as \\xNN, where
    Python's str(path) holds characters neither a terminal nor SQLite takes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass
class ImportOutcome:
    path: str  # as shown_path shows it
    status: str  # "imported", "replaced", "duplicate" or "skipped"
    reason: str = ""
    letter_id: str | None = None
    sha256: str | None = None
    area: str | None = None
    framework: str | None = None
    n_passages: int = 0
    # Columns of a letter already held that this import filled in (they were empty).
    filled: tuple[str, ...] = ()
    # Sections every report of its framework has that this one lacks (a file cut short).
    missing: tuple[str, ...] = ()
    # Signs that the file holds more than this letter (only the first letter is read).
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.path, self.reason = shown_path(self.path), shown_path(self.reason)

    def missing_note(self) -> str:
        """The sections it lacks, as the import and scrape summaries say it ("" if none)."""
        if not self.missing:
            return ""
        return (f"it has no {' or '.join(self.missing)} section, which every report of its "
                "kind has: the file may be incomplete")


@dataclass
class ImportReport:
    outcomes: list[ImportOutcome] = field(default_factory=list)
    interrupted: bool = False
    # Why the run stopped before the end (a full disk, a store it cannot write), if it did.
    stopped: str = ""
    # Files interrupted runs had left in the PDF store (sweep_pdfs), removed first.
    swept: int = 0
    # Whole PDFs in the store that no letter points to after the run (kept), and what
    # to say of them (unlisted_note).
    unlisted: int = 0
    unlisted_note: str = ""
    # Problems that did not stop an import (a manifest.csv row that could not be
    # used, by file and line): the summary shows them so none goes unnoticed.
    warnings: list[str] = field(default_factory=list)

    def by_status(self, status: str) -> list[ImportOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def skipped(self) -> list[ImportOutcome]:
        return self.by_status("skipped")

    def summary(self) -> str:
        lines = [
            f"imported {len(self.by_status('imported'))}, "
            + (f"replaced {len(self.by_status('replaced'))}, "
               if self.by_status("replaced") else "")
            + f"already in the corpus {len(self.by_status('duplicate'))}, "
            f"skipped {len(self.skipped)}"
            + (" (interrupted: run the same command again to carry on)" if self.interrupted else "")
        ]
        if self.swept:
            lines.append(f"  removed {self.swept} file{'' if self.swept == 1 else 's'} that "
                         "interrupted runs had left in the corpus's PDF store (half-written "
                         "copies, or the file a corrected report replaced)")
        if self.unlisted:
            lines.append(f"  note: {self.unlisted_note}")
        if self.stopped:
            lines.append(f"  stopped before the end: {self.stopped}; the letters imported "
                         "before are kept: run the same command again once that is fixed")
        lines += [f"  skipped {o.path}: {o.reason}" for o in self.skipped]
        lines += [f"  replaced: {o.path} {o.reason}" for o in self.by_status("replaced")]
        # A copy under another name (re-imports of the same file are not listed).
        lines += [f"  already in the corpus: {o.path} is {o.reason}"
                  for o in self.by_status("duplicate")
                  if o.reason.startswith(COPY_REASONS)]
        lines += [f"  already in the corpus: {o.path}: its {' and '.join(o.filled)} (empty "
                  "until now) filled in from the manifest"
                  for o in self.by_status("duplicate") if o.filled]
        # Kept (it is a SEND letter), but nothing of it can be tagged or counted.
        lines += [f"  warning: {o.path}: imported, but no sentences were found in its text "
                  "(it will not be tagged or counted in any table)"
                  for o in self.by_status("imported") if not o.n_passages]
        lines += [f"  warning: {o.path}: imported, but {o.missing_note()} (check it; "
                  "`sendlens import --replace FILE` takes the complete one)"
                  for o in self.by_status("imported") if o.n_passages and o.missing]
        lines += [f"  warning: {o.path}: imported, but {note}"
                  for o in self.by_status("imported") for note in o.notes]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def import_pdf(
    corpus: Corpus,
    path: Path | str,
    *,
    source: str | None = None,
    ofsted_urn: str | None = None,
    published: str | None = None,
    con: sqlite3.Connection | None = None,
    fetch: FetchRecord | None = None,
    replace: Replace = "never",
    withdrawn: Collection[str] = (),
) -> ImportOutcome:
    """Import one PDF. Never raises for a bad document: the outcome says why it was skipped.

    `con` (from `corpus.connect()`) lets a batch reuse one connection. `fetch` (from
    the scraper) is recorded with the outcome, in the same transaction as the letter,
    so a killed scrape never holds a letter without knowing it fetched it.

    Another file of the report on an inspection already held (same area, framework and
    start date) is not imported, unless `replace` (see `Replace`) lets it replace the held
    letter's text (a corrected report published again); the letter keeps its id, and its
    corrections follow their sentence. A file replaced so is never imported again. For a
    held letter in `withdrawn` (the scraper: its file is no longer listed where it was)
    "not-older" applies: the site put this file in its place, dated the same or later.
    """
    outcome = _import_pdf(corpus, Path(path), source, ofsted_urn, published, con, fetch,
                          replace, withdrawn)
    if fetch is not None and outcome.status not in ("imported", "replaced"):
        _mark_fetch(fetch, outcome)
        corpus.record_fetch(fetch, con)
    return outcome


SAME_FILE = "same file already imported"


def _duplicate_of(stored: str | None, path: Path) -> str:
    """Why `path` is a duplicate of the letter imported from `stored`: SAME_FILE, or the
    other local file it copies."""
    if not stored or "://" in stored:
        return SAME_FILE
    before = Path(stored)
    # Sources are stored absolute; a relative one (older corpora) was relative to a
    # working folder no longer known, so only its file name can be compared.
    elsewhere = (stored != shown_path(path.resolve()) if before.is_absolute()
                 else before.name != shown_path(path.name))
    return f"the same file as {stored} (imported before)" if elsewhere else SAME_FILE


def _fill_in(corpus: Corpus, con: sqlite3.Connection | None, letter_id: str,
             **values: str | None) -> tuple[str, ...]:
    """Give a held letter the values it lacks (a manifest read after the letter was
    imported without one); a value it has is never overwritten. Returns the columns set."""
    given = {k: v for k, v in values.items() if v}
    if not given:
        return ()
    with corpus.transaction(con) as db:
        row = db.execute(f"SELECT {', '.join(given)} FROM letters WHERE letter_id=?",
                         (letter_id,)).fetchone()
        empty = {k: v for k, v in given.items() if not row[k]}
        if empty:
            _set_columns(db, letter_id, empty)
    return tuple(empty)


def _set_columns(db: sqlite3.Connection, letter_id: str, columns: dict[str, object]) -> None:
    """Set these columns of a letter's row."""
    db.execute(f"UPDATE letters SET {', '.join(f'{c}=?' for c in columns)} "
               "WHERE letter_id=?", (*columns.values(), letter_id))


def _mark_fetch(fetch: FetchRecord, outcome: ImportOutcome) -> None:
    fetch.sha256 = outcome.sha256 or fetch.sha256
    fetch.letter_id = outcome.letter_id
    fetch.status = outcome.status
    # Kept for a copy of a report already held, and one that replaced it, too: the
    # scrape's summary says why.
    fetch.error = (outcome.reason if outcome.status in ("skipped", "replaced")
                   or outcome.reason.startswith(COPY_REASONS[1:]) else None)


def _held_file(corpus: Corpus, con: sqlite3.Connection | None, path: Path, sha: str,
               ofsted_urn: str | None, published: str | None,
               data: bytes) -> ImportOutcome | None:
    """The outcome for a file whose bytes the corpus already holds (giving its letter what
    the manifest or site adds), or None when it holds no such file. The store's copy of
    it is put back if it has gone or changed on disk since (`import --reparse` refuses
    such a copy and sends the user here)."""
    if (existing := corpus.letter_with_sha256(sha, con)) is None:
        return None
    letter_id, stored = existing
    filled = _fill_in(corpus, con, letter_id, ofsted_urn=ofsted_urn, published=published)
    reason = _duplicate_of(stored, path)
    if not corpus.pdf_intact(sha):
        with corpus.transaction(con):  # under the write lock, as every write to the store
            corpus.store_pdf(data, sha, check=True)
        reason += "; its copy in the corpus's PDF store, gone or changed, was put back"
    return ImportOutcome(str(path), "duplicate", reason, letter_id, sha, filled=filled)


def _import_pdf(
    corpus: Corpus,
    path: Path,
    source: str | None,
    ofsted_urn: str | None,
    published: str | None,
    con: sqlite3.Connection | None,
    fetch: FetchRecord | None,
    replace: Replace = "never",
    withdrawn: Collection[str] = (),
    *,
    retry: bool = True,
) -> ImportOutcome:
    try:
        info = path.stat()
        # Looked at before reading: a pipe would wait for ever, a device (/dev/zero) or a
        # disk image named by mistake would be read whole into memory.
        if not stat.S_ISREG(info.st_mode):
            return ImportOutcome(str(path), "skipped", "not a regular file (a device, a pipe "
                                 "or a socket), so not read")
        if info.st_size > MAX_PDF_BYTES:
            return ImportOutcome(str(path), "skipped", f"{info.st_size:,} bytes, over the "
                                 f"{MAX_PDF_BYTES // 2**20} MB no inspection letter comes near, "
                                 "so not read")
        data = path.read_bytes()
    except OSError as exc:
        return ImportOutcome(str(path), "skipped", f"cannot read: {exc.strerror or exc}")
    sha = hashlib.sha256(data).hexdigest()
    if held_file := _held_file(corpus, con, path, sha, ofsted_urn, published, data):
        return held_file
    if gone := corpus.replaced_file(sha, con):
        letter_id, now_from, when = gone
        reason = (f"an earlier file of the report now read from {now_from or letter_id}, "
                  f"which replaced it on {when[:10]}: not imported again")
        if out := corpus.taken_out_letter(sha, con):
            reason += (f" (letter {out}, taken out by `supersede`: `sendlens supersede {out} "
                       "--undo` puts it back)")
            if not corpus.pdf_intact(sha):
                # What `--undo` reads it back from, as a held letter's copy is put back.
                with corpus.transaction(con):
                    corpus.store_pdf(data, sha, check=True)
                reason += "; its copy in the corpus's PDF store, gone or changed, was put back"
        return ImportOutcome(str(path), "duplicate", reason, letter_id, sha)
    try:
        extracted = extract_pdf(path, data)
        doc = parse_document(extracted.paragraphs)
    except ExtractError as exc:
        return ImportOutcome(str(path), "skipped", str(exc).split(": ", 1)[-1], sha256=sha)
    except NotASendLetter as exc:
        return ImportOutcome(str(path), "skipped", str(exc), sha256=sha)
    passages = segment(doc)
    letter = doc.letter
    letter_id = sha[:12]
    given_published = published
    # The manifest's or the site's date, else the letter's own.
    published = published or letter.published or letter.letter_date
    la, area_notes = _authority(letter.area, ofsted_urn, letter.inspection_start or published)
    area = la.name if la else letter.area
    if letter.inspection_start and (
        held := corpus.letter_of_inspection(area, letter.framework, letter.inspection_start, con)
    ):
        # Other bytes, same inspection (a re-saved or re-published copy): a second letter
        # would count the inspection twice in every table.
        other, stored = held
        if held_file := _held_file(corpus, con, path, sha, ofsted_urn, given_published,
                                   data):
            # This very file, imported by another run since the look-up above.
            return held_file
        if _replaces(corpus, con, other, published,
                     "not-older" if replace != "never" and other in withdrawn else replace):
            return _replace_letter(corpus, con, other, path, data, sha, doc, passages,
                                   extracted.n_pages, la, source=source,
                                   ofsted_urn=ofsted_urn, published=published, fetch=fetch)
        return ImportOutcome(
            str(path), "duplicate",
            f"another copy of the report on the same inspection as {stored or other} ({area}, "
            f"{letter.framework}, begun {letter.inspection_start}): not imported, so that the "
            "inspection is not counted twice"
            + _compared(corpus, con, other, extracted.n_pages, len(passages)),
            other, sha)
    if la and not ofsted_urn and la.ofsted_urn:
        ofsted_urn = la.ofsted_urn
    pdf = corpus.pdf_path_for(sha)
    new_file = not pdf.exists()
    outcome: ImportOutcome | None = None  # set inside the transaction, just before COMMIT
    try:
        with corpus.transaction(con) as db:
            # Asked again under the write lock: another run (an import in a second
            # terminal, a scrape) may have taken this file or inspection since.
            if corpus.letter_with_sha256(sha, db) or (letter.inspection_start and
                                                      corpus.letter_of_inspection(
                    area, letter.framework, letter.inspection_start, db)):
                raise _TakenMeanwhile
            # Stored in the transaction, so that a failed write leaves no file behind.
            stored = corpus.store_pdf(data, sha)
            columns = {
                "letter_id": letter_id, "sha256": sha, "ofsted_urn": ofsted_urn,
                "published": published,
                # Absolute: a path relative to that day's folder means nothing later.
                "source": source or shown_path(path.resolve()),
                "pdf_path": str(stored.relative_to(corpus.root)), "imported_at": now_iso(),
                **_read_columns(doc, la, extracted.n_pages, len(passages)),
            }
            _insert_letter(db, columns, letter, passages)
            outcome = ImportOutcome(
                str(path), "imported", "", letter_id, sha, letter.area, letter.framework,
                len(passages), missing=_missing_sections(letter.framework, passages),
                notes=area_notes + _more_than_a_letter(doc, extracted.n_pages) + _unread(doc)
                + _date_before_inspection(given_published, letter.inspection_start),
            )
            if fetch is not None:
                _mark_fetch(fetch, outcome)
                corpus.record_fetch(fetch, db)
    except _TakenMeanwhile:
        # Now the checks above find the other letter and say what it is (once: checks
        # that disagreed again would only read the file again and again).
        if not retry:
            raise RuntimeError(f"{path}: the corpus's own checks disagree on whether it "
                               "already holds this letter; nothing was imported") from None
        return _import_pdf(corpus, path, source, ofsted_urn, given_published, con, fetch,
                           replace, withdrawn, retry=False)
    except BaseException as exc:
        # (Without an outcome the interrupt came before this run wrote anything: a letter
        # with this PDF is another run's, whose file is not ours to remove either.)
        if _committed(corpus, sha):
            if outcome is None:
                raise
            # Ctrl-C or TERM just after the COMMIT: the letter is in, so its PDF stays
            # (removed, nothing would bring it back), and the run counts it.
            if isinstance(exc, KeyboardInterrupt):
                raise InterruptedAfterImport(outcome) from exc
            raise
        if new_file:
            with suppress(OSError):  # the store's own failure is the one to report
                pdf.unlink(missing_ok=True)
        raise
    assert outcome is not None  # the transaction completed
    return outcome


# Far more pages than any letter has (the 55 reports of 2023-2025 have 7 to 12).
MAX_LETTER_PAGES = 40


def _authority(
    area: str, ofsted_urn: str | None, on: str | None
) -> tuple[LocalAuthority | None, tuple[str, ...]]:
    """The council a letter is filed under, and a note when its page says otherwise.

    The area the letter names decides; the URN of the provider page it was listed on
    only when the name is not recognised, or is also a name of the page's council (while
    that council existed). A letter can sit on another council's record
    (a neighbour's, a successor's), and filing it there would move its findings to the
    wrong row of every table. Dated, so that a letter from before a reorganisation goes
    to the council of its day."""
    by_name = lookup_area(area, on=on) if area else None
    by_urn = lookup_area(area, urn=ofsted_urn, on=on) if ofsted_urn else None
    if by_name is None or by_urn is None or by_urn.la_code == by_name.la_code:
        return by_name or by_urn, ()
    if by_urn.goes_by(area) and by_urn.existed_on(on):
        # The page's council goes by that name too (and existed then): an undated "Dorset"
        # letter on the former county's record is the county's (the name alone means
        # today's); a 2024 one is today's Dorset's.
        return by_urn, ()
    return by_name, (f"the letter is about {area}, but it was listed on the page of "
                     f"{by_urn.name} (URN {ofsted_urn}): filed under {by_name.name}, as "
                     "the letter says",)


def _unread(doc: ParsedDocument) -> tuple[str, ...]:
    """Lines of the body that give no passage: a table of words read as headings."""
    return tuple(f"{n} short lines in a row on page {page}, from {first[:60]!r}, read as "
                 "headings and give no passage (a table?): they are left out of every table "
                 "and search" for page, n, first in heading_runs(doc))


def _more_than_a_letter(doc: ParsedDocument, n_pages: int) -> tuple[str, ...]:
    """Why a file may hold more than the one letter read from it (several bound together)."""
    notes = []
    own = " ".join((doc.letter.title or "").casefold().split())

    def same(title: str) -> bool:  # the letter's own title, maybe cut at a line's end
        title = " ".join(title.casefold().split())
        return bool(own and title) and (own.startswith(title) or title.startswith(own))

    others = [(page, title) for page, title in doc.later_titles if not same(title)]
    if others:
        page, title = others[0]
        notes.append(
            f"it seems to hold {len(others) + 1} letters (another title on page {page}: "
            f"{title[:80]!r}): only the first is read; split the file into one PDF per "
            "letter and import those")
    elif doc.later_titles:
        # Not another letter: its own title page printed again, or the letter bound twice.
        page, title = doc.later_titles[0]
        notes.append(f"its own title comes again on page {page} ({title[:80]!r}): a page "
                     "repeated, or the letter bound twice; read up to there")
    if n_pages > MAX_LETTER_PAGES:
        notes.append(f"it has {n_pages} pages, far more than a letter (under "
                     f"{MAX_LETTER_PAGES}): only the first letter in it is read")
    return tuple(notes)


def _date_before_inspection(published: str | None, start: str | None) -> tuple[str, ...]:
    """A publication date given (a manifest's, the site's) that precedes the inspection:
    kept, as given, but most likely another letter's row or a typing slip."""
    if published and start and published < start:
        return (f"its publication date {published} (from the manifest or the site) is "
                f"before the inspection began ({start}): check it",)
    return ()


class InterruptedAfterImport(KeyboardInterrupt):
    """An interrupt that came once the letter was committed: `outcome` is what was done."""

    def __init__(self, outcome: ImportOutcome) -> None:
        super().__init__()
        self.outcome = outcome


@contextmanager
def _counted_if_committed(corpus: Corpus, sha: str, done: list[ImportOutcome]) -> Iterator[None]:
    """An interrupt just after the COMMIT of a letter's new text: the run counts it."""
    try:
        yield
    except KeyboardInterrupt as exc:
        if done and not isinstance(exc, InterruptedAfterImport) and _committed(corpus, sha):
            raise InterruptedAfterImport(done[0]) from exc
        raise


def _committed(corpus: Corpus, sha: str) -> bool:
    """Whether a letter with this PDF is in the corpus (read afresh, after the write)."""
    try:
        return corpus.letter_with_sha256(sha) is not None
    except (sqlite3.Error, OSError):
        return False


# The sections with passages that every report of a framework has (all 55 reports of
# 2023-2025 have these); a file that lacks one is most likely cut short.
EXPECTED_SECTIONS = {"area_send_2023": ("experience", "strengths", "weaknesses", "actions")}


def _missing_sections(framework: str, passages: Sequence[Passage]) -> tuple[str, ...]:
    present = {p.section for p in passages}
    return tuple(s for s in EXPECTED_SECTIONS.get(framework, ()) if s not in present)


class _TakenMeanwhile(Exception):
    """Another run imported this file, or another of its inspection, after the checks."""


def _compared(corpus: Corpus, con: sqlite3.Connection | None, letter_id: str,
              n_pages: int, n_passages: int) -> str:
    """What tells two files of one report apart, when their lengths differ: the held one
    may be cut short, or an earlier version."""
    with (nullcontext(con) if con is not None else corpus.reading()) as db:
        row = db.execute("SELECT n_pages, n_passages FROM letters WHERE letter_id=?",
                         (letter_id,)).fetchone()
    if row is None or (row["n_pages"], row["n_passages"]) == (n_pages, n_passages):
        return ""
    return (f" (the one held has {row['n_pages']} pages and {row['n_passages']} passages, "
            f"this file {n_pages} and {n_passages}: if this is the complete or corrected "
            "report, `sendlens import --replace` takes it instead)")


def _replaces(corpus: Corpus, con: sqlite3.Connection | None, letter_id: str,
              published: str | None, replace: Replace) -> bool:
    """Whether a file `published` then replaces the held letter's text (dates are ISO)."""
    if replace == "never":
        return False
    with (nullcontext(con) if con is not None else corpus.reading()) as db:
        row = db.execute("SELECT published FROM letters WHERE letter_id=?",
                         (letter_id,)).fetchone()
    held = row["published"] if row else None
    if replace == "newer":
        return bool(published) and (not held or published > held)
    return not (published and held and held > published)


def _replace_letter(
    corpus: Corpus, con: sqlite3.Connection | None, letter_id: str, path: Path, data: bytes,
    sha: str, doc: ParsedDocument, passages: Sequence[Passage], n_pages: int,
    la: LocalAuthority | None, *, source: str | None, ofsted_urn: str | None,
    published: str | None, fetch: FetchRecord | None,
) -> ImportOutcome:
    """Give a held letter the text of another file of its report: its PDF, hash, source and
    what it states are the new file's; passages that changed lose their tags (for `tag`
    to redo) and corrections follow their sentence, as in a reparse."""
    letter = doc.letter
    # Passage ids are reused for new text: a `tag` or retrain running meanwhile would
    # write the old sentences' tags onto them. They hold this lock too.
    done: list[ImportOutcome] = []  # the outcome, once written in the transaction
    with _counted_if_committed(corpus, sha, done), corpus.model_lock(_say_waiting), \
            corpus.transaction(con) as db:
        # Stored under the write lock, as every import does: another run's sweep of stray
        # files then never sees it before its letter points to it.
        stored = corpus.store_pdf(data, sha)
        old = db.execute("SELECT sha256, source, pdf_path, published, ofsted_urn FROM "
                         "letters WHERE letter_id=?", (letter_id,)).fetchone()
        db.execute("INSERT OR REPLACE INTO replaced_files VALUES (?,?,?,?,?)",
                   (old["sha256"], letter_id, old["source"], old["published"], now_iso()))
        changed, moved, unplaced = _rewrite_passages(db, letter_id, letter, passages)
        columns = {
            **_read_columns(doc, la, n_pages, len(passages)),
            "sha256": sha, "source": source or shown_path(path.resolve()),
            # imported_at stays: it orders the letters of an inspection (the first is the
            # one a copy is compared with).
            "pdf_path": str(stored.relative_to(corpus.root)),
            "published": published or old["published"],
            "ofsted_urn": ofsted_urn or old["ofsted_urn"] or (la.ofsted_urn if la else None),
        }
        _set_columns(db, letter_id, columns)
        was = old["source"] or letter_id
        reason = (
            f"replaces {was}"
            + (f" (published {old['published']})" if old["published"] else "")
            + f" as the report on the same inspection ({columns['area']}, {letter.framework},"
            f" begun {letter.inspection_start}): "
            + (f"its passages changed ({len(passages)} now) and have no tags until "
               "`sendlens tag`" if changed else "its passages are the same")
            + (f"; corrections made in the app: {moved} moved with their sentence, "
               f"{unplaced} whose sentence is no longer a passage of its own kept for "
               "training by their text" if moved or unplaced else ""))
        outcome = ImportOutcome(str(path), "replaced", reason, letter_id, sha, letter.area,
                                letter.framework, len(passages))
        done.append(outcome)
        if fetch is not None:
            _mark_fetch(fetch, outcome)
            corpus.record_fetch(fetch, db)
    if old["pdf_path"] and old["pdf_path"] != columns["pdf_path"]:
        # No letter keeps it now. Removed after the commit: a crash in between leaves a
        # stray file (swept by the next import, as replaced_files names it), never a
        # letter without its PDF.
        gone = corpus.root / old["pdf_path"]
        gone.unlink(missing_ok=True)
        with suppress(OSError):  # its folder, if it held only that file
            gone.parent.rmdir()
    return outcome


def supersede_letter(corpus: Corpus, old_id: str, new_id: str) -> str:
    """Take letter `old_id` out of the corpus as an earlier publication of the report that
    letter `new_id` holds (one report corrected and published again under other dates,
    which every table counted twice). Its passages and tags go; its file is remembered as
    replaced by `new_id`, so neither an import nor a scrape brings it back; corrections
    made in the app follow their sentence into `new_id` where it has it. Returns what was
    done, in words; ValueError (which letter, what is wrong) leaves the corpus as it was."""
    from sendlens.store import TWIN_DAYS

    if old_id == new_id:
        raise ValueError(f"letter {old_id} cannot supersede itself: give the other letter "
                         "of the report with --by")
    with corpus.model_lock(_waiting_to("taking a letter out")), corpus.transaction() as db:
        held = {r["letter_id"]: r for r in db.execute(
            "SELECT letter_id, area, framework, sha256, source, published, ofsted_urn, "
            "imported_at, inspection_start, "
            "coalesce(inspection_start, published, 'undated') AS start, "
            "n_passages FROM letters WHERE letter_id IN (?, ?)", (old_id, new_id))}
        if old_id not in held and new_id in held and (done := db.execute(
                "SELECT by_id AS letter_id, taken_at AS superseded_at FROM taken_out "
                "WHERE letter_id=? UNION ALL SELECT letter_id, superseded_at FROM superseded "
                "WHERE superseded_id=?", (old_id, old_id)).fetchone()) is not None \
                and done["letter_id"] == new_id:
            # Run again after a run that finished (killed just after its commit, say):
            # what was asked is done, so not an error for a script that retries.
            return (f"letter {old_id} was already taken out as an earlier publication of "
                    f"the report of letter {new_id} ({done['superseded_at'][:10]}): "
                    "nothing to do")
        if missing := [i for i in (old_id, new_id) if i not in held]:
            out = {r["letter_id"]: r for r in db.execute(
                f"SELECT letter_id, by_id, taken_at FROM taken_out WHERE letter_id IN "
                f"({','.join('?' * len(missing))})", missing)}
            raise ValueError("; ".join(
                f"letter {i} was taken out already, as an earlier publication of letter "
                f"{out[i]['by_id']}'s report ({out[i]['taken_at'][:10]}; `sendlens supersede "
                f"{i} --undo` puts it back)" if i in out else
                f"no letter {i} in the corpus at {corpus.root} (`sendlens export letters` "
                "lists their ids)" for i in missing))
        old, new = held[old_id], held[new_id]
        if (old["area"], old["framework"]) != (new["area"], new["framework"]):
            raise ValueError(
                f"letters {old_id} ({old['area']}, {old['framework']}) and {new_id} "
                f"({new['area']}, {new['framework']}) are not of one area and framework, so "
                "not two publications of one report: nothing was changed")
        if not any({r["first_id"], r["second_id"]} == {old_id, new_id}
                   for r in corpus.close_pairs(con=db)):
            # A mistyped id would take out another inspection, and it cannot be undone.
            raise ValueError(
                f"letters {old_id} ({old['start']}) and {new_id} ({new['start']}) of "
                f"{old['area']} were not begun within {TWIN_DAYS} days of each other, so "
                "are not taken for one report published twice: nothing was changed")
        # Every file of it known (the one read, copies held back): none comes back.
        files = {old["sha256"]} | {r[0] for r in db.execute(
            "SELECT sha256 FROM fetches WHERE letter_id=? AND sha256 IS NOT NULL",
            (old_id,))} - {new["sha256"]}
        labels = _corrections_of(db, old_id)
        # The rows changed below, as they were, for `supersede --undo`.
        before = {
            "replaced_files": _rows_as_dicts(db, "replaced_files", "letter_id=? OR sha256 IN "
                                             f"({','.join('?' * len(files))})",
                                             (old_id, *sorted(files))),
            "replaced_added": sorted(files),
            "superseded": _rows_as_dicts(db, "superseded", "letter_id=?", (old_id,)),
            "superseded_added": ([old["area"], old["framework"], old["inspection_start"]]
                                 if old["inspection_start"] else None),
            "fetches": _rows_as_dicts(db, "fetches", "letter_id=?", (old_id,)),
            "labels": [label["id"] for label in labels],
            "imported_at": old["imported_at"],  # when it first came in, kept by --undo
        }
        db.executemany("INSERT OR REPLACE INTO replaced_files VALUES (?,?,?,?,?)",
                       [(sha, new_id, old["source"], old["published"], now_iso())
                        for sha in sorted(files)])
        # And any other file of its inspection, re-saved or published again later.
        db.execute("UPDATE superseded SET letter_id=? WHERE letter_id=?", (new_id, old_id))
        if old["inspection_start"]:
            db.execute("INSERT OR REPLACE INTO superseded VALUES (?,?,?,?,?,?)",
                       (old["area"], old["framework"], old["inspection_start"], new_id,
                        old_id, now_iso()))
        db.execute("UPDATE replaced_files SET letter_id=? WHERE letter_id=?", (new_id, old_id))
        # Its files are copies of a report held: a scrape neither fetches nor cites them.
        db.execute("UPDATE fetches SET letter_id=?, status='duplicate', error=? "
                   "WHERE letter_id=?", (new_id, f"superseded by letter {new_id}", old_id))
        by_text = {r["text"]: r["passage_id"] for r in db.execute(
            "SELECT text, passage_id FROM passages WHERE letter_id=? ORDER BY seq DESC",
            (new_id,))}
        moved, _ = _follow_sentences(db, labels, by_text, new_id)
        db.execute("INSERT OR REPLACE INTO taken_out VALUES (?,?,?,?,?,?,?,?)",
                   (old_id, new_id, old["sha256"], old["source"], old["published"],
                    old["ofsted_urn"], dumps(before), now_iso()))
        # Its PDF stays in the store (swept by no import) for `--undo`.
        db.execute("DELETE FROM letters WHERE letter_id=?", (old_id,))  # passages, tags too
    return (f"letter {old_id} ({old['area']}, {old['framework']} of {old['start']}, "
            f"{old['source']}) taken out as an earlier publication of the report of letter "
            f"{new_id} ({new['start']}, {new['source']}): its {old['n_passages']} passages "
            "and their tags are gone from the corpus and its tables; its file is remembered, "
            "so neither `import` nor `scrape` brings it back"
            + (f"; corrections made in the app: {moved} moved to the same sentence of "
               f"{new_id}, {len(labels) - moved} kept for training by their text"
               if labels else "")
            + ". The model now learnt from a letter the corpus no longer holds: `sendlens "
            f"tag` retrains it and tags again. (`sendlens supersede {old_id} --undo` puts "
            "it back.)")


def _rows_as_dicts(db: sqlite3.Connection, table: str, where: str,
                   args: Sequence[object]) -> list[dict[str, object]]:
    return [dict(r) for r in db.execute(f"SELECT * FROM {table} WHERE {where}", tuple(args))]


def restore_letter(corpus: Corpus, old_id: str) -> str:
    """Undo `supersede_letter`: put letter `old_id` back, read again from its PDF (kept in
    the store), with its source, date and URL, and its files and fetches known as its own
    again, so that it counts as a letter of its own; corrections that followed their
    sentence into the other letter come back to it. Returns what was done, in words;
    ValueError (which letter, what is wrong) leaves the corpus as it was."""
    with corpus.reading() as con:
        taken = con.execute("SELECT * FROM taken_out WHERE letter_id=?", (old_id,)).fetchone()
        held = con.execute("SELECT 1 FROM letters WHERE letter_id=?", (old_id,)).fetchone()
        earlier = con.execute("SELECT 1 FROM superseded WHERE superseded_id=?",
                              (old_id,)).fetchone()
    if taken is None and held:
        # Run again after it was put back (or never taken out): what was asked holds.
        return f"letter {old_id} is in the corpus, not taken out: nothing to do"
    if taken is None:
        raise ValueError(
            f"letter {old_id} was taken out by an earlier version of sendlens, which kept "
            "neither its file nor what undoing needs: it cannot be put back" if earlier else
            f"no letter {old_id} was taken out by `sendlens supersede` in the corpus at "
            f"{corpus.root} (`sendlens info` lists those that were)")
    by_id, sha = taken["by_id"], taken["sha256"]
    if not corpus.pdf_intact(sha):
        raise ValueError(
            f"letter {old_id}: its file {corpus.pdf_path_for(sha)} is gone from the corpus's "
            f"PDF store or changed, so it cannot be read again; `sendlens import` of the "
            f"file it came from ({taken['source'] or 'unknown'}) puts its copy back: then "
            "run this again")
    path = corpus.pdf_path_for(sha)
    try:
        extracted = extract_pdf(path)
        doc = parse_document(extracted.paragraphs)
    except (ExtractError, NotASendLetter) as exc:
        raise ValueError(f"letter {old_id}: its file {path} cannot be read again: "
                         f"{exc}") from exc
    passages = segment(doc)
    letter = doc.letter
    la, _ = _authority(letter.area, taken["ofsted_urn"],
                       letter.inspection_start or taken["published"])
    before = json.loads(taken["before"])
    with corpus.model_lock(_waiting_to("putting a letter back")), \
            corpus.transaction() as db:
        if db.execute("SELECT 1 FROM letters WHERE letter_id=?", (by_id,)).fetchone() is None:
            raise ValueError(
                f"letter {old_id} was taken out as an earlier publication of letter {by_id}, "
                f"which is not in the corpus now (taken out in its turn?): put {by_id} back "
                f"first (`sendlens supersede {by_id} --undo`)")
        now = db.execute("SELECT taken_at FROM taken_out WHERE letter_id=?",
                         (old_id,)).fetchone()
        if now is None and db.execute("SELECT 1 FROM letters WHERE letter_id=?",
                                      (old_id,)).fetchone():
            # Another run put it back while this one read its file: done, as a re-run says.
            return f"letter {old_id} is in the corpus, not taken out: nothing to do"
        if now is None or now["taken_at"] != taken["taken_at"]:
            raise ValueError(f"letter {old_id} was put back (or taken out again) by another "
                             "run meanwhile: nothing was changed; run this again to see")
        # What supersede changed, as it was, where it still points at the letter kept.
        db.execute(f"DELETE FROM replaced_files WHERE letter_id=? AND sha256 IN "
                   f"({','.join('?' * len(before['replaced_added']))})",
                   (by_id, *before["replaced_added"]))
        for row in before["replaced_files"]:
            _put_back(db, "replaced_files", row, "sha256", by_id)
        if key := before["superseded_added"]:
            db.execute("DELETE FROM superseded WHERE area=? AND framework=? AND "
                       "inspection_start=? AND superseded_id=?", (*key, old_id))
        for row in before["superseded"]:
            _put_back(db, "superseded", row, ("area", "framework", "inspection_start"),
                      by_id)
        for row in before["fetches"]:
            _put_back(db, "fetches", row, "file_id", by_id)
        columns = {
            "letter_id": old_id, "sha256": sha, "ofsted_urn": taken["ofsted_urn"],
            "published": taken["published"], "source": taken["source"],
            "pdf_path": str(path.relative_to(corpus.root)),
            "imported_at": before.get("imported_at") or now_iso(),
            **_read_columns(doc, la, extracted.n_pages, len(passages)),
        }
        _insert_letter(db, columns, letter, passages)
        ids = before["labels"]
        labels = db.execute(
            "SELECT id, text, passage_id IS NOT NULL AS placed FROM labels WHERE letter=? "
            f"AND id IN ({','.join('?' * len(ids))})", (by_id, *ids)).fetchall()
        by_text = {p.text: f"{old_id}-{p.seq:04d}" for p in reversed(passages)}
        back, _ = _follow_sentences(db, labels, by_text, old_id)
        db.execute("DELETE FROM taken_out WHERE letter_id=?", (old_id,))
    return (f"letter {old_id} ({columns['area']}, {letter.framework} of "
            f"{letter.inspection_start or taken['published'] or 'undated'}, {taken['source']}) "
            f"put back beside letter {by_id}, read again from its file in the corpus: "
            f"{len(passages)} passages, not tagged yet"
            + (f"; corrections made in the app: {back} back on its sentences"
               if labels else "")
            + f". The tables count both letters again until one is taken out (`sendlens "
            f"supersede {by_id} --by {old_id}` keeps this one); `sendlens tag` retrains the "
            "model and tags again")


def _put_back(db: sqlite3.Connection, table: str, row: dict[str, object],
              key: str | tuple[str, ...], by_id: str) -> None:
    """A row as it was before a supersede, unless it has changed since other than by
    pointing at the letter kept (`by_id`)."""
    keys = (key,) if isinstance(key, str) else key
    now = db.execute(f"SELECT letter_id FROM {table} WHERE "
                     + " AND ".join(f"{k}=?" for k in keys),
                     tuple(row[k] for k in keys)).fetchone()
    if now is not None and now["letter_id"] != by_id:
        return
    db.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(row)}) "
               f"VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


def _waiting_to(what: str) -> Callable[[], None]:
    """What model_lock calls before it blocks: a bar alone sat at 0% with no reason."""
    def say() -> None:
        print("waiting for another sendlens run on this corpus (tag, train or the app's "
              f"Retrain) to finish before {what}", file=sys.stderr)
    return say


_say_waiting = _waiting_to("replacing a letter's text")
_say_waiting_to_reparse = _waiting_to("reading the letters again")


def _rewrite_passages(db: sqlite3.Connection, letter_id: str, letter: Letter,
                      passages: Sequence[Passage]) -> tuple[bool, int, int]:
    """A letter read again (or from another file of it): its sections, and its passages
    when they differ, replaced (their tags go with them). Returns (whether the passages
    changed, corrections moved with their sentence, corrections whose sentence is gone)."""
    old = [tuple(r) for r in db.execute(
        "SELECT seq, section, heading, paragraph, char_start, char_end, text FROM passages"
        " WHERE letter_id=? ORDER BY seq", (letter_id,))]
    new = [(p.seq, p.section, p.heading, p.paragraph, p.char_start, p.char_end, p.text)
           for p in passages]
    if old == new:  # the same passages: they keep their tags
        _write_structure(db, letter_id, letter, None)
        return False, 0, 0
    labels = _corrections_of(db, letter_id)
    _write_structure(db, letter_id, letter, passages)
    by_text = {p.text: f"{letter_id}-{p.seq:04d}" for p in reversed(passages)}
    moved, unplaced = _follow_sentences(db, labels, by_text, letter_id)
    return True, moved, unplaced


def _corrections_of(db: sqlite3.Connection, letter_id: str) -> list[sqlite3.Row]:
    """The app's corrections of a letter: on its passages, and those whose sentence an
    earlier change took away (it may be back)."""
    return db.execute(
        "SELECT id, text, passage_id IS NOT NULL AS placed FROM labels WHERE passage_id IN "
        "(SELECT passage_id FROM passages WHERE letter_id=?) "
        "OR (passage_id IS NULL AND letter=?)", (letter_id, letter_id)).fetchall()


def _follow_sentences(db: sqlite3.Connection, labels: Sequence[sqlite3.Row],
                      by_text: dict[str, str], letter_id: str) -> tuple[int, int]:
    """Each correction pointed at the passage of `letter_id` holding its sentence
    (`by_text`: the first such), or at none, kept for training by its text. Returns
    (corrections placed, corrections that lost their passage)."""
    moved = unplaced = 0
    for label in labels:
        target = by_text.get(label["text"])
        db.execute("UPDATE labels SET passage_id=?, letter=? WHERE id=?",
                   (target, letter_id, label["id"]))
        moved += target is not None
        unplaced += target is None and label["placed"]
    return moved, unplaced


def _read_columns(doc: ParsedDocument, la: LocalAuthority | None, n_pages: int,
                  n_passages: int) -> dict[str, object]:
    """The letters table's columns that come from reading the PDF (an import writes them,
    a reparse rewrites them)."""
    letter = doc.letter
    return {
        # One name per authority ("Durham" and "County Durham" are one row of an area
        # table); the letter's own spelling is kept beside it.
        "area": la.name if la else letter.area, "area_published": letter.area,
        "la_code": la.la_code if la else None, "region": la.region if la else None,
        "framework": letter.framework, "title": letter.title,
        "inspection_start": letter.inspection_start, "inspection_end": letter.inspection_end,
        "letter_date": letter.letter_date, "previous_inspection": letter.previous_inspection,
        "outcome": letter.outcome, "weaknesses_total": letter.weaknesses_total,
        "weaknesses_progress": letter.weaknesses_progress,
        "next_inspection": letter.next_inspection, "n_pages": n_pages,
        "n_passages": n_passages, "clean_text": doc.text, "parser_version": PARSER_VERSION,
    }


def _insert_letter(db: sqlite3.Connection, columns: dict[str, object], letter: Letter,
                   passages: Sequence[Passage]) -> None:
    """A new letter's row (`columns`), sections and passages."""
    db.execute(f"INSERT INTO letters ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})", tuple(columns.values()))
    _write_structure(db, str(columns["letter_id"]), letter, passages)


def _write_structure(db: sqlite3.Connection, letter_id: str, letter: Letter,
                     passages: Sequence[Passage] | None) -> None:
    """A letter's sections and passages, replacing any (a replaced passage's tags go with
    it). With `passages` None the passages (and their tags) are kept."""
    db.execute("DELETE FROM sections WHERE letter_id=?", (letter_id,))
    db.executemany(
        "INSERT INTO sections VALUES (?,?,?,?,?,?)",
        [
            (letter_id, i + 1, s.canonical, s.heading, s.char_start, s.char_end)
            for i, s in enumerate(letter.sections)
        ],
    )
    if passages is None:
        return
    db.execute("DELETE FROM passages WHERE letter_id=?", (letter_id,))
    db.executemany(
        "INSERT INTO passages (passage_id, letter_id, seq, section, heading, paragraph,"
        " char_start, char_end, text) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (f"{letter_id}-{p.seq:04d}", letter_id, p.seq, p.section, p.heading,
             p.paragraph, p.char_start, p.char_end, p.text)
            for p in passages
        ],
    )


# --- reading letters again with a newer parser -----------------------------------------


@dataclass
class ReparseReport:
    letters: int = 0  # read again
    changed: int = 0  # of those, letters whose passages changed (their tags are cleared)
    passages_before: int = 0
    passages_after: int = 0
    labels_moved: int = 0  # corrections that follow their sentence to its new passage
    labels_unplaced: int = 0  # corrections whose sentence is gone (kept as text labels)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (letter, reason)
    # (letter, other, what): letters that now read as the report of an inspection that
    # another letter of the corpus is already the report of.
    same_inspection: list[tuple[str, str, str]] = field(default_factory=list)
    # (letter, area before, area now, why): letters now filed under another area (row
    # of every table by area), and the importer's note on why, if any.
    moved: list[tuple[str, str, str, str]] = field(default_factory=list)
    interrupted: bool = False

    def summary(self) -> str:
        if not self.letters and not self.failed:
            if self.interrupted:  # stopped before the first letter (waiting for a `tag`)
                return ("interrupted before any letter was read again: run the same command "
                        "again to read them")
            return f"every letter was read by the current parser (version {PARSER_VERSION})"
        lines = [
            f"read {self.letters} letter{'' if self.letters == 1 else 's'} again with "
            f"parser version {PARSER_VERSION}: the "
            f"passages of {self.changed:,} changed ({self.passages_before:,} passages before, "
            f"{self.passages_after:,} now)"
            + ("; run `sendlens tag` to tag them" if self.changed else "")
            + (" (interrupted: run the same command again to carry on)"
               if self.interrupted else "")
        ]
        if self.labels_moved or self.labels_unplaced:
            lines.append(
                f"  corrections made in the app: {self.labels_moved} moved with their "
                f"sentence to its new passage, {self.labels_unplaced} whose sentence is no "
                "longer a passage of its own kept for training by their text")
        lines += [f"  not read again: {who}: {why}" for who, why in self.failed]
        lines += [f"  moved: {who} is now filed under {now} (was {before})"
                  + (f": {why}" if why else "")
                  for who, before, now, why in self.moved]
        lines += [f"  warning: {who} now reads as a report on the same inspection as {other} "
                  f"({what}): both are kept, and the inspection counts twice in the tables; "
                  "build the corpus again without one of the two files"
                  for who, other, what in self.same_inspection]
        return "\n".join(lines)


def outdated_letters(corpus: Corpus) -> list[str]:
    """Ids of the letters read by another version of the parser than this one."""
    with corpus.reading() as con:
        return letters_read_otherwise(con, PARSER_VERSION)


@contextmanager
def _letter_run(corpus: Corpus, n: int, desc: str, progress: bool
                ) -> Iterator[tuple[sqlite3.Connection, Callable[[], None]]]:
    """One connection for a run over `n` letters (closing a WAL connection costs a
    checkpoint), and a function to call after each letter: it moves the progress bar
    shown for more than one."""
    bar = None
    if progress and n > 1:
        from tqdm import tqdm

        bar = tqdm(total=n, unit="letter", desc=desc, leave=False)
    con = corpus.connect()
    try:
        yield con, (lambda: None) if bar is None else (lambda: bar.update(1))
    finally:
        con.close()
        if bar is not None:
            bar.close()


def reparse_letters(corpus: Corpus, *, progress: bool = True) -> ReparseReport:
    """Read every outdated letter again from the PDF the corpus keeps, one transaction per
    letter: its text, metadata the letter states, sections and passages are replaced. A
    letter whose passages changed loses its tags (for `tag` to redo) and its corrections
    follow their sentence; one whose passages did not keeps them. Ctrl-C stops between
    letters."""
    report = ReparseReport()
    todo = outdated_letters(corpus)
    if not todo:
        return report
    try:
        # Passage ids are reused for new text: a `tag` or retrain running meanwhile would
        # write the old sentences' tags onto them. They hold this lock too.
        # The lock first: the waiting line was written onto the bar's.
        with corpus.model_lock(_say_waiting_to_reparse), \
                _letter_run(corpus, len(todo), "read again", progress) as (con, tick):
            for letter_id in todo:
                _reparse_one(corpus, con, letter_id, report)
                tick()
    except KeyboardInterrupt:
        report.interrupted = True
    return report


def _reparse_one(corpus: Corpus, con: sqlite3.Connection, letter_id: str,
                 report: ReparseReport) -> None:
    row = con.execute("SELECT * FROM letters WHERE letter_id=?", (letter_id,)).fetchone()
    who = row["source"] or letter_id
    if not row["pdf_path"]:
        report.failed.append((who, "the corpus keeps no copy of its PDF; import the file "
                                   "again into a new corpus to read it with this version"))
        return
    pdf = corpus.root / row["pdf_path"]
    try:
        data = pdf.read_bytes()
        if row["sha256"] and hashlib.sha256(data).hexdigest() != row["sha256"]:
            # Another file put in its place (by hand, a sync): its text would become this
            # letter's, under this letter's id and maybe another area.
            report.failed.append((who, f"its stored PDF {pdf} is not the file imported "
                                       "(its content no longer matches its sha256); left "
                                       "as it was: importing the letter's file again puts "
                                       "it back"))
            return
        extracted = extract_pdf(pdf, data)
        doc = parse_document(extracted.paragraphs)
    except OSError as exc:
        report.failed.append((who, f"cannot read its stored PDF {pdf}: {exc.strerror or exc}"))
        return
    except (ExtractError, NotASendLetter) as exc:
        report.failed.append((who, str(exc).split(": ", 1)[-1]))
        return
    passages = segment(doc)
    letter = doc.letter
    n_before = con.execute("SELECT count(*) FROM passages WHERE letter_id=?",
                           (letter_id,)).fetchone()[0]
    la, area_notes = _authority(letter.area, row["ofsted_urn"],
                                letter.inspection_start or row["published"])
    with corpus.transaction(con) as db:
        changed, moved, unplaced = _rewrite_passages(db, letter_id, letter, passages)
        report.changed += changed
        report.labels_moved += moved
        report.labels_unplaced += unplaced
        columns = _read_columns(doc, la, extracted.n_pages, len(passages))
        _set_columns(db, letter_id, columns)
        if columns["area"] != row["area"]:
            report.moved.append((who, row["area"], str(columns["area"]),
                                 "; ".join(area_notes)))
        # The import keeps a second report of one inspection out; a letter read anew can
        # still become one (its area or inspection date read right at last). Said, not
        # deleted: which copy to keep is the researcher's call.
        start = columns.get("inspection_start")
        same = start and corpus.letter_of_inspection(
            columns["area"], columns["framework"], start, db, other_than=letter_id)
        if same:
            report.same_inspection.append((who, same[1] or same[0],
                                           f"{columns['area']}, {columns['framework']}, "
                                           f"begun {start}"))
    report.letters += 1
    report.passages_before += n_before
    report.passages_after += len(passages)


@dataclass(frozen=True)
class ImportItem:
    path: Path
    ofsted_urn: str | None = None
    published: str | None = None
    source: str | None = None
    # The manifest's sha256 for the file and the row that gave it ("<manifest> line N"):
    # checked against the hash the import computes anyway, so no file is read twice.
    sha256: str | None = None
    described_at: str | None = None


def _shown(path: Path) -> str:
    """`path` relative to the working folder when it is inside it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _manifest_date(text: str) -> str | None:
    """ISO date of a manifest's 'D Month YYYY' or 'YYYY-MM-DD'; None if not a real date."""
    if ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:  # 2017-02-31
            return None
    return parse_date(text)


def _manifest_row(
    cells: list[str], columns: list[str], folder: Path, where: str, warnings: list[str]
) -> ImportItem | None:
    """One manifest row as an ImportItem; None (with a warning) when it cannot be used.

    A value that is wrong (a date, a URN) is dropped with a warning and the rest of
    the row still used: a bad manifest row never keeps the PDF itself out.
    """
    if len(cells) > len(columns) and not any(c.strip() for c in cells[len(columns):]):
        cells = cells[:len(columns)]  # empty cells after the last column, as spreadsheets save
    if len(cells) > len(columns):
        warnings.append(
            f"{where}: {len(cells)} fields where the header has {len(columns)} (a value with "
            "a comma needs quotes); the row is ignored"
        )
        return None
    # Fewer fields: the optional ones at the end were left off (as hand-edited files do).
    cells = cells + [""] * (len(columns) - len(cells))
    row = {col: cell.strip() for col, cell in zip(columns, cells, strict=True) if col}
    name = row.get("file") or row.get("path")
    if not name:
        warnings.append(f"{where}: no file name; the row is ignored")
        return None
    path = (folder / name).resolve()
    if not path.is_file():
        path = _spelt_otherwise(path) or path
    if not path.is_file():
        warnings.append(f"{where}: file {name!r} not found ({_shown(path)}); the row is ignored")
        return None
    when_col = "published" if row.get("published") else "file_date"
    when = row.get(when_col, "")
    published = _manifest_date(when) if when else None
    if when and published is None:
        warnings.append(f"{where}: {when_col} {when!r} is not a date (e.g. 2024-05-15 or "
                        "15 May 2024); the letter's own date is used, if it has one")
    urn_col = "ofsted_urn" if row.get("ofsted_urn") else "urn"
    urn = row.get(urn_col, "")
    if urn and not (urn.isascii() and urn.isdigit()):
        # A wrong URN would tie the letter to no council (or the wrong one): not stored.
        warnings.append(
            f"{where}: {urn_col} {urn!r} is not an Ofsted URN (digits only); not stored"
        )
        urn = ""
    url = row.get("url", "")
    if url and urlsplit(url).scheme not in ("http", "https"):
        warnings.append(f"{where}: url {url!r} is not a web address (http:// or https://); "
                        "not stored")
        url = ""
    want = row.get("sha256", "").lower()
    if want and not SHA256.fullmatch(want):
        warnings.append(f"{where}: sha256 {row['sha256']!r} is not a SHA-256 (64 hexadecimal "
                        "characters); not checked")
        want = ""
    return ImportItem(path, ofsted_urn=urn or None, published=published, source=url or None,
                      sha256=want or None, described_at=where)


def _spelt_otherwise(path: Path) -> Path | None:
    """The file beside `path` whose name is `path`'s in another Unicode form: a Mac names
    a file "Bédford.pdf" with an e and an accent, a spreadsheet types one "é", and the
    row was "not found" beside the very file it names."""
    want = unicodedata.normalize("NFC", path.name)
    if want.isascii():
        return None
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                if unicodedata.normalize("NFC", entry.name) == want and entry.is_file():
                    return Path(entry.path).resolve()
    except OSError:
        pass
    return None


def _read_manifest(folder: Path, warnings: list[str]) -> dict[Path, ImportItem]:
    """Optional manifest.csv beside the PDFs: file, ofsted_urn, published/file_date, url.

    Every problem (a malformed row, a missing file, a bad date or URN) is added to
    `warnings` as "<manifest> line N: what was wrong", and the good rows still count.
    """
    manifest = folder / MANIFEST_NAME
    shown = _shown(manifest)
    if not manifest.is_file():
        # A folder (or a link to nothing) named so was passed over in silence, its dates
        # and URNs lost without a word. Not opened: a pipe would wait for ever.
        if manifest.is_symlink() or manifest.exists():
            what = ("a folder" if manifest.is_dir() else
                    "a link to nothing" if not manifest.exists() else "not a regular file")
            warnings.append(f"{shown}: {what}, not a CSV file; the manifest is ignored")
        return {}
    items: dict[Path, ImportItem] = {}
    first_line: dict[Path, int] = {}
    columns: list[str] | None = None
    end = 0  # the last line of the last row read
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            # strict: a quote still open at the end of the file is an error, not a value.
            reader = csv.reader(fh, strict=True)
            for cells in reader:
                start, end = end + 1, reader.line_num
                line = start
                if not any(c.strip() for c in cells):
                    continue  # blank rows, as spreadsheets leave at the end
                if end > start and columns is not None and any(
                        "\n" in cell and (col not in MANIFEST_NOTES or ".pdf" in cell.lower())
                        for col, cell in zip(columns, cells)):
                    # A quote left open runs the row on into the next lines (a note may
                    # hold a line break, but not the next row's PDF).
                    warnings.append(
                        f"{shown} line {start}: a quote (\") is not closed on the line, so "
                        f"lines {start}-{end} were read as one row; they are ignored")
                    continue
                if columns is None:
                    # "File" or " published" from a spreadsheet mean the same columns.
                    columns = [c.strip().lower() for c in cells]
                    if not {"file", "path"} & set(columns):
                        kind = next((f" (it looks {name}-separated: save it with commas)"
                                     for sep, name in ((";", "semicolon"), ("\t", "tab"))
                                     if len(cells) == 1 and sep in cells[0]), "")
                        warnings.append(
                            f"{shown} line {line}: no 'file' column (the header is "
                            f"{', '.join(cells)}){kind}; the manifest is ignored"
                        )
                        return {}
                    twice = sorted({c for c in columns if c and columns.count(c) > 1})
                    if twice:
                        warnings.append(
                            f"{shown} line {line}: column {', '.join(map(repr, twice))} "
                            "appears twice in the header; the last one of each is read")
                    for col in columns:
                        if col and col not in MANIFEST_COLUMNS | MANIFEST_NOTES:
                            near = difflib.get_close_matches(col, sorted(MANIFEST_COLUMNS), 1)
                            hint = f"did you mean {near[0]!r}? " if near else ""
                            warnings.append(f"{shown} line {line}: column {col!r} is not "
                                            f"read ({hint}sendlens reads "
                                            f"{', '.join(sorted(MANIFEST_COLUMNS))})")
                    continue
                item = _manifest_row(cells, columns, folder, f"{shown} line {line}", warnings)
                if item is None:
                    continue
                if item.path in items:
                    warnings.append(
                        f"{shown} line {line}: {_shown(item.path)} is already described on "
                        f"line {first_line[item.path]}; this row is ignored"
                    )
                    continue
                items[item.path] = item
                first_line[item.path] = line
        if columns is None:
            warnings.append(f"{shown}: the file is empty; ignored")
    except UnicodeDecodeError:
        warnings.append(f"{shown}: not UTF-8 text (save it as CSV UTF-8); the manifest is ignored")
        return {}
    except csv.Error as exc:
        if "unexpected end of data" in str(exc) or "expected after" in str(exc):
            exc = csv.Error('the quotes (") from this line on do not pair up: a quote left '
                            'open, or one inside a value not written as ""')
        warnings.append(
            f"{shown} line {end + 1}: {exc}; this row and the rest of the manifest "
            "are ignored"
        )
    except OSError as exc:
        warnings.append(f"{shown}: cannot read: {exc.strerror or exc}; the manifest is ignored")
        return {}
    return items


def collect_pdfs(
    paths: Iterable[Path | str],
    *,
    warnings: list[str] | None = None,
    empty_folders: list[Path] | None = None,
    unreadable: list[tuple[Path, str]] | None = None,
    skip: Path | None = None,
) -> Iterator[ImportItem]:
    """Every PDF named or found (recursively) under the given paths, once, sorted.

    A manifest.csv in the PDF's folder or up to two folders above it describes it;
    its problems go to `warnings`. Folders given that hold no PDF at all go to
    `empty_folders`, and folders that cannot be listed (with why) to `unreadable`, so
    the caller can say so rather than import less quietly. Folders are not searched
    below `skip` (the corpus: `sendlens import .` beside it must not read its PDF store).
    A link to nothing, or a loop of links, is yielded for the caller to name.
    """
    seen: set[Path] = set()
    manifests: dict[Path, dict[Path, ImportItem]] = {}
    notes: list[str] = [] if warnings is None else warnings

    def describe(pdf: Path) -> ImportItem:
        key = _real(pdf)
        # Beside the file as named first (a folder of links to PDFs kept elsewhere has a
        # manifest of its own), then beside the file a link leads to.
        named = Path(os.path.abspath(pdf))
        for folder in dict.fromkeys([*list(named.parents)[:3], *list(key.parents)[:3]]):
            real = _real(folder)  # one folder reached two ways is read once
            if real not in manifests:
                manifests[real] = _read_manifest(real, notes)
            if key in manifests[real]:
                return manifests[real][key]
        return ImportItem(pdf)

    for raw in paths:
        path = Path(raw)
        if missing_why(path) is None and path.is_dir():
            found = sorted(_pdfs_under(path, unreadable, skip))
            if not found and empty_folders is not None:
                empty_folders.append(path)
        else:
            found = [path]
        for pdf in found:
            key = _real(pdf)
            if key not in seen:
                seen.add(key)
                yield describe(pdf) if missing_why(pdf) is None else ImportItem(pdf)


def missing_why(path: Path) -> str | None:
    """Why `path` names nothing to import ("no such file"...), or None when it names
    something. Python's exists() raises for a name too long for the file system."""
    try:
        path.stat()
        return None
    except OSError as exc:
        gone = isinstance(exc, FileNotFoundError)
        if exc.errno == errno.ELOOP or (gone and path.is_symlink()):
            return "a link to a file that is not there (or a loop of links)"
        return "no such file" if gone else (exc.strerror or str(exc)).lower()


def _real(path: Path) -> Path:
    """The path with links followed; unlike Path.resolve, a loop of links is no error
    (the file is then named as missing, not a traceback)."""
    return Path(os.path.realpath(path))


def _pdfs_under(folder: Path, unreadable: list[tuple[Path, str]] | None,
                skip: Path | None = None) -> Iterator[Path]:
    """The PDFs in `folder` and below (links to folders followed once each); a folder that
    cannot be listed goes to `unreadable` (Path.rglob passed over it without a word)."""
    visited: set[str] = {os.path.realpath(skip)} if skip is not None else set()

    def failed(exc: OSError) -> None:
        if unreadable is not None:
            unreadable.append((Path(exc.filename or folder), exc.strerror or str(exc)))

    for top, dirs, files in os.walk(folder, onerror=failed, followlinks=True):
        real = os.path.realpath(top)
        if real in visited:  # a link back up the tree
            dirs[:] = []
            continue
        visited.add(real)
        dirs.sort()
        for name in files:
            if name.startswith("."):  # hidden (a Mac's "._letter.pdf"): not taken
                continue
            candidate = Path(top) / name
            # Anything by a PDF's name (os.walk lists folders apart): a link that leads
            # nowhere, a pipe or a device is yielded too, to be named as skipped.
            if name.lower().endswith(".pdf"):
                yield candidate
            elif _pdf_without_suffix(candidate):
                yield candidate


def _in_the_way(exc: OSError) -> str | None:
    """What stands where the store needs a folder or a file, when that stopped a run: it
    said "corpus/pdfs: File exists" of a link to a drive not mounted."""
    if isinstance(exc, IsADirectoryError) and exc.filename2:  # renaming into place
        return f"{exc.filename2} is a folder, where a stored PDF goes: move it away"
    if not isinstance(exc, FileExistsError | NotADirectoryError) or not exc.filename:
        return None
    return in_the_way(Path(exc.filename), link_hint="a drive not mounted?")


def _pdf_without_suffix(path: Path) -> bool:
    """A file with no suffix that is a PDF: `curl -O` of an Ofsted file address
    (files.ofsted.gov.uk/v1/file/50300005) saves the letter as "50300005"."""
    if path.suffix or path.name.startswith(".") or not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            return pdf_header_in(fh.read(1024))
    except OSError:
        return False


def import_paths(
    corpus: Corpus,
    paths: Iterable[Path | str],
    *,
    source: str | None = None,
    progress: bool = True,
    replace: Replace = "never",
) -> ImportReport:
    """Import every PDF under `paths`. Ctrl-C stops between letters, keeping what is done.
    `replace` as for `import_pdf`."""
    report = ImportReport()
    empty: list[Path] = []
    unreadable: list[tuple[Path, str]] = []
    items = list(collect_pdfs(paths, warnings=report.warnings, empty_folders=empty,
                              unreadable=unreadable, skip=corpus.root))
    for folder in empty:
        # Skipped like a missing path: importing nothing from a folder is not success.
        report.outcomes.append(ImportOutcome(str(folder), "skipped", NO_PDFS if _real(
            folder) != _real(corpus.root) else "the corpus folder itself, whose PDFs are "
            f"the letters it holds (its store's PDFs that no letter lists, if any, are "
            f"imported from {corpus.pdf_dir})"))
    for folder, why in unreadable:
        report.outcomes.append(ImportOutcome(
            str(folder), "skipped", f"cannot list this folder ({why}): no PDF in it was "
            "imported"))
    todo = []
    for item in items:
        if (why := missing_why(item.path)) is None:
            todo.append(item)
        else:
            report.outcomes.append(ImportOutcome(str(item.path), "skipped", why))
    try:
        if todo:
            report.swept = corpus.sweep_pdfs()
        with _letter_run(corpus, len(todo), "import", progress) as (con, tick):
            for item in todo:
                outcome = import_pdf(
                    corpus,
                    item.path,
                    source=item.source or source,
                    ofsted_urn=item.ofsted_urn,
                    published=item.published,
                    con=con,
                    replace=replace,
                )
                report.outcomes.append(outcome)
                if item.sha256 and outcome.sha256 and item.sha256 != outcome.sha256:
                    # Another version of the file (re-downloaded, edited): the row may
                    # still describe the same letter, so its values are kept, and the
                    # user told.
                    report.warnings.append(
                        f"{item.described_at}: {item.path.name} does not match its sha256 in "
                        f"the manifest ({item.sha256[:12]}...): it is not the file the "
                        "manifest lists; the row's other values are still used")
                tick()
    except KeyboardInterrupt as exc:
        if isinstance(exc, InterruptedAfterImport):
            report.outcomes.append(exc.outcome)
        report.interrupted = True
    except sqlite3.OperationalError as exc:  # disk full, database read-only or locked
        report.stopped = database_problem(exc, corpus.db_path)
    except OSError as exc:  # writing a PDF into the store
        report.stopped = _in_the_way(exc) or (
            f"{exc.filename or corpus.root}: {exc.strerror or exc}")
    if todo and not report.interrupted:
        with suppress(sqlite3.Error, OSError):  # a note: never the reason an import fails
            report.unlisted = len(corpus.unlisted_pdfs())
            report.unlisted_note = unlisted_note(corpus, report.unlisted)
    return report
