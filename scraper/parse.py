"""Recognise a letter's framework, read its metadata and map its headings.

Every framework and author words things a little differently, so each fact is
read by a small list of patterns, tried in order; what no pattern finds stays
None rather than being guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from scraper.records import Letter, Paragraph, Section

# Stored with each letter: which extraction and parsing produced its text and passages.
# 2: paragraph breaks found on pages of one-line paragraphs.
# 3: a sentence cut by an empty line stays one paragraph.
# 4: a 2023-framework report's "Inspection outcome" is its own section, `outcome`.
# 5: a letter from before a reorganisation is filed under the council of its day.
# 6: a long sentence cut by an empty line after a plain word stays one paragraph; the
#    former Dorset county is filed as "Dorset County Council", not under the name of today's.
# 7: older letters: a revisit's progress from its judgement and verdicts, not its opening;
#    the framework from the title first; a WSoA's closing list however it is introduced;
#    titles ending "City of" or holding "St." kept apart from the opening paragraph.
# 8: a WSoA's closing list introduced by a clause ("Given these weaknesses, HMCI ...").
# 9: such a clause may name Ofsted beside the CQC ("In light of Ofsted and CQC's
#    findings") or a range of ages ("0-25 services"); a 2023 report without an
#    "Inspection outcome" heading takes its outcome from its opening.
# 10: a list marked with minus signs ("−") is a list, one passage an item, as "▪" is.
# 11: a revisit's counts past twelve ("eight of the fourteen"), and "all five ..." without
#     "of the".
# 12: a 2023 report's responsible-body cells set in plain text, alone or run into the
#     action beside them, are table cells, not passages.
# 13: older letters: a revisit judging "the three areas of significant weakness" (all, and
#     how many), the count of an "all" or "none" from the verdicts, passive verdicts; a WSoA
#     that "was required"; a closing list the area "is now required" to address; the part
#     "in meeting the needs"; an area named with its short form "(BCP)".
# 14: a section opened by a sentence, not a heading, has no heading (its first 80
#     characters were kept as one, and cited as if printed).
# 15: lists marked with Word's arrowheads, hollow circles, diamonds or Symbol/Wingdings
#     glyphs (private use area) are lists, each item a passage.
# 16: 2016 letters: "Strengths:" and "Areas for development:" set with a colon are headings;
#     a closing list the area must address by "a WSOA" (the acronym) is the closing list.
# 17: a page of one-line paragraphs takes the letter's line spacing (a revisit's verdicts ran
#     into the next weakness's heading); a numbered or lettered list after "...:" or
#     after an item is a list, item by item, and "Yours sincerely" starts a paragraph.
# 18: Word's second-level list mark, a letter "o", is a list mark after "...:" or an item.
# 19: a short line alone at the foot of a page ends its paragraph (a heading there ran into
#     the heading atop the next page).
# 20: a revisit's weaknesses opened by "At the initial inspection, inspectors found that ..."
#     each have their section, named by that sentence.
# 21: ... only in a letter that prints no heading for each weakness, and not a recap of how
#     many there were; the letter-wide line spacing only for a page whose own spacing
#     follows few wrapped lines (a small-print annex split the prose of other pages).
# 22: a table of figures in a letter's body (rows of short cells) is one passage, not
#     headings that gave none; not a lone line of prose ending on a figure set apart
#     (justified, tabbed, a year after a web address) whose sentence runs on below.
# 23: a sentence ending on "HMCI.", "HMI.", "etc." or "no." (not before a figure) ends
#     there; it ran on into the next. A heading a framework prints, after a gap, is not
#     the end of a bullet or sentence left open above it ("... listened to"). A table
#     row's label wrapped above its figures stays in the row, and the table one passage.
#     An unmarked list's item ending "; and", then a gap, is followed by the last item,
#     not by the rest of its own sentence.
PARSER_VERSION = "23"


class NotASendLetter(ValueError):
    """The document reads, but it is not a SEND inspection letter or report."""


_MONTH_NAMES = "january february march april may june july august september october november"
MONTHS = {m: i + 1 for i, m in enumerate((_MONTH_NAMES + " december").split())}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = rf"{_DAY}\s+{_MONTH}\.?,?\s+\d{{4}}"
# "6 to 10 February 2023", "23 September to 27 September 2024",
# "20 March 2023 to 24 March 2023", "30 January to 3 February 2017"
_RANGE_RE = re.compile(
    rf"(?P<d1>{_DAY})(?:\s+(?P<m1>{_MONTH}))?(?:\s+(?P<y1>\d{{4}}))?"
    rf"\s*(?:to|and|until|-|–|—)\s*"
    rf"(?P<d2>{_DAY})\s+(?P<m2>{_MONTH})\s+(?P<y2>\d{{4}})",
    re.I,
)
_SINGLE_RE = re.compile(rf"(?P<d>{_DAY})\s+(?P<m>{_MONTH})\.?,?\s+(?P<y>\d{{4}})", re.I)
_NUMBERS = {
    w: i
    for i, w in enumerate(
        # A revisit judged up to 14 weaknesses (Dudley): "eight of the fourteen".
        ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen twenty").split()
    )
}


def _to_date(day: str, month: str, year: str) -> str | None:
    try:
        d = date(int(year), MONTHS[month.lower()[:3] if month.lower()[:4] != "sept" else "sep"],
                 int(re.sub(r"\D", "", day)))
    except (KeyError, ValueError):
        return None
    return d.isoformat()


def parse_date(text: str) -> str | None:
    """First 'D Month YYYY' in `text`, as ISO."""
    m = _SINGLE_RE.search(text)
    return _to_date(m["d"], m["m"], m["y"]) if m else None


def parse_date_range(text: str) -> tuple[str | None, str | None]:
    """(start, end) of the first date range in `text`; a lone date gives (d, d)."""
    m = _RANGE_RE.search(text)
    if m:
        end = _to_date(m["d2"], m["m2"], m["y2"])
        start = _to_date(m["d1"], m["m1"] or m["m2"], m["y1"] or m["y2"])
        if start and end and start > end and not m["y1"]:
            # "28 December to 2 January 2020" crosses a year end.
            start = _to_date(m["d1"], m["m1"] or m["m2"], str(int(m["y2"]) - 1))
        return start, end
    single = parse_date(text)
    return single, single


def _number(word: str) -> int | None:
    word = word.lower()
    if word.isdecimal():  # not isdigit(): "²" is a digit to it, and int() raised
        return int(word)
    if word == "none":
        return 0
    return _NUMBERS.get(word)


# --- framework ---------------------------------------------------------------

# Each framework's title; the first to appear names the document's framework.
_FRAMEWORK_TITLES: list[tuple[str, re.Pattern[str]]] = [
    ("revisit_2018", re.compile(r"joint local area SEND revisit", re.I)),
    (
        "monitoring_2023",
        re.compile(
            r"(area SEND monitoring inspection|monitoring inspection of (the )?.{0,80}"
            r"local area partnership)",
            re.I,
        ),
    ),
    ("area_send_2023", re.compile(r"area SEND inspection of", re.I)),
    ("send_2016", re.compile(r"joint local area SEND inspection in", re.I)),
]
# Without a title, the opening sentence of a letter. Only then: a 2023 report may recall
# that "Ofsted and CQC revisited the area" in 2019.
_FRAMEWORK_OPENINGS: list[tuple[str, re.Pattern[str]]] = [
    # The cover line of both kinds of 2023 report: a full report's unless a title said.
    ("area_send_2023", re.compile(r"local area partnership report", re.I)),
    ("revisit_2018", re.compile(r"revisited the (local )?area", re.I)),
    ("send_2016", re.compile(r"conducted a joint inspection of the local area", re.I)),
]


def detect_framework(head: str) -> str:
    """Framework of a document from the text of its first page or so."""
    titles = [(m.start(), framework) for framework, rule in _FRAMEWORK_TITLES
              if (m := rule.search(head))]
    if titles:
        return min(titles)[1]
    for framework, rule in _FRAMEWORK_OPENINGS:
        if rule.search(head):
            return framework
    raise NotASendLetter(
        "not a SEND inspection letter: none of the known titles "
        "('Area SEND inspection of …', 'Joint local area SEND inspection in …', "
        "'Joint local area SEND revisit in …', monitoring inspection) was found"
    )


# --- headings -> canonical sections -------------------------------------------

@dataclass(frozen=True)
class HeadingRule:
    pattern: re.Pattern[str]
    canonical: str
    # Split a heading run together with the paragraph after it (lost spacing).
    may_prefix: bool = True
    # Matches only a paragraph set apart as a heading, never a sentence's start.
    short_only: bool = False
    # Distinctive enough to split out of the middle of a paragraph, after a
    # sentence end (PDFs whose headings sit on lines with no gap above them).
    embedded: bool = False
    # ... or after anything at all (a letter's title after the salutation).
    anywhere: bool = False


def _h(pattern: str, canonical: str, **kw: bool) -> HeadingRule:
    return HeadingRule(re.compile(pattern, re.I), canonical, **kw)


_COMMON_2023 = [
    # The judgement and what follows from it, in the inspectorates' fixed wording.
    _h(r"(monitoring )?inspection outcome", "outcome", embedded=True),
    _h(r"information about the local area partnership", "context", embedded=True),
    _h(r"what is it like (to be|for) (a )?(child|children)[^?]*\?", "experience", embedded=True),
    _h(r"what is the (local )?area partnership doing that is effective\??", "strengths",
       embedded=True),
    _h(r"what (does|do) the (local )?area partnership need to do better\??", "weaknesses",
       embedded=True),
    _h(r"areas? for priority action", "actions", embedded=True),
    _h(r"areas? for improvement", "actions", embedded=True),
    _h(r"local area partnership details", "boilerplate", embedded=True),
    _h(r"information about this (monitoring )?inspection", "boilerplate", embedded=True),
    _h(r"inspection team", "boilerplate", short_only=True),
    _h(r"if you are not happy with the inspection", "boilerplate", may_prefix=False),
]
_MONITORING = [
    _h(r"context", "context"),
    _h(r"main findings", "main_findings", embedded=True),
    _h(r"(the )?areas? for priority action \d", "main_findings", short_only=True),
    _h(r"progress (made )?(on|in|against) ", "main_findings", short_only=True),
    _h(r"next steps", "actions", embedded=True),
    *_COMMON_2023,
]
_SIGN_OFF = [
    # Also straight after a last bullet without a full stop, run into it by the extraction.
    _h(r"yours (sincerely|faithfully)", "boilerplate", embedded=True, anywhere=True),
]
_LETTER_TITLE = _h(r"joint local area SEND (inspection|revisit) in [A-Z](?:[^.]|(?<=\bSt)\.)*$",
                   "context", embedded=True, anywhere=True)
# The statement, spelt out or by the acronym later letters use once they have spelt it out.
_WSOA = r"(?:written statement of action|WSoA\b)"
_LETTER_2016 = [
    _LETTER_TITLE,
    _h(r"main findings", "main_findings", embedded=True),
    _h(r"the effectiveness of the local area in (identifying|assessing|meeting|improving)\b"
       r"[^.]*?"
       r"(disabilities|SEND)\b", "context", short_only=True, embedded=True),
    # Some letters set these two headings with a colon ("Strengths:").
    _h(r"strengths:?", "strengths", short_only=True, embedded=True),
    _h(r"areas for (further )?development:?", "weaknesses", short_only=True, embedded=True),
    _h(r"areas? for improvement", "weaknesses", short_only=True),
    # The closing list's introduction; some letters open it with "HMCI has determined
    # that ..." or say "must": then the sentence must introduce a list ("the following
    # ...:"), not say "following this inspection". A clause before the subject ("Given
    # these weaknesses, HMCI ...", "In light of Ofsted's findings, ...") opens a word with
    # a capital, then takes lower-case words, acronyms (SEND, CQC's), possessives, Ofsted
    # and numbers (0-25), so that a last bullet run into it ("... the Local Offer Given
    # these ...") keeps its own words; case counts there, or a match from a lower-case word
    # would hide the right one. Later letters name the statement by its acronym once they
    # have spelt it out ("... required to produce and submit a WSOA to Ofsted ...").
    _h(
        r"the local area is (?:now )?required to produce and submit a " + _WSOA
        + r"|(?:(?-i:(?:\b[A-Z][a-z']*(?:,? (?:[a-z'-]+|[A-Z]{2,}(?:'?s)?|[A-Z][a-z]+'s|Ofsted"
        r"|\d+(?:[-–]\d+)?)){0,8}, )?"
        r"(?:As a result|In accordance|Following|Because|Inspectors|HMCI|Her Majesty|"
        r"His Majesty|Ofsted|The Chief Inspector|We)\b)[^.:]{0,250}?\b(?:determined|decided) "
        r"that )?(?:the (?:local )?area|the local authority and (?:the )?(?:CCGs?|clinical "
        r"commissioning groups?)) (?:(?:is|are) (?:now )?required to|must(?: now)?) produce "
        r"and submit a " + _WSOA + r"(?=[^.:]{0,200}\bthe following\b[^.:]{0,80}:)",
        "actions",
        may_prefix=False,
        embedded=True,
        # Also after a last bullet with no full stop, run into it by the extraction.
        anywhere=True,
    ),
    *_SIGN_OFF,
]
_REVISIT = [
    _LETTER_TITLE,
    _h(r"main findings", "main_findings", embedded=True),
    _h(r"outcome of (the )?(send )?revisit", "main_findings"),
    _h(r"(next steps|areas? for (further )?improvement|recommendations?)", "actions",
       short_only=True),
    *_SIGN_OFF,
]
HEADING_RULES: dict[str, list[HeadingRule]] = {
    "area_send_2023": _COMMON_2023,
    "monitoring_2023": _MONITORING,
    "send_2016": _LETTER_2016,
    "revisit_2018": _REVISIT,
}
# What comes before the first heading (letterhead, addresses, title page) is
# kept in the clean text but yields no passages.
_FRONT = ("boilerplate", "")
_ENDS_SENTENCE = re.compile(r"[.?!:;][\"')\]]*$")
_SENTENCE_END_BEFORE = re.compile(r"([.?!:;][\"')\]]*|\d)\s+$")


def _match_heading(
    para: Paragraph, rules: list[HeadingRule]
) -> tuple[HeadingRule, str, str] | None:
    """(rule, heading text, remainder) when `para` is or starts with a heading."""
    text = para.text
    for rule in rules:
        m = rule.pattern.match(text)
        if not m:
            continue
        rest = text[m.end():].strip()
        if not rest:
            return rule, text, ""
        if rule.short_only:
            if para.kind == "heading" and _is_heading_text(rest, rules):
                return rule, text[: m.end()].strip(), rest  # "… disabilities Strengths"
            if para.kind == "heading" and len(text) < 160:
                return rule, text, ""  # "Area for priority action 1: governance"
            continue
        if not rule.may_prefix:
            return rule, "", text  # a section that starts with a sentence
        if rest[:1].isupper() or rest[:1] in "'\"(":
            return rule, text[: m.end()].strip(), rest
    return None


def _is_heading_text(text: str, rules: list[HeadingRule]) -> bool:
    return any(rule.pattern.fullmatch(text.strip()) for rule in rules)


# Every framework's headings, each rule once (the 2023 frameworks share theirs).
_PRINTED_HEADINGS = list(dict.fromkeys(r for rules in HEADING_RULES.values() for r in rules))


def printed_heading(text: str) -> bool:
    """A line that is, whole, a heading one of the frameworks prints ("Strengths", "Areas
    for development", "What does the area partnership need to do better?")."""
    return text.strip()[:1].isupper() and _is_heading_text(text, _PRINTED_HEADINGS)


def _embedded_split(text: str, rules: list[HeadingRule]) -> tuple[int, int, HeadingRule] | None:
    """Earliest heading inside `text` (not at its start): (start, end, rule)."""
    best: tuple[int, int, HeadingRule] | None = None
    for rule in rules:
        if not rule.embedded:
            continue
        for m in rule.pattern.finditer(text, 1):
            if best is not None and m.start() >= best[0]:
                break
            if not m.group(0)[:1].isupper():
                continue
            if not (rule.anywhere or _SENTENCE_END_BEFORE.search(text[: m.start()])):
                continue
            after = text[m.end():].lstrip()
            if rule.short_only and after and not _is_heading_text(after, rules):
                continue  # "Strengths" inside a paragraph only when it ends it
            if after and not (after[:1].isupper() or after[:1] in "'\"(" or not rule.may_prefix):
                continue
            best = (m.start(), m.end(), rule)
            break
    return best


def _split_embedded_headings(
    paragraphs: list[Paragraph], rules: list[HeadingRule]
) -> list[Paragraph]:
    """'… Date of previous inspection: … Inspection outcome The local …': lost line breaks."""
    out: list[Paragraph] = []
    for para in paragraphs:
        text, kind = para.text, para.kind
        while (hit := _embedded_split(text, rules)) is not None:
            start, end, rule = hit
            before = text[:start].strip()
            if before:
                out.append(Paragraph(before, para.page, kind))
            if rule.may_prefix:
                out.append(Paragraph(text[start:end].strip(), para.page, "heading"))
                text = text[end:].strip()
                # What follows a heading may be a sub-heading set on the next line.
                kind = "heading" if len(text) < 160 and not _ENDS_SENTENCE.search(text) else "text"
            else:
                text, kind = text[start:].strip(), "text"
                break
            if not text:
                break
        if text:
            out.append(Paragraph(text, para.page, kind))
    return out


_TABLE_HEADER_RE = re.compile(r"responsible body\s+areas? for (priority action|improvement)", re.I)
# A responsible-body cell names bodies and does nothing: no verb a sentence would have.
_VERB_RE = re.compile(r"\b(?:should|must|needs?|ensure|is|are|was|were|has|have|had|will|"
                      r"do|does|did|can|to)\b", re.I)
_BODY_RE = re.compile(r"\b(?:Council|Board|ICB|Trust)\b")
# The cell run into its action: "Plymouth City Council Plymouth City Council leaders should".
_REPEATED_CELL_RE = re.compile(r"((?:[A-Z][\w'&-]*)(?: (?:[A-Z][\w'&-]*|and|of|the)){1,10})"
                               r" (?=\1\b)")


def _body_cell(text: str) -> tuple[str, str] | None:
    """(cell, rest) when a paragraph of a priority-action table starts with the
    responsible-body column's cell, which layouts that set it in plain text leave in."""
    # A cell names bodies, by their names ("Plymouth City Council, NHS Devon ..."): a
    # recommendation wrapped onto a new paragraph ("partnership and the ICB.") or one
    # with no verb ("Better joint commissioning across the partnership.") is no cell.
    if (len(text) < 200 and text[:1].isupper() and _BODY_RE.search(text)
            and not _VERB_RE.search(text)):
        return text, ""
    repeated = _REPEATED_CELL_RE.match(text)
    if repeated and _BODY_RE.search(repeated.group(1)):
        return repeated.group(1), text[repeated.end():]
    return None


@dataclass
class ParsedDocument:
    letter: Letter
    paragraphs: list[Paragraph]
    # (canonical section, heading text) of each paragraph
    para_sections: list[tuple[str, str]] = field(default_factory=list)
    heading_paras: set[int] = field(default_factory=set)  # indexes that are headings
    # Revisits: one heading per area of significant weakness reported on.
    weakness_headings: list[str] = field(default_factory=list)
    # (page, title) of letter titles after the first: a file holding several letters.
    later_titles: list[tuple[int, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.paragraphs)


# A revisit's judgement ("the area has (not) made sufficient progress"), not the opening's
# "to decide whether the area had made sufficient progress".
_JUDGEMENT_RE = re.compile(r"\b(?:has|have)(?: not|n't)?(?: yet)? made sufficient progress",
                           re.I)


# "At the initial inspection, inspectors found that ...", to the end of its sentence.
_INITIAL_FINDING_RE = re.compile(
    r"At the (?:time of the )?(?:initial|first|previous) (?:inspection|visit)\b[^.]{0,60}?"
    r"\b(?:inspectors|we|it was) (?:found|identified|judged)\b[^.]*\.", re.I)
# "... found that the area had three significant weaknesses": a recap, not one of them.
_WEAKNESS_COUNT_RE = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|a number of)"
    r" (?:areas? of )?(?:significant )?weakness", re.I)


def assign_sections(framework: str, paragraphs: list[Paragraph]) -> ParsedDocument:
    rules = HEADING_RULES[framework]
    doc = ParsedDocument(Letter(framework=framework, area=""), [])
    out, sections, headings = doc.paragraphs, doc.para_sections, doc.heading_paras
    current = _FRONT
    closing = False  # past the sign-off or the details table: boilerplate to the end
    # A revisit's judgement read: a long heading after it (and no "Main findings") opens
    # the first weakness's section; before it, it is part of the opening.
    judged = False
    in_table = False  # past a "Responsible body | Areas for ..." header, in its section
    opened_by_sentence = False  # this revisit opens its weaknesses with a sentence each

    def add(para: Paragraph, heading: bool) -> None:
        if heading:
            headings.add(len(out))
        out.append(para)
        sections.append(current)

    queue = list(reversed(_split_embedded_headings(paragraphs, rules)))
    while queue:
        para = queue.pop()
        hit = None if closing else _match_heading(para, rules)
        if hit:
            rule, heading, rest = hit
            # A repeated heading (the table's column header) adds no section.
            if heading and heading.lower() == current[1].lower() and rule.canonical == current[0]:
                heading = ""
            else:
                # A section opened by a sentence has no heading to cite (its words cut at
                # 80 characters read as a printed heading that is not there).
                current = (rule.canonical, heading)
            closing = rule.canonical == "boilerplate"
            in_table = in_table and not heading
            if heading:
                add(Paragraph(heading, para.page, "heading"), True)
            if rest == para.text:
                add(para, False)  # a section that opens with a sentence
            elif rest:
                # The rest may itself start with a (repeated) heading.
                queue.append(Paragraph(rest, para.page, "text"))
            continue
        if (
            framework == "revisit_2018"
            and para.kind == "heading"
            and len(para.text) >= 30
            and (current[0] == "main_findings" or current[0] == "context" and judged)
            and not closing
        ):
            # A revisit reports on each area of significant weakness under its own heading,
            # most after "Main findings", some straight after the opening paragraphs.
            current = ("main_findings", para.text)
            doc.weakness_headings.append(para.text)
            add(para, True)
            continue
        if (
            framework == "revisit_2018"
            and para.kind == "text"
            and current[0] == "main_findings"
            and not closing
            and (opener := _INITIAL_FINDING_RE.match(para.text))
            and not _WEAKNESS_COUNT_RE.search(opener.group(0))
            and (not doc.weakness_headings or opened_by_sentence)
        ):
            # Other revisits open each weakness with a sentence saying what the first
            # inspection found: that sentence names the weakness's section, and is kept.
            # Not where the letter prints a heading for each (the sentence then opens
            # that section's text), nor a recap of how many weaknesses there were.
            opened_by_sentence = True
            current = ("main_findings", opener.group(0).strip())
            doc.weakness_headings.append(current[1])
            add(para, False)
            continue
        judged = judged or bool(_JUDGEMENT_RE.search(para.text))
        header = bool(_TABLE_HEADER_RE.match(para.text))
        in_table = in_table or header
        if in_table and not header and para.kind == "text" and (cell := _body_cell(para.text)):
            add(Paragraph(cell[0], para.page, "heading"), True)
            if cell[1]:
                add(Paragraph(cell[1], para.page, para.kind), False)
            continue
        # Table header and responsible-body cell of "Areas for priority action".
        add(para, para.kind == "heading" or header)
    return doc


def section_spans(doc: ParsedDocument) -> list[Section]:
    """Contiguous runs of one section, with character offsets in the clean text."""
    spans: list[Section] = []
    pos = 0
    for para, (canonical, heading) in zip(doc.paragraphs, doc.para_sections):
        end = pos + len(para.text)
        if spans and spans[-1].canonical == canonical and spans[-1].heading == heading:
            spans[-1].char_end = end
        else:
            spans.append(Section(canonical, heading, pos, end))
        pos = end + 2
    return spans


# --- metadata ---------------------------------------------------------------

_AREA_RULES: dict[str, list[re.Pattern[str]]] = {
    "area_send_2023": [
        re.compile(r"area SEND inspection of (?:the )?(.+?)\s+local area partnership", re.I),
        re.compile(r"inspection report:\s*(?:the )?(.+?)\s+local area partnership", re.I),
    ],
    "monitoring_2023": [
        re.compile(r"monitoring inspection of (?:the )?(.+?)\s+local area partnership", re.I),
        re.compile(r"monitoring inspection report:\s*(?:the )?(.+?)\s+local area partnership",
                   re.I),
    ],
    "send_2016": [
        re.compile(r"joint inspection of the local area of\s+(.{2,60}?)\s+to judge", re.I),
        re.compile(r"joint local area SEND inspection in\s+(.+?)(?:\n|$|\s{2,}|(?<!\bSt)\.|,)",
                   re.I),
    ],
    "revisit_2018": [
        re.compile(r"revisited the (?:local )?area of\s+(.{2,60}?)\s+to (?:decide|assess)", re.I),
        re.compile(r"joint local area SEND revisit in\s+(.+?)(?:\n|$|\s{2,}|(?<!\bSt)\.|,)",
                   re.I),
    ],
}

_OUTCOME_2023 = [
    ("systemic_failings", re.compile(r"widespread and/or systemic failings", re.I)),
    ("inconsistent", re.compile(r"inconsistent experiences and outcomes", re.I)),
    ("positive", re.compile(r"typically lead to positive experiences and outcomes", re.I)),
]


def _clean_area(name: str) -> str:
    name = re.sub(r"\s+", " ", name).strip(" .,:;")
    # "Bournemouth, Christchurch and Poole (BCP)": the short name the letter goes on to use.
    name = re.sub(r"\s*\([^()]*\)$", "", name) or name
    return re.sub(r"^the\s+", "", name, flags=re.I)


def parse_area(framework: str, text: str, title: str = "") -> str | None:
    """The area a document names: from its opening sentence, else its title (`title`,
    the title's own paragraph, read to its end: "St. Helens" holds a full stop), else
    a title found in `text`."""
    first, *others = _AREA_RULES[framework]
    if m := first.search(text):
        return _clean_area(m.group(1))
    named = re.match(r"joint local area SEND (?:inspection|revisit) in\s+(.+)$", title, re.I)
    if named and framework in ("send_2016", "revisit_2018"):
        return _clean_area(named.group(1))
    for rule in others:
        if m := rule.search(text):
            return _clean_area(m.group(1))
    return None


def parse_outcome_2023(text: str) -> str | None:
    for outcome, rule in _OUTCOME_2023:
        if rule.search(text):
            return outcome
    return None


def parse_revisit_progress(text: str) -> tuple[str | None, int | None, int | None]:
    """(outcome, weaknesses with sufficient progress, weaknesses in all).

    Read from the judgement ("HMCI has determined that the area has made sufficient
    progress in addressing two of the four ..."), never from the opening sentence that
    says what the revisit was to decide ("... whether the area had made sufficient
    progress in addressing each of ..."); failing a count there, from the verdict closing
    each weakness's section ("... has not made sufficient progress in addressing this
    significant weakness").
    """
    flat = re.sub(r"\s+", " ", text)
    # What the revisit was to decide, up to the weaknesses it names ("whether St. Jude's
    # had made sufficient progress in addressing each of the significant weaknesses").
    said = re.sub(r"\b(?:whether|if)\b[^,;:]{0,80}?\bsufficient progress\b[^;:]*?"
                  r"\b(?:weakness|area for priority action|areas for priority action)", " ",
                  flat, flags=re.I)
    word = r"(\w+)"
    noun = (r"(?:(?:areas? of )?significant (?:weakness(?:es)?|areas?)"
            r"|areas? for priority action|areas? of weakness(?:es)?|weakness(?:es)?)")
    progress_in = r"made sufficient progress in (?:addressing|tackling|improving)"
    # "has made", not "has not (yet) made" nor "hasn't made"
    affirmed = r"(?<!not )(?<!not yet )(?<!n't )(?<!n't yet )"
    denied = r"(?:\bnot |n't )(?:yet )?"

    def outcome_of(progress: int, total: int) -> tuple[str, int, int]:
        outcome = ("sufficient_progress_all" if progress == total
                   else "sufficient_progress_none" if progress == 0
                   else "sufficient_progress_some")
        return outcome, progress, total

    made = re.search(rf"{affirmed}{progress_in} {word} of the {word} {noun}", said, re.I)
    if made:
        progress, total = _number(made.group(1)), _number(made.group(2))
        if progress is not None and total is not None and progress <= total:
            return outcome_of(progress, total)
    missed = re.search(rf"{denied}{progress_in} {word} of the {word} {noun}", said, re.I)
    if missed:
        unmet, total = _number(missed.group(1)), _number(missed.group(2))
        if unmet is not None and total is not None and unmet <= total:
            return outcome_of(total - unmet, total)
    # A verdict closes each weakness's section and names that weakness alone: "The area has
    # (not) made ... this significant weakness", "... the significant weakness in X", or
    # "Sufficient progress has (not) been made in ...": the area's verdict, not a leader's
    # claim nor what "will not have" been made. "The area of significant weakness
    # identified at the initial inspection" is how a one-weakness judgement names it.
    one = (r"(?:(?:area of )?significant (?:weakness|area)|area for priority action"
           r"|area of weakness|weakness)\b")
    subject = r"\b(?:the (?:local )?area(?: partnership)?|the partnership|it)"
    whole = re.compile(r" (?:identified|detailed|found|set out|raised|highlighted)\b", re.I)

    def judged_whole(found: re.Match[str]) -> bool:
        return bool(whole.match(said, found.end()))

    verdicts = [
        v.group(1) for rx in (
            rf"{subject} has(n't| not)?(?: yet)? {progress_in} (this|the) {one}",
            rf"\bsufficient progress has(n't| not)?(?: yet)? been made in "
            rf"(?:addressing|tackling|improving) (this|the) {one}")
        for v in re.finditer(rx, said, re.I)
        if v.group(2).lower() == "this" or not judged_whole(v)]
    met = sum(1 for v in verdicts if not v)
    # "Not ... all of the weaknesses" may mean some or none (and never "all"); each
    # weakness's own verdict then tells, when there is one for each.
    not_all = re.search(rf"{denied}{progress_in} all of the (?:{word} )?{noun}", said, re.I)
    stated = _number(not_all.group(1) or "") if not_all else None
    # The judgement: "all of the five ...", "all five ...", "both ...", "the three areas of
    # significant weakness", "the significant weaknesses", or, of one, "the area of
    # significant weakness identified at ...". Without a number, as many as there are
    # verdicts when every one agrees.

    def singular(found: re.Match[str]) -> bool:
        return not re.search(r"weaknesses|areas\b", found.group(0), re.I)

    def total_of(found: re.Match[str], agree: bool) -> int | None:
        kind, count = found.group(1).lower(), found.group(2)
        if kind in ("both", "either"):
            return 2
        if count is not None and _number(count) is not None:
            return _number(count)
        if kind == "the" and singular(found):
            return 1
        return len(verdicts) if verdicts and agree else None

    def a_verdict(found: re.Match[str]) -> bool:
        # "... addressing the significant weakness in X": one weakness's verdict.
        numbered = found.group(2) is not None and _number(found.group(2)) is not None
        return (found.group(1).lower() == "the" and not numbered and singular(found)
                and not judged_whole(found))

    all_done = re.search(rf"{affirmed}{progress_in} (all|each|both|the) (?:of the )?"
                         rf"(?:(\w+) )?{noun}", said, re.I)
    if all_done and not not_all and not a_verdict(all_done):
        total = total_of(all_done, met == len(verdicts))
        return "sufficient_progress_all", total, total
    none_done = re.search(rf"{denied}{progress_in} (any|each|either|the) (?:of the )?"
                          rf"(?:(\w+) )?{noun}", said, re.I)
    if none_done and not a_verdict(none_done):
        return "sufficient_progress_none", 0, total_of(none_done, met == 0)
    if verdicts and (not not_all or (met < len(verdicts) and stated in (None, len(verdicts)))):
        return outcome_of(met, len(verdicts))
    return None, None, stated


def parse_wsoa(text: str) -> str | None:
    """Whether a 2016-framework letter requires a Written Statement of Action. A letter
    that does not say so is "no_wsoa": only those requiring one had to say it."""
    flat = re.sub(r"\s+", " ", text)
    # "is required", or told after the event: "HMCI determined that a WSoA was required".
    m = re.search(r"written statement of action[^.]{0,80}\b(?:is|was) (not )?required", flat,
                  re.I)
    if m:
        return "no_wsoa" if m.group(1) else "wsoa_required"
    if re.search(r"\bnot (be )?required to produce[^.]{0,40}(?:written statement|WSoA\b)", flat,
                 re.I):
        return "no_wsoa"
    if re.search(r"(?:(?:required|requires) [^.]{0,120}to|\bmust) (?:produce|submit) "
                 r"(?:and submit )?(?:a )?" + _WSOA,
                 flat, re.I):
        return "wsoa_required"
    return "no_wsoa"


def _first(text: str, pattern: str) -> re.Match[str] | None:
    return re.search(pattern, text, re.I)


def parse_metadata(doc: ParsedDocument) -> Letter:
    framework = doc.letter.framework
    text = doc.text
    flat = re.sub(r"\s+", " ", text)
    head = flat[:4000]
    letter = doc.letter
    letter.title = next((p.text for p in doc.paragraphs[:6] if _match_title(p.text)), "")
    letter.area = parse_area(framework, head, letter.title) or ""

    if framework in ("area_send_2023", "monitoring_2023"):
        m = _first(head, r"inspection dates?:?\s*(.{0,80})")
        if m:
            letter.inspection_start, letter.inspection_end = parse_date_range(m.group(1))
        m = _first(head, r"dates? of (?:the )?previous (?:full )?inspections?:?\s*(.{0,80})")
        m = m or _first(head, r"previous (?:full )?inspection was (?:on|between)?\s*(.{0,60})")
        if m and not re.match(r"\s*not previously", m.group(1), re.I):
            letter.previous_inspection = parse_date_range(m.group(1))[0]
        if framework == "area_send_2023":
            # From its heading when there is one; else the opening ("find" gives -1 then,
            # and flat[-1:] was one character, never the fallback).
            at = flat.lower().find("inspection outcome")
            letter.outcome = parse_outcome_2023(flat[at:][:1500] if at >= 0 else head)
        else:
            # The whole text: each area's verdict may come after the first 4,000 characters.
            progress = parse_revisit_progress(flat)
            letter.weaknesses_progress, letter.weaknesses_total = progress[1], progress[2]
            if progress[0] is not None:
                letter.outcome = (
                    "sufficient_progress" if progress[0] == "sufficient_progress_all"
                    else "insufficient_progress"
                )
            elif re.search(r"(has|have) not made sufficient progress|insufficient progress",
                           flat, re.I):
                letter.outcome = "insufficient_progress"
            elif re.search(r"made sufficient progress", flat, re.I):
                letter.outcome = "sufficient_progress"
        nxt = re.findall(
            r"((?:the next|a monitoring)[^.]{0,60}(?:inspection|reinspection)[^.]{0,30}"
            r"(?:will|would)[^.]{0,40}within (?:approximately )?\w+ (?:years?|months?))",
            head,
            re.I,
        )
        letter.next_inspection = "; ".join(dict.fromkeys(n.strip() for n in nxt)) or None
    else:
        # The first "between" (or "from") that holds dates, within its sentence: "the
        # links between schools and health services" holds none.
        for m in sorted((*re.finditer(r"\bbetween\s+([^.]{0,80})", head, re.I),
                         *re.finditer(rf"\bfrom\s+({_DAY}\s[^.]{{0,70}})", head, re.I)),
                        key=lambda m: m.start()):
            start, end = parse_date_range(m.group(1))
            if start:
                letter.inspection_start, letter.inspection_end = start, end
                break
        # The letter's own date stands alone near the top, before "Dear".
        top = flat[: max(flat.lower().find("dear "), 0) or 600]
        dates = [parse_date(p.text) for p in doc.paragraphs[:8] if _SINGLE_RE.fullmatch(
            p.text.strip())]
        letter.letter_date = next((d for d in dates if d), None) or (
            parse_date(top) if top else None
        )
        if framework == "send_2016":
            letter.outcome = parse_wsoa(flat)
            if letter.outcome == "wsoa_required":
                # The closing list: one bullet per area of significant weakness.
                listed = [
                    p for p, (section, _) in zip(doc.paragraphs, doc.para_sections)
                    if section == "actions" and p.kind == "bullet"
                ]
                letter.weaknesses_total = len(listed) or None
        else:
            letter.outcome, letter.weaknesses_progress, letter.weaknesses_total = (
                parse_revisit_progress(flat)
            )
            if letter.weaknesses_total is None and doc.weakness_headings:
                letter.weaknesses_total = len(doc.weakness_headings)
                if letter.outcome == "sufficient_progress_all":
                    letter.weaknesses_progress = letter.weaknesses_total
            m = _first(
                flat, rf"(?:initial|previous|original) inspection (?:was )?(?:on|in|between)?\s*"
                      rf"({_DATE})"
            )
            if m:
                letter.previous_inspection = parse_date(m.group(1))
    return letter


def _match_title(text: str) -> bool:
    return bool(
        re.match(
            r"(area SEND (monitoring )?inspection of|joint local area SEND (inspection|revisit) in"
            r"|(area SEND )?monitoring inspection of)",
            text,
            re.I,
        )
    )


def _merge_split_title(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Titles wrap: 'Area SEND inspection of North' + 'Northamptonshire Local Area Partnership'."""
    out = list(paragraphs)
    for i, p in enumerate(out[:6]):
        if (
            _match_title(p.text)
            and "partnership" not in p.text.lower()
            and i + 1 < len(out)
            and "partnership" in out[i + 1].text.lower()[:120]
            and out[i + 1].kind == "heading"
        ):
            out[i] = Paragraph(f"{p.text} {out[i + 1].text}", p.page, "heading")
            del out[i + 1]
            break
    return out


def heading_runs(doc: ParsedDocument, least: int = 3) -> list[tuple[int, int, str]]:
    """Runs of at least `least` headings in a row in a letter's body, none of them one the
    framework prints ("Strengths"), as (page, how many, the first): short lines read as
    headings give no passage, and no letter prints three such with nothing between them
    (none of the 55 reports of 2023-2025 does), so a run is most likely a table of words
    whose content is lost."""
    rules = HEADING_RULES.get(doc.letter.framework, [])
    runs: list[tuple[int, int, str]] = []
    run: list[int] = []
    for i in [*range(len(doc.paragraphs)), -1]:  # -1 ends the last run
        if (i >= 0 and i in doc.heading_paras and doc.para_sections[i][0] != "boilerplate"
                and not _is_heading_text(doc.paragraphs[i].text, rules)):
            run.append(i)
            continue
        if len(run) >= least:
            first = doc.paragraphs[run[0]]
            runs.append((first.page, len(run), first.text))
        run = []
    return runs


def parse_document(paragraphs: list[Paragraph]) -> ParsedDocument:
    """Framework, metadata and sections of a document's clean paragraphs."""
    if not paragraphs:
        raise NotASendLetter("not a SEND inspection letter: the document has no text")
    head = " ".join(p.text for p in paragraphs[:25])
    framework = detect_framework(head[:5000])
    paragraphs = _merge_split_title(paragraphs)
    doc = assign_sections(framework, paragraphs)
    # A title past the first page's opening (none in the 55 real reports) is another
    # letter bound into the same file: only the first is read, so the importer says so.
    doc.later_titles = [(p.page, p.text) for p in paragraphs[6:] if _match_title(p.text)]
    parse_metadata(doc)
    doc.letter.sections = section_spans(doc)
    if not doc.letter.area:
        raise NotASendLetter(f"{framework} letter, but the area's name could not be read")
    return doc
