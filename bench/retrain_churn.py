"""How many passages one correction re-draws when the model is retrained (the app's
Label page: correct a passage, press Retrain).

    python bench/retrain_churn.py              # 3 corrections, each alone
    python bench/retrain_churn.py --draws 5

Imports the letters into a temporary corpus and tags it with a model trained without
hand labels (not counted). Then, for each draw, saves one correction (a random strengths,
weaknesses or experience passage given the opposite stance, themes unchanged), retrains
and re-tags as the app does, and counts the passages whose stance or themes changed,
besides the corrected one. The correction is removed before the next draw. A researcher
reads these as "figures noted before may differ"; each is listed on the Label page.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from common import imported_corpus, letters_dir, need_folder

from sendlens.store import Corpus, now_iso
from textmine.tag import retrain, tag_corpus

FLIP = {"positive": "negative", "negative": "positive", "mixed": "negative",
        "neutral": "negative"}


def tags(corpus: Corpus) -> dict[str, tuple[str, str]]:
    with corpus.reading() as con:
        return {r[0]: (r[1], r[2]) for r in con.execute(
            "SELECT passage_id, stance, themes FROM tags")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=Path, default=letters_dir())
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    need_folder(args.letters, "--letters")
    rng = random.Random(args.seed)
    draws = []
    with imported_corpus(args.letters) as corpus:
        tag_corpus(corpus)
        before = tags(corpus)
        with corpus.reading() as con:
            pool = [tuple(r) for r in con.execute(
                "SELECT p.passage_id, p.letter_id, p.text, t.themes, t.stance FROM passages p"
                " JOIN tags t USING (passage_id) WHERE p.section IN"
                " ('strengths', 'weaknesses', 'experience') ORDER BY p.passage_id")]
        for _ in range(args.draws):
            pid, letter, text, themes, stance = rng.choice(pool)
            with corpus.transaction() as con:
                con.execute("DELETE FROM labels")
                con.execute(
                    "INSERT INTO labels (passage_id, letter, text, themes, stance, source,"
                    " created_at, themes_offered) VALUES (?, ?, ?, ?, ?, 'bench', ?, NULL)",
                    (pid, letter, text, themes, FLIP[stance], now_iso()))
            started = time.perf_counter()
            retrain(corpus)
            seconds = time.perf_counter() - started
            after = tags(corpus)
            others = [p for p in after if p != pid]
            draws.append({
                "corrected": pid,
                "stance_changed": sum(before[p][0] != after[p][0] for p in others),
                "themes_changed": sum(before[p][1] != after[p][1] for p in others),
                "seconds": round(seconds, 1),
            })
    print(json.dumps({"passages": len(before), "draws": draws}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
