"""`sendlens import`: content addressing, bad input, transactions, resuming."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from appserver import served_app
from sitefixture import letter_2016_pdf
from typer.testing import CliRunner

from sendlens.cli import app
from sendlens.importer import import_paths, import_pdf
from sendlens.store import SCHEMA_VERSION, Corpus, CorpusError, database_problem


@pytest.fixture()
def corpus(tmp_path: Path) -> Corpus:
    return Corpus.open(tmp_path / "corpus")


def _letter_count(corpus: Corpus) -> int:
    return corpus.counts()["letters"]


def test_a_letter_from_before_a_reorganisation_is_filed_under_the_council_of_its_day(
    tmp_path: Path,
) -> None:
    # "Dorset" inspected in June 2016 is the old county council (835), not today's
    # Dorset Council (838), which took over in April 2019; a letter an older sendlens
    # filed under today's council is filed again by --reparse.
    pdf = tmp_path / "dorset-2016.pdf"
    pdf.write_bytes(letter_2016_pdf("Dorset"))
    root, runner, corpus = _cli_import([pdf], tmp_path)
    with corpus.reading() as con:
        assert tuple(con.execute("SELECT area, la_code FROM letters").fetchone()) == (
            "Dorset County Council", "835")
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET area = 'Dorset', la_code = '838', parser_version = '4'")
    result = runner.invoke(app, ["import", "--reparse", "--corpus", str(root), "-q"])
    assert result.exit_code == 0, result.output
    with corpus.reading() as con:
        assert tuple(con.execute("SELECT area, la_code FROM letters").fetchone()) == (
            "Dorset County Council", "835")
    # The move changes a row of every table by area: the summary says so.
    assert ("dorset-2016.pdf is now filed under Dorset County Council (was Dorset)"
            in result.stderr)


def test_a_letter_from_before_parser_versions_were_kept_is_read_again_by_reparse(
    tmp_path: Path,
) -> None:
    # The first sendlens kept no parser version (NULL): such letters are the oldest read,
    # and --reparse must read them again too, not only those of a known older version.
    pdf = tmp_path / "testshire.pdf"
    pdf.write_bytes(letter_2016_pdf("Testshire"))
    root, runner, corpus = _cli_import([pdf], tmp_path)
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET parser_version = NULL")
    result = runner.invoke(app, ["import", "--reparse", "--corpus", str(root), "-q"])
    assert result.exit_code == 0, result.output
    with corpus.reading() as con:
        assert con.execute("SELECT parser_version FROM letters").fetchone()[0] is not None


def test_info_counts_the_letters_not_tagged_once_each(tmp_path: Path) -> None:
    pdfs = []
    for area in ("Testshire", "Dorset"):
        pdfs.append(tmp_path / f"{area}.pdf")
        pdfs[-1].write_bytes(letter_2016_pdf(area))
    root, runner, corpus = _cli_import(pdfs, tmp_path)
    with corpus.transaction() as con:
        _tag_every_passage(con)
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages "
                    "WHERE letter_id = (SELECT min(letter_id) FROM letters))")
        untagged = con.execute("SELECT count(*) FROM passages p LEFT JOIN tags t "
                               "USING (passage_id) WHERE t.passage_id IS NULL").fetchone()[0]
    assert untagged > 1
    result = runner.invoke(app, ["info", "--corpus", str(root)])
    assert result.exit_code == 0, result.output
    assert f"{untagged} passages of 1 letter " in " ".join(result.output.split())


def test_a_reading_sees_one_state_of_the_corpus_while_an_import_commits(
    tmp_path: Path,
) -> None:
    # A table made of several queries (letters, then their cells) must not count a letter
    # an import committed between them in one query and not in the other.
    pdfs = []
    for area in ("Testshire", "Dorset"):
        pdfs.append(tmp_path / f"{area}.pdf")
        pdfs[-1].write_bytes(letter_2016_pdf(area))
    corpus = Corpus.open(tmp_path / "corpus")
    import_pdf(corpus, pdfs[0])
    with corpus.reading() as con:
        before = con.execute("SELECT count(*) FROM letters").fetchone()[0]
        assert import_pdf(corpus, pdfs[1]).status == "imported"
        assert con.execute("SELECT count(*) FROM letters").fetchone()[0] == before == 1
    assert corpus.counts()["letters"] == 2


def test_import_with_reparse_also_reads_again_the_letters_already_held(
    tmp_path: Path,
) -> None:
    # `import NEW.pdf --reparse`: the new file, then the held letters an older sendlens read.
    old, new = tmp_path / "dorset-2016.pdf", tmp_path / "testshire.pdf"
    old.write_bytes(letter_2016_pdf("Dorset"))
    new.write_bytes(letter_2016_pdf("Testshire"))
    root, runner, corpus = _cli_import([old], tmp_path)
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET area = 'Dorset', la_code = '838', parser_version = '4'")
    result = runner.invoke(app, ["import", str(new), "--reparse", "--corpus", str(root), "-q"])
    assert result.exit_code == 0, result.output
    assert "imported 1" in result.output
    assert "dorset-2016.pdf is now filed under Dorset County Council (was Dorset)" in \
        result.stderr
    with corpus.reading() as con:
        assert {r[0] for r in con.execute("SELECT area FROM letters")} == {
            "Dorset County Council", "Testshire"}


def _cli_import(pdfs: list[Path], tmp_path: Path) -> tuple[Path, CliRunner, Corpus]:
    """`sendlens import` of `pdfs` into a new corpus (it must succeed)."""
    root = tmp_path / "corpus"
    runner = CliRunner()
    assert runner.invoke(app, ["import", *map(str, pdfs), "--corpus", str(root),
                               "-q"]).exit_code == 0
    return root, runner, Corpus.open(root)


def _tag_every_passage(con: sqlite3.Connection) -> None:
    """A stand-in tag on every passage, to see which tags an operation keeps."""
    con.execute("INSERT INTO tags SELECT passage_id, '[]', 'neutral', '{}', 'm', 'x' "
                "FROM passages")


def test_an_interrupt_just_after_a_letter_is_committed_keeps_its_pdf_and_counts_it(
    corpus: Corpus, real_pdfs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or TERM lands as the COMMIT returns: the letter is in, so its stored PDF must
    stay (removed, no later run could bring it back) and the run must count it."""
    from contextlib import contextmanager

    real = Corpus.transaction
    commits = {"n": 0}

    @contextmanager
    def interrupted_after_second(self: Corpus, con: sqlite3.Connection | None = None):
        with real(self, con) as db:
            yield db
        commits["n"] += 1
        if commits["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Corpus, "transaction", interrupted_after_second)
    report = import_paths(corpus, real_pdfs[:4], progress=False)
    assert report.interrupted
    with corpus.reading() as con:
        stored = con.execute("SELECT letter_id, pdf_path FROM letters").fetchall()
    assert len(stored) == 2
    assert len([o for o in report.outcomes if o.status == "imported"]) == 2
    assert all((corpus.root / row["pdf_path"]).is_file() for row in stored)


def test_a_reparse_waiting_for_a_tag_says_so_and_an_interrupt_then_is_not_success(
    corpus: Corpus, real_pdfs: list[Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """Waiting for a `tag` run, `import --reparse` showed a bar at 0% and no reason; a
    Ctrl-C then reported "every letter was read by the current parser"."""
    import threading

    from sendlens import importer

    import_paths(corpus, real_pdfs[:1], progress=False)
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET parser_version = '1'")
    held, done = threading.Event(), threading.Event()

    def tag_running() -> None:  # another run holds the lock (a thread: flock is per open)
        with corpus.model_lock():
            held.set()
            done.wait(30)

    threading.Thread(target=tag_running, daemon=True).start()
    assert held.wait(10)
    said = importer._say_waiting_to_reparse

    def ctrl_c_while_waiting() -> None:
        said()
        raise KeyboardInterrupt

    monkeypatch.setattr(importer, "_say_waiting_to_reparse", ctrl_c_while_waiting)
    try:
        report = importer.reparse_letters(corpus, progress=False)
    finally:
        done.set()
    assert ("waiting for another sendlens run on this corpus (tag, train or the app's "
            "Retrain) to finish before reading the letters again") in capsys.readouterr().err
    assert report.interrupted and report.letters == 0
    assert report.summary().startswith("interrupted before any letter was read again")
    assert importer.outdated_letters(corpus)  # still to do, as said


def test_an_interrupt_just_after_a_replacement_is_committed_counts_it(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import contextmanager

    import_paths(corpus, real_pdfs[:1], progress=False)
    resaved = tmp_path / "corrected.pdf"
    resaved.write_bytes(real_pdfs[0].read_bytes() + b"\n% re-saved\n")
    new_sha = hashlib.sha256(resaved.read_bytes()).hexdigest()
    real = Corpus.transaction

    @contextmanager
    def interrupted_after(self: Corpus, con: sqlite3.Connection | None = None):
        with real(self, con) as db:
            yield db
        if self.letter_with_sha256(new_sha) is not None:  # the replacement's COMMIT
            raise KeyboardInterrupt

    monkeypatch.setattr(Corpus, "transaction", interrupted_after)
    report = import_paths(corpus, [resaved], progress=False, replace="always")
    assert report.interrupted
    assert [o.status for o in report.outcomes] == ["replaced"]
    monkeypatch.setattr(Corpus, "transaction", real)
    with corpus.reading() as con:
        (sha,) = con.execute("SELECT sha256 FROM letters").fetchone()
    assert sha == new_sha


def test_an_interrupted_import_exits_130_keeping_what_it_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A script must tell a run stopped by Ctrl-C (130) from one that skipped a file (1).
    from contextlib import contextmanager

    pdfs = []
    for area in ("Dorset", "Testshire"):
        pdfs.append(tmp_path / f"{area}.pdf")
        pdfs[-1].write_bytes(letter_2016_pdf(area))
    real = Corpus.transaction
    raised = []

    @contextmanager
    def interrupted_after_first(self: Corpus, con: sqlite3.Connection | None = None):
        with real(self, con) as db:
            yield db
        if not raised and self.counts()["letters"] == 1:  # the first letter's COMMIT
            raised.append(True)
            raise KeyboardInterrupt

    monkeypatch.setattr(Corpus, "transaction", interrupted_after_first)
    result = CliRunner().invoke(app, ["import", *map(str, pdfs), "--corpus",
                                      str(tmp_path / "c"), "-q"])
    monkeypatch.setattr(Corpus, "transaction", real)
    assert result.exit_code == 130, result.output
    assert _letter_count(Corpus.open(tmp_path / "c")) == 1


def test_a_file_of_several_letters_bound_together_is_named(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path
) -> None:
    """Only a file's first letter is read: one holding three must not pass for one."""
    import pypdfium2 as pdfium

    bound = pdfium.PdfDocument.new()
    for path in real_pdfs[:3]:
        bound.import_pages(pdfium.PdfDocument(str(path)))
    combined = tmp_path / "three_letters.pdf"
    bound.save(str(combined))
    report = import_paths(corpus, [combined], progress=False)
    (outcome,) = report.outcomes
    assert outcome.status == "imported"
    text = report.summary()
    assert f"warning: {combined}: imported, but it seems to hold 3 letters" in text
    assert "only the first is read; split the file" in text
    # A single real report draws no such warning.
    single = import_paths(corpus, real_pdfs[3:4], progress=False)
    assert single.outcomes[0].notes == () and "warning" not in single.summary()
    # Its own title page again at the end is no second letter ("seems to hold 2").
    again = pdfium.PdfDocument(str(real_pdfs[4]))
    again.import_pages(pdfium.PdfDocument(str(real_pdfs[4])), [0])
    repeated = tmp_path / "title_page_twice.pdf"
    again.save(str(repeated))
    (outcome,) = import_paths(corpus, [repeated], progress=False).outcomes
    assert outcome.status == "imported" and len(outcome.notes) == 1
    assert outcome.notes[0].startswith(f"its own title comes again on page {len(again)} (")


def test_links_to_nothing_are_named_and_the_corpus_own_store_is_not_searched(
    real_pdfs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(real_pdfs[0], work / "letter.pdf")
    (work / "gone.pdf").symlink_to(work / "deleted.pdf")
    (work / "loop.pdf").symlink_to(work / "loop.pdf")
    monkeypatch.chdir(work)
    corpus = Corpus.open(work / "corpus")  # the default place: inside the folder imported
    # A loop named on the command line was a traceback, and nothing was imported.
    first = import_paths(corpus, ["loop.pdf", "letter.pdf"], progress=False)
    assert [o.status for o in first.outcomes] == ["skipped", "imported"]
    assert first.outcomes[0].reason == "a link to a file that is not there (or a loop of links)"
    # The folder: its links named, its one letter held, the corpus's store not read.
    again = import_paths(corpus, ["."], progress=False)
    reasons = {Path(o.path).name: (o.status, o.reason) for o in again.outcomes}
    assert reasons == {
        "gone.pdf": ("skipped", "a link to a file that is not there (or a loop of links)"),
        "loop.pdf": ("skipped", "a link to a file that is not there (or a loop of links)"),
        "letter.pdf": ("duplicate", reasons["letter.pdf"][1])}


def test_importing_the_same_file_twice_adds_nothing(corpus: Corpus, real_pdfs: list[Path],
                                                    tmp_path: Path) -> None:
    first = import_pdf(corpus, real_pdfs[0])
    assert first.status == "imported" and first.n_passages > 50
    copy = tmp_path / "renamed.pdf"
    shutil.copy(real_pdfs[0], copy)
    again = import_pdf(corpus, copy)
    assert again.status == "duplicate" and again.letter_id == first.letter_id
    assert _letter_count(corpus) == 1
    stored = list((corpus.root / "pdfs").rglob("*.pdf"))
    assert [p.stem for p in stored] == [first.sha256]
    assert stored[0].read_bytes() == real_pdfs[0].read_bytes()


def test_a_file_another_run_imports_meanwhile_is_not_called_a_copy_of_itself(
    corpus: Corpus, real_pdfs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two imports of one folder at once: the other run commits the file between this
    # run's look-up by hash and its look-up by inspection. It said "another copy of the
    # report on the same inspection as <the same path>".
    first = import_pdf(corpus, real_pdfs[0])
    real, calls = Corpus.letter_with_sha256, []

    def not_yet_then_held(self: Corpus, *args: object, **kwargs: object) -> object:
        calls.append(args)  # the first look-up runs before the other run's commit
        return None if len(calls) == 1 else real(self, *args, **kwargs)

    monkeypatch.setattr(Corpus, "letter_with_sha256", not_yet_then_held)
    report = import_paths(corpus, [real_pdfs[0]], progress=False)
    (again,) = report.outcomes
    assert again.status == "duplicate" and again.letter_id == first.letter_id
    assert again.reason == "same file already imported"
    assert "another copy" not in report.summary()
    assert _letter_count(corpus) == 1


def test_another_copy_of_a_report_already_held_is_not_counted_twice(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path
) -> None:
    first = import_pdf(corpus, real_pdfs[0])
    resaved = tmp_path / "resaved.pdf"
    # Other bytes (a PDF re-saved, or published again), the same inspection.
    resaved.write_bytes(real_pdfs[0].read_bytes() + b"\n% re-saved\n")
    report = import_paths(corpus, [resaved], progress=False)
    (again,) = report.outcomes
    assert again.status == "duplicate" and again.letter_id == first.letter_id
    assert again.sha256 != first.sha256
    assert _letter_count(corpus) == 1
    assert f"another copy of the report on the same inspection as {real_pdfs[0].resolve()}" \
        in report.summary()
    assert not any(p.stem == again.sha256 for p in (corpus.root / "pdfs").rglob("*.pdf"))


def test_a_report_cut_short_is_imported_with_a_warning_that_names_the_fix(
    real_pdfs: list[Path], tmp_path: Path
) -> None:
    """A valid PDF of a report's first pages reads as a whole letter: it is imported,
    but the summary says which sections are missing, and the complete file, kept out
    as another copy, is told apart by its length, with the command that takes it."""
    import pypdfium2 as pdfium

    full = real_pdfs[0]
    cut = tmp_path / "first-pages.pdf"
    source = pdfium.PdfDocument(full)
    short = pdfium.PdfDocument.new()
    short.import_pages(source, [0, 1])
    short.save(cut)
    short.close()
    source.close()
    corpus = Corpus.open(tmp_path / "corpus")
    first = import_paths(corpus, [cut], progress=False)
    [outcome] = first.outcomes
    assert outcome.status == "imported" and outcome.missing, outcome
    assert "section, which every report of its kind has: the file may be incomplete" in \
        first.summary()
    second = import_paths(corpus, [full], progress=False)
    assert "the one held has 2 pages" in second.summary()
    assert "`sendlens import --replace` takes it instead" in second.summary()
    # The complete report of the 55 has every section: no warning.
    whole = import_paths(Corpus.open(tmp_path / "other"), [full], progress=False)
    assert not whole.outcomes[0].missing and "incomplete" not in whole.summary()


def test_a_pdf_saved_without_its_suffix_is_imported(corpus: Corpus, tmp_path: Path) -> None:
    # `curl -O https://files.ofsted.gov.uk/v1/file/50300005` saves "50300005": a folder of
    # such downloads was "no PDF files found", and a manifest row naming one ignored.
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "50300005").write_bytes(letter_2016_pdf("Testshire"))
    (folder / "README").write_text("letters downloaded on 1 May\n")  # no PDF: passed over
    (folder / ".50300006").write_bytes(letter_2016_pdf("Otherfordshire"))  # hidden: too
    (folder / "manifest.csv").write_text("file,ofsted_urn,file_date\n"
                                         "50300005,80999,21 June 2017\n")
    report = import_paths(corpus, [folder], progress=False)
    assert [o.status for o in report.outcomes] == ["imported"], report.summary()
    with corpus.reading() as con:
        [(urn, published)] = con.execute("SELECT ofsted_urn, published FROM letters")
    assert (urn, published) == ("80999", "2017-06-21")


def test_hidden_files_in_a_folder_are_not_taken(tmp_path: Path) -> None:
    # A folder copied from a Mac holds "._testshire.pdf" (AppleDouble) beside each
    # letter: each was "skipped: not a PDF", and the import exited 1.
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "testshire.pdf").write_bytes(letter_2016_pdf("Testshire"))
    (folder / "._testshire.pdf").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    runner = CliRunner()
    result = runner.invoke(app, ["import", str(folder), "--corpus", str(tmp_path / "c"), "-q"])
    assert result.exit_code == 0, result.output
    assert "imported 1" in result.output and "._testshire" not in result.output
    # Named, a hidden file is read as any other.
    named = runner.invoke(app, ["import", str(folder / "._testshire.pdf"),
                                "--corpus", str(tmp_path / "c"), "-q"])
    assert named.exit_code == 1 and "._testshire.pdf: not a PDF" in named.output


def test_bad_files_are_skipped_by_name_with_a_reason(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.pdf").write_bytes(b"")
    (bad / "error-page.pdf").write_text("<html><body>Service unavailable</body></html>")
    data = real_pdfs[1].read_bytes()
    (bad / "truncated.pdf").write_bytes(data[: len(data) // 3])
    (bad / "program.pdf").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    shutil.copy(real_pdfs[2], bad / "good.pdf")
    # Bytes before the header (a byte-order mark a tool added): PDF readers look for it in
    # the first 1,024 bytes, as the folder scan does; it was refused as "not a PDF".
    (bad / "bom.pdf").write_bytes(b"\xef\xbb\xbf" + real_pdfs[3].read_bytes())
    report = import_paths(corpus, [bad], progress=False)
    reasons = {Path(o.path).name: o.reason for o in report.skipped}
    assert set(reasons) == {"empty.pdf", "error-page.pdf", "truncated.pdf", "program.pdf"}
    # A binary file's first bytes in hex, not as mangled characters.
    assert reasons["program.pdf"].endswith(
        "not a PDF (a binary file starting with bytes 7f 45 4c 46 02 01 01 00)")
    assert "empty" in reasons["empty.pdf"]
    assert "not a PDF" in reasons["error-page.pdf"] and "<html>" in reasons["error-page.pdf"]
    assert "truncated" in reasons["truncated.pdf"]
    assert [o.status for o in report.outcomes if o.path.endswith("good.pdf")] == ["imported"]
    assert [o.status for o in report.outcomes if o.path.endswith("bom.pdf")] == ["imported"]
    assert _letter_count(corpus) == 2


def test_file_names_that_are_not_utf8_are_imported_and_named_readably(
    real_pdfs: list[Path], tmp_path: Path
) -> None:
    """A name in Latin-1 (a zip made on Windows) stopped the whole import with a
    traceback at the first such file: the rest were never imported."""
    folder = tmp_path / os.fsdecode(b"Letters \xe9t\xe9")
    folder.mkdir()
    shutil.copy(real_pdfs[0], folder / os.fsdecode(b"rapport \xff.pdf"))
    (folder / os.fsdecode(b"notes \xe9.pdf")).write_text("just some notes")
    shutil.copy(real_pdfs[1], folder / "zz_good.pdf")
    result = CliRunner().invoke(app, ["import", str(folder), "--corpus", str(tmp_path / "c"),
                                      "-q"])
    assert result.exit_code == 1, result.output  # one file skipped, said
    assert "imported 2, already in the corpus 0, skipped 1" in result.output
    assert "Letters \\xe9t\\xe9/notes \\xe9.pdf: not a PDF" in result.output
    with sqlite3.connect(tmp_path / "c" / "sendlens.db") as con:
        sources = sorted(r[0] for r in con.execute("SELECT source FROM letters"))
    con.close()
    assert sources[0].endswith("Letters \\xe9t\\xe9/rapport \\xff.pdf")
    # Imported again: the same file, not "a copy of" itself.
    again = CliRunner().invoke(app, ["import", str(folder), "--corpus", str(tmp_path / "c")])
    assert "already in the corpus 2" in again.output and "is the same file as" not in \
        again.output


def test_a_device_a_pipe_or_a_huge_file_named_for_import_is_not_read(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path
) -> None:
    """Named directly, /dev/zero was read into memory until the kernel killed sendlens, a
    pipe made it wait for ever, and a disk image was read whole before being refused."""
    from scraper.records import MAX_PDF_BYTES

    (tmp_path / "zero.pdf").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.pdf")
    huge = tmp_path / "image.pdf"
    with huge.open("wb") as out:  # sparse: no disk space taken
        out.write(b"%PDF-1.7\n")
        out.truncate(MAX_PDF_BYTES + 1)
    paths = [tmp_path / "zero.pdf", tmp_path / "pipe.pdf", huge, real_pdfs[0]]
    report = import_paths(corpus, paths, progress=False)
    reasons = {Path(o.path).name: o.reason for o in report.skipped}
    assert reasons["zero.pdf"] == reasons["pipe.pdf"] == (
        "not a regular file (a device, a pipe or a socket), so not read")
    assert reasons["image.pdf"] == (f"{MAX_PDF_BYTES + 1:,} bytes, over the 100 MB no "
                                    "inspection letter comes near, so not read")
    assert [o.status for o in report.outcomes].count("imported") == 1
    # Found in a folder, the same (it was passed over without a word).
    folder = tmp_path / "folder"
    folder.mkdir()
    os.mkfifo(folder / "pipe.pdf")
    report = import_paths(corpus, [folder], progress=False)
    assert [(Path(o.path).name, o.reason) for o in report.skipped] == [
        ("pipe.pdf", "not a regular file (a device, a pipe or a socket), so not read")]


def test_a_name_too_long_or_the_corpus_itself_is_named_with_the_reason(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path
) -> None:
    long = tmp_path / ("x" * 300 + ".pdf")  # a traceback, and the good file not imported
    report = import_paths(corpus, [long, real_pdfs[0]], progress=False)
    assert [(o.status, o.reason) for o in report.outcomes] == [
        ("skipped", "file name too long"), ("imported", "")]
    alone = CliRunner().invoke(app, ["import", str(long), "--corpus", str(corpus.root)])
    assert alone.exit_code == 2 and alone.output.endswith(".pdf: file name too long\n")
    # "No PDF files found" in a folder of 55 letters: it is the corpus folder.
    itself = import_paths(corpus, [corpus.root], progress=False)
    assert itself.outcomes[0].reason.startswith(
        "the corpus folder itself, whose PDFs are the letters it holds")
    export = CliRunner().invoke(app, ["export", "letters", "-o", str(tmp_path / (
        "y" * 300 + ".csv")), "--corpus", str(corpus.root)])
    assert export.exit_code == 2 and "File name too long" in export.output
    (tmp_path / "afile").write_text("")
    export = CliRunner().invoke(app, ["export", "letters", "-o", str(tmp_path / "afile" / "x.csv"),
                                      "--corpus", str(corpus.root)])
    assert "afile is a file, not a folder" in export.output


def test_a_corpus_path_through_a_file_or_a_broken_link_is_named_not_a_traceback(
    tmp_path: Path,
) -> None:
    # `--corpus notes.txt/corpus`, a link to nothing, a loop of links, a name too long: a
    # traceback (NotADirectoryError, FileExistsError, OSError) and exit code 1.
    pdf = tmp_path / "testshire.pdf"
    pdf.write_bytes(letter_2016_pdf("Testshire"))
    (tmp_path / "notes.txt").write_text("notes")
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere" / "corpus")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    # A link to a folder that is there (a corpus kept on another drive) is no broken link.
    (tmp_path / "drive").symlink_to(tmp_path)
    for where, reason in [("notes.txt/corpus", "notes.txt is a file, not a folder"),
                          ("drive/notes.txt/corpus", "notes.txt is a file, not a folder"),
                          ("gone", "gone is a link to a folder that is not there"),
                          ("loop1", "loop1 is a link to a folder that is not there"),
                          ("x" * 300, "File name too long")]:
        result = CliRunner().invoke(app, ["import", str(pdf), "--corpus",
                                          str(tmp_path / where), "-q"])
        assert result.exit_code == 2, (where, result.output, result.exception)
        assert reason in result.output, where
    info = CliRunner().invoke(app, ["info", "--corpus", str(tmp_path / ("x" * 300))])
    assert info.exit_code == 2 and "File name too long" in info.output, info.exception
    assert (tmp_path / "notes.txt").read_text() == "notes"


def test_a_full_disk_when_making_the_corpus_folder_says_to_free_space(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A disk full as the corpus folder is made is the disk's fault, said with the remedy,
    not a folder that "cannot be made"."""
    import errno

    from sendlens import cli

    root = tmp_path / "corpus"
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self == root:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    pdf = tmp_path / "testshire.pdf"
    pdf.write_bytes(letter_2016_pdf("Testshire"))
    monkeypatch.setattr(sys, "argv", ["sendlens", "import", str(pdf), "--corpus", str(root)])
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code == 2
    assert "free some space and run the command again" in capsys.readouterr().err


def test_cli_exit_code_says_something_was_skipped(real_pdfs: list[Path], tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_text("just some notes")
    runner = CliRunner()
    result = runner.invoke(
        app, ["import", str(real_pdfs[0]), str(tmp_path / "notes.pdf"),
              "--corpus", str(tmp_path / "c"), "-q"],
    )
    assert result.exit_code == 1, result.output
    assert "notes.pdf" in result.output and "not a PDF" in result.output
    assert "imported 1" in result.output
    ok = runner.invoke(app, ["import", str(real_pdfs[0]), "--corpus", str(tmp_path / "c"), "-q"])
    assert ok.exit_code == 0 and "already in the corpus 1" in ok.output


def test_importing_only_missing_paths_makes_no_corpus(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["import", str(tmp_path / "Downloads" / "letters"),
                                      "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output and "letters" in result.output
    assert not (tmp_path / "c").exists()


def test_an_empty_path_is_refused_not_read_as_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sendlens import "$LETTERS"` with the variable unset imported every PDF under the
    # working folder (an empty path is "."), with exit code 0.
    (tmp_path / "stray.pdf").write_bytes(letter_2016_pdf("Testshire"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["import", "", "--corpus", str(tmp_path / "c"), "-q"])
    assert result.exit_code == 2, result.output
    assert "an empty path" in result.output
    assert not (tmp_path / "c").exists()


def test_an_empty_corpus_path_is_refused_not_read_as_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--corpus "$CORPUS"` with the variable unset made the working folder a corpus
    # (its sendlens.db and pdfs beside the user's files), with exit code 0.
    pdf = tmp_path / "letters" / "testshire.pdf"
    pdf.parent.mkdir()
    pdf.write_bytes(letter_2016_pdf("Testshire"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["import", "letters", "--corpus", "", "-q"])
    assert result.exit_code == 2, result.output
    assert "an empty path" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letters"]


def test_a_missing_path_beside_a_good_file_does_not_stop_the_import(tmp_path: Path) -> None:
    # One mistyped path among several: the others are imported, the typo named (exit 1).
    pdf = tmp_path / "testshire.pdf"
    pdf.write_bytes(letter_2016_pdf("Testshire"))
    result = CliRunner().invoke(app, ["import", str(pdf), str(tmp_path / "typo.pdf"),
                                      "--corpus", str(tmp_path / "c"), "-q"])
    assert result.exit_code == 1, result.output
    assert "imported 1" in result.output
    assert "typo.pdf" in result.output and "no such file" in result.output
    assert _letter_count(Corpus.open(tmp_path / "c")) == 1


def test_importing_only_files_that_are_not_letters_makes_no_corpus(tmp_path: Path) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "notes.pdf").write_text("meeting notes")
    runner = CliRunner()
    for target in ("c", "kept"):
        if target == "kept":
            (tmp_path / "kept").mkdir()  # a folder the user made: emptied, not removed
        result = runner.invoke(app, ["import", str(tmp_path / "empty.pdf"),
                                     str(tmp_path / "notes.pdf"), "--corpus",
                                     str(tmp_path / target), "-q"])
        assert result.exit_code == 1, result.output
        assert "empty file (0 bytes)" in result.output and "not a PDF" in result.output
        assert f"nothing was imported, so no corpus was left at {tmp_path / target}" in \
            result.output
    assert not (tmp_path / "c").exists()
    assert (tmp_path / "kept").is_dir() and not any((tmp_path / "kept").iterdir())
    # Into a corpus that was there before, nothing is removed.
    Corpus.open(tmp_path / "before")
    runner.invoke(app, ["import", str(tmp_path / "empty.pdf"), "--corpus",
                        str(tmp_path / "before"), "-q"])
    assert (tmp_path / "before" / "sendlens.db").is_file()


def test_missing_path_is_reported(corpus: Corpus, tmp_path: Path) -> None:
    report = import_paths(corpus, [tmp_path / "nope.pdf"], progress=False)
    assert [(o.status, o.reason) for o in report.outcomes] == [("skipped", "no such file")]


def test_a_failure_mid_letter_leaves_the_corpus_as_before_that_letter(
    corpus: Corpus, real_pdfs: list[Path]
) -> None:
    import_pdf(corpus, real_pdfs[0])
    before = corpus.counts()
    # A real database-level failure half-way through the letter's passages.
    with corpus.transaction() as con:
        con.execute(
            "CREATE TRIGGER fail_mid_letter BEFORE INSERT ON passages WHEN new.seq = 40 "
            "BEGIN SELECT RAISE(ABORT, 'disk trouble (injected)'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        import_pdf(corpus, real_pdfs[1])
    assert corpus.counts() == before
    # Nor is its PDF left in the store, unreferenced.
    sha = hashlib.sha256(real_pdfs[1].read_bytes()).hexdigest()
    assert not corpus.pdf_path_for(sha).exists()
    with corpus.transaction() as con:
        con.execute("DROP TRIGGER fail_mid_letter")
    assert import_pdf(corpus, real_pdfs[1]).status == "imported"
    assert corpus.counts()["letters"] == 2


def test_a_killed_import_resumes_without_loss_or_duplicates(
    letters_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "corpus"
    cmd = [sys.executable, "-m", "sendlens.cli", "import", str(letters_dir), "--corpus",
           str(target), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    db = target / "sendlens.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as con:
                    if con.execute("SELECT count(*) FROM letters").fetchone()[0] >= 3:
                        break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    corpus = Corpus.open(target)
    with corpus.reading() as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        done = con.execute("SELECT count(*) FROM letters").fetchone()[0]
        # Every letter that is there is whole.
        broken = con.execute(
            "SELECT l.area FROM letters l LEFT JOIN passages p USING (letter_id) "
            "GROUP BY l.letter_id HAVING count(p.passage_id) != l.n_passages"
        ).fetchall()
    assert 3 <= done < 55 and not broken
    # Every stored PDF is whole: its name is its content's hash.
    for pdf in (target / "pdfs").rglob("*.pdf"):
        assert hashlib.sha256(pdf.read_bytes()).hexdigest() == pdf.stem
    report = import_paths(corpus, [letters_dir], progress=False)
    assert len(report.by_status("imported")) == 55 - done
    assert len(report.by_status("duplicate")) == done
    assert corpus.counts()["letters"] == 55


def test_half_written_copies_are_swept_and_whole_unlisted_pdfs_kept_and_named(
    corpus: Corpus, real_pdfs: list[Path]
) -> None:
    first = import_pdf(corpus, real_pdfs[0])
    kept = corpus.pdf_path_for(first.sha256)
    # A half-written copy a killed run left, and a whole PDF no letter points to.
    partial = kept.parent / ".partial-0k3q9z1m.tmp"  # as mkstemp names them
    partial.write_bytes(b"%PDF")
    unlisted = corpus.pdf_path_for(hashlib.sha256(real_pdfs[2].read_bytes()).hexdigest())
    unlisted.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(real_pdfs[2], unlisted)
    report = import_paths(corpus, [real_pdfs[1]], progress=False)
    assert report.swept == 1 and "removed 1 file that interrupted runs had left" in \
        report.summary()
    assert not partial.exists() and kept.exists()
    # Kept: it may be the only copy of a letter; the summary says how to take it back in.
    assert unlisted.exists() and report.unlisted == 1
    fix = f"sendlens import {corpus.pdf_dir} --corpus {corpus.root}"
    assert "1 PDF is in the corpus's PDF store but in no letter" in report.summary()
    assert f"`{fix}` imports it" in report.summary()
    assert corpus.counts()["letters"] == 2
    again = import_paths(corpus, [corpus.pdf_dir], progress=False)
    assert [o.status for o in again.outcomes].count("imported") == 1
    assert again.unlisted == 0 and "no letter" not in again.summary()
    assert corpus.counts()["letters"] == 3
    with corpus.reading() as con:
        for (path,) in con.execute("SELECT pdf_path FROM letters"):
            assert (corpus.root / path).is_file()


def test_a_replaced_files_pdf_a_stopped_run_left_is_swept_not_reported(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path
) -> None:
    data = real_pdfs[0].read_bytes()
    import_pdf(corpus, real_pdfs[0])
    newer = tmp_path / "corrected.pdf"
    newer.write_bytes(data + b"\n% republished\n")  # the same report, other bytes
    assert import_pdf(corpus, newer, replace="always").status == "replaced"
    # As if the run had stopped after its commit, before removing the old file.
    old = corpus.pdf_path_for(hashlib.sha256(data).hexdigest())
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(data)
    assert corpus.unlisted_pdfs() == []  # not offered for an import that would refuse it
    report = import_paths(corpus, [real_pdfs[1]], progress=False)
    assert report.swept == 1 and not old.exists() and report.unlisted == 0



def test_the_sweep_keeps_a_held_letters_pdf_that_replaced_files_also_names(
    corpus: Corpus, real_pdfs: list[Path]
) -> None:
    # A database put back from a backup or edited by hand can name a held letter's file
    # as replaced too: the sweep of replaced files must not take the only copy.
    held = import_pdf(corpus, real_pdfs[0])
    with corpus.transaction() as con:
        con.execute("INSERT INTO replaced_files (sha256, letter_id, replaced_at) "
                    "VALUES (?, 'another', 'x')", (held.sha256,))
    assert corpus.sweep_pdfs() == 0
    assert corpus.pdf_intact(held.sha256)


def test_a_stored_pdf_changed_on_disk_is_put_back_by_importing_its_file_again(
    corpus: Corpus, real_pdfs: list[Path]
) -> None:
    """`import --reparse` refuses a stored PDF that is not the file imported and says to
    import the file again; that did nothing (already in the corpus), so it refused again."""
    first = import_pdf(corpus, real_pdfs[0])
    stored = corpus.pdf_path_for(first.sha256)
    shutil.copy(real_pdfs[1], stored)
    again = import_pdf(corpus, real_pdfs[0])
    assert again.status == "duplicate"
    assert again.reason.endswith("its copy in the corpus's PDF store, gone or changed, was "
                                 "put back")
    assert stored.read_bytes() == real_pdfs[0].read_bytes()
    assert "put back" not in import_pdf(corpus, real_pdfs[0]).reason
    # Damaged in place, its size unchanged (a bad sector): put back whole too.
    damaged = bytearray(stored.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    stored.write_bytes(bytes(damaged))
    assert import_pdf(corpus, real_pdfs[0]).reason.endswith("was put back")
    assert stored.read_bytes() == real_pdfs[0].read_bytes()


def test_a_database_put_back_from_a_backup_loses_no_stored_pdf(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path
) -> None:
    """Each import used to delete the store's PDFs its database did not list: after a
    database was restored from a backup (or emptied), the letters imported since were
    gone for good, though for a scraped corpus the store holds the only copy."""
    import_paths(corpus, real_pdfs[:2], progress=False)
    backup = tmp_path / "backup.db"
    with corpus.reading() as con, sqlite3.connect(backup) as out:
        con.backup(out)
    import_paths(corpus, real_pdfs[2:4], progress=False)
    stored = sorted(corpus.pdf_dir.glob("*/*.pdf"))
    assert len(stored) == 4
    with sqlite3.connect(backup) as src, sqlite3.connect(corpus.db_path) as dst:
        src.backup(dst)
    report = import_paths(corpus, [real_pdfs[4]], progress=False)
    assert sorted(corpus.pdf_dir.glob("*/*.pdf")) == sorted([*stored, corpus.pdf_path_for(
        report.outcomes[0].sha256)])
    assert report.unlisted == 2 and "2 PDFs are in the corpus's PDF store" in report.summary()
    # `info` says so too, in the same words.
    info = CliRunner().invoke(app, ["info", "--corpus", str(corpus.root)])
    assert report.summary().split("note: ")[1] in info.output
    again = import_paths(corpus, [corpus.pdf_dir], progress=False)
    assert [o.status for o in again.outcomes].count("imported") == 2
    assert corpus.counts()["letters"] == 5
    assert "in no letter" not in CliRunner().invoke(
        app, ["info", "--corpus", str(corpus.root)]).output


def test_two_imports_at_once_count_each_inspection_once(
    real_pdfs: list[Path], tmp_path: Path
) -> None:
    """A scrape in one terminal and an import in another: each checks for the file and
    its inspection again under the write lock, so neither adds a second copy."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for pdf in real_pdfs[:20]:
        (first / pdf.name).write_bytes(pdf.read_bytes())
        # Other bytes, the same report: only the same-inspection check keeps it out.
        (second / pdf.name).write_bytes(pdf.read_bytes() + b"\n% re-saved\n")
    target = tmp_path / "corpus"
    Corpus.open(target)  # made first, so that neither run makes it while the other looks
    cmd = [sys.executable, "-m", "sendlens.cli", "import", "--corpus", str(target), "-q"]
    runs = [subprocess.Popen([*cmd, str(folder)], stderr=subprocess.PIPE, text=True)
            for folder in (first, second, first, second)]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], errors
    assert not any("Traceback" in e for e in errors), errors
    corpus = Corpus.open(target)
    with corpus.reading() as con:
        inspections = con.execute("SELECT count(*), count(DISTINCT area || inspection_start)"
                                  " FROM letters").fetchone()
        held = {r[0] for r in con.execute("SELECT pdf_path FROM letters")}
    assert tuple(inspections) == (20, 20)
    # No PDF in the store that no letter points to.
    stored = {str(p.relative_to(target)) for p in (target / "pdfs").rglob("*.pdf")}
    assert stored == held


def test_a_store_that_cannot_be_written_stops_the_import_with_a_summary(
    real_pdfs: list[Path], tmp_path: Path
) -> None:
    """A failure of the disk, not of a letter (here: a file where the store needs a
    folder): the run stops, says where and why, keeps what it imported, exit code 2."""
    target = tmp_path / "corpus"
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in real_pdfs[:3]]
    Corpus.open(target)
    (target / "pdfs").mkdir()
    (target / "pdfs" / shas[1][:2]).write_text("in the way")
    result = CliRunner().invoke(app, ["import", *map(str, real_pdfs[:3]), "--corpus",
                                      str(target), "-q"])
    assert result.exit_code == 2, result.output
    assert "imported 1, " in result.output
    assert f"stopped before the end: {target / 'pdfs' / shas[1][:2]}" in result.output
    assert "run the same command again once that is fixed" in result.output
    assert "Traceback" not in result.output
    (target / "pdfs" / shas[1][:2]).unlink()
    again = CliRunner().invoke(app, ["import", *map(str, real_pdfs[:3]), "--corpus",
                                     str(target), "-q"])
    assert again.exit_code == 0 and "imported 2, already in the corpus 1" in again.output


def test_a_store_link_to_nothing_or_a_folder_in_a_pdfs_place_is_named(
    tmp_path: Path,
) -> None:
    # The store linked to a drive not mounted said "corpus/pdfs: File exists"; a folder
    # where a stored PDF goes, "corpus/pdfs/xx/.partial-....tmp: Is a directory".
    pdf = tmp_path / "testshire.pdf"
    pdf.write_bytes(letter_2016_pdf("Testshire"))
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    linked = tmp_path / "linked"
    Corpus.open(linked)
    (linked / "pdfs").symlink_to(tmp_path / "drive" / "pdfs")
    folder = tmp_path / "folder"
    Corpus.open(folder)
    (folder / "pdfs" / sha[:2] / f"{sha}.pdf").mkdir(parents=True)
    for target, said in [
            (linked, f"{linked / 'pdfs'} is a link to a folder that is not there"),
            (folder, f"{folder / 'pdfs' / sha[:2] / sha}.pdf is a folder, where a stored "
                     "PDF goes")]:
        result = CliRunner().invoke(app, ["import", str(pdf), "--corpus", str(target), "-q"])
        assert result.exit_code == 2, result.output
        assert f"stopped before the end: {said}" in " ".join(result.output.split())
        assert not list((folder / "pdfs").rglob(".partial-*"))


def test_a_database_problem_is_told_by_its_cause(tmp_path: Path) -> None:
    """A read-only folder or a full disk is no reason to throw a corpus away: only a
    damaged file gets the advice to restore or rebuild it."""
    db = tmp_path / "x.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x)")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as readonly:
        con.execute("INSERT INTO t VALUES (1)")
    con.close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA max_page_count = 2")  # as if the disk were full
    with pytest.raises(sqlite3.OperationalError) as full:
        con.execute("INSERT INTO t VALUES (?)", ("x" * 20_000,))
    con.close()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")  # another run holding the database
    other = sqlite3.connect(db, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as busy:
        other.execute("SELECT count(*) FROM t")
    other.close()
    con.execute("ROLLBACK")
    con.close()
    told = {"readonly": database_problem(readonly.value, db),
            "full": database_problem(full.value, db),
            "busy": database_problem(busy.value, db)}
    assert "another sendlens run kept it locked" in told["busy"]
    assert "cannot be written" in told["readonly"] and "permissions" in told["readonly"]
    assert "the disk is full" in told["full"] and "run the command again" in told["full"]
    assert not any("rebuild" in t for t in told.values()), told
    junk = tmp_path / "corpus" / "sendlens.db"
    junk.parent.mkdir()
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(CorpusError, match=r"damaged, not a usable sendlens database .*"
                       r"rebuild the corpus .*the PDFs in its pdfs/ folder are kept"):
        Corpus.open(junk.parent)


def test_a_database_damaged_inside_is_named_without_a_traceback(
    real_pdfs: list[Path], tmp_path: Path
) -> None:
    target = tmp_path / "corpus"
    import_paths(Corpus.open(target), real_pdfs[:3], progress=False)
    db = target / "sendlens.db"
    pages = db.stat().st_size // 4096
    with open(db, "r+b") as fh:  # the passages' pages overwritten (a bad disk sector)
        for page in range(pages // 2, pages, 3):
            fh.seek(page * 4096)
            fh.write(b"\xff" * 4096)
    # The corpus opens (its schema is intact); reading the passages fails.
    run = subprocess.run([sys.executable, "-m", "sendlens.cli", "export", "passages",
                          "--corpus", str(target)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert f"error: {db}: damaged" in run.stderr and "pdfs/ folder are kept" in run.stderr


def test_a_folder_that_cannot_be_listed_is_named_not_passed_over(
    real_pdfs: list[Path], not_root: tuple[list[str], Path]
) -> None:
    """A subfolder the user may not read held a letter that was left out without a word."""
    as_user, base = not_root
    try:
        letters = base / "letters"
        (letters / "locked").mkdir(parents=True)
        shutil.copy(real_pdfs[0], letters / real_pdfs[0].name)
        shutil.copy(real_pdfs[1], letters / "locked" / real_pdfs[1].name)
        for path in (letters, letters / real_pdfs[0].name):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (letters / "locked").chmod(0)
        corpus = base / "corpus"
        run = subprocess.run(
            [*as_user, sys.executable, "-m", "sendlens.cli", "import", str(letters),
             "--corpus", str(corpus), "-q"], capture_output=True, text=True, timeout=120)
        assert run.returncode == 1, run.stderr
        assert "imported 1, already in the corpus 0, skipped 1" in run.stderr
        assert (f"skipped {letters / 'locked'}: cannot list this folder (Permission denied)"
                in run.stderr)
        # A file the user may not read, named on the command line, is skipped the same way
        # (the command used to refuse everything for it).
        secret = base / "secret.pdf"
        shutil.copy(real_pdfs[2], secret)
        secret.chmod(0)
        named = subprocess.run(
            [*as_user, sys.executable, "-m", "sendlens.cli", "import", str(secret),
             str(real_pdfs[3]), "--corpus", str(corpus), "-q"],
            capture_output=True, text=True, timeout=120)
        assert named.returncode == 1, named.stderr
        assert "imported 1, already in the corpus 0, skipped 1" in named.stderr
        assert f"skipped {secret}: cannot read: Permission denied" in named.stderr
    finally:
        (base / "letters" / "locked").chmod(0o755)


def test_a_read_only_corpus_with_an_empty_wal_file_beside_it_is_read(
    not_root: tuple[list[str], Path]
) -> None:
    """An empty sendlens.db-wal (its changes folded in, the file left by a run still
    running or killed, or copied with the folder) holds nothing to read: the corpus is read
    as usual, not refused for changes 'still in sendlens.db-wal'."""
    as_user, base = not_root
    target = base / "corpus"
    pdf = base / "testshire.pdf"
    pdf.write_bytes(letter_2016_pdf("Testshire"))
    import_paths(Corpus.open(target), [pdf], progress=False)
    (target / "sendlens.db-wal").write_bytes(b"")
    try:
        for path in (target, *target.rglob("*")):
            path.chmod(0o555 if path.is_dir() else 0o444)
        run = subprocess.run([*as_user, sys.executable, "-m", "sendlens.cli", "info",
                              "--corpus", str(target)], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        assert "letters: 1" in " ".join(run.stdout.split())
    finally:
        for path in (target, *target.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_corpus_in_a_folder_the_user_cannot_write_is_still_read(
    real_pdfs: list[Path], not_root: tuple[list[str], Path]
) -> None:
    """A corpus on a shared, read-only folder: SQLite could not open it without writing its
    journal beside it. It is read through immutable connections; writing is refused, named."""
    as_user, base = not_root
    target = base / "corpus"
    try:
        assert CliRunner().invoke(app, ["import", *map(str, real_pdfs[:2]), "--corpus",
                                        str(target), "-q"]).exit_code == 0
        assert CliRunner().invoke(app, ["tag", "--corpus", str(target), "-q"]).exit_code == 0
        # The codebook edited after training: the model is stale, and cannot be retrained.
        codebook = Path(__file__).parents[1] / "textmine" / "codebook.yaml"
        (target / "codebook.yaml").write_text(
            codebook.read_text().replace(
                "\n  negative:\n", '\n  negative:\n    - "edition 2 of no report"\n', 1))
        # ... and made by the previous sendlens (schema 2, no labels.themes_offered), with
        # a correction: read as it is, as it cannot be upgraded here.
        # Left in sendlens.db-wal, not yet in sendlens.db (the connection stays open, as
        # a run killed or still running leaves them): an immutable read missed them.
        con = sqlite3.connect(target / "sendlens.db")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("ALTER TABLE labels DROP COLUMN themes_offered")
        con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source, "
                    "created_at) SELECT passage_id, letter_id, text, '[]', 'neutral', 'app', "
                    "'x' FROM passages LIMIT 1")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        con.commit()
        assert (target / "sendlens.db-wal").stat().st_size > 0
        before = (target / "sendlens.db").read_bytes()
        for path in (target, *target.rglob("*")):
            path.chmod(0o555 if path.is_dir() else 0o444)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*as_user, sys.executable, "-m", "sendlens.cli", *args,
                                   "--corpus", str(target)], capture_output=True, text=True,
                                  timeout=120, env={**os.environ, "HOME": str(base)})

        info = run("info")
        assert info.returncode == 0 and "letters: 2" in info.stdout, info.stderr
        assert "corrections saved in the app: 1 passage" in info.stdout
        table = run("export", "themes", "--by", "region", "-f", "csv")
        assert table.returncode == 0 and table.stdout.startswith("region,theme"), table.stderr
        tag = run("tag", "-q")
        assert tag.returncode == 2 and "read-only here" in tag.stderr, tag.stderr
        # Refused before any request (nothing listens there: a request would say so).
        scraped = run("scrape", "--base-url", "http://127.0.0.1:9", "-q")
        assert scraped.returncode == 2 and "read-only here" in scraped.stderr, scraped.stderr
        # So is an import (it stopped at the first letter's write, "Permission denied").
        for args in ((str(real_pdfs[2]), "-q"), ("--reparse", "-q")):
            imported = run("import", *args)
            assert imported.returncode == 2 and "read-only here" in imported.stderr, (
                imported.stderr)
        # Reading needs no new model: classify uses the stale one and says so.
        classify = subprocess.run(
            [*as_user, sys.executable, "-m", "sendlens.cli", "classify", "--corpus",
             str(target)], input='{"id": 1, "text": "Waiting times for therapy are long."}\n',
            capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(base)})
        assert classify.returncode == 0, classify.stderr
        assert json.loads(classify.stdout)["id"] == 1
        assert "codebook changed" in classify.stderr and "read-only" in classify.stderr
        # evaluate shows its figures; only storing them with the model is left out.
        gold = base / "gold.jsonl"
        gold.write_text("".join(json.dumps({"text": t, "themes": [], "stance": "neutral"})
                                + "\n" for t in ("Inspectors met leaders.",) * 12))
        gold.chmod(0o644)
        scored = run("evaluate", str(gold))
        assert scored.returncode == 0, scored.stderr
        assert "theme macro-F1" in scored.stdout
        assert "not recorded: the corpus is read-only here" in scored.stderr
        assert (target / "sendlens.db").read_bytes() == before
        # Without its -shm file (which the reader cannot make here) the -wal cannot be
        # read: said, with what to do, rather than the corpus as it was before.
        shm = target / "sendlens.db-shm"
        shm.rename(base / "shm")
        stuck = run("info")
        assert stuck.returncode == 2, stuck.stdout
        assert "its latest changes are still in sendlens.db-wal" in stuck.stderr, stuck.stderr
        (base / "shm").rename(shm)
        # A damaged database beside them is named as damaged, not blamed on the -wal.
        (target / "sendlens.db").write_bytes(b"not a database" * 512)
        damaged = run("info")
        assert damaged.returncode == 2 and "damaged" in damaged.stderr, damaged.stderr
        assert "-wal" not in damaged.stderr
    finally:
        con.close()
        for path in (target, *target.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_folder_without_pdfs_is_named_and_the_exit_code_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "sub" / "readme.txt").write_text("letters go here")
    (notes / "manifest.csv").write_text("file,published\n")
    runner = CliRunner()
    corpus_args = ["--corpus", str(tmp_path / "c"), "-q"]

    result = runner.invoke(app, ["import", str(empty), str(notes), *corpus_args])

    assert result.exit_code == 1, result.output
    assert f"skipped {empty}: no PDF files found in this folder or its subfolders" in result.output
    assert f"skipped {notes}: no PDF files found in this folder or its subfolders" in result.output

    # A folder that holds PDFs is imported; the empty one beside it is still named.
    letters = tmp_path / "letters"
    letters.mkdir()
    (letters / "kestrelbury.pdf").write_bytes(letter_2016_pdf("Kestrelbury"))
    mixed = runner.invoke(app, ["import", str(letters), str(empty), *corpus_args])
    assert mixed.exit_code == 1, mixed.output
    assert "imported 1, already in the corpus 0, skipped 1" in mixed.output
    assert f"skipped {empty}: no PDF files found" in mixed.output
    assert str(letters) + ":" not in mixed.output


def test_an_authority_has_one_name_whatever_the_letter_calls_it(
    corpus: Corpus, letters_dir: Path
) -> None:
    # The report calls the area "Durham"; the lookup table's name is "County Durham", and
    # a 2016-framework letter may use either: an area table must not split them.
    import_pdf(corpus, letters_dir / "80465_durham__03-september-2024.pdf")
    with corpus.reading() as con:
        row = con.execute("SELECT area, area_published, la_code FROM letters").fetchone()
    assert dict(row) == {"area": "County Durham", "area_published": "Durham", "la_code": "840"}
    out = CliRunner().invoke(app, ["export", "letters", "-f", "csv", "--corpus",
                                   str(corpus.root)])
    assert out.exit_code == 0, out.output
    header, first = out.stdout.splitlines()[:2]
    assert header.startswith("letter_id,area,area_published,")
    assert ",County Durham,Durham," in first


def _as_schema_1(corpus: Corpus) -> None:
    """Turn the corpus back into what sendlens 0.1 left: names as published, schema 1."""
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET area = area_published")
        con.execute("ALTER TABLE letters DROP COLUMN area_published")
        con.execute("ALTER TABLE labels DROP COLUMN themes_offered")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def _names_and_version(root: Path) -> tuple[set[tuple[str, str]], str]:
    con = sqlite3.connect(root / "sendlens.db")
    try:
        rows = {tuple(r) for r in con.execute("SELECT area, area_published FROM letters")}
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        con.close()
    return rows, version[0]


def test_opening_an_up_to_date_corpus_writes_nothing(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full disk `info`, `export` and the app must still open the corpus: an open
    that wrote its schema version every time failed there ("the disk is full")."""
    wal = corpus.db_path.with_name(corpus.db_path.name + "-wal")

    def state() -> tuple[bytes, bytes]:  # whatever a write leaves: the file, or its log
        return corpus.db_path.read_bytes(), wal.read_bytes() if wal.exists() else b""

    before = state()
    assert Corpus.open(corpus.root).counts()["letters"] == 0
    assert state() == before


def test_a_newer_corpus_or_another_programs_database_is_refused_unchanged(
    corpus: Corpus, real_pdfs: list[Path], tmp_path: Path
) -> None:
    """Opening wrote sendlens's tables into the file before it read what the file was: a
    newer sendlens's corpus got back tables it had dropped, and any SQLite file named
    sendlens.db became a corpus."""
    with sqlite3.connect(corpus.db_path) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION + 1),))
        con.execute("DROP TABLE replaced_files")
    con.close()
    before = corpus.db_path.read_bytes()
    result = CliRunner().invoke(app, ["info", "--corpus", str(corpus.root)])
    assert result.exit_code == 2
    assert f"made by a newer sendlens (schema {SCHEMA_VERSION + 1})" in result.output
    assert corpus.db_path.read_bytes() == before

    # In a folder whose name SQLite's URIs read otherwise ("#" a fragment, "?" a query,
    # "%41" an escape): another file was opened (and made) in its place, and this one,
    # unchecked, became a corpus. And one whose name is not UTF-8 (a zip made on Windows).
    other = tmp_path / os.fsdecode(b"other#1 ?%41 caf\xe9")
    other.mkdir()
    with sqlite3.connect(other / "sendlens.db") as con:
        con.execute("CREATE TABLE readings (t TEXT, value REAL)")
    con.close()
    before = (other / "sendlens.db").read_bytes()
    for command in (["info"], ["import", str(real_pdfs[0])]):
        result = CliRunner().invoke(app, [*command, "--corpus", str(other)])
        assert result.exit_code == 2, result.output
        assert "not a sendlens corpus (a database of other tables: readings)" in result.output
    assert (other / "sendlens.db").read_bytes() == before
    # A table of its own called "meta" does not make it one (with sendlens's columns or not).
    for meta in ("meta (key TEXT, value TEXT)", "meta (id INTEGER, blob BLOB)"):
        (other / "sendlens.db").unlink()
        with sqlite3.connect(other / "sendlens.db") as con:
            con.execute(f"CREATE TABLE {meta}")
            con.execute("CREATE TABLE photos (path TEXT)")
        con.close()
        before = (other / "sendlens.db").read_bytes()
        result = CliRunner().invoke(app, ["info", "--corpus", str(other)])
        assert result.exit_code == 2 and "not a sendlens corpus" in result.output, meta
        assert (other / "sendlens.db").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [corpus.root.name, other.name]), "a stray file made beside the corpus"
    # A schema version that is not a number is damage, said so (it was a traceback).
    with sqlite3.connect(corpus.db_path) as con:
        con.execute("UPDATE meta SET value = 'x' WHERE key = 'schema_version'")
    con.close()
    result = CliRunner().invoke(app, ["info", "--corpus", str(corpus.root)])
    assert result.exit_code == 2 and "damaged: its schema version reads 'x'" in result.output


def test_a_corpus_another_run_is_making_is_opened_not_called_another_programs(
    tmp_path: Path,
) -> None:
    """A first import has made the tables (SQLite's own sqlite_sequence among them, for the
    corrections' ids) but not yet written the schema version: a second command opening the
    corpus then must take it for sendlens's, not refuse it as another program's database."""
    from sendlens.store import SCHEMA

    root = tmp_path / "corpus"
    root.mkdir()
    with sqlite3.connect(root / "sendlens.db") as con:
        con.executescript(SCHEMA)
    con.close()
    result = CliRunner().invoke(app, ["info", "--corpus", str(root)])
    assert result.exit_code == 0, result.output
    assert "not a sendlens corpus" not in result.output


def test_a_corpus_holding_a_table_of_the_researchers_own_still_opens(
    corpus: Corpus,
) -> None:
    """Only a database naming no schema version is judged by its tables: a table a
    researcher added to a corpus (notes kept beside the letters) must not lock them out."""
    with sqlite3.connect(corpus.db_path) as con:
        con.execute("CREATE TABLE my_notes (letter_id TEXT, note TEXT)")
    con.close()
    result = CliRunner().invoke(app, ["info", "--corpus", str(corpus.root)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(corpus.db_path) as con:
        assert con.execute("SELECT count(*) FROM my_notes").fetchone() == (0,)
    con.close()


def test_a_schema_1_corpus_is_upgraded_to_one_name_per_authority(
    corpus: Corpus, letters_dir: Path
) -> None:
    import_pdf(corpus, letters_dir / "80465_durham__03-september-2024.pdf")
    import_pdf(corpus, letters_dir / "80428_bedford__04-february-2025.pdf")
    _as_schema_1(corpus)
    # A code the lookup does not know (an authority code it was never given): the letter
    # keeps its name as published, and the upgrade goes on.
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET la_code = '000' WHERE area = 'Bedford Borough'")
    Corpus.open(corpus.root)
    rows, version = _names_and_version(corpus.root)
    assert rows == {("County Durham", "Durham"), ("Bedford Borough", "Bedford Borough")}
    assert version == str(SCHEMA_VERSION)


def test_corrections_saved_by_an_older_sendlens_survive_the_upgrade(corpus: Corpus) -> None:
    """Schema 3 records the themes a correction was offered; one saved before keeps
    judging every theme, as it did."""
    from textmine.tag import stored_labels

    with corpus.transaction() as con:
        con.execute("ALTER TABLE labels DROP COLUMN themes_offered")
        con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source, "
                    "created_at) VALUES ('a-0001', 'a', 'Plans are late.', '[\"ehc_plans\"]',"
                    " 'negative', 'app', 'x')")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    # Read where it cannot be upgraded (the app's readers), the column reads as NULL.
    assert stored_labels(corpus)[0]["offered"] is None
    Corpus.open(corpus.root)
    assert _names_and_version(corpus.root)[1] == str(SCHEMA_VERSION)
    assert stored_labels(corpus) == [{"passage_id": "a-0001", "letter": "a",
                                      "text": "Plans are late.", "themes": ["ehc_plans"],
                                      "stance": "negative", "offered": None, "label_id": 1}]


def test_a_schema_3_corpus_is_upgraded_to_keep_what_undoing_a_supersede_needs(
        corpus: Corpus) -> None:
    # Without the table, `supersede` (which records there) failed on every older corpus.
    with corpus.transaction() as con:
        con.execute("DROP TABLE taken_out")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    Corpus.open(corpus.root)
    assert _names_and_version(corpus.root)[1] == str(SCHEMA_VERSION) == "4"
    con = corpus.connect()
    try:
        assert con.execute("SELECT count(*) FROM taken_out").fetchone()[0] == 0
    finally:
        con.close()


def test_an_upgrade_takes_the_current_models_themes_for_what_corrections_were_offered(
        corpus: Corpus) -> None:
    # Left NULL, every correction saved before the upgrade would still judge a theme added
    # to the codebook after it.
    from textmine.tag import stored_labels

    with corpus.transaction() as con:
        con.execute("ALTER TABLE labels DROP COLUMN themes_offered")
        con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source, "
                    "created_at) VALUES ('a-0001', 'a', 'Plans are late.', '[\"gone\"]',"
                    " 'negative', 'app', 'x')")
        con.execute("INSERT INTO models (version, created_at, path, meta, is_current) VALUES "
                    "('m1', 'x', 'models/m1', ?, 1)",
                    (json.dumps({"themes": ["local_offer", "ehc_plans"]}),))
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    Corpus.open(corpus.root)
    assert stored_labels(corpus)[0]["offered"] == ["ehc_plans", "gone", "local_offer"]


def test_sendlens_app_upgrades_an_old_corpus_before_serving_it(
    corpus: Corpus, letters_dir: Path
) -> None:
    # The pages open the corpus read-only, so the command itself must upgrade it.
    import_pdf(corpus, letters_dir / "80465_durham__03-september-2024.pdf")
    _as_schema_1(corpus)
    with served_app(corpus.root, corpus.root.parent / "app.log"):
        pass  # it answered its health check: it has upgraded and is serving
    assert _names_and_version(corpus.root) == ({("County Durham", "Durham")},
                                               str(SCHEMA_VERSION))


def test_a_letter_with_no_sentences_is_imported_with_a_warning() -> None:
    from sendlens.importer import ImportOutcome, ImportReport

    report = ImportReport([ImportOutcome("a.pdf", "imported", n_passages=12),
                           ImportOutcome("scan.pdf", "imported", n_passages=0)])
    lines = report.summary().splitlines()
    assert lines[0].startswith("imported 2,")
    assert lines[1:] == ["  warning: scan.pdf: imported, but no sentences were found in its "
                         "text (it will not be tagged or counted in any table)"]


def test_letters_read_by_an_older_parser_are_read_again_keeping_tags_and_corrections(
    real_pdfs: list[Path], tmp_path: Path
) -> None:
    root, runner, corpus = _cli_import(real_pdfs[:2], tmp_path)
    with corpus.transaction() as con:
        (a, b) = [r[0] for r in con.execute("SELECT letter_id FROM letters ORDER BY letter_id")]
        expected = [tuple(r) for r in con.execute(
            "SELECT passage_id, text FROM passages WHERE letter_id=? ORDER BY seq", (a,))]
        # What an older parser left: letter `a`'s 3rd sentence cut in two (so every later
        # passage one further on), a correction on its 10th, and tags on both letters.
        con.execute("UPDATE passages SET seq = seq + 1, passage_id = 'x' || passage_id "
                    "WHERE letter_id=? AND seq >= 3", (a,))
        con.execute("UPDATE passages SET passage_id = letter_id || '-' || printf('%04d', seq) "
                    "WHERE passage_id LIKE 'x%'")
        third = expected[2][1]
        cut = third.index(" ", len(third) // 2)
        con.execute("UPDATE passages SET text=? WHERE passage_id=?", (third[:cut], f"{a}-0004"))
        con.execute("INSERT INTO passages (passage_id, letter_id, seq, section, heading, "
                    "paragraph, char_start, char_end, text) SELECT ?, letter_id, 3, section, "
                    "heading, paragraph, char_start, char_end, ? FROM passages WHERE "
                    "passage_id=?", (f"{a}-0003", third[cut + 1:], f"{a}-0004"))
        con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source, "
                    "created_at) VALUES (?, ?, ?, '[\"inclusion\"]', 'negative', 'app', 'x')",
                    (f"{a}-0011", a, expected[9][1]))
        _tag_every_passage(con)
        con.execute("UPDATE letters SET parser_version='1'")
    info = runner.invoke(app, ["info", "--corpus", str(root)])
    assert "2 letters read by an older version of sendlens's parser" in info.stdout

    result = runner.invoke(app, ["import", "--reparse", "--corpus", str(root), "-q"])
    assert result.exit_code == 0, result.output
    assert "read 2 letters again" in result.stderr and "the passages of 1 changed" in result.stderr
    assert "1 moved with their sentence to its new passage" in result.stderr
    with corpus.reading() as con:
        assert [tuple(r) for r in con.execute(
            "SELECT passage_id, text FROM passages WHERE letter_id=? ORDER BY seq", (a,))
        ] == expected
        assert con.execute("SELECT passage_id FROM labels").fetchone()[0] == expected[9][0]
        tagged = dict(con.execute("SELECT p.letter_id, count(t.passage_id) FROM passages p "
                                  "LEFT JOIN tags t USING (passage_id) GROUP BY 1").fetchall())
        n_b = con.execute("SELECT count(*) FROM passages WHERE letter_id=?", (b,)).fetchone()[0]
        # The letter whose passages changed waits for `tag`; the other keeps its tags.
        assert tagged == {a: 0, b: n_b}
        # The search index follows: the words either side of the old cut are one phrase
        # again, found in the mended passage only.
        import re

        phrase = (re.findall(r"\w+", third[:cut])[-1] + " "
                  + re.findall(r"\w+", third[cut + 1:])[0])
        found = [r[0] for r in con.execute(
            "SELECT p.passage_id FROM passages_fts f JOIN passages p ON p.rowid = f.rowid "
            "WHERE passages_fts MATCH ?", (f'"{phrase}"',))]
        assert expected[2][0] in found, (phrase, found)
    info = runner.invoke(app, ["info", "--corpus", str(root)])
    assert "older version" not in info.stdout and "not tagged yet" in info.stdout
    again = runner.invoke(app, ["import", "--reparse", "--corpus", str(root), "-q"])
    assert again.exit_code == 0 and "every letter was read by the current parser" in again.stderr

    # A stored PDF that has gone: the letter is named, kept as it was, exit code 1.
    with corpus.transaction() as con:
        con.execute("UPDATE letters SET parser_version='1' WHERE letter_id=?", (b,))
        stored = root / con.execute("SELECT pdf_path FROM letters WHERE letter_id=?",
                                    (b,)).fetchone()[0]
    # Another letter's PDF put in its place: its text is not taken as this letter's.
    shutil.copy(real_pdfs[3], stored)
    swapped = runner.invoke(app, ["import", "--reparse", "--corpus", str(root), "-q"])
    assert swapped.exit_code == 1
    assert "is not the file imported (its content no longer matches its sha256)" in \
        swapped.stderr
    stored.unlink()
    gone = runner.invoke(app, ["import", "--reparse", "--corpus", str(root), "-q"])
    assert gone.exit_code == 1
    assert f"not read again: {real_pdfs[1].resolve()}" in gone.stderr \
        or f"not read again: {real_pdfs[0].resolve()}" in gone.stderr
    assert "cannot read its stored PDF" in gone.stderr
    with corpus.reading() as con:
        assert con.execute("SELECT count(*) FROM passages WHERE letter_id=?",
                           (b,)).fetchone()[0] == n_b


def test_a_letter_read_again_as_another_letters_inspection_is_named(
    real_pdfs: list[Path], tmp_path: Path
) -> None:
    # An older parser misread letter a's area, so the import let in b, another copy of the
    # report on a's inspection (here: b is given a's inspection). Read again, a is that
    # inspection's report too: both are named, nothing is deleted.
    root, runner, corpus = _cli_import(real_pdfs[:2], tmp_path)
    with corpus.transaction() as con:
        a, b = [tuple(r) for r in con.execute(
            "SELECT letter_id, area, framework, inspection_start, source FROM letters "
            "ORDER BY letter_id")]
        con.execute("UPDATE letters SET area=?, framework=?, inspection_start=? "
                    "WHERE letter_id=?", (*a[1:4], b[0]))
        con.execute("UPDATE letters SET area='Misread', parser_version='1' WHERE letter_id=?",
                    (a[0],))
    result = runner.invoke(app, ["import", "--reparse", "--corpus", str(root), "-q"])
    assert result.exit_code == 0, result.output
    assert (f"warning: {a[4]} now reads as a report on the same inspection as {b[4]} "
            f"({a[1]}, {a[2]}, begun {a[3]})") in result.stderr
    with corpus.reading() as con:
        assert con.execute("SELECT count(*) FROM letters").fetchone()[0] == 2
        assert con.execute("SELECT area FROM letters WHERE letter_id=?",
                           (a[0],)).fetchone()[0] == a[1]


def test_import_needs_paths_or_reparse(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["import", "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 2 and "give PDF files or folders" in result.stderr
    assert not (tmp_path / "c").exists()
    # Nothing imported into a new corpus (as `make run` with a folder of other files):
    # no corpus left behind, and nothing older to read again.
    (tmp_path / "notes.pdf").write_text("just some notes")
    (tmp_path / "c").mkdir()
    result = CliRunner().invoke(app, ["import", str(tmp_path / "notes.pdf"), "--reparse",
                                      "--corpus", str(tmp_path / "c")])
    # Exit code 1 for the skipped file, not for an exception (CliRunner gives 1 for both).
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "no corpus was left" in result.stderr
    assert list((tmp_path / "c").iterdir()) == []


def test_a_corrected_report_replaces_the_one_held_only_when_asked(tmp_path: Path) -> None:
    first = tmp_path / "kestrelbury.pdf"
    first.write_bytes(letter_2016_pdf("Kestrelbury"))
    fixed = tmp_path / "kestrelbury-corrected.pdf"
    fixed.write_bytes(letter_2016_pdf("Kestrelbury", corrected=True))
    root, runner, corpus = _cli_import([first], tmp_path)
    with corpus.transaction() as con:
        letter_id, old_pdf = con.execute("SELECT letter_id, pdf_path FROM letters").fetchone()
        passages = dict(con.execute("SELECT text, passage_id FROM passages"))
        kept = next(t for t in passages if t.startswith("Leaders know"))
        gone = next(t for t in passages if t.startswith("Waiting times for assessments by"))
        for text in (kept, gone):  # corrections made in the app
            con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source,"
                        " created_at) VALUES (?, ?, ?, '[]', 'positive', 'app', 'x')",
                        (passages[text], letter_id, text))
        _tag_every_passage(con)

    def texts() -> list[str]:
        with corpus.reading() as con:
            return [r[0] for r in con.execute("SELECT text FROM passages ORDER BY seq")]

    plain = runner.invoke(app, ["import", str(fixed), "--corpus", str(root), "-q"])
    assert plain.exit_code == 0, plain.output
    assert "another copy of the report on the same inspection" in plain.stderr
    assert gone in texts()

    result = runner.invoke(app, ["import", str(fixed), "--replace", "--corpus", str(root), "-q"])
    assert result.exit_code == 0, result.output
    assert "imported 0, replaced 1," in result.stderr
    assert f"replaced: {fixed} replaces {first.resolve()} (published " in result.stderr
    assert "as the report on the same inspection (Kestrelbury, " in result.stderr
    assert "corrections made in the app: 1 moved with their sentence, 1 whose sentence" \
        in result.stderr
    now = texts()
    assert gone not in now and kept in now
    assert any("over five" in t for t in now)
    with corpus.reading() as con:
        row = con.execute("SELECT letter_id, sha256, source, pdf_path FROM letters").fetchone()
        assert tuple(row)[:3] == (letter_id, hashlib.sha256(fixed.read_bytes()).hexdigest(),
                                  str(fixed.resolve()))
        assert con.execute("SELECT count(*) FROM tags").fetchone()[0] == 0  # tag again
        labels = dict(con.execute("SELECT text, passage_id FROM labels"))
        assert labels[gone] is None  # kept for training by its text
        assert con.execute("SELECT text FROM passages WHERE passage_id=?",
                           (labels[kept],)).fetchone()[0] == kept
    assert (root / row["pdf_path"]).read_bytes() == fixed.read_bytes()
    assert not (root / old_pdf).exists()
    assert not (root / old_pdf).parent.exists()  # no empty folder left either
    info = runner.invoke(app, ["info", "--corpus", str(root)])
    assert "1 letter read from a later file of the report than the one first imported" \
        in info.stdout
    # The file replaced is known: importing both again, with --replace or not, swaps
    # nothing back (nor clears a tag).
    both = tmp_path / "both"
    both.mkdir()
    for f in (first, fixed):
        shutil.copy(f, both / f.name)
    with corpus.transaction() as con:
        _tag_every_passage(con)
    for _ in range(2):
        again = runner.invoke(app, ["import", str(both), "--replace", "--corpus", str(root),
                                    "-q"])
        assert again.exit_code == 0, again.output
        assert "imported 0, already in the corpus 2, skipped 0" in again.stderr
        assert (f"{both / first.name} is an earlier file of the report now read from "
                f"{fixed.resolve()}, which replaced it on ") in again.stderr
    assert gone not in texts()
    assert corpus.counts()["tags"] == len(texts())
    # A third file restores the first text (the correction withdrawn): the correction
    # whose sentence had gone finds it again.
    third = tmp_path / "kestrelbury-third.pdf"
    third.write_bytes(first.read_bytes() + b"\n% re-saved\n")
    result = runner.invoke(app, ["import", str(third), "--replace", "--corpus", str(root), "-q"])
    assert "replaced 1," in result.stderr and "2 moved with their sentence" in result.stderr
    assert gone in texts()
    with corpus.reading() as con:
        assert con.execute("SELECT count(*) FROM labels WHERE passage_id IS NULL"
                           ).fetchone()[0] == 0


def test_replace_keeps_a_report_published_later_than_the_file_given(tmp_path: Path) -> None:
    letters = tmp_path / "letters"
    letters.mkdir()
    (letters / "a.pdf").write_bytes(letter_2016_pdf("Kestrelbury", corrected=True))
    (letters / "b.pdf").write_bytes(letter_2016_pdf("Kestrelbury"))
    (letters / "manifest.csv").write_text(
        "file,published\na.pdf,2016-08-01\nb.pdf,2016-07-01\n")
    root = tmp_path / "corpus"
    result = CliRunner().invoke(app, ["import", str(letters), "--replace", "--corpus",
                                      str(root), "-q"])
    assert result.exit_code == 0, result.output
    assert "imported 1, already in the corpus 1," in result.stderr
    assert "b.pdf is another copy of the report on the same inspection" in result.stderr
    with Corpus.open(root).reading() as con:
        assert con.execute("SELECT published FROM letters").fetchone()[0] == "2016-08-01"
        assert "over five" in " ".join(r[0] for r in con.execute("SELECT text FROM passages"))


def test_a_letter_listed_on_another_councils_page_is_filed_under_its_own_area(
    tmp_path: Path,
) -> None:
    """The provider page a letter was found on (its URN) may be a neighbour's or a
    successor's record: the area the letter names decides, and the summary says so."""
    from textmine.areas import lookup_area

    corpus = Corpus.open(tmp_path / "corpus")
    pdf = tmp_path / "bolton.pdf"
    pdf.write_bytes(letter_2016_pdf("Bolton"))
    cornwall = lookup_area("Cornwall")
    assert cornwall is not None and cornwall.ofsted_urn
    outcome = import_pdf(corpus, pdf, ofsted_urn=cornwall.ofsted_urn)
    assert outcome.status == "imported"
    with corpus.reading() as con:
        row = con.execute("SELECT area, la_code, ofsted_urn FROM letters").fetchone()
    # Filed under Bolton; the URN stays as the site gave it.
    assert tuple(row) == ("Bolton", "350", cornwall.ofsted_urn)
    (note,) = outcome.notes
    assert "Bolton" in note and "Cornwall" in note and cornwall.ofsted_urn in note
    # Read again by a newer parser (`import --reparse`, which `make run` passes), it
    # stays where the letter says: the re-read went back to the page's council.
    from sendlens.importer import _authority, reparse_letters

    with corpus.transaction() as con:
        con.execute("UPDATE letters SET parser_version = '1', area = 'Cornwall'")
    report = reparse_letters(corpus, progress=False)
    (moved,) = report.moved
    assert moved[1:3] == ("Cornwall", "Bolton") and "listed on the page of" in moved[3]
    assert "is now filed under Bolton (was Cornwall): the letter is about" in report.summary()
    with corpus.reading() as con:
        assert tuple(con.execute("SELECT area, la_code FROM letters").fetchone()) == (
            "Bolton", "350")
    # A name the page's council also goes by is that council's, dated or not: "Dorset"
    # on the former county's record (the name alone is today's Dorset).
    assert _authority("Dorset", "80463", None)[0].la_code == "835"
    # ... but not once that council had ended: a 2024 letter is today's Dorset's.
    la, notes = _authority("Dorset", "80463", "2024-05-01")
    assert la.la_code == "838" and "Dorset County Council" in notes[0]
    # A letter whose name is not recognised is still placed by its page.
    other = tmp_path / "odd.pdf"
    other.write_bytes(letter_2016_pdf("Kernow West"))
    placed = import_pdf(corpus, other, ofsted_urn=cornwall.ofsted_urn)
    assert placed.status == "imported" and placed.notes == ()
    with corpus.reading() as con:
        assert con.execute("SELECT area FROM letters WHERE letter_id = ?",
                           (placed.letter_id,)).fetchone()[0] == "Cornwall"


def test_a_quoted_tilde_in_the_corpus_path_means_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--corpus "~/sendlens"` (quoted, so the shell leaves the ~) made a folder named ~
    in the working folder; the same from $SENDLENS_CORPUS."""
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(letter_2016_pdf("Bolton"))
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(pdf), "-q", "--corpus", "~/one"]).exit_code == 0
    monkeypatch.setenv("SENDLENS_CORPUS", "~/two")
    assert runner.invoke(app, ["import", str(pdf), "-q"]).exit_code == 0
    assert (home / "one" / "sendlens.db").is_file() and (home / "two" / "sendlens.db").is_file()
    assert list(work.iterdir()) == []


def test_a_stored_pdf_is_where_corpora_already_on_disk_keep_theirs(
        corpus: Corpus, tmp_path: Path) -> None:
    # pdfs/ab/<sha256>.pdf (docs/ARCHITECTURE.md): every corpus built so far is laid out
    # so; a store looking elsewhere would take each letter's file for gone (and keep a
    # second copy of every file imported again).
    pdf = tmp_path / "testshire.pdf"
    pdf.write_bytes(letter_2016_pdf("Testshire"))
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    import_paths(corpus, [pdf], progress=False)
    where = Path("pdfs") / sha[:2] / f"{sha}.pdf"
    assert (corpus.root / where).read_bytes() == pdf.read_bytes()
    with corpus.reading() as con:
        assert con.execute("SELECT pdf_path FROM letters").fetchone()[0] == str(where)
    assert corpus.pdf_intact(sha)


def test_a_pdf_stored_is_whole_or_absent_never_half_written(
        corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    # A run killed (or a disk failing) while the store writes a PDF must not leave a
    # truncated file under the PDF's own name: the store would take it for the letter.
    import hashlib
    import os

    data = b"%PDF-1.7\n" + b"x" * 100_000 + b"\n%%EOF\n"
    sha = hashlib.sha256(data).hexdigest()

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        corpus.store_pdf(data, sha)
    dest = corpus.pdf_path_for(sha)
    assert not dest.exists()
    assert not list(dest.parent.glob("*")), "a half-written copy was left behind"
    monkeypatch.undo()
    assert corpus.store_pdf(data, sha).read_bytes() == data


def test_a_stored_pdf_is_as_readable_as_the_users_other_files(corpus: Corpus) -> None:
    # mkstemp's 0600 kept the other members of a shared corpus's group from reading the
    # store's PDFs: their re-import stopped at "Permission denied".
    import hashlib
    import os

    # 027 too: a mask read as decimal (27 = 0o33) left it readable by every user.
    for mask, mode in ((0o002, 0o664), (0o027, 0o640)):
        data = b"%PDF-1.7\n" + b"y" * 1000 + bytes([mask]) + b"\n%%EOF\n"
        before = os.umask(mask)
        try:
            path = corpus.store_pdf(data, hashlib.sha256(data).hexdigest())
        finally:
            os.umask(before)
        assert path.stat().st_mode & 0o777 == mode, oct(mask)


def _kestrelbury(tmp_path: Path, name: str, week: tuple[str, str], *,
                 corrected: bool = False, suffix: bytes = b"") -> Path:
    """A synthetic Kestrelbury letter of that inspection week, saved as `name`."""
    pdf = tmp_path / name
    pdf.write_bytes(letter_2016_pdf("Kestrelbury", corrected=corrected, week=week) + suffix)
    return pdf


def test_letters_begun_180_days_apart_are_a_close_pair_181_are_not(tmp_path: Path) -> None:
    # The window is inclusive, of one area and framework, and falls back on the
    # publication date of a letter with no inspection date.
    corpus = Corpus.open(tmp_path / "corpus")
    first = import_pdf(corpus, _kestrelbury(tmp_path, "a.pdf", ("6 June 2016", "10 June 2016")))
    second = import_pdf(corpus, _kestrelbury(tmp_path, "b.pdf",
                                             ("3 December 2016", "7 December 2016")))
    assert (first.status, second.status) == ("imported", "imported")

    def pairs() -> list[tuple[str, str]]:
        return [(r["first_id"], r["second_id"]) for r in corpus.close_pairs()]

    def update(sql: str, *args: object) -> None:
        with corpus.transaction() as con:
            con.execute(sql, (*args, second.letter_id))

    assert pairs() == [(first.letter_id, second.letter_id)]  # 180 days apart
    update("UPDATE letters SET inspection_start = '2016-12-04' WHERE letter_id = ?")
    assert pairs() == []  # 181
    update("UPDATE letters SET inspection_start = '2016-12-03', framework = 'other' "
           "WHERE letter_id = ?")
    assert pairs() == []  # another framework: a visit of another kind
    update("UPDATE letters SET framework = ?, inspection_start = NULL, published = "
           "'2016-09-01' WHERE letter_id = ?", first.framework)
    assert pairs() == [(first.letter_id, second.letter_id)]  # by its publication date


def test_a_report_superseded_twice_brings_none_of_its_earlier_files_back(
    tmp_path: Path,
) -> None:
    # Kestrelbury's report held as X (its first file replaced by a corrected one), then
    # published again under other dates (Y) and again (Z): X superseded by Y, Y by Z.
    # Every earlier file of it must still be known as Z's, not as a letter now gone.
    from sendlens.importer import supersede_letter

    corpus = Corpus.open(tmp_path / "corpus")
    june = ("6 June 2016", "10 June 2016")
    first = _kestrelbury(tmp_path, "first.pdf", june)
    resaved = _kestrelbury(tmp_path, "first-resaved.pdf", june, suffix=b"\n% re-saved\n")
    x = import_pdf(corpus, first).letter_id
    fixed = _kestrelbury(tmp_path, "fixed.pdf", june, corrected=True)
    assert import_pdf(corpus, fixed, replace="not-older").status == "replaced"
    y = import_pdf(corpus, _kestrelbury(tmp_path, "y.pdf", ("13 June 2016", "17 June 2016"),
                                        corrected=True)).letter_id
    supersede_letter(corpus, x, y)
    z = import_pdf(corpus, _kestrelbury(tmp_path, "z.pdf", ("20 June 2016", "24 June 2016"),
                                        corrected=True)).letter_id
    supersede_letter(corpus, y, z)

    def held() -> list[tuple[str, str]]:
        with corpus.reading() as con:
            return [(r[0], r[1]) for r in con.execute(
                "SELECT letter_id, inspection_start FROM letters")]

    assert held() == [(z, "2016-06-20")]
    # The first file, even offered with --replace and a later date (a manifest's), is not
    # read again (its text was put right twice since); nor is a re-saved copy of it taken
    # for a new inspection.
    again = import_pdf(corpus, first, replace="not-older", published="2016-08-01")
    assert (again.status, again.letter_id) == ("duplicate", z), again
    assert "not imported again" in again.reason
    copy = import_pdf(corpus, resaved)
    assert (copy.status, copy.letter_id) == ("duplicate", z), copy
    assert held() == [(z, "2016-06-20")]
    with corpus.reading() as con:
        assert "over five" in " ".join(r[0] for r in con.execute("SELECT text FROM passages"))


def test_a_replacement_takes_the_new_files_date_and_keeps_the_urn_it_does_not_give(
    tmp_path: Path,
) -> None:
    # The corrected file's date is the letter's now (the next file is compared with it);
    # a URN the first file's manifest row gave is not lost for want of one this time.
    june = ("6 June 2016", "10 June 2016")
    corpus = Corpus.open(tmp_path / "corpus")
    held = import_pdf(corpus, _kestrelbury(tmp_path, "first.pdf", june),
                      ofsted_urn="999999", published="2016-07-01")
    fixed = _kestrelbury(tmp_path, "fixed.pdf", june, corrected=True)
    outcome = import_pdf(corpus, fixed, published="2016-08-01", replace="newer")
    assert (outcome.status, outcome.letter_id) == ("replaced", held.letter_id)
    with corpus.reading() as con:
        row = con.execute("SELECT published, ofsted_urn, source FROM letters").fetchone()
    assert tuple(row) == ("2016-08-01", "999999", str(fixed.resolve()))


def test_a_race_with_another_run_keeps_the_scrapers_rule_for_a_withdrawn_letter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another run's letter of the inspection landing between the first look and the write
    # sent the import round again without `withdrawn`: the site's replacement of a file it
    # withdrew was held back as a copy, and the withdrawn text stayed.
    corpus = Corpus.open(tmp_path / "corpus")
    week = ("6 June 2016", "10 June 2016")
    held = import_pdf(corpus, _kestrelbury(tmp_path, "first.pdf", week),
                      published="2016-07-01").letter_id
    fixed = _kestrelbury(tmp_path, "fixed.pdf", week, corrected=True)
    real = Corpus.letter_of_inspection
    looks = []

    def late(self: Corpus, *args: object, **kwargs: object) -> object:
        looks.append(1)  # the first look misses the letter another run is writing
        return None if len(looks) == 1 else real(self, *args, **kwargs)

    monkeypatch.setattr(Corpus, "letter_of_inspection", late)
    outcome = import_pdf(corpus, fixed, published="2016-07-01", replace="newer",
                         withdrawn={held})
    assert (outcome.status, outcome.letter_id) == ("replaced", held)
    # Checks that disagree every time (the first look finds nothing, the one under the
    # write lock a letter) stop at the second round, naming the file.
    turns = iter([None, ("x", None)] * 3)
    monkeypatch.setattr(Corpus, "letter_of_inspection", lambda *a, **k: next(turns))
    other = _kestrelbury(tmp_path, "other.pdf", week, suffix=b"\n% another copy\n")
    with pytest.raises(RuntimeError, match=r"other\.pdf: the corpus's own checks disagree"):
        import_pdf(corpus, other)


def test_a_failed_import_keeps_the_stores_own_copy_of_its_file(
    corpus: Corpus, tmp_path: Path
) -> None:
    # After a database put back from a backup, `sendlens import` of the store's folder
    # takes its unlisted PDFs back in; the store may hold the only copy of one, so a
    # failure mid-letter (a full disk) must not remove it as a half-stored new file.
    data = letter_2016_pdf("Kestrelbury")
    stored = corpus.store_pdf(data, hashlib.sha256(data).hexdigest())
    assert corpus.unlisted_pdfs() == [stored]
    with corpus.transaction() as con:
        con.execute(
            "CREATE TRIGGER fail_mid_letter BEFORE INSERT ON passages WHEN new.seq = 2 "
            "BEGIN SELECT RAISE(ABORT, 'disk trouble (injected)'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        import_pdf(corpus, stored)
    assert corpus.counts()["letters"] == 0
    assert stored.read_bytes() == data
    with corpus.transaction() as con:
        con.execute("DROP TRIGGER fail_mid_letter")
    report = import_paths(corpus, [corpus.pdf_dir], progress=False)
    assert [o.status for o in report.outcomes] == ["imported"]


def test_a_correction_whose_sentence_had_gone_is_not_counted_as_lost_again(
    tmp_path: Path,
) -> None:
    # A corrected report took one correction's sentence away; reading the letter again
    # (a newer parser) keeps it unplaced, but that is no news: it is not counted again.
    from sendlens.importer import reparse_letters

    june = ("6 June 2016", "10 June 2016")
    corpus = Corpus.open(tmp_path / "corpus")
    letter_id = import_pdf(corpus, _kestrelbury(tmp_path, "first.pdf", june)).letter_id
    with corpus.transaction() as con:
        passages = dict(con.execute("SELECT text, passage_id FROM passages"))
        for start in ("Leaders know", "Waiting times for assessments by"):
            text = next(t for t in passages if t.startswith(start))
            con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source,"
                        " created_at) VALUES (?, ?, ?, '[]', 'positive', 'app', 'x')",
                        (passages[text], letter_id, text))
    fixed = _kestrelbury(tmp_path, "fixed.pdf", june, corrected=True)
    assert "1 moved with their sentence, 1 whose sentence" in import_pdf(
        corpus, fixed, replace="not-older").reason
    with corpus.transaction() as con:  # as an older parser read it: one passage differs
        con.execute("UPDATE passages SET text = text || ' (cut)' WHERE passage_id = ?",
                    (f"{letter_id}-0001",))
        con.execute("UPDATE letters SET parser_version = '1'")
    report = reparse_letters(corpus, progress=False)
    assert (report.changed, report.labels_moved, report.labels_unplaced) == (1, 1, 0)
    with corpus.reading() as con:
        assert con.execute("SELECT count(*) FROM labels WHERE passage_id IS NULL"
                           ).fetchone()[0] == 1


def test_a_copy_cut_short_in_the_store_is_written_whole_by_the_import(
    corpus: Corpus, tmp_path: Path
) -> None:
    # A store copied back from a backup half-way holds a file cut short under the right
    # name: the letter imported must not point at it (a reparse could not read it).
    data = letter_2016_pdf("Kestrelbury")
    dest = corpus.pdf_path_for(hashlib.sha256(data).hexdigest())
    dest.parent.mkdir(parents=True)
    dest.write_bytes(data[: len(data) // 2])
    pdf = tmp_path / "kestrelbury.pdf"
    pdf.write_bytes(data)
    assert import_pdf(corpus, pdf).status == "imported"
    assert dest.read_bytes() == data


def test_a_taken_out_letters_stored_copy_gone_is_put_back_by_importing_its_file(
    tmp_path: Path,
) -> None:
    # The kept PDF of a letter `supersede` took out, gone from the store (a sync, a clean
    # up by hand): importing the letter's file again said "`sendlens supersede X --undo`
    # puts it back", but left the store as it was, so `--undo` then failed for want of
    # the file. A held letter's copy is put back by importing its file again; so must this.
    from sendlens.importer import restore_letter, supersede_letter

    corpus = Corpus.open(tmp_path / "corpus")
    first = _kestrelbury(tmp_path, "first.pdf", ("6 June 2016", "10 June 2016"))
    x = import_pdf(corpus, first).letter_id
    y = import_pdf(corpus, _kestrelbury(tmp_path, "y.pdf", ("13 June 2016", "17 June 2016"),
                                        corrected=True)).letter_id
    supersede_letter(corpus, x, y)
    kept = corpus.pdf_path_for(hashlib.sha256(first.read_bytes()).hexdigest())
    kept.unlink()
    again = import_pdf(corpus, first)
    assert again.status == "duplicate"
    said = f"`sendlens supersede {x} --undo` puts it back"
    assert said in again.reason
    # What it said holds: the letter comes back.
    restore_letter(corpus, x)
    assert kept.is_file()
    assert _letter_count(corpus) == 2


def test_an_undo_racing_another_undo_of_the_letter_says_it_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two `supersede X --undo` at once: the one that lost the race stopped with exit 2
    # ("put back by another run meanwhile"), where a re-run says "nothing to do".
    from sendlens import importer
    from sendlens.importer import restore_letter, supersede_letter

    corpus = Corpus.open(tmp_path / "corpus")
    x = import_pdf(corpus, _kestrelbury(tmp_path, "x.pdf", ("6 June 2016", "10 June 2016")))
    y = import_pdf(corpus, _kestrelbury(tmp_path, "y.pdf", ("13 June 2016", "17 June 2016"),
                                        corrected=True))
    supersede_letter(corpus, x.letter_id, y.letter_id)
    real_extract = importer.extract_pdf

    def other_run_first(path: Path) -> object:
        monkeypatch.setattr(importer, "extract_pdf", real_extract)
        restore_letter(corpus, x.letter_id)  # the other run, done while this one reads
        return real_extract(path)

    monkeypatch.setattr(importer, "extract_pdf", other_run_first)
    said = restore_letter(corpus, x.letter_id)
    assert said == f"letter {x.letter_id} is in the corpus, not taken out: nothing to do"
    assert _letter_count(corpus) == 2


def test_a_database_problem_with_a_detailed_code_is_still_told_by_its_cause(
    tmp_path: Path,
) -> None:
    """SQLite reports most failures with a detailed (extended) code: a corpus folder
    renamed while a run wrote, or a database that cannot be opened, must not be called
    damaged, with the advice to move the corpus away and rebuild it (losing corrections)."""
    db = tmp_path / "x.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("CREATE TABLE t (x)")
    db.rename(tmp_path / "moved.db")  # the folder renamed under a running import
    with pytest.raises(sqlite3.OperationalError) as moved:
        con.execute("INSERT INTO t VALUES (1)")
    con.close()
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(sqlite3.OperationalError) as cannot_open:
        sqlite3.connect(tmp_path / "folder.db").execute("SELECT 1")
    for exc in (moved.value, cannot_open.value):
        told = database_problem(exc, db)
        assert "cannot be written" in told and "permissions" in told, told
        assert "rebuild" not in told and "damaged" not in told, told
