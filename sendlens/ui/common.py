"""Shared by the app's pages: the query-string state, widgets, charts, evidence
tables, filters and notes."""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import altair as alt
import pandas as pd
import streamlit as st

from sendlens import appdata as ad
from sendlens.export import counted, number_text, table_bytes, text_with_lead_in
from sendlens.store import now_iso

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


# Rows ranked on a theme need this many passages on it by default (Compare's "Rank rows
# with at least"); a share of 1 or 2 passages is no basis for "most criticised".
MIN_RANKED = 3
# A heatmap cell whose passages judge nothing (mentioned, never judged): a mid grey, apart
# from the net-stance scale's pale middle ("balanced") and share negative's palest red.
GREY = "#c8c8c8"
# Rows of an evidence table sent to the browser until the user asks for all of them: a
# theme on the 10x corpus has >10,000 passages (~7 MB) and the grid draws ~15 at a time.
TABLE_ROWS = 500
# Rows of passage tables: taller than 4rem the data grid wraps text, and four lines of
# a 440 px column hold about 95 % of the passages (any of them opens whole on a click).
PASSAGE_ROW_PX = 88
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
           alias: Callable[[str], str | None] | None = None, of_corpus: bool = False) -> None:
    """Seed a widget's state from the URL the first time the page is shown.

    `alias` maps a link's value that is not among `allowed` to one that is (an area's
    other spelling to the name the corpus uses); values it cannot map are ignored, and
    said so in the sidebar.

    Afterwards the value is re-assigned to itself on every run: that makes it state the
    script owns, so it survives runs in which its widget is not drawn (a closed lazy
    expander); Streamlit would otherwise reset a widget's value when it is not drawn.

    `of_corpus`: `allowed` is all the corpus holds (its letters, areas...), so a value
    chosen before that is not among them was taken out of the corpus since: said.
    """
    if key in st.session_state:
        st.session_state[key] = st.session_state[KEPT + key] = _still_there(
            key, st.session_state[key], default, allowed if of_corpus else None, multi)
        return
    if key not in st.query_params and KEPT + key in st.session_state:
        # Back on a page in this session (its widgets' state was dropped while away):
        # the choices made on it before, not the defaults.
        kept = st.session_state[KEPT + key]
        if of_corpus:
            kept = _still_there(key, kept, default, allowed, multi)
        elif allowed is not None:
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
        st.session_state[key] = st.session_state[KEPT + key] = values or list(default)
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
    st.session_state[key] = st.session_state[KEPT + key] = value


# A copy of each URL-backed choice that Streamlit does not drop with the widget.
KEPT = "_kept_"


def _still_there(key: str, value: Any, default: Any, allowed: Any, multi: bool) -> Any:
    """A choice made earlier in the session, less what the corpus no longer holds (a
    letter `sendlens supersede` took out, an area re-imported under another name), which
    is said: the page showed another letter, or every area, without a word."""
    if allowed is None:
        return value
    lost = [v for v in value if v not in allowed] if multi else (
        [value] if value not in allowed and value != default else [])
    if lost:  # said above the page, all in one note (app_main)
        st.session_state.setdefault("_gone_choices", []).extend(f"{key}={v}" for v in lost)
        value = [v for v in value if v in allowed] if multi else default
    return value


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


# --- small shared pieces -----------------------------------------------------------------


def file_safe(text: str) -> str:
    """Text for a file name: each run of characters other than letters, digits and
    "._+-" (a space, "/", "<", "&", ",") is one "_"."""
    return re.sub(r"[^\w.+-]+", "_", text)


def filter_slug(filters: ad.Filters) -> str:
    """The filters for a file name ("outcome_systemic_failings-from_2024-01-01"), "" for
    none; a long one is "filtered-" and a short hash, so that two views differ still."""
    parts = [f"{label}_{'+'.join(values)}" for label, values in (
        ("area", filters.areas), ("region", filters.regions), ("framework", filters.frameworks),
        ("outcome", filters.outcomes), ("section", filters.sections)) if values]
    parts += [f"{word}_{day}" for word, day in (("from", filters.date_from),
                                                ("to", filters.date_to)) if day]
    slug = file_safe("-".join(parts))
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
        "" if lists_passages else ad.untagged_text(ad.status(path, stamp)),
        ad.unreadable_text(path, stamp)]))


def downloads(frame: pd.DataFrame, name: str, key: str,
              options: dict[str, str] | None = None,
              filters: ad.Filters | None = None, counts_tags: bool = True,
              lists_passages: bool = False) -> None:
    """CSV / Excel / Markdown buttons for exactly the table shown. The Excel file's
    'About' sheet names the table, the view it came from (a link with its filters), the
    options chosen on the page that the link does not hold, the corpus and the model.
    With `filters`, the file name says what they left out: a filtered table saved under
    the unfiltered one's name was taken for it."""
    # An area's or a search's own words too, wherever the page put them in the name.
    name = file_safe(name)
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


# --- what several pages show -----------------------------------------------------------


def tag_command(path: str) -> str:
    """`sendlens tag` for this corpus, its folder quoted for the shell (a space in it made
    the command pasted from the page tag another folder)."""
    return f"sendlens tag --corpus {shlex.quote(path)}"


def not_tagged(ctx: Ctx) -> bool:
    if ctx.status.is_tagged:
        return False
    st.info(
        f"The {counted(ctx.status.letters, 'letter')} "
        f"{'is' if ctx.status.letters == 1 else 'are'} imported but no passage is tagged "
        f"yet. Run `{tag_command(ctx.path)}` and reload this page.",
        icon=":material/label_off:",
    )
    return True


# Column headers in words, for the tables the app shows (downloads keep the keys).
TABLE_HEADERS = {"la_code": "LA code", "letters_mentioning": "Letters mentioning",
                 "share_negative": "Share negative", "net_stance": "Net stance"}

FILTER_NAMES = {"areas": "areas", "regions": "regions", "fw": "frameworks",
                "out": "outcomes", "sec": "sections", "from": "from", "to": "to"}


# The pages with the shared filters, by the prefix of their keys.
FILTER_PAGES = {"c_": "Compare areas", "t_": "Theme explorer"}


def _carry_filters(prefix: str, defaults: dict[str, Any]) -> None:
    """On the first visit to a page with filters (none of its own set in this session or
    in the link), take those last set on the other such page: a researcher who narrowed
    Compare areas to the positive reports and opened the Theme explorer read every
    report's passages, with nothing to say so. Said above the page when it happens."""
    s = st.session_state
    mine = [prefix + k for k in FILTER_NAMES]
    if any(k in s or KEPT + k in s or k in st.query_params for k in mine):
        return
    for other, page in FILTER_PAGES.items():
        kept = {k: s[KEPT + other + k] for k in FILTER_NAMES if KEPT + other + k in s}
        # Set there: a list chosen, or a date other than the letters' first or last.
        if other == prefix or all(v == defaults[k] for k, v in kept.items()):
            continue
        for k, v in kept.items():
            s[prefix + k] = list(v) if isinstance(v, list) else v
        s.setdefault("_link_notes", []).append(
            f"The filters set on {page} are used here too (open Filters to change them)")
        return


def _follow_date_span(d_min: date, d_max: date) -> None:
    """A date filter left at the letters' first or last date moves with it when the corpus
    changes under the open app: letters imported (and tagged) since were otherwise left
    out by an old last date the user never chose, the page "Filtered by from, to" and the
    link holding it (or, letters taken out, said to be "the link's" date)."""
    s = st.session_state
    old = s.get("_date_span")
    s["_date_span"] = (d_min, d_max)
    if old is None or old == (d_min, d_max):
        return
    for prefix in FILTER_PAGES:
        for k, was, now in (("from", old[0], d_min), ("to", old[1], d_max)):
            for key in (prefix + k, KEPT + prefix + k):
                if s.get(key) == was:
                    s[key] = now


def page_filters(ctx: Ctx, prefix: str) -> ad.Filters:
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
    _follow_date_span(d_min, d_max)
    _carry_filters(prefix, {k[len(prefix):]: v for k, v in keys.items()})
    q_init(f"{prefix}areas", [], o.areas, multi=True, alias=ad.area_name, of_corpus=True)
    q_init(f"{prefix}regions", [], o.regions, multi=True, of_corpus=True)
    q_init(f"{prefix}fw", [], o.frameworks, multi=True, of_corpus=True)
    q_init(f"{prefix}out", [], o.outcomes, multi=True, of_corpus=True)
    q_init(f"{prefix}sec", [], o.sections, multi=True, of_corpus=True)
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
    filters = ad.Filters(
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
    if undated := ad.undated_letters(ctx.path, ctx.stamp, filters):
        # Else they went without a word: the Overview counts them, as "undated".
        st.caption(f"{counted(undated, 'letter')} with no date (neither inspection nor "
                   f"publication) {'is' if undated == 1 else 'are'} left out by the dates "
                   "chosen.")
    return filters


def untagged_note(ctx: Ctx, where: str, chosen: Sequence[str] = ()) -> None:
    """Name the codebook's themes the tables leave out, as no tagging model knew them."""
    if missing := [t for t in ad.untagged_themes(ctx.path, ctx.stamp)
                   if not chosen or t in chosen]:
        st.caption(f"Not in the {where}: {', '.join(md(ctx.theme(t)) for t in missing)}, "
                   "added to the "
                   f"codebook since the corpus was tagged (run {ad.retag_words(ctx.path)}).")


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


def waiting_letters(ctx: Ctx) -> frozenset[str]:
    """Letters waiting for `sendlens tag` since it last ran (imported since): their pages
    say so. Empty, with no query, when none waits or nothing was ever tagged."""
    if not (ctx.status.is_tagged and ctx.status.untagged[1]):
        return frozenset()
    return ad.untagged_letters(ctx.path, ctx.stamp)


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


def corpus_dir() -> str:
    return str(Path(os.environ.get("SENDLENS_CORPUS") or "corpus").expanduser().resolve())
