"""English local authorities, and matching the area names printed in letters to them.

The table (`textmine/data/local_authorities.csv`) holds every current upper-tier
local authority in England (the 153 areas inspected for SEND, City of London and the
Isles of Scilly included) plus the former ones that were inspected from 2016 and
have since been reorganised (Northamptonshire, Cumbria, old Dorset, Bournemouth,
Poole). Letters and listings spell areas many ways ("Stoke-on\\ufffeTrent Local Area
Partnership", "Bristol, City of", "the Greenwich"); `lookup_area` absorbs that.

    >>> lookup_area("Kingston upon Hull City Council").name
    'Kingston upon Hull'
    >>> region_for("Telford & Wrekin")
    'West Midlands'
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

__all__ = [
    "REGIONS",
    "LocalAuthority",
    "gave_way",
    "load_local_authorities",
    "lookup_area",
    "normalise_area_name",
    "region_for",
    "successor_authorities",
]

#: The nine English regions (ONS names), in the usual north-to-south order.
REGIONS: tuple[str, ...] = (
    "North East",
    "North West",
    "Yorkshire and The Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
)


@dataclass(frozen=True, slots=True)
class LocalAuthority:
    """One row of the local authority table."""

    la_code: str  # DfE 3-digit LA code, e.g. "908"
    ons_code: str  # ONS GSS code, e.g. "E06000052"
    name: str  # canonical current name, e.g. "Cornwall"
    region: str  # one of REGIONS
    status: str  # "current" or "former"
    successors: tuple[str, ...]  # names of current successors (former rows only)
    ended: str | None  # ISO date a former authority gave way to its successors
    ofsted_urn: str | None  # Ofsted provider URN where known
    aliases: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return self.status == "current"

    def goes_by(self, name: str) -> bool:
        """Whether `name` is one of this authority's names (its own or an alias), however
        spelt."""
        key = normalise_area_name(name)
        return any(normalise_area_name(v) == key for v in (self.name, *self.aliases))

    def existed_on(self, on: str | date | None) -> bool:
        """Whether the authority was in being on `on` (any date as lookup_area takes it;
        no date: yes)."""
        when = _iso_day(on)
        return when is None or self.ended is None or when < self.ended


# --- name normalisation -------------------------------------------------------------

# Characters PDF extraction leaves where a hyphen was (U+FFFE, U+FFFD) or that are
# typographic dashes: all separate words. Invisible joiners and soft hyphens sit
# inside a word, so they are deleted outright.
_AS_SPACE = dict.fromkeys(map(ord, "\ufffe\ufffd\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), " ")
_DELETE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff'\u2019\u2018`"), None)

# Words around a name that say what kind of body or document it is, not which place.
_PREFIXES = re.compile(
    r"^(?:(?:area send inspection of|joint local area send inspection (?:in|of)|"
    r"london borough of|royal borough of|metropolitan borough of|borough of|"
    r"council of|county of|city of(?! london\b)|county(?= \w))\s+)+"
)
_SUFFIXES = re.compile(
    r"(?:\s+(?:local area partnership|local area|partnership|"
    r"metropolitan borough council|metropolitan district council|metropolitan borough|"
    r"county borough council|borough council|county council|city council|"
    r"district council|council|corporation|city of|county of|borough|county|city|"
    r"cc|mbc|ua))+$"
)
_NON_WORD = re.compile(r"[^0-9a-z]+")
# The counties' usual short forms ("North East Lincs", "Central Beds", "North Yorks").
_SHORT_FORMS = {
    "beds": "bedfordshire", "bucks": "buckinghamshire", "cambs": "cambridgeshire",
    "derbys": "derbyshire", "glos": "gloucestershire", "hants": "hampshire",
    "herts": "hertfordshire", "lancs": "lancashire", "leics": "leicestershire",
    "lincs": "lincolnshire", "northants": "northamptonshire", "notts": "nottinghamshire",
    "oxon": "oxfordshire", "staffs": "staffordshire", "warks": "warwickshire",
    "wilts": "wiltshire", "worcs": "worcestershire", "yorks": "yorkshire",
}


def normalise_area_name(name: str) -> str:
    """A matching key for an area name: lower case, plain words, no 'council' etc.

    Both the table's names/aliases and the names looked up go through this, so it
    only has to make spellings of the same place agree, not be pretty.
    """
    text = unicodedata.normalize("NFKC", name).translate(_AS_SPACE).translate(_DELETE)
    text = text.casefold().replace("&", " and ")
    text = _NON_WORD.sub(" ", text)
    # "the" is never part of an English LA name, but letters say "the Greenwich".
    words = [("st" if w == "saint" else _SHORT_FORMS.get(w, w)) for w in text.split()
             if w != "the"]
    text = " ".join(words)
    previous = None
    while previous != text:  # prefixes and suffixes can stack ("the Council of the ...")
        previous = text
        text = _PREFIXES.sub("", text)
        text = _SUFFIXES.sub("", text).strip()
    return text


# --- the table ------------------------------------------------------------------


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())


@cache
def _table() -> tuple[LocalAuthority, ...]:
    text = resources.files("textmine").joinpath("data/local_authorities.csv").read_text("utf-8")
    return tuple(
        LocalAuthority(
            la_code=row["la_code"].strip(),
            ons_code=row["ons_code"].strip(),
            name=row["name"].strip(),
            region=row["region"].strip(),
            status=row["status"].strip(),
            successors=_split(row["successors"]),
            ended=row["ended"].strip() or None,
            ofsted_urn=row["ofsted_urn"].strip() or None,
            aliases=_split(row["aliases"]),
        )
        for row in csv.DictReader(io.StringIO(text))
    )


def load_local_authorities() -> list[LocalAuthority]:
    """All rows, current and former (a fresh list; the rows themselves are frozen)."""
    return list(_table())


_Index = dict[str, LocalAuthority]

# ONS codes of county councils that became unitary under the same name (Buckinghamshire
# 2020, North Yorkshire and Somerset 2023): Ofsted's 2016-2022 tables use the old ones.
_EARLIER_ONS_CODES = {"E10000002": "E06000060", "E10000023": "E06000065",
                      "E10000027": "E06000066"}


@cache
def _indexes() -> tuple[_Index, _Index, _Index]:
    by_urn: _Index = {}
    by_code: _Index = {}
    by_name: _Index = {}
    # Current rows first, so a name shared with a former authority (Dorset) means the
    # current one; the former row stays reachable by its codes.
    for la in sorted(_table(), key=lambda la: not la.is_current):
        if la.ofsted_urn:
            by_urn.setdefault(la.ofsted_urn, la)
        by_code.setdefault(la.la_code, la)
        by_code.setdefault(la.ons_code.upper(), la)
        for variant in (la.name, *la.aliases):
            by_name.setdefault(normalise_area_name(variant), la)
    for earlier, now in _EARLIER_ONS_CODES.items():
        by_code.setdefault(earlier, by_code[now])
    return by_urn, by_code, by_name


@cache
def _exact_names() -> _Index:
    """The table's names and aliases as written (any case): "Dorset County Council" is
    the former county by name, though its matching key, "dorset", is today's council."""
    exact: _Index = {}
    for la in sorted(_table(), key=lambda la: not la.is_current):
        for variant in (la.name, *la.aliases):
            exact.setdefault(" ".join(variant.casefold().split()), la)
    return exact


def gave_way(names: Iterable[str]) -> list[str]:
    """What replaced each of `names` that is a former authority only ("Northamptonshire
    gave way to North Northamptonshire and West Northamptonshire on 2021-04-01"): a
    filter on its name finds none of the letters since."""
    said = []
    for name in names:
        la = lookup_area(name)
        if la is not None and not la.is_current and la.successors:
            said.append(f"{la.name} gave way to {' and '.join(la.successors)}"
                        + (f" on {la.ended}" if la.ended else ""))
    return said


def lookup_area(
    name: str | None = None, *, urn: str | int | None = None, code: str | None = None,
    on: str | date | None = None,
) -> LocalAuthority | None:
    """The local authority for an Ofsted URN, a DfE/ONS code, or a published name.

    Tried in that order; a URN or code not in the table falls through to the name.
    `on` (the inspection's date) picks the former authority of that name while it
    existed: "Dorset" in 2017 is the old county council, not today's Dorset Council.
    Returns None when nothing matches: callers decide whether that is an error.
    """
    by_urn, by_code, by_name = _indexes()
    if urn is not None and (la := by_urn.get(str(urn).strip())):
        found: LocalAuthority | None = la
    elif code is not None and (la := by_code.get(code.strip().upper())):
        found = la
    elif name:
        found = (_exact_names().get(" ".join(name.casefold().split()))
                 or by_name.get(normalise_area_name(name)))
    else:
        found = None
    if found is not None and found.is_current and name and _iso_day(on) is not None:
        for former in _table():
            if (former.ended and former.existed_on(on)
                    and found.name in former.successors and former.goes_by(name)):
                return former
    return found


def _iso_day(value: str | date | None) -> str | None:
    """`value` as YYYY-MM-DD, or None when it is no date (then no date decides)."""
    if isinstance(value, date):
        return value.isoformat()[:10]
    try:
        return date.fromisoformat(str(value or "")[:10]).isoformat()
    except ValueError:
        return None


def region_for(name: str | None, urn: str | int | None = None) -> str | None:
    """The English region of an area, or None when the area is not recognised."""
    la = lookup_area(name, urn=urn)
    return la.region if la else None


def successor_authorities(la: LocalAuthority) -> list[LocalAuthority]:
    """Current authorities covering a former one's area (the authority itself if current)."""
    if la.is_current:
        return [la]
    current = {x.name: x for x in _table() if x.is_current}
    return [current[name] for name in la.successors]
