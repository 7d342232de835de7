"""Shared test helpers: where ../shared is, and skipping politely when it is not."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The ../shared folder beside the repository (override with SENDLENS_SHARED)."""
    return Path(os.environ.get("SENDLENS_SHARED", REPO.parent / "shared")).resolve()


def require_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip (fail under CI=true) when it is missing."""
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        reason = (f"{path} is missing: these tests need ../shared beside the repository "
                  "(or SENDLENS_SHARED set to it)")
        if _under_ci():
            pytest.fail(reason + " (CI=true: ../shared must be present)")
        pytest.skip(reason)
    return path


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI a missing ../shared stops the run at once with one message, a failure,
    rather than a setup error repeated by every test that needs it."""
    if _under_ci() and not shared_dir().is_dir():
        pytest.exit(f"{shared_dir()} is missing: CI=true needs ../shared beside the "
                    "repository (or SENDLENS_SHARED set to it)", returncode=1)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Why tests were skipped, one line per reason (-rs would give one per test)."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple)
                     else report.longrepr).removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"skipped {n}: {reason}")



def main_exit_code(monkeypatch: pytest.MonkeyPatch, *args: str) -> int | str | None:
    """`sendlens ARGS` run as the console script runs it (cli.main: its own signal
    handlers, sys.exit), in this process; its exit code. The test process's SIGINT and
    SIGTERM handlers are put back afterwards."""
    from sendlens import cli

    monkeypatch.setattr(sys, "argv", ["sendlens", *args])
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with pytest.raises(SystemExit) as ended:
            cli.main()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return ended.value.code

@pytest.fixture(scope="session")
def letters_dir() -> Path:
    return require_shared("letters", "area-send-2023")


@pytest.fixture(scope="session")
def gold_dir() -> Path:
    return require_shared("gold")


@pytest.fixture(scope="session")
def real_pdfs(letters_dir: Path) -> list[Path]:
    pdfs = sorted(letters_dir.glob("*.pdf"))
    assert len(pdfs) == 55, f"expected the 55 real reports in {letters_dir}, found {len(pdfs)}"
    return pdfs


@pytest.fixture()
def not_root(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """(the command prefix, a folder) to run sendlens as a user whom permissions bind. Root
    reads and writes everything, so as root commands run as `nobody`, in a folder of
    /tmp that `nobody` may use (pytest's folders are root's alone)."""
    if os.geteuid() != 0:
        yield [], tmp_path
        return
    if not shutil.which("setpriv"):
        pytest.skip("as root, this needs setpriv to run sendlens as another user")
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    base.chmod(0o777)
    try:
        yield ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"], base
    finally:
        shutil.rmtree(base, ignore_errors=True)
