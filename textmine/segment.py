"""Split a parsed letter into sentence-level passages.

A passage is one sentence (a bullet is always its own boundary), with its
canonical section, the heading above it, its paragraph number and its character
offsets in the letter's clean text, so every number in a table can point back
to the exact words. Headings, table cells and boilerplate never become passages; a
table of figures in a letter's body is one passage, its rows kept apart by "; "."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from scraper.records import Passage

if TYPE_CHECKING:  # the list-item rule is read by the app, which need not load the parser
    from scraper.parse import ParsedDocument

# Abbreviations that end in a full stop without ending the sentence (before a capital or a
# figure: the boundary rule never splits before lower case). Not "etc.", "HMI" or "HMCI":
# before a capital they end their sentence ("... and so on, etc. Leaders agree.").
_ABBREVIATIONS = {
    "e.g", "i.e", "dr", "mr", "mrs", "ms", "st", "approx", "vs", "cf",
    "incl", "inc", "ltd", "co", "dept", "govt", "para", "paras", "fig",
    "ie", "eg", "mt", "jr", "sr", "prof",
}
# Abbreviations only before a figure ("no. 5"; "most said no. Leaders ..." ends there).
_NUMBER_ABBREVIATIONS = {"no", "nos"}
# A candidate boundary: terminal punctuation, optional closing quote or bracket,
# whitespace, then something that can open a sentence.
_BOUNDARY_RE = re.compile(r"([.?!])([\"'’”)\]]*)\s+(?=[\"'‘“(\[]?[A-Z0-9▪•])")
_MIN_CHARS = 3


_WORD_BEFORE_RE = re.compile(r"([A-Za-z.]+)$")


def _is_abbreviation(text: str, dot: int) -> bool:
    m = _WORD_BEFORE_RE.search(text, max(0, dot - 20), dot)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    if word in _ABBREVIATIONS:
        return True
    if word in _NUMBER_ABBREVIATIONS:
        return text[dot + 1:].lstrip()[:1].isdigit()
    # Initials such as "J. Smith" or "S.E.N.D."
    return len(word) == 1 and word.isalpha() and text[dot - 2 : dot - 1] in (" ", ".", "")


def split_sentences(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence in `text`, whitespace trimmed."""
    start = 0
    for m in _BOUNDARY_RE.finditer(text):
        if m.group(1) == "." and _is_abbreviation(text, m.start(1)):
            continue
        end = m.end(2)
        yield from _trimmed(text, start, end)
        start = m.end()
    yield from _trimmed(text, start, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start >= _MIN_CHARS:
        yield start, end


def segment(doc: ParsedDocument) -> list[Passage]:
    """Passages of every non-boilerplate, non-heading paragraph of `doc`."""
    passages: list[Passage] = []
    pos = 0
    for index, (para, (section, heading)) in enumerate(
        zip(doc.paragraphs, doc.para_sections, strict=True)
    ):
        text = para.text
        if section != "boilerplate" and index not in doc.heading_paras:
            # A table of figures is one passage: its rows read only beside its header.
            spans = [(0, len(text))] if para.kind == "table" else split_sentences(text)
            for start, end in spans:
                passages.append(
                    Passage(
                        seq=len(passages) + 1,
                        section=section,
                        heading=heading,
                        paragraph=index + 1,
                        char_start=pos + start,
                        char_end=pos + end,
                        text=text[start:end],
                    )
                )
        pos += len(text) + 2
    return passages


# A list item as the letters print one: it goes on the sentence its list began ("This
# includes:" then "children waiting for ..."), so it opens in lower case, or with an
# acronym ("EHC plans better reflect ...").
ITEM_START_RE = re.compile(r"[a-z]|[A-Z]{2,}")


def list_lead_ins(passages: Iterable[tuple[str, int, str, str]]) -> dict[str, str]:
    """The words that introduce each list item's list, by the item's passage id.

    `passages` are one letter's (passage_id, paragraph, section, text), in order. A list
    begins with a passage ending in ":"; its lead-in is that passage with those before it
    in its paragraph ("Leaders should improve X. This includes:"), as "This includes:"
    alone says nothing. The items are the passages after it, each in a later paragraph of
    the same section, that open as an item does; the first that does not ends the list.
    Items read alone ("occupational therapy; and") are fragments: the lead-in is what a
    reader needs to quote them."""
    out: dict[str, str] = {}
    para_so_far: list[str] = []  # the current paragraph's passages, up to this one
    last_para: tuple[str, int] | None = None
    lead: tuple[str, str, int] | None = None  # (lead-in, section, paragraph)
    for pid, paragraph, section, text in passages:
        if (section, paragraph) != last_para:
            para_so_far, last_para = [], (section, paragraph)
        para_so_far.append(text)
        if lead and section == lead[1] and paragraph != lead[2] \
                and ITEM_START_RE.match(text):
            out[pid] = lead[0]
        elif lead and paragraph != lead[2]:
            lead = None
        if text.rstrip().endswith(":"):  # an item may open a list of its own
            lead = (" ".join(para_so_far), section, paragraph)
    return out
