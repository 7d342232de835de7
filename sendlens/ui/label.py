"""The Label page: corrections and the background retrain."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from sendlens import appdata as ad
from sendlens.export import counted
from sendlens.store import MAX_FTS_QUERY
from sendlens.ui.common import (
    PASSAGE_ROW_PX,
    RETRAIN_WATCH,
    Ctx,
    downloads,
    focus_here,
    md,
    page_url,
    passage_columns,
    q_init,
    q_sync,
    show_error,
    theme_words,
    when,
    with_reader_links,
)


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
    # A stale model, letters not tagged yet, or tags of an older model than the current
    # one (`sendlens train` since), are what `sendlens tag` does: here too, as every page
    # says ("until `sendlens tag` (or Retrain on the Label page) re-tags them").
    behind = ctx.status.is_tagged and (problem == "stale" or bool(ctx.status.untagged[0])
                                       or ctx.status.older_tags > 0)
    # The button offered a retrain that could only fail, in the command line's words.
    read_only = ad.read_only_text(ctx.path, ad.RETRAIN_READ_ONLY)
    can_retrain = (bool(len(saved) or learnt or behind) and not broken and not lost
                   and not read_only)
    files = [Path(f).name for f in (ctx.status.model or {}).get("meta", {})
             .get("training", {}).get("label_files") or []]
    st.caption("Trains a new model from the codebook's weak labels plus your corrections"
               + (f" and the hand-label files the current model learnt from "
                  f"({md(', '.join(files))})" if files else "")
               + ", then re-tags every passage; a corrected passage keeps your correction as "
               "its tag. This can take a minute."
               + (f" Not here: {md(read_only)}." if read_only else
                  " Fix the codebook first (see above)." if broken else
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
