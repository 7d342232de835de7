"""Command groups of the `sendlens` CLI; each module defines `register(app)`."""

from __future__ import annotations

import contextlib
import difflib
import os
import sqlite3
from collections.abc import Callable
from datetime import date
from enum import Enum
from pathlib import Path
from typing import TypeVar

import typer

from sendlens.store import DB_NAME, LOCK_NAME, SCRAPE_LOCK_NAME, Corpus, CorpusError

DEFAULT_CORPUS = Path("corpus")
E = TypeVar("E", bound=Enum)


def non_empty_path(what: str) -> Callable[[str], Path]:
    """A parser for a path option or argument that refuses an empty one: `"$CORPUS"` or
    `"$LETTERS"` with the variable unset was read as "." (the working folder made a
    corpus, or everything under it imported). `what` names what to give instead."""

    def parse(value: str) -> Path:
        if not value:
            raise typer.BadParameter(f"an empty path (an unset shell variable?); give {what}, "
                                     "or . for the working folder")
        return Path(value)

    return parse


CorpusOption = typer.Option(
    None,
    "--corpus",
    envvar="SENDLENS_CORPUS",
    help="Corpus folder (default ./corpus, or $SENDLENS_CORPUS).",
    show_default=False,
    parser=non_empty_path("the corpus folder"),
)


# The corpus this run chose, so that an error raised after it opened can name it.
chosen: Path | None = None


def iso_date(text: str) -> date:
    """A date option's value (`--since`, `--from`, `--to`), or a message naming the format."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. "
                                 "2024-05-15") from None


def one_of(kind: type[E]) -> Callable[[str], E]:
    """A parser for an option or argument taking one of an enum's values: any case, and a
    typo gets a suggestion ("'regions' is not one of ... (did you mean 'region'?)")."""
    def parse(text: str) -> E:
        try:
            return kind(text.strip().lower())
        except ValueError:
            names = [str(m.value) for m in kind]  # type: ignore[attr-defined]
            near = difflib.get_close_matches(text.strip().lower(), names, n=1)
            raise typer.BadParameter(
                f"{text!r} is not one of {', '.join(names)}"
                + (f" (did you mean {near[0]!r}?)" if near else "")) from None
    return parse


def corpus_path(value: Path | None) -> Path:
    """The corpus folder chosen by --corpus, $SENDLENS_CORPUS or the default."""
    global chosen
    env = os.environ.get("SENDLENS_CORPUS")
    chosen = value if value is not None else Path(env) if env else DEFAULT_CORPUS
    # A quoted "~/corpus" (or one in a .env file) reaches us unexpanded: a folder named
    # "~" in the working folder is what nobody means, and a hazard to remove.
    chosen = chosen.expanduser()
    return chosen


def not_there_yet(path: Path) -> tuple[bool, bool]:
    """(the folder, the corpus in it) not there before this run: what a run that imports
    nothing takes away again (`remove_if_empty`)."""
    try:
        return not path.exists(), not (path / DB_NAME).exists()
    except OSError:  # a name too long: Corpus.open, which comes next, names the fault
        return False, False


def open_corpus(value: Path | None, *, create: bool = False) -> Corpus:
    """The chosen corpus, or a clear error and exit code 2 (e.g. no corpus there yet)."""
    try:
        return Corpus.open(corpus_path(value), create=create)
    except CorpusError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def remove_if_empty(path: Path, *, made_folder: bool) -> bool:
    """Remove the corpus this run created at `path` if it holds nothing at all (no letter,
    no fetch); True when removed. Only the files sendlens makes are touched."""
    if not (path / DB_NAME).is_file():
        return False
    try:
        if any(Corpus(path).counts().values()):
            return False
    except sqlite3.Error:
        return False
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", LOCK_NAME, SCRAPE_LOCK_NAME):
        (path / name).unlink(missing_ok=True)
    for sub in ("tmp", "pdfs", "models", ""):
        if sub or made_folder:
            with contextlib.suppress(OSError):  # not empty: someone else's files stay
                (path / sub).rmdir()
    return True
