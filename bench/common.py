"""What the benchmarks share: where ../shared is, a corpus of the letters, pinning to one
core and peak memory."""

from __future__ import annotations

import os
import resource
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sendlens.store import Corpus

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


@contextmanager
def imported_corpus(letters: Path) -> Iterator[Corpus]:
    """A corpus in a temporary folder (gone afterwards) holding the letters, not tagged."""
    from sendlens.importer import import_paths  # here: most benchmarks never import

    with tempfile.TemporaryDirectory(prefix="sendlens-bench-") as tmp:
        corpus = Corpus.open(Path(tmp) / "corpus")
        import_paths(corpus, [letters], progress=False)
        yield corpus


def peak_rss_mb() -> float:
    """The most memory this process has held so far, in MB."""
    # ru_maxrss is in KiB on Linux and bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
