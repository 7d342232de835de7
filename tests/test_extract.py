"""PDF text to paragraphs: line breaks told apart from paragraph breaks."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from scraper.extract import _Line, extract_paragraphs, extract_pdf

SHORT = [
    "Main findings",
    "Leaders know the area well.",
    "Strengths",
    "Needs are identified early.",
    "Areas for development",
    "Waiting times are too long.",
    "The local offer is out of date.",
    "Yours sincerely",
]
LONG = ("Between 6 June and 10 June, inspectors visited the local area to judge how well "
        "it identifies and meets the needs of children and young people with special "
        "educational needs and disabilities, and spoke with families and leaders.")


def test_a_page_of_one_line_paragraphs_keeps_them_apart(tmp_path: Path) -> None:
    # Most paragraphs here are one line, so the gaps between paragraphs outnumber the
    # gaps between lines: the page's usual gap is not its line spacing. Glyphs of
    # different heights (capitals, x-height) must not blur the two either.
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for text in [SHORT[0], LONG, *SHORT[1:]]:
        pdf.multi_cell(0, 6, text)
        pdf.ln(3)
    path = tmp_path / "short.pdf"
    path.write_bytes(bytes(pdf.output()))
    got = [p.text for p in extract_pdf(path).paragraphs]
    assert got == [SHORT[0], LONG, *SHORT[1:]]


def test_a_few_lines_of_small_print_do_not_set_the_line_spacing(tmp_path: Path) -> None:
    # An address block in small type, tightly spaced, under two wrapped paragraphs: its
    # gaps are the smallest on the page, but not the body's line spacing. Every word is
    # capitalised, so no wrapped line is rejoined for starting in lower case.
    names = ("Inspectors Met Ofsted, CQC, Testshire County Council, NHS Testshire Integrated "
             "Care Board, Testshire Parent Carer Forum, Testshire SENDIASS, Testshire "
             "College, Testshire Youth Council And Testshire Early Years Panel Members.")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for text in (names, names):
        pdf.multi_cell(0, 6, text)
        pdf.ln(4)
    pdf.set_font("Helvetica", size=7)
    for line in ("County Hall", "High Street", "Testshire TS1 1AA"):
        pdf.multi_cell(0, 3, line, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "address.pdf"
    path.write_bytes(bytes(pdf.output()))
    got = [p.text for p in extract_pdf(path).paragraphs]
    assert got[:2] == [names, names]


# Longer than any heading, no full stop inside, cut after a full line on a plain word:
# prose by its length alone ("... for example the All" / "Age Autism Strategy.").
UNPUNCTUATED = " ".join(["Young people shaped many changes across every area over two years"] * 6)
# As long, but a signature block ending in a web address, and an address block whose
# last line is short: neither runs on into what follows the gap.
SIGNATURE = ("Jo Bloggs Director of Children's Services Sam Smith Chief Executive of NHS "
             "Testshire Integrated Care Board www.testshire.gov.uk https://www.testshire.nhs.uk/icb")
ADDRESS = ("Mrs Joanne Whitlock", "Director of Children's Services, Testshire Council",
           "Mr Richard Osei, Accountable Officer, NHS Testshire Clinical Commissioning Group",
           "Mr Daniel Fry, Local Area Nominated Officer, Testshire Council")


def test_a_sentence_broken_by_an_empty_line_stays_one_paragraph(tmp_path: Path) -> None:
    # Some reports leave an empty line inside a sentence; a gap after a heading, or after
    # an unpunctuated block such as an address, still starts a paragraph.
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    cut = pdf.multi_cell(0, 6, UNPUNCTUATED, dry_run=True, output="LINES")[:2]
    pieces = [
        "Information about this inspection",
        "Leaders meet often. Most partners, including the",  # cut after "the"
        "Testshire Parent Carer Forum, agree that support is improving.",
        "Leaders plan well. Funding pays for a team for ages",  # cut, no dangling word
        "Fourteen To Twenty Five.",
        cut,  # two full lines, cut on a plain word
        "Age Autism Strategy.",
        SIGNATURE,
        "Information about this inspection",
        ADDRESS,
        "Dear Mrs Whitlock and Mr Osei",
        "County Hall, High Street, Testshire TS1 1AA",
        "Strengths",
    ]
    body = " ".join([LONG] * 4)
    pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")  # sets the line spacing
    pdf.ln(6)
    for piece in pieces:
        for line in [piece] if isinstance(piece, str) else piece:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)  # one empty line after every piece, ended or not
    path = tmp_path / "gap.pdf"
    path.write_bytes(bytes(pdf.output()))
    got = [p.text for p in extract_pdf(path).paragraphs]
    assert len(" ".join(cut)) > 160 and cut[1].split()[-1].isalpha()
    assert got == [
        body,
        "Information about this inspection",
        "Leaders meet often. Most partners, including the Testshire Parent Carer Forum, "
        "agree that support is improving.",
        "Leaders plan well. Funding pays for a team for ages Fourteen To Twenty Five.",
        " ".join(cut) + " Age Autism Strategy.",
        SIGNATURE,
        "Information about this inspection",
        " ".join(ADDRESS),
        "Dear Mrs Whitlock and Mr Osei",
        "County Hall, High Street, Testshire TS1 1AA",
        "Strengths",
    ]


def test_a_pdf_with_no_pages_is_named_damaged_without_pdfiums_success(tmp_path: Path) -> None:
    """PDFium refuses a document of no pages with "Failed to load document (PDFium:
    Success)": a reason that reads as a contradiction."""
    import pytest

    from scraper.extract import ExtractError

    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    body, offsets = b"%PDF-1.3\n", []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(body)
    body += b"xref\n0 3\n0000000000 65535 f \n" + b"".join(
        b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path = tmp_path / "empty.pdf"
    path.write_bytes(body)
    with pytest.raises(ExtractError) as caught:
        extract_pdf(path)
    assert str(caught.value) == f"{path}: damaged PDF (Failed to load document)"
    # Read after an encrypted file, it is still damaged, not "encrypted": PDFium's last
    # error is then the other file's password error.
    locked = FPDF()
    locked.set_encryption(owner_password="owner", user_password="user")
    locked.add_page()
    locked.set_font("Helvetica", size=12)
    locked.cell(text="Secret.")
    encrypted = tmp_path / "locked.pdf"
    locked.output(str(encrypted))
    with pytest.raises(ExtractError, match="encrypted PDF"):
        extract_pdf(encrypted)
    with pytest.raises(ExtractError) as caught:
        extract_pdf(path)
    assert str(caught.value) == f"{path}: damaged PDF (Failed to load document)"
    # "/Encrypt" in a comment or in text is no encryption.
    with pytest.raises(ExtractError, match=r"^junk: damaged PDF"):
        extract_pdf("junk", data=b"%PDF-1.4\n% /Encrypt\ngarbage\n%%EOF\n")


def test_a_list_marked_with_minus_signs_is_a_list() -> None:
    # One report marks its actions with "−": its three were one passage, where a list
    # marked "▪" gives one each, so the same recommendations counted once, not three times.
    items = ["reducing waiting times for health assessments;",
             "increasing the timeliness of needs assessments; and",
             "improving annual reviews."]
    for mark in "−▪":
        lines = [_Line("Leaders should focus on:", 1, 700, 72, False)] + [
            _Line(f"{mark} {item}", 1, 686 - 14 * i, 72, False) for i, item in enumerate(items)]
        got = [(p.text, p.kind) for p in extract_paragraphs([lines])]
        assert got == [("Leaders should focus on:", "text"),
                       *[(item, "bullet") for item in items]], mark


def test_a_list_marked_with_words_arrowheads_or_symbol_glyphs_is_a_list() -> None:
    # Word marks lists with arrowheads (➢) or, in a font with no Unicode map, Symbol and
    # Wingdings glyphs that come out in the private use area (U+F0B7, U+F0A7). Unknown,
    # each mark stayed in the text, the list ran into one paragraph with the heading
    # above it ("Strengths ➢ ..."), and a 2016 letter's Strengths and Areas for development
    # were filed as the part's background.
    items = ["Needs are identified early.", "Short breaks are well regarded."]
    # ... and hollow or filled circles and squares (◦ ● ■).
    for mark in ("\u27a2", "\uf0b7", "\uf0a7", "\u25e6", "\u25cf", "\u25a0"):
        lines = [_Line("Strengths", 1, 700, 72, False)] + [
            _Line(f"{mark} {item}", 1, 686 - 14 * i, 72, False) for i, item in enumerate(items)]
        got = [(p.text, p.kind) for p in extract_paragraphs([lines])]
        assert got == [("Strengths", "heading"), *[(item, "bullet") for item in items]], mark


def test_a_page_of_one_line_paragraphs_takes_the_letters_line_spacing() -> None:
    # A revisit letter's second page: each weakness's heading, its evidence and its
    # verdict one line each. Too few of the page's gaps lay inside a paragraph to show
    # its line spacing, so the gap between paragraphs was taken for it and the verdicts
    # and the next weakness's heading ran into one bullet: weaknesses 3-6 were cited under
    # weakness 2. The body's spacing is the letter's, as its first page shows.
    prose = ["Inspectors met leaders of the council and of the health services across",
             "the area, and read the plans written since the inspection in full."]
    first = [_Line(prose[i % 2] if i % 4 < 3 else "This was done over three days.", 1,
                   760 - 16 * i - 8 * (i // 4), 72, False) for i in range(16)]
    opening = ["The area has made progress with some of the weaknesses that were",
               "found at the first inspection, as the sections below set out in",
               "turn."]
    verdicts = [f"{n}. The weak involvement of parents in decisions" if i % 2 == 0 else
                "The forum now co-chairs the partnership board."
                for i, n in enumerate(range(3, 16))]
    second = ([_Line(t, 2, 760 - 16 * i, 72, False) for i, t in enumerate(opening)]
              + [_Line(t, 2, 728 - 24 * (i + 1), 72, False) for i, t in enumerate(verdicts)])
    got = [p.text for p in extract_paragraphs([first, second]) if p.page == 2]
    assert got == [" ".join(opening), *verdicts]


def test_a_numbered_closing_list_is_a_list_and_the_sign_off_its_own() -> None:
    # A 2016 letter's closing list at the body's line spacing, "(a) ... (b) ..." or
    # "1. ... 2. ...": its items ran into one paragraph with "Yours sincerely", so the
    # letter's weaknesses were not counted.
    intro = "The area must address the following areas of significant weakness:"
    for marks in (("(a)", "(b)", "(c)"), ("1.", "2.", "3."), ("a)", "b)", "c)")):
        items = [f"{marks[0]} the slow pace of reform", f"{marks[1]} the quality of plans",
                 f"{marks[2]} the lack of joint work."]
        texts = [intro, *items, "Yours sincerely", "A. Inspector"]
        lines = [_Line(t, 1, 700 - 14 * i, 72, False) for i, t in enumerate(texts)]
        got = [(p.text, p.kind) for p in extract_paragraphs([lines])]
        assert got[:4] == [(intro, "text"), *[(item, "bullet") for item in items]], marks
        assert got[4][0].startswith("Yours sincerely"), marks
    # Not a list: a number that does not follow on ("2." after "(a)"), or a sentence
    # whose line happens to begin with a number.
    texts = ["Leaders have set out what they will do, and by when, for each of the",
             "2. priorities in the plan that they wrote with families this year."]
    lines = [_Line(t, 1, 700 - 14 * i, 72, False) for i, t in enumerate(texts)]
    assert [p.text for p in extract_paragraphs([lines])] == [" ".join(texts)]


def test_numbered_paragraphs_set_apart_by_gaps_stay_paragraphs() -> None:
    # A 2023 report's numbered recommendations under a heading, each its own paragraph:
    # they are read as before (paragraphs, not list items), the first as the rest.
    recs = ["1. Leaders should make sure that plans are written on time.",
            "2. Leaders should improve how families hear about the local offer."]
    prose = ["Inspectors met leaders of the council and of the health services across",
             "the area, and read the plans written since the inspection in full, and"] * 3 + [
             "spoke with families."]
    lines = [_Line(t, 1, 700 - 14 * i, 72, False) for i, t in enumerate(prose)] + [
        _Line(t, 1, 588 - 28 * i, 72, False)
        for i, t in enumerate(["Areas for improvement", *recs])]
    got = [(p.text, p.kind) for p in extract_paragraphs([lines])]
    assert got[1:] == [("Areas for improvement", "heading"), *[(r, "text") for r in recs]]


def test_words_second_level_list_mark_o_is_a_list_only_where_a_list_goes_on() -> None:
    # Word marks a list's second level with a letter "o": "Examples include: o a single
    # service o shared key workers" was one passage.
    texts = ["\u2022 Leaders commission services together. Examples include:",
             "o a single service for disabled children", "o shared key workers."]
    lines = [_Line(t, 1, 700 - 14 * i, 72, False) for i, t in enumerate(texts)]
    assert [(p.text, p.kind) for p in extract_paragraphs([lines])] == [
        ("Leaders commission services together. Examples include:", "bullet"),
        ("a single service for disabled children", "bullet"), ("shared key workers.", "bullet")]
    # Elsewhere an "o" stays a word.
    texts = ["Families said that the service was one they would recommend to",
             "o thers."]
    lines = [_Line(t, 1, 700 - 14 * i, 72, False) for i, t in enumerate(texts)]
    assert [p.kind for p in extract_paragraphs([lines])] == ["text"]


def test_a_heading_at_the_foot_of_a_page_is_not_run_into_the_next_page() -> None:
    # "Main findings" last on a page, a weakness's heading first on the next: they were
    # one heading, and the weakness's section was lost. A line that wraps runs the width
    # of the text, so a short one ended its paragraph, whatever its last word.
    prose = ["Inspectors met leaders of the council and of the health services across",
             "the area, and read the plans written since the inspection in full, and"] * 3
    first = [_Line(t, 1, 700 - 14 * i, 72, False) for i, t in enumerate(prose)] + [
        _Line("spoke with families.", 1, 616, 72, False), _Line("Main findings", 1, 590, 72, False)]
    evidence = [prose[0], prose[1], "spoke with families."]
    second = [_Line("The high number of exclusions of pupils", 2, 760, 72, False)] + [
        _Line(t, 2, 736 - 14 * i, 72, False) for i, t in enumerate(evidence)]
    got = [p.text for p in extract_paragraphs([first, second])]
    assert got[1:] == ["Main findings", "The high number of exclusions of pupils",
                       " ".join(evidence)]
    # A sentence cut by the page still carries on, as does a full line.
    second[0] = _Line("which they discussed with the inspectors.", 2, 760, 72, False)
    got = [p.text for p in extract_paragraphs([first[:-2], second[:1]])]
    assert got == [" ".join(prose + ["which they discussed with the inspectors."])]


def test_a_small_print_annex_does_not_split_the_prose_of_other_pages() -> None:
    # The letter-wide spacing came from a long annex in small print (9 pt): a page of
    # prose (14 pt) with a three-line footnote took it for its own, and every sentence
    # that ended a line started a paragraph.
    body = ["Leaders have worked with families to improve the local offer this year.",
            "Parents say that it is easier to find. Leaders check how often it is",
            "used, and by whom, and change it where it falls short of what they",
            "want."]

    def prose_page(page: int) -> list[_Line]:
        lines, top = [], 760
        for _ in range(5):
            for t in body:
                lines.append(_Line(t, page, top, 72, False))
                top -= 14
            top -= 10
        for t in ["1 A footnote in small print that sets out where the",
                  "figures come from and when they", "were published."]:
            lines.append(_Line(t, page, top, 72, False))
            top -= 9
        return lines

    annex = [_Line(f"Row {i} of the table of services and their waiting times", 3,
                   760 - 9 * i, 72, False) for i in range(60)]
    got = [p.text for p in extract_paragraphs([prose_page(1), prose_page(2), annex])
           if p.page == 2]
    assert got[:5] == [" ".join(body)] * 5


def _row(cells: tuple[str, ...], top: float, page: int = 1) -> _Line:
    """A table row as pdfium gives it: its cells on one line, a space between them; the
    wide gaps that tell the cells apart are read from the PDF's char boxes."""
    return _Line(" ".join(cells), page, top, 75, False, cells)


# Prose above, at 14 pt: the body's line spacing, against which a gap is a paragraph's.
PROSE = [_Line(t, 1, 860 - 14 * i, 72, False) for i, t in enumerate([
    "Leaders have a clear plan for the area, which parents helped to write, and",
    "they check how well it is working each term with the parent carer forum and",
    "the schools, the health services and the council's own teams, who say that",
    "the plan has helped them to work together. Leaders know where the plan has",
    "not yet made a difference, and they have asked families and young people to",
    "tell them what should change next, and how they will know it has happened,",
    "so that the next plan starts from what families say matters most to them.",
])]  # down to 776


def test_a_table_of_figures_is_one_paragraph_not_headings() -> None:
    # A 2016 letter's table of figures, its rows set apart by more than a paragraph's gap:
    # each row was a short line with no full stop, a "heading", and no passage came of it.
    header = ("Percentage of EHC plans issued within 20 weeks", "2015", "2016")
    rows = [("Eastmere", "41%", "66%"), ("Statistical neighbours", "52%", "57%"),
            ("England", "59%", "60%")]
    lines = (PROSE + [_Line("Strengths", 1, 700, 72, False),
                      _Line("\u2022 Plans are now issued more quickly, as the figures show.",
                            1, 680, 72, False),
                      _row(header, 656)]
             + [_row(r, 632 - 24 * i) for i, r in enumerate(rows)]
             + [_Line("Areas for development", 1, 540, 72, False)])
    got = [(p.kind, p.text) for p in extract_paragraphs([lines])][1:]
    assert got == [
        ("heading", "Strengths"),
        ("bullet", "Plans are now issued more quickly, as the figures show."),
        ("table", "Percentage of EHC plans issued within 20 weeks 2015 2016; Eastmere 41% 66%; "
                  "Statistical neighbours 52% 57%; England 59% 60%"),
        ("heading", "Areas for development"),
    ]
    # A header row of words above the figures is the table's, cell for cell.
    words = _row(("Measure", "Eastmere", "England"), 656)
    got = extract_paragraphs([lines[:9] + [words] + lines[10:]])
    assert got[3].text.startswith("Measure Eastmere England; Eastmere 41% 66%; ")
    # The rows of a table run on over a page break.
    second = [_row(r, 760 - 24 * i, page=2) for i, r in enumerate(rows[1:])]
    got = extract_paragraphs([lines[:11], second + lines[-1:]])
    assert [p.kind for p in got] == ["text", "heading", "bullet", "table", "heading"]
    assert got[3].text.endswith("; Eastmere 41% 66%; Statistical neighbours 52% 57%; "
                                "England 59% 60%")


def test_a_tables_wrapped_first_cell_leaves_the_paragraph_it_ran_into() -> None:
    # Without borders the rows keep the body's line spacing: the first cell's first line
    # ran into the sentence above, and the rows after it.
    lines = PROSE + [_Line("Percentage of EHC plans", 1, 718, 72, False),
                     _row(("issued within 20 weeks", "2015", "2016"), 704),
                     _row(("Eastmere", "41%", "66%"), 690)]
    got = [(p.kind, p.text) for p in extract_paragraphs([lines])]
    assert got == [("text", " ".join(ln.text for ln in PROSE)),
                   ("table", "Percentage of EHC plans issued within 20 weeks 2015 2016; "
                             "Eastmere 41% 66%")]
    # A heading right above a table stays a heading: a row opening in capitals is no
    # wrapped cell's second line.
    lines = PROSE + [_Line("Timeliness of plans", 1, 712, 72, False),
                     _row(("Eastmere", "41%", "66%"), 698)]
    got = [(p.kind, p.text) for p in extract_paragraphs([lines])][1:]
    assert got == [("heading", "Timeliness of plans"), ("table", "Eastmere 41% 66%")]


def test_a_line_of_cells_without_figures_is_no_table() -> None:
    # The inspection team's table (names, not figures) and its heading stay as they were.
    lines = PROSE + [_Line("Inspection team", 1, 700, 72, False),
                     _row(("Ofsted", "Care Quality Commission"), 676),
                     _row(("Anna Brook, HMI", "Tom Vale, CQC inspector"), 652)]
    assert [p.kind for p in extract_paragraphs([lines])] == ["text"] + ["heading"] * 3


def _lines(texts: list[str], top: float, step: float = 14, left: float = 72) -> list[_Line]:
    return [_Line(t, 1, top - step * i, left, False) for i, t in enumerate(texts)]


def test_a_sentence_cut_by_a_gap_after_the_goes_on() -> None:
    # Short, with no full stop before the gap: only its last word, "the", says the sentence
    # goes on. Cut there, its start read as a heading and gave no passage.
    lines = PROSE + [_Line("Leaders have agreed a new plan for the", 1, 740, 72, False),
                     _Line("Testshire Parent Carer Forum to review.", 1, 712, 72, False)]
    got = [(p.kind, p.text) for p in extract_paragraphs([lines])][1:]
    assert got == [("text", "Leaders have agreed a new plan for the Testshire Parent Carer "
                            "Forum to review.")]


def test_a_printed_heading_after_a_gap_is_not_the_end_of_an_open_bullet() -> None:
    # A bullet with no full stop, ending on a word that leaves a sentence open ("to"),
    # took the next heading for its last words: the weaknesses below it were filed as
    # strengths, and the heading gave no section.
    lines = PROSE + [_Line("Strengths", 1, 748, 72, False),
                     _Line("\u2022 Families say they are listened to", 1, 734, 72, False),
                     _Line("Areas for development", 1, 706, 72, False),
                     _Line("\u2022 Plans are late.", 1, 692, 72, False)]
    got = [(p.kind, p.text) for p in extract_paragraphs([lines])][1:]
    assert got == [("heading", "Strengths"), ("bullet", "Families say they are listened to"),
                   ("heading", "Areas for development"), ("bullet", "Plans are late.")]


def test_list_items_set_apart_without_marks_stay_apart() -> None:
    # A list with no bullet marks, its items set apart by gaps: an item after one that ends
    # in ";" is the next item, though it opens in lower case, not the same one's end.
    texts = ["Leaders should improve:", "waiting times for therapy;", "the quality of plans;",
             "the local offer."]
    got = [p.text for p in extract_paragraphs([PROSE + _lines(texts, 740, step=28)])][1:]
    assert got == texts
    # ... and the last item after one ending "; and" (which leaves a sentence open).
    texts[2] = "the quality of plans; and"
    got = [p.text for p in extract_paragraphs([PROSE + _lines(texts, 740, step=28)])][1:]
    assert got == texts


def test_a_paragraph_set_out_of_a_bullets_indent_is_a_paragraph() -> None:
    # Word indents a bullet's text by half an inch: the line back at the margin, even at
    # the line spacing, starts the next paragraph.
    lines = PROSE + [
        _Line("\u2022 Leaders know the area well and check how their plan is working with",
              1, 740, 90, False),
        _Line("families each term.", 1, 726, 108, False),
        *_lines(["The partnership has also set up a new panel for short breaks, which",
                 "families helped to design."], 712)]
    got = [(p.kind, p.text) for p in extract_paragraphs([lines])][1:]
    assert got == [
        ("bullet", "Leaders know the area well and check how their plan is working with "
                   "families each term."),
        ("text", "The partnership has also set up a new panel for short breaks, which "
                 "families helped to design.")]


def test_a_title_ending_in_an_official_name_is_not_run_into_the_opening() -> None:
    # "..., City of" ends on "of", as a cut sentence does: a title, not a sentence.
    opening = "Between 6 March and 10 March 2017, Ofsted and the CQC visited the area."
    for kind in ("City", "County", "Borough"):
        title = f"Joint local area SEND inspection in Eastmere, {kind} of"
        got = [p.text for p in extract_paragraphs([PROSE + _lines([title, opening], 740, 28)])]
        assert got[1:] == [title, opening], kind


def test_a_hyphen_at_a_line_end_stays_when_it_is_printed() -> None:
    # A printed hyphen ("co-" / "production") is kept, though the letter also writes the
    # word unhyphenated elsewhere: only pdfium's soft hyphen marks a word split by the break.
    lines = PROSE + _lines(["Leaders value the coproduction of plans with families, and the co-",
                            "production of the local offer with young people."], 740)
    got = [p.text for p in extract_paragraphs([lines])][1:]
    assert got == ["Leaders value the coproduction of plans with families, and the "
                   "co-production of the local offer with young people."]


def test_a_longer_heading_at_the_foot_of_a_page_is_not_run_into_the_next_page() -> None:
    # A weakness's heading of some forty characters alone at the foot of a page: under
    # seven tenths of a full line, so not a line that wraps.
    prose = ["Inspectors met leaders of the council and of the health services across",
             "the area, and read the plans written since the inspection in full, and"] * 3
    heading = "The high number of exclusions of pupils"
    first = _lines([*prose, "spoke with families."], 700) + [_Line(heading, 1, 590, 72, False)]
    second = [_Line("Exclusions have fallen since the first inspection, as leaders said.",
                    2, 760, 72, False)]
    got = [p.text for p in extract_paragraphs([first, second])][1:]
    assert got == [heading, "Exclusions have fallen since the first inspection, as leaders said."]


def test_a_row_with_a_cell_not_applicable_is_a_row() -> None:
    lines = PROSE + [_row(("Measure", "2015", "2016"), 700),
                     _row(("Eastmere", "n/a", "66%"), 676), _row(("England", "59%", "60%"), 652)]
    got = [(p.kind, p.text) for p in extract_paragraphs([lines])][1:]
    assert got == [("table", "Measure 2015 2016; Eastmere n/a 66%; England 59% 60%")]


def _table_pdf(path: Path, rows: list[tuple[str, ...]], gap: float) -> Path:
    """Prose, then a table set out by hand: its first column `gap` mm wide of its longest
    label, the other columns 30 mm apart, each line 6 mm below the last; then prose."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.set_y(40)
    pdf.multi_cell(0, 6, LONG, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    label = max(pdf.get_string_width(r[0]) for r in rows)
    for row in rows:
        y = pdf.get_y()
        for j, cell in enumerate(row):
            pdf.set_xy(pdf.l_margin + (label + gap + 30 * (j - 1) if j else 0), y)
            pdf.cell(text=cell)
        pdf.ln(6)
    pdf.ln(4)
    pdf.multi_cell(0, 6, "Parents say that plans now arrive sooner than they did.")
    pdf.output(str(path))
    return path


def test_a_table_whose_labels_wrap_below_their_figures_is_one_table(tmp_path: Path) -> None:
    # Cells set at the top of a row (Word's default), each row's label wrapping onto a line
    # of its own in lower case below the figures: each row is two lines from the next, and
    # both are the table's, not lone rows of prose. A column 5 mm (14 pt) wide of its
    # longest label is a gap between cells, as wide as a table cell's padding.
    rows = [("Measure", "Eastmere", "England"),
            ("Plans issued within 20 weeks", "41%", "59%"), ("across the whole area",),
            ("Plans reviewed each year", "52%", "60%"), ("by the council",)]
    pdf = _table_pdf(tmp_path / "table.pdf", rows, gap=5)
    got = [(p.kind, p.text) for p in extract_pdf(pdf).paragraphs]
    assert got == [
        ("text", LONG),
        ("table", "Measure Eastmere England; Plans issued within 20 weeks 41% 59% across the "
                  "whole area; Plans reviewed each year 52% 60% by the council"),
        ("text", "Parents say that plans now arrive sooner than they did."),
    ]


def test_a_running_head_missing_from_some_pages_is_still_a_running_head(tmp_path: Path) -> None:
    # A footer of words no rule knows, printed on three pages of five (not on the first,
    # nor on an annex's last): repeated, so dropped, and no paragraph holds it.
    footer = "Eastmere partnership review of services"
    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=11)
    for page in range(1, 6):
        pdf.add_page()
        pdf.set_y(40)
        pdf.multi_cell(0, 6, LONG, new_x="LMARGIN", new_y="NEXT")
        if page in (2, 3, 4):
            pdf.set_y(285)
            pdf.cell(text=footer)
    path = tmp_path / "footer.pdf"
    pdf.output(str(path))
    got = extract_pdf(path)
    assert [p.text for p in got.paragraphs] == [LONG] * 5
    assert got.removed == [footer] * 3
