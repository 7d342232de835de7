"""The command line's help: every command listed, flags shown as flags."""

from __future__ import annotations

import os
import re

import pytest
from typer.testing import CliRunner

from sendlens.cli import app

COMMANDS = ["scrape", "import", "supersede", "export", "info", "themes", "train", "tag",
            "classify", "evaluate", "app"]


def test_every_command_is_listed_and_its_flags_take_no_value() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    assert all(re.search(rf"^\s+{c}\s", top.output, re.M) for c in COMMANDS), top.output
    for command in COMMANDS:
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        # "--json <bool>" read as "--json true", which is refused: a flag is shown bare.
        assert "<bool>" not in result.output, (command, result.output)
        # Nor Python's types for a repeatable option: "--labels <list[Path]>".
        options = [ln for ln in result.output.splitlines() if ln.lstrip().startswith("-")]
        assert not any("<list[" in ln for ln in options), (command, result.output)
        # Nor Click's type names for a bounded number ("--folds <int range>").
        assert not any(" range>" in ln for ln in options), (command, result.output)
        assert re.search(r"^\s+--help\s+Show this message", result.output, re.M), command


def test_the_readme_lists_every_option_of_every_command_and_no_other() -> None:
    """The README's table of commands is what a researcher reads first: an option added
    to a command (or dropped from one) must show there too."""
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in
            re.finditer(r"(?m)^\| `sendlens (\w+)[^`]*`.*$", readme)}
    runner = CliRunner()
    for command in COMMANDS:
        assert command in rows, f"README has no row for `sendlens {command}`"
        # The synopsis, or the description for options of a part (`export themes --by`).
        shown = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", rows[command]))
        help_text = runner.invoke(app, [command, "--help"]).output
        offered = re.findall(r"(?m)^\s+(?:(-\w), )?(--[a-z][\w-]*)", help_text)
        for short, long in offered:
            if long in ("--help", "--corpus"):  # every command's, documented once above
                continue
            assert long in shown or short in shown, (command, long, rows[command][:200])
        known = {o for pair in offered for o in pair if o}
        # Not counting another command's options named with it ("`import --reparse`").
        others = "|".join(c for c in COMMANDS if c != command)
        own = re.sub(rf"`(?:sendlens )?(?:{others}) [^`]*`", "", rows[command])
        mentioned = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", own))
        assert mentioned <= known | {"--corpus"}, (command, mentioned - known)
    # `sendlens --help` lists them as the README does, in the order of the work (it
    # listed them by the module that registers them: app, import, export, info, ...).
    listed = re.findall(r"(?m)^  (\w+)  ", runner.invoke(app, ["--help"]).output)
    assert listed == list(rows), (listed, list(rows))


def test_scrape_is_polite_by_default_and_its_help_says_how() -> None:
    # One second between requests unless told otherwise: a run left to its defaults must
    # not hammer the Ofsted site.
    help_text = " ".join(CliRunner().invoke(app, ["scrape", "--help"]).output.split())
    assert re.search(r"--delay SECONDS Seconds between requests; .*? \[default: 1\.0; "
                     r"0\.0<=x<=86400\.0\]", help_text), help_text
    assert "[default: 60.0; 1.0<=x<=86400.0]" in help_text


def test_the_changelog_names_the_versions_a_corpus_records() -> None:
    """A user keeping a corpus reads there which schema, parser and model versions this
    sendlens writes: a bump without a line there leaves them guessing."""
    from pathlib import Path

    from scraper.parse import PARSER_VERSION
    from sendlens.store import SCHEMA_VERSION
    from textmine.model import MODEL_FORMAT

    text = " ".join((Path(__file__).parent.parent / "CHANGELOG.md").read_text(
        encoding="utf-8").split())
    assert f"**Corpus schema** (`meta.schema_version`, now {SCHEMA_VERSION})" in text
    assert f" {SCHEMA_VERSION}: " in text  # what that schema added
    assert f"**Parser version** (`letters.parser_version`, now {PARSER_VERSION})" in text
    assert f"**Model format** (now {MODEL_FORMAT})" in text


# Sends this process a real SIGINT as it first imports the module {module!r}, when
# {stop} is true: pandas as the command line loads (about a quarter of a second in,
# before `sendlens.cli.main` has installed its handlers), or a module a command imports.
_CTRL_C_AT_IMPORT = """
import importlib.abc, os, signal, sys

# Ctrl-C as in a terminal: a job a script starts in the background (`cmd &`) inherits
# SIGINT ignored, and Python then installs no handler: the signal would do nothing.
signal.signal(signal.SIGINT, signal.default_int_handler)

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

if {stop}:
    sys.meta_path.insert(0, CtrlC())
"""


def test_ctrl_c_while_the_command_line_loads_ends_quietly(tmp_path) -> None:
    import subprocess
    import sys

    def run(module: str) -> subprocess.CompletedProcess[str]:
        code = (_CTRL_C_AT_IMPORT.format(module="pandas", stop=True)
                + f"sys.argv = ['sendlens', 'info', '--corpus', {str(tmp_path)!r}]\n"
                f"from {module} import main\nmain()\n")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)

    stopped = run("sendlens.launch")  # what the `sendlens` script and `python -m sendlens` run
    assert (stopped.returncode, stopped.stderr) == (130, "")
    # The interrupt did arrive while loading: without the launcher it is a traceback.
    bare = run("sendlens.cli")
    assert "KeyboardInterrupt" in bare.stderr and "Traceback" in bare.stderr


def test_a_term_signal_while_the_command_line_loads_ends_with_130(tmp_path) -> None:
    """A TERM (`kill`, a job scheduler) in the half second the command line loads killed
    the program outright (exit -15, a shell's 143), where the README promises 130."""
    import subprocess
    import sys

    code = (_CTRL_C_AT_IMPORT.format(module="pandas", stop=True)
            .replace("os.kill(os.getpid(), signal.SIGINT)", "os.kill(os.getpid(), signal.SIGTERM)")
            + f"sys.argv = ['sendlens', 'info', '--corpus', {str(tmp_path)!r}]\n"
            "from sendlens.launch import main\nmain()\n")
    stopped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
    assert (stopped.returncode, stopped.stderr) == (130, "")


def test_a_reader_that_stops_reading_early_is_no_failure() -> None:
    """`sendlens themes | head -1` exited 1, the code of "some files failed"."""
    import subprocess
    import sys

    run = subprocess.Popen([sys.executable, "-m", "sendlens", "themes", "--patterns"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert run.stdout is not None and run.stderr is not None
    run.stdout.close()  # gone before the first line is written: every write fails
    assert run.wait(timeout=120) == 0
    assert run.stderr.read() == b""
    run.stderr.close()


def test_the_console_script_and_python_m_sendlens_run_the_launcher() -> None:
    import subprocess
    import sys
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "sendlens"]
    assert script.value == "sendlens.launch:main"
    shown = subprocess.run([sys.executable, "-m", "sendlens", "--version"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and shown.stdout.startswith("sendlens ")


@pytest.mark.parametrize(("first", "sig"), [
    ("none", "SIGINT"), ("none", "SIGTERM"), ("none, its own exit code", "SIGINT"),
    ("stopped the command", "SIGINT")])
def test_a_ctrl_c_while_python_exits_keeps_the_runs_own_end(
        tmp_path, first: str, sig: str) -> None:
    """A Ctrl-C may land while Python winds down (its threads, its buffers), where it
    printed "Exception ignored" and a traceback. After a run that ended by itself it must
    not change the exit code (a script read 130 for a complete `tag`); after a first
    Ctrl-C that stopped the command, it ends Python at once. An exit hook stands in for
    that moment, with a real signal."""
    import subprocess
    import sys

    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"text": "Plans are late.", "themes": ["ehc_plans"]}\n')
    argv = {"none": ["sendlens", "themes", "--corpus", str(tmp_path)],
            # scrape and import end with `typer.Exit(code)`, not by returning
            "none, its own exit code": ["sendlens", "import", str(tmp_path / "no.pdf"),
                                        "--corpus", str(tmp_path / "c")],
            "stopped the command": ["sendlens", "evaluate", str(gold), "--corpus",
                                    str(tmp_path / "c")]}[first]
    # `evaluate` imports the evaluation code once cli.main's handlers are in place.
    code = (_CTRL_C_AT_IMPORT.format(module="textmine.evaluate",
                                     stop=first == "stopped the command")
            + "import atexit, time\n"
            f"atexit.register(lambda: (os.kill(os.getpid(), signal.{sig}), time.sleep(1)))\n"
            f"sys.argv = {argv!r}\n"
            "from sendlens.launch import main\nmain()\n")
    ended = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert "Traceback" not in ended.stderr and "Exception ignored" not in ended.stderr
    if first == "none":
        assert ended.stdout and ended.returncode == 0, ended.stderr
    elif first.startswith("none"):
        assert ended.returncode == 2 and "no such file" in ended.stderr, ended.stderr
    else:
        assert ended.returncode == -2, (ended.returncode, ended.stderr)  # the signal's end


def test_the_command_line_called_in_process_leaves_the_callers_signal_handlers(
    monkeypatch,
) -> None:
    """A script (or test) calling sendlens.cli.main goes on with its own Ctrl-C handling:
    only the `sendlens` program itself gives up its handlers as it ends."""
    import signal
    import sys

    import pytest

    from sendlens import cli

    def mine(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = {s: signal.signal(s, mine) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        monkeypatch.setattr(sys, "argv", ["sendlens", "--version"])
        with pytest.raises(SystemExit):
            cli.main()
        assert signal.getsignal(signal.SIGINT) is mine
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_a_ctrl_c_as_a_command_ends_does_not_turn_its_success_into_exit_130(
    monkeypatch, tmp_path
) -> None:
    """`tag` printed "tagged 6,749 passages" and exited 130 when Ctrl-C came just then:
    a script took a complete run for a failed one."""
    import os
    import signal
    import sys

    import pytest

    from sendlens import cli

    finished = cli._finished

    def finished_then_ctrl_c() -> None:
        finished()
        os.kill(os.getpid(), signal.SIGINT)  # handled before the next line runs

    monkeypatch.setattr(cli, "_finished", finished_then_ctrl_c)
    monkeypatch.setattr(sys, "argv", ["sendlens", "themes", "--corpus", str(tmp_path)])
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code in (0, None)
    # Before the work ended, an interrupt still stops the run with 130.
    monkeypatch.setattr(cli, "_finished", finished)

    def interrupted(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.main()


def test_a_ctrl_c_in_a_command_without_its_own_summary_says_so(
        monkeypatch, tmp_path, capsys) -> None:
    """`export` and `info` ended on Ctrl-C with exit code 130 and not a word."""
    import os
    import signal
    import sys

    import pytest

    from sendlens import cli
    from sendlens.commands import info

    def ctrl_c(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(info, "open_corpus", ctrl_c)
    monkeypatch.setattr(sys, "argv", ["sendlens", "info", "--corpus", str(tmp_path)])
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code == 130
    assert "interrupted: stopped before the end" in capsys.readouterr().err


@pytest.mark.parametrize("code, hint", [
    ("ENOSPC", "free some space and run the command again"),
    ("EDQUOT", "free some space and run the command again"),
    ("EACCES", "check the permissions and the disk"),
])
def test_a_disk_failure_mid_command_is_one_line_naming_the_file_and_the_remedy(
        monkeypatch, tmp_path, capsys, code, hint) -> None:
    import errno
    import sys

    from sendlens import cli
    from sendlens.commands import info

    db = tmp_path / "sendlens.db"

    def failing(*args: object, **kwargs: object) -> None:
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)), str(db))

    monkeypatch.setattr(info, "open_corpus", failing)
    monkeypatch.setattr(sys, "argv", ["sendlens", "info", "--corpus", str(tmp_path)])
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err == (f"error: {db}: {os.strerror(getattr(errno, code))}; {hint} (what was "
                   "done before is kept)\n")


def test_a_command_that_reports_its_own_interrupt_is_not_reported_twice(
        monkeypatch, tmp_path, capsys) -> None:
    """`tag` says "interrupted: nothing is half-written ..." and ends with exit 130: the
    generic line for commands that say nothing must not follow it."""
    import os
    import signal
    import sys

    import pytest

    from sendlens import cli
    from textmine import tag

    def ctrl_c(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    from sendlens.store import Corpus

    monkeypatch.setattr(tag, "tag_corpus", ctrl_c)
    Corpus.open(tmp_path)  # an empty corpus: the command starts its work
    monkeypatch.setattr(sys, "argv", ["sendlens", "tag", "--corpus", str(tmp_path)])
    with pytest.raises(SystemExit) as ended:
        cli.main()
    err = capsys.readouterr().err
    assert ended.value.code == 130 and "interrupted" in err, err
    assert "stopped before the end" not in err


def test_a_ctrl_c_that_lands_in_a_clean_up_still_stops_the_run(monkeypatch) -> None:
    """A Ctrl-C that came while the garbage collector closed a PDF page was swallowed
    there (Python cannot raise from a finalizer): the import ran on to its end, exit 0."""
    import signal
    import sys
    import time

    import pytest

    from sendlens import cli

    reached_the_end = []

    class Page:
        def __del__(self) -> None:
            cli._interrupt(signal.SIGINT, None)  # as the signal would, here

    def work(*args: object, **kwargs: object) -> None:
        page = Page()
        del page  # finalized now: the interrupt is raised inside __del__
        for _ in range(5000):  # the rest of the run, line by line (5 s, if not stopped)
            time.sleep(0.001)
        reached_the_end.append(True)

    monkeypatch.setattr(cli, "app", work)
    monkeypatch.setattr(sys, "argv", ["sendlens", "import"])
    with pytest.raises(KeyboardInterrupt):
        cli.main()
    assert not reached_the_end
    assert sys.unraisablehook is not cli._unraisable  # put back as it was


def test_a_ctrl_c_still_ends_a_wait_for_a_thread_left_running_at_exit(tmp_path) -> None:
    """Python waits at exit for threads that are not daemons (a retrain the app started as
    it stopped): a Ctrl-C then must end the wait, though the command ended by itself."""
    import subprocess
    import sys
    import time

    code = ("import os, signal, sys, threading, time\n"
            "threading.Thread(target=time.sleep, args=(60,)).start()  # not a daemon\n"
            "def ctrl_c():\n"
            "    time.sleep(0.5)\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            f"sys.argv = ['sendlens', 'themes', '--corpus', {str(tmp_path)!r}]\n"
            "from sendlens.launch import main\n"
            "try:\n"
            "    main()\n"
            "finally:  # once the launcher has set its handlers for the way out\n"
            "    threading.Thread(target=ctrl_c, daemon=True).start()\n")
    started = time.monotonic()
    ended = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert ended.returncode == -2 and time.monotonic() - started < 30, ended.stderr
