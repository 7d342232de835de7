"""Area x theme tables and evidence, on five real letters with tags set by hand.

The tagging model is not involved: `TAG_PLAN` says which passages carry which themes
and stance, every other passage of a tagged letter is tagged with no theme, and Bury
is left untagged. Every expected number below follows from the plan by hand.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sendlens.importer import import_paths
from sendlens.store import Corpus, now_iso
from textmine import aggregate
from textmine.aggregate import NotTagged

FILES = {
    "Cornwall": "80454_cornwall__05-may-2023.pdf",  # South West, inconsistent, Feb 2023
    "Dorset": "2532283_dorset__15-may-2024.pdf",  # South West, positive, Mar 2024
    "Brighton and Hove": "80438_brighton-and-hove__31-may-2023.pdf",  # South East, 2023
    "North Northamptonshire": "2637539_north-northamptonshire__25-march-2024.pdf",  # E Mids
    "Bury": "80443_bury__07-may-2024.pdf",  # North West: imported, never tagged
}

# area -> (section, n-th passage of that section, themes, stance)
TAG_PLAN: dict[str, list[tuple[str, int, list[str], str]]] = {
    "Cornwall": [
        ("weaknesses", 0, ["ehc_plans"], "negative"),
        ("weaknesses", 1, ["ehc_plans", "health_input"], "negative"),
        ("strengths", 0, ["ehc_plans"], "positive"),
        ("actions", 0, ["ehc_plans"], "negative"),
    ],
    "Dorset": [
        ("strengths", 0, ["co_production"], "positive"),
        ("strengths", 1, ["ehc_plans"], "positive"),
        ("actions", 0, ["health_input"], "mixed"),
    ],
    "Brighton and Hove": [
        ("actions", 0, ["ehc_plans"], "negative"),
        ("experience", 0, ["social_care"], "neutral"),
    ],
    "North Northamptonshire": [
        ("weaknesses", 0, ["ehc_plans", "co_production"], "negative"),
        ("actions", 0, ["co_production"], "negative"),
        ("actions", 1, ["ehc_plans"], "mixed"),
    ],
}


def insert_tags(corpus: Corpus, plan: dict[str, list[tuple[str, int, list[str], str]]]) -> None:
    """Tag every passage of the planned letters: planned ones as given, the rest themeless."""
    with corpus.transaction() as con:
        for area, entries in plan.items():
            rows = con.execute(
                "SELECT p.passage_id, p.section FROM passages p JOIN letters l USING (letter_id)"
                " WHERE l.area = ? ORDER BY p.seq",
                (area,),
            ).fetchall()
            assert rows, f"{area} was not imported"
            by_section: dict[str, list[str]] = {}
            for r in rows:
                by_section.setdefault(r["section"], []).append(r["passage_id"])
            planned = {}
            for section, nth, themes, stance in entries:
                ids = by_section.get(section, [])
                assert len(ids) > nth, f"{area} has only {len(ids)} {section} passages"
                planned[ids[nth]] = (themes, stance)
            for r in rows:
                themes, stance = planned.get(r["passage_id"], ([], "neutral"))
                scores = {t: 0.9 for t in themes}
                con.execute(
                    "INSERT INTO tags VALUES (?,?,?,?,?,?)",
                    (r["passage_id"], json.dumps(themes), stance, json.dumps(scores), "hand",
                     now_iso()),
                )


def build_tagged_corpus(dest: Path, letters_dir: Path) -> Corpus:
    corpus = Corpus.open(dest)
    report = import_paths(corpus, [letters_dir / f for f in FILES.values()], progress=False)
    assert not report.skipped, report.summary()
    insert_tags(corpus, TAG_PLAN)
    return corpus


def insert_letter(con: sqlite3.Connection, i: int, area: str, start: str) -> str:
    """An invented London letter of the 2023 framework, number `i`; its id."""
    lid = f"{i:012x}"
    con.execute(
        "INSERT INTO letters (letter_id, sha256, area, region, framework, outcome,"
        " inspection_start, clean_text, imported_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (lid, lid * 5, area, "London", "area_send_2023", "positive", start, "", "now"))
    return lid


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, letters_dir: Path) -> Corpus:
    return build_tagged_corpus(tmp_path_factory.mktemp("agg") / "corpus", letters_dir)


def edited_copy(corpus: Corpus, folder: Path, *statements: str) -> Corpus:
    """A copy of `corpus` in `folder`, changed by the SQL `statements` (one transaction)."""
    shutil.copytree(corpus.root, folder)
    copy = Corpus.open(folder)
    with copy.transaction() as con:
        for sql in statements:
            con.execute(sql)
    return copy


@pytest.fixture()
def untagged(corpus: Corpus, tmp_path: Path) -> Corpus:
    return edited_copy(corpus, tmp_path / "c", "DELETE FROM tags")


def test_a_table_is_read_from_one_state_of_the_corpus(
    untagged: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `tag` committing between the table's queries (its letters, then its cells) made a
    region of 4 letters with 5 mentioning a theme (share 1.25)."""
    from textmine import aggregate

    with untagged.transaction() as con:  # one letter tagged: the table has rows to read
        con.execute("INSERT INTO tags SELECT passage_id, '[\"inclusion\"]', 'negative', '{}',"
                    " 'm1', 'x' FROM passages WHERE letter_id = (SELECT min(letter_id) FROM"
                    " passages)")
    real = aggregate._group_letters

    def then_tag_the_rest(*args: Any) -> pd.DataFrame:
        groups = real(*args)
        with untagged.transaction() as con:  # another process's `sendlens tag`, meanwhile
            con.execute("INSERT INTO tags SELECT passage_id, '[\"inclusion\"]', 'negative',"
                        " '{}', 'm1', 'x' FROM passages WHERE passage_id NOT IN"
                        " (SELECT passage_id FROM tags)")
        return groups

    monkeypatch.setattr(aggregate, "_group_letters", then_tag_the_rest)
    table = aggregate.theme_table(untagged, by="framework", themes=["inclusion"])
    assert (table["letters_mentioning"] <= table["letters"]).all(), table
    assert table["letters"].sum() == 1  # the state when the table began


def letter_id(corpus: Corpus, area: str) -> str:
    with corpus.reading() as con:
        return con.execute("SELECT letter_id FROM letters WHERE area = ?", (area,)).fetchone()[0]


def cell(table: pd.DataFrame, by: str, group: object, theme: str) -> pd.Series:
    rows = table[(table[by] == group) & (table["theme"] == theme)]
    assert len(rows) == 1, f"expected one row for {group} x {theme}, got {len(rows)}"
    return rows.iloc[0]


# --- load_tagged --------------------------------------------------------------------------


def test_load_tagged_has_one_row_per_tagged_passage_with_letter_metadata(corpus: Corpus) -> None:
    frame = aggregate.load_tagged(corpus)
    with corpus.reading() as con:
        n_tagged = con.execute(
            "SELECT count(*) FROM passages p JOIN letters l USING (letter_id)"
            " WHERE l.area != 'Bury'"
        ).fetchone()[0]
    assert len(frame) == n_tagged
    assert "Bury" not in set(frame["area"])
    cornwall = frame[frame["area"] == "Cornwall"]
    assert set(cornwall["region"]) == {"South West"}
    assert set(cornwall["year"]) == {2023}
    assert set(cornwall["outcome"]) == {"inconsistent"}
    assert set(cornwall["inspection_start"]) == {"2023-02-06"}
    assert cornwall["passage_id"].tolist() == sorted(cornwall["passage_id"])  # letter order
    ehc = frame[frame["themes"].map(lambda ts: "ehc_plans" in ts)]
    assert len(ehc) == 8
    assert frame["themes"].map(type).eq(list).all()
    # ordered by area, then date, then position
    assert frame["area"].tolist() == sorted(frame["area"])


def test_load_tagged_filters(corpus: Corpus) -> None:
    def areas(**filters: object) -> set[str]:
        return set(aggregate.load_tagged(corpus, **filters)["area"])

    assert areas(outcomes=["positive"]) == {"Dorset", "Brighton and Hove"}
    assert areas(regions=["south west"]) == {"Cornwall", "Dorset"}
    assert areas(areas="cornwall") == {"Cornwall"}
    assert areas(date_from="2024-01-01") == {"Dorset", "North Northamptonshire"}
    assert areas(date_to="2023-02-06") == {"Cornwall"}  # inclusive
    assert "Cornwall" in areas(date_from="2023-02-06")  # inclusive too
    actions = aggregate.load_tagged(corpus, sections=["actions"])
    assert set(actions["section"]) == {"actions"}
    assert aggregate.load_tagged(corpus, frameworks=["send_2016"]).empty
    # An authority with no letter here is an empty table like any filter that matches
    # nothing (a script looping over every area must not stop at the first), and beside
    # another area it takes nothing from it.
    assert aggregate.load_tagged(corpus, areas=["Kent"]).empty
    assert areas(areas=["Kent", "cornwall"]) == {"Cornwall"}


def test_a_date_filter_given_as_a_datetime_keeps_the_letters_of_that_day(
    corpus: Corpus,
) -> None:
    # A notebook's pd.Timestamp or datetime (both dates to Python) left out the letters
    # begun on that very day: compared as "2023-02-06T00:00:00", after "2023-02-06".
    from datetime import datetime

    for day in (datetime(2023, 2, 6), pd.Timestamp("2023-02-06")):
        assert "Cornwall" in set(aggregate.load_tagged(corpus, date_from=day)["area"])
        one_day = aggregate.theme_table(corpus, by="area", date_from=day, date_to=day,
                                        themes="ehc_plans")
        assert one_day["area"].tolist() == ["Cornwall"]


def test_load_tagged_gives_each_passage_its_own_themes_and_stance(corpus: Corpus) -> None:
    frame = aggregate.load_tagged(corpus)
    with corpus.reading() as con:
        tags = {r[0]: (json.loads(r[1]), r[2])
                for r in con.execute("SELECT passage_id, themes, stance FROM tags")}
    assert list(zip(frame["themes"], frame["stance"], strict=True)) == [
        tags[p] for p in frame["passage_id"]]


def test_load_tagged_gives_an_areas_letters_oldest_first(corpus: Corpus, tmp_path: Path) -> None:
    # Two letters of one area, the later one with the smaller id.
    first, second = sorted(letter_id(corpus, a) for a in ("Cornwall", "Dorset"))
    dated = "UPDATE letters SET inspection_start = '{}' WHERE letter_id = '{}'"
    copy = edited_copy(corpus, tmp_path / "c",
                       "UPDATE letters SET area = 'Cornwall' WHERE area = 'Dorset'",
                       dated.format("2019-01-07", second), dated.format("2024-01-08", first))
    frame = aggregate.load_tagged(copy, areas="Cornwall")
    assert frame["letter_id"].drop_duplicates().tolist() == [second, first]


def test_filters_on_letters_and_on_sections_hold_together(corpus: Corpus) -> None:
    # Each filter's values go to its own condition: a region with a section, both ends of
    # a date range.
    table = aggregate.theme_table(corpus, by="region", sections=["actions"],
                                  regions=["South West"], themes=["ehc_plans"])
    sw = cell(table, "region", "South West", "ehc_plans")
    assert (sw["letters"], sw["letters_mentioning"], sw["passages"], sw["negative"]) == (
        2, 1, 1, 1)
    ev = aggregate.evidence(corpus, theme="ehc_plans", sections="actions", outcomes="positive")
    assert ev["area"].tolist() == ["Brighton and Hove"]
    in_2023 = aggregate.load_tagged(corpus, date_from="2023-01-01", date_to="2023-12-31")
    assert set(in_2023["area"]) == {"Cornwall", "Brighton and Hove"}


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"sections": ["weakness"]}, "unknown section 'weakness' .did you mean 'weaknesses'"),
        ({"frameworks": ["2023"]}, "unknown framework"),
        ({"outcomes": ["systemic"]}, r"did you mean 'systemic_failings'\?"),
        ({"regions": ["Wessex"]}, "unknown region"),
        ({"areas": ["Cornwal"]}, "did you mean Cornwall"),
        ({"areas": ["Atlantis"]}, "no area 'Atlantis' in the corpus or the table of English"),
        ({"areas": ["Kentt"]}, "did you mean Kent"),  # from every authority, not only these
        ({"date_from": "1 Feb 2023"}, "ISO date"),
    ],
)
def test_bad_filters_are_refused_not_silently_empty(
    corpus: Corpus, filters: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate.load_tagged(corpus, **filters)


# --- theme_table ------------------------------------------------------------------------------


def test_theme_table_by_region_counts(corpus: Corpus) -> None:
    table = aggregate.theme_table(corpus, by="region")
    sw = cell(table, "region", "South West", "ehc_plans")
    assert (sw["letters"], sw["letters_mentioning"], sw["passages"]) == (2, 2, 5)
    assert (sw["positive"], sw["negative"], sw["mixed"], sw["neutral"]) == (2, 3, 0, 0)
    assert sw["share_negative"] == pytest.approx(0.6)
    assert sw["net_stance"] == pytest.approx(-0.2)
    em = cell(table, "region", "East Midlands", "ehc_plans")
    assert (em["passages"], em["negative"], em["mixed"]) == (2, 1, 1)
    assert em["net_stance"] == pytest.approx(-0.5)
    # A neutral passage is counted but judges nothing: no share to give.
    se = cell(table, "region", "South East", "social_care")
    assert (se["passages"], se["neutral"]) == (1, 1)
    assert math.isnan(se["share_negative"]) and math.isnan(se["net_stance"])
    # Two letters a region: too few for an interval, left blank.
    assert table[["share_negative_low", "share_negative_high", "net_stance_low",
                  "net_stance_high"]].isna().all().all()
    # Bury's letter is untagged: its region has no row rather than a row of zeros.
    assert "North West" not in set(table["region"])
    assert table["net_stance"].dropna().between(-1, 1).all()


def test_shares_are_of_the_passages_that_judge_the_theme(corpus: Corpus) -> None:
    # Brighton and Hove's one social care passage is neutral (a description); make one
    # of its weaknesses a negative one. The share is 1 of the 1 passage that judges,
    # not 1 of 2: a description does not halve a criticism.
    with corpus.transaction() as con:
        lid = letter_id(corpus, "Brighton and Hove")
        extra = con.execute("SELECT passage_id FROM passages WHERE letter_id = ? AND "
                            "section = 'weaknesses' ORDER BY seq LIMIT 1", (lid,)).fetchone()[0]
        before = con.execute("SELECT themes, stance FROM tags WHERE passage_id = ?",
                             (extra,)).fetchone()
        con.execute("UPDATE tags SET themes = '[\"social_care\"]', stance = 'negative' "
                    "WHERE passage_id = ?", (extra,))
    try:
        se = cell(aggregate.theme_table(corpus, by="region"), "region", "South East",
                  "social_care")
        assert (se["passages"], se["negative"], se["neutral"]) == (2, 1, 1)
        assert se["share_negative"] == pytest.approx(1.0)
        assert se["net_stance"] == pytest.approx(-1.0)
    finally:
        with corpus.transaction() as con:
            con.execute("UPDATE tags SET themes = ?, stance = ? WHERE passage_id = ?",
                        (before[0], before[1], extra))


def test_cell_intervals_come_from_whole_letters() -> None:
    from textmine.intervals import pooled_share_intervals

    # Five letters of 4 judged passages each: 2 negative in every letter, or all 10
    # negatives in two letters. The share is 0.5 either way; only letters that disagree
    # leave it uncertain.
    agree = pooled_share_intervals([2] * 5, [2] * 5, [4] * 5, letters=5)
    split = pooled_share_intervals([4, 4, 0, 0, 2], [0, 0, 4, 4, 2], [4] * 5, letters=5)
    assert agree is not None and split is not None
    # Letters that all agree give no interval, not one of no width: resampling them
    # cannot say how far the share could move (in `actions` every passage is negative).
    assert all(math.isnan(v) for v in (*agree["share_negative"], *agree["net_stance"]))
    low, high = split["share_negative"]
    assert low < 0.5 < high and high - low > 0.4
    assert split["net_stance"][0] < 0 < split["net_stance"][1]
    # The same counts give the same interval (a table re-exported does not change).
    assert pooled_share_intervals([4, 4, 0, 0, 2], [0, 0, 4, 4, 2], [4] * 5, 5) == split
    # Letters of the group that never judge the theme take draws too: the interval widens.
    wider = pooled_share_intervals([4, 4, 0, 0, 2], [0, 0, 4, 4, 2], [4] * 5, letters=20)
    assert wider is not None
    assert wider["share_negative"][1] - wider["share_negative"][0] > high - low
    # Under five judging letters there is no interval at all.
    assert pooled_share_intervals([1] * 4, [1] * 4, [2] * 4, letters=30) is None


def test_a_cells_interval_is_the_middle_95_percent_of_draws_of_whole_letters() -> None:
    from test_model import _mean_of_draws_quantiles

    from textmine.intervals import letter_draws, pooled_share_intervals

    # Letter i has i negative passages of 10 judged: a draw's pooled share is the mean
    # of the drawn i, over 10, whose spread is known exactly.
    negative = list(range(8))
    positive = [10 - n for n in negative]
    draws = letter_draws(8, reps=20000)
    assert (draws.sum(axis=1) == 8).all()  # each resample as many letters as the group
    spread = pooled_share_intervals(positive, negative, [10] * 8, letters=8, draws=draws)
    assert spread is not None
    low, high = _mean_of_draws_quantiles(negative, 10)
    assert spread["share_negative"] == pytest.approx((low, high), abs=0.0135)
    # net stance = (positive - negative) / judged = 1 - 2 * share
    assert spread["net_stance"] == pytest.approx((1 - 2 * high, 1 - 2 * low), abs=0.027)


def test_a_cells_interval_draws_all_its_groups_letters_but_counts_only_judging_ones(
    tmp_path: Path,
) -> None:
    """Eight letters of one region: six judge EHC plans, one only describes them (a
    neutral passage), one never names them. The interval resamples all eight letters
    (those that judge nothing widen it), and the describing letter is no judging letter:
    four judging letters and one describing are too few for an interval."""
    from textmine.intervals import pooled_share_intervals

    corpus = Corpus.open(tmp_path / "c")
    ehc = {i: ["negative"] * i + ["positive"] * (5 - i) + ["mixed"] for i in range(6)}
    ehc[6] = ["neutral"]
    care = {0: ["negative", "positive"], 1: ["negative"], 2: ["positive"], 3: ["negative"],
            4: ["neutral"]}
    with corpus.transaction() as con:
        for i in range(8):
            lid = insert_letter(con, i, f"Area {i}", "2023-03-01")
            tags = [("ehc_plans", st) for st in ehc.get(i, [])] + [
                ("social_care", st) for st in care.get(i, [])] + [(None, "neutral")]
            for seq, (theme, stance) in enumerate(tags, 1):
                pid = f"{lid}-{seq:04d}"
                con.execute("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)",
                            (pid, lid, seq, "weaknesses", "Heading", seq, 0, 0, "Words."))
                con.execute("INSERT INTO tags VALUES (?,?,?,?,?,?)",
                            (pid, json.dumps([theme] if theme else []), stance, "{}", "m",
                             "now"))
    table = aggregate.theme_table(corpus, by="region", themes=["ehc_plans", "social_care"])
    row = cell(table, "region", "London", "ehc_plans")
    assert (row["letters"], row["letters_mentioning"], row["neutral"]) == (8, 7, 1)
    expected = pooled_share_intervals([5 - i for i in range(6)], list(range(6)), [6] * 6,
                                      letters=8)
    assert expected is not None
    assert (row["share_negative_low"], row["share_negative_high"]) == pytest.approx(
        expected["share_negative"])
    assert (row["net_stance_low"], row["net_stance_high"]) == pytest.approx(
        expected["net_stance"])
    care_row = cell(table, "region", "London", "social_care")
    assert care_row["letters_mentioning"] == 5
    assert care_row[["share_negative_low", "net_stance_low"]].isna().all()


def test_five_letters_judging_a_theme_give_an_interval_a_mixed_passage_judging_too(
    tmp_path: Path,
) -> None:
    """Five letters of one region, the fifth judging EHC plans only by a mixed passage:
    five judging letters, the fewest that give an interval, as the table says."""
    from textmine.intervals import pooled_share_intervals

    corpus = Corpus.open(tmp_path / "c")
    stances = [["negative", "negative"], ["positive"], ["negative", "positive"],
               ["positive", "positive"], ["mixed"]]
    with corpus.transaction() as con:
        for i, letter in enumerate(stances):
            lid = insert_letter(con, i, f"Area {i}", "2023-03-01")
            for seq, stance in enumerate(letter, 1):
                pid = f"{lid}-{seq:04d}"
                con.execute("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)",
                            (pid, lid, seq, "weaknesses", "Heading", seq, 0, 0, "Words."))
                con.execute("INSERT INTO tags VALUES (?,?,?,?,?,?)",
                            (pid, '["ehc_plans"]', stance, "{}", "m", "now"))
    row = cell(aggregate.theme_table(corpus, by="region", themes=["ehc_plans"]), "region",
               "London", "ehc_plans")
    expected = pooled_share_intervals([0, 1, 1, 2, 0], [2, 0, 1, 0, 0], [2, 1, 2, 2, 1],
                                      letters=5)
    assert expected is not None and not math.isnan(expected["share_negative"][0])
    assert (row["share_negative_low"], row["share_negative_high"]) == pytest.approx(
        expected["share_negative"])
    assert (row["net_stance_low"], row["net_stance_high"]) == pytest.approx(
        expected["net_stance"])


def test_regions_come_north_to_south_not_in_the_alphabets_order(
    corpus: Corpus, tmp_path: Path
) -> None:
    # The module's corpus has East Midlands, South East and South West: in both orders.
    copy = edited_copy(corpus, tmp_path / "c",
                       "UPDATE letters SET region = 'North West' WHERE area = 'Cornwall'")
    table = aggregate.theme_table(copy, by="region", themes=["ehc_plans"])
    assert table["region"].tolist() == ["North West", "East Midlands", "South East",
                                        "South West"]


def test_theme_table_has_zero_rows_for_unmentioned_themes(corpus: Corpus) -> None:
    table = aggregate.theme_table(corpus, by="area")
    themes = aggregate.known_themes(corpus)
    assert "ehc_plans" in themes and "local_offer" in themes  # from the codebook
    assert len(table) == 4 * len(themes)  # 4 tagged letters, full grid
    zero = cell(table, "area", "Brighton and Hove", "co_production")
    assert (zero["letters"], zero["letters_mentioning"], zero["passages"]) == (1, 0, 0)
    assert math.isnan(zero["share_negative"]) and math.isnan(zero["net_stance"])
    never = table[table["theme"] == "local_offer"]
    assert len(never) == 4 and never["passages"].eq(0).all()


def test_theme_table_sections_narrow_passages_not_letters(corpus: Corpus) -> None:
    table = aggregate.theme_table(corpus, by="region", sections=["actions"])
    sw = cell(table, "region", "South West", "ehc_plans")
    # Dorset's actions never name EHC plans, but Dorset still counts as a letter read.
    assert (sw["letters"], sw["letters_mentioning"], sw["passages"], sw["negative"]) == (
        2, 1, 1, 1)
    assert sw["share_letters"] == pytest.approx(0.5)
    # Letters mentioning over letters, not passages over letters: Cornwall's four EHC
    # passages (all sections) are one letter of one.
    every = cell(aggregate.theme_table(corpus, by="area"), "area", "Cornwall", "ehc_plans")
    assert every["passages"] > 1 and every["share_letters"] == pytest.approx(1.0)
    health = cell(table, "region", "South West", "health_input")
    assert (health["passages"], health["mixed"]) == (1, 1)  # Cornwall's is in weaknesses


def test_theme_table_groupings_and_filters(corpus: Corpus) -> None:
    by_year = aggregate.theme_table(corpus, by="year", themes=["ehc_plans"])
    assert by_year["year"].tolist() == [2023, 2024]
    assert by_year["passages"].tolist() == [5, 3]  # Cornwall 4 + Brighton 1; Dorset 1 + NN 2
    assert by_year["letters"].tolist() == [2, 2]
    by_outcome = aggregate.theme_table(corpus, by="outcome", themes="ehc_plans")
    assert dict(zip(by_outcome["outcome"], by_outcome["passages"])) == {
        "inconsistent": 4, "positive": 2, "systemic_failings": 2}
    by_fw = aggregate.theme_table(corpus, by="framework", themes=["ehc_plans"])
    assert by_fw[["framework", "letters", "passages"]].values.tolist() == [
        ["area_send_2023", 4, 8]]
    positive = aggregate.theme_table(corpus, by="region", outcomes=["positive"],
                                     themes=["ehc_plans"])
    assert dict(zip(positive["region"], positive["passages"])) == {"South East": 1, "South West": 1}
    late = aggregate.theme_table(corpus, by="area", date_from="2024-01-01", themes=["ehc_plans"])
    assert set(late["area"]) == {"Dorset", "North Northamptonshire"}


def test_letters_without_region_or_outcome_form_an_unknown_group(untagged: Corpus) -> None:
    insert_tags(untagged, TAG_PLAN)
    with untagged.transaction() as con:
        con.execute("UPDATE letters SET region = NULL, outcome = NULL WHERE area = 'Cornwall'")
    table = aggregate.theme_table(untagged, by="region", themes=["ehc_plans"])
    assert dict(zip(table["region"], table["passages"])) == {
        "East Midlands": 2, "South East": 1, "South West": 1, "unknown": 4}
    # the label filters back to the same letters, as a click on that heatmap row does
    ev = aggregate.evidence(untagged, theme="ehc_plans", regions=["unknown"])
    assert set(ev["area"]) == {"Cornwall"} and len(ev) == 4
    # A missing outcome is "not stated", as the app's Overview says (it was "unknown");
    # "unknown", in a link or a script from before, still finds those letters.
    table = aggregate.theme_table(untagged, by="outcome", themes=["ehc_plans"])
    assert "not stated" in set(table["outcome"]) and "unknown" not in set(table["outcome"])
    for named in ("not stated", "unknown"):
        both = aggregate.load_tagged(untagged, outcomes=[named, "positive"])
        assert set(both["area"]) == {"Cornwall", "Dorset", "Brighton and Hove"}
    # A named region or outcome alone leaves the letters without one out.
    assert set(aggregate.load_tagged(untagged, regions=["south west"])["area"]) == {"Dorset"}
    assert "Cornwall" not in set(aggregate.load_tagged(untagged, outcomes=["positive"])["area"])


def test_an_untagged_letter_neither_pools_a_row_nor_lacks_a_section(
    corpus: Corpus, tmp_path: Path
) -> None:
    # Bury's letter is not tagged, so in no table: it must not make South West's row
    # "pooling two frameworks", nor count as a letter the section asked leaves empty.
    copy = edited_copy(
        corpus, tmp_path / "c",
        "UPDATE letters SET region = 'South West', framework = 'send_2016' WHERE area = 'Bury'",
        "UPDATE passages SET section = 'weaknesses' WHERE section = 'actions'"
        " AND letter_id IN (SELECT letter_id FROM letters WHERE area = 'Bury')")
    assert aggregate.pooled_groups(copy, by="region") == {}
    assert aggregate.letters_without_sections(copy, "actions") == {}


def test_theme_table_rejects_unknown_grouping_and_theme(corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="cannot group by 'council'"):
        aggregate.theme_table(corpus, by="council")
    with pytest.raises(ValueError, match="unknown theme 'ehc'.*ehc_plans"):
        aggregate.theme_table(corpus, themes=["ehc"])
    # The ids as people write them point to the id.
    for typed, meant in [("coproduction", "co_production"), ("co-production", "co_production"),
                         ("post16", "post16_transition"), ("POST16", "post16_transition"),
                         ("socal_care", "social_care")]:
        with pytest.raises(ValueError, match=f"'{typed}' \\(did you mean {meant}\\?\\)"):
            aggregate.evidence(corpus, theme=typed)
    with pytest.raises(ValueError) as nothing_near:
        aggregate.evidence(corpus, theme="send")
    assert "did you mean" not in str(nothing_near.value)


def test_themes_fall_back_to_the_tags_without_a_codebook(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aggregate, "_codebook", lambda corpus: ())
    table = aggregate.theme_table(corpus, by="framework")
    assert table["theme"].tolist() == [
        "co_production", "ehc_plans", "health_input", "social_care"]
    # Nothing to go by: no theme is said to have left the codebook.
    assert aggregate.retired_themes(corpus) == []


def test_a_theme_missing_from_the_codebook_is_still_counted(untagged: Corpus) -> None:
    insert_tags(untagged, {"Cornwall": [("weaknesses", 0, ["retired_theme"], "negative")]})
    table = aggregate.theme_table(untagged, by="area")
    assert aggregate.known_themes(untagged)[-1] == "retired_theme"
    assert cell(table, "area", "Cornwall", "retired_theme")["negative"] == 1


# --- evidence -------------------------------------------------------------------------------


def test_evidence_lists_the_passages_behind_a_cell_with_citations(corpus: Corpus) -> None:
    ev = aggregate.evidence(corpus, theme="ehc_plans", stance="negative")
    assert ev["area"].tolist() == [
        "Brighton and Hove", "Cornwall", "Cornwall", "Cornwall", "North Northamptonshire"]
    assert ev["section"].tolist() == ["actions", "weaknesses", "weaknesses", "actions",
                                      "weaknesses"]
    assert set(ev["stance"]) == {"negative"}
    cornwall = ev[ev["area"] == "Cornwall"].iloc[0]
    assert cornwall["citation"] == (
        "Cornwall, Area SEND inspection (2023 framework), 6–10 Feb 2023, under \"What does "
        f"the area partnership need to do better?\", passage {cornwall['passage_id']}"
    )
    assert cornwall["theme_score"] == pytest.approx(0.9)
    assert ev.iloc[2]["themes"] == "ehc_plans, health_input"
    with corpus.reading() as con:
        stored = {r[0]: r[1] for r in con.execute("SELECT passage_id, text FROM passages")}
    assert all(stored[p] == t for p, t in zip(ev["passage_id"], ev["text"]))
    # the evidence adds up to the table's cell
    table = aggregate.theme_table(corpus, by="region", themes=["ehc_plans"])
    assert table["negative"].sum() == len(ev)


@pytest.mark.parametrize("by", ["area", "region", "framework", "year", "outcome"])
def test_every_cell_of_every_table_leads_to_exactly_its_passages(
    corpus: Corpus, tmp_path: Path, by: str
) -> None:
    # Letters placed by their fallback date or in the unknown group must not drop out of
    # their cell's evidence: Cornwall has no inspection dates (its year is its publication
    # year) and Dorset no region or outcome.
    copy = edited_copy(
        corpus, tmp_path / "c",
        "UPDATE letters SET inspection_start = NULL, inspection_end = NULL"
        " WHERE area = 'Cornwall'",
        "UPDATE letters SET region = NULL, outcome = NULL WHERE area = 'Dorset'")
    table = aggregate.theme_table(copy, by=by)
    checked = 0
    for row in table[table["passages"] > 0].itertuples():
        group = getattr(row, by)
        ev = aggregate.evidence(copy, theme=row.theme, group=(by, group))
        assert len(ev) == row.passages, (by, group, row.theme)
        assert ev["letter_id"].nunique() == row.letters_mentioning, (by, group, row.theme)
        checked += 1
    assert checked >= 4
    if by == "year":
        assert 2023 in set(table["year"])  # Cornwall, placed by its publication date
    if by in ("region", "outcome"):
        assert aggregate.missing_group(by) in set(table[by])


def test_a_letter_dated_only_by_its_letter_date_keeps_its_year(
    corpus: Corpus, tmp_path: Path
) -> None:
    # An older letter imported without a manifest: no inspection dates, no publication
    # date, only the date the letter bears. It fell into "unknown" and out of date filters.
    copy = edited_copy(corpus, tmp_path / "c",
                       "UPDATE letters SET inspection_start = NULL, inspection_end = NULL,"
                       " published = NULL, letter_date = '2019-05-01' WHERE area = 'Cornwall'")
    assert 2019 in set(aggregate.theme_table(copy, by="year")["year"])
    assert set(aggregate.load_tagged(copy, date_from="2019-05-01",
                                     date_to="2019-05-01")["area"]) == {"Cornwall"}
    # The app dates it so too: its Overview counted it "undated", its letter list showed
    # "Cornwall, nan".
    from sendlens import appdata

    overview = appdata.overview(str(copy.root), appdata.stamp(copy.root))
    assert "2019" in set(overview["by_year"]["year"])
    assert "undated" not in set(overview["by_year"]["year"])
    labels = appdata.letters(str(copy.root), appdata.stamp(copy.root))["label"]
    assert "Cornwall, dated 2019-05-01 (2023 area SEND inspection)" in set(labels)
    # ... and the Area page's history names it by that date too, not "undated".
    history = aggregate.area_history(copy, "Cornwall")
    assert {appdata.when(r) for _, r in history.iterrows()} == {"dated 2019-05-01"}


def test_evidence_filters(corpus: Corpus) -> None:
    actions = aggregate.evidence(corpus, theme="ehc_plans", sections=["actions"])
    assert sorted(actions["stance"]) == ["mixed", "negative", "negative"]
    assert len(aggregate.evidence(corpus, theme="ehc_plans", regions=["South West"])) == 5
    assert aggregate.evidence(corpus, theme="local_offer").empty  # known, never tagged


def test_evidence_scores_the_theme_asked_for(corpus: Corpus, tmp_path: Path) -> None:
    # Cornwall's passage of two themes, scored differently; a score that is no number
    # is no score, not a stop.
    copy = edited_copy(corpus, tmp_path / "c",
                       "UPDATE tags SET scores = '{\"ehc_plans\": 0.6, \"health_input\": 0.8}'"
                       " WHERE themes = '[\"ehc_plans\", \"health_input\"]'",
                       "UPDATE tags SET scores = '{\"co_production\": \"high\"}'"
                       " WHERE themes = '[\"co_production\"]'")
    health = aggregate.evidence(copy, theme="health_input", areas="Cornwall")
    assert health["theme_score"].tolist() == [pytest.approx(0.8)]
    ehc = aggregate.evidence(copy, theme="ehc_plans", areas="Cornwall")
    assert pytest.approx(0.6) in ehc["theme_score"].tolist()
    co = aggregate.evidence(copy, theme="co_production", areas="Dorset")
    assert len(co) == 1 and math.isnan(co["theme_score"].iloc[0])


def test_every_list_item_of_a_large_corpus_keeps_its_lead_in(tmp_path: Path) -> None:
    # Lead-ins are read 500 letters a query: the letters at the seams keep theirs.
    corpus = Corpus.open(tmp_path / "c")
    with corpus.transaction() as con:
        for i in range(1001):
            lid = insert_letter(con, i, f"Area {i}", "2023-03-01")
            for seq, (text, themes) in enumerate(
                    [("The partnership should:", []), ("improve the plans", ["ehc_plans"])], 1):
                pid = f"{lid}-{seq:04d}"
                con.execute("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)",
                            (pid, lid, seq, "actions", "Heading", seq, 0, 0, text))
                con.execute("INSERT INTO tags VALUES (?,?,?,?,?,?)",
                            (pid, json.dumps(themes), "negative", "{}", "m", "now"))
    ev = aggregate.evidence(corpus, theme="ehc_plans")
    assert len(ev) == 1001
    assert ev["lead_in"].eq("The partnership should:").all()


def test_evidence_unknown_theme_or_stance(corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="unknown theme 'send'.*co_production.*social_care"):
        aggregate.evidence(corpus, theme="send")
    with pytest.raises(ValueError, match="unknown stance 'bad'"):
        aggregate.evidence(corpus, theme="ehc_plans", stance="bad")


@pytest.mark.parametrize(
    "start, end, published, expected",
    [
        ("2023-02-06", "2023-02-10", None, "6–10 Feb 2023"),
        ("2024-01-29", "2024-02-02", None, "29 Jan – 2 Feb 2024"),
        ("2023-12-28", "2024-01-03", None, "28 Dec 2023 – 3 Jan 2024"),
        ("2023-02-06", None, None, "6 Feb 2023"),
        ("2023-02-06", "2023-02-06", None, "6 Feb 2023"),  # a one-day visit
        ("2023-02-30", None, None, "2023-02-30"),  # malformed in the store: shown as it is
        (None, None, "2019-07-05", "published 5 Jul 2019"),
        (None, None, None, "undated"),
    ],
)
def test_citation_dates(start: str | None, end: str | None, published: str | None,
                        expected: str) -> None:
    assert aggregate.format_dates(start, end, published) == expected


def test_a_passage_without_a_heading_is_cited_by_its_section() -> None:
    row = {"area": "Testshire", "framework": "area_send_2023", "inspection_start": "2023-02-06",
           "inspection_end": "2023-02-10", "published": None, "heading": "",
           "section": "weaknesses", "passage_id": "abc-0001"}
    assert aggregate.citation(row) == (
        "Testshire, Area SEND inspection (2023 framework), 6–10 Feb 2023, weaknesses, "
        "passage abc-0001")


# --- one letter, one area -----------------------------------------------------------------------


def test_letter_theme_profile(corpus: Corpus) -> None:
    profile = aggregate.letter_theme_profile(corpus, letter_id(corpus, "Cornwall"))
    assert profile["theme"].tolist() == aggregate.known_themes(corpus)
    row = profile.set_index("theme").loc["ehc_plans"]
    assert (row["passages"], row["positive"], row["negative"]) == (4, 1, 3)
    assert row["net_stance"] == pytest.approx(-0.5)
    assert profile.set_index("theme").loc["social_care", "passages"] == 0
    with pytest.raises(ValueError, match="no letter"):
        aggregate.letter_theme_profile(corpus, "000000000000")
    with pytest.raises(NotTagged, match="sendlens tag"):
        aggregate.letter_theme_profile(corpus, letter_id(corpus, "Bury"))


def test_a_letter_profile_has_no_row_for_a_theme_no_model_knew(
    corpus: Corpus, tmp_path: Path
) -> None:
    # The model that tagged the corpus knew every theme but local_offer (added since):
    # a letter's zero there was never measured, as theme_table leaves it out.
    known = [t for t in aggregate.known_themes(corpus) if t != "local_offer"]
    copy = edited_copy(corpus, tmp_path / "c",
                       "INSERT INTO models VALUES ('hand', 'x', 'models/hand', "
                       f"'{json.dumps({'themes': known})}', 1)")
    cornwall, dorset = letter_id(copy, "Cornwall"), letter_id(copy, "Dorset")
    assert aggregate.letter_theme_profile(copy, cornwall)["theme"].tolist() == known
    assert set(aggregate.area_history(copy, "Cornwall")["theme"]) == set(known)
    assert aggregate.compare_letters(copy, cornwall, dorset)["theme"].tolist() == known


def test_a_theme_is_shown_when_a_tagging_models_record_is_missing(
    corpus: Corpus, tmp_path: Path
) -> None:
    # Dorset was tagged by a model whose record is gone: whether it knew local_offer is
    # unknown, so its rows are kept rather than hidden on the other model's word.
    known = [t for t in aggregate.known_themes(corpus) if t != "local_offer"]
    copy = edited_copy(corpus, tmp_path / "c",
                       "INSERT INTO models VALUES ('hand', 'x', 'models/hand', "
                       f"'{json.dumps({'themes': known})}', 1)",
                       "UPDATE tags SET model_version = 'gone' WHERE passage_id IN (SELECT"
                       " passage_id FROM passages JOIN letters USING (letter_id)"
                       " WHERE area = 'Dorset')")
    assert aggregate.untagged_themes(copy) == []
    assert "local_offer" in set(aggregate.theme_table(copy, by="region")["theme"])


def test_area_history_shows_tagged_and_untagged_letters(corpus: Corpus) -> None:
    n_themes = len(aggregate.known_themes(corpus))
    history = aggregate.area_history(corpus, "cornwall")
    assert len(history) == n_themes
    assert set(history["area"]) == {"Cornwall"} and history["tagged"].all()
    assert history.set_index("theme").loc["ehc_plans", "negative"] == 3
    bury = aggregate.area_history(corpus, "Bury")
    assert len(bury) == n_themes and not bury["tagged"].any()
    assert len(bury[~bury["tagged"]]) == n_themes  # the untagged rows, as a script picks them
    assert bury["passages"].eq(0).all()
    with pytest.raises(ValueError, match="no letters for area 'Atlantis'"):
        aggregate.area_history(corpus, "Atlantis")
    # An authority with no letter here: said so, as a name no table knows.
    with pytest.raises(ValueError, match="no letters for area 'Kent'"):
        aggregate.area_history(corpus, "Kent")


def test_area_history_spans_a_reorganisation(untagged: Corpus) -> None:
    insert_tags(untagged, TAG_PLAN)
    with untagged.transaction() as con:
        # a 2016-framework letter of the county North Northamptonshire replaced in 2021
        con.execute(
            "INSERT INTO letters (letter_id, sha256, area, la_code, region, framework, outcome,"
            " inspection_start, clean_text, imported_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            ("0123456789ab", "0123456789ab" * 5, "Northamptonshire", "928", "East Midlands",
             "send_2016", "wsoa_required", "2017-11-06", "", now_iso()),
        )
    history = aggregate.area_history(untagged, "North Northamptonshire")
    letters = history.drop_duplicates("letter_id")
    assert letters["area"].tolist() == ["Northamptonshire", "North Northamptonshire"]
    assert letters["framework"].tolist() == ["send_2016", "area_send_2023"]
    assert letters["tagged"].tolist() == [False, True]
    cornwall = aggregate.area_history(untagged, "Cornwall")
    assert "Northamptonshire" not in set(cornwall["area"])


def test_area_history_takes_no_letters_of_a_current_namesake(untagged: Corpus) -> None:
    # The former Dorset county (835) is a predecessor of Bournemouth, Christchurch and
    # Poole, and shares its name with the current Dorset (838): Dorset's 2024 report is
    # not part of BCP's history, but the former Poole's letter is.
    with untagged.transaction() as con:
        for lid, area, code, start in (("0123456789ab", "Bournemouth, Christchurch and Poole",
                                        "839", "2024-01-08"),
                                       ("0123456789ac", "Poole", "836", "2017-03-06")):
            con.execute(
                "INSERT INTO letters (letter_id, sha256, area, la_code, region, framework,"
                " inspection_start, clean_text, imported_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (lid, lid * 5, area, code, "South West", "area_send_2023", start, "",
                 now_iso()),
            )
    insert_tags(untagged, TAG_PLAN)
    history = aggregate.area_history(untagged, "BCP")
    assert history.drop_duplicates("letter_id")["area"].tolist() == [
        "Poole", "Bournemouth, Christchurch and Poole"]


def test_the_former_dorset_county_is_a_row_of_its_own(untagged: Corpus, tmp_path: Path) -> None:
    # The old Dorset County Council (835) and today's Dorset Council (838) were both
    # filed as "Dorset": `export themes --by area` added the county's 2016 letter to the
    # 2024 report's row, and `--area Dorset` found both.
    from sitefixture import letter_2016_pdf

    pdf = tmp_path / "dorset-2016.pdf"
    pdf.write_bytes(letter_2016_pdf("Dorset"))
    assert len(import_paths(untagged, [pdf], progress=False).by_status("imported")) == 1
    insert_tags(untagged, {**TAG_PLAN, "Dorset County Council": [("strengths", 0,
                                                                  ["ehc_plans"], "positive")]})
    table = aggregate.theme_table(untagged, by="area")
    ehc = table[table["theme"] == "ehc_plans"].set_index("area")
    assert ehc.loc["Dorset County Council", "letters"] == 1
    assert ehc.loc["Dorset", "letters"] == 1
    assert set(aggregate.load_tagged(untagged, areas="Dorset")["year"]) == {2024}
    assert set(aggregate.load_tagged(untagged, areas="Dorset County Council")["year"]) == {2016}
    # Today's Dorset's history still takes in the county it succeeded.
    history = aggregate.area_history(untagged, "Dorset").drop_duplicates("letter_id")
    assert history["area"].tolist() == ["Dorset County Council", "Dorset"]
    # With no letter of today's Dorset, "Dorset" finds nothing, not the old county's.
    with untagged.transaction() as con:
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                    " WHERE letter_id IN (SELECT letter_id FROM letters WHERE la_code = '838'))")
        con.execute("UPDATE letters SET area = 'Elsewhere', la_code = NULL WHERE la_code = '838'")
    assert aggregate.load_tagged(untagged, areas="Dorset").empty


def test_the_former_dorset_county_by_name_is_not_todays_dorset(corpus: Corpus) -> None:
    """`--area "Dorset County Council"` with none of the county's letters in the corpus
    gave today's Dorset's row: its matching key ("dorset") is today's council's."""
    dorset = aggregate.theme_table(corpus, by="area", areas="Dorset")
    assert len(dorset) and set(dorset["area"]) == {"Dorset"}
    county = aggregate.theme_table(corpus, by="area", areas="Dorset County Council")
    assert county.empty  # as for any authority with no letter here (a warning says so)


def test_an_area_spelled_two_ways_is_one_row_and_one_history(
    tmp_path: Path, letters_dir: Path
) -> None:
    # A 2016-framework letter for "County Durham" (an invented fixture letter under that
    # name) and the 2024 report, which says "Durham".
    from fixtures.make_pdfs import LETTERS_DIR, parse_markup, render

    text = (LETTERS_DIR / "send2016_nowsoa_kestrelbury.txt").read_text(encoding="utf-8")
    old = tmp_path / "county-durham-2016.pdf"
    render(parse_markup(text.replace("Kestrelbury", "County Durham"))).output(str(old))
    corpus = Corpus.open(tmp_path / "c")
    report = import_paths(corpus, [old, letters_dir / "80465_durham__03-september-2024.pdf"],
                          progress=False)
    assert not report.skipped, report.summary()
    with corpus.transaction() as con:
        con.execute("INSERT INTO tags SELECT passage_id, '[]', 'neutral', '{}', 'hand', ?"
                    " FROM passages", (now_iso(),))
    table = aggregate.theme_table(corpus, by="area")
    assert set(table["area"]) == {"County Durham"}
    assert set(table["letters"]) == {2}
    history = aggregate.area_history(corpus, "Durham").drop_duplicates("letter_id")
    assert history["framework"].tolist() == ["send_2016", "area_send_2023"]


def test_compare_letters(corpus: Corpus) -> None:
    diff = aggregate.compare_letters(
        corpus, letter_id(corpus, "Cornwall"), letter_id(corpus, "Dorset")
    ).set_index("theme")
    ehc = diff.loc["ehc_plans"]
    assert (ehc["passages_a"], ehc["passages_b"], ehc["passages_change"]) == (4, 1, -3)
    assert ehc["net_stance_a"] == pytest.approx(-0.5)
    assert ehc["net_stance_b"] == pytest.approx(1.0)
    assert ehc["net_stance_change"] == pytest.approx(1.5)
    co = diff.loc["co_production"]
    assert (co["passages_a"], co["passages_b"]) == (0, 1)
    assert math.isnan(co["net_stance_change"])  # no stance in A to change from
    # B is checked as A is; a letter beside itself changes nothing.
    cornwall = letter_id(corpus, "Cornwall")
    with pytest.raises(NotTagged, match="sendlens tag"):
        aggregate.compare_letters(corpus, cornwall, letter_id(corpus, "Bury"))
    with pytest.raises(ValueError, match="no letter"):
        aggregate.compare_letters(corpus, cornwall, "000000000000")
    same = aggregate.compare_letters(corpus, cornwall, cornwall)
    assert same["theme"].tolist() == aggregate.known_themes(corpus)
    assert same["passages_change"].eq(0).all()


def test_ehc_plans_actions_share(corpus: Corpus) -> None:
    result = aggregate.ehc_plans_actions_share(corpus)
    # Cornwall and Brighton have a negative EHC passage in actions; NN's is mixed.
    assert result["letters"] == 4 and result["letters_flagged"] == 2
    assert result["letters_with_actions"] == 4
    assert result["share"] == pytest.approx(0.5)
    assert result["published_share"] == pytest.approx(0.69)
    assert result["difference"] == pytest.approx(0.5 - 0.69)  # ours less Ofsted's


def test_ehc_plans_actions_share_is_of_all_letters_not_only_those_with_actions(
    corpus: Corpus, tmp_path: Path
) -> None:
    # A letter with no areas for improvement has no EHC plans among them: it counts in
    # the denominator (Ofsted's 69% is of all full inspections).
    copy = edited_copy(corpus, tmp_path / "c",
                       "UPDATE passages SET section = 'weaknesses' WHERE section = 'actions'"
                       " AND letter_id IN (SELECT letter_id FROM letters WHERE area = 'Dorset')")
    result = aggregate.ehc_plans_actions_share(copy)
    assert (result["letters"], result["letters_with_actions"], result["letters_flagged"]) == (
        4, 3, 2)
    assert result["share"] == pytest.approx(0.5)


def test_ehc_plans_actions_share_is_of_2023_framework_letters_alone(
    corpus: Corpus, tmp_path: Path
) -> None:
    # Ofsted's 69% is of full inspections under the 2023 framework: a 2016 letter is no
    # letter of it, in the denominator or out of it.
    copy = edited_copy(corpus, tmp_path / "c",
                       "UPDATE letters SET framework = 'send_2016' WHERE area = 'Dorset'")
    result = aggregate.ehc_plans_actions_share(copy)
    assert (result["letters"], result["letters_flagged"]) == (3, 2)
    assert result["share"] == pytest.approx(2 / 3)


# --- nothing tagged ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: aggregate.load_tagged(c),
        lambda c: aggregate.theme_table(c),
        lambda c: aggregate.evidence(c, theme="ehc_plans"),
        lambda c: aggregate.area_history(c, "Cornwall"),
        lambda c: aggregate.ehc_plans_actions_share(c),
    ],
)
def test_not_tagged(untagged: Corpus, call, tmp_path: Path) -> None:
    with pytest.raises(NotTagged, match=r"no passages are tagged yet: run `sendlens tag`"):
        call(untagged)
    # With no passages at all, tagging is not the next step: importing is.
    with pytest.raises(NotTagged, match=r"the corpus has no passages yet: import letters"):
        call(Corpus.open(tmp_path / "empty"))


# --- scale ----------------------------------------------------------------------------------


def test_a_ten_times_corpus_adds_up(tmp_path: Path) -> None:
    """550 letters, 70k passages: every count of the region table is exact at scale.

    How fast these tables come back is measured by `python bench/import_speed.py
    --aggregate`, not here: a timed test fails on a busy machine, not on slow code.
    """
    corpus = Corpus.open(tmp_path / "big")
    themes = ["co_production", "ehc_plans", "health_input", "inclusion", "social_care"]
    stances = ["positive", "negative", "mixed", "neutral"]
    sections = ["context", "experience", "strengths", "weaknesses", "actions"]
    text = "Leaders know the strengths and weaknesses of the local area well. " * 5
    with corpus.transaction() as con:
        # The FTS index is not read here; dropping its trigger keeps the set-up fast.
        con.execute("DROP TRIGGER passages_ai")
        for i in range(550):
            lid = insert_letter(con, i, f"Area {i % 150}", f"{2023 + i % 3}-03-0{1 + i % 9}")
            con.executemany(
                "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)",
                [(f"{lid}-{s:04d}", lid, s, sections[s % 5], "Heading", s, 0, 0, text)
                 for s in range(1, 128)],
            )
            con.executemany(
                "INSERT INTO tags VALUES (?,?,?,?,?,?)",
                [(f"{lid}-{s:04d}", json.dumps(themes[s % 5: s % 5 + s % 3]),
                  stances[s % 4], "{}", "m", "now") for s in range(1, 128)],
            )

    assert len(aggregate.load_tagged(corpus)) == 550 * 127
    table = aggregate.theme_table(corpus, by="region").set_index("theme")
    assert set(table["region"]) == {"London"}
    assert (table["letters"] == 550).all()
    for theme in themes:
        tagged = [s for s in range(1, 128) if theme in themes[s % 5: s % 5 + s % 3]]
        row = table.loc[theme]
        assert row["passages"] == 550 * len(tagged)
        assert row["negative"] == 550 * sum(stances[s % 4] == "negative" for s in tagged)
        assert row["letters_mentioning"] == (550 if tagged else 0)
