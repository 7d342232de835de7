"""The Overview page: letters by year and outcome, the model and its quality."""

from __future__ import annotations

import streamlit as st

from sendlens import appdata as ad
from sendlens.export import counted, number_text
from sendlens.ui.common import (
    Ctx,
    figures,
    md,
    md_table,
    outcome_bars_spec,
    show_chart,
    when,
    year_bars_spec,
)


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
