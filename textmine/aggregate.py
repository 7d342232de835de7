"""From tagged passages to area x theme tables, and back to the passages behind a number.

Every function reads the corpus with one or two SQL queries, with the filters pushed
into SQL, so that the tables stay quick on a corpus ten times the size of today's.

Counting rules (the same everywhere, so that a table and its evidence agree):

- a passage counts once for each theme in its `themes` list, under its one `stance`;
- `letters` in a group are the letters that pass the letter filters (framework,
  outcome, area, region, dates) and have at least one tagged passage in any
  section. The section filter narrows the passages counted, not this denominator:
  a letter without an `actions` section has simply not named the theme there;
- `share_negative` = negative / judged and `net_stance` = (positive - negative) / judged,
  where judged = positive + negative + mixed: the passages that judge the theme. Neutral
  ones (the background `context` section, descriptions) are counted in `passages` but
  would only pull both towards 0 by how much background a letter gives. Both are NaN
  (blank in exports) where no passage judges the theme;
- each share has a 95% interval (`_low`, `_high`) from resampling the group's letters
  whole, NaN where fewer than MIN_INTERVAL_LETTERS letters judge the theme or where they
  all agree (no width).
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from scraper.records import CANONICAL_SECTIONS, FRAMEWORK_LABELS, OUTCOMES
from sendlens.store import LETTER_DATE_SQL, Corpus, exact_phrase_sql, fts_query
from textmine.areas import REGIONS, load_local_authorities, lookup_area, normalise_area_name
from textmine.codebook import STANCES
from textmine.intervals import MIN_INTERVAL_LETTERS, letter_draws, pooled_share_intervals
from textmine.segment import ITEM_START_RE, list_lead_ins

__all__ = [
    "GROUPS",
    "NotTagged",
    "area_history",
    "citation",
    "compare_letters",
    "ehc_plans_actions_share",
    "evidence",
    "format_dates",
    "judged",
    "known_themes",
    "letter_theme_profile",
    "load_tagged",
    "theme_names",
    "pooled_groups",
    "theme_table",
    "untagged_themes",
    "unreadable_tags",
]

SECTIONS: tuple[str, ...] = CANONICAL_SECTIONS
# The published figure issue #4 checks against: EHC plans among the areas for
# improvement in 69% of 2023-framework full inspections (see ehc_plans_actions_share).
PUBLISHED_EHC_ACTIONS_SHARE = 0.69

GROUPS: dict[str, str] = {
    "area": "l.area",
    "region": "l.region",
    "framework": "l.framework",
    "year": f"CAST(substr({LETTER_DATE_SQL}, 1, 4) AS INTEGER)",
    "outcome": "l.outcome",
}
UNKNOWN = "unknown"
# The group of the letters with no value, in the app's words (its Overview): a letter
# that states no outcome (a 2016 letter, a revisit), one with no date; else "unknown"
# (a region sendlens does not know).
MISSING: dict[str, str] = {"outcome": "not stated", "year": "undated"}


def missing_group(by: str) -> str:
    """The name of the group of letters with no `by` ("not stated", "undated", "unknown")."""
    return MISSING.get(by, UNKNOWN)


# The tagger writes a passage's themes as a JSON list. A damaged or hand-edited database
# may hold other text: json_each stops the whole query on broken JSON and reads "null" or
# "[null]" as a theme None. Such a passage counts as untagged (unreadable_tags names it), and
# THEMES_SQL, read by json_each in a subquery, is [] for it (CASE, unlike AND, is
# evaluated in order). A join with json_each(t.themes) needs only READABLE_SQL: a term on
# t alone is tested in t's loop, before json_each reads the row (and the CASE inside
# json_each cost 80% more of a 70k-passage count than the plain join).
READABLE_SQL = ("(CASE WHEN NOT json_valid(t.themes) THEN 0"
                " WHEN json_type(t.themes) != 'array' THEN 0"  # null, a string, an object
                " ELSE NOT EXISTS (SELECT 1 FROM json_each(t.themes) e"  # [null], [1]
                " WHERE e.type != 'text') END)")
THEMES_SQL = f"(CASE WHEN {READABLE_SQL} THEN t.themes ELSE '[]' END)"
_TAGGED = (
    f"tags t JOIN passages p ON p.passage_id = t.passage_id AND {READABLE_SQL}"
    " JOIN letters l ON l.letter_id = p.letter_id"
)
_COUNT_COLUMNS = ["passages", *STANCES]
_INTERVAL_COLUMNS = ["share_negative_low", "share_negative_high", "net_stance_low",
                     "net_stance_high"]
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class NotTagged(Exception):
    """The corpus has no tags to aggregate yet."""


# --- themes ------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _codebook_themes(path: str, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    from textmine.codebook import load_codebook

    return tuple((t.id, t.name) for t in load_codebook(Path(path)).themes)


def _codebook(corpus: Corpus) -> tuple[tuple[str, str], ...]:
    """(id, name) of the codebook's themes in force for this corpus; () if unavailable.

    Cached on the file's modification time: parsing the YAML costs more than a query.
    """
    try:
        from textmine.codebook import codebook_path

        path = codebook_path(corpus.root)
        return _codebook_themes(str(path), path.stat().st_mtime_ns)
    except Exception:  # any trouble (missing module, bad YAML): fall back to the tags' themes
        return ()


def _present_themes(con: sqlite3.Connection) -> list[str]:
    rows = con.execute(
        f"SELECT DISTINCT j.value FROM tags t, json_each(t.themes) j WHERE {READABLE_SQL}"
        " ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def unreadable_tags(corpus: Corpus) -> list[str]:
    """Passages whose stored themes are no JSON list (a damaged or hand-edited database):
    left out of every table, chart and evidence list as if untagged."""
    with corpus.reading() as con:
        return [r[0] for r in con.execute(
            f"SELECT passage_id FROM tags t WHERE NOT {READABLE_SQL} ORDER BY passage_id")]


def _known_themes(con: sqlite3.Connection, corpus: Corpus) -> list[str]:
    ids = [tid for tid, _ in _codebook(corpus)]
    return ids + [t for t in _present_themes(con) if t not in ids]


def _untagged_themes(con: sqlite3.Connection, theme_ids: Sequence[str]) -> list[str]:
    """Those of `theme_ids` that no model whose tags the corpus holds knew: a theme added
    to the codebook since the last `tag`. Their counts would be zeros that were never
    measured. [] when a tagging model's record is missing (nothing to go by)."""
    known: set[str] = set()
    for (version,) in con.execute("SELECT DISTINCT model_version FROM tags").fetchall():
        row = con.execute("SELECT meta FROM models WHERE version = ?", (version,)).fetchone()
        try:
            known.update(json.loads(row[0])["themes"])
        except (TypeError, ValueError, KeyError):
            return []
    return [t for t in theme_ids if t not in known] if known else []


def untagged_themes(corpus: Corpus) -> list[str]:
    """Codebook themes the tags in the corpus cannot show, as no tagging model knew them
    (added since the last `sendlens tag`)."""
    with corpus.reading() as con:
        return _untagged_themes(con, _known_themes(con, corpus))


def retired_themes(corpus: Corpus) -> list[str]:
    """Themes the tags in the corpus name that the codebook no longer has (removed or
    renamed since the last `sendlens tag`): the tables still count them. [] when the
    codebook cannot be read (nothing to go by)."""
    with corpus.reading() as con:
        ids = {tid for tid, _ in _codebook(corpus)}
        return [t for t in _present_themes(con) if t not in ids] if ids else []


def known_themes(corpus: Corpus) -> list[str]:
    """Codebook theme ids in codebook order, then any other theme found in the tags."""
    with corpus.reading() as con:
        return _known_themes(con, corpus)


def theme_names(corpus: Corpus) -> dict[str, str]:
    """Theme id -> human name from the codebook (the id itself when it has none)."""
    names = dict(_codebook(corpus))
    return {tid: names.get(tid, tid) for tid in known_themes(corpus)}


def _check_theme(theme: str, known: Sequence[str]) -> None:
    if theme not in known:
        # "coproduction", "Co-Production", "post16": the id without its punctuation or case.
        bare = {_bare(k): k for k in known}
        typed = _bare(theme)
        starts = [k for b, k in bare.items() if typed and b.startswith(typed)]
        near = bare.get(typed) or (starts[0] if len(starts) == 1 else None) or next(
            iter(difflib.get_close_matches(theme, known, n=1, cutoff=0.7)), None)
        hint = f" (did you mean {near}?)" if near else ""
        raise ValueError(f"unknown theme {theme!r}{hint}: choose one of {', '.join(known)}")


# --- filters -------------------------------------------------------------------------------


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    # A lone string is one value, not a list of characters.
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _in(column: str, values: Sequence[Any]) -> str:
    return f"{column} IN ({', '.join('?' * len(values))})"


def _in_or_unknown(column: str, values: Sequence[str], missing: str = UNKNOWN) -> str:
    # theme_table labels a missing region "unknown", a missing outcome "not stated";
    # filtering on that label (as the app does when a heatmap row is clicked) must find
    # the same letters.
    known = [v for v in values if v != missing]
    parts = [_in(column, known)] if known else []
    if len(known) < len(values):
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts) + ")"


def _iso(value: str | date, name: str) -> str:
    if isinstance(value, datetime):
        # A datetime (a pandas Timestamp) is its day: "2023-02-06T00:00:00" sorts after
        # that day's letters, which date_from left out.
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO date YYYY-MM-DD, got {value!r}") from exc


def _validated(values: list[str] | None, allowed: Sequence[str], what: str) -> list[str] | None:
    if values is None:
        return None
    bad = [v for v in values if v not in allowed]
    if bad:
        # A code or name typed in part ("systemic", "Yorkshire"): the one it begins, else
        # the nearest, compared without case, spaces or punctuation.
        bare = {_bare(a): a for a in allowed}
        near = [bare[v] for b in bad for v in (
            [k for k in bare if _bare(b) and k.startswith(_bare(b))]
            or difflib.get_close_matches(_bare(b), list(bare), n=1))[:1]]
        hint = f" (did you mean {' / '.join(map(repr, near))}?)" if near else ""
        raise ValueError(f"unknown {what} {', '.join(map(repr, bad))}{hint}: choose "
                         f"{', '.join(allowed)}")
    return values


def checked_sections(sections: str | Iterable[str] | None) -> list[str] | None:
    """The canonical sections asked for, or ValueError naming any the letters lack."""
    return _validated(_as_list(sections), SECTIONS, "section")


def _resolve_areas(con: sqlite3.Connection, names: Sequence[str], *,
                   absent_ok: bool = False) -> list[str]:
    """Area names as stored, for names as a user types them ("bedford", "Bristol, City of").

    With `absent_ok`, an English local authority the corpus has no letter for is kept (as
    the area table names it: it matches nothing), so that a filter on it gives an empty
    table as other filters do, not an error; a name no table knows is still an error."""
    stored = con.execute("SELECT DISTINCT area, la_code FROM letters").fetchall()
    out: list[str] = []
    for name in names:
        norm = normalise_area_name(name)
        la = lookup_area(name)
        # An area's own name means that area alone: "Dorset" is not also the former
        # Dorset County Council, though the two names share a matching key. Then the
        # authority the name resolves to (by code: "Hull"); a name the table does not
        # know, by any spelling of it.
        hits = [area for area, _ in stored if area.casefold() == name.strip().casefold()]
        if not hits and la is not None:
            hits = [area for area, code in stored if code == la.la_code]
        if not hits:
            # Any stored spelling of the name, among letters of no known authority (a name
            # the table did not know when they were imported): not another council's.
            hits = [area for area, code in stored
                    if normalise_area_name(area) == norm and (la is None or not code)]
        if not hits and absent_ok and la is not None:
            hits = [la.name]
        if not hits:
            # A filter may name any authority, so suggest from them all ("Kentt": Kent).
            pool = {a for a, _ in stored} | (
                {la.name for la in load_local_authorities()} if absent_ok else set())
            close = difflib.get_close_matches(name, sorted(pool), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(
                f"no area {name!r} in the corpus or the table of English local authorities"
                f"{hint}" if absent_ok else f"no letters for area {name!r} in the corpus{hint}")
        out += [h for h in hits if h not in out]
    return out


def resolved_names(corpus: Corpus, *, areas: Sequence[str] = (),
                   regions: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The areas and regions a filter counts, as the tables name them ("hull" is
    Kingston upon Hull, "london" London): for a table's note, which should name what it
    counted, not what was typed. Raises ValueError as the filter does."""
    with corpus.reading() as con:
        named_areas = _resolve_areas(con, areas, absent_ok=True) if areas else []
    return named_areas, [canonical_region(r) for r in regions]


def _bare(name: str) -> str:
    """A name without case, spaces or punctuation: "North-East", "northeast"."""
    return re.sub(r"[\W_]", "", name).casefold()


def canonical_region(name: str) -> str:
    """A region as the tables name it, however typed ("north-east", "Northeast ",
    "yorkshire and the humber"); the name itself when it is none."""
    return {_bare(r): r for r in (*REGIONS, UNKNOWN)}.get(_bare(name), name)


@dataclass
class _Where:
    """SQL conditions on letters (alias l) and on passages (alias p), with parameters."""

    letters: list[str] = field(default_factory=list)
    letter_params: list[Any] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)
    passage_params: list[Any] = field(default_factory=list)

    @property
    def sql(self) -> str:
        return _sql_and(self.letters + self.passages)

    @property
    def params(self) -> list[Any]:
        return self.letter_params + self.passage_params


def _where(
    con: sqlite3.Connection,
    *,
    sections: str | Iterable[str] | None = None,
    frameworks: str | Iterable[str] | None = None,
    outcomes: str | Iterable[str] | None = None,
    areas: str | Iterable[str] | None = None,
    regions: str | Iterable[str] | None = None,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
) -> _Where:
    """The filters as SQL; validates them (unknown section, framework... -> ValueError)."""
    where = _Where()
    letter_sql, params = where.letters, where.letter_params
    if (fw := _validated(_as_list(frameworks), list(FRAMEWORK_LABELS), "framework")) is not None:
        letter_sql.append(_in("l.framework", fw))
        params += fw
    if (oc := _as_list(outcomes)) is not None:
        # "unknown", the group's name before it was "not stated", in a link or a script.
        oc = [MISSING["outcome"] if v == UNKNOWN else v for v in oc]
        _validated(oc, [*OUTCOMES, MISSING["outcome"]], "outcome")
        letter_sql.append(_in_or_unknown("l.outcome", oc, MISSING["outcome"]))
        params += [v for v in oc if v != MISSING["outcome"]]
    if (ar := _as_list(areas)) is not None:
        resolved = _resolve_areas(con, ar, absent_ok=True)
        letter_sql.append(_in("l.area", resolved))
        params += resolved
    if (rg := _as_list(regions)) is not None:
        rg = [canonical_region(r) for r in rg]
        _validated(rg, [*REGIONS, UNKNOWN], "region")
        letter_sql.append(_in_or_unknown("l.region", rg))
        params += [v for v in rg if v != UNKNOWN]
    if date_from is not None:
        letter_sql.append(f"{LETTER_DATE_SQL} >= ?")
        params.append(_iso(date_from, "date_from"))
    if date_to is not None:
        letter_sql.append(f"{LETTER_DATE_SQL} <= ?")
        params.append(_iso(date_to, "date_to"))
    if (sc := checked_sections(sections)) is not None:
        where.passages.append(_in("p.section", sc))
        where.passage_params += sc
    return where


def _sql_and(conditions: Sequence[str]) -> str:
    return " AND ".join(conditions) if conditions else "1"


def _require_tags(con: sqlite3.Connection) -> None:
    if con.execute("SELECT 1 FROM tags LIMIT 1").fetchone() is None:
        if con.execute("SELECT 1 FROM passages LIMIT 1").fetchone() is None:
            # `tag` would only say the same: the letters come first.
            raise NotTagged("the corpus has no passages yet: import letters first "
                            "(`sendlens import` or `sendlens scrape`), then `sendlens tag`")
        raise NotTagged("no passages are tagged yet: run `sendlens tag`")


# --- one row per tagged passage ----------------------------------------------------------

TAGGED_COLUMNS = [
    "passage_id", "letter_id", "area", "region", "la_code", "framework", "outcome", "year",
    "inspection_start", "section", "heading", "text", "stance", "themes",
]
_PASSAGE_FIELDS = ["passage_id", "section", "heading", "text", "stance"]
_LETTER_META = ["area", "region", "la_code", "framework", "outcome", "year", "inspection_start"]


def _json_lists(values: Sequence[str]) -> list[list[str]]:
    # Few distinct theme lists recur across 70k passages: parse each once, copy per row.
    parsed: dict[str, list[str]] = {}
    out = []
    for value in values:
        lst = parsed.get(value)
        if lst is None:
            lst = parsed[value] = json.loads(value)
        out.append(list(lst))
    return out


def load_tagged(
    corpus: Corpus,
    *,
    sections: str | Iterable[str] | None = None,
    frameworks: str | Iterable[str] | None = None,
    outcomes: str | Iterable[str] | None = None,
    areas: str | Iterable[str] | None = None,
    regions: str | Iterable[str] | None = None,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
) -> pd.DataFrame:
    """One row per tagged passage with its letter's metadata; `themes` is a list of ids.

    Rows are ordered by area, date and position in the letter. Dates filter on the
    inspection start (else publication date), both ends inclusive.
    """
    with corpus.reading() as con:
        _require_tags(con)
        where = _where(
            con, sections=sections, frameworks=frameworks, outcomes=outcomes, areas=areas,
            regions=regions, date_from=date_from, date_to=date_to,
        )
        con.row_factory = None  # plain tuples: much cheaper than sqlite3.Row at 70k rows
        letters = con.execute(
            f"""SELECT l.letter_id, {', '.join(f'l.{c}' for c in _LETTER_META[:5])},
                       {GROUPS['year']}, l.inspection_start
                FROM letters l WHERE {_sql_and(where.letters)}
                ORDER BY l.area, {LETTER_DATE_SQL}, l.letter_id""",
            where.letter_params,
        ).fetchall()
        # Letter metadata is fetched once per letter, not once per passage, and rows are
        # sorted below on integer keys rather than by SQLite on wide rows.
        rows = con.execute(
            f"""SELECT p.letter_id, p.seq, p.passage_id, p.section, p.heading, p.text,
                       t.stance, t.themes
                FROM {_TAGGED} WHERE {where.sql}""",
            where.params,
        ).fetchall()
    # Built column-wise through Arrow: pandas' own object-to-string inference costs
    # more than the query at 70k rows.
    raw = pd.DataFrame(rows, columns=["letter_id", "seq", *_PASSAGE_FIELDS, "themes"],
                       dtype=object)
    rank = pd.Series(range(len(letters)), index=[r[0] for r in letters], dtype="int64")
    letter_rank = raw["letter_id"].map(rank).to_numpy(dtype=np.int64)
    order = np.lexsort((raw["seq"].to_numpy(dtype=np.int64), letter_rank))
    take = pa.array(order, type=pa.int64())
    by_letter = pa.array(letter_rank[order], type=pa.int64())
    meta = list(zip(*letters, strict=True)) if letters else [()] * (len(_LETTER_META) + 1)
    columns: dict[str, pa.Array] = {
        name: pa.array(raw[name].to_numpy(), pa.string()).take(take)
        for name in ("letter_id", *_PASSAGE_FIELDS)
    }
    for name, values in zip(_LETTER_META, meta[1:], strict=True):
        kind = pa.int64() if name == "year" else pa.string()
        columns[name] = pa.array(values, kind).take(by_letter)
    frame = pa.table(columns).to_pandas()
    frame["year"] = frame["year"].astype("Int64")
    parsed = _json_lists(raw["themes"].to_numpy())
    frame["themes"] = pd.Series([parsed[i] for i in order], dtype=object)
    return frame[TAGGED_COLUMNS]


# --- counting ---------------------------------------------------------------------------------

# The tagger writes each passage's themes as a list of distinct ids, so a plain join with
# json_each counts each (passage, theme) once; a DISTINCT pass would cost 60% more.
_COUNTS_SQL = """
    SELECT COALESCE({key}, '{unknown}'), j.value, count(DISTINCT p.letter_id), count(*),
           sum(t.stance = 'positive'), sum(t.stance = 'negative'), sum(t.stance = 'mixed'),
           sum(t.stance = 'neutral')
    FROM {tagged}, json_each(t.themes) j
    WHERE {where}
    GROUP BY 1, 2
"""

# The same per letter: summed into the cells, and resampled for their intervals.
_LETTER_COUNTS_SQL = """
    SELECT COALESCE({key}, '{unknown}'), j.value, count(*),
           sum(t.stance = 'positive'), sum(t.stance = 'negative'), sum(t.stance = 'mixed'),
           sum(t.stance = 'neutral')
    FROM {tagged}, json_each(t.themes) j
    WHERE {where}
    GROUP BY 1, 2, p.letter_id ORDER BY 1, 2, p.letter_id
"""


def _cell_counts(con: sqlite3.Connection, key_sql: str, where: _Where,
                 missing: str = UNKNOWN) -> pd.DataFrame:
    """Per (group, theme): letters_mentioning, passages and a count per stance."""
    rows = con.execute(
        _COUNTS_SQL.format(key=key_sql, unknown=missing, tagged=_TAGGED,
                           where=where.sql),
        where.params,
    ).fetchall()
    frame = pd.DataFrame.from_records(
        [tuple(r) for r in rows],
        columns=["group", "theme", "letters_mentioning", *_COUNT_COLUMNS],
    )
    return frame.set_index(["group", "theme"])


def _cells_and_intervals(con: sqlite3.Connection, key_sql: str, where: _Where,
                         letters: dict[Any, int], missing: str = UNKNOWN
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`_cell_counts` and, per (group, theme), 95% intervals of share_negative and
    net_stance from resampling the group's letters (none where fewer than
    MIN_INTERVAL_LETTERS letters judge the theme), from one pass over the tags."""
    if max(letters.values(), default=0) < MIN_INTERVAL_LETTERS:
        # No group could have an interval (by area, as a rule): counts alone are quicker.
        return _cell_counts(con, key_sql, where, missing), _spreads([])
    rows = [tuple(r) for r in con.execute(
        _LETTER_COUNTS_SQL.format(key=key_sql, unknown=missing, tagged=_TAGGED,
                                  where=where.sql),
        where.params,
    )]
    per_letter = pd.DataFrame.from_records(rows, columns=["group", "theme", *_COUNT_COLUMNS])
    cells = per_letter.groupby(["group", "theme"], sort=False).agg(
        letters_mentioning=("passages", "size"), **{c: (c, "sum") for c in _COUNT_COLUMNS})
    judging: dict[tuple[Any, str], list[tuple[int, int, int]]] = {}
    for group, theme, _, pos, neg, mixed, _ in rows:
        if pos + neg + mixed:
            judging.setdefault((group, theme), []).append((pos, neg, pos + neg + mixed))
    # One set of resamples per group, as wide as its most widely judged theme needs: a
    # theme judged by fewer letters takes its first columns (see letter_draws).
    widest: dict[Any, int] = {}
    for (group, _), counts in judging.items():
        widest[group] = max(widest.get(group, 0), len(counts))
    records, draws = [], {}
    for (group, theme), counts in judging.items():
        if len(counts) < MIN_INTERVAL_LETTERS:
            continue
        n = letters.get(group, 0)
        if group not in draws:
            draws[group] = letter_draws(n, widest[group])
        pos, neg, judged = zip(*counts, strict=True)  # letters in letter id order
        spread = pooled_share_intervals(pos, neg, judged, n, draws=draws[group])
        if spread is not None:
            records.append((group, theme, *spread["share_negative"], *spread["net_stance"]))
    return cells, _spreads(records)


def _spreads(records: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(
        records, columns=["group", "theme", *_INTERVAL_COLUMNS]
    ).astype(dict.fromkeys(_INTERVAL_COLUMNS, "float64")).set_index(["group", "theme"])


def _group_letters(con: sqlite3.Connection, key_sql: str, where: _Where,
                   missing: str = UNKNOWN) -> pd.DataFrame:
    """Letters per group that pass the letter filters and have any tagged passage."""
    rows = con.execute(
        f"""SELECT COALESCE({key_sql}, '{missing}'), count(*)
            FROM letters l
            WHERE {_sql_and(where.letters)} AND EXISTS (
                SELECT 1 FROM passages p JOIN tags t ON t.passage_id = p.passage_id
                WHERE p.letter_id = l.letter_id)
            GROUP BY 1 ORDER BY 1""",
        where.letter_params,
    ).fetchall()
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=["group", "letters"])


def judged(frame: pd.DataFrame) -> pd.Series:
    """Passages that judge the theme (positive, negative or mixed): the shares' denominator
    (neutral passages judge nothing)."""
    return frame["positive"] + frame["negative"] + frame["mixed"]


def _add_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    base = judged(frame)
    base = base.where(base > 0)
    frame["share_negative"] = frame["negative"] / base
    frame["net_stance"] = (frame["positive"] - frame["negative"]) / base
    return frame


def _grid(counts: pd.DataFrame, groups: Sequence[Any], themes: Sequence[str]) -> pd.DataFrame:
    """Counts on the full group x theme grid: zero rows where a group never names a theme."""
    index = pd.MultiIndex.from_product([list(groups), list(themes)], names=["group", "theme"])
    return counts.reindex(index, fill_value=0).astype("int64").reset_index()


def _theme_list(con: sqlite3.Connection, corpus: Corpus, themes: Iterable[str] | None) -> list[str]:
    known = _known_themes(con, corpus)
    if themes is None:
        return known
    chosen = _as_list(themes) or []
    for t in chosen:
        _check_theme(t, known)
    return chosen


_GROUP_ORDER: dict[str, list[str]] = {
    "region": [*REGIONS, UNKNOWN],
    "outcome": [*OUTCOMES, MISSING["outcome"]],
    "framework": list(FRAMEWORK_LABELS),
}


def theme_table(
    corpus: Corpus,
    *,
    by: str = "area",
    sections: str | Iterable[str] | None = None,
    themes: str | Iterable[str] | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """Per group (area, region, framework, year or outcome) and theme: letters and passages.

    Columns: <by> (by area, then la_code: the DfE code), theme, letters,
    letters_mentioning, share_letters, passages, positive, negative, mixed, neutral,
    share_negative (and its interval, share_negative_low and _high), net_stance
    (net_stance_low, _high). Every group has a row for every
    theme (zeros where it never names one), so heatmaps get a full grid, except a theme
    no tagging model knew (added to the codebook since the last `tag`), listed in
    `table.attrs["themes_not_tagged"]` instead (`pooled_groups` names the rows whose
    letters are of several frameworks). `filters` are those of `load_tagged`
    (frameworks, outcomes, areas, regions, date_from, date_to).
    """
    if by not in GROUPS:
        raise ValueError(f"cannot group by {by!r}: choose one of {', '.join(GROUPS)}")
    with corpus.reading() as con:
        _require_tags(con)
        where = _where(con, sections=sections, **filters)
        theme_ids = _theme_list(con, corpus, themes)
        # No row for a theme the tags were never asked about: a column of zeros would read
        # as "no letter mentions it". The caller says so (attrs["themes_not_tagged"]).
        untagged = _untagged_themes(con, theme_ids)
        theme_ids = [t for t in theme_ids if t not in untagged]
        groups = _group_letters(con, GROUPS[by], where, missing_group(by))
        counts, spreads = _cells_and_intervals(
            con, GROUPS[by], where, dict(zip(groups["group"], groups["letters"], strict=True)),
            missing_group(by))
        # An area's DfE code, to join the table to other data by code, not by name.
        codes = dict(con.execute("SELECT area, max(la_code) FROM letters GROUP BY area")
                     .fetchall()) if by == "area" else {}
    if by in _GROUP_ORDER:
        # Regions north to south, outcomes from best to worst, frameworks by age: the
        # order a reader expects, not the alphabet's.
        rank = {v: i for i, v in enumerate(_GROUP_ORDER[by])}
        groups = groups.sort_values("group", key=lambda s: s.map(lambda v: rank.get(v, len(rank))),
                                    kind="stable", ignore_index=True)
    table = _grid(counts, groups["group"], theme_ids).merge(groups, on="group", how="left")
    table["share_letters"] = table["letters_mentioning"] / table["letters"].where(
        table["letters"] > 0
    )
    table = _add_ratios(table).join(spreads, on=["group", "theme"])
    table = table.rename(columns={"group": by})
    if by == "year":
        # Whole years as numbers; beside an "undated" group (a letter with no date) all as
        # text, as a Parquet or Excel column holds one type.
        years = table[by].map(lambda v: isinstance(v, int)).all()
        table[by] = table[by].astype("int64" if years else str)
    if table.empty:
        # The column types of a table with rows, so that Parquet files of several filtered
        # exports combine (an empty one had object columns).
        table = table.astype({by: "int64" if by == "year" else str, "theme": str,
                              "letters": "int64", "share_letters": "float64"})
    extra = []
    if by == "area":
        # "string": a missing code stays missing (str made it "None" or "nan" on pandas 2).
        table["la_code"] = table[by].map(codes).astype("string")
        extra = ["la_code"]
    table = table[[by, *extra, "theme", "letters", "letters_mentioning", "share_letters",
                   *_COUNT_COLUMNS, "share_negative", "share_negative_low",
                   "share_negative_high", "net_stance", "net_stance_low", "net_stance_high"]]
    table.attrs["themes_not_tagged"] = untagged
    return table


def _pooled(con: sqlite3.Connection, key_sql: str, where: _Where,
            missing: str = UNKNOWN) -> dict[str, dict[str, int]]:
    """The groups whose tagged letters are of more than one framework: group -> letters
    per framework (by framework, none)."""
    rows = con.execute(
        f"""SELECT CAST(COALESCE({key_sql}, '{missing}') AS TEXT), l.framework,
                   count(*)
            FROM letters l
            WHERE {_sql_and(where.letters)} AND EXISTS (
                SELECT 1 FROM passages p JOIN tags t ON t.passage_id = p.passage_id
                WHERE p.letter_id = l.letter_id)
            GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2""",
        where.letter_params,
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for group, framework, n in rows:
        out.setdefault(group, {})[framework] = n
    return {g: fws for g, fws in out.items() if len(fws) > 1}


def pooled_reason(pooled: dict[str, dict[str, int]]) -> str:
    """Why rows pooling these frameworks are not like for like, in words for a reader."""
    held = {fw for fws in pooled.values() for fw in fws}
    follow_ups = [("revisit", "the weaknesses it revisits") if fw == "revisit_2018" else
                  ("monitoring", "the priorities it monitors")
                  for fw in ("revisit_2018", "monitoring_2023") if fw in held]
    if len(follow_ups) == 2:
        return "revisit and monitoring letters discuss only what they follow up"
    if follow_ups:
        kind, what = follow_ups[0]
        return f"a {kind} letter discusses only {what}"
    return "each framework judges and words its letters its own way"


def pooled_groups(corpus: Corpus, *, by: str = "area",
                  sections: str | Iterable[str] | None = None,
                  **filters: Any) -> dict[str, dict[str, int]]:
    """The rows of `theme_table(by=..., sections=..., **filters)` whose letters are of more
    than one framework, with their letters per framework: a row pooling a 2016 inspection
    with its revisit (which discusses only the weaknesses it revisits) is not comparable
    with one 2023 report, and the export and the app say so."""
    if by not in GROUPS:
        raise ValueError(f"cannot group by {by!r}: choose one of {', '.join(GROUPS)}")
    with corpus.reading() as con:
        return _pooled(con, GROUPS[by], _where(con, sections=sections, **filters),
                       missing_group(by))


def letters_without_sections(corpus: Corpus, sections: str | Iterable[str],
                             **filters: Any) -> dict[str, int]:
    """Tagged letters matching `filters` that hold no passage in `sections`, per framework.
    They still count in a theme table's `letters` (a revisit's judgements are under
    main_findings, which --section strengths leaves out), so their rows read as "no
    letter mentions the theme": the export and the app say so."""
    with corpus.reading() as con:
        where = _where(con, sections=sections, **filters)
        rows = con.execute(
            f"""SELECT l.framework, count(*) FROM letters l
                WHERE {_sql_and(where.letters)}
                  AND EXISTS (SELECT 1 FROM passages p JOIN tags t ON t.passage_id = p.passage_id
                              WHERE p.letter_id = l.letter_id)
                  AND NOT EXISTS (SELECT 1 FROM passages p
                                  WHERE p.letter_id = l.letter_id AND {_sql_and(where.passages)})
                GROUP BY 1 ORDER BY 2 DESC, 1""",
            where.letter_params + where.passage_params,
        ).fetchall()
    return dict(rows)


# --- evidence -------------------------------------------------------------------------------


def _day(iso: str) -> tuple[int, str, int]:
    d = date.fromisoformat(iso)
    return d.day, _MONTHS[d.month - 1], d.year


def format_dates(start: str | None, end: str | None, published: str | None = None) -> str:
    """'6–10 Feb 2023', '30 Jan – 3 Feb 2023', or 'published 5 May 2023' without dates."""
    try:
        if start and end and end != start:
            (d1, m1, y1), (d2, m2, y2) = _day(start), _day(end)
            if y1 != y2:
                return f"{d1} {m1} {y1} – {d2} {m2} {y2}"
            if m1 != m2:
                return f"{d1} {m1} – {d2} {m2} {y2}"
            return f"{d1}–{d2} {m2} {y2}"
        if start:
            return "{} {} {}".format(*_day(start))
        if published:
            return "published {} {} {}".format(*_day(published))
    except ValueError:  # a malformed date in the store: show it rather than fail
        return start or published or "undated"
    return "undated"


def citation(row: dict[str, Any] | pd.Series) -> str:
    """'Cornwall, Area SEND inspection (2023 framework), 6–10 Feb 2023, under "What does
    the area partnership need to do better?", passage …'. The heading as the report prints
    it, which a reader can find there (sendlens's own section name, "weaknesses", is not
    in the report), else the section."""
    framework = FRAMEWORK_LABELS.get(row["framework"], row["framework"])
    when = format_dates(row["inspection_start"], row["inspection_end"], row["published"])
    heading = row.get("heading")
    where = f'under "{heading}"' if isinstance(heading, str) and heading else row["section"]
    return f"{row['area']}, {framework}, {when}, {where}, passage {row['passage_id']}"


def _theme_score(scores: str | None, theme: str) -> float:
    # The tagger owns the shape of `scores`; read a number for the theme if there is one.
    try:
        value = json.loads(scores or "{}").get(theme)
    except (ValueError, AttributeError):
        return math.nan
    return float(value) if isinstance(value, int | float) else math.nan


EVIDENCE_COLUMNS = [
    "citation", "area", "region", "framework", "outcome", "inspection_start",
    "inspection_end", "published", "letter_id", "section", "heading", "passage_id", "stance",
    "themes", "theme_score", "lead_in", "text",
]


def _lead_ins(con: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> dict[str, str]:
    """The lead-in of each list item among `rows` (segment.list_lead_ins), read from the
    letters that have a passage opening as an item does."""
    letters = sorted({r["letter_id"] for r in rows if ITEM_START_RE.match(r["text"])})
    out: dict[str, str] = {}
    for i in range(0, len(letters), 500):  # SQLite's limit on parameters
        part = letters[i:i + 500]
        passages = con.execute(
            f"SELECT letter_id, passage_id, paragraph, section, text FROM passages WHERE "
            f"letter_id IN ({', '.join('?' * len(part))}) ORDER BY letter_id, seq", part
        ).fetchall()
        for _, group in itertools.groupby(passages, key=lambda p: p["letter_id"]):
            out.update(list_lead_ins([tuple(p)[1:] for p in group]))
    return out


def evidence(
    corpus: Corpus,
    *,
    theme: str,
    stance: str | Iterable[str] | None = None,
    sections: str | Iterable[str] | None = None,
    group: tuple[str, str | int] | None = None,
    words: str | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """The passages behind a theme_table cell, each with a citation a reader can check.

    `words` keeps the passages whose text holds every word (or "quoted phrase") of it,
    as the app's full-text search reads them (stemmed: "breaks" finds "break"; a quoted
    word or phrase as typed, in any case: '"timely"' does not find "time").

    `group` = (by, value) keeps the passages of one theme_table row, grouped exactly as
    the table groups them (`("year", 2024)` places a letter as the table does;
    `("area", "Dorset")` is that row's name, not every name the filters resolve to).
    Ordered by area, date and position in the letter. `theme_score` is the tagger's
    probability for the theme where its scores give one (NaN otherwise). `lead_in` is,
    for an item of a list, the words that introduce the list ("" otherwise). `stance` is one
    stance or several (passages of any of them).
    """
    stances = [stance] if isinstance(stance, str) else list(stance or ())
    _validated(stances, STANCES, "stance")  # "negatve": did you mean 'negative'?
    with corpus.reading() as con:
        _require_tags(con)
        _check_theme(theme, _known_themes(con, corpus))
        if _untagged_themes(con, [theme]):
            raise NotTagged(f"theme {theme} is not tagged yet: no model that tagged this "
                            "corpus knew it (added to the codebook since); run `sendlens "
                            "tag` to retrain and tag")
        where = _where(con, sections=sections, **filters)
        conditions = [where.sql, f"EXISTS (SELECT 1 FROM json_each({THEMES_SQL}) WHERE value = ?)"]
        params = [*where.params, theme]
        if group is not None:
            by, value = group
            if by not in GROUPS:
                raise ValueError(f"unknown grouping {by!r}: choose one of {', '.join(GROUPS)}")
            conditions.append(f"COALESCE(CAST({GROUPS[by]} AS TEXT), '{missing_group(by)}') = ?")
            params.append(str(value))
        if stances:
            conditions.append(f"t.stance IN ({', '.join('?' * len(stances))})")
            params += stances
        if words is not None:
            if not (match := fts_query(words)):
                raise ValueError(f"no word to search for in {words!r}")
            conditions.append("p.rowid IN (SELECT rowid FROM passages_fts WHERE "
                              "passages_fts MATCH ?)")
            params.append(match)
            phrases, phrase_params = exact_phrase_sql(words)  # quoted: as typed, not stems
            conditions += phrases
            params += phrase_params
        rows = con.execute(
            f"""SELECT l.area, l.region, l.framework, l.outcome, l.inspection_start,
                       l.inspection_end, l.published, p.letter_id, p.section, p.heading,
                       p.passage_id, t.stance, t.themes, t.scores, p.text
                FROM {_TAGGED}
                WHERE {_sql_and(conditions)}
                ORDER BY l.area, {LETTER_DATE_SQL}, p.letter_id, p.seq""",
            params,
        ).fetchall()
        lead_ins = _lead_ins(con, rows)
    records = []
    for r in rows:
        rec = dict(r)
        rec["citation"] = citation(rec)
        rec["themes"] = ", ".join(json.loads(rec["themes"]))
        rec["theme_score"] = _theme_score(rec.pop("scores"), theme)
        rec["lead_in"] = lead_ins.get(rec["passage_id"], "")
        records.append(rec)
    frame = pd.DataFrame.from_records(records, columns=EVIDENCE_COLUMNS)
    if frame.empty:
        # The column types of a table with rows, so that Parquet files of several filtered
        # exports combine (an empty one's columns had no type). "string", not str: under
        # pandas 2, str leaves an empty column of type object, still written as nulls.
        frame = frame.astype({c: "float64" if c == "theme_score" else "string"
                              for c in EVIDENCE_COLUMNS})
    return frame


# --- one letter, one area ---------------------------------------------------------------------

PROFILE_COLUMNS = ["theme", *_COUNT_COLUMNS, "share_negative", "net_stance"]


def _letter_profiles(
    con: sqlite3.Connection, corpus: Corpus, letter_ids: Sequence[str]
) -> pd.DataFrame:
    """Theme x stance counts for each letter: letter_id, theme, passages, stances, ratios."""
    where = _Where([_in("l.letter_id", letter_ids)], list(letter_ids))
    counts = _cell_counts(con, "l.letter_id", where).drop(columns="letters_mentioning")
    ids = _theme_list(con, corpus, None)
    untagged = _untagged_themes(con, ids)  # as theme_table: no rows of unmeasured zeros
    table = _grid(counts, letter_ids, [t for t in ids if t not in untagged])
    return _add_ratios(table).rename(columns={"group": "letter_id"})


def _letter_row(con: sqlite3.Connection, letter_id: str) -> sqlite3.Row:
    row = con.execute(
        "SELECT l.*, EXISTS (SELECT 1 FROM passages p JOIN tags t ON t.passage_id ="
        " p.passage_id WHERE p.letter_id = l.letter_id) AS tagged FROM letters l"
        " WHERE l.letter_id = ?",
        (letter_id,),
    ).fetchone()
    if row is None:
        raise ValueError(f"no letter {letter_id!r} in the corpus")
    if not row["tagged"]:
        raise NotTagged(f"letter {letter_id} has no tagged passages yet: run `sendlens tag`")
    return row


def letter_theme_profile(corpus: Corpus, letter_id: str) -> pd.DataFrame:
    """One row per theme for one letter: passages, a count per stance, share_negative,
    net_stance (zeros for themes the letter never names; no row for a theme no tagging
    model knew, as in theme_table)."""
    with corpus.reading() as con:
        _require_tags(con)
        _letter_row(con, letter_id)
        table = _letter_profiles(con, corpus, [letter_id])
    return table[PROFILE_COLUMNS]


def _history_areas(con: sqlite3.Connection, area: str) -> list[str]:
    """The area as stored, plus any former authority it succeeded (Northamptonshire for
    North Northamptonshire), so an area's history spans a reorganisation."""
    names = _resolve_areas(con, [area])
    la = lookup_area(names[0])
    if la is not None:
        for former in load_local_authorities():
            if not former.is_current and la.name in former.successors:
                # By code, not name: the former Dorset shares its name with the current
                # Dorset, whose letters are not Bournemouth, Christchurch and Poole's.
                rows = con.execute("SELECT DISTINCT area FROM letters WHERE la_code = ?",
                                   (former.la_code,))
                names += [r[0] for r in rows if r[0] not in names]
    return names


HISTORY_LETTER_COLUMNS = [
    "area", "letter_id", "framework", "outcome", "year", "inspection_start",
    "inspection_end", "published", "letter_date",
]


def area_history(corpus: Corpus, area: str) -> pd.DataFrame:
    """Every letter of one area over time, one row per letter and theme, oldest first.

    Letters of a former authority the area replaced are included under their own
    `area` name. Untagged letters of the area appear with zero counts and
    `tagged` False, so a gap is visible rather than silent.
    """
    with corpus.reading() as con:
        _require_tags(con)
        names = _history_areas(con, area)
        rows = con.execute(
            f"""SELECT l.area, l.letter_id, l.framework, l.outcome, {GROUPS['year']} AS year,
                       l.inspection_start, l.inspection_end, l.published, l.letter_date,
                       EXISTS (SELECT 1 FROM passages p JOIN tags t
                               ON t.passage_id = p.passage_id
                               WHERE p.letter_id = l.letter_id) AS tagged
                FROM letters l WHERE {_in('l.area', names)}
                ORDER BY {LETTER_DATE_SQL}, l.letter_id""",
            names,
        ).fetchall()
        letters = pd.DataFrame([dict(r) for r in rows])
        profiles = _letter_profiles(con, corpus, list(letters["letter_id"]))
    letters["tagged"] = letters["tagged"].astype(bool)
    letters["year"] = letters["year"].astype("Int64")
    out = letters.merge(profiles, on="letter_id", how="left", sort=False)
    return out[[*HISTORY_LETTER_COLUMNS, "tagged", *PROFILE_COLUMNS]]


def compare_letters(corpus: Corpus, letter_a: str, letter_b: str) -> pd.DataFrame:
    """Per theme: counts and net stance in letter A and in letter B, and B minus A.

    Columns: theme, passages_a, positive_a, negative_a, net_stance_a, the same with _b,
    passages_change and net_stance_change (NaN where either letter never judges the theme).
    """
    with corpus.reading() as con:
        _require_tags(con)
        _letter_row(con, letter_a)
        _letter_row(con, letter_b)
        profiles = _letter_profiles(con, corpus, list(dict.fromkeys([letter_a, letter_b])))
    keep = ["theme", "passages", "positive", "negative", "mixed", "neutral", "net_stance"]
    a = profiles[profiles["letter_id"] == letter_a][keep]
    b = profiles[profiles["letter_id"] == letter_b][keep]
    out = a.merge(b, on="theme", suffixes=("_a", "_b"), sort=False)
    out["passages_change"] = out["passages_b"] - out["passages_a"]
    out["net_stance_change"] = out["net_stance_b"] - out["net_stance_a"]
    return out


# --- the sanity check -------------------------------------------------------------------


def ehc_plans_actions_share(corpus: Corpus) -> dict[str, Any]:
    """Share of tagged 2023-framework full inspections with a negative `ehc_plans` passage
    in their `actions` (areas for improvement) sections, beside Ofsted's published 69%."""
    with corpus.reading() as con:
        _require_tags(con)
        # One pass over the letters' passages, grouped per letter: correlated EXISTS
        # subqueries let SQLite pick the section index and took seconds at 70k passages.
        letters, with_actions, flagged = con.execute(
            f"""SELECT count(*), coalesce(sum(has_actions), 0), coalesce(sum(flagged), 0)
               FROM (SELECT max(p.section = 'actions') AS has_actions,
                            max(p.section = 'actions' AND t.stance = 'negative'
                                AND EXISTS (SELECT 1 FROM json_each({THEMES_SQL})
                                            WHERE value = 'ehc_plans')) AS flagged
                     FROM letters l
                     JOIN passages p ON p.letter_id = l.letter_id
                     LEFT JOIN tags t ON t.passage_id = p.passage_id
                     WHERE l.framework = 'area_send_2023'
                     GROUP BY l.letter_id
                     HAVING count(t.passage_id) > 0)"""
        ).fetchone()
    share = flagged / letters if letters else math.nan
    return {
        "framework": "area_send_2023",
        "letters": letters,
        "letters_with_actions": with_actions,
        "letters_flagged": flagged,
        "share": share,
        "published_share": PUBLISHED_EHC_ACTIONS_SHARE,
        "difference": share - PUBLISHED_EHC_ACTIONS_SHARE if letters else math.nan,
    }
