"""The Area profile page: an area's letters over time, against its peers, and what
changed between its inspections."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from sendlens import appdata as ad
from sendlens.export import counted, number_text
from sendlens.ui.common import (
    MIN_RANKED,
    Ctx,
    chart_data,
    chart_spec,
    chart_width,
    downloads,
    faded,
    judged_colour,
    md,
    md_table,
    not_tagged,
    page_url,
    q_init,
    q_sync,
    show_chart,
    show_error,
    sideways,
    slant_overhang,
    untagged_note,
    waiting_letters,
    white_text_on,
)


def peer_tables(path: str, stamp: tuple[int, ...], framework: str
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
        own, region, whole = peer_tables(ctx.path, ctx.stamp, framework)
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
    downloads(saved, "-".join(["area", area, "against-peers"]), "peers",
              {"area": area, "framework": framework, "region": name or ""})


def page_area(ctx: Ctx) -> None:
    st.title("Area profile", anchor=False)
    counts = letters_per_area(ctx)
    areas = list(ctx.options.areas)
    q_init("area", default_area(ctx, counts), areas, alias=ad.area_name, of_corpus=True)
    st.selectbox("Area", areas, key="area",
                 format_func=lambda a: f"{a} ({counted(counts.get(a, 0), 'letter')})")
    q_sync({"area": None})
    area = st.session_state["area"]
    mine = ad.area_letters(ctx.path, ctx.stamp, area)
    st.header(f"Letters for {md(area)}", anchor=False)
    if waiting := [i for i in mine["letter_id"] if i in waiting_letters(ctx)]:
        # Their empty cells below would read as "never mentioned".
        st.warning(f"{counted(len(waiting), 'letter')} of {md(area)} not tagged yet (imported "
                   "since the last tag): "
                   + ("its passages are" if len(waiting) == 1 else "their passages are")
                   + f" not in the profile below. Run {ad.retag_words(ctx.path)}.",
                   icon=":material/warning:")
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
    hist = with_letter_labels(ctx, hist)
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
        diff, bars = letter_change(ctx, a, b)
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
    downloads(diff[cols], f"change-{area}", "diff")


def letters_per_area(ctx: Ctx) -> pd.Series:
    return ad.letters(ctx.path, ctx.stamp).groupby("area").size()


def default_area(ctx: Ctx, counts: pd.Series) -> str:
    # The area with the most letters: the one whose profile shows the most change.
    return str(counts.idxmax()) if len(counts) else ctx.options.areas[0]


def with_letter_labels(ctx: Ctx, hist: pd.DataFrame) -> pd.DataFrame:
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


def letter_change(ctx: Ctx, a: str, b: str) -> tuple[pd.DataFrame, pd.DataFrame]:
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
