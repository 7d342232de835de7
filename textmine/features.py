"""Features of a sentence read in its letter: its words, its neighbours, its section.

The inspectors' letters put a lot of meaning in context: "This results in gaps in
treatment." is about health only because of the sentence before it, and a sentence
under "What does the area partnership need to do better?" leans negative. So every
sentence is represented by
- word 1-2-grams of the sentence itself (TF-IDF),
- word unigrams of the previous and next sentences (a separate vocabulary, so that
  "autism" next door is a different feature from "autism" here),
- its canonical section and heading words,
- optionally, the codebook's pattern evidence for the sentence and its neighbours.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize

from textmine.codebook import SECTIONS, Codebook
from textmine.weak import PatternMatcher, fold, normalise


@dataclass
class Item:
    """One sentence to tag, with whatever context is known about it."""

    text: str
    section: str | None = None
    heading: str | None = None
    prev_text: str = ""
    next_text: str = ""
    letter: str | None = None

    def alone(self) -> Item:
        """The sentence without its context, as `classify` reads a sentence it cannot
        find in the corpus."""
        return Item(text=self.text, letter=self.letter)


def items_from_rows(rows: Sequence[dict]) -> list[Item]:
    """Items from passage rows of one or more letters, ordered by (letter_id, seq).

    Neighbours are taken within the same letter and section, so context does not leak
    across sections (limiting them to the paragraph measured no better: docs/EXPERIMENTS.md).
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


# Runs of letters and digits joined by apostrophes or hyphens ("co-produced", "o'neil's");
# possessive, so a word is matched without backtracking.
_WORD = re.compile(r"[a-z0-9]++(?:['-]++[a-z0-9]++)*+")


def tokens(text: str) -> list[str]:
    """Words of an already normalised text (hyphens and apostrophes kept inside words)."""
    return _WORD.findall(text)


# Texts of a batch are joined by a character no word contains; its key marks a text's start.
_SEP = "\x00"
_SEP_KEY = -2
_WORD_OR_SEP = re.compile(_SEP + "|" + _WORD.pattern)


def _token_stream(texts: Sequence[str]) -> list[str]:
    """The words of every text, each text's preceded by _SEP; normalised as `normalise`
    does (its whitespace changes do not change the words)."""
    joined = _SEP + _SEP.join(texts)
    if joined.count(_SEP) != len(texts):  # a text with the separator in it
        joined = _SEP + _SEP.join(t.replace(_SEP, " ") for t in texts)
    return _WORD_OR_SEP.findall(fold(joined))


@dataclass(frozen=True)
class _Lookup:
    keys: dict[str, int]  # token -> key (_SEP_KEY for the separator)
    start: int  # the key of the start marker "<s>"
    span: int  # keys are < span: a bigram's code is key(a) * span + key(b)
    codes: np.ndarray  # bigram codes, sorted
    columns: np.ndarray  # the column of each code


class FastTfidf(BaseEstimator, TransformerMixin):
    """TF-IDF over word 1..n-grams with sublinear tf and l2 rows, like scikit-learn's.

    scikit-learn's TfidfVectorizer spends most of its time in generic n-gram code;
    this one does the same arithmetic (tests/test_features.py checks it) with one dict
    lookup per word of a whole batch and numpy for the rest, several times faster, which
    is what lets `classify` tag tens of thousands of sentences a second on one core.
    """

    def __init__(self, ngrams: int = 2, min_df: int = 2, prefix: str = "") -> None:
        self.ngrams = ngrams
        self.min_df = min_df
        self.prefix = prefix

    def _grams(self, text: str) -> list[str]:
        toks = tokens(text)
        grams = list(toks)
        if self.ngrams >= 2:
            # A start marker makes "<s> however" (a link to the previous sentence)
            # differ from a "however" inside the sentence (a contrast within it).
            starts = ["<s>"] + toks
            grams += [a + " " + b for a, b in zip(starts, toks, strict=False)]
        return grams

    def fit(self, texts: Sequence[str], y: object = None) -> FastTfidf:
        self.__dict__.pop("_lookup_cache", None)  # made for the old vocabulary
        df: Counter[str] = Counter()
        for t in texts:
            df.update(set(self._grams(t)))
        kept = sorted(g for g, c in df.items() if c >= self.min_df)
        self.vocabulary_ = {g: i for i, g in enumerate(kept)}
        n = len(texts)
        self.idf_ = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in kept])
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows of `texts` (normalised here, as `normalise` would)."""
        look = self._lookup()
        n_cols = len(self.vocabulary_)
        if not texts:
            return sp.csr_matrix((0, n_cols))
        # One regex pass over the whole batch instead of one per text, then numpy: the
        # per-token Python work is a single dict lookup (the speed classify needs).
        keys = np.fromiter(map(look.keys.get, _token_stream(texts), repeat(-1)), np.int64)
        rows = np.cumsum(keys == _SEP_KEY) - 1
        unigram = (keys >= 0) & (keys < n_cols)
        row_parts, col_parts = [rows[unigram]], [keys[unigram]]
        if self.ngrams >= 2 and len(look.codes):
            # Bigrams as (key of the previous token, key of this one), the previous
            # being the start marker at the start of a text, found by binary search.
            prev = np.concatenate([[_SEP_KEY], keys[:-1]])
            prev[prev == _SEP_KEY] = look.start
            pair = (keys >= 0) & (prev >= 0)
            code = prev[pair] * look.span + keys[pair]
            at = np.minimum(np.searchsorted(look.codes, code), len(look.codes) - 1)
            hit = look.codes[at] == code
            row_parts.append(rows[pair][hit])
            col_parts.append(look.columns[at[hit]])
        r, c = np.concatenate(row_parts), np.concatenate(col_parts)
        X = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(texts), n_cols))
        X.sum_duplicates()
        np.log(X.data, out=X.data)
        X.data += 1.0
        if n_cols:
            X.data *= self.idf_[X.indices]
        return normalize(X, copy=False)

    def _lookup(self) -> _Lookup:
        """The vocabulary as token keys and bigram codes: made once, kept out of pickles.

        A word's key is its unigram column; a word known only inside a bigram (not with
        document-frequency cut-offs, but cheap to allow) gets a key past the columns.
        """
        cached = self.__dict__.get("_lookup_cache")
        if cached is not None:
            return cached
        vocab = self.vocabulary_
        keys = {g: i for g, i in vocab.items() if " " not in g}
        start = len(vocab)  # the key of "<s>"
        span = start + 1  # the next free key
        pairs: list[tuple[str, str, int]] = []
        for g, i in vocab.items():
            if " " in g:
                a, b = g.split(" ", 1)
                for w in (a, b):
                    if w != "<s>" and w not in keys:
                        keys[w] = span
                        span += 1
                pairs.append((a, b, i))
        codes = np.array(
            [(start if a == "<s>" else keys[a]) * span + keys[b] for a, b, _ in pairs],
            dtype=np.int64,
        )
        order = np.argsort(codes)
        keys[_SEP] = _SEP_KEY
        columns = np.array([i for _, _, i in pairs], dtype=np.int64)[order]
        cached = _Lookup(keys, start, span, codes[order], columns)
        self.__dict__["_lookup_cache"] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_lookup_cache", None)  # rebuilt on first use
        return state

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        return np.array([self.prefix + n for n in names], dtype=object)


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
        use_chars: bool = False,
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
        self.words_ = FastTfidf(ngrams=2, min_df=2).fit(texts)
        if self.use_chars:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.chars_ = TfidfVectorizer(
                analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True,
                max_features=60000,
            ).fit(texts)
        ctx = [normalise(it.prev_text + " " + it.next_text) for it in items]
        heads = [normalise(it.heading or "") for it in items]
        self.context_ = FastTfidf(ngrams=1, min_df=2, prefix="ctx:").fit(ctx + heads)
        self.heading_ = FastTfidf(ngrams=1, min_df=2, prefix="head:").fit(heads + ["x"])
        if self.use_patterns and self.codebook is not None:
            self.matcher_ = PatternMatcher(self.codebook)
        return self

    def transform(self, items: Sequence[Item]) -> sp.csr_matrix:
        # FastTfidf normalises the texts itself, a batch at a time.
        blocks = [self.words_.transform([it.text for it in items])]
        if self.use_chars:
            blocks.append(self.chars_.transform([normalise(it.text) for it in items]))
        if self.context_weight:
            # Items without context (classify on bare sentences) skip the work entirely.
            has_ctx = any(it.prev_text or it.next_text for it in items)
            has_head = any(it.heading for it in items)
            if has_ctx:
                ctx = [it.prev_text + " " + it.next_text for it in items]
                blocks.append(self.context_.transform(ctx) * self.context_weight)
            else:
                blocks.append(sp.csr_matrix((len(items), len(self.context_.vocabulary_))))
            if has_head:
                heads = [it.heading or "" for it in items]
                blocks.append(self.heading_.transform(heads) * (self.context_weight * 0.5))
            else:
                blocks.append(sp.csr_matrix((len(items), len(self.heading_.vocabulary_))))
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
