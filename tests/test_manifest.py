"""manifest.csv beside imported PDFs: every row that cannot be used is reported by line.

The letters are the invented fixture letters (tests/fixtures/letters), rendered to PDF.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from fixtures.make_pdfs import LETTERS_DIR, render_file
from typer.testing import CliRunner

from sendlens.cli import app
from sendlens.importer import ImportItem, collect_pdfs
from sendlens.store import Corpus

# name in the test folder -> fixture letter (its own date, from its golden file)
LETTERS = {
    "kestrelbury.pdf": "send2016_nowsoa_kestrelbury",  # dated 9 January 2018
    "harrowdale.pdf": "send2016_wsoa_harrowdale",  # dated 25 May 2017
    "ashmere.pdf": "revisit2018_all_ashmere",  # dated 3 September 2019
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("rendered")
    return {
        name: render_file(LETTERS_DIR / f"{stem}.txt", out / name).read_bytes()
        for name, stem in LETTERS.items()
    }


@pytest.fixture
def folder(tmp_path: Path, rendered: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path/letters with the three PDFs; the working folder is tmp_path."""
    letters = tmp_path / "letters"
    letters.mkdir()
    for name, data in rendered.items():
        (letters / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    return letters


def letters_by_area(corpus_dir: Path) -> dict[str, sqlite3.Row]:
    con = Corpus.open(corpus_dir).connect()
    try:
        sql = "SELECT area, ofsted_urn, published, source FROM letters"
        return {r["area"]: r for r in con.execute(sql)}
    finally:
        con.close()


def read_manifest(folder: Path, content: str | bytes) -> tuple[dict[str, ImportItem], list[str]]:
    """Write `content` as the folder's manifest.csv; the PDFs collected (by file name) and
    the warnings collecting them gave."""
    path = folder / "manifest.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    warnings: list[str] = []
    items = {i.path.name: i for i in collect_pdfs([folder], warnings=warnings)}
    return items, warnings


def test_bad_manifest_rows_are_reported_by_line_and_the_pdfs_still_imported(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "manifest.csv").write_text(
        "file,ofsted_urn,published,url\n"
        "kestrelbury.pdf,80999,31 February 2017,https://example.org/k.pdf\n"
        "harrowdale.pdf,abc,2017-06-01,\n"
        "gone.pdf,80998,1 March 2018,\n"
        "ashmere.pdf,80997,4 October 2019,,surplus\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["import", "letters", "--corpus", str(tmp_path / "corpus"), "-q"]
    )

    # A manifest problem is a warning, not a skipped file.
    assert result.exit_code == 0, result.output
    out = result.output
    assert "imported 3, already in the corpus 0, skipped 0" in out
    assert (
        "warning: letters/manifest.csv line 2: published '31 February 2017' is not a date "
        "(e.g. 2024-05-15 or 15 May 2024); the letter's own date is used, if it has one" in out
    )
    assert (
        "warning: letters/manifest.csv line 3: ofsted_urn 'abc' is not an Ofsted URN "
        "(digits only); not stored" in out
    )
    assert "warning: letters/manifest.csv line 4: file 'gone.pdf' not found" in out
    assert (
        "warning: letters/manifest.csv line 5: 5 fields where the header has 4 "
        "(a value with a comma needs quotes); the row is ignored" in out
    )
    assert out.count("warning:") == 4

    got = letters_by_area(tmp_path / "corpus")
    assert set(got) == {"Kestrelbury", "Harrowdale", "Ashmere"}
    # Bad date: the letter's own date; the rest of the row still used.
    assert got["Kestrelbury"]["published"] == "2018-01-09"
    assert got["Kestrelbury"]["ofsted_urn"] == "80999"
    assert got["Kestrelbury"]["source"] == "https://example.org/k.pdf"
    # Bad URN: not stored; the row's good date is.
    assert got["Harrowdale"]["ofsted_urn"] is None
    assert got["Harrowdale"]["published"] == "2017-06-01"
    # Malformed row: nothing of it used, the PDF imported on its own.
    assert got["Ashmere"]["ofsted_urn"] is None
    assert got["Ashmere"]["published"] == "2019-09-03"


def test_manifest_problems_of_every_kind_name_their_line(folder: Path) -> None:
    items, warnings = read_manifest(
        folder,
        "File, Published ,urn\n"  # header cells as a spreadsheet may write them
        "kestrelbury.pdf,2017-02-31,\n"
        ",1 May 2017,80999\n"
        ",,\n"  # blank row: nothing to say
        "harrowdale.pdf,1 June 2017,80.5\n"
        "harrowdale.pdf,2 June 2017,80996\n"
        "ashmere.pdf\n",
    )

    where = "letters/manifest.csv line"
    assert warnings == [
        f"{where} 2: published '2017-02-31' is not a date (e.g. 2024-05-15 or 15 May 2024); "
        "the letter's own date is used, if it has one",
        f"{where} 3: no file name; the row is ignored",
        f"{where} 5: urn '80.5' is not an Ofsted URN (digits only); not stored",
        f"{where} 6: letters/harrowdale.pdf is already described on line 5; "
        "this row is ignored",
    ]
    assert items["kestrelbury.pdf"].published is None
    assert (items["harrowdale.pdf"].published, items["harrowdale.pdf"].ofsted_urn) == (
        "2017-06-01",
        None,
    )
    assert items["ashmere.pdf"].published is None


def test_misspelt_columns_bad_urls_and_wrong_hashes_are_named(
    folder: Path, tmp_path: Path
) -> None:
    import hashlib

    good = hashlib.sha256((folder / "harrowdale.pdf").read_bytes()).hexdigest()
    manifest = (
        "file,ofsted_urn,urll,url,sha256,area\n"
        f"harrowdale.pdf,80996,x,https://example.org/h.pdf,{good.upper()},Harrowdale\n"
        f"kestrelbury.pdf,80999,x,notaurl,{'0' * 64},Kestrelbury\n"
        "ashmere.pdf,80997,,,abc123\n"
    )
    items, warnings = read_manifest(folder, manifest)
    where = "letters/manifest.csv line"
    assert warnings == [
        f"{where} 1: column 'urll' is not read (did you mean 'url'? sendlens reads file, "
        "file_date, ofsted_urn, path, published, sha256, url, urn)",
        f"{where} 3: url 'notaurl' is not a web address (http:// or https://); not stored",
        f"{where} 4: sha256 'abc123' is not a SHA-256 (64 hexadecimal characters); not checked",
    ]
    assert items["harrowdale.pdf"].source == "https://example.org/h.pdf"
    assert items["kestrelbury.pdf"].source is None
    assert items["kestrelbury.pdf"].ofsted_urn == "80999"  # the rest of the row still used
    assert items["ashmere.pdf"].ofsted_urn == "80997"

    # The hash is compared when the file is imported (and hashed) anyway.
    result = CliRunner().invoke(app, ["import", "letters", "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert result.output.count("does not match its sha256") == 1
    assert (
        f"{where} 3: kestrelbury.pdf does not match its sha256 in the manifest (000000000000"
        "...): it is not the file the manifest lists; the row's other values are still used"
    ) in result.output
    assert letters_by_area(tmp_path / "c")["Kestrelbury"]["ofsted_urn"] == "80999"


def test_short_manifest_rows_keep_the_values_given(folder: Path) -> None:
    items, warnings = read_manifest(folder, "file,ofsted_urn,sha256\nashmere.pdf,80997\n")
    assert warnings == []
    assert items["ashmere.pdf"].ofsted_urn == "80997"


def test_empty_cells_after_the_last_column_are_no_surplus(folder: Path) -> None:
    # As a spreadsheet saves a row once a cell beyond the header was touched.
    items, warnings = read_manifest(folder, "file,ofsted_urn\nashmere.pdf,80997,,,\n")
    assert warnings == []
    assert items["ashmere.pdf"].ofsted_urn == "80997"


def test_a_file_named_by_a_mac_in_another_unicode_form_is_found(folder: Path) -> None:
    # A Mac names the file with "e" and a combining accent, the manifest typed in a
    # spreadsheet has one "é": the row was "not found" beside the very file it names.
    (folder / "ashmere.pdf").rename(folder / "e\u0301cole-ashmere.pdf")
    items, warnings = read_manifest(
        folder, "file,ofsted_urn\n\u00e9cole-ashmere.pdf,80997\n")
    assert warnings == []
    assert items["e\u0301cole-ashmere.pdf"].ofsted_urn == "80997"


def test_a_column_named_twice_is_said_and_the_last_read(folder: Path) -> None:
    items, warnings = read_manifest(
        folder, "file,published,published\nashmere.pdf,2019-01-01,2019-10-04\n")
    assert warnings == ["letters/manifest.csv line 1: column 'published' appears twice in "
                        "the header; the last one of each is read"]
    assert items["ashmere.pdf"].published == "2019-10-04"


def test_a_publication_date_before_the_inspection_is_questioned(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "manifest.csv").write_text("file,published\nashmere.pdf,2001-01-01\n")
    result = CliRunner().invoke(app, ["import", "letters", "--corpus",
                                      str(tmp_path / "corpus"), "-q"])
    assert result.exit_code == 0, result.output
    assert ("ashmere.pdf: imported, but its publication date 2001-01-01 (from the manifest "
            "or the site) is before the inspection began" in " ".join(result.output.split()))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\nname,published\nkestrelbury.pdf,1 May 2017\n",
         "letters/manifest.csv line 2: no 'file' column (the header is name, published); "
         "the manifest is ignored"),
        (b"file,published\nkestrelbury.pdf,1 Ma\xefi 2017\n",
         "letters/manifest.csv: not UTF-8 text (save it as CSV UTF-8); the manifest is ignored"),
        (b"", "letters/manifest.csv: the file is empty; ignored"),
        (b"file;published\nkestrelbury.pdf;1 May 2017\n",
         "letters/manifest.csv line 1: no 'file' column (the header is file;published) (it "
         "looks semicolon-separated: save it with commas); the manifest is ignored"),
    ],
    ids=["no-file-column", "not-utf8", "empty", "semicolons"],
)
def test_an_unusable_manifest_is_reported(folder: Path, content: bytes, expected: str) -> None:
    items, warnings = read_manifest(folder, content)
    assert warnings == [expected]
    assert len(items) == 3 and all(i.published is None for i in items.values())


@pytest.mark.parametrize("kind", ["folder", "dangling-link", "pipe"])
def test_a_manifest_that_is_no_file_is_said_not_passed_over(folder: Path, kind: str) -> None:
    manifest = folder / "manifest.csv"
    if kind == "folder":
        manifest.mkdir()
        what = "a folder"
    elif kind == "dangling-link":
        manifest.symlink_to(folder / "gone.csv")
        what = "a link to nothing"
    else:
        os.mkfifo(manifest)
        what = "not a regular file"
    warnings: list[str] = []
    items = list(collect_pdfs([folder], warnings=warnings))
    assert warnings == [f"letters/manifest.csv: {what}, not a CSV file; the manifest is ignored"]
    assert len(items) == 3


def test_a_good_manifest_says_nothing(folder: Path) -> None:
    items, warnings = read_manifest(
        folder,
        "file,ofsted_urn,file_date\nkestrelbury.pdf,80999,15 may 2024\n"
        "harrowdale.pdf,,2017-06-01\n",
    )
    assert warnings == []
    assert (items["kestrelbury.pdf"].ofsted_urn, items["kestrelbury.pdf"].published) == (
        "80999",
        "2024-05-15",
    )
    assert items["harrowdale.pdf"].published == "2017-06-01"


def test_a_quote_left_open_is_named_at_its_line(folder: Path) -> None:
    items, warnings = read_manifest(
        folder,
        "file,ofsted_urn,published,notes\n"
        'kestrelbury.pdf,80999,"1 May 2017\n'  # the quote is never closed on its line
        "harrowdale.pdf,80996,2017-06-01,\n"
        'ashmere.pdf,80997",2019-09-03,"a note\nover two lines"\n',
    )
    assert warnings == [
        'letters/manifest.csv line 2: a quote (") is not closed on the line, so lines 2-5 '
        "were read as one row; they are ignored"
    ]
    assert items["kestrelbury.pdf"].ofsted_urn is None
    # In a note too, where the next rows are read into the note ...
    items, warnings = read_manifest(
        folder,
        'file,ofsted_urn,notes\nkestrelbury.pdf,80999,"a note never closed\n'
        'harrowdale.pdf,80996,see ""x"""\nashmere.pdf,80997,\n')
    assert warnings == [
        'letters/manifest.csv line 2: a quote (") is not closed on the line, so lines 2-3 '
        "were read as one row; they are ignored"
    ]
    assert items["ashmere.pdf"].ofsted_urn == "80997"
    # ... until a stray quote, where the reader gives up ...
    items, warnings = read_manifest(
        folder,
        'file,ofsted_urn,notes\nkestrelbury.pdf,80999,"a note never closed\n'
        'harrowdale.pdf,80996,\nashmere.pdf,80997,"fine"\n')
    unpaired = ('the quotes (") from this line on do not pair up: a quote left open, or one '
                'inside a value not written as ""; this row and the rest of the manifest are '
                "ignored")
    assert warnings == [f"letters/manifest.csv line 2: {unpaired}"]
    # ... or to the end of the file.
    items, warnings = read_manifest(
        folder,
        'file,ofsted_urn,notes\nkestrelbury.pdf,80999,fine\nharrowdale.pdf,80996,"oops\n'
        "ashmere.pdf,80997,\n")
    assert warnings == [f"letters/manifest.csv line 3: {unpaired}"]
    assert items["kestrelbury.pdf"].ofsted_urn == "80999"
    assert items["ashmere.pdf"].ofsted_urn is None
    # A note may hold a line break: that is not a quote left open.
    items, warnings = read_manifest(
        folder, 'file,ofsted_urn,notes\nashmere.pdf,80997,"a note\nover two lines"\n')
    assert warnings == [] and items["ashmere.pdf"].ofsted_urn == "80997"


def test_a_copy_under_another_name_is_named_once_imported(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "zz-copy.pdf").write_bytes((folder / "ashmere.pdf").read_bytes())
    args = ["import", "letters", "--corpus", str(tmp_path / "c"), "-q"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "imported 3, already in the corpus 1, skipped 0" in first.output
    assert ("already in the corpus: letters/zz-copy.pdf is the same file as "
            f"{folder / 'ashmere.pdf'} (imported before)") in first.output
    # Importing the same folder again, from another working folder: every file is
    # already there, and none is a copy.
    monkeypatch.chdir(folder)
    again = CliRunner().invoke(app, ["import", ".", *args[2:]])
    assert "already in the corpus 4" in again.output
    assert again.output.count("is the same file as") == 1  # only zz-copy.pdf, still


def test_a_row_the_csv_reader_rejects_ends_the_manifest_there(folder: Path) -> None:
    items, warnings = read_manifest(
        folder,
        "file,published\nkestrelbury.pdf,1 May 2017\n"
        f'harrowdale.pdf,"{"x" * 200_000}"\nashmere.pdf,1 June 2017\n',
    )
    assert warnings == [
        "letters/manifest.csv line 3: field larger than field limit (131072); "
        "this row and the rest of the manifest are ignored"
    ]
    assert items["kestrelbury.pdf"].published == "2017-05-01"
    assert items["ashmere.pdf"].published is None


def test_a_manifest_read_later_fills_in_what_held_letters_lack(folder: Path,
                                                               tmp_path: Path) -> None:
    # Imported first without a manifest, then again with one: the letters are not
    # imported twice, but their empty fields take the manifest's values; a value they
    # have (the letter's own date) is kept.
    corpus = str(tmp_path / "corpus")
    assert CliRunner().invoke(app, ["import", "letters", "--corpus", corpus, "-q"]
                              ).exit_code == 0
    assert letters_by_area(tmp_path / "corpus")["Kestrelbury"]["ofsted_urn"] is None
    (folder / "manifest.csv").write_text(
        "file,ofsted_urn,published\nkestrelbury.pdf,80999,2018-02-01\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "letters", "--corpus", corpus, "-q"])
    assert result.exit_code == 0, result.output
    assert "imported 0, already in the corpus 3, skipped 0" in result.output
    assert (f"already in the corpus: {folder / 'kestrelbury.pdf'}: its ofsted_urn (empty "
            "until now) filled in from the manifest") in result.output
    got = letters_by_area(tmp_path / "corpus")
    assert got["Kestrelbury"]["ofsted_urn"] == "80999"
    assert got["Kestrelbury"]["published"] == "2018-01-09"
    assert got["Harrowdale"]["ofsted_urn"] is None
    again = CliRunner().invoke(app, ["import", "letters", "--corpus", corpus, "-q"])
    assert "filled in" not in again.output


def test_a_manifest_beside_links_describes_the_files_they_lead_to(folder: Path,
                                                                  tmp_path: Path) -> None:
    """A folder of links to PDFs kept elsewhere, with its own manifest: that manifest was
    never read (only the one beside the files the links lead to, if any), so its dates
    and URNs were lost and its problems not reported."""
    links = tmp_path / "links"
    links.mkdir()
    for name in ("kestrelbury.pdf", "ashmere.pdf"):
        (links / name).symlink_to(folder / name)
    (links / "manifest.csv").write_text(
        "file,ofsted_urn,published\n"
        "kestrelbury.pdf,80454,2018-01-20\n"
        "ashmere.pdf,abc,2019-09-10\n", encoding="utf-8")
    warnings: list[str] = []
    items = {i.path.name: i for i in collect_pdfs([links], warnings=warnings)}
    assert (items["kestrelbury.pdf"].ofsted_urn, items["kestrelbury.pdf"].published) == (
        "80454", "2018-01-20")
    assert items["ashmere.pdf"].published == "2019-09-10"
    assert len(warnings) == 1 and "line 3" in warnings[0] and "'abc'" in warnings[0]
    # The files' own folder's manifest still describes them when the links' has no row.
    (links / "manifest.csv").write_text("file,published\n", encoding="utf-8")
    (folder / "manifest.csv").write_text("file,published\nashmere.pdf,2019-09-12\n",
                                         encoding="utf-8")
    items = {i.path.name: i for i in collect_pdfs([links], warnings=[])}
    assert items["ashmere.pdf"].published == "2019-09-12"
