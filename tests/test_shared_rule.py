"""The suite's own rule about ../shared: skipped with a reason when it is absent, except
under CI=true, where its absence fails the run at once with one message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_suite(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    # One test file that needs ../shared, pointed at a folder that is not there.
    env = {**os.environ, "SENDLENS_SHARED": str(tmp_path / "nowhere")}
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(HERE / "test_real_letters.py")],
        capture_output=True, text=True, timeout=300, env=env, cwd=HERE.parent)


def test_missing_shared_is_a_skip_with_a_reason_outside_ci(tmp_path: Path) -> None:
    result = run_suite(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "skipped" in result.stdout
    assert f"{tmp_path / 'nowhere'}" in result.stdout and "is missing" in result.stdout


def test_missing_shared_fails_the_run_under_ci(tmp_path: Path) -> None:
    result = run_suite(tmp_path, ci=True)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert f"{tmp_path / 'nowhere'} is missing: CI=true needs ../shared" in out
    assert " passed" not in out  # nothing ran as if all were well
