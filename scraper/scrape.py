"""Discover, download and import every published SEND letter (issue #3).

The run has two phases, each with its own progress bar:

1. *discover*: page through the children's services search, read every provider
   page (plus the second provider records of ``site.EXTRA_PROVIDERS`` and the GOV.UK
   publication page for letters before 2017) and keep the reports whose label the
   SEND rule accepts;
2. *download*: fetch each letter not already held (by file id in ``fetches``, then
   by content hash), check it in a temporary file, import it through
   ``sendlens.importer.import_pdf`` and record it in ``fetches``.

Each letter is imported and recorded on its own, so an interrupted run keeps
everything it finished and the next run carries on from there.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import difflib
import errno
import hashlib
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import requests
from tqdm import tqdm

from scraper import site
from scraper.hosts import refusal
from scraper.http import (
    REDIRECT_STATUSES,
    HttpError,
    NameNotResolved,
    PoliteSession,
    SiteUnavailable,
    arriving,
    build_session,
    site_unwell,
)
from scraper.records import MAX_PDF_BYTES, FetchRecord
from textmine.areas import lookup_area

try:
    import fcntl
except ImportError:  # Windows: stale partial files are told by their age instead
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from sendlens.importer import ImportOutcome
    from sendlens.store import Corpus

# Failures of the disk, not of the code: a scrape stops on them with its summary.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO,
                         errno.EPERM})
AUTO = "auto"  # gov_uk_url default: the GOV.UK page only when scraping the real site
HELD_STATUSES = ("imported", "replaced", "duplicate", "skipped")  # never downloaded again
TMP_PREFIX = "scrape-"
MIN_PDF_BYTES = 1024
DOWNLOAD_DEADLINE = 300.0  # seconds for one file, against servers that drip bytes
# This many provider pages in a row empty or unreadable, before any listed a report,
# means the page changed; after some did, it takes a longer run (the site is unwell).
EMPTY_PROVIDERS_LIMIT = 3
BAD_PROVIDERS_LIMIT = 10
STALE_TMP_SECONDS = 6 * 3600  # without flock: a partial download untouched this long


class BadDownload(Exception):
    """A response that must not reach the corpus (truncated, not a PDF, ...).

    ``transient``: the transfer broke (connection lost, no answer in time), which says
    more about the site's health than about the file. ``final``: the file came whole and
    is what it is (too large, a PDF that does not open): fetching it again this run
    would only give the same bytes."""

    def __init__(self, message: str, *, transient: bool = False, final: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.final = final


@dataclass
class Failure:
    url: str
    reason: str
    council: str | None = None
    file_id: str | None = None
    label: str | None = None  # the report's label on the site, for a file

    def describe(self) -> str:
        """One summary line: whose page or which report, then the URL and what was wrong."""
        what = ", ".join(filter(None, [self.council, repr(self.label) if self.label else None]))
        return f"{what + ': ' if what else ''}{self.url}: {self.reason}"


@dataclass
class ScrapeSummary:
    """What a scrape found and did; ``render()`` gives the closing summary."""

    dry_run: bool = False
    providers_seen: int = 0
    extra_providers_found: int = 0
    extra_providers_missing: list[str] = field(default_factory=list)
    send_found: int = 0
    other_reports: int = 0  # non-SEND reports seen and left alone
    before_since: int = 0
    # Listed without a publication date the scraper could read: --since keeps them.
    undated_with_since: int = 0
    new: list[FetchRecord] = field(default_factory=list)
    already_held: int = 0
    duplicates: list[FetchRecord] = field(default_factory=list)  # content already held
    # A later publication of a report held (a corrected report): its text replaced the
    # held letter's.
    replaced: list[FetchRecord] = field(default_factory=list)
    skipped: list[FetchRecord] = field(default_factory=list)  # importer declined
    # Held (so not fetched again) but never imported: an earlier run's ``skipped``.
    held_unimported: list[FetchRecord] = field(default_factory=list)
    would_download: list[FetchRecord] = field(default_factory=list)  # dry run
    failed: list[Failure] = field(default_factory=list)
    unknown_labels: list[Failure] = field(default_factory=list)  # reason = the label
    # SEND-ish labels whose link is to no address sendlens knows: reason = the label
    unrecognised_links: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # letters imported with a doubt
    empty_providers: list[str] = field(default_factory=list)
    areas_without_send: list[str] = field(default_factory=list)
    # Held letters whose file their council's page no longer lists (kept): why, in words.
    no_longer_listed: list[str] = field(default_factory=list)
    # Letters of this run begun within TWIN_DAYS of another of their area and framework.
    held_twice: list[str] = field(default_factory=list)
    unmatched_areas: list[str] = field(default_factory=list)
    area_suggestions: dict[str, str] = field(default_factory=dict)  # unmatched -> a near name
    requests: int = 0
    retries: int = 0
    delay_asked: float = 0.0  # --delay
    delay_used: float = 0.0  # more when a robots.txt asked for a longer Crawl-delay
    bytes_downloaded: int = 0
    elapsed: float = 0.0
    error: str | None = None  # why the run stopped early, if it did
    offline: bool = False  # it stopped because a host's name did not resolve
    cannot_write: bool = False  # the disk or the database (full, read-only, locked): exit 2

    @property
    def ok(self) -> bool:
        # A file this run downloaded but could not import is a letter missing from the
        # corpus, as `sendlens import` counts it (exit 1 there too); so is a letter whose
        # link sendlens cannot follow, or may be: a report under a label that mentions SEND
        # but that the rule does not know (extend it, or ignore the label).
        return (self.error is None and not self.failed and not self.skipped
                and not self.unrecognised_links and not self.unknown_labels)

    @property
    def exit_code(self) -> int:
        """0 all well, 1 some letters failed, could not be imported or were linked to an
        address sendlens does not know, a report's label mentions SEND but is not in the
        rule, an --area matched
        nothing (a script would otherwise take "no letters" for "none published") or the
        run stopped; 2 when it stopped because it could not write (a full disk, a corpus
        made read-only), as `sendlens import` gives, so that `make run` does not carry on
        to tag on that disk; 130 interrupted."""
        if self.error == INTERRUPTED:
            return 130
        if self.cannot_write:
            return 2
        return 0 if self.ok and not self.unmatched_areas else 1

    def render(self) -> str:
        lines = ["sendlens scrape" + (" (dry run)" if self.dry_run else "") + ":"]
        if self.error:
            lines.append(f"  STOPPED: {self.error}")
        if self.offline:
            lines.append("  If you are offline, import the PDFs you have instead: "
                         "`sendlens import FOLDER` (or `make run LETTERS=FOLDER`)")
        extra = ""
        if self.extra_providers_found or self.extra_providers_missing:
            # The missing ones are councils' known second records that this site did not
            # list: "25 not found" alone read as 25 failures.
            parts = ([f"+{self.extra_providers_found} from councils' second provider "
                      "records"] if self.extra_providers_found else [])
            if missing := len(self.extra_providers_missing):
                parts.append(f"{missing} second provider record{'s' if missing > 1 else ''} "
                             "known from elsewhere, not listed on this site")
            extra = f" ({'; '.join(parts)})"
        lines.append(f"  providers seen: {self.providers_seen}{extra}")
        lines.append(
            # Files, not letters: a report published twice (corrected) is two of them.
            f"  SEND letter files found: {self.send_found}"
            f" (other reports ignored: {self.other_reports}"
            + (f"; before --since: {self.before_since}" if self.before_since else "")
            + ")"
        )
        if self.undated_with_since:
            lines.append(f"  with no publication date the scraper could read, so kept "
                         f"whatever --since says: {self.undated_with_since}")
        if self.dry_run:
            lines.append(f"  would download: {len(self.would_download)}")
            for r in self.would_download:
                lines.append(
                    f"    {r.council or '?'}: {r.label} ({r.published or 'no date'}) {r.url}"
                )
        lines.append(f"  new: {len(self.new)}")
        if self.replaced:
            lines.append(f"  replaced (published again later, or in place of a file the "
                         f"site no longer lists, so taken for a corrected report): "
                         f"{len(self.replaced)}")
            lines += [f"    {r.url}: {r.error}" for r in self.replaced]
        held = f"  files already held: {self.already_held + len(self.duplicates)}"
        if self.held_unimported:
            held += f" ({len(self.held_unimported)} of them never imported, listed below)"
        lines.append(held)
        # Another file of a report already held, not published later (re-saved, say): kept
        # out of the counts, and named, since its text is not the one in the corpus.
        for r in self.duplicates:
            if r.error:
                lines.append(f"    {r.url}: {r.error}")
        not_imported = len(self.skipped) + len(self.held_unimported)
        if not_imported:
            # Listed on every run, not only the one that downloaded them: otherwise a
            # plain re-run would hide them inside "already held".
            lines.append(
                f"  downloaded but not imported (not fetched again unless you run with "
                f"--retry-skipped, e.g. after upgrading sendlens): {not_imported}"
            )
            for r in self.skipped:
                lines.append(f"    {r.url}: {r.error}")
            for r in self.held_unimported:
                when = f"downloaded {r.retrieved_at[:10]}" if r.retrieved_at else "earlier run"
                lines.append(f"    {r.url}: {r.error or 'not imported'} ({when})")
        lines.append(f"  failed: {len(self.failed)}")
        lines += [f"    {f.describe()}" for f in self.failed]
        if self.warnings:
            lines.append(f"  imported with a warning: {len(self.warnings)}")
            lines += [f"    {w}" for w in self.warnings]
        for title, labelled in (
            ("unknown report labels mentioning SEND (not downloaded; extend the rule with "
             "--labels-config)", self.unknown_labels),
            ("reports labelled as SEND letters whose link is not to a file address sendlens "
             "knows (not downloaded)", self.unrecognised_links),
        ):
            if labelled:
                lines.append(f"  {title}: {len(labelled)}")
                lines += [f"    {f.reason!r} for {f.council or '?'}: {f.url}" for f in labelled]
        if self.no_longer_listed:
            lines.append("  letters held whose file the site no longer lists (kept in the "
                         f"corpus; withdrawn or moved): {len(self.no_longer_listed)}")
            lines += [f"    {x}" for x in self.no_longer_listed]
        if self.held_twice:
            from sendlens.store import CLOSE_PAIRS, SUPERSEDE_HINT

            lines.append(f"  pairs {CLOSE_PAIRS} (perhaps one report corrected under other "
                         f"dates, which the tables count twice; {SUPERSEDE_HINT}): "
                         f"{len(self.held_twice)}")
            lines += [f"    {x}" for x in self.held_twice]
        if self.areas_without_send:
            lines.append(f"  areas whose page lists no SEND letter: {len(self.areas_without_send)}")
            lines.append("    " + ", ".join(self.areas_without_send))
        if self.unmatched_areas:
            lines.append("  --area matched no provider: " + ", ".join(
                f"{w} (did you mean {self.area_suggestions[w]}?)"
                if w in self.area_suggestions else w for w in self.unmatched_areas))
        if self.empty_providers:
            lines.append("  provider pages with no reports: " + ", ".join(self.empty_providers))
        if self.delay_used > self.delay_asked:
            lines.append(f"  robots.txt asked for {self.delay_used:g} s between requests "
                         f"(Crawl-delay), more than --delay {self.delay_asked:g}: waited that")
        lines.append(
            f"  requests: {self.requests} (retries {self.retries}), "
            f"downloaded {self.bytes_downloaded / 1e6:.1f} MB in {self.elapsed:.1f} s"
        )
        return "\n".join(lines)

    __str__ = render


INTERRUPTED = ("interrupted (Ctrl-C or a TERM signal); everything imported so far is kept, "
               "run again to carry on")


# --- Corpus access ---------------------------------------------------------------


def failed_file_ids(corpus: Corpus) -> set[str]:
    """File ids whose last download failed (tried again, after the new ones)."""
    return _file_ids(corpus, ["failed"])


def held_file_ids(corpus: Corpus, *, retry_skipped: bool = False) -> set[str]:
    """File ids the corpus already holds (never downloaded again); with
    ``retry_skipped``, not those an earlier run downloaded but could not import."""
    return _file_ids(corpus, [s for s in HELD_STATUSES
                              if not (retry_skipped and s == "skipped")])


def _file_ids(corpus: Corpus, statuses: Sequence[str]) -> set[str]:
    """File ids whose last fetch has one of `statuses`."""
    conn = corpus.connect()
    try:
        marks = ",".join("?" * len(statuses))
        sql = f"SELECT file_id FROM fetches WHERE status IN ({marks})"
        return {str(r[0]) for r in conn.execute(sql, statuses)}
    finally:
        conn.close()


def withdrawn_letters(corpus: Corpus, providers: Collection[str],
                      listed: Collection[str]) -> set[str]:
    """Letters whose file was fetched from one of `providers` (pages read whole this
    run) and is no longer listed (`listed` file ids): a file the site publishes for such
    a report, dated the same or later, is its corrected text."""
    if not providers:
        return set()
    conn = corpus.connect()
    try:
        rows = conn.execute("SELECT file_id, provider_urn, letter_id FROM fetches WHERE "
                            "status IN ('imported', 'replaced') AND letter_id IS NOT NULL")
        return {r[2] for r in rows if r[1] in providers and str(r[0]) not in listed}
    finally:
        conn.close()


def duplicates_to_recheck(corpus: Corpus, withdrawn: Collection[str]) -> set[str]:
    """Files held back as another copy of a letter in `withdrawn` that may now be its text.

    Only those an import would take (other bytes than the letter's, and dated, not before
    it; an undated one the import would date by its own text, perhaps earlier): any other
    would be held back again on every run, a download each time."""
    if not withdrawn:
        return set()
    conn = corpus.connect()
    try:
        rows = conn.execute(
            "SELECT f.file_id, f.letter_id FROM fetches f JOIN letters l USING (letter_id) "
            "WHERE f.status = 'duplicate' AND f.sha256 IS NOT l.sha256 AND "
            "(l.published IS NULL OR f.published >= l.published)")
        return {str(r[0]) for r in rows if r[1] in withdrawn}
    finally:
        conn.close()


def unimported_fetches(corpus: Corpus) -> dict[str, FetchRecord]:
    """Files an earlier run downloaded but could not import, by file id, with why."""
    names = [f.name for f in fields(FetchRecord)]
    conn = corpus.connect()
    try:
        sql = f"SELECT {', '.join(names)} FROM fetches WHERE status = 'skipped'"
        rows = conn.execute(sql).fetchall()
    finally:
        conn.close()
    return {str(r[0]): FetchRecord(**dict(zip(names, r, strict=True))) for r in rows}


def _tmp_dir(corpus: Corpus) -> Path:
    path = Path(corpus.tmp_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- Download and checks ---------------------------------------------------------


def check_pdf(path: Path, expected_length: int | None = None) -> int:
    """Raise BadDownload unless ``path`` is a whole PDF that opens; return its pages."""
    size = path.stat().st_size
    if expected_length is not None:
        _check_length(size, expected_length)
    with path.open("rb") as fh:
        head = fh.read(1024)
        fh.seek(max(0, size - 2048))
        tail = fh.read()
    if size == 0:
        raise BadDownload("an empty response (0 bytes)")
    if not head.startswith(b"%PDF-"):
        kind = (
            "an HTML page"
            if b"<html" in head.lower() or b"<!doctype" in head.lower()
            else "not a PDF"
        )
        raise BadDownload(f"{kind} (no %PDF- signature)")
    if size < MIN_PDF_BYTES:
        raise BadDownload(f"only {size} bytes, too short for a letter",
                          final=b"%%EOF" in tail)
    if b"%%EOF" not in tail:
        raise BadDownload(f"truncated: no %%EOF marker at the end of {size} bytes")
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
        try:
            pages = len(doc)
        finally:
            doc.close()
    except Exception as exc:  # pdfium raises its own error types (a password, say)
        raise BadDownload(f"the PDF does not open: {exc}", final=True) from exc
    if pages < 1:
        raise BadDownload("the PDF has no pages", final=True)
    return pages


def _check_length(received: int, announced: int) -> None:
    """The bytes received against the Content-Length the server announced."""
    if received < announced:
        raise BadDownload(f"truncated: {received} bytes received, {announced} announced "
                          "(Content-Length)")
    if received > announced:
        raise BadDownload(f"longer than announced: {received} bytes received, {announced} "
                          "announced (Content-Length)")


def download_to(session: PoliteSession, url: str, dest: Path) -> tuple[str, int]:
    """Stream ``url`` into ``dest`` and check it; return (sha256, bytes).

    HttpError for a response that is an answer (404, or retries used up),
    BadDownload for a body that must not be stored.
    """
    started = time.monotonic()
    resp = session.get(url, stream=True)
    try:
        if resp.status_code != 200:
            raise HttpError(url, _status(resp) + _via(resp), resp.status_code)
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype in {"text/html", "application/xhtml+xml"}:
            raise BadDownload(f"served an HTML page ({ctype}) instead of a PDF"
                              + _via(resp))
        length_header = resp.headers.get("Content-Length")
        # ASCII digits only: "²" (a header's byte 0xB2) is a digit to isdigit(), not to int().
        expected = (int(length_header) if length_header and length_header.isascii()
                    and length_header.isdigit() else None)
        if expected is not None and expected > MAX_PDF_BYTES:
            raise BadDownload(f"{expected} bytes is too large for a letter", final=True)
        digest = hashlib.sha256()
        size = 0
        try:
            with dest.open("wb") as fh:
                for chunk in arriving(resp):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if size > MAX_PDF_BYTES:
                        raise BadDownload(
                            f"more than {MAX_PDF_BYTES} bytes, too large for a letter",
                            final=True)
                    if time.monotonic() - started > DOWNLOAD_DEADLINE:
                        raise BadDownload(f"took longer than {DOWNLOAD_DEADLINE:.0f} s")
                fh.flush()
                os.fsync(fh.fileno())
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # What reached us, not only the whole chunks written (a small file broken
            # half way had "0 bytes").
            got = max(size, _bytes_on_wire(resp, size))
            of = f" of the {expected} announced" if expected is not None else ""
            raise BadDownload(f"truncated: the connection broke after {got} bytes{of}",
                              transient=True) from exc
        except requests.Timeout as exc:
            got = max(size, _bytes_on_wire(resp, size))
            raise BadDownload(f"the server stopped sending after {got} bytes (timed out)",
                              transient=True) from exc
        except requests.exceptions.ContentDecodingError as exc:
            raise BadDownload("the compressed body is broken (cannot be decompressed) after "
                              f"{size} bytes", transient=True) from exc
        except requests.RequestException as exc:
            raise BadDownload(f"failed after {size} bytes: {type(exc).__name__}: {exc}",
                              transient=True) from exc
        # Content-Length counts the bytes sent, compressed or not (a server may compress
        # although asked not to): compare those, not the decoded size.
        received = _bytes_on_wire(resp, size)
    finally:
        resp.close()
    if expected is not None:
        _check_length(received, expected)
    check_pdf(dest)
    return digest.hexdigest(), size


def _status(resp: requests.Response) -> str:
    status = f"HTTP {resp.status_code} {resp.reason or ''}".strip()
    if resp.status_code in REDIRECT_STATUSES and not resp.headers.get("Location"):
        return f"{status}, a redirect that names no address (no Location header)"
    return status


def _via(resp: requests.Response) -> str:
    """Where the answer came from, when a redirect took the request to another URL."""
    return f" (after a redirect to {resp.url})" if resp.history else ""


def _bytes_on_wire(resp: requests.Response, decoded: int) -> int:
    """Bytes of the body as sent (before any Content-Encoding was undone)."""
    tell = getattr(resp.raw, "tell", None)
    try:
        return int(tell()) if callable(tell) else decoded
    except (OSError, ValueError, TypeError):
        return decoded


# --- Discovery -------------------------------------------------------------------


def _get_html(session: PoliteSession, url: str, *, optional: bool = False) -> str | None:
    resp = session.get(url)
    try:
        if optional and resp.status_code in (404, 410):
            return None
        if resp.status_code != 200:
            raise HttpError(url, _status(resp) + _via(resp), resp.status_code)
        ctype = resp.headers.get("Content-Type", "")
        if "html" not in ctype.lower():
            raise site.SiteStructureError(url, f"expected an HTML page, got {ctype or 'no type'}")
        if "charset=" not in ctype.lower():
            # requests would read it as Latin-1 (HTTP's old default): "BÃ³rough".
            resp.encoding = _meta_charset(resp.content) or "utf-8"
        return resp.text
    finally:
        resp.close()


def _meta_charset(body: bytes) -> str | None:
    """The encoding a page's <meta charset> names, if Python knows it."""
    m = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", body[:4096], re.I)
    if m is None:
        return None
    try:
        return codecs.lookup(m[1].decode("ascii")).name
    except LookupError:
        return None


def _gov_uk_letters(
    session: PoliteSession, url: str, summary: ScrapeSummary
) -> list[site.Publication]:
    """The letters listed on the GOV.UK page; a page that fails is one failure of the
    run (its 2016-17 letters wait for the next), not the end of the Ofsted site's."""
    try:
        html = _get_html(session, url)
        assert html is not None
        return site.parse_gov_uk_page(html, url)
    except SiteUnavailable:
        raise
    except (HttpError, site.SiteStructureError) as exc:
        summary.failed.append(Failure(url, f"{exc.problem}; the letters published there "
                                      "before 2017 were not looked for", "GOV.UK"))
        return []


def _as_held(corpus: Corpus, pubs: list[site.Publication],
             held: Collection[str]) -> list[site.Publication]:
    """GOV.UK letters under the id the corpus holds them by, when only the form of their
    link changed (`attachment_data/file/537527/X.pdf` to `media/<hex>/X.pdf`: the same
    file name, a new id): else every held 2016 letter would be downloaded again."""
    def key(url: str, council: str | None) -> tuple[str, str] | None:
        # The file name and the area: a generic name two areas share is two letters.
        m = site.GOV_UK_FILE_ID_RE.search(urlsplit(url).path)
        return (unquote(m["name"]).casefold(), (council or "").casefold()) if m else None

    with corpus.reading() as con:
        names: dict[tuple[str, str], str] = {}
        for file_id, url, council in con.execute(
                "SELECT file_id, url, council FROM fetches WHERE file_id LIKE 'govuk-%'"):
            if file_id in held and (k := key(url, council)):
                names.setdefault(k, file_id)
    out = []
    for pub in pubs:
        known = names.get(k) if (k := key(pub.url, pub.council)) else None
        out.append(pub if pub.file_id in held or known is None
                   else dataclasses.replace(pub, file_id=known))
    return out


def discover_providers(
    session: PoliteSession, base_url: str, rows: int = site.SEARCH_ROWS
) -> list[site.ProviderLink]:
    """Every council listed by the paginated children's services search.

    Pages by the number of results each page held, not by `rows`: a site that caps
    pages lower than asked would otherwise skip the councils between its cap and
    `rows`. A provider link on two pages in a row is no result (a "recently viewed"
    box): found, the previous page is taken to have held that many fewer results and
    the search is read on from there, so no council is skipped; the search ends at a
    page with no council not seen before."""
    providers: dict[str, site.ProviderLink] = {}
    recurring: set[str] = set()
    previous: tuple[int, list[str]] | None = None  # the last page's start and links
    start = 0
    for page in range(site.SEARCH_MAX_PAGES):
        url = site.search_url(base_url, start, rows)
        html = _get_html(session, url)
        assert html is not None
        links = site.parse_search_page(html, url)
        urns = [p.urn for p in links]
        if not links and page == 0:
            raise site.SiteStructureError(
                url,
                f"no provider links ({site.PROVIDER_LINK_SELECTOR!r}) on the first search "
                "page: the search page structure or its parameters have changed",
            )
        if previous is not None and urns == previous[1] and set(urns) - recurring:
            raise site.SiteStructureError(
                url, "this page repeats the previous one: the search ignores 'start'"
            )
        if previous is not None and (again := set(urns) & set(previous[1]) - recurring):
            recurring |= again
            results_before = sum(u not in recurring for u in previous[1])
            if previous[0] + results_before < start:
                start, previous = previous[0] + results_before, None
                continue
        new = [p for p in links if p.urn not in providers]
        if not new:
            return list(providers.values())
        for p in new:
            providers[p.urn] = p
        previous = (start, urns)
        start += min(sum(u not in recurring for u in urns), rows)
    raise site.SiteStructureError(
        site.search_url(base_url, 0, rows),
        f"more than {site.SEARCH_MAX_PAGES} search pages: pagination is not ending",
    )


def _note_odd_links(links: list[tuple[str, str]], rule: site.LabelRule, council: str,
                    summary: ScrapeSummary) -> bool:
    """Reports labelled as SEND letters whose link is to no file address sendlens knows;
    whether there were any (the council then has a letter not fetched)."""
    odd = [Failure(url, label, council) for label, url in links
           if rule.classify(label)[0] != "other"]
    summary.unrecognised_links += odd
    return bool(odd)


def _check_bad_run(bad_run: int, any_reports: bool, url: str, problem: str) -> None:
    """Empty or unreadable provider pages are reported one by one; only a run of them
    at the start (no page has listed a report yet), or a long run later, means the
    pages changed or the site is down rather than a few councils without reports."""
    limit = EMPTY_PROVIDERS_LIMIT if not any_reports else BAD_PROVIDERS_LIMIT
    if bad_run >= limit:
        raise site.SiteStructureError(
            url,
            f"{bad_run} provider pages in a row were empty or unreadable (last: {problem}): "
            "the provider page structure has probably changed, or the site is unwell",
        )


def _password_hidden(url: str) -> str:
    """``url`` with the password of a ``user:password@`` part shown as ***."""
    return re.sub(r"(//[^/?#@:]*:)[^/?#@]*@", r"\1***@", url)


def gov_uk_page_for(base_url: str) -> str | None:
    """The GOV.UK page of the first letters, when ``base_url`` is the real Ofsted site
    (however it is spelt: a trailing slash, capitals in the scheme or host)."""
    return site.GOV_UK_PUBLICATION_URL if site.same_site(base_url, site.DEFAULT_BASE_URL) \
        else None


def _since_ok(pub: site.Publication, since: date | None) -> bool:
    return since is None or pub.published is None or pub.published >= since


def _bar(iterable: Sequence[Any], desc: str, unit: str, progress: bool) -> Any:
    return tqdm(iterable, desc=desc, unit=unit, disable=not progress, file=sys.stderr, leave=False)


def scrape(
    corpus: Corpus,
    *,
    base_url: str = site.DEFAULT_BASE_URL,
    since: date | None = None,
    areas: Sequence[str] | None = None,
    dry_run: bool = False,
    delay: float = 1.0,
    progress: bool = True,
    gov_uk_url: str | None = AUTO,
    labels_config: str | Path | None = None,
    extra_providers: bool = True,
    retries: int = 4,
    backoff: float = 2.0,
    timeout: float | tuple[float, float] = (10.0, 60.0),
    max_consecutive_failures: int = 5,
    download_attempts: int = 3,
    rows: int = site.SEARCH_ROWS,
    session: PoliteSession | None = None,
    log: Callable[[str], None] | None = None,
    retry_skipped: bool = False,
) -> ScrapeSummary:
    """Scrape the Ofsted reports site (and GOV.UK) for SEND letters into ``corpus``.

    ``gov_uk_url``: the GOV.UK publication page for pre-2017 letters; ``"auto"``
    reads the real page only when ``base_url`` is the real Ofsted site, None skips it.
    ``retry_skipped``: download again files an earlier run could not import.
    ``extra_providers``: also read what the search does not lead to, the second provider
    records and the known letter files (`site.EXTRA_PROVIDERS`, `site.EXTRA_FILES` and the
    labels config's); off, only the search and the GOV.UK page (tests of one site).
    Fatal problems (site structure changed, site down, robots.txt, Ctrl-C) do not
    raise: they stop the run and are reported in ``summary.error``; use
    ``summary.exit_code`` for the process status.
    """
    from sendlens.importer import InterruptedAfterImport, import_pdf
    from sendlens.store import database_problem

    # Named as the command line names them (`gov_uk_url` has no option: it is the API's).
    for name, url in (("--base-url", base_url), ("gov_uk_url", gov_uk_url)):
        if url is not None and url != AUTO:  # "" too: not the real site
            shown = _password_hidden(url)
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 - raises for a port that is not a number
            except ValueError as exc:  # "Invalid IPv6 URL", with neither option nor URL
                raise ValueError(f"{name} {shown!r} is not a URL: {exc}") from None
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{name} {shown!r} is not an http(s) URL with a host")
            if parts.username is not None:
                # The files' links would not carry them, and every message names the URL.
                raise ValueError(f"{name} {shown!r} holds a user name or password: sendlens "
                                 "does not log in to sites; give the address without them")
    started = time.monotonic()
    summary = ScrapeSummary(dry_run=dry_run, delay_asked=delay, delay_used=delay)
    rule = site.load_label_rule(labels_config)
    own_session = session is None
    if session is None:
        session = build_session(
            delay=delay,
            retries=retries,
            backoff=backoff,
            timeout=timeout,
            max_consecutive_failures=max_consecutive_failures,
            log=log,
        )
    if gov_uk_url == AUTO:
        gov_uk_url = gov_uk_page_for(base_url)
    tmp_path: Path | None = None
    tmp_lock: int | None = None
    scrape_lock = contextlib.ExitStack()
    try:
        # Refused before any request: a read-only corpus (found out otherwise only at the
        # first download, after minutes of reading pages) or another scrape of it running.
        if not dry_run:
            scrape_lock.enter_context(corpus.scrape_lock())
        held = held_file_ids(corpus, retry_skipped=retry_skipped)
        letters_held = _file_ids(corpus, ["imported", "replaced", "duplicate"])
        # With --retry-skipped these are downloaded again, so not "held" this run.
        unimported = {} if retry_skipped else unimported_fetches(corpus)
        failed_before = failed_file_ids(corpus)
        if not dry_run:
            _clear_stale_tmp(corpus)
            corpus.sweep_pdfs()  # half-written copies a killed run left in the store

        # Phase 1: discover.
        providers = discover_providers(session, base_url, rows)
        wanted = list(areas or [])
        found_areas: set[str] = set()
        targets: list[tuple[site.ProviderLink, bool]] = [(p, False) for p in providers]
        if extra_providers:
            listed = {p.urn for p in providers}
            for urn, name in rule.extra_providers.items():
                if urn not in listed:
                    url = site.provider_url(base_url, urn)
                    targets.append((site.ProviderLink(urn, name, url), True))
        names = {t[0].name for t in targets}  # for suggestions: "Dorsett" -> Dorset
        if wanted:
            targets = [t for t in targets if _wanted(wanted, t[0].urn, t[0].name)]
            # Second provider records count, and so does the GOV.UK page (below).
            summary.unmatched_areas = [
                w for w in wanted if not any(_wanted([w], p.urn, p.name) for p, _ in targets)
            ]
        councils = {_area_key(p.urn, p.name): p.name for p, extra in targets if not extra}

        candidates, unread, read_whole = _read_provider_pages(
            session, targets, rule, summary, found_areas, letters_held, since, progress,
            base_url)
        # Letters no page read lists: known files, and the GOV.UK page's 2016-17 letters
        # (every one a SEND letter, whatever its title says).
        sources = []
        if extra_providers:
            sources.append(_extra_files(rule, base_url, {p.file_id for p in candidates}))
        if gov_uk_url and (since is None or since <= site.GOV_UK_LATEST_PUBLISHED):
            sources.append(_as_held(corpus, _gov_uk_letters(session, gov_uk_url, summary),
                                    held))
        for pubs in sources:
            names |= {p.council for p in pubs if p.council}
            if wanted:
                pubs = [p for p in pubs if _wanted(wanted, None, p.council)]
                summary.unmatched_areas = [
                    w for w in summary.unmatched_areas
                    if not any(_wanted([w], None, p.council) for p in pubs)
                ]
            candidates.extend(_select(pubs, rule, summary, found_areas, since, trusted=True))

        # Compared in lower case ("burry" -> Bury), given back as the site spells it.
        spelt = {name.lower(): name for name in sorted(names)}
        summary.area_suggestions = {
            w: spelt[near[0]] for w in summary.unmatched_areas
            if (near := difflib.get_close_matches(w.lower(), list(spelt), n=1, cutoff=0.75))}
        summary.areas_without_send = sorted(
            name for key, name in councils.items() if key not in found_areas | unread
        )
        fresh, withdrawn = _to_download(corpus, candidates, since, summary, read_whole,
                                        held=held, unimported=unimported,
                                        failed_before=failed_before)

        # Phase 2: download, check, import, record.
        if dry_run:
            summary.would_download = [_record(p) for p in fresh]
            return summary
        tmp_dir = _tmp_dir(corpus)
        failed_in_a_row = 0
        any_whole = False  # a file of this run came whole (a PDF)
        for pub in _bar(fresh, "downloads", "pdf", progress):
            rec = _record(pub)
            tmp_path, tmp_lock = _new_tmp(tmp_dir, pub.file_id)
            try:
                sha, size = _download_with_retries(
                    session, pub.url, tmp_path, download_attempts, backoff
                )
            except (HttpError, BadDownload) as exc:
                if isinstance(exc, SiteUnavailable):
                    raise
                tmp_path.unlink(missing_ok=True)
                tmp_path = None
                lock, tmp_lock = tmp_lock, None  # cleared first: a Ctrl-C must not close it twice
                _unlock(lock)
                reason = exc.problem if isinstance(exc, HttpError) else str(exc)
                rec.status, rec.error = "failed", reason
                corpus.record_fetch(rec)
                summary.failed.append(
                    Failure(pub.url, reason, pub.council, pub.file_id, pub.label))
                # A definite answer about this file (404, a bad URL) says nothing of the
                # site's health, so it does not count; nor does a file that is not a PDF
                # once another came whole. Before that, every file answering with a page
                # (a maintenance page for every URL) means the site is not well.
                if not (_transient(exc) or (isinstance(exc, BadDownload) and not any_whole)):
                    continue
                failed_in_a_row += 1
                if failed_in_a_row >= max_consecutive_failures:
                    raise SiteUnavailable(
                        pub.url,
                        f"{failed_in_a_row} downloads failed in a row, giving up "
                        f"(last: {reason}); run again later to carry on",
                    ) from exc
                continue
            finally:
                summary.requests = session.requests_made
            failed_in_a_row, any_whole = 0, True
            summary.bytes_downloaded += size
            rec.sha256 = sha
            rec.retrieved_at = datetime.now(UTC).isoformat(timespec="seconds")
            # The fetch is recorded in the letter's own transaction: a kill between
            # the two can never make the next run download the letter again.
            try:
                outcome = import_pdf(
                    corpus,
                    tmp_path,
                    source=pub.url,
                    ofsted_urn=pub.provider_urn,
                    published=pub.published.isoformat() if pub.published else None,
                    fetch=rec,
                    # The site lists a corrected report as a new publication of it, later
                    # than the first; or in its place (the first no longer listed).
                    replace="newer", withdrawn=withdrawn,
                )
            except InterruptedAfterImport as stop:  # it is in: counted, then the stop
                _count(summary, stop.outcome, rec)
                raise
            _count(summary, outcome, rec)
            tmp_path.unlink(missing_ok=True)
            tmp_path = None
            lock, tmp_lock = tmp_lock, None
            _unlock(lock)
        corpus.set_meta("last_scrape", datetime.now(UTC).isoformat(timespec="seconds"))
        summary.no_longer_listed = _no_longer_listed(
            corpus, withdrawn, summary, {p.file_id for p in candidates})
        summary.held_twice = corpus.close_pairs_text({r.letter_id for r in summary.new})
    except KeyboardInterrupt:
        summary.error = INTERRUPTED
    except (site.SiteStructureError, HttpError) as exc:
        summary.error = str(exc)
        # No host answered at all: offline (or every address mistyped), not one bad host.
        summary.offline = isinstance(exc, NameNotResolved) and not session.retry.reached
    except sqlite3.OperationalError as exc:  # the database: disk full, locked, read-only
        summary.error = f"{database_problem(exc, corpus.db_path)}; what was imported is kept"
        summary.cannot_write = True
    except OSError as exc:
        if exc.errno not in DISK_ERRNOS:  # not the disk's: a bug to see in full
            raise
        # The disk (full, a folder made read-only during the run): stop with the summary
        # of what was done, naming the file.
        where = exc.filename or tmp_path or corpus.root
        summary.error = f"{where}: {exc.strerror or exc}; what was imported is kept"
        summary.cannot_write = True
    finally:
        scrape_lock.close()
        summary.delay_used = session.throttle.delay
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)  # a partial download never stays behind
        _unlock(tmp_lock)
        summary.requests = session.requests_made
        summary.retries = session.retry.retries_made
        summary.elapsed = time.monotonic() - started
        if own_session:
            session.close()
    return summary


def _read_provider_pages(
    session: PoliteSession, targets: list[tuple[site.ProviderLink, bool]],
    rule: site.LabelRule, summary: ScrapeSummary, found_areas: set[str],
    letters_held: set[str], since: date | None, progress: bool, base_url: str,
) -> tuple[list[site.Publication], set[str], set[str]]:
    """Every council's provider page (`targets`: the link, and whether it is an extra
    record that may be missing): the SEND letters listed, the councils whose page could
    not be read (not known to have no letter), and the provider pages read whole."""
    candidates: list[site.Publication] = []
    bad_run = 0  # listed provider pages in a row that were empty or not HTML
    unread: set[str] = set()  # councils whose page failed: not known to have no letter
    read_whole: set[str] = set()  # provider pages read, listing reports
    any_reports = False
    for prov, is_extra in _bar(targets, "providers", "page", progress):
        odd_links: list[tuple[str, str]] = []
        # The search page's links are held to the rule for a page's links, as redirects
        # are: one to another host (http://10.0.0.5/...) was requested there.
        if (why := refusal(prov.url, base_url)) is not None:
            summary.failed.append(Failure(prov.url, f"linked from the search page, {why}: "
                                          "not followed", prov.name))
            unread.add(_area_key(prov.urn, prov.name))
            continue
        try:
            html = _get_html(session, prov.url, optional=is_extra)
            # One council's page of unknown structure (its only report linked
            # elsewhere) is that council's failure, not the end of the run.
            pubs = None if html is None else site.parse_provider_page(
                html, prov.url, prov.urn, prov.name, odd_links)
        except SiteUnavailable:
            raise
        except HttpError as exc:  # one bad page: report it, carry on with the rest
            # (a site that keeps failing is stopped by the session's FailureLimit)
            summary.failed.append(Failure(prov.url, exc.problem, prov.name))
            unread.add(_area_key(prov.urn, prov.name))
            continue
        except site.SiteStructureError as exc:  # not HTML, not read: counted too
            summary.failed.append(Failure(prov.url, exc.problem, prov.name))
            unread.add(_area_key(prov.urn, prov.name))
            _note_odd_links(odd_links, rule, prov.name, summary)
            bad_run += 0 if is_extra else 1
            _check_bad_run(bad_run, any_reports, prov.url, exc.problem)
            continue
        if pubs is None:
            summary.extra_providers_missing.append(f"{prov.name} ({prov.urn})")
            continue
        if _note_odd_links(odd_links, rule, prov.name, summary):
            unread.add(_area_key(prov.urn, prov.name))  # it has one, not fetched
        if is_extra:
            summary.extra_providers_found += 1
        else:
            summary.providers_seen += 1
        if not pubs:
            summary.empty_providers.append(f"{prov.name} ({prov.urn})")
            bad_run += 0 if is_extra else 1
            _check_bad_run(bad_run, any_reports, prov.url, "lists no reports")
            continue
        bad_run, any_reports = 0, True
        read_whole.add(prov.urn)
        candidates.extend(_select(pubs, rule, summary, found_areas, since,
                                  held=letters_held))
    return candidates, unread, read_whole


def _extra_files(rule: site.LabelRule, base_url: str,
                 listed: Collection[str]) -> list[site.Publication]:
    """The known letter files no page lists (`site.EXTRA_FILES`, `[[extra_files]]`) that
    no page read this run listed either. Those of the real Ofsted site only when it is the
    site scraped: a local copy of it does not hold them."""
    real = site.same_site(base_url, site.DEFAULT_BASE_URL)
    host = urlsplit(base_url).netloc.lower()
    return [site.Publication(file_id, f.url, f.label, f.published, None, f.council)
            for file_id, f in rule.extra_files.items()
            if file_id not in listed and (real or urlsplit(f.url).netloc.lower() == host)]


def _to_download(
    corpus: Corpus, candidates: list[site.Publication], since: date | None,
    summary: ScrapeSummary, read_whole: set[str], *, held: set[str],
    unimported: dict[str, FetchRecord], failed_before: set[str],
) -> tuple[list[site.Publication], set[str]]:
    """The letters found that are not held yet (each once, those failed before last),
    and the held letters whose file the site no longer lists (`withdrawn_letters`)."""
    fresh: list[site.Publication] = []
    seen_ids: set[str] = set()
    for pub in candidates:
        if pub.file_id in seen_ids:
            continue  # listed on both provider records
        seen_ids.add(pub.file_id)
        if not _since_ok(pub, since):
            summary.before_since += 1
            continue
        if since is not None and pub.published is None:
            summary.undated_with_since += 1
        if pub.file_id in held:
            summary.already_held += 1
            if pub.file_id in unimported:
                summary.held_unimported.append(unimported[pub.file_id])
        else:
            fresh.append(pub)
    summary.send_found = len(seen_ids)
    withdrawn = withdrawn_letters(corpus, read_whole, seen_ids)
    # A file first held back as another copy of a report whose own file the site has
    # since withdrawn is read again: it may be all the site publishes of it now.
    recheck = duplicates_to_recheck(corpus, withdrawn) & seen_ids
    for pub in candidates:
        if pub.file_id in recheck and _since_ok(pub, since):
            recheck.discard(pub.file_id)  # once, though listed on two records
            summary.already_held -= 1
            fresh.append(pub)
    # Files that failed on an earlier run go last (in page order), so that a few dead
    # links cannot keep every later run from reaching the letters after them.
    fresh.sort(key=lambda p: p.file_id in failed_before)
    return fresh, withdrawn


def _no_longer_listed(corpus: Corpus, withdrawn: Collection[str], summary: ScrapeSummary,
                      listed: Collection[str]) -> list[str]:
    """The held letters whose file their council's page no longer lists and that no
    later file replaced (this run, or one before: a file of theirs is `listed`), each with
    its area, framework, dates and old address: kept in the corpus, but a reader should
    know (withdrawn, or corrected under other dates, in which case the corpus now holds
    both)."""
    gone = set(withdrawn) - {r.letter_id for r in summary.replaced}
    if not gone:
        return []
    new_ids = [r.letter_id for r in summary.new if r.letter_id]
    with corpus.reading() as con:
        marks = ",".join("?" * len(listed))
        gone -= {r[0] for r in con.execute(
            f"SELECT letter_id FROM fetches WHERE file_id IN ({marks})", list(listed))}
        if not gone:
            return []
        def letters(ids: Collection[str]) -> list[sqlite3.Row]:
            marks = ",".join("?" * len(ids))
            return con.execute(
                "SELECT l.letter_id, l.area, l.framework, l.inspection_start, l.published,"
                " (SELECT f.url FROM fetches f WHERE f.letter_id = l.letter_id ORDER BY"
                " f.retrieved_at DESC LIMIT 1) AS url FROM letters l"
                f" WHERE l.letter_id IN ({marks}) ORDER BY l.area", list(ids)).fetchall()

        arrived = {(r["area"], r["framework"]) for r in letters(new_ids)} if new_ids else set()
        out = []
        for r in letters(gone):
            when = r["inspection_start"] or r["published"] or "undated"
            line = (f"{r['area']}, {r['framework']} of {when} (letter {r['letter_id']}, was "
                    f"{r['url'] or 'listed'})")
            if (r["area"], r["framework"]) in arrived:
                line += (": this run imported another letter of that framework for the "
                         "area; if it is this report corrected under other dates, the corpus "
                         "now holds both")
            out.append(line)
    return out


def _count(summary: ScrapeSummary, outcome: ImportOutcome, rec: FetchRecord) -> None:
    {"imported": summary.new, "replaced": summary.replaced,
     "duplicate": summary.duplicates}.get(outcome.status, summary.skipped).append(rec)
    # What the import warned of (several letters in one file, a date before the
    # inspection, sections missing) is said here too, or a scrape would hide it.
    if outcome.status == "imported":
        notes = [*outcome.notes, *filter(None, [outcome.missing_note()])]
        summary.warnings += [f"{rec.council or '?'}, {rec.label!r}: {rec.url}: {n}"
                             for n in notes]


def _select(
    pubs: list[site.Publication],
    rule: site.LabelRule,
    summary: ScrapeSummary,
    found_areas: set[str],
    since: date | None = None,
    *,
    trusted: bool = False,
    held: Collection[str] = (),
) -> list[site.Publication]:
    """The SEND letters among ``pubs``; unknown SEND-ish labels (published since `since`:
    a report --since leaves out is not one a run may have missed) go to the summary. A file
    the corpus holds is one whatever its label says now: a label renamed on the site made
    held letters look missing ("areas whose page lists no SEND letter")."""
    keep = []
    for pub in pubs:
        kind, _framework = rule.classify(pub.label)
        # Every GOV.UK attachment there is a SEND letter.
        if kind == "send" or trusted or pub.file_id in held:
            keep.append(pub)
            found_areas.add(_area_key(pub.provider_urn, pub.council))
            # A running count, for a run interrupted while listing; replaced by the count
            # without letters listed on two provider records once the listing is done.
            summary.send_found += 1
        elif kind == "unknown" and _since_ok(pub, since):
            summary.unknown_labels.append(Failure(pub.url, pub.label, pub.council, pub.file_id))
        else:
            summary.other_reports += 1
    return keep


def _area_key(urn: str | None, name: str | None) -> str:
    """One key per council across its provider records and GOV.UK file names."""
    # A 3-digit "URN" is a second provider record named by its DfE LA code.
    code = urn if urn and len(urn) == 3 else None
    la = lookup_area(name, urn=urn, code=code)
    return la.la_code if la else site.normalise_area(name or "")


def _wanted(wanted: Sequence[str], urn: str | None, name: str | None) -> bool:
    """--area given as a URN, a name as listed, or any name the area table knows."""
    if site.matches_area(wanted, urn, name):
        return True
    key = _area_key(urn, name)
    return any(lookup_area(w) is not None and _area_key(None, w) == key for w in wanted)


def _record(pub: site.Publication) -> FetchRecord:
    return FetchRecord(
        file_id=pub.file_id,
        url=pub.url,
        provider_urn=pub.provider_urn,
        council=pub.council,
        label=pub.label,
        published=pub.published.isoformat() if pub.published else None,
    )


def _download_with_retries(
    session: PoliteSession, url: str, dest: Path, attempts: int, backoff: float
) -> tuple[str, int]:
    """A bad body (truncated, HTML, not a PDF) is fetched again, then reported; a whole
    file that cannot be a letter (too large, does not open) at once."""
    for attempt in range(1, attempts + 1):
        try:
            result = download_to(session, url, dest)
        except BadDownload as exc:
            # Kept (emptied by the next attempt), so that this run's lock on it holds.
            if exc.final:
                dest.unlink(missing_ok=True)
                raise
            if attempt == attempts:
                dest.unlink(missing_ok=True)
                raise BadDownload(f"{exc} (after {attempts} attempts)",
                                  transient=exc.transient) from exc
            session.retry.retries_made += 1  # counted with the HTTP retries in the summary
            wait = backoff * 2 ** (attempt - 1)
            if session.retry.log:
                # Said as an HTTP retry is: a silent wait looked like a hang.
                session.retry.log(f"{exc} from {url}; waiting {wait:.3g} s, then download "
                                  f"attempt {attempt + 1} of {attempts}")
            time.sleep(wait)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        else:
            return result
    raise AssertionError("unreachable")


def _transient(exc: Exception) -> bool:
    """A failure that says the site may be unwell (5xx or 429 after retries, no answer,
    a broken connection) rather than something definite about this one file."""
    if isinstance(exc, BadDownload):
        return exc.transient
    return isinstance(exc, HttpError) and site_unwell(exc)


def _new_tmp(tmp_dir: Path, file_id: str) -> tuple[Path, int | None]:
    """A temporary file of this run's own, locked while the run uses it, so that
    another scrape of the same corpus neither writes to it nor clears it away."""
    # The id only as far as a file name has room (a link to /v1/file/<300 digits> made
    # one too long, and the run ended in a traceback); mkstemp makes the name unique.
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=f"{TMP_PREFIX}{file_id[:64]}-",
                                suffix=".part")
    if fcntl is None:
        os.close(fd)
        return Path(name), None
    fcntl.flock(fd, fcntl.LOCK_EX)
    return Path(name), fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the file releases its lock


def _clear_stale_tmp(corpus: Corpus) -> None:
    """Partial downloads left by a killed run (only ours, by prefix): those no live run
    holds locked (a killed process's locks go with it). Without flock (Windows), those
    not written to for STALE_TMP_SECONDS."""
    tmp = Path(corpus.tmp_dir)
    if not tmp.is_dir():
        return
    for path in tmp.glob(f"{TMP_PREFIX}*.part"):
        try:
            if fcntl is None:
                if time.time() - path.stat().st_mtime > STALE_TMP_SECONDS:
                    path.unlink(missing_ok=True)
                continue
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # gone already, or not ours to read
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # another scrape is writing it
        else:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
