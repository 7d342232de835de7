"""Sentence splitting and passages."""

from __future__ import annotations

from scraper.parse import assign_sections
from scraper.records import Paragraph
from textmine.segment import list_lead_ins, segment, split_sentences


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_splits_on_sentence_ends_only() -> None:
    text = (
        "Leaders know their area well, e.g. through data. Waiting times (e.g. for CAMHS) are "
        "too long! Is this improving? Dr. Smith said so. The 20-week target was met in 2023."
    )
    assert sentences(text) == [
        "Leaders know their area well, e.g. through data.",
        "Waiting times (e.g. for CAMHS) are too long!",
        "Is this improving?",
        "Dr. Smith said so.",
        "The 20-week target was met in 2023.",
    ]


def test_a_sentence_ending_on_an_acronym_or_etc_ends_there() -> None:
    # "HMCI.", "etc." or "no." before a capital had joined two sentences into one passage
    # (and its tags); "no." before a figure, and "e.g." or "Dr." before a name, do not end one.
    assert sentences("The findings went to HMCI. Leaders agreed. Some met HMI. Others did "
                     "not. It covers therapy, respite, etc. Families value it. Most said no. "
                     "Plan no. 4 was late. See e.g. Table 2. Nos. 5 and 6 were too.") == [
        "The findings went to HMCI.", "Leaders agreed.", "Some met HMI.", "Others did not.",
        "It covers therapy, respite, etc.", "Families value it.", "Most said no.",
        "Plan no. 4 was late.", "See e.g. Table 2.", "Nos. 5 and 6 were too."]


def test_quotes_and_brackets_stay_with_their_sentence() -> None:
    text = "Families call it ‘a lifeline.’ Others disagree (as inspectors found.) Then more."
    assert sentences(text) == [
        "Families call it ‘a lifeline.’",
        "Others disagree (as inspectors found.)",
        "Then more.",
    ]


def test_lower_case_after_a_full_stop_is_not_a_new_sentence() -> None:
    # An abbreviation the list does not know ("wks.") must not cut the sentence.
    assert sentences("Children wait 18 wks. on average for an assessment. It is too long.") == [
        "Children wait 18 wks. on average for an assessment.", "It is too long."]


def test_passages_carry_section_heading_paragraph_and_offsets() -> None:
    doc = assign_sections(
        "area_send_2023",
        [
            Paragraph("What is the area partnership doing that is effective?", 1, "text"),
            Paragraph("Leaders work well. Families value the forum.", 1, "bullet"),
            Paragraph("What does the area partnership need to do better?", 2, "text"),
            Paragraph("Plans are late.", 2, "bullet"),
            Paragraph("Local area partnership details", 2, "heading"),
            Paragraph("An address line.", 2, "text"),
        ],
    )
    passages = segment(doc)
    assert [(p.section, p.paragraph, p.text) for p in passages] == [
        ("strengths", 2, "Leaders work well."),
        ("strengths", 2, "Families value the forum."),
        ("weaknesses", 4, "Plans are late."),
    ]
    assert passages[0].heading == "What is the area partnership doing that is effective?"
    for p in passages:
        assert doc.text[p.char_start : p.char_end] == p.text
    assert [p.seq for p in passages] == [1, 2, 3]


def test_initials_do_not_end_a_sentence() -> None:
    text = "Ms J. Smith chairs the parent carer forum. It meets every month."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Ms J. Smith chairs the parent carer forum.", "It meets every month."]


def test_list_items_get_the_sentences_that_open_their_list() -> None:
    passages = [
        ("p1", 1, "actions", "Leaders should improve the support for families."),
        ("p2", 2, "actions", "Leaders should improve waiting times."),
        ("p3", 2, "actions", "This includes:"),
        ("p4", 3, "actions", "speech and language therapy; and"),
        ("p5", 4, "actions", "EHC plans that are late."),
        ("p6", 5, "actions", "Leaders should also publish the local offer."),
        ("p7", 6, "actions", "occupational therapy"),  # no list open: a stray fragment
        ("p8", 7, "actions", "They should ensure that:"),
        ("p9", 8, "strengths", "families are heard."),  # another section: not its item
    ]
    lead = "Leaders should improve waiting times. This includes:"
    assert list_lead_ins(passages) == {"p4": lead, "p5": lead}


def test_a_sentence_opening_with_a_figure_or_a_quotation_is_its_own() -> None:
    text = ("Children wait 18 weeks for an assessment. 40% of plans are late. "
            "\"We feel heard,\" one parent said. (Inspectors agreed.) ‘Things are better,’ "
            "said another.")
    assert sentences(text) == [
        "Children wait 18 weeks for an assessment.",
        "40% of plans are late.",
        "\"We feel heard,\" one parent said.",
        "(Inspectors agreed.)",
        "‘Things are better,’ said another.",
    ]


def test_a_list_item_of_one_short_word_is_a_passage() -> None:
    # A list of services, one a bullet: "CAMHS;" is as much an item as any other.
    doc = assign_sections(
        "area_send_2023",
        [
            Paragraph("What does the area partnership need to do better?", 1, "text"),
            Paragraph("Families wait too long for:", 1, "text"),
            Paragraph("CAMHS;", 1, "bullet"),
            Paragraph("OT; and", 1, "bullet"),
            Paragraph("speech and language therapy.", 1, "bullet"),
        ],
    )
    assert [p.text for p in segment(doc)] == [
        "Families wait too long for:", "CAMHS;", "OT; and", "speech and language therapy."]


def test_a_table_of_figures_is_one_passage_whatever_its_cells_hold() -> None:
    # A header cell may end in "?" or "." before the next cell: the table stays whole,
    # since its rows read only beside its header.
    table = "Plans on time? 2022 2023; Eastmere 41% 66%; England 59% 60%"
    doc = assign_sections(
        "send_2016",
        [
            Paragraph("Main findings", 1, "heading"),
            Paragraph("Plans are now issued more quickly. The figures show it.", 1, "text"),
            Paragraph(table, 1, "table"),
        ],
    )
    assert [p.text for p in segment(doc)] == [
        "Plans are now issued more quickly.", "The figures show it.", table]
