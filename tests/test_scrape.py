"""`scrape()` end to end against a local copy of the Ofsted site, faults included."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import require_shared
from sitefixture import (
    FILE_PATH,
    GOV_UK_FILES,
    GOV_UK_PAGE,
    Attachment,
    Fault,
    ManifestRow,
    Provider,
    Report,
    Site,
    build_site,
    declined_file_site,
    decoy_pdf,
    letter_2016_pdf,
    read_manifest,
    serve,
    serve_raw,
)

from scraper import site as sitemod
from scraper.http import build_session
from scraper.scrape import BadDownload, ScrapeSummary, check_pdf, download_to, scrape
from sendlens.store import Corpus, CorpusError

FAST: dict[str, Any] = {
    "delay": 0,
    "progress": False,
    "rows": 3,
    "extra_providers": False,
    "backoff": 0.01,
    "timeout": (2.0, 1.0),
}


@pytest.fixture(scope="session")
def manifest() -> list[ManifestRow]:
    return read_manifest(require_shared("letters"))


@pytest.fixture
def site(manifest: list[ManifestRow]) -> Site:
    """Six councils with real 2023 reports, decoys, older labels and a SEND-less council."""
    site = build_site(manifest[:6])
    site.providers[0].reports.append(
        Report(
            "2701999",
            "Local area SEND inspection",
            date(2017, 6, 21),
            letter_2016_pdf(site.providers[0].name),
            True,
        )
    )
    site.providers[1].reports.append(
        Report(
            "50999001",
            "Area SEND interim visit",  # mentions SEND, matches no rule: reported
            date(2024, 3, 1),
            decoy_pdf("Interim visit", site.providers[1].name),
            False,
        )
    )
    testshire = Provider("80999", "Testshire")
    testshire.reports.append(
        Report("50999002", "Children's services focused visit", date(2024, 2, 2), b"x", False)
    )
    site.providers.append(testshire)
    return site


@pytest.fixture
def base(site: Site) -> Iterator[str]:
    with serve(site) as url:
        yield url


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    return Corpus.open(tmp_path / "corpus")


def rows(corpus: Corpus, sql: str, *args: Any) -> list[sqlite3.Row]:
    con = corpus.connect()
    try:
        return list(con.execute(sql, args))
    finally:
        con.close()


def fetches(corpus: Corpus) -> dict[str, sqlite3.Row]:
    return {r["file_id"]: r for r in rows(corpus, "SELECT * FROM fetches")}


def sha(body: bytes | Path) -> str:
    return hashlib.sha256(body.read_bytes() if isinstance(body, Path) else body).hexdigest()


def assert_corpus_clean(corpus: Corpus) -> None:
    """No partial file anywhere, every stored PDF is whole and named by its hash."""
    assert rows(corpus, "PRAGMA integrity_check")[0][0] == "ok"
    assert list(corpus.tmp_dir.iterdir()) == []
    stored = list(corpus.pdf_dir.rglob("*")) if corpus.pdf_dir.exists() else []
    files = [p for p in stored if p.is_file()]
    assert all(p.suffix == ".pdf" and not p.name.startswith(".") for p in files), files
    for p in files:
        assert sha(p) == p.stem
        check_pdf(p)
    in_db = {r["sha256"] for r in rows(corpus, "SELECT sha256 FROM letters")}
    assert {p.stem for p in files} == in_db


# --- the main promise ----------------------------------------------------------------


def test_all_send_letters_imported_and_no_decoys(site: Site, base: str, corpus: Corpus) -> None:
    summary = scrape(corpus, base_url=base, **FAST)

    assert summary.error is None, summary.render()
    send = site.send_reports()
    got = fetches(corpus)
    assert set(got) == {r.file_id for r in send}
    # Decoys (and the unknown SEND label) were never even requested.
    requested = {h.path[len(FILE_PATH) :] for h in site.file_hits()}
    assert requested == {r.file_id for r in send}
    real = [r for r in send if isinstance(r.body, Path)]
    assert all(got[r.file_id]["status"] == "imported" for r in real)
    assert got["2701999"]["status"] in {"imported", "skipped"}  # synthetic 2016 letter
    letters = {r["sha256"] for r in rows(corpus, "SELECT sha256 FROM letters")}
    assert {sha(r.body) for r in real} <= letters

    # What each letter records: URN, council as listed, label, date, URL, time, hash.
    first = site.providers[0]
    rec = got[first.reports[0].file_id]
    assert rec["provider_urn"] == first.urn
    assert rec["council"] == first.name
    assert rec["label"] == "Area SEND full inspection"
    assert rec["published"] == first.reports[0].published.isoformat()
    assert rec["url"] == f"{base}{FILE_PATH}{first.reports[0].file_id}"
    assert rec["sha256"] == sha(first.reports[0].body)
    assert rec["retrieved_at"] and rec["letter_id"] == rec["sha256"][:12]
    row = rows(corpus, "SELECT ofsted_urn, source FROM letters WHERE sha256=?", rec["sha256"])[0]
    assert row["ofsted_urn"] == first.urn and row["source"] == rec["url"]

    # Pagination: 7 councils at 3 a page, then the empty page that ends it.
    starts = [h.query for h in site.hits if h.path == "/search"]
    assert len(starts) == 4 and all("level_1_types=3" in q for q in starts)
    assert summary.providers_seen == 7
    assert len(summary.new) == len(real) + (got["2701999"]["status"] == "imported")
    assert [f.reason for f in summary.unknown_labels] == ["Area SEND interim visit"]
    assert summary.areas_without_send == ["Testshire"]
    text = summary.render()
    assert "providers seen: 7" in text and "Area SEND interim visit" in text
    assert "areas whose page lists no SEND letter: 1" in text and "Testshire" in text
    # A label the rule does not know may be a letter missed: a script must see it.
    assert summary.exit_code == 1 and not summary.failed and not summary.skipped
    # ... unless --since leaves that report out: not one this run could have missed.
    since = scrape(corpus, base_url=base, since=date(2024, 3, 2), **FAST)
    assert since.unknown_labels == [] and since.exit_code == 0, since.render()
    assert corpus.get_meta("last_scrape")
    assert_corpus_clean(corpus)


def test_second_run_downloads_nothing(site: Site, base: str, corpus: Corpus) -> None:
    first = scrape(corpus, base_url=base, **FAST)
    assert first.error is None and first.new
    before = len(site.file_hits())

    second = scrape(corpus, base_url=base, **FAST)

    assert second.error is None
    assert len(site.file_hits()) == before  # not one PDF fetched again
    assert second.new == [] and second.failed == []
    assert second.already_held == len(site.send_reports())
    assert "new: 0" in second.render()


def test_a_held_letter_under_a_renamed_label_is_still_found(
    site: Site, base: str, corpus: Corpus
) -> None:
    """A label renamed on the site made the council of a held letter one of the "areas
    with no SEND letter found", and its letter an unknown label."""
    scrape(corpus, base_url=base, **FAST)
    prov = next(p for p in site.providers if any(r.send for r in p.reports))
    for report in prov.reports:
        if report.send:
            report.label = "Local area partnership SEND inspection"  # not in the rule
    summary = scrape(corpus, base_url=base, **FAST)
    assert prov.name not in summary.areas_without_send
    renamed = "Local area partnership SEND inspection"
    assert not [f for f in summary.unknown_labels if f.reason == renamed]
    assert summary.new == [] and summary.already_held == len(site.send_reports())
    # A new letter under that label is still reported, not fetched.
    prov.reports.append(Report("51000009", "Local area partnership SEND inspection",
                               prov.reports[0].published, prov.reports[0].body, True))
    summary = scrape(corpus, base_url=base, **FAST)
    assert [f.file_id for f in summary.unknown_labels if f.reason == renamed] == ["51000009"]


def test_same_content_under_a_new_file_id_is_held_once(
    site: Site, base: str, corpus: Corpus
) -> None:
    scrape(corpus, base_url=base, **FAST)
    again = site.providers[2].reports[0]
    site.providers[3].reports.append(
        Report("51000000", "Area SEND full inspection", again.published, again.body, True)
    )
    summary = scrape(corpus, base_url=base, **FAST)
    assert [r.file_id for r in summary.duplicates] == ["51000000"]
    assert fetches(corpus)["51000000"]["status"] == "duplicate"
    assert len(rows(corpus, "SELECT 1 FROM letters WHERE sha256=?", sha(again.body))) == 1
    # ... and the new file id is held from now on.
    n = len(site.file_hits())
    scrape(corpus, base_url=base, **FAST)
    assert len(site.file_hits()) == n


def test_a_republished_copy_of_a_report_held_is_named_and_not_counted_twice(
    site: Site, base: str, corpus: Corpus
) -> None:
    scrape(corpus, base_url=base, **FAST)
    prov = site.providers[1]
    first = prov.reports[0]
    # The same report published again as another file: other bytes, the same inspection.
    body = Path(first.body).read_bytes() + b"\n% republished\n"
    prov.reports.append(Report("51000001", "Area SEND full inspection", first.published,
                               body, True))
    summary = scrape(corpus, base_url=base, **FAST)
    assert [r.file_id for r in summary.duplicates] == ["51000001"]
    assert len(rows(corpus, "SELECT 1 FROM letters")) == len(site.send_reports()) - 1
    text = summary.render()
    assert "/v1/file/51000001: another copy of the report on the same inspection as" in text


def test_a_report_published_again_later_replaces_the_one_held(
    site: Site, base: str, corpus: Corpus, tmp_path: Path
) -> None:
    prov = site.providers[0]
    old = next(r for r in prov.reports if r.file_id == "2701999")
    scrape(corpus, base_url=base, **FAST)
    corrected = Report("2702000", old.label, date(2017, 7, 5),
                       letter_2016_pdf(prov.name, corrected=True), True)
    prov.reports.insert(0, corrected)  # newest first, as the site lists them

    def texts(c: Corpus) -> str:
        return " ".join(r[0] for r in rows(c, "SELECT text FROM passages"))

    n_letters = len(rows(corpus, "SELECT 1 FROM letters"))
    summary = scrape(corpus, base_url=base, **FAST)
    assert [r.file_id for r in summary.replaced] == ["2702000"] and summary.new == []
    assert len(rows(corpus, "SELECT 1 FROM letters")) == n_letters
    assert "over five" in texts(corpus)
    (letter,) = rows(corpus, "SELECT * FROM letters WHERE sha256=?", sha(corrected.body))
    assert letter["published"] == "2017-07-05" and letter["source"].endswith("/2702000")
    assert fetches(corpus)["2702000"]["status"] == "replaced"
    text = summary.render()
    assert ("replaced (published again later, or in place of a file the site no longer "
            "lists, so taken for a corrected report): 1") in text
    assert f"/2702000: replaces {base}" in text
    n = len(site.file_hits())
    scrape(corpus, base_url=base, **FAST)
    assert len(site.file_hits()) == n  # held from now on
    # A first scrape that finds both holds the later one, whichever it reads first.
    others = [r for r in prov.reports if r not in (old, corrected)]
    for n_order, pair in enumerate(([corrected, old], [old, corrected])):
        prov.reports[:] = pair + others
        fresh = Corpus.open(tmp_path / f"fresh{n_order}")
        scrape(fresh, base_url=base, **FAST)
        assert "over five" in texts(fresh)
        assert len(rows(fresh, "SELECT 1 FROM letters")) == n_letters


def test_a_corrected_report_listed_in_place_of_the_first_replaces_it_on_the_same_date(
    site: Site, base: str, corpus: Corpus
) -> None:
    """The site withdrew a report and listed its corrected file under the same date: the
    new file was "another copy" and held back, so the correction was never read."""
    prov = site.providers[0]
    i, old = next((i, r) for i, r in enumerate(prov.reports) if r.file_id == "2701999")
    scrape(corpus, base_url=base, **FAST)
    prov.reports[i] = Report("2702000", old.label, old.published,
                             letter_2016_pdf(prov.name, corrected=True), True)
    summary = scrape(corpus, base_url=base, **FAST)
    assert [r.file_id for r in summary.replaced] == ["2702000"] and not summary.duplicates
    assert "over five" in " ".join(r[0] for r in rows(corpus, "SELECT text FROM passages"))
    assert not summary.no_longer_listed  # replaced: its file is listed
    # ... nor on the runs after, though the first file is still gone.
    assert not scrape(corpus, base_url=base, **FAST).no_longer_listed


def test_a_letter_imported_from_a_folder_gets_the_address_a_scrape_finds_it_at(
    site: Site, base: str, corpus: Corpus, tmp_path: Path
) -> None:
    """`export letters` could not cite where it is published, though the scrape had found
    it there; its source (the file name hand-label files name it by) stays."""
    from sendlens.export import letters_frame
    from sendlens.importer import import_paths

    prov = site.providers[0]
    old = next(r for r in prov.reports if r.file_id == "2701999")
    copy = tmp_path / "downloads" / "dorset-2016.pdf"
    copy.parent.mkdir()
    copy.write_bytes(old.body if isinstance(old.body, bytes) else old.body.read_bytes())
    import_paths(corpus, [copy], progress=False)
    assert letters_frame(corpus)["url"].isna().all()
    scrape(corpus, base_url=base, **FAST)
    letters = letters_frame(corpus).set_index("source")
    assert letters.at[str(copy), "url"] == f"{base}/v1/file/2701999"
    scraped = letters.drop(index=str(copy))
    assert (scraped["url"] == scraped.index).all()  # a scraped letter's source is its url
    # A copy of a report held back (another file, fetched in a later second) is not the
    # file the letter's text came from: it is not cited.
    letter_id = str(letters.at[str(copy), "letter_id"])
    with corpus.transaction() as con:
        con.execute("INSERT INTO fetches (file_id, url, retrieved_at, sha256, letter_id, status)"
                    " VALUES ('2799999', ?, '2999-01-01T00:00:00', 'other', ?, 'duplicate')",
                    (f"{base}/v1/file/2799999", letter_id))
    assert letters_frame(corpus).set_index("letter_id").at[letter_id, "url"] == (
        f"{base}/v1/file/2701999")


def scraped_2016_letter(site: Site, base: str, corpus: Corpus
                        ) -> tuple[Provider, int, Report, sqlite3.Row]:
    """The first council's 2016 letter (file 2701999) after a first scrape: its provider,
    its place in the provider's reports, the report, and (letter_id, area, start)."""
    prov = site.providers[0]
    i, old = next((i, r) for i, r in enumerate(prov.reports) if r.file_id == "2701999")
    scrape(corpus, base_url=base, **FAST)
    [held] = rows(corpus, "SELECT letter_id, area, inspection_start FROM letters JOIN "
                  "fetches USING (letter_id) WHERE file_id = '2701999'")
    return prov, i, old, held


def test_a_letter_the_site_no_longer_lists_is_named_and_kept(
    site: Site, base: str, corpus: Corpus
) -> None:
    """A withdrawn letter went unmentioned (its area was said to have no SEND letter while
    the corpus held one), and a report corrected under other dates was imported beside
    the first without a word: two first inspections of one area."""
    prov, i, old, (letter, area, start) = scraped_2016_letter(site, base, corpus)
    del prov.reports[i]
    summary = scrape(corpus, base_url=base, **FAST)
    said = summary.render()
    assert ("letters held whose file the site no longer lists (kept in the corpus; withdrawn "
            "or moved): 1") in said
    assert f"{area}, send_2016 of {start} (letter {letter}, was {base}" in said
    assert "corpus now holds both" not in said
    assert rows(corpus, "SELECT 1 FROM letters WHERE letter_id = ?", letter)  # kept
    # Listed again corrected, under other dates: a new letter, and the two are named.
    prov.reports.insert(i, Report("2702000", old.label, old.published, letter_2016_pdf(
        prov.name, corrected=True, week=("13 June 2016", "17 June 2016")), True))
    summary = scrape(corpus, base_url=base, **FAST)
    assert [r.file_id for r in summary.new] == ["2702000"]
    assert ("this run imported another letter of that framework for the area; if it is this "
            "report corrected under other dates, the corpus now holds both") in summary.render()


def test_a_report_corrected_under_other_dates_beside_the_first_is_said_held_twice(
    site: Site, base: str, corpus: Corpus, tmp_path: Path
) -> None:
    """The first file still listed, the corrected one (other inspection dates, published
    later) was imported as a second first inspection of the area: "new: 1", exit 0, and
    every table counted the area's report twice without a word."""
    prov, i, old, (first, area, start) = scraped_2016_letter(site, base, corpus)
    assert not corpus.close_pairs()
    prov.reports.insert(i, Report("2702000", old.label, old.published + timedelta(days=40),
                                  letter_2016_pdf(prov.name, corrected=True,
                                                  week=("13 June 2016", "17 June 2016")), True))
    summary = scrape(corpus, base_url=base, **FAST)
    [second] = [r.letter_id for r in summary.new]
    said = " ".join(summary.render().split())
    assert ("pairs of letters of one area and framework begun within 180 days of each other "
            "(perhaps one report corrected under other dates, which the tables count twice; "
            "`sendlens supersede OLD_ID --by CORRECTED_ID` takes the earlier out): 1") in said
    assert (f"{area}, send_2016: {start} (letter {first}, {base}/v1/file/2701999) and "
            f"2016-06-13 (letter {second}, {base}/v1/file/2702000)") in said
    # Said by info too, after the run.
    from typer.testing import CliRunner

    from sendlens.cli import app

    shown = " ".join(CliRunner().invoke(app, ["info", "--corpus", str(corpus.root)])
                     .output.split())
    assert (f"1 pair of letters of one area and framework begun within 180 days of each "
            f"other: {area}, send_2016: {start} (letter {first}") in shown
    # A run that brings neither says nothing of them.
    assert "within 180 days" not in scrape(corpus, base_url=base, **FAST).render()
    # A re-saved copy of the first (other bytes, same inspection) is held back as a copy.
    from sendlens.importer import import_paths

    resaved = tmp_path / "first-resaved.pdf"
    resaved.write_bytes((old.body if isinstance(old.body, bytes) else old.body.read_bytes())
                        + b"\n% saved again\n")
    [outcome] = import_paths(corpus, [resaved], progress=False).outcomes
    assert outcome.status == "duplicate"
    # The researcher keeps the corrected one; a correction saved in the app on the first
    # follows its sentence. The first letter is gone, and stays gone.
    with corpus.transaction() as con:
        pid, text = con.execute("SELECT passage_id, text FROM passages WHERE letter_id = ? "
                                "AND text IN (SELECT text FROM passages WHERE letter_id = ?) "
                                "LIMIT 1", (first, second)).fetchone()
        con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source, "
                    "created_at) VALUES (?, ?, ?, '[]', 'neutral', 'app', 'x')",
                    (pid, first, text))
    # Two inspections years apart are refused, not taken for one (an id mistyped).
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET inspection_start = '2019-06-13' WHERE letter_id = ?",
                    (second,))
    result = CliRunner().invoke(app, ["supersede", first, "--by", second,
                                      "--corpus", str(corpus.root)])
    assert result.exit_code == 2 and "not begun within 180 days" in result.output
    assert rows(corpus, "SELECT 1 FROM letters WHERE letter_id = ?", first)
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET inspection_start = '2016-06-13' WHERE letter_id = ?",
                    (second,))
    result = CliRunner().invoke(app, ["supersede", first, "--by", second,
                                      "--corpus", str(corpus.root)])
    assert result.exit_code == 0, result.output
    assert "`sendlens tag` retrains it" in " ".join(result.output.split())
    assert f"letter {first} ({area}, send_2016 of {start}" in " ".join(result.output.split())
    assert "corrections made in the app: 1 moved to the same sentence" in result.output
    # Run again (a script retrying after a kill that came just after the commit): done.
    again = CliRunner().invoke(app, ["supersede", first, "--by", second,
                                     "--corpus", str(corpus.root)])
    assert again.exit_code == 0 and "was already taken out" in again.output, again.output
    assert [r[0] for r in rows(corpus, "SELECT letter_id FROM letters WHERE area = ?",
                               area)] == [second]
    assert rows(corpus, "SELECT letter FROM labels")[0][0] == second
    assert not rows(corpus, "SELECT 1 FROM passages WHERE letter_id = ?", first)
    assert not corpus.close_pairs()
    before = len(site.file_hits())
    again = scrape(corpus, base_url=base, **FAST)
    assert not again.new and "within 180 days" not in again.render()
    assert site.file_hits()[before:] == []  # its file is not fetched again
    copy = tmp_path / "first.pdf"
    copy.write_bytes(old.body if isinstance(old.body, bytes) else old.body.read_bytes())
    [outcome] = import_paths(corpus, [copy], progress=False).outcomes
    assert outcome.status == "duplicate" and "not imported again" in outcome.reason
    # Nor its re-saved copy, though no letter of that inspection is held now: a copy of
    # the report kept.
    [outcome] = import_paths(corpus, [resaved], progress=False).outcomes
    assert outcome.status == "duplicate" and outcome.letter_id == second, outcome
    assert [r[0] for r in rows(corpus, "SELECT letter_id FROM letters WHERE area = ?",
                               area)] == [second]
    from sendlens.export import letters_frame

    assert letters_frame(corpus).set_index("letter_id").at[second, "url"].endswith("/2702000")
    # Nothing is changed for two letters of other areas, or one that is not there.
    other = rows(corpus, "SELECT letter_id FROM letters WHERE area != ? LIMIT 1", area)[0][0]
    for bad, said_ in (([second, "--by", other], "not of one area and framework"),
                       (["nope", "--by", second], "no letter nope in the corpus")):
        result = CliRunner().invoke(app, ["supersede", *bad, "--corpus", str(corpus.root)])
        assert result.exit_code == 2 and said_ in " ".join(result.output.split())
    assert rows(corpus, "SELECT count(*) FROM letters WHERE letter_id IN (?, ?)",
                second, other)[0][0] == 2


def test_supersede_undo_puts_the_letter_back_as_it_was(
    site: Site, base: str, corpus: Corpus, tmp_path: Path
) -> None:
    """A researcher who took out the wrong letter of a pair had no way back but to build
    the corpus again (losing the app's corrections on that letter)."""
    from typer.testing import CliRunner

    from sendlens.cli import app
    from sendlens.export import letters_frame
    from sendlens.importer import import_paths

    prov, i, old, (first, area, start) = scraped_2016_letter(site, base, corpus)
    prov.reports.insert(i, Report("2702000", old.label, old.published + timedelta(days=40),
                                  letter_2016_pdf(prov.name, corrected=True,
                                                  week=("13 June 2016", "17 June 2016")), True))
    [second] = [r.letter_id for r in scrape(corpus, base_url=base, **FAST).new]
    shared_sql = ("SELECT passage_id, text FROM passages WHERE letter_id = ? AND text IN "
                  "(SELECT text FROM passages WHERE letter_id = ?) ORDER BY seq LIMIT 1")
    pid, text = rows(corpus, shared_sql, first, second)[0]
    with corpus.transaction() as con:
        con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source, "
                    "created_at) VALUES (?, ?, ?, '[]', 'neutral', 'app', 'x')",
                    (pid, first, text))
    passages_sql = "SELECT passage_id, section, text FROM passages WHERE letter_id = ?"
    passages = [tuple(r) for r in rows(corpus, passages_sql, first)]
    letter_before = letters_frame(corpus).set_index("letter_id").loc[first]

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["supersede", *args, "--corpus", str(corpus.root)])

    result = run(first, "--by", second)
    assert result.exit_code == 0 and f"supersede {first} --undo" in result.output
    assert rows(corpus, "SELECT letter FROM labels")[0][0] == second
    # Its PDF stays in the store through later runs, which sweep replaced files away.
    assert not scrape(corpus, base_url=base, **FAST).new
    copy = tmp_path / "first.pdf"
    copy.write_bytes(_bytes(old.body))
    [outcome] = import_paths(corpus, [tmp_path], progress=False).outcomes
    assert outcome.status == "duplicate" and outcome.reason.endswith(
        f"(letter {first}, taken out by `supersede`: `sendlens supersede {first} --undo` "
        "puts it back)")
    shown = " ".join(CliRunner().invoke(app, ["info", "--corpus", str(corpus.root)])
                     .output.split())
    assert (f"1 letter taken out by `supersede` (earlier publications of a report held): "
            f"{first} (by {second}); `sendlens supersede LETTER_ID --undo`") in shown
    # Neither both options nor neither.
    for bad in ([first], [first, "--by", second, "--undo"]):
        result = run(*bad)
        assert result.exit_code == 2 and "give --by LETTER_ID" in result.output
    result = run(first, "--undo")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"letter {first} ({area}, send_2016 of {start}" in said
    assert "corrections made in the app: 1 back on its sentences" in said
    # The same passages, source, date and URL as before; its correction on its sentence.
    assert [tuple(r) for r in rows(corpus, passages_sql, first)] == passages
    letter_after = letters_frame(corpus).set_index("letter_id").loc[first]
    for column in ("source", "url", "published", "inspection_start", "area", "outcome",
                   "imported_at"):
        assert letter_after[column] == letter_before[column], column
    assert [tuple(r) for r in rows(corpus, "SELECT passage_id, letter FROM labels")] == [
        (pid, first)]
    assert [(r["letter_id"], r["status"]) for r in rows(
        corpus, "SELECT * FROM fetches WHERE file_id = '2701999'")] == [(first, "imported")]
    assert corpus.close_pairs()  # a pair again, named as before
    assert "taken out by" not in CliRunner().invoke(
        app, ["info", "--corpus", str(corpus.root)]).output
    # A re-scrape fetches nothing and brings no copy; the file counts as the letter's own.
    before = len(site.file_hits())
    again = scrape(corpus, base_url=base, **FAST)
    assert not again.new and site.file_hits()[before:] == []
    [outcome] = import_paths(corpus, [copy], progress=False).outcomes
    assert outcome.status == "duplicate" and outcome.letter_id == first
    assert outcome.reason == "same file already imported" or "the same file as" in outcome.reason
    assert_corpus_clean(corpus)
    # Run again: nothing to do. Then the other way round: the first kept, the second out.
    assert "nothing to do" in run(first, "--undo").output
    assert run(second, "--by", first).exit_code == 0
    # Taken out already, in favour of another letter than the one now named: said so.
    result = run(second, "--by", "0123456789ab")
    assert result.exit_code == 2 and (
        f"letter {second} was taken out already, as an earlier publication of letter "
        f"{first}'s report") in " ".join(result.output.split())
    assert [r[0] for r in rows(corpus, "SELECT letter_id FROM letters WHERE area = ?",
                               area)] == [first]
    assert run(second, "--undo").exit_code == 0
    assert len(rows(corpus, "SELECT 1 FROM letters WHERE area = ?", area)) == 2
    result = run("nope", "--undo")
    assert result.exit_code == 2 and "no letter nope was taken out" in result.output


def test_a_copy_held_back_becomes_the_text_when_the_site_withdraws_the_first_file(
    site: Site, base: str, corpus: Corpus
) -> None:
    """Both files listed on one date: the second was held back as another copy; when the
    site later listed only it, it was never read again, so the withdrawn text stayed."""
    prov = site.providers[0]
    i, old = next((i, r) for i, r in enumerate(prov.reports) if r.file_id == "2701999")
    corrected = Report("2702000", old.label, old.published,
                       letter_2016_pdf(prov.name, corrected=True), True)
    prov.reports.insert(i + 1, corrected)
    first = scrape(corpus, base_url=base, **FAST)
    assert [r.file_id for r in first.duplicates] == ["2702000"]
    prov.reports.remove(old)
    summary = scrape(corpus, base_url=base, **FAST)
    assert [r.file_id for r in summary.replaced] == ["2702000"]
    assert summary.already_held == len(site.send_reports()) - 1  # not counted twice
    assert "over five" in " ".join(r[0] for r in rows(corpus, "SELECT text FROM passages"))
    n = len(site.file_hits())
    scrape(corpus, base_url=base, **FAST)
    assert len(site.file_hits()) == n  # read again once, not on every run


def _bytes(body: bytes | Path) -> bytes:
    return body if isinstance(body, bytes) else body.read_bytes()


@pytest.mark.parametrize("copy", ["dated earlier", "the same bytes"])
def test_a_copy_the_import_would_hold_back_again_is_not_downloaded_on_every_run(
    site: Site, base: str, corpus: Corpus, copy: str
) -> None:
    # An import keeps the held letter over an earlier-dated copy, or one of the same
    # bytes, so reading that copy again on each run would only hold it back again.
    prov = site.providers[0]
    i, old = next((i, r) for i, r in enumerate(prov.reports) if r.file_id == "2701999")
    again = (Report("2702000", old.label, old.published - timedelta(days=1),
                    _bytes(old.body) + b"\n% re-saved\n", True) if copy == "dated earlier"
             else Report("2702000", old.label, old.published, _bytes(old.body), True))
    prov.reports.insert(i + 1, again)
    scrape(corpus, base_url=base, **FAST)
    assert fetches(corpus)["2702000"]["status"] == "duplicate"
    prov.reports.remove(old)
    n = len(site.file_hits())
    scrape(corpus, base_url=base, **FAST)
    assert len(site.file_hits()) == n


# --- faults --------------------------------------------------------------------------


def test_a_server_that_drips_a_file_is_given_up_on_at_the_deadline(
    site: Site, base: str, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 100 bytes every 0.2 s never trips the read timeout; the deadline was checked only
    # between 64 KB chunks, so a slow enough server held the run for hours a file.
    import scraper.scrape as scrape_module

    monkeypatch.setattr(scrape_module, "DOWNLOAD_DEADLINE", 1.0)
    dripped = site.providers[0].reports[0]
    site.always[FILE_PATH + dripped.file_id] = Fault("drip", seconds=0.2)
    started = time.monotonic()
    summary = scrape(corpus, base_url=base, areas=[site.providers[0].urn], **FAST)
    # Three tries (it may be a passing slowness) of about a second each, with waits
    # between them; the first 64 KB alone would have taken two minutes a try.
    assert time.monotonic() - started < 30
    (failure,) = summary.failed
    assert failure.file_id == dripped.file_id and "took longer than 1 s" in failure.reason
    assert_corpus_clean(corpus)


def test_a_whole_file_that_is_no_letter_is_not_fetched_again_in_the_run(
    site: Site, base: str, corpus: Corpus
) -> None:
    # A PDF that does not open (as an encrypted one) came whole: three tries, with
    # waits between, gave the same bytes three times.
    broken = site.providers[0].reports[0]
    broken.body = b"%PDF-1.4\n" + b"x" * 5000 + b"\n%%EOF\n"
    summary = scrape(corpus, base_url=base, areas=[site.providers[0].urn], **FAST)
    (failure,) = summary.failed
    assert failure.file_id == broken.file_id
    assert "the PDF does not open" in failure.reason and "attempts" not in failure.reason
    assert [h.path for h in site.file_hits()].count(FILE_PATH + broken.file_id) == 1


def test_faults_are_survived_and_bad_files_never_stored(
    site: Site, base: str, corpus: Corpus
) -> None:
    files = [p.reports[0] for p in site.providers[:6]]
    site.fault("/search", Fault("status", 429, retry_after="1"))
    site.fault(f"/provider/44/{site.providers[1].urn}", Fault("status", 503))
    site.fault(FILE_PATH + files[0].file_id, Fault("slow", seconds=1.5))  # past the timeout
    site.fault(FILE_PATH + files[1].file_id, Fault("truncate"))
    site.fault(FILE_PATH + files[2].file_id, Fault("status", 502), Fault("html"))
    site.always[FILE_PATH + files[3].file_id] = Fault("html")  # never a PDF
    site.always[FILE_PATH + files[4].file_id] = Fault("truncate_nolength")  # never whole

    started = time.monotonic()
    summary = scrape(corpus, base_url=base, **{**FAST, "timeout": (2.0, 0.5)})

    assert summary.error is None, summary.render()
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    got = fetches(corpus)
    for r in files[:3]:
        assert got[r.file_id]["status"] == "imported", got[r.file_id]["error"]
    assert got[files[5].file_id]["status"] == "imported"
    bad = {f.file_id: f.reason for f in summary.failed}
    assert set(bad) == {files[3].file_id, files[4].file_id}
    assert "HTML" in bad[files[3].file_id] and "after 3 attempts" in bad[files[3].file_id]
    assert "truncated" in bad[files[4].file_id]
    assert got[files[3].file_id]["status"] == "failed"
    assert summary.retries >= 3 and summary.exit_code == 1
    text = summary.render()
    assert "failed: 2" in text and files[3].file_id in text
    # Nothing of the bad responses reached the corpus.
    letters = {r["sha256"] for r in rows(corpus, "SELECT sha256 FROM letters")}
    assert sha(files[3].body) not in letters and sha(files[4].body) not in letters
    assert_corpus_clean(corpus)

    # Once the site is well again, the next run fetches only what failed.
    site.always.clear()
    # By start time: the timed-out request of the first run is logged when it ends.
    t0 = time.monotonic()
    summary = scrape(corpus, base_url=base, **FAST)
    assert {r.file_id for r in summary.new} == {files[3].file_id, files[4].file_id}
    assert len([h for h in site.file_hits() if h.start >= t0]) == 2
    assert_corpus_clean(corpus)


def test_a_site_that_keeps_failing_stops_with_a_summary(
    site: Site, base: str, corpus: Corpus
) -> None:
    site.always["/provider/"] = Fault("status", 503)
    summary = scrape(corpus, base_url=base, **{**FAST, "retries": 1})
    assert summary.error and "5 requests failed in a row" in summary.error
    assert "/provider/44/" in summary.error
    assert len(summary.failed) == 4  # the four before the fifth stopped the run
    assert "STOPPED" in summary.render() and summary.exit_code == 1
    assert site.file_hits() == []


def test_files_whose_transfer_keeps_breaking_stop_the_run(
    site: Site, base: str, corpus: Corpus
) -> None:
    site.always[FILE_PATH] = Fault("truncate")
    said: list[str] = []
    summary = scrape(corpus, base_url=base, log=said.append,
                     **{**FAST, "max_consecutive_failures": 2})
    assert summary.error and "2 downloads failed in a row" in summary.error
    assert "truncated: the connection broke" in summary.error
    # Each wait before a download's next attempt is said, as an HTTP retry's is: a silent
    # wait looked like a hang.
    assert any(re.search(r"^truncated: .* from http\S+/v1/file/\d+; waiting [\d.]+ s, then "
                         r"download attempt 2 of \d$", line) for line in said), said
    assert rows(corpus, "SELECT count(*) FROM letters")[0][0] == 0
    assert_corpus_clean(corpus)


def dead_links(site: Site, first_id: int) -> list[Report]:
    """Six SEND reports listed first (newest) on the first council's page, before every
    real letter; the caller makes their files fail."""
    dead = [Report(str(first_id + i), "Area SEND full inspection", date(2025, 1, 1 + i), b"",
                   True) for i in range(6)]
    site.providers[0].reports += dead
    return dead


def assert_alive_fetched(site: Site, corpus: Corpus, dead: list[Report]) -> None:
    got = fetches(corpus)
    assert all(got[r.file_id]["status"] != "failed" for r in site.send_reports()
               if r not in dead)


def test_dead_file_links_do_not_stop_the_run_and_are_tried_last(
    site: Site, base: str, corpus: Corpus
) -> None:
    dead = dead_links(site, 51000100)
    for r in dead:
        site.always[FILE_PATH + r.file_id] = Fault("status", 404)
    summary = scrape(corpus, base_url=base, **FAST)

    assert summary.error is None, summary.render()
    assert summary.exit_code == 1
    assert_alive_fetched(site, corpus, dead)
    assert {f.file_id: f.reason for f in summary.failed} == {
        r.file_id: "HTTP 404 Not Found" for r in dead}
    text = summary.render()
    # Each failure names whose letter it is, so a researcher can look it up by hand.
    council = site.providers[0].name
    assert "failed: 6" in text and (
        f"    {council}, 'Area SEND full inspection': {base}{FILE_PATH}{dead[0].file_id}: "
        "HTTP 404") in text

    # A later run fetches a new letter before trying the dead links again.
    new = Report("51000200", "Area SEND full inspection", date(2025, 2, 1),
                 site.providers[0].reports[0].body, True)
    site.providers[5].reports.append(new)
    t0 = time.monotonic()
    again = scrape(corpus, base_url=base, **FAST)
    tried = [h.path[len(FILE_PATH):] for h in sorted(site.file_hits(), key=lambda h: h.start)
             if h.start >= t0]
    assert tried == [new.file_id] + [r.file_id for r in sorted(dead, key=lambda r: r.published,
                                                               reverse=True)]
    assert again.error is None and len(again.failed) == 6


def test_files_that_loop_or_answer_501_are_dead_links_not_a_site_down(
    site: Site, base: str, corpus: Corpus
) -> None:
    # Definite answers about one file each, listed before every real letter: the session's
    # own failure count must not take them for a site that is down either.
    dead = dead_links(site, 51000300)
    for r in dead[:3]:
        site.always[FILE_PATH + r.file_id] = Fault("redirect", location=FILE_PATH + r.file_id)
    for r in dead[3:]:
        site.always[FILE_PATH + r.file_id] = Fault("status", 501)
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.error is None, summary.render()
    reasons = {f.file_id: f.reason for f in summary.failed}
    assert set(reasons) == {r.file_id for r in dead}
    assert all("redirect loop" in reasons[r.file_id] for r in dead[:3])
    assert all("HTTP 501" in reasons[r.file_id] for r in dead[3:])
    assert_alive_fetched(site, corpus, dead)


def test_files_redirected_off_the_site_are_refused_not_a_site_down(
    site: Site, base: str, corpus: Corpus
) -> None:
    # A redirect may point anywhere (another machine of the network): six files sent to
    # another port or host, listed before every real letter, are each one failure naming
    # both addresses, never fetched, and no sign of a site that is down.
    dead = dead_links(site, 51000400)
    letter = site.providers[1].reports[0]  # what the same server serves as localhost
    localhost = base.replace("127.0.0.1", "localhost")
    elsewhere = Site()
    with serve(elsewhere) as other:
        sent = {r.file_id: f"{other}{FILE_PATH}{r.file_id}" if i % 2 else
                f"{localhost}{FILE_PATH}{letter.file_id}" for i, r in enumerate(dead)}
        for file_id, to in sent.items():
            site.always[FILE_PATH + file_id] = Fault("redirect", location=to)
        # A council's page redirected off the site: that council's failure alone.
        moved = site.providers[5]
        moved_url = f"{base}/provider/44/{moved.urn}"
        site.always[f"/provider/44/{moved.urn}"] = Fault(
            "redirect", location=f"{other}/provider/44/{moved.urn}")
        summary = scrape(corpus, base_url=base, **FAST)
    assert elsewhere.hits == []
    assert [h.path for h in site.hits].count(FILE_PATH + letter.file_id) == 1  # its own
    assert summary.error is None, summary.render()
    reasons = {f.url: f.reason for f in summary.failed}
    assert reasons == {
        **{f"{base}{FILE_PATH}{i}": f"redirected to {to}, "
           f"{'another port' if to.startswith(other) else 'another host'}: not followed"
           for i, to in sent.items()},
        moved_url:
            f"redirected to {other}/provider/44/{moved.urn}, another port: not followed",
    }
    text = summary.render()
    for r in dead:
        assert (f"    {site.providers[0].name}, 'Area SEND full inspection': "
                f"{base}{FILE_PATH}{r.file_id}: redirected to {sent[r.file_id]}") in text
    assert f"    {moved.name}: {moved_url}: redirected to {other}/provider/44/" in text
    got = fetches(corpus)
    assert all(got[r.file_id]["status"] != "failed" for p in site.providers if p is not moved
               for r in p.reports if r.send and r not in dead)
    assert moved.name not in summary.areas_without_send
    assert summary.exit_code == 1


def test_a_site_that_answers_every_file_with_a_page_stops(
    site: Site, base: str, corpus: Corpus
) -> None:
    # A maintenance page for every URL: no file has come whole, so the files that are
    # not PDFs say the site is not well, and the run stops instead of trying them all.
    site.always[FILE_PATH] = Fault("html")
    summary = scrape(corpus, base_url=base, **{**FAST, "max_consecutive_failures": 2})
    assert summary.error and "2 downloads failed in a row" in summary.error, summary.render()
    assert "HTML" in summary.error
    assert len(summary.failed) == 2
    assert rows(corpus, "SELECT count(*) FROM letters")[0][0] == 0


def test_changed_search_page_is_an_error_naming_the_url(
    site: Site, base: str, corpus: Corpus
) -> None:
    site.structure = "no-provider-links"
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.error and f"{base}/search?" in summary.error
    assert "start=0" in summary.error and "no provider links" in summary.error
    assert summary.exit_code == 1 and site.file_hits() == []


def test_changed_provider_page_is_an_error_naming_the_url(
    site: Site, base: str, corpus: Corpus
) -> None:
    site.structure = "no-publication-class"
    summary = scrape(corpus, base_url=base, **FAST)
    # Every council's page so: one page is that council's failure, the first three in a
    # row a changed site, which stops the run.
    assert summary.error and "3 provider pages in a row" in summary.error
    assert f"{base}/provider/44/{site.providers[2].urn}" in summary.error
    assert "publication-link" in summary.error
    assert [f.url for f in summary.failed] == [
        f"{base}/provider/44/{p.urn}" for p in site.providers[:3]]
    assert site.file_hits() == []


def test_robots_txt_is_obeyed(site: Site, base: str, corpus: Corpus) -> None:
    blocked = site.providers[0].reports[0].file_id
    site.robots = f"User-agent: *\nDisallow: {FILE_PATH}{blocked}\n"
    summary = scrape(corpus, base_url=base, **FAST)
    assert blocked not in {h.path[len(FILE_PATH) :] for h in site.file_hits()}
    assert [f.file_id for f in summary.failed] == [blocked]
    assert "robots.txt" in summary.failed[0].reason


# --- politeness, measured on the server ------------------------------------------------


def test_politeness_one_at_a_time_with_the_delay(
    manifest: list[ManifestRow], tmp_path: Path
) -> None:
    site = build_site(manifest[:3], decoys=True)
    delay = 0.2
    with serve(site) as base:
        summary = scrape(
            Corpus.open(tmp_path / "c"), base_url=base, **{**FAST, "delay": delay, "rows": 2}
        )
    assert summary.error is None and len(summary.new) == 3
    hits = sorted(site.hits, key=lambda h: h.start)
    assert len(hits) >= 10
    # From the moment each answer began to go out (its end is stamped after the last
    # write, which a busy machine may delay past the client's next step) to the next
    # request's arrival: at least the delay, however busy the machine.
    gaps = [b.start - a.answered for a, b in zip(hits, hits[1:], strict=False)]
    rate = (len(hits) - 1) / (hits[-1].start - hits[0].start)
    print(f"politeness: {len(hits)} requests, {rate:.2f} req/s, min gap {min(gaps):.3f} s")
    assert site.max_in_flight == 1
    assert min(gaps) >= delay
    assert rate <= 1 / delay
    assert {h.user_agent for h in hits} == {
        "sendlens/0.1.0 (+https://github.com/sendlens/sendlens)"
    }


# --- interruption ----------------------------------------------------------------------

RUNNER = textwrap.dedent(
    """
    import sys
    from scraper.scrape import scrape
    from sendlens.store import Corpus
    summary = scrape(Corpus.open(sys.argv[1]), base_url=sys.argv[2], delay=0, progress=False,
                     rows=3, extra_providers=False)
    print(summary.render())
    """
)


def test_a_killed_run_resumes_without_loss_or_duplicates(
    site: Site, base: str, tmp_path: Path
) -> None:
    site.file_delay = 0.4  # slow files, so the kill lands mid-run
    path = tmp_path / "corpus"
    corpus = Corpus.open(path)
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(path), base],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            done = rows(corpus, "SELECT count(*) FROM fetches WHERE status='imported'")[0][0]
            if done >= 1:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    kept = {r["sha256"] for r in rows(corpus, "SELECT sha256 FROM letters")}
    assert 1 <= len(kept) < len(site.send_reports())

    site.file_delay = 0
    t0 = time.monotonic()
    summary = scrape(corpus, base_url=base, **FAST)

    assert summary.error is None and summary.failed == []
    got = fetches(corpus)
    assert set(got) == {r.file_id for r in site.send_reports()}
    assert all(r["status"] in {"imported", "duplicate", "skipped"} for r in got.values())
    # Only what was not finished before the kill was fetched again (at most one extra:
    # the letter imported just before its fetch row could be written).
    refetched = len([h for h in site.file_hits() if h.start >= t0])
    assert refetched <= len(site.send_reports()) - len(kept) + 1
    letters = rows(corpus, "SELECT sha256 FROM letters")
    assert len(letters) == len({r["sha256"] for r in letters})
    assert kept <= {r["sha256"] for r in letters}
    assert_corpus_clean(corpus)


def test_a_term_signal_stops_the_command_like_ctrl_c(site: Site, base: str, tmp_path: Path) -> None:
    """`kill`, `timeout` and job schedulers send TERM: the run stops at a safe point with
    its summary, and leaves no partial download."""
    site.file_delay = 0.4
    path = tmp_path / "corpus"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sendlens.cli", "scrape", "--base-url", base, "--delay", "0",
         "-q", "--corpus", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if (path / "sendlens.db").exists() and rows(
                        Corpus(path), "SELECT count(*) FROM letters")[0][0] >= 1:
                    break
            except sqlite3.OperationalError:
                pass  # the run has made the file but not its tables yet
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "STOPPED: interrupted (Ctrl-C or a TERM signal)" in err and "new: " in err
    assert not list((path / "tmp").glob("*.part"))
    assert_corpus_clean(Corpus(path))


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: nothing is refused")
def test_a_second_scrape_of_a_corpus_is_refused_before_any_request(
    site: Site, base: str, corpus: Corpus
) -> None:
    with Corpus.open(corpus.root).scrape_lock():  # another run's hold on it
        with pytest.raises(CorpusError, match="another `sendlens scrape` is running"):
            scrape(corpus, base_url=base, **FAST)
        assert site.hits == []
        # Listing what would be fetched writes nothing, so it may run beside it.
        assert scrape(corpus, base_url=base, dry_run=True, **FAST).would_download
    assert len(scrape(corpus, base_url=base, **FAST).new) == len(site.send_reports())


def interrupted_on_call(n: int, real: Any) -> Any:
    """`real`, except that its n-th call raises KeyboardInterrupt (a Ctrl-C there)."""
    calls = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return wrapper


def test_ctrl_c_keeps_what_was_imported(
    site: Site, base: str, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scraper.scrape as mod

    monkeypatch.setattr(mod, "download_to", interrupted_on_call(3, mod.download_to))
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.error and "interrupted" in summary.error and summary.exit_code == 130
    assert len(summary.new) == 2
    assert rows(corpus, "SELECT count(*) FROM letters")[0][0] == 2
    assert_corpus_clean(corpus)


def test_ctrl_c_while_importing_leaves_no_partial_download(
    site: Site, base: str, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped between a file's download and its import: the downloaded copy is not left
    in the corpus's tmp folder."""
    import sendlens.importer as mod

    monkeypatch.setattr(mod, "import_pdf", interrupted_on_call(2, mod.import_pdf))
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.error and "interrupted" in summary.error
    assert len(summary.new) == 1
    assert_corpus_clean(corpus)


def test_ctrl_c_while_listing_reports_the_letters_found_so_far(
    site: Site, base: str, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scraper.scrape as mod

    monkeypatch.setattr(mod.site, "parse_provider_page",
                        interrupted_on_call(4, mod.site.parse_provider_page))
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.exit_code == 130 and summary.providers_seen == 3
    # It said "SEND letters found: 0" beside the other reports it had counted.
    assert 0 < summary.send_found < len(site.send_reports())
    assert f"SEND letter files found: {summary.send_found}" in summary.render()


# --- choosing what to fetch -------------------------------------------------------------


def test_dry_run_lists_but_fetches_and_stores_nothing(
    site: Site, base: str, corpus: Corpus
) -> None:
    summary = scrape(corpus, base_url=base, dry_run=True, **FAST)
    assert summary.error is None
    assert len(summary.would_download) == len(site.send_reports())
    assert site.file_hits() == [] and fetches(corpus) == {}
    assert "would download: 7" in summary.render()


def test_since_and_areas_narrow_the_scrape(site: Site, base: str, corpus: Corpus) -> None:
    pick = site.providers[:2]
    summary = scrape(corpus, base_url=base, areas=[pick[0].name.upper(), pick[1].urn], **FAST)
    assert {r.provider_urn for r in summary.new} == {pick[0].urn, pick[1].urn}
    visited = {h.path for h in site.hits if h.path.startswith("/provider/")}
    assert visited == {f"/provider/44/{p.urn}" for p in pick}

    cutoff = date(2024, 6, 1)
    summary = scrape(corpus, base_url=base, since=cutoff, dry_run=True, **FAST)
    expect = {
        r.file_id for p in site.providers[2:] for r in p.reports if r.send and r.published >= cutoff
    }
    assert {r.file_id for r in summary.would_download} == expect
    assert summary.before_since > 0

    summary = scrape(corpus, base_url=base, areas=["Nowhereshire"], dry_run=True, **FAST)
    assert summary.unmatched_areas == ["Nowhereshire"]
    assert summary.exit_code == 1  # a mistyped area is not "no letters published"
    assert "did you mean" not in summary.render()  # nothing near it
    typo = (pick[0].name[:-1] + pick[0].name[-1] * 2).lower()  # "dorsett"
    summary = scrape(corpus, base_url=base, areas=[typo], dry_run=True, **FAST)
    assert f"--area matched no provider: {typo} (did you mean {pick[0].name}?)" in \
        summary.render()


def test_an_area_asked_for_by_its_place_name_finds_a_former_councils_record() -> None:
    """--area Dorset takes the record the extra providers name "Dorset County Council"
    (the words a council's name carries are not part of the place)."""
    assert sitemod.matches_area(["Dorset"], "80463", sitemod.EXTRA_PROVIDERS["80463"])
    assert sitemod.matches_area(["cumbria"], "80457", "Cumbria County Council")
    assert sitemod.matches_area(["Kensington & Chelsea"], None, "Kensington and Chelsea")
    assert not sitemod.matches_area(["Dorset"], "80555", "Somerset County Council")


def test_a_letter_listed_on_two_provider_pages_is_fetched_once(
    site: Site, base: str, corpus: Corpus
) -> None:
    # One report on the pages of two providers (a council's two records): one download.
    shared = next(r for r in site.providers[0].reports if r.send)
    site.providers[1].reports.append(shared)
    summary = scrape(corpus, base_url=base, dry_run=True, **FAST)
    ids = [r.file_id for r in summary.would_download]
    assert ids.count(shared.file_id) == 1 and len(ids) == len(set(ids))


def test_since_keeps_the_letters_published_on_that_day(
    site: Site, base: str, corpus: Corpus
) -> None:
    # --since 2024-06-01 means from that day on: a letter published on it is fetched.
    report = max((r for p in site.providers[2:] for r in p.reports if r.send),
                 key=lambda r: r.published)
    summary = scrape(corpus, base_url=base, since=report.published, dry_run=True, **FAST)
    assert report.file_id in {r.file_id for r in summary.would_download}


@pytest.mark.parametrize("detail", ["{label}, PDF - {when}", "{label}, pdf \u2013 {when}",
                                    "{label}, PDF, 2.1MB - {when}",
                                    "{label}, pdf - {day} Sept {year}"])
def test_other_wordings_of_the_publication_date_are_read(
    site: Site, base: str, corpus: Corpus, detail: str
) -> None:
    """A date missed (", PDF - ...", an en dash) left the letter undated: --since kept
    every letter of 2017-2024, and the corpus had no publication dates, without a word."""
    site.detail = detail
    for prov in site.providers:
        for r in prov.reports:
            if "Sept" in detail:
                r.published = r.published.replace(month=9)
    cutoff = date(2024, 6, 1)
    summary = scrape(corpus, base_url=base, since=cutoff, dry_run=True, **FAST)
    assert summary.would_download and all(r.published and r.published >= cutoff.isoformat()
                                          for r in summary.would_download)
    assert summary.before_since > 0 and summary.undated_with_since == 0


def test_letters_whose_date_cannot_be_read_are_counted_when_since_is_given(
    site: Site, base: str, corpus: Corpus
) -> None:
    site.detail = "{label}, published recently"
    summary = scrape(corpus, base_url=base, since=date(2024, 6, 1), dry_run=True, **FAST)
    assert summary.undated_with_since == summary.send_found > 0
    assert (f"with no publication date the scraper could read, so kept whatever --since "
            f"says: {summary.send_found}") in summary.render()


def test_labels_config_extends_the_rule(
    site: Site, base: str, corpus: Corpus, tmp_path: Path
) -> None:
    cfg = tmp_path / "labels.toml"
    cfg.write_text('[[send]]\nframework = "monitoring_2023"\npattern = "SEND interim visit"\n')
    summary = scrape(corpus, base_url=base, labels_config=cfg, dry_run=True, **FAST)
    assert "50999001" in {r.file_id for r in summary.would_download}
    assert summary.unknown_labels == []


def test_label_rule_defaults_and_config_files(tmp_path: Path) -> None:
    rule = sitemod.load_label_rule()
    assert rule.classify("Area SEND full inspection") == ("send", "area_send_2023")
    assert rule.classify("Area SEND monitoring inspection") == ("send", "monitoring_2023")
    assert rule.classify("Local area SEND revisit") == ("send", "revisit_2018")
    assert rule.classify("Joint local area SEND inspection") == ("send", "send_2016")
    assert rule.classify("Local area special educational needs and/or disabilities inspection") == (
        "send",
        "send_2016",
    )
    assert rule.classify("Joint area child protection inspection") == ("other", None)
    assert rule.classify("Children's services focused visit") == ("other", None)
    assert rule.classify("SEND thematic review") == ("unknown", None)

    yml = tmp_path / "labels.yaml"
    yml.write_text("ignore:\n  - pattern: SEND thematic review\n")
    assert sitemod.load_label_rule(yml).classify("SEND thematic review") == ("other", None)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[send]]\npattern = "(unclosed"\n')
    with pytest.raises(sitemod.LabelsConfigError, match="bad.toml.*bad regular expression"):
        sitemod.load_label_rule(bad)
    # A misspelt key, a file that is not UTF-8 or not there: named, not ignored.
    bad.write_text('[[sned]]\npattern = "area SEND interim visit"\n')
    with pytest.raises(sitemod.LabelsConfigError,
                       match=r"bad.toml: unknown key 'sned'; did you mean 'send'\?"):
        sitemod.load_label_rule(bad)
    bad.write_bytes(b'[[send]]\npattern = "caf\xe9"\n')
    with pytest.raises(sitemod.LabelsConfigError, match=r"labels config .*bad.toml, line 2: "
                       r"not UTF-8 text \(byte 0xe9\)"):
        sitemod.load_label_rule(bad)
    with pytest.raises(sitemod.LabelsConfigError, match=r"nope.toml: no such file"):
        sitemod.load_label_rule(tmp_path / "nope.toml")


def test_reports_beside_the_send_letters_are_not_taken_for_them() -> None:
    """The rules ask for SEND (or its words) as well as the kind of visit: a children's
    services report sharing a word with a rule is no letter, and a SEND visit no rule
    names is reported, not filed under another framework."""
    rule = sitemod.load_label_rule()
    for label in ("Monitoring visit of local authority children's services",
                  "Children's services monitoring visit"):
        assert rule.classify(label) == ("other", None), label
    assert rule.classify("Area SEND interim visit") == ("unknown", None)
    assert rule.classify("Local area SEND re-visit") == ("send", "revisit_2018")


def test_a_labels_config_refines_or_replaces_the_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "labels.toml"
    # Its rules are tried before the defaults, so they can file a label elsewhere.
    cfg.write_text('[[send]]\nframework = "pilot_2024"\npattern = "^Area SEND full"\n')
    rule = sitemod.load_label_rule(cfg)
    assert rule.classify("Area SEND full inspection") == ("send", "pilot_2024")
    assert rule.classify("Joint local area SEND inspection") == ("send", "send_2016")
    assert rule.extra_providers == sitemod.EXTRA_PROVIDERS
    # replace_defaults: its rules alone, and none of the default provider pages or files.
    cfg.write_text('replace_defaults = true\n[[send]]\nframework = "pilot_2024"\n'
                   'pattern = "^Area SEND full"\n')
    rule = sitemod.load_label_rule(cfg)
    assert rule.classify("Joint local area SEND inspection") == ("unknown", None)
    assert dict(rule.extra_providers) == {} and dict(rule.extra_files) == {}


def test_labels_config_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "l.toml"
    cfg.write_text('[[extra_providers]]\nurn = "999"\nname = "Extrashire"\n')
    monkeypatch.setenv("SENDLENS_LABELS_CONFIG", str(cfg))
    assert sitemod.load_label_rule().extra_providers["999"] == "Extrashire"


# --- the other sources -------------------------------------------------------------------


def test_gov_uk_page_supplies_the_2016_letters(site: Site, base: str, corpus: Corpus) -> None:
    site.attachments = [
        Attachment(
            "537527",
            "Joint_local_area_SEND_inspection_in_Bolton.pdf",
            "Joint local area SEND inspection in Bolton",
            letter_2016_pdf("Bolton"),
        ),
        Attachment(  # an address of GOV.UK's asset manager since 2023
            "5a80b2c4ed915d74e33fb6a1",
            "Herefordshire_LA_SEND_Inspection_letter.pdf",
            "Herefordshire local area SEND inspection letter",
            letter_2016_pdf("Herefordshire", weak=True),
            media=True,
        ),
        # Titled in words the Ofsted site's label rules do not call SEND: every attachment
        # of that page is a SEND letter all the same.
        Attachment("537528", "Harrowdale.pdf", "Harrowdale letter",
                   letter_2016_pdf("Harrowdale")),
        # A file name with an escaped "&", or a replaced file's suffix: the title names
        # the area; without a title's words, the file name does, as it was meant.
        Attachment("537529", "Joint_local_area_SEND_inspection_in_Brighton_%26_Hove.pdf",
                   "Joint local area SEND inspection in Brighton & Hove",
                   letter_2016_pdf("Brighton and Hove")),
        Attachment("537530", "Joint_local_area_SEND_inspection_in_Kingston_upon_Hull_-_revised"
                   ".pdf", "Kingston upon Hull: letter", letter_2016_pdf("Kingston upon Hull")),
    ]
    summary = scrape(corpus, base_url=base, gov_uk_url=f"{base}{GOV_UK_PAGE}", **FAST)
    assert summary.error is None, summary.render()
    got = fetches(corpus)
    assert got["govuk-537527"]["council"] == "Bolton"
    assert got["govuk-5a80b2c4ed915d74e33fb6a1"]["council"] == "Herefordshire"
    assert got["govuk-537529"]["council"] == "Brighton & Hove"
    assert got["govuk-537530"]["council"] == "Kingston upon Hull"
    # The title read, not the thumbnail's empty link before it.
    assert got["govuk-537527"]["label"] == "Joint local area SEND inspection in Bolton"
    assert got["govuk-537527"]["url"].endswith(
        "/537527/Joint_local_area_SEND_inspection_in_Bolton.pdf"
    )
    assert all(got[f]["status"] != "failed"
               for f in ("govuk-537527", "govuk-5a80b2c4ed915d74e33fb6a1", "govuk-537528"))
    # Imported as 2016-framework letters, read into their sections: the judgement and the
    # strengths and areas for development a researcher compares across frameworks.
    with corpus.reading() as con:
        letters = {r["area"]: dict(r) for r in con.execute(
            "SELECT area, framework, outcome, n_passages FROM letters")}
        sections = {tuple(r) for r in con.execute(
            "SELECT l.area, p.section FROM passages p JOIN letters l USING (letter_id)")}
    assert {a: (letters[a]["framework"], letters[a]["outcome"])
            for a in ("Bolton", "Herefordshire")} == {
        "Bolton": ("send_2016", "no_wsoa"), "Herefordshire": ("send_2016", "wsoa_required")}
    assert all(letters[a]["n_passages"] >= 6 for a in ("Bolton", "Herefordshire")), letters
    assert {("Bolton", "strengths"), ("Bolton", "weaknesses"),
            ("Herefordshire", "weaknesses")} <= sections
    # An area only the GOV.UK page has is matched, not reported as unknown.
    only = scrape(corpus, base_url=base, gov_uk_url=f"{base}{GOV_UK_PAGE}",
                  areas=["Herefordshire"], dry_run=True, **FAST)
    assert only.unmatched_areas == [] and only.exit_code == 0, only.render()
    # --since after the GOV.UK years skips the page entirely.
    n = len(site.hits)
    scrape(corpus, base_url=base, gov_uk_url=f"{base}{GOV_UK_PAGE}", since=date(2020, 1, 1), **FAST)
    assert GOV_UK_PAGE not in {h.path for h in site.hits[n:]}


@pytest.mark.parametrize(("file_name", "title", "area"), [
    ("x.pdf", "Joint local area SEND inspection in Kingston upon Hull - revised",
     "Kingston upon Hull"),
    ("x.pdf", "Joint local area SEND inspection in Bury (updated)", "Bury"),
    ("x.pdf", "Joint local area SEND inspection in Bury: revised letter", "Bury"),
    ("x.pdf", "Joint local area SEND inspection in Brighton & Hove", "Brighton & Hove"),
    ("Joint_local_area_SEND_inspection_in_Brighton_%26_Hove.pdf", "", "Brighton & Hove"),
    ("Joint_local_area_SEND_inspection_in_Kingston_upon_Hull_-_revised.pdf", "",
     "Kingston upon Hull"),
    ("Herefordshire_LA_SEND_Inspection_letter.pdf", "Letter", "Herefordshire"),
])
def test_a_gov_uk_attachments_area_is_its_name_without_a_revision_note(
        file_name: str, title: str, area: str) -> None:
    assert sitemod.gov_uk_area(file_name, title) == area


def test_a_gov_uk_letter_whose_link_changed_form_is_not_downloaded_again(
        site: Site, base: str, corpus: Corpus) -> None:
    # GOV.UK moved attachments from attachment_data/file/<6 digits>/ to media/<hex>/: the
    # same file under a new id. Held, it must not be fetched again.
    name = "Joint_local_area_SEND_inspection_in_Bolton.pdf"
    body = letter_2016_pdf("Bolton")
    site.attachments = [Attachment("537527", name, "Joint local area SEND inspection in "
                                   "Bolton", body)]
    gov = f"{base}{GOV_UK_PAGE}"
    first = scrape(corpus, base_url=base, gov_uk_url=gov, **FAST)
    assert fetches(corpus)["govuk-537527"]["status"] == "imported", first.render()
    site.attachments = [Attachment("5a80b2c4ed915d74e33fb6a2", name, "Joint local area SEND "
                                   "inspection in Bolton", body, media=True)]
    n = len(site.file_hits())
    again = scrape(corpus, base_url=base, gov_uk_url=gov, **FAST)
    assert len(site.file_hits()) == n and not again.new, again.render()
    assert "govuk-5a80b2c4ed915d74e33fb6a2" not in fetches(corpus)
    # Another letter under a new name is still fetched.
    site.attachments.append(Attachment("537531", "Joint_local_area_SEND_inspection_in_Bury.pdf",
                                       "Joint local area SEND inspection in Bury",
                                       letter_2016_pdf("Bury")))
    third = scrape(corpus, base_url=base, gov_uk_url=gov, **FAST)
    assert [r.file_id for r in third.new] == ["govuk-537531"], third.render()


def test_an_unresolvable_gov_uk_host_is_one_failure_not_offline(
    site: Site, base: str, corpus: Corpus
) -> None:
    summary = scrape(corpus, base_url=base, gov_uk_url="http://govuk.invalid/letters", **FAST)
    assert summary.error is None and summary.exit_code == 1
    assert len(summary.new) == len(site.send_reports())  # the Ofsted site's letters all came
    text = summary.render()
    assert "cannot resolve the host name 'govuk.invalid'" in text and "before 2017" in text
    assert not summary.offline and "If you are offline" not in text


@pytest.mark.parametrize("fault", ["no attachments", "HTTP 500"])
def test_a_gov_uk_page_that_fails_leaves_the_ofsted_letters_to_download(
    site: Site, base: str, corpus: Corpus, fault: str
) -> None:
    interim = site.providers[1].reports.pop()  # its unknown label alone would exit 1
    assert interim.label == "Area SEND interim visit"
    if fault == "HTTP 500":
        site.attachments = [Attachment("537527", "Joint_local_area_SEND_inspection_in_Bolton.pdf",
                                       "Joint local area SEND inspection in Bolton",
                                       letter_2016_pdf("Bolton"))]
        site.fault(GOV_UK_PAGE, *[Fault("status", status=500)] * 5)  # every retry too
    summary = scrape(corpus, base_url=base, gov_uk_url=f"{base}{GOV_UK_PAGE}", **FAST)
    assert summary.error is None and summary.exit_code == 1
    assert len(summary.new) == len(site.send_reports())
    (failure,) = summary.failed
    assert failure.url == f"{base}{GOV_UK_PAGE}" and failure.council == "GOV.UK"
    assert ("attachment" if fault == "no attachments" else "HTTP 500") in failure.reason
    # The next run, with the page mended, fetches only the GOV.UK letters.
    site.faults.clear()
    site.attachments = [Attachment("537527", "Joint_local_area_SEND_inspection_in_Bolton.pdf",
                                   "Joint local area SEND inspection in Bolton",
                                   letter_2016_pdf("Bolton"))]
    again = scrape(corpus, base_url=base, gov_uk_url=f"{base}{GOV_UK_PAGE}", **FAST)
    assert (len(again.new), again.already_held, again.exit_code) == (1, len(summary.new), 0), \
        again.render()


def test_a_former_councils_letters_are_fetched_and_filed_under_it(
    site: Site, base: str, corpus: Corpus
) -> None:
    # The old Dorset County Council's record, which the search of current councils does
    # not list: its 2016 letter is fetched, and filed under the county (835), not under
    # today's Dorset Council (838), whose short name it shares.
    today = site.providers[0]
    assert today.name == "Dorset"
    old = Provider("80463", "Dorset County Council", listed=False)
    # The site fixture's 2016 Dorset letter moves to the old county's page.
    [letter] = [r for r in today.reports if r.file_id == "2701999"]
    today.reports.remove(letter)
    old.reports.append(letter)
    site.providers.append(old)
    summary = scrape(corpus, base_url=base, **{**FAST, "extra_providers": True})
    assert summary.error is None, summary.render()
    fetched = fetches(corpus)["2701999"]
    assert fetched["status"] == "imported"
    with corpus.reading() as con:
        old_county = con.execute("SELECT area, la_code, ofsted_urn FROM letters WHERE "
                                 "letter_id = ?", (fetched["letter_id"],)).fetchone()
        today = con.execute("SELECT la_code FROM letters WHERE area = 'Dorset' AND "
                            "letter_id != ?", (fetched["letter_id"],)).fetchall()
    assert tuple(old_county) == ("Dorset County Council", "835", "80463")
    assert [r[0] for r in today] == ["838"]  # the 2024 report of the site's current Dorset


def test_a_known_letter_file_no_page_lists_is_fetched(
    site: Site, base: str, corpus: Corpus, tmp_path: Path
) -> None:
    # As the former Northamptonshire's 2017 letter: its council is gone from the search,
    # no provider record of it is known, and the ADCS summary links the file alone.
    gone = Provider("99990", "Northamptonshire", listed=False)  # its page is never read
    gone.reports.append(Report("2704231", "Joint local area SEND inspection",
                               date(2017, 7, 22), letter_2016_pdf(
                                   "Northamptonshire", week=("15 May 2017", "19 May 2017")),
                               True))
    site.providers.append(gone)
    # The default list's file is on the real site's file host: not asked of this one.
    scrape(corpus, base_url=base, areas=["Northamptonshire"], dry_run=True,
           **{**FAST, "extra_providers": True})
    assert not [h for h in site.hits if h.path.endswith("/2704231")]
    cfg = tmp_path / "labels.toml"
    cfg.write_text(f'[[extra_files]]\nurl = "{base}/v1/file/2704231"\n'
                   'council = "Northamptonshire"\npublished = "2017-07-22"\n')
    found = scrape(corpus, base_url=base, areas=["Northamptonshire"], dry_run=True,
                   labels_config=cfg, **{**FAST, "extra_providers": True})
    assert found.unmatched_areas == [] and [r.url for r in found.would_download] == [
        f"{base}/v1/file/2704231"], found.render()
    summary = scrape(corpus, base_url=base, labels_config=cfg,
                     **{**FAST, "extra_providers": True})
    # (The site's unknown "interim visit" label keeps the run's exit code at 1.)
    assert summary.error is None and not summary.failed, summary.render()
    fetched = fetches(corpus)["2704231"]
    assert fetched["status"] == "imported" and fetched["published"] == "2017-07-22"
    with corpus.reading() as con:
        letter = con.execute("SELECT area, la_code, framework FROM letters WHERE "
                             "letter_id = ?", (fetched["letter_id"],)).fetchone()
    assert tuple(letter) == ("Northamptonshire", "928", "send_2016")
    # Held now: a re-scrape does not fetch it again.
    n = len(site.file_hits())
    again = scrape(corpus, base_url=base, labels_config=cfg,
                   **{**FAST, "extra_providers": True})
    assert not again.failed and len(site.file_hits()) == n, again.render()


def test_a_bad_extra_file_entry_is_refused_by_name(tmp_path: Path) -> None:
    cfg = tmp_path / "labels.toml"
    cfg.write_text('[[extra_files]]\nurl = "https://example.org/letter.pdf"\ncouncil = "X"\n')
    with pytest.raises(sitemod.LabelsConfigError, match="labels.toml.*no Ofsted file address"):
        sitemod.load_label_rule(cfg)
    cfg.write_text('[[extra_files]]\nurl = "https://files.ofsted.gov.uk/v1/file/1"\n')
    with pytest.raises(sitemod.LabelsConfigError, match="needs a 'url' and a 'council'"):
        sitemod.load_label_rule(cfg)


def test_second_provider_records_are_read_when_they_exist(
    site: Site, base: str, corpus: Corpus
) -> None:
    barnet = Provider("302", "Barnet", listed=False)
    barnet.reports.append(
        Report(
            "2680001",
            "Local area SEND inspection",
            date(2017, 5, 1),
            letter_2016_pdf("Barnet"),
            True,
        )
    )
    site.providers.append(barnet)
    summary = scrape(corpus, base_url=base, **{**FAST, "extra_providers": True})
    assert summary.error is None
    assert summary.extra_providers_found == 1
    assert len(summary.extra_providers_missing) == len(sitemod.EXTRA_PROVIDERS) - 1
    assert fetches(corpus)["2680001"]["provider_urn"] == "302"
    missing = len(sitemod.EXTRA_PROVIDERS) - 1
    # Not "24 not found", which read as 24 failures.
    assert (f"(+1 from councils' second provider records; {missing} second provider "
            "records known from elsewhere, not listed on this site)") in summary.render()
    # Asked for by the second record's code: matched there, not reported as unknown.
    again = scrape(corpus, base_url=base, areas=["302"], dry_run=True,
                   **{**FAST, "extra_providers": True})
    assert again.unmatched_areas == [] and again.exit_code == 0, again.render()


# --- scale --------------------------------------------------------------------------------


@pytest.mark.real
def test_all_55_real_letters(manifest: list[ManifestRow], tmp_path: Path) -> None:
    assert len(manifest) == 55
    site = build_site(manifest)
    corpus = Corpus.open(tmp_path / "c")
    started = time.monotonic()
    with serve(site) as base:
        summary: ScrapeSummary = scrape(corpus, base_url=base, **{**FAST, "rows": 20})
        took = time.monotonic() - started
        print(f"all 55: {took:.1f} s, {summary.requests} requests")
        assert summary.error is None and summary.failed == []
        assert len(summary.new) == 55
        assert len([h for h in site.hits if h.path == "/search"]) == 4
        again = scrape(corpus, base_url=base, **{**FAST, "rows": 20})
    assert again.already_held == 55 and again.new == []
    assert len(site.file_hits()) == 55  # how fast: python bench/scrape_local.py


def test_a_bad_base_url_is_a_clear_error(corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="--base-url 'reports.ofsted.gov.uk' is not an http"):
        scrape(corpus, base_url="reports.ofsted.gov.uk", **FAST)


def test_an_unreachable_site_is_a_clear_stop(corpus: Corpus) -> None:
    with serve(Site()) as base:
        pass  # the port is free again: nothing listens there now
    summary = scrape(corpus, base_url=base, **{**FAST, "retries": 1})
    assert summary.error and f"{base}/robots.txt" in summary.error
    assert "connection refused by 127.0.0.1:" in summary.error and summary.exit_code == 1
    # The network works: no advice to import offline instead.
    assert not summary.offline and "If you are offline" not in summary.render()


def test_retry_skipped_fetches_again_what_an_older_version_could_not_import(
    site: Site, base: str, corpus: Corpus
) -> None:
    scrape(corpus, base_url=base, **FAST)
    # As if an older parser had declined this letter: fetched, recorded, not imported.
    report = site.providers[2].reports[0]
    with corpus.transaction() as con:  # foreign keys on: sections and passages go too
        con.execute("DELETE FROM letters WHERE sha256 = ?", (sha(report.body),))
        con.execute("UPDATE fetches SET status = 'skipped', letter_id = NULL,"
                    " error = 'not a SEND letter' WHERE file_id = ?", (report.file_id,))
    corpus.pdf_path_for(sha(report.body)).unlink()
    before = len(site.file_hits())

    plain = scrape(corpus, base_url=base, **FAST)
    assert len(site.file_hits()) == before and plain.new == []

    retried = scrape(corpus, base_url=base, retry_skipped=True, **FAST)
    assert retried.error is None, retried.render()
    assert [h.path[len(FILE_PATH):] for h in site.file_hits()[before:]] == [report.file_id]
    assert [r.file_id for r in retried.new] == [report.file_id]
    assert fetches(corpus)[report.file_id]["status"] == "imported"
    assert rows(corpus, "SELECT 1 FROM letters WHERE sha256 = ?", sha(report.body))
    assert_corpus_clean(corpus)


def test_files_downloaded_but_not_imported_are_listed_on_every_run(corpus: Corpus) -> None:
    site = declined_file_site()
    hint = (
        "downloaded but not imported (not fetched again unless you run with "
        "--retry-skipped, e.g. after upgrading sendlens): 1"
    )
    with serve(site) as base:
        declined = f"{base}{FILE_PATH}50999101"
        first = scrape(corpus, base_url=base, **FAST)
        assert [r.url for r in first.new] == [f"{base}{FILE_PATH}50999100"]
        assert first.exit_code == 1  # a letter missing from the corpus, as import says
        assert hint in first.render()
        assert f"    {declined}: not a SEND inspection letter" in first.render()

        again = scrape(corpus, base_url=base, **FAST)
        dry = scrape(corpus, base_url=base, dry_run=True, **FAST)
        assert len(site.file_hits()) == 2  # neither run fetched anything again
        assert again.exit_code == 0  # nothing went wrong in this run
        for summary in (again, dry):
            text = summary.render()
            assert "files already held: 2 (1 of them never imported, listed below)" in text
            assert hint in text
            listed = [line for line in text.splitlines() if declined in line]
            assert len(listed) == 1, text
            assert listed[0].startswith(f"    {declined}: not a SEND inspection letter")
            assert "(downloaded 20" in listed[0]
            assert f"{FILE_PATH}50999100" not in text  # the imported letter is not listed

        # --retry-skipped downloads it again: listed once, as this run's.
        retried = scrape(corpus, base_url=base, retry_skipped=True, **FAST)
        text = retried.render()
        assert len(site.file_hits()) == 3
        assert retried.held_unimported == [] and hint in text
        assert [line for line in text.splitlines() if declined in line] == [
            f"    {declined}: {retried.skipped[0].error}"
        ]


# --- transport problems, per page and per file -------------------------------------------


def test_transport_problems_are_reported_per_page_and_per_file(
    site: Site, base: str, corpus: Corpus
) -> None:
    files = [p.reports[0] for p in site.providers[:6]]
    # A provider page cut off mid-body once: read again, its letter imported.
    site.fault(f"/provider/44/{site.providers[0].urn}", Fault("truncate"))
    # A file behind one redirect: followed (through robots.txt and the throttle).
    moved = FILE_PATH + files[1].file_id
    site.fault(moved, Fault("redirect", location=moved))
    # A redirect loop, a body that is not the gzip it claims, and a link that is no URL.
    loop = FILE_PATH + files[2].file_id
    site.always[loop] = Fault("redirect", location=loop)
    site.always[FILE_PATH + files[3].file_id] = Fault("bad_gzip")
    # Links off the site (no URL at all; another host of this machine, which a hostile
    # page could point anywhere on the network): reported, never requested.
    bad_url = "http://files..ofsted.gov.uk/v1/file/51000300"
    site.providers[4].reports.append(
        Report("51000300", "Area SEND full inspection", date(2025, 1, 1), b"", True,
               href=bad_url))
    elsewhere = base.replace("127.0.0.1", "localhost") + FILE_PATH + "51000302"
    assert elsewhere != f"{base}{FILE_PATH}51000302"
    site.providers[4].reports.append(
        Report("51000302", "Area SEND full inspection", date(2025, 1, 3), b"", True,
               href=elsewhere))
    # A file redirected to an address that is not there: the summary names that address.
    site.providers[5].reports.append(
        Report("51000301", "Area SEND full inspection", date(2025, 1, 2), b"", True))
    gone = f"{base}/gone/51000301"
    site.always[FILE_PATH + "51000301"] = Fault("redirect", location="/gone/51000301")

    summary = scrape(corpus, base_url=base, **FAST)

    assert summary.error is None, summary.render()
    got = fetches(corpus)
    for r in (files[0], files[1], files[4], files[5]):
        assert got[r.file_id]["status"] == "imported", got[r.file_id]["error"]
    bad = {f.url: f.reason for f in summary.failed}
    assert set(bad) == {f"{base}{loop}", f"{base}{FILE_PATH}{files[3].file_id}",
                        f"{base}{FILE_PATH}51000301"}
    assert {f.url for f in summary.unrecognised_links} == {bad_url, elsewhere}
    assert not [h for h in site.hits if "51000302" in h.path]
    assert bad[f"{base}{FILE_PATH}51000301"] == f"HTTP 404 Not Found (after a redirect to {gone})"
    assert bad[f"{base}{loop}"].startswith("redirected more than 5 times (a redirect loop?)")
    assert "compressed body is broken" in bad[f"{base}{FILE_PATH}{files[3].file_id}"]
    assert summary.exit_code == 1
    text = summary.render()
    assert "whose link is not to a file address sendlens knows (not downloaded): 2" in text
    assert f"'Area SEND full inspection' for {site.providers[4].name}: {elsewhere}" in text
    assert_corpus_clean(corpus)


def test_a_compressed_pdf_is_received_whole(site: Site, base: str, corpus: Corpus) -> None:
    files = [p.reports[0] for p in site.providers[:2]]
    site.always[FILE_PATH + files[0].file_id] = Fault("gzip")  # compressed if accepted
    site.always[FILE_PATH + files[1].file_id] = Fault("gzip_always")  # compressed anyway
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.error is None and summary.failed == [], summary.render()
    got = fetches(corpus)
    assert all(got[r.file_id]["status"] == "imported" for r in files)
    assert all(got[r.file_id]["sha256"] == sha(r.body) for r in files)
    assert {h.accept_encoding for h in site.file_hits()} == {"identity"}


def test_length_messages_say_what_was_received_and_announced(tmp_path: Path) -> None:
    path = tmp_path / "f.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"x" * 2000 + b"\n%%EOF\n")
    size = path.stat().st_size
    with pytest.raises(BadDownload, match=rf"^truncated: {size} bytes received, "
                       rf"{size + 10} announced \(Content-Length\)$"):
        check_pdf(path, size + 10)
    with pytest.raises(BadDownload, match=rf"^longer than announced: {size} bytes received, "
                       rf"{size - 10} announced"):
        check_pdf(path, size - 10)


def test_what_an_import_warns_of_is_in_the_scrape_summary(
    manifest: list[ManifestRow], tmp_path: Path
) -> None:
    """A file of two letters bound together, served as one report: the import's warning
    that only the first is read reaches the scrape's summary."""
    import pypdfium2 as pdfium

    bound = pdfium.PdfDocument.new()
    for row in manifest[:2]:
        bound.import_pages(pdfium.PdfDocument(str(row.path)))
    path = tmp_path / "bound.pdf"
    bound.save(str(path))
    site = build_site(manifest[:1], decoys=False)
    site.providers[0].reports[0].body = path
    with serve(site) as base:
        summary = scrape(Corpus.open(tmp_path / "c"), base_url=base, **FAST)
    assert len(summary.new) == 1
    text = summary.render()
    assert "imported with a warning: 1" in text
    assert f"{manifest[0].area}, 'Area SEND full inspection': " in text
    assert "it seems to hold 2 letters" in text


def test_a_full_disk_stops_the_scrape_with_its_summary(
    site: Site, base: str, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import scraper.scrape as mod

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")  # as a write gives it

    monkeypatch.setattr(mod, "download_to", _nth_call(2, mod.download_to, full))
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.error and "No space left on device; what was imported is kept" in \
        summary.error
    assert summary.exit_code == 2 and len(summary.new) == 1  # as import: not 1, a letter missed
    assert "STOPPED: " in summary.render()
    assert_corpus_clean(corpus)


def _nth_call(n: int, real: Any, instead: Any) -> Any:
    calls = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return instead(*args, **kwargs) if calls["n"] == n else real(*args, **kwargs)

    return wrapper


def test_an_empty_or_broken_transfer_says_what_arrived(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(BadDownload, match=r"^an empty response \(0 bytes\)$"):
        check_pdf(empty)
    # A small file cut off half way: the bytes that came, not whole 64 KB chunks ("0").
    body = b"%PDF-1.4\n" + b"x" * 20000
    site = Site(providers=[Provider("80454", "Cornwall", [
        Report("1000", "Area SEND full inspection", date(2025, 1, 1), body, True)])])
    site.fault(FILE_PATH + "1000", Fault("truncate"))
    with serve(site) as base, pytest.raises(BadDownload) as broke:
        download_to(build_session(delay=0), f"{base}{FILE_PATH}1000", tmp_path / "f.part")
    assert str(broke.value) == (f"truncated: the connection broke after {len(body) // 2} "
                                f"bytes of the {len(body)} announced")


def test_a_longer_crawl_delay_is_in_the_summary() -> None:
    text = ScrapeSummary(delay_asked=0.5, delay_used=10).render()
    assert ("robots.txt asked for 10 s between requests (Crawl-delay), more than --delay 0.5: "
            "waited that") in text
    assert "Crawl-delay" not in ScrapeSummary(delay_asked=1, delay_used=1).render()


# --- listing ------------------------------------------------------------------------------


def test_a_search_page_link_that_names_no_provider_is_no_council() -> None:
    page = ('<a href="/provider/44/80454">Cornwall</a>'
            '<a href="/provider/help">About provider pages</a>'
            '<a href="/provider/44/80454/">Cornwall</a>')
    links = sitemod.parse_search_page(page, "https://reports.example/search?start=0")
    assert [(p.urn, p.name) for p in links] == [("80454", "Cornwall")]


def test_a_site_that_caps_pages_below_rows_loses_no_council(
    site: Site, base: str, corpus: Corpus
) -> None:
    site.search_cap = 2  # we ask for 3 a page
    summary = scrape(corpus, base_url=base, dry_run=True, **FAST)
    assert summary.error is None and summary.providers_seen == 7
    assert "providers seen: 7" in summary.render()


@pytest.mark.parametrize("cap", [100, 2])
def test_a_provider_link_on_every_search_page_skips_no_council(
    site: Site, base: str, corpus: Corpus, cap: int
) -> None:
    # Counted as a result, it moved each next page on one council too far, and the
    # last pages (that link alone) stopped the run as "the search ignores 'start'".
    site.search_cap = cap  # we ask for 3 a page
    site.search_aside = [site.providers[5]]
    summary = scrape(corpus, base_url=base, dry_run=True, **FAST)
    assert summary.error is None, summary.render()
    assert summary.providers_seen == 7


@pytest.mark.parametrize("ctype", ["text/html", "text/html; charset=utf-8"])
def test_a_page_with_no_charset_in_its_type_is_read_as_utf8(
    site: Site, base: str, corpus: Corpus, ctype: str
) -> None:
    # requests reads a text type with no charset as Latin-1: "BÃ³rough of TÃ«st".
    site.providers[0].name = "Bórough of Tëst"
    site.always["/search"] = Fault("ctype", ctype=ctype)
    summary = scrape(corpus, base_url=base, dry_run=True, **FAST)
    assert summary.error is None, summary.render()
    assert "Bórough of Tëst" in {r.council for r in summary.would_download}


def test_a_search_that_ignores_start_stops_the_run(
    site: Site, base: str, corpus: Corpus
) -> None:
    site.search_cap = 2
    site.search_ignores_start = True  # every page the first: most councils never listed
    summary = scrape(corpus, base_url=base, dry_run=True, **FAST)
    assert summary.error and "the search ignores 'start'" in summary.error


def test_empty_and_non_html_provider_pages_are_reported_not_fatal(
    site: Site, base: str, corpus: Corpus
) -> None:
    emptied = site.providers[1:4]
    for p in emptied:
        p.reports = []
    odd = site.providers[4]
    site.always[f"/provider/44/{odd.urn}"] = Fault("ctype", ctype="application/json")
    summary = scrape(corpus, base_url=base, **FAST)

    assert summary.error is None, summary.render()
    assert summary.empty_providers[:3] == [f"{p.name} ({p.urn})" for p in emptied]
    (failure,) = summary.failed
    assert failure.url == f"{base}/provider/44/{odd.urn}"
    assert failure.reason == "expected an HTML page, got application/json"
    kept = [site.providers[0], site.providers[5]]
    assert {r.provider_urn for r in summary.new} == {p.urn for p in kept}
    assert summary.exit_code == 1
    text = summary.render()
    assert f"    {odd.name}: {base}/provider/44/{odd.urn}: expected an HTML page" in text
    # Its page could not be read: that is not "no SEND letter found" for the council.
    assert odd.name not in summary.areas_without_send

    # Before any page has listed a report, a run of empty pages still means a change.
    for p in site.providers:
        p.reports = []
    stopped = scrape(corpus, base_url=base, **FAST)
    assert stopped.error and "3 provider pages in a row were empty or unreadable" in stopped.error


def test_send_links_to_unknown_addresses_are_reported_and_gov_uk_ones_fetched(
    site: Site, base: str, corpus: Corpus
) -> None:
    elsewhere = "https://example.org/letters/send-letter.pdf"
    site.providers[2].reports.append(
        Report("x1", "Local area SEND inspection", date(2017, 5, 1), b"", True, href=elsewhere))
    site.attachments = [Attachment("537527", "Joint_local_area_SEND_inspection_in_Bolton.pdf",
                                   "Joint local area SEND inspection in Bolton",
                                   letter_2016_pdf("Bolton"))]
    site.providers[3].reports.append(Report(
        "x2", "Local area SEND inspection", date(2016, 7, 1), b"", True,
        href=f"{base}{GOV_UK_FILES}537527/Joint_local_area_SEND_inspection_in_Bolton.pdf"))
    summary = scrape(corpus, base_url=base, **FAST)

    assert summary.error is None, summary.render()
    assert [(f.url, f.reason) for f in summary.unrecognised_links] == [
        (elsewhere, "Local area SEND inspection")]
    text = summary.render()
    assert f"'Local area SEND inspection' for {site.providers[2].name}: {elsewhere}" in text
    assert fetches(corpus)["govuk-537527"]["status"] != "failed"
    # A letter not fetched: not "all well", nor a council with no SEND letter.
    assert summary.exit_code == 1
    assert site.providers[2].name not in summary.areas_without_send


def test_a_council_whose_only_report_links_elsewhere_does_not_stop_the_run(
    site: Site, base: str, corpus: Corpus
) -> None:
    # Its page then has publication links but none to a file: read as a changed page,
    # it stopped the whole run before any other council's letters, on every run.
    elsewhere = "https://example.org/letters/send-letter.pdf"
    odd = site.providers[1]
    odd.reports = [Report("x1", "Local area SEND inspection", date(2017, 5, 1), b"", True,
                          href=elsewhere)]
    summary = scrape(corpus, base_url=base, **FAST)

    assert summary.error is None, summary.render()
    others = {p.urn for p in site.providers if p is not odd and any(r.send for r in p.reports)}
    assert {r.provider_urn for r in summary.new} == others
    (failure,) = summary.failed
    assert failure.url == f"{base}/provider/44/{odd.urn}" and "none links to" in failure.reason
    assert [(f.url, f.council) for f in summary.unrecognised_links] == [(elsewhere, odd.name)]
    assert odd.name not in summary.areas_without_send
    assert summary.exit_code == 1


def test_the_gov_uk_page_is_read_however_the_real_site_is_spelt() -> None:
    from scraper.scrape import gov_uk_page_for

    for spelt in ("https://reports.ofsted.gov.uk", "https://reports.ofsted.gov.uk/",
                  "HTTPS://Reports.Ofsted.gov.uk:443/"):
        assert gov_uk_page_for(spelt) == sitemod.GOV_UK_PUBLICATION_URL, spelt
    assert gov_uk_page_for("http://127.0.0.1:8000/") is None


# --- temporary files ------------------------------------------------------------------------


def test_another_scrapes_partial_downloads_are_left_alone(
    site: Site, base: str, corpus: Corpus
) -> None:
    import fcntl

    tmp = corpus.tmp_dir
    first = site.providers[0].reports[0].file_id
    # What another live run is writing (the name this run once used for the same file),
    # held locked as that run holds it; and what a killed run left.
    live = tmp / f"scrape-{first}.part"
    live.write_bytes(b"%PDF-1.4 half of it")
    stale = tmp / "scrape-12345.part"
    stale.write_bytes(b"%PDF-1.4 left by a killed run")
    with live.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        summary = scrape(corpus, base_url=base, **FAST)
        assert live.read_bytes() == b"%PDF-1.4 half of it"
    assert summary.error is None and summary.failed == [], summary.render()
    assert fetches(corpus)[first]["status"] == "imported"
    assert not stale.exists()
    scrape(corpus, base_url=base, **FAST)  # no run holds it now: cleared
    assert_corpus_clean(corpus)


def test_a_runs_own_partial_download_is_locked_against_another_runs_tidying(
    corpus: Corpus
) -> None:
    from scraper.scrape import _clear_stale_tmp, _new_tmp, _unlock

    mine, lock = _new_tmp(corpus.tmp_dir, "2701999")
    mine.write_bytes(b"%PDF-1.4 half of it")
    _clear_stale_tmp(corpus)  # what a second scrape does as it starts
    assert mine.read_bytes() == b"%PDF-1.4 half of it"
    _unlock(lock)  # the run ended (or was killed): nobody holds it now
    _clear_stale_tmp(corpus)
    assert not mine.exists()


def test_half_written_copies_in_the_store_are_cleared_by_a_scrape(
    site: Site, base: str, corpus: Corpus
) -> None:
    left = corpus.pdf_dir / "ab" / ".partial-k1ll3d.tmp"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"%PDF-1.4 half")
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.error is None
    assert not left.exists()
    assert_corpus_clean(corpus)


def test_a_stored_pdf_is_synced_before_and_after_its_rename(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        synced.append("folder" if stat.S_ISDIR(mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    data = b"%PDF-1.4 " + b"x" * 2000
    path = corpus.store_pdf(data, hashlib.sha256(data).hexdigest())
    assert path.read_bytes() == data
    assert synced == ["file", "folder"]


def test_a_file_id_too_long_for_a_file_name_is_downloaded_not_a_traceback(
    site: Site, base: str, corpus: Corpus
) -> None:
    # A link to /v1/file/<300 digits>: the temporary file named after it was longer than
    # a file name may be (OSError: [Errno 36] File name too long), and the run died.
    long_id = "7" * 300
    council = Provider("80998", "Longshire")
    council.reports.append(Report(long_id, "Joint local area SEND inspection", date(2017, 6, 21),
                                  letter_2016_pdf("Longshire"), True))
    site.providers.append(council)
    summary = scrape(corpus, base_url=base, **FAST)
    assert summary.error is None and summary.failed == [], summary.render()
    assert fetches(corpus)[long_id]["status"] == "imported"
    assert_corpus_clean(corpus)


def test_a_content_length_of_other_digits_is_no_error(site: Site, tmp_path: Path) -> None:
    # "Content-Length: ²" (byte 0xB2) passed str.isdigit() and failed int(): the scrape
    # stopped at once with "error: invalid literal for int() with base 10: '²'", exit 2.
    body = _bytes(site.providers[0].reports[0].body)
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n"
              b"Content-Length: \xb2\r\nConnection: close\r\n\r\n" + body)
    with serve_raw(answer) as raw:
        session = build_session(delay=0, obey_robots=False)
        digest, size = download_to(session, f"{raw}{FILE_PATH}1000", tmp_path / "f.part")
    assert (digest, size) == (sha(body), len(body))


def test_a_redirect_that_names_no_address_says_so(site: Site, base: str,
                                                  corpus: Corpus) -> None:
    # A 302 without a Location was reported as a bare "HTTP 302 Found".
    first = site.providers[0].reports[0].file_id
    site.fault(FILE_PATH + first, Fault("redirect", location=""))
    summary = scrape(corpus, base_url=base, **FAST)
    assert (f"{FILE_PATH}{first}: HTTP 302 Found, a redirect that names no address "
            "(no Location header)") in summary.render(), summary.render()


def test_a_search_link_to_another_host_is_not_followed(
    site: Site, base: str, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A redirect to another host is refused, but a council linked from the search page
    # at another address (http://10.0.0.5/...) was requested there, robots.txt first.
    import sitefixture

    first = site.providers[0]
    real = sitefixture._Handler._search

    def elsewhere(self: Any, s: Site, query: dict[str, list[str]]) -> str:
        return real(self, s, query).replace(f'href="/provider/44/{first.urn}"',
                                            f'href="http://other.invalid/provider/44/{first.urn}"')

    monkeypatch.setattr(sitefixture._Handler, "_search", elsewhere)
    summary = scrape(corpus, base_url=base, **FAST)
    assert (f"{first.name}: http://other.invalid/provider/44/{first.urn}: linked from the "
            "search page, another host: not followed") in summary.render(), summary.render()
    assert summary.error is None
