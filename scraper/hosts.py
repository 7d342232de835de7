"""Which addresses a fetch may go on to, from a page's link or a redirect.

One rule for both, kept apart from the page readers (`scraper/site.py`) so that the HTTP
layers (`scraper/http.py`) can apply it to redirects without importing them.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def refusal(url: str, from_url: str) -> str | None:
    """Why a link found on `from_url` (or a redirect from it) to `url` may not be
    fetched, or None when it may: an http(s) address on the same host and port (or the
    same host over https, from http on the usual ports), or, from
    a GOV.UK host (the Ofsted reports site is one), on another GOV.UK host over https
    (files.ofsted.gov.uk, assets.publishing.service.gov.uk). Anywhere else (another host
    on the network, say) is not followed."""
    try:
        link, page = urlsplit(url), urlsplit(from_url)
        same_port = port_of(link) == port_of(page)
    except ValueError:  # "http://[bad", a port out of range
        return "not a URL that can be requested"
    if link.scheme.lower() not in ("http", "https"):
        return "not an http(s) address"
    host, home = (link.hostname or "").lower(), (page.hostname or "").lower()
    if host == home and (same_port or _upgraded(link, page)):
        return None
    if _gov_uk(home) and _gov_uk(host):
        # http to https on one GOV.UK host passes here too.
        return None if link.scheme.lower() == "https" else "not over https"
    return "another port" if host == home else "another host"


def on_site(url: str, page_url: str) -> bool:
    """Whether a link found on `page_url` may be fetched (see `refusal`)."""
    return refusal(url, page_url) is None


def _upgraded(link: SplitResult, page: SplitResult) -> bool:
    """http on its usual port to https on its own: the same server asking for a secure
    connection (a mirror's usual redirect), not another service on the machine."""
    return ((page.scheme.lower(), port_of(page)) == ("http", 80)
            and (link.scheme.lower(), port_of(link)) == ("https", 443))


def _gov_uk(host: str) -> bool:
    return host == "gov.uk" or host.endswith(".gov.uk")


def port_of(parts: SplitResult) -> int | None:
    """The port a URL names, or its scheme's default (ValueError for one out of range)."""
    return parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
