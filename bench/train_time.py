"""How long training takes on the real corpus (target: under 30 s for the 55 letters), and
its peak memory.

    python bench/train_time.py                   # no hand labels
    python bench/train_time.py --labels ../shared/gold/dev.jsonl
    python bench/train_time.py --check           # exit 1 over the target

Imports the letters into a temporary corpus (not timed), then times `textmine.tag.train`
(weak labelling, features, theme and stance models, self-training, threshold tuning,
saving) on one CPU where the OS allows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import imported_corpus, letters_dir, need_folder, peak_rss_mb, pin_one_core

from textmine.tag import train

TARGET = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=Path, default=letters_dir())
    parser.add_argument("--labels", type=Path, action="append", default=[])
    parser.add_argument("--check", action="store_true", help=f"exit 1 over {TARGET:.0f} s")
    args = parser.parse_args()
    need_folder(args.letters, "--letters")
    pin_one_core()
    with imported_corpus(args.letters) as corpus:
        before = peak_rss_mb()
        started = time.perf_counter()
        result = train(corpus, args.labels)
        seconds = time.perf_counter() - started
    tr = result.meta["training"]
    print(json.dumps({
        "letters": tr["corpus_letters"],
        "sentences": tr["corpus_sentences"],
        "hand_labels": tr["hand_labels"]["n"],
        "seconds": round(seconds, 1),
        "target_seconds": TARGET,
        # The process's peak so far, so never below the import's.
        "peak_rss_mb_after_import": round(before),
        "peak_rss_mb_after_training": round(peak_rss_mb()),
    }, indent=2))
    return 1 if args.check and seconds > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
