"""What the benchmarks share: where ../shared is, and pinning to one core."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """../shared beside the checkout, or $SENDLENS_SHARED."""
    return Path(os.environ.get("SENDLENS_SHARED", REPO.parent / "shared"))


def letters_dir() -> Path:
    return shared_dir() / "letters"


def need_folder(path: Path, option: str) -> Path:
    """`path`, or exit with a message (not a traceback) saying how to point at it."""
    if not Path(path).is_dir():
        raise SystemExit(f"error: {path} is not a folder: the benchmarks read the real letters "
                         f"in ../shared beside the checkout (set SENDLENS_SHARED, or {option})")
    return Path(path)


def pin_one_core() -> int | None:
    """Run on one CPU (the targets are per core); the CPU, or None where the OS can't."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    return cpu
