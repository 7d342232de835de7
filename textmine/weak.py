"""Weak labels: the codebook's patterns and the letter's section structure as noisy labels.

No hand labels are needed: a sentence gets a theme when the theme's patterns match it
(or, more weakly, when it continues a neighbouring sentence that matches), and a stance
from the codebook's cue lexicons combined with the prior of the section it sits in
(strengths lean positive, weaknesses and actions negative, context neutral). Each weak
label carries a confidence the discriminative model uses as a sample weight.

Matching runs one regular expression per theme over a whole batch joined into one
string, so the per-sentence Python overhead stays small (classify must handle tens of
thousands of sentences a second).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from textmine.codebook import STANCES, Codebook

_SEP = "\n"
# Sentences that continue the previous one's subject ("This means...", "As a result...")
# inherit its themes: a weak but useful signal for short anaphoric sentences.
_ANAPHORA = re.compile(
    r"^(this|these|that|those|they|their|it|its|such|as a result|consequently|"
    r"however|despite this|in addition|additionally|also|furthermore|moreover|"
    r"for example|for instance|similarly|in particular|nevertheless|this means|"
    r"as such|therefore|subsequently|here|there)\b",
    re.IGNORECASE,
)


def fold(text: str) -> str:
    """Lower-case, straight quotes and plain hyphens: `normalise` without the spacing."""
    # Chained replaces: str.translate is several times slower on a long batch.
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\ufffe", "")
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u00ad", "")
    return text.lower()


def normalise(text: str) -> str:
    """Lower-case, straight quotes, single spaces: the form all patterns are matched on."""
    return " ".join(fold(text).split())


def _alternation(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    # Word boundaries on both sides so that "ap" does not match inside "approach"; the
    # lookahead lets the engine skip positions that cannot start a word (3x faster).
    body = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(r"(?<!\w)(?=[\w(])(?:" + body + r")(?!\w)")


def _per_text(positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """How many of `positions` (offsets in a batch joined by _SEP) fall in each text."""
    counts = np.zeros(len(starts), dtype=np.float32)
    if len(positions):
        np.add.at(counts, np.searchsorted(starts, positions, side="right") - 1, 1.0)
    return counts


def _count_hits(rx: re.Pattern[str] | None, joined: str, starts: np.ndarray) -> np.ndarray:
    """How many matches of `rx` fall in each text of a batch joined by _SEP."""
    if rx is None or not len(starts):
        return np.zeros(len(starts), dtype=np.float32)
    return _per_text(np.array([m.start() for m in rx.finditer(joined)], dtype=np.int64), starts)


def _join(texts: Sequence[str]) -> tuple[str, np.ndarray]:
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        starts[1:] = np.cumsum(lengths)[:-1]
    return _SEP.join(texts), starts


def _negation_scopes(
    negators: Sequence[str], contrast: Sequence[str], words: int
) -> re.Pattern[str] | None:
    """A pattern whose group "scope" is the scope of a negation: up to `words` words
    after it, ending at punctuation, a contrast word or the end of the sentence. Named,
    because a negator like "(not|never)" has a group of its own that would be group 1."""
    neg = _alternation(negators)
    if neg is None:
        return None
    stop = "|".join(f"(?:{p})" for p in contrast) or r"(?!)"
    # Single spaces only: texts are normalised, and the newline joining a batch ends a scope.
    return re.compile(neg.pattern + rf"(?P<scope>(?: (?!(?:{stop})(?!\w))[\w'-]+){{1,{words}}})")


def _hits_in_spans(
    rx: re.Pattern[str], spans: re.Pattern[str], joined: str, starts: np.ndarray
) -> np.ndarray:
    """How many matches of `rx` in each text of a joined batch start inside a "scope"
    span of `spans`."""
    bounds = [(m.start("scope"), m.end("scope")) for m in spans.finditer(joined)]
    pos = np.array([m.start() for m in rx.finditer(joined)] if bounds else [], dtype=np.int64)
    if not len(pos):
        return np.zeros(len(starts), dtype=np.float32)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    # Scopes do not overlap much; the latest scope starting at or before a hit decides.
    k = np.searchsorted(lo, pos, side="right") - 1
    return _per_text(pos[(k >= 0) & (pos < hi[np.maximum(k, 0)])], starts)


class PatternMatcher:
    """The codebook's regular expressions, compiled once and applied to batches."""

    def __init__(self, codebook: Codebook) -> None:
        self.theme_ids = codebook.theme_ids
        self.yields = np.array([t.yields_to_others for t in codebook.themes], dtype=bool)
        self._ignore = _alternation(codebook.ignore)
        self._strong = [_alternation(t.patterns) for t in codebook.themes]
        self._related = [_alternation(t.related) for t in codebook.themes]
        self._exclude = [_alternation(t.exclude) for t in codebook.themes]
        self._core = [_alternation(t.core_patterns) for t in codebook.themes]
        cues = codebook.stance
        self._stance = [
            _alternation(cues.positive),
            _alternation(cues.negative),
            _alternation(cues.contrast),
            _alternation(cues.neutral),
        ]
        self._credited = _alternation(cues.credited_action)
        self._negated = _negation_scopes(cues.negation, cues.contrast, cues.negation_scope)
        self.section_priors = cues.section_priors

    def prepare(self, texts: Sequence[str]) -> list[str]:
        norm = [normalise(t) for t in texts]
        if self._ignore is not None:
            norm = [self._ignore.sub(" ", t) for t in norm]
        return norm

    def theme_scores(self, texts: Sequence[str], prepared: bool = False) -> np.ndarray:
        """(n, themes) pattern evidence: strong hits count 1, related hits 0.5; a theme's
        core pattern gives it at least 1, even where it yields to another theme."""
        norm = list(texts) if prepared else self.prepare(texts)
        joined, starts = _join(norm)
        out = np.zeros((len(norm), len(self.theme_ids)), dtype=np.float32)
        for j in range(len(self.theme_ids)):
            score = _count_hits(self._strong[j], joined, starts)
            score += 0.5 * _count_hits(self._related[j], joined, starts)
            if self._exclude[j] is not None:
                excluded = _count_hits(self._exclude[j], joined, starts)
                score = np.maximum(score - excluded, 0.0)
            out[:, j] = score
        if self.yields.any() and (~self.yields).any():
            # A backdrop theme loses to any more specific theme with as much evidence.
            best_other = out[:, ~self.yields].max(axis=1)
            for j in np.flatnonzero(self.yields):
                out[:, j] = np.where(best_other >= np.maximum(out[:, j], 1e-9), 0.0, out[:, j])
        for j, core in enumerate(self._core):
            if core is not None:
                # A core hit is strong evidence whatever else the sentence is about:
                # "commissioning of alternative provision" is still about commissioning.
                hits = _count_hits(core, joined, starts)
                out[:, j] = np.maximum(out[:, j], np.minimum(hits, 1.0))
        return out

    def stance_cues(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 5) counts of positive, negative, contrast and neutral cues, and a 0/1
        concession flag: a contrast inside the sentence whose two sides differ in
        polarity ("Although X is in place, Y is too slow"), or a weakness that leaders
        know of and are acting on (the codebook's credited_action cues)."""
        norm = [normalise(t) for t in texts]
        joined, starts = _join(norm)
        counts = np.stack([_count_hits(rx, joined, starts) for rx in self._stance], axis=1)
        concession = np.zeros((len(norm), 1), dtype=np.float32)
        for i in np.flatnonzero(counts[:, 2] > 0):
            concession[i, 0] = float(self._concession(norm[i]))
        if self._credited is not None:
            credited = _count_hits(self._credited, joined, starts) > 0
            concession[credited, 0] = 1.0
        if self._negated is not None and self._stance[0] is not None:
            negated = _hits_in_spans(self._stance[0], self._negated, joined, starts)
            # A concession keeps its praise: "although X is good, Y is not timely" is mixed.
            counts[:, 0] -= np.where(concession[:, 0] > 0, 0.0, negated)
        return np.hstack([counts, concession])

    def _concession(self, text: str) -> bool:
        """Does the sentence credit something on one side of a contrast and fault
        something on the other? Sentence-initial "However," links to the previous
        sentence and does not count."""
        rx = self._stance[2]
        if rx is None:
            return False
        for m in rx.finditer(text):
            if m.start() == 0 and m.group(0) in ("however", "but", "yet", "nevertheless"):
                continue
            if m.start() == 0:
                # "Although A, B": the two sides meet at the first comma after the marker.
                comma = text.find(",", m.end())
                if comma < 0:
                    continue
                first, second = text[m.end():comma], text[comma + 1:]
            else:
                # "A, but B" and "A but B": the marker divides them, a second comma or not.
                first, second = text[: m.start()], text[m.end():]
            neg1, neg2 = self._negatives(first), self._negatives(second)
            pos1, pos2 = self._positives(first), self._positives(second)
            if (neg2 and not neg1) or (neg1 and not neg2) or (pos1 and neg2) or (neg1 and pos2):
                return True
        return False

    def _negatives(self, text: str) -> int:
        return 0 if self._stance[1] is None else len(self._stance[1].findall(text))

    def _positives(self, text: str) -> int:
        return 0 if self._stance[0] is None else len(self._stance[0].findall(text))

    def section_prior(self, sections: Sequence[str | None]) -> np.ndarray:
        """(n, 4) prior over STANCES for each sentence's canonical section."""
        uniform = {s: 1.0 / len(STANCES) for s in STANCES}
        rows = [self.section_priors.get(s or "", uniform) for s in sections]
        return np.array([[r[s] for s in STANCES] for r in rows], dtype=np.float32)


def anaphoric(texts: Sequence[str]) -> np.ndarray:
    """True where a sentence opens by pointing back at the previous one."""
    return np.fromiter((bool(_ANAPHORA.match(t.lstrip())) for t in texts), bool, len(texts))


def weak_theme_labels(
    own: np.ndarray, prev: np.ndarray, nxt: np.ndarray, is_anaphoric: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Combine pattern scores of a sentence and its neighbours into theme labels.

    A strong own match is a confident positive; an anaphoric sentence after a matching
    one is a weaker positive (0.4). A related-only match is a negative at a low weight
    (0.2): a hint alone is not enough to call the sentence about the theme, but not a
    confident no either. A sentence with no evidence in itself or its neighbours is a
    confident negative (1.0); one with none of its own next to a match is a less certain
    negative (0.4).
    """
    labels = np.full(own.shape, -1, dtype=np.int8)
    weight = np.zeros(own.shape, dtype=np.float32)
    strong = own >= 1.0
    labels[strong] = 1
    weight[strong] = np.minimum(0.6 + 0.2 * own[strong], 1.0)
    inherited = ~strong & is_anaphoric[:, None] & (prev >= 1.0)
    labels[inherited] = 1
    weight[inherited] = 0.4
    related_only = ~strong & ~inherited & (own >= 0.5)
    labels[related_only] = 0
    weight[related_only] = 0.2
    clean = (own == 0) & (prev < 1.0) & (nxt < 1.0)
    labels[clean] = 0
    weight[clean] = 1.0
    near = (own == 0) & ~clean & ~inherited
    labels[near] = 0
    weight[near] = 0.4
    return labels, weight


def weak_stance_labels(cues: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stance from cue counts and the section prior.

    Evidence from cues is turned into a likelihood over STANCES and multiplied by the
    section prior: a sentence with both polarities and a contrast marker is mixed; one
    with no cues falls back to its section; cue-less sentences in context sections
    are neutral.
    """
    pos, neg, contrast, neutral = (cues[:, i] for i in range(4))
    concession = cues[:, 4] if cues.shape[1] > 4 else np.zeros(len(cues))
    n = len(cues)
    like = np.ones((n, len(STANCES)), dtype=np.float32)
    ip, ineg, imix, ineu = (STANCES.index(s) for s in ("positive", "negative", "mixed", "neutral"))
    margin = pos - neg
    like[:, ip] *= np.exp(1.2 * np.clip(margin, -3, 3))
    like[:, ineg] *= np.exp(-1.2 * np.clip(margin, -3, 3))
    both = (pos > 0) & (neg > 0)
    like[:, imix] *= np.where(
        concession > 0, 12.0, np.where(both & (contrast > 0), 3.0, np.where(both, 1.0, 0.2))
    )
    evaluative = pos + neg
    like[:, ineu] *= np.exp(-0.9 * evaluative + 0.8 * neutral)
    post = like * prior
    post /= post.sum(axis=1, keepdims=True)
    return post.argmax(axis=1).astype(np.int64), post.max(axis=1).astype(np.float32)
