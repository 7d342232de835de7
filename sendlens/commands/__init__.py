"""Command groups of the `sendlens` CLI; each module defines `register(app)`."""

from __future__ import annotations

import os
from pathlib import Path

import typer

DEFAULT_CORPUS = Path("corpus")

CorpusOption = typer.Option(
    None,
    "--corpus",
    envvar="SENDLENS_CORPUS",
    help="Corpus folder (default ./corpus, or $SENDLENS_CORPUS).",
    show_default=False,
)


def corpus_path(value: Path | None) -> Path:
    """The corpus folder chosen by --corpus, $SENDLENS_CORPUS or the default."""
    if value is not None:
        return value
    env = os.environ.get("SENDLENS_CORPUS")
    return Path(env) if env else DEFAULT_CORPUS
