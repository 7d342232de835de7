"""A table of figures in an older letter's body: one passage, not headings.

Its rows are short lines with no full stop, which read as headings: no passage came of
them, and nothing said so. The letters here are invented (Northvale, Eastmere).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.extract import extract_pdf
from scraper.parse import parse_document
from textmine.segment import segment

PART = ("The effectiveness of the local area in assessing and meeting the needs of children "
        "and young people who have special educational needs and/or disabilities")
LETTER_2016 = """\
%% head: Joint local area SEND inspection in Northvale
%% head_left: 14 March 2017
%% head_right: Page {page}
%% bullet: \u2022
{layout}

< 14 March 2017

< Dear Mrs Penhallow

# Joint local area SEND inspection in Northvale

Between 6 February 2017 and 10 February 2017, Ofsted and the Care Quality Commission (CQC)
conducted a joint inspection of the local area of Northvale to judge the effectiveness of
the area in implementing the disability and special educational needs reforms as set out in
the Children and Families Act 2014.

## Main findings

- Leaders in Northvale know the area well. They have a shared plan that parents helped to
  write, and they check its progress each term.

## {part}

### Strengths

- Families value their named caseworker and say that the assessment process is respectful.
- The timeliness of new EHC plans has improved, as the figures below show.

|! Percentage of EHC plans issued within 20 weeks | 2015 | 2016 |
| Northvale | 38% | 61% |
| Statistical neighbours | 52% | 57% |
| England | 59% | 60% |

- Therapy advice in plans is detailed and written so that families can understand it.

### Areas for development

- Waiting times for speech and language therapy are too long for school-age children.

< Yours sincerely

< Tobias Wrenfield
"""
TABLE = ("Percentage of EHC plans issued within 20 weeks 2015 2016; Northvale 38% 61%; "
         "Statistical neighbours 52% 57%; England 59% 60%")
# Bordered, each row in its cell's padding (rows further apart than paragraphs), or bare
# at the body's spacing, the first cell wrapping onto a second line.
LAYOUTS = {
    "bordered": "%% table_borders: ALL\n%% table_padding: 2\n%% table_widths: 3,1,1",
    "bare": "",
}


def _letter(layout: str) -> str:
    return LETTER_2016.replace("{layout}", LAYOUTS[layout]).replace("{part}", PART)


def _render(tmp_path: Path, text: str) -> Path:
    from fixtures.make_pdfs import parse_markup, render

    out = tmp_path / "letter.pdf"
    render(parse_markup(text)).output(str(out))
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_table_of_figures_in_a_2016_letter_is_one_passage(tmp_path: Path,
                                                             layout: str) -> None:
    pdf = _render(tmp_path, _letter(layout))
    doc = parse_document(extract_pdf(pdf).paragraphs)
    passages = [(p.section, p.heading, p.text) for p in segment(doc)]
    strengths = [text for section, heading, text in passages
                 if (section, heading) == ("strengths", "Strengths")]
    assert strengths == [
        "Families value their named caseworker and say that the assessment process is "
        "respectful.",
        "The timeliness of new EHC plans has improved, as the figures below show.",
        TABLE,
        "Therapy advice in plans is detailed and written so that families can understand it.",
    ]
    # No row is a heading, and the sections around the table are as without it.
    headings = [doc.paragraphs[i].text for i in sorted(doc.heading_paras)]
    assert not any(ch.isdigit() for h in headings[1:] for ch in h)  # after the letter's date
    assert ("weaknesses", "Areas for development",
            "Waiting times for speech and language therapy are too long for school-age "
            "children.") in passages


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_rows_label_wrapped_above_its_figures_stays_in_the_row(tmp_path: Path,
                                                                 layout: str) -> None:
    # Cells centred in their row put a long label's first line above the figures: it was a
    # heading (the row lost its name, and no passage held it) and cut the table in two.
    rows = ("| Northvale local authority area, all plans issued in the year | 38% | 61% |\n"
            "| England national average, all plans issued in the year | 59% | 60% |\n")
    text = _letter(layout)
    start = text.index("| Northvale | 38%")
    end = text.index("| England | 59% | 60% |\n") + len("| England | 59% | 60% |\n")
    doc = parse_document(extract_pdf(_render(tmp_path, text[:start] + rows + text[end:]))
                         .paragraphs)
    tables = [p.text for p in segment(doc) if "%" in p.text]
    assert tables == ["Percentage of EHC plans issued within 20 weeks 2015 2016; Northvale "
                      "local authority area, all plans issued in the year 38% 61%; England "
                      "national average, all plans issued in the year 59% 60%"]
    assert not any("Northvale local" in doc.paragraphs[i].text for i in doc.heading_paras)


def test_a_table_in_a_revisit_is_no_weakness_of_its_own(tmp_path: Path) -> None:
    # A revisit takes a long heading under "Main findings" for a weakness's: a row read
    # as one opened a section named by a row of figures.
    text = (_letter("bordered")
            .replace("inspection in Northvale", "revisit in Northvale")
            .replace("conducted a joint inspection of the local area of Northvale to judge the "
                     "effectiveness of\nthe area in implementing the disability and special "
                     "educational needs reforms as set out in\nthe Children and Families Act "
                     "2014.",
                     "revisited the area of Northvale to decide whether sufficient progress "
                     "has been made in\naddressing each of the areas of significant weakness "
                     "detailed in the written statement of\naction (WSoA) issued on 2 May "
                     "2016. The area has made sufficient progress in addressing\nall of "
                     "the significant weaknesses identified at the initial inspection.")
            .replace("## " + PART, "### The slow issuing of EHC plans by the area")
            .replace("### Strengths\n", "").replace("### Areas for development\n", ""))
    assert "revisited the area of Northvale" in text  # the replacement took
    doc = parse_document(extract_pdf(_render(tmp_path, text)).paragraphs)
    assert doc.letter.framework == "revisit_2018"
    assert doc.weakness_headings == ["The slow issuing of EHC plans by the area"]
    assert ("main_findings", "The slow issuing of EHC plans by the area", TABLE) in [
        (p.section, p.heading, p.text) for p in segment(doc)]


def test_a_table_of_words_left_out_is_said_on_import(tmp_path: Path) -> None:
    # Rows of words only are no table of figures: still read as headings, which give no
    # passage. The import says where, rather than lose them without a word.
    from sendlens.importer import import_paths
    from sendlens.store import Corpus

    words = ("|! Service | Who leads it |\n| Speech therapy | Health trust |\n"
             "| Short breaks | Council |\n| Travel support | Council |\n")
    text = _letter("bordered")
    start = text.index("|! Percentage")
    end = text.index("| England | 59% | 60% |\n") + len("| England | 59% | 60% |\n")
    pdf = _render(tmp_path, text[:start] + words + text[end:])
    report = import_paths(Corpus.open(tmp_path / "corpus"), [pdf], progress=False)
    [outcome] = report.by_status("imported")
    assert [n for n in outcome.notes if "give no passage" in n] == [
        "4 short lines in a row on page 1, from 'Service Who leads it', read as headings "
        "and give no passage (a table?): they are left out of every table and search"]
    assert "give no passage (a table?)" in report.summary()
    # A table of figures is read, so nothing is said of it.
    pdf = _render(tmp_path, _letter("bordered"))
    report = import_paths(Corpus.open(tmp_path / "other"), [pdf], progress=False)
    [outcome] = report.by_status("imported")
    assert not [n for n in outcome.notes if "give no passage" in n]


def test_the_letters_own_headings_in_a_row_are_no_table(tmp_path: Path) -> None:
    # "Main findings", the part's heading and "Strengths" with nothing between them are
    # headings the framework prints: nothing is lost, so nothing is said.
    from scraper.parse import heading_runs

    text = _letter("bordered")
    start = text.index("- Leaders in Northvale")
    text = text[:start] + text[text.index("## " + PART):]
    doc = parse_document(extract_pdf(_render(tmp_path, text)).paragraphs)
    assert [doc.paragraphs[i].text for i in sorted(doc.heading_paras)][-5:-2] == [
        "Main findings", PART, "Strengths"]
    assert heading_runs(doc) == []


# A line of running prose that ends on a figure, its last word set apart by more than a
# space: justified in a narrow column, a figure tabbed to the margin, or a long web address
# with a year after it on a justified line. Each read as a lone table row: the sentence was
# cut there, its start kept apart (or taken for a heading, giving no passage) and the rest
# of the paragraph one "table" passage with no sentence split.
PROSE = {
    "justified": ("Attendance at special schools improved considerably 38% from 2019, and "
                  "exclusions fell substantially 1,204 fewer days were lost. Parents noticed."),
    "tabbed": ("Leaders check the timeliness of new plans each month. The proportion of new "
               "plans{br}issued within 20 weeks has risen steadily and now stands at{tab}61%{br}"
               "which is close to the national figure. Parents say plans arrive sooner."),
    "address": ("Leaders revised the local offer this year. Families and professionals told "
                "inspectors that they can now read the revised local offer, which leaders wrote "
                "with parents, at https://www.northvale.gov.uk/localoffer/"
                + "s" * 34 + " 2019 edition and that it is much clearer. They use it often."),
}


def _prose_flow(kind: str):
    import fixtures.make_pdfs as mp

    plain = mp._flow

    def flow(pdf, text: str, x: float, width: float) -> None:
        if not text.startswith(("Attendance", "Leaders check", "Leaders revised")):
            return plain(pdf, text, x, width)
        if kind == "tabbed":  # each line as written, the figure right-aligned at the margin
            for line in text.split("{br}"):
                left, _, right = line.partition("{tab}")
                y = pdf.get_y()
                pdf.set_x(x)
                pdf.cell(width, mp.LINE_H, left)
                pdf.set_xy(x, y)
                pdf.cell(width, mp.LINE_H, right, align="R", new_x="LMARGIN", new_y="NEXT")
            return None
        pdf.set_x(x)
        pdf.multi_cell(40 if kind == "justified" else width, mp.LINE_H, text, align="J",
                       new_x="LMARGIN", new_y="NEXT")
        return None

    return flow


@pytest.mark.parametrize("kind", PROSE)
def test_a_line_of_prose_ending_on_a_figure_is_no_table(tmp_path: Path, kind: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import fixtures.make_pdfs as mp

    from textmine.segment import split_sentences

    prose = PROSE[kind]
    text = _letter("bordered")
    start = text.index("|! Percentage")
    end = text.index("| England | 59% | 60% |\n") + len("| England | 59% | 60% |\n")
    text = text[:start] + text[end:]  # no table: the prose in the opening, after its paragraph
    text = text.replace("Families Act 2014.\n", "Families Act 2014.\n\n" + prose + "\n")
    assert prose in text
    monkeypatch.setattr(mp, "_flow", _prose_flow(kind))
    doc = parse_document(extract_pdf(_render(tmp_path, text)).paragraphs)
    flat = prose.replace("{br}", " ").replace("{tab}", " ")
    assert [(p.kind, p.text) for p in doc.paragraphs if p.text in flat or flat in p.text] == [
        ("text", flat)]
    assert [p.text for p in segment(doc) if p.text in flat] == [
        flat[a:b] for a, b in split_sentences(flat)]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_heading_between_two_tables_is_no_wrapped_label(tmp_path: Path,
                                                          layout: str) -> None:
    # A table at the end of one section and the next section opening with a table whose
    # header row is years alone (its first cell empty): the heading between them was
    # taken for a row's label wrapped above its figures. It joined the table above, the
    # two tables became one passage, and "Areas for development" opened no section: its
    # weaknesses were filed as strengths.
    text = _letter(layout).replace(
        "\n- Therapy advice in plans is detailed and written so that families can "
        "understand it.\n", "")
    text = text.replace("### Areas for development\n", (
        "### Areas for development\n\n"
        "|! | 2022 | 2023 |\n"
        "| Weeks waited for a first speech and language therapy appointment | 31 | 38 |\n"))
    doc = parse_document(extract_pdf(_render(tmp_path, text)).paragraphs)
    passages = [(p.section, p.heading, p.text) for p in segment(doc)]
    assert ("strengths", "Strengths", TABLE) in passages
    assert ("weaknesses", "Areas for development",
            "Waiting times for speech and language therapy are too long for school-age "
            "children.") in passages
    assert not any("Areas for development" in text for _, _, text in passages)
