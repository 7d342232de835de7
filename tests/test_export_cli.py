"""`sendlens export` through the command line, on five real letters with hand-set tags."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import main_exit_code
from test_aggregate import build_tagged_corpus
from typer.testing import CliRunner

from scraper.records import CANONICAL_SECTIONS
from sendlens.cli import app
from sendlens.export import (
    TEX_LAYOUTS,
    TEX_PAD_CHARS,
    _cell,
    table_bytes,
    tex_word,
    with_intervals_inline,
)
from sendlens.store import Corpus
from textmine.aggregate import ehc_plans_actions_share

LETTER_COLUMNS = [
    "letter_id", "area", "ofsted_urn", "framework", "inspection_start", "inspection_end",
    "published", "previous_inspection", "outcome", "source", "sha256", "n_passages",
]
PASSAGE_COLUMNS = ["letter_id", "passage_id", "section", "paragraph", "char_start",
                   "char_end", "text"]

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, letters_dir: Path) -> Corpus:
    return build_tagged_corpus(tmp_path_factory.mktemp("cli") / "corpus", letters_dir)


def copy_of(corpus: Corpus, tmp_path: Path) -> Path:
    """A copy of the module's corpus at tmp_path/c, for a test that writes to it."""
    copy = tmp_path / "c"
    shutil.copytree(corpus.root, copy)
    return copy


def export(corpus: Corpus | Path, *args: str):
    root = corpus.root if isinstance(corpus, Corpus) else corpus
    return runner.invoke(app, ["export", *args, "--corpus", str(root)])


def read(path: Path) -> pd.DataFrame:
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".xlsx": pd.read_excel}
    return readers[path.suffix](path)


def read_markdown(text: str) -> pd.DataFrame:
    lines = [line.strip().strip("|").split(" | ") for line in text.strip().splitlines()
             if line.startswith("|")]  # the table, not the lines under it
    header, _rule, *body = lines
    return pd.DataFrame(body, columns=[h.strip() for h in header])


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_export_letters_round_trips(corpus: Corpus, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"letters{suffix}"
    result = export(corpus, "letters", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 5 rows" in result.output
    frame = read(out)
    assert set(LETTER_COLUMNS) <= set(frame.columns)
    assert len(frame) == 5
    assert frame["area"].tolist() == sorted(frame["area"])
    with corpus.reading() as con:
        stored = {r["letter_id"]: dict(r) for r in con.execute("SELECT * FROM letters")}
        n_passages = dict(con.execute(
            "SELECT letter_id, count(*) FROM passages GROUP BY letter_id").fetchall())
    for row in frame.to_dict("records"):
        lid = str(row["letter_id"])
        assert row["sha256"] == stored[lid]["sha256"] and row["sha256"].startswith(lid)
        assert row["n_passages"] == n_passages[lid]
        assert row["framework"] == "area_send_2023"
        assert str(row["inspection_start"])[:10] == stored[lid]["inspection_start"]
    cornwall = frame[frame["area"] == "Cornwall"].iloc[0]
    assert cornwall["outcome"] == "inconsistent"
    assert str(cornwall["inspection_end"])[:10] == "2023-02-10"


def test_letters_parquet_columns_keep_their_types_whatever_the_corpus_holds(
        corpus: Corpus, tmp_path: Path) -> None:
    # The 2023 reports have no letter date: that column was written as nulls, a corpus
    # with older letters wrote it as text, and the two files would not combine.
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "letters.parquet"
    assert export(corpus, "letters", "-o", str(out)).exit_code == 0
    schema = pq.read_schema(out)
    assert read(out)["letter_date"].isna().all()
    for column in ("letter_date", "url", "previous_inspection", "next_inspection"):
        assert pa.types.is_large_string(schema.field(column).type) or pa.types.is_string(
            schema.field(column).type), (column, schema.field(column).type)
    assert pa.types.is_integer(schema.field("weaknesses_total").type)


def test_xlsx_dates_are_dates(corpus: Corpus, tmp_path: Path) -> None:
    # A spreadsheet sorts and filters them by date, not as text.
    import datetime

    from openpyxl import load_workbook

    out = tmp_path / "letters.xlsx"
    assert export(corpus, "letters", "-o", str(out)).exit_code == 0
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    starts = [row[header.index("inspection_start")].value for row in sheet.iter_rows(min_row=2)]
    assert len(starts) == 5
    assert all(isinstance(v, datetime.datetime | datetime.date) for v in starts), starts
    # Shown as the day alone, not as a time of midnight ("2023-02-06 00:00:00").
    assert {row[header.index("inspection_start")].number_format
            for row in sheet.iter_rows(min_row=2)} == {"YYYY-MM-DD"}
    # Not every text column is taken for dates: ids and areas stay text.
    assert all(isinstance(row[header.index("letter_id")].value, str)
               for row in sheet.iter_rows(min_row=2))


def test_an_xlsx_table_is_readable_as_it_opens(corpus: Corpus, tmp_path: Path) -> None:
    """Evidence in a spreadsheet: the header stays in view with filters on it, long text
    wraps in a column of bounded width, shares show three decimals but keep every digit."""
    from openpyxl import load_workbook

    out = tmp_path / "evidence.xlsx"
    assert export(corpus, "evidence", "--theme", "ehc_plans", "-o", str(out)).exit_code == 0
    book = load_workbook(out)
    sheet = book["Table"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == sheet.dimensions

    def column(name: str) -> tuple[str, float]:
        letter = sheet.cell(1, header.index(name) + 1).column_letter
        return letter, sheet.column_dimensions[letter].width

    text, text_width = column("text")
    assert text_width == 60 and sheet[f"{text}2"].alignment.wrap_text
    stance, stance_width = column("stance")
    assert 6 < stance_width < 20 and not sheet[f"{stance}2"].alignment.wrap_text
    score, _ = column("theme_score")
    assert sheet[f"{score}2"].number_format == "0.000"
    third = table_bytes(pd.DataFrame({"share_negative": [1 / 3]}), "xlsx")
    assert pd.read_excel(io.BytesIO(third))["share_negative"][0] == 1 / 3  # digits kept
    about = book["About"]
    assert about.column_dimensions["A"].width >= len("table")
    # One long cell does not widen a column of short ones.
    areas = ["Bury"] * 30 + ["Bournemouth, Christchurch and Poole"]
    short = load_workbook(io.BytesIO(table_bytes(pd.DataFrame({"area": areas}), "xlsx")))
    assert short["Table"].column_dimensions["A"].width < 10


def test_an_output_path_that_cannot_be_written_is_explained(corpus: Corpus,
                                                            tmp_path: Path) -> None:
    result = export(corpus, "letters", "-o", str(tmp_path / "nodir" / "letters.csv"))
    assert result.exit_code == 2
    assert f"there is no folder {tmp_path / 'nodir'}" in result.output
    assert "Errno" not in result.output
    result = export(corpus, "letters", "-o", str(tmp_path), "--format", "csv")
    assert result.exit_code == 2 and "is a folder: give a file name" in result.output
    # A good export leaves only the file, no temporary beside it.
    assert export(corpus, "letters", "-o", str(tmp_path / "ok.csv")).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.csv"]
    # Inside the corpus (its database, say): refused, the corpus left as it was.
    db = corpus.root / "sendlens.db"
    before = db.read_bytes()
    result = export(corpus, "themes", "-f", "csv", "-o", str(db))
    assert result.exit_code == 2 and "is inside the corpus folder" in result.output
    assert db.read_bytes() == before
    # A read-only file is not replaced by the rename.
    locked = tmp_path / "locked.csv"
    locked.write_text("mine\n")
    locked.chmod(0o444)
    result = export(corpus, "letters", "-o", str(locked))
    assert result.exit_code == 2 and "is read-only: not replaced" in result.output
    assert locked.read_text() == "mine\n"
    locked.chmod(0o644)
    locked.unlink()
    comm = Path("/proc/self/comm")  # a writable file in a folder where no file can be made
    if comm.is_file():
        result = export(corpus, "letters", "-o", str(comm), "--format", "csv")
        assert result.exit_code == 2
        assert "cannot make a new file in /proc/self to write it through" in result.output


def test_the_line_under_a_markdown_table_keeps_a_searchs_characters(corpus: Corpus) -> None:
    # "EHC* annual" ended the note's italics at its "*" and read as a search for "EHC".
    md = export(corpus, "evidence", "--theme", "ehc_plans", "--words", "EHC* [annual]",
                "--format", "md").stdout
    note = md.strip().splitlines()[-1]
    assert note.startswith("*") and note.endswith("*")
    assert "words EHC\\* \\[annual\\]" in note
    assert note[1:-1].count("*") == note.count("\\*")  # no other star left to end it


def test_a_table_pooling_frameworks_says_so(corpus: Corpus, tmp_path: Path) -> None:
    # A scraped corpus's area rows pooled a 2016 inspection with its revisit without a
    # word, and a revisit discusses only weaknesses: not like for like with a 2023 report.
    assert "pool" not in export(corpus, "themes").stderr  # the 2023 reports alone
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET framework = 'revisit_2018' WHERE area = 'Dorset'")
    result = export(copy, "themes", "--by", "region")
    said = " ".join(result.stderr.split())
    # Dorset's revisit and the other South West letter (Cornwall's report) share a row.
    assert ("1 row pools letters of several frameworks (South West: 1 area_send_2023, "
            "1 revisit_2018): a revisit letter discusses only the weaknesses it revisits"
            ) in said
    assert "--framework CODE counts one framework" in said
    # Rows of one framework each, though the table holds two: nothing to say.
    for alone in (["--framework", "area_send_2023"], ["--by", "framework"], ["--by", "area"],
                  ["--by", "region", "--region", "South East"]):
        assert "pool" not in export(copy, "themes", *alone).stderr, alone
    md = export(copy, "themes", "--by", "region", "--format", "md").stdout
    assert "1 row pools letters of several frameworks" in md  # under a pasted table too
    # A monitoring visit beside a report: its reason, not a revisit's.
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET framework = 'monitoring_2023' WHERE area = 'Dorset'")
    said = " ".join(export(copy, "themes", "--by", "region").stderr.split())
    assert "1 monitoring_2023): a monitoring letter discusses only the priorities it" in said
    assert "revisit" not in said


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text() -> None:
    # An area's name is read from its letter: a crafted PDF's "=HYPERLINK(...)" became a
    # live formula in Excel. Numbers keep their sign; other formats keep the text as is.
    from sendlens.export import table_bytes

    frame = pd.DataFrame({"area": ['=HYPERLINK("https://e.example","Open")', "Bury",
                                   "+x", "-y", "@z", "\tw"], "net": [1, -0.5, 0, 0, 0, 0]})
    rows = table_bytes(frame, "csv").decode().splitlines()
    assert rows[1].startswith('"\'=HYPERLINK(') and rows[2] == "Bury,-0.5"
    assert [r.split(",")[0] for r in rows[3:]] == ["'+x", "'-y", "'@z", "'\tw"]
    assert b"=HYPERLINK" in table_bytes(frame, "jsonl") and b"'=" not in table_bytes(
        frame, "jsonl")
    # In Markdown, a letter's HTML or link is text, wherever the file is rendered.
    md = table_bytes(pd.DataFrame({"text": ["<img src=x onerror=alert(1)> [go](https://e.x)"]}),
                     "md").decode()
    assert "| \\<img src=x onerror=alert(1)> \\[go](https://e.x) |" in md


def test_a_read_only_disk_is_named_as_such_not_by_the_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # There even removing a file that is not there fails (EROFS), and that error, about a
    # hidden ".x.csv.part", hid the one saying why nothing was written.
    import errno

    from sendlens.export import OutputError, write_file

    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    # Another export to the same file, under way: its file in the making is its own (the
    # two shared one name, and one run said "ok" of the other's table).
    (tmp_path / ".x.csv.part").write_bytes(b"the other run's")
    write_file(tmp_path / "x.csv", b"a,b\n")
    assert (tmp_path / ".x.csv.part").read_bytes() == b"the other run's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x.csv.part", "x.csv"]
    # A killed export's file in the making (an hour old) goes at the next export to that
    # file; one of another file, or one under way, stays.
    killed, other = tmp_path / ".x.csv.0badf00d.part", tmp_path / ".y.csv.0badf00d.part"
    for part in (killed, other):
        part.write_bytes(b"half a tab")
        os.utime(part, (time.time() - 3700, time.time() - 3700))
    (tmp_path / ".x.csv.12345678.part").write_bytes(b"under way")
    write_file(tmp_path / "x.csv", b"a,b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".x.csv.12345678.part", ".x.csv.part", ".y.csv.0badf00d.part", "x.csv"]
    other.unlink()
    (tmp_path / ".x.csv.12345678.part").unlink()
    long = tmp_path / ("a" * 240 + ".csv")  # a name that may be written, by a longer one
    write_file(long, b"a,b\n")
    assert long.read_bytes() == b"a,b\n"
    monkeypatch.setattr(Path, "open", read_only)
    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(OutputError) as caught:
        write_file(tmp_path / "y.csv", b"a,b\n")
    assert str(caught.value) == (f"cannot write {tmp_path / 'y.csv'}: cannot make a new file "
                                 f"in {tmp_path} to write it through (Read-only file system)")


def test_an_export_that_fails_at_the_last_step_leaves_no_file_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The table written beside the file, then the rename refused (a file locked by a
    # spreadsheet, a full quota): the file as it was, and no hidden ".part" copy left.
    import errno

    from sendlens.export import OutputError, write_file

    def refused(src: object, dst: object) -> None:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))

    (tmp_path / "x.csv").write_bytes(b"old\n")
    monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(OutputError, match=r"cannot write .*x\.csv: Permission denied"):
        write_file(tmp_path / "x.csv", b"a,b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]
    assert (tmp_path / "x.csv").read_bytes() == b"old\n"


@pytest.mark.parametrize("when", ["before the rename", "after the rename"])
def test_a_ctrl_c_as_the_file_lands_says_whether_it_was_written(
        corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], when: str) -> None:
    """Ctrl-C (or TERM) just after the table was renamed into place said "interrupted:
    stopped before the end; nothing was left half-written", exit 130, of a file written
    whole: a script took the new table for the old one. Before the rename, it stops."""
    import signal

    from sendlens import cli
    from sendlens import export as export_module

    def ctrl_c(*args: object, **kwargs: object) -> str:
        os.kill(os.getpid(), signal.SIGINT)  # handled by the time this returns
        return "0badf00d"

    out = tmp_path / "letters.csv"
    out.write_bytes(b"old\n")
    if when == "after the rename":  # the sweep of old part-files follows the rename
        monkeypatch.setattr(export_module, "_sweep_stale_parts", ctrl_c)
    else:  # the name of the copy written beside it, before anything is written
        monkeypatch.setattr(export_module.secrets, "token_hex", ctrl_c)
    code = main_exit_code(monkeypatch, "export", "letters", "-o", str(out),
                          "--corpus", str(corpus.root))
    err = capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letters.csv"]
    if when == "after the rename":
        assert code in (0, None), err
        assert f"wrote 5 rows to {out}" in err and "interrupted" not in err
        assert out.read_text().startswith("letter_id,")
    else:
        assert code == cli.INTERRUPTED_EXIT, err
        assert "interrupted" in err and "wrote" not in err
        assert out.read_bytes() == b"old\n"


def test_an_export_goes_through_a_link_or_into_a_pipe_never_over_it(
    corpus: Corpus, tmp_path: Path
) -> None:
    import os
    import threading

    # A link to a shared file: the file gets the table, the link stays a link.
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "letters.csv").write_text("old\n")
    link = tmp_path / "letters.csv"
    link.symlink_to(shared / "letters.csv")
    assert export(corpus, "letters", "-o", str(link)).exit_code == 0
    assert link.is_symlink()
    assert (shared / "letters.csv").read_text().startswith("letter_id,")
    assert sorted(p.name for p in shared.iterdir()) == ["letters.csv"]
    # A named pipe (as /dev/stdout or a device would be): read from, not replaced.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert export(corpus, "letters", "-o", str(fifo), "--format", "csv").exit_code == 0
    reader.join(timeout=30)
    assert got and got[0].startswith(b"letter_id,")
    assert fifo.is_fifo()


def test_a_latex_table_too_wide_for_any_page_is_said_on_the_terminal(corpus: Corpus,
                                                                     tmp_path: Path) -> None:
    # Said only in a comment in the file: "wrote 5 rows", then an overfull page.
    result = export(corpus, "letters", "-f", "tex", "-o", str(tmp_path / "l.tex"))
    assert result.exit_code == 0
    assert ("warning: the table's 22 columns are wider than a landscape page, even in "
            "\\scriptsize") in " ".join(result.stderr.split())
    assert "wider" not in export(corpus, "themes", "-f", "tex", "-o",
                                 str(tmp_path / "t.tex")).stderr


def test_export_letters_markdown_to_stdout(corpus: Corpus) -> None:
    result = export(corpus, "letters", "--format", "md")
    assert result.exit_code == 0, result.output
    table = read_markdown(result.stdout)
    assert set(LETTER_COLUMNS) <= set(table.columns)
    assert sorted(table["area"]) == sorted(
        ["Brighton and Hove", "Bury", "Cornwall", "Dorset", "North Northamptonshire"])


def test_an_output_of_dash_is_stdout_with_no_file_named(corpus: Corpus, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.chdir(tmp_path)
    result = export(corpus, "letters", "-o", "-")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(io.StringIO(result.stdout))) == 5
    assert "wrote" not in result.stderr and not list(tmp_path.iterdir())


def test_export_passages_offsets_index_the_clean_text(corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "passages.parquet"
    result = export(corpus, "passages", "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert set(PASSAGE_COLUMNS) <= set(frame.columns)
    with corpus.reading() as con:
        clean = dict(con.execute("SELECT letter_id, clean_text FROM letters").fetchall())
        assert len(frame) == con.execute("SELECT count(*) FROM passages").fetchone()[0]
    for row in frame.itertuples():
        assert clean[row.letter_id][row.char_start:row.char_end] == row.text, row.passage_id
    assert frame["passage_id"].is_unique
    # Boilerplate (letterhead, sign-off) is never made into passages.
    assert set(frame["section"]) <= set(CANONICAL_SECTIONS) - {"boilerplate"}


def test_export_themes_by_region_as_latex(corpus: Corpus) -> None:
    result = export(corpus, "themes", "--by", "region", "--format", "tex")
    assert result.exit_code == 0, result.output
    tex = result.stdout
    # A longtable breaks across pages, which a 440-row area table needs. Twelve columns
    # do not fit across a portrait page, each at least its longest word wide: landscape.
    assert tex.startswith("% needs \\usepackage{longtable,array,pdflscape}\n"
                          "\\begin{landscape}\n\\begingroup\\footnotesize"
                          "\\setlength{\\tabcolsep}{3pt}\n\\begin{longtable}{")
    assert tex.rstrip().endswith("\\end{longtable}\n\\endgroup\n\\end{landscape}")
    assert "\\endhead" in tex
    # All wrap, within the page's width, none narrower than its longest word, and the
    # headers and ids break at their underscores.
    assert "region & theme & letters & letters\\_\\allowbreak{}mentioning" in tex
    frame, _ = with_intervals_inline(
        pd.read_csv(io.StringIO(export(corpus, "themes", "--by", "region").stdout)))
    widths = column_chars(tex)
    assert len(widths) == 12 and all(w is not None for w in widths)
    assert sum(widths) <= page_chars(tex)
    for column, width in zip(frame.columns, widths, strict=True):
        words = [tex_word(column), *(tex_word(_cell(v)) for v in frame[column])]
        assert width >= max(words) - 0.01, column
    # South West x EHC plans: Cornwall and Dorset, 5 passages, 2 positive, 3 negative;
    # shares to three decimals, counts whole.
    assert ("South West & ehc\\_\\allowbreak{}plans & 2 & 2 & 1.000 & 5 & 2 & 3 & 0 & 0 & 0.600 & "
            "$-$0.200 \\\\" in tex)  # a minus sign, not a hyphen
    assert "In brackets" not in tex  # no cell has an interval: nothing to explain
    assert "North West" not in tex  # Bury is untagged


def test_tables_for_reading_give_an_interval_beside_its_share() -> None:
    frame = pd.DataFrame({"region": ["London", "North East"], "share_negative": [0.42, 0.5],
                          "share_negative_low": [0.33, None],
                          "share_negative_high": [0.51, None]})
    md = table_bytes(frame, "md").decode()
    assert md.splitlines()[0] == "| region | share_negative |"  # one column, not three
    assert "| London | 0.420 (0.330 to 0.510) |" in md
    assert "| North East | 0.500 |" in md  # no interval: the share alone
    assert md.rstrip().endswith("They leave out the tagger's own errors.*")  # said what
    # Data formats keep the three numeric columns, for programs.
    csv = table_bytes(frame, "csv").decode()
    assert csv.splitlines()[0] == "region,share_negative,share_negative_low,share_negative_high"


def test_tables_for_reading_round_as_a_spreadsheet_does() -> None:
    # 25 - 7 of 32 is 0.5625: Python's format gave "0.562" (halves to even) where the
    # XLSX file shows 0.563; an interval's lower end of -0.00005 read "-0.000".
    frame = pd.DataFrame({"area": ["A"], "net_stance": [0.5625], "net_stance_low": [-4.6e-05],
                          "net_stance_high": [0.8125]})
    assert "| A | 0.563 (0.000 to 0.813) |" in table_bytes(frame, "md").decode()
    assert (_cell(0.3125), _cell(-0.3125), _cell(0.0004999), _cell(1.0)) == (
        "0.313", "-0.313", "0.000", "1.000")
    assert _cell(1e30).endswith(".000")  # past Decimal's precision: formatted all the same
    # The app writes its figures the same way (it showed 0.562 beside a download's 0.563).
    from sendlens.export import number_text
    from sendlens.ui.compare import _tip, spread_text

    assert [number_text(v, spec) for v, spec in ((-0.1875, "+.3f"), (0.1875, "+.3f"),
                                                  (0.125, ".0%"), (-0.00004, "+.3f"),
                                                  (7.0, ".0f"))] == [
        "-0.188", "+0.188", "13%", "+0.000", "7"]
    assert _tip(-0.5625, "+.3f", 4) == "\u22120.563"
    assert spread_text(0.125, 0.375, "share_negative") == "13% to 38%"


def test_a_bar_or_a_line_break_in_a_cell_keeps_a_markdown_table_whole() -> None:
    import pandas as pd

    from sendlens.export import table_bytes

    text = table_bytes(pd.DataFrame({"text": ["health | care\nplans"], "n": [1]}),
                       "md").decode()
    assert "| health \\| care plans | 1 |" in text.splitlines()


def test_text_beginning_with_an_equals_sign_stays_text_in_a_spreadsheet(
    tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    frame = pd.DataFrame({"text": ["=SUM(1,2) said leaders", "+44 line"], "n": [1, 2]})
    out = tmp_path / "t.xlsx"
    out.write_bytes(table_bytes(frame, "xlsx", {"table": "evidence", "words": "=1+1"}))
    book = load_workbook(out)
    cells = [c for row in book["Table"].iter_rows(min_row=2) for c in row]
    assert [(c.value, c.data_type) for c in cells] == [
        ("=SUM(1,2) said leaders", "s"), (1, "n"), ("+44 line", "s"), (2, "n")]
    # The About sheet holds the search words as given.
    assert [(c.value, c.data_type) for c in book["About"]["B"]] == [
        ("evidence", "s"), ("=1+1", "s")]


def test_control_characters_pasted_into_a_search_do_not_break_a_spreadsheet(
    corpus: Corpus, tmp_path: Path
) -> None:
    """A vertical tab (Word's line break, pasted with the words) made openpyxl refuse the
    whole file: the export ended in a traceback."""
    from openpyxl import load_workbook

    out = tmp_path / "ev.xlsx"
    result = CliRunner().invoke(app, ["export", "evidence", "--theme", "local_offer",
                                      "--words", "local\x0b offer", "-o", str(out),
                                      "--corpus", str(corpus.root)])
    assert result.exit_code == 0, result.output
    about = {c.value: d.value for c, d in load_workbook(out)["About"].iter_rows()}
    assert "local\n offer" in about.values()  # the line break kept as one
    frame = pd.DataFrame({"text": ["a\x01b", "c\x1bd"], "n": [1, 2]})
    out.write_bytes(table_bytes(frame, "xlsx", {"table": "evidence", "words": "x\udcff"}))
    book = load_workbook(out)
    assert [c.value for c in book["Table"]["A"]] == ["text", "a b", "c d"]
    assert "x\\xff" in [c.value for c in book["About"]["B"]]  # a byte not UTF-8, shown


def test_a_table_by_year_says_which_year(corpus: Corpus, tmp_path: Path) -> None:
    # Inspected in one year and published in the next is common: the reader must know
    # which year a row counts.
    said = "Year: the year the inspection began"
    md = export(corpus, "themes", "--by", "year", "--format", "md").stdout
    assert said in md.splitlines()[-1]
    assert said not in export(corpus, "themes", "--by", "region", "--format", "md").stdout
    out = tmp_path / "years.xlsx"
    assert export(corpus, "themes", "--by", "year", "-o", str(out)).exit_code == 0
    about = dict(pd.read_excel(out, sheet_name="About", header=None).values.tolist())
    assert about["year"].startswith(said)
    assert "inspection began" in runner.invoke(app, ["export", "--help"]).stdout


def test_themes_by_region_and_outcome_come_in_a_readers_order(corpus: Corpus) -> None:
    from textmine.areas import REGIONS

    def groups(by: str) -> list[str]:
        result = export(corpus, "themes", "--by", by)
        assert result.exit_code == 0, result.output
        return list(dict.fromkeys(pd.read_csv(io.StringIO(result.stdout))[by]))

    regions = groups("region")
    assert len(regions) > 1 and regions == sorted(regions, key=REGIONS.index)  # N to S
    outcomes = groups("outcome")  # best to worst, not the alphabet's order
    assert outcomes.index("positive") < outcomes.index("inconsistent")


def test_latex_cells_escape_every_special_character_once() -> None:
    frame = pd.DataFrame({"a_b": ["C:\\x ~t^h {b} 50% & #1 $2"], "n": [3]})
    tex = table_bytes(frame, "tex").decode()
    assert ("C:\\textbackslash{}x \\textasciitilde{}t\\textasciicircum{}h \\{b\\} 50\\% \\& "
            "\\#1 \\$2 & 3 \\\\") in tex
    assert "a\\_\\allowbreak{}b & n \\\\" in tex  # a header may break after an underscore
    # A citation's quoted heading opens and closes its quotes (pdflatex set both as
    # closing quotes).
    cited = pd.DataFrame({"c": ['Dorset, under "What is it like?", passage ("x")']})
    assert ("Dorset, under ``What is it like?'', passage (``x'')"
            in table_bytes(cited, "tex").decode())
    # A column of sentences wraps in a paragraph column; a short one stays on one line.
    sentence = "Families told inspectors that they did not know where to find help."
    tex = table_bytes(pd.DataFrame({"area": ["Dorset"], "text": [sentence]}), "tex").decode()
    assert "\\begin{landscape}" not in tex and "pdflscape" not in tex  # fits a portrait page
    area, text = column_chars(tex)
    assert area is None and text is not None and 0.6 < text / page_chars(tex) < 0.95
    # Evidence for reading: its citation says where each sentence is, so the columns the
    # citation repeats are left to the data formats, and a note says so.
    evidence = pd.DataFrame([{"citation": "Dorset, ..., passage x-0001", "area": "Dorset",
                              "framework": "area_send_2023", "passage_id": "x-0001",
                              "stance": "negative", "themes": "ehc_plans", "text": sentence}])
    tex = table_bytes(evidence, "tex").decode()
    assert "citation & stance & themes & text \\\\" in tex and "area\\_send" not in tex
    assert "also have region, outcome" in tex
    widths = column_chars(tex)
    assert widths[-1] == max(w or 0 for w in widths)  # the sentence gets the most room
    assert "framework" in table_bytes(evidence, "csv").decode()


def test_a_latex_minus_sign_is_set_only_before_a_number() -> None:
    # A negative figure gets a minus sign; the hyphens of a date, an id or a range stay
    # hyphens ("2024$-$03" and "x$-$0001" would be set as subtractions).
    frame = pd.DataFrame({"cited": ["Dorset, 2024-03-11, passage x-0001, ages 0-25"],
                          "net": ["-0.250"]})
    tex = table_bytes(frame, "tex").decode()
    assert "Dorset, 2024-03-11, passage x-0001, ages 0-25 & $-$0.250 \\\\" in tex


def test_latex_cells_take_characters_pdflatex_has_no_glyph_for(tmp_path: Path) -> None:
    # A minus sign in a recommendation ("\u2212 reducing waiting times") stopped pdflatex
    # with "Unicode character not set up"; Latin-1 letters it has are kept as they are.
    text = "\u2212 waits \u2013 5\u20137 weeks\u2026 \u2265 18 \ufb01ne £5 caf\u00e9 \u00f8 \u4e2d"
    tex = table_bytes(pd.DataFrame({"area": ["Dorset"], "text": [text]}), "tex").decode()
    assert ("$-$ waits -- 5--7 weeks\\ldots{} $\\ge$ 18 fine £5 caf\u00e9 \u00f8 ?"
            in tex)
    assert max(map(ord, tex)) < 0x100
    # Curly quotes open and close as they did in the text.
    quoted = "\u201cwaits of a season\u201d and \u2018a blue folder\u2019"
    assert ("``waits of a season'' and `a blue folder'" in table_bytes(
        pd.DataFrame({"text": [quoted]}), "tex").decode())
    compile_latex(tex, tmp_path, "the table's characters were checked, not its compilation")


def test_a_control_character_pasted_into_a_filter_or_a_cell_is_no_latex_error(
        tmp_path: Path) -> None:
    # A vertical tab pasted with a search's words (`--words $'local\v offer'`) went into
    # the note under the table as it was: pdflatex stopped at "Unicode character ^^K".
    tex = table_bytes(pd.DataFrame({"region": ["London"], "text": ["a\x0bb\x85c\td"]}),
                      "tex", {"table": "themes", "words": "local\x0b offer"}).decode()
    assert not [ch for ch in tex if ord(ch) < 0x20 and ch != "\n" or 0x7f <= ord(ch) < 0xa0]
    assert "a b c d" in tex and "local  offer" in tex
    compile_latex(tex, tmp_path, "the table's characters were checked, not its compilation")


def test_a_latex_theme_table_fits_its_page(corpus: Corpus, tmp_path: Path) -> None:
    # Twelve columns, each width rounded up to a thousandth of the line, were 3 pt wider
    # than a landscape page (an "Overfull \\hbox" in the paper's log).
    tex = export(corpus, "themes", "--by", "region", "--format", "tex").stdout
    log = compile_latex(tex, tmp_path, "the column widths were not checked")
    assert "Overfull" not in log


def compile_latex(table: str, folder: Path, unchecked: str) -> str:
    """pdflatex's output for a document holding `table`; skips when pdflatex is missing."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip(f"pdflatex is not installed: {unchecked}")
    (folder / "t.tex").write_text(
        "\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage{longtable,array,"
        "pdflscape}\\begin{document}\n" + table + "\\end{document}\n", encoding="utf-8")
    run = subprocess.run([pdflatex, "-halt-on-error", "-interaction=nonstopmode", "t.tex"],
                         cwd=folder, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    return run.stdout


def page_chars(tex: str) -> float:
    """How many characters of the table's type size fit across its page (TEX_LAYOUTS)."""
    landscape = "\\begin{landscape}" in tex
    size = re.search(r"\\begingroup(\\\w+)", tex).group(1)
    return next(line for s, land, line in TEX_LAYOUTS if s == size and land == landscape)


def column_chars(tex: str) -> list[float | None]:
    """Each column's width in characters of its type size, None for one that stays on
    one line."""
    spec = re.search(r"\\begin\{longtable\}\{(.*)\}\n", tex).group(1)
    spec = spec.replace(">{\\raggedright\\arraybackslash}", "")
    found = re.findall(r"p\{([0-9.]+)\\(linewidth|dimexpr[^}]*)\}|l", spec)
    line = page_chars(tex)
    room = line - TEX_PAD_CHARS * len(found)  # the width \dimexpr leaves after padding
    return [None if not w else float(w) * (line if unit == "linewidth" else room)
            for w, unit in found]


def test_export_themes_and_evidence_filter_letters(corpus: Corpus, tmp_path: Path) -> None:
    def table(*args: str) -> pd.DataFrame:
        result = export(corpus, *args)
        assert result.exit_code == 0, result.output
        return pd.read_csv(io.StringIO(result.stdout))

    assert set(table("themes", "--outcome", "positive")["area"]) == {"Brighton and Hove", "Dorset"}
    assert set(table("themes", "--region", "South West", "--from", "2024-01-01")["area"]) == {
        "Dorset"}
    assert set(table("themes", "--area", "Cornwall", "--area", "Dorset")["area"]) == {
        "Cornwall", "Dorset"}
    assert set(table("themes", "--to", "2023-12-31", "--framework", "area_send_2023")[
        "area"]) == {"Cornwall", "Brighton and Hove"}
    cornwall = table("evidence", "--theme", "ehc_plans", "--area", "Cornwall")
    assert len(cornwall) == 4 and set(cornwall["area"]) == {"Cornwall"}
    # The filters are written into the spreadsheet's About sheet, with the warning that
    # an untagged letter (Bury) is left out.
    out = tmp_path / "themes.xlsx"
    assert export(corpus, "themes", "--region", "South West", "--outcome", "positive",
                  "-o", str(out)).exit_code == 0
    about = dict(pd.read_excel(out, sheet_name="About", header=None).values.tolist())
    assert (about["region"], about["outcome"]) == ("South West", "positive")
    assert "1 letter" in about["warnings"] and "left out of this table" in about["warnings"]
    # Filters no letter matches give the header alone, and say why it is empty.
    none = export(corpus, "themes", "--framework", "send_2016")
    assert none.exit_code == 0 and none.stdout.count("\n") == 1
    assert "no tagged letter matches --framework send_2016" in none.stderr
    # A council that is no more: the empty table names what replaced it.
    gone = export(corpus, "themes", "--area", "Northants")
    assert gone.exit_code == 0 and "(Northamptonshire gave way to North Northamptonshire " \
        "and West Northamptonshire on 2021-04-01: --area each of those" in gone.stderr
    # ... and an empty Parquet file has the column types of a full one, to combine with.
    for by in ("region", "year"):
        empty, full = tmp_path / f"empty-{by}.parquet", tmp_path / f"full-{by}.parquet"
        assert export(corpus, "themes", "--by", by, "--framework", "send_2016",
                      "-o", str(empty)).exit_code == 0
        assert export(corpus, "themes", "--by", by, "-o", str(full)).exit_code == 0
        assert (pd.read_parquet(empty).dtypes.to_dict()
                == pd.read_parquet(full).dtypes.to_dict()), by
    # The note under a table names what it counted, not what was typed.
    md = export(corpus, "themes", "--area", "cornwall", "--region", "south west",
                "-f", "md").stdout
    assert "area Cornwall; region South West." in md
    # Evidence too (its empty file's columns had no type at all).
    import pyarrow.parquet as pq

    empty, full = tmp_path / "empty-evidence.parquet", tmp_path / "full-evidence.parquet"
    assert export(corpus, "evidence", "--theme", "ehc_plans", "--framework", "send_2016",
                  "-o", str(empty)).exit_code == 0
    assert export(corpus, "evidence", "--theme", "ehc_plans", "-o", str(full)).exit_code == 0
    typed = {f.name: str(f.type) for f in pq.read_schema(full) if str(f.type) != "null"}
    assert {f.name: str(f.type) for f in pq.read_schema(empty) if f.name in typed} == typed
    none = export(corpus, "evidence", "--theme", "ehc_plans", "--area", "Cornwall",
                  "--stance", "mixed", "--stance", "neutral")
    assert none.stdout.count("\n") == 1 and "no tagged passage matches" in none.stderr
    # --words keeps the passages that hold the words, as the app's search finds them.
    every = table("evidence", "--theme", "ehc_plans")
    word = max(re.findall(r"[a-z]{6,}", every["text"].iloc[0].lower()), key=len)
    found = table("evidence", "--theme", "ehc_plans", "--words", word)
    assert 0 < len(found) <= len(every)
    assert set(found["passage_id"]) <= set(every["passage_id"])
    assert found["text"].str.lower().str.contains(word[:5]).all()  # stemmed: "plans" ~ "plan"
    assert export(corpus, "evidence", "--theme", "ehc_plans", "--words", "***").exit_code == 2
    # A date is named by its option, and a range that is empty by construction refused.
    bad = export(corpus, "themes", "--from", "2024-13-01")
    assert bad.exit_code == 2 and "'--from': '2024-13-01' is not a date" in bad.output
    bad = export(corpus, "evidence", "--theme", "ehc_plans", "--from", "2025-01-01",
                 "--to", "2024-01-01")
    assert bad.exit_code == 2 and "--from 2025-01-01 is after --to 2024-01-01" in bad.output
    # A wrong value is named; a filter that does not apply to the table is refused.
    bad = export(corpus, "themes", "--outcome", "good")
    assert bad.exit_code == 2 and "good" in bad.output
    assert export(corpus, "letters", "--area", "Dorset").exit_code == 2


def test_a_date_range_of_one_day_keeps_the_inspections_that_began_that_day(
        corpus: Corpus) -> None:
    # --from and --to are both inclusive: the same day twice is a range, not an error.
    with corpus.reading() as con:
        day = con.execute("SELECT inspection_start FROM letters WHERE area = 'Cornwall'"
                          ).fetchone()[0]
        begun = {r[0] for r in con.execute("SELECT area FROM letters WHERE inspection_start"
                                           " = ?", (day,))}
    result = export(corpus, "themes", "--from", day, "--to", day)
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(io.StringIO(result.stdout))["area"]) == begun == {"Cornwall"}


def test_a_date_with_spaces_around_it_is_read_as_the_date(corpus: Corpus) -> None:
    # A date pasted or quoted from a script with a space beside it: the same table.
    plain = export(corpus, "themes", "--from", "2024-01-01")
    spaced = export(corpus, "themes", "--from", " 2024-01-01 ")
    assert spaced.exit_code == 0, spaced.output
    assert spaced.stdout == plain.stdout and len(plain.stdout.splitlines()) > 1


def test_export_themes_sections_option(corpus: Corpus) -> None:
    result = export(corpus, "themes", "--by", "region", "--section", "actions")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    sw = table[(table["region"] == "South West") & (table["theme"] == "ehc_plans")].iloc[0]
    assert (sw["letters"], sw["passages"], sw["negative"]) == (2, 1, 1)
    # No cell has an interval (too few letters, all agreeing): the line under a table for
    # reading says so, as the spreadsheet's About sheet does, not nothing.
    md = export(corpus, "themes", "--by", "framework", "--section", "actions", "-f", "md")
    assert "No share has a 95% interval: they come from resampling" in md.stdout
    assert "In brackets" not in md.stdout


def test_a_section_these_letters_hold_no_themed_passage_in_is_said(corpus: Corpus,
                                                                   tmp_path: Path) -> None:
    """--section main_findings (older letters only) over 2023 reports: a table of zeros,
    which read as "no letter mentions any theme" without a word."""
    result = export(corpus, "themes", "--section", "main_findings", "-o",
                    str(tmp_path / "t.xlsx"))
    assert result.exit_code == 0
    said = ("no passage of section main_findings in these letters mentions a theme: every "
            "count is 0")
    assert said in result.stderr
    about = pd.read_excel(tmp_path / "t.xlsx", sheet_name="About")
    in_about = "N" + said[1:]  # a sentence of its own there
    assert about.astype(str).apply(lambda col: col.str.contains(in_about, regex=False)).any().any()
    # Under a Markdown table, each warning a sentence of its own (beside the untagged
    # letter's: they ran together, "... run `sendlens tag` first no passage of ...").
    md = export(corpus, "themes", "--section", "main_findings", "-f", "md").stdout
    assert "run `sendlens tag` first. No passage of section main_findings" in md
    result = export(corpus, "passages", "--section", "main_findings", "-o", "-")
    assert "no passage is in section main_findings" in result.stderr
    # With --theme it names the themes asked about.
    result = export(corpus, "themes", "--section", "main_findings", "--theme", "ehc_plans")
    assert "in these letters mentions ehc_plans: every count is 0" in result.stderr
    # A section with passages says nothing.
    assert "every count is 0" not in export(corpus, "themes", "--section", "actions").stderr


def test_letters_the_sections_asked_leave_empty_are_said(corpus: Corpus, tmp_path: Path) -> None:
    """--section strengths --section weaknesses (the guide's measure of judgement) over a
    revisit, whose judgements are under main_findings: its row counted the letter with no
    passage and read as "no letter mentions the theme", without a word."""
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:
        dorset = "SELECT letter_id FROM letters WHERE area = 'Dorset'"
        con.execute(f"UPDATE letters SET framework = 'revisit_2018' WHERE letter_id IN ({dorset})")
        con.execute("UPDATE passages SET section = 'main_findings' WHERE section != 'boilerplate' "
                    f"AND letter_id IN ({dorset})")
    asked = ["themes", "--by", "framework", "--section", "strengths", "--section", "weaknesses"]
    result = export(copy, *asked)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert ("1 letter (1 revisit_2018) holds no passage in sections strengths, weaknesses but "
            "counts in the letters column with 0 passages; revisits and monitoring visits give "
            "their judgements under main_findings") in said
    table = pd.read_csv(io.StringIO(result.stdout))
    revisit = table[table["framework"] == "revisit_2018"]
    assert (revisit["letters"] == 1).all() and (revisit["passages"] == 0).all()
    # Named with the section that holds them, or one framework at a time: nothing to say.
    for enough in (["--section", "main_findings"], ["--framework", "area_send_2023"]):
        assert "holds no passage" not in export(copy, *asked, *enough).stderr, enough
    assert "holds no passage" not in export(corpus, *asked).stderr


def test_a_2023_report_without_the_section_asked_is_not_sent_to_main_findings(
        corpus: Corpus, tmp_path: Path) -> None:
    # The main_findings hint is for revisits and monitoring visits: a 2023 report has no
    # such section, so pointing its reader there sends them to an empty table.
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE passages SET section = 'actions' WHERE section = 'strengths' AND "
                    "letter_id IN (SELECT letter_id FROM letters WHERE area = 'Dorset')")
    result = export(copy, "themes", "--section", "strengths")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert ("1 letter (1 area_send_2023) holds no passage in section strengths but counts "
            "in the letters column with 0 passages") in said
    assert "main_findings" not in said


def test_export_evidence(corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "evidence.xlsx"
    result = export(corpus, "evidence", "--theme", "ehc_plans", "--stance", "negative",
                    "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_excel(out)
    assert len(frame) == 5 and set(frame["stance"]) == {"negative"}
    assert frame["citation"].str.contains(r", passage [0-9a-f]{12}-\d{4}$").all()
    assert frame["citation"].str.startswith("Cornwall, Area SEND inspection (2023 framework), "
                                            "6–10 Feb 2023, ").sum() == 3


def test_evidence_takes_several_stances_but_one_theme(corpus: Corpus) -> None:
    def rows(*args: str) -> pd.DataFrame:
        result = export(corpus, "evidence", "--theme", "ehc_plans", *args)
        assert result.exit_code == 0, result.output
        return pd.read_csv(io.StringIO(result.stdout))

    negative, positive = rows("--stance", "negative"), rows("--stance", "positive")
    both = rows("--stance", "negative", "--stance", "positive")
    assert len(negative) and len(positive)
    assert len(both) == len(negative) + len(positive)
    assert set(both["stance"]) == {"negative", "positive"}
    # A second theme used to replace the first without a word.
    two = export(corpus, "evidence", "--theme", "ehc_plans", "--theme", "local_offer")
    assert two.exit_code == 2
    assert "takes one --theme (given ehc_plans, local_offer)" in two.output


def test_xlsx_says_what_it_holds(corpus: Corpus, tmp_path: Path) -> None:
    # A spreadsheet passed on to a colleague still names its table, filters and model.
    out = tmp_path / "themes.xlsx"
    result = export(corpus, "themes", "--section", "weaknesses", "-o", str(out))
    assert result.exit_code == 0, result.output
    sheets = pd.read_excel(out, sheet_name=None, header=None)
    assert list(sheets) == ["Table", "About"]
    about = dict(sheets["About"].itertuples(index=False))
    with corpus.reading() as con:
        (model,) = {r[0] for r in con.execute("SELECT model_version FROM tags")}
    assert {k: about[k] for k in ("table", "by", "sections", "model", "corpus")} == {
        "table": "themes", "by": "area", "sections": "weaknesses", "model": model,
        "corpus": str(corpus.root)}
    assert "theme" not in about and "stance" not in about  # options not given: left out
    # Its four interval columns, empty for most areas (one letter each), are explained.
    assert about["intervals"].startswith("share_negative_low / _high and net_stance_low / "
                                         "_high: a 95% interval")
    assert "Empty where fewer than 5 letters judge the theme" in about["intervals"]
    md = export(corpus, "themes", "--section", "weaknesses", "-f", "md").stdout
    assert len(pd.read_excel(out)) == len(read_markdown(md))
    # Pasted into a paper, the table still says what it counted, and what it left out
    # (an untagged letter: said only on stderr and in the XLSX file, it read as absent).
    assert f" Counted: sections weaknesses. Tags of model {model}. Columns: " in md
    # ... and what its columns are: negative over passages is not the share negative.
    assert "share_negative is the negative passages over those judging the theme" in md
    assert "recommendations" not in md
    actions = export(corpus, "themes", "--section", "actions", "-f", "md").stdout
    assert "The actions sections are recommendations, which the codebook tags negative" \
        in actions
    # Whole letters hold their actions sections too: said as well.
    whole = export(corpus, "themes", "-f", "md").stdout
    assert "The actions sections are recommendations, which the codebook tags negative" \
        in whole
    assert "\n*Warning: " in md and "of 1 letter in the corpus not tagged" in md
    tex = export(corpus, "themes", "--section", "weaknesses", "-f", "tex").stdout
    assert "Warning: " in tex and "of 1 letter in the corpus not tagged" in tex


def test_unknown_format_is_refused(corpus: Corpus, tmp_path: Path) -> None:
    result = export(corpus, "letters", "--format", "docx", "-o", str(tmp_path / "x.docx"))
    assert result.exit_code == 2
    assert "unknown format 'docx'" in result.output
    assert not (tmp_path / "x.docx").exists()


def test_an_unknown_file_suffix_is_refused_not_written_as_csv(
    corpus: Corpus, tmp_path: Path
) -> None:
    result = export(corpus, "letters", "-o", str(tmp_path / "letters.xls"))
    assert result.exit_code == 2
    assert "unknown format 'xls' (from the file name" in result.output
    assert not (tmp_path / "letters.xls").exists()
    # A ".markdown" file is Markdown, as a ".md" one is.
    assert export(corpus, "letters", "-o", str(tmp_path / "letters.markdown")).exit_code == 0
    assert (tmp_path / "letters.markdown").read_text().startswith("| letter_id | area |")
    # ... and so is `--format markdown` (it was an unknown format).
    result = export(corpus, "letters", "-f", "Markdown", "-o", str(tmp_path / "l.md"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "l.md").read_text().startswith("| letter_id | area |")
    # No suffix at all still means CSV.
    assert export(corpus, "letters", "-o", str(tmp_path / "letters")).exit_code == 0
    assert read(tmp_path.joinpath("letters").rename(tmp_path / "l.csv")).shape[0] == 5


def test_a_format_that_contradicts_the_file_name_is_refused(corpus: Corpus,
                                                           tmp_path: Path) -> None:
    # CSV in a file named .xlsx would not open in Excel.
    result = export(corpus, "letters", "--format", "csv", "-o", str(tmp_path / "t.xlsx"))
    assert result.exit_code == 2
    assert "--format csv does not match the file name" in result.output
    assert not (tmp_path / "t.xlsx").exists()
    # The format's case does not matter, any more than the suffix's.
    assert export(corpus, "letters", "--format", "CSV", "-o", str(tmp_path / "t.CSV")
                  ).exit_code == 0
    assert read(tmp_path.joinpath("t.CSV").rename(tmp_path / "t.csv")).shape[0] == 5


@pytest.mark.parametrize("args", [["letters", "--stance", "negative"],
                                  ["passages", "--theme", "ehc_plans"],
                                  ["themes", "--stance", "negative"],
                                  ["evidence", "--theme", "ehc_plans", "--by", "region"]])
def test_an_option_that_does_not_apply_is_refused(corpus: Corpus, args: list[str]) -> None:
    result = export(corpus, *args)
    assert result.exit_code == 2
    assert f"does not apply to `export {args[0]}`" in result.output


def test_export_passages_of_one_section(corpus: Corpus) -> None:
    result = export(corpus, "passages", "--section", "actions", "--section", "strengths")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert len(frame) and set(frame["section"]) == {"actions", "strengths"}
    bad = export(corpus, "passages", "--section", "actoins")
    assert bad.exit_code == 2 and "unknown section 'actoins'" in bad.output


def test_evidence_needs_a_theme(corpus: Corpus) -> None:
    result = export(corpus, "evidence")
    assert result.exit_code == 2
    assert "needs --theme" in result.output


def test_corpus_given_on_the_command_line_wins_over_the_environment(
        corpus: Corpus, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "letters", "--corpus", str(corpus.root)],
                           env={"SENDLENS_CORPUS": str(tmp_path / "elsewhere")})
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(io.StringIO(result.stdout))) == 5
    assert not (tmp_path / "elsewhere").exists()


def test_missing_corpus_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    result = export(tmp_path / "nowhere", "letters")
    assert result.exit_code == 2
    assert "no corpus here" in result.output
    # Run from the wrong folder, the default "corpus" is named by its full path.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SENDLENS_CORPUS", raising=False)
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 2
    assert f"{tmp_path / 'corpus'}: no corpus here" in result.output
    assert "--corpus or $SENDLENS_CORPUS" in result.output
    assert not (tmp_path / "nowhere").exists()  # export never creates a corpus


@pytest.mark.parametrize("command", [["export", "letters"], ["info"], ["tag"], ["train"]])
def test_a_folder_that_is_not_a_corpus_is_refused_and_left_as_it_was(
        tmp_path: Path, command: list[str]) -> None:
    # Pointing --corpus at the folder of PDFs by mistake made it an empty corpus.
    pdfs = tmp_path / "letters"
    pdfs.mkdir()
    (pdfs / "a.pdf").write_bytes(b"%PDF-1.4\n")
    result = CliRunner().invoke(app, [*command, "--corpus", str(pdfs)])
    assert result.exit_code == 2, result.output
    assert "no corpus here" in result.output
    assert sorted(p.name for p in pdfs.iterdir()) == ["a.pdf"]


def test_untagged_corpus_says_to_run_tag(corpus: Corpus, tmp_path: Path) -> None:
    copy_of(corpus, tmp_path)
    copy = Corpus.open(tmp_path / "c")
    with copy.transaction() as con:
        con.execute("DELETE FROM tags")
    for args in (["themes"], ["evidence", "--theme", "ehc_plans"]):
        result = export(copy, *args)
        assert result.exit_code == 2, args
        assert "run `sendlens tag`" in result.output
    assert export(copy, "letters").exit_code == 0  # tables that need no tags still work


def test_letters_imported_after_tagging_are_named_as_missing_from_the_tables(
        corpus: Corpus) -> None:
    # Bury is imported but not tagged, as a letter imported after `sendlens tag` is.
    with corpus.reading() as con:
        n = con.execute("SELECT count(*) FROM passages JOIN letters USING (letter_id)"
                        " WHERE area = 'Bury'").fetchone()[0]
    result = export(corpus, "themes")
    assert result.exit_code == 0
    assert f"{n} passages of 1 letter in the corpus not tagged yet are left out of this table" \
        in result.stderr
    assert "have no tags in this table" in export(corpus, "passages").stderr
    info = CliRunner().invoke(app, ["info", "--corpus", str(corpus.root)])
    assert f"{n} passages of 1 letter not tagged yet" in info.output
    assert "not tagged" not in export(corpus, "letters").stderr  # a table without tags


def test_a_theme_added_since_tagging_has_no_rows_rather_than_zeros(
        corpus: Corpus, tmp_path: Path) -> None:
    # Its rows read 0 letters mentioning it everywhere: the tags were never asked about it.
    import json

    from textmine.codebook import PACKAGED_CODEBOOK, load_codebook

    copy = copy_of(corpus, tmp_path)
    eight = [t.id for t in load_codebook(PACKAGED_CODEBOOK).themes]
    with Corpus.open(copy).transaction() as con:  # the model that tagged it knew eight
        con.execute("INSERT INTO models VALUES ('hand', 'x', 'models/hand', ?, 1)",
                    (json.dumps({"themes": eight}),))
    extra = ("  - id: transport\n    name: School transport\n    definition: Travel.\n"
             "    patterns: [\"home to school transport\"]\n\nstance:\n")
    (copy / "codebook.yaml").write_text(
        PACKAGED_CODEBOOK.read_text().replace("\nstance:\n", "\n" + extra, 1))
    out = tmp_path / "t.csv"
    result = export(copy, "themes", "--by", "region", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert set(read(out)["theme"]) == set(eight)
    assert ("theme transport has no rows: no model that tagged the corpus knew it"
            in " ".join(result.stderr.split()))
    # Asked for alone: an empty table saying why, not "no tagged letter matches".
    result = export(copy, "themes", "--theme", "transport", "--format", "md")
    assert result.exit_code == 0 and "no tagged letter matches" not in result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("|")] == [
        result.stdout.splitlines()[0], result.stdout.splitlines()[1]]  # a header, no row
    assert "Theme transport has no rows" in result.stdout  # the line under the table
    result = export(copy, "evidence", "--theme", "transport")
    assert result.exit_code == 2
    assert "theme transport is not tagged yet" in result.output
    assert "run `sendlens tag`" in " ".join(result.output.split())


def test_a_table_counted_under_a_codebook_variable_says_whose_codebook(
        corpus: Corpus, tmp_path: Path) -> None:
    # $SENDLENS_CODEBOOK set for another corpus: this one's own codebook is not the one
    # its tags are checked against, and the table must say so beside it.
    from textmine.codebook import PACKAGED_CODEBOOK

    copy = copy_of(corpus, tmp_path)
    (copy / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text())
    other = tmp_path / "other.yaml"
    other.write_text(PACKAGED_CODEBOOK.read_text())
    result = runner.invoke(app, ["export", "themes", "--corpus", str(copy)],
                           env={"SENDLENS_CODEBOOK": str(other)})
    assert result.exit_code == 0, result.output
    assert (f"$SENDLENS_CODEBOOK ({other}) is used instead of this corpus's own "
            f"{copy / 'codebook.yaml'}") in " ".join(result.stderr.split())


def test_a_quoted_word_is_found_as_typed_not_by_its_stem(corpus: Corpus, tmp_path: Path
                                                         ) -> None:
    # "timely" by its stem also finds "time" and "timescales": a count of the passages
    # that say "timely" must not hold them.
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:  # every passage on the theme
        con.execute("DELETE FROM tags")
        con.execute("INSERT INTO tags SELECT passage_id, '[\"ehc_plans\"]', 'negative', '{}',"
                    " 'hand', 'x' FROM passages")

    def found(words: str) -> pd.DataFrame:
        out = tmp_path / "e.csv"
        assert export(copy, "evidence", "--theme", "ehc_plans", "--words", words,
                      "-o", str(out)).exit_code == 0
        return pd.read_csv(out, keep_default_na=False)

    stems, exact = found("timely"), found('"Timely"')
    says = stems["text"].str.lower().str.contains("timely")
    assert 0 < says.sum() < len(stems)
    assert sorted(exact["passage_id"]) == sorted(stems.loc[says, "passage_id"])
    phrase = found('"in a timely"')
    assert len(phrase) and phrase["text"].str.lower().str.contains("in a timely").all()


def test_a_list_item_is_given_with_the_words_that_open_its_list(
        corpus: Corpus, tmp_path: Path) -> None:
    # Bury's recommendations hold lists: "This includes:", then one passage an item.
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:
        con.execute("INSERT INTO tags SELECT passage_id, '[\"social_care\"]', 'negative',"
                    " '{}', 'hand', 'x' FROM passages JOIN letters USING (letter_id)"
                    " WHERE area = 'Bury' AND section = 'actions'")
        rows = con.execute("SELECT passage_id, paragraph, text FROM passages JOIN letters"
                           " USING (letter_id) WHERE area = 'Bury' AND section = 'actions'"
                           " ORDER BY seq").fetchall()
    items = [r for r in rows if r["text"][:1].islower()]
    assert items
    out = tmp_path / "e.csv"
    assert export(copy, "evidence", "--theme", "social_care", "--area", "Bury",
                  "-o", str(out)).exit_code == 0
    table = pd.read_csv(out, keep_default_na=False).set_index("passage_id")
    first = items[0]
    lead = table.at[first["passage_id"], "lead_in"]
    # The lead-in is the list's opening sentence with its paragraph's sentences before it.
    opening = [r["text"] for r in rows if r["paragraph"] < first["paragraph"]]
    assert lead.endswith(":") and lead.endswith(opening[-1]) and len(lead) > len(opening[-1])
    assert (table.loc[[r["passage_id"] for r in items], "lead_in"] != "").all()
    assert (table.drop(index=[r["passage_id"] for r in items])["lead_in"] == "").all()
    md = export(copy, "evidence", "--theme", "social_care", "--area", "Bury", "--format",
                "md").stdout
    assert f"| [{lead}] {first['text']}" in md.replace("\\", "")
    assert "follows, in square brackets, the words that introduce its list" in md


def test_unknown_theme_is_a_clear_error(corpus: Corpus) -> None:
    result = export(corpus, "evidence", "--theme", "ehc")
    assert result.exit_code == 2
    assert "unknown theme 'ehc'" in result.output and "ehc_plans" in result.output


def test_names_are_read_in_any_case_and_a_typo_gets_a_suggestion(corpus: Corpus) -> None:
    # "--theme Health_Input" was refused while "--region london" was taken; a mistyped
    # --by or table was "Value error, 'regions' is not one of ...", with no suggestion.
    plain = export(corpus, "evidence", "--theme", "ehc_plans", "--stance", "negative",
                   "--framework", "area_send_2023")
    shouted = export(corpus, "EVIDENCE", "--theme", "EHC_Plans", "--stance", "Negative",
                     "--framework", "Area_SEND_2023")
    assert shouted.exit_code == 0, shouted.output
    assert shouted.stdout == plain.stdout and len(plain.stdout.splitlines()) > 1
    by = export(corpus, "themes", "--by", "regions")
    assert by.exit_code == 2
    assert ("'regions' is not one of area, region, framework, year, outcome (did you mean "
            "'region'?)") in by.output and "Value error" not in by.output
    table = export(corpus, "lettrs")
    assert table.exit_code == 2 and "(did you mean 'letters'?)" in table.output
    # A region however spaced or hyphenated ("Northeast" was offered "North West"), and
    # a name typed in part or misspelt gets the one meant.
    south_west = export(corpus, "themes", "--region", "South West").stdout
    for typed in ("south-west", "Southwest", " SOUTH WEST "):
        assert export(corpus, "themes", "--region", typed).stdout == south_west
    for typed, meant in (("Yorkshire", "Yorkshire and The Humber"), ("Nort East", "North East")):
        result = export(corpus, "themes", "--region", typed)
        assert result.exit_code == 2 and f"(did you mean '{meant}'?)" in result.output
    result = export(corpus, "evidence", "--theme", "ehc_plans", "--stance", "negatve")
    assert result.exit_code == 2 and "(did you mean 'negative'?)" in result.output
    # An empty table names the authority a name was read as: "Kingston" is Kingston upon
    # Thames, not the Kingston upon Hull a reader may have meant.
    result = export(corpus, "themes", "--area", "Kingston")
    assert result.exit_code == 0
    assert ("no tagged letter matches --area Kingston (read as Kingston upon Thames)"
            in " ".join(result.stderr.split()))


def test_info_summarises_the_corpus_and_the_ehc_plans_check(corpus: Corpus) -> None:
    result = CliRunner().invoke(app, ["info", "--corpus", str(corpus.root)])
    assert result.exit_code == 0, result.output
    letters = corpus.counts()["letters"]
    assert f"letters: {letters}" in result.output
    assert "EHC plans check:" in result.output and "69%" in result.output
    check = ehc_plans_actions_share(corpus)  # counted on its own in test_aggregate
    assert 0 < check["letters_flagged"] < check["letters"]  # so the two cannot be swapped
    assert (f"EHC plans check: {check['letters_flagged']} of {check['letters']} "
            f"2023-framework reports ({check['share']:.0%})") in result.output
    # ... and says that the two figures measure different things.
    assert "Not the same measure: every recommendation is negative" in result.output


def test_info_counts_letters_by_framework_and_outcome_with_an_unknown_outcome_marked(
        corpus: Corpus, tmp_path: Path) -> None:
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET outcome = NULL WHERE area = 'Cornwall'")
        counts = con.execute("SELECT outcome, count(*) FROM letters WHERE outcome IS NOT NULL"
                             " GROUP BY 1").fetchall()
    result = runner.invoke(app, ["info", "--corpus", str(copy)])
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()) for line in result.stdout.splitlines()
            if line.strip().startswith("area_send_2023")}
    assert rows == {("area_send_2023", "?", "1")} | {
        ("area_send_2023", outcome, str(n)) for outcome, n in counts}


def test_info_names_the_first_five_letters_taken_out_and_counts_the_rest(
        corpus: Corpus, tmp_path: Path) -> None:
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:
        for i in range(6):
            con.execute("INSERT INTO taken_out (letter_id, by_id, sha256, before, taken_at) "
                        "VALUES (?, 'kept', 'x', '{}', ?)", (f"old{i}", f"2025-01-0{i + 1}"))
    said = " ".join(runner.invoke(app, ["info", "--corpus", str(copy)]).stdout.split())
    named = ", ".join(f"old{i} (by kept)" for i in range(5))
    assert (f"6 letters taken out by `supersede` (earlier publications of a report held): "
            f"{named} and 1 more;") in said
    assert "old5" not in said


def test_info_counts_replaced_files_only_of_letters_still_held(corpus: Corpus,
                                                                 tmp_path: Path) -> None:
    # A letter read from a corrected file, then taken out by `supersede`: no longer one
    # of the corpus's letters, so not counted among them.
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:
        held = con.execute("SELECT letter_id FROM letters WHERE area = 'Cornwall'"
                           ).fetchone()[0]
        for sha, lid in (("a" * 64, held), ("b" * 64, held), ("c" * 64, "taken-out")):
            con.execute("INSERT INTO replaced_files (sha256, letter_id, replaced_at) "
                        "VALUES (?, ?, '2025-01-01')", (sha, lid))
    said = " ".join(runner.invoke(app, ["info", "--corpus", str(copy)]).stdout.split())
    assert "1 letter read from a later file of the report than the one first imported" in said


def test_info_says_to_tag_when_a_model_is_there_but_no_passage_is_tagged(
        corpus: Corpus, tmp_path: Path) -> None:
    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).transaction() as con:
        con.execute("DELETE FROM tags")
    told = "no passage is tagged yet (the tables are empty until then)"
    # No model: the model line already says `tag` trains one and tags them.
    info = runner.invoke(app, ["info", "--corpus", str(copy)]).stdout
    assert "model: none yet" in info and told not in info
    with Corpus.open(copy).transaction() as con:
        con.execute("INSERT INTO models VALUES ('hand', 'x', 'models/hand', '{}', 1)")
    info = runner.invoke(app, ["info", "--corpus", str(copy)]).stdout
    assert "model: hand" in info and told in " ".join(info.split())


def test_info_on_a_model_trained_on_one_labels_file_with_tuned_thresholds(
        corpus: Corpus, tmp_path: Path) -> None:
    """The evaluate command info suggests runs as the model was trained (else `evaluate`
    records nothing); a correction the model was trained with is not "waiting"."""
    import json

    from sendlens import appdata

    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).reading() as con:
        pid = con.execute("SELECT passage_id FROM passages ORDER BY passage_id").fetchone()[0]
    read = appdata.save_label(str(copy), pid, ["ehc_plans"], "negative")
    meta = {"training": {"label_files": ["my gold.jsonl"], "tune_folds": 3,
                         "last_label_id": read, "hand_labels": {"n": 12}}}
    with Corpus.open(copy).transaction() as con:
        con.execute("INSERT INTO models VALUES ('hand', 'x', 'models/hand', ?, 1)",
                    (json.dumps(meta),))
    said = " ".join(runner.invoke(app, ["info", "--corpus", str(copy)]).stdout.split())
    assert "model: hand (12 hand labels)" in said
    assert ("quality not measured yet (`sendlens evaluate 'my gold.jsonl' --cv "
            "--tune-thresholds 3` records it") in said
    assert "corrections saved in the app: 1 passage" in said
    assert "corrected since" not in said


def test_a_corrupt_database_is_named_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "sendlens.db").write_bytes(b"not a database at all")
    result = runner.invoke(app, ["info", "--corpus", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'sendlens.db'}: damaged, not a usable sendlens database" in result.output
    assert (tmp_path / "sendlens.db").read_bytes() == b"not a database at all"


def test_info_on_a_missing_corpus_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["info", "--corpus", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no corpus here" in result.output


def test_themes_by_year_with_an_undated_letter_export_in_every_format(
        corpus: Corpus, tmp_path: Path) -> None:
    # A letter with no date is in the year "undated", as the app's Overview counts it
    # (it was "unknown"): Parquet holds one type a column, and refused the mix.
    copy_of(corpus, tmp_path)
    copy = Corpus.open(tmp_path / "c")
    with copy.transaction() as con:
        con.execute("UPDATE letters SET inspection_start = NULL, inspection_end = NULL,"
                    " published = NULL, letter_date = NULL WHERE area = 'Cornwall'")
    for fmt in ("parquet", "xlsx", "csv"):
        out = tmp_path / f"years.{fmt}"
        result = export(copy, "themes", "--by", "year", "-o", str(out))
        assert result.exit_code == 0, result.output
        years = read(out)["year"].astype(str)
        assert {"2023", "2024", "undated"} <= set(years), (fmt, set(years))


def test_the_line_under_a_table_names_the_app_view_filters_and_no_missing_model() -> None:
    frame = pd.DataFrame({"region": ["London"], "theme": ["ehc_plans"], "passages": [3]})
    # As the app names its downloads, with the filters of its view.
    md = table_bytes(frame, "md", {"table": "themes-by-region", "outcome": "systemic_failings",
                                   "area": "Cornwall, Dorset", "model": "m1"}).decode()
    assert md.endswith("\n*Counted: outcome systemic_failings; area Cornwall, Dorset. Tags of "
                       "model m1.*\n")
    untagged = table_bytes(frame, "md", {"table": "themes", "model": "none (not tagged)"})
    assert untagged.decode().endswith("\n*Counted: every tagged letter.*\n")
    # A letters table counts nothing: no such line.
    assert "Counted" not in table_bytes(frame, "md", {"table": "letters"}).decode()


def test_the_area_table_gives_each_areas_code_to_join_other_data_by(
        corpus: Corpus, tmp_path: Path) -> None:
    table = pd.read_csv(io.StringIO(export(corpus, "themes", "-f", "csv").stdout),
                        dtype={"la_code": str})
    assert list(table.columns[:3]) == ["area", "la_code", "theme"]
    with corpus.reading() as con:
        codes = dict(con.execute("SELECT area, la_code FROM letters").fetchall())
    given = dict(zip(table["area"], table["la_code"], strict=True))
    assert len(given) >= 4 and given == {a: codes[a] for a in given}
    assert codes["Cornwall"] == "908"
    # An empty table's Parquet file has the same columns and types, to combine with.
    empty, full = tmp_path / "empty.parquet", tmp_path / "full.parquet"
    assert export(corpus, "themes", "--framework", "send_2016", "-o", str(empty)).exit_code == 0
    assert export(corpus, "themes", "-o", str(full)).exit_code == 0
    assert pd.read_parquet(empty).dtypes.to_dict() == pd.read_parquet(full).dtypes.to_dict()
    # Not in a theme table for reading, whose twelve columns fill a landscape page
    # already; the letters table keeps it.
    assert "la_code" not in export(corpus, "themes", "-f", "md").stdout
    assert "| la_code |" in export(corpus, "letters", "-f", "md").stdout
    # An area the table of authorities does not know has no code: blank, not "None".
    copy_of(corpus, tmp_path)
    copy = Corpus.open(tmp_path / "c")
    with copy.transaction() as con:
        con.execute("UPDATE letters SET la_code = NULL WHERE area = 'Cornwall'")
    rows = export(copy, "themes", "-f", "csv").stdout.splitlines()
    assert all(r.startswith("Cornwall,,") for r in rows if r.startswith("Cornwall,"))


def test_any_table_exports_as_json_lines_with_themes_as_lists(corpus: Corpus) -> None:
    import json

    lines = export(corpus, "passages", "-f", "jsonl").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    csv = pd.read_csv(io.StringIO(export(corpus, "passages", "-f", "csv").stdout))
    assert len(rows) == len(csv) and all(
        isinstance(r["themes"], list) for r in rows if r.get("themes") is not None)
    assert any(r["themes"] for r in rows)
    assert all(isinstance(r["scores"], dict) for r in rows if r.get("scores") is not None)
    # The evidence table's themes ("health_input, ehc_plans" in the other formats) too.
    lines = export(corpus, "evidence", "--theme", "ehc_plans", "-f", "jsonl").stdout
    evidence = [json.loads(line) for line in lines.splitlines()]
    assert evidence and all("ehc_plans" in r["themes"] for r in evidence)
    assert any(len(r["themes"]) > 1 for r in evidence)
    # No correction saved: an empty labels file, said so.
    empty = export(corpus, "labels")
    assert empty.exit_code == 0 and empty.stdout == "" and "no correction is saved" in empty.stderr


def test_labels_go_out_as_a_labels_file_unless_another_format_is_asked(
        corpus: Corpus, tmp_path: Path) -> None:
    """Without -f or a file suffix, `export labels` writes the JSON lines `train --labels`
    and `evaluate` read, not a CSV they cannot."""
    import json

    from sendlens import appdata

    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).reading() as con:
        pid = con.execute("SELECT passage_id FROM passages ORDER BY passage_id").fetchone()[0]
    appdata.save_label(str(copy), pid, ["ehc_plans"], "negative")
    for args in ([], ["-o", str(tmp_path / "mine")]):
        result = export(copy, "labels", *args)
        assert result.exit_code == 0, result.output
        text = result.stdout if not args else (tmp_path / "mine").read_text()
        (label,) = [json.loads(line) for line in text.splitlines()]
        assert (label["passage_id"], label["themes"]) == (pid, ["ehc_plans"])
    as_csv = export(copy, "labels", "-f", "csv").stdout
    assert as_csv.splitlines()[0].startswith("letter,passage_id,text")


def test_a_correction_whose_themes_cannot_be_read_is_named_not_a_traceback(
        corpus: Corpus, tmp_path: Path) -> None:
    # A hand-edited labels row ('null', a string for a list) stopped `export labels` with
    # a JSONDecodeError or TypeError traceback; the string was read as its letters.
    from sendlens import appdata

    copy = copy_of(corpus, tmp_path)
    with Corpus.open(copy).reading() as con:
        pid = con.execute("SELECT passage_id FROM passages ORDER BY passage_id").fetchone()[0]
    lid = appdata.save_label(str(copy), pid, ["ehc_plans"], "negative")
    for bad in ("null", "not json", '"ehc_plans"', "[1]"):
        with Corpus.open(copy).transaction() as con:
            con.execute("UPDATE labels SET themes = ? WHERE id = ?", (bad, lid))
        result = export(copy, "labels")
        assert result.exit_code == 2, (bad, result.output)
        assert f"the correction saved in the app with id {lid} (passage {pid}) has themes " \
            "that cannot be read" in result.stderr, (bad, result.stderr)
        assert "remove it on the app's Label page" in result.stderr


def test_export_themes_keeps_the_themes_asked_for(corpus: Corpus) -> None:
    """One theme across the groups, as a researcher compares outcomes on post-16."""
    result = export(corpus, "themes", "--by", "region", "--theme", "EHC_plans", "-f", "csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert set(table["theme"]) == {"ehc_plans"} and len(table) == table["region"].nunique()
    whole = pd.read_csv(io.StringIO(export(corpus, "themes", "--by", "region", "-f",
                                           "csv").stdout))
    pd.testing.assert_frame_equal(
        table.reset_index(drop=True),
        whole[whole["theme"] == "ehc_plans"].reset_index(drop=True))
    typo = export(corpus, "themes", "--theme", "ehc")
    assert typo.exit_code == 2 and "did you mean ehc_plans?" in typo.output, typo.output


def test_letters_counts_stay_whole_numbers_beside_letters_without_them(
    tmp_path: Path
) -> None:
    """Only revisits state how many weaknesses improved: beside a 2023 report's blanks,
    plain integer columns became floats, and the CSV said "3.0"."""
    from fixtures.make_pdfs import build_fixture_pdfs

    pdfs = build_fixture_pdfs(tmp_path / "pdfs")
    root = tmp_path / "c"
    picked = [pdfs["revisit2018_some_harrowdale"], pdfs["areasend2023_systemic_ellingford"]]
    runner = CliRunner()
    assert runner.invoke(app, ["import", *map(str, picked), "--corpus", str(root),
                               "-q"]).exit_code == 0
    result = runner.invoke(app, ["export", "letters", "-f", "csv", "--corpus", str(root)])
    assert result.exit_code == 0, result.output
    import csv

    rows = {r["framework"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    revisit, report = rows["revisit_2018"], rows["area_send_2023"]
    assert revisit["weaknesses_total"].isdigit() and revisit["weaknesses_progress"].isdigit()
    assert report["weaknesses_total"] == "" and report["n_pages"].isdigit()


def test_an_empty_database_file_is_named_not_made_an_empty_corpus(tmp_path: Path) -> None:
    # A sendlens.db cut to 0 bytes (a failed disk or copy): `info` wrote a new schema into
    # it and reported a corpus of no letters.
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "sendlens.db").write_bytes(b"")
    for command in (["info"], ["export", "letters"], ["tag"]):
        result = CliRunner().invoke(app, [*command, "--corpus", str(root)])
        assert result.exit_code == 2, result.output
        assert "sendlens.db: empty file (0 bytes)" in result.output
        assert (root / "sendlens.db").stat().st_size == 0
    # Import, a command that makes corpora, makes one there.
    (tmp_path / "note.pdf").write_bytes(b"not a letter")
    result = CliRunner().invoke(app, ["import", str(tmp_path / "note.pdf"), "--corpus",
                                      str(root)])
    assert result.exit_code == 1 and "not a PDF" in result.output, result.output
    assert CliRunner().invoke(app, ["info", "--corpus", str(root)]).exit_code == 0


@pytest.mark.parametrize("stored", ["null", '["health_input"', "[null]"])
def test_tags_that_cannot_be_read_are_named_and_left_out_not_a_traceback(
        corpus: Corpus, tmp_path: Path, stored: str) -> None:
    # A damaged or hand-edited database: JSON null stopped `export themes` with a
    # TypeError traceback; broken JSON called the whole database unusable (exit 2).
    import sqlite3

    copy = copy_of(corpus, tmp_path)
    con = sqlite3.connect(copy / "sendlens.db")
    with con:
        damaged, = con.execute("SELECT passage_id FROM tags WHERE themes LIKE '%\"%'"
                               " ORDER BY passage_id LIMIT 1").fetchone()
        con.execute("UPDATE tags SET themes = ? WHERE passage_id = ?", (stored, damaged))
    con.close()
    said = "the tags of 1 passage cannot be read (themes that are no list of theme ids"
    for what in (["themes"], ["evidence", "--theme", "health_input"], ["passages"]):
        result = export(copy, *what, "-o", str(tmp_path / "out.csv"))
        assert result.exit_code == 0, result.output
        assert said in result.stderr and damaged in result.stderr, what
    table = read(tmp_path / "out.csv")  # passages: listed, themes as stored
    assert damaged in set(table["passage_id"])
    evidence = export(copy, "evidence", "--theme", "health_input", "--format", "csv").stdout
    assert damaged not in evidence
