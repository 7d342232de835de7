"""The `sendlens` command line: a thin layer of options over the library.

Each group of commands lives in `sendlens/commands/<name>.py` with a
`register(app)` function; they are discovered here so that the scraper, the
tagger and the app can each own their commands.
"""

from __future__ import annotations

import errno
import importlib
import pkgutil
import signal
import sqlite3
import sys
import threading

import click
import typer
from typer.core import TyperGroup

from sendlens import __version__, commands
from sendlens.launch import INTERRUPTED_EXIT
from sendlens.store import DB_NAME, CorpusError, database_problem

# The order of the work, as the README's table lists them (registered by module, the
# help listed app, import, export, info, scrape, ...).
COMMAND_ORDER = ("scrape", "import", "supersede", "info", "themes", "train", "tag",
                 "classify", "evaluate", "export", "app")


class _InOrder(TyperGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(super().list_commands(ctx), key=lambda n: (
            COMMAND_ORDER.index(n) if n in COMMAND_ORDER else len(COMMAND_ORDER), n))


app = typer.Typer(
    cls=_InOrder,
    name="sendlens",
    help="Research toolkit for Ofsted/CQC local area SEND inspection letters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's own help layout: Typer's rich one gives every flag a "<bool>" value it does
    # not take (with Click 8.2+). Click re-wraps each paragraph of a docstring too.
    rich_markup_mode=None,
    # Looked up when called (tests wrap it).
    result_callback=lambda *args, **kwargs: _finished(),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sendlens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Scrape, import, tag and compare area SEND inspection letters."""


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


_interrupted = False
_done = False  # the command returned: its work is done and its summary printed


def _finished() -> None:
    global _done
    _done = True


def _interrupt(signum: int, frame: object) -> None:
    global _interrupted
    if _done:
        # Pressed as the run ended: a complete run must not exit 130, a failure to a
        # script (`tag` had printed "tagged 6,749 passages").
        return
    _interrupted = True
    raise KeyboardInterrupt


_previous_hook = sys.unraisablehook  # what other unraisable errors go to during a run


def _unraisable(args: sys.UnraisableHookArgs) -> None:
    if isinstance(args.exc_value, KeyboardInterrupt) and _interrupted and not _done:
        # The interrupt came while the garbage collector ran a clean-up (a PDF library's
        # finalizer), which cannot pass it on: the run went on to its end, exit 0, with
        # a traceback. Delivered again from outside the clean-up (raised here, it would be
        # handled here), it stops the run at the next line of its own: a moment later, so
        # that it does not land while this hook is still starting the thread.
        later = threading.Timer(0.05, signal.raise_signal, args=(signal.SIGINT,))
        later.daemon = True
        later.start()
        return
    _previous_hook(args)


def main() -> None:
    # A TERM signal (`kill`, `timeout`, a job scheduler) stops a run as Ctrl-C does: at a
    # safe point, with its summary, and no partial download left behind.
    global _done, _interrupted, _previous_hook
    _done = _interrupted = False
    before = {s: signal.signal(s, _interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    _previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
    try:
        _run()
    finally:
        # As they were (a script or test calling this goes on with its own handlers); the
        # `sendlens` program then ends at once on another Ctrl-C (sendlens.launch).
        for sig, handler in before.items():
            signal.signal(sig, handler)
        sys.unraisablehook = _previous_hook


def _from_interrupt(exc: BaseException) -> bool:
    """Whether an exit was made of an uncaught KeyboardInterrupt (not a command's own
    exit after an interrupt it handled and reported)."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        # `raise Exit(130) from None` (a command that reported its own interrupt) hides
        # the interrupt it handled.
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
        if isinstance(seen, KeyboardInterrupt):
            return True
    return False


def _run() -> None:
    # Failures of the disk or the database in the middle of a command: one line that
    # names the file, not a traceback (what was committed before is kept).
    try:
        app()
    except SystemExit as exc:
        # A command that does not catch the interrupt (export, info...) ends with exit 130
        # and not a word (Typer), or "Aborted!" and exit 1, the code of "some files
        # failed" (Click): say what happened, with 130 as a shell does. (Their files are
        # written whole or not at all.)
        if _interrupted and _from_interrupt(exc):
            typer.echo("interrupted: stopped before the end; nothing was left half-written",
                       err=True)
            sys.exit(INTERRUPTED_EXIT)
        # A command that ends with its own code (scrape, import: `typer.Exit`) is done
        # too, though the result callback is not called for it.
        _finished()
        if exc.code == 1 and type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
            # Click's answer to a reader that went away (`sendlens info | head -1`), told
            # by the wrapper it puts round stdout (Typer has its own copy of Click). The
            # reader had what it wanted: 0, as `export` and `classify` end then, not 1
            # ("some files failed").
            sys.exit(0)
        raise
    except CorpusError as exc:  # found after the corpus opened (one read-only, say)
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except sqlite3.DatabaseError as exc:
        db = (commands.chosen or commands.corpus_path(None)) / DB_NAME
        typer.secho(f"error: {database_problem(exc, db)}", fg="red", err=True)
        sys.exit(2)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EIO, errno.EDQUOT):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        hint = ("free some space and run the command again" if exc.errno in
                (errno.ENOSPC, errno.EDQUOT) else "check the permissions and the disk")
        typer.secho(f"error: {where}{exc.strerror or exc}; {hint} (what was done before "
                    "is kept)", fg="red", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
