"""`sendlens classify`: JSONL in, JSONL out, one line per input line, in order."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import main_exit_code
from test_model import build_corpus
from typer.testing import CliRunner

from sendlens.cli import app
from sendlens.store import Corpus
from textmine.codebook import STANCES, load_codebook


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("classify") / "corpus"
    build_corpus(root)
    # Train once here so every test below classifies with the same current model.
    result = CliRunner().invoke(app, ["train", "--corpus", str(root)])
    assert result.exit_code == 0, result.output
    return root


def edited_codebook(version: str) -> str:
    """The packaged codebook with another version number and a negative cue of its own
    (one no sentence holds): edited, so a model trained before is stale (a comment or the
    version alone would not make it so)."""
    from textmine.codebook import PACKAGED_CODEBOOK

    text = PACKAGED_CODEBOOK.read_text()
    assert "\nversion: 1\n" in text and "\n  negative:\n" in text
    return text.replace("\nversion: 1\n", f"\nversion: {version}\n", 1).replace(
        "\n  negative:\n", f'\n  negative:\n    - "edition {version} of no report"\n', 1)


def distinct(rows: list[dict]) -> list[dict]:
    """Synthetic rows with each sentence of a letter once: a label given twice for one
    sentence is read once (it names the same passage), so counts of labels need these."""
    return list({(r["letter_id"], r["text"]): r for r in rows}.values())


def with_theme(entry: str) -> str:
    """The packaged codebook with the YAML `entry` (a theme) added after its last theme."""
    from textmine.codebook import PACKAGED_CODEBOOK

    text = PACKAGED_CODEBOOK.read_text()
    assert "\nstance:\n" in text
    return text.replace("\nstance:\n", "\n" + entry.rstrip("\n") + "\n\nstance:\n", 1)


def corpus_with_theme(tmp_path: Path, entry: str, n_letters: int = 3) -> Path:
    """A corpus of synthetic letters whose own codebook has the theme `entry` added."""
    root = tmp_path / "corpus"
    build_corpus(root, n_letters=n_letters)
    (root / "codebook.yaml").write_text(with_theme(entry))
    return root


def classify(corpus: Path, stdin: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, ["classify", "--corpus", str(corpus)], input=stdin)
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_one_output_line_per_input_line_in_order_with_ids(corpus: Path) -> None:
    sentences = [
        {"id": 3, "text": "Short breaks work well for families."},
        {"id": "a", "text": "Leaders should improve the local offer website."},
        {"id": None, "text": "Inspectors met leaders."},
        {"id": 1, "text": "Supported internships are too few."},
    ]
    code, lines, err = classify(corpus, "\n".join(json.dumps(s) for s in sentences) + "\n")
    assert code == 0, err
    out = [json.loads(line) for line in lines]
    assert [o["id"] for o in out] == [3, "a", None, 1]
    themes = set(load_codebook().theme_ids)
    for o in out:
        assert set(o) == {"id", "themes", "stance", "scores"}
        assert set(o["themes"]) <= themes
        assert o["stance"] in STANCES
        assert set(o["scores"]) >= themes
    assert "social_care" in out[0]["themes"]
    assert "local_offer" in out[1]["themes"]
    assert out[1]["stance"] == "negative"


def test_ids_come_back_exactly_as_written(corpus: Path) -> None:
    # Read as floats they came back as Infinity (not JSON), 1.2345678901234568e+16 and
    # 1.0: results could not be joined back to the input by id.
    ids = ["1e400", "12345678901234567.0", "1.00000000000000001", "123456789012345678901234567890",
           '[2.50, {"a": -0.0}]', '"x"', "null", '[1.5, "\\u00000\\u0000"]', "9" * 5000]
    code, lines, err = classify(
        corpus, "".join(f'{{"id": {i}, "text": "Good."}}\n' for i in ids))
    assert code == 0, err
    assert [line.split(", \"themes\"")[0] for line in lines] == [f'{{"id": {i}' for i in ids]
    code, lines, err = classify(corpus, '{"id": 1, "text": "Good."}\n{"id": NaN, "text": "x"}\n')
    assert code == 2 and len(lines) == 1
    assert "stdin line 2: NaN is not JSON" in err
    # A number is still no text: kept as written, it passed for a string.
    code, lines, err = classify(corpus, '{"id": 1, "text": 1.5}\n')
    assert code == 2 and 'stdin line 1: expected a "text" string' in err


def test_a_byte_order_mark_before_a_blank_first_line_is_skipped(corpus: Path) -> None:
    code, lines, err = classify(corpus, '\ufeff\n{"id": 1, "text": "Good."}\n')
    assert code == 0, err
    assert len(lines) == 1


def test_a_program_gets_each_answer_without_closing_its_input(corpus: Path) -> None:
    # Answers were held until 5,000 lines or the end of the input: a program writing one
    # line and waiting for its answer (or someone typing) waited for ever.
    import select
    import subprocess

    run = subprocess.Popen([sys.executable, "-m", "sendlens.cli", "classify", "--corpus",
                            str(corpus)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    assert run.stdin is not None and run.stdout is not None
    try:
        for i in range(2):
            run.stdin.write(json.dumps({"id": i, "text": "Short breaks work well."}) + "\n")
            run.stdin.flush()
            ready, _, _ = select.select([run.stdout], [], [], 60)
            assert ready, f"no answer to line {i + 1} within a minute"
            assert json.loads(run.stdout.readline())["id"] == i
        run.stdin.close()
        assert run.wait(timeout=60) == 0
    finally:
        run.kill()


def test_a_program_that_keeps_its_input_open_gets_every_answer_and_a_clean_end(
        corpus: Path) -> None:
    # Exactly a batch (5,000 lines), then a wait: the batch's answers sat in stdout's
    # buffer. A bad line with the input still open made Python abort at exit (134: the
    # thread reading stdin was inside sys.stdin's own read).
    import select
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    cmd = [sys.executable, "-m", "sendlens.cli", "classify", "--corpus", str(corpus)]
    run = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    assert run.stdin is not None and run.stdout is not None
    try:
        run.stdin.write("".join(json.dumps({"id": i, "text": f"Plans are late {i}."}) + "\n"
                                for i in range(5000)).encode())
        run.stdin.flush()
        got = b""
        while got.count(b"\n") < 5000:
            ready, _, _ = select.select([run.stdout], [], [], 60)
            assert ready, f"{len(got.splitlines())} of 5,000 answers after a minute's wait"
            got += os.read(run.stdout.fileno(), 1 << 20)
        run.stdin.write(b"not json\n")
        run.stdin.flush()
        assert run.wait(timeout=60) == 2  # the input still open
        assert b"line 5001: not valid JSON" in run.stderr.read()
    finally:
        run.kill()


def test_a_pipe_is_read_line_by_line_as_a_file_is(corpus: Path, tmp_path: Path) -> None:
    # A pipe is read in pieces of any size: a lone \r ended no line there (it does in a
    # file read as text), and a \r\n or a UTF-8 character may be cut between two reads.
    import select
    import subprocess
    import time

    cmd = [sys.executable, "-m", "sendlens.cli", "classify", "--corpus", str(corpus)]
    first = b'{"id": 0, "text": "Good."}\n'

    def both_ways(pieces: list[bytes]) -> tuple[subprocess.CompletedProcess, tuple]:
        """The file of `pieces` classified, and the pieces written to a pipe one read
        each (after a first line is answered: the reader is running by then)."""
        whole = tmp_path / "in.jsonl"
        whole.write_bytes(first + b"".join(pieces))
        from_file = subprocess.run([*cmd, str(whole)], capture_output=True, timeout=120)
        run = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        assert run.stdin is not None and run.stdout is not None
        run.stdin.write(first)
        run.stdin.flush()
        assert select.select([run.stdout], [], [], 60)[0], "no answer to the first line"
        answered = run.stdout.readline()
        for piece in pieces:
            run.stdin.write(piece)
            run.stdin.flush()
            time.sleep(0.2)  # each piece its own read
        out, err = run.communicate(timeout=120)
        return from_file, (run.returncode, answered + out, err)

    pieces = [b'{"id": 1, "text": "Short breaks work well."}\r', b'\n{"id": 2, "text": "Caf\xc3',
              b'\xa9 visits help."}\r{"id": 3, "text": "Plans are late."}\r', b'\n\n',
              b'{"id": 4, "text": "Good."}']
    from_file, piped = both_ways(pieces)
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout.count(b"\n") == 5
    assert piped[:2] == (0, from_file.stdout), piped[2]
    # A bad line after a \r\n cut between reads has the number it has in the file.
    from_file, piped = both_ways([*pieces[:3], b"\nnot json\n"])
    assert b"line 5: not valid JSON" in from_file.stderr
    assert piped[:2] == (2, from_file.stdout) and b"line 5: not valid JSON" in piped[2]


def test_a_steady_stream_is_answered_as_it_goes(corpus: Path) -> None:
    # A line every 30 ms never pauses for 0.05 s: its answers waited for 5,000 lines.
    import select
    import subprocess
    import time

    run = subprocess.Popen([sys.executable, "-m", "sendlens.cli", "classify", "--corpus",
                            str(corpus)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    assert run.stdin is not None and run.stdout is not None
    try:
        answered = False
        started = time.monotonic()
        i = 0
        while not answered and time.monotonic() - started < 60:
            run.stdin.write(json.dumps({"id": i, "text": "Good."}).encode() + b"\n")
            run.stdin.flush()
            i += 1
            answered = bool(select.select([run.stdout], [], [], 0.03)[0])
        assert answered, "no answer within a minute of a steady stream"
        # Read while it finishes: waiting unread, the answers to a slow start's backlog
        # filled the pipe and both sides waited for ever.
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0
        assert len(out.splitlines()) == i
    finally:
        run.kill()


def too_deep_to_write_back() -> int:
    """Levels of nesting that Python's JSON reader takes but the id's writer (id_json) does
    not. Where that lies depends on the Python: 3.11 reads about 1,000 and writes about 500;
    3.13 reads about 10,000 and writes about 1,000 (850, once written here, it writes back)."""
    from textmine.tag import id_json

    for levels in range(100, 5000, 50):
        try:
            id_json(json.loads("[" * levels + "1" + "]" * levels))
        except RecursionError:
            return levels  # deeper still under the CLI runner: its calls are on the stack
    pytest.fail("id_json wrote back 5,000 levels of nesting: no id is too deep to write")


def test_input_nested_too_deeply_is_a_named_error(corpus: Path) -> None:
    # Python's JSON reader (and the id's writer) recurse: a traceback, exit 1.
    code, _, err = classify(corpus, "[" * 100000 + "\n")
    assert code == 2 and "stdin line 1: nested too deeply to read" in err
    deep = "[" * 2000 + "1" + "]" * 2000
    code, _, err = classify(corpus, f'{{"id": {deep}, "text": "Good."}}\n')
    assert code == 2 and "nested too deeply" in err
    # Read, but too deep to write back: as an id, or in the error about another field.
    levels = too_deep_to_write_back()
    deep = "[" * levels + "1" + "]" * levels
    code, _, err = classify(corpus, f'{{"id": {deep}, "text": "Good."}}\n')
    assert code == 2 and 'line 1: the "id" is nested too deeply to write back' in err
    code, _, err = classify(corpus, f'{{"id": 1, "text": "Good.", "context": {deep}}}\n')
    assert code == 2 and '"context" must be a string, not a value nested too deeply' in err


def test_stdin_closed_and_a_reader_that_goes_away(corpus: Path) -> None:
    import subprocess

    cmd = [sys.executable, "-m", "sendlens.cli", "classify", "--corpus", str(corpus)]
    closed = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=120, preexec_fn=lambda: os.close(0))
    assert closed.returncode == 2
    assert "no standard input to read (it is closed)" in closed.stderr  # not a traceback
    # `classify big.jsonl | head -1`: the reader had what it wanted; exit 0, no message.
    lines = "".join(json.dumps({"id": i, "text": "Good."}) + "\n" for i in range(20000))
    head = subprocess.run(f"{' '.join(cmd)} | head -1", shell=True, input=lines,
                          capture_output=True, text=True, timeout=300,
                          executable="/bin/bash", env={**os.environ, "SHELLOPTS": "pipefail"})
    assert head.returncode == 0, head.stderr
    assert head.stdout.count("\n") == 1 and "Traceback" not in head.stderr


def test_a_sentence_with_no_known_word_is_neutral_not_the_prior(corpus: Path) -> None:
    code, lines, err = classify(corpus, '{"id": 1, "text": "ok"}\n{"id": 2, "text": "Xq zzv."}\n')
    assert code == 0, err
    assert [(o["themes"], o["stance"]) for o in map(json.loads, lines)] == [([], "neutral")] * 2


def test_optional_context_fields_are_accepted(corpus: Path) -> None:
    line = json.dumps({"id": 7, "text": "This has improved.", "section": "strengths",
                       "heading": "What is the area partnership doing that is effective?",
                       "context": "Short breaks were hard to find."})
    code, lines, err = classify(corpus, line + "\n")
    assert code == 0, err
    assert json.loads(lines[0])["id"] == 7


def test_classify_run_at_a_terminal_says_what_it_waits_for(corpus: Path) -> None:
    # Run with nothing piped in, it waited for typing without a word.
    import pty
    import subprocess

    typing, terminal = pty.openpty()
    try:
        os.write(typing, b"\x04")  # Ctrl-D at once: the end of the input
        run = subprocess.run([sys.executable, "-m", "sendlens.cli", "classify", "--corpus",
                              str(corpus)], stdin=terminal, capture_output=True, text=True,
                             timeout=120)
    finally:
        os.close(typing)
        os.close(terminal)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert "reading JSONL from the keyboard" in run.stderr and "Ctrl-D ends" in run.stderr
    # Piped in, nothing is said.
    assert CliRunner().invoke(app, ["classify", "--corpus", str(corpus)], input="").stderr == ""


def test_empty_input_gives_empty_output(corpus: Path) -> None:
    code, lines, _ = classify(corpus, "")
    assert code == 0
    assert lines == []


def test_bad_json_line_is_named_and_earlier_lines_are_kept(corpus: Path) -> None:
    stdin = json.dumps({"id": 1, "text": "Short breaks work well."}) + "\n{not json\n"
    code, lines, err = classify(corpus, stdin)
    assert code == 2
    assert "line 2: not valid JSON (Expecting property name enclosed in double quotes at " \
        "column 2)" in err
    assert [json.loads(x)["id"] for x in lines] == [1]


def test_a_bad_line_still_lets_the_warnings_about_the_lines_before_it_out(
    corpus: Path
) -> None:
    # Warnings are gathered until the input ends: an error at line 3 lost line 2's.
    with sqlite3.connect(Path(corpus) / "sendlens.db") as con:
        text = con.execute("SELECT text FROM passages LIMIT 1").fetchone()[0]
    stdin = (json.dumps({"id": 1, "text": "Plans are late."}) + "\n"
             + json.dumps({"id": 2, "text": text, "passage_id": "nope-0001"}) + "\n"
             + json.dumps({"id": 9}) + "\n")
    code, lines, err = classify(corpus, stdin)
    assert code == 2 and 'line 3: expected a "text" string' in err
    assert [json.loads(x)["id"] for x in lines] == [1, 2]
    assert "line 2: passage_id not a passage of this corpus" in err


def test_a_key_given_twice_is_refused(corpus: Path) -> None:
    # JSON keeps the last: the answer came back under id 2 for a line that said 1 too.
    code, lines, err = classify(corpus, '{"id": 1, "id": 2, "text": "Plans are late."}\n')
    assert code == 2 and lines == []
    assert "line 1: the key 'id' is given twice" in err
    code, lines, err = classify(corpus, '{"id": 1, "text": "A.", "text": "B."}\n')
    assert code == 2 and "the key 'text' is given twice" in err
    # Spelt with an escape, a key is the same key ("\u0074ext" is "text").
    code, lines, err = classify(corpus, '{"id": 1, "\\u0074ext": "A.", "text": "B."}\n')
    assert code == 2 and "the key 'text' is given twice" in err
    code, lines, _ = classify(corpus, '{"id": 1, "text": "caf\\u00e9 plans"}\n')
    assert code == 0 and len(lines) == 1  # an escape in the text is no second key
    # A text that says "id" is no key.
    code, lines, _ = classify(corpus, json.dumps({"id": 1, "text": 'the "id" and "id"'}) + "\n")
    assert code == 0 and len(lines) == 1


def test_a_field_of_the_wrong_type_is_named_and_earlier_lines_are_kept(corpus: Path) -> None:
    # These were type errors from deep inside, and the good lines before them were lost.
    ok = json.dumps({"id": 1, "text": "EHC plans are late."}) + "\n"
    for field, value in (("prev_text", 5), ("heading", ["a"]), ("letter", 123)):
        bad = json.dumps({"id": 2, "text": "Fine.", field: value}) + "\n"
        code, lines, err = classify(corpus, ok + bad)
        assert code == 2, field
        assert f'line 2: "{field}" must be a string, not {json.dumps(value)}' in err
        assert "Traceback" not in err
        assert [json.loads(x)["id"] for x in lines] == [1]


def test_a_line_cut_short_is_named_as_unterminated(corpus: Path) -> None:
    code, lines, err = classify(corpus, '{"id": 1, "text": "Short breaks\n')
    assert code == 2 and lines == []
    assert "line 1: not valid JSON (Unterminated string starting at column 19)" in err


def test_plain_text_instead_of_json_is_told_what_a_line_should_be(corpus: Path) -> None:
    code, lines, err = classify(corpus, "Plans are late.\n")
    assert code == 2 and lines == []
    assert 'line 1: not valid JSON' in err and '{"id": 1, "text": "..."}' in err


def test_a_misspelt_field_is_warned_of_once_and_other_fields_pass(corpus: Path) -> None:
    rows = [{"id": i, "text": "Leaders should improve short breaks.", "sectoin": "actions",
             "themes": ["social_care"], "my_note": "x"} for i in range(3)]
    code, lines, err = classify(corpus, "".join(json.dumps(r) + "\n" for r in rows))
    assert code == 0 and len(lines) == 3
    assert err.count("field 'sectoin' is not read (did you mean 'section'?)") == 1
    assert "line 1: field 'sectoin'" in err
    # A gold file's own fields, or the user's, are not typos.
    assert "themes" not in err and "my_note" not in err


def test_a_line_without_text_is_an_error_naming_the_line(corpus: Path) -> None:
    code, _, err = classify(corpus, '{"id": 1, "text": "Fine."}\n\n{"id": 2}\n')
    assert code == 2
    assert "line 3" in err and "text" in err
    # An empty text is no sentence: it used to come back tagged "positive".
    code, out, err = classify(corpus, '{"id": 1, "text": "Fine."}\n{"id": 2, "text": " "}\n')
    assert code == 2 and 'line 2: "text" is empty' in err
    assert len(out) == 1  # the line before it was written


def test_input_that_is_not_utf8_or_lacks_an_id_or_names_an_unknown_section_is_refused(
        corpus: Path) -> None:
    ok = b'{"id": 1, "text": "Fine."}\n'
    runner = CliRunner()
    for bad, message in ((b'{"id": 2, "text": "Caf\xe9 drop-ins help."}', "line 2: not UTF-8 text"),
                         (b'{"text": "No id here."}', 'line 2: no "id"'),
                         (b'{"id": 2, "text": "Plans are late.", "section": "weakness"}',
                          "line 2: unknown section 'weakness' (did you mean 'weaknesses'?); "
                          "sections: context, ")):
        result = runner.invoke(app, ["classify", "--corpus", str(corpus)], input=ok + bad + b"\n")
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert len(result.stdout.splitlines()) == 1  # the line before it was written
    # A byte-order mark before the first line is not an error.
    result = runner.invoke(app, ["classify", "--corpus", str(corpus)], input=b"\xef\xbb\xbf" + ok)
    assert result.exit_code == 0 and json.loads(result.stdout)["id"] == 1


def test_a_file_named_on_the_command_line_is_read_as_stdin_would_be(
        corpus: Path, tmp_path: Path) -> None:
    # `sendlens classify in.jsonl` was "Got unexpected extra argument(s)".
    text = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in
                   enumerate(["Short breaks work well.", "Plans are late."]))
    given = tmp_path / "in.jsonl"
    given.write_bytes(b"\xef\xbb\xbf" + text.encode())  # a BOM, as some editors save
    runner = CliRunner()
    piped = runner.invoke(app, ["classify", "--corpus", str(corpus)], input=text)
    named = runner.invoke(app, ["classify", str(given), "--corpus", str(corpus)])
    dash = runner.invoke(app, ["classify", "-", "--corpus", str(corpus)], input=text)
    assert named.exit_code == 0, named.output
    assert named.stdout == piped.stdout == dash.stdout and len(named.stdout.splitlines()) == 2
    # Its errors name the file, and a mistyped name is told before any model is trained.
    given.write_text(text + "{not json\n")
    bad = runner.invoke(app, ["classify", str(given), "--corpus", str(corpus)])
    assert bad.exit_code == 2 and f"{given} line 3: not valid JSON" in bad.stderr
    missing = runner.invoke(app, ["classify", str(tmp_path / "nope.jsonl"), "--corpus",
                                  str(tmp_path / "no-corpus")])
    assert missing.exit_code == 2
    assert f"{tmp_path / 'nope.jsonl'}: no such file" in missing.stderr
    assert "trained" not in missing.stderr


def test_classify_trains_first_when_the_corpus_has_no_model(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    build_corpus(root, n_letters=3)
    code, lines, err = classify(root, '{"id": 1, "text": "Direct payments are flexible."}\n')
    assert code == 0, err
    assert "trained a new model first" in err
    # Said before the wait too, not only after it.
    assert err.index("one is trained first") < err.index("trained a new model first")
    assert json.loads(lines[0])["id"] == 1


def test_train_and_tag_are_idempotent_and_export_carries_tags(corpus: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["tag", "--corpus", str(corpus)])
    assert first.exit_code == 0, first.output
    out1 = runner.invoke(app, ["export", "passages", "-f", "csv", "-o", "-",
                               "--corpus", str(corpus)])
    again = runner.invoke(app, ["tag", "--corpus", str(corpus)])
    assert again.exit_code == 0
    out2 = runner.invoke(app, ["export", "passages", "-f", "csv", "-o", "-",
                               "--corpus", str(corpus)])
    rows1 = list(csv.DictReader(io.StringIO(out1.stdout)))
    rows2 = list(csv.DictReader(io.StringIO(out2.stdout)))
    assert rows1 == rows2  # same model, same tags: re-tagging changes nothing
    assert rows1 and all(r["stance"] in STANCES for r in rows1)
    assert all(isinstance(json.loads(r["themes"]), list) for r in rows1)
    assert all(json.loads(r["scores"]) for r in rows1)
    assert any("social_care" in json.loads(r["themes"]) for r in rows1)


def test_training_shows_its_stages_as_it_goes(corpus: Path, tmp_path: Path) -> None:
    """The bar moves through the fit, which is most of the run (it sat at 5%)."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(corpus, root)
    result = CliRunner().invoke(app, ["train", "--corpus", str(root)])
    assert result.exit_code == 0, result.output
    shown = result.stderr
    stages = ["reading passages", "weak labels from the codebook",
              "fitting the theme and stance models", "self-training", "threshold", "saved"]
    at = [shown.find(stage) for stage in stages]
    assert all(i >= 0 for i in at) and at == sorted(at), dict(zip(stages, at))


def test_editing_the_codebook_makes_tag_retrain(tmp_path: Path) -> None:

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    runner = CliRunner()
    first = runner.invoke(app, ["tag", "--corpus", str(root)], env={"SENDLENS_CODEBOOK": ""})
    assert first.exit_code == 0
    assert "trained a new model first: the corpus had no model yet" in first.stderr
    same = runner.invoke(app, ["tag", "--corpus", str(root)], env={"SENDLENS_CODEBOOK": ""})
    assert "trained a new model first" not in same.stderr
    transport = ("  - id: transport\n    name: Home to school transport\n    definition: "
                 "Travel to school.\n    patterns: [\"transport\"]\n")
    (root / "codebook.yaml").write_text(with_theme(transport))
    # `info` reports the model as stale before anything is retrained.
    info = runner.invoke(app, ["info", "--corpus", str(root)], env={"SENDLENS_CODEBOOK": ""})
    assert "stale: codebook changed" in info.stdout
    # ... and so does a table counted from its tags, which has no rows for the new theme
    # (zeros would read as "no letter mentions it") and says why.
    table = runner.invoke(app, ["export", "themes", "-f", "csv", "--corpus", str(root)],
                          env={"SENDLENS_CODEBOOK": ""})
    assert table.exit_code == 0 and "transport" not in table.stdout
    assert "which is stale" in table.stderr and "theme transport has no rows" in table.stderr
    edited = runner.invoke(app, ["tag", "--corpus", str(root)], env={"SENDLENS_CODEBOOK": ""})
    assert edited.exit_code == 0
    assert "codebook changed" in edited.stderr
    info = runner.invoke(app, ["info", "--corpus", str(root)], env={"SENDLENS_CODEBOOK": ""})
    assert "stale" not in info.stdout and "older model" not in info.stdout
    table = runner.invoke(app, ["export", "themes", "-f", "csv", "--corpus", str(root)],
                          env={"SENDLENS_CODEBOOK": ""})
    # Counted, once a model knows it; the only warning left is that no sentence of these
    # made-up letters mentions transport, said with the table where its zeros are read.
    assert table.exit_code == 0 and "transport" in table.stdout
    assert [line for line in table.stderr.splitlines() if "warning" in line] == [
        line for line in table.stderr.splitlines() if "warning: theme transport: its "
        "patterns match 0 sentences" in line] != []


def test_a_damaged_model_file_is_named_and_a_new_model_trained(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    runner = CliRunner()
    assert runner.invoke(app, ["train", "--corpus", str(root)]).exit_code == 0
    [folder] = (root / "models").iterdir()
    (folder / "model.joblib").write_bytes(b"")  # cut short: a full disk, a bad copy
    info = runner.invoke(app, ["info", "--corpus", str(root)])
    assert f"the model in {folder} cannot be read (EOFError: the file is empty" in info.stdout
    code, lines, err = classify(root, '{"id": 1, "text": "Direct payments are flexible."}\n')
    assert code == 0, err
    assert f"trained a new model first: the model in {folder} cannot be read" in err
    assert json.loads(lines[0])["id"] == 1
    assert "cannot be read" not in runner.invoke(app, ["info", "--corpus", str(root)]).stdout


def test_tags_left_by_an_older_model_are_pointed_out(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": ""}
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0
    # `train` makes a new current model, but the tables still count the old one's tags.
    assert runner.invoke(app, ["train", "--corpus", str(root)], env=env).exit_code == 0
    n = Corpus.open(root).counts()["passages"]
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert f"{n} passages carry tags of an older model" in info.stdout
    table = runner.invoke(app, ["export", "themes", "-f", "csv", "--corpus", str(root)], env=env)
    assert table.exit_code == 0 and f"warning: {n} passages carry tags of an older" in table.stderr
    # Tags naming a theme the codebook has lost (removed or renamed since) are named: the
    # table still has its rows.
    with Corpus.open(root).transaction() as con:
        con.execute("UPDATE tags SET themes = '[\"transport\"]' WHERE rowid = 1")
    for command in (["info"], ["export", "themes", "-f", "csv"]):
        said = runner.invoke(app, [*command, "--corpus", str(root)], env=env).output
        assert "those tags name transport, no longer in the codebook" in " ".join(
            said.split()), command
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert "older model" not in info.stdout


def test_models_trained_in_the_same_second_get_their_own_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=2)
    frozen = time.gmtime()
    monkeypatch.setattr(time, "gmtime", lambda *_: frozen)
    env = {"SENDLENS_CODEBOOK": ""}
    runs = [CliRunner().invoke(app, ["train", "--corpus", str(root)], env=env) for _ in range(3)]
    versions = [r.stdout.strip() for r in runs]
    assert versions[1:] == [f"{versions[0]}.2", f"{versions[0]}.3"]
    assert sorted(p.name for p in (root / "models").iterdir()) == versions


def corpus_with_labels(tmp_path: Path) -> tuple[Path, list[dict]]:
    """A corpus of 3 synthetic letters, and tmp_path/mine.jsonl labelling 12 of its
    sentences (their theme, stance neutral)."""
    from test_model import synthetic_rows

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    labels = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
               "stance": "neutral"} for r in distinct(synthetic_rows(3))[:12]]
    (tmp_path / "mine.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
    return root, labels


@pytest.mark.parametrize("harm", ["damaged", "removed"])
def test_a_model_whose_files_are_lost_is_trained_again_with_its_hand_labels(
    tmp_path: Path, harm: str
) -> None:
    # The database still records the label files: a retrain from weak labels alone
    # quietly lost the researcher's hand labels (theme F1 0.84 down to the no-label model).
    import shutil

    root, _ = corpus_with_labels(tmp_path)
    env = {"SENDLENS_CODEBOOK": ""}
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "-q", "--labels", str(tmp_path / "mine.jsonl"),
                                  "--corpus", str(root)], env=env)
    assert trained.exit_code == 0, trained.output
    folder = root / "models" / trained.stdout.strip()
    if harm == "damaged":
        (folder / "model.joblib").write_bytes(b"")
    else:
        shutil.rmtree(folder)
    tagged = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert tagged.exit_code == 0, tagged.output
    assert ("cannot be read" if harm == "damaged" else
            f"the files of model {folder.name} are missing") in tagged.stderr
    assert f"with the hand labels it was trained on: {tmp_path / 'mine.jsonl'}" in tagged.stderr
    version = tagged.stderr.split("with model ")[1].split()[0]
    meta = json.loads((root / "models" / version / "meta.json").read_text())
    assert meta["training"]["hand_labels"]["n"] == 12


def test_a_theme_whose_patterns_match_nothing_is_warned_of(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A typo in a pattern trained silently, and every table then counted the theme 0:
    # a "finding" that no letter mentions it.
    root = corpus_with_theme(tmp_path, "  - id: early_years\n    name: Early years\n    "
                             "definition: Nurseries.\n    patterns:\n      - \"nurserys? zzq\"\n",
                             n_letters=2)
    env = {"SENDLENS_CODEBOOK": ""}
    trained = CliRunner().invoke(app, ["train", "-q", "--corpus", str(root)], env=env)
    assert trained.exit_code == 0, trained.output
    assert ("warning: theme early_years: its patterns match 0 sentences of the corpus and 0 "
            "hand labels give it, too few to learn from") in trained.stderr
    assert "theme co_production:" not in trained.stderr
    (root / "codebook.yaml").write_text((root / "codebook.yaml").read_text().replace(
        '"nurserys? zzq"', '"nurserys? zzq"\n      - "creches? zzq"', 1))
    tagged = CliRunner().invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert tagged.exit_code == 0, tagged.output
    assert "theme early_years: its patterns match 0 sentences" in tagged.stderr
    # Said after training too, where its column of zeros is read: in info, beside a table,
    # and on every page of the app.
    info = CliRunner().invoke(app, ["info", "--corpus", str(root)], env=env).output
    table = CliRunner().invoke(app, ["export", "themes", "-f", "md", "--corpus", str(root)],
                               env=env)
    for said in (info, table.stderr, table.stdout.replace("\\_", "_")):  # md escapes
        assert "theme early_years: its patterns match 0 sentences" in " ".join(
            said.lower().split())
    from streamlit.testing.v1 import AppTest

    from sendlens.ui.common import download_warnings

    monkeypatch.setenv("SENDLENS_CORPUS", str(root))
    at = AppTest.from_file(str(Path(__file__).parent.parent / "app.py"), default_timeout=60)
    at.query_params["page"] = "compare"
    at.run()
    assert any("theme early_years: its patterns match 0" in w.value.replace("\\", "").lower()
               for w in at.warning), [w.value for w in at.warning]
    assert "early_years: its patterns match 0" in download_warnings(str(root))
    # A model from before the counts were recorded has nothing to go by: no warning (every
    # theme would have read as matching 0 sentences).
    from textmine.tag import thin_themes

    assert thin_themes({"themes": ["early_years"], "training": {}}) == []
    # Nor is a stale model's said (its codebook may be mended since: the stale warning
    # says to retrain), in info, export and the app alike.
    thin = {"themes": ["early_years"], "training": {"weak_theme_positives": {}}}
    assert len(thin_themes(thin)) == 1 and thin_themes(thin, stale=True) == []


def test_info_makes_no_ehc_check_without_the_theme(tmp_path: Path) -> None:
    # Renamed, the theme was counted under its old id: "0 of 55 reports (0%)".
    from textmine.codebook import PACKAGED_CODEBOOK

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=2)
    (root / "codebook.yaml").write_text(
        PACKAGED_CODEBOOK.read_text().replace("id: ehc_plans\n", "id: ehc_plan\n", 1))
    env = {"SENDLENS_CODEBOOK": ""}
    assert CliRunner().invoke(app, ["tag", "-q", "--corpus", str(root)], env=env).exit_code == 0
    info = CliRunner().invoke(app, ["info", "--corpus", str(root)], env=env)
    assert info.exit_code == 0, info.output
    assert "EHC plans check: not made, as the codebook has no ehc_plans theme" in info.stdout


def test_an_automatic_retrain_keeps_the_hand_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textmine.codebook import PACKAGED_CODEBOOK

    root, labels = corpus_with_labels(tmp_path)
    monkeypatch.chdir(tmp_path)  # a relative path, as a researcher types it
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": ""}
    trained = runner.invoke(app, ["train", "--labels", "mine.jsonl", "--corpus", str(root)],
                            env=env)
    assert trained.exit_code == 0, trained.output
    (root / "codebook.yaml").write_text(edited_codebook("2"))
    monkeypatch.chdir(root)  # elsewhere: the model names the file by its absolute path
    edited = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert edited.exit_code == 0, edited.output
    assert "codebook changed" in edited.stderr
    assert f"with the hand labels it was trained on: {tmp_path / 'mine.jsonl'}" in edited.stderr
    version = edited.stderr.split("with model ")[1].split()[0]
    meta = json.loads((root / "models" / version / "meta.json").read_text())
    assert meta["training"]["hand_labels"]["n"] == 12
    # The same labels under another name are still recognised as training data.
    (tmp_path / "copy.jsonl").write_bytes((tmp_path / "mine.jsonl").read_bytes())
    ev = runner.invoke(app, ["evaluate", str(tmp_path / "copy.jsonl"), "--corpus", str(root)],
                       env=env)
    assert ev.exit_code == 0, ev.output
    assert "use --cv" in ev.stderr
    # A codebook edited since: `evaluate` trains first, and says so (it ran half a minute
    # without a word).
    (root / "codebook.yaml").write_text(edited_codebook("3"))
    ev = runner.invoke(app, ["evaluate", str(tmp_path / "copy.jsonl"), "--corpus", str(root)],
                       env=env)
    assert ev.exit_code == 0, ev.output
    assert "trained a new model first: " in ev.stderr and "codebook changed" in ev.stderr
    # A theme removed from the codebook does not stop a retrain on labels naming it.
    import yaml

    book = yaml.safe_load(PACKAGED_CODEBOOK.read_text())
    dropped = labels[0]["themes"][0]
    book["themes"] = [t for t in book["themes"] if t["id"] != dropped]
    (root / "codebook.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    stale = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert f"its tags name {dropped}, which the codebook no longer has" in stale.stdout
    fewer = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert fewer.exit_code == 0, fewer.output
    named = sum(x["themes"] == [dropped] for x in labels)
    said = (f"{named} of the hand labels {'names' if named == 1 else 'name'} a theme of an "
            "earlier codebook or of sendlens's labelling scheme that this codebook does not "
            f"have ({dropped}: removed or renamed?)")
    assert said in fewer.stderr
    # ... nor does the next edit, though the model trained then no longer lists the theme.
    book["stance"]["negative"] = [*book["stance"]["negative"], "edition 3 of no report"]
    (root / "codebook.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    later = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert later.exit_code == 0, later.output
    assert said in later.stderr
    # An emptied file does not stop a retrain either (only `train --labels` refuses one).
    (tmp_path / "mine.jsonl").write_text("")
    (root / "codebook.yaml").write_text(edited_codebook("4"))
    emptied = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert emptied.exit_code == 0, emptied.output
    # Once the file is gone, a retrain would lose its labels: refused, saying what to do
    # (it trained without them, with a note: the model's 12 hand labels were gone).
    (tmp_path / "mine.jsonl").unlink()
    (root / "codebook.yaml").write_text(edited_codebook("3"))
    # info and the app say so before anyone runs the tag that would stop.
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env).stdout
    assert f"hand labels it learnt from are no longer there ({tmp_path / 'mine.jsonl'})" in info
    # No line sends the user to the `tag` that would stop, without saying what first.
    told = [line for line in info.splitlines() if "`sendlens tag`" in line]
    assert told and all("once the hand labels above are back" in line for line in told), told
    from sendlens import appdata

    kind, reasons = appdata.model_problems(str(root), appdata.stamp(root))
    assert kind == "stale" and "are no longer there" in reasons[-1]
    said = appdata.problem_text((kind, reasons))
    assert "put the file back" in said and "run sendlens tag" not in said  # it would stop
    # Put back, it is seen at once (the corpus unchanged: the same stamp).
    (tmp_path / "mine.jsonl").write_text("")
    assert "are no longer there" not in " ".join(
        appdata.model_problems(str(root), appdata.stamp(root))[1])
    (tmp_path / "mine.jsonl").unlink()
    again = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert again.exit_code == 2
    assert (f"learnt from hand labels in {tmp_path / 'mine.jsonl'}, which is no longer there"
            in again.output and "`sendlens train`" in again.output)
    with Corpus.open(root).reading() as con:
        assert con.execute("SELECT count(*) FROM models WHERE is_current").fetchone()[0] == 1
    # Training without it, as asked, clears the way.
    assert runner.invoke(app, ["train", "--corpus", str(root)], env=env).exit_code == 0
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0


def test_edited_labels_make_the_model_stale_and_a_retrain_keeps_its_settings(
    tmp_path: Path
) -> None:
    from test_model import synthetic_rows

    from sendlens import appdata

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    rows = distinct(synthetic_rows(3))
    labels = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
               "stance": "neutral"} for r in rows[:8]]
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(json.dumps(x) + "\n" for x in labels))
    env = {"SENDLENS_CODEBOOK": ""}
    runner = CliRunner()
    # A correction saved in the app, which this researcher chose to leave out.
    with Corpus.open(root).reading() as con:
        pid = con.execute("SELECT passage_id FROM passages ORDER BY seq DESC").fetchone()[0]
    appdata.save_label(str(root), pid, [], "neutral")
    trained = runner.invoke(app, ["train", "--labels", str(mine), "--no-stored-labels",
                                  "--corpus", str(root)], env=env)
    assert trained.exit_code == 0, trained.output
    assert "stale" not in runner.invoke(app, ["info", "--corpus", str(root)], env=env).stdout
    # More labels added to the file: the model no longer reflects it.
    more = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
             "stance": "neutral"} for r in rows[8:14]]
    mine.write_text(mine.read_text() + "".join(json.dumps(x) + "\n" for x in more))
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert f"hand labels changed since training ({mine})" in info.stdout
    retag = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert retag.exit_code == 0, retag.output
    assert "hand labels changed" in retag.stderr
    assert "without the corrections saved in the app, as before" in retag.stderr
    version = retag.stderr.split("with model ")[1].split()[0]
    meta = json.loads((root / "models" / version / "meta.json").read_text())
    # The file as it is now, still without the app's correction.
    assert meta["training"]["hand_labels"]["n"] == 14
    assert "stale" not in runner.invoke(app, ["info", "--corpus", str(root)], env=env).stdout
    # A misspelt theme added to the file is refused by the retrain as by `train`, not
    # dropped as if the codebook had lost it.
    typo = {"letter": rows[20]["letter_id"], "text": rows[20]["text"], "themes": ["ehc_plan"]}
    mine.write_text(mine.read_text() + json.dumps(typo) + "\n")
    retag = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert retag.exit_code == 2, retag.output
    assert "line 15: unknown theme 'ehc_plan' (did you mean 'ehc_plans'?)" in retag.output
    # ... and classify, which reads no labels itself, says why the file is read at all.
    got = runner.invoke(app, ["classify", "--corpus", str(root)], env=env,
                        input='{"id": 1, "text": "Good."}\n')
    assert got.exit_code == 2
    assert ("The model is trained again first (hand labels changed since training "
            f"({mine})), with the hand-label files it was trained on") in got.stderr


def test_a_label_given_twice_counts_once_and_two_ways_are_warned_of(tmp_path: Path) -> None:
    # A copy of a file given as another (or a line pasted twice) weighed those labels
    # twice; a sentence labelled two ways passed without a word.
    from test_model import synthetic_rows

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    rows = list({r["text"]: r for r in synthetic_rows(3)}.values())  # each text once
    lines = [json.dumps({"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
                         "stance": "neutral"}) + "\n" for r in rows[:6]]
    first, copy = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(lines))
    other = "".join(json.dumps({"letter": r["letter_id"], "text": r["text"], "themes": [],
                                "stance": "negative"}) + "\n" for r in rows[:2])
    copy.write_text("".join(lines) + lines[0] + other)
    result = CliRunner().invoke(app, ["train", "--labels", str(first), "--labels", str(copy),
                                      "--corpus", str(root)], env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 0, result.output
    # 6, and the two labelled otherwise
    assert "sentences from 3 letters, 8 hand labels, " in result.stderr
    assert "7 hand labels given again word for word" in result.stderr
    assert "2 sentences are labelled in two ways" in result.stderr
    for n in (1, 2):  # each named, with its two places
        assert (f"{rows[n - 1]['text'][:60]!r} ({first}, line {n}; {copy}, line {n + 7})"
                in result.stderr)
    # Named another way (no letter, as a sentence pasted from a report; or its passage,
    # as `export labels` writes a correction), it is the same sentence all the same.
    texts = [r["text"] for r in synthetic_rows(3)]
    n, once = next((i, r) for i, r in enumerate(rows[:6]) if texts.count(r["text"]) == 1)
    third = tmp_path / "c.jsonl"
    third.write_text(json.dumps({"text": once["text"], "themes": [],
                                 "stance": "positive"}) + "\n")
    result = CliRunner().invoke(app, ["train", "--labels", str(first), "--labels", str(third),
                                      "--corpus", str(root)], env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 0, result.output
    assert f"{once['text'][:60]!r} ({first}, line {n + 1}; {third}, line 1)" in result.stderr
    # Themes in one file, stances in another: one label with both, no "two ways".
    themes_only = [json.dumps({k: v for k, v in json.loads(x).items() if k != "stance"}) + "\n"
                   for x in lines]
    first.write_text("".join(themes_only))
    copy.write_text("".join(lines))
    result = CliRunner().invoke(app, ["train", "--labels", str(first), "--labels", str(copy),
                                      "--corpus", str(root)], env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 0, result.output
    assert "6 hand labels" in result.stderr and "two ways" not in result.stderr


def test_labels_edited_while_the_model_trains_make_it_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file's hash was taken after the training: the model of its first 4 lines was
    # recorded as the model of its 8, and never retrained.
    from test_model import synthetic_rows

    from textmine import tag

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    rows = synthetic_rows(3)
    lines = [json.dumps({"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
                         "stance": "neutral"}) + "\n" for r in rows[:8]]
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(lines[:4]))
    real = tag.train_model

    def edited_meanwhile(*args: Any, **kwargs: Any) -> Any:
        mine.write_text("".join(lines))  # the researcher saves more labels meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(tag, "train_model", edited_meanwhile)
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": ""}
    trained = runner.invoke(app, ["train", "--labels", str(mine), "--corpus", str(root)],
                            env=env)
    assert trained.exit_code == 0, trained.output
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert f"hand labels changed since training ({mine})" in info.stdout


def labelled_corpus(tmp_path: Path) -> tuple[Path, Path, list[dict]]:
    """A corpus of 4 invented letters and hand labels of their sentences (mine.jsonl)."""
    from test_model import synthetic_rows

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=4)
    labels = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
               "stance": "neutral"} for r in synthetic_rows(4)]
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(json.dumps(x) + "\n" for x in labels))
    return root, mine, labels


def test_thresholds_can_be_tuned_on_the_hand_labels_and_a_retrain_keeps_doing_so(
    tmp_path: Path,
) -> None:
    root, mine, _ = labelled_corpus(tmp_path)
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": ""}

    def train(*extra: str) -> dict:
        result = runner.invoke(app, ["train", "--labels", str(mine), "--corpus", str(root),
                                     "-q", *extra], env=env)
        assert result.exit_code == 0, result.output
        version = result.stdout.strip().splitlines()[-1]
        return json.loads((root / "models" / version / "meta.json").read_text())

    plain, tuned = train(), train("--tune-thresholds", "2")
    assert plain["training"]["tune_folds"] == 0
    assert tuned["training"]["tune_folds"] == 2
    assert "held-out hand labels (2-fold cross-validation" in tuned["training"][
        "threshold_tuning"]
    assert tuned["thresholds"] != plain["thresholds"]
    # Each fold holds whole letters: more folds than labelled letters is refused.
    too_many = runner.invoke(app, ["train", "--labels", str(mine), "--tune-thresholds", "5",
                                   "--corpus", str(root)], env=env)
    assert too_many.exit_code == 2
    assert "needs hand labels from at least 5 letters; these come from 4" in too_many.stderr
    # A cross-validation that sets thresholds otherwise does not measure the current model.
    cv = runner.invoke(app, ["evaluate", str(mine), "--cv", "--folds", "2", "-q",
                             "--corpus", str(root)], env=env)
    assert cv.exit_code == 0, cv.output
    assert "was trained with --tune-thresholds 2; run the cross-validation the same way" \
        in cv.stderr
    # A retrain after a codebook edit tunes them again.
    (root / "codebook.yaml").write_text(edited_codebook("2"))
    retrained = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert retrained.exit_code == 0, retrained.output
    assert "thresholds tuned on the hand labels by 2-fold cross-validation" in retrained.stderr
    version = retrained.stderr.split("with model ")[1].split()[0]
    meta = json.loads((root / "models" / version / "meta.json").read_text())
    assert meta["training"]["tune_folds"] == 2
    # evaluate measures the option by cross-validation only.
    alone = runner.invoke(app, ["evaluate", str(mine), "--tune-thresholds", "2",
                                "--corpus", str(root)], env=env)
    assert alone.exit_code == 2 and "needs --cv" in alone.stderr
    # Without its labels (the file emptied) a retrain cannot tune, and says so instead of
    # claiming it did.
    mine.write_text("")
    (root / "codebook.yaml").write_text(edited_codebook("3"))
    untuned = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert untuned.exit_code == 0, untuned.output
    assert "thresholds not tuned by 2-fold cross-validation as before" in untuned.stderr
    assert "thresholds tuned on the hand labels" not in untuned.stderr


def test_evaluate_records_the_measured_quality_with_the_model(tmp_path: Path) -> None:
    from test_model import synthetic_rows

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    rows = synthetic_rows(3)

    def labels(name: str, picked: list[dict]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps({"letter": r["letter_id"], "text": r["text"],
                                            "themes": [r["theme"]], "stance": "neutral"}) + "\n"
                                for r in picked))
        return path

    # Held-out labels: other sentences (the invented letters repeat some sentences).
    taken = {(r["letter_id"], r["text"]) for r in rows[0::7]}
    unseen = [r for r in rows[3::7] if (r["letter_id"], r["text"]) not in taken]
    mine, other = labels("mine.jsonl", rows[0::7]), labels("other.jsonl", unseen)
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": ""}
    trained = runner.invoke(app, ["train", "--labels", str(mine), "--corpus", str(root)],
                            env=env)
    assert trained.exit_code == 0, trained.output
    version = trained.stdout.split()[-1]

    def quality() -> dict:
        meta = json.loads((root / "models" / version / "meta.json").read_text())
        return meta.get("quality", {})

    # On its own training labels: flagged, and not recorded as the model's quality.
    same = runner.invoke(app, ["evaluate", str(mine), "--corpus", str(root)], env=env)
    assert f"model {version} was trained on {mine}; use --cv" in same.stderr
    assert quality() == {}
    held = runner.invoke(app, ["evaluate", str(other), "--corpus", str(root)], env=env)
    assert held.exit_code == 0, held.output
    assert f"recorded with model {version}" in held.stderr
    got = quality()["held-out labels"]
    assert got["gold"] == "other.jsonl" and got["sentences"] == len(unseen) > 10
    assert f"theme macro-F1 {got['theme_macro_f1']:.3f}" in held.stdout
    # Labels from 3 letters are too few to say how far the figure could move on others.
    assert len({r["letter_id"] for r in unseen}) == 3
    assert "intervals" not in got and "95% intervals" not in held.stdout
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert (f"measured (held-out labels, other.jsonl): theme macro-F1 "
            f"{got['theme_macro_f1']:.3f}, stance macro-F1 {got['stance_macro_f1']:.3f}"
            in info.stdout), info.stdout
    # A copy of its training labels under another name (a blank line more), or a file
    # mixing some of them with others, is not held out either: flagged, not recorded.
    copy = tmp_path / "copy.jsonl"
    copy.write_text(mine.read_text() + "\n")
    some = labels("some.jsonl", rows[0::7][:2] + unseen[:1])
    for path, shared, total in ((copy, len(rows[0::7]), len(rows[0::7])), (some, 2, 3)):
        out = runner.invoke(app, ["evaluate", str(path), "--corpus", str(root)], env=env)
        assert out.exit_code == 0, out.output
        assert f"trained on {shared} of the {total} sentences" in out.stderr
        assert "recorded with" not in out.stderr
    assert quality()["held-out labels"]["gold"] == "other.jsonl"
    # ...unless the model is stale: the folds' models decide as this sendlens does, and an
    # older sendlens's model otherwise, so the figure is not recorded with it.
    import sqlite3

    def set_format(value: int) -> None:
        con = sqlite3.connect(root / "sendlens.db")
        meta = json.loads(con.execute("SELECT meta FROM models WHERE version = ?",
                                      (version,)).fetchone()[0])
        con.execute("UPDATE models SET meta = ? WHERE version = ?",
                    (json.dumps({**meta, "format": value}), version))
        con.commit()
        con.close()

    from textmine.model import MODEL_FORMAT

    set_format(1)
    cv = runner.invoke(app, ["evaluate", str(mine), "--cv", "--folds", "3", "--corpus",
                             str(root)], env=env)
    assert cv.exit_code == 0, cv.output
    assert f"not recorded: the current model {version} is stale" in cv.stderr
    assert "cross-validation" not in quality()
    set_format(MODEL_FORMAT)

    def edit_training(**changes: object) -> None:
        con = sqlite3.connect(root / "sendlens.db")
        meta = json.loads(con.execute("SELECT meta FROM models WHERE version = ?",
                                      (version,)).fetchone()[0])
        meta["training"].update(changes)
        con.execute("UPDATE models SET meta = ? WHERE version = ?", (json.dumps(meta), version))
        con.commit()
        con.close()

    # A model that also learnt from a correction saved in the app is not the one the
    # folds measured (they train on the file alone): not recorded, and said why.
    keys = json.loads(sqlite3.connect(root / "sendlens.db").execute(
        "SELECT meta FROM models WHERE version = ?", (version,)).fetchone()[0])[
        "training"]["label_texts"]
    edit_training(label_texts=[*keys, "0123456789abcdef:"])
    cv = runner.invoke(app, ["evaluate", str(mine), "--cv", "--folds", "3", "--corpus",
                             str(root)], env=env)
    assert cv.exit_code == 0, cv.output
    assert "was trained on more hand labels than mine.jsonl" in cv.stderr
    # ... and how to get a model whose figures can be recorded.
    assert f"sendlens train --labels {mine} --no-stored-labels" in " ".join(cv.stderr.split())
    assert "cross-validation" not in quality()
    edit_training(label_texts=keys)
    # Cross-validating the labels it was trained on measures this model too.
    cv = runner.invoke(app, ["evaluate", str(mine), "--cv", "--folds", "3", "--corpus",
                             str(root)], env=env)
    assert cv.exit_code == 0, cv.output
    assert quality()["cross-validation"]["folds"] == 3
    assert "evaluate: fold 3 of 3" in cv.stderr  # a minute or more on a real corpus: shown
    # The app reads the same figures from the database.
    from sendlens import appdata

    status = appdata.status(str(root), appdata.stamp(str(root)))
    table = appdata.model_quality(status.model)
    assert sorted(table["how"].str.split(":").str[0]) == ["cross-validation", "held-out labels"]
    # Gold sentences the corpus does not hold are read alone, and evaluate says so.
    stray = labels("stray.jsonl", [{**rows[0], "text": "Short breaks are too few."}, rows[1]])
    alone = runner.invoke(app, ["evaluate", str(stray), "--corpus", str(root)], env=env)
    assert alone.exit_code == 0, alone.output
    assert "1 of the 2 sentences was not found in this corpus" in alone.stderr
    # Named by its line of the file, so that it can be found and mended.
    assert f"\n  line 1, {rows[0]['letter_id']}: Short breaks are too few." in alone.stderr
    # Two sentences are a spot check, not the model's quality.
    assert "not recorded: 2 labelled sentences are too few" in alone.stderr
    # Nor do a dozen replace the figure measured on more.
    part = labels("part.jsonl", unseen[:12])
    out = runner.invoke(app, ["evaluate", str(part), "--corpus", str(root)], env=env)
    assert out.exit_code == 0, out.output
    assert (f"not recorded: model {version} already has a held-out labels figure from "
            f"other.jsonl ({len(unseen)} sentences") in out.stderr
    assert quality()["held-out labels"]["gold"] == "other.jsonl"
    # A model from before label hashes (its files named as typed): its own labels are
    # recognised by name, and nothing it is scored on is recorded as held out.
    con = sqlite3.connect(root / "sendlens.db")
    meta = json.loads(con.execute("SELECT meta FROM models WHERE version = ?",
                                  (version,)).fetchone()[0])
    meta["training"]["label_files"] = ["mine.jsonl"]
    del meta["training"]["label_sha256"]
    meta.pop("quality", None)
    con.execute("UPDATE models SET meta = ? WHERE version = ?", (json.dumps(meta), version))
    con.commit()
    con.close()
    (root / "models" / version / "meta.json").write_text(json.dumps(meta))
    old = runner.invoke(app, ["evaluate", str(mine), "--corpus", str(root)], env=env)
    assert "use --cv" in old.stderr and "recorded with" not in old.stderr
    old = runner.invoke(app, ["evaluate", str(other), "--corpus", str(root)], env=env)
    assert old.exit_code == 0 and "not recorded" in old.stderr and quality() == {}


def test_a_theme_added_after_the_labelling_is_not_scored_zero(tmp_path: Path) -> None:
    from test_model import synthetic_rows

    # A theme added after the labelling, which the model gives to many sentences.
    root = corpus_with_theme(tmp_path, "  - id: transport\n    name: Home to school transport\n"
                             "    definition: Travel.\n    patterns: [\"council|inspectors\"]\n")
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(
        json.dumps({"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
                    "stance": "neutral"}) + "\n" for r in synthetic_rows(3)[::5]))
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": ""}
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0
    result = runner.invoke(app, ["evaluate", str(gold), "--json", "--corpus", str(root)],
                           env=env)
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["unlabelled_predictions"]["transport"] > 0
    assert "transport" not in got["macro_over"]["themes"]
    scored = [got["themes"][t]["f1"] for t in got["macro_over"]["themes"]]
    assert got["theme_macro_f1"] == pytest.approx(sum(scored) / len(scored), abs=0.001)
    assert "transport (added to the codebook) is in none of the labels" in result.stderr
    # The figure stored with the model names the theme it leaves out, where it is shown.
    assert "recorded with model" in result.stderr
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert "(themes not in the labels, not measured: transport)" in info.stdout
    from sendlens import appdata

    status = appdata.status(str(root), appdata.stamp(str(root)))
    shown = appdata.model_quality(status.model)["how"]
    assert len(shown) == 1 and shown[0].endswith("not measured (not in the labels): transport")
    # The table says so too, rather than a row of zeros that reads as a failing theme.
    table = runner.invoke(app, ["evaluate", str(gold), "--corpus", str(root)], env=env)
    row = next(line for line in table.stdout.splitlines() if line.startswith("transport"))
    assert "(not in the labels)" in row and "0.000" not in row
    # ... and the headline says which themes its macro-F1 is taken over.
    assert "(macro over 8 of the 9 themes: not transport)" in table.stdout


def test_a_misspelt_label_key_is_an_error_naming_the_line(corpus: Path, tmp_path: Path) -> None:
    """'theme' for 'themes' read as "about no theme" at a hand label's weight: refused."""
    good = {"letter": "x.pdf", "text": "Short breaks are too few.", "themes": ["social_care"],
            "stance": "negative"}
    runner = CliRunner()
    for bad, message in (({"theme": ["social_care"]}, "unknown key 'theme'; did you mean "
                          "'themes'?"),
                         ({"Stance": "negative"}, "unknown key 'Stance'; did you mean "
                          "'stance'?"),
                         ({"themes": ["socal_care"]}, "unknown theme 'socal_care' (did you "
                          "mean 'social_care'?); the codebook's themes: co_production,"),
                         ({"themes": ["social_care"], "stance": "good"}, "unknown stance "
                          "'good'; choose positive, negative, mixed, neutral"),
                         ({}, 'no "themes"'),
                         ({"text": " ", "themes": []}, '"text" is empty'),
                         ({"themes": [["social_care"]]}, '"themes" must be a list of theme '
                          'ids (strings)'),
                         ({"themes": [], "letter": 123}, '"letter" must be a string (the '
                          "letter's PDF file name or letter id), not 123"),
                         # Read as "no theme" at a hand label's weight, as [] is.
                         ({"themes": None}, '"themes" must be a list of theme ids'),
                         # A typo, another tool's name: the label lost its stance or letter.
                         ({"themes": [], "stnace": "negative"}, "unknown key 'stnace'; did "
                          "you mean 'stance'?"),
                         ({"themes": [], "sentiment": "negative"}, "unknown key 'sentiment'; "
                          "did you mean 'stance'?"),
                         ({"themes": [], "lettr": "x.pdf"}, "unknown key 'lettr'; did you "
                          "mean 'letter'?"),
                         ({"themes": [], "Letter_ID": "x"}, "unknown key 'Letter_ID'; did "
                          "you mean 'letter_id'?"),
                         ({"themes": ""}, '"themes" must be a list of theme ids')):
        line = {k: v for k, v in good.items() if k not in ("themes", "stance")} | bad
        if "lettr" in bad:
            del line["letter"]
        if "Stance" in bad:
            line["themes"] = good["themes"]
        path = tmp_path / "labels.jsonl"
        path.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")
        result = runner.invoke(app, ["train", "--labels", str(path), "--corpus", str(corpus)])
        assert result.exit_code != 0
        assert f"{path}, line 2: {message}" in result.output
    # Fields of their own pass: a passages export's letter_id and passage_id (read), a
    # word that only looks like a key ("instance").
    for extra in ({"letter_id": "x", "passage_id": "x-0001"}, {"instance": "a"}):
        line = {k: v for k, v in good.items() if k != "letter"} | extra
        path = tmp_path / "labels.jsonl"
        path.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")
        result = runner.invoke(app, ["train", "--labels", str(path), "--corpus", str(corpus)])
        assert result.exit_code == 0, (extra, result.output)
    # JSON that Python reads but means something else: the last of two "themes" (no
    # theme, at a hand label's weight), a NaN.
    for raw, message in (('{"text": "Short breaks are too few.", "themes": ["social_care"], '
                          '"themes": []}', "the key 'themes' is given twice"),
                         ('{"text": "Short breaks are too few.", "themes": [], "score": NaN}',
                          "NaN is not JSON")):
        # Not labels.jsonl: the shared corpus's model was trained on it just above, and a
        # later test's retrain reads it again.
        path = tmp_path / "odd.jsonl"
        path.write_text(json.dumps(good) + "\n" + raw + "\n")
        result = runner.invoke(app, ["train", "--labels", str(path), "--corpus", str(corpus)])
        assert result.exit_code == 2, result.output
        assert f"{path}, line 2: {message}" in result.output
    # A missing file is named alike by every command that reads labels.
    for command in (["train", "--labels"], ["evaluate"]):
        result = runner.invoke(app, [*command, str(tmp_path / "nope.jsonl"), "--corpus",
                                     str(corpus)])
        assert result.exit_code == 2, command
        assert f"labels file {tmp_path / 'nope.jsonl'}: no such file" in result.stderr, command
        # Told before any work starts (a progress bar at "reading passages" came first).
        assert result.stderr.startswith("error: labels file"), (command, result.stderr)


def test_evaluate_scores_a_file_naming_a_removed_theme_and_records_no_spot_check(
        tmp_path: Path) -> None:
    """The file a model was trained on measures it after a theme is taken out of the
    codebook (a retrain drops the theme too); a handful of lines is not its quality."""
    import yaml
    from test_model import synthetic_rows

    from textmine.codebook import PACKAGED_CODEBOOK

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    rows = synthetic_rows(3)
    book = yaml.safe_load(PACKAGED_CODEBOOK.read_text())
    gone = "local_offer"
    book["themes"] = [t for t in book["themes"] if t["id"] != gone]
    (root / "codebook.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    labels = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]]}
              for r in rows[::5]]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in labels))
    named = sum(x["themes"] == [gone] for x in labels)
    assert named and len(labels) >= 20
    env = {"SENDLENS_CODEBOOK": ""}
    runner = CliRunner()
    # Trained on them, the file loses that theme, as a retrain and evaluate read it (it
    # was refused as an unknown theme).
    trained = runner.invoke(app, ["train", "--labels", str(path), "--corpus", str(root)],
                            env=env)
    assert trained.exit_code == 0, trained.output
    assert (f"note: {named} of the hand labels name a theme of an earlier codebook or of "
            "sendlens's labelling scheme that this codebook does not have "
            f"({gone}: removed or renamed?), left out of the training") in trained.stderr
    assert runner.invoke(app, ["train", "--corpus", str(root)], env=env).exit_code == 0
    result = runner.invoke(app, ["evaluate", str(path), "--corpus", str(root)], env=env)
    assert result.exit_code == 0, result.output
    assert (f"the labels name a theme the codebook no longer has: {gone} ({named} labels)"
            in result.stderr)
    assert gone not in result.stdout
    # No stance in these labels: said, not scored 0, and only the themes recorded.
    assert "stance: none of the labels gives one" in result.stdout
    assert "stance macro-F1" not in result.stdout  # not a 0 for nothing measured
    assert "recorded with model" in result.stderr
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert "stance macro-F1 not measured" in info.stdout
    # A typo is still an error, not a theme dropped.
    typo = tmp_path / "typo.jsonl"
    typo.write_text(json.dumps({**labels[0], "themes": ["helth_input"]}) + "\n")
    result = runner.invoke(app, ["evaluate", str(typo), "--corpus", str(root)], env=env)
    assert result.exit_code == 2 and "did you mean 'health_input'?" in result.output
    # ... named at its own line, not at an earlier one naming the removed theme (which
    # was said to be unknown, and is not).
    typo.write_text("".join(json.dumps({**x, "themes": t}) + "\n" for x, t in zip(
        labels, [[gone], [labels[1]["themes"][0]], ["helth_input"]])))
    result = runner.invoke(app, ["evaluate", str(typo), "--corpus", str(root)], env=env)
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"{typo}, line 3: unknown theme 'helth_input'" in said
    assert f"'{gone}'" not in said.split("the codebook's themes")[0]
    # A theme no codebook or model ever had, further from any id than a typo ("ehcp" for
    # ehc_plans): refused as train refuses it, not dropped with its sentences scored as
    # about no theme and that figure recorded.
    ehcp = tmp_path / "ehcp.jsonl"
    ehcp.write_text("".join(json.dumps({**x, "themes": ["ehcp"]}) + "\n" for x in labels))
    with sqlite3.connect(root / "sendlens.db") as con:
        before = con.execute("SELECT meta FROM models WHERE is_current = 1").fetchone()
    result = runner.invoke(app, ["evaluate", str(ehcp), "--corpus", str(root)], env=env)
    assert result.exit_code == 2, result.output
    assert f"{ehcp}, line 1: unknown theme 'ehcp'" in " ".join(result.output.split())
    # ... and so it is beside labels of the codebook's themes.
    ehcp.write_text("".join(json.dumps({**x, "themes": ["ehcp"] * (i == 1) or x["themes"]})
                            + "\n" for i, x in enumerate(labels)))
    result = runner.invoke(app, ["evaluate", str(ehcp), "--corpus", str(root)], env=env)
    assert result.exit_code == 2, result.output
    assert f"{ehcp}, line 2: unknown theme 'ehcp'" in " ".join(result.output.split())
    with sqlite3.connect(root / "sendlens.db") as con:
        assert con.execute("SELECT meta FROM models WHERE is_current = 1").fetchone() == before
    # Three sentences are a spot check: scored, not recorded as the model's quality.
    few = tmp_path / "few.jsonl"
    few.write_text("".join(json.dumps({**x, "stance": "neutral"}) + "\n"
                           for x in labels[:3]))
    result = runner.invoke(app, ["evaluate", str(few), "--corpus", str(root)], env=env)
    assert result.exit_code == 0, result.output
    assert "not recorded: 3 labelled sentences are too few" in result.stderr


def test_labels_from_a_pipe_are_refused_with_the_reason(tmp_path: Path) -> None:
    # `--labels <(...)` or /dev/stdin: the model recorded a pipe's path and an empty
    # file's hash, and a later retrain reported the labels gone.
    import subprocess

    corpus = tmp_path / "corpus"
    build_corpus(corpus, n_letters=2)
    run = subprocess.run([sys.executable, "-m", "sendlens.cli", "train", "--labels",
                          "/dev/stdin", "--corpus", str(corpus)], capture_output=True,
                         text=True, input='{"text": "Good.", "themes": []}\n', timeout=120)
    assert run.returncode == 2
    assert "labels file /dev/stdin: not a file on disk (a pipe?)" in run.stderr
    # `evaluate <(...)` read the pipe more than once and said "no labelled sentences".
    run = subprocess.run([sys.executable, "-m", "sendlens.cli", "evaluate", "/dev/stdin",
                          "--corpus", str(corpus)], capture_output=True,
                         text=True, input='{"text": "Good.", "themes": []}\n', timeout=120)
    assert run.returncode == 2
    assert "labels file /dev/stdin: not a file on disk (a pipe?)" in run.stderr


def test_a_model_the_database_refuses_leaves_no_folder_behind(tmp_path: Path) -> None:
    # The database could not take the new model's row (busy, full): its saved folder
    # stayed, named by no row, and nothing would ever remove it.
    import sqlite3

    corpus = tmp_path / "corpus"
    build_corpus(corpus, n_letters=2)
    con = sqlite3.connect(corpus / "sendlens.db")
    con.execute("CREATE TRIGGER refuse BEFORE INSERT ON models "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    con.commit()
    con.close()
    result = CliRunner().invoke(app, ["train", "-q", "--corpus", str(corpus)])
    assert result.exit_code != 0
    assert not (corpus / "models").exists() or not any((corpus / "models").iterdir())


def test_an_interrupted_train_asks_for_the_same_command_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It said "run `sendlens train` again", which trains without the --labels given.
    import textmine.tag as tag

    corpus = tmp_path / "corpus"
    build_corpus(corpus, n_letters=2)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tag, "train_model", interrupted)
    result = CliRunner().invoke(app, ["train", "-q", "--corpus", str(corpus)])
    assert result.exit_code == 130
    assert "run the same command (with the same options) again to finish" in result.stderr


def test_an_interrupted_evaluation_says_nothing_was_recorded(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not "nothing is half-written: run `sendlens evaluate` again to finish", as if
    # part of the cross-validation had been kept.
    import textmine.evaluate as evaluate

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "cross_validate_gold", interrupted)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "Short breaks are too few.", "themes": []}) + "\n")
    result = CliRunner().invoke(app, ["evaluate", str(gold), "--cv", "-q", "--corpus",
                                      str(corpus)])
    assert result.exit_code == 130
    assert ("interrupted: nothing was recorded and no file written; the figures need the "
            "whole run") in " ".join(result.stderr.split())


def test_a_label_holding_a_line_separator_character_is_one_line(tmp_path: Path) -> None:
    # U+2028 may stand in a JSON string as it is (classify reads it so); the labels
    # reader split the line there and refused the file as "not valid JSON".
    from textmine.tag import read_labels

    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "Plans\u2028are late.", "themes": ["ehc_plans"]}\r\n'
                    '{"text": "Good.", "themes": []}\r{"text": "Fine.", "themes": []}\n',
                    encoding="utf-8", newline="")
    got = read_labels(path)
    assert [r["text"] for r in got] == ["Plans\u2028are late.", "Good.", "Fine."]


def test_a_theme_given_but_not_offered_is_named(tmp_path: Path) -> None:
    # A typo in "themes_offered" ("helth_input") made the label judge none of its themes:
    # train and evaluate read it as saying nothing about them, without a word.
    from textmine.tag import LabelFileError, read_labels

    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "Good.", "themes": [], "themes_offered": ["ehc_plans"]}\n'
                    '{"text": "Plans are late.", "themes": ["ehc_plans", "health_input"], '
                    '"themes_offered": ["ehc_plans", "helth_input"]}\n')
    with pytest.raises(LabelFileError, match=r"labels.jsonl, line 2: theme 'health_input' is "
                       r"in \"themes\" but not in \"themes_offered\""):
        read_labels(path)


def test_a_lone_surrogate_in_a_label_is_named_not_a_traceback(tmp_path: Path) -> None:
    # "\ud800" (half of a UTF-16 pair, as a program splitting an emoji writes it) in a
    # label's "letter" stopped evaluate with a UnicodeEncodeError traceback.
    from textmine.tag import LabelFileError, read_labels

    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "Good.", "themes": []}\n'
                    '{"letter": "x\\ud800.pdf", "text": "Plans are late.", "themes": []}\n')
    with pytest.raises(LabelFileError, match=r"labels.jsonl, line 2: \"letter\" holds "
                       r"'\\ud800', half of a UTF-16 surrogate pair"):
        read_labels(path)


def test_a_labels_file_in_csv_is_named_for_what_it_is(tmp_path: Path) -> None:
    # "Expecting value at column 1" alone did not say that the file was of the wrong kind.
    from textmine.tag import LabelFileError, read_labels

    path = tmp_path / "gold.csv"
    path.write_text("text,themes,stance\nPlans are late.,ehc_plans,negative\n")
    with pytest.raises(LabelFileError) as caught:
        read_labels(path)
    said = str(caught.value)
    assert said.startswith(f"{path}, line 1: not valid JSON")
    assert "one JSON object a line" in said and "looks like a CSV or TSV file" in said
    path.write_text('{"text": "Plans are late.", "themes": ["ehc_plans"],}\n')
    with pytest.raises(LabelFileError) as caught:  # a JSON line gone wrong is not a CSV
        read_labels(path)
    assert "CSV" not in str(caught.value)
    # Nested past Python's limit: named, not a RecursionError traceback.
    path.write_text("[" * 100_000 + "\n")
    with pytest.raises(LabelFileError, match=r"line 1: not valid JSON \(nested too deeply\)"):
        read_labels(path)


def test_a_labels_file_given_twice_weighs_once(tmp_path: Path) -> None:
    # The same file twice doubled its labels' weight without a word.
    corpus = tmp_path / "corpus"
    build_corpus(corpus, n_letters=2)
    line = {"letter": "x.pdf", "text": "Short breaks are too few.", "themes": ["social_care"],
            "stance": "negative"}
    other = {**line, "text": "Families wait too long for therapy."}
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in (line, other)))
    again = tmp_path / ".." / tmp_path.name / "labels.jsonl"  # the same file, spelt otherwise
    result = CliRunner().invoke(app, ["train", "--labels", str(path), "--labels", str(again),
                                      "--corpus", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "warning: a labels file given more than once is read once" in result.stderr
    version = result.stdout.strip()
    meta = json.loads((corpus / "models" / version / "meta.json").read_text())
    assert meta["training"]["hand_labels"]["n"] == 2
    assert len(meta["training"]["label_files"]) == 1


def test_a_theme_repeated_in_a_label_is_not_a_second_way_of_labelling(tmp_path: Path) -> None:
    # ["ehc_plans", "ehc_plans"] beside ["ehc_plans"] was warned of as a sentence
    # "labelled in two ways" (naming lines that agree), and weighed twice.
    from test_model import synthetic_rows

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=2)
    row = synthetic_rows(2)[0]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(
        json.dumps({"letter": row["letter_id"], "text": row["text"], "themes": themes,
                    "stance": "negative"}) + "\n"
        for themes in ([row["theme"]], [row["theme"], row["theme"]])))
    result = CliRunner().invoke(app, ["train", "--labels", str(labels), "--corpus", str(root)],
                                env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 0, result.output
    assert "two ways" not in result.stderr
    assert "1 hand label given again word for word" in result.stderr


def test_train_warns_of_labels_naming_a_letter_the_corpus_lacks(corpus: Path,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"letter": "80999_nowhere.pdf", "text": "Short breaks are too "
                                "few.", "themes": ["social_care"]}) + "\n")
    result = CliRunner().invoke(app, ["train", "-q", "--labels", str(path), "--corpus",
                                      str(tmp_path / "c")])
    assert result.exit_code == 2  # no corpus there: nothing trained
    import shutil

    shutil.copytree(corpus, tmp_path / "c")
    result = CliRunner().invoke(app, ["train", "-q", "--labels", str(path), "--corpus",
                                      str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "the labels name 1 letter the corpus does not hold (80999_nowhere.pdf)" in \
        result.stderr
    assert "passage_id" not in result.stderr
    # A passage_id of another corpus: said, and the label looked up by its text.
    with sqlite3.connect(tmp_path / "c" / "sendlens.db") as con:
        pid, text = con.execute("SELECT passage_id, text FROM passages LIMIT 1").fetchone()
    con.close()
    # With letters of their own the corpus lacks, four of them: the first three named.
    path.write_text("".join(json.dumps({"passage_id": p, "text": t, "themes": []}) + "\n"
                            for p, t in ((pid, text), ("0123456789ab-0001", text),
                                         (pid, "Short breaks are too few."))) + "".join(
        json.dumps({"letter": f"8099{i}_nowhere.pdf", "text": "Short breaks are too few.",
                    "themes": ["social_care"]}) + "\n" for i in range(4)))
    result = CliRunner().invoke(app, ["train", "-q", "--labels", str(path), "--corpus",
                                      str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert ("warning: 2 labels name a passage_id that is no passage of this corpus with "
            "their text") in result.stderr
    assert ("the labels name 4 letters the corpus does not hold (80990_nowhere.pdf, "
            "80991_nowhere.pdf, 80992_nowhere.pdf and 1 more)") in " ".join(result.stderr.split())


def test_an_empty_labels_file_trains_nothing(corpus: Path, tmp_path: Path) -> None:
    # A model without hand labels must not quietly replace one trained on them.
    current = sorted(p.name for p in (corpus / "models").iterdir())
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    result = CliRunner().invoke(app, ["train", "-q", "--labels", str(path), "--corpus",
                                      str(corpus)])
    assert result.exit_code == 2, result.output
    assert f"{path}: no labelled sentences" in result.output and "nothing was trained" in \
        result.output
    assert sorted(p.name for p in (corpus / "models").iterdir()) == current


def test_a_labels_file_that_is_not_utf8_or_missing_is_named_not_a_traceback(
        corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    good = json.dumps({"text": "Short breaks are too few.", "themes": ["social_care"]})
    path.write_bytes(good.encode() + b'\n{"text": "Caf\xe9 drop-ins help.", "themes": []}\n')
    runner = CliRunner()
    for command in (["train", "--labels", str(path)], ["evaluate", str(path)]):
        result = runner.invoke(app, [*command, "--corpus", str(corpus)])
        assert result.exit_code == 2, result.output
        assert f"labels file {path}, line 2: not UTF-8 text (byte 0xe9)" in result.output
        assert "Traceback" not in result.output
    result = runner.invoke(app, ["train", "--labels", str(tmp_path / "nope.jsonl"),
                                 "--corpus", str(corpus)])
    assert result.exit_code == 2 and "nope.jsonl: no such file" in result.output
    # After a byte-order mark the line and byte named are still the right ones.
    path.write_bytes(b"\xef\xbb\xbf" + good.encode() + b'\n{"text": "Caf\xe9"}\n')
    result = runner.invoke(app, ["train", "--labels", str(path), "--corpus", str(corpus)])
    assert "line 2: not UTF-8 text (byte 0xe9)" in result.output
    # A byte-order mark, as Windows editors write, is not an error.
    path.write_bytes(b"\xef\xbb\xbf" + good.encode() + b"\n")
    assert runner.invoke(app, ["evaluate", str(path), "--corpus", str(corpus)]).exit_code == 0


def test_a_broken_codebook_is_not_blamed_on_the_model(corpus: Path, tmp_path: Path) -> None:
    bad = tmp_path / "codebook.yaml"
    bad.write_text("themes: [\n")
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": str(bad)}
    info = runner.invoke(app, ["info", "--corpus", str(corpus)], env=env)
    assert info.exit_code == 0
    assert f"Fix {bad} (or unset SENDLENS_CODEBOOK)" in info.output
    assert "retrains" not in info.output  # retraining cannot help: it needs the codebook
    export = runner.invoke(app, ["export", "passages", "-o", "-", "--corpus", str(corpus)],
                           env=env)
    assert f"Fix {bad}" in export.stderr and "Run `sendlens tag`" not in export.stderr
    # The corpus's own codebook broken, no variable set: the advice is about that file.
    own = corpus / "codebook.yaml"
    own.write_text("themes: [\n")
    try:
        info = runner.invoke(app, ["info", "--corpus", str(corpus)],
                             env={"SENDLENS_CODEBOOK": None})
    finally:
        own.unlink()
    assert f"Fix {own} (or remove it to use the shipped codebook)" in info.output
    assert "SENDLENS_CODEBOOK" not in info.output
    # A link to itself: the same advice, not a traceback from resolving it.
    own.symlink_to(own.name)
    try:
        info = runner.invoke(app, ["info", "--corpus", str(corpus)],
                             env={"SENDLENS_CODEBOOK": None})
    finally:
        own.unlink()
    assert info.exit_code == 0 and f"Fix {own}" in info.output, info.output


def test_ctrl_c_during_tag_says_so_and_keeps_the_tags(corpus: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import sqlite3

    from textmine.model import TaggerModel

    root = tmp_path / "copy"
    shutil.copytree(corpus, root)
    runner = CliRunner()
    assert runner.invoke(app, ["tag", "-q", "--corpus", str(root)]).exit_code == 0
    con = sqlite3.connect(root / "sendlens.db")
    before = con.execute("SELECT passage_id, themes, stance FROM tags ORDER BY 1").fetchall()
    con.execute("DELETE FROM tags WHERE rowid % 2 = 0")  # half of them to do again
    con.commit()
    kept = con.execute("SELECT passage_id FROM tags").fetchall()

    def interrupted(self: TaggerModel, items: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(TaggerModel, "predict_lists", interrupted)
    result = runner.invoke(app, ["tag", "-q", "--corpus", str(root)])
    assert result.exit_code == 130
    assert "interrupted: nothing is half-written" in result.stderr
    assert "sendlens tag` again" in result.stderr
    assert con.execute("SELECT passage_id FROM tags").fetchall() == kept
    monkeypatch.undo()
    assert runner.invoke(app, ["tag", "-q", "--corpus", str(root)]).exit_code == 0
    after = con.execute("SELECT passage_id, themes, stance FROM tags ORDER BY 1").fetchall()
    assert after == before


@pytest.mark.skipif(sys.platform == "win32", reason="the model lock needs flock")
def test_the_model_lock_excludes_other_threads_and_is_reentrant(tmp_path: Path) -> None:
    # The app serves each session on its own thread: two retrains must not overlap.
    import threading
    import time

    from sendlens.store import Corpus

    store = Corpus.open(tmp_path / "c")
    inside, most, waited = [0], [0], []
    started, contended = threading.Event(), threading.Event()

    def wait_said(name: str) -> None:
        waited.append(name)
        contended.set()

    def run(name: str) -> None:
        with store.model_lock(lambda: wait_said(name)), store.model_lock():
            started.set()
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            # The first holds the lock until the second has found it taken (a fixed
            # 0.3 s could end before a loaded machine ran the second thread at all).
            contended.wait(10) if name == "first" else time.sleep(0.05)
            inside[0] -= 1

    # Daemons: a lock that deadlocks its own thread fails the test, not hangs the run.
    first = threading.Thread(target=run, args=("first",), daemon=True)
    first.start()
    started.wait(5)
    second = threading.Thread(target=run, args=("second",), daemon=True)
    second.start()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive()
    assert most[0] == 1 and waited == ["second"]
    # Released for good: another taker gets it at once.
    with store.model_lock(lambda: waited.append("third")):
        pass
    assert waited == ["second"]


@pytest.mark.skipif(sys.platform == "win32", reason="the model lock needs flock")
def test_two_tag_runs_at_once_train_one_model_not_two(corpus: Path, tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess


    root = tmp_path / "copy"
    shutil.copytree(corpus, root)
    # An edited codebook makes the model stale: each run would train a new one.
    edited = tmp_path / "codebook.yaml"
    edited.write_text(edited_codebook("2"))
    env = {**os.environ, "SENDLENS_CODEBOOK": str(edited)}
    cmd = [sys.executable, "-m", "sendlens.cli", "tag", "-q", "--corpus", str(root)]
    runs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], errs
    # The second waits for the first, then finds its model current.
    assert sum("trained a new model first" in e for e in errs) == 1, errs


def test_a_quiet_tag_that_waits_for_another_run_says_so(corpus: Path, tmp_path: Path) -> None:
    import os
    import select
    import shutil
    import subprocess


    root = tmp_path / "copy"
    shutil.copytree(corpus, root)
    edited = tmp_path / "codebook.yaml"  # a stale model: the run must take the lock
    edited.write_text(edited_codebook("2"))
    env = {**os.environ, "SENDLENS_CODEBOOK": str(edited)}
    with Corpus.open(root).model_lock():  # another run training
        run = subprocess.Popen([sys.executable, "-m", "sendlens.cli", "tag", "-q", "--corpus",
                                str(root)], env=env, stderr=subprocess.PIPE, text=True)
        assert run.stderr is not None
        # Without a word it would wait for the lock for ever: give it a minute to speak.
        ready, _, _ = select.select([run.stderr], [], [], 60)
        first = run.stderr.readline() if ready else ""
        if not ready:
            run.kill()
        assert "waiting for another sendlens run on this corpus" in first, first
    rest = run.communicate(timeout=300)[1]
    assert run.returncode == 0, rest


def test_a_correction_is_the_passages_tag_within_the_codebooks_themes(tmp_path: Path) -> None:
    import sqlite3

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    con = sqlite3.connect(root / "sendlens.db")
    pid, text = con.execute("SELECT passage_id, text FROM passages LIMIT 1").fetchone()
    # Saved in the app, naming a theme since removed from the codebook.
    con.execute("INSERT INTO labels(passage_id, text, themes, stance, source, created_at)"
                " VALUES (?, ?, '[\"gone_theme\", \"local_offer\"]', 'mixed', 'app', '')",
                (pid, text))
    con.commit()
    tagged = CliRunner().invoke(app, ["tag", "--corpus", str(root)],
                                env={"SENDLENS_CODEBOOK": ""})
    assert tagged.exit_code == 0, tagged.output
    themes, stance = con.execute("SELECT themes, stance FROM tags WHERE passage_id = ?",
                                 (pid,)).fetchone()
    con.close()
    assert json.loads(themes) == ["local_offer"] and stance == "mixed"


def test_one_sentence_in_two_passages_keeps_each_passages_correction(tmp_path: Path) -> None:
    # The same words in two places (a stock phrase), each corrected its own way: were the
    # corrections read by their text, the newer would be both passages' tag.
    import sqlite3

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    con = sqlite3.connect(root / "sendlens.db")
    (first, text), (second, _) = con.execute(
        "SELECT passage_id, text FROM passages ORDER BY passage_id LIMIT 2").fetchall()
    con.execute("UPDATE passages SET text = ? WHERE passage_id = ?", (text, second))
    # The first passage corrected twice: its newer correction is the one in force.
    for pid, themes, stance in ((first, '["ehc_plans"]', "mixed"),
                                (first, '["local_offer"]', "positive"),
                                (second, '["social_care"]', "negative")):
        con.execute("INSERT INTO labels(passage_id, text, themes, stance, source, created_at)"
                    " VALUES (?, ?, ?, ?, 'app', '')", (pid, text, themes, stance))
    con.commit()
    tagged = CliRunner().invoke(app, ["tag", "--corpus", str(root)],
                                env={"SENDLENS_CODEBOOK": ""})
    assert tagged.exit_code == 0, tagged.output
    tags = {pid: (json.loads(themes), stance) for pid, themes, stance in con.execute(
        "SELECT passage_id, themes, stance FROM tags WHERE passage_id IN (?, ?)",
        (first, second))}
    con.close()
    assert tags == {first: (["local_offer"], "positive"), second: (["social_care"], "negative")}


def test_a_correction_to_no_theme_is_the_passages_tag(tmp_path: Path) -> None:
    # "None of the themes, neutral" is a correction too: it kept the model's tags.
    import sqlite3

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    runner, env = CliRunner(), {"SENDLENS_CODEBOOK": ""}
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0
    con = sqlite3.connect(root / "sendlens.db")
    pid, text = con.execute("SELECT passage_id, text FROM tags JOIN passages USING "
                            "(passage_id) WHERE themes != '[]' AND stance != 'neutral'"
                            " LIMIT 1").fetchone()
    con.execute("INSERT INTO labels(passage_id, text, themes, stance, source, created_at)"
                " VALUES (?, ?, '[]', 'neutral', 'app', '')", (pid, text))
    con.commit()
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0
    assert con.execute("SELECT themes, stance FROM tags WHERE passage_id = ?",
                       (pid,)).fetchone() == ("[]", "neutral")
    con.close()


def _tagged_passages(corpus: Path) -> list[dict]:
    result = CliRunner().invoke(app, ["tag", "--corpus", str(corpus)])
    assert result.exit_code == 0, result.output
    out = CliRunner().invoke(app, ["export", "passages", "-f", "csv", "-o", "-",
                                   "--corpus", str(corpus)])
    return list(csv.DictReader(io.StringIO(out.stdout)))


def test_a_bare_corpus_sentence_is_classified_in_its_letter_as_tag_did(corpus: Path) -> None:
    from sendlens.store import Corpus
    from textmine.features import Item
    from textmine.tag import current_model

    rows = _tagged_passages(corpus)
    # A sentence found in several letters has no one context without its "letter".
    counts = Counter(r["text"] for r in rows)
    rows = [r for r in rows if counts[r["text"]] == 1]
    _, model = current_model(Corpus.open(corpus))
    bare = model.predict([Item(text=r["text"]) for r in rows])
    # Sentences whose scores depend on their context: read alone they come out otherwise.
    differ = [r for r, b in zip(rows, bare, strict=True) if json.loads(r["scores"]) != b["scores"]]
    assert differ, "every sentence reads the same alone: the test would prove nothing"
    stdin = "".join(json.dumps({"id": r["passage_id"], "text": r["text"]}) + "\n"
                    for r in differ)
    code, lines, err = classify(corpus, stdin)
    assert code == 0, err
    out = [json.loads(line) for line in lines]
    assert [(o["themes"], o["stance"]) for o in out] == [
        (json.loads(r["themes"]), r["stance"]) for r in differ
    ]
    assert [o["scores"] for o in out] == [json.loads(r["scores"]) for r in differ]
    # A sentence given twice in one input, tagged or not yet, comes out the same twice.
    code, twice, err = classify(corpus, stdin * 2)
    assert code == 0, err
    assert twice == lines * 2
    # A letter the corpus does not hold is named once, and the sentences are still found.
    wrong = "".join(json.dumps({"id": r["passage_id"], "text": r["text"],
                                "letter": "nope.pdf"}) + "\n" for r in differ)
    code, found, err = classify(corpus, wrong)
    assert code == 0, err
    assert found == lines
    assert err.count("letter 'nope.pdf' is not in the corpus") == 1 and "stdin line 1" in err


def test_a_corpus_sentence_cut_differently_still_gets_its_context(corpus: Path) -> None:
    from sendlens.store import Corpus
    from textmine.tag import PassageMatcher, corpus_rows

    rows = corpus_rows(Corpus.open(corpus))
    matcher = PassageMatcher(rows)
    long = next(i for i, r in enumerate(rows) if len(r["text"].split()) >= 12)
    text = rows[long]["text"]
    assert matcher.find(text, None) == long
    # A heading glued on, or the first word lost at a page break: still found.
    assert matcher.find("Areas for improvement " + text, None) == long
    assert matcher.find(" ".join(text.split()[1:]), None) == long
    assert matcher.find("Inspectors visited a cafe run by young people on Tuesday.", None) is None


def test_a_corpus_sentence_given_twice_gets_its_own_answer_both_times(corpus: Path) -> None:
    # Each corpus passage is computed once a batch: its second line must get its own
    # answer, not that of the line computed between them.
    from sendlens.store import Corpus
    from textmine.tag import corpus_rows

    rows = corpus_rows(Corpus.open(corpus))
    texts = list(dict.fromkeys(r["text"] for r in rows[:60]))
    code, out, _ = classify(corpus, "".join(json.dumps({"id": 0, "text": t}) + "\n"
                                            for t in texts))
    alone = dict(zip(texts, map(json.loads, out), strict=True))
    answers = {json.dumps([a["themes"], a["stance"]]): t for t, a in alone.items()}
    assert len(answers) >= 2, "the corpus's first sentences are all tagged alike"
    a, b = list(answers.values())[:2]
    code, out, _ = classify(corpus, "".join(json.dumps({"id": i, "text": t}) + "\n"
                                            for i, t in enumerate([a, b, a, b, a])))
    assert code == 0
    got = [json.loads(line) for line in out]
    assert [g["id"] for g in got] == [0, 1, 2, 3, 4]
    for g, t in zip(got, [a, b, a, b, a], strict=True):
        assert (g["themes"], g["stance"], g["scores"]) == (
            alone[t]["themes"], alone[t]["stance"], alone[t]["scores"])


def test_a_similar_sentence_is_not_read_in_a_corpus_sentences_context(corpus: Path) -> None:
    # "Families find X helpful." is not "Families do not find X helpful.": borrowing the
    # criticism's neighbours and section would pull the praise towards negative.
    from sendlens.store import Corpus
    from textmine.tag import PassageMatcher, _norm, corpus_rows

    rows = corpus_rows(Corpus.open(corpus))
    matcher = PassageMatcher(rows)
    held = {_norm(r["text"]) for r in rows}
    i, r = next((i, r) for i, r in enumerate(rows) if " do not find " in r["text"]
                and _norm(r["text"].replace("do not find", "find")) not in held)
    praise = r["text"].replace("do not find", "find")
    assert matcher.find(praise, r["letter_id"]) == i  # close enough for a hand label
    assert matcher.find(praise, r["letter_id"], strict=True) is None
    assert matcher.find(praise, None, strict=True) is None
    # The same sentence as a hand-label file gives it, its heading glued on, or a word
    # hyphenated otherwise, is still found in the letter named.
    glued = "Areas for improvement Areas for improvement " + r["text"]
    assert matcher.find(glued, r["letter_id"], strict=True) == i
    # However long what is glued on: a table's header, under 40% of the line.
    header = "Areas for priority action Responsible body " * (len(r["text"]) // 20)
    assert matcher.find(header + r["text"], r["letter_id"], strict=True) == i
    # A line only ending with the words of a passage is not it: the other way round.
    assert matcher.find(r["text"] + " " + header, r["letter_id"], strict=True) is None
    hyphen = next(k for k, x in enumerate(rows) if "co-production" in x["text"])
    assert matcher.find(rows[hyphen]["text"].replace("co-production", "coproduction"),
                        rows[hyphen]["letter_id"], strict=True) == hyphen
    line = json.dumps({"id": 1, "text": praise, "letter": r["letter_id"]}) + "\n"
    code, out, err = classify(corpus, line)
    assert code == 0, err
    assert "the text is not in the letter named, so it was read from its words alone" in err
    alone = json.dumps({"id": 1, "text": praise}) + "\n"
    assert classify(corpus, alone)[1] == out


def test_cross_validation_needs_two_folds(corpus: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "Short breaks are too few.", "themes": []}) + "\n")
    result = CliRunner().invoke(app, ["evaluate", str(gold), "--cv", "--folds", "0",
                                      "--corpus", str(corpus)])
    assert result.exit_code == 2 and "--folds" in result.output  # not a traceback
    # Folds hold whole letters: more folds than letters is refused, not run short.
    result = CliRunner().invoke(app, ["evaluate", str(gold), "--cv", "--folds", "3",
                                      "--corpus", str(corpus)])
    assert result.exit_code == 2
    assert "3 folds, but the labels come from 1 letter: cross-validation by letter needs " \
        "labels from at least 2" in result.output


def test_cross_validation_with_more_folds_than_letters_is_refused(tmp_path: Path) -> None:
    # Labels from three letters: four folds cannot each hold a letter. Run short, it
    # trained three folds and reported the figures as "4-fold CV".
    from test_model import synthetic_rows

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"letter": r["letter_id"], "text": r["text"],
                                        "themes": [r["theme"]]}) + "\n"
                            for r in distinct(synthetic_rows(3))[::8]))
    for folds in (["--folds", "4"], []):  # the default is 5
        result = CliRunner().invoke(app, ["evaluate", str(gold), "--cv", *folds,
                                          "--corpus", str(root), "-q"],
                                    env={"SENDLENS_CODEBOOK": ""})
        assert result.exit_code == 2, result.output
        assert f"{folds[1] if folds else 5} folds, but the labels come from 3 letters; use " \
            "--folds 3 or fewer" in result.output


def test_evaluate_refuses_options_that_need_cv_or_model_card(corpus: Path,
                                                            tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "Short breaks are too few.", "themes": []}) + "\n")
    result = CliRunner().invoke(app, ["evaluate", str(gold), "-o", str(tmp_path / "out.md"),
                                      "--corpus", str(corpus)])
    assert result.exit_code == 2 and "needs --model-card" in result.output
    assert not (tmp_path / "out.md").exists()
    # --folds without --cv would print the model's own scores, easily taken for CV.
    result = CliRunner().invoke(app, ["evaluate", str(gold), "--folds", "3",
                                      "--corpus", str(corpus)])
    assert result.exit_code == 2 and "--folds is for cross-validation" in result.output
    # --no-labels beside --cv was dropped without a word: a CV with labels was run.
    for other in ("--cv", "--model-card"):
        result = CliRunner().invoke(app, ["evaluate", str(gold), "--no-labels", other,
                                          "--corpus", str(corpus)])
        assert result.exit_code == 2 and "give one of them" in result.output
    # The model card measures the default thresholds: tuned ones asked of it are refused,
    # not left out of a card that would then pass for their figures.
    card = tmp_path / "card.md"
    result = CliRunner().invoke(app, ["evaluate", str(gold), "--cv", "--model-card",
                                      "--tune-thresholds", "2", "-o", str(card), "--corpus",
                                      str(corpus)])
    assert result.exit_code == 2 and "--tune-thresholds" in result.output
    assert "it needs --cv" in result.output and not card.exists()
    # A mistyped folder for the card: said at once, before a minute of training, and no
    # folder made for it.
    missing = tmp_path / "docz" / "card.md"
    result = CliRunner().invoke(app, ["evaluate", str(gold), "--model-card", "-o",
                                      str(missing), "--corpus", str(corpus)])
    assert result.exit_code == 2 and f"there is no folder {missing.parent}" in result.output
    assert not missing.parent.exists()
    # Nor inside the corpus (its database would have been replaced by the card).
    result = CliRunner().invoke(app, ["evaluate", str(gold), "--model-card", "-o",
                                      str(Path(corpus) / "sendlens.db"), "--corpus",
                                      str(corpus)])
    assert result.exit_code == 2 and "is inside the corpus folder" in result.output


def test_a_passage_corrected_in_the_app_is_not_held_out(tmp_path: Path) -> None:
    """The app names a corrected passage's letter by id, a label file by PDF name: the
    same labelled sentence all the same."""
    from test_model import synthetic_rows

    from sendlens import appdata

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=2)
    row = synthetic_rows(2)[20]
    appdata.save_label(str(root), row["passage_id"], [row["theme"]], "negative")
    runner, env = CliRunner(), {"SENDLENS_CODEBOOK": ""}
    assert runner.invoke(app, ["train", "--corpus", str(root)], env=env).exit_code == 0
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"letter": f"{row['letter_id']}.pdf", "text": row["text"],
                                "themes": [row["theme"]], "stance": "negative"}) + "\n")
    out = runner.invoke(app, ["evaluate", str(gold), "--corpus", str(root)], env=env)
    assert out.exit_code == 0, out.output
    assert "trained on 1 of the 1 sentences" in out.stderr
    assert "recorded with" not in out.stderr


def test_a_correction_saved_before_a_theme_was_added_leaves_that_theme_to_the_model(
        tmp_path: Path) -> None:
    """A correction judges the themes its form offered. Taken as judging a theme added to
    the codebook later, it was a hand-weighted "not this theme", and its passage's tag
    never showed the new theme."""
    import sqlite3

    from test_model import synthetic_rows

    from sendlens import appdata
    from textmine import tag

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    rows = {r["passage_id"]: r for r in synthetic_rows(3)}
    before, after = "000000000000-0019", "000000000000-0022"  # both "Families value ..."
    appdata.save_label(str(root), before, [rows[before]["theme"]], "positive")
    extra = ("  - id: family_views\n    name: Families' views\n    definition: What "
             "families value.\n    patterns: [\"families value\"]\n")
    (root / "codebook.yaml").write_text(with_theme(extra))
    appdata.save_label(str(root), after, [rows[after]["theme"]], "positive")
    saved = {r["passage_id"]: r for r in tag.stored_labels(Corpus.open(root))}
    assert "family_views" not in saved[before]["offered"]
    assert "family_views" in saved[after]["offered"]

    runner, env = CliRunner(), {"SENDLENS_CODEBOOK": ""}
    result = runner.invoke(app, ["tag", "--corpus", str(root)], env=env)
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(root / "sendlens.db")
    tags = {pid: (json.loads(themes), json.loads(scores)["family_views"])
            for pid, themes, scores in con.execute(
                "SELECT passage_id, themes, scores FROM tags")}
    con.close()
    # The older correction keeps its theme and gains the new one from the model; the
    # newer one was offered the new theme and left it out, so its passage goes without.
    assert tags[before][0] == ["health_input", "family_views"]
    assert tags[after][0] == ["local_offer"]
    # Nor did training take the older one for a "not family_views": the same sentence in
    # another letter scores as the uncorrected ones do (0.67 against 0.92 when it did).
    # (The newer correction does say "not family_views": its twins score lower.)
    twins = [p for p, r in rows.items() if r["text"] == rows[before]["text"] and p != before]
    other_twins = [p for p, r in rows.items() if r["text"] == rows[after]["text"]]
    others = [tags[p][1] for p, r in rows.items() if r["text"].startswith("Families value")
              and p not in {before, *twins, *other_twins}]
    assert twins and other_twins and others
    assert min(tags[p][1] for p in twins) >= min(others) - 0.05
    assert max(tags[p][1] for p in other_twins) < min(others) - 0.1

    # Exported as a labels file, beside a correction that gives the new theme: the older
    # one still judges only the themes it was offered (read as judging every theme, it
    # was a hand-weighted "not family_views" when trained from the file).
    third = next(p for p, r in rows.items() if r["text"].startswith("Families value")
                 and p not in {before, after, *twins, *other_twins})
    appdata.save_label(str(root), third, [rows[third]["theme"], "family_views"], "positive")
    labels = tmp_path / "mine.jsonl"
    assert runner.invoke(app, ["export", "labels", "-o", str(labels), "--corpus", str(root)],
                         env=env).exit_code == 0
    codebook = load_codebook(corpus=root)
    found = tag.read_labels(labels, codebook)
    judged = dict(zip((r["passage_id"] for r in found),
                      tag.labels_not_judged(found, codebook), strict=True))
    assert judged == {before: {"family_views"}, after: set(), third: set()}


def test_info_counts_a_correction_saved_while_the_model_trained_as_waiting(
        tmp_path: Path) -> None:
    """The model is stamped when training ends, after it read the corrections: one saved
    meanwhile (the app's retrain runs in the background) is older than the model and
    still not in it."""
    import sqlite3

    from test_model import synthetic_rows

    from sendlens import appdata

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=2)
    rows = synthetic_rows(2)
    # Two, of two passages: the model read up to the newer (it said the older was in it,
    # the newer still waiting, when it kept the first id read).
    for row in (rows[20], rows[22]):
        appdata.save_label(str(root), row["passage_id"], [row["theme"]], "negative")
    runner, env = CliRunner(), {"SENDLENS_CODEBOOK": ""}
    assert runner.invoke(app, ["train", "--corpus", str(root)], env=env).exit_code == 0
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert "corrections saved in the app: 2 passages" in info.stdout
    assert "corrected since the current model" not in info.stdout
    con = sqlite3.connect(root / "sendlens.db")
    con.execute("INSERT INTO labels (passage_id, letter, text, themes, stance, source, "
                "created_at) VALUES (?, ?, ?, '[]', 'neutral', 'app', "
                "'2000-01-01T00:00:00+00:00')",
                (rows[21]["passage_id"], rows[21]["letter_id"], rows[21]["text"]))
    con.commit()
    con.close()
    info = runner.invoke(app, ["info", "--corpus", str(root)], env=env)
    assert "1 passage corrected since the current model was trained" in info.stdout


def test_info_asks_for_cross_validation_of_a_model_trained_on_the_labels(
        tmp_path: Path) -> None:
    # It said "`sendlens evaluate GOLD.jsonl` records it"; on the training labels that
    # records nothing and asks for --cv.
    from test_model import synthetic_rows

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    labels = tmp_path / "mine.jsonl"
    labels.write_text("".join(
        json.dumps({"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
                    "stance": "neutral"}) + "\n" for r in synthetic_rows(3)[::7]))
    runner = CliRunner()
    assert runner.invoke(app, ["train", "--corpus", str(root)]).exit_code == 0
    assert "`sendlens evaluate GOLD.jsonl` records it, on labels it was not trained on" in \
        runner.invoke(app, ["info", "--corpus", str(root)]).stdout
    assert runner.invoke(app, ["train", "--labels", str(labels), "--corpus",
                               str(root)]).exit_code == 0
    assert f"`sendlens evaluate {labels.resolve()} --cv` records it" in \
        runner.invoke(app, ["info", "--corpus", str(root)]).stdout


def test_evaluate_names_the_sentences_it_could_not_find(corpus: Path, tmp_path: Path) -> None:
    # "1 of the 332 sentences was not found" did not say which, nor so why.
    from test_model import synthetic_rows

    rows = synthetic_rows(6)[:3]
    gold = tmp_path / "gold.jsonl"
    lines = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
              "stance": "neutral"} for r in rows]
    lines.append({"letter": "elsewhere.pdf", "text": "A sentence of a letter never imported.",
                  "themes": [], "stance": "neutral"})
    gold.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = CliRunner().invoke(app, ["evaluate", str(gold), "--corpus", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "1 of the 4 sentences was not found" in result.stderr
    assert "elsewhere.pdf: A sentence of a letter never imported." in result.stderr


def test_evaluate_prints_the_same_figures_as_its_json(corpus: Path, tmp_path: Path) -> None:
    """The table a researcher reads and copies: each figure in its own column and line."""
    import re
    import shutil

    from test_model import synthetic_rows

    root = tmp_path / "corpus"
    shutil.copytree(corpus, root)  # the figures it records stay in the copy
    rows = synthetic_rows(6)[::3]
    ids = sorted({r["theme"] for r in rows})
    stances = {"context": "neutral", "strengths": "positive", "weaknesses": "negative"}
    # Every fourth sentence labelled with the next theme, every fifth as mixed: scores that
    # tell precision from recall, macro from micro, and the matrix's rows apart.
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({
        "letter": r["letter_id"], "text": r["text"],
        "themes": [r["theme"] if i % 4 else ids[(ids.index(r["theme"]) + 1) % len(ids)]],
        "stance": stances[r["section"]] if i % 5 else "mixed"}) + "\n"
        for i, r in enumerate(rows)))
    runner = CliRunner()
    got = json.loads(runner.invoke(app, ["evaluate", str(gold), "--json", "--corpus",
                                         str(root)]).stdout)
    result = runner.invoke(app, ["evaluate", str(gold), "--corpus", str(root)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"== model {got['setting'].split()[-1]}: {got['n']} sentences"
    assert any(m["precision"] != m["recall"] for m in got["themes"].values())
    assert len({tuple(row) for row in got["stance_confusion"]["matrix"]}) > 2

    def line(first: str) -> list[str]:
        return next(x for x in lines if x.split()[:1] == [first]).split()

    for theme, m in got["themes"].items():
        assert line(theme)[1:] == [f"{m[k]:.3f}" for k in ("precision", "recall", "f1")] + [
            str(m["support"])], theme

    def shown(name: str, key: str, text: str) -> None:
        # "name 0.530 (0.52-0.54)": the figure, and its interval rounded outwards.
        found = re.search(rf"{name} ([\d.]+) \(([\d.]+)-([\d.]+)\)", text)
        assert found, (name, text)
        figure, low, high = (float(g) for g in found.groups())
        lo, hi = got["intervals"][key]
        assert figure == round(got[key], 3) and low <= lo < low + 0.01 and high - 0.01 < hi <= high

    headline = next(x for x in lines if x.startswith("theme macro-F1"))
    assert got["theme_macro_f1"] != got["theme_micro_f1"]
    shown("theme macro-F1", "theme_macro_f1", headline)
    shown("micro-F1", "theme_micro_f1", headline)
    labels = got["stance_confusion"]["labels"]
    assert lines[lines.index(headline) + 1].endswith(": " + " ".join(labels))
    for stance, row in zip(labels, got["stance_confusion"]["matrix"], strict=True):
        assert line(stance)[1:] == [str(v) for v in row], stance
    stance_line = next(x for x in lines if x.startswith("stance macro-F1"))
    assert got["stance_macro_f1"] != got["stance_accuracy"]
    shown("stance macro-F1", "stance_macro_f1", stance_line)
    shown("accuracy", "stance_accuracy", stance_line)
    alone = got["without_context"]
    assert alone["theme_macro_f1"] != got["theme_macro_f1"]
    assert lines[-1].endswith(f"theme macro-F1 {alone['theme_macro_f1']:.3f}, stance macro-F1 "
                              f"{alone['stance_macro_f1']:.3f}")


def test_a_term_signal_ends_any_command_with_the_interrupted_exit_code(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export stopped by `kill` (or `timeout`) while it works: 130 as for Ctrl-C, not 1
    ("some files failed", Click's "Aborted!") nor death by the signal."""
    import os
    import signal

    from sendlens import cli
    from textmine import aggregate

    def killed(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the time this returns

    monkeypatch.setattr(aggregate, "theme_table", killed)
    monkeypatch.setattr(cli, "_interrupted", False)
    code = main_exit_code(monkeypatch, "export", "themes", "--corpus", str(corpus))
    assert code == cli.INTERRUPTED_EXIT == 130


def test_evaluate_reads_the_labels_before_retraining_a_stale_model(tmp_path: Path) -> None:
    """A mistyped or broken gold file is said at once: a stale model was retrained (and
    made current, the tags then of an older model) before the file was even opened."""
    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    assert CliRunner().invoke(app, ["train", "--corpus", str(root)]).exit_code == 0
    (root / "codebook.yaml").write_text(edited_codebook("99"))
    with Corpus.open(root).reading() as con:
        before = con.execute("SELECT COUNT(*) FROM models").fetchone()[0]
    broken = tmp_path / "bad.jsonl"
    broken.write_text(json.dumps({"text": "Plans are late.", "theme": ["ehc_plans"]}) + "\n")
    typo = tmp_path / "typo.jsonl"
    typo.write_text(json.dumps({"text": "Plans are late.", "themes": ["helth_input"]}) + "\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    for gold, said in ((tmp_path / "nothere.jsonl", "no such file"), (broken, "line 1"),
                       (typo, "did you mean 'health_input'"), (empty, "no labelled sentences")):
        result = CliRunner().invoke(app, ["evaluate", str(gold), "--corpus", str(root)])
        assert result.exit_code == 2 and said in result.output, result.output
        assert "training" not in result.output.lower()
    with Corpus.open(root).reading() as con:
        assert con.execute("SELECT COUNT(*) FROM models").fetchone()[0] == before


def test_a_model_card_of_other_labels_does_not_claim_the_projects_annotators(
    tmp_path: Path,
) -> None:
    """The card said "Annotators agreed at theme F1 0.79-0.90" and "28 letters" whatever
    gold file it was made from: a researcher's own labels got the project's figures."""
    root, mine, labels = labelled_corpus(tmp_path)
    card = tmp_path / "card.md"
    result = CliRunner().invoke(app, ["evaluate", str(mine), "--model-card", "--folds", "2",
                                      "-o", str(card), "-q", "--json", "--corpus", str(root)],
                                env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 0, result.output
    # Both settings' figures, as one JSON document (they were two, back to back).
    figures = json.loads(result.stdout)
    assert [f["setting"] for f in figures] == ["no hand labels", "hand labels, grouped CV"]
    assert all(f["n"] == len(labels) for f in figures)
    text = " ".join(card.read_text(encoding="utf-8").split())
    assert f"`mine.jsonl`: {len(labels)} hand-labelled sentences from 4 letters" in text
    assert "How far its annotators agreed is not known to sendlens" in text
    assert f"Figures come from {len(labels)} sentences of 4 letters" in text
    assert "0.79-0.90" not in text and "28 letters" not in text
    assert "revised after reading the model's errors on this gold file" not in text


def test_the_model_card_knows_the_projects_own_labels(gold_dir: Path) -> None:
    """What the card says of the project's annotators holds for dev.jsonl as it is: an
    edited file is another file, and the card stops saying it."""
    import hashlib

    from textmine.evaluate import PROJECT_GOLD_SHA256

    dev = gold_dir / "dev.jsonl"
    assert hashlib.sha256(dev.read_bytes()).hexdigest() == PROJECT_GOLD_SHA256


def test_train_refuses_before_training_when_no_model_can_be_saved(
    real_pdfs: list[Path], not_root: tuple[list[str], Path]
) -> None:
    """A database the user may write beside a models folder they may not: training ran
    to the end (half a minute on a real corpus) and only then failed to save."""
    import shutil
    import subprocess

    as_user, base = not_root
    root = base / "corpus"
    assert CliRunner().invoke(app, ["import", *map(str, real_pdfs[:2]), "--corpus",
                                    str(root), "-q"]).exit_code == 0
    (root / "models").mkdir(exist_ok=True)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    (root / "models").chmod(0o555)
    try:
        run = subprocess.run([*as_user, sys.executable, "-m", "sendlens.cli", "train",
                              "--corpus", str(root), "-q"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stderr
        assert (f"{root / 'models'}: a model cannot be saved there (Permission denied), so "
                "none was trained") in run.stderr
        assert "weak labels" not in run.stderr + run.stdout  # it did not start training
    finally:
        (root / "models").chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


def test_train_without_the_label_files_of_the_model_it_replaces_says_so(
        tmp_path: Path) -> None:
    """A plain `sendlens train` after `train --labels` dropped the researcher's labels with
    only "0 hand labels" to show for it."""
    root, _ = corpus_with_labels(tmp_path)
    mine = tmp_path / "mine.jsonl"
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": ""}
    first = runner.invoke(app, ["train", "--labels", str(mine), "--corpus", str(root)], env=env)
    assert first.exit_code == 0, first.output
    assert "note: the model this replaces" not in first.stderr
    plain = runner.invoke(app, ["train", "--corpus", str(root)], env=env)
    assert plain.exit_code == 0, plain.output
    assert (f"note: the model this replaces also learnt from {mine}; this one was trained "
            f"without it (give --labels {mine} to keep it)") in plain.stderr
    # Given again, nothing to say.
    again = runner.invoke(app, ["train", "--labels", str(mine), "--corpus", str(root)], env=env)
    assert again.exit_code == 0 and "note: the model this replaces" not in again.stderr


def test_labels_of_a_theme_renamed_some_trainings_ago_still_train(tmp_path: Path) -> None:
    """A researcher's own theme renamed: its old id was accepted in a labels file only
    while the stale model that knew it was current; after one retrain it was refused."""
    from test_model import synthetic_rows

    entry = ("  - id: transport\n    name: Home to school transport\n"
             "    definition: Travel.\n    patterns: [\"council|inspectors\"]\n")
    root = corpus_with_theme(tmp_path, entry)
    runner = CliRunner()
    env = {"SENDLENS_CODEBOOK": ""}
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0
    rows = synthetic_rows(3)[::5]
    labels = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]]}
              for r in rows]
    labels[0]["themes"] = ["transport"]
    old = tmp_path / "old.jsonl"
    old.write_text("".join(json.dumps(x) + "\n" for x in labels))
    # The id renamed, and the corpus retrained (`tag`) before the labels are used.
    (root / "codebook.yaml").write_text(with_theme(entry.replace("id: transport",
                                                                 "id: school_transport")))
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0
    trained = runner.invoke(app, ["train", "--labels", str(old), "--corpus", str(root)],
                            env=env)
    assert trained.exit_code == 0, trained.output
    assert "1 of the hand labels names a theme of an earlier codebook" in trained.stderr
    assert "(transport: removed or renamed?)" in trained.stderr
    # A file naming both the old id and the new one is half edited: refused, saying
    # which line (its old-id lines would teach that the theme is not about them).
    labels[1]["themes"] = ["school_transport"]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(x) + "\n" for x in labels))
    for command in (["train", "--labels"], ["evaluate"]):
        refused = runner.invoke(app, [*command, str(mixed), "--corpus", str(root)], env=env)
        assert refused.exit_code == 2, (command, refused.output)
        assert (f"{mixed}, line 1: theme 'transport' is not in the codebook, and the file "
                "also names 'school_transport', which looks like its new name") in refused.stderr
    # Renamed to an id much like the old one ("transports"): still the old theme, not a
    # typo, to evaluate as to train (evaluate refused it, "did you mean 'transports'?").
    (root / "codebook.yaml").write_text(with_theme(entry.replace("id: transport",
                                                                 "id: transports")))
    assert runner.invoke(app, ["tag", "--corpus", str(root)], env=env).exit_code == 0
    for command in (["train", "--labels"], ["evaluate"]):
        done = runner.invoke(app, [*command, str(old), "--corpus", str(root)], env=env)
        assert done.exit_code == 0, (command, done.output)
        assert "did you mean" not in done.output


def test_a_renamed_theme_beside_its_new_name_is_refused_at_its_own_line(tmp_path: Path) -> None:
    # The line number counts the blank lines before it, as an editor numbers lines.
    from textmine.tag import LabelFileError, read_labels

    path = tmp_path / "labels.jsonl"
    path.write_text("\n" + json.dumps({"text": "Plans are late.", "themes": ["ehc_plans"]})
                    + "\n\n\n" + json.dumps({"text": "Plans are on time.", "themes": ["ehc_plan"]})
                    + "\n")
    with pytest.raises(LabelFileError, match=r"labels\.jsonl, line 5: theme 'ehc_plan' is not"):
        read_labels(path, load_codebook(), removed={"ehc_plan"})


def test_a_context_field_is_read_as_the_sentence_before(corpus: Path) -> None:
    sentence = "This has improved since the last inspection."
    before = "Waiting times for speech and language therapy were too long."
    lines = [{"id": 1, "text": sentence, "context": before},
             {"id": 1, "text": sentence, "prev_text": before},
             {"id": 1, "text": sentence}]
    code, out, err = classify(corpus, "".join(json.dumps(x) + "\n" for x in lines))
    assert code == 0, err
    with_context, with_prev, alone = out
    assert with_context == with_prev
    assert json.loads(with_context)["scores"] != json.loads(alone)["scores"]


def test_a_corpus_sentence_is_answered_by_the_current_model_not_an_older_models_tag(
    corpus: Path,
) -> None:
    row = _tagged_passages(corpus)[0]
    line = json.dumps({"id": 1, "text": row["text"], "passage_id": row["passage_id"]}) + "\n"
    code, fresh, err = classify(corpus, line)
    assert code == 0, err
    answer = json.loads(fresh[0])
    other_themes = "[]" if answer["themes"] else '["ehc_plans"]'
    other_stance = "negative" if answer["stance"] == "positive" else "positive"
    db = sqlite3.connect(corpus / "sendlens.db")
    try:
        # The passage's tag as an earlier model left it (a `train` since, no `tag`).
        with db:
            kept = db.execute("SELECT themes, stance, model_version FROM tags WHERE "
                              "passage_id = ?", (row["passage_id"],)).fetchone()
            db.execute("UPDATE tags SET themes = ?, stance = ?, model_version ="
                       " 'an-earlier-model' WHERE passage_id = ?",
                       (other_themes, other_stance, row["passage_id"]))
        code, out, err = classify(corpus, line)
        assert code == 0, err
        assert out == fresh
    finally:
        with db:
            db.execute("UPDATE tags SET themes = ?, stance = ?, model_version = ? WHERE "
                       "passage_id = ?", (*kept, row["passage_id"]))
        db.close()


def test_a_corpus_sentence_cut_differently_is_read_in_its_context_not_given_its_tag(
    corpus: Path,
) -> None:
    from sendlens.store import Corpus
    from textmine.features import items_from_rows
    from textmine.tag import corpus_rows

    tagged = {r["passage_id"]: r for r in _tagged_passages(corpus)}
    rows = corpus_rows(Corpus.open(corpus))
    items = items_from_rows(rows)
    i = next(i for i, r in enumerate(rows) if len(r["text"].split()) >= 8 and sum(
        (o["letter_id"], o["text"]) == (r["letter_id"], r["text"]) for o in rows) == 1)
    # Its letter's heading glued on, as hand-labelled files have it.
    glued = "An invented table heading " + rows[i]["text"]
    letter = rows[i]["letter_id"]
    given = {"section": items[i].section, "heading": items[i].heading,
             "prev_text": items[i].prev_text, "next_text": items[i].next_text}
    stdin = (json.dumps({"id": 1, "text": glued, "letter": letter}) + "\n"
             + json.dumps({"id": 1, "text": glued, "letter": letter, **given}) + "\n")
    code, (looked_up, in_context), err = classify(corpus, stdin)
    assert code == 0, err
    assert looked_up == in_context  # read in the passage's context...
    stored = json.loads(tagged[rows[i]["passage_id"]]["scores"])
    assert json.loads(looked_up)["scores"] != stored  # ...but its own words scored


def test_the_apps_retrain_learns_the_corrections_after_a_train_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `train --no-stored-labels`, then Retrain on the Label page: the button is there to
    # learn the corrections, whatever the model before it was trained on.
    import sqlite3

    from textmine.tag import current_meta, retrain

    monkeypatch.setenv("SENDLENS_CODEBOOK", "")
    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    con = sqlite3.connect(root / "sendlens.db")
    pid, text = con.execute("SELECT passage_id, text FROM passages LIMIT 1").fetchone()
    con.execute("INSERT INTO labels(passage_id, text, themes, stance, source, created_at)"
                " VALUES (?, ?, '[\"local_offer\"]', 'mixed', 'app', '')", (pid, text))
    con.commit()
    con.close()
    trained = CliRunner().invoke(app, ["train", "--no-stored-labels", "-q",
                                       "--corpus", str(root)])
    assert trained.exit_code == 0, trained.output
    report = retrain(Corpus.open(root))
    _, meta = current_meta(Corpus.open(root))
    assert meta["training"]["hand_labels"]["n"] == 1
    assert not any("without the corrections" in note for note in report.trained)


def test_the_apps_retrain_keeps_the_hand_label_files_the_model_learnt_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's "retrain" button trains on the corrections saved in the app: it must not
    # drop the label files the model was trained on with `train --labels`.
    from textmine.tag import current_meta, retrain

    monkeypatch.setenv("SENDLENS_CODEBOOK", "")
    root, labels = corpus_with_labels(tmp_path)
    mine = tmp_path / "mine.jsonl"
    trained = CliRunner().invoke(app, ["train", "--labels", str(mine), "--corpus", str(root)])
    assert trained.exit_code == 0, trained.output
    report = retrain(Corpus.open(root))
    assert f"with the hand labels it was trained on: {mine}" in report.trained
    version, meta = current_meta(Corpus.open(root))
    assert version == report.version
    assert meta["training"]["label_files"] == [str(mine)]
    assert meta["training"]["hand_labels"]["n"] == len(labels)
