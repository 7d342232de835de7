"""`sendlens import`: PDFs (files, folders, with a manifest) into the corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from sendlens.commands import (
    CorpusOption,
    corpus_path,
    non_empty_path,
    not_there_yet,
    open_corpus,
    remove_if_empty,
)
from sendlens.importer import (
    import_paths,
    missing_why,
    reparse_letters,
    restore_letter,
    shown_path,
    supersede_letter,
)
from sendlens.store import Corpus


def import_cmd(
    paths: list[Path] | None = typer.Argument(
        None, help="PDF files and/or folders (searched recursively).", metavar="PATH",
        show_default=False,
        # An unreadable file is skipped with its reason like one found in a folder; Click
        # would refuse the whole command for it.
        readable=False, parser=non_empty_path("a PDF file or folder"),
    ),
    reparse: bool = typer.Option(
        False, "--reparse",
        help="Also read again, from the PDFs the corpus keeps, the letters an older version "
        "of sendlens read (`sendlens info` says when there are any).",
    ),
    replace: bool = typer.Option(
        False, "--replace",
        help="A file that is another copy of the report on an inspection the corpus holds "
        "(a corrected report published again) replaces the held letter's text instead of "
        "being left out, unless the held one was published later (by the manifest's or "
        "the letters' dates); corrections made in the app follow their sentence.",
    ),
    corpus: Path | None = CorpusOption,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Import inspection PDFs into the corpus (skips files already there).

    A manifest.csv beside the PDFs (columns file, ofsted_urn, file_date or published, url,
    sha256; path and urn are older names of file and ofsted_urn) adds what the letters do
    not say themselves; a row it cannot use is reported (file and line) and the PDF still
    imported. Exit code 1 when any file was skipped, a folder given holds no PDF or a
    letter could not be read again, 2 when no path given exists or the run stopped early
    (a full disk, a corpus it cannot write: the summary says which), 130 when
    interrupted.
    """
    paths = paths or []
    if reparse and not paths:
        store = open_corpus(corpus)
        store.check_writable()
        _reparse(store, quiet)
        return
    if not paths:
        typer.secho("error: give PDF files or folders to import (or --reparse)", fg="red",
                    err=True)
        raise typer.Exit(2)
    if all(missing_why(p) for p in paths):
        # Checked before the corpus is made: a typo should not leave an empty corpus behind.
        whys = [str(missing_why(p)).replace("no such file", "no such file or folder")
                for p in paths]
        typer.secho("error: " + "; ".join(f"{shown_path(p)}: {why}"
                                          for p, why in zip(paths, whys, strict=True)),
                    fg="red", err=True)
        raise typer.Exit(2)
    path = corpus_path(corpus)
    made = not_there_yet(path)
    store = open_corpus(corpus, create=True)
    store.check_writable()  # before any file is read, not at the first letter's write
    report = import_paths(store, paths, progress=not quiet,
                          replace="not-older" if replace else "never")
    typer.echo(report.summary(), err=True)
    # Only unreadable or non-letter files: no empty corpus for `info` or `tag` to find.
    removed = made[1] and remove_if_empty(path, made_folder=made[0])
    if removed:
        typer.echo(f"nothing was imported, so no corpus was left at {path}", err=True)
    if report.interrupted:
        raise typer.Exit(130)
    if report.stopped:
        raise typer.Exit(2)
    if reparse and not removed:  # a corpus just made holds nothing older to read again
        _reparse(store, quiet, alone=False)
    if report.skipped:
        raise typer.Exit(1)


def _reparse(store: Corpus, quiet: bool, *, alone: bool = True) -> None:
    report = reparse_letters(store, progress=not quiet)
    if report.letters or report.failed or alone:  # after an import, only news
        typer.echo(report.summary(), err=True)
    if report.interrupted:
        raise typer.Exit(130)
    if report.failed:
        raise typer.Exit(1)


def supersede_cmd(
    letter: str = typer.Argument(..., help="The letter to take out (its id), or with --undo "
                                 "to put back.", metavar="LETTER_ID"),
    by: str | None = typer.Option(None, "--by", help="The letter of the same report to keep "
                                  "(its id).", metavar="LETTER_ID"),
    undo: bool = typer.Option(False, "--undo", help="Put back a letter taken out before, "
                              "read again from its file in the corpus."),
    corpus: Path | None = CorpusOption,
) -> None:
    """Take a letter out as an earlier publication of another letter's report.

    For one report held twice, corrected and published again under other dates (`scrape`
    and `info` name such pairs): every table counted it as two letters. The letter's
    passages and tags go; its file is remembered, so neither `import` nor `scrape` brings
    it back. `--undo` puts it back as it was (its corrections too), as a letter of its
    own. Exit code 2 when either letter is not in the corpus or the two are not of one
    area and framework (nothing is changed then); 0, saying so, when it was already done.
    """
    if undo == (by is not None):
        typer.secho("error: give --by LETTER_ID (the letter to keep) or --undo (to put "
                    f"{letter} back)", fg="red", err=True)
        raise typer.Exit(2)
    store = open_corpus(corpus)
    store.check_writable()
    try:
        said = restore_letter(store, letter) if by is None else supersede_letter(
            store, letter, by)
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(said, err=True)


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
    app.command("supersede")(supersede_cmd)
