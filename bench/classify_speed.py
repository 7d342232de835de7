"""How fast the tagger classifies sentences: sentences per second on one core.

    python bench/classify_speed.py                # corpus sentences, bare (text only)
    python bench/classify_speed.py --context      # with section, heading and neighbours
    python bench/classify_speed.py --check        # exit 1 below the target

Imports the real letters (../shared/letters) into a temporary corpus, trains the
no-label model, then times `TaggerModel.predict` over the corpus sentences repeated
to at least --n sentences (the same path `sendlens classify` takes, minus JSON I/O,
which is timed separately through `classify_lines`). Pinned to one CPU where the OS
allows. The target is 20,000 sentences/s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from sendlens.importer import import_paths
from sendlens.store import Corpus
from textmine.codebook import load_codebook
from textmine.features import Item
from textmine.model import train_model
from textmine.tag import classify_lines, corpus_items

REPO = Path(__file__).resolve().parent.parent
TARGET = 20_000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=Path,
                        default=Path(os.environ.get("SENDLENS_SHARED", REPO.parent / "shared"))
                        / "letters")
    parser.add_argument("--n", type=int, default=100_000, help="sentences to classify")
    parser.add_argument("--context", action="store_true", help="keep section and neighbours")
    parser.add_argument("--check", action="store_true", help=f"exit 1 below {TARGET:.0f}/s")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Corpus.open(Path(tmp) / "corpus")
        import_paths(corpus, [args.letters], progress=False)
        _, items = corpus_items(corpus)
        model = train_model(items, load_codebook())
    if not args.context:
        items = [Item(text=it.text) for it in items]
    batch = (items * (args.n // max(len(items), 1) + 1))[: args.n]
    model.predict(batch[:1000])  # warm up
    started = time.perf_counter()
    model.predict(batch)
    predict_rate = len(batch) / (time.perf_counter() - started)
    lines = [json.dumps({"id": i, "text": it.text}) for i, it in enumerate(batch)]
    started = time.perf_counter()
    n_out = sum(1 for _ in classify_lines(lines, model))
    stream_rate = n_out / (time.perf_counter() - started)
    print(json.dumps({
        "sentences": len(batch),
        "context": args.context,
        "predict_per_s": round(predict_rate),
        "classify_jsonl_per_s": round(stream_rate),
        "target_per_s": TARGET,
    }, indent=2))
    return 1 if args.check and min(predict_rate, stream_rate) < TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
