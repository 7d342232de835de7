"""How fast `sendlens import` reads the real letters: letters per second and peak memory.

    python bench/import_speed.py                 # all PDFs under ../shared/letters
    python bench/import_speed.py --one-core      # pinned to one CPU (import is single-process)
    python bench/import_speed.py --profile       # plus the 25 hottest functions (cProfile)
    python bench/import_speed.py --aggregate     # plus aggregate timings on a 10x corpus

Each run imports into a fresh temporary corpus, so nothing is skipped as a duplicate.
The target is 20 letters/s; `--check` exits 1 below it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

from common import letters_dir, peak_rss_mb, pin_one_core

from sendlens.importer import collect_pdfs, import_paths
from sendlens.store import Corpus

TARGET = 20.0  # letters per second


def time_import(letters: Path, root: Path, profile: bool) -> tuple[int, float, float, str]:
    corpus = Corpus.open(root)
    profiler = cProfile.Profile() if profile else None
    start, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    report = import_paths(corpus, [letters], progress=False)
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if report.skipped:
        print(report.summary(), file=sys.stderr)
    hot = ""
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(25)
        hot = out.getvalue()
    return len(report.by_status("imported")), elapsed, cpu, hot


def replicate(corpus: Corpus, times: int) -> None:
    """Copy the imported letters `times` times over with synthetic tags (no model needed)."""
    import random

    rng = random.Random(4)
    themes = ["co_production", "health_input", "local_offer", "post16_transition",
              "ehc_plans", "joint_commissioning", "inclusion", "social_care"]
    stances = ["positive", "negative", "mixed", "neutral"]
    with corpus.transaction() as con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(letters)")]
        letters = con.execute("SELECT * FROM letters").fetchall()
        passages = con.execute("SELECT * FROM passages").fetchall()
        pcols = [r[1] for r in con.execute("PRAGMA table_info(passages)")]
        for k in range(1, times):
            def new_id(letter_id: str, k: int = k) -> str:
                # 12 characters still, unique as long as the originals differ in 11
                return f"{k:x}{letter_id[:11]}"

            for row in letters:
                values = dict(zip(cols, row))
                values["letter_id"] = new_id(values["letter_id"])
                values["sha256"] = f"{k:x}{values['sha256']}"
                con.execute(f"INSERT INTO letters ({', '.join(values)}) VALUES "
                            f"({', '.join('?' * len(values))})", list(values.values()))
            copies = []
            for p in passages:
                values = dict(zip(pcols, p))
                values["letter_id"] = new_id(values["letter_id"])
                values["passage_id"] = f"{values['letter_id']}-{values['seq']:04d}"
                copies.append(tuple(values[c] for c in pcols))
            con.executemany(
                f"INSERT INTO passages ({', '.join(pcols)}) VALUES ({', '.join('?' * len(pcols))})",
                copies,
            )
        ids = [r[0] for r in con.execute("SELECT passage_id FROM passages")]
        con.executemany(
            "INSERT OR REPLACE INTO tags VALUES (?,?,?,?,?,?)",
            [(pid, json.dumps(rng.sample(themes, rng.choice([0, 0, 1, 1, 2]))),
              rng.choice(stances), "{}", "bench", "now") for pid in ids],
        )


def time_aggregate(root: Path) -> None:
    from textmine import aggregate

    corpus = Corpus.open(root)
    replicate(corpus, 10)
    counts = corpus.counts()
    print(f"aggregate on a 10x corpus: {counts['letters']} letters, "
          f"{counts['passages']} passages (best of 3)")
    calls = {
        "load_tagged()": lambda: aggregate.load_tagged(corpus),
        "theme_table(by='area')": lambda: aggregate.theme_table(corpus, by="area"),
        "theme_table(by='region', sections=['actions'])":
            lambda: aggregate.theme_table(corpus, by="region", sections=["actions"]),
        "evidence(theme='ehc_plans', stance='negative')":
            lambda: aggregate.evidence(corpus, theme="ehc_plans", stance="negative"),
        "ehc_plans_actions_share()": lambda: aggregate.ehc_plans_actions_share(corpus),
    }
    for name, call in calls.items():
        wall, cpu = [], []
        for _ in range(3):
            w, c = time.perf_counter(), time.process_time()
            call()
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        print(f"  {name:<50} {min(wall):.3f} s wall, {min(cpu):.3f} s CPU")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("letters", nargs="?", type=Path, default=letters_dir(),
                        help="folder of PDFs (default ../shared/letters)")
    parser.add_argument("--one-core", action="store_true", help="pin the process to one CPU")
    parser.add_argument("--profile", action="store_true", help="print cProfile hot spots")
    parser.add_argument("--aggregate", action="store_true",
                        help="also time textmine.aggregate on a 10x copy with synthetic tags")
    parser.add_argument("--check", action="store_true", help=f"exit 1 below {TARGET:g}/s")
    args = parser.parse_args(argv)
    if not args.letters.is_dir():
        print(f"error: {args.letters} is not a folder of letters (set SENDLENS_SHARED)",
              file=sys.stderr)
        return 2
    if args.one_core:
        cpu = pin_one_core()
        print("--one-core: CPU pinning is not available on this platform; not pinned"
              if cpu is None else f"--one-core: pinned to CPU {cpu}. The import is "
              "single-process and single-threaded anyway, so this mostly removes noise "
              "from other work.")
    n_files = sum(1 for _ in collect_pdfs([args.letters]))
    with tempfile.TemporaryDirectory(prefix="sendlens-bench-") as tmp:
        root = Path(tmp) / "corpus"
        n, elapsed, cpu, hot = time_import(args.letters, root, args.profile)
        rate = n / elapsed if elapsed else float("inf")
        # CPU time too: on a shared machine wall time mostly measures the neighbours.
        print(f"imported {n} of {n_files} PDFs in {elapsed:.2f} s: {rate:.1f} letters/s "
              f"(target {TARGET:g}); {n / cpu if cpu else 0:.1f} letters per CPU second; "
              f"peak RSS {peak_rss_mb():.0f} MB")
        if hot:
            print(hot)
        if args.aggregate:
            time_aggregate(root)
    if rate < TARGET:
        print("below target: run with --profile to see where the time goes", file=sys.stderr)
        return 1 if args.check else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
