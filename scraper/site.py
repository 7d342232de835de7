"""Everything sendlens knows about the structure of the sites it scrapes, in one place.

URL patterns, CSS selectors and the rule that says which report labels are SEND
letters live here and nowhere else, so that when Ofsted or GOV.UK change a page
only this module needs to change. The small page readers below use nothing but
these constants and raise :class:`SiteStructureError` (naming the URL) when a page
no longer looks the way it should, rather than returning an empty result.

The SEND label rule can be extended without code: point ``--labels-config`` or
``$SENDLENS_LABELS_CONFIG`` at a TOML or YAML file such as::

    # labels.toml
    replace_defaults = false          # true: use only the rules below
    [[send]]
    framework = "monitoring_2023"
    pattern = "area SEND interim visit"
    [[ignore]]                        # mentions SEND but is known not to be a letter
    pattern = "SEND thematic review"
    [[extra_providers]]               # provider pages the search does not list
    urn = "302"
    name = "Barnet"
    [[extra_files]]                   # letters no page lists (a former council's)
    url = "https://files.ofsted.gov.uk/v1/file/2704231"
    council = "Northamptonshire"
    published = "2017-07-22"             # optional, as is label

and ``mentions_send = "<regex>"`` replaces the pattern that flags an unknown label as
mentioning SEND (reported rather than dropped).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

# The rule for which links a page may lead to is shared with the redirects (http.py).
from scraper.hosts import on_site, port_of
from sendlens.textfile import TextFileError, read_utf8

# --- Ofsted reports site ---------------------------------------------------------

DEFAULT_BASE_URL = "https://reports.ofsted.gov.uk"
SEARCH_PATH = "/search"
# The children's services search: level 1 type 3 and level 2 type 12 select local
# authority children's services, one provider per council.
SEARCH_PARAMS: dict[str, str] = {
    "q": "",
    "location": "",
    "lat": "",
    "lon": "",
    "radius": "",
    "level_1_types": "3",
    "level_2_types[]": "12",
}
SEARCH_ROWS = 100  # the site caps rows at 100 per page (since February 2025)
SEARCH_MAX_PAGES = 50  # a guard against a site that ignores `start`
PROVIDER_PATH = "/provider/44/{urn}"

PROVIDER_LINK_SELECTOR = 'a[href*="/provider/"]'
PUBLICATION_LINK_SELECTOR = "a.publication-link"
PUBLICATION_DETAIL_SELECTOR = "span.nonvisual"
# "Area SEND full inspection, pdf - 15 July 2024"; read loosely (any case, a size after
# "pdf", an en or em dash, "Sept"): a date missed here is a letter `--since` cannot filter.
PUBLICATION_DETAIL_RE = re.compile(
    r"^\s*(?P<label>.+?)\s*,\s*pdf\b[^-\u2013\u2014]*[-\u2013\u2014]\s*"
    r"(?P<date>\d{1,2}\s+[A-Za-z]+\.?\s+\d{4})\s*$", re.I)
OFSTED_FILE_ID_RE = re.compile(r"/v1/file/(?P<id>\d+)\b")

# --- GOV.UK publication page (letters published before about 23 March 2017) --------

GOV_UK_PUBLICATION_URL = (
    "https://www.gov.uk/government/publications/local-area-send-inspection-outcome-letters"
)
# GOV.UK's asset manager has also served uploads as /media/<24-hex id>/<name>.pdf since
# 2023, old attachments included: both kinds of link are letters.
GOV_UK_ATTACHMENT_SELECTOR = 'a[href*="/attachment_data/file/"], a[href*="/media/"]'
GOV_UK_FILE_ID_RE = re.compile(
    r"/(?:attachment_data/file|media)/(?P<id>\d+|[0-9a-f]{24})/(?P<name>[^/?#]+\.pdf)", re.I)
# File names seen: Joint_local_area_SEND_inspection_in_<Area>.pdf and
# <Area>_LA_SEND_Inspection_letter.pdf
GOV_UK_AREA_FROM_NAME = (
    re.compile(r"^Joint_local_area_SEND_inspection_in_(?P<area>.+)\.pdf$", re.I),
    re.compile(r"^(?P<area>.+?)_LA_SEND_Inspection_letter\.pdf$", re.I),
)
GOV_UK_FRAMEWORK = "send_2016"
# Later letters are on the Ofsted site, so --since after this skips the GOV.UK page.
GOV_UK_LATEST_PUBLISHED = date(2017, 3, 31)

# --- Second provider records -----------------------------------------------------

# Ofsted's 2022 statistics link these 22 areas to /provider/44/<DfE LA code> rather
# than to the 80xxx URN the search lists; old SEND letters may sit on that second
# page. Unconfirmed, so a missing page (404) is noted, not treated as an error; the
# same goes for the records of former councils at the end.
EXTRA_PROVIDERS: dict[str, str] = {
    "302": "Barnet",
    "303": "Bexley",
    "350": "Bolton",
    "846": "Brighton and Hove",
    "825": "Buckinghamshire",
    "896": "Cheshire West and Chester",
    "841": "Darlington",
    "830": "Derbyshire",
    "308": "Enfield",
    "916": "Gloucestershire",
    "884": "Herefordshire",
    "919": "Hertfordshire",
    "312": "Hillingdon",
    "313": "Hounslow",
    "420": "Isles of Scilly",
    "207": "Kensington and Chelsea",
    "382": "Kirklees",
    "340": "Knowsley",
    "383": "Leeds",
    "815": "North Yorkshire",
    "891": "Nottinghamshire",
    "879": "Plymouth",
    "839": "Bournemouth, Christchurch and Poole",  # the ADCS summary's link for its 2021 letter
    # Councils since reorganised, whose pages the search (of current councils) may no
    # longer list: the ADCS table links their 2017-2019 letters to these records.
    "80463": "Dorset County Council",
    "80457": "Cumbria County Council",
    # Its 2020 letter, in the ADCS table; the county became Somerset Council in 2023.
    "80555": "Somerset County Council",
}

# Letters no page lists: known files, each a letter of a council the search no longer
# lists and no provider record of it is known. The ADCS summary links the 2017 letter of
# the former Northamptonshire (split in 2021) to this file alone.
@dataclass(frozen=True)
class ExtraFile:
    url: str
    council: str
    label: str = "Joint local area SEND inspection"
    published: date | None = None


EXTRA_FILES: dict[str, ExtraFile] = {
    "2704231": ExtraFile("https://files.ofsted.gov.uk/v1/file/2704231", "Northamptonshire",
                         published=date(2017, 7, 22)),
}

# --- The SEND label rule ---------------------------------------------------------

# Checked in order; the first match gives the framework. Case-insensitive.
DEFAULT_SEND_LABELS: tuple[tuple[str, str], ...] = (
    ("monitoring_2023", r"\b(SEND|special educational needs)\b.*\bmonitoring\b"),
    ("revisit_2018", r"\b(SEND|special educational needs)\b.*\bre-?visit\b"),
    ("area_send_2023", r"^\s*area SEND (full )?inspection\b"),
    (
        "send_2016",
        r"\blocal area (SEND|special educational needs( and/or disabilit(y|ies))?) inspection\b",
    ),
)
# A label that matches none of the rules but says this is reported as unknown.
DEFAULT_MENTIONS_SEND = r"\bSEND\b|special educational need|\bSEN\b"
LABELS_CONFIG_ENV = "SENDLENS_LABELS_CONFIG"


class SiteStructureError(RuntimeError):
    """A page no longer has the structure the scraper was built for."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class LabelsConfigError(ValueError):
    """The labels configuration file cannot be used."""


@dataclass(frozen=True)
class LabelRule:
    """Which report labels are SEND letters, and which mention SEND but are unknown."""

    send: tuple[tuple[str, re.Pattern[str]], ...]
    mentions_send: re.Pattern[str]
    ignore: tuple[re.Pattern[str], ...] = ()
    extra_providers: Mapping[str, str] = field(default_factory=dict)
    extra_files: Mapping[str, ExtraFile] = field(default_factory=dict)

    def classify(self, label: str) -> tuple[str, str | None]:
        """("send", framework), ("unknown", None) if it mentions SEND, else ("other", None)."""
        for framework, pattern in self.send:
            if pattern.search(label):
                return "send", framework
        if any(p.search(label) for p in self.ignore):
            return "other", None
        if self.mentions_send.search(label):
            return "unknown", None
        return "other", None


def _compile(pattern: str, source: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise LabelsConfigError(f"{source}: bad regular expression {pattern!r}: {exc}") from exc


LABELS_CONFIG_KEYS = frozenset({"replace_defaults", "send", "ignore", "mentions_send",
                                "extra_providers", "extra_files"})


def load_label_rule(path: str | Path | None = None) -> LabelRule:
    """The default rule, extended (or replaced) by a TOML/YAML file.

    ``path`` falls back to ``$SENDLENS_LABELS_CONFIG``; with neither, the defaults.
    """
    send = [(fw, _compile(p, "default rule")) for fw, p in DEFAULT_SEND_LABELS]
    mentions = _compile(DEFAULT_MENTIONS_SEND, "default rule")
    ignore: list[re.Pattern[str]] = []
    extra = dict(EXTRA_PROVIDERS)
    files = dict(EXTRA_FILES)
    if path is None:
        path = os.environ.get(LABELS_CONFIG_ENV) or None
    if path is None:
        return LabelRule(tuple(send), mentions, (), extra, files)

    path = Path(path)
    data = _read_config(path)
    src = str(path)
    for key in data:
        if key not in LABELS_CONFIG_KEYS:
            # A misspelt key ("sned") would silently add no rule at all.
            near = difflib.get_close_matches(str(key), sorted(LABELS_CONFIG_KEYS), 1)
            raise LabelsConfigError(f"{src}: unknown key {key!r}" + (
                f"; did you mean {near[0]!r}?" if near else
                f" (keys: {', '.join(sorted(LABELS_CONFIG_KEYS))})"))
    if data.get("replace_defaults"):
        send, extra, files = [], {}, {}
    # Rules from the file go first so they can refine the defaults.
    extra_send: list[tuple[str, re.Pattern[str]]] = []
    for item in data.get("send", []) or []:
        if not isinstance(item, Mapping) or "pattern" not in item:
            raise LabelsConfigError(f"{src}: each [[send]] entry needs a 'pattern'")
        extra_send.append((str(item.get("framework", "")), _compile(str(item["pattern"]), src)))
    send = extra_send + send
    for item in data.get("ignore", []) or []:
        pat = item.get("pattern") if isinstance(item, Mapping) else item
        if not pat:
            raise LabelsConfigError(f"{src}: each [[ignore]] entry needs a 'pattern'")
        ignore.append(_compile(str(pat), src))
    if data.get("mentions_send"):
        mentions = _compile(str(data["mentions_send"]), src)
    for item in data.get("extra_providers", []) or []:
        if not isinstance(item, Mapping) or "urn" not in item:
            raise LabelsConfigError(f"{src}: each [[extra_providers]] entry needs a 'urn'")
        extra[str(item["urn"])] = str(item.get("name", ""))
    for item in data.get("extra_files", []) or []:
        if not isinstance(item, Mapping) or not item.get("url") or not item.get("council"):
            raise LabelsConfigError(f"{src}: each [[extra_files]] entry needs a 'url' and "
                                    "a 'council'")
        url = str(item["url"])
        found = OFSTED_FILE_ID_RE.search(urlsplit(url).path)
        if not found:
            raise LabelsConfigError(f"{src}: [[extra_files]] url {url!r} is no Ofsted file "
                                    "address (.../v1/file/<id>)")
        published = item.get("published")
        try:
            day = (None if published in (None, "") else published if isinstance(published, date)
                   else date.fromisoformat(str(published)))
        except ValueError:
            raise LabelsConfigError(f"{src}: [[extra_files]] published {published!r} is not "
                                    "a date (YYYY-MM-DD)") from None
        files[found["id"]] = ExtraFile(url, str(item["council"]),
                                       str(item.get("label") or ExtraFile.label), day)
    if not send:
        raise LabelsConfigError(f"{src}: no SEND label rules left (replace_defaults with none)")
    return LabelRule(tuple(send), mentions, tuple(ignore), extra, files)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = read_utf8(path, "labels config")
    except TextFileError as exc:
        raise LabelsConfigError(str(exc)) from exc
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # both parsers have their own error types
        raise LabelsConfigError(f"{path}: cannot read labels config: {exc}") from exc
    if not isinstance(data, dict):
        raise LabelsConfigError(f"{path}: expected a table/mapping at the top level")
    return data


# --- URLs ------------------------------------------------------------------------


def search_url(base_url: str, start: int, rows: int = SEARCH_ROWS) -> str:
    """One page of the children's services search."""
    params = {**SEARCH_PARAMS, "start": str(start), "rows": str(rows)}
    return f"{base_url.rstrip('/')}{SEARCH_PATH}?{urlencode(params)}"


def provider_url(base_url: str, urn: str) -> str:
    return f"{base_url.rstrip('/')}{PROVIDER_PATH.format(urn=urn)}"


# --- Page readers ----------------------------------------------------------------


@dataclass(frozen=True)
class ProviderLink:
    urn: str
    name: str  # the council's name as listed
    url: str


@dataclass(frozen=True)
class Publication:
    file_id: str  # Ofsted file id, or "govuk-<attachment id>"
    url: str  # exactly as the page gives it (made absolute)
    label: str
    published: date | None
    provider_urn: str | None
    council: str | None


def parse_search_page(html: str, page_url: str) -> list[ProviderLink]:
    """Provider links on one search page, in page order, without duplicates."""
    soup = BeautifulSoup(html, "html.parser")
    seen: dict[str, ProviderLink] = {}
    for a in soup.select(PROVIDER_LINK_SELECTOR):
        href = str(a.get("href", ""))
        path = urlsplit(urljoin(page_url, href)).path.rstrip("/")
        urn = path.rsplit("/", 1)[-1]
        name = " ".join(a.get_text(" ", strip=True).split())
        if not urn.isdigit() or not name:
            continue
        if urn not in seen:
            seen[urn] = ProviderLink(urn=urn, name=name, url=urljoin(page_url, href))
    return list(seen.values())


def parse_published(text: str) -> date | None:
    """'15 July 2024' -> date; None when it is not a date."""
    text = " ".join(text.replace(".", " ").split())
    text = re.sub(r"\bSept\b", "Sep", text, flags=re.I)
    for fmt in ("%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    return None


def _label_of(a: Tag) -> tuple[str, date | None]:
    span = a.select_one(PUBLICATION_DETAIL_SELECTOR)
    if span is not None:
        m = PUBLICATION_DETAIL_RE.match(span.get_text(" ", strip=True))
        if m:
            return " ".join(m["label"].split()), parse_published(m["date"])
    # Fall back to the visible text (the anchor without its hidden detail).
    visible = [s for s in a.find_all(string=True, recursive=False)]
    label = " ".join(" ".join(visible).split()) or " ".join(a.get_text(" ", strip=True).split())
    return label, None


def parse_provider_page(
    html: str,
    page_url: str,
    urn: str | None,
    council: str | None,
    unrecognised: list[tuple[str, str]] | None = None,
) -> list[Publication]:
    """Every publication on a provider page (all report types, newest first).

    A publication linked to a GOV.UK attachment is kept (as ``govuk-<id>``); one linked
    to any other address is left out and, with ``unrecognised``, added to it as
    (label, URL) for the caller to report. Raises SiteStructureError when the page
    links to files but not through the publication-link anchors, or when none of
    those anchors carries a file id: both mean the page changed. A page with no files
    at all returns [] (the caller decides).
    """
    soup = BeautifulSoup(html, "html.parser")
    anchors = soup.select(PUBLICATION_LINK_SELECTOR)
    if not anchors:
        if soup.find("a", href=OFSTED_FILE_ID_RE):
            raise SiteStructureError(
                page_url,
                f"links to files but none matches {PUBLICATION_LINK_SELECTOR!r}: "
                "the provider page structure has changed",
            )
        return []
    pubs: list[Publication] = []
    for a in anchors:
        href = str(a.get("href", "")).strip()
        label, published = _label_of(a)
        try:
            url = urljoin(page_url, href)
            path = urlsplit(url).path
        except ValueError:  # "http://[bad": not even a URL
            url, path = href, ""
        allowed = on_site(url, page_url)
        m = OFSTED_FILE_ID_RE.search(path) if allowed else None
        g = GOV_UK_FILE_ID_RE.search(path) if allowed else None
        if m:
            pubs.append(Publication(m["id"], url, label, published, urn, council))
        elif g:
            pubs.append(Publication(f"govuk-{g['id']}", url, label, published, urn, council))
        elif unrecognised is not None:
            unrecognised.append((label, url))
    if not pubs:
        raise SiteStructureError(
            page_url,
            f"{len(anchors)} {PUBLICATION_LINK_SELECTOR!r} anchors but none links to "
            "a /v1/file/<id>: the provider page structure has changed",
        )
    return pubs


def gov_uk_area(file_name: str, link_text: str) -> str:
    """The area named by a GOV.UK attachment: its title's "... inspection in <area>", as
    written ("Brighton & Hove"), else its file name's, else the title; without a replaced
    file's "- revised", "(updated)" or ": corrected letter"."""
    def bare(area: str) -> str:
        return re.sub(r"\s*(?:[-:(]\s*|\s)(?:revised|corrected|updated|final|v\d+)\b.*$",
                      "", area, flags=re.I).strip()

    m = re.search(r"\binspection in (.+?)(?:\s*\(PDF\b[^)]*\))?$", link_text, re.I)
    if m:
        return bare(m[1])
    name = unquote(file_name)  # "Brighton_%26_Hove"
    for rx in GOV_UK_AREA_FROM_NAME:
        if found := rx.match(name):
            return bare(found["area"].replace("_", " "))
    return link_text.strip()


def parse_gov_uk_page(html: str, page_url: str) -> list[Publication]:
    """Letters attached to the GOV.UK publication page (pre-2017)."""
    soup = BeautifulSoup(html, "html.parser")
    pubs: dict[str, Publication] = {}
    for a in soup.select(GOV_UK_ATTACHMENT_SELECTOR):
        url = urljoin(page_url, str(a.get("href", "")).strip())
        m = GOV_UK_FILE_ID_RE.search(urlsplit(url).path) if on_site(url, page_url) else None
        if not m:
            continue
        text = " ".join(a.get_text(" ", strip=True).split())
        file_id = f"govuk-{m['id']}"
        # Each attachment is linked twice, from its thumbnail (no text) and its title:
        # the title names the letter.
        if file_id not in pubs or text and pubs[file_id].label == unquote(m["name"]):
            pubs[file_id] = Publication(file_id, url, text or unquote(m["name"]), None, None,
                                        gov_uk_area(m["name"], text))
    if not pubs:
        raise SiteStructureError(
            page_url,
            f"no PDF attachment links ({GOV_UK_ATTACHMENT_SELECTOR!r}): "
            "the GOV.UK publication page structure has changed",
        )
    return list(pubs.values())


def same_site(a: str, b: str) -> bool:
    """Whether two base URLs name the same site: scheme and host in any case, the
    default port written or not, a trailing slash or none."""
    def key(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.strip())
        try:
            port = port_of(parts)
        except ValueError:
            port = None
        return (parts.scheme.lower(), (parts.hostname or "").lower(), port,
                parts.path.rstrip("/"))

    return key(a) == key(b)


def normalise_area(name: str) -> str:
    """A key for matching council names across sources ('Kensington & Chelsea')."""
    name = name.lower().replace("&", " and ")
    name = re.sub(r"\b(city of|council|county|metropolitan borough|borough)\b", " ", name)
    name = re.sub(r"[^a-z0-9]+", " ", name)
    return " ".join(name.split())


def matches_area(wanted: Iterable[str], urn: str | None, name: str | None) -> bool:
    """Whether a provider is one of the --area choices (names or URNs)."""
    key = normalise_area(name or "")
    for w in wanted:
        w = w.strip()
        if (urn and w == urn) or (key and normalise_area(w) == key):
            return True
    return False
