"""`sendlens app`: open the Streamlit app on a corpus.

Streamlit is started in this process (its own CLI, called in-process) rather than as a
`streamlit run` subprocess, so that the heavy modules the pages need (pandas, altair,
the aggregation code) can be imported, and every page's first view computed into the
app's caches, before the server starts: Streamlit runs the page script in the server's
process, so the first visitor no longer waits for them.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from sendlens.commands import CorpusOption, corpus_path, open_corpus
from sendlens.store import not_a_folder

# Imported before the server starts; each is what some page imports on its first run.
WARM_MODULES: tuple[str, ...] = (
    "pandas",
    "pyarrow",  # Streamlit serialises every table and chart's data with it
    "altair",
    "sendlens.appdata",
    "sendlens.app_main",
    "sendlens.export",
    "textmine.aggregate",
    "textmine.codebook",
)

# Options for a local, read-mostly research app; also in .streamlit/config.toml for
# `streamlit run app.py`. Flags win over any config file a user may have.
SERVER_OPTIONS: dict[str, str] = {
    "browser.gatherUsageStats": "false",
    "server.showEmailPrompt": "false",
    # Nobody edits the app while it serves: watching every imported module costs CPU.
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "client.toolbarMode": "minimal",
    "runner.fastReruns": "true",
    # Uploads are not offered: keep the server's own limit small all the same.
    "server.maxUploadSize": "1",
    # Streamlit's welcome text; sendlens prints its own line with the URL. Hiding it also
    # withholds Streamlit's "install agent skills" nudge (shown when ~/.claude, ~/.cursor...
    # exist), whose button would write files into the app's folder: the app writes
    # nothing but labels.
    "logger.hideWelcomeMessage": "true",
    # The letter highlights, evidence cards and heatmap outlines are drawn in colours
    # chosen for a light page; a browser set to dark mode would otherwise get a dark one.
    "theme.base": "light",
}


def app_script() -> Path:
    """The script Streamlit runs: the repository's app.py shim when running from a
    checkout (its .streamlit/config.toml applies), else the installed package's module."""
    package = Path(__file__).resolve().parent.parent
    shim = package.parent / "app.py"
    if shim.is_file() and "sendlens.app_main" in shim.read_text(encoding="utf-8"):
        return shim
    return package / "app_main.py"  # runs main() when executed as a script


@contextmanager
def quiet_cache_warnings() -> Iterator[None]:
    # Decorating or calling a cached function before the server exists logs "No runtime
    # found" warnings that are harmless here: the server's script runs find the same
    # in-memory caches (they are per process, keyed by function).
    importlib.import_module("streamlit.runtime.caching.cache_data_api")  # sets its level
    quiet = logging.getLogger("streamlit.runtime.caching.cache_data_api")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        yield
    finally:
        quiet.setLevel(level)


def warm_imports(modules: tuple[str, ...] = WARM_MODULES) -> float:
    """Import the page modules now; returns the seconds it took. A module that fails to
    import is left for the page to report (with its traceback) when it is opened."""
    started = time.perf_counter()
    with quiet_cache_warnings():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S112 - the page shows the real error
                continue
    return time.perf_counter() - started


def skip_direct_run_check() -> None:
    """Spare the first visitor Streamlit's once-per-process check for "not run with
    `streamlit run`": it calls inspect.stack(), which resolves the path of every loaded
    module (~1,500 here) and took 0.17-0.25 s of the first page's script run. The server
    started below is `streamlit run`, so the warning it looks for cannot apply. A private
    flag: if a Streamlit release drops it, setting it is harmless and the check runs."""
    try:
        import streamlit.delta_generator as delta_generator

        delta_generator._use_warning_has_been_displayed = True  # noqa: SLF001
    except ImportError:  # pragma: no cover - Streamlit is a dependency
        pass


def no_delay_connections() -> None:
    """Turn Nagle's algorithm off on the app server's connections, as Tornado, Streamlit's
    earlier server, did for its own. Streamlit now binds its own listening socket without naming
    the TCP protocol, so asyncio does not set TCP_NODELAY on the connections it accepts:
    every response after the first on a kept-alive connection then waits for the
    browser's delayed ACK, 40 ms each (59 of Streamlit's files fetched over one connection:
    2.55 s, 0.11 s with this; on the 2-core bench machine, where the CPU is the limit,
    first paint did not change measurably). Linux and macOS copy the option from the
    listening socket to accepted ones. A private function: if a Streamlit release drops
    it, nothing changes."""
    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError:  # an older Streamlit, served by Tornado
        return
    bind = getattr(starlette_server, "_bind_socket", None)
    if bind is None or getattr(bind, "sendlens_no_delay", False):
        return

    def bind_no_delay(*args: Any, **kwargs: Any) -> socket.socket:
        sock = bind(*args, **kwargs)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    bind_no_delay.sendlens_no_delay = True  # type: ignore[attr-defined]
    starlette_server._bind_socket = bind_no_delay  # noqa: SLF001


def warm_caches(root: Path) -> float:
    """Compute every page's first view (queries and chart specs) into the app's caches
    before serving; returns the seconds it took. Any error is left for the page to show
    when it is opened."""
    started = time.perf_counter()
    with quiet_cache_warnings():
        try:
            from sendlens.app_main import warm

            warm(str(root))
        except Exception:  # noqa: BLE001 - the page shows the real error
            pass
    return time.perf_counter() - started


def port_problem(host: str, port: int) -> str | None:
    """Why the app could not listen on host:port (e.g. another app has it), and which
    option to change; None when it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"unknown host ({exc}); give a name or address of this machine with --host"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As a server binds: a port left in TIME_WAIT by a stopped app is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is in use; choose another port with --port"
            if exc.errno == errno.EADDRNOTAVAIL:
                return (f"{host} is not an address of this machine ({exc.strerror}); "
                        "choose one with --host (localhost, or 0.0.0.0 for every address)")
            return f"{exc.strerror or exc}; choose another port with --port"
    return None


def streamlit_args(script: Path, *, port: int, host: str, headless: bool) -> list[str]:
    """Arguments for Streamlit's own CLI (`streamlit <args>`)."""
    args = ["run", str(script), "--server.port", str(port), "--server.address", host,
            "--server.headless", "true" if headless else "false"]
    for key, value in SERVER_OPTIONS.items():
        args += [f"--{key}", value]
    return args


def app_cmd(
    corpus: Path | None = CorpusOption,
    port: int = typer.Option(8501, "--port", "-p", min=1, max=65535, metavar="N",
                             help="Port to serve the app on."),
    host: str = typer.Option("localhost", "--host", help="Address to listen on."),
    headless: bool = typer.Option(
        False, "--headless", help="Do not open a browser window (servers, tests)."
    ),
) -> None:
    """Open the app in the browser: compare areas and themes, read the evidence, label."""
    root = corpus_path(corpus).resolve()
    if problem := port_problem(host, port):
        # Checked before the minute of warming up, and before announcing a URL.
        typer.secho(f"error: cannot serve on {host}:{port}: {problem}", fg="red", err=True)
        raise typer.Exit(2)
    if wrong := not_a_folder(root):
        # It said "no corpus ... yet", and the start page to scrape into the file.
        typer.secho(f"error: {wrong}", fg="red", err=True)
        raise typer.Exit(2)
    if not (root / "sendlens.db").is_file():
        # Not an error: the app shows a start page explaining how to fill the corpus.
        typer.echo(f"note: no corpus at {root} yet; the app will show how to create one",
                   err=True)
    else:
        # Opened once here, before the pages open it read-only: a corpus made by an older
        # sendlens is upgraded (one transaction), and a damaged one is named now.
        open_corpus(root)
    os.environ["SENDLENS_CORPUS"] = str(root)  # read by the page script, in this process
    seconds = warm_imports()
    skip_direct_run_check()
    no_delay_connections()
    cached = warm_caches(root)
    typer.echo(f"sendlens app on http://{host}:{port} (corpus {root}; modules loaded in "
               f"{seconds:.1f} s, pages prepared in {cached:.1f} s); Ctrl-C to stop",
               err=True)
    from streamlit.web import cli as streamlit_cli

    try:
        streamlit_cli.main.main(
            args=streamlit_args(app_script(), port=port, host=host, headless=headless),
            prog_name="streamlit", standalone_mode=False,
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:  # however Streamlit ends (it may exit by SystemExit on a signal)
        finish_retrains()


def finish_retrains() -> None:
    """Wait, saying so, for a retrain started in the app: the server has stopped, and the
    retrain would otherwise end with the process, its corrections not learnt. A second
    Ctrl-C abandons it (Streamlit's own handler, still installed, only said "Stopping...")."""
    from sendlens.appdata import running_retrains

    jobs = running_retrains()
    if not jobs:
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for job in jobs:
            doing = job.message or "starting"
            typer.echo(f"waiting for the retrain started in the app to finish ({doing}); "
                       "Ctrl-C again abandons it", err=True)
            job.finished.wait()
    except KeyboardInterrupt:
        typer.echo("retrain abandoned: the passages keep the tags they had (`sendlens info` "
                   "says whether a model it saved is current; `sendlens tag` re-tags)",
                   err=True)
        # Its thread is not a daemon: a plain exit would wait for it all the same. Any
        # write it had begun is one transaction, not committed: the database is as before.
        os._exit(130)
    finally:
        signal.signal(signal.SIGINT, previous)
    for job in jobs:
        typer.echo(f"retrain failed: {job.error}" if job.error else
                   f"retrain done: model {job.result.version}, {job.result.passages:,} "
                   "passages tagged" if job.result is not None else "retrain ended",
                   err=True)


def register(app: typer.Typer) -> None:
    app.command("app")(app_cmd)
