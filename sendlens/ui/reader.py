"""The Letter reader page: a letter with each passage's tags."""

from __future__ import annotations

import streamlit as st

from sendlens import appdata as ad
from sendlens.ui.common import (
    PASSAGE_ROW_PX,
    Ctx,
    downloads,
    lazy_expander,
    md,
    md_table,
    page_url,
    passage_columns,
    q_init,
    q_sync,
    scroll_to,
    tag_command,
    theme_words,
    waiting_letters,
)


def page_reader(ctx: Ctx) -> None:
    st.title("Letter reader", anchor=False)
    frame = ad.letters(ctx.path, ctx.stamp)
    ids = list(frame["letter_id"])
    labels = dict(zip(frame["letter_id"], frame["label"]))
    # A link naming a passage alone (its id from an export, say) opens that passage's
    # letter: it opened the first letter and dropped the passage without a word.
    of_focus = str(st.query_params.get("focus", "")).rpartition("-")[0]
    q_init("letter", of_focus if of_focus in ids and "letter" not in st.query_params
           else ids[0], ids, of_corpus=True)
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
    q_init("hl", [], themes, multi=True, of_corpus=True)
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
        # waiting_letters knows of letters imported since a tag, not of a corpus never tagged.
        st.warning("No passage of the corpus is tagged yet: nothing is highlighted. Run "
                   f"`{tag_command(ctx.path)}` and reload this page.",
                   icon=":material/warning:")
    elif letter_id in waiting_letters(ctx):
        st.warning("This letter is not tagged yet (imported since the last tag): nothing is "
                   f"highlighted. Run {ad.retag_words(ctx.path)}.",
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
