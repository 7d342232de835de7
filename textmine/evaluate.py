"""How good the tagger is: metrics against hand labels, grouped CV, the model card.

Two settings are measured, matching how sendlens is used:
- no hand labels: a model trained from the corpus alone (weak labels) is scored on
  the gold file, which it never saw;
- with hand labels: cross-validation grouped by letter, each fold trained on the
  whole corpus plus the gold labels of the other folds' letters, scored on the
  held-out letters.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import platform
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from sendlens.store import Corpus
from textmine.codebook import STANCES, Codebook, added_themes, load_codebook
from textmine.intervals import INTERVAL_REPS, interval_text, letter_intervals
from textmine.model import (
    BARE_WEIGHT,
    FIRST_THEME_MARGIN,
    HAND_WEIGHT,
    SECOND_THEME_MARGIN,
    TaggerModel,
    group_folds,
    train_model,
)
from textmine.tag import (
    PassageMatcher,
    Progress,
    TaggingError,
    corpus_rows,
    current_meta,
    file_sha256,
    hand_set,
    label_key,
    letter_ids,
    read_labels,
    removed_themes,
    renamed_beside,
    stale_reasons,
    unlabelled_themes,
)


def compute_metrics(
    theme_ids: Sequence[str],
    true_themes: Sequence[Sequence[str]],
    pred_themes: Sequence[Sequence[str]],
    true_stance: Sequence[str | None],
    pred_stance: Sequence[str],
    *,
    added_themes: Collection[str] = (),
) -> dict[str, Any]:
    """Per-theme P/R/F1, macro and micro F1, stance confusion matrix and macro-F1.

    `added_themes`: themes the gold file could not have been labelled with (added to
    the codebook after it), left out of macro-F1 unless the file has them.
    """
    ids = list(theme_ids)

    def indicator(lists: Sequence[Sequence[str]]) -> np.ndarray:
        rows = [[t in set(ts) for t in ids] for ts in lists]
        return np.array(rows, dtype=int).reshape(-1, len(ids))

    Y, P = indicator(true_themes), indicator(pred_themes)
    p, r, f, support = precision_recall_fscore_support(Y, P, average=None, zero_division=0)
    per_theme = {
        t: {
            "precision": round(float(p[j]), 3),
            "recall": round(float(r[j]), 3),
            "f1": round(float(f[j]), 3),
            "support": int(support[j]),
        }
        for j, t in enumerate(ids)
    }
    # Macro averages run over the labels that occur in the gold file or the predictions
    # (as scikit-learn's own default): a small file without a theme or stance must not
    # score it 0, while predicting a label the file rules out ("themes": []) still costs.
    # A theme added to the codebook after the labelling is not ruled out by the file:
    # its predictions cost neither macro- nor micro-F1, and are reported.
    added = set(added_themes)
    # Themes added to the codebook after the labelling that the file never labels.
    unlabelled = [j for j in range(len(ids)) if not support[j] and ids[j] in added]
    present = [j for j in range(len(ids))
               if support[j] > 0 or (P[:, j].any() and j not in unlabelled)]
    macro = float(np.mean([f[j] for j in present])) if present else 0.0
    scored = [j for j in range(len(ids)) if j not in unlabelled]
    micro = (float(f1_score(Y[:, scored], P[:, scored], average="micro", zero_division=0))
             if len(Y) and scored else 0.0)
    known = [i for i, s in enumerate(true_stance) if s in STANCES]
    st_true = [true_stance[i] for i in known]
    st_pred = [pred_stance[i] for i in known]
    labels = list(STANCES)
    occurring = [s for s in labels if s in set(st_true) | set(st_pred)]
    cm = confusion_matrix(st_true, st_pred, labels=labels) if known else np.zeros((4, 4), int)
    sp, sr, sf, ss = precision_recall_fscore_support(
        st_true, st_pred, labels=labels, average=None, zero_division=0
    ) if known else (np.zeros(4),) * 4
    return {
        "n": len(Y),
        "stance_n": len(known),  # labels that give a stance: 0, and nothing was scored
        "themes": per_theme,
        "theme_macro_f1": round(macro, 3),
        "theme_micro_f1": round(micro, 3),
        "stance": {
            s: {"precision": round(float(sp[k]), 3), "recall": round(float(sr[k]), 3),
                "f1": round(float(sf[k]), 3), "support": int(ss[k])}
            for k, s in enumerate(labels)
        },
        "stance_confusion": {"labels": labels, "matrix": cm.tolist()},
        "stance_macro_f1": round(
            float(f1_score(st_true, st_pred, labels=occurring, average="macro", zero_division=0)),
            3) if known else 0.0,
        "macro_over": {"themes": [ids[j] for j in present], "stances": occurring},
        "unlabelled_themes": [ids[j] for j in unlabelled],
        # Themes the file never labels, and how often the model gave them anyway.
        "unlabelled_predictions": {ids[j]: int(P[:, j].sum()) for j in unlabelled
                                   if P[:, j].any()},
        "stance_accuracy": round(float(np.mean(np.array(st_true) == np.array(st_pred))), 3)
        if known else 0.0,
    }


def _gold(corpus: Corpus, gold: Path,
          codebook: Codebook) -> tuple[list[dict], PassageMatcher, dict[str, int]]:
    """The gold records, the corpus to find them in, and the themes left out of them
    (theme id -> labels naming it): themes the codebook no longer has."""
    records, dropped = gold_labels(gold, codebook, removed_themes(corpus, codebook))
    rows = corpus_rows(corpus)
    if not rows:
        raise TaggingError("the corpus has no passages: run `sendlens import` first")
    return records, PassageMatcher(rows), dropped


def gold_labels(gold: Path, codebook: Codebook | None,
                removed: Collection[str] | None = None) -> tuple[list[dict], dict[str, int]]:
    """The labels to score against, and the themes left out of them. Labels whose themes
    the codebook no longer has lose those themes, as a retrain drops them: the file a
    model was trained on can still measure it. Given `removed` (tag.removed_themes: the
    themes a model or the labelling scheme had), any other theme is an error, as it is to
    `train --labels` ("ehcp" for ehc_plans scored its 32 sentences as about nothing);
    without it, a theme one typo from the codebook's ("helth_input") or a file naming
    none of its themes is. A file with no label is an error too. Without a codebook (it
    cannot be read), the file alone is checked."""
    records = read_labels(gold)
    if not records:
        raise TaggingError(f"{gold}: no labelled sentences")
    if codebook is None:
        return records, {}
    known = set(codebook.theme_ids)
    named = {t for r in records for t in r["themes"]}
    unknown = named - known
    if not unknown:
        return records, {}
    # A theme of an earlier codebook is no typo, however like its new name it looks
    # ("social_care" renamed "social_care_sb"): train reads it so too.
    typo = any(difflib.get_close_matches(t, known, n=1, cutoff=0.8)
               for t in unknown - set(removed or ()))
    if typo:
        # A theme the codebook removed is no error: the typo's line is named, not its.
        read_labels(gold, codebook, removed or ())  # raises, naming the line and the theme
    if not named & known:
        read_labels(gold, codebook)  # raises, naming the line and the theme
    if removed is not None and unknown - set(removed):
        read_labels(gold, codebook, removed)  # raises, naming the line and the theme
    if renamed_beside([r["themes"] for r in records], known):
        read_labels(gold, codebook, unknown)  # raises, naming the line and both themes
    dropped = {t: sum(t in r["themes"] for r in records) for t in sorted(unknown)}
    for r in records:
        r["themes"] = [t for t in r["themes"] if t in known]
    return records, dropped


def _letter_groups(records: Sequence[dict[str, Any]]) -> list[str]:
    """Each label's letter; a label that names none counts as a letter of its own."""
    return [str(r.get("letter") or f"row{i}") for i, r in enumerate(records)]


def evaluate_model(
    model: TaggerModel, records: Sequence[dict[str, Any]], matcher: PassageMatcher
) -> dict[str, Any]:
    """Score a trained model on hand-labelled records (matched to corpus context), and
    on the same sentences read alone (under "without_context")."""
    found = [matcher.item_for(r["text"], r.get("letter")) for r in records]
    result = _metrics(model.theme_ids, records, model.predict([it for it, _ in found]))
    result["without_context"] = _metrics(
        model.theme_ids, records, model.predict([it.alone() for it, _ in found])
    )
    result["matched_to_corpus"] = sum(pid is not None for _, pid in found)
    result["not_found"] = _not_found(records, found)
    result["letters"] = len(set(_letter_groups(records)))
    return result


def _not_found(records: Sequence[dict[str, Any]],
               found: Sequence[tuple[Any, str | None]]) -> list[str]:
    """The sentences not found in the corpus, with their line of the labels file and their
    letter ("line 77, x.pdf: Plans are ..."), so that a user can see why: a letter not
    imported, a sentence cut differently, a page's running head that sendlens removes."""
    def where(r: dict[str, Any]) -> str:
        said = ", ".join(filter(None, (str(r.get("source", "")).rpartition(", ")[2],
                                       r.get("letter"))))
        return f"{said}: " if said else ""

    return [where(r) + r["text"][:70]
            + ("..." if len(r["text"]) > 70 else "")
            for r, (_, pid) in zip(records, found, strict=True) if pid is None]


def _metrics(
    theme_ids: Sequence[str], records: Sequence[dict[str, Any]], preds: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    columns = (
        [r["themes"] for r in records],
        [p["themes"] for p in preds],
        [r.get("stance") for r in records],
        [p["stance"] for p in preds],
    )
    added = added_themes(theme_ids)
    result = compute_metrics(theme_ids, *columns, added_themes=added)
    intervals = letter_intervals(theme_ids, [r.get("letter") for r in records], *columns,
                                 added_themes=added)
    if intervals:
        result["intervals"] = intervals
    return result


def evaluate_gold(corpus: Corpus, model: TaggerModel, gold: Path) -> dict[str, Any]:
    """Held-out evaluation of `model` on a gold JSONL file."""
    codebook = load_codebook(corpus=corpus.root)
    records, matcher, dropped = _gold(corpus, gold, codebook)
    return {**evaluate_model(model, records, matcher), "dropped_themes": dropped}


def cross_validate_gold(
    corpus: Corpus, gold: Path, *, folds: int = 5, codebook: Codebook | None = None,
    progress: Progress | None = None, tune_folds: int = 0,
) -> dict[str, Any]:
    """Grouped-by-letter CV: train on corpus + other folds' gold, score held-out letters.
    `progress` is told (fraction done, what is happening) before each fold. With
    `tune_folds`, each fold's model tunes its thresholds on its own training labels by an
    inner cross-validation, as `sendlens train --tune-thresholds` does."""
    codebook = codebook or load_codebook(corpus=corpus.root)
    records, matcher, dropped = _gold(corpus, gold, codebook)
    groups = _letter_groups(records)
    if folds > (n_groups := len(set(groups))):
        # Each fold holds whole letters: more folds than letters would leave some empty.
        raise TaggingError(
            f"{gold}: {folds} folds, but the labels come from {n_groups} letter"
            + (f"s; use --folds {n_groups} or fewer" if n_groups > 1 else
               ": cross-validation by letter needs labels from at least 2")
            + " (a label with no \"letter\" counts as a letter of its own)")
    found = [matcher.item_for(r["text"], r.get("letter")) for r in records]  # looked up once
    # The file as a whole decides which themes it labelled, not the part a fold holds.
    unlabelled = unlabelled_themes(records, codebook)
    preds: list[dict[str, Any]] = [{} for _ in records]
    bare: list[dict[str, Any]] = [{} for _ in records]
    for k, rows in enumerate(group_folds(groups, folds)):
        if progress is not None:
            progress(k / folds, f"fold {k + 1} of {folds}")
        rest = np.setdiff1d(np.arange(len(records)), rows)
        hand = hand_set([records[i] for i in rest], matcher, codebook,
                        unlabelled=[unlabelled] * len(rest))
        model = train_model(matcher.items, codebook, hand, tune_folds=tune_folds)
        held = [found[i][0] for i in rows]
        for i, p, b in zip(
            rows, model.predict(held), model.predict([h.alone() for h in held]), strict=True
        ):
            preds[i], bare[i] = p, b
    result = _metrics(codebook.theme_ids, records, preds)
    result["without_context"] = _metrics(codebook.theme_ids, records, bare)
    result["matched_to_corpus"] = sum(pid is not None for _, pid in found)
    result["not_found"] = _not_found(records, found)
    result["folds"] = folds
    result["tune_folds"] = tune_folds
    result["letters"] = len(set(groups))
    result["dropped_themes"] = dropped
    return result


def no_label_evaluation(
    corpus: Corpus, gold: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Train from the corpus alone (no hand labels at all) and score on the gold file."""
    codebook = load_codebook(corpus=corpus.root)
    records, matcher, dropped = _gold(corpus, gold, codebook)
    if progress is not None:
        progress(0.0, "training without hand labels")
    started = time.time()
    model = train_model(matcher.items, codebook, None)
    result = evaluate_model(model, records, matcher)
    result["train_seconds"] = round(time.time() - started, 1)
    result["thresholds"] = model.meta.get("thresholds", {})
    for key in ("recommendation_sections", "neutral_sections", "fixed_wording_sections"):
        result[key] = model.meta.get(key, [])
    result["training"] = model.meta.get("training", {})
    result["dropped_themes"] = dropped
    return result


# --- the model card -----------------------------------------------------------------------


def _theme_table(result: dict[str, Any]) -> list[str]:
    lines = ["| theme | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    for t, m in result["themes"].items():
        lines.append(
            f"| `{t}` | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']} |"
        )
    lines.append(
        f"| **macro F1** | | | **{result['theme_macro_f1']:.3f}**"
        f"{_interval(result, 'theme_macro_f1')} | |"
    )
    lines.append(f"| micro F1 | | | {result['theme_micro_f1']:.3f}"
                 f"{_interval(result, 'theme_micro_f1')} | |")
    return lines


def _interval(result: dict[str, Any], key: str) -> str:
    return interval_text((result.get("intervals") or {}).get(key))


def _stance_table(result: dict[str, Any]) -> list[str]:
    labels = result["stance_confusion"]["labels"]
    lines = [
        "| gold \\ predicted | " + " | ".join(labels) + " | F1 |",
        "| --- | " + " | ".join("---:" for _ in labels) + " | ---: |",
    ]
    for s, row in zip(labels, result["stance_confusion"]["matrix"], strict=True):
        lines.append(
            f"| {s} | " + " | ".join(str(v) for v in row) + f" | {result['stance'][s]['f1']:.2f} |"
        )
    lines.append(
        f"\nStance macro-F1 **{result['stance_macro_f1']:.3f}**"
        f"{_interval(result, 'stance_macro_f1')}, accuracy "
        f"{result['stance_accuracy']:.3f}{_interval(result, 'stance_accuracy')}."
    )
    return lines


def _thousands(value: object) -> str:
    """6747 as "6,747", as the CLI and the app write counts; anything else as it is."""
    return f"{value:,}" if isinstance(value, int) else str(value)

# sha256 of the project's hand labels (../shared/gold/dev.jsonl): what the card says of
# their annotators and of the codebook's revisions holds for that file only.
PROJECT_GOLD_SHA256 = "0e8d43ad72f77b3c294fa536455189d170b079f2b2ddae8983d48dee00b365e7"


def model_card(
    no_labels: dict[str, Any], with_labels: dict[str, Any] | None, *, gold: Path, command: str
) -> str:
    """The model card as Markdown (docs/MODEL_CARD.md). Of another gold file than the
    project's, it does not repeat what is known of the project's: its annotators'
    agreement, its size, the codebook revised against it."""
    training = no_labels.get("training", {})
    ours = hashlib.sha256(gold.read_bytes()).hexdigest() == PROJECT_GOLD_SHA256

    def named(key: str) -> str:
        return ", ".join(f"`{x}`" for x in no_labels.get(key, [])) or "none"

    advice = named("recommendation_sections")
    out = [
        "# Model card: sendlens theme and stance tagger",
        "",
        f"Generated by `{command}` on {time.strftime('%Y-%m-%d')} "
        f"(Python {platform.python_version()}, scikit-learn {sklearn.__version__}). "
        "Do not edit by hand: re-run the command.",
        "",
        "## What it does",
        "",
        "Tags each sentence of an area SEND inspection letter with zero or more of the "
        "codebook's themes and exactly one stance (positive, negative, mixed, neutral). "
        "See `textmine/codebook.yaml` for the themes and `sendlens themes` for the list.",
        "",
        "## How it is trained",
        "",
        "- **Weak labels, no hand labels needed.** Each theme's regular-expression "
        "patterns in the codebook label sentences that match them (and, more weakly, "
        "anaphoric sentences following a match); sentences with no evidence near them are "
        "negatives. Stance comes from cue lexicons (positive, negative, contrast markers "
        "for mixed) combined with the prior of the section the sentence sits in "
        "(strengths lean positive, weaknesses and actions negative, context neutral); a "
        "praise word a few words after a negation (\"not identified quickly\") is not "
        "counted as praise.",
        "- **Discriminative model.** One logistic regression per theme and a multinomial "
        "one for stance over TF-IDF word 1-2-grams of the sentence, word unigrams of the "
        "previous and next sentences and the heading (separate vocabularies), and the "
        "canonical section. One round of self-training replaces uncertain weak labels "
        "with the model's confident predictions. Every training sentence is also seen "
        f"stripped of all context, at {BARE_WEIGHT:g} of its weight, so that a sentence "
        "classified on its own is still scored sensibly; the self-training round counts "
        "these copies' labels as uncertain, since they came partly from the context the "
        "copies lack.",
        "- **Recommendations are negative.** In the codebook's recommendation sections "
        f"({advice}) a sentence the model reads as positive or mixed is tagged negative, "
        "as the codebook defines a recommendation; its scores stay the model's. So is a "
        "sentence read with no section that is worded as one (\"Leaders must make sure "
        "...\") and read as positive. A sentence with not one word the model knows "
        "(\"ok\") is neutral: its scores are the classes' priors alone.",
        "- **Background and fixed wording.** A sentence of the codebook's description "
        f"sections ({named('neutral_sections')}) is tagged neutral, and one of its "
        f"fixed-wording sections ({named('fixed_wording_sections')}: the 2023 reports' "
        "\"Inspection outcome\", the same words in every report) gets no theme; the gold "
        "labels hold no sentence of that block.",
        "- **Hand labels** (`sendlens train --labels FILE.jsonl`, corrections saved in "
        f"the app) are added with a weight of {HAND_WEIGHT:g} weak labels each. Each "
        "theme's threshold makes its share of tagged corpus sentences match its share "
        "under the weak labels (before the margins for a first and a second theme, below), with or "
        "without hand labels. Thresholds (and per-stance prior offsets) tuned on held-out "
        "hand labels by an inner cross-validation grouped by letter (each set halfway "
        "between the tuned and the prevalence threshold) are an option "
        "(`sendlens train --tune-thresholds K`; measure them with `sendlens evaluate --cv "
        "--tune-thresholds K`), not the default: on a few hundred labels they gave noisy "
        "optima, lower held-out F1 and several times the training time.",
        "- **A second theme** of a sentence (beside its strongest, the one furthest over "
        "its threshold) needs its score "
        f"{SECOND_THEME_MARGIN:g} over its own threshold: most false themes were extras "
        "beside a right one, barely over the line (grouped CV with hand labels 0.827 "
        "without the margin, measured once when it was adopted, 2026-12-04; not re-run "
        "here). A sentence with no theme over its threshold takes its "
        f"strongest if that is within {FIRST_THEME_MARGIN:g} of its threshold, except "
        "in the description sections: annotators give a theme to about 87% of the "
        "sentences of the evaluative sections, the thresholds alone to 78% (measured "
        "likewise on dev.jsonl).",
        "",
        f"Corpus used here: {_thousands(training.get('corpus_sentences', '?'))} sentences from "
        f"{training.get('corpus_letters', '?')} letters; training took "
        f"{no_labels.get('train_seconds', '?')} s.",
        "",
        "## Evaluation data",
        "",
        f"`{gold.name}`: {no_labels['n']} hand-labelled sentences from "
        f"{no_labels['letters']} letters ({no_labels.get('matched_to_corpus', '?')} found "
        "in the corpus, which gives them their section and neighbours). "
        + ("Annotators agreed at theme F1 0.79-0.90 and stance accuracy 0.90 before "
           "adjudication." if ours else "How far its annotators agreed is not known to "
           "sendlens: read the figures below beside it."),
        "",
        "In brackets after a headline figure: its 95% interval from "
        f"{INTERVAL_REPS:,} resamples of the letters (whole letters drawn with "
        "replacement), that is, how far the figure could move on other letters like "
        "these. With a few hundred sentences from a few dozen letters it is several "
        "points wide: read differences between models inside it as noise.",
        "",
        "## 1. Trained with no hand labels",
        "",
        "The model never saw the gold file: it was trained on weak labels of the whole "
        "corpus and scored on the gold sentences.",
        "",
        *_theme_table(no_labels),
        "",
        *_stance_table(no_labels),
        "",
    ]
    if with_labels is not None:
        out += [
            "## 2. Trained with hand labels (grouped cross-validation)",
            "",
            f"{with_labels['folds']}-fold cross-validation grouped by letter over "
            f"{with_labels['letters']} letters: each fold is trained on the whole corpus "
            "plus the gold labels of the other folds' letters and scored on its held-out "
            "letters.",
            "",
            *_theme_table(with_labels),
            "",
            *_stance_table(with_labels),
            "",
        ]
    out += _without_context_section(no_labels, with_labels)
    out += [
        "## Limits",
        "",
        ("- Figures come from a few hundred sentences of 28 letters of the 2023 framework; "
         "a theme with a small support (the Local Offer) has wide uncertainty." if ours else
         f"- Figures come from {no_labels['n']:,} sentences of {no_labels['letters']:,} "
         "letters; a theme with a small support (its n above) has wide uncertainty."),
        "- Themes are judged on what a sentence is about; the model reads words and the "
        "immediate context only, so leadership sentences about a specific service and "
        "sentences whose subject is only named two sentences earlier are its main errors.",
        "- The codebook's patterns were revised after reading the model's errors on this "
        "gold file. Measured against sentences labelled afresh (docs/EXPERIMENTS.md), "
        "the revisions gained about 0.05 theme macro-F1 on these gold sentences but "
        "0.02-0.03 on other sentences, of the same letters or of others: about 0.03 of "
        "the figures above is likely in-sample, and sentences drawn at random from the "
        "reports score lower still (0.67-0.77 against fresh labels). The held-back "
        "letters are the honest test." if ours else
        "- The codebook's patterns were revised after reading the model's errors on the "
        "project's own hand labels (dev.jsonl), not on this file; sentences drawn at random "
        "from the reports scored 0.67-0.77 theme macro-F1 against fresh labels "
        "(docs/EXPERIMENTS.md).",
        "- Mixed stance is rare and the hardest class.",
        "- Letters of the 2016 framework and revisits have different headings; section "
        "priors map them through the canonical sections, but they are not in the gold set.",
        "",
    ]
    return "\n".join(out)


def _without_context_section(
    no_labels: dict[str, Any], with_labels: dict[str, Any] | None
) -> list[str]:
    rows = [("no hand labels", no_labels)]
    if with_labels is not None:
        rows.append(("hand labels (grouped CV)", with_labels))
    out = [
        "## 3. Sentences read without their letter",
        "",
        "`sendlens classify` finds a sentence of a corpus letter in the corpus and reads "
        "it in context, as above. A sentence it cannot find is read alone: no section, "
        "heading or neighbours. The same gold sentences, read alone:",
        "",
        "| setting | theme macro-F1 | stance macro-F1 | stance accuracy |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, result in rows:
        bare = result.get("without_context")
        if bare:
            out.append(
                f"| {name} | {bare['theme_macro_f1']:.3f} | {bare['stance_macro_f1']:.3f} "
                f"| {bare['stance_accuracy']:.3f} |"
            )
    return out + [""]


# What `record_quality` keeps of a result: the headline figures.
QUALITY_KEYS = ("theme_macro_f1", "theme_micro_f1", "stance_macro_f1", "stance_accuracy")
# Fewer labelled sentences than this are a spot check, not the model's quality.
MIN_RECORDED = 10


def cv_recording(corpus: Corpus, gold: Path, tune_folds: int = 0) -> tuple[str, str | None] | None:
    """Whether a grouped cross-validation of `gold` measures the current model, so that
    its figures may be recorded with it: None when the current model was not trained on
    `gold` (nothing to say); else (its version, None), or (its version, why not)."""
    found = current_meta(corpus)
    training = found[1].get("training", {}) if found else {}
    if not found or file_sha256(gold) not in training.get("label_sha256", []):
        return None
    version = found[0]
    # The folds trained on these labels alone: a model that also had other label files
    # or corrections saved in the app is another model.
    keys = training.get("label_texts")
    if len(training.get("label_sha256", [])) > 1 or (
            keys is not None and set(keys) != {label_key(r, letter_ids(corpus))
                                               for r in read_labels(gold)}):
        return version, (
            f"the current model {version} was trained on more hand labels than {gold.name} "
            "(other files or corrections saved in the app); the cross-validation measured "
            "models trained on it alone. To record figures, train on it alone (`sendlens "
            f"train --labels {gold} --no-stored-labels`; the corrections stay saved for a "
            "later `train`) and run this again")
    # The folds' models decide as this sendlens does; a stale model does otherwise.
    if reasons := stale_reasons(corpus, found[1], load_codebook(corpus=corpus.root)):
        return version, (f"the current model {version} is stale ({'; '.join(reasons)}); run "
                         "`sendlens tag`, then this again, to record the figures with it")
    current = int(training.get("tune_folds") or 0)
    if current != tune_folds:
        # The folds' models set their thresholds otherwise than the current model.
        how = f"--tune-thresholds {current}" if current else "no --tune-thresholds"
        return version, (f"the current model {version} was trained with {how}; run the "
                         "cross-validation the same way to record it")
    return version, None


def record_quality(
    corpus: Corpus, version: str, setting: str, gold: Path, result: dict[str, Any]
) -> str | None:
    """Store a measurement with model `version` (its meta, in the database and in its
    meta.json), so that the app's Overview can show the current model's measured quality.
    `setting` says how it was measured ("held-out labels", "cross-validation").

    A figure from another file with more sentences is kept (a 20-line spot check must not
    replace the figure of a 300-line gold set): then nothing is stored and the reason is
    returned."""
    from sendlens.store import now_iso

    if corpus.readonly:
        return ("the corpus is read-only here, so the figures are shown but not stored "
                "with the model")
    if int(result.get("n", 0)) < MIN_RECORDED:
        return (f"{result.get('n', 0)} labelled sentences are too few to stand as the model's "
                f"quality (it records a figure from {MIN_RECORDED} or more)")
    # A file without stances measures the themes only: no stance figure of 0 is kept.
    keys = [k for k in QUALITY_KEYS if k in result
            and (result.get("stance_n", 1) or not k.startswith("stance"))]
    entry: dict[str, Any] = {k: round(float(result[k]), 4) for k in keys}
    if result.get("intervals"):
        entry["intervals"] = {k: v for k, v in result["intervals"].items() if k in keys}
    # A theme in none of the labels (nor, unless added to the codebook since the labelling,
    # in the predictions) is in no figure: say so.
    if left_out := [t for t in result.get("themes", {})
                    if t not in (result.get("macro_over") or {}).get("themes", [t])]:
        entry["themes_not_scored"] = left_out
    entry.update(gold=gold.name, sentences=int(result.get("n", 0)),
                 letters=int(result.get("letters", 0)), measured_at=now_iso())
    if "folds" in result:
        entry["folds"] = int(result["folds"])
    with corpus.transaction() as con:
        row = con.execute("SELECT path, meta FROM models WHERE version = ?",
                          (version,)).fetchone()
        if row is None:
            raise TaggingError(f"no model {version} in the corpus")
        meta = json.loads(row["meta"] or "{}")
        before = meta.get("quality", {}).get(setting)
        if (before and before.get("gold") != entry["gold"]
                and before.get("sentences", 0) > entry["sentences"]):
            return (f"model {version} already has a {setting} figure from {before['gold']} "
                    f"({before['sentences']} sentences, more than these {entry['sentences']})")
        meta.setdefault("quality", {})[setting] = entry
        con.execute("UPDATE models SET meta = ? WHERE version = ?", (json.dumps(meta), version))
        directory = Path(row["path"])
        directory = directory if directory.is_absolute() else corpus.root / directory
        if (directory / "meta.json").is_file():
            # Replaced whole, inside the transaction: a failure leaves both as they were.
            tmp = directory / "meta.json.tmp"
            tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
            tmp.replace(directory / "meta.json")
    return None


def write_model_card(
    corpus: Corpus,
    gold: Path,
    output: Path,
    *,
    cv: bool = True,
    folds: int = 5,
    command: str = "sendlens evaluate GOLD --model-card",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Measure both settings and write the model card; returns the figures."""
    # One training without labels, then one per fold: share the bar out by trainings.
    share = 1 / (1 + folds) if cv else 1.0

    def part(start: float, size: float) -> Progress | None:
        if progress is None:
            return None
        return lambda f, m: progress(start + f * size, m)

    no_labels = no_label_evaluation(corpus, gold, part(0.0, share))
    with_labels = (cross_validate_gold(corpus, gold, folds=folds,
                                       progress=part(share, 1 - share)) if cv else None)
    from sendlens.export import write_file

    output.parent.mkdir(parents=True, exist_ok=True)
    write_file(output, model_card(no_labels, with_labels, gold=gold,
                                  command=command).encode("utf-8"))
    return {"no_labels": no_labels, "with_labels": with_labels}
