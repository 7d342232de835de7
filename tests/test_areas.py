"""The local authority table and name matching (textmine/areas.py)."""

from __future__ import annotations

import csv
import re
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.conftest import require_shared
from textmine.areas import (
    REGIONS,
    load_local_authorities,
    lookup_area,
    normalise_area_name,
    region_for,
    successor_authorities,
)

CURRENT = [la for la in load_local_authorities() if la.is_current]
FORMER = [la for la in load_local_authorities() if not la.is_current]


# --- the table ----------------------------------------------------------------------


def test_table_has_all_153_current_authorities_and_the_reorganised_ones() -> None:
    assert len(CURRENT) == 153
    assert {la.name for la in FORMER} == {
        "Northamptonshire",
        "Cumbria",
        "Dorset County Council",
        "Bournemouth",
        "Poole",
    }
    # A name is a row of `export themes --by area`: two councils under one name (the
    # old county and today's Dorset) were counted as one area.
    names = [la.name for la in load_local_authorities()]
    assert len(set(names)) == len(names)
    assert {la.status for la in load_local_authorities()} == {"current", "former"}


def test_regions_come_in_the_usual_north_to_south_order() -> None:
    # Tables by region list their rows in this order (ONS's), not the alphabet's.
    assert REGIONS == ("North East", "North West", "Yorkshire and The Humber", "East Midlands",
                       "West Midlands", "East of England", "London", "South East",
                       "South West")


def test_current_authorities_per_region() -> None:
    # Counts of upper-tier authorities per region since April 2023 (after Cumbria split).
    assert Counter(la.region for la in CURRENT) == {
        "North East": 12,
        "North West": 24,
        "Yorkshire and The Humber": 15,
        "East Midlands": 10,
        "West Midlands": 14,
        "East of England": 11,
        "London": 33,
        "South East": 19,
        "South West": 15,
    }
    assert all(la.region in REGIONS for la in load_local_authorities())


def test_codes_are_well_formed_and_unique() -> None:
    rows = load_local_authorities()
    assert all(re.fullmatch(r"\d{3}", la.la_code) for la in rows)
    assert all(re.fullmatch(r"E(0[6-9]|10)\d{6}", la.ons_code) for la in rows)
    for field in ("la_code", "ons_code"):
        values = [getattr(la, field) for la in rows]
        assert len(values) == len(set(values)), field
    urns = [la.ofsted_urn for la in rows if la.ofsted_urn]
    assert len(urns) == len(set(urns))
    assert all(urn.isdigit() for urn in urns)


def test_london_boroughs_use_e09_codes() -> None:
    london = [la for la in CURRENT if la.region == "London"]
    assert all(la.ons_code.startswith("E09") for la in london)
    assert not [la for la in CURRENT if la.region != "London" and la.ons_code.startswith("E09")]


def test_well_known_codes() -> None:
    cornwall = lookup_area("Cornwall")
    assert cornwall is not None
    assert (cornwall.la_code, cornwall.ons_code) == ("908", "E06000052")
    assert cornwall.ofsted_urn == "80454"
    assert lookup_area(code="201").name == "City of London"
    assert lookup_area(code="e06000053").name == "Isles of Scilly"
    assert lookup_area(urn="2637539").name == "North Northamptonshire"
    assert lookup_area(urn=2637548).name == "West Northamptonshire"
    assert lookup_area(urn="2532283").name == "Dorset"


def test_reorganised_authorities_point_to_current_successors() -> None:
    northants = lookup_area(code="928")
    assert northants is not None and not northants.is_current
    assert northants.successors == ("North Northamptonshire", "West Northamptonshire")
    assert [la.name for la in successor_authorities(lookup_area(code="909"))] == [
        "Cumberland",
        "Westmorland and Furness",
    ]
    old_dorset = lookup_area(code="835")
    assert set(old_dorset.successors) == {"Dorset", "Bournemouth, Christchurch and Poole"}
    for la in FORMER:
        successors = successor_authorities(la)
        assert successors and all(s.is_current for s in successors)
        # Reorganisations stayed within a region, so regional totals are comparable.
        assert {s.region for s in successors} == {la.region}
    assert all(not la.successors for la in CURRENT)
    # A current authority covers its own area.
    cornwall = lookup_area("Cornwall")
    assert successor_authorities(cornwall) == [cornwall]


def test_reorganised_to_unitary_keeps_one_current_row() -> None:
    for name, ons in [("North Yorkshire", "E06000065"), ("Somerset", "E06000066")]:
        rows = [la for la in load_local_authorities() if la.name == name]
        assert len(rows) == 1 and rows[0].is_current and rows[0].ons_code == ons


def test_no_name_or_alias_points_at_two_current_authorities() -> None:
    owner: dict[str, str] = {}
    for la in CURRENT:
        for variant in (la.name, *la.aliases):
            key = normalise_area_name(variant)
            assert key, variant
            assert owner.setdefault(key, la.name) == la.name, (variant, owner[key], la.name)


# --- normalising and looking up names ----------------------------------------------


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("Kingston upon Hull", "Kingston upon Hull"),
        ("Hull", "Kingston upon Hull"),
        ("Kingston upon Hull City Council", "Kingston upon Hull"),
        ("Kingston upon Hull, City of", "Kingston upon Hull"),
        ("Kingston", "Kingston upon Thames"),
        ("Royal Borough of Kingston upon Thames", "Kingston upon Thames"),
        ("Stoke-on\ufffeTrent", "Stoke-on-Trent"),
        ("Stoke-on\ufffeTrent Local Area Partnership", "Stoke-on-Trent"),
        ("Stoke", "Stoke-on-Trent"),
        ("the Greenwich", "Greenwich"),
        ("the Greenwich Local Area\nPartnership", "Greenwich"),
        ("Royal Borough of Greenwich", "Greenwich"),
        ("Brighton and Hove", "Brighton and Hove"),
        ("Brighton & Hove City Council", "Brighton and Hove"),
        ("City of York", "York"),
        ("City of York Council", "York"),
        ("Bristol, City of", "Bristol"),
        ("Bristol City Council", "Bristol"),
        ("Herefordshire, County of", "Herefordshire"),
        ("Southend", "Southend-on-Sea"),
        ("southend on sea", "Southend-on-Sea"),
        ("Telford & Wrekin", "Telford and Wrekin"),
        ("St Helens", "St Helens"),
        ("St. Helens", "St Helens"),
        ("Isles of Scilly", "Isles of Scilly"),
        ("Council of the Isles of Scilly", "Isles of Scilly"),
        ("Windsor and Maidenhead", "Windsor and Maidenhead"),
        ("Royal Borough of Windsor and Maidenhead", "Windsor and Maidenhead"),
        ("Richmond", "Richmond upon Thames"),
        ("London Borough of Richmond upon Thames", "Richmond upon Thames"),
        ("Hammersmith & Fulham", "Hammersmith and Fulham"),
        ("Durham", "County Durham"),
        ("County Durham", "County Durham"),
        ("Durham County Council", "County Durham"),
        ("Bedford Borough Local Area Partnership", "Bedford"),
        ("Birmingham CC", "Birmingham"),
        ("Derby City Council", "Derby"),
        ("Nottingham City", "Nottingham"),
        ("Newcastle", "Newcastle upon Tyne"),
        ("Wigan Metropolitan Borough Council", "Wigan"),
        ("City of Bradford Metropolitan District Council", "Bradford"),
        ("St Helen\u2019s", "St Helens"),
        ("East Riding", "East Riding of Yorkshire"),
        ("Bath and NE Somerset", "Bath and North East Somerset"),
        ("BCP", "Bournemouth, Christchurch and Poole"),
        ("City of London", "City of London"),
        ("North\u00adamptonshire", "Northamptonshire"),  # soft hyphen from a line break
        ("  WEST\u00a0SUSSEX ", "West Sussex"),
        ("Area SEND inspection of North   Northamptonshire Local Area Partnership",
         "North Northamptonshire"),
    ],
)
def test_published_names_resolve(published: str, expected: str) -> None:
    la = lookup_area(published)
    assert la is not None, published
    assert la.name == expected


def test_dorset_means_the_current_council_but_old_dorset_is_reachable() -> None:
    assert lookup_area("Dorset").is_current
    assert lookup_area("Dorset").la_code == "838"
    assert lookup_area(code="E10000009").la_code == "835"
    # The old county's own name, with no date to go by, is the old county.
    assert lookup_area("Dorset County Council").la_code == "835"


def test_a_letter_from_before_a_reorganisation_goes_to_the_council_of_its_day() -> None:
    # Dorset County Council gave way to Dorset Council and BCP on 1 April 2019: its 2017
    # inspection and 2019 revisit are the old county's, whichever URN the site files them
    # under, and count in Bournemouth, Christchurch and Poole's history.
    assert lookup_area("Dorset", on="2017-01-23").la_code == "835"
    assert lookup_area("Dorset County Council", urn="2532283", on="2019-02-04").la_code == "835"
    assert lookup_area("Dorset", on="2019-04-01").la_code == "838"
    assert lookup_area("Dorset", on="2024-03-11").la_code == "838"
    assert lookup_area("Dorset County Council", urn="80463").la_code == "835"
    # No date (an empty or foreign-format one) decides nothing: the current council.
    assert lookup_area("Dorset", on="").la_code == "838"
    assert lookup_area("Dorset", on="17/05/2017").la_code == "838"
    # A council that was never reorganised is the same whatever the date.
    assert lookup_area("Cornwall", on="2016-06-01").la_code == "908"
    assert lookup_area("Cumbria", on="2019-03-18").la_code == "909"
    # Filed under the new council's code, a letter goes to the predecessor its name
    # says, and the new council's own name is the new council whatever the date.
    assert lookup_area("Poole", code="839", on="2017-03-06").name == "Poole"
    assert lookup_area("Bournemouth", code="839", on="2017-03-06").name == "Bournemouth"
    bcp = "Bournemouth, Christchurch and Poole"
    assert lookup_area(bcp, on="2018-06-01").name == bcp
    former = [la for la in load_local_authorities() if not la.is_current]
    assert all(la.ended for la in former)
    assert all(la.ended is None for la in load_local_authorities() if la.is_current)


def test_codes_of_county_councils_that_became_unitary_find_them() -> None:
    # Ofsted's 2016-2022 outcome tables give Buckinghamshire, North Yorkshire and
    # Somerset their county codes (E10...), from before each became a unitary council.
    for old, name in (("E10000002", "Buckinghamshire"), ("E10000023", "North Yorkshire"),
                      ("E10000027", "Somerset")):
        la = lookup_area(code=old)
        assert la is not None and la.name == name and la.is_current, old


def test_former_authorities_resolve_by_name() -> None:
    for name in ["Northamptonshire", "Northants", "Cumbria", "Bournemouth", "Poole"]:
        la = lookup_area(name)
        assert la is not None and not la.is_current, name


def test_unknown_areas_give_none_rather_than_a_guess() -> None:
    assert lookup_area("Atlantis") is None
    assert lookup_area("") is None
    assert lookup_area() is None
    assert lookup_area("London") is None  # a region, not the City of London
    assert lookup_area("Wales") is None
    assert region_for("Atlantis") is None


def test_urn_wins_over_name_and_unknown_urn_falls_back_to_name() -> None:
    assert lookup_area("Cornwall", urn="80454").name == "Cornwall"
    assert lookup_area("Devon", urn="80454").name == "Cornwall"
    assert lookup_area("Devon", urn="999999999").name == "Devon"
    assert lookup_area(urn="999999999") is None
    assert lookup_area(urn=" 80454 ").name == "Cornwall"  # a URN cell with spaces around


def test_region_for() -> None:
    assert region_for("Telford & Wrekin") == "West Midlands"
    assert region_for("Milton Keynes") == "South East"
    assert region_for("Kingston upon Hull") == "Yorkshire and The Humber"
    assert region_for("Hertfordshire") == "East of England"
    assert region_for(None, urn="80454") == "South West"
    assert region_for("Cumbria") == "North West"


def test_normalise_area_name() -> None:
    assert normalise_area_name("London Borough of Barking & Dagenham") == "barking and dagenham"
    assert normalise_area_name("Stoke-on\ufffeTrent") == "stoke on trent"
    assert normalise_area_name("Stoke\u2013on\u2013Trent") == "stoke on trent"
    assert normalise_area_name("Kingston upon Hull City Council") == "kingston upon hull"
    assert normalise_area_name("Royal Borough of Windsor & Maidenhead") == "windsor and maidenhead"
    assert normalise_area_name("the Greenwich Local Area Partnership") == "greenwich"
    assert normalise_area_name("Saint Helens") == "st helens"
    assert normalise_area_name("Wigan Metropolitan Borough") == "wigan"


def test_loaded_rows_cannot_be_changed_by_callers() -> None:
    rows = load_local_authorities()
    rows.clear()
    assert len(load_local_authorities()) == 158
    with pytest.raises(AttributeError):
        CURRENT[0].region = "Wales"  # type: ignore[misc]


# --- cross-checks with data from outside --------------------------------------------


def test_every_area_in_the_letter_manifest_resolves() -> None:
    manifest = require_shared("letters", "manifest.csv")
    with manifest.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 55
    for row in rows:
        by_urn = lookup_area(urn=row["ofsted_urn"])
        by_name = lookup_area(row["area"])
        assert by_urn is not None, row
        assert by_name is not None, row
        assert by_urn == by_name, row
        assert by_urn.is_current


# The two reference tables abbreviate or misspell a few names, and the ADCS summary
# puts two areas in the wrong region on some rows; these are theirs, not ours.
REFERENCE_NAME_FIXES = {
    "Leicesteshire": "Leicestershire",
    "Sunderland/TfChildren": "Sunderland",
}
ADCS_REGIONS = {
    "NE": "North East",
    "NW": "North West",
    "YH": "Yorkshire and The Humber",
    "EM": "East Midlands",
    "WM": "West Midlands",
    "E": "East of England",
    "GL": "London",
    "SE": "South East",
    "SW": "South West",
}
ADCS_REGION_ERRORS = {("Hertfordshire", "SE"), ("Suffolk", "EM")}
# Ofsted merges two regions into one.
OFSTED_REGIONS = {
    "North East, Yorkshire and the Humber": {"North East", "Yorkshire and The Humber"},
    **{region: {region} for region in REGIONS},
}
# Codes in the Ofsted statistics (2022) that changed when these became unitary.
OLD_ONS_CODES = {
    "E10000002": "Buckinghamshire",  # unitary April 2020
    "E10000023": "North Yorkshire",  # unitary April 2023
    "E10000027": "Somerset",  # unitary April 2023
}


def test_adcs_summary_names_and_regions_agree() -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = require_shared("reference", "adcs_send_outcomes_summary_2016_2022.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Data Validation extension"
        book = openpyxl.load_workbook(path)
    checked = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            name, region = (row + (None, None))[:2]
            if not isinstance(name, str) or not region or name == "LA":
                continue
            name = name.strip()
            la = lookup_area(REFERENCE_NAME_FIXES.get(name, name))
            assert la is not None, name
            if (name, region.strip()) not in ADCS_REGION_ERRORS:
                assert la.region == ADCS_REGIONS[region.strip()], (name, region)
            checked += 1
    assert checked >= 197


def _ods_rows(path: Path, sheet: str) -> list[list[str]]:
    """Cell texts of one sheet; the standard library suffices (odfpy is not a dependency)."""
    table_ns = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    t = f"{{{table_ns}}}"
    with zipfile.ZipFile(path) as ods:
        root = ElementTree.fromstring(ods.read("content.xml"))
    rows: list[list[str]] = []
    for table in root.iter(f"{t}table"):
        if table.get(f"{t}name") != sheet:
            continue
        for row in table.iter(f"{t}table-row"):
            cells: list[str] = []
            for cell in row.iter(f"{t}table-cell"):
                repeat = min(int(cell.get(f"{t}number-columns-repeated", "1")), 50)
                cells += ["".join(cell.itertext()).strip()] * repeat
            rows.append(cells)
    return rows


def test_ofsted_statistics_names_codes_and_regions_agree() -> None:
    path = require_shared("reference", "ofsted_area_send_outcomes_2016_2022.ods")
    rows = [
        r
        for r in _ods_rows(path, "Area_SEND_up_to_31_Aug_2022")
        if len(r) > 3 and re.fullmatch(r"E\d{8}", r[1])
    ]
    assert len(rows) == 149
    for _link, ons_code, name, region, *_ in rows:
        la = lookup_area(REFERENCE_NAME_FIXES.get(name, name))
        assert la is not None, name
        assert la.region in OFSTED_REGIONS[region], (name, region, la.region)
        if ons_code in OLD_ONS_CODES:
            assert la.name == OLD_ONS_CODES[ons_code] and la.ons_code != ons_code
        else:
            assert la.ons_code == ons_code, (name, ons_code, la.ons_code)
            assert lookup_area(code=ons_code) == la


def test_every_second_provider_record_the_reference_tables_link_to_is_scraped() -> None:
    """Some letters sit on a council's second provider record (/provider/44/<LA code>),
    which the search of councils does not list: every one either table links to is in
    the scraper's list, under the council it belongs to."""
    openpyxl = pytest.importorskip("openpyxl")
    from scraper.site import EXTRA_PROVIDERS

    ods = require_shared("reference", "ofsted_area_send_outcomes_2016_2022.ods")
    with zipfile.ZipFile(ods) as book:
        links = set(re.findall(r"/provider/\d+/(\d{1,3})\b", book.read("content.xml").decode()))
    xlsx = require_shared("reference", "adcs_send_outcomes_summary_2016_2022.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sheets = openpyxl.load_workbook(xlsx).worksheets
    for cell in (c for sheet in sheets for row in sheet.iter_rows() for c in row):
        for target in (cell.hyperlink.target if cell.hyperlink else "", str(cell.value or "")):
            links.update(re.findall(r"/provider/\d+/(\d{1,3})\b", target or ""))
    assert len(links) >= 23
    assert sorted(links - set(EXTRA_PROVIDERS)) == []
    for urn in links:
        la = lookup_area(EXTRA_PROVIDERS[urn])
        assert la is not None and la.la_code == urn, (urn, EXTRA_PROVIDERS[urn])


def test_the_counties_short_forms_are_found() -> None:
    # "NE Lincs" was an alias, "North East Lincs" nothing.
    for short, name in [("North East Lincs", "North East Lincolnshire"),
                        ("Central Beds", "Central Bedfordshire"), ("Herts", "Hertfordshire"),
                        ("North Yorks", "North Yorkshire"), ("Leics County Council",
                                                             "Leicestershire"),
                        ("Glos County Council", "Gloucestershire")]:
        found = lookup_area(short)
        assert found is not None and found.name == name, short


def test_the_records_of_councils_since_reorganised_are_scraped() -> None:
    """A county replaced by a new council may drop out of the search of current councils:
    its letters' provider records, as the ADCS table links them, are in the scraper's
    list (Somerset's 2020 letter was not)."""
    openpyxl = pytest.importorskip("openpyxl")
    from scraper.site import EXTRA_PROVIDERS

    xlsx = require_shared("reference", "adcs_send_outcomes_summary_2016_2022.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sheets = openpyxl.load_workbook(xlsx).worksheets
    reorganised = {"Dorset", "Cumbria", "Somerset"}
    found = {m.group(1) for sheet in sheets for row in sheet.iter_rows()
             if str(row[0].value or "").strip() in reorganised
             for c in row if c.hyperlink
             for m in [re.search(r"/provider/\d+/(\d{5})\b", c.hyperlink.target or "")] if m}
    assert found and found <= set(EXTRA_PROVIDERS), found - set(EXTRA_PROVIDERS)
