"""The parser against the outcomes Ofsted published for every 2016-2022 inspection and revisit.

For each row of Ofsted's statistics (../shared/reference), a first-framework letter and,
when the area was revisited, a revisit letter are written from this project's own
paraphrases of the letters' stock wording, varied from row to row as the letters' authors
varied it, carrying that row's area, dates, WSoA decision and counts. The parser must read
back what Ofsted published: an area, a decision or a count misread is a misfiled letter.
(The wordings are this project's own: they test the parser on every published count and
area, not on wordings no one here has seen.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from conftest import require_shared
from test_areas import REFERENCE_NAME_FIXES, _ods_rows

from scraper.parse import parse_document
from scraper.records import Paragraph
from textmine.areas import lookup_area

NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen"]


@dataclass(frozen=True)
class Row:
    index: int
    ons_code: str
    area: str
    start: date
    wsoa: bool
    weaknesses: int
    revisit: date | None
    met: int | None
    unmet: int | None


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def reference_rows() -> list[Row]:
    path = require_shared("reference", "ofsted_area_send_outcomes_2016_2022.ods")
    rows = []
    for r in _ods_rows(path, "Area_SEND_up_to_31_Aug_2022"):
        if len(r) < 13 or not re.fullmatch(r"E\d{8}", r[1]):
            continue
        _link, ons, name, _region, start, _pub, wsoa, weak, revisit, _rpub, _all, met, unmet \
            = r[:13]
        rows.append(Row(len(rows), ons, REFERENCE_NAME_FIXES.get(name, name), _day(start),
                        wsoa == "Yes", _int(weak) or 0, _day(revisit), _int(met), _int(unmet)))
    return rows


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _paras(*items: tuple[str, str]) -> list[Paragraph]:
    return [Paragraph(text, 1, kind) for kind, text in items]


# The stock sentences, as differently as authors wrote them (paraphrased, not copied).
WSOA_SAYS = [
    "As a result of the findings of this inspection, Her Majesty's Chief Inspector (HMCI) "
    "has determined that a Written Statement of Action (WSoA) is required because of "
    "significant areas of weakness in the local area's practice.",
    "HMCI has determined that a written statement of action is required because of "
    "significant areas of weakness in the area's practice.",
    "Inspectors found significant weaknesses, and HMCI determined that a Written Statement "
    "of Action was required.",
]
LIST_INTROS = [
    "The local area is required to produce and submit a Written Statement of Action to "
    "Ofsted that explains how it will tackle the following areas of significant weakness:",
    "As a result of this inspection, HMCI has determined that the local area is required to "
    "produce and submit a written statement of action that explains how it will tackle the "
    "following areas of significant weakness:",
    "The local area is now required to produce and submit a Written Statement of Action "
    "that sets out how it will address the following:",
    "Given these weaknesses, HMCI has determined that the local area must produce and submit "
    "a written statement of action that explains how it will tackle the following:",
]
PARTS = ["identifying children and young people who have special educational needs and/or "
         "disabilities", "assessing and meeting the needs of children and young people who "
         "have special educational needs and/or disabilities", "improving outcomes for "
         "children and young people who have special educational needs and/or disabilities"]


def first_letter(row: Row) -> list[Paragraph]:
    end = row.start + timedelta(days=4)
    items = [
        ("heading", f"Joint local area SEND inspection in {row.area}"),
        ("text", f"Between {_long(row.start)} and {_long(end)}, Ofsted and the Care Quality "
                 f"Commission (CQC) conducted a joint inspection of the local area of "
                 f"{row.area} to judge the effectiveness of the area in implementing the "
                 "disability and special educational needs reforms."),
    ]
    if row.wsoa:
        items.append(("text", WSOA_SAYS[row.index % len(WSOA_SAYS)]))
    items += [("heading", "Main findings"), ("bullet", "Leaders know the area well.")]
    for part in PARTS:
        items += [("heading", f"The effectiveness of the local area in {part}"),
                  ("heading", "Strengths"), ("bullet", "Families value the short breaks."),
                  ("heading", "Areas for development"),
                  ("bullet", "Plans are issued late and lack health advice.")]
    if row.wsoa:
        items.append(("text", LIST_INTROS[row.index % len(LIST_INTROS)]))
        items += [("bullet", f"weakness number {n + 1} in the area's work")
                  for n in range(row.weaknesses)]
    items += [("text", "Yours sincerely"), ("text", "A. N. Inspector")]
    return _paras(*items)


def _judgement(row: Row, met: int, total: int) -> str:
    did = "HMCI has determined that the local area has"
    variant = row.index % 4
    if met == total:
        return [f"{did} made sufficient progress in addressing all of the {NUMBER_WORDS[total]} "
                "significant weaknesses identified at the initial inspection.",
                f"{did} made sufficient progress in addressing the {NUMBER_WORDS[total]} areas "
                "of significant weakness identified at the initial inspection." if total > 1 else
                f"{did} made sufficient progress in addressing the area of significant "
                "weakness identified at the initial inspection.",
                f"{did} made sufficient progress in addressing all of the significant "
                "weaknesses identified at the initial inspection.",
                f"{did} made sufficient progress in addressing the significant "
                "weaknesses identified at the initial inspection." if total > 1 else
                f"{did} made sufficient progress in addressing the weakness identified at "
                "the initial inspection."][variant]
    variant %= 3
    if met == 0:
        return [f"{did} not made sufficient progress in addressing any of the "
                f"{NUMBER_WORDS[total]} significant weaknesses.",
                f"{did} not made sufficient progress in addressing any of the significant "
                "weaknesses identified at the initial inspection.",
                f"{did} not made sufficient progress in addressing the {NUMBER_WORDS[total]} "
                "areas of significant weakness."][variant]
    return [f"{did} made sufficient progress in addressing {NUMBER_WORDS[met]} of the "
            f"{NUMBER_WORDS[total]} significant weaknesses identified at the initial "
            f"inspection. The local area has not made sufficient progress in addressing "
            f"{NUMBER_WORDS[total - met]} significant weaknesses.",
            f"{did} not made sufficient progress in addressing {NUMBER_WORDS[total - met]} of "
            f"the {NUMBER_WORDS[total]} significant weaknesses identified at the initial "
            "inspection.",
            f"{did} not yet made sufficient progress in addressing all of the significant "
            "weaknesses identified at the initial inspection."][variant]


def _verdict(row: Row, n: int, met: bool) -> str:
    variant = (row.index + n) % 3
    if variant == 0:
        return ("The area has made sufficient progress in addressing this significant "
                "weakness." if met else "The area has not made sufficient progress in "
                "addressing this significant weakness.")
    if variant == 1:  # the weakness named again, not "this"
        return ("The area has made sufficient progress in addressing the significant "
                f"weakness in part {n}." if met else "The area has not made sufficient "
                f"progress in addressing the significant weakness in part {n}.")
    return ("Sufficient progress has been made in addressing this area of significant "
            "weakness." if met else "Sufficient progress has not yet been made in "
            "addressing this area of significant weakness.")


def revisit_letter(row: Row) -> list[Paragraph]:
    assert row.revisit is not None and row.met is not None and row.unmet is not None
    total = row.met + row.unmet
    end = row.revisit + timedelta(days=2)
    items = [
        ("heading", f"Joint local area SEND revisit in {row.area}"),
        ("text", f"Between {_long(row.revisit)} and {_long(end)}, Ofsted and the Care Quality "
                 f"Commission (CQC) revisited the area of {row.area} to decide whether "
                 "sufficient progress has been made in addressing each of the areas of "
                 "significant weakness detailed in the written statement of action."),
        ("text", _judgement(row, row.met, total)),
        ("heading", "Main findings"),
    ]
    for n in range(total):
        items += [("heading", f"Weakness {n + 1}: the quality of the area's work in part {n}"),
                  ("text", "Leaders have changed how panels decide."),
                  ("text", _verdict(row, n, n < row.met))]
    items += [("text", "Yours sincerely"), ("text", "A. N. Inspector")]
    return _paras(*items)


def test_every_published_wsoa_decision_and_count_is_read_back() -> None:
    rows = reference_rows()
    assert len(rows) == 149
    wrong = []
    for row in rows:
        letter = parse_document(first_letter(row)).letter
        la = lookup_area(letter.area, on=letter.inspection_start)
        got = (letter.framework, la and la.ons_code, letter.inspection_start, letter.outcome,
               letter.weaknesses_total if row.wsoa else None)
        want = ("send_2016", lookup_area(row.area, on=row.start.isoformat()).ons_code,
                row.start.isoformat(), "wsoa_required" if row.wsoa else "no_wsoa",
                row.weaknesses if row.wsoa else None)
        if got != want:
            wrong.append((row.area, got, want))
    assert not wrong, wrong


def test_every_published_revisit_outcome_and_count_is_read_back() -> None:
    rows = [r for r in reference_rows() if r.revisit and r.met is not None]
    assert len(rows) == 46
    outcomes = {"all": 0, "some": 0, "none": 0}
    wrong = []
    for row in rows:
        letter = parse_document(revisit_letter(row)).letter
        total = row.met + row.unmet
        kind = "all" if row.unmet == 0 else "none" if row.met == 0 else "some"
        outcomes[kind] += 1
        la = lookup_area(letter.area, on=letter.inspection_start)
        got = (letter.framework, la and la.ons_code, letter.inspection_start, letter.outcome,
               letter.weaknesses_progress, letter.weaknesses_total)
        want = ("revisit_2018", lookup_area(row.area, on=row.revisit.isoformat()).ons_code,
                row.revisit.isoformat(), f"sufficient_progress_{kind}", row.met, total)
        if got != want:
            wrong.append((row.area, row.index % 4, got, want))
    assert outcomes == {"all": 20, "some": 24, "none": 2}
    assert not wrong, wrong


@pytest.mark.parametrize("total", [1, 2, 5, 14])
def test_a_revisit_judged_in_any_wording_gives_its_count(total: int) -> None:
    # Every wording of every outcome, beyond the combinations the table's rows happen to
    # reach: 14 is the most weaknesses any area had.
    for index in range(12):  # every wording of the judgement with every verdict's
        for met in sorted({0, total // 2, total}):
            row = Row(index, "E00000000", "Harrowdale", date(2019, 10, 14), True, total,
                      date(2019, 10, 14), met, total - met)
            letter = parse_document(revisit_letter(row)).letter
            kind = "all" if met == total else "none" if met == 0 else "some"
            assert (letter.outcome, letter.weaknesses_progress, letter.weaknesses_total) == (
                f"sufficient_progress_{kind}", met, total), (index, met, total)
