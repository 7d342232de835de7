"""Measure a full scrape and a no-op re-run against the local test site.

    python bench/scrape_local.py [--delay 0.0] [--letters 55]

Serves the real letters in ../shared/letters (with decoys) from tests/sitefixture.py,
scrapes them into a temporary corpus, scrapes again, and prints wall time, requests,
requests per second (server side) and the smallest gap between requests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from common import need_folder, shared_dir  # noqa: E402
from sitefixture import build_site, read_manifest, serve  # noqa: E402

from scraper.scrape import scrape  # noqa: E402
from sendlens.store import Corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--letters", type=int, default=55)
    ap.add_argument("--shared", type=Path, default=shared_dir())
    args = ap.parse_args()
    need_folder(args.shared / "letters", "--shared")
    site = build_site(read_manifest(args.shared / "letters")[: args.letters])
    with serve(site) as base, tempfile.TemporaryDirectory() as tmp:
        corpus = Corpus.open(Path(tmp) / "corpus")
        for run in ("first", "again"):
            n = len(site.hits)
            t0 = time.monotonic()
            summary = scrape(
                corpus,
                base_url=base,
                delay=args.delay,
                progress=False,
                rows=20,
                extra_providers=False,
            )
            took = time.monotonic() - t0
            hits = sorted(site.hits[n:], key=lambda h: h.start)
            gaps = [b.start - a.end for a, b in zip(hits, hits[1:], strict=False)]
            span = hits[-1].start - hits[0].start if len(hits) > 1 else 0
            rate = (len(hits) - 1) / span if span else float("nan")
            print(
                f"{run}: {took:.1f} s, {len(hits)} requests ({rate:.1f}/s, min gap "
                f"{min(gaps):.3f} s, max in flight {site.max_in_flight}), new "
                f"{len(summary.new)}, held {summary.already_held}, failed {len(summary.failed)}, "
                f"{summary.bytes_downloaded / 1e6:.1f} MB"
            )


if __name__ == "__main__":
    main()
