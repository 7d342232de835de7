"""Properties every one of the 55 real 2023-framework reports must have once imported.

The reports live in ../shared/letters (never in this repository); the tests skip
without them, and fail under CI.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from sendlens.importer import import_paths
from sendlens.store import Corpus
from textmine.areas import normalise_area_name


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory: pytest.TempPathFactory, letters_dir: Path) -> Corpus:
    corpus = Corpus.open(tmp_path_factory.mktemp("real") / "corpus")
    report = import_paths(corpus, [letters_dir], progress=False)
    assert not report.skipped, report.summary()
    return corpus


@pytest.fixture(scope="module")
def letters(real_corpus: Corpus) -> list[dict]:
    with real_corpus.reading() as con:
        return [dict(r) for r in con.execute("SELECT * FROM letters")]


@pytest.fixture(scope="module")
def manifest(letters_dir: Path) -> dict[str, dict]:
    with open(letters_dir.parent / "manifest.csv", newline="") as fh:
        return {row["sha256"]: row for row in csv.DictReader(fh)}


def test_every_report_is_imported_once(letters: list[dict], real_pdfs: list[Path]) -> None:
    assert len(letters) == len(real_pdfs) == 55
    assert {row["framework"] for row in letters} == {"area_send_2023"}


def test_area_matches_the_published_listing(letters: list[dict], manifest: dict) -> None:
    for row in letters:
        listed = manifest[row["sha256"]]
        assert normalise_area_name(row["area"]).startswith(
            normalise_area_name(listed["area"]).split()[0]
        ), (row["area"], listed["area"])
        assert row["ofsted_urn"] == listed["ofsted_urn"]
        assert row["region"], f"{row['area']}: no region from the LA lookup"


def test_dates_are_read_and_consistent(letters: list[dict], manifest: dict) -> None:
    for row in letters:
        start, end = row["inspection_start"], row["inspection_end"]
        assert start and end, row["area"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", start) and start <= end, (row["area"], start, end)
        # An inspection lasts a week or so, and is published after it ends.
        from datetime import date

        span = date.fromisoformat(end) - date.fromisoformat(start)
        assert 0 <= span.days <= 14, (row["area"], start, end)
        assert row["published"] and row["published"] >= end, (row["area"], row["published"])
        if row["previous_inspection"]:
            assert "2014" < row["previous_inspection"] < start


def test_outcome_agrees_with_what_happens_next(letters: list[dict]) -> None:
    for row in letters:
        assert row["outcome"] in {"positive", "inconsistent", "systemic_failings"}, row["area"]
        nxt = (row["next_inspection"] or "").lower()
        assert nxt, f"{row['area']}: next inspection time frame not read"
        # Only the third outcome brings a monitoring inspection.
        assert ("monitoring" in nxt) == (row["outcome"] == "systemic_failings"), (
            row["area"], row["outcome"], nxt
        )
    outcomes = [row["outcome"] for row in letters]
    assert all(outcomes.count(o) >= 5 for o in set(outcomes))


def test_every_report_has_the_evaluative_sections(real_corpus: Corpus) -> None:
    with real_corpus.reading() as con:
        rows = con.execute(
            "SELECT l.area, group_concat(DISTINCT p.section) AS sections "
            "FROM letters l JOIN passages p USING (letter_id) GROUP BY l.letter_id"
        ).fetchall()
    assert len(rows) == 55
    for row in rows:
        sections = set(row["sections"].split(","))
        assert {"strengths", "weaknesses", "actions", "context"} <= sections, (
            row["area"], sections
        )
        assert "boilerplate" not in sections


RUNNING_HEAD = re.compile(r"(area send )?inspection report:", re.I)
PAGE_NUMBER_TAIL = re.compile(r"\b20\d\d \d{1,2}$")  # "6 to 10 February 2023 2"
BOILERPLATE = re.compile(
    r"crown copyright|open government licence|enquiries@ofsted|textphone|piccadilly gate"
    r"|if you are not happy with the inspection|section 20\(1\)\(a\)|^inspection team\b"
    r"|yours sincerely|lead inspector",
    re.I,
)


def test_no_passage_holds_running_heads_page_numbers_or_boilerplate(
    real_corpus: Corpus,
) -> None:
    with real_corpus.reading() as con:
        rows = con.execute("SELECT passage_id, text FROM passages").fetchall()
    assert len(rows) > 5000
    bad = [
        (r["passage_id"], r["text"][:80])
        for r in rows
        if RUNNING_HEAD.search(r["text"])
        or PAGE_NUMBER_TAIL.search(r["text"])
        or BOILERPLATE.search(r["text"])
        or re.fullmatch(r"\d{1,3}", r["text"].strip())
    ]
    assert not bad, bad[:10]


def test_clean_text_has_no_pdf_artefacts(real_corpus: Corpus) -> None:
    with real_corpus.reading() as con:
        rows = con.execute("SELECT area, clean_text FROM letters").fetchall()
    for row in rows:
        text = row["clean_text"]
        assert "\r" not in text and "\ufffe" not in text, row["area"]
        assert not re.search(r"[▪◼•]", text), row["area"]
        assert not RUNNING_HEAD.search(text), row["area"]


def test_passage_offsets_point_into_the_clean_text(real_corpus: Corpus) -> None:
    with real_corpus.reading() as con:
        texts = dict(con.execute("SELECT letter_id, clean_text FROM letters").fetchall())
        rows = con.execute(
            "SELECT letter_id, char_start, char_end, text FROM passages"
        ).fetchall()
    for row in rows:
        assert texts[row["letter_id"]][row["char_start"] : row["char_end"]] == row["text"]


def test_passages_are_sentences(real_corpus: Corpus) -> None:
    with real_corpus.reading() as con:
        rows = con.execute("SELECT text FROM passages").fetchall()
    lengths = sorted(len(r["text"]) for r in rows)
    median = lengths[len(lengths) // 2]
    assert 60 <= median <= 250, median
    # A passage far longer than a sentence means a missed boundary.
    assert lengths[int(len(lengths) * 0.99)] < 700


def test_full_text_search_finds_passages(real_corpus: Corpus) -> None:
    with real_corpus.reading() as con:
        hits = con.execute(
            "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH 'local offer'"
        ).fetchone()[0]
    assert hits >= 20


def test_every_list_item_is_quoted_with_the_words_that_open_its_list(
        real_corpus: Corpus) -> None:
    # An item alone ("occupational therapy; and") is a fragment a reader cannot quote.
    import itertools

    from textmine.segment import list_lead_ins

    with real_corpus.reading() as con:
        rows = con.execute("SELECT letter_id, passage_id, paragraph, section, text"
                           " FROM passages ORDER BY letter_id, seq").fetchall()
    lead_ins: dict[str, str] = {}
    for _, group in itertools.groupby(rows, key=lambda r: r["letter_id"]):
        lead_ins.update(list_lead_ins([tuple(r)[1:] for r in group]))
    fragments = {r["passage_id"] for r in rows if r["text"][:1].islower()}
    assert len(fragments) > 50  # the 2023 reports' recommendations hold lists
    assert fragments <= set(lead_ins)
    assert all(lead.endswith(":") for lead in lead_ins.values())
    # Items only: a sentence of its own is never given a lead-in.
    starts = {r["passage_id"]: r["text"][:1] for r in rows}
    assert sum(starts[p].isupper() for p in lead_ins) <= len(lead_ins) // 20
