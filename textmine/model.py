"""The theme and stance models: training, thresholds, persistence and staleness.

Training needs no hand labels. Weak labels (textmine.weak) over the whole corpus
train one logistic regression per theme and a multinomial one for stance, on features
of the sentence and its context (textmine.features). One round of self-training then
lets the model correct its own teacher: confident model predictions replace abstaining
or low-confidence weak labels. Hand labels (a JSONL file or corrections made in the
app) are added with a much larger weight than weak labels. Thresholds are set so that
each theme's share of tagged corpus sentences matches its share under the weak labels,
which corrects the optimism of class-balanced training; tuning them on hand labels by
an inner grouped CV is available (`tune_folds`) but held-out F1 was lower.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from textmine.codebook import STANCES, Codebook
from textmine.features import Item, SentenceFeatures
from textmine.weak import (
    PatternMatcher,
    anaphoric,
    weak_stance_labels,
    weak_theme_labels,
)

# Raised when a model trained by an older sendlens decides differently from a new one,
# so that `tag` retrains it. 2: a second theme needs SECOND_THEME_MARGIN. 3: a sentence
# with no theme may take its strongest (FIRST_THEME_MARGIN).
MODEL_FORMAT = 3
# One hand label outweighs many weak ones (weak weights are <= 1). Grouped CV on
# dev.jsonl: weights 3, 6, 12, 20 gave theme macro-F1 0.829, 0.829, 0.833, 0.831.
HAND_WEIGHT = 12.0
THRESHOLD_SHRINK = 0.5  # weight of hand-label-tuned thresholds against prevalence ones
# Fewer hand-labelled stances than this leave the stance bias at zero: four offsets
# fitted to a handful of sentences would chase those sentences (stance is optional).
MIN_STANCE_LABELS = 20
BARE_WEIGHT = 0.3  # weight of each training row's copy without context (see with_bare_copies)
# A sentence's second (third...) theme needs its score this far above its threshold; its
# strongest theme needs only the threshold. Most false themes are extras beside a right
# one, barely over the threshold (docs/EXPERIMENTS.md).
SECOND_THEME_MARGIN = 0.05
# A sentence none of whose themes reaches its threshold takes its strongest when that is
# within this of its threshold (not in description sections, where many sentences are
# about no theme): annotators give a theme to about 87% of the sentences of the
# evaluative sections, the thresholds alone to 78% (docs/EXPERIMENTS.md).
FIRST_THEME_MARGIN = 0.1
# A recommendation is negative: these stances become negative in recommendation sections.
_CREDITING = [STANCES.index("positive"), STANCES.index("mixed")]
_NEGATIVE = STANCES.index("negative")
_POSITIVE = STANCES.index("positive")
_NEUTRAL = STANCES.index("neutral")
# A recommendation's wording: the sentence's subject, an agent of the area, then
# "should", "must", "need(s) to" ("Leaders across the partnership should ..."). Not in a
# clause of its own ("Leaders know what they need to do" is no recommendation).
_RECOMMENDATION = re.compile(
    r"(?:(?:(?!(?:that|what|which|who|whom|where|how|when|if|because|whether|once)\b)"
    r"[\w'’-]+,?\s+){0,6}?(?:leaders?|partnership|partners|authority|council|icb|board|"
    r"area|commissioners|services)|they)\s+(?:should|must|needs? to)\b(?!\s+not\b)",
    re.IGNORECASE)


@dataclass
class TrainingSet:
    """Items with theme labels (1/0, -1 abstain) and stance labels (index, -1 abstain)."""

    items: list[Item]
    themes: np.ndarray
    theme_weight: np.ndarray
    stance: np.ndarray
    stance_weight: np.ndarray
    hand: np.ndarray  # True for hand-labelled rows

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, rows: np.ndarray) -> TrainingSet:
        return TrainingSet(
            [self.items[i] for i in rows],
            self.themes[rows],
            self.theme_weight[rows],
            self.stance[rows],
            self.stance_weight[rows],
            self.hand[rows],
        )

    @staticmethod
    def concat(parts: Sequence[TrainingSet]) -> TrainingSet:
        return TrainingSet(
            [it for p in parts for it in p.items],
            np.concatenate([p.themes for p in parts]),
            np.concatenate([p.theme_weight for p in parts]),
            np.concatenate([p.stance for p in parts]),
            np.concatenate([p.stance_weight for p in parts]),
            np.concatenate([p.hand for p in parts]),
        )


def weak_training_set(items: Sequence[Item], codebook: Codebook) -> TrainingSet:
    """Weak labels for corpus sentences from the codebook's patterns and section priors."""
    matcher = PatternMatcher(codebook)
    texts = [it.text for it in items]
    own = matcher.theme_scores(texts)
    prev, nxt = neighbour_scores(items, own, matcher)
    themes, tw = weak_theme_labels(own, prev, nxt, anaphoric(texts))
    cues = matcher.stance_cues(texts)
    stance, sw = weak_stance_labels(cues, matcher.section_prior([it.section for it in items]))
    return TrainingSet(list(items), themes, tw, stance, sw, np.zeros(len(items), bool))


def neighbour_scores(
    items: Sequence[Item], own: np.ndarray, matcher: PatternMatcher
) -> tuple[np.ndarray, np.ndarray]:
    """Pattern scores of each item's previous and next sentence.

    Corpus items are consecutive sentences, so the neighbours' scores are usually the
    own scores shifted by one; only items whose context differs are matched again.
    """
    n = len(items)
    prev = np.zeros_like(own)
    nxt = np.zeros_like(own)
    redo_prev, redo_next = [], []
    for i, it in enumerate(items):
        if it.prev_text:
            if i > 0 and items[i - 1].text == it.prev_text:
                prev[i] = own[i - 1]
            else:
                redo_prev.append(i)
        if it.next_text:
            if i + 1 < n and items[i + 1].text == it.next_text:
                nxt[i] = own[i + 1]
            else:
                redo_next.append(i)
    if redo_prev:
        prev[redo_prev] = matcher.theme_scores([items[i].prev_text for i in redo_prev])
    if redo_next:
        nxt[redo_next] = matcher.theme_scores([items[i].next_text for i in redo_next])
    return prev, nxt


def hand_training_set(
    items: Sequence[Item],
    themes: Sequence[Sequence[str]],
    stances: Sequence[str | None],
    codebook: Codebook,
    weight: float = HAND_WEIGHT,
    *,
    unlabelled: Sequence[Collection[str]] | None = None,
) -> TrainingSet:
    """Hand labels as a training set; a missing stance abstains, unknown themes are ignored.
    `unlabelled`: per item, themes its labeller did not judge, which abstain too."""
    ids = codebook.theme_ids
    y = np.array([[t in set(ts) for t in ids] for ts in themes], dtype=np.int8).reshape(
        len(items), len(ids)
    )
    for i, skip in enumerate(unlabelled or ()):
        for j, t in enumerate(ids):
            if t in skip:
                y[i, j] = -1
    st = np.array([STANCES.index(s) if s in STANCES else -1 for s in stances], dtype=np.int64)
    return TrainingSet(
        list(items),
        y,
        np.where(y >= 0, weight, 0.0).astype(np.float32),
        st,
        np.where(st >= 0, weight, 0.0).astype(np.float32),
        np.ones(len(items), bool),
    )


class MultiThemeClassifier(BaseEstimator, ClassifierMixin):
    """One weighted logistic regression per theme; rows labelled -1 abstain for that theme.

    `thresholds_` turn scores into tags; they start at 0.5 and are tuned after fitting.
    """

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
        y = np.asarray(y)
        w = np.ones(y.shape, np.float32) if sample_weight is None else np.asarray(sample_weight)
        self.estimators_: list[LogisticRegression | float] = []
        for j in range(y.shape[1]):
            rows = np.flatnonzero((y[:, j] >= 0) & (w[:, j] > 0))
            labels = y[rows, j]
            if len(np.unique(labels)) < 2:
                # A theme never (or always) seen: predict its base rate.
                self.estimators_.append(float(labels.mean()) if len(labels) else 0.0)
                continue
            # The dual liblinear solver is ~10x faster here: far more features than rows.
            # It visits the rows in a random order: a fixed seed, so that the same inputs
            # give the same model (unseeded, thresholds moved by up to 2e-5 between runs
            # and flipped a few tags).
            clf = LogisticRegression(
                C=self.C, solver="liblinear", dual=True, max_iter=1000, class_weight="balanced",
                random_state=0,
            )
            clf.fit(X[rows], labels, sample_weight=w[rows, j])
            self.estimators_.append(clf)
        self.n_themes_ = y.shape[1]
        self.thresholds_ = np.full(self.n_themes_, 0.5)
        return self

    def decision_scores(self, X: Any) -> np.ndarray:
        out = np.empty((X.shape[0], self.n_themes_), dtype=np.float64)
        for j, est in enumerate(self.estimators_):
            if isinstance(est, float):
                out[:, j] = est
            else:
                out[:, j] = est.predict_proba(X)[:, 1]
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.decision_scores(X)

    def predict(self, X: Any) -> np.ndarray:
        return (self.decision_scores(X) >= self.thresholds_).astype(np.int8)


@dataclass
class TaggerModel:
    """The fitted theme and stance pipelines plus what is needed to use them."""

    theme_ids: list[str]
    themes: Pipeline
    stance: Pipeline
    stance_bias: np.ndarray = field(default_factory=lambda: np.zeros(len(STANCES)))
    meta: dict[str, Any] = field(default_factory=dict)
    # The codebook's recommendation sections: a positive or mixed stance there is negative.
    recommendation_sections: tuple[str, ...] = ()
    # Its sections of description (stance neutral) and of fixed wording (no theme).
    neutral_sections: tuple[str, ...] = ()
    fixed_wording_sections: tuple[str, ...] = ()
    # See SECOND_THEME_MARGIN; 0 in models saved before it (each theme its threshold).
    second_theme_margin: float = 0.0
    # See FIRST_THEME_MARGIN; 0 in models saved before it.
    first_theme_margin: float = 0.0

    @property
    def thresholds(self) -> np.ndarray:
        return self.themes.named_steps["clf"].thresholds_

    def scores(self, items: Sequence[Item]) -> tuple[np.ndarray, np.ndarray]:
        """(theme scores (n, T), stance probabilities (n, 4)); features computed once."""
        theme_p, stance_p, _ = self._scores(items)
        return theme_p, stance_p

    def _scores(self, items: Sequence[Item]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """scores(), and which items have no word the model knows."""
        if not items:
            return (np.zeros((0, len(self.theme_ids))), np.zeros((0, len(STANCES))),
                    np.zeros(0, bool))
        X = self.themes.named_steps["features"].transform(items)
        theme_p = self.themes.named_steps["clf"].predict_proba(X)
        stance_p = self.stance.named_steps["clf"].predict_proba(X)
        unknown = np.diff(X.indptr) == 0  # SentenceFeatures gives CSR: rows with no entry
        return theme_p, _align_stance(self.stance.named_steps["clf"], stance_p), unknown

    def predict(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        """Themes, stance and scores for each item, in order."""
        tagged, stance_idx, values = self.predict_lists(items)
        keys = self.score_keys
        return [
            {"themes": list(themes), "stance": STANCES[k], "scores": dict(zip(keys, row))}
            for themes, k, row in zip(tagged, stance_idx, values)
        ]

    @property
    def score_keys(self) -> list[str]:
        """Names of the scores: one per theme, then stance_<stance> for each stance."""
        return list(self.theme_ids) + [f"stance_{s}" for s in STANCES]

    def predict_lists(
        self, items: Sequence[Item]
    ) -> tuple[list[tuple[str, ...]], list[int], list[list[float]]]:
        """(themes, stance index, rounded scores) per item, as plain lists.

        Worked out in numpy and converted once: per-item Python work dominates at the
        speeds classify needs. Items with the same themes share one tuple.
        """
        theme_p, stance_p, unknown = self._scores(items)
        # Few distinct theme sets occur: name each once, then index.
        # A sentence may be lent its strongest theme unless it is background, or has no
        # word the model knows (its scores are the priors alone).
        lend = ~unknown
        if self.first_theme_margin > 0 and self.neutral_sections:
            lend &= np.fromiter((it.section not in self.neutral_sections for it in items),
                                bool, len(items))
        tagged = _theme_sets(self._themes_on(theme_p, lend), self.theme_ids)
        stance_idx = (np.log(stance_p + 1e-9) + self.stance_bias).argmax(axis=1)
        # Not one known word ("ok", a name): the stance would be the classes' prior alone,
        # which is positive; with no evidence the sentence has no judgement to report.
        stance_idx[unknown] = _NEUTRAL
        if self.recommendation_sections:
            advice = np.fromiter((it.section in self.recommendation_sections for it in items),
                                 bool, len(items))
            stance_idx[advice & np.isin(stance_idx, _CREDITING)] = _NEGATIVE
            # Read alone, a sentence worded as a recommendation ("Leaders should ensure
            # that support is timely") is one too: its praise words are what is asked for.
            # Only positive rows are looked at: classify's hot path runs through here.
            for i in np.flatnonzero(stance_idx == _POSITIVE):
                it = items[i]
                if not it.section and not it.heading and _RECOMMENDATION.match(it.text):
                    stance_idx[i] = _NEGATIVE
        if self.neutral_sections or self.fixed_wording_sections:
            for i, it in enumerate(items):
                if it.section in self.neutral_sections:
                    stance_idx[i] = _NEUTRAL
                elif it.section in self.fixed_wording_sections:
                    tagged[i] = ()
        values = np.round(np.hstack([theme_p, stance_p]), 4).tolist()
        return tagged, stance_idx.tolist(), values

    def _themes_on(self, theme_p: np.ndarray, lend: np.ndarray | None = None) -> np.ndarray:
        """Which themes each row has: over its threshold, and a theme beside the row's
        strongest one (by its lead over its threshold) by second_theme_margin more; a row
        with none takes its strongest if it is within first_theme_margin of its
        threshold (only rows where `lend` is true, when given)."""
        lead = theme_p - self.thresholds
        on = lead >= 0
        if not len(lead):
            return on
        rows, best = np.arange(len(lead)), lead.argmax(axis=1)
        if self.second_theme_margin > 0:
            strongest = np.zeros_like(on)
            strongest[rows, best] = True
            on &= strongest | (lead >= self.second_theme_margin)
        if self.first_theme_margin > 0:
            take = ~on.any(axis=1) & (lead[rows, best] >= -self.first_theme_margin)
            if lend is not None:
                take &= lend
            on[rows[take], best[take]] = True
        return on


def _theme_sets(on: np.ndarray, theme_ids: Sequence[str]) -> list[tuple[str, ...]]:
    """The themes switched on in each row of `on` (n, T), one shared tuple per set."""
    if on.shape[1] <= 62:
        # Each row as a bit pattern: unique integers sort far faster than unique rows.
        codes = on.astype(np.int64) @ (np.int64(1) << np.arange(on.shape[1], dtype=np.int64))
        uniq, which = np.unique(codes, return_inverse=True)
        combos = (uniq[:, None] >> np.arange(on.shape[1]) & 1).astype(bool)
    else:
        combos, which = np.unique(on, axis=0, return_inverse=True)
    names = [tuple(t for t, flag in zip(theme_ids, row) if flag) for row in combos.tolist()]
    return list(map(names.__getitem__, which.reshape(-1).tolist()))


def _align_stance(clf: Any, p: np.ndarray) -> np.ndarray:
    """Stance probabilities in STANCES order, zeros for classes never seen in training."""
    out = np.zeros((p.shape[0], len(STANCES)))
    out[:, np.asarray(clf.classes_, dtype=int)] = p
    return out


def _stance_classifier(C: float) -> LogisticRegression:
    # Multinomial: one-vs-rest liblinear fits faster but loses ~0.015 stance macro-F1.
    # Fitted to tol 1e-4, not 1e-3: stopped that early, where the solver stopped moved with
    # any change to the data, and one correction re-drew 28-104 passages' stances (8-10
    # at 1e-4); training takes about 4 s longer.
    return LogisticRegression(C=C, tol=1e-4, max_iter=5000, class_weight="balanced")


def with_bare_copies(train: TrainingSet, weight: float = BARE_WEIGHT) -> TrainingSet:
    """`train` plus a copy of every row stripped of all context, at `weight` of its own.

    Without them a sentence classified on its own (no section, no neighbours) is
    scored by weights learnt only alongside section features, and its stance
    collapses (macro-F1 0.59 instead of 0.79 on the gold sentences stripped bare).
    Every row at a fraction of its weight, not a random 30 % of the rows at full weight:
    the sample made the figures depend on the draw (theme macro-F1 0.825-0.833, stance
    0.811-0.833 across seeds and after a 0.1 % change to the corpus). At that weight the
    self-training round counts the copies' weak labels as uncertain (they came partly
    from the context the copies lack), so its confident predictions relabel them; judging
    them as their originals instead measured 0.825 / 0.829 against 0.827 / 0.831.
    """
    if not weight or not len(train):
        return train
    bare = train.subset(np.arange(len(train)))
    bare.items = [it.alone() for it in bare.items]
    bare.theme_weight = bare.theme_weight * weight
    bare.stance_weight = bare.stance_weight * weight
    return TrainingSet.concat([train, bare])


def _fit_pipelines(
    train: TrainingSet, codebook: Codebook, *, C: float = 2.0, self_train: bool = True,
    say: Callable[[float, str], None] | None = None,
) -> tuple[Pipeline, Pipeline]:
    say = say or (lambda _f, _m: None)
    train = with_bare_copies(train)
    say(0.1, "reading the sentences' words and context")
    features = SentenceFeatures(codebook).fit(train.items)
    X = features.transform(train.items)
    say(0.3, "fitting the theme and stance models")
    themes_y, themes_w = train.themes.copy(), train.theme_weight.copy()
    clf = MultiThemeClassifier(C=C).fit(X, themes_y, themes_w)
    stance_rows = np.flatnonzero(train.stance >= 0)
    sclf = _stance_classifier(C)
    sclf.fit(
        X[stance_rows], train.stance[stance_rows], sample_weight=train.stance_weight[stance_rows]
    )
    if self_train:
        say(0.6, "self-training: confident predictions relabel uncertain weak labels")
        clf, sclf = _self_train(X, train, clf, sclf, C)
    themes = Pipeline([("features", features), ("clf", clf)])
    stance = Pipeline([("features", features), ("clf", sclf)])
    return themes, stance


def _self_train(
    X: Any, train: TrainingSet, clf: MultiThemeClassifier, sclf: LogisticRegression, C: float
) -> tuple[MultiThemeClassifier, LogisticRegression]:
    """One round of self-training: confident predictions relabel uncertain weak labels.

    Hand labels are never changed. Weak labels the model confidently contradicts are
    down-weighted rather than flipped, so the patterns stay the anchor; but labels under
    weight 0.5, among them every copy without context (see with_bare_copies), count as
    uncertain and take the model's confident predictions.
    """
    p = clf.predict_proba(X)
    y, w = train.themes.copy(), train.theme_weight.copy()
    weak = ~train.hand[:, None] & np.ones_like(y, bool)
    unsure = weak & ((y < 0) | (w < 0.5))
    y[unsure & (p > 0.85)] = 1
    w[unsure & (p > 0.85)] = 0.5
    y[unsure & (p < 0.15)] = 0
    w[unsure & (p < 0.15)] = 0.5
    contradicted = weak & (((y == 1) & (p < 0.1)) | ((y == 0) & (p > 0.95)))
    w[contradicted] *= 0.3
    clf2 = MultiThemeClassifier(C=C).fit(X, y, w)

    sp_ = _align_stance(sclf, sclf.predict_proba(X))
    st, sw = train.stance.copy(), train.stance_weight.copy()
    weak_rows = ~train.hand
    confident = weak_rows & (sp_.max(axis=1) > 0.8)
    st[confident] = sp_[confident].argmax(axis=1)
    sw[confident] = np.maximum(sw[confident], 0.6)
    rows = np.flatnonzero(st >= 0)
    sclf2 = _stance_classifier(C)
    sclf2.fit(X[rows], st[rows], sample_weight=sw[rows])
    return clf2, sclf2


def prevalence_thresholds(scores: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Thresholds giving each theme the positive rate its weak labels have (no hand labels)."""
    out = np.full(scores.shape[1], 0.5)
    for j in range(scores.shape[1]):
        known = weak[:, j] >= 0
        rate = float((weak[known, j] == 1).mean()) if known.any() else 0.0
        if 0 < rate < 1:
            out[j] = float(np.clip(np.quantile(scores[:, j], 1 - rate), 0.2, 0.8))
    return out


def f1_thresholds(scores: np.ndarray, truth: np.ndarray, default: float = 0.5) -> np.ndarray:
    """Per-theme threshold maximising F1 on held-out scores (ties: closest to default).
    Rows whose truth is -1 (not labelled for that theme) are left out."""
    grid = np.round(np.arange(0.1, 0.91, 0.025), 3)
    out = np.full(scores.shape[1], default)
    for j in range(scores.shape[1]):
        rows = truth[:, j] >= 0
        y = truth[rows, j].astype(bool)
        if y.sum() < 2:
            continue
        best = (-1.0, 0.0)
        for t in grid:
            pred = scores[rows, j] >= t
            tp = float((pred & y).sum())
            f1 = 2 * tp / max(pred.sum() + y.sum(), 1)
            key = (round(f1, 4), -abs(t - default))
            if key > best:
                best = key
                out[j] = t
    return out


def stance_bias_for(probs: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Additive log-prior offsets per stance maximising macro-F1 on held-out predictions."""
    from sklearn.metrics import f1_score

    bias = np.zeros(len(STANCES))
    logp = np.log(probs + 1e-9)
    labels = list(range(len(STANCES)))
    for _ in range(2):  # coordinate ascent, two sweeps
        for k in range(len(STANCES)):
            best = (-1.0, 0.0)
            for b in np.arange(-1.5, 1.51, 0.25):
                trial = bias.copy()
                trial[k] = b
                pred = (logp + trial).argmax(axis=1)
                f1 = f1_score(truth, pred, labels=labels, average="macro", zero_division=0)
                key = (round(f1, 4), -abs(b))
                if key > best:
                    best = key
                    bias[k] = b
    return bias


def group_folds(groups: Sequence[str], k: int = 5) -> list[np.ndarray]:
    """Row indices of k folds, each holding whole groups (letters), balanced by size."""
    groups = np.asarray(groups)
    uniq, counts = np.unique(groups, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    folds: list[list[str]] = [[] for _ in range(min(k, len(uniq)))]
    sizes = np.zeros(len(folds))
    for g in uniq[order]:
        f = int(sizes.argmin())
        folds[f].append(g)
        sizes[f] += counts[list(uniq).index(g)]
    return [np.flatnonzero(np.isin(groups, f)) for f in folds]


@dataclass
class CVResult:
    theme_scores: np.ndarray  # out-of-fold theme scores for the hand-labelled rows
    stance_probs: np.ndarray
    truth_themes: np.ndarray
    truth_stance: np.ndarray


def cross_validate(
    weak: TrainingSet,
    hand: TrainingSet,
    codebook: Codebook,
    k: int = 5,
    *,
    self_train: bool = False,
) -> CVResult:
    """Out-of-fold predictions for hand labels, grouped by letter.

    Each fold trains on all weak labels plus the hand labels of the other folds.
    """
    groups = [it.letter or f"row{i}" for i, it in enumerate(hand.items)]
    theme_scores = np.zeros(hand.themes.shape)
    stance_probs = np.zeros((len(hand), len(STANCES)))
    for rows in group_folds(groups, k):
        rest = np.setdiff1d(np.arange(len(hand)), rows)
        train = TrainingSet.concat([weak, hand.subset(rest)])
        # Self-training changes little and doubles the cost: the folds skip it.
        themes, stance = _fit_pipelines(train, codebook, self_train=self_train)
        model = TaggerModel(codebook.theme_ids, themes, stance)
        t, s = model.scores([hand.items[i] for i in rows])
        theme_scores[rows] = t
        stance_probs[rows] = s
    return CVResult(theme_scores, stance_probs, hand.themes.astype(int), hand.stance)


def train_model(
    corpus_items: Sequence[Item],
    codebook: Codebook,
    hand: TrainingSet | None = None,
    *,
    tune_folds: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> TaggerModel:
    """Train theme and stance pipelines from the corpus, plus hand labels if given.

    Thresholds match each theme's weak-label prevalence over the corpus, before the
    margins for a first and a second theme (FIRST_ and SECOND_THEME_MARGIN). With
    `tune_folds` > 1 and hand labels from several letters they are instead tuned on the
    hand labels held out by an inner grouped cross-validation (`tune_folds` extra fits),
    shrunk halfway to the prevalence ones (`sendlens train --tune-thresholds K`), and
    per-stance log-prior offsets (`stance_bias_for`) are fitted on the same held-out
    predictions when at least MIN_STANCE_LABELS hand labels give a stance. That is
    off by default: with dev.jsonl's 332 labels it scored lower in grouped CV (theme
    macro-F1 0.832 against 0.841, stance 0.820 against 0.832; read alone, stance 0.817
    against 0.838; measured 2026-12-04 with both margins, which the tuning does not take
    into account) and takes K + 1 times as long.
    """
    started = time.time()
    say = progress or (lambda _f, _m: None)
    say(0.0, "weak labels from the codebook's patterns and the sections")
    weak = weak_training_set(corpus_items, codebook)
    has_hand = hand is not None and len(hand) > 0
    train = TrainingSet.concat([weak, hand]) if has_hand else weak
    themes, stance = _fit_pipelines(train, codebook, say=say)
    say(0.9, "setting each theme's threshold")
    model = TaggerModel(codebook.theme_ids, themes, stance,
                        recommendation_sections=codebook.stance.recommendation_sections,
                        neutral_sections=codebook.stance.neutral_sections,
                        fixed_wording_sections=codebook.fixed_wording_sections,
                        second_theme_margin=SECOND_THEME_MARGIN,
                        first_theme_margin=FIRST_THEME_MARGIN)
    tuning = "prevalence of weak labels over the corpus"
    scores, _ = model.scores(list(corpus_items))
    by_prevalence = prevalence_thresholds(scores, weak.themes)
    themes.named_steps["clf"].thresholds_ = by_prevalence
    if has_hand:
        tuning += (f"; {len(hand)} hand label{'' if len(hand) == 1 else 's'} in the training "
                   f"data (weight {HAND_WEIGHT:g})")
    # Labels with no letter are no second letter: `train` counts only named letters too.
    if has_hand and tune_folds > 1 and len({it.letter for it in hand.items if it.letter}) >= 2:
        cv = cross_validate(weak, hand, codebook, k=tune_folds)
        by_f1 = f1_thresholds(cv.theme_scores, cv.truth_themes)
        # A few hundred labels give noisy F1 optima: shrink them towards the prevalence
        # thresholds, which are estimated from thousands of corpus sentences.
        tuned = THRESHOLD_SHRINK * by_f1 + (1 - THRESHOLD_SHRINK) * by_prevalence
        # A theme no hand label judges (added after the files were made) keeps its own.
        judged = (cv.truth_themes >= 0).any(axis=0)
        themes.named_steps["clf"].thresholds_ = np.where(judged, tuned, by_prevalence)
        tuning = (f"F1 on held-out hand labels ({tune_folds}-fold cross-validation grouped "
                  "by letter), shrunk halfway to the prevalence of weak labels")
        known = cv.truth_stance >= 0
        if known.sum() >= MIN_STANCE_LABELS:
            model.stance_bias = stance_bias_for(cv.stance_probs[known], cv.truth_stance[known])
        else:
            tuning += (f"; no stance bias fitted ({int(known.sum())} hand labels give a "
                       f"stance, fewer than {MIN_STANCE_LABELS})")
    model.meta = build_meta(codebook, weak, hand, tuning, time.time() - started)
    model.meta["training"]["tune_folds"] = tune_folds if tuning.startswith("F1") else 0
    model.meta["thresholds"] = {
        t: float(v) for t, v in zip(codebook.theme_ids, model.thresholds, strict=True)
    }
    model.meta["stance_bias"] = {
        s: float(b) for s, b in zip(STANCES, model.stance_bias, strict=True)
    }
    model.meta["recommendation_sections"] = list(model.recommendation_sections)
    model.meta["neutral_sections"] = list(model.neutral_sections)
    model.meta["fixed_wording_sections"] = list(model.fixed_wording_sections)
    model.meta["second_theme_margin"] = model.second_theme_margin
    model.meta["first_theme_margin"] = model.first_theme_margin
    return model


def build_meta(
    codebook: Codebook,
    weak: TrainingSet,
    hand: TrainingSet | None,
    tuning: str,
    seconds: float,
) -> dict[str, Any]:
    """What a model was trained from and with: enough to reproduce it or see it is stale."""
    letters = {it.letter for it in weak.items if it.letter}
    weak_pos = {
        t: int((weak.themes[:, j] == 1).sum()) for j, t in enumerate(codebook.theme_ids)
    }
    hand_summary: dict[str, Any] = {"n": 0}
    if hand is not None and len(hand):
        hand_summary = {
            "n": len(hand),
            "letters": len({it.letter for it in hand.items if it.letter}),
            "themes": {
                t: int((hand.themes[:, j] == 1).sum()) for j, t in enumerate(codebook.theme_ids)
            },
            "stance": {s: int((hand.stance == k).sum()) for k, s in enumerate(STANCES)},
        }
    return {
        "format": MODEL_FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "codebook_path": str(codebook.path),
        "codebook_sha256": codebook.sha256,
        "themes": codebook.theme_ids,
        "stances": list(STANCES),
        "training": {
            "corpus_sentences": len(weak),
            "corpus_letters": len(letters),
            "weak_theme_positives": weak_pos,
            "weak_stance": {s: int((weak.stance == k).sum()) for k, s in enumerate(STANCES)},
            "hand_labels": hand_summary,
            "threshold_tuning": tuning,
            "seconds": round(seconds, 1),
        },
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "joblib": joblib.__version__,
        },
    }


def model_version(meta: dict[str, Any]) -> str:
    """A readable, sortable version id: UTC time plus a short codebook hash."""
    stamp = meta.get("created_at", "").replace("-", "").replace(":", "").replace("T", "-")
    return f"{stamp.rstrip('Z')}-{meta.get('codebook_sha256', '')[:8]}"


class ModelFileError(RuntimeError):
    """A saved model that cannot be read (truncated, damaged, a file missing). `problem`
    says what is wrong; the message adds what to do about it."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem}; a new one is trained by `sendlens tag` or `train`")
        self.problem = problem


def save_model(model: TaggerModel, directory: Path) -> Path:
    """Write pipelines (joblib) and meta.json into `directory`; return it.

    Written beside it first and renamed into place, so that a run killed while saving
    (or a full disk) leaves no half-written model, only a `.partial-*` folder that the
    next save clears."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    for old in directory.parent.glob(".partial-*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = directory.with_name(f".partial-{directory.name}")
    tmp.mkdir()
    try:
        joblib.dump(
            {
                "theme_ids": model.theme_ids,
                "themes": model.themes,
                "stance": model.stance,
                "stance_bias": model.stance_bias,
                "recommendation_sections": model.recommendation_sections,
                "neutral_sections": model.neutral_sections,
                "fixed_wording_sections": model.fixed_wording_sections,
                "second_theme_margin": model.second_theme_margin,
                "first_theme_margin": model.first_theme_margin,
            },
            tmp / "model.joblib",
            compress=3,
        )
        (tmp / "meta.json").write_text(json.dumps(model.meta, indent=2), encoding="utf-8")
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.filename is None:
            # joblib's write errors name no file: "No space left on device" of what?
            exc.filename = str(directory)
        raise
    return directory


def load_model(directory: Path) -> TaggerModel:
    """Read a model written by save_model (ModelFileError, naming the file, when it
    cannot be read)."""
    try:
        blob = joblib.load(directory / "model.joblib")
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        return TaggerModel(
            blob["theme_ids"], blob["themes"], blob["stance"], np.asarray(blob["stance_bias"]),
            meta,
            # Each absent from models saved before it.
            tuple(blob.get("recommendation_sections", ())),
            tuple(blob.get("neutral_sections", ())),
            tuple(blob.get("fixed_wording_sections", ())),
            float(blob.get("second_theme_margin", 0.0)),
            float(blob.get("first_theme_margin", 0.0)),
        )
    except Exception as exc:  # noqa: BLE001 - unpickling a damaged file raises anything
        what = f"{exc.filename}" if isinstance(exc, OSError) and exc.filename else str(directory)
        raise ModelFileError(
            f"the model in {what} cannot be read ({type(exc).__name__}: "
            f"{str(exc) or 'the file is empty or cut short'})") from exc


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, as label files are recorded in a model's metadata
    (OSError when it cannot be read)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Models made before the codebook's hash was of its content recorded the hash of the
# file's text. The packaged file's comments have changed since: its earlier texts' hashes,
# and the content hash each had, so that a model of the same content stays current.
EARLIER_PACKAGED_CODEBOOKS = {
    "a7ddb96f4797a8a2bd5b198de6385f8e4d22b92b95977f242be65533dc46b24b":
        "6d187159628930f57a068618e3cd635132b49637d3c72866061af8b311801d4e",
}


def staleness(meta: dict[str, Any], codebook: Codebook,
              corpus: tuple[int, int] | None = None) -> list[str]:
    """Reasons a model no longer matches the codebook, the libraries or (given `corpus`,
    its letters and passages now: `store.corpus_size`) the corpus it learnt its weak
    labels from (empty: current). A corpus built in two imports was otherwise tagged by
    a model of the first one's letters: a fifth of its tags differed from a corpus of
    the same letters built at once."""
    reasons = []
    training = meta.get("training", {})
    was = (training.get("corpus_letters"), training.get("corpus_sentences"))
    if corpus is not None and None not in was and tuple(was) != tuple(corpus):
        reasons.append(f"its weak labels came from {was[0]:,} letters ({was[1]:,} passages); "
                       f"the corpus now holds {corpus[0]:,} ({corpus[1]:,})")
    made = meta.get("format")
    if made != MODEL_FORMAT:
        by = ("an older sendlens" if isinstance(made, int) and made < MODEL_FORMAT
              else "a newer sendlens" if isinstance(made, int) else "an unknown program")
        reasons.append(f"made by {by} (model format {made}; this one makes format "
                       f"{MODEL_FORMAT})")
    recorded = meta.get("codebook_sha256")
    if (recorded not in (codebook.sha256, codebook.text_sha256, codebook.full_sha256)
            and EARLIER_PACKAGED_CODEBOOKS.get(str(recorded)) != codebook.full_sha256):
        reasons.append(f"codebook changed since training ({codebook.path})")
    if meta.get("themes") != codebook.theme_ids:
        missing = [t for t in codebook.theme_ids if t not in meta.get("themes", [])]
        gone = [t for t in meta.get("themes", []) if t not in codebook.theme_ids]
        said = ([f"it does not know the codebook's theme{'' if len(missing) == 1 else 's'} "
                 f"{', '.join(missing)}, which its tags therefore never name"] if missing
                else []) + ([f"its tags name {', '.join(gone)}, which the codebook no longer "
                             "has"] if gone else [])
        reasons.append("theme list differs from the codebook" + (
            ": " + "; ".join(said) if said else
            ": the same themes in another order, which the tables and columns follow"))
    trained_with = meta.get("versions", {}).get("scikit-learn")
    if trained_with and trained_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        reasons.append(f"trained with scikit-learn {trained_with}, running {sklearn.__version__}")
    # A new numpy major version may not read the model's arrays the same way.
    trained_np = meta.get("versions", {}).get("numpy")
    if trained_np and trained_np.split(".")[0] != np.__version__.split(".")[0]:
        reasons.append(f"trained with numpy {trained_np}, running {np.__version__}")
    # A label file edited since: a retrain reads it as it is now. (One that is gone is no
    # reason: the model keeps what it learnt from it, and a retrain would lose that.)
    for path, sha in zip(training.get("label_files", []), training.get("label_sha256", []),
                         strict=False):
        try:
            now = file_digest(Path(path))
        except OSError:
            continue
        if now != sha:
            reasons.append(f"hand labels changed since training ({path})")
    return reasons
