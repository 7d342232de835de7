"""`sendlens app` served for a test: on a free port, as a user starts it, then stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # its own process group (start_new_session)
    except ProcessLookupError:
        return  # it had ended, and its group with it
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _start(corpus: Path, log: Path, headless: bool,
           env: dict[str, str] | None) -> tuple[subprocess.Popen[bytes], str] | None:
    """The app started on a free port and answering, with its URL; None when the port
    was taken between choosing it and the app binding it (the test fails otherwise)."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sendlens.cli", "app", "--corpus", str(corpus),
             "--port", str(port), *(["--headless"] if headless else [])],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            said = log.read_text()
            if "the port is in use" in said:  # sendlens app's own words
                return None
            pytest.fail("the app did not start:\n" + said)
        time.sleep(0.3)


@contextmanager
def served_app(corpus: Path, log: Path, *, headless: bool = True,
               env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `sendlens app --corpus corpus` (with `env` added to the environment), wait
    until it answers its health check, and yield its URL; the test fails with the
    server's output (in `log`) if it does not."""
    for _ in range(3):  # a port free when chosen may be taken before the app binds it
        if started := _start(corpus, log, headless, env):
            break
    else:
        pytest.fail("the app found no free port in 3 tries:\n" + log.read_text())
    proc, url = started
    try:
        yield url
    finally:
        _stop(proc)
