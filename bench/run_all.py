"""Run every benchmark in bench/ one after another and print their figures.

    python bench/run_all.py            # all of them (`make bench`)
    python bench/run_all.py import     # only those whose file name contains "import"

Each benchmark is its own script (see its docstring); this only runs them in turn
so that one command prints every speed and memory figure the issues ask for.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Cheapest first; each entry is (script, arguments).
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("import_speed.py", ["--one-core"]),
    ("classify_speed.py", []),
    ("classify_speed.py", ["--lookup"]),
    ("train_time.py", []),
    ("retrain_churn.py", []),
    ("scrape_local.py", []),
    ("app_first_paint.py", []),
]


def main(argv: list[str]) -> int:
    wanted = argv[1:]
    failed = []
    for script, args in BENCHMARKS:
        if wanted and not any(w in script for w in wanted):
            continue
        path = HERE / script
        if not path.exists():
            print(f"== {script}: missing, skipped")
            continue
        print(f"== {script} {' '.join(args)}".rstrip(), flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(path), *args])
        print(f"== {script}: exit {code} after {time.perf_counter() - started:.1f} s\n", flush=True)
        if code:
            failed.append(script)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
