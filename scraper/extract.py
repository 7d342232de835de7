"""Extract clean text from an inspection PDF with pypdfium2.

The text layer of these PDFs has CRLF line ends, U+FFFE where a hyphen fell at
a line end, running heads and page numbers on every page, and no paragraph
marks. We rebuild paragraphs from the vertical gaps between lines (one char box
per line, cheap), drop running heads by where they sit and how often they
repeat, re-join words split across lines and pages, and make bullets their own
paragraphs.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pypdfium2 as pdfium

from scraper.parse import printed_heading
from scraper.records import STRAIGHT_QUOTES, Paragraph

# The minus sign too: one 2023 report marks its list of actions with it. Word's own list
# marks as well: arrowheads (➢ ➤), hollow circles, diamonds, and the Symbol and Wingdings
# glyphs that a font without a Unicode map gives in the private use area (U+F0B7 "",
# U+F0A7 "§", U+F0D8 "Ø", U+F076 "v", U+F0FC "ü"), none of which opens a sentence.
BULLETS = "▪◼•●◦○◆▸►‣■□➢➤–−\uf0b7\uf0a7\uf0d8\uf076\uf0fc"
_BULLET_RE = re.compile(rf"^\s*[{BULLETS}]\s*")
_SUB_BULLET_RE = re.compile(r"^o +(?=\S)")
_PAGE_NUMBER_RE = re.compile(r"^(page\s*)?\d{1,3}(\s*(of|/)\s*\d{1,3})?$", re.I)
# Running heads whose wording we know; repetition catches the rest.
_RUNNING_HEAD_RE = re.compile(
    r"^((area send )?(monitoring )?inspection report:|joint local area send (inspection|revisit)"
    r"|area send (monitoring )?inspection report)",
    re.I,
)
# "25 May 2017 Page 2", "Page 2 of 5", "6 to 10 February 2023 2": dates and a page number.
_RUNNING_TAIL_RE = re.compile(r"(\bpage \d{1,3}( of \d{1,3})?|\b(19|20)\d\d\s+\d{1,3})$", re.I)
_DIGITS_RE = re.compile(r"\d+")
_SENTENCE_END_RE = re.compile(r"[.?!:;][\"'’”)]*$")
_MARGIN = 0.09  # share of the page height at top and bottom where running heads live
# Between two cells of a table row on one line: wider than any space between words.
_CELL_GAP = 10.0
# A cell of figures: "38%", "2016", "1,204", "4.5", "n/a", a dash for none.
_FIGURE_RE = re.compile(r"[<>≤≥~]?[£$]?\d[\d,.]*%?|n/?a|[-–—*]", re.I)


class ExtractError(Exception):
    """A PDF that cannot be read: the message says which file and why."""


@dataclass(frozen=True)
class _Line:
    text: str
    page: int
    top: float
    left: float
    in_margin: bool
    # Cells split at gaps wider than a space: only for a short line that may be a table row.
    cells: tuple[str, ...] = ()

    @property
    def row(self) -> bool:
        """A table row of figures: a first cell, then cells of figures alone."""
        return len(self.cells) >= 2 and all(_FIGURE_RE.fullmatch(c) for c in self.cells[1:])


@dataclass
class ExtractedText:
    """A document's clean text, as paragraphs joined by blank lines."""

    paragraphs: list[Paragraph]
    n_pages: int
    removed: list[str]  # running heads and page numbers that were dropped

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.paragraphs)


def pdf_header_in(head: bytes) -> bool:
    """Whether a file starting `head` is a PDF by its header: readers look for it in the
    first 1,024 bytes (after a byte-order mark or other bytes a tool put before it)."""
    return b"%PDF-" in head[:1024]


def check_pdf_bytes(data: bytes, name: str) -> None:
    """Cheap structural checks before pdfium sees the file."""
    if not data:
        raise ExtractError(f"{name}: empty file (0 bytes)")
    if not pdf_header_in(data) and data.lstrip()[:5] != b"%PDF-":
        head = data[:40].decode("latin-1", "replace").strip()
        if sum(c.isprintable() or c in "\r\n\t" for c in head) < 0.9 * len(head):
            # A binary file (a program, a zip, an image): its bytes would say nothing.
            raise ExtractError(f"{name}: not a PDF (a binary file starting with bytes "
                               f"{data[:8].hex(' ')})")
        raise ExtractError(f"{name}: not a PDF (starts with {head!r})")
    if b"%%EOF" not in data[-2048:]:
        raise ExtractError(f"{name}: truncated PDF (no %%EOF marker at the end)")


def _page_lines(page: pdfium.PdfPage, page_no: int) -> list[_Line]:
    textpage = page.get_textpage()
    try:
        raw = textpage.get_text_range()
        height = page.get_height() or 842.0
        lines: list[_Line] = []
        spans: list[tuple[str, int]] = []  # each line's chunk and its first char's index
        pos = 0
        for chunk in raw.split("\r\n"):
            # pdfium's text is one char per index, including the generated CRLF.
            text = chunk.replace("\r", " ").replace("\n", " ")
            if text.strip():
                lead = len(text) - len(text.lstrip())
                _l, _b, _r, top = textpage.get_charbox(pos + lead, loose=True)
                left = _l
                in_margin = top < height * _MARGIN or top > height * (1 - _MARGIN)
                lines.append(_Line(text.strip(), page_no, top, left, in_margin))
                spans.append((chunk, pos))
            pos += len(chunk) + 2
        # Cells only where a row may be (its last word a figure) and for the line above
        # such a row (its header): measuring every gap of every line slowed import by a third.
        for i, line in enumerate(lines):
            if line.in_margin or not _FIGURE_RE.fullmatch(line.text.rsplit(None, 1)[-1]):
                continue
            if (cells := _cells(textpage, *spans[i])) and (row := replace(line, cells=cells)).row:
                lines[i] = row
                above = lines[i - 1] if i else None
                if above is not None and not above.cells and not above.in_margin:
                    lines[i - 1] = replace(above, cells=_cells(textpage, *spans[i - 1]))
        # A lone "row" whose sentence runs on below in lower case is a line of prose that
        # ends on a figure set apart (justified in a narrow column, tabbed to the margin, a
        # year after a long web address): a table has other rows within two lines of each.
        rows = {i for i, line in enumerate(lines) if line.row}
        for i in sorted(rows):
            below = lines[i + 1] if i + 1 < len(lines) else None
            if (below is not None and not below.in_margin and below.text[:1].islower()
                    and not rows & {i - 2, i - 1, i + 1, i + 2}):
                lines[i] = replace(lines[i], cells=())
        return lines
    finally:
        textpage.close()


def _cells(textpage: pdfium.PdfTextPage, chunk: str, pos: int) -> tuple[str, ...]:
    """The cells of a line that may be a table's row (short, no bullet, no sentence end),
    split where the gap between words is wider than a space; () for one cell."""
    text = chunk.strip()
    if not text or len(text) >= _HEADING_MAX or _BULLET_RE.match(text) or \
            _SENTENCE_END_RE.search(text):
        return ()
    cells, start = [], 0
    for j in range(1, len(chunk) - 1):
        if chunk[j] == " " and chunk[j - 1] != " " and chunk[j + 1] != " ":
            right = textpage.get_charbox(pos + j - 1)[2]
            if textpage.get_charbox(pos + j + 1)[0] - right > _CELL_GAP:
                cells.append(chunk[start:j].strip())
                start = j + 1
    cells.append(chunk[start:].strip())
    return tuple(cells) if len(cells) >= 2 else ()


def _read_page(pdf: pdfium.PdfDocument, index: int) -> list[_Line]:
    page = pdf[index]
    try:
        return _page_lines(page, index + 1)
    finally:
        # Closed here, not by the garbage collector at a moment of its choosing: a Ctrl-C
        # that lands in a finalizer is swallowed there (see sendlens.cli).
        page.close()


def _running_keys(pages: list[list[_Line]]) -> set[str]:
    """Margin lines that repeat on several pages, compared without digits."""
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_DIGITS_RE.sub("#", ln.text.lower()) for ln in lines if ln.in_margin})
    threshold = max(2, int(0.4 * len(pages)))
    return {key for key, n in counts.items() if n >= threshold}


def _is_running(line: _Line, keys: set[str]) -> bool:
    text = line.text
    if _PAGE_NUMBER_RE.match(text):
        return line.in_margin or len(text) <= 3
    if not line.in_margin:
        return False
    return (
        bool(_RUNNING_HEAD_RE.match(text) or _RUNNING_TAIL_RE.search(text))
        or _DIGITS_RE.sub("#", text.lower()) in keys
    )


class _Vocabulary:
    """Words of the document, built only when a split word needs checking (rare)."""

    def __init__(self, pages: list[list[_Line]]) -> None:
        self._pages = pages
        self._words: set[str] | None = None

    def __contains__(self, word: object) -> bool:
        if self._words is None:
            self._words = {
                w.lower()
                for lines in self._pages
                for ln in lines
                for w in re.findall(r"[A-Za-z]{3,}", ln.text)
            }
        return word in self._words


def _join(left: str, right: str, vocabulary: _Vocabulary) -> str:
    """Join two line fragments, re-joining a word split by a hyphen at the break."""
    if left.endswith("\ufffe") or left.endswith("-") or left.endswith("\u00ad"):
        stem = left[:-1]
        head = re.search(r"(\w+)$", stem)
        tail = re.match(r"(\w+)", right)
        if left[-1] != "-" and head and tail:
            joined = (head.group(1) + tail.group(1)).lower()
            if joined in vocabulary:
                return stem + right
        return stem + "-" + right
    return f"{left} {right}"


def _fix_inline_hyphens(text: str, vocabulary: _Vocabulary) -> str:
    """U+FFFE inside a line: pdfium marks hyphens it thinks are soft."""
    if "\ufffe" not in text and "\u00ad" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        joined = (m.group(1) + m.group(2)).lower()
        if joined in vocabulary and m.group(2)[:1].islower():
            return m.group(1) + m.group(2)
        return m.group(1) + "-" + m.group(2)

    text = re.sub(r"(\w+)[\ufffe\u00ad](\w+)", repl, text)
    return text.replace("\ufffe", "-").replace("\u00ad", "")


def _is_continuation(prev: str, line: _Line, base_left: float) -> bool:
    """Does `line` (first on its page) carry on the paragraph `prev`?"""
    if _BULLET_RE.match(line.text):
        return False
    if not _SENTENCE_END_RE.search(prev):
        return True
    # Indented like a bullet's second line: the bullet carries on.
    return line.left > base_left + 8 and not line.text[:1].isdigit()


# Words a sentence does not end on: a paragraph whose text stops at one (or at a comma)
# was cut by a wide gap inside a sentence, not ended.
_DANGLING_RE = re.compile(
    r"(?:,|\b(?:a|an|and|as|at|between|by|for|from|in|including|into|its|of|on|or|than|"
    r"that|the|their|to|which|who|with))$", re.IGNORECASE)


# Names as official lists write them ("Bristol, City of") end a title, not a sentence.
_INVERTED_NAME_RE = re.compile(r",\s*(?:city|county|borough) of$", re.IGNORECASE)

# A paragraph this long is prose, never a heading, even with no closing full stop.
_HEADING_MAX = 160
# ... and stops on a plain word, not a web address as a signature block does.
_LAST_WORD_RE = re.compile(r"(?:^|\s)[A-Za-z]+$")

# A full stop and a new sentence inside a paragraph: prose, not a heading or an address
# ("St. Helens", "Dr. Smith" end no sentence).
_PROSE_RE = re.compile(r"\w(?<!\bSt)(?<!\bDr)(?<!\bMrs)(?<!\bMr)(?<!\bMs)[.?!][\"'’”)]* +[A-Z]")

_ITEM_END_RE = re.compile(r"; (?:and|or)$")
_ITEM_NUMBER_RE = re.compile(r"^\(?(\d{1,2}|[a-z])[.)] +")
_SIGN_OFF_RE = re.compile(r"^Yours (?:sincerely|faithfully)\b", re.IGNORECASE)


def _opens_item(prev: str, text: str) -> str | None:
    """Does `text`, a line after the paragraph `prev`, open the next item of a numbered
    or lettered list ("item") or a letter's sign-off ("sign-off")? A 2016 letter's
    closing list set as "(a) ... (b) ..." or "1. ... 2. ..." at the body's line spacing
    ran into one paragraph with "Yours sincerely", and was not counted."""
    if _SIGN_OFF_RE.match(text):
        return "sign-off"
    if not (m := _ITEM_NUMBER_RE.match(text)):
        return None
    mark = m.group(1)
    if prev.rstrip().endswith(":"):
        return "item" if mark in ("1", "a") else None
    if not (before := _ITEM_NUMBER_RE.match(prev)):
        return None
    last = before.group(1)
    follows = (str(int(last) + 1) == mark if last.isdigit()
               else mark.isalpha() and ord(mark) == ord(last) + 1)
    return "item" if follows else None


def _list_goes_on(para: list) -> bool:
    """Whether a list item may follow the paragraph `para` ([text, page, kind]): it is an
    item itself, or it ends with a colon that introduces one."""
    return para[2] == "bullet" or para[0].rstrip().endswith(":")


def _runs_on(prev: str, line: _Line, prev_line: _Line, full: float) -> bool:
    """Does `line`, after a gap that would start a paragraph, carry on the sentence that
    `prev` (the paragraph so far) leaves open? Some reports leave an empty line inside a
    sentence ("... including the" / "Parent Carer Forum ..."). Only at the same indent,
    and only after prose: a heading, or an address block's unpunctuated lines, is
    followed by a gap too. Prose is a sentence already under way, or a paragraph too
    long to be a heading whose last line ran the full width of the text (`full`
    characters: "... for example the All" / "Age Autism Strategy."), as an address
    block's short lines do not."""
    # A list item's number is no sentence under way: "3. The weak involvement ..." is a
    # numbered heading, after which a gap starts a paragraph.
    prev = _ITEM_NUMBER_RE.sub("", prev.rstrip())
    if _SENTENCE_END_RE.search(prev) or abs(line.left - prev_line.left) > 3:
        return False
    if _INVERTED_NAME_RE.search(prev):  # "... inspection in Bristol, City of": a title
        return False
    if _ITEM_END_RE.search(prev):
        return False  # "...; and" ends a list's item: the next, after a gap, is the last
    if printed_heading(line.text):
        # "Areas for development" after a bullet with no full stop that ends "... to".
        return False
    return (bool(_DANGLING_RE.search(prev)) or bool(_PROSE_RE.search(prev))
            or (len(prev) >= _HEADING_MAX and len(prev_line.text) >= 0.85 * full
                and bool(_LAST_WORD_RE.search(prev))))


def _line_spacing(gaps: list[float]) -> float:
    """The page's spacing between lines of one paragraph: the smallest gap shared by at
    least a fifth of them. Not the median: on a page of short paragraphs the gaps between
    paragraphs outnumber those inside one, and would pass for line spacing. Gaps well
    under the median (a few lines of small print: an address, a footnote) are not the
    body's spacing."""
    if not gaps:
        return 14.0
    need = max(2, len(gaps) // 5)
    floor = 0.6 * statistics.median(gaps)
    for g in sorted(x for x in gaps if x >= floor):
        near = [x for x in gaps if abs(x - g) <= 1.0]
        if len(near) >= need:
            return statistics.median(near)
    return statistics.median(gaps)


def _table_line(paragraphs: list[list], line: _Line, prev_line: _Line | None,
                new_para: bool, head_cells: int, vocab: _Vocabulary) -> bool:
    """Put `line` in a table of figures when it is a row or goes on one: rows join one
    paragraph of kind "table", "; " between them, so that a table is one passage and its
    short rows are not taken for headings (whose words yield no passage). False when
    `line` is none of the table's."""
    last = paragraphs[-1] if paragraphs else None
    if last is not None and last[2] == "table":
        if line.row:
            last[0] += "; " + line.text  # the table goes on, past a page break too
            return True
        if not new_para and prev_line is not None and line.text[:1].islower():
            last[0] = _join(last[0], line.text, vocab)  # a cell wrapped onto a new line
            return True
        paragraphs.append([line.text, line.page, "text"])  # the table has ended
        return True
    if not line.row:
        return False
    if last is not None and head_cells == len(line.cells) and last[2] == "text":
        last[0] += "; " + line.text  # below its header row of words, cell for cell
        last[2] = "table"
        return True
    if (last is not None and not new_para and prev_line is not None
            and line.text[:1].islower() and not _SENTENCE_END_RE.search(prev_line.text)
            and not _DANGLING_RE.search(prev_line.text)):
        # The line above is the first cell's start, wrapped ("Percentage of EHC plans" /
        # "issued within 20 weeks  2015  2016"; a row after a heading opens in capitals):
        # it leaves the paragraph it ran into.
        before = last[0][: -len(prev_line.text)].rstrip()
        if last[0].endswith(prev_line.text) and (not before or _SENTENCE_END_RE.search(before)):
            if before:
                last[0] = before
                paragraphs.append([prev_line.text, prev_line.page, "table"])
            paragraphs[-1][0] = _join(paragraphs[-1][0], line.text, vocab)
            paragraphs[-1][2] = "table"
            return True
    paragraphs.append([line.text, line.page, "table"])
    return True


def extract_paragraphs(pages: list[list[_Line]]) -> list[Paragraph]:
    vocab = _Vocabulary(pages)
    lefts = [round(ln.left) for lines in pages for ln in lines]
    base_left = Counter(lefts).most_common(1)[0][0] if lefts else 0.0
    # A full line of body text, in characters: most lines of prose are nearly this long.
    lengths = sorted(len(ln.text) for lines in pages for ln in lines)
    full = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    paragraphs: list[list] = []  # [text, page, kind]

    page_pairs = [[(a, a.top - b.top) for a, b in zip(lines, lines[1:])
                   if 0 < a.top - b.top < 40] for lines in pages]
    # The body's line spacing is one for the whole letter: a page of one-line paragraphs
    # (bullets, a revisit's verdicts) has too few gaps inside a paragraph to show it, and
    # took the gap between paragraphs for it, running them together.
    letter_usual = _line_spacing([g for pairs in page_pairs for _, g in pairs])
    last: _Line | None = None  # the line before, on this page or the one before
    one_line = False  # the paragraph so far is that one line
    head_cells = 0  # ... and that line's cells, when it has several: a header row, maybe
    for lines, pairs in zip(pages, page_pairs):
        gaps = [g for _, g in pairs]
        usual = _line_spacing(gaps)
        inside = [g for g in gaps if abs(g - letter_usual) <= 1.0]
        if usual > letter_usual + 1.0 and len(inside) >= 2:
            # Only when the page's own spacing follows few wrapped lines (full width, no
            # sentence ended): then it is the gap between paragraphs. A page of prose with a
            # footnote in small print, in a letter whose annex is small print, keeps its own.
            own = [a for a, g in pairs if abs(g - usual) <= 1.0]
            wrapped = sum(len(a.text) >= 0.85 * full and not _SENTENCE_END_RE.search(a.text)
                          for a in own)
            if wrapped < len(own) / 2:
                usual = statistics.median(inside)
        prev_line: _Line | None = None
        for line in lines:
            text = line.text
            bullet = bool(_BULLET_RE.match(text))
            if bullet:
                text = _BULLET_RE.sub("", text)
            elif paragraphs and _SUB_BULLET_RE.match(text) and _list_goes_on(paragraphs[-1]):
                # Word's second-level mark, a letter "o": a mark only where a list may go on.
                bullet, text = True, _SUB_BULLET_RE.sub("", text)
            if prev_line is None:
                new_para = not (paragraphs and _is_continuation(paragraphs[-1][0], line, base_left))
                # A short line alone at the foot of a page ended its paragraph, or is a
                # heading ("Main findings"), however it ends: a line that wraps runs the
                # width of the text. It ran into the heading atop the next page.
                if (not new_para and last is not None and one_line and not bullet
                        and paragraphs[-1][2] == "text" and len(last.text) < 0.7 * full
                        and last.text[:1].isupper() and text[:1].isupper()
                        and not _DANGLING_RE.search(last.text)):
                    new_para = True
            else:
                gap = prev_line.top - line.top
                outdented = line.left < prev_line.left - 30
                new_para = bullet or gap < -2 or outdented or (
                    gap > usual * 1.45 and not _runs_on(paragraphs[-1][0], line, prev_line, full))
            # A numbered item is a list item after "...:" or after an item: a list that
            # follows a heading, its items set apart by gaps, stays paragraphs as it was.
            opens = _opens_item(paragraphs[-1][0], text) if paragraphs and not bullet else None
            if opens == "item" and (not new_para or _list_goes_on(paragraphs[-1])):
                new_para = bullet = True
            elif opens and not new_para:
                new_para = True  # "Yours sincerely" after the last item
            if not bullet and _table_line(paragraphs, line, prev_line, new_para, head_cells,
                                          vocab):
                head_cells = 0
            elif new_para or not paragraphs:
                paragraphs.append([text, line.page, "bullet" if bullet else "text"])
                head_cells = len(line.cells)
            else:
                paragraphs[-1][0] = _join(paragraphs[-1][0], text, vocab)
                head_cells = 0
            one_line = new_para or not paragraphs
            prev_line = last = line

    _mend_wrapped_labels(paragraphs, vocab)
    out: list[Paragraph] = []
    merged: list[list] = []
    for para in paragraphs:
        # A paragraph that starts in lower case carries on the one before it (a
        # wide gap or a page break split it), unless it is a list item after ':'.
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and para[0][:1].islower()
            and para[2] == "text"
            and prev[2] != "table"
            and not prev[0].rstrip().endswith((":", ";"))
            # (An item ending "; and" then the last, set apart on one page: a list.)
            and not (_ITEM_END_RE.search(prev[0].rstrip()) and prev[1] == para[1])
        ):
            prev[0] = _join(prev[0], para[0], vocab)
        else:
            merged.append(para)
    for text, page, kind in merged:
        clean = _fix_inline_hyphens(text, vocab).translate(STRAIGHT_QUOTES)
        clean = re.sub(r"[ \t\u00a0\u2009]+", " ", clean).strip()
        if not clean:
            continue
        if kind == "text" and len(clean) < _HEADING_MAX and not _SENTENCE_END_RE.search(clean):
            kind = "heading"
        out.append(Paragraph(clean, page, kind))
    return out


_YEAR_RE = re.compile(r"(?:19|20)\d\d")


def _figures_not_years(row: str) -> bool:
    """A row of figures alone that is no header of years ("2022 2023" opens a table of its
    own, under a caption or a heading; "38% 61%" are a row's figures below its label)."""
    cells = row.split()
    return bool(cells) and all(_FIGURE_RE.fullmatch(c) for c in cells) and not all(
        _YEAR_RE.fullmatch(c) for c in cells)


def _mend_wrapped_labels(paragraphs: list[list], vocab: _Vocabulary) -> None:
    """A row's label wrapped above its figures (cells centred or set at the foot of their
    row): its start, between two parts of a table on one page, was a heading of its own
    (losing the row's name) and cut the table in two. Such a start, with the part below
    opening with its end (lower case) or with the figures alone, joins the table; so do
    two parts of a table that end up side by side."""
    i = 1
    while i < len(paragraphs):
        prev, para = paragraphs[i - 1], paragraphs[i]
        nxt = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
        if prev[2] == "table" and para[2] == "table" and prev[1] == para[1]:
            prev[0] += "; " + para[0]
            del paragraphs[i]
        elif (nxt is not None and prev[2] == "table" and para[2] == "text"
              and nxt[2] == "table" and prev[1] == para[1] == nxt[1]
              and len(para[0]) < _HEADING_MAX and not _SENTENCE_END_RE.search(para[0])
              and not printed_heading(para[0])
              and (nxt[0][:1].islower() or _figures_not_years(nxt[0].split("; ")[0]))):
            prev[0] += "; " + _join(para[0], nxt[0], vocab)
            del paragraphs[i:i + 2]
        else:
            i += 1


# A trailer's (or cross-reference stream's) /Encrypt entry: a reference or a dictionary,
# not the word in a comment or in text.
_ENCRYPT_ENTRY = re.compile(rb"/Encrypt\s*(?:\d+\s+\d+\s+R\b|<<)")


def extract_pdf(path: Path | str, data: bytes | None = None) -> ExtractedText:
    """Clean text of one PDF; raises ExtractError naming the file and the reason."""
    path = Path(path)
    name = str(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ExtractError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    check_pdf_bytes(data, name)
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        # Told from the file, not PDFium's last error: that may be the previous file's
        # (a file with no pages after an encrypted one read "encrypted"), or "Success".
        msg = re.sub(r"\s*\(PDFium: [^)]*\)", "", str(exc)).rstrip(".")
        if _ENCRYPT_ENTRY.search(data):
            if "password" in str(exc).lower():
                raise ExtractError(f"{name}: encrypted PDF (password protected)") from exc
            raise ExtractError(f"{name}: encrypted or damaged PDF ({msg})") from exc
        raise ExtractError(f"{name}: damaged PDF ({msg})") from exc
    try:
        pages = [_read_page(pdf, i) for i in range(len(pdf))]
        n_pages = len(pdf)
    finally:
        pdf.close()
    if not any(pages):
        raise ExtractError(f"{name}: no text layer (a scanned image?)")
    keys = _running_keys(pages)
    removed: list[str] = []
    kept: list[list[_Line]] = []
    for lines in pages:
        keep = []
        for ln in lines:
            if _is_running(ln, keys):
                removed.append(ln.text)
            else:
                keep.append(ln)
        kept.append(keep)
    return ExtractedText(extract_paragraphs(kept), n_pages, removed)
