"""Features of a sentence read in its letter: its words, its neighbours, its section.

The inspectors' letters put a lot of meaning in context: "This results in gaps in
treatment." is about health only because of the sentence before it, and a sentence
under "What does the area partnership need to do better?" leans negative. So every
sentence is represented by
- word 1-2-grams and character 3-5-grams of the sentence itself (TF-IDF),
- word unigrams of the previous and next sentences (a separate vocabulary, so that
  "autism" next door is a different feature from "autism" here),
- its canonical section and heading words,
- optionally, the codebook's pattern evidence for the sentence and its neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from textmine.codebook import SECTIONS, Codebook
from textmine.weak import PatternMatcher, normalise


@dataclass
class Item:
    """One sentence to tag, with whatever context is known about it."""

    text: str
    section: str | None = None
    heading: str | None = None
    prev_text: str = ""
    next_text: str = ""
    letter: str | None = None


def items_from_rows(rows: Sequence[dict]) -> list[Item]:
    """Items from passage rows of one or more letters, ordered by (letter_id, seq).

    Neighbours are taken within the same letter and the same paragraph-or-section, so a
    heading change does not leak context across sections.
    """
    items: list[Item] = []
    for i, r in enumerate(rows):
        prev_r = rows[i - 1] if i > 0 else None
        next_r = rows[i + 1] if i + 1 < len(rows) else None

        def same(o: dict | None, r: dict = r) -> bool:
            return (
                o is not None
                and o.get("letter_id") == r.get("letter_id")
                and o.get("section") == r.get("section")
            )

        items.append(
            Item(
                text=r["text"],
                section=r.get("section"),
                heading=r.get("heading"),
                prev_text=prev_r["text"] if same(prev_r) else "",
                next_text=next_r["text"] if same(next_r) else "",
                letter=r.get("letter_id"),
            )
        )
    return items


def _sections(items: Sequence[Item]) -> sp.csr_matrix:
    index = {s: i for i, s in enumerate(SECTIONS)}
    rows, cols = [], []
    for r, it in enumerate(items):
        c = index.get(it.section or "")
        if c is not None:
            rows.append(r)
            cols.append(c)
    data = np.ones(len(rows), dtype=np.float64)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(items), len(SECTIONS)))


class SentenceFeatures(BaseEstimator, TransformerMixin):
    """Turn a list of Items into one sparse matrix (a scikit-learn transformer)."""

    def __init__(
        self,
        codebook: Codebook | None = None,
        use_chars: bool = True,
        context_weight: float = 0.5,
        section_weight: float = 1.0,
        use_patterns: bool = False,
    ) -> None:
        self.codebook = codebook
        self.use_chars = use_chars
        self.context_weight = context_weight
        self.section_weight = section_weight
        self.use_patterns = use_patterns

    def fit(self, items: Sequence[Item], y: object = None) -> SentenceFeatures:
        texts = [normalise(it.text) for it in items]
        self.words_ = TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)\b\w[\w-]*\b"
        ).fit(texts)
        if self.use_chars:
            self.chars_ = TfidfVectorizer(
                analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True,
                max_features=60000,
            ).fit(texts)
        ctx = [normalise(it.prev_text + " " + it.next_text) for it in items]
        heads = [normalise(it.heading or "") for it in items]
        self.context_ = TfidfVectorizer(min_df=2, sublinear_tf=True).fit(ctx + heads)
        self.heading_ = TfidfVectorizer(min_df=2, sublinear_tf=True).fit(heads + ["x"])
        if self.use_patterns and self.codebook is not None:
            self.matcher_ = PatternMatcher(self.codebook)
        return self

    def transform(self, items: Sequence[Item]) -> sp.csr_matrix:
        texts = [normalise(it.text) for it in items]
        blocks = [self.words_.transform(texts)]
        if self.use_chars:
            blocks.append(self.chars_.transform(texts))
        if self.context_weight:
            ctx = [normalise(it.prev_text + " " + it.next_text) for it in items]
            blocks.append(self.context_.transform(ctx) * self.context_weight)
            heads = [normalise(it.heading or "") for it in items]
            blocks.append(self.heading_.transform(heads) * (self.context_weight * 0.5))
        if self.section_weight:
            blocks.append(_sections(items) * self.section_weight)
        if self.use_patterns and self.codebook is not None:
            blocks.append(sp.csr_matrix(pattern_block(self.matcher_, items)))
        return sp.hstack(blocks, format="csr")


def pattern_block(matcher: PatternMatcher, items: Sequence[Item]) -> np.ndarray:
    """Dense pattern evidence: own/prev/next theme scores and stance cue counts, squashed."""
    own = matcher.theme_scores([it.text for it in items])
    prev = matcher.theme_scores([it.prev_text for it in items])
    nxt = matcher.theme_scores([it.next_text for it in items])
    cues = matcher.stance_cues([it.text for it in items])
    return np.log1p(np.hstack([own, 0.5 * prev, 0.5 * nxt, cues]))
