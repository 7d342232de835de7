"""Framework recognition and metadata parsing, one pattern family at a time."""

from __future__ import annotations

import pytest

from scraper.parse import (
    NotASendLetter,
    assign_sections,
    detect_framework,
    parse_area,
    parse_date,
    parse_date_range,
    parse_document,
    parse_outcome_2023,
    parse_revisit_progress,
    parse_wsoa,
)
from scraper.records import Paragraph
from textmine.segment import segment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Inspection dates: 6 to 10 February 2023", ("2023-02-06", "2023-02-10")),
        ("23 September to 27 September 2024", ("2024-09-23", "2024-09-27")),
        ("20 March 2023 to 24 March 2023", ("2023-03-20", "2023-03-24")),
        ("30 January to 3 February 2017", ("2017-01-30", "2017-02-03")),
        ("29 January 2024 to 02 February 2024", ("2024-01-29", "2024-02-02")),
        ("Between 6 March 2017 and 10 March 2017, Ofsted", ("2017-03-06", "2017-03-10")),
        ("Between 27 and 29 November 2018", ("2018-11-27", "2018-11-29")),
        ("28 December to 2 January 2020", ("2019-12-28", "2020-01-02")),
        ("6 until 10 February 2023", ("2023-02-06", "2023-02-10")),
        ("23rd to 27th September 2024", ("2024-09-23", "2024-09-27")),
        ("16 May 2016", ("2016-05-16", "2016-05-16")),
        ("Not previously inspected", (None, None)),
    ],
)
def test_date_ranges(text: str, expected: tuple) -> None:
    assert parse_date_range(text) == expected


def test_impossible_dates_are_none_not_a_crash() -> None:
    assert parse_date("31 February 2023") is None


@pytest.mark.parametrize(
    ("head", "framework"),
    [
        ("Local Area Partnership report Area SEND inspection of Exampleshire Local Area "
         "Partnership", "area_send_2023"),
        ("Area SEND monitoring inspection of Exampleshire Local Area Partnership",
         "monitoring_2023"),
        ("Joint local area SEND inspection in Exampleshire Between 1 and 5 May 2017",
         "send_2016"),
        ("Joint local area SEND revisit in Exampleshire", "revisit_2018"),
        ("Ofsted and the CQC revisited the area of Exampleshire to decide whether",
         "revisit_2018"),
        ("Ofsted and the CQC revisited the local area of Exampleshire to decide whether",
         "revisit_2018"),
        # The title decides, not the history a report recalls.
        ("Area SEND inspection of Exampleshire Local Area Partnership Inspection dates: 4 to 8 "
         "March 2024. In 2019, Ofsted and CQC revisited the area and found progress.",
         "area_send_2023"),
        ("Joint local area SEND inspection in Exampleshire. The area was last inspected in 2012, "
         "before the joint local area SEND revisit in Otherside.", "send_2016"),
        # Both 2023 kinds of report carry the cover line; the title says which.
        ("Local Area Partnership report Area SEND monitoring inspection of Exampleshire Local "
         "Area Partnership", "monitoring_2023"),
    ],
)
def test_framework_is_recognised_from_content(head: str, framework: str) -> None:
    assert detect_framework(head) == framework


def test_other_ofsted_reports_are_not_send_letters() -> None:
    with pytest.raises(NotASendLetter, match="not a SEND inspection letter"):
        detect_framework("Focused visit to Exampleshire children's services")


@pytest.mark.parametrize(
    ("framework", "text", "area"),
    [
        ("area_send_2023", "Area SEND inspection of the Greenwich Local Area Partnership",
         "Greenwich"),
        ("area_send_2023", "Area SEND inspection of Stoke-on-Trent Local Area Partnership",
         "Stoke-on-Trent"),
        ("send_2016", "Joint local area SEND inspection in Kingston upon Hull\n\nDear Ms X",
         "Kingston upon Hull"),
        ("send_2016", "conducted a joint inspection of the local area of Rutland to judge",
         "Rutland"),
        ("revisit_2018", "Joint local area SEND revisit in Bury\n\n", "Bury"),
        # The short form the letter goes on to use is no part of the name.
        ("send_2016", "conducted a joint inspection of the local area of Bournemouth, "
         "Christchurch and Poole (BCP) to judge", "Bournemouth, Christchurch and Poole"),
    ],
)
def test_area_names(framework: str, text: str, area: str) -> None:
    assert parse_area(framework, text) == area


def test_an_area_from_the_title_alone_loses_its_the() -> None:
    assert parse_area("send_2016", "Dear Director",
                      title="Joint local area SEND inspection in the Wirral") == "Wirral"


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("The local area partnership’s arrangements typically lead to positive experiences and "
         "outcomes for children", "positive"),
        ("arrangements lead to inconsistent experiences and outcomes for children", "inconsistent"),
        ("There are widespread and/or systemic failings leading to significant concerns",
         "systemic_failings"),
    ],
)
def test_2023_outcomes(text: str, outcome: str) -> None:
    assert parse_outcome_2023(text) == outcome


_REVISIT_AIM = ("Inspectors revisited the area to decide whether the area had made sufficient "
                "progress in addressing each of the areas of significant weakness in the WSoA.")
_VERDICT = ("Leaders changed the panel. The area has {}made sufficient progress in addressing "
            "this significant weakness.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the local area has made sufficient progress in addressing two of the four significant "
         "weaknesses identified at the initial inspection. The local area has not made sufficient "
         "progress in addressing two significant weaknesses.", ("sufficient_progress_some", 2, 4)),
        ("The area has made sufficient progress in addressing all of the significant weaknesses",
         ("sufficient_progress_all", None, None)),
        ("has made sufficient progress in addressing all of the five significant weaknesses",
         ("sufficient_progress_all", 5, 5)),
        ("has made sufficient progress in addressing 3 of the 3 significant weaknesses",
         ("sufficient_progress_all", 3, 3)),
        ("has not made sufficient progress in addressing any of the significant weaknesses",
         ("sufficient_progress_none", 0, None)),
        ("has made sufficient progress in addressing none of the four significant weaknesses",
         ("sufficient_progress_none", 0, 4)),
        # What the revisit was to decide is not its judgement.
        (f"{_REVISIT_AIM} The inspectors judged that the area has not made sufficient progress "
         "in addressing any of the significant weaknesses.", ("sufficient_progress_none", 0, None)),
        ("The area has made sufficient progress in addressing both of the significant "
         "weaknesses.", ("sufficient_progress_all", 2, 2)),
        # Only the weaknesses without progress counted: the rest had it.
        ("The area has not made sufficient progress in addressing three of the four significant "
         "weaknesses.", ("sufficient_progress_some", 1, 4)),
        ("The area has not made sufficient progress in addressing two of the two significant "
         "weaknesses.", ("sufficient_progress_none", 0, 2)),
        # "Not yet ... all" is not "all"; each weakness's closing verdict gives the count.
        (f"{_REVISIT_AIM} The area has not yet made sufficient progress in addressing all of "
         f"the significant weaknesses. {_VERDICT.format('')} {_VERDICT.format('not ')} "
         f"{_VERDICT.format('not yet ')}", ("sufficient_progress_some", 1, 3)),
        # Without verdicts "not ... all" may be some or none: only the number is known.
        ("The area has not made sufficient progress in addressing all of the five significant "
         "weaknesses.", (None, None, 5)),
        (_REVISIT_AIM, (None, None, None)),
        # "Hasn't" is "has not".
        ("The area hasn't made sufficient progress in addressing two of the three significant "
         "weaknesses.", ("sufficient_progress_some", 1, 3)),
        (_VERDICT.format("") + " The area hasn't made sufficient progress in addressing this "
         "significant weakness.", ("sufficient_progress_some", 1, 2)),
        # Only the area's verdicts count: not a leader's claim, nor what "will not have" been.
        ("The area has not made sufficient progress in addressing all of the significant "
         f"weaknesses. {_VERDICT.format('')} {_VERDICT.format('not ')} Without a new panel "
         "the area will not have made sufficient progress in addressing this significant "
         "weakness. Leaders say they have made sufficient progress in addressing the weakness "
         "too.", ("sufficient_progress_some", 1, 2)),
        # The opening's "whether" is no judgement, even with a full stop in the name.
        ("Inspectors revisited the area to decide whether St. Jude's borough had made "
         "sufficient progress in addressing each of the significant weaknesses.",
         (None, None, None)),
        # An earlier "whether" in a judgement's sentence leaves the judgement.
        ("Having weighed whether enough has changed, inspectors judge that the area has made "
         "sufficient progress in addressing two of the three significant weaknesses.",
         ("sufficient_progress_some", 2, 3)),
        # A judgement whose sentence goes on to a "whether" is still the judgement.
        ("HMCI has determined that the area has made sufficient progress in addressing two of "
         "the four significant weaknesses, though it is unclear whether this will last.",
         ("sufficient_progress_some", 2, 4)),
        # Counts past twelve (Birmingham's revisit judged 13 weaknesses, Dudley's 14), and
        # "all five" without "of the".
        ("HMCI has determined that the area has made sufficient progress in addressing eight "
         "of the fourteen significant weaknesses.", ("sufficient_progress_some", 8, 14)),
        ("The area has made sufficient progress in addressing all five significant "
         "weaknesses.", ("sufficient_progress_all", 5, 5)),
        # "Not ... all" is never "all", even when only the met weaknesses have a verdict.
        ("The area has not yet made sufficient progress in addressing all of the three "
         f"significant weaknesses. {_VERDICT.format('')} {_VERDICT.format('')}",
         (None, None, 3)),
        # The weaknesses named by their number alone ("the three areas of significant
        # weakness", "the one significant weakness"), or without "significant": all of them.
        ("The area has made sufficient progress in addressing the three areas of significant "
         "weakness identified at the initial inspection.", ("sufficient_progress_all", 3, 3)),
        ("The area has made sufficient progress in addressing the four significant "
         "weaknesses.", ("sufficient_progress_all", 4, 4)),
        ("The area has not made sufficient progress in addressing the two areas of weakness "
         "found at the first inspection.", ("sufficient_progress_none", 0, 2)),
        # One weakness, named again in its verdict: one, not two.
        ("The area has made sufficient progress in addressing the area of significant weakness "
         "identified at the initial inspection. " + _VERDICT.format(""),
         ("sufficient_progress_all", 1, 1)),
        # "All" or "any" without a number: the verdicts give it, active or passive.
        ("The area has made sufficient progress in addressing all of the significant "
         "weaknesses. Leaders changed the panel. Sufficient progress has been made in "
         "addressing this significant weakness. " + _VERDICT.format(""),
         ("sufficient_progress_all", 2, 2)),
        ("The area has not made sufficient progress in addressing any of the significant "
         f"weaknesses. {_VERDICT.format('not ')} Sufficient progress has not been made in "
         f"addressing this significant weakness. {_VERDICT.format('not yet ')}",
         ("sufficient_progress_none", 0, 3)),
        ("The area has not yet made sufficient progress in addressing all of the significant "
         "weaknesses. Sufficient progress has been made in addressing this area of significant "
         "weakness. Sufficient progress has not yet been made in addressing this area of "
         "significant weakness.", ("sufficient_progress_some", 1, 2)),
        # A weakness's verdict may name it "the significant weakness in X": one of several,
        # not the judgement of one weakness, and a "not ... all" judgement is never "all".
        ("The area has not made sufficient progress in addressing all of the significant "
         "weaknesses. The area has made sufficient progress in addressing the significant "
         "weakness in plans. The area has not made sufficient progress in addressing the "
         "significant weakness in therapy. The area has not made sufficient progress in "
         "addressing the significant weakness in outcomes.", ("sufficient_progress_some", 1, 3)),
        # "The significant weaknesses" is all of them, however many; "either" is two; "the
        # weakness identified" is the one there was.
        ("HMCI has determined that the area has made sufficient progress in addressing the "
         "significant weaknesses identified at the initial inspection.",
         ("sufficient_progress_all", None, None)),
        ("HMCI has determined that the area has made sufficient progress in addressing the "
         "significant weaknesses identified at the initial inspection. " + _VERDICT.format("")
         + " " + _VERDICT.format(""), ("sufficient_progress_all", 2, 2)),
        ("The area has not made sufficient progress in addressing either of the significant "
         "weaknesses.", ("sufficient_progress_none", 0, 2)),
        ("The area has not made sufficient progress in addressing the weakness identified at "
         "the initial inspection.", ("sufficient_progress_none", 0, 1)),
        # A superscript (a footnote mark) is a digit to isdigit() but not to int(): the
        # letter failed to import. It is no count, and the judgement is left unread.
        ("The area has made sufficient progress in addressing \u00b2 of the three "
         "significant weaknesses.", (None, None, None)),
        ("The area has made sufficient progress in addressing \u0662 of the three "
         "significant weaknesses.", ("sufficient_progress_some", 2, 3)),
    ],
)
def test_revisit_progress(text: str, expected: tuple) -> None:
    assert parse_revisit_progress(text) == expected


def test_wsoa_decision() -> None:
    required = (
        "HMCI has determined that a Written Statement of Action (WSoA) is required because of "
        "significant areas of weakness in the local area's practice."
    )
    assert parse_wsoa(required) == "wsoa_required"
    assert parse_wsoa("The local area is required to produce and submit a Written Statement "
                      "of Action to Ofsted") == "wsoa_required"
    assert parse_wsoa("a Written Statement of Action is not required") == "no_wsoa"
    # "not required to produce" holds "required to produce": the negation wins.
    assert parse_wsoa("The local area is not required to produce a written statement of "
                      "action.") == "no_wsoa"
    # By its acronym, once spelt out earlier in the letter: either way.
    assert parse_wsoa("The local area is required to produce and submit a WSoA to Ofsted.") \
        == "wsoa_required"
    assert parse_wsoa("The local area is not required to produce a WSoA.") == "no_wsoa"
    assert parse_wsoa("Yours sincerely") == "no_wsoa"
    assert parse_wsoa("Inspectors have determined that the local area must produce and submit "
                      "a Written Statement of Action to Ofsted.") == "wsoa_required"
    # Other written statements are no WSoA; "required to produce" one of action is.
    assert parse_wsoa("Leaders must produce a written statement of how they will work with "
                      "families.") == "no_wsoa"
    assert parse_wsoa("Schools are required to produce and submit a written statement of their "
                      "offer to parents.") == "no_wsoa"
    assert parse_wsoa("The local area is required to produce a written statement of action "
                      "to Ofsted.") == "wsoa_required"
    # Told after the event, or "submit" without "produce".
    assert parse_wsoa("HMCI determined that a Written Statement of Action was required because "
                      "of significant weaknesses.") == "wsoa_required"
    assert parse_wsoa("A written statement of action was not required.") == "no_wsoa"
    assert parse_wsoa("The area is required to submit a written statement of action to "
                      "Ofsted.") == "wsoa_required"


@pytest.mark.parametrize("intro", [
    "The local area is required to produce and submit a Written Statement of Action to Ofsted "
    "that explains how the local area will tackle the following areas of significant weakness:",
    "Because of these weaknesses, HMCI has determined that the local area must produce and "
    "submit a written statement of action that sets out how it will tackle the following:",
    "The Chief Inspector has determined that the local area is required to produce and submit "
    "a written statement of action to tackle the following areas of significant weakness:",
    "As a result of this inspection, HMCI has determined that the local area is required to "
    "produce and submit a Written Statement of Action to Ofsted that explains how it will tackle "
    "the following areas of significant weakness:",
    "Inspectors have determined that the local area must produce and submit a Written Statement "
    "of Action setting out how it will tackle the following areas of significant weakness:",
    # Opened by words of no list: the clause before the subject stays with it.
    "Given these weaknesses, HMCI has determined that the local area must produce and submit a "
    "written statement of action that sets out how it will tackle the following:",
    "In light of the significant weaknesses identified, Her Majesty's Chief Inspector has "
    "decided that the area must produce and submit a written statement of action to tackle the "
    "following areas of significant weakness:",
    # An acronym, a possessive, a number, a second comma in the clause (SEND was cut in two).
    "Given the weaknesses in SEND arrangements, HMCI has determined that the local area must "
    "produce and submit a written statement of action that sets out the following:",
    "In light of Ofsted's findings, HMCI has determined that the local area must produce and "
    "submit a written statement of action that sets out the following:",
    "Therefore, in light of these 4 weaknesses, HMCI has determined that the local area must "
    "produce and submit a written statement of action that sets out the following:",
    # Ofsted named beside the CQC, an acronym's possessive, a range of ages.
    "In light of Ofsted and CQC's findings, HMCI has determined that the local area must "
    "produce and submit a written statement of action that sets out the following:",
    "Given the weaknesses in 0-25 services, HMCI has determined that the local area must "
    "produce and submit a written statement of action that sets out the following:",
    # "Now", and the two bodies named as the subject.
    "The local area is now required to produce and submit a Written Statement of Action to "
    "Ofsted that explains how the local area will tackle the following areas of weakness:",
    "HMCI has determined that the local authority and the CCG are required to produce and "
    "submit a written statement of action that explains how they will tackle the following:",
])
def test_the_closing_list_of_significant_weaknesses_is_found_however_it_is_introduced(
    intro: str
) -> None:
    doc = assign_sections("send_2016", _paras(
        ("heading", "Areas for development"),
        # Run into the last bullet, as the extraction may give it.
        ("bullet", f"Few young people have a plan for moving into adult health services. {intro}"),
        ("bullet", "the slow issue of plans for children in the early years"),
        ("bullet", "the weak part health services play in assessments Yours sincerely"),
        ("text", "A. N. Inspector"),
    ))
    got = [(s, p.text[:40]) for p, (s, _) in zip(doc.paragraphs, doc.para_sections)
           if p.kind == "bullet"]
    # The introduction is whole, and under the closing list.
    assert [s for p, (s, _) in zip(doc.paragraphs, doc.para_sections) if p.text == intro] == [
        "actions"]
    assert got == [("weaknesses", "Few young people have a plan for moving "),
                   ("actions", "the slow issue of plans for children in "),
                   ("actions", "the weak part health services play in as")]
    assert doc.para_sections[-1][0] == "boilerplate"


def test_a_closing_list_introduced_straight_after_a_bullet_leaves_the_bullet_alone() -> None:
    # The last Areas-for-development bullet has no full stop; the introduction runs on.
    doc = assign_sections("send_2016", _paras(
        ("heading", "Areas for development"),
        ("bullet", "the wait for therapy is too long As a result of this inspection, HMCI has "
                   "determined that the local area is required to produce and submit a Written "
                   "Statement of Action that explains how it will tackle the following areas "
                   "of significant weakness:"),
        ("bullet", "the slow issue of plans"),
    ))
    got = [(s, p.text[:30]) for p, (s, _) in zip(doc.paragraphs, doc.para_sections)]
    assert got[1:] == [("weaknesses", "the wait for therapy is too lo"),
                       ("actions", "As a result of this inspection"),
                       ("actions", "the slow issue of plans")]


def test_a_last_bullet_ending_in_a_name_keeps_it_before_a_closing_list_clause() -> None:
    doc = assign_sections("send_2016", _paras(
        ("heading", "Areas for development"),
        ("bullet", "too little is published on the Local Offer Given these weaknesses, HMCI "
                   "has determined that the local area must produce and submit a written "
                   "statement of action that sets out the following:"),
        ("bullet", "the slow issue of plans"),
    ))
    got = [(s, p.text) for p, (s, _) in zip(doc.paragraphs, doc.para_sections)]
    assert got[1][0] == "weaknesses" and got[1][1].endswith("published on the Local Offer")
    assert got[2][0] == "actions" and got[2][1].startswith("Given these weaknesses, HMCI")


def test_a_written_statement_following_the_inspection_opens_no_closing_list() -> None:
    # "following" as a preposition: no list is introduced.
    doc = assign_sections("send_2016", _paras(
        ("heading", "Joint local area SEND inspection in Exampleshire"),
        ("text", "HMCI has determined that the local area must produce and submit a written "
                 "statement of action following this inspection."),
        ("bullet", "Leaders know the area well."),
    ))
    assert "actions" not in [s for s, _ in doc.para_sections]


def test_each_part_heading_of_a_2016_letter_opens_its_part() -> None:
    # The three parts of the first framework, however the middle one is worded; each
    # opens its own span of the text, its own Strengths and Areas for development after it.
    parts = ["The effectiveness of the local area in identifying children and young people "
             "who have special educational needs and/or disabilities",
             "The effectiveness of the local area in meeting the needs of children and young "
             "people who have special educational needs and/or disabilities",
             "The effectiveness of the local area in improving outcomes for children and young "
             "people who have special educational needs and/or disabilities"]
    items: list[tuple[str, str]] = []
    for part in parts:
        items += [("heading", part), ("heading", "Strengths"), ("bullet", "Good work."),
                  ("heading", "Areas for development"), ("bullet", "Slow work.")]
    doc = assign_sections("send_2016", _paras(*items))
    assert [h for s, h in doc.para_sections if s == "context"] == parts
    assert [s for p, (s, _) in zip(doc.paragraphs, doc.para_sections) if p.kind == "bullet"] \
        == ["strengths", "weaknesses"] * 3


def test_a_written_statement_mentioned_in_passing_opens_no_closing_list() -> None:
    doc = assign_sections("send_2016", _paras(
        ("heading", "Areas for development"),
        ("bullet", "Leaders must produce and submit a written statement of action quickly."),
    ))
    assert [s for s, _ in doc.para_sections] == ["weaknesses", "weaknesses"]


def _paras(*items: tuple[str, str]) -> list[Paragraph]:
    return [Paragraph(text, 1, kind) for kind, text in items]


def test_headings_map_to_canonical_sections_and_repeated_table_headers_vanish() -> None:
    doc = assign_sections(
        "area_send_2023",
        _paras(
            ("heading", "Inspection outcome"),
            ("text", "Arrangements lead to inconsistent experiences and outcomes."),
            ("text", "What is the area partnership doing that is effective?"),
            ("bullet", "Leaders work well together."),
            ("text", "What does the area partnership need to do better?"),
            ("bullet", "Waiting times are too long."),
            ("heading", "Areas for improvement"),
            ("text", "Areas for improvement Leaders should reduce waiting times."),
            ("heading", "Local area partnership details"),
            ("text", "Some address."),
        ),
    )
    sections = [s for s, _ in doc.para_sections]
    texts = [p.text for p in doc.paragraphs]
    assert "Leaders should reduce waiting times." in texts
    assert sections[texts.index("Leaders should reduce waiting times.")] == "actions"
    assert sections[texts.index("Leaders work well together.")] == "strengths"
    assert sections[texts.index("Waiting times are too long.")] == "weaknesses"
    assert sections[texts.index("Some address.")] == "boilerplate"
    # The table's column header is not a second "Areas for improvement" heading.
    assert texts.count("Areas for improvement") == 1


def test_responsible_body_cells_in_plain_text_are_not_passages() -> None:
    # Some reports set the table's "Responsible body" column in plain text: the cell
    # stands alone, or runs into the action beside it when the action starts the same way.
    doc = assign_sections(
        "area_send_2023",
        _paras(
            ("heading", "Areas for priority action"),
            ("text", "Responsible body Areas for priority action Borsetshire Council"),
            ("text", "Leaders should publish the waiting times for therapy."),
            ("text", "Borsetshire Council, NHS Felpersham Integrated Care Board."),
            ("text", "Leaders must agree how they fund therapy together."),
            ("text", "Borsetshire County Council Borsetshire County Council leaders should "
                     "track exclusions."),
            # Recommendations without a verb, or wrapped onto a paragraph of their own.
            ("text", "Better joint commissioning across the partnership."),
            ("text", "partnership and the Integrated Care Board."),
            ("heading", "Areas for improvement"),
            ("text", "The partnership board should meet more often."),
        ),
    )
    passages = [(p.text, s) for i, (p, (s, _)) in enumerate(zip(doc.paragraphs,
                                                                 doc.para_sections))
                if i not in doc.heading_paras]
    assert passages == [
        ("Leaders should publish the waiting times for therapy.", "actions"),
        ("Leaders must agree how they fund therapy together.", "actions"),
        ("Borsetshire County Council leaders should track exclusions.", "actions"),
        ("Better joint commissioning across the partnership.", "actions"),
        ("partnership and the Integrated Care Board.", "actions"),
        # Past the table, a sentence naming a body is a sentence.
        ("The partnership board should meet more often.", "actions"),
    ]


def test_heading_run_into_text_is_split() -> None:
    doc = assign_sections(
        "area_send_2023",
        _paras(("text", "Information about the local area partnership The council and the ICB "
                        "are responsible.")),
    )
    assert [p.text for p in doc.paragraphs] == [
        "Information about the local area partnership",
        "The council and the ICB are responsible.",
    ]
    assert doc.para_sections[1][0] == "context"


def test_a_sentence_starting_like_a_heading_is_not_one() -> None:
    doc = assign_sections(
        "area_send_2023",
        _paras(("heading", "What does the area partnership need to do better?"),
               ("bullet", "Information about the curriculum offer is not shared.")),
    )
    assert doc.para_sections[1][0] == "weaknesses"
    assert len(doc.paragraphs) == 2


def test_document_without_an_area_is_rejected_clearly() -> None:
    with pytest.raises(NotASendLetter, match="area"):
        parse_document(_paras(("text", "Joint local area SEND revisit in")))


@pytest.mark.parametrize(("title", "opening", "dates"), [
    ("Exampleshire", "From 6 to 10 November 2016, Ofsted and the Care Quality Commission (CQC) "
     "conducted a joint inspection of the local area of Exampleshire to judge the "
     "effectiveness of the area. Inspectors heard from 12 families.",
     ("2016-11-06", "2016-11-10")),
    # A "between" that holds no date does not hide them.
    ("St. Exampleton", "From 6 to 10 November 2016, inspectors looked at the links between "
     "schools and health services in the local area.", ("2016-11-06", "2016-11-10")),
    # Within its sentence, and the earliest: neither the next sentence's date nor a later
    # "between" two dates.
    ("Exampleshire", "From 6 to 10 March 2017, inspectors looked at how the links between "
     "schools and clinics work. A letter dated 3 January 2017 was sent to parents. Plans "
     "issued between 1 September 2015 and 31 August 2016 were read.",
     ("2017-03-06", "2017-03-10")),
])
def test_inspection_dates_given_as_from_one_day_to_another(
    title: str, opening: str, dates: tuple[str, str]
) -> None:
    doc = parse_document(_paras(("heading", f"Joint local area SEND inspection in {title}"),
                                ("text", opening)))
    assert (doc.letter.inspection_start, doc.letter.inspection_end) == dates
    assert doc.letter.area == title  # from the title: "St." ends no name


def test_a_heading_before_a_revisits_judgement_is_no_weakness() -> None:
    # The opening says what the revisit will decide ("whether ... sufficient progress"):
    # that is not the judgement, and a heading after it is still part of the opening.
    doc = parse_document(_paras(
        ("heading", "Joint local area SEND revisit in Exampleshire"),
        ("text", f"Between 3 March 2020 and 5 March 2020, Ofsted and the CQC revisited the area "
                 f"of Exampleshire. {_REVISIT_AIM}"),
        ("heading", "What this letter tells families about the revisit"),
        ("text", "Inspectors met parents and carers and read case files."),
        ("text", "HMCI has determined that the area has made sufficient progress in addressing "
                 "two of the three significant weaknesses."),
        ("heading", "Area of significant weakness 1: the late issue of plans"),
        ("text", "Plans are now issued on time."),
    ))
    assert doc.weakness_headings == ["Area of significant weakness 1: the late issue of plans"]


def test_revisit_weakness_sections_without_a_main_findings_heading() -> None:
    doc = parse_document(_paras(
        ("heading", "Joint local area SEND revisit in Exampleshire"),
        ("text", f"Between 3 March 2020 and 5 March 2020, Ofsted and the CQC revisited the area "
                 f"of Exampleshire. {_REVISIT_AIM}"),
        ("text", "HMCI has determined that the area has made sufficient progress in addressing "
                 "all of the significant weaknesses identified at the initial inspection."),
        ("heading", "Area of significant weakness 1: the late issue of plans"),
        ("text", "Plans are now issued within 20 weeks."),
        ("heading", "Area of significant weakness 2: weak joint commissioning"),
        ("text", "Leaders now commission speech therapy together."),
    ))
    assert doc.weakness_headings == ["Area of significant weakness 1: the late issue of plans",
                                     "Area of significant weakness 2: weak joint commissioning"]
    assert (doc.letter.outcome, doc.letter.weaknesses_progress, doc.letter.weaknesses_total) == (
        "sufficient_progress_all", 2, 2)
    assert [s.canonical for s in doc.letter.sections] == ["context", "main_findings",
                                                          "main_findings"]


def test_revisit_weaknesses_opened_by_what_the_first_inspection_found() -> None:
    # Some revisit letters open each weakness with a sentence, not a heading: every passage
    # was cited under "Main findings", and a letter without verdict sentences counted none.
    opener = "At the initial inspection, inspectors found that {} "
    doc = parse_document(_paras(
        ("heading", "Joint local area SEND revisit in Exampleshire"),
        ("text", f"Between 3 March 2020 and 5 March 2020, Ofsted and the CQC revisited the area "
                 f"of Exampleshire. {_REVISIT_AIM}"),
        ("heading", "Main findings"),
        ("text", opener.format("plans were late.") + "Plans are now issued on time."),
        ("bullet", "Families say the wait is shorter."),
        ("text", opener.format("the local offer was hard to use.")),
        ("bullet", "The local offer was rebuilt with parents."),
    ))
    assert doc.weakness_headings == [opener.format("plans were late.").strip(),
                                     opener.format("the local offer was hard to use.").strip()]
    assert doc.letter.weaknesses_total == 2
    cited = [(s.canonical, s.heading) for s in doc.letter.sections]
    assert cited[-2:] == [("main_findings", h) for h in doc.weakness_headings]
    # The opening sentence stays text of its section (it says what was wrong).
    assert "Plans are now issued on time." in doc.text and "plans were late." in doc.text
    # A letter that prints a heading for each weakness keeps them: the sentence under one
    # opens its text, and is no second weakness. Nor is a recap of how many there were.
    opening = (f"Between 3 March 2020 and 5 March 2020, Ofsted and the CQC revisited the area "
               f"of Exampleshire. {_REVISIT_AIM}")
    doc = parse_document(_paras(
        ("heading", "Joint local area SEND revisit in Exampleshire"), ("text", opening),
        ("heading", "Main findings"),
        ("text", "At the initial inspection in 2017, inspectors found that the area had two "
                 "significant weaknesses."),
        ("heading", "The late issue of education, health and care plans"),
        ("text", opener.format("plans were late.") + "Plans are now issued on time."),
        ("heading", "The weak involvement of parents in planning services"),
        ("text", opener.format("parents were not involved.") + "They now sit on the board."),
    ))
    assert doc.weakness_headings == ["The late issue of education, health and care plans",
                                     "The weak involvement of parents in planning services"]
    assert doc.letter.weaknesses_total == 2


def test_a_monitoring_reports_verdicts_are_read_past_its_first_page() -> None:
    filler = "Inspectors read plans and met families in every part of the area. " * 70
    verdict = "The area has {}made sufficient progress in addressing this area for priority action."
    doc = parse_document(_paras(
        ("heading", "Area SEND monitoring inspection of Exampleshire Local Area Partnership"),
        ("text", "Inspection dates: 4 to 6 March 2025"),
        ("text", "The local area partnership has not made sufficient progress in addressing "
                 "all of the three areas for priority action."),
        ("text", filler),
        ("text", verdict.format("")), ("text", verdict.format("not ")),
        ("text", verdict.format("not ")),
    ))
    assert (doc.letter.outcome, doc.letter.weaknesses_progress, doc.letter.weaknesses_total) == (
        "insufficient_progress", 1, 3)


def test_a_2023_report_without_an_outcome_heading_takes_its_outcome_from_the_opening() -> None:
    # The heading garbled in extraction: the outcome sentence is still in the report.
    doc = parse_document(_paras(
        ("heading", "Area SEND inspection of Exampleshire Local Area Partnership"),
        ("text", "Inspection dates: 4 to 8 March 2024"),
        ("text", "The local area partnership's arrangements typically lead to positive "
                 "experiences and outcomes for children and young people with SEND."),
    ))
    assert doc.letter.outcome == "positive"


def test_an_area_not_previously_inspected_has_no_previous_inspection_date() -> None:
    # A date soon after the words is not the previous inspection's.
    doc = parse_document(_paras(
        ("heading", "Area SEND inspection of Exampleshire Local Area Partnership"),
        ("text", "Inspection dates: 4 to 8 March 2024"),
        ("text", "Dates of previous inspection: Not previously inspected; published 2 May 2024"),
    ))
    assert doc.letter.inspection_start == "2024-03-04"
    assert doc.letter.previous_inspection is None


_OPENING_2016 = ("Between 6 March 2017 and 10 March 2017, Ofsted and the Care Quality Commission "
                 "(CQC) conducted a joint inspection of the local area of Exampleshire to judge "
                 "the effectiveness of the area in implementing the reforms.")


def test_strengths_and_areas_for_development_set_with_a_colon_are_headings() -> None:
    # Ending in ":", they read as sentences: the part's findings were filed as its
    # background (context), and "Strengths:" made a passage of its own.
    doc = parse_document(_paras(
        ("heading", "Joint local area SEND inspection in Exampleshire"),
        ("text", _OPENING_2016),
        ("heading", "The effectiveness of the local area in identifying children and young "
                    "people who have special educational needs and/or disabilities"),
        ("text", "Strengths:"),
        ("bullet", "Needs are identified early."),
        ("text", "Areas for development:"),
        ("bullet", "Needs are identified late in secondary schools."),
    ))
    got = [(p.text, s) for i, (p, (s, _)) in enumerate(zip(doc.paragraphs, doc.para_sections))
           if i not in doc.heading_paras]
    assert got == [(_OPENING_2016, "context"),
                   ("Needs are identified early.", "strengths"),
                   ("Needs are identified late in secondary schools.", "weaknesses")]


def test_a_closing_list_naming_the_statement_by_its_acronym_is_the_closing_list() -> None:
    # "... required to produce and submit a WSOA to Ofsted ...": the list was filed as the
    # last part's areas for development, and the letter counted no significant weakness.
    doc = parse_document(_paras(
        ("heading", "Joint local area SEND inspection in Exampleshire"),
        ("text", _OPENING_2016),
        ("text", "Her Majesty's Chief Inspector (HMCI) has determined that a Written Statement "
                 "of Action (WSOA) is required because of significant areas of weakness in the "
                 "area's practice."),
        ("heading", "Areas for development"),
        ("bullet", "Too many pupils are excluded."),
        ("text", "The area is required to produce and submit a WSOA to Ofsted that explains how "
                 "the area will tackle the following areas of significant weakness:"),
        ("bullet", "the poor timeliness and quality of EHC plans"),
        ("bullet", "the long waiting times for speech and language therapy"),
        ("bullet", "the high rate of exclusion of pupils with SEND."),
    ))
    sections = dict(zip((p.text for p in doc.paragraphs), (s for s, _ in doc.para_sections)))
    assert sections["Too many pupils are excluded."] == "weaknesses"
    assert sections["the poor timeliness and quality of EHC plans"] == "actions"
    assert (doc.letter.outcome, doc.letter.weaknesses_total) == ("wsoa_required", 3)
    assert parse_wsoa("The area must produce and submit a WSOA to Ofsted.") == "wsoa_required"


def test_a_short_sentence_after_a_heading_run_into_it_is_a_passage_not_a_heading() -> None:
    # Line breaks lost: the outcome's heading and its one-sentence verdict on one line. The
    # sentence is short, like a sub-heading, but it ends with a full stop: it is text.
    verdict = ("Exampleshire's partners give children with SEND help of uneven quality, "
               "inspectors judged.")
    doc = parse_document(_paras(
        ("heading", "Area SEND inspection of Exampleshire Local Area Partnership"),
        ("text", f"Inspection dates: 4 to 8 March 2024 Inspection outcome {verdict}"),
    ))
    assert len(verdict) < 160
    assert [(p.section, p.heading, p.text) for p in segment(doc)] == [
        ("outcome", "Inspection outcome", verdict)]


def test_a_heading_run_into_a_quotation_is_split() -> None:
    # 2023 reports quote children and families: a heading whose next line opens with the
    # quotation's mark was left in the paragraph, and its section was lost.
    doc = assign_sections("area_send_2023", _paras(
        ("heading", "Inspection outcome"),
        ("text", "Leaders know what they must improve."),
        ("text", "What is it like to be a child or young person with SEND in this area? "
                 "\"We are listened to,\" one young person told inspectors."),
    ))
    got = [(p.text, s) for i, (p, (s, _)) in enumerate(zip(doc.paragraphs, doc.para_sections))
           if i not in doc.heading_paras]
    assert got[1:] == [("\"We are listened to,\" one young person told inspectors.", "experience")]
    assert [doc.paragraphs[i].text for i in sorted(doc.heading_paras)] == [
        "Inspection outcome",
        "What is it like to be a child or young person with SEND in this area?"]


def test_a_heading_repeated_in_other_capitals_adds_no_section() -> None:
    # The table's column header repeats the heading in its own capitals: the same section.
    doc = parse_document(_paras(
        ("heading", "Area SEND inspection of Exampleshire Local Area Partnership"),
        ("text", "Inspection dates: 4 to 8 March 2024"),
        ("heading", "Areas for improvement"),
        ("heading", "AREAS FOR IMPROVEMENT"),
        ("text", "Leaders should reduce waiting times."),
    ))
    assert [(s.canonical, s.heading) for s in doc.letter.sections][-1:] == [
        ("actions", "Areas for improvement")]
    assert len(doc.heading_paras) == 2  # the title and the heading, once


def test_a_long_responsible_body_cell_is_not_a_passage() -> None:
    # A cell may name several bodies at length: still a cell, not a recommendation.
    cell = ("Borsetshire County Council, NHS Felpersham and Borsetshire Integrated Care Board "
            "and Borsetshire Community Health NHS Trust")
    doc = assign_sections("area_send_2023", _paras(
        ("heading", "Areas for priority action"),
        ("text", "Responsible body Areas for priority action"),
        ("text", cell),
        ("text", "Leaders should publish the waiting times for therapy."),
    ))
    assert len(cell) > 100
    texts = [p.text for i, p in enumerate(doc.paragraphs) if i not in doc.heading_paras]
    assert texts == ["Leaders should publish the waiting times for therapy."]


def test_a_revisits_recap_of_how_many_weaknesses_there_were_opens_no_section() -> None:
    # "... found that the area had several significant weaknesses" says how many there
    # were, in words that name no number: it is not the first weakness.
    opener = "At the initial inspection, inspectors found that {} "
    for recap in ("several significant weaknesses.", "a number of significant weaknesses."):
        doc = parse_document(_paras(
            ("heading", "Joint local area SEND revisit in Exampleshire"),
            ("text", f"Between 3 March 2020 and 5 March 2020, Ofsted and the CQC revisited the "
                     f"area of Exampleshire. {_REVISIT_AIM}"),
            ("heading", "Main findings"),
            ("text", opener.format("the area had " + recap)),
            ("text", opener.format("plans were late.") + "Plans are now issued on time."),
            ("text", opener.format("the local offer was hard to use.") + "It was rebuilt."),
        ))
        assert doc.weakness_headings == [
            opener.format("plans were late.").strip(),
            opener.format("the local offer was hard to use.").strip()], recap


def test_a_short_sub_heading_in_a_revisit_is_no_weakness() -> None:
    # Under a weakness's heading, a short sub-heading is part of that weakness's section.
    doc = parse_document(_paras(
        ("heading", "Joint local area SEND revisit in Exampleshire"),
        ("text", f"Between 3 March 2020 and 5 March 2020, Ofsted and the CQC revisited the area "
                 f"of Exampleshire. {_REVISIT_AIM}"),
        ("heading", "Main findings"),
        ("heading", "The late issue of education, health and care plans"),
        ("text", "Plans are now issued on time."),
        ("heading", "Evidence of impact"),
        ("text", "Families say the wait is shorter."),
    ))
    assert doc.weakness_headings == ["The late issue of education, health and care plans"]
    assert doc.letter.weaknesses_total == 1


def test_a_previous_inspection_given_in_a_sentence_is_read() -> None:
    # Without a "Date of previous inspection" line, the sentence that gives it.
    doc = parse_document(_paras(
        ("heading", "Area SEND inspection of Exampleshire Local Area Partnership"),
        ("text", "Inspection dates: 4 to 8 March 2024"),
        ("text", "The previous inspection was on 12 March 2018, and a revisit followed."),
    ))
    assert doc.letter.previous_inspection == "2018-03-12"


def test_a_sentence_opening_like_a_parts_heading_inside_a_paragraph_is_not_split() -> None:
    # A part's heading is split out of a paragraph only where it ends the paragraph: a
    # sentence that opens with its words and goes on in capitals ("SEND Support") stays.
    sentence = ("Leaders have improved the training of staff. The effectiveness of the local area "
                "in identifying children at SEND Support is improving.")
    doc = parse_document(_paras(
        ("heading", "Joint local area SEND inspection in Exampleshire"),
        ("text", _OPENING_2016),
        ("heading", "Main findings"),
        ("text", sentence),
    ))
    assert [(p.text, s) for i, (p, (s, _)) in enumerate(zip(doc.paragraphs, doc.para_sections))
            if i not in doc.heading_paras][-1] == (sentence, "main_findings")
