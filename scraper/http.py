"""A polite HTTP session built from small layers, in the manner of scrapelib.

Each layer wraps the one below and does one thing, so each can be tested and
switched on its own::

    FailureLimit( Redirects( Robots( Retry( Throttle( Transport ) ) ) ) )

- ``Transport``: one ``requests`` call with a timeout and an honest User-Agent; it
  never follows redirects itself (``Redirects`` does, through the layers below).
- ``Throttle``: one request at a time, and at least ``delay`` seconds between the
  end of one request and the start of the next (so retries are spaced too).
- ``Retry``: 429, 5xx, timeouts, connection errors and bodies cut off or badly
  compressed are retried with exponential back-off; ``Retry-After`` is honoured (up
  to a cap, beyond which we give up). Any other ``requests`` error (an invalid URL,
  say) becomes an :class:`HttpError` naming the URL.
- ``Robots``: robots.txt of every host is read once and obeyed, including its
  ``Crawl-delay``.
- ``Redirects``: a redirect is followed (at most ``MAX_REDIRECTS`` hops) as a new
  request, so every hop is throttled, retried and checked against robots.txt; only to
  where a page's link could lead (``scraper.hosts``), else :class:`RedirectRefused`.
- ``FailureLimit``: after N consecutive failed requests the site is considered down
  and :class:`SiteUnavailable` stops the run with a clear message.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from urllib3.exceptions import (
    DecodeError,
    LocationValueError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from scraper.hosts import refusal
from scraper.robots import RobotsRules
from sendlens import __version__

PROJECT_URL = "https://github.com/sendlens/sendlens"
USER_AGENT = f"sendlens/{__version__} (+{PROJECT_URL})"
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
PAGE_DEADLINE = 120.0  # seconds for a whole page (files have DOWNLOAD_DEADLINE)
PAGE_MAX_BYTES = 20 * 2**20
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
MAX_CRAWL_DELAY = 86400.0  # a robots.txt asking for more between requests: not crawled


class HttpError(RuntimeError):
    """A request failed for good (after any retries)."""

    def __init__(self, url: str, problem: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem
        self.status = status


class HostUnreachable(HttpError):
    """No connection could be made to a host that has never answered: not retried."""


class NameNotResolved(HostUnreachable):
    """The host's name does not resolve: no network, or a mistyped address."""


class ConnectionRefused(HostUnreachable):
    """The host refused the connection: nothing listens on that port."""


class BadUrl(HttpError):
    """The URL itself cannot be requested (no host, an invalid host name, ...)."""


class PageDeadline(requests.exceptions.ReadTimeout):
    """A page still arriving after PAGE_DEADLINE seconds (a timeout: retried)."""


class RobotsDisallowed(HttpError):
    """robots.txt forbids sendlens from fetching this URL."""


class RedirectRefused(HttpError):
    """A redirect to where a page's link could not lead (another host, say): not followed."""


class SiteUnavailable(HttpError):
    """The site kept failing: too many consecutive failed requests."""


class Fetcher(Protocol):
    def get(self, url: str, *, stream: bool = False) -> requests.Response: ...


def arriving(resp: requests.Response, most: int = 64 * 1024) -> Iterator[bytes]:
    """The (decoded) body as it arrives, each piece what one receive gave: iter_content
    waits for a whole chunk, so a server sending a few bytes a minute, within the read
    timeout, held a download for hours between two checks of the deadline. Errors as
    iter_content raises them (a read timeout as a Timeout)."""
    while True:
        try:
            piece = resp.raw.read1(most, decode_content=True)
        except ReadTimeoutError as exc:
            raise requests.exceptions.ReadTimeout(exc) from exc
        except ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        if not piece:
            return
        yield piece


class _NoRedirectSession(requests.Session):
    """A session that never works out where a redirect leads: `Redirects` does, and checks
    the address first. Told not to follow one, requests still parsed its Location, and a
    malformed one ("http://[bad") raised a bare ValueError: the run ended in a traceback."""

    def resolve_redirects(self, *args: object, **kwargs: object) -> Iterator[requests.Response]:
        return iter(())


@dataclass
class Transport:
    """The bottom layer: a single GET with a timeout on every request."""

    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT
    user_agent: str = USER_AGENT
    session: requests.Session = field(default_factory=_NoRedirectSession)
    requests_made: int = 0

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = self.user_agent

    def get(self, url: str, *, stream: bool = False) -> requests.Response:
        self.requests_made += 1
        # Streamed responses are files: ask for them uncompressed, so that the bytes
        # received can be checked against Content-Length.
        headers = {"Accept-Encoding": "identity"} if stream else None
        try:
            # Always streamed from the socket: a page (not streamed to the caller) is
            # read here under a deadline and a size cap, which requests has neither of.
            resp = self.session.get(url, timeout=self.timeout, stream=True,
                                    headers=headers, allow_redirects=False)
            if not stream:
                self._read_page(resp, url)
            return resp
        except PageDeadline:
            raise
        except requests.Timeout as exc:
            # urllib3's text ("HTTPConnectionPool(host=...): Read timed out. (read
            # timeout=60)") says less than this; the type is kept for the layers above.
            raise type(exc)(self._timeout_text(exc), request=exc.request) from exc

    def _read_page(self, resp: requests.Response, url: str) -> None:
        """The body of a page, read now (as requests reads one not streamed) but given
        up after PAGE_DEADLINE seconds or PAGE_MAX_BYTES: a server sending a byte a minute
        held the run for hours, and an endless page filled memory."""
        body = bytearray()
        started = time.monotonic()
        try:
            for piece in arriving(resp):
                body += piece
                if len(body) > PAGE_MAX_BYTES:
                    raise HttpError(url, f"a page of more than {PAGE_MAX_BYTES // 2**20} MB, "
                                    "not read (no page of the site comes near)",
                                    resp.status_code)
                if time.monotonic() - started > PAGE_DEADLINE:
                    raise PageDeadline(f"the page was still coming after {PAGE_DEADLINE:g} "
                                       "s (a server sending it a little at a time)")
        finally:
            resp.close()
        resp._content = bytes(body)  # what requests keeps of a body read whole
        resp._content_consumed = True

    def _timeout_text(self, exc: requests.Timeout) -> str:
        connect, read = (self.timeout if isinstance(self.timeout, tuple)
                         else (self.timeout, self.timeout))
        if isinstance(exc, requests.ConnectTimeout):
            return f"could not connect within {connect:g} s"
        return f"no answer within {read:g} s"


@dataclass
class Throttle:
    """One request at a time, ``delay`` seconds apart (end of one to start of next)."""

    inner: Fetcher
    delay: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _last_end: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, url: str, *, stream: bool = False) -> requests.Response:
        with self._lock:
            if self._last_end is not None:
                wait = self.delay - (self.clock() - self._last_end)
                if wait > 0:
                    self.sleep(wait)
            try:
                resp = self.inner.get(url, stream=stream)
                if stream:
                    # Reading a streamed body is part of the request: mark its end
                    # when the body is closed, not when the headers arrive.
                    _on_close(resp, self._mark_end)
                return resp
            finally:
                self._mark_end()

    def _mark_end(self) -> None:
        self._last_end = self.clock()


def _on_close(resp: requests.Response, callback: Callable[[], None]) -> None:
    original = resp.close

    def close() -> None:
        try:
            original()
        finally:
            callback()

    resp.close = close  # type: ignore[method-assign]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²" (a header's byte 0xB2): no float
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class Retry:
    """Retry 429/5xx/timeouts/connection errors with exponential back-off."""

    inner: Fetcher
    retries: int = 4
    backoff: float = 2.0  # first wait; doubles each time
    max_backoff: float = 120.0
    max_retry_after: float = 600.0  # a longer Retry-After means: come back another day
    statuses: frozenset[int] = RETRY_STATUSES
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] | None = None
    retries_made: int = 0
    # Hosts that have answered, and their origins (scheme, host and port): for a host a
    # failed name lookup is a passing DNS hiccup, for an origin a refused connection a
    # restart.
    reached: set[str] = field(default_factory=set)

    def get(self, url: str, *, stream: bool = False) -> requests.Response:
        attempt = 0
        parts = urlsplit(url)
        host = parts.hostname or ""
        # Scheme, host and port: another port of a host that answered may have nothing
        # listening (a name lookup, though, is of the host alone).
        where = f"{parts.scheme}://{parts.netloc}".lower()
        while True:
            problem: str
            wait = min(self.backoff * (2**attempt), self.max_backoff)
            status: int | None = None
            asked: float | None = None
            try:
                resp = self.inner.get(url, stream=stream)
            except (requests.Timeout, requests.ConnectionError, *_BODY_ERRORS) as exc:
                if host not in self.reached and _unresolvable(exc):
                    # No network, or a mistyped host: waiting will not fix either.
                    raise NameNotResolved(url, f"cannot resolve the host name {host!r} (no "
                                          "network connection, or a mistyped address); not "
                                          "retried") from exc
                if where not in self.reached and _refused(exc):
                    # Nothing listens there (a wrong port, a mirror not started). A host that
                    # has answered before may be restarting: that is retried below.
                    raise ConnectionRefused(url, f"connection refused by {parts.netloc} (nothing "
                                            "is listening there: is the address right, and "
                                            "the server running?); not retried") from exc
                if where not in self.reached and _caused_by(
                        exc, lambda e: isinstance(e, ssl.SSLError)):
                    # An https address where the server speaks http, or a certificate
                    # not trusted: waiting will not fix either.
                    raise HostUnreachable(url, f"{_describe(exc)}; not retried") from exc
                problem = _describe(exc)
            except (requests.RequestException, LocationValueError) as exc:
                # Not a passing problem (an invalid URL, say): no retry, and an HttpError
                # naming the URL rather than a traceback or a bare ValueError.
                kind = BadUrl if isinstance(exc, (requests.exceptions.InvalidURL,
                                                  requests.exceptions.MissingSchema,
                                                  requests.exceptions.InvalidSchema,
                                                  LocationValueError)) else HttpError
                raise kind(url, _describe(exc)) from exc
            else:
                self.reached.update((host, where))
                if resp.status_code not in self.statuses:
                    return resp
                status = resp.status_code
                problem = f"HTTP {status} {resp.reason or ''}".strip()
                asked = retry_after_seconds(resp.headers.get("Retry-After"))
                resp.close()
                if asked is not None:
                    if asked > self.max_retry_after:
                        raise HttpError(
                            url, f"{problem}; Retry-After {asked:.0f}s is too long to wait", status
                        )
                    wait = max(wait, asked)
            if attempt >= self.retries:
                tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
                raise HttpError(url, f"{problem} (gave up after {tries})", status)
            attempt += 1
            self.retries_made += 1
            if self.log:
                why = f" (Retry-After: {asked:.3g} s)" if asked is not None else ""
                self.log(f"{problem} from {url}; waiting {wait:.3g} s{why}, "
                         f"then retry {attempt} of {self.retries}")
            self.sleep(wait)


# A body cut off, or compressed wrongly: the next attempt may well get it whole.
_BODY_ERRORS = (requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError)


def _describe(exc: BaseException) -> str:
    """A plain account of a requests error (the URL is named by the caller)."""
    if isinstance(exc, requests.Timeout):
        return str(exc)  # Transport's own words ("no answer within 60 s")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off before its end"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the answer's compressed body is broken (cannot be decompressed)"
    if isinstance(exc, (requests.exceptions.InvalidURL, LocationValueError)):
        return f"not a URL that can be requested ({exc})"
    if _caused_by(exc, lambda e: isinstance(e, (ConnectionResetError,
                                                 http.client.RemoteDisconnected))):
        # urllib3's words: "('Connection aborted.', RemoteDisconnected('Remote end closed
        # connection without response'))".
        return "the server closed the connection without an answer"
    tls = _cause(exc, lambda e: isinstance(e, ssl.SSLError))
    if tls is not None:
        # urllib3's words: "HTTPSConnectionPool(host=..., port=...): Max retries exceeded
        # with url: ... (Caused by SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] ...')))".
        detail = getattr(tls, "verify_message", None) or str(tls)
        detail = detail.split(" (_ssl.c:")[0]
        return f"no secure (https) connection could be made: {detail}"
    bad = _cause(exc, lambda e: isinstance(e, http.client.BadStatusLine))
    if bad is not None:
        began = str(bad.args[0] if bad.args else bad).strip()[:60]
        return f"the answer is not HTTP (it began {began!r}): is this a web server's address?"
    return f"{type(exc).__name__}: {exc}"


def _caused_by(exc: BaseException, test: Callable[[BaseException], bool]) -> bool:
    """Is `test` true of `exc` or of anything it wraps (urllib3 nests its errors)?"""
    return _cause(exc, test) is not None


def _cause(exc: BaseException,
           test: Callable[[BaseException], bool]) -> BaseException | None:
    """The first of `exc` and what it wraps that `test` is true of, if any."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        if test(e):
            return e
        stack += [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]
    return None


def _unresolvable(exc: BaseException) -> bool:
    """Did the request fail because the host name does not resolve (DNS)?"""
    # urllib3 wraps socket.gaierror as NameResolutionError, inside MaxRetryError.
    return _caused_by(exc, lambda e: isinstance(e, socket.gaierror)
                      or type(e).__name__ == "NameResolutionError")


def _refused(exc: BaseException) -> bool:
    """Did the host refuse the connection (nothing listening on that port)?"""
    return _caused_by(exc, lambda e: isinstance(e, ConnectionRefusedError))


@dataclass
class Robots:
    """Obey robots.txt of every host (read once per host, through the layers below)."""

    inner: Fetcher
    user_agent: str = USER_AGENT
    on_crawl_delay: Callable[[float], None] | None = None
    _parsers: dict[str, RobotsRules] = field(default_factory=dict)
    # Hosts whose robots.txt could not be read, and why: asked once a run (each try had
    # cost its retries again, for every file sent there).
    _unreadable: dict[str, RobotsDisallowed] = field(default_factory=dict)

    def get(self, url: str, *, stream: bool = False) -> requests.Response:
        if not self.allowed(url):
            raise RobotsDisallowed(url, "robots.txt disallows fetching this URL for sendlens")
        return self.inner.get(url, stream=stream)

    def allowed(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
        except ValueError as exc:
            raise BadUrl(url, f"not a URL that can be requested ({exc})") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadUrl(url, "not a URL that can be requested (no http(s) host)")
        origin = f"{parts.scheme}://{parts.netloc}"
        if (failed := self._unreadable.get(origin)) is not None:
            raise RobotsDisallowed(failed.url, failed.problem)
        parser = self._parsers.get(origin)
        if parser is None:
            try:
                parser = self._parsers[origin] = self._load(origin)
            except BadUrl as exc:  # the URL's host is at fault: name the URL asked for
                raise BadUrl(url, exc.problem) from exc
            except RobotsDisallowed as exc:
                self._unreadable[origin] = exc
                raise
        return parser.can_fetch(self.user_agent, url)

    def _load(self, origin: str) -> RobotsRules:
        robots_url = urlunsplit((*urlsplit(origin)[:2], "/robots.txt", "", ""))
        try:
            # RFC 9309: follow at least five redirects for robots.txt; one we refuse
            # (another host's) leaves it unread, as a 5xx does: this host is not crawled.
            resp = follow_redirects(self.inner, robots_url)
        except (HostUnreachable, BadUrl):
            raise  # no network, or no such host: nothing to do with robots.txt
        except HttpError as exc:
            # RFC 9309: an unreachable robots.txt (5xx) means assume full disallow.
            raise RobotsDisallowed(
                robots_url, f"robots.txt could not be read ({exc.problem}); not crawling"
            ) from exc
        if resp.status_code >= 500:
            # A 5xx Retry hands back (501, 505: not retried) is unreachable too.
            raise RobotsDisallowed(
                robots_url, f"robots.txt could not be read (HTTP {resp.status_code}); not "
                "crawling")
        # 4xx: no robots.txt, everything allowed. UTF-8 (RFC 9309), whatever the server
        # says or requests guesses: a byte-order mark guessed as Latin-1 hid a group.
        parser = RobotsRules.parse("" if resp.status_code >= 400 else
                                   resp.content.decode("utf-8-sig", errors="replace"))
        delay = parser.crawl_delay(self.user_agent)
        if delay and delay > MAX_CRAWL_DELAY:
            # Not a wait that can end (time.sleep overflowed on 1e11 s: a traceback).
            raise RobotsDisallowed(
                robots_url, f"robots.txt asks for {delay:g} s between requests (Crawl-delay): "
                "too long to wait; not crawling")
        if delay and self.on_crawl_delay:
            self.on_crawl_delay(float(delay))
        return parser


def follow_redirects(
    fetcher: Fetcher, url: str, *, stream: bool = False, limit: int = MAX_REDIRECTS
) -> requests.Response:
    """GET ``url`` through ``fetcher``, following up to ``limit`` redirects, each hop
    a request of its own (so throttled, retried and robots-checked like any other)."""
    hops = 0
    asked = url
    hops_made: list[requests.Response] = []
    while True:
        try:
            resp = fetcher.get(url, stream=stream)
        except HttpError as exc:
            if url == asked:
                raise
            # Named by the URL asked for (the one in the summary and the corpus), with
            # the hop that failed: robots.txt or a 404 of the other host, not this one's.
            raise type(exc)(asked, f"{exc.problem} (after a redirect to {url})",
                            exc.status) from exc
        location = resp.headers.get("Location")
        if resp.status_code not in REDIRECT_STATUSES or not location:
            resp.history = hops_made  # as requests keeps them: callers can tell a redirect
            return resp
        resp.close()
        hops_made.append(resp)
        try:
            target = urljoin(url, location)
        except ValueError:  # "http://[bad/x"
            raise RedirectRefused(asked, f"redirected to {location!r}, not a URL that can be "
                                  "requested: not followed", resp.status_code) from None
        # A server may point anywhere (another host on the network, say): a hop goes only
        # where a link found on the page redirecting could.
        if (why := refusal(target, url)) is not None:
            via = f" (after a redirect to {url})" if url != asked else ""
            raise RedirectRefused(asked, f"redirected to {target}, {why}: not followed{via}",
                                  resp.status_code)
        if hops >= limit:
            raise HttpError(asked, f"redirected more than {limit} times (a redirect loop?); "
                            f"last to {target}", resp.status_code)
        hops += 1
        url = target


@dataclass
class Redirects:
    """Follow redirects (at most ``limit``) through the layers below."""

    inner: Fetcher
    limit: int = MAX_REDIRECTS

    def get(self, url: str, *, stream: bool = False) -> requests.Response:
        return follow_redirects(self.inner, url, stream=stream, limit=self.limit)


def site_unwell(exc: HttpError) -> bool:
    """Whether a failed request says the site may be unwell: only what may pass (no
    answer, 429 or 5xx after retries). robots.txt's refusal, a bad URL, a redirect loop
    or one refused, or a 501 is a definite answer about this URL."""
    if isinstance(exc, (RobotsDisallowed, BadUrl, RedirectRefused)):
        return False
    return exc.status is None or exc.status in RETRY_STATUSES


@dataclass
class FailureLimit:
    """Stop the run after ``limit`` consecutive failed requests."""

    inner: Fetcher
    limit: int = 5
    consecutive: int = 0
    last_problem: str = ""

    def get(self, url: str, *, stream: bool = False) -> requests.Response:
        try:
            resp = self.inner.get(url, stream=stream)
        except HttpError as exc:
            if site_unwell(exc):
                self.failed(exc.url, exc.problem)
            raise
        if resp.status_code in RETRY_STATUSES:
            self.failed(url, f"HTTP {resp.status_code}")
        elif resp.status_code < 500:
            self.succeeded()
        return resp

    def failed(self, url: str, problem: str) -> None:
        """Count a failure; callers also report bad downloads here."""
        self.consecutive += 1
        self.last_problem = f"{url}: {problem}"
        if self.consecutive >= self.limit:
            raise SiteUnavailable(
                url,
                f"{self.consecutive} requests failed in a row, giving up "
                f"(last: {problem}); run again later to carry on",
            )

    def succeeded(self) -> None:
        self.consecutive = 0


@dataclass
class PoliteSession:
    """The assembled stack, with handles on the layers that callers tune or count."""

    transport: Transport
    throttle: Throttle
    retry: Retry
    robots: Robots | None
    failures: FailureLimit

    def get(self, url: str, *, stream: bool = False) -> requests.Response:
        return self.failures.get(url, stream=stream)

    @property
    def requests_made(self) -> int:
        return self.transport.requests_made

    def close(self) -> None:
        self.transport.session.close()


def build_session(
    *,
    delay: float = 1.0,
    retries: int = 4,
    backoff: float = 2.0,
    max_backoff: float = 120.0,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    max_consecutive_failures: int = 5,
    obey_robots: bool = True,
    user_agent: str = USER_AGENT,
    log: Callable[[str], None] | None = None,
) -> PoliteSession:
    """The polite session sendlens scrapes with (see the module docstring)."""
    if delay < 0 or retries < 0 or backoff < 0 or max_consecutive_failures < 1:
        raise ValueError("delay, retries and backoff must be >= 0, failure limit >= 1")
    transport = Transport(timeout=timeout, user_agent=user_agent)
    throttle = Throttle(transport, delay=delay)
    retry = Retry(throttle, retries=retries, backoff=backoff, max_backoff=max_backoff, log=log)
    robots: Robots | None = None
    top: Fetcher = retry
    if obey_robots:

        def slow_down(crawl_delay: float) -> None:
            # The site's own Crawl-delay wins when it asks for more than we planned.
            if crawl_delay > throttle.delay and log is not None:
                log(f"robots.txt asks for {crawl_delay:g} s between requests (Crawl-delay), "
                    f"more than {throttle.delay:g} s: waiting that long")
            throttle.delay = max(throttle.delay, crawl_delay)

        robots = top = Robots(retry, user_agent=user_agent, on_crawl_delay=slow_down)
    failures = FailureLimit(Redirects(top), limit=max_consecutive_failures)
    return PoliteSession(transport, throttle, retry, robots, failures)
