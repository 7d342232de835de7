"""How fast the tagger classifies sentences: sentences per second on one core.

    python bench/classify_speed.py                # corpus sentences, bare (text only)
    python bench/classify_speed.py --context      # with section, heading and neighbours
    python bench/classify_speed.py --lookup       # bare lines looked up in the corpus
    python bench/classify_speed.py --check        # exit 1 below the target

Imports the real letters (../shared/letters) into a temporary corpus, trains the
no-label model, then times `TaggerModel.predict` over the corpus sentences repeated
to at least --n sentences (the same path `sendlens classify` takes, minus JSON I/O,
which is timed separately through `classify_lines`). With --lookup the JSONL path
looks every bare line up in the corpus as `sendlens classify` does on a tagged corpus,
also timed over each corpus sentence once (found exactly: served from its stored tags,
or, untagged, classified in its context) and each "edited" once (first word dropped,
a word added: the fuzzy search, its worst case).
Pinned to one CPU where the OS allows. The target is 20,000 sentences/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import imported_corpus, letters_dir, need_folder, pin_one_core

from textmine.codebook import load_codebook
from textmine.features import Item
from textmine.model import train_model
from textmine.tag import (
    PassageMatcher,
    classify_lines,
    corpus_items,
    corpus_rows,
    current_model,
    stored_results,
    tag_corpus,
)

TARGET = 20_000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=Path, default=letters_dir())
    parser.add_argument("--n", type=int, default=100_000, help="sentences to classify")
    parser.add_argument("--context", action="store_true", help="keep section and neighbours")
    parser.add_argument("--lookup", action="store_true",
                        help="look bare lines up in the corpus, as `sendlens classify` does")
    parser.add_argument("--check", action="store_true", help=f"exit 1 below {TARGET:.0f}/s")
    args = parser.parse_args()
    need_folder(args.letters, "--letters")
    pin_one_core()
    with imported_corpus(args.letters) as corpus:
        _, items = corpus_items(corpus)
        matcher, known = None, {}
        if args.lookup:
            # As after `sendlens tag`: the CLI serves tagged corpus sentences from the store.
            version = tag_corpus(corpus).version
            model = current_model(corpus)[1]
            matcher, known = PassageMatcher(corpus_rows(corpus)), stored_results(corpus, version)
        else:
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
    n_out = sum(1 for _ in classify_lines(lines, model, matcher=matcher, known=known))
    stream_rate = n_out / (time.perf_counter() - started)
    result = {
        "sentences": len(batch),
        "context": args.context,
        "lookup": args.lookup,
        "predict_per_s": round(predict_rate),
        "classify_jsonl_per_s": round(stream_rate),
        "target_per_s": TARGET,
    }
    rates = [predict_rate, stream_rate]
    if matcher is not None:
        # Each corpus sentence once: no line can reuse another's result.
        for name, texts, stored in (
            ("corpus_once_tagged", [it.text for it in items], known),
            ("corpus_once_untagged", [it.text for it in items], {}),
            ("edited_once", [" ".join(it.text.split()[1:]) + " too" for it in items], {}),
        ):
            once = [json.dumps({"id": i, "text": t}) for i, t in enumerate(texts)]
            started = time.perf_counter()
            n_out = sum(1 for _ in classify_lines(once, model, matcher=matcher, known=stored))
            result[f"classify_jsonl_{name}_per_s"] = round(n_out / (time.perf_counter() - started))
            rates.append(result[f"classify_jsonl_{name}_per_s"])
    print(json.dumps(result, indent=2))
    return 1 if args.check and min(rates) < TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
