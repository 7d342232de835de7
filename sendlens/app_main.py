"""The sendlens Streamlit app: the sidebar, the notices above every page, and the page
chosen (each page is a module of sendlens/ui/; queries live in appdata).

Run with `sendlens app` (or `streamlit run app.py`); the corpus folder comes from
$SENDLENS_CORPUS (default ./corpus). The page and its filters are kept in the URL
query string, so a researcher can share exactly the view they are looking at.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from sendlens import appdata as ad
from sendlens.export import counted
from sendlens.store import not_a_folder
from sendlens.ui.area import (
    change_bars_spec,
    default_area,
    letter_change,
    letters_per_area,
    page_area,
    peer_tables,
    profile_spec,
    with_letter_labels,
)
from sendlens.ui.common import (
    KEPT,
    PAGES,
    RETRAIN_WATCH,
    Ctx,
    corpus_dir,
    md,
    outcome_bars_spec,
    q_init,
    waiting_letters,
    year_bars_spec,
)
from sendlens.ui.compare import compare_view, heatmap_view, page_compare
from sendlens.ui.export import page_export
from sendlens.ui.label import page_label
from sendlens.ui.overview import page_overview
from sendlens.ui.reader import page_reader
from sendlens.ui.themes import page_themes
from textmine.codebook import shadowed_note


def start_page(status: ad.Status) -> None:
    st.title("sendlens", anchor=False)
    st.header("No letters in this corpus yet", anchor=False)
    if status.error:
        st.error(f"The corpus at `{status.path}` cannot be read: {status.error}")
    if wrong := not_a_folder(status.path):
        # It said "does not exist yet", and to scrape into the file.
        st.error(f"The corpus must be a folder: {md(wrong)}.")
        return
    st.markdown(
        f"The app reads the corpus folder **`{status.path}`**, which "
        + ("holds no letters." if status.exists else
           # A folder of PDFs, say: it exists, and holds no corpus.
           "holds no sendlens corpus yet." if Path(status.path).is_dir() else
           "does not exist yet.")
        + "\n\nTo fill it, in a terminal:\n"
    )
    # Quoted for the shell: a folder such as "SEND research/corpus" was two arguments.
    where = shlex.quote(status.path)
    st.code(
        f"# download the letters from the Ofsted website (polite, resumable)\n"
        f"sendlens scrape --corpus {where}\n\n"
        f"# or import PDFs you already have (a folder is searched recursively)\n"
        f"sendlens import path/to/letters/ --corpus {where}\n\n"
        f"# then tag the passages with themes and stance, and open the app again\n"
        f"sendlens tag --corpus {where}\n"
        f"sendlens app --corpus {where}",
        language="bash",
    )
    st.caption("Use another folder with `sendlens app --corpus DIR` or `SENDLENS_CORPUS=DIR`.")


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


def on_page_change() -> None:
    # A new page starts from a clean URL: other pages' filters would only confuse a link.
    page = st.session_state["page"]
    st.query_params.clear()
    st.query_params["page"] = page
    # Its widgets start from the choices kept when it was last shown (q_init), not from
    # what Streamlit left under their keys while away: it reset a filter set in the
    # controls to its default, so the figures changed without a word on coming back.
    s = st.session_state
    for kept in [k for k in s if isinstance(k, str) and k.startswith(KEPT)]:
        if kept != KEPT + "page":  # the page chosen is this callback's own widget
            s.pop(kept[len(KEPT):], None)
    # Panels open as their page's choices say on each visit (kept, a panel with a filter
    # set came back closed): the open state is kept within a visit, for the focus.
    for opened in [k for k in s if isinstance(k, str) and k.endswith("_open")
                   and k.startswith("_")]:
        del s[opened]
    s["_fold_sidebar"] = True  # on a phone it covered the page just chosen


ICON = Path(__file__).with_name("icon.png")


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
    ad.unreadable_tags(path, stamp)  # and when some tags cannot be read
    ad._tagged_by(path, stamp)  # every page's downloads say what they hold
    waiting_letters(ctx)  # letters not tagged yet: their pages say so
    ad.overview(path, stamp)
    ad.close_pairs(path, stamp)
    year_bars_spec()
    outcome_bars_spec()
    letters = ad.letters(path, stamp)
    ad.letter_view(path, stamp, str(letters["letter_id"].iloc[0]))  # Letter reader
    ad.labels(path, stamp)  # Label
    area = default_area(ctx, letters_per_area(ctx))
    mine = ad.area_letters(path, stamp, area)
    themes = list(ctx.options.themes)
    if not status.is_tagged or not themes:
        return time.perf_counter() - started
    # Compare areas: the heatmap and the evidence of its first cell.
    shown, order, _ = compare_view(ctx, "area", "net_stance", "name", (), ad.Filters())
    ad.pooled_groups(path, stamp, "area", ad.Filters())
    if len(shown):
        heatmap_view(shown, "area", "net_stance", order)
        ad.evidence(path, stamp, themes[0], None, ad.Filters(), group_by="area",
                    group=order[0])
    # Area profile.
    hist = with_letter_labels(ctx, ad.area_history(path, stamp, area))
    profile_spec(tuple(dict.fromkeys(hist["letter"])), tuple(dict.fromkeys(hist["theme_short"])))
    if len(mine):
        peer_tables(path, stamp, mine.iloc[-1]["framework"])
    if len(mine) >= 2:
        ids = list(mine["letter_id"])
        change_bars_spec(tuple(letter_change(ctx, ids[-2], ids[-1])[1]["theme_name"]))
    # Theme explorer and Export.
    ad.theme_definitions(path, stamp)
    ad.evidence(path, stamp, themes[0], None, ad.Filters(), search="")
    ad.letters_table(path, stamp)
    ad.theme_table(path, stamp, "area", ad.Filters(sections=()))
    ad.evidence(path, stamp, themes[0], None, ad.Filters(sections=()))
    return time.perf_counter() - started


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
                 on_change=on_page_change, label_visibility="collapsed")
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
    st.session_state["_untagged_themes"] = ad.untagged_themes(path, stamp)  # for common._ignored
    # What a link asked for and did not get is said above the page, where a phone shows
    # it too (the sidebar is folded away there); the page finds it out as it is drawn.
    notice = st.container()
    if said := ad.problem_text(problems := ad.model_problems(path, stamp), markdown=True,
                               path=path):
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
    if said := ad.unreadable_text(path, stamp, markdown=True):  # else a traceback
        notice.warning(said, icon=":material/warning:")
    PAGE_FUNCS[page](ctx)
    if gone := st.session_state.pop("_gone_choices", None):
        notice.info("No longer in the corpus (it changed since the page was drawn), so no "
                    "longer chosen: " + "; ".join(md(g) for g in gone) + ".",
                    icon=":material/sync_problem:")
    if notes := st.session_state.pop("_link_notes", None):
        notice.info(". ".join(md(n) for n in notes) + ".", icon=":material/date_range:")
    if ignored := st.session_state.pop("_ignored_link", None):
        for kind, said in (("corpus", "Not in this corpus"),
                           ("setting", "Not a value this page offers"),
                           ("untagged", "Not tagged yet (a theme added to the codebook since "
                            f"the corpus was tagged: run {ad.retag_words(path)})"),
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
