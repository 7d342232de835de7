"""A local copy of the Ofsted reports site (and the GOV.UK page), with faults on demand.

The structure follows ../shared/site/README.md: a paginated children's services
search (honouring ``start`` and ``rows``), provider pages listing every report as
``a.publication-link`` with a ``span.nonvisual`` "TYPE, pdf - D Month YYYY", files
at ``/v1/file/<id>``, robots.txt, and the GOV.UK publication page with attachment
links. Faults are queued per path and used up one request at a time; every request
is logged with its start and end time so tests can measure politeness.
"""

from __future__ import annotations

import csv
import gzip
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fpdf import FPDF

FILE_PATH = "/v1/file/"
GOV_UK_PAGE = "/government/publications/local-area-send-inspection-outcome-letters"
GOV_UK_FILES = "/government/uploads/system/uploads/attachment_data/file/"
GOV_UK_MEDIA = "/media/"  # the asset manager's newer addresses: /media/<24 hex>/<name>


@dataclass
class Report:
    file_id: str
    label: str
    published: date
    body: bytes | Path  # the file served at /v1/file/<file_id>
    send: bool  # whether sendlens should download it
    href: str | None = None  # the link as the provider page gives it (default: the file)


@dataclass
class Provider:
    urn: str
    name: str
    reports: list[Report] = field(default_factory=list)
    listed: bool = True  # shown by the search (False: a second provider record)


@dataclass
class Attachment:
    attachment_id: str
    file_name: str
    title: str
    body: bytes | Path
    media: bool = False  # linked as /media/<attachment_id>/<file_name>

    @property
    def href(self) -> str:
        folder = GOV_UK_MEDIA if self.media else GOV_UK_FILES
        return f"{folder}{self.attachment_id}/{self.file_name}"


@dataclass
class Hit:
    path: str
    query: str
    start: float
    end: float
    status: int
    user_agent: str
    accept_encoding: str = ""
    # When the answer began to go out (its headers flushed): the client cannot have had
    # it, nor ended the request, before then. `end` is stamped after the last write, and
    # a busy machine may run the client first: a gap measured from it came out short.
    answered: float = 0.0


@dataclass
class Fault:
    """What to do instead of (or before) the normal answer to one request."""

    # status | slow | truncate | truncate_nolength | html | drop | redirect (to `location`)
    # | gzip (compressed when the client accepts it, as real servers do) | gzip_always
    # | bad_gzip (Content-Encoding: gzip, body not gzip) | ctype (a 200 of type `ctype`)
    # | drip (the file 100 bytes at a time, `seconds` apart: alive, but never done)
    # | drip_html (a page the same way)
    kind: str
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0
    location: str = ""
    ctype: str = "application/json"


@dataclass
class Site:
    providers: list[Provider] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    robots: str = "User-agent: *\nDisallow: /admin/\n"
    structure: str = "normal"  # normal | no-provider-links | no-publication-class
    search_cap: int = 100  # most results a search page holds, whatever `rows` asks
    # Provider links on every search page besides the results ("recently viewed").
    search_aside: list[Provider] = field(default_factory=list)
    search_ignores_start: bool = False  # every page the first
    file_delay: float = 0.0  # seconds before every file response (slow site)
    # The hidden text of a provider page's link: its label, the file type and the date
    # (`when` "05 July 2024", or `day`, `month`, `year` for other wordings).
    detail: str = "{label}, pdf - {when}"
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    always: dict[str, Fault] = field(default_factory=dict)  # path prefix -> fault every time
    recorded: list[Hit] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hits(self) -> list[Hit]:
        """Every request answered so far. A request is recorded just after its answer is
        sent, so a client can return first: wait (up to 2 s) until none is in flight."""
        deadline = time.monotonic() + 2.0
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)
        with self.lock:
            return list(self.recorded)

    def fault(self, path: str, *faults: Fault) -> None:
        self.faults.setdefault(path, deque()).extend(faults)

    def provider(self, urn: str) -> Provider | None:
        return next((p for p in self.providers if p.urn == urn), None)

    def file(self, file_id: str) -> Report | None:
        for p in self.providers:
            for r in p.reports:
                if r.file_id == file_id:
                    return r
        return None

    def send_reports(self) -> list[Report]:
        return [r for p in self.providers for r in p.reports if r.send]

    def file_hits(self) -> list[Hit]:
        return [h for h in self.hits if h.path.startswith((FILE_PATH, GOV_UK_FILES, GOV_UK_MEDIA))]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else keep-alive answers wait 40 ms for delayed ACKs

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # a client that timed out or was killed: expected in these tests

    def end_headers(self) -> None:
        self._answered = time.monotonic()  # before any byte of the answer is sent
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        site = self.server.site
        start = time.monotonic()
        self._answered = 0.0  # one handler serves every request of a kept-alive connection
        with site.lock:
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
        status = 0
        parts = urlsplit(self.path)
        try:
            status = self._answer(site, parts.path, parse_qs(parts.query))
        except (BrokenPipeError, ConnectionResetError):
            status = -1  # the client went away (timeout, or killed)
        finally:
            end = time.monotonic()
            with site.lock:
                site.in_flight -= 1
                site.recorded.append(
                    Hit(
                        parts.path,
                        parts.query,
                        start,
                        end,
                        status,
                        self.headers.get("User-Agent", ""),
                        self.headers.get("Accept-Encoding", ""),
                        self._answered or end,
                    )
                )

    # --- routing -------------------------------------------------------------------
    def _answer(self, site: Site, path: str, query: dict[str, list[str]]) -> int:
        fault = None
        with site.lock:
            queue = site.faults.get(path)
            if queue:
                fault = queue.popleft()
        if fault is None:
            fault = next((f for p, f in site.always.items() if path.startswith(p)), None)
        self._fault = fault  # body faults (truncate, gzip, ctype) are applied by _send
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return self._send(fault.status, b"<html><body>busy</body></html>", headers=headers)
            elif fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return -2
            elif fault.kind == "html":
                page = (
                    b"<!DOCTYPE html><html><body><h1>Sorry, there is a problem</h1></body></html>"
                )
                return self._send(200, page)
            elif fault.kind == "drip_html":  # a page 100 bytes at a time, `seconds` apart
                return self._drip((b"<p>" + b"x" * 93 + b"</p>\n") * 1000,
                                  "text/html; charset=utf-8", fault.seconds, length=False)
            elif fault.kind == "redirect":
                return self._send(302, b"", headers={"Location": fault.location})

        if path == "/robots.txt":
            return self._send(200, site.robots.encode(), ctype="text/plain")
        if path == "/search":
            return self._send(200, self._search(site, query).encode())
        if path.startswith("/provider/44/"):
            prov = site.provider(path.rsplit("/", 1)[-1])
            if prov is None:
                return self._send(404, b"<html><body>Page not found</body></html>")
            return self._send(200, self._provider(site, prov).encode())
        if path.startswith(FILE_PATH):
            if site.file_delay:
                time.sleep(site.file_delay)
            report = site.file(path[len(FILE_PATH) :])
            if report is None:
                return self._send(404, b"<html><body>Not found</body></html>")
            return self._file(_bytes(report.body), fault)
        if path == GOV_UK_PAGE:
            return self._send(200, self._gov_uk(site).encode())
        if path.startswith((GOV_UK_FILES, GOV_UK_MEDIA)):
            att = next((a for a in site.attachments if a.href == path), None)
            if att is None:
                return self._send(404, b"<html><body>Not found</body></html>")
            return self._file(_bytes(att.body), fault)
        return self._send(404, b"<html><body>Not found</body></html>")

    def _drip(self, body: bytes, ctype: str, seconds: float, *, length: bool = True) -> int:
        """`body` 100 bytes at a time, `seconds` apart: alive, but never done."""
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(0, len(body), 100):
                self.wfile.write(body[i : i + 100])
                self.wfile.flush()
                time.sleep(seconds)
        except OSError:  # the client gave up
            pass
        self.close_connection = True
        return 200

    def _file(self, body: bytes, fault: Fault | None) -> int:
        if fault and fault.kind == "drip":
            return self._drip(body, "application/pdf", fault.seconds)
        if fault and fault.kind == "truncate_nolength":
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return 200
        return self._send(200, body, ctype="application/pdf")

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        ctype: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> int:
        fault = getattr(self, "_fault", None) if status == 200 else None
        kind = fault.kind if fault else ""
        headers = dict(headers or {})
        if kind == "ctype":
            ctype = fault.ctype  # type: ignore[union-attr]
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if kind == "gzip_always" or (kind == "gzip" and accepts_gzip):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        elif kind == "bad_gzip":
            headers["Content-Encoding"] = "gzip"
            body = b"\x1f\x8b\x08\x00 this is not gzip " + body[:200]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        if kind == "truncate":
            # Promise the whole body, send half, hang up.
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return status
        self.end_headers()
        self.wfile.write(body)
        return status

    # --- pages -----------------------------------------------------------------------
    def _base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _search(self, site: Site, query: dict[str, list[str]]) -> str:
        start = 0 if site.search_ignores_start else int(query.get("start", ["0"])[0])
        rows = min(int(query.get("rows", ["100"])[0]), site.search_cap)  # the site's cap
        right_kind = query.get("level_1_types") == ["3"] and query.get("level_2_types[]") == ["12"]
        listed = [p for p in site.providers if p.listed] if right_kind else []
        page = listed[start : start + rows]
        items = []
        for p in page:
            if site.structure == "no-provider-links":
                items.append(f'<li class="search-result"><h3>{escape(p.name)}</h3></li>')
            else:
                items.append(
                    f'<li class="search-result"><h3 class="search-result__title">'
                    f'<a href="/provider/44/{p.urn}">{escape(p.name)}</a></h3>'
                    f"<p>Local authority children's services</p></li>"
                )
        nxt = f'<a href="/search?start={start + rows}&amp;rows={rows}">Next</a>' if page else ""
        aside = "".join(f'<li><a href="/provider/44/{p.urn}">{escape(p.name)}</a></li>'
                        for p in site.search_aside)
        return (
            "<!DOCTYPE html><html><head><title>Find an inspection report</title></head><body>"
            '<nav><a href="/">Home</a> <a href="/about">About</a></nav>'
            f"<p>{len(listed)} results</p><ul class='results-list'>{''.join(items)}</ul>"
            f"<nav class='pagination'>{nxt}</nav>"
            f"<aside><h2>Recently viewed</h2><ul>{aside}</ul></aside></body></html>"
        )

    def _provider(self, site: Site, prov: Provider) -> str:
        base = self._base()
        items = []
        for r in sorted(prov.reports, key=lambda r: r.published, reverse=True):
            when = f"{r.published.day:02d} {r.published:%B %Y}"
            cls = "" if site.structure == "no-publication-class" else ' class="publication-link"'
            href = escape(r.href) if r.href is not None else f"{base}{FILE_PATH}{r.file_id}"
            items.append(
                f'<li class="timeline__day"><a{cls} href="{href}">'
                f'{escape(r.label)}<span class="nonvisual">'
                + escape(site.detail.format(label=r.label, when=when, day=r.published.day,
                                            month=f"{r.published:%B}", year=r.published.year))
                + "</span>"
                "</a></li>"
            )
        return (
            f"<!DOCTYPE html><html><head><title>{escape(prov.name)}</title></head><body>"
            f"<h1>{escape(prov.name)}</h1><p>URN: {prov.urn}</p>"
            f'<ul class="timeline">{"".join(items)}</ul>'
            '<a href="/search">Back to search</a></body></html>'
        )

    def _gov_uk(self, site: Site) -> str:
        # As GOV.UK lays an attachment out: a thumbnail linking to the file (no text),
        # then the title linking to it again.
        items = [
            f'<section class="gem-c-attachment"><div class="gem-c-attachment__thumbnail">'
            f'<a class="govuk-link" href="{a.href}" tabindex="-1" aria-hidden="true">'
            '<svg viewBox="0 0 99 140" width="99" height="140"></svg></a></div>'
            f'<h3 class="gem-c-attachment__title"><a class="govuk-link" href="{a.href}">'
            f"{escape(a.title)}</a></h3><p>PDF, 200KB, 8 pages</p></section>"
            for a in site.attachments
        ]
        return (
            "<!DOCTYPE html><html><body><h1>Local area SEND inspection: outcome letters</h1>"
            f'{"".join(items)}<a href="/government/organisations/ofsted">Ofsted</a></body></html>'
        )


def _bytes(body: bytes | Path) -> bytes:
    return body.read_bytes() if isinstance(body, Path) else body


@contextmanager
def serve(site: Site) -> Iterator[str]:
    """Run the site on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = site
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_raw(answer: bytes, *, read_request: bool = True) -> Iterator[str]:
    """A server on 127.0.0.1 that sends `answer`, byte for byte, to every connection (after
    reading the request, unless told not to) and closes it: for answers no HTTP server
    library would send. Yields its base URL."""
    import socket

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)

        def reply() -> None:
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:  # the socket closed: the test is over
                    return
                with conn:
                    if read_request:
                        conn.recv(65536)
                    conn.sendall(answer)

        threading.Thread(target=reply, daemon=True).start()
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"


# --- fixture documents ----------------------------------------------------------------


def make_pdf(title: str, paragraphs: list[str]) -> bytes:
    """A small text PDF made with fpdf2 (decoys and synthetic old letters), in the
    fixtures' vendored Unicode font: the core fonts cannot draw a bullet."""
    from fixtures.make_pdfs import CREATION_DATE, font_paths

    regular, bold = font_paths()
    pdf = FPDF()
    # A fixed date: the same letter is the same bytes (its hash names the store's folder).
    pdf.set_creation_date(CREATION_DATE)
    pdf.add_font("Body", "", str(regular))
    pdf.add_font("Body", "B", str(bold))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Body", "B", 14)
    pdf.multi_cell(0, 8, title)
    pdf.set_font("Body", size=11)
    for para in paragraphs:
        pdf.ln(3)
        pdf.multi_cell(0, 6, para)
    return bytes(pdf.output())


def decoy_pdf(kind: str, area: str) -> bytes:
    return make_pdf(
        f"{kind} of {area}",
        [
            f"This letter summarises the findings of a {kind.lower()} of {area} local "
            "authority children's services.",
            "Inspectors looked at the experiences of children in need of help and protection.",
        ]
        * 4,
    )


def letter_2016_pdf(area: str, weak: bool = False, corrected: bool = False,
                    week: tuple[str, str] = ("6 June 2016", "10 June 2016")) -> bytes:
    """A synthetic joint local area SEND inspection letter (format 1 of the site notes);
    `corrected`: the same letter published again with one sentence put right; `week`:
    the first and last day of the inspection.

    Laid out as the real ones are: paragraphs of several lines, so that the extractor
    can tell a line break from a paragraph break (a page of one-line paragraphs has no
    line spacing to compare the gaps with)."""
    paras = [
        "Dear Director of Children's Services and Accountable Officer of the Clinical "
        "Commissioning Group",
        f"Between {week[0]} and {week[1]}, Ofsted and the Care Quality Commission "
        f"(CQC) conducted a joint inspection of the local area of {area} to judge the "
        "effectiveness of the area in implementing the disability and special educational "
        "needs reforms as set out in the Children and Families Act 2014.",
        "The inspection was led by one of Her Majesty's Inspectors from Ofsted, with a team "
        "of inspectors including an Ofsted inspector and a children's services inspector "
        "from the CQC. Inspectors spoke with children and young people, parents and carers, "
        "and local authority and National Health Service officers.",
        "Main findings",
        "\u2022 Leaders know the strengths and weaknesses of the area well and have shared "
        "their evaluation with parents, who describe communication as open and honest.",
        "\u2022 Waiting times for assessments by the autism pathway are too long, and families "
        "told inspectors that they receive little support while they wait."
        if not corrected else
        "\u2022 Waiting times for assessments by the autism pathway are too long for children "
        "over five, and families told inspectors that they receive little support.",
        "The effectiveness of the local area in identifying children and young people's "
        "special educational needs and/or disabilities",
        "Strengths",
        "\u2022 Needs are identified early by health visitors, who complete developmental "
        "checks at two years of age for almost all children in the area.",
        "\u2022 Early years settings make good use of the advice of specialist teachers to "
        "adapt their provision for young children with emerging needs.",
        "Areas for development",
        "\u2022 Waiting times for speech and language therapy assessments are too long for "
        "school-age children, and parents are not kept informed of progress.",
        "\u2022 The local offer website is not well known by families and much of the "
        "information on it about post-16 options is out of date.",
        "Yours sincerely",
        "A Inspector",
    ]
    if weak:
        paras.insert(
            3,
            "As a result of the findings of this inspection and in accordance with the "
            "Children Act 2004, Her Majesty's Chief Inspector has determined that a "
            "Written Statement of Action is required because of significant areas of "
            "weakness in the local area's practice.",
        )
    return make_pdf(f"Joint local area SEND inspection in {area}", paras)


@dataclass
class ManifestRow:
    path: Path
    urn: str
    area: str
    published: date


def read_manifest(letters_root: Path) -> list[ManifestRow]:
    """Rows of ../shared/letters/manifest.csv (the 55 real 2023-framework reports)."""
    rows = []
    with (letters_root / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows.append(
                ManifestRow(
                    path=letters_root / row["file"],
                    urn=row["ofsted_urn"],
                    area=row["area"].title().replace(" And ", " and ").replace(" Of ", " of "),
                    published=datetime.strptime(row["file_date"].strip(), "%d %B %Y").date(),
                )
            )
    return rows


def build_site(rows: list[ManifestRow], *, decoys: bool = True) -> Site:
    """One provider per real letter, each with its SEND report and non-SEND decoys."""
    site = Site()
    for i, row in enumerate(rows):
        prov = Provider(row.urn, row.area)
        prov.reports.append(
            Report(f"{50300000 + i}", "Area SEND full inspection", row.published, row.path, True)
        )
        if decoys:
            prov.reports.append(
                Report(
                    f"{50400000 + i}",
                    "Joint area child protection inspection",
                    date(2024, 1, 30),
                    decoy_pdf("Joint targeted area inspection", row.area),
                    False,
                )
            )
            prov.reports.append(
                Report(
                    f"{50500000 + i}",
                    "Children's services focused visit",
                    date(2024, 8, 1),
                    decoy_pdf("Focused visit", row.area),
                    False,
                )
            )
        site.providers.append(prov)
    return site


def declined_file_site() -> Site:
    """One council with two SEND-labelled files: a letter (file 50999100), and one the
    importer declines (file 50999101, a focused visit under a SEND label)."""
    council = Provider("80999", "Testshire")
    council.reports += [
        Report("50999100", "Joint local area SEND inspection", date(2017, 6, 21),
               letter_2016_pdf("Testshire"), True),
        Report("50999101", "Area SEND full inspection", date(2024, 3, 1),
               decoy_pdf("Focused visit", "Testshire"), True),
    ]
    return Site(providers=[council])
