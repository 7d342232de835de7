"""Command groups of the `sendlens` CLI; each module defines `register(app)`."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from sendlens.store import Corpus, CorpusError

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


def open_corpus(value: Path | None, *, create: bool = False) -> Corpus:
    """The chosen corpus, or a clear error and exit code 2 (e.g. no corpus there yet)."""
    try:
        return Corpus.open(corpus_path(value), create=create)
    except CorpusError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
