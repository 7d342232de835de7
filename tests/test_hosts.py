"""The rule for where a page's link, or a redirect from it, may lead (no network here:
GOV.UK hosts cannot be served locally; tests/test_http.py runs the rule over a server)."""

from __future__ import annotations

import pytest

from scraper.hosts import on_site, refusal

OFSTED = "https://reports.ofsted.gov.uk/provider/44/80454"


@pytest.mark.parametrize(("url", "from_url", "why"), [
    # The same host and port, however written.
    ("http://127.0.0.1:8000/v1/file/1", "http://127.0.0.1:8000/search", None),
    ("HTTPS://Reports.Ofsted.gov.uk:443/v1/file/1", OFSTED, None),
    # GOV.UK host to GOV.UK host, over https only.
    ("https://files.ofsted.gov.uk/v1/file/1", OFSTED, None),
    ("https://assets.publishing.service.gov.uk/media/abc/x.pdf",
     "https://www.gov.uk/government/publications/x", None),
    ("https://www.gov.uk/robots.txt", "http://www.gov.uk/robots.txt", None),
    ("http://files.ofsted.gov.uk/v1/file/1", OFSTED, "not over https"),
    # Anywhere else: another machine of the network, or another service of this one.
    ("http://10.0.0.5/x", OFSTED, "another host"),
    ("https://gov.uk.example.org/x", OFSTED, "another host"),
    ("https://files.ofsted.gov.uk/v1/file/1", "http://127.0.0.1:8000/x", "another host"),
    ("http://localhost:8000/x", "http://127.0.0.1:8000/x", "another host"),
    ("http://127.0.0.1:6379/x", "http://127.0.0.1:8000/x", "another port"),
    # http to https on one host (the usual ports): the same server, secured.
    ("https://127.0.0.1/x", "http://127.0.0.1/x", None),
    ("https://127.0.0.1:8443/x", "http://127.0.0.1/x", "another port"),
    ("https://127.0.0.1/x", "http://127.0.0.1:8000/x", "another port"),
    ("http://127.0.0.1/x", "https://127.0.0.1/x", "another port"),
    ("ftp://127.0.0.1:80/x", "http://127.0.0.1/x", "not an http(s) address"),
    ("file:///etc/passwd", OFSTED, "not an http(s) address"),
    ("http://[bad/x", OFSTED, "not a URL that can be requested"),
    ("http://127.0.0.1:99999/x", "http://127.0.0.1/x", "not a URL that can be requested"),
])
def test_where_a_link_or_redirect_may_lead(url: str, from_url: str, why: str | None) -> None:
    assert refusal(url, from_url) == why
    assert on_site(url, from_url) is (why is None)
