"""Corpora for measuring the app: the real reports, tagged, and a synthetic 10x copy.

Tags come from the real tagger when `textmine.tag` can tag the corpus, else from a small
deterministic keyword rule (good enough for timing: the app never computes tags).
The 10x corpus is made in SQL by copying every letter, its sections, passages and tags
under another area name ("Dorset 2", "Dorset 3"...), with new letter ids and hashes:
much faster than importing the PDFs 550 times, and identical in shape.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from pathlib import Path

from sendlens.store import Corpus, now_iso

FAKE_MODEL = "bench-keywords-1"
# Keyword rule per theme id of the packaged codebook (used only when no tagger exists).
KEYWORDS: dict[str, str] = {
    "co_production": r"co-?produc|parent carer|families|parents|carers|voice",
    "health_input": r"health|nhs|therap|clinic|paediatric|camhs|mental",
    "local_offer": r"local offer",
    "post16_transition": r"post-16|adulthood|transition|employment",
    "ehc_plans": r"\behc|education, health and care plan|needs assessment",
    "joint_commissioning": r"commission|leaders|strategy|partnership",
    "inclusion": r"school|exclu|inclusion|sen support|attendance",
    "social_care": r"social care|short break|respite",
}
SECTION_STANCE = {"strengths": "positive", "weaknesses": "negative", "actions": "negative"}
POSITIVE = re.compile(r"\b(well|effective|strong|good|improv\w*|timely)\b", re.I)
NEGATIVE = re.compile(r"\b(not|too long|delay\w*|weak\w*|poor|inconsistent|lack\w*)\b", re.I)


def keyword_tag(text: str, section: str) -> tuple[list[str], str]:
    themes = [t for t, rx in KEYWORDS.items() if re.search(rx, text, re.I)]
    pos, neg = bool(POSITIVE.search(text)), bool(NEGATIVE.search(text))
    stance = SECTION_STANCE.get(section) or (
        "mixed" if pos and neg else "positive" if pos else "negative" if neg else "neutral"
    )
    return themes, stance


def fake_tag(corpus: Corpus) -> int:
    """Tag every untagged passage with the keyword rule; register a models row."""
    with corpus.transaction() as con:
        rows = con.execute(
            "SELECT passage_id, section, text FROM passages"
            " WHERE passage_id NOT IN (SELECT passage_id FROM tags)"
        ).fetchall()
        stamp = now_iso()
        batch = []
        for r in rows:
            themes, stance = keyword_tag(r["text"], r["section"])
            batch.append((r["passage_id"], json.dumps(themes), stance,
                          json.dumps({t: 1.0 for t in themes}), FAKE_MODEL, stamp))
        con.executemany("INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)", batch)
        con.execute("UPDATE models SET is_current = 0")
        con.execute(
            "INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, 1)",
            (FAKE_MODEL, stamp, "models/" + FAKE_MODEL,
             json.dumps({"note": "keyword rule for benchmarks", "theme_macro_f1": 0.5})),
        )
    return len(rows)


def build_real(letters_dir: Path, dest: Path) -> Corpus:
    """Import the real reports into `dest` (kept if already built) and tag them."""
    from sendlens.importer import import_paths

    corpus = Corpus.open(dest)
    if corpus.counts()["letters"] == 0:
        import_paths(corpus, [letters_dir], progress=False)
    if corpus.counts()["tags"] == 0:
        fake_tag(corpus)
    return corpus


def build_scaled(source: Corpus, dest: Path, factor: int = 10) -> Corpus:
    """A copy of `source` with every letter repeated `factor` times under new area names."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    src = sqlite3.connect(source.db_path)
    out = sqlite3.connect(dest / "sendlens.db")
    src.backup(out)
    src.close()
    out.execute("PRAGMA journal_mode=WAL")
    out.execute("BEGIN")
    letter_cols = [r[1] for r in out.execute("PRAGMA table_info(letters)")]
    originals = out.execute("SELECT letter_id, sha256, area FROM letters").fetchall()
    for copy in range(2, factor + 1):
        for letter_id, sha, area in originals:
            new_sha = hashlib.sha256(f"{sha}-{copy}".encode()).hexdigest()
            new_id = new_sha[:12]
            cols = ", ".join(letter_cols)
            select = ", ".join(
                "?" if c in ("letter_id", "sha256", "area") else c for c in letter_cols
            )
            params = [{"letter_id": new_id, "sha256": new_sha, "area": f"{area} {copy}"}[c]
                      for c in letter_cols if c in ("letter_id", "sha256", "area")]
            out.execute(f"INSERT INTO letters ({cols}) SELECT {select} FROM letters"
                        " WHERE letter_id = ?", [*params, letter_id])
            out.execute("INSERT INTO sections SELECT ?, seq, canonical, heading, char_start,"
                        " char_end FROM sections WHERE letter_id = ?", (new_id, letter_id))
            out.execute(
                "INSERT INTO passages (passage_id, letter_id, seq, section, heading, paragraph,"
                " char_start, char_end, text) SELECT ? || substr(passage_id, 13), ?, seq,"
                " section, heading, paragraph, char_start, char_end, text FROM passages"
                " WHERE letter_id = ?", (new_id, new_id, letter_id))
            out.execute(
                "INSERT INTO tags SELECT ? || substr(t.passage_id, 13), themes, stance, scores,"
                " model_version, tagged_at FROM tags t JOIN passages p USING (passage_id)"
                " WHERE p.letter_id = ?", (new_id, letter_id))
    out.execute("COMMIT")
    out.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out.close()
    return Corpus.open(dest)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("letters", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--factor", type=int, default=1)
    args = parser.parse_args()
    real = build_real(args.letters, args.dest if args.factor == 1 else args.dest.with_name(
        args.dest.name + "-x1"))
    if args.factor > 1:
        build_scaled(real, args.dest, args.factor)
    print(Corpus.open(args.dest).counts())
