"""Everything the Streamlit app reads from (or, for labels, writes to) the corpus.

The page code in `sendlens/app_main.py` and `sendlens/ui/` only lays out widgets; every query
lives here.
Each cached function takes the corpus path *and* its `stamp()` (modification times and
sizes of the database, its WAL file and the codebook), so a re-import, a re-tag, a saved
label or an edited codebook invalidates the cache and nothing stale is shown, while
repeated page views cost nothing.

The app only reads the corpus: connections are opened read-only, and `Corpus.open`
(which migrates, i.e. writes) is not called; the exceptions are `save_label`,
`delete_label` and `retrain` (the Label page's buttons).
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from scraper.parse import PARSER_VERSION
from scraper.records import CANONICAL_SECTIONS, FRAMEWORK_SHORT_NAMES, OUTCOME_NAMES
from sendlens.store import (
    DB_NAME,
    LETTER_DATE_SQL,
    Corpus,
    CorpusError,
    corpus_size,
    current_model_row,
    exact_phrase_sql,
    fts_query,
    letters_read_otherwise,
    now_iso,
    offered_column,
    tags_of_other_models,
    untagged_counts,
    untagged_letter_ids,
)
from textmine import aggregate
from textmine.codebook import STANCES

SECTIONS: tuple[str, ...] = CANONICAL_SECTIONS
FRAMEWORK_NAMES: dict[str, str] = FRAMEWORK_SHORT_NAMES
# Canonical sections in plain words (the codes are what --section takes on the command line).
SECTION_NAMES: dict[str, str] = {
    "context": "Context",
    "experience": "Experience of families",
    "strengths": "Strengths",
    "weaknesses": "Weaknesses",
    "actions": "Actions required",
    "main_findings": "Main findings",
    "outcome": "Inspection outcome",
    "boilerplate": "Boilerplate",
}
# Which headings of each framework a section gathers: what makes formats comparable.
SECTION_HELP = (
    "Compare like with like across frameworks. **Strengths**: 'Strengths' (2016) and "
    "'What is the area partnership doing that is effective?' (2023). **Weaknesses**: "
    "'Areas for development' (2016) and 'What does the area partnership need to do "
    "better?' (2023). **Actions required**: the written statement of action (2016), "
    "'Areas for improvement' and 'Areas for priority action' (2023), next steps "
    "(revisits, monitoring). **Main findings**: main findings (2016), a revisit's "
    "findings on each weakness, a monitoring inspection's progress. **Inspection outcome**: "
    "the 2023 reports' outcome in the inspectorates' fixed wording (given no theme). "
    "**Experience of families**: 'What is it like to be a child or young person with SEND "
    "in this area?' (2023). The codes in brackets are the "
    "`--section` values of `sendlens export`."
)
# Stance colours shared by charts and highlighting (colour-blind-safe red/blue pair).
STANCE_COLOURS: dict[str, str] = {
    "positive": "#2166ac",
    "negative": "#b2182b",
    "mixed": "#e08214",
    "neutral": "#8c8c8c",
}
# The same as text (stance words, the reader's labels): mixed's orange and neutral's grey
# were 2.9:1 and 3.4:1 on white, under the 4.5:1 text needs; these are 6.8:1 and 7:1.
# Text in grey (captions, a neutral stance, a passage with no stance): 7:1 on white.
MUTED_TEXT = "#595959"
STANCE_TEXT_COLOURS: dict[str, str] = {**STANCE_COLOURS, "mixed": "#8a4b00",
                                       "neutral": MUTED_TEXT}


def stance_text_colour(stance: str | None) -> str:
    """A stance's colour for text (darker than the charts' where they are too light)."""
    return STANCE_TEXT_COLOURS.get(stance or "", MUTED_TEXT)


class AppDataError(Exception):
    """Something the app should show as a message rather than a traceback."""


# --- the corpus and its stamp ----------------------------------------------------------


def stamp(path: str | Path) -> tuple[int, int, int, int, int, int]:
    """Modification time and size of the database, its WAL and the codebook in force:
    part of every cache key, so that an edited codebook's names, definitions and
    staleness show at the next page view.

    An empty WAL counts as none: the app's own read-only connections can create one,
    which changes nothing in the data and must not make every cached table stale."""
    from textmine.codebook import codebook_path

    root = Path(path)
    out: list[int] = []
    for file in (root / DB_NAME, root / (DB_NAME + "-wal"), codebook_path(root)):
        try:
            st_ = file.stat()
        except OSError:
            st_ = None
        out += [st_.st_mtime_ns, st_.st_size] if st_ is not None and st_.st_size else [0, 0]
    return out[0], out[1], out[2], out[3], out[4], out[5]


def area_name(name: str) -> str | None:
    """The name the corpus stores for an area typed or linked another way ("Durham",
    "Bedford Borough"), or None when the lookup table does not know it."""
    from textmine.areas import lookup_area

    la = lookup_area(name)
    return la.name if la else None


def corpus_for(path: str | Path) -> Corpus:
    # Not Corpus.open(): that migrates the schema, which is a write.
    return Corpus(Path(path))


def _connect(path: str | Path) -> sqlite3.Connection:
    corpus = corpus_for(path)
    if not corpus.db_path.is_file():
        raise AppDataError(f"{corpus.db_path}: no corpus database here")
    return corpus.connect(readonly=True)


def provenance(path: str, stamp_: tuple[int, ...], **what: str | None) -> dict[str, str]:
    """The 'About' sheet of a table downloaded as XLSX (sendlens.export.provenance), its
    corpus and models read once per state of the corpus (a page draws several)."""
    from sendlens.export import provenance_of

    return provenance_of(*_tagged_by(path, stamp_), **what)


@st.cache_data(show_spinner=False)
def _tagged_by(path: str, stamp_: tuple[int, ...]) -> tuple[str, str]:
    """(the corpus folder, the models whose tags it holds), for `provenance`."""
    from sendlens.export import tagged_by

    con = _connect(path)
    try:
        return str(corpus_for(path).root.resolve()), tagged_by(con)
    finally:
        con.close()


def _rows(path: str | Path, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    con = _connect(path)
    try:
        return [dict(r) for r in con.execute(sql, tuple(params)).fetchall()]
    finally:
        con.close()


def _frame(path: str | Path, sql: str, params: Iterable[Any] = (),
           columns: list[str] | None = None) -> pd.DataFrame:
    rows = _rows(path, sql, params)
    return pd.DataFrame(rows, columns=columns) if columns else pd.DataFrame(rows)


@dataclass(frozen=True)
class Status:
    """What the corpus holds; `ready` is False for a missing or empty corpus."""

    path: str
    exists: bool
    letters: int = 0
    areas: int = 0
    passages: int = 0
    letters_with_passages: int = 0  # what a model trained now would learn from
    tagged: int = 0
    # Passages not tagged, and their letters (imported since the last `sendlens tag`).
    untagged: tuple[int, int] = (0, 0)
    themed: int = 0  # tagged passages with at least one theme
    # Tagged passages whose tags come from a model other than `model` (e.g. one trained
    # by `classify` or `train` since the last `tag`): the tables still show those tags.
    older_tags: int = 0
    labels: int = 0
    outdated: int = 0  # letters read by another version of the parser (import --reparse)
    last_scrape: str | None = None
    last_import: str | None = None
    model: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.exists and self.letters > 0 and self.error is None

    @property
    def is_tagged(self) -> bool:
        return self.tagged > 0


@st.cache_data(show_spinner=False)
def status(path: str, stamp_: tuple[int, ...]) -> Status:
    if not (Path(path) / DB_NAME).is_file():
        return Status(path=path, exists=False)
    try:
        con = _connect(path)
    except (AppDataError, sqlite3.Error) as exc:
        return Status(path=path, exists=True, error=str(exc))
    try:
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        letters = one("SELECT count(*) FROM letters")
        model_row = current_model_row(con)  # as `info` and `tag` read it
        model = None
        if model_row:
            model = {"version": model_row["version"], "created_at": model_row["created_at"],
                     "meta": _json(model_row["meta"], {})}
        scrape = con.execute("SELECT value FROM meta WHERE key='last_scrape'").fetchone()
        with_passages, passages = corpus_size(con)  # as a model trained now counts them
        return Status(
            path=path,
            exists=True,
            letters=letters,
            areas=one("SELECT count(DISTINCT area) FROM letters"),
            passages=passages,
            letters_with_passages=with_passages,
            tagged=one("SELECT count(*) FROM tags"),
            untagged=untagged_counts(con),
            themed=one("SELECT count(*) FROM tags WHERE themes NOT IN ('[]', '')"),
            older_tags=tags_of_other_models(con, model["version"]) if model else 0,
            # Passages corrected (one counted once, however often it was corrected).
            labels=one("SELECT count(DISTINCT coalesce(passage_id, text)) FROM labels"),
            outdated=len(letters_read_otherwise(con, PARSER_VERSION)),
            last_scrape=scrape[0] if scrape else None,
            last_import=one("SELECT max(imported_at) FROM letters"),
            model=model,
        )
    except sqlite3.Error as exc:
        return Status(path=path, exists=True, error=f"not a usable sendlens database ({exc})")
    finally:
        con.close()


def _json(text: str | None, default: Any) -> Any:
    # A missing value read into a frame with text beside it is NaN, not None (and true).
    if not isinstance(text, str) or not text:
        return default
    try:
        value = json.loads(text)
    except ValueError:
        return default
    # Damaged tags ("null" for a list, [null]) read as the default too: None is no theme.
    if default is None or isinstance(value, type(default)):
        return value if not isinstance(value, list) or all(
            isinstance(v, str) for v in value) else default
    return default


QUALITY_COLUMNS = {"theme_macro_f1": "Theme macro-F1", "theme_micro_f1": "Theme micro-F1",
                   "stance_macro_f1": "Stance macro-F1", "stance_accuracy": "Stance accuracy"}


def model_quality(model: dict[str, Any] | None) -> pd.DataFrame:
    """The measurements stored with a model by `sendlens evaluate` (meta "quality"): one
    row per setting, saying how and on what it was measured."""
    rows = []
    for setting, entry in ((model or {}).get("meta", {}).get("quality") or {}).items():
        if not isinstance(entry, dict):
            continue
        how = f"{setting}: {entry.get('gold', '?')}, {entry.get('sentences', '?')} sentences"
        if entry.get("folds"):
            how += f", {entry['folds']} folds"
        if entry.get("measured_at"):
            how += f" ({str(entry['measured_at'])[:10]})"
        if entry.get("themes_not_scored"):
            how += f"; not measured (not in the labels): {', '.join(entry['themes_not_scored'])}"
        spread = entry.get("intervals") or {}
        rows.append({"how": how, **{k: _with_interval(entry.get(k), spread.get(k))
                                    for k in QUALITY_COLUMNS}})
    return pd.DataFrame(rows, columns=["how", *QUALITY_COLUMNS])


def _with_interval(value: Any, spread: Any) -> str | None:
    """"0.833 (0.80-0.86)": the figure and its 95% interval over letters, when stored."""
    from textmine.intervals import interval_text

    return f"{value:.3f}{interval_text(spread)}" if isinstance(value, int | float) else None


# --- letters and the overview ------------------------------------------------------------

LETTER_COLUMNS = [
    "letter_id", "area", "region", "framework", "inspection_start", "inspection_end",
    "published", "letter_date", "outcome", "weaknesses_progress", "weaknesses_total", "n_passages",
    "imported_at", "source",
]


@st.cache_data(show_spinner=False)
def letters(path: str, stamp_: tuple[int, ...]) -> pd.DataFrame:
    """One row per letter (no text), ordered by area and date, with a readable label."""
    frame = letters_table(path, stamp_)[LETTER_COLUMNS].copy()
    # Dated as the library dates a letter (`export themes --by year`): the inspection,
    # else the publication, else the letter's own date.
    dates = frame[["inspection_start", "published", "letter_date"]]
    frame["year"] = dates.bfill(axis=1).iloc[:, 0].str[:4]
    frame["label"] = frame.apply(letter_label, axis=1)
    return frame


@st.cache_data(show_spinner=False)
def letters_table(path: str, stamp_: tuple[int, ...]) -> pd.DataFrame:
    """Every letter with every column of `sendlens export letters`, read as it reads them."""
    from sendlens.export import LETTER_COLUMNS as EXPORTED
    from sendlens.export import LETTERS_SQL

    return _frame(path, LETTERS_SQL, columns=EXPORTED)


@st.cache_data(show_spinner=False)
def untagged_letters(path: str, stamp_: tuple[int, ...]) -> frozenset[str]:
    """Letters with a passage not tagged yet (imported since the last `sendlens tag`):
    their pages say so, rather than show empty cells as "never mentioned"."""
    con = _connect(path)
    try:
        return untagged_letter_ids(con)
    finally:
        con.close()


def letter_label(row: Any) -> str:
    return (f"{row['area']}, {when(row)} "
            f"({FRAMEWORK_NAMES.get(row['framework'], row['framework'])})")


def when(row: Any) -> str:
    """A letter's inspection date, else its publication's, else its own date (as the
    library dates it), else "undated". A missing value in a frame is NaN, which is true:
    `or` showed "nan"."""
    for column, prefix in (("inspection_start", ""), ("published", "published "),
                           ("letter_date", "dated ")):
        if isinstance(value := row.get(column), str) and value:
            return prefix + value
    return "undated"


def framework_name(value: str | None) -> str:
    return FRAMEWORK_NAMES.get(value or "", value or "unknown")


def outcome_name(value: str | None) -> str:
    # A missing outcome in a frame is NaN, which is true: `or` showed "nan".
    if not isinstance(value, str) or not value:
        return "not stated"
    return OUTCOME_NAMES.get(value, value)


def section_words(value: str) -> str:
    """A section as the pages name it: "Actions required", not "actions"."""
    return SECTION_NAMES.get(value, value)


def section_name(value: str) -> str:
    """'Weaknesses (weaknesses)': the plain name and the code the command line takes."""
    return f"{section_words(value)} ({value})"


@dataclass(frozen=True)
class Options:
    areas: tuple[str, ...]
    regions: tuple[str, ...]
    frameworks: tuple[str, ...]
    outcomes: tuple[str, ...]
    sections: tuple[str, ...]
    themes: tuple[str, ...]
    date_min: str | None
    date_max: str | None


def _iso_day(value: object) -> bool:
    """Is this a date as sendlens stores one (YYYY-MM-DD, a real day)?"""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@st.cache_data(show_spinner=False)
def options(path: str, stamp_: tuple[int, ...]) -> Options:
    """The values each filter can take in this corpus."""
    frame = letters(path, stamp_)
    sections = [r["section"] for r in _rows(path, "SELECT DISTINCT section FROM passages")]
    order = {s: i for i, s in enumerate(SECTIONS)}
    # Each letter's date as the filters date it (its inspection, else its publication,
    # else its own date): the inspection alone left a letter dated by its publication
    # after the last inspection beyond the pickers' range, and in any range ending there.
    # ISO days only: a date typed into the database by hand ("30/01/2024") stopped the
    # pages with a traceback.
    dates = frame[["inspection_start", "published", "letter_date"]].bfill(axis=1).iloc[:, 0]
    dates = dates[dates.map(_iso_day)].dropna()
    untagged = untagged_themes(path, stamp_)
    return Options(
        areas=tuple(sorted(frame["area"].dropna().unique())),
        regions=tuple(sorted(frame["region"].dropna().unique())),
        frameworks=tuple(f for f in FRAMEWORK_NAMES if f in set(frame["framework"]))
        + tuple(sorted(set(frame["framework"]) - set(FRAMEWORK_NAMES))),
        outcomes=tuple(sorted(frame["outcome"].dropna().unique())),
        sections=tuple(sorted(sections, key=lambda s: (order.get(s, 99), s))),
        # Not a theme no tagging model knew: its cells and passages would be empty.
        themes=tuple(t for t in theme_names(path, stamp_) if t not in untagged),
        date_min=dates.min() if len(dates) else None,
        date_max=dates.max() if len(dates) else None,
    )


@st.cache_data(show_spinner=False)
def theme_names(path: str, stamp_: tuple[int, ...]) -> dict[str, str]:
    """Theme id -> readable name: codebook themes in codebook order, then any other theme
    found in the tags."""
    try:
        return dict(aggregate.theme_names(corpus_for(path)))
    except Exception:  # noqa: BLE001 - a broken codebook must not break the app
        return {}


@st.cache_data(show_spinner=False)
def pooled_groups(path: str, stamp_: tuple[int, ...], by: str,
                  filters: Filters) -> dict[str, dict[str, int]]:
    """The rows of theme_table(path, stamp_, by, filters) whose letters are of several
    frameworks."""
    return aggregate.pooled_groups(corpus_for(path), by=by, **filters.kwargs(themes=False))


@st.cache_data(show_spinner=False)
def letters_without_sections(path: str, stamp_: tuple[int, ...],
                             filters: Filters) -> dict[str, int]:
    """Letters matching `filters` with no passage in its sections, per framework: counted
    in the theme tables' `letters` with nothing behind them."""
    kwargs = filters.kwargs(themes=False)
    sections = kwargs.pop("sections")
    if not sections:
        return {}
    return aggregate.letters_without_sections(corpus_for(path), sections, **kwargs)


def _letter_filters_sql(filters: Filters, *, sections: bool = False
                        ) -> tuple[list[str], list[Any]]:
    """WHERE clauses and parameters for the filters' areas, regions, frameworks and
    outcomes (and with `sections`, the passages' sections); not their dates."""
    where: list[str] = []
    params: list[Any] = []
    for column, values in (("l.area", filters.areas), ("l.region", filters.regions),
                           ("l.framework", filters.frameworks), ("l.outcome", filters.outcomes),
                           ("p.section", filters.sections if sections else ())):
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params += list(values)
    return where, params


@st.cache_data(show_spinner=False)
def undated_letters(path: str, stamp_: tuple[int, ...], filters: Filters) -> int:
    """Letters matching `filters` but for its dates that have no date at all (inspection,
    publication or letter): a date filter leaves them out, as no date is between two."""
    if not (filters.date_from or filters.date_to):
        return 0
    where, params = _letter_filters_sql(filters)
    where.append(f"{LETTER_DATE_SQL} IS NULL")
    return int(_rows(path, f"SELECT count(*) AS n FROM letters l WHERE {' AND '.join(where)}",
                     params)[0]["n"])


@st.cache_data(show_spinner=False)
def close_pairs(path: str, stamp_: tuple[int, ...]) -> tuple[str, ...]:
    """Pairs of letters of one area and framework begun close together, in words
    (Corpus.close_pairs_text): perhaps one report held twice."""
    return tuple(corpus_for(path).close_pairs_text())


@st.cache_data(show_spinner=False)
def untagged_themes(path: str, stamp_: tuple[int, ...]) -> tuple[str, ...]:
    """Codebook themes no tagging model of the corpus knew (added since the last tag):
    the theme tables have no rows for them."""
    try:
        return tuple(aggregate.untagged_themes(corpus_for(path)))
    except Exception:  # noqa: BLE001 - a broken codebook must not break the app
        return ()


@st.cache_data(show_spinner=False)
def _codebook_themes(path: str, stamp_: tuple[int, ...]) -> tuple[Any, ...]:
    """The codebook's themes (none when it cannot be read)."""
    try:
        from textmine.codebook import load_codebook

        return tuple(load_codebook(corpus=Path(path)).themes)
    except Exception:  # noqa: BLE001 - model_problems says what is wrong with it
        return ()


def theme_short_names(path: str, stamp_: tuple[int, ...]) -> dict[str, str]:
    """Theme id -> the short name the codebook gives it (`short_name`), where it gives one."""
    return {t.id: t.short_name for t in _codebook_themes(path, stamp_) if t.short_name}


def theme_definitions(path: str, stamp_: tuple[int, ...]) -> dict[str, str]:
    return {t.id: t.definition for t in _codebook_themes(path, stamp_)}


# The reason model_problems adds when a stale model's hand-label files are gone.
LABELS_GONE = "the hand labels it learnt from"


def model_problems(path: str, stamp_: tuple[int, ...]) -> tuple[str, list[str]]:
    """("stale", reasons) when the model behind the tags no longer matches the codebook
    (or the libraries), ("codebook", [its error]) when the codebook cannot be read,
    ("", []) otherwise: said on every page, as `sendlens info` and `export` say it. The
    label files are looked at on every call: the stamp does not cover them, and putting
    one back must show at once."""
    kind, reasons = _model_problems(path, stamp_)
    if kind == "stale" and (model := status(path, stamp_).model) is not None:
        from textmine.tag import gone_label_files

        if gone := gone_label_files(model["meta"]):
            # A retrain (tag, the Retrain button) stops rather than lose them.
            reasons = [*reasons, f"{LABELS_GONE} ({', '.join(gone)}) are no longer there: "
                       "put the file back, or train without it (sendlens train), before "
                       "retraining"]
    return kind, reasons


@st.cache_data(show_spinner=False)
def _model_problems(path: str, stamp_: tuple[int, ...]) -> tuple[str, list[str]]:
    from textmine.codebook import CodebookError, load_codebook
    from textmine.model import staleness

    state = status(path, stamp_)
    try:
        codebook = load_codebook(corpus=Path(path))
    except CodebookError as exc:
        return "codebook", [str(exc)]
    if state.model is None:
        return "", []
    reasons = staleness(state.model["meta"], codebook,
                        (state.letters_with_passages, state.passages))
    return ("stale", reasons) if reasons else ("", [])


def problem_text(problems: tuple[str, list[str]], *, markdown: bool = False,
                 path: str | None = None) -> str:
    """The words of model_problems, for a download's About sheet (plain) or the page
    (`markdown`: the reasons, which hold paths and patterns, made inert; `path`, the
    corpus, says how to retrain when it is read-only here)."""
    kind, reasons = problems
    said = "; ".join(escape_markdown(r) if markdown else r for r in reasons)
    if kind == "codebook" and markdown and any("\n" in r for r in reasons):
        # YAML's own message points at the fault with a ^ under its line: kept as lines.
        block = "\n".join(reasons).replace("`", "'")
        return (f"The codebook cannot be read:\n\n```\n{block}\n```\n\nTheme names and "
                "definitions are missing, and no model can be trained until it is fixed.")
    if kind == "codebook":
        return (f"The codebook cannot be read: {said}. Theme names and definitions are "
                "missing, and no model can be trained until it is fixed.")
    if kind == "stale" and reasons[-1].startswith(LABELS_GONE):
        return (f"The model behind these tags is stale: {said}. Every table and chart "
                "shows its tags until then.")
    if kind == "stale":
        return (f"The model behind these tags is stale: {said}. Every table and chart "
                f"shows its tags; run {retag_words(path, markdown)} to retrain and re-tag.")
    return ""


def untagged_text(status_: Status, *, markdown: bool = False) -> str:
    """What the tables leave out while some letters are not tagged (imported since the
    last `sendlens tag`), as `sendlens export` says it; "" when none (or none at all is
    tagged: the pages then say to run it)."""
    untagged, letters = status_.untagged
    if not status_.is_tagged or not letters:
        return ""
    # As `sendlens export` says it: passages (a letter tagged in part is counted with its
    # tagged passages), of the whole corpus (a filtered table may hold none of them).
    from sendlens.export import counted

    return (f"{counted(untagged, 'passage')} of {counted(letters, 'letter')} in the corpus "
            f"not tagged yet {'are' if untagged != 1 else 'is'} left out of the theme tables, "
            "charts and "
            f"evidence; run {retag_words(status_.path, markdown)} to count them.")


def older_text(path: str, stamp_: tuple[int, ...], *, markdown: bool = False,
               on_page: bool = True) -> str:
    """What the tables count while passages carry an older model's tags (`train` or
    `classify` made a new model current since the last `tag`), as `sendlens export` says
    it; "" when none, or when the model is stale (that is said instead: `tag` mends both),
    or, `on_page`, while the app's own retrain is re-tagging them (the sidebar says so; a
    file downloaded meanwhile holds the old tags, and says so)."""
    state = status(path, stamp_)
    if not state.older_tags or model_problems(path, stamp_)[0]:
        return ""
    if on_page and (job := retrain_job(path)) is not None and not job.done:
        return ""
    from sendlens.export import older_tags_note

    said = older_tags_note(state.older_tags, retired_themes(path, stamp_),
                           tag=retag_words(path, markdown))
    return _sentence(said)


def _sentence(said: str) -> str:
    """A clause as a sentence of its own: capitalised and stopped."""
    return said[:1].upper() + said[1:] + "."


def thin_text(path: str, stamp_: tuple[int, ...], *, markdown: bool = False) -> str:
    """The current model's themes it had (almost) nothing to learn from (tag.thin_themes:
    a pattern with a typo), said on every page: else a column of zeros reads as a
    finding."""
    from textmine.tag import thin_themes

    if not (model := status(path, stamp_).model):
        return ""
    stale = bool(model_problems(path, stamp_)[0])
    if not (said := "; ".join(thin_themes(model["meta"], stale=stale))):
        return ""
    return escape_markdown(_sentence(said)) if markdown else _sentence(said)


@st.cache_data(show_spinner=False)
def retired_themes(path: str, stamp_: tuple[int, ...]) -> tuple[str, ...]:
    """Themes the tags name that the codebook no longer has (aggregate.retired_themes)."""
    try:
        return tuple(aggregate.retired_themes(corpus_for(path)))
    except Exception:  # noqa: BLE001 - a broken codebook must not break the app
        return ()


def retag_words(path: str | None, markdown: bool = True) -> str:
    """Who re-tags the corpus, for a sentence: `sendlens tag`, and on the page (`markdown`)
    the app's own Retrain too; but neither in a corpus read-only here (`path`), where the
    page said to do what that user cannot: a copy of it can be."""
    if not markdown:
        return "sendlens tag"
    if path and read_only_text(path, ""):
        return ("`sendlens tag` or Retrain in the app opened on a copy of the corpus that "
                "you can write (this one is read-only here)")
    return "`sendlens tag` (or Retrain on the Label page)"


@st.cache_data(show_spinner=False)
def unreadable_tags(path: str, stamp_: tuple[int, ...]) -> tuple[str, ...]:
    """Passages whose stored themes are no list of theme ids (aggregate.unreadable_tags)."""
    return tuple(aggregate.unreadable_tags(corpus_for(path)))


def unreadable_text(path: str, stamp_: tuple[int, ...], *, markdown: bool = False) -> str:
    """What the pages and downloads leave out while some tags cannot be read, as
    `sendlens export` says it; "" when none."""
    if not (damaged := unreadable_tags(path, stamp_)):
        return ""
    from sendlens.export import unreadable_tags_note

    named = [escape_markdown(p) for p in damaged] if markdown else list(damaged)
    return _sentence(unreadable_tags_note(named, tag=retag_words(path, markdown)))


@st.cache_data(show_spinner=False)
def overview(path: str, stamp_: tuple[int, ...]) -> dict[str, pd.DataFrame]:
    """Letters by framework and year, by outcome, and the most recently imported letters."""
    frame = letters(path, stamp_)
    frame = frame.assign(
        framework_name=frame["framework"].map(framework_name),
        outcome_name=frame["outcome"].map(outcome_name),
        year=frame["year"].fillna("undated"),
    )
    by_year = (frame.groupby(["year", "framework_name"]).size()
               .reset_index(name="letters"))
    by_outcome = (frame.groupby(["framework_name", "outcome_name"]).size()
                  .reset_index(name="letters"))
    # Letters imported in one run share a time: then the latest inspections, by area.
    recent = (frame.sort_values(["imported_at", "inspection_start", "area"],
                                ascending=[False, False, True], kind="stable",
                                na_position="last")
              .head(10)[["area", "framework_name", "inspection_start", "outcome_name",
                         "imported_at"]])
    return {"by_year": by_year, "by_outcome": by_outcome, "recent": recent}


# --- filters and the area x theme table -----------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the researcher narrowed the corpus to; empty tuples mean 'all'."""

    areas: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    def kwargs(self, *, themes: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {k: (list(v) if isinstance(v, tuple) else v) or None
                               for k, v in asdict(self).items()}
        if not themes:
            out.pop("themes")
        return out


# The theme tables' row for letters with no value of the grouping (no region known).
UNKNOWN_GROUP = aggregate.UNKNOWN
NotTagged = aggregate.NotTagged
pooled_reason = aggregate.pooled_reason


@st.cache_data(show_spinner=False)
def theme_table(path: str, stamp_: tuple[int, ...], by: str, filters: Filters) -> pd.DataFrame:
    """Groups (areas, regions...) x themes with passage counts and stance measures."""
    return aggregate.theme_table(corpus_for(path), by=by, **filters.kwargs())


@st.cache_data(show_spinner=False)
def evidence(path: str, stamp_: tuple[int, ...], theme: str, stance: str | None,
             filters: Filters, group_by: str | None = None, group: str | None = None,
             search: str = "") -> pd.DataFrame:
    """The passages behind a number: one theme (and stance), optionally one heatmap row."""
    cell = (group_by, group) if group_by and group is not None else None
    # Searched as `export evidence --words` searches; typed characters that make no word
    # ("***") match nothing.
    words = search if fts_query(search) else None
    frame = aggregate.evidence(corpus_for(path), theme=theme, stance=stance or None,
                                  group=cell, words=words, **filters.kwargs(themes=False))
    if search.strip() and words is None:
        frame = frame.iloc[0:0]
    return frame.reset_index(drop=True)


def _search_where(query: str, filters: Filters,
                  stance: str | None) -> tuple[list[str], list[Any]] | None:
    """The WHERE clauses and parameters of a full-text search; None for an empty query."""
    match = fts_query(query)
    if not match:
        return None
    phrases, phrase_params = exact_phrase_sql(query)  # quoted: as typed, not only stems
    where, params = _letter_filters_sql(filters, sections=True)
    where[:0], params[:0] = ["passages_fts MATCH ?", *phrases], [match, *phrase_params]
    # Dated as the theme tables date a letter (its inspection, else its publication).
    if filters.date_from:
        where.append(f"{LETTER_DATE_SQL} >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        where.append(f"{LETTER_DATE_SQL} <= ?")
        params.append(filters.date_to)
    if stance:
        where.append("t.stance = ?")
        params.append(stance)
    if filters.themes:
        where.append(f"EXISTS (SELECT 1 FROM json_each({aggregate.THEMES_SQL}) j WHERE j.value IN "
                     f"({','.join('?' * len(filters.themes))}))")
        params += list(filters.themes)
    return where, params


_SEARCH_FROM = """FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
            JOIN letters l USING (letter_id) LEFT JOIN tags t USING (passage_id)"""


@st.cache_data(show_spinner=False, max_entries=50)
def search_passages(path: str, stamp_: tuple[int, ...], query: str, filters: Filters,
                    stance: str | None = None, limit: int = 2000) -> pd.DataFrame:
    """Full-text search over all passages (tagged or not), best matches first, at most
    `limit` of them (search_counts counts them all)."""
    found = _search_where(query, filters, stance)
    if found is None:
        return pd.DataFrame(columns=SEARCH_COLUMNS)
    where, params = found
    frame = _frame(
        path,
        f"""SELECT l.area, l.region, l.framework, l.outcome, l.inspection_start,
                   l.inspection_end, l.published, p.section, p.heading, p.passage_id,
                   t.stance, t.themes, p.text, p.letter_id, bm25(passages_fts) AS rank
            {_SEARCH_FROM}
            WHERE {' AND '.join(where)} ORDER BY rank LIMIT {int(limit)}""",
        params,
    )
    if frame.empty:
        return pd.DataFrame(columns=SEARCH_COLUMNS)
    frame["themes"] = frame["themes"].map(lambda s: ", ".join(_json(s, [])))
    # A missing date is NaN in the frame, which is true: citation() must read it as None.
    frame["citation"] = [aggregate.citation(r) for r in
                         frame.astype(object).where(frame.notna(), None).to_dict("records")]
    return frame[SEARCH_COLUMNS]


@st.cache_data(show_spinner=False, max_entries=50)
def search_counts(path: str, stamp_: tuple[int, ...], query: str, filters: Filters,
                  stance: str | None = None) -> dict[str, int]:
    """Every match of a full-text search counted, not only the passages shown:
    {"passages", "letters", and one count per stance ("untagged" for the rest)}."""
    found = _search_where(query, filters, stance)
    out = {"passages": 0, "letters": 0, **dict.fromkeys(STANCES, 0), "untagged": 0}
    if found is None:
        return out
    where, params = found
    # One pass over the matches: per-stance counts and distinct letters together.
    per_stance = ", ".join(f"sum(t.stance IS '{s}') AS {s}" for s in STANCES)
    frame = _frame(
        path,
        f"""SELECT count(*) AS passages, count(DISTINCT p.letter_id) AS letters,
                   {per_stance}, sum(t.stance IS NULL) AS untagged
            {_SEARCH_FROM} WHERE {' AND '.join(where)}""",
        params,
    )
    if len(frame):
        out.update({k: 0 if pd.isna(v) else int(v) for k, v in frame.iloc[0].items()})
    return out


# The columns of `sendlens export evidence` but theme_score (a search spans every theme).
SEARCH_COLUMNS = ["citation", "area", "region", "framework", "outcome", "inspection_start",
                  "inspection_end", "published", "letter_id", "section", "heading",
                  "passage_id", "stance", "themes", "text"]


# --- one area, one letter -----------------------------------------------------------------


@st.cache_data(show_spinner=False)
def area_letters(path: str, stamp_: tuple[int, ...], area: str) -> pd.DataFrame:
    frame = letters(path, stamp_)
    return frame[frame["area"] == area].sort_values("inspection_start").reset_index(drop=True)


@st.cache_data(show_spinner=False)
def area_history(path: str, stamp_: tuple[int, ...], area: str) -> pd.DataFrame:
    return aggregate.area_history(corpus_for(path), area)


@st.cache_data(show_spinner=False)
def compare_letters(path: str, stamp_: tuple[int, ...], a: str, b: str) -> pd.DataFrame:
    return aggregate.compare_letters(corpus_for(path), a, b)


@dataclass(frozen=True)
class LetterView:
    letter: dict[str, Any]
    text: str
    sections: pd.DataFrame
    passages: pd.DataFrame = field(repr=False)


@st.cache_data(show_spinner=False)
def letter_view(path: str, stamp_: tuple[int, ...], letter_id: str) -> LetterView:
    """The clean text of a letter with its sections and tagged passages (offsets into text)."""
    rows = _rows(path, "SELECT * FROM letters WHERE letter_id = ?", (letter_id,))
    if not rows:
        raise AppDataError(f"no letter {letter_id!r} in this corpus")
    letter = rows[0]
    text = letter.pop("clean_text")
    sections = _frame(
        path,
        "SELECT seq, canonical, heading, char_start, char_end FROM sections"
        " WHERE letter_id = ? ORDER BY seq",
        (letter_id,),
        columns=["seq", "canonical", "heading", "char_start", "char_end"],
    )
    passages = _frame(
        path,
        """SELECT p.passage_id, p.seq, p.section, p.heading, p.char_start, p.char_end, p.text,
                  t.themes, t.stance, t.model_version
           FROM passages p LEFT JOIN tags t USING (passage_id)
           WHERE p.letter_id = ? ORDER BY p.seq""",
        (letter_id,),
        columns=["passage_id", "seq", "section", "heading", "char_start", "char_end", "text",
                 "themes", "stance", "model_version"],
    )
    passages["themes"] = passages["themes"].map(lambda s: _json(s, []))
    return LetterView(letter=letter, text=text, sections=sections, passages=passages)


def _highlighted(view: LetterView, themes: Iterable[str], stances: Iterable[str]) -> list[Any]:
    """The passages highlight_html highlights, in text order."""
    want_themes, want_stances = set(themes), set(stances)
    spans = [
        p for p in view.passages.itertuples()
        if p.themes  # a passage on no theme is left plain, or the page is all highlight
        and (not want_themes or want_themes & set(p.themes))
        and (not want_stances or p.stance in want_stances)
    ]
    spans.sort(key=lambda p: int(p.char_start))
    return spans


def first_highlighted(view: LetterView, themes: Iterable[str] = (),
                      stances: Iterable[str] = ()) -> str | None:
    """The passage id of the first passage highlight_html highlights, if any."""
    spans = _highlighted(view, themes, stances)
    return str(spans[0].passage_id) if spans else None


def highlight_html(view: LetterView, names: dict[str, str], *, focus: str | None = None,
                   themes: Iterable[str] = (), stances: Iterable[str] = ()) -> str:
    """The letter as HTML: every character of letter text escaped, tagged passages in <mark>.

    Only passages with a theme in `themes` (all tagged ones when empty) and a stance in
    `stances` (all when empty) are highlighted; `focus` gets an outline and an anchor.
    """
    text = view.text
    sections = sorted(view.sections.itertuples(), key=lambda s: int(s.char_start))
    spans = _highlighted(view, themes, stances)
    parts: list[str] = []
    pos, next_section = 0, 0

    def plain(upto: int) -> None:
        # Text up to `upto`, with a heading marker wherever a section starts.
        nonlocal pos, next_section
        while next_section < len(sections) and int(sections[next_section].char_start) <= upto:
            section = sections[next_section]
            at = max(pos, int(section.char_start))
            parts.append(html.escape(text[pos:at]))
            parts.append(_section_marker(section))
            # The letter's own heading, in bold, so the letter can be scanned by them.
            heading = str(section.heading or "").strip()
            if heading and text.startswith(heading, at) and at + len(heading) <= upto:
                parts.append(f"<strong>{html.escape(heading)}</strong>")
                at += len(heading)
            pos, next_section = at, next_section + 1
        parts.append(html.escape(text[pos:upto]))
        pos = upto

    for p in spans:
        start, end = int(p.char_start), int(p.char_end)
        if start < pos or end > len(text) or end <= start:
            continue  # overlapping or out-of-range offsets: leave that text unhighlighted
        plain(start)
        colour = STANCE_COLOURS.get(p.stance or "", "#8c8c8c")
        label = ", ".join(names.get(t, t) for t in p.themes) or "no theme"
        title = html.escape(f"{label} | {p.stance or 'no stance'} | {p.passage_id}", quote=True)
        outline = " outline: 3px solid #222;" if p.passage_id == focus else ""
        anchor = html.escape(p.passage_id, quote=True)
        # The linked passage takes the keyboard focus (scroll_to): it must be focusable.
        focusable = ' tabindex="-1"' if p.passage_id == focus else ""
        parts.append(
            f'<mark id="p-{anchor}"{focusable} title="{title}" style="background: {colour}22;'
            f' color: inherit; border-bottom: 2px solid {colour}; padding: 0 1px;{outline}">'
            f"{html.escape(text[start:end])}"
            f'<sup style="color: {stance_text_colour(p.stance)}; '
            f'font-size: 0.7em;"> [{html.escape(label)}'
            f" · {html.escape(p.stance or '?')}]</sup></mark>"
        )
        pos = end
    plain(len(text))
    body = "".join(parts).replace("\n", "<br>")
    return f'<div style="line-height: 1.6; max-width: 60rem;">{body}</div>'


# ":" too: the renderer makes a link of a bare "https://..." (a letter's text could point
# anywhere), however its dots are escaped.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")
# Nor may "www.x" or "name@x" become links, which no escape prevents: an invisible word
# joiner (U+2060) splits them.
_BARE_LINK = re.compile(r"(?i)(?<=www)(?=\\\.)|(?=@)")


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown (and HTML angle brackets) so text shows as typed, and
    never as a link."""
    return _BARE_LINK.sub("\u2060", _MD_SPECIAL.sub(r"\\\1", text))


def _section_marker(section: Any) -> str:
    # The heading itself is part of the letter text; the marker only names the canonical
    # section the parser assigned, so a reader sees how the letter was cut up.
    name = html.escape(section_words(str(section.canonical)))
    # A heading (as small as the marker it was), so that a screen reader can jump from
    # section to section of a long letter.
    return (f'<h2 style="margin: 1.2em 0 0.2em; padding: 0; border-top: 1px solid #ccc; '
            f'font-size: 0.75em; font-weight: normal; color: #666; letter-spacing: 0.05em;">'
            f"Section: {name}</h2>")


# --- labels and retraining -----------------------------------------------------------------


@st.cache_data(show_spinner=False)
def passage(path: str, stamp_: tuple[int, ...], passage_id: str) -> dict[str, Any] | None:
    rows = _rows(
        path,
        """SELECT p.passage_id, p.letter_id, p.section, p.heading, p.text, l.area, l.framework,
                  l.inspection_start, t.themes, t.stance, t.model_version,
                  (SELECT q.text FROM passages q WHERE q.letter_id = p.letter_id
                   AND q.seq = p.seq - 1) AS prev_text,
                  (SELECT q.text FROM passages q WHERE q.letter_id = p.letter_id
                   AND q.seq = p.seq + 1) AS next_text
           FROM passages p JOIN letters l USING (letter_id)
           LEFT JOIN tags t USING (passage_id) WHERE p.passage_id = ?""",
        (passage_id,),
    )
    if not rows:
        return None
    row = rows[0]
    row["themes"] = _json(row["themes"], [])
    return row


@st.cache_data(show_spinner=False)
def tags_not_of(path: str, stamp_: tuple[int, ...], version: str) -> int:
    """Passages whose tags come from a model other than `version`."""
    con = _connect(path)
    try:
        return tags_of_other_models(con, version)
    finally:
        con.close()


@st.cache_data(show_spinner=False)
def labels(path: str, stamp_: tuple[int, ...]) -> pd.DataFrame:
    cols = ["id", "passage_id", "letter", "themes", "stance", "source", "created_at", "text",
            "themes_offered"]
    con = _connect(path)
    try:
        offered = offered_column(con)  # NULL in a corpus not yet upgraded to schema 3
        rows = con.execute(f"SELECT {', '.join(cols[:-1])}, {offered} FROM labels "
                           "ORDER BY id DESC").fetchall()
    finally:
        con.close()
    frame = pd.DataFrame([dict(r) for r in rows], columns=cols)
    frame["themes"] = frame["themes"].map(lambda s: ", ".join(_json(s, [])))
    # A list, or None for a correction saved before sendlens recorded what it offered.
    frame["themes_offered"] = frame["themes_offered"].map(
        lambda s: _json(s, None) if isinstance(s, str) else None)
    return frame


def read_only_text(path: str, what: str) -> str | None:
    """Why `what` ("corrections cannot be saved in it") cannot be done in this corpus,
    when it is read-only here; None when it can be written."""
    corpus = Corpus(Path(path))  # a permission check, no read (corpus_for marks the reads)
    if not corpus.readonly:
        return None
    return (f"the corpus at {corpus.root} is read-only here (no permission to write in its "
            f"folder), so {what}")


def _writable(path: str, done: str) -> Corpus:
    """The corpus, opened for a write (and upgraded first if need be: the app may be run
    without `sendlens app`), or AppDataError saying why corrections cannot be `done`."""
    corpus = corpus_for(path)
    if said := read_only_text(path, f"corrections cannot be {done}"):
        raise AppDataError(said)
    try:
        return Corpus.open(corpus.root, create=False)
    except CorpusError as exc:
        raise AppDataError(str(exc)) from None


def save_label(path: str, passage_id: str, themes: list[str], stance: str,
               offered: Sequence[str] | None = None) -> int:
    """Store a researcher's correction of one passage.
    `offered`: the themes the form offered (default: those the app offers now)."""
    if stance not in STANCES:
        raise AppDataError(f"unknown stance {stance!r}")
    row = passage(path, stamp(path), passage_id)
    if row is None:
        raise AppDataError(f"no passage {passage_id!r} in this corpus")
    corpus = _writable(path, "saved in it")
    # The themes the form offered, which the correction judges: a theme added to the
    # codebook later is not one this passage was said to lack.
    shown = theme_names(path, stamp(path)) if offered is None else offered
    judged = json.dumps(sorted(set(shown) | set(themes)))
    with corpus.transaction() as con:
        cur = con.execute(
            "INSERT INTO labels(passage_id, letter, text, themes, stance, source, created_at,"
            " themes_offered) VALUES (?, ?, ?, ?, ?, 'app', ?, ?)",
            (passage_id, row["letter_id"], row["text"], json.dumps(sorted(themes)), stance,
             now_iso(), judged),
        )
        return int(cur.lastrowid or 0)


def delete_label(path: str, label_id: int) -> None:
    """Remove one saved correction (a mistaken one); the next retrain goes without it."""
    with _writable(path, "removed from it").transaction() as con:
        if con.execute("DELETE FROM labels WHERE id = ?", (int(label_id),)).rowcount != 1:
            raise AppDataError(f"no saved correction {label_id} in this corpus")


# textmine.tag.Progress: (fraction done 0..1, what is happening). Not imported from
# there, as importing the tagger loads scikit-learn, which no page view needs.
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Retrained:
    version: str
    passages: int
    seconds: float
    notes: tuple[str, ...] = ()  # e.g. label files the old model had that are gone
    changed: int = 0  # passages whose themes or stance differ from before
    # Passages corrected when it began training (None: not known, the page's count at the
    # click stands): one saved in another tab while it waited for the corpus is learnt.
    corrections: int | None = None
    first_tagged: int = 0  # passages that had no tags before (letters imported since)
    # Those passages (at most MAX_CHANGES), with their tags before and after.
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)


MAX_CHANGES = 2000  # a codebook edit can change thousands; the table shows the first


def _tag_snapshot(path: str) -> dict[str, tuple[str, str]]:
    return {r["passage_id"]: (r["themes"], r["stance"])
            for r in _rows(path, "SELECT passage_id, themes, stance FROM tags")}


RETRAIN_READ_ONLY = ("no model can be trained in it nor its passages tagged: copy the folder "
                     "somewhere you can write and open the app on the copy")


def retrain(path: str, progress: Progress | None = None) -> Retrained:
    """Train a new model with the codebook's weak labels and every saved correction, make
    it current and re-tag the corpus (textmine.tag.retrain); then drop every cached
    table, since they were all computed from the old tags.

    The second write the app makes, after `save_label`.
    """
    try:
        from textmine.tag import TaggingError
        from textmine.tag import retrain as retrain_corpus
    except ImportError as exc:
        raise AppDataError(f"the tagger (textmine.tag) is not available: {exc}") from exc
    if not corpus_for(path).db_path.is_file():
        raise AppDataError(f"{path}: no corpus database here")
    if said := read_only_text(path, RETRAIN_READ_ONLY):
        # Else the tagger's own refusal, in the command line's words, after the click.
        raise AppDataError(said)
    started = time.perf_counter()
    corpus = corpus_for(path)

    def waiting() -> None:
        if progress is not None:
            progress(0.0, "waiting for another sendlens run on this corpus to finish")

    try:
        # The tags before, read once another run holding the lock (a `sendlens tag`) has
        # finished: read at the click, its re-tag was counted as this retrain's changes.
        # The tagger takes the lock again (re-entrant in this thread).
        with corpus.model_lock(waiting):
            before = _tag_snapshot(path)
            # The corrections as the retrain reads them, at its start: one saved meanwhile
            # (in another tab) is not in this model, and is not "yours" in its changes.
            saved = _rows(path, "SELECT passage_id, text FROM labels")
            mine = {r["passage_id"] for r in saved}
            report = retrain_corpus(corpus, progress)
            # Themes are stored as JSON lists in codebook order: equal lists, equal text.
            after = _tag_snapshot(path)
    except (TaggingError, ValueError) as exc:  # e.g. no passages, a label on no theme
        raise AppDataError(f"retraining failed: {exc}") from exc
    except CorpusError as exc:  # e.g. made read-only since the check above
        raise AppDataError(str(exc)) from None
    finally:
        # Even a failed run may have registered a model; never show a half-stale view.
        st.cache_data.clear()
    # The whole run (training and tagging), as the researcher waited for it.
    seconds = time.perf_counter() - started
    ids = [pid for pid, tags in after.items() if before.get(pid, tags) != tags]
    # The corrected passages first (stable: letter order within each), so that the list,
    # cut at MAX_CHANGES, holds all of them and the Label page can count the others.
    ids.sort(key=lambda pid: pid not in mine)
    return Retrained(version=report.version, passages=report.passages, seconds=seconds,
                     notes=tuple(report.trained), changed=len(ids),
                     # As the Label page counts them: a passage corrected twice is one.
                     corrections=len({r["passage_id"] or r["text"] for r in saved}),
                     first_tagged=sum(pid not in before for pid in after),
                     changes=_changes(path, ids[:MAX_CHANGES], before, after, mine))


@dataclass
class RetrainJob:
    """A retrain running in a thread of its own, so that leaving the page (which stops the
    page's script) does not stop it halfway: a new model saved, the passages not re-tagged.
    Shared by every session of the server, so another tab sees it running too."""

    corrections: int  # passages corrected when it started, for the message at the end
    fraction: float = 0.0
    message: str = "starting"
    result: Retrained | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def progress(self, fraction: float, message: str) -> None:
        self.fraction, self.message = fraction, message


_JOBS: dict[str, RetrainJob] = {}
_JOBS_LOCK = threading.Lock()


def start_retrain(path: str, corrections: int) -> RetrainJob:
    """Start `retrain(path)` in the background, or return the one already running."""
    with _JOBS_LOCK:
        job = _JOBS.get(path)
        if job is not None and not job.done:
            return job
        job = _JOBS[path] = RetrainJob(corrections)

    def work() -> None:
        try:
            job.result = retrain(path, job.progress)
            if job.result.corrections is not None:
                job.corrections = job.result.corrections
        except AppDataError as exc:
            job.error = str(exc)
        except Exception as exc:  # reported on the page, not lost in a thread
            job.error = f"retraining failed: {type(exc).__name__}: {exc}"
        finally:
            job.finished.set()

    # Not a daemon: stopping the server lets a retrain finish rather than half-tag. Said
    # outright: a thread inherits daemon from the one starting it, and Streamlit runs the
    # page scripts in daemon threads, so the server's exit dropped the retrain.
    threading.Thread(target=work, name=f"sendlens-retrain {path}", daemon=False).start()
    print(f"sendlens: retraining {path} in the background (started in the app); stopping "
          "the server now waits for it to finish", file=sys.stderr, flush=True)
    return job


def running_retrains() -> list[RetrainJob]:
    """The retrains started in the app that have not finished yet (any corpus)."""
    with _JOBS_LOCK:
        return [job for job in _JOBS.values() if not job.done]


def retrain_job(path: str) -> RetrainJob | None:
    """The last retrain started on this corpus by this server: running or finished."""
    with _JOBS_LOCK:
        return _JOBS.get(path)


def _tags_text(tags: tuple[str, str]) -> str:
    themes = ", ".join(_json(tags[0], [])) or "no theme"
    return f"{tags[1]} · {themes}"


def _changes(path: str, ids: list[str], before: dict[str, tuple[str, str]],
             after: dict[str, tuple[str, str]], mine: set[str]) -> pd.DataFrame:
    """The passages a retrain changed, in letter order, with their tags before and after
    (stance · themes), so that a researcher can review what one correction moved;
    `corrected`: whether it was one of the corrections `mine` the retrain learnt from
    (as then: one removed since is still the reason its tags changed)."""
    columns = ["passage_id", "letter_id", "area", "section", "text", "before", "after",
               "corrected"]
    rows = []
    for chunk in range(0, len(ids), 500):  # SQLite's limit on bound parameters
        part = ids[chunk:chunk + 500]
        rows += _rows(path, "SELECT p.passage_id, p.letter_id, l.area, p.section, p.text"
                      " FROM passages p JOIN letters l USING (letter_id) WHERE p.passage_id IN"
                      f" ({','.join('?' * len(part))})", part)
    for r in rows:
        r["before"] = _tags_text(before[r["passage_id"]])
        r["after"] = _tags_text(after[r["passage_id"]])
        r["corrected"] = r["passage_id"] in mine
    # Letter order: by area, then by place in the letter (ids are <letter>-<seq>).
    return pd.DataFrame(rows, columns=columns).sort_values(["area", "passage_id"],
                                                           ignore_index=True)
