"""The Theme explorer page: a theme's passages, with full-text search."""

from __future__ import annotations

import re

import streamlit as st

from sendlens import appdata as ad
from sendlens.store import MAX_FTS_QUERY
from sendlens.ui.common import (
    ALL,
    Ctx,
    downloads,
    evidence_cards,
    evidence_table,
    figures,
    focus_here,
    lazy_expander,
    md,
    not_tagged,
    page_filters,
    q_init,
    q_sync,
    show_error,
)


def page_themes(ctx: Ctx) -> None:
    st.title("Theme explorer", anchor=False)
    # Taken now: a page that stops early (a search that fails) must not leave it for later.
    searched_all = st.session_state.pop("_searched_all", False)
    themes = list(ctx.options.themes)
    q_init("theme", themes[0] if themes else ALL, (ALL, *themes), of_corpus=True)
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
    filters = page_filters(ctx, "t_")
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
