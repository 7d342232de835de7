"""How far a figure measured on hand labels could move on other letters: 95% intervals
from resampling whole letters (a bootstrap over letters), and how they are written.

Kept free of scikit-learn so that the app's server can format stored intervals without
loading it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from textmine.codebook import STANCES

INTERVAL_REPS = 2000
MIN_INTERVAL_LETTERS = 5


def letter_intervals(
    theme_ids: Sequence[str],
    letters: Sequence[str | None],
    true_themes: Sequence[Sequence[str]],
    pred_themes: Sequence[Sequence[str]],
    true_stance: Sequence[str | None],
    pred_stance: Sequence[str],
    *,
    reps: int = INTERVAL_REPS,
    seed: int = 0,
    added_themes: Collection[str] = (),
) -> dict[str, list[float]] | None:
    """95% intervals of the headline figures, by resampling whole letters with
    replacement (sentences of one letter share its author and wording, so resampling
    sentences would understate the spread). Macro averages follow
    `evaluate.compute_metrics` on each resample: over the labels its gold labels or
    predictions have (a theme in `added_themes`: only if its gold labels have it), and
    micro-F1 leaves out the predictions of such a theme where they have it not.

    None when a label names no letter (its letter cannot be resampled whole) or the
    labels come from fewer than MIN_INTERVAL_LETTERS letters. A figure a resample cannot
    measure (no stance label drawn) is left out of that figure's interval, not counted 0.
    """
    if any(not g for g in letters):
        return None
    names = sorted({str(g) for g in letters})
    if len(names) < MIN_INTERVAL_LETTERS:
        return None
    index = {g: i for i, g in enumerate(names)}
    where = np.array([index[str(g)] for g in letters])
    ids, stances = list(theme_ids), list(STANCES)
    # Per-letter counts, then each resample's counts as a weighted sum of the letters'.
    Y = np.array([[t in set(ts) for t in ids] for ts in true_themes], bool).reshape(-1, len(ids))
    P = np.array([[t in set(ts) for t in ids] for ts in pred_themes], bool).reshape(-1, len(ids))
    per_letter = np.zeros((len(names), 3, len(ids)))
    for k, block in enumerate((Y & P, ~Y & P, Y & ~P)):  # tp, fp, fn
        np.add.at(per_letter[:, k], where, block)
    confusion = np.zeros((len(names), len(stances), len(stances)))
    for i, (t, p) in enumerate(zip(true_stance, pred_stance, strict=True)):
        if t in stances and p in stances:
            confusion[where[i], stances.index(t), stances.index(p)] += 1
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(reps, len(names)))
    weights = np.zeros((reps, len(names)))
    np.add.at(weights, (np.repeat(np.arange(reps), len(names)), draws.ravel()), 1)

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        # NaN where nothing was there to measure.
        return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)

    def macro(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray,
              gold_only: np.ndarray | bool = False) -> np.ndarray:
        denom = 2 * tp + fp + fn
        # In this resample's gold labels or predictions; only its gold labels for a
        # `gold_only` label (a theme added to the codebook after the labelling).
        present = np.where(gold_only, tp + fn > 0, denom > 0)
        f1 = np.where(present, ratio(2 * tp, denom), 0.0)
        return ratio(f1.sum(axis=1), present.sum(axis=1).astype(float))

    tp, fp, fn = (np.einsum("rl,lt->rt", weights, per_letter[:, k]) for k in range(3))
    cm = np.einsum("rl,lij->rij", weights, confusion)
    diag = np.diagonal(cm, axis1=1, axis2=2)
    added = np.isin(ids, list(added_themes))
    # As compute_metrics: an added theme's predictions cost micro-F1 only where the gold
    # labels have it (here: this resample's), else the point figure falls outside.
    counted_fp = np.where(added & (tp + fn == 0), 0.0, fp)
    figures = {
        "theme_macro_f1": macro(tp, fp, fn, added),
        "theme_micro_f1": ratio(2 * tp.sum(1), 2 * tp.sum(1) + counted_fp.sum(1) + fn.sum(1)),
        "stance_macro_f1": macro(diag, cm.sum(axis=1) - diag, cm.sum(axis=2) - diag),
        "stance_accuracy": ratio(diag.sum(1), cm.sum(axis=(1, 2))),
    }
    return {k: [round(float(v), 3) for v in np.nanpercentile(x, [2.5, 97.5])]
            for k, x in figures.items() if np.isfinite(x).any()}


def interval_text(spread: Any) -> str:
    """" (0.80-0.86)" for a stored [low, high] interval; "" when there is none."""
    if not (isinstance(spread, list | tuple) and len(spread) == 2):
        return ""
    # Rounded outwards: to the nearest, a figure of 0.999 got the interval "(1.00-1.00)".
    low = math.floor(round(spread[0] * 100, 6)) / 100
    high = math.ceil(round(spread[1] * 100, 6)) / 100
    return f" ({low:.2f}-{high:.2f})"


def letter_draws(letters: int, columns: int | None = None, *, reps: int = INTERVAL_REPS,
                 seed: int = 0) -> np.ndarray:
    """How often each of the first `columns` (default: all) of `letters` letters is drawn
    in each of `reps` resamples of `letters` draws with replacement.

    Drawn letter by letter (each count binomial given those before it, which is the
    multinomial), so a group of thousands of letters costs only the columns asked for,
    and fewer columns are the first columns of more: the cells of a group can share one
    set of draws and still get what a call for their own columns gives."""
    k = letters if columns is None else min(columns, letters)
    rng = np.random.default_rng(seed)
    out = np.zeros((reps, k))
    left = np.full(reps, letters)
    for j in range(k):
        out[:, j] = drawn = rng.binomial(left, 1 / (letters - j))
        left = left - drawn
    return out


def pooled_share_intervals(
    positive: Sequence[float],
    negative: Sequence[float],
    judged: Sequence[float],
    letters: int,
    *,
    draws: np.ndarray | None = None,
) -> dict[str, tuple[float, float]] | None:
    """95% intervals of a theme table cell's `share_negative` and `net_stance`, by
    resampling the group's `letters` whole (its passages share their letter's author).

    The sequences hold one entry per letter that judges the theme (positive, negative
    and positive+negative+mixed passages); the group's other letters judge nothing and
    only take draws. The shares are pooled over the drawn letters, as the table pools
    them. None when fewer than MIN_INTERVAL_LETTERS letters judge the theme: with one
    letter a resample can only repeat its share, and with a handful the interval would
    claim more than they show. An interval of no width (every letter agrees, as where a
    rule fixes the stance) is left out too: resampling cannot say how far such a share
    could move. `draws` (from `letter_draws(letters, k)` for k at least the number of
    judging letters) can be shared by the cells of one group.
    """
    pos, neg, den = (np.asarray(v, dtype=float) for v in (positive, negative, judged))
    k = len(den)
    if k < MIN_INTERVAL_LETTERS or letters < k:
        return None
    if draws is None:
        draws = letter_draws(letters, k)
    # Only the judging letters' columns count: the others add nothing to either sum.
    weights = draws[:, :k]
    total = weights @ den
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, (weights @ neg) / total, np.nan)
        net = np.where(total > 0, (weights @ (pos - neg)) / total, np.nan)
    bounds = np.nanpercentile(np.vstack([share, net]), [2.5, 97.5], axis=1)  # one call
    out = {}
    for j, name in enumerate(("share_negative", "net_stance")):
        low, high = float(bounds[0, j]), float(bounds[1, j])
        out[name] = (low, high) if high - low > 1e-9 else (np.nan, np.nan)
    return out
