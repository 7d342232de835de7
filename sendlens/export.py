"""Tables out of the corpus, and writing any table as CSV, Parquet, XLSX, Markdown or LaTeX."""

from __future__ import annotations

import glob
import io
import json
import math
import os
import re
import secrets
import sqlite3
import sys
import time
import unicodedata
from collections.abc import Collection, Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

from sendlens import __version__
from sendlens.store import ISO_DATE, Corpus, now_iso
from textmine.intervals import MIN_INTERVAL_LETTERS

FORMATS = ("csv", "parquet", "xlsx", "md", "tex", "jsonl")
BINARY_FORMATS = {"parquet", "xlsx"}

LETTER_COLUMNS = [
    "letter_id", "area", "area_published", "ofsted_urn", "la_code", "region", "framework",
    "inspection_start", "inspection_end", "published", "letter_date", "previous_inspection",
    "outcome", "weaknesses_progress", "weaknesses_total", "next_inspection", "source",
    "url", "sha256", "n_pages", "n_passages", "imported_at",
]

# Where the letter is published, to cite: the address a scrape last found its file at
# (also for a letter imported from a folder whose file a scrape found later), else a web
# address it was imported from (a manifest's url). `source` stays what it was read from,
# which hand-label files name letters by. The file whose text the letter holds first: a
# copy held back (another file of the report, fetched in a later second) is not cited.
_URL_SQL = ("COALESCE((SELECT f.url FROM fetches f WHERE f.letter_id = letters.letter_id AND "
            "f.status IN ('imported', 'replaced', 'duplicate') ORDER BY "
            "(f.sha256 IS (SELECT h.sha256 FROM letters h WHERE h.letter_id = f.letter_id)) DESC, "
            "f.retrieved_at DESC, f.rowid DESC "
            "LIMIT 1), CASE WHEN source LIKE 'http://%' OR source LIKE 'https://%' THEN source "
            "END) AS url")

# The letters table (the app reads it through its own read-only connection).
LETTERS_SQL = (f"SELECT {', '.join(_URL_SQL if c == 'url' else c for c in LETTER_COLUMNS)}"
               " FROM letters ORDER BY area, inspection_start, letter_id")


def letters_frame(corpus: Corpus) -> pd.DataFrame:
    """One row per letter, ordered by area and date."""
    with corpus.reading() as con:
        rows = con.execute(LETTERS_SQL).fetchall()
    frame = pd.DataFrame([dict(r) for r in rows], columns=LETTER_COLUMNS)
    # Counts stay whole numbers where some letters have none (only revisits have them):
    # plain int columns would turn into floats ("3.0") around the blanks.
    counts = ["weaknesses_progress", "weaknesses_total", "n_pages", "n_passages"]
    # The rest as text whatever the corpus holds: a column empty in one corpus (no letter
    # dates in 2023 reports) was written to Parquet as nulls, text in another, and the two
    # files did not combine.
    return frame.astype({c: "Int64" if c in counts else "string" for c in LETTER_COLUMNS})


def passages_frame(corpus: Corpus) -> pd.DataFrame:
    """One row per passage; tag columns (themes, stance, scores) once tagged."""
    with corpus.reading() as con:
        rows = con.execute(
            """SELECT p.letter_id, p.passage_id, l.area, l.framework, l.inspection_start,
                      p.section, p.heading, p.paragraph, p.char_start, p.char_end, p.text,
                      t.themes, t.stance, t.scores, t.model_version
               FROM passages p JOIN letters l USING (letter_id)
               LEFT JOIN tags t USING (passage_id)
               ORDER BY l.area, l.inspection_start, p.letter_id, p.seq"""
        ).fetchall()
    frame = pd.DataFrame([dict(r) for r in rows])
    if frame.empty:
        frame = pd.DataFrame(
            columns=["letter_id", "passage_id", "area", "framework", "inspection_start",
                     "section", "heading", "paragraph", "char_start", "char_end", "text"]
        )
    elif frame["model_version"].isna().all():
        frame = frame.drop(columns=["themes", "stance", "scores", "model_version"])
    return frame


LABEL_COLUMNS = ["letter", "passage_id", "text", "themes", "stance", "themes_offered",
                 "saved_at"]


def labels_frame(corpus: Corpus) -> pd.DataFrame:
    """The corrections saved in the app, as training reads them (the newest of a passage),
    one row each: as JSONL, a labels file for `train --labels` or `evaluate` (another
    corpus, a colleague, a corpus built again from the PDFs)."""
    from textmine.tag import stored_labels

    rows = stored_labels(corpus)
    with corpus.reading() as con:
        saved = dict(con.execute("SELECT id, created_at FROM labels").fetchall())
    return pd.DataFrame(
        [{"letter": r["letter"], "passage_id": r["passage_id"], "text": r["text"],
          "themes": json.dumps(r["themes"]), "stance": r["stance"],
          # The themes the form offered: the correction judged those only (a theme added
          # to the codebook since is not one it said the passage lacks).
          "themes_offered": None if r["offered"] is None else json.dumps(r["offered"]),
          "saved_at": saved.get(r["label_id"])} for r in rows],
        columns=LABEL_COLUMNS)


_SPEC = re.compile(r"(?P<sign>\+?)\.(?P<places>\d+)(?P<kind>[f%])")


def number_text(value: float, spec: str = ".3f") -> str:
    """`format(value, spec)` for "[+].Nf" and "[+].N%", halves rounded up (away from
    zero) as a spreadsheet and a reader round them: Python's format rounds halves to even
    (0.5625 as "0.562" where Excel shows 0.563), so the app and the downloads disagreed.
    From the shortest repr, as Excel rounds the number it shows; no "-0.000". Any other
    spec, or a number past Decimal's 28 digits, is Python's own."""
    m = _SPEC.fullmatch(spec)
    if m is None or not math.isfinite(value):
        return format(value, spec)
    places, percent = int(m["places"]), m["kind"] == "%"
    try:
        number = Decimal(repr(float(value))) * (100 if percent else 1)
        rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return format(value, spec)
    if not rounded:
        rounded = abs(rounded)  # no "-0.000"
    text = f"{rounded:{m['sign']}.{places}f}"
    return text + "%" if percent else text


def counted(n: object, noun: str) -> str:
    """'1 letter', '2 letters', '6,747 passages': the app and the CLI count alike."""
    n = int(n)  # type: ignore[call-overload]
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def older_tags_note(older: int, retired: Sequence[str], *, tag: str = "`sendlens tag`") -> str:
    """What to say of passages whose tags an older model than the current one made (a
    `train`, or a `classify` that trained first, since the last `tag`): the tables count
    those tags, and `retired` themes of them the codebook no longer has."""
    return (f"{counted(older, 'passage')} carry tags of an older model than the current "
            f"one, which every table and chart counts until {tag} re-tags them"
            + (f"; those tags name {', '.join(retired)}, no longer in the codebook"
               if retired else ""))


def unreadable_tags_note(passages: Sequence[str], *, listed: bool = False,
                         tag: str = "`sendlens tag`") -> str:
    """What to say of passages whose stored themes cannot be read (aggregate.
    unreadable_tags): named, as one to look at in a damaged or hand-edited database.
    `listed`: a table of passages, which lists them with their tags as stored."""
    shown = ", ".join(passages[:3]) + (f" and {len(passages) - 3:,} more"
                                       if len(passages) > 3 else "")
    one = len(passages) == 1
    fate = (f"listed with {'its' if one else 'their'} themes as stored" if listed
            else "left out of the theme tables, charts and evidence as untagged")
    return (f"the tags of {counted(len(passages), 'passage')} cannot be read (themes "
            f"that are no list of theme ids: a damaged or hand-edited database): {shown}; "
            f"{'it is' if one else 'they are'} {fate}; {tag} re-tags "
            f"{'it' if one else 'them'}")


def _cell(value: object) -> str:
    """A cell of a table for reading: blank for missing, shares to three decimals, halves
    rounded up as a spreadsheet and a reader round them (0.5625 is 0.563: Python's
    format rounds halves to even), and no "-0.000"."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def _markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""

    def cell(value: object) -> str:
        # "<" and "[" escaped as well: a letter's "<img ...>" or "[text](url)" was live
        # HTML or a link wherever the file is rendered (pandoc, an editor's preview).
        return (_cell(value).replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<")
                .replace("[", "\\[").replace("\n", " "))

    head = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


# One pass, so that the braces of one replacement are not escaped by the next.
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))
# A straight double quote opening a quotation (at the start, after a space or bracket):
# pdflatex sets every '"' as a closing quote (a citation's under "What does ...").
_OPENING_QUOTE = re.compile(r'(?:^|(?<=[\s(\[]))"')
# pdflatex's UTF-8 input knows Latin-1 letters (é, ø, £) but stops at many other
# characters ("Unicode character − (U+2212) not set up"): those are written as commands.
_LATEX_UNICODE = {
    "\u2212": "$-$", "\u2013": "--", "\u2014": "---", "\u2026": r"\ldots{}",
    "\u2022": r"\textbullet{}", "\u00a0": "~", "\u2009": r"\,", "\u2264": r"$\le$",
    "\u2265": r"$\ge$", "\u2192": r"$\rightarrow$",
    "\u2018": "`", "\u2019": "'", "\u201c": "``", "\u201d": "''", "\u20ac": "EUR",
}


def _latex_unicode(text: str) -> str:
    """`text` with every character pdflatex cannot take replaced: a command, else its
    unaccented letters, else "?" (a table that compiles beats one faithful character)."""
    out = []
    for ch in text:
        if ch in _LATEX_UNICODE:
            out.append(_LATEX_UNICODE[ch])
        elif ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0:
            out.append(" ")  # a control character (a pasted vertical tab) stops pdflatex
        elif ord(ch) < 0x100:
            out.append(ch)
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(_LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], plain) or "?")
    return "".join(out)


# Said in a comment atop a LaTeX table that fits no layout, and among its warnings.
TEX_TOO_WIDE = "columns are wider than a landscape page"
# Layouts a LaTeX table is tried in, in order: type size, landscape page or not, and about
# how many characters of that size fit across \linewidth (345 pt portrait, ~550 pt on a
# landscape page of the standard classes). A column's padding (2\tabcolsep = 6 pt) takes
# about TEX_PAD_CHARS characters.
TEX_LAYOUTS = (("\\footnotesize", False, 80), ("\\scriptsize", False, 95),
               ("\\footnotesize", True, 128), ("\\scriptsize", True, 150))
TEX_PAD_CHARS = 1.5


def tex_word(text: str) -> int:
    """The longest piece of `text` LaTeX cannot break: cells and headers break at spaces,
    and after the underscores of ids ("joint_commissioning"), where a break is allowed."""
    return max((len(w) for w in re.split(r"[\s_]+", text)), default=0)


def _latex(frame: pd.DataFrame, wrap: Collection[str] = (), note: str = "") -> tuple[str, bool]:
    """A longtable (it breaks across pages and repeats its header), text columns (and
    the `wrap` columns) wrapped, `note` in a last row across the table.

    Sized to the page: every column at least as wide as its longest unbreakable word, in
    the first of TEX_LAYOUTS where the columns fit. When every column fits on one line the
    short ones stay so and the wrapped ones share the rest of the line; else every column
    wraps, in a width that grows with its longest cell. A table too wide even for a
    landscape page in \\scriptsize (21 columns of letters) says so in a comment. Needs
    `\\usepackage{longtable,array}`, and pdflscape when it is set landscape. Returns the
    table and whether it is too wide for any page."""

    def esc(text: str) -> str:
        text = _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], text.replace("\n", " "))
        # A minus sign, not a hyphen, before a number ("-0.20"; not in "2024-03" or ids).
        text = _MINUS.sub("$-$", text).replace("\\_", "\\_\\allowbreak{}")
        text = _OPENING_QUOTE.sub("``", text).replace('"', "''")
        return _latex_unicode(text)

    cols = [str(c) for c in frame.columns]
    n = len(cols)
    # Each cell formatted once: measured for the layout, then escaped.
    cells = [[_cell(v).replace("\n", " ") for v in row] for row in frame.itertuples(index=False)]
    rows = [[esc(c) for c in row] for row in cells]
    longest = [max((len(r[i]) for r in cells), default=0) for i in range(n)]
    # Columns of sentences or citations wrap in a paragraph column.
    wide = [c in wrap or longest[i] > 40 for i, c in enumerate(cols)]
    least = [max([tex_word(c), 1] + [tex_word(r[i]) for r in cells]) for i, c in enumerate(cols)]
    natural = [max(longest[i], len(c), 1) for i, c in enumerate(cols)]  # on one line
    # Wrapped columns grow by their longest cell: a sentence gets more than a theme list.
    weights = [min(natural[i], 150 if wide[i] else 40) for i in range(n)]
    size, landscape, spec, comment = _tex_layout(n, wide, least, natural, weights)
    packages = "longtable,array" + (",pdflscape" if landscape else "")
    # Half the usual padding between columns: a theme table has twelve of them.
    lines = [f"{comment}% needs \\usepackage{{{packages}}}",
             *(["\\begin{landscape}"] if landscape else []),
             f"\\begingroup{size}\\setlength{{\\tabcolsep}}{{3pt}}",
             f"\\begin{{longtable}}{{{spec}}}", "\\hline", " & ".join(esc(c) for c in cols)
             + r" \\", "\\hline", "\\endhead"]
    lines += [" & ".join(r) + r" \\" for r in rows]
    lines += ["\\hline"]
    if note:
        lines += [f"\\multicolumn{{{n}}}{{p{{0.9\\linewidth}}}}{{{esc(note)}}} \\\\"]
    lines += ["\\end{longtable}", "\\endgroup", *(["\\end{landscape}"] if landscape else [])]
    return "\n".join(lines) + "\n", bool(comment)


def _tex_layout(n: int, wide: list[bool], least: list[int], natural: list[int],
                weights: list[int]) -> tuple[str, bool, str, str]:
    """(type size, landscape or not, column spec, a comment when nothing fits) of the
    first of TEX_LAYOUTS where `n` columns fit (see _latex)."""
    wrapped = "\\raggedright\\arraybackslash"
    for size, landscape, line in TEX_LAYOUTS:
        # Less a thousandth of the line per column, which _up may add to each: twelve
        # columns rounded up came out 3 pt wider than the page.
        room = line - TEX_PAD_CHARS * n
        budget = room - 0.001 * n * line
        usable = f"\\dimexpr\\linewidth-{2 * n}\\tabcolsep\\relax"
        one_line = sum(natural[i] for i in range(n) if not wide[i])
        if one_line + sum(max(least[i], 20) for i in range(n) if wide[i]) <= budget:
            share = _tex_share(budget - one_line, [i for i in range(n) if wide[i]],
                               weights, least)
            return size, landscape, "".join(
                f">{{{wrapped}}}p{{{_up(share[i] / line)}\\linewidth}}" if wide[i] else "l"
                for i in range(n)), ""
        if sum(least) <= budget:
            share = _tex_share(budget, list(range(n)), weights, least)
            return size, landscape, "".join(
                f">{{{wrapped}}}p{{{_up(share[i] / room)}{usable}}}" for i in range(n)), ""
    return size, landscape, "".join(
        f">{{{wrapped}}}p{{{_up(least[i] / room)}{usable}}}" for i in range(n)), (
        f"% {n} {TEX_TOO_WIDE} even in \\scriptsize: export the csv or xlsx for this "
        "table, or fewer columns\n")


def _up(share: float) -> str:
    """A share of the line to three decimals, rounded up: rounded down, a column sized
    to its longest word came out a hair narrower than it."""
    return f"{math.ceil(share * 1000 - 1e-9) / 1000:.3f}"


def _tex_share(total: float, columns: list[int], weights: list[int],
               least: list[int]) -> dict[int, float]:
    """`total` characters of width shared among `columns`: each its `least`, the rest in
    proportion to how far its weight is above that (equally when none is)."""
    extra = total - sum(least[i] for i in columns)
    room = {i: max(weights[i] - least[i], 0) for i in columns}
    spread = sum(room.values())
    return {i: least[i] + extra * (room[i] / spread if spread else 1 / len(columns))
            for i in columns}


# Under a table for reading whose shares carry intervals in brackets.
# Where the intervals come from and when there is none: one wording for every format.
_RESAMPLED = "resampling the group's letters (whole letters drawn with replacement)"
_NO_INTERVAL = (f"where fewer than {MIN_INTERVAL_LETTERS} letters judge the theme or all of "
                "them agree. They leave out the tagger's own errors.")
INTERVAL_NOTE = f"In brackets: 95% intervals from {_RESAMPLED}; none {_NO_INTERVAL}"
# A table with no interval at all (--section actions: every passage negative, all agree).
NO_INTERVAL_NOTE = (f"No share has a 95% interval: they come from {_RESAMPLED}, and there "
                    f"is none {_NO_INTERVAL}")
XLSX_INTERVAL_NOTE = (
    "share_negative_low / _high and net_stance_low / _high: a 95% interval around each "
    f"share, from {_RESAMPLED}: how far the share could move with other letters like "
    f"these. Empty {_NO_INTERVAL}")
_MINUS = re.compile(r"(?<![\w.])-(?=\d)")
EVIDENCE_FOR_READING = ("citation", "stance", "themes", "text")
EVIDENCE_NOTE = ("Citation: area, framework, inspection dates, the heading the passage is "
                 "under in the report and passage id. An item of a list follows, in square "
                 "brackets, the words that introduce its list. The data formats (csv, xlsx, "
                 "parquet, jsonl) also have region, outcome, publication date, letter id, "
                 "section, the tagger's score for the theme (theme_score) and those words "
                 "alone (lead_in).")


def text_with_lead_in(frame: pd.DataFrame) -> list[str]:
    """Evidence text to read: a list's item after the words that introduce its list, in
    square brackets (`lead_in`), as an item alone is a fragment no one can quote."""
    leads = frame["lead_in"] if "lead_in" in frame.columns else [""] * len(frame)
    return [f"[{lead}] {text}" if lead else text for lead, text in zip(leads, frame["text"])]


def with_intervals_inline(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Each figure `x` with columns `x_low` and `x_high` written as one cell, "0.420
    (0.330 to 0.510)", and those two columns dropped: a theme table with four interval
    columns is too wide for a page. Also returns the columns where some cell got one."""
    out, inlined = frame.copy(), []
    for column in frame.columns:
        low, high = f"{column}_low", f"{column}_high"
        if low not in frame.columns or high not in frame.columns:
            continue
        out[column] = [
            _cell(v) + ("" if pd.isna(v) or pd.isna(a) or pd.isna(b)
                        else f" ({_cell(a)} to {_cell(b)})")
            for v, a, b in zip(frame[column], frame[low], frame[high], strict=True)
        ]
        out = out.drop(columns=[low, high])
        if frame[low].notna().any():
            inlined.append(column)
    return out, inlined


# The `about` fields that narrow what a table counts, as a reader of the table names them.
SCOPE_FIELDS = ("sections", "theme", "stance", "words", "framework", "outcome", "area",
                "region", "from", "to")


# What Markdown reads as markup in the line under a table: a search for "EHC* annual"
# ended its italics at the "*". An underscore within a word (share_negative) is text.
_MD_NOTE_RE = re.compile(r"([\\*\[\]<>])|(?<!\w)_|_(?!\w)")


def md_note(note: str) -> str:
    """The note as Markdown text, its filters' characters taken literally."""
    return _MD_NOTE_RE.sub(lambda m: "\\" + m.group(0), note)


def scope_note(about: dict[str, str] | None) -> str:
    """One sentence naming a table's filters and the model behind its tags ("" without)."""
    # The CLI's tables are "themes" and "evidence"; the app's are named for their view
    # ("themes-by-region", "evidence-Cornwall-ehc_plans").
    if not about or not str(about.get("table", "")).startswith(("themes", "evidence")):
        return ""  # letters and passages list what there is: no counting to qualify
    parts = [f"{key} {about[key]}" for key in SCOPE_FIELDS if about.get(key)]
    model = about.get("model", "")
    said = f"Counted: {'; '.join(parts)}." if parts else "Counted: every tagged letter."
    return said + (f" Tags of model {model}." if model and not model.startswith("none")
                   else "")


# What a theme table's columns count, under a table pasted into a paper: a reader who
# divides negative by passages gets another share (neutral passages judge nothing).
MEASURES_NOTE = ("Columns: letters are the group's tagged letters, letters_mentioning those "
                 "with a passage on the theme; share_negative is the negative passages over "
                 "those judging the theme (positive, negative or mixed; neutral ones left "
                 "out), net_stance positive minus negative over the same.")
ACTIONS_NOTE = ("The actions sections are recommendations, which the codebook tags negative: "
                "their passages measure how often a theme is asked for, not how it is judged.")


def measures_note(frame: pd.DataFrame, about: dict[str, str] | None) -> str:
    """What a theme table's measures are ("" for other tables), and that recommendations
    are negative by rule when the table counts the actions sections (whole letters do)."""
    if "share_negative" not in frame.columns:
        return ""
    sections = str((about or {}).get("sections") or "")
    # Whole letters (no section filter) hold the actions sections too.
    return MEASURES_NOTE + (" " + ACTIONS_NOTE if not sections or "actions" in sections
                            else "")


YEAR_NOTE = ("Year: the year the inspection began (for a letter without inspection dates, the "
             "year it was published or dated).")


def year_note(frame: pd.DataFrame) -> str:
    """What a table's `year` means, when it has one: 11 of the 55 2023-framework reports
    were published in a later year than their inspection."""
    return YEAR_NOTE if "year" in frame.columns else ""


@dataclass(frozen=True)
class Rendered:
    """A table in one format, and what its reader should be told that the file cannot
    show (a LaTeX table that will run off the page)."""

    data: bytes
    warnings: tuple[str, ...] = ()


def table_bytes(frame: pd.DataFrame, fmt: str, about: dict[str, str] | None = None) -> bytes:
    """The table rendered in `fmt` (used by the app's download buttons); see render_table."""
    return render_table(frame, fmt, about).data


def render_table(frame: pd.DataFrame, fmt: str,
                 about: dict[str, str] | None = None) -> Rendered:
    """The table rendered in `fmt`, with warnings about the rendering (used by the CLI).

    `about` (what the table is, its filters, the corpus and model) goes into an XLSX file
    as a second sheet, "About", so that a spreadsheet passed on still says what it holds;
    the md and tex tables, for papers, say their filters and model in a line under the
    table; csv and parquet stay plain tables for programs."""
    # The filters as typed (a search word in another encoding); a frame's text cannot
    # hold such a character (pandas keeps it as UTF-8).
    about = {k: _encodable_text(v) for k, v in about.items()} if about else about
    if fmt == "csv":
        return Rendered(_formula_safe(frame).to_csv(index=False).encode("utf-8"))
    if fmt == "jsonl":
        return Rendered(_jsonl(frame).encode("utf-8"))
    if fmt in ("md", "tex"):
        # Tables for reading (papers, notes): shares to three decimals, intervals beside
        # them in one cell, and a line under the table that says what they are.
        # An area's DfE code in a theme table is for joining the data formats to other
        # data, not for reading: a thirteenth column did not fit a landscape page.
        if "share_negative" in frame.columns:
            frame = frame.drop(columns=["la_code"], errors="ignore")
        had_intervals = any(c.endswith("_low") for c in frame.columns)
        frame, inlined = with_intervals_inline(frame)
        note = INTERVAL_NOTE if inlined else NO_INTERVAL_NOTE if had_intervals else ""
        if "citation" in frame.columns:
            # Evidence: its citation already names the area, framework, dates, heading and
            # passage; sixteen columns cannot be read on a page (the data formats keep them).
            frame = frame.assign(text=text_with_lead_in(frame))
            frame = frame[[c for c in EVIDENCE_FOR_READING if c in frame.columns]]
            note = EVIDENCE_NOTE
        # Which letters and passages were counted goes with the table: an all-negative
        # table of the weaknesses sections must not pass for one of whole letters.
        # The warnings (stale tags, letters not tagged) first: a pasted table loses the
        # command's stderr, and a new theme's zeros or a missing letter read as findings.
        warned = (f"Warning: {about['warnings'].rstrip('.')}." if about and about.get("warnings")
                  else "")
        note = " ".join(filter(None, [warned, scope_note(about), measures_note(frame, about),
                                      year_note(frame), note]))
        if fmt == "md":
            return Rendered((_markdown(frame) + (f"\n*{md_note(note)}*\n" if note else "")
                             ).encode("utf-8"))
        tex, too_wide = _latex(frame, wrap=inlined, note=note)
        return Rendered(tex.encode("utf-8"), (
            f"the table's {len(frame.columns)} {TEX_TOO_WIDE}, even in \\scriptsize: it will "
            "run off the page; the csv or xlsx holds it whole",) if too_wide else ())
    buf = io.BytesIO()
    if fmt == "parquet":
        frame.to_parquet(buf, index=False)
    elif fmt == "xlsx":
        frame = _sheet_safe(frame)
        about = {k: _sheet_text(v) for k, v in about.items()} if about else about
        with pd.ExcelWriter(buf, engine="openpyxl") as book:
            _with_dates(frame).to_excel(book, index=False, sheet_name="Table")
            _as_text(book.sheets["Table"])
            _readable_sheet(book.sheets["Table"], frame, header=True)
            if about:
                if year := year_note(frame):
                    about = {**about, "year": year}
                if measures := measures_note(frame, about):
                    about = {**about, "measures": measures}
                if any(c.endswith(("_low", "_high")) for c in frame.columns):
                    # Four columns, mostly empty for an area's one letter: say why.
                    about = {**about, "intervals": XLSX_INTERVAL_NOTE}
                notes = pd.DataFrame(list(about.items()), columns=["", ""])
                notes.to_excel(book, index=False, header=False, sheet_name="About")
                _as_text(book.sheets["About"])  # the search words, filters: text too
                _readable_sheet(book.sheets["About"], notes, header=False)
    else:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return Rendered(buf.getvalue())


# What a spreadsheet opening a CSV file reads as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula ("=HYPERLINK(...)" in a
    crafted letter's area name) with a ' before them, which it shows as text. No real
    letter's text starts so; the XLSX file stores such cells as text instead."""
    out = frame
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            continue
        risky = [isinstance(v, str) and v.startswith(_FORMULA_START) for v in values]
        if any(risky):
            out = out.copy() if out is frame else out
            out[column] = [f"'{v}" if r else v for v, r in zip(values, risky, strict=True)]
    return out


def _jsonl(frame: pd.DataFrame) -> str:
    """One JSON object a row, blanks as null; `themes` (a JSON list, or "a, b" in an
    evidence table) as a list and `scores` as an object, as a labels file and `classify`
    give them."""
    lines = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        for key in ("themes", "themes_offered", "scores"):
            value = row.get(key)
            if not isinstance(value, str):
                continue
            try:
                row[key] = json.loads(value)
            except ValueError:
                if key != "scores":
                    row[key] = [t.strip() for t in value.split(",") if t.strip()]
        lines.append(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return "".join(lines)


def _encodable_text(value: Any) -> Any:
    """Text every format can encode: a character Python keeps for a byte that was not
    UTF-8 (a search word typed in another encoding) as \\xNN, not an encoding error."""
    if isinstance(value, str) and _SURROGATE.search(value):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")
# Control characters a spreadsheet cell cannot hold (openpyxl refuses the whole file);
# a vertical tab is Word's line break inside a paragraph, pasted with a search.
_NOT_IN_SHEETS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _sheet_text(value: Any) -> Any:
    value = _encodable_text(value)
    if isinstance(value, str) and _NOT_IN_SHEETS.search(value):
        return _NOT_IN_SHEETS.sub(lambda m: "\n" if m.group() == "\x0b" else " ", value)
    return value


def _sheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with _sheet_text applied to its text columns that need it (looked for in
    one pass per column: the app prepares its downloads on every rerun)."""
    changed = {}
    for column in frame.columns:
        values = frame[column]
        if ((values.dtype == object or pd.api.types.is_string_dtype(values))
                and _NOT_IN_SHEETS.search("\n".join(v for v in values if isinstance(v, str)))):
            changed[column] = values.map(_sheet_text)
    return frame.assign(**changed) if changed else frame


def _as_text(ws: Any) -> None:
    """Cells that openpyxl took for formulas (text beginning "="): kept as the text they
    are, so that a passage or a name never runs as a formula in the reader's sheet."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


XLSX_MAX_WIDTH = 60  # characters; longer text (a passage, a citation) wraps within it
XLSX_DECIMALS = "0.000"  # shown, as the md and tex tables round; the cell keeps all digits


def _readable_sheet(ws: Any, frame: pd.DataFrame, *, header: bool) -> None:
    """A sheet to read as it opens: columns as wide as their contents (up to
    XLSX_MAX_WIDTH, wrapping longer text), the header row frozen with filters on it,
    shares shown to three decimals."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    first = 2 if header else 1
    wrap = Alignment(wrap_text=True, vertical="top")
    for j, column in enumerate(frame.columns, start=1):
        values = frame.iloc[:, j - 1]  # by position: the About sheet's columns are unnamed
        lengths = pd.Series([0 if v is None or (isinstance(v, float) and math.isnan(v))
                             else len(str(v)) for v in values], dtype=float)
        # The 95th percentile, not the longest: one long passage would widen the column
        # for every short one.
        body = int(lengths.quantile(0.95)) if len(lengths) else 0
        width = min(max(body, len(str(column)) if header else 0, 6) + 2, XLSX_MAX_WIDTH)
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = width
        if pd.api.types.is_float_dtype(values):
            for (cell,) in ws.iter_rows(min_row=first, min_col=j, max_col=j):
                cell.number_format = XLSX_DECIMALS
        elif int(lengths.max() if len(lengths) else 0) > XLSX_MAX_WIDTH:
            for (cell,) in ws.iter_rows(min_row=first, min_col=j, max_col=j):
                cell.alignment = wrap
    if header and len(frame.columns):
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions


def _with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns holding only ISO dates (or blanks) as dates, so that a spreadsheet sorts
    and filters them as dates rather than text."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        textual = values.dtype == object or pd.api.types.is_string_dtype(values)
        if not textual or not values.notna().any():
            continue
        present = values.dropna()
        if present.map(type).eq(str).all() and present.str.fullmatch(ISO_DATE).all():
            out[column] = pd.to_datetime(values, format="%Y-%m-%d").dt.date
    return out


def write_table(frame: pd.DataFrame, fmt: str, dest: Path | str | None,
                about: dict[str, str] | None = None) -> Rendered:
    """Write to a file, or to stdout when `dest` is None or '-'; returns what was written,
    with its warnings."""
    rendered = render_table(frame, fmt, about)
    data = rendered.data
    if dest is None or str(dest) == "-":
        if fmt in BINARY_FORMATS and sys.stdout.isatty():
            raise ValueError(f"{fmt} is binary: give -o FILE rather than writing to a terminal")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return rendered
    dest = Path(dest)
    check_destination(dest, "table." + fmt)
    write_file(dest, data)
    return rendered


class OutputError(ValueError):
    """A file that cannot be written where it was asked for; the message names it."""


def check_destination(dest: Path, example: str, corpus_root: Path | None = None) -> None:
    """Refuse, before any work, a file path that cannot be written: a folder (`example`
    is a file name to suggest in it), a path whose folder does not exist, a file that is
    read-only, or (given `corpus_root`) a path inside the corpus: "-o corpus/sendlens.db"
    would replace the database, corrections and all."""
    try:
        _check_destination(dest, example, corpus_root)
    except OSError as exc:  # a name too long for the file system, a folder not listable
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}") from None


def _check_destination(dest: Path, example: str, corpus_root: Path | None) -> None:
    if dest.is_dir():
        raise OutputError(f"{dest} is a folder: give a file name (e.g. {dest / example})")
    if not dest.parent.is_dir():
        raise OutputError(f"cannot write {dest}: " + (
            f"{dest.parent} is a file, not a folder" if dest.parent.exists() else
            f"there is no folder {dest.parent}"))
    if corpus_root is not None and dest.resolve().is_relative_to(corpus_root.resolve()):
        raise OutputError(f"{dest} is inside the corpus folder {corpus_root}, which only "
                          "sendlens writes to: write the file elsewhere")
    if dest.is_file() and not (dest.stat().st_mode & 0o222 and os.access(dest, os.W_OK)):
        # The rename would replace it all the same (its mode bits, even for root, who
        # may write anything: the file was made read-only on purpose).
        raise OutputError(f"{dest} is read-only: not replaced")


def write_file(dest: Path, data: bytes) -> None:
    """Write `data` to the file `dest` names, whole or not at all; errors name the file."""
    try:
        if dest.exists() and not dest.is_file():
            # A device or pipe (/dev/stdout, a fifo): written to, never replaced.
            with open(dest, "wb") as out:
                out.write(data)
            return
    except OSError as exc:
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}") from None
    # Through a symbolic link to the file it points to: renaming over the link would
    # replace the link and leave its file as it was.
    target = dest.resolve() if dest.is_symlink() else dest
    # Written beside it and renamed: an interrupted export never leaves half a file
    # where a complete one was. A name of its own ("x" mode: made new, with the usual
    # permissions): two exports to one file shared one, and one said "ok" of the other's.
    # The name cut short: the longest a file may have (255 bytes) plus 15 is too long.
    tmp = target.with_name(f".{target.name[:200]}.{secrets.token_hex(4)}.part")
    try:
        try:
            with tmp.open("xb") as out:
                out.write(data)
        except OSError as exc:
            # Said so: "No such file or directory" about a file that exists (in /proc,
            # say) would puzzle anyone.
            raise OutputError(f"cannot write {dest}: cannot make a new file in {tmp.parent} "
                              f"to write it through ({exc.strerror or exc})") from None
        os.replace(tmp, target)
        _sweep_stale_parts(target)
    except OSError as exc:
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)  # gone after the rename; left only by a failure
        except OSError:
            # On a read-only disk even a missing file's removal fails (EROFS): that must
            # not hide the error that says why nothing was written.
            pass


# Older than this, a file in the making is a killed export's, not one under way (tables
# are built in memory first: writing one takes well under a second).
STALE_PART_SECONDS = 3600


def _sweep_stale_parts(target: Path) -> None:
    """Remove what an export to `target` killed mid-write (SIGKILL, a power cut) left
    beside it: `write_file`'s own cleanup never ran for those."""
    now = time.time()
    for part in target.parent.glob(f".{glob.escape(target.name[:200])}.????????.part"):
        with suppress(OSError):  # another run's, just removed; or not ours to remove
            if now - part.lstat().st_mtime > STALE_PART_SECONDS and part.is_file():
                part.unlink()


def provenance(con: sqlite3.Connection, root: Path | str, **what: str | None) -> dict[str, str]:
    """What an exported table is (the given fields, blanks left out), when, from which
    corpus (`con` reads its database in `root`), tagged by which model, by which sendlens:
    the XLSX 'About' sheet."""
    return provenance_of(str(Path(root).resolve()), tagged_by(con), **what)


def tagged_by(con: sqlite3.Connection) -> str:
    """The models whose tags the corpus holds (more than one after a partial re-tag)."""
    models = [r[0] for r in con.execute(
        "SELECT DISTINCT model_version FROM tags ORDER BY model_version")]
    return ", ".join(models) or "none (not tagged)"


def provenance_of(corpus: str, models: str, **what: str | None) -> dict[str, str]:
    """`provenance`, given the corpus folder and `tagged_by` (which the app caches)."""
    about = {k: str(v) for k, v in what.items() if v not in (None, "", [])}
    about.update({"exported": now_iso(), "corpus": corpus, "model": models,
                  "sendlens": __version__})
    return about


def format_from_name(dest: Path | str | None, given: str | None) -> str:
    """The format asked for (any case), else the file's suffix, else CSV. An unknown
    suffix is returned as it is, for the caller to refuse: "out.xls" must not quietly get
    CSV. A format that contradicts a known suffix ("-f csv -o t.xlsx") is a ValueError:
    the file would not open as what its name says."""
    suffix = ""
    if dest is not None and str(dest) != "-":
        suffix = Path(dest).suffix.lower().lstrip(".")
        suffix = "md" if suffix == "markdown" else suffix
    if given:
        given = given.lower()
        given = "md" if given == "markdown" else given  # as a ".markdown" file is
        if suffix in FORMATS and given in FORMATS and suffix != given:
            raise ValueError(f"--format {given} does not match the file name {dest} (a "
                             f".{suffix} file); change one of them")
        return given
    return suffix or "csv"
