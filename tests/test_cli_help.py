"""The command line's help: every command listed, flags shown as flags."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from sendlens.cli import app

COMMANDS = ["scrape", "import", "export", "info", "themes", "train", "tag", "classify",
            "evaluate", "app"]


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
        assert re.search(r"^\s+--help\s+Show this message", result.output, re.M), command
