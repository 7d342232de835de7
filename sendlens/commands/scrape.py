"""`sendlens scrape`: find, fetch and import every published SEND letter."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from datetime import date
from pathlib import Path

import typer

from sendlens.commands import (
    CorpusOption,
    corpus_path,
    iso_date,
    not_there_yet,
    remove_if_empty,
)
from sendlens.store import DB_NAME


def scrape_cmd(
    base_url: str | None = typer.Option(
        None, "--base-url", metavar="URL",
        help="Read the search and provider pages from another host (a mirror, or a local "
        "copy for testing) instead of the Ofsted reports site. The GOV.UK page of the "
        "earliest letters is read only when scraping the real site.",
    ),
    since: date | None = typer.Option(
        None, "--since", parser=iso_date, metavar="DATE",
        help="Only letters published on or after DATE (YYYY-MM-DD).",
    ),
    area: list[str] = typer.Option(
        [], "--area", help="Only these councils (name or Ofsted URN); repeat for more.",
        metavar="AREA",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be fetched."),
    delay: float = typer.Option(
        1.0, "--delay", min=0.0, max=86400.0, metavar="SECONDS",
        help="Seconds between requests; a longer Crawl-delay in robots.txt wins.",
    ),
    timeout: float = typer.Option(
        60.0, "--timeout", min=1.0, max=86400.0, metavar="SECONDS",
        help="Give up on a response after this many seconds without data (then retried).",
    ),
    labels_config: Path | None = typer.Option(
        None, "--labels-config", envvar="SENDLENS_LABELS_CONFIG", metavar="FILE",
        help="TOML/YAML file extending the rule that picks SEND report labels.",
    ),
    retry_skipped: bool = typer.Option(
        False, "--retry-skipped",
        help="Download again the letters earlier runs could not import (after an upgrade).",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q",
        help="No progress bars, and no line for each retry (the summary counts them).",
    ),
    corpus: Path | None = CorpusOption,
) -> None:
    """Scrape the Ofsted reports site (and GOV.UK) for SEND letters and import them.

    Polite (one request at a time, a delay between requests, robots.txt obeyed)
    and incremental: files already held are not downloaded again. The site is
    https://reports.ofsted.gov.uk unless --base-url says otherwise. Exit code 1
    when some letters failed or could not be imported, a letter is linked to an
    address sendlens does not follow, a report's label mentions SEND but is not in
    the rule (it may be a letter missed), an --area matched no council or the run
    stopped; 2 when refused before any request (a bad option,
    a read-only corpus, another scrape of it running) or stopped because it could
    not write (a full disk: what was imported is kept); 130 when interrupted
    (Ctrl-C or a TERM signal).
    """
    from scraper import site
    from scraper.scrape import scrape
    from sendlens.store import Corpus, CorpusError

    path = corpus_path(corpus)
    made = not_there_yet(path)
    try:
        with contextlib.ExitStack() as stack:
            if dry_run and not (path / DB_NAME).exists():
                # Nothing is held yet, so all would be new: a dry run leaves no corpus.
                path = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            summary = scrape(
                Corpus.open(path),
                # An empty --base-url is refused, not read as the real site.
                base_url=site.DEFAULT_BASE_URL if base_url is None else base_url,
                since=since,
                areas=area or None,
                dry_run=dry_run,
                delay=delay,
                timeout=(10.0, timeout),
                progress=not quiet,
                labels_config=labels_config,
                retry_skipped=retry_skipped,
                log=None if quiet else _note,
            )
    except (ValueError, CorpusError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        # Refused before any request (a bad option or config): the error is the news.
        _tidy(path, made, dry_run, say=False)
        raise typer.Exit(2) from exc
    typer.echo(summary.render(), err=True)
    _tidy(path, made, dry_run)
    raise typer.Exit(summary.exit_code)


def _note(message: str) -> None:
    """A retry or a wait, printed above the progress bars (not through them)."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def _tidy(path: Path, made: tuple[bool, bool], dry_run: bool, *, say: bool = True) -> None:
    # A first scrape that fetched nothing (offline, a mistyped --base-url) leaves no
    # empty corpus behind for `info` and the app to report as 0 letters.
    if made[1] and not dry_run and remove_if_empty(path, made_folder=made[0]) and say:
        typer.echo(f"no letter was imported, so no corpus was left at {path}", err=True)


def register(app: typer.Typer) -> None:
    app.command("scrape")(scrape_cmd)
