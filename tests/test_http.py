"""The polite session, one layer at a time, against a real local HTTP server."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from datetime import date

import pytest
import requests
from sitefixture import Fault, Provider, Report, Site, serve, serve_raw

from scraper.http import (
    USER_AGENT,
    BadUrl,
    ConnectionRefused,
    FailureLimit,
    HttpError,
    RedirectRefused,
    Retry,
    Robots,
    RobotsDisallowed,
    SiteUnavailable,
    Throttle,
    Transport,
    build_session,
    retry_after_seconds,
    site_unwell,
)


@pytest.fixture
def site() -> Site:
    return Site(providers=[Provider("80454", "Cornwall")])


@pytest.fixture
def base(site: Site) -> Iterator[str]:
    with serve(site) as url:
        yield url


class Sleeps:
    """A stand-in for time.sleep that records the waits (so tests stay fast)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_user_agent_names_sendlens_and_project(site: Site, base: str) -> None:
    Transport().get(f"{base}/provider/44/80454")
    assert site.hits[-1].user_agent == USER_AGENT
    assert USER_AGENT.startswith("sendlens/")
    assert "(+https://github.com/sendlens/sendlens)" in USER_AGENT


def test_every_request_has_a_timeout(site: Site, base: str) -> None:
    site.fault("/provider/44/80454", Fault("slow", seconds=5.0))
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        Transport(timeout=(1.0, 0.2)).get(f"{base}/provider/44/80454")
    assert time.monotonic() - started < 3.0  # the timeout, not the answer 5 s later
    # ... and the session a scrape builds has one unless told otherwise: without it a
    # server that stops answering would hold the run for ever.
    connect, read = build_session().transport.timeout
    assert 0 < connect <= 30 and 0 < read <= 120


def test_throttle_spaces_requests_and_runs_one_at_a_time(site: Site, base: str) -> None:
    fetch = Throttle(Transport(), delay=0.15)
    for _ in range(4):
        fetch.get(f"{base}/robots.txt")
    # From the moment each answer began to go out (the client cannot have ended its
    # request before) to the next request's arrival: at least the delay, with no margin.
    gaps = [b.start - a.answered for a, b in zip(site.hits, site.hits[1:], strict=False)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.15, gaps
    assert site.max_in_flight == 1


def test_the_delay_after_a_file_runs_from_its_last_byte(site: Site, base: str) -> None:
    """A file's body is part of its request: the next one waits the delay from when the
    body was read, not from when its headers came (a slow file was followed at once)."""
    site.providers[0].reports.append(
        Report("50300000", "Area SEND full inspection", date(2024, 7, 15), b"%PDF-" + b"x" * 395,
               True))
    site.fault("/v1/file/50300000", Fault("drip", seconds=0.15))  # 4 pieces: ~0.45 s
    fetch = Throttle(Transport(), delay=0.3)
    resp = fetch.get(f"{base}/v1/file/50300000", stream=True)
    assert len(resp.raw.read()) == 400
    resp.close()
    body_read = time.monotonic()
    fetch.get(f"{base}/robots.txt")
    assert site.hits[-1].path == "/robots.txt"
    assert site.hits[-1].start - body_read >= 0.3


def test_retry_5xx_then_success_with_exponential_backoff(site: Site, base: str) -> None:
    url = f"{base}/provider/44/80454"
    site.fault(
        "/provider/44/80454", Fault("status", 500), Fault("status", 502), Fault("status", 503)
    )
    sleeps = Sleeps()
    retry = Retry(Transport(), retries=4, backoff=0.5, sleep=sleeps)
    resp = retry.get(url)
    assert resp.status_code == 200 and "Cornwall" in resp.text
    assert sleeps.waits == [0.5, 1.0, 2.0]
    assert retry.retries_made == 3


def test_retry_honours_retry_after_on_429(site: Site, base: str) -> None:
    site.fault("/provider/44/80454", Fault("status", 429, retry_after="7"))
    sleeps = Sleeps()
    resp = Retry(Transport(), backoff=0.1, sleep=sleeps).get(f"{base}/provider/44/80454")
    assert resp.status_code == 200
    assert sleeps.waits == [7.0]


def test_back_off_stops_doubling_at_its_cap(site: Site, base: str) -> None:
    """--backoff 60 waits 60 s, then 120 s at most: not 240 s and 480 s."""
    site.always["/provider/"] = Fault("status", 503)
    session = build_session(delay=0, backoff=60.0, retries=4)
    session.retry.sleep = sleeps = Sleeps()
    with pytest.raises(HttpError, match="gave up after 5 attempts"):
        session.get(f"{base}/provider/44/80454")
    assert sleeps.waits == [60.0, 120.0, 120.0, 120.0]


def test_a_short_retry_after_does_not_hurry_the_back_off(site: Site, base: str) -> None:
    """Retry-After only ever lengthens a wait: "0" on every 503 is no licence to hammer."""
    site.fault("/provider/44/80454", *[Fault("status", 503, retry_after="0")] * 2)
    sleeps = Sleeps()
    resp = Retry(Transport(), backoff=0.5, sleep=sleeps).get(f"{base}/provider/44/80454")
    assert resp.status_code == 200
    assert sleeps.waits == [0.5, 1.0]


def test_retry_after_as_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (retry_after_seconds(later) or 0) <= 31
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("soon") is None


def test_retry_after_too_long_gives_up_naming_the_url(site: Site, base: str) -> None:
    site.fault("/provider/44/80454", Fault("status", 429, retry_after="86400"))
    with pytest.raises(HttpError, match=r"/provider/44/80454: HTTP 429.*too long"):
        Retry(Transport(), sleep=Sleeps()).get(f"{base}/provider/44/80454")


def test_connection_errors_and_timeouts_are_retried(site: Site, base: str) -> None:
    # The read timeout is what the slow answer trips, and what the good answer after it
    # must beat: 0.2 s was too little for a loaded machine (a third attempt, 3 waits).
    site.fault("/provider/44/80454", Fault("drop"), Fault("slow", seconds=5.0))
    sleeps = Sleeps()
    retry = Retry(Transport(timeout=(5.0, 1.0)), retries=3, backoff=0.01, sleep=sleeps)
    assert retry.get(f"{base}/provider/44/80454").status_code == 200
    assert len(sleeps.waits) == 2


def test_a_dropped_connection_is_said_plainly(site: Site, base: str) -> None:
    site.always["/provider/"] = Fault("drop")
    with pytest.raises(HttpError) as err:
        Retry(Transport(), retries=0, sleep=Sleeps()).get(f"{base}/provider/44/1")
    # Not urllib3's "ConnectionError: ('Connection aborted.', RemoteDisconnected(...))".
    assert err.value.problem.startswith("the server closed the connection without an answer")


def test_retry_gives_up_with_a_clear_error(site: Site, base: str) -> None:
    site.always["/provider/"] = Fault("status", 503)
    with pytest.raises(HttpError) as err:
        Retry(Transport(), retries=2, backoff=0.01, sleep=Sleeps()).get(f"{base}/provider/44/1")
    assert err.value.url.endswith("/provider/44/1")
    assert "HTTP 503" in str(err.value) and "gave up after 3 attempts" in str(err.value)


def test_a_host_name_that_does_not_resolve_is_not_retried() -> None:
    # ".invalid" never resolves (RFC 2606): as offline, or with a mistyped --base-url.
    sleeps = Sleeps()
    with pytest.raises(HttpError, match=r"cannot resolve the host name 'reports\.invalid'"):
        Retry(Transport(), retries=4, sleep=sleeps).get("http://reports.invalid/search")
    assert sleeps.waits == []
    # Once the host has answered, a failed lookup is a passing DNS hiccup: retried.
    retry = Retry(Transport(), retries=2, backoff=0.01, sleep=sleeps, reached={"reports.invalid"})
    with pytest.raises(HttpError, match="gave up after 3 attempts"):
        retry.get("http://reports.invalid/search")
    assert len(sleeps.waits) == 2


def test_a_port_nothing_listens_on_is_not_retried(site: Site, base: str) -> None:
    import socket

    with socket.socket() as probe:  # a free port: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    with pytest.raises(ConnectionRefused, match=f"connection refused by 127.0.0.1:{port}"):
        Retry(Transport(), retries=4, sleep=sleeps).get(f"http://127.0.0.1:{port}/search")
    assert sleeps.waits == []
    # A host that has answered before may be restarting: retried.
    retry = Retry(Transport(), retries=2, backoff=0.01, sleep=sleeps,
                  reached={f"http://127.0.0.1:{port}"})
    with pytest.raises(HttpError, match="gave up after 3 attempts"):
        retry.get(f"http://127.0.0.1:{port}/search")
    assert len(sleeps.waits) == 2
    # Another port of a host that answered is another server: nothing there, not retried
    # (a redirect to it paid five retries, robots.txt first).
    sleeps = Sleeps()
    retry = Retry(Transport(), retries=4, sleep=sleeps, reached={"127.0.0.1", base})
    with pytest.raises(ConnectionRefused):
        retry.get(f"http://127.0.0.1:{port}/search")
    assert sleeps.waits == []


def test_a_host_that_answered_is_remembered(site: Site, base: str) -> None:
    retry = Retry(Transport(), sleep=Sleeps())
    retry.get(f"{base}/provider/44/80454")
    assert retry.reached == {"127.0.0.1", base}  # the host, and the origin with its port


def test_404_is_an_answer_not_retried(site: Site, base: str) -> None:
    sleeps = Sleeps()
    assert Retry(Transport(), sleep=sleeps).get(f"{base}/provider/44/999").status_code == 404
    assert sleeps.waits == []


def test_robots_txt_is_obeyed_and_read_once(site: Site, base: str) -> None:
    site.robots = "User-agent: sendlens\nDisallow: /provider/44/666\n\nUser-agent: *\nAllow: /\n"
    robots = Robots(Transport())
    assert robots.get(f"{base}/provider/44/80454").status_code == 200
    with pytest.raises(RobotsDisallowed, match="/provider/44/666"):
        robots.get(f"{base}/provider/44/666")
    assert [h.path for h in site.hits].count("/robots.txt") == 1
    assert not any(h.path == "/provider/44/666" for h in site.hits)


@pytest.mark.parametrize(("robots", "path", "allowed"), [
    # The longest rule wins, not the first (urllib.robotparser let these files through).
    ("User-agent: *\nAllow: /\nDisallow: /v1/file/\n", "/v1/file/50300000", False),
    ("User-agent: *\nDisallow: /provider/\nAllow: /provider/44/\n", "/provider/44/80454",
     True),
    ("User-agent: *\nDisallow: /provider/\nAllow: /provider/44/\n", "/provider/45/80454",
     False),
    # Wildcards and the end anchor.
    ("User-agent: *\nDisallow: /*/file/\n", "/v1/file/50300000", False),
    ("User-agent: *\nDisallow: /*80454$\n", "/provider/44/80454", False),
    ("User-agent: *\nDisallow: /*80454$\n", "/provider/44/80455", True),
    # A byte-order mark before the first line hid its group.
    ("\ufeffUser-agent: *\nDisallow: /v1/file/\n", "/v1/file/50300000", False),
    # The crawler's own group, however cased, instead of *'s.
    ("User-agent: *\nDisallow: /\n\nUser-agent: SendLens\nAllow: /\n", "/v1/file/50300000",
     True),
    # ... in place of *'s, not merged with them, and not joined to the group before it.
    ("User-agent: *\nDisallow: /v1/file/\n\nUser-agent: sendlens\nDisallow: /admin/\n",
     "/v1/file/50300000", True),
    # On a tie in length, Allow wins wherever it stands.
    ("User-agent: *\nDisallow: /provider/\nAllow: /provider/\n", "/provider/44/80454", True),
    # "Disallow:" with no path forbids nothing.
    ("User-agent: *\nDisallow:\n", "/provider/44/80454", True),
    # Percent-encoded octets compare as what they encode.
    ("User-agent: *\nDisallow: /provider/44/%38%30454\n", "/provider/44/80454", False),
])
def test_robots_txt_is_read_as_rfc_9309_says(site: Site, base: str, robots: str, path: str,
                                             allowed: bool) -> None:
    site.robots = robots
    fetch = Robots(Transport())
    if allowed:
        fetch.get(base + path)
    else:
        with pytest.raises(RobotsDisallowed):
            fetch.get(base + path)
    assert any(h.path == path for h in site.hits) == allowed


def test_robots_txt_rules_on_the_query_are_obeyed(site: Site, base: str) -> None:
    site.robots = "User-agent: *\nDisallow: /search?*start=100\n"
    fetch = Robots(Transport())
    assert fetch.get(f"{base}/search?start=0&rows=100").status_code == 200
    with pytest.raises(RobotsDisallowed):
        fetch.get(f"{base}/search?start=100&rows=100")
    assert [h.query for h in site.hits if h.path == "/search"] == ["start=0&rows=100"]


def test_a_page_that_drips_or_never_ends_is_given_up(
    site: Site, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only files had a deadline and a size cap: a provider page sent a byte at a time
    within the read timeout held the run for hours, and an 11 MB page took 393 MB."""
    from scraper import http

    monkeypatch.setattr(http, "PAGE_DEADLINE", 0.5)
    site.fault("/provider/44/80454", Fault("drip_html", seconds=0.1))
    started = time.monotonic()
    with pytest.raises(requests.Timeout, match="the page was still coming after 0.5 s"):
        Transport().get(f"{base}/provider/44/80454")
    assert time.monotonic() - started < 5
    # The next pages are read with a deadline a loaded machine meets: they test the size.
    monkeypatch.setattr(http, "PAGE_DEADLINE", 30.0)
    monkeypatch.setattr(http, "PAGE_MAX_BYTES", 100)
    with pytest.raises(HttpError, match="a page of more than"):
        Transport().get(f"{base}/search")
    # A page within both limits reads as before, and a file (streamed) is the caller's.
    monkeypatch.setattr(http, "PAGE_MAX_BYTES", 20 * 2**20)
    page = Transport().get(f"{base}/search")
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_missing_robots_txt_allows_everything(site: Site, base: str) -> None:
    site.fault("/robots.txt", Fault("status", 404))
    assert Robots(Transport()).get(f"{base}/provider/44/80454").status_code == 200


def test_unreachable_robots_txt_means_do_not_crawl(site: Site, base: str) -> None:
    site.always["/robots.txt"] = Fault("status", 503)
    robots = Robots(Retry(Transport(), retries=1, backoff=0, sleep=Sleeps()))
    with pytest.raises(RobotsDisallowed, match="robots.txt could not be read"):
        robots.get(f"{base}/provider/44/80454")
    # Asked once a run: each file sent to the host had paid the retries again.
    with pytest.raises(RobotsDisallowed, match="robots.txt could not be read"):
        robots.get(f"{base}/provider/44/80455")
    assert [h.path for h in site.hits].count("/robots.txt") == 2  # one try, one retry


@pytest.mark.parametrize("status", [501, 505])
def test_a_5xx_robots_txt_not_retried_also_means_do_not_crawl(site: Site, base: str,
                                                              status: int) -> None:
    # RFC 9309: any 5xx is "disallow all"; 501 and 505 (never retried) were read as no
    # robots.txt, and the whole site was crawled.
    site.always["/robots.txt"] = Fault("status", status)
    robots = Robots(Retry(Transport(), retries=0, backoff=0, sleep=Sleeps()))
    with pytest.raises(RobotsDisallowed, match=f"could not be read \\(HTTP {status}\\)"):
        robots.get(f"{base}/provider/44/80454")
    assert "/provider/44/80454" not in [h.path for h in site.hits]


def test_crawl_delay_slows_the_throttle(site: Site, base: str) -> None:
    site.robots = "User-agent: *\nCrawl-delay: 3\n"
    said: list[str] = []
    session = build_session(delay=0.0, log=said.append)
    session.throttle.sleep = sleeps = Sleeps()
    session.get(f"{base}/provider/44/80454")
    assert session.throttle.delay == 3.0
    assert sleeps.waits and 2.9 <= sleeps.waits[0] <= 3.0  # waited before the page
    # Said once, or a run that asked for --delay 0 would sit silent between requests.
    assert said == ["robots.txt asks for 3 s between requests (Crawl-delay), more than 0 s: "
                    "waiting that long"]


def test_a_shorter_crawl_delay_does_not_shorten_the_delay_asked_for(
    site: Site, base: str
) -> None:
    site.robots = "User-agent: *\nCrawl-delay: 1\n"
    said: list[str] = []
    session = build_session(delay=2.0, log=said.append)
    session.throttle.sleep = Sleeps()
    session.get(f"{base}/provider/44/80454")
    assert session.throttle.delay == 2.0 and said == []


def test_only_the_crawlers_own_group_sets_its_crawl_delay(site: Site, base: str) -> None:
    """Crawl-delay, like the rules, is read from sendlens's group when there is one; a
    Crawl-delay line ends a group's user-agent lines as a rule does."""
    def delay_under(robots: str) -> float:
        site.robots = robots
        session = build_session(delay=0.5)
        session.throttle.sleep = Sleeps()
        session.get(f"{base}/provider/44/80454")
        return session.throttle.delay

    assert delay_under("User-agent: *\nCrawl-delay: 30\n\nUser-agent: sendlens\n"
                       "Disallow: /admin/\n") == 0.5
    # Two groups of its own are one: the longer of their delays.
    assert delay_under("User-agent: sendlens\nCrawl-delay: 2\n\nUser-agent: SendLens\n"
                       "Crawl-delay: 5\n") == 5.0


def test_failure_limit_stops_after_consecutive_failures(site: Site, base: str) -> None:
    site.always["/provider/"] = Fault("status", 500)
    limit = FailureLimit(Retry(Transport(), retries=0, sleep=Sleeps()), limit=3)
    for _ in range(2):
        with pytest.raises(HttpError):
            limit.get(f"{base}/provider/44/80454")
    with pytest.raises(SiteUnavailable, match="3 requests failed in a row"):
        limit.get(f"{base}/provider/44/80454")


def test_a_success_resets_the_failure_count(site: Site, base: str) -> None:
    site.fault("/provider/44/80454", *[Fault("status", 500)] * 2)
    limit = FailureLimit(Retry(Transport(), retries=0, sleep=Sleeps()), limit=3)
    for _ in range(2):
        with pytest.raises(HttpError):
            limit.get(f"{base}/provider/44/80454")
    assert limit.get(f"{base}/provider/44/80454").status_code == 200
    assert limit.consecutive == 0


def test_a_501_between_failures_does_not_reset_the_count(site: Site, base: str) -> None:
    """A 501 is a definite answer about one URL, not a sign that the site is well: a site
    failing all round is still stopped."""
    site.always["/provider/"] = Fault("status", 500)
    site.fault("/v1/file/1", Fault("status", 501))
    limit = FailureLimit(Retry(Transport(), retries=0, sleep=Sleeps()), limit=3)
    for _ in range(2):
        with pytest.raises(HttpError):
            limit.get(f"{base}/provider/44/80454")
    assert limit.get(f"{base}/v1/file/1").status_code == 501
    with pytest.raises(SiteUnavailable, match="3 requests failed in a row"):
        limit.get(f"{base}/provider/44/80454")


def test_build_session_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        build_session(delay=-1)


def test_a_page_cut_off_mid_body_is_read_again(site: Site, base: str) -> None:
    site.fault("/provider/44/80454", Fault("truncate"))
    sleeps = Sleeps()
    resp = Retry(Transport(), backoff=0.01, sleep=sleeps).get(f"{base}/provider/44/80454")
    assert resp.status_code == 200 and "Cornwall" in resp.text
    assert len(sleeps.waits) == 1


def test_a_broken_compressed_body_is_retried_then_named(site: Site, base: str) -> None:
    site.always["/provider/"] = Fault("bad_gzip")
    with pytest.raises(HttpError, match=r"/provider/44/80454: the answer's compressed body is "
                       r"broken .*gave up after 2 attempts"):
        Retry(Transport(), retries=1, backoff=0, sleep=Sleeps()).get(f"{base}/provider/44/80454")


def test_an_invalid_url_is_an_http_error_naming_it_not_retried() -> None:
    for url in ("http://files..ofsted.gov.uk/v1/file/1", "http:///v1/file/1"):
        with pytest.raises(BadUrl, match="not a URL that can be requested") as err:
            build_session(delay=0, backoff=0).get(url)
        assert err.value.url == url and not isinstance(err.value, ValueError)


def test_no_answer_in_time_is_said_plainly(site: Site, base: str) -> None:
    site.always["/provider/"] = Fault("slow", seconds=0.5)
    retry = Retry(Transport(timeout=(1.0, 0.2)), retries=0, sleep=Sleeps())
    with pytest.raises(HttpError) as err:
        retry.get(f"{base}/provider/44/80454")
    assert str(err.value) == (f"{base}/provider/44/80454: no answer within 0.2 s "
                              "(gave up after 1 attempt)")


def test_redirects_are_followed_through_robots_and_the_throttle(site: Site, base: str) -> None:
    site.robots = "User-agent: *\nDisallow: /provider/44/666\n"
    site.fault("/provider/44/1", Fault("redirect", location="/provider/44/80454"))
    session = build_session(delay=0.05)
    resp = session.get(f"{base}/provider/44/1")
    assert resp.status_code == 200 and "Cornwall" in resp.text
    hops = [h for h in site.hits if h.path.startswith("/provider/")]
    assert [h.path for h in hops] == ["/provider/44/1", "/provider/44/80454"]
    assert hops[1].start - hops[0].answered >= 0.05  # the hop waited its turn
    # A hop robots.txt forbids is not fetched.
    site.fault("/provider/44/2", Fault("redirect", location="/provider/44/666"))
    with pytest.raises(RobotsDisallowed) as refused:
        session.get(f"{base}/provider/44/2")
    # Named by the URL asked for, and the hop robots.txt refused.
    assert refused.value.url == f"{base}/provider/44/2"
    assert refused.value.problem == ("robots.txt disallows fetching this URL for sendlens "
                                     f"(after a redirect to {base}/provider/44/666)")
    assert not any(h.path == "/provider/44/666" for h in site.hits)
    # A loop ends after a few hops, each one a request counted.
    site.always["/provider/44/3"] = Fault("redirect", location="/provider/44/3")
    before = session.requests_made
    with pytest.raises(HttpError, match=r"/provider/44/3: redirected more than 5 times"):
        session.get(f"{base}/provider/44/3")
    assert session.requests_made - before == 6


def test_a_redirect_goes_only_where_a_link_on_the_page_could(site: Site, base: str) -> None:
    """A server may redirect anywhere (another machine of the network, say): a hop to
    another host or port is refused, named with the URL asked for, and not taken for a
    site that is unwell; one on the same host is followed as before."""
    elsewhere = Site(providers=[Provider("80454", "Elsewhere")])
    session = build_session(delay=0, backoff=0)
    localhost = base.replace("127.0.0.1", "localhost")
    with serve(elsewhere) as other:
        refused = {
            "/provider/44/1": (f"{other}/provider/44/80454", "another port"),
            "/provider/44/2": (f"{localhost}/provider/44/80454", "another host"),
            "/provider/44/3": ("ftp://127.0.0.1/provider/44/80454", "not an http(s) address"),
            "/provider/44/4": ("http://127.0.0.1:99999/provider/44/80454",
                               "not a URL that can be requested"),
        }
        # One that cannot even be read as a URL: it ended the run in a traceback.
        site.fault("/provider/44/8", Fault("redirect", location="http://[bad/x"))
        with pytest.raises(RedirectRefused) as err:
            session.get(f"{base}/provider/44/8")
        assert str(err.value) == (f"{base}/provider/44/8: redirected to 'http://[bad/x', not "
                                  "a URL that can be requested: not followed")
        for path, (location, _) in refused.items():
            site.fault(path, Fault("redirect", location=location))
        # A hop on the same host, then one off it: both hops named.
        site.fault("/provider/44/5", Fault("redirect", location="/provider/44/6"))
        site.fault("/provider/44/6", Fault("redirect", location=f"{other}/provider/44/80454"))
        for path, (location, why) in refused.items():
            with pytest.raises(RedirectRefused) as err:
                session.get(base + path)
            assert str(err.value) == f"{base}{path}: redirected to {location}, {why}: not followed"
        with pytest.raises(RedirectRefused) as err:
            session.get(f"{base}/provider/44/5")
        assert err.value.problem == (f"redirected to {other}/provider/44/80454, another port: "
                                     f"not followed (after a redirect to {base}/provider/44/6)")
        assert elsewhere.hits == []  # not even its robots.txt
    # The one by the name localhost was never asked for.
    assert [h.path for h in site.hits if h.path.startswith("/provider/")] == [
        "/provider/44/8", *refused, "/provider/44/5", "/provider/44/6"]
    assert not site_unwell(err.value) and session.failures.consecutive == 0
    # The same host and port, written out in full (its scheme in capitals), is followed.
    site.fault("/provider/44/7", Fault("redirect", location=f"{base.upper()}/provider/44/80454"))
    resp = session.get(f"{base}/provider/44/7")
    assert resp.status_code == 200 and "Cornwall" in resp.text


def test_robots_txt_redirected_off_the_host_is_unreadable(site: Site, base: str) -> None:
    """RFC 9309: robots.txt's redirects are followed, but only on the host (or between
    GOV.UK hosts), as any other: one elsewhere leaves it unread, so nothing is crawled."""
    elsewhere = Site(robots="User-agent: *\nAllow: /\n")
    with serve(elsewhere) as other:
        site.always["/robots.txt"] = Fault("redirect", location=f"{other}/robots.txt")
        robots = Robots(Transport())
        for _ in range(2):  # asked once a run, as an unreadable one
            with pytest.raises(RobotsDisallowed) as err:
                robots.get(f"{base}/provider/44/80454")
            assert err.value.problem == (f"robots.txt could not be read (redirected to "
                                         f"{other}/robots.txt, another port: not followed); "
                                         "not crawling")
        assert elsewhere.hits == []
    assert [h.path for h in site.hits] == ["/robots.txt"]
    # Moved on the same host: followed and obeyed.
    del site.always["/robots.txt"]
    site.fault("/robots.txt", Fault("redirect", location="/robots.txt?moved"))
    site.robots = "User-agent: *\nDisallow: /provider/44/666\n"
    robots = Robots(Transport())
    assert robots.get(f"{base}/provider/44/80454").status_code == 200
    with pytest.raises(RobotsDisallowed, match="robots.txt disallows"):
        robots.get(f"{base}/provider/44/666")


def test_https_to_a_server_that_speaks_plain_http_is_said_plainly_not_retried(
        site: Site, base: str) -> None:
    # `--base-url https://...` for a mirror that serves http: urllib3's "SSLError:
    # HTTPSConnectionPool(host=..., port=...): Max retries exceeded with url: ... (Caused
    # by SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] ...')))", after 30 s of retries.
    sleeps = Sleeps()
    url = base.replace("http:", "https:") + "/robots.txt"
    with pytest.raises(HttpError) as err:
        Retry(Transport(), retries=4, sleep=sleeps).get(url)
    assert err.value.problem.startswith("no secure (https) connection could be made"), err.value
    assert "WRONG_VERSION_NUMBER" in err.value.problem
    assert "HTTPSConnectionPool" not in err.value.problem and "not retried" in err.value.problem
    assert sleeps.waits == []


def test_an_answer_that_is_not_http_is_said_plainly() -> None:
    # Another kind of server on that port (ssh, say): "ConnectionError: ('Connection
    # aborted.', BadStatusLine('SSH-2.0-OpenSSH_9.6\r\n'))".
    with serve_raw(b"SSH-2.0-OpenSSH_9.6\r\n", read_request=False) as base, \
            pytest.raises(HttpError) as err:
        Retry(Transport(), retries=0, sleep=Sleeps()).get(f"{base}/search")
    assert err.value.problem.startswith(
        "the answer is not HTTP (it began 'SSH-2.0-OpenSSH_9.6')"), err.value.problem


@pytest.mark.parametrize("asked", ["inf", "99999999999", "1e308"])
def test_a_crawl_delay_too_long_to_wait_is_not_crawling_not_a_traceback(
        site: Site, base: str, asked: str) -> None:
    # time.sleep(1e11) raised "OverflowError: timestamp out of range for platform
    # time_t": the run ended in a traceback.
    site.robots = f"User-agent: *\nCrawl-delay: {asked}\n"
    session = build_session(delay=0.0)
    session.throttle.sleep = sleeps = Sleeps()
    with pytest.raises(RobotsDisallowed) as err:
        session.get(f"{base}/provider/44/80454")
    assert err.value.url == f"{base}/robots.txt"
    assert "(Crawl-delay): too long to wait; not crawling" in err.value.problem
    assert sleeps.waits == []


def test_a_retry_after_of_other_digits_is_ignored_not_an_error(site: Site, base: str) -> None:
    # A header byte 0xB2 reads as "²", which str.isdigit() accepts and float() does not:
    # the scrape ended with "error: could not convert string to float: '²'", exit code 2.
    assert retry_after_seconds("\u00b2") is None and retry_after_seconds("1\u00b3") is None
    site.fault("/provider/44/80454", Fault("status", 429, retry_after="\u00b2"))
    sleeps = Sleeps()
    resp = Retry(Transport(), backoff=0.01, sleep=sleeps).get(f"{base}/provider/44/80454")
    assert resp.status_code == 200 and len(sleeps.waits) == 1
