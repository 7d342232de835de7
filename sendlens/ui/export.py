"""The Export page: the tables as CSV, Excel or Markdown."""

from __future__ import annotations

import streamlit as st

from sendlens import appdata as ad
from sendlens.export import counted
from sendlens.ui.common import (
    ALL,
    TABLE_HEADERS,
    Ctx,
    downloads,
    md_table,
    not_tagged,
    q_init,
    q_sync,
    sections_note,
    show_error,
)

EXPORT_PREVIEW_ROWS = 24  # the Export page's preview of a themes table


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
    q_init("x_theme", themes[0] if themes else None, themes, of_corpus=True)
    q_init("x_stance", ALL, (ALL, *ad.STANCES))
    sections = st.multiselect("Sections (for both tables below)", ctx.options.sections,
                              key="x_sec", format_func=ad.section_name,
                              placeholder="All sections", help=ad.SECTION_HELP)
    picked = "-".join(sections)
    st.header("Themes table", anchor=False)
    q_init("x_pt", ALL, (ALL, *themes), of_corpus=True)
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
