"""`sendlens app`: open the Streamlit app on a corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from sendlens.commands import CorpusOption, corpus_path


def app_script() -> Path:
    """The script to hand to `streamlit run`: the repository's app.py shim when running
    from a checkout, else the installed package's own module (always present)."""
    package = Path(__file__).resolve().parent.parent
    shim = package.parent / "app.py"
    if shim.is_file() and "sendlens.app_main" in shim.read_text(encoding="utf-8"):
        return shim
    return package / "app_main.py"  # runs main() when executed as a script


def app_cmd(
    corpus: Path | None = CorpusOption,
    port: int = typer.Option(8501, "--port", "-p", help="Port to serve the app on."),
    host: str = typer.Option("localhost", "--host", help="Address to listen on."),
    headless: bool = typer.Option(
        False, "--headless", help="Do not open a browser window (servers, tests)."
    ),
) -> None:
    """Open the app in the browser: compare areas and themes, read the evidence, label."""
    root = corpus_path(corpus).resolve()
    if not (root / "sendlens.db").is_file():
        # Not an error: the app shows a start page explaining how to fill the corpus.
        typer.echo(f"note: no corpus at {root} yet; the app will show how to create one",
                   err=True)
    env = {**os.environ, "SENDLENS_CORPUS": str(root)}
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app_script()),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        # Uploads are not offered: keep the server's own limit small all the same.
        "--server.maxUploadSize", "1",
    ]
    typer.echo(f"sendlens app on http://{host}:{port} (corpus {root}); Ctrl-C to stop",
               err=True)
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("app")(app_cmd)
