"""`sendlens scrape` through the command line, against the local copy of the site."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_shared
from sitefixture import (
    FILE_PATH,
    Fault,
    build_site,
    declined_file_site,
    read_manifest,
    serve,
)
from typer.testing import CliRunner

from sendlens.cli import app
from sendlens.store import Corpus


def test_scrape_command_imports_then_fetches_nothing_new(tmp_path: Path) -> None:
    site = build_site(read_manifest(require_shared("letters"))[:3])
    corpus_dir = tmp_path / "corpus"
    runner = CliRunner()
    with serve(site) as base:
        args = ["scrape", "--base-url", base, "--delay", "0", "-q", "--corpus", str(corpus_dir)]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        letters = Corpus.open(corpus_dir).counts()["letters"]
        assert letters == 3
        files_before = len(site.file_hits())
        again = runner.invoke(app, args)
        assert again.exit_code == 0, again.output
        assert len(site.file_hits()) == files_before, "a re-run downloaded a PDF again"
    assert Corpus.open(corpus_dir).counts()["letters"] == 3
    assert Corpus.open(corpus_dir).get_meta("last_scrape")


def test_since_keeps_later_letters_and_names_a_bad_date(tmp_path: Path) -> None:
    rows = read_manifest(require_shared("letters"))[:4]
    since = sorted(r.published for r in rows)[2]
    later = sum(r.published >= since for r in rows)
    runner = CliRunner()
    bad = runner.invoke(app, ["scrape", "--since", "2024-13-01", "--corpus", str(tmp_path)])
    assert bad.exit_code == 2
    assert "'2024-13-01' is not a date: write it as YYYY-MM-DD" in bad.output
    with serve(build_site(rows)) as base:
        result = runner.invoke(app, ["scrape", "--base-url", base, "--delay", "0", "-q",
                                     "--since", since.isoformat(),
                                     "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert 0 < later < len(rows)
    assert Corpus.open(tmp_path / "c").counts()["letters"] == later


def test_area_scrapes_only_the_councils_named(tmp_path: Path) -> None:
    rows = read_manifest(require_shared("letters"))[:3]
    site = build_site(rows)
    with serve(site) as base:
        result = CliRunner().invoke(app, ["scrape", "--base-url", base, "--delay", "0", "-q",
                                          "--area", rows[1].area,
                                          "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    with Corpus.open(tmp_path / "c").reading() as con:
        assert [r[0] for r in con.execute("SELECT ofsted_urn FROM letters")] == [rows[1].urn]


def test_timeout_bounds_the_wait_for_a_response_that_stalls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # --timeout is how long a response may go without data: a file stalled past it is
    # asked for again (and counted), not waited for.
    import scraper.scrape

    # No 2 s back-off before the retry: the timeout is what is tested.
    real = scraper.scrape.build_session
    monkeypatch.setattr(scraper.scrape, "build_session",
                        lambda **kw: real(**{**kw, "backoff": 0.0}))
    site = build_site(read_manifest(require_shared("letters"))[:1])
    site.fault(FILE_PATH + site.providers[0].reports[0].file_id, Fault("slow", seconds=1.5))
    with serve(site) as base:
        result = CliRunner().invoke(app, ["scrape", "--base-url", base, "--delay", "0", "-q",
                                          "--timeout", "1", "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "(retries 1)" in result.output
    assert Corpus.open(tmp_path / "c").counts()["letters"] == 1


def test_bad_base_url_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["scrape", "--base-url", "ftp://example", "--corpus", str(tmp_path / "c")]
    )
    assert result.exit_code == 2
    assert "ftp://example" in result.output
    # A URL Python cannot split said only "Invalid IPv6 URL", naming neither.
    result = CliRunner().invoke(
        app, ["scrape", "--base-url", "http://[::1", "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert "--base-url 'http://[::1' is not a URL: Invalid IPv6 URL" in result.output


@pytest.mark.parametrize("url", ["http://alice:s3cret@127.0.0.1:9/",
                                 "http://alice:s3cret@[::1/"])
def test_a_password_in_the_base_url_is_refused_and_not_printed(tmp_path: Path,
                                                                 url: str) -> None:
    # It was printed in every error naming a URL, and the files' links went without it.
    result = CliRunner().invoke(app, ["scrape", "--base-url", url, "--delay", "0",
                                      "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 2, result.output
    assert "s3cret" not in result.output
    assert "alice:***@" in result.output
    assert not (tmp_path / "c").exists()
    result = CliRunner().invoke(app, ["scrape", "--base-url", "http://alice@127.0.0.1:9/",
                                      "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 2, result.output
    assert "holds a user name or password: sendlens does not log in" in result.output


def test_every_run_names_the_files_it_holds_but_could_not_import(tmp_path: Path) -> None:
    runner = CliRunner()
    with serve(declined_file_site()) as base:
        args = ["scrape", "--base-url", base, "--delay", "0", "-q",
                "--corpus", str(tmp_path / "corpus")]
        declined = f"{base}{FILE_PATH}50999101"
        # The run that downloaded it says a letter is missing (exit 1, as `import` does);
        # a re-run that went well is 0, though it names the file again.
        for run, code in (("first", 1), ("plain re-run", 0)):
            result = runner.invoke(app, args)
            assert result.exit_code == code, (run, result.output)
            assert "--retry-skipped, e.g. after upgrading sendlens): 1" in result.output, run
            assert f"{declined}: not a SEND inspection letter" in result.output, run
        assert "files already held: 2 (1 of them never imported, listed below)" in result.output


def test_info_counts_only_the_files_downloaded(tmp_path: Path) -> None:
    # A file the site would not give (404) was counted as "downloaded", and one that
    # was not a letter was counted without a word.
    from datetime import date

    from sitefixture import Report, letter_2016_pdf

    site = declined_file_site()
    site.providers[0].reports.append(Report("50999102", "Joint local area SEND revisit",
                                            date(2019, 3, 1), letter_2016_pdf("Testshire"),
                                            True))
    site.always[f"{FILE_PATH}50999102"] = Fault("status", 404)
    runner = CliRunner()
    corpus = tmp_path / "corpus"
    with serve(site) as base:
        runner.invoke(app, ["scrape", "--base-url", base, "--delay", "0", "-q",
                            "--corpus", str(corpus)])
    info = runner.invoke(app, ["info", "--corpus", str(corpus)]).output
    assert ("files downloaded by `sendlens scrape`: 2 (1 of them not letters sendlens could "
            "read); 1 could not be downloaded (tried again at the next scrape); last scrape "
            f"finished {date.today().year}-") in info


def test_a_dry_run_lists_the_letters_and_leaves_no_corpus_behind(tmp_path: Path) -> None:
    corpus_dir = tmp_path / "corpus"
    with serve(declined_file_site()) as base:
        result = CliRunner().invoke(app, ["scrape", "--dry-run", "--base-url", base, "--delay",
                                          "0", "-q", "--corpus", str(corpus_dir)])
    assert result.exit_code == 0, result.output
    assert "would download: 2" in result.output
    assert not corpus_dir.exists()


def test_a_first_scrape_that_fetches_nothing_leaves_no_corpus(tmp_path: Path) -> None:
    # Offline or a mistyped --base-url: `info` would otherwise report an empty corpus.
    fresh = tmp_path / "corpus"
    result = CliRunner().invoke(app, ["scrape", "--base-url", "http://reports.invalid",
                                      "-q", "--corpus", str(fresh)])
    assert "cannot resolve the host name 'reports.invalid'" in result.output
    assert "If you are offline, import the PDFs you have instead: `sendlens import FOLDER`" \
        in result.output
    assert "no corpus was left at" in result.output
    assert not fresh.exists()
    # A corpus that was there before is never removed, even an empty one.
    from sendlens.store import Corpus

    Corpus.open(tmp_path / "kept")
    result = CliRunner().invoke(app, ["scrape", "--base-url", "http://reports.invalid",
                                      "-q", "--corpus", str(tmp_path / "kept")])
    assert "no corpus was left" not in result.output
    assert (tmp_path / "kept" / "sendlens.db").is_file()
    # Refused before any request: the error alone, no word of fetching, and no corpus.
    result = CliRunner().invoke(app, ["scrape", "--labels-config", str(tmp_path / "no.toml"),
                                      "-q", "--corpus", str(fresh)])
    assert result.exit_code == 2
    assert f"labels config {tmp_path / 'no.toml'}: no such file" in result.output
    assert "fetched" not in result.output and not fresh.exists()
    assert "no corpus was left" not in result.output  # nothing was tried: the error alone


def test_a_first_scrape_that_fetched_only_a_file_it_could_not_import_keeps_the_corpus(
        tmp_path: Path) -> None:
    # The download is recorded there: removed, the next run would fetch it again and no
    # run would name it.
    site = declined_file_site()
    del site.providers[0].reports[0]  # the declined file alone
    corpus_dir = tmp_path / "corpus"
    args = ["scrape", "--delay", "0", "-q", "--corpus", str(corpus_dir)]
    with serve(site) as base:
        first = CliRunner().invoke(app, [*args, "--base-url", base])
        assert first.exit_code == 1, first.output
        assert "no corpus was left" not in first.output
        assert (corpus_dir / "sendlens.db").is_file()
        hits = len(site.file_hits())
        again = CliRunner().invoke(app, [*args, "--base-url", base])
        assert len(site.file_hits()) == hits
    assert "files already held: 1 (1 of them never imported" in again.output


def test_retries_and_waits_are_told_unless_quiet(tmp_path: Path) -> None:
    site = build_site(read_manifest(require_shared("letters"))[:1])
    runner = CliRunner()
    with serve(site) as base:
        for quiet in (False, True):
            site.fault("/search", Fault("status", 429, retry_after="1"))
            args = ["scrape", "--base-url", base, "--delay", "0",
                    "--corpus", str(tmp_path / "corpus")] + (["-q"] if quiet else [])
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
            told = (f"HTTP 429 Too Many Requests from {base}/search?" in result.output
                    and "; waiting 2 s (Retry-After: 1 s), then retry 1 of 4" in result.output)
            assert told is not quiet, result.output
            assert "requests: " in result.output and "(retries 1)" in result.output


@pytest.mark.parametrize(("option", "value"), [("--delay", "inf"), ("--delay", "1e308"),
                                               ("--timeout", "1e12")])
def test_a_delay_or_timeout_too_long_to_wait_is_refused(tmp_path: Path, option: str,
                                                        value: str) -> None:
    # Taken, then "OverflowError: timestamp out of range for platform time_t" at the first
    # wait or request: a traceback.
    result = CliRunner().invoke(app, ["scrape", "--base-url", "http://127.0.0.1:9", option,
                                      value, "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("empty", ["", " "])
def test_an_empty_base_url_is_refused_not_the_real_site(tmp_path: Path, empty: str) -> None:
    # `--base-url "$MIRROR"` with MIRROR unset scraped the real Ofsted site instead.
    result = CliRunner().invoke(app, ["scrape", "--base-url", empty, "--delay", "0",
                                      "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 2, result.output
    assert f"--base-url {empty!r} is not an http(s) URL with a host" in result.output
    assert "ofsted.gov.uk" not in result.output and not (tmp_path / "c").exists()
