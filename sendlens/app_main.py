"""The sendlens Streamlit app: page layout and widgets only (queries live in appdata).

Run with `sendlens app` (or `streamlit run app.py`); the corpus folder comes from
$SENDLENS_CORPUS (default ./corpus). The page and its filters are kept in the URL
query string, so a researcher can share exactly the view they are looking at.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import altair as alt
import pandas as pd
import streamlit as st

from sendlens import appdata as ad
from sendlens.export import counted, number_text, table_bytes, text_with_lead_in
from sendlens.store import MAX_FTS_QUERY, now_iso
from textmine.aggregate import judged
from textmine.codebook import shadowed_note
from textmine.intervals import MIN_INTERVAL_LETTERS

PAGES: dict[str, str] = {
    "overview": "Overview",
    "compare": "Compare areas",
    "area": "Area profile",
    "themes": "Theme explorer",
    "reader": "Letter reader",
    "label": "Label",
    "export": "Export",
}
ALL = "(all)"
EXPORT_PREVIEW_ROWS = 24  # the Export page's preview of a themes table
# A share's 95% interval in words, where there is none (the tooltip says why).
NO_SPREAD = f"none (under {MIN_INTERVAL_LETTERS} letters judge it, or all agree)"


def spread_text(low: Any, high: Any, metric: str, missing: str = "",
                minus: str = "-") -> str:
    """A share's 95% interval as its figure is written beside it: "19% to 46%", or
    "-0.03 to +0.34" (`minus` "\u2212" in the chart's tooltip, as Vega writes its numbers);
    `missing` where there is none."""
    if pd.isna(low) or pd.isna(high):
        return missing
    spec = "+.2f" if metric == "net_stance" else ".0%"
    return f"{number_text(low, spec)} to {number_text(high, spec)}".replace("-", minus)


METRICS = {
    "net_stance": "Net stance: (positive − negative) / passages that judge the theme",
    "share_negative": "Share of the passages judging the theme that are negative",
}
# Rows ranked on a theme need this many passages on it by default (Compare's "Rank rows
# with at least"); a share of 1 or 2 passages is no basis for "most criticised".
MIN_RANKED = 3
MAX_ROWS = 60  # heatmap rows readable on a laptop; beyond that ask for a narrower choice
# A heatmap cell whose passages judge nothing (mentioned, never judged): a mid grey, apart
# from the net-stance scale's pale middle ("balanced") and share negative's palest red.
GREY = "#c8c8c8"
# Rows of an evidence table sent to the browser until the user asks for all of them: a
# theme on the 10x corpus has >10,000 passages (~7 MB) and the grid draws ~15 at a time.
TABLE_ROWS = 500
# Rows of passage tables: taller than 4rem the data grid wraps text, and four lines of
# a 440 px column hold about 95 % of the passages (any of them opens whole on a click).
PASSAGE_ROW_PX = 88
ICON = Path(__file__).with_name("icon.png")
# Session key: the background retrain this session started or saw running, reported
# once (sidebar, then the Label page) when it ends.
RETRAIN_WATCH = "retrain_watch"
EXPORT_FORMATS = {"csv": "CSV", "xlsx": "Excel", "md": "Markdown"}
MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "md": "text/markdown",
}


@dataclass(frozen=True)
class Ctx:
    """What every page needs: the corpus, its cache stamp, status and filter options."""

    path: str
    stamp: tuple[int, ...]
    status: ad.Status
    options: ad.Options
    names: dict[str, str]

    def theme(self, theme_id: str) -> str:
        return self.names.get(theme_id, theme_id.replace("_", " ").capitalize())

    def short(self, theme_id: str) -> str:
        found = self.short_names.get(theme_id)
        return found if found is not None else short_theme(self.theme(theme_id))

    @functools.cached_property
    def short_names(self) -> dict[str, str]:
        """Theme id -> its short name (the codebook's `short_name`, else its name cut
        short), or its full name where two themes' short names are alike ("Autism and ADHD
        ..." and "Autism and ..."): the chart's columns are drawn by short name, so two
        alike would be drawn as one. Worked out once per run."""
        given = ad.theme_short_names(self.path, self.stamp)
        short = {tid: _fit(given[tid]) if tid in given else short_theme(name)
                 for tid, name in self.names.items()}
        counts = Counter(short.values())
        return {tid: s if counts[s] == 1 else self.names[tid] for tid, s in short.items()}


def short_theme(name: str) -> str:
    """'Health input into identification, assessment and plans' -> 'Health input': an axis
    label that fits, the full name goes into tooltips."""
    head = re.split(r",| and | into ", name)[0].strip()
    # A number in what is cut is what people look for ("post-16 transition"): kept.
    numbered = re.findall(r"[\w-]*\d[\w-]*", name[len(head):])
    if numbered and len(f"{head}, {numbered[0]}") <= 34:
        head = f"{head}, {numbered[0]}"
    return _fit(head)


def _fit(label: str) -> str:
    """An axis label cut to what a heatmap column holds."""
    return label if len(label) <= 34 else label[:32] + "…"


def theme_words(themes: str | Iterable[str], name: Callable[[str], str]) -> str:
    """Theme ids in words: a list, or "ehc_plans, inclusion" as the corpus's evidence and
    label tables hold them ("" for none)."""
    ids = themes.split(", ") if isinstance(themes, str) else themes
    return ", ".join(name(t) for t in ids if t)


# --- URL query state ---------------------------------------------------------------------


def q_init(key: str, default: Any, allowed: Any = None, *, multi: bool = False,
           alias: Callable[[str], str | None] | None = None) -> None:
    """Seed a widget's state from the URL the first time the page is shown.

    `alias` maps a link's value that is not among `allowed` to one that is (an area's
    other spelling to the name the corpus uses); values it cannot map are ignored, and
    said so in the sidebar.

    Afterwards the value is re-assigned to itself on every run: that makes it state the
    script owns, so it survives runs in which its widget is not drawn (a closed lazy
    expander); Streamlit would otherwise reset a widget's value when it is not drawn.
    """
    if key in st.session_state:
        st.session_state[key] = st.session_state[_KEPT + key] = st.session_state[key]
        return
    if key not in st.query_params and _KEPT + key in st.session_state:
        # Back on a page in this session (its widgets' state was dropped while away):
        # the choices made on it before, not the defaults.
        kept = st.session_state[_KEPT + key]
        if allowed is not None:
            kept = [v for v in kept if v in allowed] if multi else (
                kept if kept in allowed else default)
        st.session_state[key] = kept
        return
    if multi:
        values = [v for part in st.query_params.get_all(key) for v in part.split(",") if v]
        if allowed is not None and alias is not None:
            values = list(dict.fromkeys(v if v in allowed else (alias(v) or v) for v in values))
        if allowed is not None:
            _ignored(key, [v for v in values if v not in allowed])
            values = [v for v in values if v in allowed]
        st.session_state[key] = st.session_state[_KEPT + key] = values or list(default)
        return
    value: Any = st.query_params.get(key)
    given = value
    if len(repeated := st.query_params.get_all(key)) > 1:
        # "?page=compare&page=area": the last is used, as Streamlit reads it; the others
        # are said to be ignored and leave the link, which would keep them when shared.
        st.session_state.setdefault("_ignored_link", []).extend(
            ("repeated", f"{key}={v}") for v in repeated[:-1])
        st.query_params[key] = value
    if value is not None and allowed is not None and alias is not None and value not in allowed:
        value = alias(value) or value
    if value is not None and isinstance(default, date):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            value = None
    elif value is not None and type(default) is int:
        # ASCII digits only: "²" is a digit to str.isdigit, and int() of it a traceback.
        value = int(value) if value.isascii() and value.isdigit() else None
    if value is None or (allowed is not None and value not in allowed):
        if given not in (None, ""):
            _ignored(key, [given])
        value = default
    st.session_state[key] = st.session_state[_KEPT + key] = value


# A copy of each URL-backed choice that Streamlit does not drop with the widget.
_KEPT = "_kept_"


# Link keys whose values are the corpus's own (its areas, regions, letters, passages):
# a value not found is "not in this corpus"; any other key's is not a valid setting.
_CORPUS_KEYS = re.compile(r"(?:.*_)?(?:areas|regions|fw|out|sec)|area|letter|a|b|pid|cell_row")


def _ignored(key: str, values: list[str]) -> None:
    # A link's value this page cannot use (an area the corpus lacks, min=0): said, not
    # hidden.
    if values:
        kind = "corpus" if _CORPUS_KEYS.fullmatch(key) else "setting"
        # A theme of the codebook the tags do not know yet is neither: it is to come.
        untagged = st.session_state.get("_untagged_themes", ())
        st.session_state.setdefault("_ignored_link", []).extend(
            ("untagged" if v in untagged else kind, f"{key}={v}") for v in values)


def q_sync(defaults: dict[str, Any]) -> None:
    """Mirror widget values into the URL (only values that differ from the default)."""
    for key, default in defaults.items():
        value = st.session_state.get(key, default)
        if value == default or value in (None, "", []):
            if key in st.query_params:
                del st.query_params[key]
            continue
        if isinstance(value, list):
            value = ",".join(map(str, value))
        elif isinstance(value, date):
            value = value.isoformat()
        if st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)


def md(text: object) -> str:
    """Letter-derived text made inert for st.markdown: markup characters are escaped."""
    return ad.escape_markdown(str(text))


def page_url(page: str, **params: str) -> str:
    return "?" + urlencode({"page": page, **{k: v for k, v in params.items() if v}})


def _on_page_change() -> None:
    # A new page starts from a clean URL: other pages' filters would only confuse a link.
    page = st.session_state["page"]
    st.query_params.clear()
    st.query_params["page"] = page
    # Its widgets start from the choices kept when it was last shown (q_init), not from
    # what Streamlit left under their keys while away: it reset a filter set in the
    # controls to its default, so the figures changed without a word on coming back.
    s = st.session_state
    for kept in [k for k in s if isinstance(k, str) and k.startswith(_KEPT)]:
        if kept != _KEPT + "page":  # the page chosen is this callback's own widget
            s.pop(kept[len(_KEPT):], None)
    # Panels open as their page's choices say on each visit (kept, a panel with a filter
    # set came back closed): the open state is kept within a visit, for the focus.
    for opened in [k for k in s if isinstance(k, str) and k.endswith("_open")
                   and k.startswith("_")]:
        del s[opened]
    s["_fold_sidebar"] = True  # on a phone it covered the page just chosen


def fold_sidebar_on_phone() -> None:
    """Close the sidebar where it covers the page (a phone): a page chosen from the list
    was drawn behind it, 300 of 390 pixels hidden. Streamlit folds it for st.navigation's
    pages, not for a radio's."""
    st.html("<script>(function () {"
            "  if (window.innerWidth >= 768) { return; }"
            "  var tries = 0;"
            "  (function look() {"
            "    var b = document.querySelector("
            "      '[data-testid=stSidebar][data-collapsed=false] "
            "[data-testid=stSidebarCollapseButton] button');"
            # The focus, left in the hidden sidebar, goes to the page's title.
            "    if (b) { b.click(); var h = document.querySelector('.stMain h1');"
            "      if (h) { h.setAttribute('tabindex', '-1'); h.focus({preventScroll: true}); } }"
            "    else if (tries++ < 20) { setTimeout(look, 100); }"
            "  })();"
            "})();</script>", unsafe_allow_javascript=True)


# --- small shared pieces -----------------------------------------------------------------


def filter_slug(filters: ad.Filters) -> str:
    """The filters for a file name ("outcome_systemic_failings-from_2024-01-01"), "" for
    none; a long one is "filtered-" and a short hash, so that two views differ still."""
    parts = [f"{label}_{'+'.join(values)}" for label, values in (
        ("area", filters.areas), ("region", filters.regions), ("framework", filters.frameworks),
        ("outcome", filters.outcomes), ("section", filters.sections)) if values]
    parts += [f"{word}_{day}" for word, day in (("from", filters.date_from),
                                                ("to", filters.date_to)) if day]
    slug = re.sub(r"[^\w.+-]+", "_", "-".join(parts))
    if len(slug) <= 60:
        return slug
    return "filtered-" + hashlib.sha256(slug.encode()).hexdigest()[:6]


def download_warnings(path: str, counts_tags: bool = True,
                      lists_passages: bool = False) -> str:
    """What a downloaded table's About sheet and Markdown note must warn of, as the page
    does: a stale model or broken codebook, and letters not tagged yet; nothing for a
    table without tags (the letters table lists every letter, as `export letters`), and
    not the letters "left out" for a list of a letter's passages (`lists_passages`: an
    untagged one is there, its tags blank)."""
    if not counts_tags:
        return ""
    stamp = ad.stamp(path)
    return " ".join(filter(None, [
        ad.problem_text(ad.model_problems(path, stamp)),
        ad.older_text(path, stamp, on_page=False),
        ad.thin_text(path, stamp),
        "" if lists_passages else ad.untagged_text(ad.status(path, stamp))]))


def downloads(frame: pd.DataFrame, name: str, key: str,
              options: dict[str, str] | None = None,
              filters: ad.Filters | None = None, counts_tags: bool = True,
              lists_passages: bool = False) -> None:
    """CSV / Excel / Markdown buttons for exactly the table shown. The Excel file's
    'About' sheet names the table, the view it came from (a link with its filters), the
    options chosen on the page that the link does not hold, the corpus and the model.
    With `filters`, the file name says what they left out: a filtered table saved under
    the unfiltered one's name was taken for it."""
    if filters is not None and (slug := filter_slug(filters)):
        name = f"{name}-{slug}"
    cols = st.columns(len(EXPORT_FORMATS) + 2)
    cols[0].caption(f"Download {counted(len(frame), 'row')}:")
    # st.context.url is None with no browser behind the run (AppTest).
    parts = urlsplit(st.context.url or "")
    # "http://host:8501/?page=..." (the path at least "/", as a browser writes it)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")) if parts.netloc \
        else ""
    view = f"{base}?{urlencode({k: st.query_params.get(k) for k in st.query_params})}"
    path = corpus_dir()
    # The filters by name too (the link holds them, but a pasted table has no link).
    narrowed = {} if filters is None else {
        "area": ", ".join(filters.areas), "region": ", ".join(filters.regions),
        "framework": ", ".join(filters.frameworks), "outcome": ", ".join(filters.outcomes),
        "sections": ", ".join(filters.sections), "from": filters.date_from,
        "to": filters.date_to}
    chosen = {k: v for k, v in {**narrowed, **(options or {})}.items() if v}

    # What the file says of itself is read now, with the table: a `sendlens tag` run
    # before the click (the page not drawn again) gave the old table the new model's
    # name and no warnings.
    problems = download_warnings(path, counts_tags, lists_passages)
    about_it = ad.provenance(path, ad.stamp(path), table=name, view=view, **chosen,
                             **({"warnings": problems} if problems else {}))

    def render(fmt: str) -> bytes:
        # The Excel file's About sheet; the Markdown table's line under it (csv: plain);
        # dated when it is saved.
        about = {**about_it, "exported": now_iso()} if fmt in ("xlsx", "md") else None
        return table_bytes(frame, fmt, about)

    for i, (fmt, label) in enumerate(EXPORT_FORMATS.items(), start=1):
        cols[i].download_button(
            label,
            # Deferred: Excel for tens of thousands of rows takes seconds, only on click.
            data=lambda fmt=fmt: render(fmt),
            file_name=f"{name}.{fmt}",
            mime=MIME[fmt],
            key=f"dl-{key}-{fmt}",
            on_click="ignore",
            icon=":material/download:",
        )
    # Each button named for its table too: a page of three tables had nine buttons a screen
    # reader called "CSV", "Excel" and "Markdown". The name starts with the visible word,
    # so that "click Excel" still works by voice.
    name_buttons({f"dl-{key}-{fmt}": f"{label}: {name}.{fmt}, {counted(len(frame), 'row')}"
                  for fmt, label in EXPORT_FORMATS.items()})


def md_table(frame: pd.DataFrame, columns: dict[str, str], *,
             links: dict[str, str] | None = None,
             formats: dict[str, str] | None = None) -> None:
    """A small table as Markdown. Every page already has the Markdown renderer loaded; the
    first data grid on a page makes the browser fetch and compile ~1.5 MB of grid code
    first, which is most of a page's first paint for a table of ten rows.

    `columns` maps column -> header; `links` maps a column of URLs -> the link text;
    `formats` maps a column -> a format spec for numbers. Cell text is escaped.
    """
    links, formats = links or {}, formats or {}

    def cell(column: str, value: Any) -> str:
        if value is None or (not isinstance(value, str | list) and pd.isna(value)):
            return "–"
        if column in links:
            return f"[{md(links[column])}]({value})"  # our own page_url(): already encoded
        if column in formats:  # halves rounded up, as in the downloads
            return number_text(value, formats[column])
        return md(" ".join(str(value).split()))  # one line: a newline would end the row

    lines = ["| " + " | ".join(md(h) for h in columns.values()) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row[c]) for c in columns) + " |"
              for row in frame.to_dict("records")]
    # On a phone a wide table scrolls by itself, not the whole page with it, with a shadow
    # at an edge with more beyond it (class sl-wide, in main's style).
    st.markdown('<div class="sl-wide">\n\n' + "\n".join(lines) + "\n\n</div>",
                unsafe_allow_html=True)


def figures(items: dict[str, str]) -> None:
    """Key figures in a row, drawn like st.metric (a label over a large number) but as one
    HTML element: st.metric makes the browser fetch its own code and a number-formatting
    library (~55 kB) before the page is drawn, and lays out each figure as an element."""
    cells = "".join(
        '<div style="flex: 1 1 8rem; min-width: 7rem;">'
        f'<dt style="font-size: 0.875rem; opacity: 0.75;">{html.escape(label)}</dt>'
        f'<dd style="margin: 0; font-size: 2.25rem; line-height: 1.4;">{html.escape(value)}</dd>'
        "</div>" for label, value in items.items())
    st.html('<dl style="display: flex; flex-wrap: wrap; gap: 1rem; margin: 0; padding: 0;">'
            f"{cells}</dl>")


def when(timestamp: str | None) -> str | None:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM' for Markdown. Not only shorter: the Markdown
    renderer fetches a 260 kB emoji library as soon as a text has ':word:' in it, as
    'T22:31:37' has."""
    if not timestamp:
        return timestamp
    return timestamp.replace("T", " ")[:16]


def lazy_expander(label: str, key: str, *, expanded: bool = False) -> Any:
    """An expander whose content is only built (and sent) while it is open: a closed
    expander's data grid still makes the browser load the grid code before the page is
    drawn. Returns the open expander to draw into, or None while it is closed. The label
    is part of the expander's identity: keep it fixed, or it closes when it changes.
    `expanded` is the state the first time it is shown."""
    box = st.expander(label, expanded=expanded, key=key, on_change="rerun")
    return box if box.open else None


def sideways(box: str, needs: int) -> None:
    """Let the container keyed `box` scroll sideways, with a scroll bar that stays in
    view, and say so when the box is narrower than the `needs` pixels its chart takes
    (a laptop with the sidebar open, a phone): the chart's right-hand columns are then
    out of view, and overlay scroll bars show only while scrolling. A container query,
    not the window's width: the sidebar, open or closed, changes the room."""
    st.html(f"<style>.st-key-{box} {{ overflow-x: auto; container-type: inline-size; "
            "scrollbar-width: thin; scrollbar-color: #bbb transparent; }"
            f".st-key-{box}::-webkit-scrollbar {{ height: 8px; }}"
            f".st-key-{box}::-webkit-scrollbar-thumb {{ background: #bbb; border-radius: 4px; }}"
            f".st-key-{box} .sendlens-sideways {{ display: none; }}"
            f"@container (max-width: {int(needs)}px) {{ .st-key-{box} .sendlens-sideways "
            "{ display: block; } }</style>"
            '<div class="sendlens-sideways" style="font-size: 0.85em; color: #555;">'
            "Wider than this column: scroll the chart sideways for the other columns →</div>")


# `judged` as a Vega expression of a chart's datum (the shares' denominator).
JUDGED_VEGA = "(datum.positive + datum.negative + datum.mixed)"


def faded(few: int) -> Any:
    """A heatmap cell's opacity: a share or net stance of fewer than `few` judgements
    (positive, negative or mixed passages) is shown, but faded: little evidence behind it.
    A cell of none is grey (judged_colour) at full strength, not a faded grey."""
    return alt.condition(f"{JUDGED_VEGA} > 0 && {JUDGED_VEGA} < {int(few)}",
                         alt.value(0.4), alt.value(1.0))


def chart_width(labels: Iterable[str], columns: int, step: int, label_limit: int,
                extra: int) -> int:
    """About how many pixels a heatmap takes: its row labels (12 px type, cut at
    `label_limit`), `columns` cells of `step` px, and `extra` (legend, the slanted
    column labels' overhang)."""
    longest = max((len(str(x)) for x in labels), default=0)
    return min(label_limit, int(6.5 * longest)) + columns * step + extra


def slant_overhang(last_label: str, step: int, label_limit: int = 200) -> int:
    """How far the last column's label, slanted up at 35° from its cell's centre, reaches
    past the chart's right edge (12 px type, cut at the axis's `label_limit` px), with
    room to spare: a theme added to the codebook with a long name ("Home to school
    transport") was cut off there."""
    return max(25, int(min(6.5 * len(last_label), label_limit) * 0.82) - step // 2 + 8)


def scroll_to(element_id: str, *, if_hidden: bool = False, focus: bool = False) -> None:
    """Scroll the page so that the element with this id is in view, once it is drawn
    (with `if_hidden`, only when it is not wholly in view: on a phone, below a tall chart).
    With `focus` the element (tabindex -1) takes the keyboard focus too: else the first
    Tab went to the top of the page and the place was lost.

    The script is ours alone: the id goes in as a JSON string with "<" escaped, so no
    letter text or link value can end the script or add to it."""
    target = json.dumps(element_id).replace("<", "\\u003c")
    hidden = ("var r = el.getBoundingClientRect(); if (r.top >= 0"
              " && r.bottom <= window.innerHeight) { return; }" if if_hidden else "")
    block = "start" if if_hidden else "center"  # a heading at the top; a passage mid-page
    st.html(
        "<script>(function () {"
        f"  var id = {target}, tries = 0;"
        "  (function look() {"
        "    var el = document.getElementById(id);"
        "    if (el) {" + (" el.focus({preventScroll: true});" if focus else "")
        + f" {hidden} el.scrollIntoView({{block: '{block}'}}); }}"
        "    else if (tries++ < 50) { setTimeout(look, 100); }"
        "  })();"
        "})();</script>",
        unsafe_allow_javascript=True,
    )


def focus_here(element_id: str, said: str) -> None:
    """A mark here that takes the keyboard focus (scrolled to if out of view), and a screen
    reader says `said`: after a rerun that removed the control that had it, the focus
    fell to the top of the page and the place was lost."""
    st.html(f'<div id="{html.escape(element_id, quote=True)}" tabindex="-1" '
            f'aria-label="{html.escape(said, quote=True)}" '
            'style="height: 1px; outline: none;"></div>')
    scroll_to(element_id, if_hidden=True, focus=True)


def name_buttons(names: dict[str, str]) -> None:
    """Give the buttons of these widget keys these accessible names, once drawn (a widget's
    own label is all Streamlit lets a button be called). Escaped as scroll_to's id."""
    given = json.dumps(names).replace("<", "\\u003c")
    st.html(
        "<script>(function () {"
        f"  var names = {given}, tries = 0, want = Object.keys(names).length;"
        "  (function look() {"
        "    var done = 0;"
        "    for (var k in names) {"
        "      var b = document.querySelector('.st-key-' + CSS.escape(k) + ' button');"
        "      if (b) { b.setAttribute('aria-label', names[k]); done++; }"
        "    }"
        "    if (done < want && tries++ < 50) { setTimeout(look, 100); }"
        "  })();"
        "})();</script>",
        unsafe_allow_javascript=True,
    )


def show_error(exc: Exception) -> None:
    st.warning(str(exc), icon=":material/info:")


# --- charts --------------------------------------------------------------------------------
# Each chart's Vega-Lite spec is built with Altair *without its data* and cached: building
# and validating an Altair chart costs 0.1-0.3 s of Python per chart on every rerun (the
# heatmap's spec alone held back Compare's first paint by ~0.4 s), while the spec only
# depends on a few choices. The data goes beside it as a named dataset (sent as Arrow),
# exactly as st.altair_chart would send it.


def chart_data() -> alt.NamedData:
    """What a cached chart is built on: a name that show_chart binds to the data."""
    return alt.NamedData(name="table")


def chart_spec(chart: alt.TopLevelMixin, description: str) -> dict[str, Any]:
    """An Altair chart built on chart_data() as a Vega-Lite spec (validated by Altair).
    `description` is what a screen reader calls the chart: else every chart was "Vega
    visualization"."""
    spec = {**chart.to_dict(), "description": description}
    if spec.get("data") != {"name": "table"}:  # layers share one dataset, at the top
        raise ValueError("chart_spec: build the chart on chart_data()")
    # Altair's default theme sizes continuous axes at 300 px; st.altair_chart turns that
    # theme off, so do the same (the charts set their own heights).
    view = spec.get("config", {}).get("view", {})
    for k in ("continuousWidth", "continuousHeight"):
        view.pop(k, None)
    if spec.get("config", {}).get("view") == {}:
        del spec["config"]["view"]
    # Streamlit's theme draws axis and legend text in #808495, 3.7:1 on white where text
    # of that size needs 4.5:1: the captions' grey instead (7:1).
    config = spec.setdefault("config", {})
    for part in ("axis", "legend"):
        config.setdefault(part, {}).update({"labelColor": CHART_TEXT, "titleColor": CHART_TEXT})
    return spec


CHART_TEXT = "#595959"


def show_chart(spec: dict[str, Any], data: pd.DataFrame, **kwargs: Any) -> Any:
    """Draw a cached spec with its data, container-wide; returns st.vega_lite_chart's
    result (the selection state when `on_select` is given)."""
    # Named after its content, as Altair names datasets: new data is a new chart to the
    # browser, never an in-place update of the old one.
    digest = hashlib.sha1(repr(list(data.columns)).encode())
    digest.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    name = "data-" + digest.hexdigest()[:16]
    spec = {**spec, "data": {"name": name}, "datasets": {name: data}}
    return st.vega_lite_chart(spec=spec, **{"width": "stretch", **kwargs})


@st.cache_data(show_spinner=False)
def year_bars_spec() -> dict[str, Any]:
    """Letters by year of inspection, stacked by framework (Overview)."""
    return chart_spec(alt.Chart(chart_data()).mark_bar().encode(
        x=alt.X("year:O", title="Year inspection began", axis=alt.Axis(labelAngle=0)),
        # Whole letters: a corpus of two letters otherwise had ticks at 0.5, 1.5...
        y=alt.Y("letters:Q", title="Letters", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("framework_name:N", title="Framework",
                        legend=alt.Legend(orient="bottom", columns=1)),
        tooltip=["year:O", "framework_name:N", "letters:Q"],
        description="description:N",
    ).transform_calculate(description=_bar_words("datum.year + ', '"))
        .properties(height=300), "Bar chart: letters by the year their inspection began, "
        "by framework")


@st.cache_data(show_spinner=False)
def outcome_bars_spec() -> dict[str, Any]:
    """Letters by outcome, coloured by framework (Overview)."""
    return chart_spec(alt.Chart(chart_data()).mark_bar().encode(
        # Long names on two lines (broken at the first space after 16 characters): on one
        # line they took all of a narrow window's column and left no room for the bars.
        y=alt.Y("outcome_name:N", title=None, sort="-x", axis=alt.Axis(
            labelLimit=200, labelExpr=(
                "indexof(slice(datum.label, 16), ' ') < 0 ? datum.label : "
                "[slice(datum.label, 0, 16 + indexof(slice(datum.label, 16), ' ')), "
                "slice(datum.label, 17 + indexof(slice(datum.label, 16), ' '))]"))),
        x=alt.X("letters:Q", title="Letters", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("framework_name:N", title="Framework", legend=None),
        tooltip=["framework_name:N", "outcome_name:N", "letters:Q"],
        description="description:N",
    ).transform_calculate(description=_bar_words("datum.outcome_name + ', '"))
        .properties(height=300), "Bar chart: letters by outcome, by framework")


def _bar_words(start: str) -> str:
    """A Vega expression for what a screen reader says of an Overview bar ("2023,
    Area SEND inspection (2023 framework): 12 letters"); by default it read each field
    twice, once as the axis and once as the tooltip."""
    return (f"{start} + datum.framework_name + ': ' + format(datum.letters, ',d') + "
            "(datum.letters == 1 ? ' letter' : ' letters')")


def evidence_table(frame: pd.DataFrame, key: str, *, height: int = 460,
                   name: Callable[[str], str] | None = None) -> None:
    """Passages with their citation and a link to the letter, escaped by the data grid.

    Only the first TABLE_ROWS rows go to the browser unless the user asks for all (the
    downloads always hold every row)."""
    total = len(frame)
    if total > TABLE_ROWS:
        everything = st.toggle(f"Show all {total:,} passages in the table", key=f"{key}-all",
                               help="Sorting by a column sorts only the rows shown.")
        if not everything:
            st.caption(f"The table shows the first {TABLE_ROWS:,} of {total:,} passages; the "
                       "downloads hold them all.")
            frame = frame.head(TABLE_ROWS)
    shown = with_reader_links(frame)
    shown["text"] = text_with_lead_in(shown)  # a list's item after its list's opening words
    if name is not None and "themes" in shown.columns:  # in words, as on the other pages
        shown["themes"] = shown["themes"].map(lambda ts: theme_words(ts, name))
    if "section" in shown.columns:
        shown["section"] = shown["section"].map(ad.section_words)
    # The letter's link before the passage: after it, a 1280 px window hid it to the right.
    cols = [c for c in ("area", "inspection_start", "section", "stance", "open", "text",
                        "themes", "citation") if c in shown.columns]
    st.dataframe(shown[cols], hide_index=True, placeholder="", height=height, key=key,
                 row_height=PASSAGE_ROW_PX, column_config=passage_columns())


def with_reader_links(frame: pd.DataFrame) -> pd.DataFrame:
    """Passages (letter_id, passage_id) with an `open` column: each one's place in the
    Letter reader."""
    return frame.assign(open=[page_url("reader", letter=lid, focus=pid)
                              for lid, pid in zip(frame["letter_id"], frame["passage_id"])])


def passage_columns(**extra: Any) -> dict[str, Any]:
    """How a table of passages shows its columns (with_reader_links's `open` as a link),
    plus `extra` ones."""
    return {
        # Wide enough for a date or a section name whole: rows wrap, and "small" broke
        # such words in two.
        "area": st.column_config.TextColumn("Area", width=120),
        "inspection_start": st.column_config.TextColumn("Inspected", width=90),
        "section": st.column_config.TextColumn("Section", width=95),
        "stance": st.column_config.TextColumn("Stance", width=72),
        "text": st.column_config.TextColumn("Passage", width=440),
        "open": st.column_config.LinkColumn("Letter", display_text="read ↗", width=60),
        "themes": st.column_config.TextColumn("Themes", width="medium"),
        "citation": st.column_config.TextColumn("Citation", width="medium"),
        **extra,
    }


def evidence_cards(frame: pd.DataFrame, limit: int = 40) -> None:
    """The first passages as readable quotes: stance, text, citation and a link. One HTML
    element for all of them: forty elements cost the browser far more to lay out."""
    if len(frame) > limit:
        # Said first too: at the end of a scrolling box the note was missed, and the
        # cards taken for every passage of the cell.
        st.caption(f"The first {limit} of {len(frame):,} passages; all of them are in the "
                   "sortable table below and in the downloads.")
    cards = []
    for row in frame.head(limit).itertuples():
        colour = ad.STANCE_COLOURS.get(row.stance, "#8c8c8c")
        link = page_url("reader", letter=row.letter_id, focus=row.passage_id)
        fix = page_url("label", pid=row.passage_id)
        # Forty cards' links are otherwise eighty links of two names ("north-east arrow").
        where = html.escape(f"passage {row.passage_id} ({row.citation.split(',')[0]})",
                            quote=True)
        # Letter text is escaped before it goes into HTML (st.html also sanitises).
        # An item of a list ("occupational therapy; and") is quoted after the words that
        # introduce its list, set apart as not the passage itself.
        lead = getattr(row, "lead_in", "") or ""
        lead_html = (f'<span style="color: #555;">[{html.escape(lead)}]</span> '
                     if lead else "")
        cards.append(
            f'<div style="border-left: 4px solid {colour}; padding: 2px 10px; '
            f'margin: 0 0 10px;">'
            f'<div style="font-size: 0.95em; line-height: 1.45;">{lead_html}'
            f'{html.escape(row.text)}</div>'
            f'<div style="font-size: 0.78em; color: #555; margin-top: 2px;">'
            f'<b style="color: {ad.stance_text_colour(row.stance)};">'
            f'{html.escape(str(row.stance))}</b> · '
            f"{html.escape(str(row.citation))} · "
            # Named from its visible words, so that a voice user's "click read in letter"
            # finds it (WCAG 2.5.3).
            f'<a href="{html.escape(link, quote=True)}" target="_blank" aria-label="Read in '
            f'letter: {where} (opens a new tab)">read in letter ↗</a>'
            # A wrong tag is corrected on the Label page: one click from the evidence.
            f' · <a href="{html.escape(fix, quote=True)}" target="_blank" aria-label="Correct '
            f'the tag of {where} (opens a new tab)">correct the tag ↗</a>'
            f"</div></div>"
        )
    st.html("".join(cards))
    if len(frame) > limit:
        st.caption(f"…and {len(frame) - limit:,} more in the sortable table (open it below) "
                   "and in the downloads.")


# --- pages -------------------------------------------------------------------------------


def start_page(status: ad.Status) -> None:
    st.title("sendlens", anchor=False)
    st.header("No letters in this corpus yet", anchor=False)
    if status.error:
        st.error(f"The corpus at `{status.path}` cannot be read: {status.error}")
    st.markdown(
        f"The app reads the corpus folder **`{status.path}`**, which "
        + ("holds no letters." if status.exists else "does not exist yet.")
        + "\n\nTo fill it, in a terminal:\n"
    )
    st.code(
        f"# download the letters from the Ofsted website (polite, resumable)\n"
        f"sendlens scrape --corpus {status.path}\n\n"
        f"# or import PDFs you already have (a folder is searched recursively)\n"
        f"sendlens import path/to/letters/ --corpus {status.path}\n\n"
        f"# then tag the passages with themes and stance, and open the app again\n"
        f"sendlens tag --corpus {status.path}\n"
        f"sendlens app --corpus {status.path}",
        language="bash",
    )
    st.caption("Use another folder with `sendlens app --corpus DIR` or `SENDLENS_CORPUS=DIR`.")


def not_tagged(ctx: Ctx) -> bool:
    if ctx.status.is_tagged:
        return False
    st.info(
        f"The {ctx.status.letters} letters are imported but no passage is tagged yet. "
        f"Run `sendlens tag --corpus {ctx.path}` and reload this page.",
        icon=":material/label_off:",
    )
    return True


def page_overview(ctx: Ctx) -> None:
    s = ctx.status
    # anchor=False on headings: Streamlit's "link to heading" icon was one more Tab stop
    # each for a keyboard user (only the evidence heading, scrolled to, keeps an anchor).
    st.title("Overview", anchor=False)
    st.caption(f"Corpus `{ctx.path}`")
    figures({"Letters": f"{s.letters:,}", "Areas": f"{s.areas:,}",
             "Passages": f"{s.passages:,}",
             "Passages tagged": number_text(s.tagged / s.passages, ".0%") if s.passages
             else "–",
             "With a theme": number_text(s.themed / s.tagged, ".0%") if s.tagged else "–",
             # The model's own count of hand labels (label files too) is under Model.
             "Corrections saved": f"{s.labels:,}"})
    if pairs := ad.close_pairs(ctx.path, ctx.stamp):
        from sendlens.store import CLOSE_PAIRS, SUPERSEDE_HINT

        # One report corrected and published again under other dates, held twice: every
        # chart counts it twice. Said where a researcher starts, as info and scrape say it.
        st.warning(f"{counted(len(pairs), 'pair')} {CLOSE_PAIRS}, perhaps one report held "
                   "twice (corrected and published again under other dates), which every "
                   "table counts twice: " + md("; ".join(pairs)) + f". Read both; "
                   f"{SUPERSEDE_HINT}.", icon=":material/content_copy:")
    data = ad.overview(ctx.path, ctx.stamp)
    left, right = st.columns(2)
    with left:
        st.header("Letters by year of inspection", anchor=False)
        show_chart(year_bars_spec(), data["by_year"])
    with right:
        st.header("Outcomes", anchor=False)
        show_chart(outcome_bars_spec(), data["by_outcome"])
    left, right = st.columns(2)
    with left:
        st.header("Model", anchor=False)
        if s.model:
            st.markdown(f"Current model **`{s.model['version']}`**, trained "
                        f"{when(s.model['created_at'])}.")
            quality = ad.model_quality(s.model)
            if len(quality):
                # Non-breaking hyphens: in half the page's width "(0.80-0.86)" broke
                # after its hyphen, one figure over two lines.
                figures_kept = {c: quality[c].map(
                    lambda v: v.replace("-", "\u2011") if isinstance(v, str) else v)
                    for c in ad.QUALITY_COLUMNS}
                md_table(quality.assign(**figures_kept),
                         {"how": "Measured on", **ad.QUALITY_COLUMNS})
                if quality[list(ad.QUALITY_COLUMNS)].map(
                        lambda v: isinstance(v, str) and "(" in v).any().any():
                    st.caption("In brackets: 95% intervals from resampling the letters.")
            else:
                st.caption("No measured quality is stored with this model yet: "
                           "`sendlens evaluate GOLD.jsonl` scores it on hand labels it was "
                           "not trained on, `sendlens evaluate GOLD.jsonl --cv` on those it "
                           "was trained on (when they were all it was trained on: not with "
                           "corrections saved here too), and records the figures here. The "
                           "model card "
                           "(docs/MODEL_CARD.md) has the project's own figures.")
        else:
            st.markdown("No model yet: run `sendlens tag` to train one and tag the passages.")
    with right:
        st.header("Last updates", anchor=False)
        scraped = when(s.last_scrape) or "never (letters were imported from files)"
        imported = when(s.last_import) or "–"
        st.markdown(f"- Last scrape: **{scraped}**\n- Last import: **{imported}**")
        if s.outdated:
            st.warning(f"{counted(s.outdated, 'letter')} {'was' if s.outdated == 1 else 'were'} "
                       "read by an older version of sendlens. `sendlens import --reparse` "
                       "reads them again with its fixes, then `sendlens tag` tags what "
                       "changed.")
    # The page's full width: in the half-width column its last column was cut off.
    # Non-breaking hyphens: a narrow screen must not wrap a date inside it.
    recent = data["recent"].assign(
        imported_at=data["recent"]["imported_at"].str[:10].str.replace("-", "\u2011"))
    st.caption(f"The {len(recent)} letters imported last:")
    md_table(recent, {"area": "Area", "framework_name": "Framework",
                      "inspection_start": "Inspection began",
                      "outcome_name": "Outcome", "imported_at": "Imported"})


# Column headers in words, for the tables the app shows (downloads keep the keys).
TABLE_HEADERS = {"la_code": "LA code", "letters_mentioning": "Letters mentioning",
                 "share_negative": "Share negative", "net_stance": "Net stance"}

FILTER_NAMES = {"areas": "areas", "regions": "regions", "fw": "frameworks",
                "out": "outcomes", "sec": "sections", "from": "from", "to": "to"}


# The pages with the shared filters, by the prefix of their keys.
FILTER_PAGES = {"c_": "Compare areas", "t_": "Theme explorer"}


def _carry_filters(prefix: str) -> None:
    """On the first visit to a page with filters (none of its own set in this session or
    in the link), take those last set on the other such page: a researcher who narrowed
    Compare areas to the positive reports and opened the Theme explorer read every
    report's passages, with nothing to say so. Said above the page when it happens."""
    s = st.session_state
    mine = [prefix + k for k in FILTER_NAMES]
    if any(k in s or _KEPT + k in s or k in st.query_params for k in mine):
        return
    for other, page in FILTER_PAGES.items():
        kept = {k: s[_KEPT + other + k] for k in FILTER_NAMES if _KEPT + other + k in s}
        if other == prefix or not any(isinstance(v, list) and v for v in kept.values()):
            continue
        for k, v in kept.items():
            s[prefix + k] = list(v) if isinstance(v, list) else v
        s.setdefault("_link_notes", []).append(
            f"The filters set on {page} are used here too (open Filters to change them)")
        return


def _filters(ctx: Ctx, prefix: str) -> ad.Filters:
    """The shared filters; state kept in the URL.

    Their widgets sit in an expander that is only built while open: even a closed
    expander's multiselects and date pickers make the browser fetch and run their code
    (~0.3 MB) before the page is drawn, for filters most first views do not touch. A
    link with filters in it opens the expander; the values live on while it is closed.
    """
    o = ctx.options
    d_min = date.fromisoformat(o.date_min) if o.date_min else date(2016, 1, 1)
    d_max = date.fromisoformat(o.date_max) if o.date_max else date.today()
    keys = {f"{prefix}areas": [], f"{prefix}regions": [], f"{prefix}fw": [],
            f"{prefix}out": [], f"{prefix}sec": [], f"{prefix}from": d_min,
            f"{prefix}to": d_max}
    _carry_filters(prefix)
    q_init(f"{prefix}areas", [], o.areas, multi=True, alias=ad.area_name)
    q_init(f"{prefix}regions", [], o.regions, multi=True)
    q_init(f"{prefix}fw", [], o.frameworks, multi=True)
    q_init(f"{prefix}out", [], o.outcomes, multi=True)
    q_init(f"{prefix}sec", [], o.sections, multi=True)
    q_init(f"{prefix}from", d_min)
    q_init(f"{prefix}to", d_max)
    s = st.session_state

    def clamp(day: date) -> date:
        return min(max(day, d_min), d_max)

    span = (s[f"{prefix}from"], s[f"{prefix}to"])
    if (min(span) > d_max or max(span) < d_min) and f"{prefix}beyond" not in s:
        # A link's dates wholly after (or before) every letter's: nothing matches, which
        # the clamped pickers below cannot show; kept until a date is changed.
        s[f"{prefix}beyond"] = (span, (clamp(span[0]), clamp(span[1])))
    for k in (f"{prefix}from", f"{prefix}to"):
        # A link made before the corpus changed may hold a date outside its range: the
        # date picker would refuse it with an exception.
        kept = clamp(s[k])
        if kept != s[k]:
            if f"{prefix}beyond" not in s:
                s.setdefault("_link_notes", []).append(
                    f"The link's {k}={s[k]} is outside the letters' dates ({d_min} to "
                    f"{d_max}): {kept} is used")
            s[k] = kept
    beyond = s.get(f"{prefix}beyond")
    if beyond is not None and (s[f"{prefix}from"], s[f"{prefix}to"]) != beyond[1]:
        del s[f"{prefix}beyond"]  # the dates were changed here: they rule now
        beyond = None
    if beyond is not None:
        s.setdefault("_link_notes", []).append(
            f"The link asks for letters inspected from {beyond[0][0]} to {beyond[0][1]}; "
            f"the letters' dates run from {d_min} to {d_max}, so none matches (change the "
            "dates under Filters)")
    if s[f"{prefix}from"] > s[f"{prefix}to"]:
        # Reversed dates select nothing: read them the way round they must have meant.
        s[f"{prefix}from"], s[f"{prefix}to"] = s[f"{prefix}to"], s[f"{prefix}from"]
        s.setdefault("_link_notes", []).append(
            "'Inspected from' came after 'to': the two dates were swapped")
    active = [FILTER_NAMES[k[len(prefix):]] for k, default in keys.items() if s[k] != default]
    # A fixed label (a changing one would close the expander): the active filters are
    # named in the caption beside it instead. Open as first drawn on this visit: choosing the first
    # filter (or clearing the last) changed `expanded`, Streamlit drew a new expander and
    # the keyboard focus fell to the top of the page (as for "Row order and themes").
    opened = st.session_state.setdefault(f"_{prefix}filters_open", bool(active))
    box = lazy_expander("Filters", f"{prefix}filters", expanded=opened)
    if box is not None:
        with box:
            a, b, c = st.columns(3)
            a.multiselect("Areas", o.areas, key=f"{prefix}areas", placeholder="All areas")
            a.multiselect("Regions", o.regions, key=f"{prefix}regions",
                          placeholder="All regions")
            b.multiselect("Frameworks", o.frameworks, key=f"{prefix}fw",
                          format_func=ad.framework_name, placeholder="All frameworks")
            b.multiselect("Outcomes", o.outcomes, key=f"{prefix}out",
                          format_func=ad.outcome_name, placeholder="All outcomes")
            c.multiselect("Sections of the letter", o.sections, key=f"{prefix}sec",
                          format_func=ad.section_name, placeholder="All sections",
                          help=ad.SECTION_HELP)
            c1, c2 = c.columns(2)
            c1.date_input("Inspected from", key=f"{prefix}from", min_value=d_min,
                          max_value=d_max, format="YYYY-MM-DD")
            c2.date_input("to", key=f"{prefix}to", min_value=d_min, max_value=d_max,
                          format="YYYY-MM-DD")
    q_sync(keys)
    if beyond is not None:
        # The link's own dates, not the clamped ones the pickers show: opened afresh, the
        # link must find no letter again (the clamped dates found one).
        for k, day in zip((f"{prefix}from", f"{prefix}to"), beyond[0], strict=True):
            st.query_params[k] = day.isoformat()
    if box is None and active:
        st.caption("Filtered by " + ", ".join(active) + " (open Filters to change).")
    return ad.Filters(
        areas=tuple(s[f"{prefix}areas"]),
        regions=tuple(s[f"{prefix}regions"]),
        frameworks=tuple(s[f"{prefix}fw"]),
        outcomes=tuple(s[f"{prefix}out"]),
        sections=tuple(s[f"{prefix}sec"]),
        date_from=beyond[0][0].isoformat() if beyond else
        s[f"{prefix}from"].isoformat() if s[f"{prefix}from"] != d_min else None,
        date_to=beyond[0][1].isoformat() if beyond else
        s[f"{prefix}to"].isoformat() if s[f"{prefix}to"] != d_max else None,
    )


def untagged_note(ctx: Ctx, where: str, chosen: Sequence[str] = ()) -> None:
    """Name the codebook's themes the tables leave out, as no tagging model knew them."""
    if missing := [t for t in ad.untagged_themes(ctx.path, ctx.stamp)
                   if not chosen or t in chosen]:
        st.caption(f"Not in the {where}: {', '.join(md(ctx.theme(t)) for t in missing)}, "
                   "added to the "
                   "codebook since the corpus was tagged (retrain on the Label page, or run "
                   "`sendlens tag`).")


def pooled_note(ctx: Ctx, by: str, filters: ad.Filters) -> None:
    """Say when rows pool letters of several frameworks: a revisit discusses only the
    weaknesses it revisits, so its shares are not like for like with a full inspection's."""
    if pooled := ad.pooled_groups(ctx.path, ctx.stamp, by, filters):
        rows = list(pooled)
        named = ", ".join(md(r) for r in rows[:3]) + (
            f" and {len(rows) - 3} more" if len(rows) > 3 else "")
        st.caption(f"{counted(len(rows), 'row')} {'pools' if len(rows) == 1 else 'pool'} "
                   f"letters of several frameworks ({named}; {ad.pooled_reason(pooled)}): "
                   "choose one framework under Filters to "
                   "compare like with like.")


def sections_note(ctx: Ctx, filters: ad.Filters, *, has_filters: bool = True) -> None:
    """Say when letters hold no passage in the sections chosen (a revisit's judgements are
    under Main findings): they count as letters with nothing said, lowering the shares."""
    if empty := ad.letters_without_sections(ctx.path, ctx.stamp, filters):
        n = sum(empty.values())
        which = ", ".join(f"{ad.framework_name(fw)}: {k}" for fw, k in empty.items())
        older = set(empty) - {"area_send_2023"}
        st.caption(f"{counted(n, 'letter')} ({md(which)}) {'has' if n == 1 else 'have'} no "
                   "passage in the sections chosen but "
                   f"{'counts' if n == 1 else 'count'} among the letters"
                   + ("; revisits and monitoring visits give their judgements under Main "
                      "findings: add it" + (", or choose one framework under Filters."
                                            if has_filters else ".") if older else "."))


def page_compare(ctx: Ctx) -> None:
    st.title("Compare areas", anchor=False)
    if not_tagged(ctx):
        return
    themes = list(ctx.options.themes) or []
    defaults = {"by": "area", "metric": "net_stance", "sort": "name", "th": [],
                "min": MIN_RANKED}
    q_init("by", "area", ("area", "region"))
    q_init("metric", "net_stance", tuple(METRICS))
    q_init("sort", "name", ("name", *themes))
    q_init("th", [], themes, multi=True)
    q_init("min", MIN_RANKED, range(1, 101))
    a, b = st.columns([1, 1.4])
    a.radio("Rows", ["area", "region"], key="by", horizontal=True,
            format_func=lambda v: {"area": "Areas", "region": "Regions"}[v])
    b.radio("Colour", list(METRICS), key="metric",
            format_func=lambda v: {"net_stance": "Net stance",
                                   "share_negative": "Share negative"}[v],
            horizontal=True, help="\n\n".join([
                *METRICS.values(),
                "Pooled over the passages of a row's letters. Neutral passages (the "
                "background, descriptions) are counted in the number but not in the "
                "colour: they judge nothing."]))
    # Like the filters, built only while open: a selectbox and a multiselect each make
    # the browser fetch their code before the heatmap is drawn.
    # Says what the ranking is by: the colour's measure, not the number of criticisms.
    order_by = ("highest share negative first" if st.session_state["metric"] == "share_negative"
                else "lowest net stance first")
    # Regions come north to south, as the exports list them, not by name.
    plain = "Name" if st.session_state["by"] == "area" else "North to south"
    sort_name = {"name": plain, **{t: ctx.short(t) for t in themes}}
    changed = st.session_state["sort"] != "name" or bool(st.session_state["th"])
    # Open at first when a link asks for a ranking or themes; then fixed for the session:
    # a changed `expanded` made Streamlit draw a new expander, and a keyboard user's
    # focus (on "Sort rows by") fell back to the top of the page.
    view = lazy_expander("Row order and themes", "c_view",
                         expanded=st.session_state.setdefault("_c_view_open", changed))
    if view is not None:
        with view:
            c, m, d = st.columns([1.4, 0.8, 2])
            c.selectbox("Sort rows by", ["name", *themes], key="sort",
                        format_func=sort_name.get, on_change=_sorted_anew)
            # Beside the box, not in each option: a theme's name and this did not fit.
            c.caption(f"A theme ranks the rows, {order_by}.")
            m.number_input("Rank rows with at least", min_value=1, max_value=100, step=1,
                           key="min", help="Passages judging the theme the rows are "
                           "sorted by (positive, negative or mixed). Rows with fewer follow "
                           "the ranked ones, so that 1 negative passage of 1 does not top "
                           "the list as 100% negative; cells with fewer are faded.")
            d.multiselect("Themes", themes, key="th", format_func=ctx.theme,
                          placeholder="All themes")
    elif changed:
        sort = st.session_state["sort"]
        st.caption(f"Rows sorted by {md(sort_name.get(sort, 'name'))}"
                   + (f" ({order_by})" if sort in sort_name and sort != "name" else "") + "; "
                   + (f"{len(st.session_state['th'])} themes" if st.session_state["th"]
                      else "all themes") + " (open Row order and themes to change).")
    q_sync(defaults)
    filters = _filters(ctx, "c_")
    by, metric = st.session_state["by"], st.session_state["metric"]
    chosen = tuple(st.session_state["th"])
    try:
        shown, order, total_rows = _compare_view(ctx, by, metric, st.session_state["sort"],
                                                 chosen, filters, st.session_state["min"])
    except (ValueError, ad.NotTagged, ad.AppDataError) as exc:
        show_error(exc)
        return
    untagged_note(ctx, "chart", chosen)
    pooled_note(ctx, by, filters)
    sections_note(ctx, filters)
    if shown.empty:
        st.info("No tagged letters match these filters.")
        return
    if chosen and st.session_state["sort"] not in ("name", *chosen):
        st.caption(f"Rows are in {'name' if by == 'area' else 'north-to-south'} order: "
                   f"{md(ctx.short(st.session_state['sort']))}, the theme "
                   "to sort by, is not among the themes chosen.")
    elif st.session_state["sort"] != "name" and st.session_state["min"] > 1:
        st.caption(f"Rows with fewer than {st.session_state['min']} passages judging "
                   f"{md(ctx.short(st.session_state['sort']))} come after the ranked rows.")
    if total_rows > MAX_ROWS:
        st.caption(f"Showing the first {MAX_ROWS} of {total_rows} {by}s in this order; pick "
                   "areas in Filters, sort by a theme, or compare regions.")
    few = st.session_state["min"]
    # With a minimum of 1 no cell is faded: "fewer than 1 passages" named nothing.
    faded_note = (f"; faded: judged by fewer than {counted(few, 'passage')}, set in Row "
                  "order and themes" if few > 1 else "")
    st.caption(
        f"{counted(shown.drop_duplicates(by)['letters'].sum(), 'letter')}. Colour = "
        f"{METRICS[metric].lower()}; number = passages on the theme (blank: never "
        f"mentioned; grey: mentioned, never judged{faded_note}). "
        "**Click a cell** to read the passages behind it, or choose the row and theme "
        "under \"Evidence behind a cell\" (keyboard, screen reader); the numbers are also "
        "in a table below the chart."
    )
    if (sort := st.session_state["sort"]) != "name" and (top := _top_rows(shown, by, sort,
                                                                           metric, order)):
        # The ranking in words: a screen reader would otherwise go through the chart's
        # cells one by one, and a sighted reader gets the figures too.
        st.caption(f"Top of the ranking on {md(ctx.short(sort))}: {top}.")
    # The cell is settled before the chart is drawn, so that the chart outlines the cell
    # whose evidence is shown, however it was chosen (click, keyboard, link, a new sort).
    cell = _current_cell(ctx, by, list(order), chosen, st.session_state.get(_heatmap_key()),
                         st.session_state["sort"])
    # Read again: a cell chosen otherwise than by a click gets a fresh chart (see
    # _current_cell), so that a click on the cell clicked before counts.
    key = _heatmap_key()
    columns = list(dict.fromkeys(shown["theme_short"]))  # in the chart's order
    needs = chart_width(order, len(columns), 40, 240,
                        slant_overhang(columns[-1] if columns else "", 40))
    share = 0.62  # of the row, the chart's column
    # The evidence goes under the chart when the chart's column (`share` of the room) would
    # be narrower than the chart: cut off beside the evidence, its last themes and legend
    # were out of sight on a laptop with the sidebar open.
    st.html("<style>.st-key-compare-cols { container-type: inline-size; }"
            f"@container (max-width: {int(needs / share) + 16}px) {{"
            " .st-key-compare-cols [data-testid='stHorizontalBlock'] { flex-wrap: wrap; }"
            " .st-key-compare-cols [data-testid='stColumn'] { flex: 1 1 100% !important;"
            " width: 100% !important; min-width: 100% !important; } }</style>")
    with st.container(key="compare-cols"):
        left, right = st.columns([share, 1 - share], gap="medium")
    with left, st.container(key="heatmap-box"):
        spec, data = _heatmap(shown, by, metric, order, cell, st.session_state["min"])
        # Wider than a phone's column: scrolled there, not drawn over the evidence.
        sideways("heatmap-box", needs)
        show_chart(spec, data, on_select="rerun", selection_mode="cell", key=key,
                   width="content")
    with right:
        ev = _cell_evidence(ctx, shown, by, list(order), filters)
    # A fixed label: a label that changed with the cell would close the expander.
    box = None if ev is None or ev.empty else lazy_expander(
        "All passages of this cell as a sortable table", "cell-table")
    if box is not None:
        with box:
            evidence_table(ev, "cell-evidence", name=ctx.short)
            # Named for the stance shown too: the negative passages of a cell are not all.
            stance = st.session_state.get("cell_stance", ALL)
            downloads(ev, "-".join(["evidence", st.session_state["cell_row"],
                                    st.session_state["cell_theme"],
                                    *([stance] if stance != ALL else [])]).replace(" ", "_"),
                      "cell", {by: st.session_state["cell_row"],
                               "theme": st.session_state["cell_theme"],
                               "stance": "" if stance == ALL else stance}, filters=filters)
    box = lazy_expander("The numbers behind the chart", "cell-numbers")
    if box is not None:
        with box:
            # The columns of `sendlens export themes`, in its order.
            cols = [by, *[c for c in ("la_code",) if c in shown.columns], "theme", "letters",
                    "letters_mentioning", "share_letters", "passages",
                    "positive", "negative", "mixed", "neutral", "share_negative",
                    "share_negative_low", "share_negative_high", "net_stance",
                    "net_stance_low", "net_stance_high"]
            # Names in words on screen; the downloads keep the column keys of the CLI's
            # exports, which scripts read. On screen the chart's measure comes first, then
            # the other, each with its interval in words (blank where there is none).
            other = "share_negative" if metric == "net_stance" else "net_stance"
            # Rows in the chart's order (a ranking stays a ranking), themes in its columns'.
            place = {row: i for i, row in enumerate(order)}
            column = {t: i for i, t in enumerate(ctx.options.themes)}
            numbers = shown.assign(_row=shown[by].astype(str).map(place),
                                   _col=shown["theme"].map(column)).sort_values(
                ["_row", "_col"], kind="stable").drop(columns=["_row", "_col"])
            spreads = {f"{m}_95": [spread_text(a, b, m) for a, b in zip(
                numbers[f"{m}_low"], numbers[f"{m}_high"], strict=True)]
                for m in ("share_negative", "net_stance")}
            # The DfE code is for joining a download to other data, not for reading.
            on_screen = [c for c in cols if not c.endswith(("_low", "_high"))
                         and c != "la_code"]
            # Interval columns only where a row has one: blank for every area of one or two
            # letters, they pushed the counts out of view on a laptop.
            first = [by, "theme", *[c for m in (metric, other)
                                    for c in (m, f"{m}_95") if c == m or any(spreads[c])],
                     "passages"]
            # Rounded as shown: the grid's format is for the eye only, and a screen reader
            # read the cell as 0.35294117647058826 (the downloads keep every digit).
            shares = {c: numbers[c].round(3) for c in ("share_letters", "share_negative",
                                                        "net_stance")}
            # placeholder "": a share no passage judges is blank, as the captions say, not
            # the word "None" (so in every table of the app).
            st.dataframe(numbers[on_screen].assign(theme=numbers["theme"].map(ctx.theme),
                                                   **spreads, **shares),
                         hide_index=True, placeholder="",
                         column_order=first + [c for c in on_screen if c not in first],
                         column_config={
                             **{c: TABLE_HEADERS.get(c, c.capitalize()) for c in on_screen},
                             "share_letters": st.column_config.NumberColumn(
                                 "Share of letters", format="%.3f"),
                             "share_negative": st.column_config.NumberColumn(
                                 "Share negative", format="%.3f"),
                             "net_stance": st.column_config.NumberColumn(
                                 "Net stance", format="%+.3f"),
                             "share_negative_95": "Share negative, 95% interval",
                             "net_stance_95": "Net stance, 95% interval"})
            st.caption("95% interval: from resampling the group's letters; blank (no column "
                       f"when every row's is) where fewer than {MIN_INTERVAL_LETTERS} letters "
                       "judge the theme (an area's one or two letters), or all of them "
                       "agree. It leaves out the tagger's own errors. The downloads give it "
                       "as from / to columns.")
            downloads(numbers[cols], f"themes-by-{by}", "table", filters=filters)


def _top_rows(shown: pd.DataFrame, by: str, theme: str, metric: str, order: list[str],
              n: int = 5) -> str:
    """The first `n` ranked rows' measure on `theme`, in words ("East Midlands 63% (122
    passages), ..."); "" when the theme is not in the view."""
    cells = shown[shown["theme"] == theme]
    cells = cells.set_index(cells[by].astype(str))
    words = []
    for row in map(str, order[:n]):
        if row not in cells.index or pd.isna(value := cells.at[row, metric]):
            continue
        shown_value = _tip(value, ".0%" if metric == "share_negative" else "+.2f", 1)
        # Markdown-escaped: an area's name is read from a letter, which may hold a link.
        words.append(f"{md(row)} {shown_value} "
                     f"({counted(cells.at[row, 'passages'], 'passage')})")
    return ", ".join(words)


def _compare_view(ctx: Ctx, by: str, metric: str, sort: str, chosen: tuple[str, ...],
                  filters: ad.Filters, min_passages: int = MIN_RANKED) -> tuple[
        pd.DataFrame, list[str], int]:
    """The heatmap's cells (at most MAX_ROWS rows), its row order and how many rows
    there are in all."""
    table = ad.theme_table(ctx.path, ctx.stamp, by, replace(filters, themes=chosen))
    if table.empty:
        return table, [], 0
    table = table.assign(theme_name=table["theme"].map(ctx.theme),
                         theme_short=table["theme"].map(ctx.short))
    order = _row_order(table, by, metric, sort, min_passages)
    return table[table[by].isin(order[:MAX_ROWS])], order[:MAX_ROWS], len(order)


def _current_cell(ctx: Ctx, by: str, rows: list[str], chosen: tuple[str, ...],
                  event: Any, sort: str = "name") -> tuple[str | None, str | None]:
    """The (row, theme) whose evidence is shown: from the link, the heatmap's latest
    click (`event`, its selection state) or the selectboxes, always a cell on show.
    Rows sorted by a theme start on the top row's cell of that theme."""
    themes = list(ctx.options.themes)
    ranked = sort in themes and (not chosen or sort in chosen)
    # An area of the corpus that the filters leave out is taken from a link, then
    # replaced below with a note; only a name the corpus lacks is "ignored".
    every = ctx.options.areas if by == "area" else ctx.options.regions
    known = [*rows, *(a for a in every if a not in rows)]
    q_init("cell_row", rows[0] if rows else None, known,
           alias=ad.area_name if by == "area" else lambda v: _region_of(ctx, v))
    q_init("cell_theme", sort if ranked else (chosen or themes or [None])[0], themes)
    _follow_cell(event, by)
    if st.session_state.pop("_sorted_anew", False) and rows:
        st.session_state["cell_row"] = rows[0]
        if ranked:
            st.session_state["cell_theme"] = sort
    was_by, st.session_state["_cell_by"] = st.session_state.get("_cell_by", by), by
    if was_by != by and st.session_state["cell_row"] not in rows and rows:
        # Rows switched between areas and regions: the same place (an area's region, a
        # region's first area on show, or the area left for it if it is there), not a
        # note that a filter left the row out.
        row, left = st.session_state["cell_row"], st.session_state.setdefault("_row_left", {})
        left[was_by] = row
        back = left.get(by)
        st.session_state["cell_row"] = (
            back if back in rows and _same_place(ctx, back, by, was_by, [row]) == row
            else _same_place(ctx, row, was_by, by, rows))
    if st.session_state["cell_row"] not in rows and rows:
        # Filtered out (a link's date range, say): another cell, and said so, so that a
        # shared link does not silently show other evidence than it was sent for. An area
        # whose letters are not tagged yet is in no row, whatever the filters.
        row = st.session_state["cell_row"]
        why = ("its letters are not tagged yet (run sendlens tag, or Retrain on the "
               "Label page)" if by == "area" and _untagged_area(ctx, row)
               else "it is not among the rows shown with these filters")
        st.session_state.setdefault("_link_notes", []).append(
            f"{row}: {why}; the evidence is {rows[0]}'s")
        st.session_state["cell_row"] = rows[0]
    if chosen and st.session_state["cell_theme"] not in chosen:
        st.session_state["cell_theme"] = chosen[0]
    cell = st.session_state["cell_row"], st.session_state["cell_theme"]
    for k, v in zip(("cell_row", "cell_theme"), cell, strict=True):
        # The copy kept for a return to the page, else the cell before the last click.
        st.session_state[_KEPT + k] = v
    if (last := st.session_state.get("_last_cell")) is not None and tuple(last) != cell:
        # Moved off the clicked cell by a sort, the themes, the rows or the filters: the
        # chart still holds that click, and a click on it again would send nothing.
        _picked_by_keyboard()
    return cell


def _region_of(ctx: Ctx, area: str) -> str | None:
    """The region of an area named in a link to rows of regions (`cell_row=Bury`)."""
    if (name := ad.area_name(area)) is None:
        return None
    place = _same_place(ctx, name, "area", "region", list(ctx.options.regions))
    return None if place == name else place


def _waiting(ctx: Ctx) -> frozenset[str]:
    """Letters waiting for `sendlens tag` since it last ran (imported since): their pages
    say so. Empty, with no query, when none waits or nothing was ever tagged."""
    if not (ctx.status.is_tagged and ctx.status.untagged[1]):
        return frozenset()
    return ad.untagged_letters(ctx.path, ctx.stamp)


def _untagged_area(ctx: Ctx, area: Any) -> bool:
    """Whether every letter of `area` waits for `sendlens tag`."""
    if not (waiting := _waiting(ctx)):
        return False
    ids = ad.area_letters(ctx.path, ctx.stamp, str(area))["letter_id"]
    return len(ids) > 0 and all(i in waiting for i in ids)


def _same_place(ctx: Ctx, row: Any, was_by: str, by: str, rows: list[str]) -> Any:
    """The row of `rows` (grouped `by`) where `row`, a row grouped `was_by`, lies: an
    area's region, a region's first area in `rows`. Else `row` itself, which the caller
    then replaces with a note (its areas are all past the rows shown, say)."""
    letters = ad.letters(ctx.path, ctx.stamp)
    if {was_by, by} <= set(letters.columns):
        # Letters with no region are the tables' "unknown" row.
        both = letters[[was_by, by]].astype(object).fillna(ad.UNKNOWN_GROUP)
        pairs = set(both.loc[both[was_by] == row, by])
        for candidate in rows:
            if candidate in pairs:
                return candidate
    return row


def _cell_evidence(ctx: Ctx, shown: pd.DataFrame, by: str, rows: list[str],
                   filters: ad.Filters) -> pd.DataFrame | None:
    """The passages behind the current cell; the selectboxes also work without a mouse."""
    themes = list(ctx.options.themes)
    st.header("Evidence behind a cell", anchor="cell-evidence")
    # The colours are counts of a model's tags; a reviewer ranking areas took them as
    # read. Said where the sentences are, which is where a wrong tag shows.
    st.caption("Themes and stances are a model's tags, and some are wrong (its measured "
               "quality: Overview, docs/MODEL_CARD.md). Read the sentences before relying "
               "on a cell; a card's \"correct the tag\" link fixes one.")
    if st.session_state.pop("_clicked_cell", False):
        # On a phone the evidence sits under the whole chart: brought into view.
        scroll_to("cell-evidence", if_hidden=True)
    q_init("cell_stance", ALL, (ALL, *ad.STANCES))
    # Clicking a cell is the usual way; the selectboxes (the way without a mouse) are
    # built only while their expander is open, so that their code does not delay the
    # first paint. The stance radio reuses code the sidebar has already loaded. A fixed
    # label: one naming the rows would close the expander whenever Rows changes.
    pick = lazy_expander("Choose the row and theme without the mouse", "cell_pick")
    if pick is not None:
        with pick:
            e1, e2 = st.columns(2)
            e1.selectbox(by.capitalize(), rows, key="cell_row", on_change=_picked_by_keyboard)
            e2.selectbox("Theme", themes, key="cell_theme", format_func=ctx.short,
                         on_change=_picked_by_keyboard)
    st.radio("Stance", [ALL, *ad.STANCES], key="cell_stance", horizontal=True)
    q_sync({"cell_row": None, "cell_theme": None, "cell_stance": ALL})
    row, theme = st.session_state["cell_row"], st.session_state["cell_theme"]
    stance = st.session_state["cell_stance"]
    if row is None or theme is None:
        return None
    cell = shown[(shown[by] == row) & (shown["theme"] == theme)]
    if len(cell):
        r = cell.iloc[0]
        st.markdown(
            f"**{md(row)} · {md(ctx.theme(theme))}**: {counted(r['passages'], 'passage')} in "
            f"{int(r['letters_mentioning'])} of {counted(r['letters'], 'letter')}: "
            f"{int(r['positive'])} positive, {int(r['negative'])} negative, "
            f"{int(r['mixed'])} mixed, {int(r['neutral'])} neutral"
            + (" (listed last)." if int(r["neutral"]) and stance == ALL else ".")
            # From a row to the area's letters over time, without retyping its name.
            + (f" [{md(row)}'s profile ↗]({page_url('area', area=row)})" if by == "area"
               else "")
        )
    try:
        ev = ad.evidence(ctx.path, ctx.stamp, theme, None if stance == ALL else stance, filters,
                         group_by=by, group=row)
    except (ValueError, ad.NotTagged, ad.AppDataError) as exc:
        show_error(exc)
        return None
    if ev.empty:
        if stance != ALL and len(cell) and int(cell.iloc[0]["passages"]):
            st.info(f"No {stance} passages in this cell; choose another stance to read its "
                    f"{counted(cell.iloc[0]['passages'], 'passage')}.")
        else:
            st.info("No passages: this theme is not mentioned here with these filters.")
        return ev
    # The passages behind the colour first: neutral ones (mostly the letters' background
    # section, which comes first in each letter) judge nothing and led the list.
    ev = ev.sort_values("stance", key=lambda s: s.eq("neutral"), kind="stable",
                        ignore_index=True)
    with st.container(height=620, key="cell-cards"):
        evidence_cards(ev)
    return ev


def _row_order(table: pd.DataFrame, by: str, metric: str, sort: str,
               min_passages: int = 1) -> list[str]:
    """Rows in the table's order (areas by name, regions north to south), or most
    criticised on the theme `sort` first.

    Rows with fewer than `min_passages` passages judging that theme (positive, negative
    or mixed: the measures' denominator) follow the ranked ones
    (in the same order among themselves): one negative passage out of one is 100%
    negative, and would otherwise top the ranking.
    """
    # The table's own order, as the exports have it: areas by name, regions north to
    # south (by name, they came in another order than the downloads and the CLI's).
    rows = list(dict.fromkeys(table[by].astype(str)))
    if sort == "name" or sort not in set(table["theme"]):
        return rows
    sub = table[table["theme"] == sort]
    sub = sub.set_index(sub[by].astype(str))
    # Most criticised first: high share negative / low net stance; unmentioned last. Ties
    # (often 100% of a handful) go to the row with more passages: more evidence first.
    key = sub["share_negative"] if metric == "share_negative" else -sub["net_stance"]
    judging = judged(sub)  # the measures' own denominator
    ranked = pd.DataFrame({"key": key, "passages": judging,
                           "few": judging < min_passages}).sort_values(
        ["few", "key", "passages"], ascending=[True, False, False], na_position="last",
        kind="stable")
    return list(ranked.index)


def _heatmap(frame: pd.DataFrame, by: str, metric: str, order: list[str],
             cell: tuple[str | None, str | None] = (None, None),
             few: int = MIN_RANKED) -> tuple[dict[str, Any], pd.DataFrame]:
    """The heatmap's (cached) spec and its data; `cell` (row, theme) is outlined, and
    cells judged by fewer than `few` passages are faded."""
    frame = frame.assign(**{by: frame[by].astype(str)})
    frame["current"] = (frame[by] == cell[0]) & (frame["theme"] == cell[1])
    low, high = frame.get(f"{metric}_low"), frame.get(f"{metric}_high")
    spread = low is not None and high is not None and bool(low.notna().any())
    if spread:
        # Written out here: a Vega expression per tooltip would cost the browser more.
        frame["spread"] = [spread_text(a, b, metric, NO_SPREAD, minus="\u2212")
                           for a, b in zip(low, high, strict=True)]
    # The tooltip's figures as words: Vega writes a missing one as "null".
    frame["net_stance_tip"] = [_tip(v, "+.3f", n) for v, n in
                               zip(frame["net_stance"], frame["passages"], strict=True)]
    frame["share_negative_tip"] = [_tip(v, ".0%", n) for v, n in
                                   zip(frame["share_negative"], frame["passages"], strict=True)]
    # What a screen reader says of a cell: by default Vega reads every encoded field by its
    # column name ("theme_short: ...; share_negative: null").
    name = metric.replace("_", " ")  # "net stance", "share negative"
    judging = judged(frame)
    # What sighted users get from the tooltip's interval and the faded colour, too.
    extra = [(f"; 95% interval {frame['spread'].iloc[i]}" if spread else "")
             + (f"; faded: judged by fewer than {counted(few, 'passage')}"
                if 0 < judging.iloc[i] < few else "") for i in range(len(frame))]
    frame["description"] = [
        f"{row}, {theme}: " + ("never mentioned" if not n else
                               f"{counted(n, 'passage')} in {int(m)} of {counted(k, 'letter')}"
                               + (f", {tip[6:]}" if tip.startswith("none: ") else
                                  f", {name} {tip}{more}"))
        for row, theme, n, m, k, tip, more in zip(
            frame[by], frame["theme_name"], frame["passages"], frame["letters_mentioning"],
            frame["letters"], frame[f"{metric}_tip"], extra, strict=True)]
    theme_order = tuple(dict.fromkeys(frame["theme_short"]))
    # Rows in the order drawn: a screen reader reads the cells in data order, which was
    # north to south under a chart sorted most criticised first.
    rank = {row: i for i, row in enumerate(map(str, order))}
    frame = frame.sort_values(
        [by, "theme_short"], kind="stable",
        key=lambda col: col.map(rank) if col.name == by else col.map(
            {t: i for i, t in enumerate(theme_order)}))
    return heatmap_spec(by, metric, tuple(order), theme_order, few, spread), frame


def _tip(value: Any, spec: str, passages: Any) -> str:
    """A cell's measure for its tooltip, or why it has none."""
    if pd.notna(value):
        return number_text(value, spec).replace("-", "\u2212")
    return "none: not mentioned" if not passages else "none: every passage is neutral"


def white_text_on(metric: str, few: int) -> str:
    """A Vega test: is a cell's fill dark enough for a white number? Asked of the colour
    itself (the chart's `color` scale): fixed cut-offs on the value left white on a
    mid blue at 2.5:1. Else black, not a dark grey: on a mid red neither white nor #222
    reaches 4.5:1, black does (the worse of the two is never under 4.58:1). A faded cell
    (under `few` judging passages) is light: black."""
    fill = f"scale('color', datum.{metric})"
    return (f"isValid(datum.{metric}) && {JUDGED_VEGA} >= {int(few)} && "
            f"contrast('#ffffff', {fill}) > contrast('#000000', {fill})")


def judged_colour(metric: str, colour: alt.Color) -> alt.Color:
    """A cell's colour by `metric`: blank where the theme is never mentioned, grey where
    it is but no passage judges it (every one neutral: no `metric`). These tests come
    first: with invalid=None, Vega-Lite 6 draws a missing value in the scale's colour for
    0 ahead of any fallback, so such cells looked like "0% negative" or "balanced"."""
    colour.condition = [{"test": "datum.passages == 0", "value": "#ffffff"},
                        {"test": f"!isValid(datum.{metric})", "value": GREY}]
    return colour


@st.cache_data(show_spinner=False, max_entries=200)
def heatmap_spec(by: str, metric: str, order: tuple[str, ...], theme_order: tuple[str, ...],
                 few: int = MIN_RANKED, spread: bool = False) -> dict[str, Any]:
    """Rows (areas or regions) x themes, coloured by `metric`, numbered by passages; a
    click selects a cell (selection `cell` over the row and theme fields). With `spread`
    the tooltip gives the metric's 95% interval (the data's `spread` column).

    Always SVG, however many cells: on a canvas a tap on a phone or tablet selected
    nothing (Vega picks the item under the last pointer move, and a tap makes none), a
    screen reader had no cell to read, and first paint was no faster (EXPERIMENTS.md)."""
    if metric == "net_stance":
        scale = alt.Scale(scheme="redblue", domain=[-1, 1])
        title = "Net stance"
    else:
        scale = alt.Scale(scheme="reds", domain=[0, 1])
        title = "Share negative"
    base = alt.Chart(chart_data()).encode(
        x=alt.X("theme_short:N", sort=list(theme_order), title=None,
                axis=alt.Axis(orient="top", labelAngle=-35, labelLimit=200, labelOverlap=False,
                              labelFontSize=12)),
        y=alt.Y(f"{by}:N", sort=list(order), title=None,
                axis=alt.Axis(labelLimit=240, labelFontSize=12, labelOverlap=False)),
        description="description:N",
    )
    tooltip = [
        alt.Tooltip(f"{by}:N", title=by.capitalize()),
        alt.Tooltip("theme_name:N", title="Theme"),
        alt.Tooltip("passages:Q", title="Passages"),
        alt.Tooltip("letters_mentioning:Q", title="Letters mentioning"),
        alt.Tooltip("letters:Q", title="Letters"),
        alt.Tooltip("positive:Q"), alt.Tooltip("negative:Q"),
        alt.Tooltip("mixed:Q"), alt.Tooltip("neutral:Q"),
        alt.Tooltip("net_stance_tip:N", title="Net stance"),
        alt.Tooltip("share_negative_tip:N", title="Share negative"),
        *([alt.Tooltip("spread:N", title=f"{title}, 95% interval")] if spread else []),
    ]
    cell = alt.selection_point(name="cell", fields=[by, "theme"], on="click", clear=False)
    # invalid=None: a cell with no share (NaN: never mentioned, or all neutral) is drawn
    # (blank or grey, judged_colour), not dropped from the chart.
    rect = base.mark_rect(invalid=None).encode(
        # The cell whose evidence is shown gets a dark outline, the others a thin white
        # grid line. Drawn from the data, not the click selection: a cell can also be
        # chosen with the keyboard or by a link.
        stroke=alt.condition("datum.current", alt.value("#111"), alt.value("white")),
        strokeWidth=alt.condition("datum.current", alt.value(2.5), alt.value(1)),
        opacity=faded(few),
        color=judged_colour(metric, alt.Color(
            f"{metric}:Q", scale=scale, title=title,
            # Above the chart, across: beside it the key took 90 px a laptop's column did
            # not have, and under 55 rows it was out of sight.
            legend=alt.Legend(orient="top", direction="horizontal", titleOrient="left",
                              gradientLength=160,
                              format="+.1f" if metric == "net_stance" else ".0%"))),
        tooltip=tooltip,
    ).add_params(cell)
    strong = white_text_on(metric, few)
    # aria=False: the count is the cell's, which a screen reader has already read out.
    text = base.mark_text(fontSize=11, aria=False).encode(
        text=alt.condition("datum.passages > 0", alt.Text("passages:Q"), alt.value("")),
        color=alt.condition(strong, alt.value("white"), alt.value("black")),
        tooltip=tooltip,
    )
    # Cells of a fixed size: stretched to a narrow column they became too thin to read.
    chart = (rect + text).properties(width=alt.Step(40), height=alt.Step(22),
                                     autosize=alt.AutoSizeParams(type="pad"))
    return chart_spec(chart, f"Heatmap: {len(order)} {by}s by {len(theme_order)} themes, "
                      f"coloured by {title.lower()}; a cell chosen shows its evidence below. "
                      "The figures are also in the table 'The numbers behind the chart'")


def _heatmap_key() -> str:
    return f"heatmap-{st.session_state.get('_heatmap_gen', 0)}"


def _sorted_anew() -> None:
    # A new ranking: show the evidence of its top row (see _current_cell).
    st.session_state["_sorted_anew"] = True


def _picked_by_keyboard() -> None:
    # The clicked cell no longer matches: a fresh chart, and the next click counts even
    # if it is the cell clicked before.
    st.session_state["_heatmap_gen"] = st.session_state.get("_heatmap_gen", 0) + 1
    st.session_state["_last_cell"] = None


def _follow_cell(event: Any, by: str) -> None:
    """A click on the heatmap picks the row and theme of the evidence table below it."""
    try:
        picked = event.selection.get("cell") or []
    except AttributeError:
        # No chart state (the page was left and its widgets dropped): the browser sends
        # its selection again, which is a new click, even of the cell clicked last.
        st.session_state["_last_cell"] = None
        return
    if not picked:
        # No selection (a fresh chart): a click on any cell, even the current one, is new.
        st.session_state["_last_cell"] = None
        return
    point = picked[0]
    if point.get(by) is not None and point.get("theme") is not None:
        last = st.session_state.get("_last_cell")
        now = (point[by], point["theme"])
        if last != now:  # only a new click overrides what the selectboxes say
            st.session_state["_last_cell"] = now
            st.session_state["cell_row"], st.session_state["cell_theme"] = now
            st.session_state["_clicked_cell"] = True


def _peer_tables(path: str, stamp: tuple[int, ...], framework: str
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The theme tables by area, region and framework over one framework's letters: the
    Area profile's comparison, and what `warm` prepares for it (the same calls)."""
    same = ad.Filters(frameworks=(framework,))
    return (ad.theme_table(path, stamp, "area", same),
            ad.theme_table(path, stamp, "region", same),
            ad.theme_table(path, stamp, "framework", same))


def _against_peers(ctx: Ctx, area: str, latest: pd.Series) -> None:
    """The area's stance counts per theme beside the shares negative of its region and of
    every area in the corpus, over letters of the same framework as its latest: the chart's
    colours say how an area reads, this says whether that is unusual."""
    framework = latest["framework"]
    try:
        own, region, whole = _peer_tables(ctx.path, ctx.stamp, framework)
    except (ValueError, ad.NotTagged, ad.AppDataError) as exc:
        show_error(exc)
        return
    own = own[own["area"] == area].set_index("theme")
    if own.empty:
        return
    name = latest["region"] if isinstance(latest["region"], str) and latest["region"] else None
    peers = region[region["region"] == name].set_index("theme") if name else None
    everyone = whole.set_index("theme")
    table = own[["passages", "positive", "negative", "mixed", "neutral",
                 "share_negative"]].assign(
        theme=[ctx.theme(t) for t in own.index],
        region_share=peers["share_negative"].reindex(own.index) if peers is not None
        else None,
        all_share=everyone["share_negative"].reindex(own.index),
        # The chart's cells are reached by mouse only: each theme's passages by link too.
        read=[page_url("reader", letter=latest["letter_id"], hl=t) for t in own.index])
    fw = ad.framework_name(framework)
    st.header(f"Against {md(name) + ' and ' if name else ''}every area in the corpus",
              anchor=False)
    st.caption(f"Letters of the {md(fw)} framework only, so that like is compared with like "
               "(the corpus holds the letters imported, not necessarily every area's). "
               "Share negative: of the passages judging the theme (positive, negative or "
               "mixed), the negative ones; blank where none judges it.")
    # The links second: on a phone the table scrolls, and last they were out of view.
    columns = {"theme": "Theme", "read": "In the letter", "passages": "Passages",
               "positive": "Positive", "negative": "Negative", "mixed": "Mixed",
               "neutral": "Neutral", "share_negative": f"Share negative, {md(area)}"}
    if peers is not None:
        columns["region_share"] = f"{md(name)}"
    columns["all_share"] = "All areas"
    md_table(table.reset_index(drop=True), columns, links={"read": "read ↗"},
             formats={"share_negative": ".3f", "region_share": ".3f", "all_share": ".3f"})
    # The figures a paper cites: downloadable as every other table is, theme ids and
    # column keys as in the CLI's exports.
    saved = table.drop(columns=["theme", "read"]).rename_axis("theme").reset_index().rename(
        columns={"region_share": "region_share_negative",
                 "all_share": "all_areas_share_negative"})
    saved.insert(0, "area", area)
    saved.insert(1, "region", name)
    downloads(saved, "-".join(["area", area, "against-peers"]).replace(" ", "_"), "peers",
              {"area": area, "framework": framework, "region": name or ""})


def page_area(ctx: Ctx) -> None:
    st.title("Area profile", anchor=False)
    counts = _letters_per_area(ctx)
    areas = list(ctx.options.areas)
    q_init("area", _default_area(ctx, counts), areas, alias=ad.area_name)
    st.selectbox("Area", areas, key="area",
                 format_func=lambda a: f"{a} ({counted(counts.get(a, 0), 'letter')})")
    q_sync({"area": None})
    area = st.session_state["area"]
    mine = ad.area_letters(ctx.path, ctx.stamp, area)
    st.header(f"Letters for {md(area)}", anchor=False)
    if waiting := [i for i in mine["letter_id"] if i in _waiting(ctx)]:
        # Their empty cells below would read as "never mentioned".
        st.warning(f"{counted(len(waiting), 'letter')} of {md(area)} not tagged yet (imported "
                   "since the last tag): "
                   + ("its passages are" if len(waiting) == 1 else "their passages are")
                   + " not in the profile below. Run `sendlens tag`, or Retrain on the Label "
                   "page.", icon=":material/warning:")
    shown = mine.assign(
        framework=mine["framework"].map(ad.framework_name),
        outcome=mine["outcome"].map(ad.outcome_name),
        read=[page_url("reader", letter=lid) for lid in mine["letter_id"]],
    )
    md_table(shown, {"inspection_start": "Inspection began", "framework": "Framework",
                     "outcome": "Outcome", "n_passages": "Passages", "read": "Letter"},
             links={"read": "read ↗"})
    if not_tagged(ctx):
        return
    try:
        hist = ad.area_history(ctx.path, ctx.stamp, area)
    except (ValueError, ad.NotTagged, ad.AppDataError) as exc:
        show_error(exc)
        return
    hist = _with_labels(ctx, hist)
    st.header("Theme profile of each letter", anchor=False)
    st.caption("Colour = net stance ((positive − negative) / passages judging the theme, "
               "blue = positive, "
               f"red = negative; faded: judged by fewer than {MIN_RANKED} passages; grey: "
               "mentioned, never judged; blank: never mentioned, as on Compare areas); "
               "number = passages on the theme. Click a cell to read "
               "its passages, highlighted in the letter (or, keyboard and screen reader, "
               "the read ↗ links of the table below, for the latest letter"
               + (", and those of What changed between inspections, for any letter)."
                  if len(mine) > 1 else ")."))
    untagged_note(ctx, "profile")
    with st.container(key="profile-box"):
        # Wider than a phone: scrolled sideways in its box, not squeezed.
        letters = tuple(dict.fromkeys(hist["letter"]))
        themes = tuple(dict.fromkeys(hist["theme_short"]))
        # The slant of the last label alone (no 100 px floor: at 768 px the chart fitted
        # its 736 px box and the hint said to scroll; the estimate still runs ~60 px over).
        sideways("profile-box", chart_width(
            letters, len(themes), 56, 360, slant_overhang(themes[-1] if themes else "", 56, 220)))
        show_chart(profile_spec(letters, themes), hist, width="content")
    _against_peers(ctx, area, mine.iloc[-1])
    st.header("What changed between inspections", anchor=False)
    if len(mine) < 2:
        st.info(f"{md(area)} has one letter in this corpus, so there is nothing to compare yet. "
                "Import its earlier letters (e.g. the 2016-framework inspection) to see change.")
        return
    labels = dict(zip(mine["letter_id"], mine["label"]))
    ids = list(mine["letter_id"])
    q_init("a", ids[-2], ids)
    q_init("b", ids[-1], ids)
    # Letters chosen for another area (state or link) give way to this area's last two.
    if st.session_state["a"] not in ids:
        st.session_state["a"] = ids[-2]
    if st.session_state["b"] not in ids:
        st.session_state["b"] = ids[-1]
    c1, c2 = st.columns(2)
    c1.selectbox("Earlier letter", ids, key="a", format_func=labels.get)
    c2.selectbox("Later letter", ids, key="b", format_func=labels.get)
    q_sync({"a": ids[-2], "b": ids[-1]})
    a, b = st.session_state["a"], st.session_state["b"]
    if a == b:
        st.info("Pick two different letters.")
        return
    if ids.index(a) > ids.index(b):  # `mine` is in date order
        a, b = b, a
        st.caption("The letters are compared in date order: earlier, then later.")
    try:
        diff, bars = _change(ctx, a, b)
    except (ValueError, ad.NotTagged, ad.AppDataError) as exc:
        show_error(exc)
        return
    show_chart(change_bars_spec(tuple(bars["theme_name"])), bars)
    frameworks = dict(zip(mine["letter_id"], mine["framework"]))
    # Unlike the table above, any two letters: say what that means for reading a change.
    if frameworks[a] != frameworks[b]:
        st.caption(f"These letters are of two frameworks ({md(ad.framework_name(frameworks[a]))}"
                   f", then {md(ad.framework_name(frameworks[b]))}): their sections and what "
                   "inspectors report differ (a revisit reports on the first inspection's "
                   "weaknesses only), so read a change as a pointer to the letters, not a "
                   "measure.")
    st.caption("A net stance from one or two judging passages can move by up to 2 with one "
               "sentence: read the passages beside it (the read ↗ links).")
    cols = ["theme_name", "passages_a", "passages_b", "passages_change", "net_stance_a",
            "net_stance_b", "net_stance_change"]
    md_table(diff, {"theme_name": "Theme", "passages_a": "Passages (earlier)",
                    "passages_b": "Passages (later)", "passages_change": "Change",
                    "net_stance_a": "Net stance (earlier)", "net_stance_b": "Net stance (later)",
                    "net_stance_change": "Change in net stance", "read_a": "Earlier letter",
                    "read_b": "Later letter"},
             links={"read_a": "read ↗", "read_b": "read ↗"},
             formats={"passages_a": ".0f", "passages_b": ".0f", "passages_change": "+.0f",
                      **{c: "+.2f" for c in (
                 "net_stance_a", "net_stance_b", "net_stance_change")}})
    downloads(diff[cols], f"change-{area}".replace(" ", "_"), "diff")


def _letters_per_area(ctx: Ctx) -> pd.Series:
    return ad.letters(ctx.path, ctx.stamp).groupby("area").size()


def _default_area(ctx: Ctx, counts: pd.Series) -> str:
    # The area with the most letters: the one whose profile shows the most change.
    return str(counts.idxmax()) if len(counts) else ctx.options.areas[0]


def _with_labels(ctx: Ctx, hist: pd.DataFrame) -> pd.DataFrame:
    """An area's history with the readable letter and theme labels the chart shows."""
    hist = hist.assign(
        letter=hist.apply(lambda r: f"{ad.when(r)} · {ad.framework_name(r['framework'])}",
                          axis=1),
        theme_name=hist["theme"].map(ctx.theme),
        theme_short=hist["theme"].map(ctx.short),
        # A cell's passages: its letter in the reader, that theme highlighted.
        read=[page_url("reader", letter=lid, hl=t)
              for lid, t in zip(hist["letter_id"], hist["theme"], strict=True)],
    )
    # What a screen reader says of a cell (by default it would read every field, the
    # link's URL included).
    return hist.assign(description=[
        f"{r.letter}; {r.theme_name}: " + (
            "not tagged" if pd.isna(r.passages) else f"{int(r.passages)} passages"
            + ("" if pd.isna(r.net_stance) else f", net stance "
               f"{number_text(r.net_stance, '+.2f')}"))
        for r in hist.itertuples()])


@st.cache_data(show_spinner=False, max_entries=200)
def profile_spec(letters_order: tuple[str, ...], theme_order: tuple[str, ...]) -> dict[str, Any]:
    """Letters of one area x themes, coloured by net stance (Area profile)."""
    chart = alt.Chart(chart_data()).encode(
        x=alt.X("theme_short:N", title=None, sort=list(theme_order),
                axis=alt.Axis(orient="top", labelAngle=-35, labelLimit=220, labelOverlap=False)),
        y=alt.Y("letter:N", title=None, sort=list(letters_order), axis=alt.Axis(labelLimit=360)),
        tooltip=[alt.Tooltip("letter:N", title="Letter"),
                 alt.Tooltip("theme_name:N", title="Theme"),
                 alt.Tooltip("passages:Q", title="Passages"),
                 alt.Tooltip("positive:Q", title="Positive"),
                 alt.Tooltip("negative:Q", title="Negative"),
                 alt.Tooltip("mixed:Q", title="Mixed"),
                 alt.Tooltip("neutral:Q", title="Neutral"),
                 alt.Tooltip("net_stance:Q", format="+.2f", title="Net stance")],
        description="description:N",
        # On both layers: the number in a cell's centre is where people click.
        href=alt.condition("datum.passages > 0", alt.Href("read:N"), alt.value(None)),
    )
    rect = chart.mark_rect(stroke="white", invalid=None).encode(
        opacity=faded(MIN_RANKED),  # as on Compare areas
        color=judged_colour("net_stance", alt.Color(
            "net_stance:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1]),
            title="Net stance",
            # Below the chart: beside one or two rows a vertical legend had no room for
            # its labels.
            legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=200,
                              format="+.1f"))))
    text = chart.mark_text(fontSize=11, aria=False).encode(  # the cell's, read already
        text=alt.condition("datum.passages > 0", alt.Text("passages:Q"), alt.value("")),
        # White on the dark ends of the scale, as on Compare areas.
        color=alt.condition(white_text_on("net_stance", MIN_RANKED), alt.value("white"),
                            alt.value("black")))
    # 44 px per letter: a one-letter area still gets a legible row and legend. Columns
    # of a fixed width, as on Compare areas: fitted to a phone's width, eight themes
    # beside the letters' names got 24 px each and their labels ran into one another.
    # The height is in pixels: with a step height Streamlit's theme (fit both ways) made
    # Vega warn in the console that it drops fit-y.
    return chart_spec((rect + text).properties(
        width=alt.Step(56), height=44 * len(letters_order),
        autosize=alt.AutoSizeParams(type="pad")),
        f"Theme profile: {len(letters_order)} letters of the area by {len(theme_order)} "
        "themes, coloured by net stance")


def _change(ctx: Ctx, a: str, b: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Letters a and b (earlier, later) compared theme by theme, and the themes both
    letters judge (a passage not neutral), which the chart draws."""
    diff = ad.compare_letters(ctx.path, ctx.stamp, a, b)
    diff = diff.assign(
        theme_name=diff["theme"].map(ctx.theme),
        # The passages behind each count: that letter, the theme highlighted.
        read_a=[page_url("reader", letter=a, hl=t) for t in diff["theme"]],
        read_b=[page_url("reader", letter=b, hl=t) for t in diff["theme"]],
    )
    return diff, diff.dropna(subset=["net_stance_change"])


@st.cache_data(show_spinner=False, max_entries=50)
def change_bars_spec(theme_order: tuple[str, ...]) -> dict[str, Any]:
    """Change in net stance per theme between two letters (Area profile), in the order of
    the table beneath it."""
    rows = len(theme_order)
    return chart_spec(alt.Chart(chart_data()).mark_bar().encode(
        y=alt.Y("theme_name:N", title=None, sort=list(theme_order),
                axis=alt.Axis(labelLimit=360)),
        x=alt.X("net_stance_change:Q", title="Change in net stance (later − earlier)",
                scale=alt.Scale(domain=[-2, 2])),
        color=alt.condition("datum.net_stance_change > 0", alt.value(ad.STANCE_COLOURS[
            "positive"]), alt.value(ad.STANCE_COLOURS["negative"])),
        tooltip=["theme_name:N", alt.Tooltip("net_stance_a:Q", format="+.2f"),
                 alt.Tooltip("net_stance_b:Q", format="+.2f"), "passages_a:Q",
                 "passages_b:Q"],
    ).properties(height=30 * rows), f"Bar chart: change in net stance of {rows} themes "
        "between the two letters; the table below gives the figures")


def page_themes(ctx: Ctx) -> None:
    st.title("Theme explorer", anchor=False)
    # Taken now: a page that stops early (a search that fails) must not leave it for later.
    searched_all = st.session_state.pop("_searched_all", False)
    themes = list(ctx.options.themes)
    q_init("theme", themes[0] if themes else ALL, (ALL, *themes))
    q_init("stance", ALL, (ALL, *ad.STANCES))
    q_init("q", "")
    a, b, c = st.columns([2, 1, 2])
    a.selectbox("Theme", [*themes, ALL], key="theme",
                format_func=lambda t: "Any theme (search only)" if t == ALL else ctx.theme(t))
    b.selectbox("Stance", [ALL, *ad.STANCES], key="stance")
    c.text_input("Full-text search", key="q", max_chars=MAX_FTS_QUERY,
                 placeholder='e.g. waiting times, therap*',
                 help="Every word must occur (stemmed: 'delay' finds 'delays', 'timely' "
                      "finds 'time'); \"quotes\" for a word or phrase exactly as typed "
                      "(\"timely\"); * at the end of a word for a prefix. "
                      "AND, OR, NOT and NEAR in capitals are left out (every word is "
                      "required); in lower case they are words (\"not timely\").")
    q_sync({"theme": themes[0] if themes else ALL, "stance": ALL, "q": ""})
    filters = _filters(ctx, "t_")
    theme, stance, query = (st.session_state["theme"], st.session_state["stance"],
                            st.session_state["q"].strip())
    only = None if stance == ALL else stance  # the data layer's "any stance"
    if theme != ALL and ctx.theme(theme):
        definition = ad.theme_definitions(ctx.path, ctx.stamp).get(theme)
        if definition:
            st.caption(f"**{md(ctx.theme(theme))}**: {md(definition)}")
    try:
        if theme == ALL:
            if not query:
                st.info("Type words to search all passages, or pick a theme.")
                return
            frame = ad.search_passages(ctx.path, ctx.stamp, query, filters, only)
        else:
            if not_tagged(ctx):
                return
            frame = ad.evidence(ctx.path, ctx.stamp, theme, only, filters, search=query)
    except (ValueError, ad.NotTagged, ad.AppDataError) as exc:
        show_error(exc)
        return
    if theme == ALL:
        # A search lists its best matches only: the figures count every match.
        counts = ad.search_counts(ctx.path, ctx.stamp, query, filters, only)
        total, letters = counts["passages"], counts["letters"]
    else:
        counts = frame["stance"].value_counts().to_dict() if len(frame) else {}
        total, letters = len(frame), frame["letter_id"].nunique() if len(frame) else 0
    figures({"Passages": f"{total:,}", "Letters": f"{letters:,}",
             **{s.capitalize(): f"{int(counts.get(s, 0)):,}" for s in ad.STANCES}})
    if searched_all:
        # The button is gone once it has searched: the focus, dropped to the top, goes here.
        focus_here("searched-all", f"Searching every theme: {total:,} passages")
    if len(query.split()) > 1 and '"' not in query:
        # "Local Offer" also found "activities on offer locally": counts of a name read
        # as counts of the words.
        st.caption(f"Each word anywhere in the passage; \"{md(query)}\" in quotes finds the "
                   "phrase only.")
    if theme != ALL and query:
        # The search is narrowed to one theme: say so, and what it finds on any other.
        st.caption(f"Searching only the passages on {md(ctx.theme(theme))}; choose "
                   "\"Any theme (search only)\" to search every passage.")
        anywhere = ad.search_counts(ctx.path, ctx.stamp, query, filters, only)["passages"]
        if anywhere > total:
            st.button(f"These words are in {anywhere:,} passages on any theme: search them all",
                      key="search-all-themes", icon=":material/search:",
                      on_click=lambda: st.session_state.update(theme=ALL, _searched_all=True))
    if frame.empty:
        st.info("No passages match. Loosen the filters or the search words.")
        return
    if len(frame) < total:
        st.caption(f"Listing the {len(frame):,} best matches of {total:,} (the table and the "
                   "downloads hold these): add words or filters, or pick a theme, to see "
                   "the rest.")
    # Quotes first, the sortable table on request: a data grid makes the browser fetch
    # and compile ~1.5 MB of grid code before the page is drawn (as on Compare areas).
    with st.container(height=560, key="theme-cards"):
        evidence_cards(frame)
    box = lazy_expander("All passages as a sortable table", "theme-table")
    if box is not None:
        with box:
            st.caption("Click a column header to sort; the Letter column opens the letter at "
                       "that passage. The downloads keep the order of the quotes above.")
            evidence_table(frame, "theme-evidence", height=560, name=ctx.short)
    # Named after what was asked, so two different downloads do not share a name.
    name = "-".join(["evidence", "any-theme" if theme == ALL else theme,
                     *([stance] if stance != ALL else []),
                     *([re.sub(r"\W+", "_", query).strip("_")[:40]] if query else [])])
    # What was asked, by name too: a pasted table of one stance's passages read as all.
    downloads(frame, name, "themes", {"theme": "" if theme == ALL else theme,
                                      "stance": "" if stance == ALL else stance,
                                      "words": query}, filters=filters)


def page_reader(ctx: Ctx) -> None:
    st.title("Letter reader", anchor=False)
    frame = ad.letters(ctx.path, ctx.stamp)
    ids = list(frame["letter_id"])
    labels = dict(zip(frame["letter_id"], frame["label"]))
    q_init("letter", ids[0], ids)
    q_init("focus", "")
    st.selectbox("Letter", ids, key="letter", format_func=labels.get)
    letter_id = st.session_state["letter"]
    view = ad.letter_view(ctx.path, ctx.stamp, letter_id)
    focus = st.session_state["focus"]
    if focus and not focus.startswith(letter_id):
        if st.query_params.get("focus") == focus and st.query_params.get("letter") == letter_id:
            # A link's passage of another letter: said, not dropped without a word.
            st.session_state.setdefault("_link_notes", []).append(
                f"passage {focus} is not in this letter, which is shown from its start")
        focus = st.session_state["focus"] = ""
    themes = list(ctx.options.themes)
    q_init("hl", [], themes, multi=True)
    q_init("hs", [], ad.STANCES, multi=True)
    q_sync({"letter": None, "focus": "", "hl": [], "hs": []})
    L = view.letter
    outcome = ad.outcome_name(L["outcome"]) if L["outcome"] else "not stated"
    st.markdown(
        f"**{md(L['area'])}** · {ad.framework_name(L['framework'])} · inspected "
        f"{L['inspection_start'] or '?'} to {L['inspection_end'] or '?'} · outcome "
        f"**{md(outcome)}**"
    )
    details = [f"Published {L['published'] or '?'}", f"{L['n_pages'] or '?'} pages",
               f"{len(view.passages)} passages", f"letter id `{letter_id}`"]
    st.caption(" · ".join(details))
    if not ctx.status.is_tagged:
        # _waiting knows of letters imported since a tag, not of a corpus never tagged.
        st.warning("No passage of the corpus is tagged yet: nothing is highlighted. Run "
                   f"`sendlens tag --corpus {ctx.path}` and reload this page.",
                   icon=":material/warning:")
    elif letter_id in _waiting(ctx):
        st.warning("This letter is not tagged yet (imported since the last tag): nothing is "
                   "highlighted. Run `sendlens tag`, or Retrain on the Label page.",
                   icon=":material/warning:")
    h1, h2 = st.columns([3, 2])
    h1.multiselect("Highlight themes", themes, key="hl", format_func=ctx.theme,
                   placeholder="All tagged passages")
    h2.multiselect("Highlight stances", list(ad.STANCES), key="hs", placeholder="All stances")
    legend = " ".join(
        f'<span style="background:{c}22;border-bottom:2px solid {c};padding:0 4px">{s}</span>'
        for s, c in ad.STANCE_COLOURS.items())
    st.html(f'<div style="font-size:0.9em">Highlight colour = stance: {legend}. '
            "Hover a highlight for its themes and passage id; on a touch screen, or "
            "with a keyboard or screen reader, they are in <i>Passages and their tags as a "
            "table</i> below.</div>")
    linked = False
    if focus:
        row = view.passages[view.passages["passage_id"] == focus]
        linked = len(row) > 0
        if linked:
            p = row.iloc[0]
            # The reader is where a wrong tag shows: one click to correct it.
            st.info(f"Linked passage {md(focus)} ({md(ad.section_words(p['section']))}; "
                    f"{', '.join(md(ctx.theme(t)) for t in p['themes']) or 'no theme'}; "
                    f"{p['stance'] or 'untagged'}): {md(p['text'])} "
                    f"[correct the tag ↗]({page_url('label', pid=focus)})",
                    icon=":material/link:")
    sections = view.sections
    box = lazy_expander("Sections of the letter", "r-sections")
    if box is not None:
        with box:
            # No heading: the opening, or a section that opens with a sentence (a 2016
            # letter's closing requirement of a written statement of action).
            blank = sections["heading"].fillna("").eq("").to_numpy()
            first = sections.index == sections.index[0]
            heading = sections["heading"].mask(blank & first, "(the letter's opening)").mask(
                blank & ~first, "(no heading: the section opens with a sentence)")
            md_table(sections.assign(canonical=sections["canonical"].map(ad.section_name),
                                     heading=heading),
                {"canonical": "Section", "heading": "Heading in the letter"})
    st.html(ad.highlight_html(view, ctx.names, focus=focus or None,
                              themes=st.session_state["hl"], stances=st.session_state["hs"]))
    arrived = not st.session_state.get("_reader_shown")
    st.session_state["_reader_shown"] = True
    if linked:
        scroll_to(f"p-{focus}", focus=True)
    elif arrived and st.session_state["hl"]:
        # Opened from a link naming themes (an Area profile cell): to their first passage.
        first = ad.first_highlighted(view, st.session_state["hl"], st.session_state["hs"])
        if first:
            scroll_to(f"p-{first}")
    box = lazy_expander("Passages and their tags as a table", "r-passages")
    if box is not None:
        with box:
            table = view.passages.assign(themes=view.passages["themes"].map(", ".join))
            cols = ["passage_id", "section", "stance", "themes", "text"]
            # In words on screen, each with a link to correct its tag (the download keeps
            # the command line's codes).
            shown = table[cols].assign(
                section=table["section"].map(ad.section_words),
                themes=view.passages["themes"].map(lambda ts: theme_words(ts, ctx.short)),
                fix=[page_url("label", pid=pid) for pid in table["passage_id"]])
            st.dataframe(shown, hide_index=True, placeholder="", row_height=PASSAGE_ROW_PX,
                         column_order=["section", "stance", "themes", "text", "fix",
                                       "passage_id"],
                         column_config=passage_columns(
                             passage_id=st.column_config.TextColumn("Passage id", width=150),
                             fix=st.column_config.LinkColumn(
                                 "Tag", display_text="correct ↗", width=80)))
            downloads(table[cols], f"passages-{letter_id}", "reader", lists_passages=True)


def page_label(ctx: Ctx) -> None:
    st.title("Label", anchor=False)
    st.markdown("Correct the themes or stance the model gave a passage. Corrections are saved "
                "in the corpus and used the next time the model is trained.")
    q_init("pid", "")
    q_init("lq", "")
    a, b = st.columns([2, 1])
    a.text_input("Find a passage by words", key="lq", max_chars=MAX_FTS_QUERY,
                 placeholder="e.g. speech and language therapy")
    b.text_input("…or by passage id", key="pid", placeholder="e.g. 3f2a9c0d1e4b-0042")
    q_sync({"pid": "", "lq": ""})
    pid = st.session_state["pid"].strip()
    # Saving or removing a correction reruns the page, so the stamp of this run is current.
    saved = ad.labels(ctx.path, ctx.stamp)
    if st.session_state["lq"].strip() and not pid:
        hits = ad.search_passages(ctx.path, ctx.stamp, st.session_state["lq"], ad.Filters(),
                                  limit=50)
        if hits.empty:
            st.info("No passage matches those words.")
        else:
            total = ad.search_counts(ctx.path, ctx.stamp, st.session_state["lq"],
                                     ad.Filters())["passages"]
            shown = (counted(total, "matching passage") if total <= len(hits) else
                     f"The {len(hits)} best of {total:,} matching passages (add words to "
                     "narrow them)")
            listed = list(hits["passage_id"])
            # The passage picked is in the link (the first is the default), so that the
            # link opens on it, not on the first match. Other words, other matches.
            if st.session_state.get("pick", listed[0]) not in listed:
                st.session_state["pick"] = listed[0]
            q_init("pick", listed[0], tuple(listed))
            choice = st.selectbox(shown, listed, key="pick",
                                  format_func=lambda p: _snippet(hits, p))
            q_sync({"pick": listed[0]})
            pid = choice or ""
    if not (st.session_state["lq"].strip() and not st.session_state["pid"].strip()):
        st.query_params.pop("pick", None)  # no search listed: no pick in the link
    row = ad.passage(ctx.path, ctx.stamp, pid) if pid else None
    if pid and row is None:
        st.warning(f"No passage {md(pid)} in this corpus.")  # typed or from a link: escaped
    if row:
        link = page_url("reader", letter=row["letter_id"], focus=pid)
        st.markdown(f"**{md(row['area'])}**, {ad.framework_name(row['framework'])}, "
                    f"{row['inspection_start'] or 'undated'} · section "
                    f"{md(ad.section_name(row['section']))} · "
                    # Markdown escapes are not undone inside a code span: the id as stored
                    # (hex digits and a dash), so that it can be copied.
                    f"passage `{row['passage_id']}` · [read in the letter]({link})")
        # The codebook judges a sentence in its context ("As a result, ...").
        if row["prev_text"]:
            st.caption(f"Before: {md(row['prev_text'])}")
        st.text(row["text"])  # st.text never interprets markup
        if row["next_text"]:
            st.caption(f"After: {md(row['next_text'])}")
        current = md(theme_words(row["themes"], ctx.theme) or "none")
        st.caption(f"Model ({row['model_version'] or 'untagged'}): themes {current}; "
                   f"stance {row['stance'] or '–'}")
        # A correction saved before (the newest counts): shown, and the form starts from it.
        yours = saved[saved["passage_id"] == pid].head(1)
        start_themes, start_stance = list(row["themes"]), row["stance"]
        if len(yours):
            mine = yours.iloc[0]
            # A theme added to the codebook after the correction is the model's to give.
            offered = mine["themes_offered"]
            added = [t for t in row["themes"] if isinstance(offered, list) and t not in offered]
            start_themes, start_stance = [t for t in mine["themes"].split(", ") if t] + added, \
                mine["stance"]
            # A theme taken out of the codebook since: a retrain leaves it out.
            in_codebook = ad.theme_definitions(ctx.path, ctx.stamp)
            gone = [t for t in start_themes if in_codebook and t not in in_codebook]
            start_themes = [t for t in start_themes if t not in gone]
            applied = (sorted(start_themes) == sorted(row["themes"])
                       and start_stance == row["stance"])
            if st.session_state.pop("_label_saved", None) == pid:
                # Just saved: the keyboard focus, which the rerun dropped to the top of the
                # page, goes here, and a screen reader hears that it was saved.
                focus_here("label-saved", "Correction saved")
            st.info(f"Your correction, saved {when(mine['created_at'])}: themes "
                    f"{md(theme_words(start_themes, ctx.theme) or 'none')}; stance "
                    f"{start_stance}. " + ("It is the passage's tag." if applied else
                                           "It becomes the passage's tag when you retrain "
                                           "(below).")
                    + (f" It also named {md(', '.join(gone))}, no longer in the codebook: "
                       "left out." if gone else ""))
        # Every codebook theme, also one added since the last tag: it can be taught now.
        themes = list(ctx.names)
        with st.form(f"label-{pid}"):
            chosen = st.multiselect("Themes", themes,
                                    default=[t for t in start_themes if t in themes],
                                    format_func=ctx.theme, key=f"lt-{pid}")
            stance = st.radio("Stance", list(ad.STANCES), horizontal=True, key=f"ls-{pid}",
                              index=list(ad.STANCES).index(start_stance)
                              if start_stance in ad.STANCES else 3)
            if st.form_submit_button("Save correction", type="primary"):
                try:
                    ad.save_label(ctx.path, pid, chosen, stance, offered=themes)
                    st.session_state["_label_saved"] = pid
                    st.rerun()  # drawn again with the correction shown above the form
                except (ad.AppDataError, OSError) as exc:
                    st.error(f"Could not save: {exc}")
    # A passage corrected twice counts once: its newest correction is the one used.
    passages = saved["passage_id"].fillna(saved["text"]).nunique() if len(saved) else 0
    st.header(f"Corrections saved ({counted(passages, 'passage')})", anchor=False)
    if len(saved):
        # Words, local-looking times and as many rows as there are (up to 5 before it
        # scrolls): a fixed 240 px drew one correction over five empty rows.
        # Newest first: a passage's first row is the correction in force, any later one
        # is replaced by it (and kept, so that it can be looked back on or removed).
        later = saved["passage_id"].fillna(saved["text"]).duplicated()
        listed = saved.assign(
            created_at=saved["created_at"].map(when),
            themes=saved["themes"].map(lambda ts: theme_words(ts, ctx.short) or "none"),
            used=later.map({False: "yes", True: "no: replaced by a newer one"}))
        # The passage first, its id last and whole: on a laptop the text was out of view
        # and the id wrapped over three lines, hard to read or copy.
        st.dataframe(listed[["created_at", "text", "themes", "stance", "used", "source",
                             "passage_id"]],
                     hide_index=True, placeholder="", row_height=PASSAGE_ROW_PX,
                     height=38 + (PASSAGE_ROW_PX + 1) * min(len(listed), 5),
                     column_config=passage_columns(
                         # Wide enough for "2026-12-04 22:24" on one line.
                         created_at=st.column_config.TextColumn("Saved", width=130),
                         # Narrower than elsewhere: "In use" stays in view on a laptop.
                         text=st.column_config.TextColumn("Passage", width=340),
                         themes=st.column_config.TextColumn("Themes", width=170),
                         passage_id=st.column_config.TextColumn("Passage id", width=150),
                         used=st.column_config.TextColumn(
                             "In use", width=110, help="The newest correction of a passage "
                             "is the one training uses"),
                         source=st.column_config.TextColumn("From", width="small")))
        # As the table above words it: its time, the passage's opening words, the tags.
        described = {r.id: f"{r.created_at} · {opening(r.text, 70)} · {r.stance} · {r.themes}"
                     for r in listed.itertuples()}
        gone = st.selectbox(
            "Remove a correction saved by mistake", [None, *saved["id"]], key="unlabel",
            format_func=lambda i: "–" if i is None else described[i])
        if gone is not None and st.button("Remove it", key="unlabel-go",
                                          icon=":material/delete:"):
            try:
                ad.delete_label(ctx.path, gone)
            except (ad.AppDataError, OSError) as exc:
                st.error(f"Could not remove it: {exc}")
            else:
                st.session_state.pop("unlabel", None)
                # A correction a newer one had replaced was in neither model nor tag.
                st.session_state["unlabelled"] = "replaced" if bool(
                    later[saved["id"] == gone].any()) else "in use"
                st.rerun()
    if removed := st.session_state.pop("unlabelled", None):
        # The button went with the correction: the focus, dropped to the top, comes here.
        focus_here("label-removed", "Correction removed")
    if removed == "replaced":
        st.success("Removed. A newer correction of the same passage had replaced it and "
                   "stays in use: the passage's tag is your newer correction whenever the "
                   "model is retrained.")
    elif removed:
        st.success("Removed. Retrain to take it out of the model and the passage's tag.")
    st.header("Retrain", anchor=False)
    # Also without corrections when the model learnt from some (one was just removed).
    learnt = ((ctx.status.model or {}).get("meta", {}).get("training", {})
              .get("hand_labels", {}).get("n", 0))
    # No model can be trained from a codebook that cannot be read (said above the page).
    problem, reasons = ad.model_problems(ctx.path, ctx.stamp)
    broken = problem == "codebook"
    # The model's hand-label file is gone: a retrain would stop rather than lose it.
    lost = any(r.startswith(ad.LABELS_GONE) for r in reasons)
    # A stale model, or letters not tagged yet, are what `sendlens tag` does: here too.
    behind = ctx.status.is_tagged and (problem == "stale" or bool(ctx.status.untagged[0]))
    can_retrain = bool(len(saved) or learnt or behind) and not broken and not lost
    files = [Path(f).name for f in (ctx.status.model or {}).get("meta", {})
             .get("training", {}).get("label_files") or []]
    st.caption("Trains a new model from the codebook's weak labels plus your corrections"
               + (f" and the hand-label files the current model learnt from "
                  f"({md(', '.join(files))})" if files else "")
               + ", then re-tags every passage; a corrected passage keeps your correction as "
               "its tag. This can take a minute."
               + (" Fix the codebook first (see above)." if broken else
                  " Put the hand labels back first, or train without them (see above)."
                  if lost else
                  " It also brings the tags up to date (see above), as `sendlens tag` does."
                  if behind else "" if can_retrain else " Save a correction above first."))
    done = st.session_state.pop("retrained", None)
    if done:  # set just before the rerun that redrew the app with the new tags
        st.success(done, icon=":material/check_circle:")
    # Kept for the session: reviewing them may take several reruns of this page.
    job = ad.retrain_job(ctx.path)
    # Kept for the session; after a reload, or in another tab, the server's last retrain.
    found = st.session_state.get("retrained_changes") or (
        (job.result.changed, job.result.changes, job.result.version) if job is not None
        and job.done and job.result is not None else None)
    if found and (len(found) != 3 or ad.tags_not_of(ctx.path, ctx.stamp, found[2])):
        # Another model has tagged the corpus since (`sendlens tag` after a codebook edit):
        # the list compares tags no longer shown. (A model trained but not yet tagging,
        # `sendlens train`, leaves the tags, and the list, as they were.)
        found = None
    _retrain_changes(found, expanded=bool(done), name=ctx.short)
    running = job is not None and not job.done
    if st.button("Retrain the model and re-tag", key="retrain",
                 disabled=not can_retrain or running, icon=":material/model_training:"):
        job = ad.start_retrain(ctx.path, passages)
        running = True
    if job is not None and (running or st.session_state.get(RETRAIN_WATCH) is job):
        # Started here, or running (or finished, seen running) since the page was left.
        st.session_state[RETRAIN_WATCH] = job
        follow_retrain(job)


def follow_retrain(job: ad.RetrainJob) -> None:
    """Show the background retrain's progress until it ends; on success rerun the whole
    app, so the sidebar, the model on Overview and every page use the new model's tags."""
    with st.status("Retraining the model…", expanded=True) as box:
        bar = st.progress(0.0, text="Starting…")
        while True:
            done = job.done  # read first: the last progress is then already recorded
            bar.progress(min(max(job.fraction, 0.0), 1.0), text=job.message.capitalize())
            if done:
                break
            time.sleep(0.2)
        st.session_state.pop(RETRAIN_WATCH, None)  # reported here, once
        if job.result is None:
            box.update(label="Retraining failed", state="error", expanded=True)
            bar.empty()  # not "Starting…" over the reason
            why = (job.error or "no reason was given").removeprefix("retraining failed: ")
            show_error(ad.AppDataError(why[:1].upper() + why[1:]))
            return
        result = job.result
        box.update(label=f"New model {result.version}", state="complete", expanded=False)
    st.session_state["retrained"] = (
        f"New model **{result.version}**, trained with the corrections of "
        f"{counted(job.corrections, 'passage')}; {result.passages:,} passages re-tagged "
        f"in {result.seconds:.0f} s"
        + (f" ({counted(result.first_tagged, 'passage')} of them tagged for the first time: "
           "letters imported since the last tag)" if result.first_tagged else "") + ". "
        + (f"Every page now shows the new tags: {counted(result.changed, 'passage')} changed "
           "themes or stance, so figures noted before may differ (exported passages name "
           "the model that tagged them). " if result.changed else
           "No passage changed its themes or stance: the figures are as they were. ")
        + "Run `sendlens evaluate` to measure the new model's quality."
        + "".join(f"\n\n{md(n.capitalize())}." for n in result.notes))
    st.session_state["retrained_changes"] = (result.changed, result.changes, result.version)
    st.rerun()


def _retrain_changes(found: tuple[int, pd.DataFrame, str] | None, *, expanded: bool,
                     name: Callable[[str], str]) -> None:
    """Which passages the last retrain changed, before and after: one correction can move
    passages far from it, and a researcher needs to see which (and which were their own
    corrections)."""
    if not found:
        return
    total, changes, version = found
    if not total:  # said, or a reload (or another tab) after the retrain shows nothing
        st.caption(f"The last retrain (model {version}) changed no passage's themes or "
                   "stance.")
        return
    # Your corrections come first in `changes` (appdata.retrain), so all of them are in
    # it: the rest of the total are passages the model re-drew on its own, in any letter.
    # As the retrain found them: a correction removed since still moved its passage.
    others = total - int(changes["corrected"].sum())
    label = (f"The {counted(total, 'passage')} whose tags the last retrain (model {version}) "
             "changed" + (f": {counted(others, 'passage')} you did not correct, in letters "
                          "of any area; check them" if others else ""))
    # Open while it lists passages nobody looked at: closed, they went unnoticed.
    with st.expander(label, expanded=expanded or others > 0):
        if len(changes) < total:
            st.caption(f"The first {len(changes):,} of {total:,}, in letter order (your "
                       "corrections among them first).")
        def in_words(tags: str) -> str:  # "negative · ehc_plans, inclusion"
            stance, _, themes = tags.partition(" · ")
            if themes == "no theme":
                return tags
            return f"{stance} · {theme_words(themes, name)}"

        shown = with_reader_links(changes).assign(
            yours=changes["corrected"].map({True: "yes", False: ""}),
            before=changes["before"].map(in_words), after=changes["after"].map(in_words),
            section=changes["section"].map(ad.section_words))
        # Your own corrections first, then the passages they moved; the passage before
        # its tags: on a laptop it was cut off at the right, behind a scroll.
        shown = shown.sort_values("yours", ascending=False, kind="stable")
        st.dataframe(
            shown[["area", "open", "text", "before", "after", "yours", "section"]],
            hide_index=True, placeholder="", key="retrain-changes", row_height=PASSAGE_ROW_PX,
            column_config=passage_columns(
                # Area to Yours fit the page's column at 1366 px (about 870 px).
                text=st.column_config.TextColumn("Passage", width=320),
                yours=st.column_config.TextColumn(
                    "Yours", width=60,
                    help="The passage is one you corrected: its tag is your correction"),
                before=st.column_config.TextColumn("Before (stance · themes)", width=150),
                after=st.column_config.TextColumn("After", width=150)))
        downloads(retrain_changes_table(changes), "retrain-changes", "retrain-changes")


def retrain_changes_table(changes: pd.DataFrame) -> pd.DataFrame:
    """The retrain's changes to download, as on screen: your corrections first and marked
    (the tags keep the command line's codes)."""
    yours = changes["corrected"].map({True: "yes", False: ""})
    return (changes.assign(yours=yours).sort_values("yours", ascending=False, kind="stable")
            .drop(columns=["letter_id", "corrected"]).reset_index(drop=True))


def _snippet(hits: pd.DataFrame, pid: str) -> str:
    row = hits[hits["passage_id"] == pid].iloc[0]
    return f"{row['area']} · {ad.section_words(row['section'])} · {opening(row['text'], 110)}"


def opening(text: object, length: int) -> str:
    """A passage's first `length` characters, with "…" when there is more."""
    text = str(text)
    return text[:length] + ("…" if len(text) > length else "")


def page_export(ctx: Ctx) -> None:
    st.title("Export", anchor=False)
    st.markdown("Download the corpus tables. Every table shown on the other pages also has "
                "its own download buttons, with the filters you chose there.")
    st.header("Letters", anchor=False)
    # The same table as `sendlens export letters`.
    downloads(ad.letters_table(ctx.path, ctx.stamp), "letters", "letters", counts_tags=False)
    if not_tagged(ctx):
        return
    # In the URL, as on the other pages: the About sheet's link reproduces the view.
    groupings = ("area", "region", "framework", "year", "outcome")
    themes = list(ctx.options.themes)
    q_init("x_sec", [], ctx.options.sections, multi=True)
    q_init("x_by", "area", groupings)
    q_init("x_theme", themes[0] if themes else None, themes)
    q_init("x_stance", ALL, (ALL, *ad.STANCES))
    sections = st.multiselect("Sections (for both tables below)", ctx.options.sections,
                              key="x_sec", format_func=ad.section_name,
                              placeholder="All sections", help=ad.SECTION_HELP)
    picked = "-".join(sections)
    st.header("Themes table", anchor=False)
    q_init("x_pt", ALL, (ALL, *themes))
    rows_col, theme_col = st.columns(2)
    by = rows_col.selectbox("Rows", groupings, key="x_by",
                            format_func=lambda v: f"one per {v}")
    # One theme across the groups (post-16 by outcome, say) fits the preview; all themes
    # of all groups did not, and showed only the first group's. The downloads hold the
    # themes shown: one theme's table downloaded as every theme's was not what was asked.
    one = theme_col.selectbox("Themes", [ALL, *themes], key="x_pt",
                              format_func=lambda t: "every theme" if t == ALL
                              else f"only {ctx.theme(t)}")
    q_sync({"x_sec": [], "x_by": "area", "x_pt": ALL})  # before the downloads read the URL
    try:
        table = ad.theme_table(ctx.path, ctx.stamp, by, ad.Filters(sections=tuple(sections)))
    except (ValueError, ad.NotTagged, ad.AppDataError) as exc:
        show_error(exc)
        return
    sections_note(ctx, ad.Filters(sections=tuple(sections)), has_filters=False)
    # A preview narrow enough for the page; the downloads have every column.
    preview = {c: TABLE_HEADERS.get(c, c.capitalize())
               for c in (by, "theme", "letters", "passages", "positive", "negative",
                         "share_negative", "net_stance") if c in table}
    shown = table if one == ALL else table[table["theme"] == one].reset_index(drop=True)
    head = shown.head(EXPORT_PREVIEW_ROWS)
    named = {"outcome": ad.outcome_name, "framework": ad.framework_name}.get(by)
    head = head.assign(theme=head["theme"].map(ctx.theme),
                       **({by: head[by].map(named)} if named else {}))
    md_table(head, preview,
             formats={c: f for c, f in (("share_negative", ".3f"), ("net_stance", "+.3f"))
                      if c in table})
    st.caption(f"{'The first ' if len(head) < len(shown) else ''}{len(head):,} of "
               f"{counted(len(shown), 'row')} and {len(preview)} of its "
               f"{len(table.columns)} columns; the downloads hold every row and column.")
    theme_only = "" if one == ALL else one
    downloads(shown, "-".join(filter(None, ["themes-by", by, theme_only, picked])),
              "x-table", {"by": by, "theme": theme_only, "sections": ", ".join(sections)})
    st.header("Evidence for a theme", anchor=False)
    c, d = st.columns(2)
    theme = c.selectbox("Theme", themes, key="x_theme", format_func=ctx.theme)
    stance = d.selectbox("Stance", [ALL, *ad.STANCES], key="x_stance")
    q_sync({"x_theme": themes[0] if themes else None, "x_stance": ALL})
    ev = ad.evidence(ctx.path, ctx.stamp, theme, None if stance == ALL else stance,
                     ad.Filters(sections=tuple(sections)))
    only = "" if stance == ALL else stance
    downloads(ev, "-".join(filter(None, ["evidence", theme, only, picked])), "x-evidence",
              {"theme": theme, "stance": only, "sections": ", ".join(sections)})


PAGE_FUNCS: dict[str, Callable[[Ctx], None]] = {
    "overview": page_overview,
    "compare": page_compare,
    "area": page_area,
    "themes": page_themes,
    "reader": page_reader,
    "label": page_label,
    "export": page_export,
}


def warm(path: str) -> float:
    """Fill the query and chart caches for the first view of every page, as its defaults
    (and no URL parameters) would ask for them; returns the seconds it took.

    `sendlens app` calls this before it serves, so the first visitor of each page finds
    its tables and chart specs ready instead of waiting ~1-1.5 s for them (codebook, SQL,
    aggregation, Altair). The calls must match the pages' own exactly (same functions,
    same arguments, same keywords), or they fill other cache entries:
    tests/test_app.py checks that the pages then query nothing.
    """
    started = time.perf_counter()
    stamp = ad.stamp(path)
    status = ad.status(path, stamp)
    if not status.ready:
        return time.perf_counter() - started
    ctx = Ctx(path=path, stamp=stamp, status=status, options=ad.options(path, stamp),
              names=ad.theme_names(path, stamp))
    ad.model_problems(path, stamp)
    ad.older_text(path, stamp)  # every page says when the tags are an older model's
    ad._tagged_by(path, stamp)  # every page's downloads say what they hold
    _waiting(ctx)  # letters not tagged yet: their pages say so
    ad.overview(path, stamp)
    ad.close_pairs(path, stamp)
    year_bars_spec()
    outcome_bars_spec()
    letters = ad.letters(path, stamp)
    ad.letter_view(path, stamp, str(letters["letter_id"].iloc[0]))  # Letter reader
    ad.labels(path, stamp)  # Label
    area = _default_area(ctx, _letters_per_area(ctx))
    mine = ad.area_letters(path, stamp, area)
    themes = list(ctx.options.themes)
    if not status.is_tagged or not themes:
        return time.perf_counter() - started
    # Compare areas: the heatmap and the evidence of its first cell.
    shown, order, _ = _compare_view(ctx, "area", "net_stance", "name", (), ad.Filters())
    ad.pooled_groups(path, stamp, "area", ad.Filters())
    if len(shown):
        _heatmap(shown, "area", "net_stance", order)
        ad.evidence(path, stamp, themes[0], None, ad.Filters(), group_by="area",
                    group=order[0])
    # Area profile.
    hist = _with_labels(ctx, ad.area_history(path, stamp, area))
    profile_spec(tuple(dict.fromkeys(hist["letter"])), tuple(dict.fromkeys(hist["theme_short"])))
    if len(mine):
        _peer_tables(path, stamp, mine.iloc[-1]["framework"])
    if len(mine) >= 2:
        ids = list(mine["letter_id"])
        change_bars_spec(tuple(_change(ctx, ids[-2], ids[-1])[1]["theme_name"]))
    # Theme explorer and Export.
    ad.theme_definitions(path, stamp)
    ad.evidence(path, stamp, themes[0], None, ad.Filters(), search="")
    ad.letters_table(path, stamp)
    ad.theme_table(path, stamp, "area", ad.Filters(sections=()))
    ad.evidence(path, stamp, themes[0], None, ad.Filters(sections=()))
    return time.perf_counter() - started


def corpus_dir() -> str:
    return str(Path(os.environ.get("SENDLENS_CORPUS") or "corpus").expanduser().resolve())


def main() -> None:
    # A file of the package: a Material icon is fetched from Google's font server,
    # which fails (and logs an error on every page) offline.
    st.set_page_config(page_title="sendlens", page_icon=str(ICON), layout="wide")
    path = corpus_dir()
    stamp = ad.stamp(path)
    status = ad.status(path, stamp)
    if not status.ready:
        start_page(status)
        painted("start")
        return
    q_init("page", "overview", tuple(PAGES))
    # A visible focus ring on radio options: Streamlit's own is a faint grey behind the
    # label (about 1.1:1 against white), lost to keyboard users. A chart's or table's
    # toolbar ("Show data", downloads) stays see-through while a button in it has focus.
    # Captions (how to pick a cell without a mouse, warnings) were 3.9:1 on white, under
    # the 4.5:1 text needs: a darker grey, 7:1.
    st.html("<style>[data-testid='stRadioOption']:has(input:focus-visible) { outline: 2px solid "
            "#1f4e9c; outline-offset: 2px; border-radius: 4px; }"
            "[data-testid='stElementToolbar']:focus-within { opacity: 1 !important; }"
            f"[data-testid='stCaptionContainer'] {{ color: {ad.MUTED_TEXT}; opacity: 1; }}"
            # Streamlit's own focus ring on buttons, expanders and links is 2.2:1 on white.
            "button:focus-visible, summary:focus-visible, a:focus-visible { outline: 2px "
            "solid #1f4e9c; outline-offset: 2px; }"
            # The sections are h2 (after the page's h1: they were h3, a level skipped) in
            # the size they had.
            ".stMain h2 { font-size: 1.75rem; }"
            # At 200% zoom a 620 px box of evidence was taller than the window.
            ".st-key-cell-cards, .st-key-theme-cards { max-height: max(70vh, 300px); }"
            # A shadow at a wide table's edge while there is more to scroll to (the
            # shadows scroll with the table's box, the white covers with its content):
            # overlay scroll bars show only while scrolling, so nothing else said so.
            ".sl-wide { overflow-x: auto; background: linear-gradient(to right, white 30%, "
            "#fff0) left / 2.5rem 100% no-repeat local, linear-gradient(to left, white 30%, "
            "#fff0) right / 2.5rem 100% no-repeat local, radial-gradient(farthest-side at 0 "
            "50%, #0003, #0000) left / 0.9rem 100% no-repeat scroll, radial-gradient("
            "farthest-side at 100% 50%, #0003, #0000) right / 0.9rem 100% no-repeat scroll; }"
            "</style>")
    with st.sidebar:
        st.markdown("**sendlens**")  # not a heading: it came before the page's h1
        st.radio("Page", list(PAGES), key="page", format_func=PAGES.get,
                 on_change=_on_page_change, label_visibility="collapsed")
        st.caption(f"{counted(status.letters, 'letter')} · {counted(status.areas, 'area')} · "
                   f"{counted(status.passages, 'passage')}\n\nCorpus: `{path}`")
        if (job := ad.retrain_job(path)) is not None and not job.done:
            st.session_state[RETRAIN_WATCH] = job  # seen running: its end is reported here
            retrain_notice(job)
        elif job is not None and st.session_state.get(RETRAIN_WATCH) is job:
            if job.result is not None:
                st.success(f"Retrained: model {job.result.version}; every page shows its tags. "
                           + ("The Label page lists the passages it changed."
                              if job.result.changed else
                              "No passage changed its themes or stance."),
                           icon=":material/check_circle:")
            else:
                st.error("Retraining failed: the Label page says why.")
    if st.session_state.pop("_fold_sidebar", False):
        fold_sidebar_on_phone()
    page = st.session_state["page"]
    # Each tab named for its page: letters and the Label page open in tabs of their own.
    st.set_page_config(page_title=f"{PAGES[page]} · sendlens")
    if st.query_params.get("page") != page:
        st.query_params["page"] = page
    ctx = Ctx(path=path, stamp=stamp, status=status, options=ad.options(path, stamp),
              names=ad.theme_names(path, stamp))
    st.session_state["_untagged_themes"] = ad.untagged_themes(path, stamp)  # for _ignored
    # What a link asked for and did not get is said above the page, where a phone shows
    # it too (the sidebar is folded away there); the page finds it out as it is drawn.
    notice = st.container()
    if said := ad.problem_text(problems := ad.model_problems(path, stamp), markdown=True):
        (notice.error if problems[0] == "codebook" else notice.warning)(
            said, icon=":material/warning:")
    if said := shadowed_note(Path(path)):  # another corpus's codebook rules this one's
        notice.warning(md(said), icon=":material/warning:")
    if said := ad.older_text(path, stamp, markdown=True):  # it was said on Overview alone
        notice.warning(said, icon=":material/warning:")
    if said := ad.thin_text(path, stamp, markdown=True):  # it was said by training alone
        notice.warning(said, icon=":material/warning:")
    if said := ad.untagged_text(status, markdown=True):
        notice.warning(said, icon=":material/warning:")
    PAGE_FUNCS[page](ctx)
    if notes := st.session_state.pop("_link_notes", None):
        notice.info(". ".join(md(n) for n in notes) + ".", icon=":material/date_range:")
    if ignored := st.session_state.pop("_ignored_link", None):
        for kind, said in (("corpus", "Not in this corpus"),
                           ("setting", "Not a value this page offers"),
                           ("untagged", "Not tagged yet (a theme added to the codebook since "
                            "the corpus was tagged: retrain on the Label page, or run "
                            "`sendlens tag`)"),
                           ("repeated", "Given more than once in the link (only the last "
                            "is read)")):
            if values := [v for k, v in ignored if k == kind]:
                notice.warning(f"{said}, so ignored from the link: "
                               + "; ".join(md(v) for v in values), icon=":material/link_off:")
    painted(page)


@st.fragment(run_every=1.0)
def retrain_notice(job: ad.RetrainJob) -> None:
    """While a retrain runs: say so, and redraw the whole app (new tags) when it ends."""
    if job.done:
        st.rerun(scope="app")
    st.info(f"Retraining ({job.message}): the pages show the old tags until it ends.",
            icon=":material/model_training:")


def painted(page: str) -> None:
    # An invisible marker after the page's last element: the browser test and bench wait
    # for it to know the page has been drawn.
    st.html(f'<span id="painted-{page}" class="sendlens-painted"></span>')


if __name__ == "__main__":  # `streamlit run sendlens/app_main.py` without the shim
    main()
