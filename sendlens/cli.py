"""The `sendlens` command line: a thin layer of options over the library.

Each group of commands lives in `sendlens/commands/<name>.py` with a
`register(app)` function; they are discovered here so that the scraper, the
tagger and the app can each own their commands.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from sendlens import __version__, commands

app = typer.Typer(
    name="sendlens",
    help="Research toolkit for Ofsted/CQC local area SEND inspection letters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's own help layout: Typer's rich one gives every flag a "<bool>" value it does
    # not take (with Click 8.2+). Click re-wraps each paragraph of a docstring too.
    rich_markup_mode=None,
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
