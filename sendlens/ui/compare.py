"""The Compare areas page: an area (or region) x theme heatmap and the evidence
behind a cell."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from sendlens import appdata as ad
from sendlens.export import counted, number_text
from sendlens.ui.common import (
    ALL,
    KEPT,
    MIN_RANKED,
    TABLE_HEADERS,
    Ctx,
    chart_data,
    chart_spec,
    chart_width,
    downloads,
    evidence_cards,
    evidence_table,
    faded,
    judged_colour,
    lazy_expander,
    md,
    not_tagged,
    page_filters,
    page_url,
    q_init,
    q_sync,
    scroll_to,
    sections_note,
    show_chart,
    show_error,
    sideways,
    slant_overhang,
    untagged_note,
    waiting_letters,
    white_text_on,
)
from textmine.aggregate import judged
from textmine.intervals import MIN_INTERVAL_LETTERS

METRICS = {
    "net_stance": "Net stance: (positive − negative) / passages that judge the theme",
    "share_negative": "Share of the passages judging the theme that are negative",
}


MAX_ROWS = 60  # heatmap rows readable on a laptop; beyond that ask for a narrower choice


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


def page_compare(ctx: Ctx) -> None:
    st.title("Compare areas", anchor=False)
    if not_tagged(ctx):
        return
    themes = list(ctx.options.themes) or []
    defaults = {"by": "area", "metric": "net_stance", "sort": "name", "th": [],
                "min": MIN_RANKED}
    q_init("by", "area", ("area", "region"))
    q_init("metric", "net_stance", tuple(METRICS))
    q_init("sort", "name", ("name", *themes), of_corpus=True)
    q_init("th", [], themes, multi=True, of_corpus=True)
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
    filters = page_filters(ctx, "c_")
    by, metric = st.session_state["by"], st.session_state["metric"]
    chosen = tuple(st.session_state["th"])
    try:
        shown, order, total_rows = compare_view(ctx, by, metric, st.session_state["sort"],
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
        spec, data = heatmap_view(shown, by, metric, order, cell, st.session_state["min"])
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
                                    *([stance] if stance != ALL else [])]),
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


def compare_view(ctx: Ctx, by: str, metric: str, sort: str, chosen: tuple[str, ...],
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
    q_init("cell_theme", sort if ranked else (chosen or themes or [None])[0], themes,
           of_corpus=True)
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
        # Plain: the note is escaped as a whole.
        retag = ad.retag_words(ctx.path).replace("`", "")
        why = (f"its letters are not tagged yet (run {retag})"
               if by == "area" and _untagged_area(ctx, row)
               else "it is not among the rows shown with these filters")
        st.session_state.setdefault("_link_notes", []).append(
            f"{row}: {why}; the evidence is {rows[0]}'s")
        st.session_state["cell_row"] = rows[0]
    if chosen and st.session_state["cell_theme"] not in chosen:
        st.session_state["cell_theme"] = chosen[0]
    cell = st.session_state["cell_row"], st.session_state["cell_theme"]
    for k, v in zip(("cell_row", "cell_theme"), cell, strict=True):
        # The copy kept for a return to the page, else the cell before the last click.
        st.session_state[KEPT + k] = v
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


def _untagged_area(ctx: Ctx, area: Any) -> bool:
    """Whether every letter of `area` waits for `sendlens tag`."""
    if not (waiting := waiting_letters(ctx)):
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
    or mixed: the measures' denominator) follow the ranked ones, ranked the same way
    among themselves, and rows that never mention it come last: one negative passage out
    of one is 100% negative, and would otherwise top the ranking.
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


def heatmap_view(frame: pd.DataFrame, by: str, metric: str, order: list[str],
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
