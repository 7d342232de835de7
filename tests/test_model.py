"""Training, thresholds, persistence and staleness of the tagger, on a synthetic corpus.

The sentences below are invented for the tests (short generic phrases in the style of
the letters), so these tests run anywhere; quality on real letters is checked in
test_tagging_e2e.py.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sendlens.store import Corpus, now_iso
from textmine.codebook import load_codebook, parse_codebook
from textmine.features import Item
from textmine.model import (
    ModelFileError,
    TaggerModel,
    TrainingSet,
    f1_thresholds,
    group_folds,
    hand_training_set,
    load_model,
    prevalence_thresholds,
    save_model,
    staleness,
    train_model,
)

SUBJECTS = {
    "co_production": ["the parent carer forum", "co-production with families"],
    "health_input": ["speech and language therapy", "the autism assessment pathway"],
    "local_offer": ["the local offer website", "information about local support"],
    "post16_transition": ["preparation for adulthood", "supported internships"],
    "ehc_plans": ["EHC needs assessments", "annual reviews of EHC plans"],
    "joint_commissioning": ["joint commissioning", "the strategic governance of the partnership"],
    "inclusion": ["support in mainstream schools", "the use of part-time timetables"],
    "social_care": ["short breaks", "direct payments"],
}
GOOD = ["{s} works well for families.", "Leaders have improved {s} effectively.",
        "Families value {s}, which is a strength."]
BAD = ["{s} is too slow and inconsistent.", "Leaders should improve {s}.",
       "Families do not find {s} helpful."]
NEUTRAL = ["The council commissions several providers.", "Inspectors met leaders and staff.",
           "The area has a population of around two hundred thousand."]
HEADINGS = {
    "strengths": "What is the area partnership doing that is effective?",
    "weaknesses": "What does the area partnership need to do better?",
    "context": "Information about the local area partnership",
}


def synthetic_rows(n_letters: int = 6, seed: int = 1) -> list[dict]:
    """Passage rows of invented letters: context, strengths and weaknesses sections."""
    rng = random.Random(seed)
    rows = []
    for li in range(n_letters):
        letter = f"{li:012x}"
        seq = 0
        for section, templates in (("context", NEUTRAL), ("strengths", GOOD),
                                   ("weaknesses", BAD)):
            for theme, subjects in SUBJECTS.items():
                for subject in subjects:
                    seq += 1
                    tpl = rng.choice(templates)
                    text = tpl.format(s=subject)
                    text = text[0].upper() + text[1:]
                    rows.append({"passage_id": f"{letter}-{seq:04d}", "letter_id": letter,
                                 "seq": seq, "section": section, "heading": HEADINGS[section],
                                 "paragraph": seq // 3, "text": text, "theme": theme})
    return rows


def build_corpus(root: Path, n_letters: int = 6) -> Corpus:
    """A corpus folder whose database holds the synthetic letters' passages."""
    corpus = Corpus.open(root)
    rows = synthetic_rows(n_letters)
    with corpus.transaction() as con:
        for letter in sorted({r["letter_id"] for r in rows}):
            con.execute(
                "INSERT INTO letters(letter_id, sha256, area, framework, clean_text, imported_at,"
                " source) VALUES (?, ?, ?, 'area_send_2023', '', ?, ?)",
                (letter, letter * 5, f"Area {letter[-2:]}", now_iso(), f"/x/{letter}.pdf"),
            )
        for r in rows:
            con.execute(
                "INSERT INTO passages(passage_id, letter_id, seq, section, heading, paragraph,"
                " char_start, char_end, text) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)",
                (r["passage_id"], r["letter_id"], r["seq"], r["section"], r["heading"],
                 r["paragraph"], r["text"]),
            )
    return corpus


def _items(rows: list[dict]) -> list[Item]:
    from textmine.features import items_from_rows

    return items_from_rows(rows)


@pytest.fixture(scope="module")
def trained() -> tuple:
    cb = load_codebook()
    rows = synthetic_rows()
    return cb, rows, train_model(_items(rows), cb)


def test_weakly_trained_model_tags_unseen_sentences_by_theme_and_stance(trained: tuple) -> None:
    cb, _, model = trained
    preds = model.predict([
        Item("Short breaks work well for families.", section="strengths"),
        Item("The local offer website is out of date and families should be told more.",
             section="weaknesses"),
    ])
    assert "social_care" in preds[0]["themes"]
    assert preds[0]["stance"] == "positive"
    assert "local_offer" in preds[1]["themes"]
    assert preds[1]["stance"] == "negative"
    assert set(preds[0]["scores"]) >= set(cb.theme_ids) | {"stance_positive"}


def test_model_round_trips_through_disk_with_metadata(trained: tuple, tmp_path: Path) -> None:
    cb, rows, model = trained
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    items = _items(rows)[:20]
    assert again.predict(items) == model.predict(items)
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["codebook_sha256"] == cb.sha256
    assert meta["training"]["corpus_letters"] == 6
    assert "scikit-learn" in meta["versions"]
    assert set(meta["thresholds"]) == set(cb.theme_ids)


def test_a_model_is_saved_whole_or_not_at_all(trained: tuple, tmp_path: Path) -> None:
    _, _, model = trained
    folder = tmp_path / "models" / "v1"
    # What a run killed while saving left behind: cleared by the next save.
    (tmp_path / "models" / ".partial-v0").mkdir(parents=True)
    save_model(model, folder)
    assert sorted(p.name for p in folder.parent.iterdir()) == ["v1"]
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "model.joblib"]

    class Unsaveable:  # a model part that cannot be pickled fails the save half-way
        def __reduce__(self) -> tuple:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left") as failed:
        save_model(replace(model, stance_bias=Unsaveable()), folder.with_name("v2"))
    assert sorted(p.name for p in folder.parent.iterdir()) == ["v1"]
    assert failed.value.filename == str(folder.with_name("v2"))  # the error says where
    (folder / "meta.json").unlink()
    with pytest.raises(ModelFileError, match=rf"the model in {folder}/meta.json cannot be read"):
        load_model(folder)


def test_fixed_wording_gets_no_theme_and_a_description_is_neutral(trained: tuple,
                                                                   tmp_path: Path) -> None:
    """The codebook's section rules: the inspectorates' fixed wording (a 2023 report's
    outcome block) is about no theme, and background is description, not judgement."""
    _, _, model = trained
    assert model.fixed_wording_sections == ("outcome",)
    assert model.neutral_sections == ("context",)
    text = "Short breaks do not work well and families wait too long."
    [read] = model.predict([Item(text, section="weaknesses")])
    assert "social_care" in read["themes"] and read["stance"] == "negative"
    [fixed] = model.predict([Item(text, section="outcome")])
    assert fixed["themes"] == [] and fixed["stance"] == "negative"
    [background] = model.predict([Item(text, section="context")])
    assert "social_care" in background["themes"] and background["stance"] == "neutral"
    save_model(model, tmp_path / "m")
    assert load_model(tmp_path / "m").predict([Item(text, section="outcome"),
                                               Item(text, section="context")]) == [
        fixed, background]
    assert model.meta["fixed_wording_sections"] == ["outcome"]


def test_a_second_theme_needs_a_margin_over_its_threshold(trained: tuple,
                                                          tmp_path: Path) -> None:
    """A sentence's strongest theme needs its threshold; another beside it needs to pass
    its own by SECOND_THEME_MARGIN (extras barely over the line were mostly wrong)."""
    import numpy as np

    from textmine.model import SECOND_THEME_MARGIN

    _, _, model = trained
    assert model.second_theme_margin == SECOND_THEME_MARGIN > 0
    thr = model.thresholds
    just = SECOND_THEME_MARGIN / 2
    scores = np.tile(thr - 0.2, (3, 1))
    scores[0, 0], scores[0, 1] = thr[0] + 0.3, thr[1] + just  # extra barely over: dropped
    scores[1, 0], scores[1, 1] = thr[0] + 0.3, thr[1] + 2 * SECOND_THEME_MARGIN  # kept
    scores[2, 1] = thr[1] + just  # alone, barely over: it is the strongest, kept
    on = model._themes_on(scores)
    assert on[0].tolist() == [True] + [False] * (len(thr) - 1)
    assert on[1, :2].tolist() == [True, True] and on[2, 1] and on[2].sum() == 1
    assert replace(model, second_theme_margin=0.0)._themes_on(scores)[0, 1]
    save_model(model, tmp_path / "m")
    assert load_model(tmp_path / "m").second_theme_margin == SECOND_THEME_MARGIN
    assert model.meta["second_theme_margin"] == SECOND_THEME_MARGIN


def test_a_sentence_with_no_theme_takes_its_strongest_when_near_its_threshold(
        trained: tuple, tmp_path: Path) -> None:
    """Annotators give most sentences of the evaluative sections a theme: one whose
    strongest theme falls just short of its threshold takes it; in a description section
    (`context`), where many sentences are about nothing, it does not."""
    import numpy as np

    from textmine.model import FIRST_THEME_MARGIN

    _, _, model = trained
    assert model.first_theme_margin == FIRST_THEME_MARGIN > 0
    thr = model.thresholds
    scores = np.tile(thr - 0.5, (3, 1))
    scores[0, 2] = thr[2] - FIRST_THEME_MARGIN / 2  # just short: taken
    scores[0, 3] = thr[3] - FIRST_THEME_MARGIN * 0.9  # further short: not
    scores[1, 2] = thr[2] - FIRST_THEME_MARGIN * 2  # far short: none
    scores[2, 2] = thr[2] - FIRST_THEME_MARGIN / 2
    on = model._themes_on(scores, lend=np.array([True, True, False]))
    assert on[0].tolist() == [j == 2 for j in range(len(thr))]
    assert not on[1].any() and not on[2].any()
    assert not replace(model, first_theme_margin=0.0)._themes_on(scores)[0].any()
    # Through predict: the same scores lend a theme in an evaluative section only, not to
    # background (context), fixed wording (outcome) or a text with no known word.
    items = [Item("a", section="strengths"), Item("b", section="context"),
             Item("c", section="outcome"), Item("d", section="strengths")]
    near = np.tile(thr - 0.5, (4, 1))
    near[:, 2] = thr[2] - FIRST_THEME_MARGIN / 2
    faked = replace(model)
    faked._scores = lambda its: (near[:len(its)], np.full((len(its), 4), 0.25),  # type: ignore[method-assign]
                                 np.array([False, False, False, True]))
    assert [p["themes"] for p in faked.predict(items)] == [[model.theme_ids[2]], [], [], []]
    save_model(model, tmp_path / "m")
    assert load_model(tmp_path / "m").first_theme_margin == FIRST_THEME_MARGIN
    assert model.meta["first_theme_margin"] == FIRST_THEME_MARGIN


def test_a_recommendation_is_negative_however_it_is_worded(trained: tuple,
                                                           tmp_path: Path) -> None:
    """The codebook calls a recommendation negative: in an actions section, a bullet
    worded as praise ("... work well and are timely") is not tagged positive."""
    _, _, model = trained
    item = Item("Short breaks work well and are timely for families.", section="actions")
    without_rule = replace(model, recommendation_sections=())
    [read] = without_rule.predict([item])
    assert read["stance"] == "positive"  # what the words say
    [advice] = model.predict([item])
    assert advice["stance"] == "negative"
    assert advice["scores"] == read["scores"]  # the model's own scores are kept
    assert model.predict([replace(item, section="strengths")])[0]["stance"] == "positive"
    save_model(model, tmp_path / "m")
    assert load_model(tmp_path / "m").predict([item]) == [advice]
    assert model.meta["recommendation_sections"] == ["actions"]
    # Read alone (classify of a sentence with no section), the wording says it.
    asked = Item("Leaders must make sure short breaks work well and are timely for families.")
    assert without_rule.predict([asked])[0]["stance"] == "positive"
    assert model.predict([asked])[0]["stance"] == "negative"
    # Sentences that merely contain "need to" or "should" are not recommendations: the
    # rule leaves them as the model reads them.
    for text in ("Young people who need to travel have short breaks that work well.",
                 "Leaders have found the services that they need to improve.",
                 "Leaders know what they need to do and short breaks work well."):
        assert model.predict([Item(text)]) == without_rule.predict([Item(text)]), text
    met = Item("Young people who need to travel have short breaks that work well.")
    assert model.predict([met])[0]["stance"] == "positive"


def test_a_mixed_reading_of_a_recommendation_is_negative_too(trained: tuple) -> None:
    """A recommendation names a shortfall: in an actions section a stance the model reads
    as mixed counts as negative, as a positive one does; elsewhere it stays mixed."""
    _, _, model = trained
    faked = replace(model)
    faked._scores = lambda its: (np.tile(model.thresholds - 0.5, (len(its), 1)),  # type: ignore[method-assign]
                                 np.tile([0.1, 0.2, 0.6, 0.1], (len(its), 1)),
                                 np.zeros(len(its), bool))
    read = faked.predict([Item("a", section="actions"), Item("b", section="strengths")])
    assert [p["stance"] for p in read] == ["negative", "mixed"]


def test_recommendation_wording_decides_only_for_a_sentence_read_alone(trained: tuple) -> None:
    """The wording rule is for sentences without a section: in a letter's strengths,
    "Leaders must make sure ... work well" keeps the stance the model reads."""
    _, _, model = trained
    asked = "Leaders must make sure short breaks work well and are timely for families."
    without_rule = replace(model, recommendation_sections=())
    placed = Item(asked, section="strengths", heading=HEADINGS["strengths"])
    assert without_rule.predict([placed])[0]["stance"] == "positive"
    assert model.predict([placed])[0]["stance"] == "positive"


def test_the_same_inputs_train_the_same_model(tmp_path: Path) -> None:
    # The theme solver visits rows in a random order: unseeded, two trainings on the
    # same corpus and labels differed in their thresholds and tagged a few passages
    # differently, so tags were not reproducible.
    from textmine import tag

    corpus = build_corpus(tmp_path / "corpus", n_letters=3)
    first, second = (tag.train(corpus, use_stored_labels=False) for _ in range(2))
    assert first.meta["thresholds"] == second.meta["thresholds"]
    _, items = tag.corpus_items(corpus)
    a, b = (load_model(r.path) for r in (first, second))
    assert np.array_equal(a.predict_lists(items)[2], b.predict_lists(items)[2])


def test_model_is_stale_when_the_codebook_changes(trained: tuple) -> None:
    cb, _, model = trained
    assert staleness(model.meta, cb) == []
    text = cb.path.read_text()
    edited = parse_codebook(text.replace("  negative:\n", '  negative:\n    - "dire"\n', 1),
                            cb.path)
    assert any("codebook changed" in r for r in staleness(model.meta, edited))
    # A note in a comment changes nothing the model reads, nor do words for people: a
    # reworded definition, a theme's name, the file's version.
    assert staleness(model.meta, parse_codebook(text + "\n# a note\n", cb.path)) == []
    import yaml

    book = yaml.safe_load(text)
    book["version"] = 99
    book["themes"][0] = {**book["themes"][0], "name": "Working with families",
                         "definition": "Reworded.", "include": "More words."}
    reworded = parse_codebook(yaml.safe_dump(book, sort_keys=False), cb.path)
    assert staleness(model.meta, reworded) == []
    # The same themes in another order: said as such (it was "theme list differs", no more).
    book["themes"] = book["themes"][::-1]
    reordered = parse_codebook(yaml.safe_dump(book, sort_keys=False), cb.path)
    assert "theme list differs from the codebook: the same themes in another order, which " \
        "the tables and columns follow" in staleness(model.meta, reordered)
    # A model recorded with the hash of all the file said (words for people included),
    # as before they were left out: of the same file, current.
    assert staleness({**model.meta, "codebook_sha256": cb.full_sha256}, cb) == []
    assert staleness({**model.meta, "codebook_sha256": cb.full_sha256}, reworded) != []
    # A model from before the hash was of the file's content recorded its bytes' hash:
    # of the same file, it is current (upgrading sendlens made every model stale).
    import hashlib

    legacy = {**model.meta, "codebook_sha256": hashlib.sha256(text.encode()).hexdigest()}
    assert staleness(legacy, cb) == []
    assert staleness(legacy, edited) != []
    # ... and of an earlier text of the packaged file with the same content (its
    # comments edited since): current, unlike one whose content differs.
    import textmine.model as model_module

    earlier = {**model.meta, "codebook_sha256": "0" * 64}
    assert staleness(earlier, cb) != []
    model_module.EARLIER_PACKAGED_CODEBOOKS["0" * 64] = cb.full_sha256
    try:
        assert staleness(earlier, cb) == []
        assert staleness(earlier, edited) != []
    finally:
        del model_module.EARLIER_PACKAGED_CODEBOOKS["0" * 64]
    # A model an older sendlens trained decides otherwise (no margins for a first or
    # second theme).
    assert staleness({**model.meta, "format": 2}, cb) == [
        "made by an older sendlens (model format 2; this one makes format 3)"]
    assert "made by a newer sendlens (model format 4" in staleness(
        {**model.meta, "format": 4}, cb)[0]
    # Arrays saved by another numpy major version may not load the same.
    other = {**model.meta, "versions": {**model.meta["versions"], "numpy": "0.9.0"}}
    assert staleness(other, cb) == [f"trained with numpy 0.9.0, running {np.__version__}"]


def test_model_is_stale_when_the_corpus_or_scikit_learn_changes(trained: tuple) -> None:
    """The weak labels come from the corpus: the same letters split into other passages
    (a re-import with a fixed parser) is another corpus. A minor scikit-learn release may
    not read the pipelines the same way."""
    import sklearn

    cb, _, model = trained
    training = model.meta["training"]
    size = (training["corpus_letters"], training["corpus_sentences"])
    assert staleness(model.meta, cb, corpus=size) == []
    [reason] = staleness(model.meta, cb, corpus=(size[0], size[1] + 7))
    assert f"({size[1]:,} passages); the corpus now holds {size[0]:,} ({size[1] + 7:,})" in reason
    major, minor = sklearn.__version__.split(".")[:2]
    other = f"{major}.{int(minor) + 1}.0"
    meta = {**model.meta, "versions": {**model.meta["versions"], "scikit-learn": other}}
    assert staleness(meta, cb) == [f"trained with scikit-learn {other}, running "
                                   f"{sklearn.__version__}"]
    patch = {**model.meta, "versions": {**model.meta["versions"],
                                        "scikit-learn": f"{major}.{minor}.99"}}
    assert staleness(patch, cb) == []  # a patch release changes nothing


def test_hand_labels_outweigh_weak_labels() -> None:
    """A theme the patterns never see is learned from hand labels alone."""
    cb = load_codebook()
    rows = synthetic_rows()
    items = _items(rows)
    odd = "Transport to school is unreliable."
    hand_items = [Item(odd.replace("school", w), letter=f"h{i}", section="weaknesses")
                  for i, w in enumerate(["school", "college", "the centre", "clubs"] * 3)]
    hand = hand_training_set(hand_items, [["social_care"]] * len(hand_items),
                             ["negative"] * len(hand_items), cb)
    model = train_model(items, cb, hand, tune_folds=3)
    pred = model.predict([Item("Transport to the hub is unreliable.", section="weaknesses")])
    assert "social_care" in pred[0]["themes"]
    assert model.meta["training"]["hand_labels"]["n"] == len(hand_items)


def test_tuned_thresholds_are_shrunk_halfway_to_the_prevalence_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--tune-thresholds: a few dozen labels give noisy F1 optima, so each theme the labels
    judge gets the midpoint of its F1 threshold and its prevalence threshold (a theme no
    label judges keeps the prevalence one: test_labels_made_before_a_theme_was_added...)."""
    import textmine.model as model_mod

    seen: dict[str, np.ndarray] = {}

    def recording(name: str) -> object:
        real = getattr(model_mod, name)

        def wrapper(*args: object, **kwargs: object) -> np.ndarray:
            seen[name] = out = real(*args, **kwargs)
            return out
        return wrapper

    for name in ("f1_thresholds", "prevalence_thresholds"):
        monkeypatch.setattr(model_mod, name, recording(name))
    cb = load_codebook()
    items = _items(synthetic_rows())
    texts = ["Plans are late and families wait too long.", "Plans are written on time.",
             "Health advice is missing from plans.", "Plans are reviewed every year."]
    hand_items = [Item(t, letter=f"h{i}", section="weaknesses") for i, t in enumerate(texts * 3)]
    hand = hand_training_set(hand_items, [["ehc_plans"]] * len(hand_items),
                             ["negative"] * len(hand_items), cb)
    model = train_model(items, cb, hand, tune_folds=3)
    f1, prevalence = seen["f1_thresholds"], seen["prevalence_thresholds"]
    # A label judges every theme (those it does not name as absent).
    assert np.allclose(model.thresholds, 0.5 * f1 + 0.5 * prevalence)
    assert not np.allclose(f1, prevalence)  # else the test could not tell them apart


def test_thresholds_are_not_tuned_on_hand_labels_from_a_single_letter() -> None:
    """Tuning holds out whole letters: labels from one letter leave no other letter to
    train on, so the "cross-validation" would score them with a model that had no hand
    label at all. The model keeps the thresholds the weak labels give and records that it
    did not tune (a retrain then says "thresholds not tuned ... as before")."""
    cb = load_codebook()
    items = _items(synthetic_rows(3))
    texts = ["Short breaks are booked months ahead.", "Plans are reviewed every spring.",
             "The forum meets parents each term.", "Therapists visit schools weekly."]
    themes = [["social_care"], ["ehc_plans"], ["co_production"], ["health_input"]]

    def hand(letters: list[str | None]) -> TrainingSet:
        its = [Item(t, letter=lt, section="weaknesses") for lt in letters for t in texts]
        return hand_training_set(its, themes * len(letters), ["negative"] * len(its), cb)

    plain = train_model(items, cb, hand(["only"]))
    asked = train_model(items, cb, hand(["only"]), tune_folds=2)
    assert asked.meta["training"]["tune_folds"] == 0
    assert asked.meta["training"]["threshold_tuning"].startswith("prevalence of weak labels")
    assert np.array_equal(asked.thresholds, plain.thresholds)
    # Labels with no letter beside them are not a second letter (`train` refuses them so).
    assert train_model(items, cb, hand(["only", None]), tune_folds=2
                       ).meta["training"]["tune_folds"] == 0
    # From two letters the same labels are tuned on.
    two = train_model(items, cb, hand(["first", "second"]), tune_folds=2)
    assert two.meta["training"]["tune_folds"] == 2


def test_a_hand_label_counts_for_more_than_a_weak_label_against_it() -> None:
    """Weak labels say sentences on direct payments are not co-production; hand labels
    say four of them are. The hand labels must move the model further than as many weak
    labels would (the test above cannot see their weight: no weak label competes)."""
    cb = load_codebook()
    items = _items(synthetic_rows())
    texts = ["Direct payments works well for families.",
             "Leaders have improved direct payments effectively.",
             "Direct payments is too slow and inconsistent.",
             "Families do not find direct payments helpful."]
    hand_items = [Item(t, letter=f"h{i}", section="strengths" if i < 2 else "weaknesses")
                  for i, t in enumerate(texts)]
    unseen = [Item("Families value direct payments, which is a strength.", section="strengths"),
              Item("Leaders should improve direct payments.", section="weaknesses")]

    def co_production(weight: float | None) -> np.ndarray:
        hand = hand_training_set(hand_items, [["social_care", "co_production"]] * 4,
                                 [None] * 4, cb, **({} if weight is None else {"weight": weight}))
        preds = train_model(items, cb, hand).predict(unseen)
        return np.array([p["scores"]["co_production"] for p in preds])

    as_weak = co_production(1.0)
    assert (co_production(None) > as_weak + 0.1).all()


def test_a_hand_labelled_stance_counts_for_more_than_weak_ones_against_it() -> None:
    """The weaknesses section makes weak stances negative; hand labels call four of its
    sentences positive. They must move the model's stance further than as many weak labels
    would, self-training included: it relabels the weak stances it is sure of, never a
    hand label's (a correction's stance would be taught as the model's own guess)."""
    cb = load_codebook()
    items = _items(synthetic_rows())
    texts = ["Short breaks are now well planned.", "Direct payments are now well planned.",
             "Annual reviews are now well planned.", "Supported internships are now well "
             "planned."]
    hand_items = [Item(t, letter=f"h{i}", section="weaknesses") for i, t in enumerate(texts)]
    unseen = [Item("The local offer is now well planned.", section="weaknesses"),
              Item("Assessments are now well planned.", section="weaknesses")]

    def positive(weight: float | None) -> np.ndarray:
        hand = hand_training_set(hand_items, [[]] * 4, ["positive"] * 4, cb,
                                 **({} if weight is None else {"weight": weight}))
        preds = train_model(items, cb, hand).predict(unseen)
        return np.array([p["scores"]["stance_positive"] for p in preds])

    as_weak, as_hand = positive(1.0), positive(None)
    assert (as_hand > as_weak + 0.1).all(), (as_hand, as_weak)


def test_f1_thresholds_find_the_cut_that_separates_held_out_scores() -> None:
    scores = np.array([[0.9], [0.8], [0.35], [0.3], [0.2], [0.1]])
    truth = np.array([[1], [1], [1], [0], [0], [0]])
    t = f1_thresholds(scores, truth)
    assert 0.3 < t[0] <= 0.35
    # Too few positives to tune: keep the default rather than guess.
    assert f1_thresholds(scores, np.array([[1], [0], [0], [0], [0], [0]]))[0] == 0.5
    # Rows not labelled for the theme (-1) are left out, not taken for positives.
    unjudged = np.vstack([scores, [[0.15], [0.12]]])
    assert f1_thresholds(unjudged, np.vstack([truth, [[-1], [-1]]]))[0] == t[0]
    # A wide gap separates them at every cut in it: the cut nearest the default, not
    # the first or last of the gap (tags on unseen text would drift to an edge).
    gap = np.array([[0.95], [0.9], [0.8], [0.2], [0.1], [0.05]])
    assert f1_thresholds(gap, np.array([[1], [1], [1], [0], [0], [0]]))[0] == 0.5
    assert f1_thresholds(gap, np.array([[1], [1], [1], [0], [0], [0]]), default=0.4)[0] == 0.4


def test_prevalence_thresholds_match_weak_label_rates() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((1000, 2))
    weak = np.stack([(rng.random(1000) < 0.3), (rng.random(1000) < 0.5)], axis=1).astype(int)
    t = prevalence_thresholds(scores, weak)
    assert abs((scores[:, 0] >= t[0]).mean() - weak[:, 0].mean()) < 0.02
    assert abs((scores[:, 1] >= t[1]).mean() - weak[:, 1].mean()) < 0.02


def test_prevalence_thresholds_stay_within_bounds_for_rare_and_common_themes() -> None:
    # A theme the weak labels almost never give (or almost always) would get a cut of
    # about 0.99 (or 0.01) and then tag nothing (or everything) on new letters.
    scores = np.linspace(0, 1, 1000)[:, None].repeat(2, axis=1)
    weak = np.zeros((1000, 2), int)
    weak[:3, 0] = 1
    weak[3:, 1] = 1
    assert prevalence_thresholds(scores, weak).tolist() == [0.8, 0.2]


def test_neighbour_scores_are_those_of_the_sentences_before_and_after() -> None:
    from textmine.model import neighbour_scores
    from textmine.weak import PatternMatcher

    matcher = PatternMatcher(load_codebook())
    texts = ["Short breaks are valued.", "This helps families.", "The local offer is clear."]
    items = [Item(t, prev_text=texts[i - 1] if i else "",
                  next_text=texts[i + 1] if i + 1 < len(texts) else "")
             for i, t in enumerate(texts)]
    # ... and a sentence read in another place: its own neighbours, not the list's.
    items.append(Item("Families agree.", prev_text="Direct payments are flexible."))
    own = matcher.theme_scores([it.text for it in items])
    prev, nxt = neighbour_scores(items, own, matcher)
    care, offer = (matcher.theme_ids.index(t) for t in ("social_care", "local_offer"))
    assert prev[:, care].tolist() == [0, 1, 0, 1] and prev[:, offer].tolist() == [0, 0, 0, 0]
    assert nxt[:, offer].tolist() == [0, 1, 0, 0] and nxt[:, care].tolist() == [0, 0, 0, 0]


def test_group_folds_never_split_a_letter() -> None:
    groups = ["a"] * 5 + ["b"] * 3 + ["c"] * 4 + ["d"] * 2 + ["e"] * 6
    folds = group_folds(groups, 3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(groups)))
    for f in folds:
        letters = {groups[i] for i in f}
        for g in letters:
            assert sum(groups[i] == g for i in f) == groups.count(g)


def test_macro_f1_runs_over_the_labels_that_occur_not_over_absent_ones() -> None:
    from textmine.evaluate import compute_metrics

    themes = ["ehc_plans", "local_offer", "social_care"]
    m = compute_metrics(themes, [["ehc_plans"], ["social_care"]], [["ehc_plans"], ["social_care"]],
                        ["negative", "positive"], ["negative", "positive"])
    # A small file with no local_offer sentence and no mixed or neutral one: all right.
    assert m["theme_macro_f1"] == 1.0 and m["stance_macro_f1"] == 1.0
    assert m["macro_over"] == {"themes": ["ehc_plans", "social_care"],
                               "stances": ["positive", "negative"]}
    # Predicting a theme or stance the file never has still costs: its labels rule it out.
    gold, pred = [["ehc_plans"], ["social_care"]], [["ehc_plans", "local_offer"], ["social_care"]]
    m = compute_metrics(themes, gold, pred, ["negative", "positive"], ["negative", "mixed"])
    assert m["theme_macro_f1"] == round(2 / 3, 3) and m["unlabelled_predictions"] == {}
    assert "mixed" in m["macro_over"]["stances"] and m["stance_macro_f1"] < 1.0
    assert m["theme_micro_f1"] == 0.8
    # ... unless the theme was added to the codebook after the labelling: then its
    # predictions cost nothing (a renamed theme's id read 0.77 micro-F1 for 0.84), and
    # are reported.
    m = compute_metrics(themes, gold, pred, ["negative", "positive"], ["negative", "positive"],
                        added_themes={"local_offer"})
    assert m["theme_macro_f1"] == 1.0 and m["theme_micro_f1"] == 1.0
    assert m["unlabelled_predictions"] == {"local_offer": 1}


def test_precision_and_recall_are_each_what_they_say() -> None:
    from textmine.evaluate import compute_metrics

    # Gold: ehc_plans twice; the model finds one of them and adds a third: precision 1/2
    # (of its two, one right), recall 1/2 (of the two, one found). Social care: found
    # once of once, and given once more: precision 1/2, recall 1.
    gold = [["ehc_plans"], ["ehc_plans"], ["social_care"], []]
    pred = [["ehc_plans"], [], ["social_care"], ["ehc_plans", "social_care"]]
    stance_gold = ["negative", "negative", "positive", "positive"]
    stance_pred = ["negative", "positive", "positive", "positive"]
    m = compute_metrics(["ehc_plans", "social_care"], gold, pred, stance_gold, stance_pred)
    assert m["themes"]["ehc_plans"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                        "support": 2}
    assert m["themes"]["social_care"] == {"precision": 0.5, "recall": 1.0, "f1": 0.667,
                                          "support": 1}
    # Negative: predicted once, right; found once of twice. Positive: predicted three
    # times, two right; both found.
    assert m["stance"]["negative"] == {"precision": 1.0, "recall": 0.5, "f1": 0.667,
                                       "support": 2}
    assert m["stance"]["positive"] == {"precision": 0.667, "recall": 1.0, "f1": 0.8,
                                       "support": 2}
    assert m["stance_confusion"]["matrix"][0][:2] == [2, 0]  # rows gold: positive
    assert m["stance_confusion"]["matrix"][1][:2] == [1, 1]  # negative: 1 read positive


def test_an_interval_is_written_around_its_figure() -> None:
    from textmine.intervals import interval_text

    # Rounded outwards, so that the printed interval holds the printed figure
    # ("0.999 (1.00-1.00)" said the figure was outside it).
    assert interval_text([0.9985, 1.0]) == " (0.99-1.00)"
    assert interval_text([0.74, 0.872]) == " (0.74-0.88)"
    assert interval_text([0.8, 0.86]) == " (0.80-0.86)"  # exact values stay as they are
    # ... however binary floating point holds them (0.29 * 100 is 28.999..., 0.55 * 100
    # is 55.000...1): an interval stored as [0.29, 0.55] is not widened to (0.28-0.56).
    assert interval_text([0.29, 0.55]) == " (0.29-0.55)"
    assert interval_text(None) == ""


def test_intervals_resample_letters_and_widen_when_letters_disagree() -> None:
    from textmine.evaluate import compute_metrics
    from textmine.intervals import letter_intervals

    themes = ["ehc_plans", "social_care"]
    letters = [f"L{i}" for i in range(10) for _ in range(4)]
    gold = [["ehc_plans"], ["social_care"], [], ["ehc_plans"]] * 10
    stance = ["negative", "positive", "neutral", "negative"] * 10
    # Every letter tagged perfectly: the figure cannot move, whatever letters are drawn.
    same = letter_intervals(themes, letters, gold, gold, stance, stance)
    assert same == {k: [1.0, 1.0] for k in ("theme_macro_f1", "theme_micro_f1",
                                            "stance_macro_f1", "stance_accuracy")}
    # Half the letters tagged wrong: the point figure sits inside a wide interval.
    pred = [g if int(lt[1:]) < 5 else ["social_care"] for g, lt in zip(gold, letters)]
    guess = [s if int(lt[1:]) < 5 else "positive" for s, lt in zip(stance, letters)]
    wide = letter_intervals(themes, letters, gold, pred, stance, guess)
    point = compute_metrics(themes, gold, pred, stance, guess)
    for key in ("theme_macro_f1", "stance_accuracy"):
        lo, hi = wide[key]
        assert lo < point[key] < hi and hi - lo > 0.1
    # The same seed gives the same interval: the model card is reproducible.
    assert wide == letter_intervals(themes, letters, gold, pred, stance, guess)
    # Too few letters to say anything about other letters.
    assert letter_intervals(themes, letters[:16], gold[:16], pred[:16], stance[:16],
                            guess[:16]) is None
    # Nor about a label's letter when it names none: resampling it alone is not by letter.
    assert letter_intervals(themes, [None, *letters[1:]], gold, pred, stance, guess) is None
    # A theme added to the codebook after the labelling, given to every sentence: left
    # out of the theme macro- and micro-F1 intervals as it is of the point figures (the
    # micro-F1 interval counted it: "micro-F1 0.444 (0.37-0.38)").
    extended = [*themes, "transport"]
    more = [[*p, "transport"] for p in pred]
    added = letter_intervals(extended, letters, gold, more, stance, guess,
                             added_themes={"transport"})
    assert added["theme_macro_f1"] == wide["theme_macro_f1"]
    assert added["theme_micro_f1"] == wide["theme_micro_f1"]
    counted = letter_intervals(extended, letters, gold, more, stance, guess)["theme_macro_f1"]
    assert counted[1] < wide["theme_macro_f1"][1]  # otherwise it counts 0 in every draw


def test_intervals_agree_with_the_point_figures_and_skip_what_a_draw_cannot_measure() -> None:
    from textmine.evaluate import compute_metrics
    from textmine.intervals import letter_intervals

    themes = ["ehc_plans", "social_care", "local_offer"]
    # Ten letters alike (each right on some sentences, wrong on others): any draw of
    # them scores exactly what all of them score together.
    gold = [["ehc_plans"], ["social_care"], [], ["ehc_plans", "local_offer"]] * 10
    pred = [["ehc_plans"], ["ehc_plans"], ["local_offer"], ["ehc_plans"]] * 10
    stance = ["negative", "positive", "neutral", "mixed"] * 10
    guess = ["negative", "negative", "neutral", "positive"] * 10
    letters = [f"L{i}" for i in range(10) for _ in range(4)]
    point = compute_metrics(themes, gold, pred, stance, guess)
    spread = letter_intervals(themes, letters, gold, pred, stance, guess)
    for key, (lo, hi) in spread.items():
        assert lo == hi == round(point[key], 3), key
    # Stance labelled in one letter only, all right: draws without that letter measure
    # no stance and are left out, rather than scored 0.
    only_one = [s if lt == "L0" else None for s, lt in zip(stance, letters)]
    spread = letter_intervals(themes, letters, gold, pred, only_one, stance)
    assert spread["stance_accuracy"] == [1.0, 1.0]


def _mean_of_draws_quantiles(values: list[int], scale: float) -> tuple[float, float]:
    """The exact 2.5th and 97.5th percentiles of the mean of len(values) draws with
    replacement from `values`, divided by `scale`."""
    pmf = np.ones(1)
    for _ in values:
        pmf = np.convolve(pmf, np.bincount(values) / len(values))
    cdf = np.cumsum(pmf)
    low, high = np.searchsorted(cdf, 0.025), np.searchsorted(cdf, 0.975)
    return low / len(values) / scale, high / len(values) / scale


def test_an_interval_is_the_middle_95_percent_of_draws_of_whole_letters() -> None:
    from textmine.intervals import MIN_INTERVAL_LETTERS, letter_intervals

    # Letter i gets i of its 10 stance labels right, so a draw of 8 letters scores the
    # mean of the 8 drawn i, over 10: its spread is known exactly.
    letters = [f"L{i}" for i in range(8) for _ in range(10)]
    stance = ["negative"] * len(letters)
    guess = ["negative" if j < i else "positive" for i in range(8) for j in range(10)]
    themes, none = ["ehc_plans"], [[] for _ in letters]
    spread = letter_intervals(themes, letters, none, none, stance, guess, reps=20000)
    low, high = _mean_of_draws_quantiles(list(range(8)), 10)
    assert spread["stance_accuracy"] == pytest.approx([low, high], abs=0.0135)
    # Reproducible for any number of draws (the model card records it).
    assert letter_intervals(themes, letters, none, none, stance, guess, reps=20) == \
        letter_intervals(themes, letters, none, none, stance, guess, reps=20)
    # MIN_INTERVAL_LETTERS letters are enough; one fewer are not.
    enough = 10 * MIN_INTERVAL_LETTERS
    assert letter_intervals(themes, letters[:enough], none[:enough], none[:enough],
                            stance[:enough], guess[:enough]) is not None
    assert letter_intervals(themes, letters[:enough - 10], none[:enough - 10],
                            none[:enough - 10], stance[:enough - 10],
                            guess[:enough - 10]) is None


@pytest.mark.parametrize("with_stance", [0, 5])
def test_tuning_on_hand_labels_with_few_or_no_stances_leaves_the_stance_bias_zero(
    with_stance: int, tmp_path: Path,
) -> None:
    # Stance is optional in a label line: with none, tuning crashed on an empty array;
    # with a handful, four offsets would be fitted to those few sentences.
    from typer.testing import CliRunner

    from sendlens.cli import app

    root = tmp_path / "corpus"
    build_corpus(root, n_letters=3)
    labels = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]]}
              for r in synthetic_rows(3)[::4]]
    for label in labels[:with_stance]:
        label["stance"] = "neutral"
    mine = tmp_path / "themes-only.jsonl"
    mine.write_text("".join(json.dumps(x) + "\n" for x in labels))
    runner, env = CliRunner(), {"SENDLENS_CODEBOOK": ""}
    result = runner.invoke(app, ["train", "--labels", str(mine), "--tune-thresholds", "2",
                                 "--corpus", str(root), "-q"], env=env)
    assert result.exit_code == 0, result.output
    version = result.stdout.strip().splitlines()[-1]
    meta = json.loads((root / "models" / version / "meta.json").read_text())
    assert meta["training"]["tune_folds"] == 2
    assert set(meta["stance_bias"].values()) == {0.0}
    assert f"no stance bias fitted ({with_stance} hand labels give a stance" in result.stderr
    # evaluate's cross-validation trains each fold the same way.
    cv = runner.invoke(app, ["evaluate", str(mine), "--cv", "--folds", "2",
                             "--tune-thresholds", "2", "--corpus", str(root), "-q"], env=env)
    assert cv.exit_code == 0, cv.output
    assert "theme macro-F1" in cv.stdout


def test_labels_made_before_a_theme_was_added_are_no_negatives_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # evaluate does not score a theme a labels file never gives (added to the codebook
    # after it); training took every one of its sentences as a weight-12 "not transport".
    import textmine.tag as tag
    from textmine.codebook import PACKAGED_CODEBOOK

    root = tmp_path / "corpus"
    corpus = build_corpus(root, n_letters=3)
    (root / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text().replace(
        "\nstance:", "\n  - id: transport\n    name: Transport\n    definition: Travel to "
        "school.\n    patterns: [\"direct payments\", \"transport\"]\n\nstance:", 1))
    monkeypatch.delenv("SENDLENS_CODEBOOK", raising=False)
    # Each sentence of a letter once: a label repeated word for word is read once.
    # (The two files label other sentences: labels of one sentence would be merged.)
    every = list({(r["letter_id"], r["text"]): r for r in synthetic_rows(3)}.values())
    rows, later = every[:-2], every[-2:]
    old = tmp_path / "old.jsonl"
    old.write_text("".join(json.dumps({"letter": r["letter_id"], "text": r["text"],
                                       "themes": [r["theme"]]}) + "\n" for r in rows))
    new = tmp_path / "new.jsonl"  # made after: it gives the theme, so it judged it
    new.write_text("".join(json.dumps({"letter": r["letter_id"], "text": r["text"],
                                       "themes": [r["theme"]] + ["transport"] * (i == 0)})
                           + "\n" for i, r in enumerate(later)))
    seen: list = []

    def capture(module: object) -> None:
        train_model = module.train_model
        monkeypatch.setattr(module, "train_model", lambda items, cb, hand, **kw:
                            seen.append(hand) or train_model(items, cb, hand, **kw))

    capture(tag)
    result = tag.train(corpus, [old, new], use_stored_labels=False)
    hand = seen.pop()
    j = list(result.meta["thresholds"]).index("transport")
    from_old, from_new = slice(0, len(rows)), slice(len(rows), None)
    assert (hand.themes[from_old, j] == -1).all() and (hand.theme_weight[from_old, j] == 0).all()
    assert hand.themes[from_new, j].tolist() == [1, 0]
    assert (hand.theme_weight[from_new, j] > 0).all()
    # Its other themes still count, positives and negatives.
    assert (hand.themes[from_old, :j] >= 0).all() and (hand.theme_weight[from_old, :j] > 0).all()
    # Tuned on the old file alone, the new theme keeps the threshold the weak labels give.
    plain = tag.train(corpus, [old], use_stored_labels=False).meta["thresholds"]
    tuned = tag.train(corpus, [old], use_stored_labels=False, tune_folds=2).meta["thresholds"]
    assert tuned["transport"] == plain["transport"]
    seen.clear()
    # evaluate --cv trains its folds on the file the same way.
    import textmine.evaluate as evaluate

    capture(evaluate)
    evaluate.cross_validate_gold(corpus, old, folds=2)
    assert all((fold.themes[:, j] == -1).all() for fold in seen) and len(seen) == 2
    # A file that gives the theme somewhere (not on its first line) judged it on every
    # line: each fold learns from its sentences as negatives, though the fold may hold
    # none of the lines that give it.
    both = tmp_path / "both.jsonl"
    both.write_text(old.read_text() + new.read_text())
    seen.clear()
    evaluate.cross_validate_gold(corpus, both, folds=2)
    assert len(seen) == 2 and all((fold.themes[:, j] >= 0).all() for fold in seen)


def test_cross_validation_never_trains_on_the_letters_it_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each fold's model learns from the other folds' letters only: a fold that also
    trained on the labels it is scored on reported figures no new letter would reach."""
    import textmine.evaluate as evaluate

    corpus = build_corpus(tmp_path / "corpus", n_letters=3)
    every = list({(r["letter_id"], r["text"]): r for r in synthetic_rows(3)}.values())
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"letter": r["letter_id"], "text": r["text"],
                                        "themes": [r["theme"]]}) + "\n" for r in every[::6]))
    taught: list[set] = []
    tuned: list[int] = []
    train_model = evaluate.train_model

    def spy(items: list[Item], cb: object, hand: TrainingSet, **kw: object) -> TaggerModel:
        taught.append({it.letter for it in hand.items})
        model = train_model(items, cb, hand, **kw)
        tuned.append(model.meta["training"]["tune_folds"])
        # A sentence read alone (no section) gets no theme: the figures "without context"
        # must be those of the sentences read alone, the others those read in context.
        spied = replace(model)
        spied.predict = lambda its: [  # type: ignore[method-assign]
            p if it.section else {**p, "themes": []} for it, p in zip(its, model.predict(its))]
        return spied

    monkeypatch.setattr(evaluate, "train_model", spy)
    told: list[tuple[float, str]] = []
    result = evaluate.cross_validate_gold(corpus, gold, folds=3, tune_folds=2,
                                          progress=lambda f, m: told.append((round(f, 3), m)))
    # The bar says which fold trains, and how much was done before it.
    assert told == [(0.0, "fold 1 of 3"), (0.333, "fold 2 of 3"), (0.667, "fold 3 of 3")]
    assert result["letters"] == 3 and result["folds"] == 3 and result["tune_folds"] == 2
    letters = {r["letter_id"] for r in every}
    assert len(taught) == 3 and all(len(fold) == 2 and fold < letters for fold in taught)
    assert {next(iter(letters - fold)) for fold in taught} == letters  # each held out once
    # Each fold's model tuned its thresholds as asked (--cv --tune-thresholds 2).
    assert tuned == [2, 2, 2]
    assert result["theme_macro_f1"] > 0.5 and result["without_context"]["theme_macro_f1"] == 0


def test_the_figures_without_context_read_each_sentence_alone(trained: tuple) -> None:
    """evaluate's "without_context" figures are what classify gives a sentence it cannot
    find in the corpus: no section, heading or neighbours."""
    from textmine.evaluate import evaluate_model
    from textmine.tag import PassageMatcher

    _, rows, model = trained
    records = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]]}
               for r in rows[30:40]]
    read: list[list[Item]] = []
    spy = replace(model)
    spy.predict = lambda items: read.append(list(items)) or model.predict(items)  # type: ignore[method-assign]
    result = evaluate_model(spy, records, PassageMatcher(rows))
    placed, alone = read
    assert result["matched_to_corpus"] == 10
    assert all(it.section for it in placed) and any(it.prev_text for it in placed)
    assert alone == [it.alone() for it in placed]
    assert not any(it.section or it.heading or it.prev_text or it.next_text for it in alone)


def test_a_sentence_read_alone_is_tagged_and_scored_as_in_its_letter(trained: tuple) -> None:
    """classify reads a sentence it cannot find in the corpus alone: no section, heading
    or neighbours. Trained only on sentences in their context, the model leant on it:
    read alone, the sentences below kept their stance but with about even odds (0.50 on
    average for the stance each has in its letter, against 0.90 here)."""
    _, rows, model = trained
    items = _items(rows)
    placed = model.predict(items)
    alone = model.predict([it.alone() for it in items])
    assert [a["stance"] for a in alone] == [p["stance"] for p in placed]
    same = sum(set(a["themes"]) == set(p["themes"]) for a, p in zip(alone, placed))
    assert same >= 0.95 * len(items)
    sure = [a["scores"][f"stance_{p['stance']}"] for a, p in zip(alone, placed)]
    assert np.mean(sure) > 0.75


def test_a_label_with_no_letter_counts_as_a_letter_of_its_own(trained: tuple) -> None:
    # As evaluate --cv says when it refuses more folds than letters; not all one letter.
    from textmine.evaluate import evaluate_model
    from textmine.tag import PassageMatcher

    _, rows, model = trained
    records = [{"text": r["text"], "themes": [r["theme"]]} for r in rows[30:34]]
    assert evaluate_model(model, records, PassageMatcher(rows))["letters"] == 4


def test_a_correction_is_read_in_the_passage_it_was_made_on() -> None:
    from textmine.tag import PassageMatcher, hand_set

    # The same sentence twice in one letter: praise in one section, a weakness in another.
    rows = [{**r, "text": "Plans are detailed."} if r["seq"] in (8, 30) else r
            for r in synthetic_rows(1)]
    first, second = (r for r in rows if r["text"] == "Plans are detailed.")
    assert first["section"] != second["section"]
    matcher = PassageMatcher(rows)
    record = {"text": "Plans are detailed.", "letter": second["letter_id"],
              "themes": ["ehc_plans"], "stance": "negative"}
    corrected = hand_set([{**record, "passage_id": second["passage_id"]}], matcher,
                         load_codebook())
    assert corrected is not None and corrected.items[0].section == second["section"]
    # A label file names no passage: the sentence is read where it first appears.
    from_file = hand_set([record], matcher, load_codebook())
    assert from_file is not None and from_file.items[0].section == first["section"]
    assert matcher.others(first["passage_id"]) == [second["passage_id"]]


def test_earlier_models_files_are_removed_but_the_newest_and_those_with_tags(
    tmp_path: Path,
) -> None:
    # Every retrain left a folder of 3-4 MB behind: ten trainings, 35 MB.
    from textmine import tag

    corpus = build_corpus(tmp_path / "corpus", n_letters=2)
    first = tag.train(corpus, use_stored_labels=False)
    tag.tag_corpus(corpus)  # the corpus holds the first model's tags: its files stay
    later = [tag.train(corpus, use_stored_labels=False) for _ in range(tag.KEEP_MODELS + 2)]
    kept = {p.name for p in corpus.model_dir.iterdir() if p.is_dir()}
    assert kept == {first.version, *(r.version for r in later[-tag.KEEP_MODELS - 1:])}
    with corpus.reading() as con:  # the record of every training stays
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] == len(later) + 1


def test_a_model_saved_but_never_recorded_is_removed_by_the_next_training(
    tmp_path: Path,
) -> None:
    # A run killed between saving a model's folder and recording it in the database left
    # 3.5 MB that no row named, and pruning looked at rows only.
    import os
    import shutil
    import time

    from textmine import tag

    corpus = build_corpus(tmp_path / "corpus", n_letters=2)
    first = tag.train(corpus, use_stored_labels=False)
    orphan = corpus.model_dir / "20991231-235959-0123abcd"
    shutil.copytree(first.path, orphan)
    mine = corpus.model_dir / "my-notes"  # not named as sendlens names a model: kept
    mine.mkdir()
    (mine / "meta.json").write_text("{}")
    recent = corpus.model_dir / "20991231-235959-0123abcd.2"  # maybe another run's: kept
    shutil.copytree(first.path, recent)
    hours_ago = time.time() - 7200
    for folder in (orphan, mine):
        os.utime(folder, (hours_ago, hours_ago))
    tag.train(corpus, use_stored_labels=False)
    assert not orphan.exists() and mine.exists() and recent.exists() and first.path.exists()


def test_labels_of_one_sentence_are_read_once_and_merged() -> None:
    from textmine.tag import PassageMatcher, _once_each, _two_ways, matched

    theme_only = {"letter": "L", "text": "Plans are late.", "themes": ["ehc_plans"],
                  "stance": None}
    with_stance = {**theme_only, "stance": "negative"}
    # Themes from one file, the stance from another: one label with both, and a theme
    # the second file judged stays judged (the first file, older, had not).
    kept, gaps, repeats = _once_each([theme_only, with_stance], [{"transport"}, set()])
    assert kept == [with_stance] and gaps == [set()] and repeats == 1
    nowhere = PassageMatcher([])  # no passage found: one sentence by its words

    def two_ways(records: list[dict]) -> tuple[str, ...]:
        return _two_ways(records, [pid for _, pid in matched(records, nowhere)])

    assert two_ways([theme_only, with_stance]) == ()
    # Two passages of one letter with the same words are two labels, not a repeat.
    one, two = ({**with_stance, "passage_id": f"L-000{i}"} for i in (1, 2))
    assert len(_once_each([one, {**two, "stance": "positive"}], [set(), set()])[0]) == 2
    # A sentence labelled two ways is said, both kept.
    assert two_ways([with_stance, {**with_stance, "themes": []}]) == (
        "'Plans are late.' ()",)


def test_a_theme_labelled_but_never_predicted_scores_zero_in_the_averages() -> None:
    from textmine.evaluate import compute_metrics

    # local_offer is labelled once and the model never gives it: it is in the macro
    # average at F1 0 (a theme with one example still counts), and its precision is 0,
    # not a perfect score for having predicted nothing.
    gold = [["ehc_plans"], ["local_offer"], ["ehc_plans"], []]
    pred = [["ehc_plans"], [], ["ehc_plans"], []]
    m = compute_metrics(["ehc_plans", "local_offer"], gold, pred, [None] * 4, ["neutral"] * 4)
    assert m["themes"]["local_offer"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                          "support": 1}
    assert m["theme_macro_f1"] == 0.5 and m["macro_over"]["themes"] == ["ehc_plans",
                                                                        "local_offer"]
    assert m["theme_micro_f1"] == 0.8  # 2 found, 1 missed: 2*2 / (2*2 + 1)


def test_stance_figures_count_only_the_labels_that_give_a_stance() -> None:
    from textmine.evaluate import compute_metrics

    # Six labels give a stance (four right), two give none: the model's stance for those
    # two is neither right nor wrong. The file still has eight sentences.
    stance = ["negative"] * 4 + ["positive"] * 2 + [None, None]
    guess = ["negative"] * 3 + ["positive", "positive", "negative", "neutral", "negative"]
    m = compute_metrics(["ehc_plans"], [[]] * 8, [[]] * 8, stance, guess)
    assert m["n"] == 8 and m["stance_n"] == 6
    assert m["stance_accuracy"] == 0.667
    assert sum(map(sum, m["stance_confusion"]["matrix"])) == 6
    # Macro: the mean of negative's F1 (3/4) and positive's (1/2), not weighted by how
    # often each is labelled (that gives 0.667).
    assert m["stance"]["negative"]["f1"] == 0.75 and m["stance"]["positive"]["f1"] == 0.5
    assert m["stance_macro_f1"] == 0.625


def test_a_theme_added_to_the_codebook_but_in_the_labels_is_scored() -> None:
    from textmine.evaluate import compute_metrics

    # local_offer came after the codebook the labels were first made with, but this file
    # labels it: a miss on it costs. transport the file never labels nor the model gives:
    # it is reported as not in the labels, with no predictions to note.
    themes = ["ehc_plans", "local_offer", "transport"]
    m = compute_metrics(themes, [["local_offer"], ["ehc_plans"]], [[], ["ehc_plans"]],
                        ["negative", "positive"], ["negative", "positive"],
                        added_themes={"local_offer", "transport"})
    assert m["theme_micro_f1"] == 0.667 and m["theme_macro_f1"] == 0.5
    assert m["unlabelled_themes"] == ["transport"]
    assert m["unlabelled_predictions"] == {}


def test_evaluate_counts_distinct_letters_and_names_each_sentence_it_could_not_find(
    trained: tuple,
) -> None:
    from textmine.evaluate import evaluate_model
    from textmine.tag import PassageMatcher

    _, rows, model = trained
    two = {rows[0]["letter_id"], rows[-1]["letter_id"]}
    records = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]]}
               for r in rows if r["letter_id"] in two][::4]
    whole = "Leaders in this invented area have written a sentence no letter holds."
    longer = whole[:-1] + ", too."  # 75 characters: cut at 70
    records += [{"letter": "gone.pdf", "text": whole, "themes": [],
                 "source": "/x/labels, a copy.jsonl, line 9"},
                {"letter": "gone.pdf", "text": longer, "themes": []}]
    result = evaluate_model(model, records, PassageMatcher(rows))
    assert result["letters"] == 3  # the two letters and gone.pdf, however many labels each
    assert result["n"] == len(records) and result["matched_to_corpus"] == len(records) - 2
    assert result["not_found"] == [f"line 9, gone.pdf: {whole}",
                                   f"gone.pdf: {longer[:70]}..."]


def test_evaluate_resamples_whole_letters_for_its_intervals(trained: tuple) -> None:
    """Six letters scored alike, sentence for sentence: whatever letters a resample
    draws, it scores what all six do, so each interval is its point figure. Resampling
    sentences instead would draw a spread that letters like these cannot show."""
    from textmine.evaluate import evaluate_model
    from textmine.tag import PassageMatcher

    _, rows, model = trained
    first = [r for r in rows if r["letter_id"] == rows[0]["letter_id"]]
    seqs = {r["seq"] for r in first[::3]}
    stances = {"context": "neutral", "strengths": "positive", "weaknesses": "negative"}
    records = [{"letter": r["letter_id"], "text": r["text"], "themes": [r["theme"]],
                "stance": stances[r["section"]]} for r in rows if r["seq"] in seqs]
    assert len({r["letter"] for r in records}) == 6
    other = {t: model.theme_ids[(model.theme_ids.index(t) + 1) % len(model.theme_ids)]
             for t in model.theme_ids}

    def predict(items: list[Item]) -> list[dict]:
        # Right, then missed (and read as mixed), then the wrong theme plus one added to
        # the codebook after the labelling, by each sentence's place in its letter.
        out = []
        for i, rec in enumerate(records):
            theme = rec["themes"][0]
            out.append([{"themes": [theme], "stance": rec["stance"]},
                        {"themes": [], "stance": "mixed"},
                        {"themes": [other[theme], "transport"], "stance": rec["stance"]},
                        ][(i % len(seqs)) % 3])
        return out

    spy = replace(model, theme_ids=[*model.theme_ids, "transport"])
    spy.predict = predict  # type: ignore[method-assign]
    result = evaluate_model(spy, records, PassageMatcher(rows))
    given = sum((i % len(seqs)) % 3 == 2 for i in range(len(records)))
    assert result["unlabelled_predictions"] == {"transport": given}
    assert 0 < result["theme_macro_f1"] < 1 and 0 < result["stance_accuracy"] < 1
    assert set(result["intervals"]) == {"theme_macro_f1", "theme_micro_f1",
                                        "stance_macro_f1", "stance_accuracy"}
    for key, (low, high) in result["intervals"].items():
        assert low == high == result[key], key


def test_the_model_card_puts_each_figure_in_its_row_and_column(tmp_path: Path) -> None:
    """The card is what researchers quote: each figure under its heading, each interval
    beside its own figure, each confusion row under its gold stance."""
    from textmine.evaluate import compute_metrics, model_card

    themes = ["ehc_plans", "social_care"]
    gold = [["ehc_plans"], ["ehc_plans"], ["social_care"], []]
    stance = ["negative", "negative", "positive", "mixed"]

    def scored(pred: list[list[str]], guess: list[str], spread: float) -> dict:
        # Every interval its own, so that one printed beside another figure shows.
        keys = ("theme_macro_f1", "theme_micro_f1", "stance_macro_f1", "stance_accuracy")
        return {**compute_metrics(themes, gold, pred, stance, guess), "letters": 3,
                "matched_to_corpus": 3,
                "intervals": {k: [0.11 * i + spread, 0.11 * i + spread + 0.3]
                              for i, k in enumerate(keys, 1)}}

    no_labels = scored([["ehc_plans"], [], ["social_care"], ["ehc_plans", "social_care"]],
                       ["negative", "positive", "positive", "negative"], 0.0)
    no_labels["without_context"] = compute_metrics(
        themes, gold, [["ehc_plans"], [], [], ["social_care"]], stance,
        ["negative", "negative", "negative", "negative"])
    with_labels = {**scored([["ehc_plans"], ["ehc_plans"], [], []],
                            ["negative", "negative", "positive", "positive"], 0.02),
                   "folds": 2}
    with_labels["without_context"] = compute_metrics(themes, gold, [[]] * 4, stance,
                                                     ["positive"] * 4)
    path = tmp_path / "gold.jsonl"
    path.write_text("{}\n")
    card = model_card(no_labels, with_labels, gold=path, command="sendlens evaluate")
    first, second = card.split("## 2.")
    second, alone = second.split("## 3.")
    # No hand labels: social_care found once of once, given twice (precision 1/2).
    assert "| `social_care` | 0.50 | 1.00 | 0.67 | 1 |" in first
    macro, micro = no_labels["theme_macro_f1"], no_labels["theme_micro_f1"]
    assert macro != micro
    assert f"| **macro F1** | | | **{macro:.3f}** (0.11-0.41) | |" in first
    assert f"| micro F1 | | | {micro:.3f} (0.22-0.52) | |" in first
    # Rows gold, columns predicted (positive, negative, mixed, neutral), then the F1.
    assert "| positive | 1 | 0 | 0 | 0 | 0.67 |" in first
    assert "| negative | 1 | 1 | 0 | 0 | 0.50 |" in first
    assert "| mixed | 0 | 1 | 0 | 0 | 0.00 |" in first
    assert (f"Stance macro-F1 **{no_labels['stance_macro_f1']:.3f}** (0.33-0.63), "
            "accuracy 0.500 (0.44-0.74).") in first
    assert "`gold.jsonl`: 4 hand-labelled sentences from 3 letters (3 found" in first
    # Cross-validation: its own figures and intervals.
    assert "2-fold cross-validation grouped by letter over 3 letters" in second
    assert "| `ehc_plans` | 1.00 | 1.00 | 1.00 | 2 |" in second
    assert f"**{with_labels['theme_macro_f1']:.3f}** (0.13-0.43)" in second
    assert "| negative | 0 | 2 | 0 | 0 | 1.00 |" in second
    # Read alone, in both settings.
    bare = no_labels["without_context"]
    assert bare["theme_macro_f1"] != bare["theme_micro_f1"]
    assert (f"| no hand labels | {bare['theme_macro_f1']:.3f} | {bare['stance_macro_f1']:.3f} "
            f"| {bare['stance_accuracy']:.3f} |") in alone
    cv = with_labels["without_context"]
    assert (f"| hand labels (grouped CV) | {cv['theme_macro_f1']:.3f} | "
            f"{cv['stance_macro_f1']:.3f} | {cv['stance_accuracy']:.3f} |") in alone


def test_quality_is_recorded_from_ten_sentences_and_kept_against_a_smaller_file(
    tmp_path: Path,
) -> None:
    """The app's Overview shows the figure record_quality keeps: from 10 sentences on
    (as evaluate says), and not replaced by another file of fewer sentences."""
    from textmine.evaluate import compute_metrics, record_quality

    corpus = Corpus.open(tmp_path / "corpus")
    with corpus.transaction() as con:
        con.execute("INSERT INTO models(version, created_at, path, meta) VALUES "
                    "('v1', ?, 'models/v1', '{}')", (now_iso(),))

    def record(name: str, n: int) -> str | None:
        figures = compute_metrics(["ehc_plans", "local_offer"], [["ehc_plans"]] * n,
                                  [["ehc_plans"]] * n,
                                  ["negative"] * n, ["negative"] * n)
        return record_quality(corpus, "v1", "held-out labels", tmp_path / name,
                              {**figures, "letters": 2})

    def kept() -> str:
        with corpus.reading() as con:
            meta = json.loads(con.execute("SELECT meta FROM models").fetchone()[0])
        entry = meta["quality"]["held-out labels"]
        # local_offer is in no label nor prediction: the Overview says it is not measured.
        assert entry["letters"] == 2 and entry["themes_not_scored"] == ["local_offer"]
        return f"{entry['gold']} {entry['sentences']}"

    assert "9 labelled sentences are too few" in str(record("nine.jsonl", 9))
    assert record("ten.jsonl", 10) is None and kept() == "ten.jsonl 10"
    # Another file as large is another measurement as good: it replaces the figure.
    assert record("twelve.jsonl", 12) is None and record("other.jsonl", 12) is None
    assert kept() == "other.jsonl 12"
    assert "already has a held-out labels figure from other.jsonl" in str(
        record("eleven.jsonl", 11))
    assert kept() == "other.jsonl 12"
    # The same file measured again (lines taken out of it) is its newer figure.
    assert record("other.jsonl", 11) is None and kept() == "other.jsonl 11"


def test_cross_validation_is_recorded_only_with_a_model_trained_on_that_file_alone(
    tmp_path: Path,
) -> None:
    """evaluate --cv records its figures as the current model's quality only when the
    folds were trained as the model was: on this labels file, and on it alone."""
    from textmine.evaluate import cv_recording
    from textmine.tag import file_sha256

    corpus = Corpus.open(tmp_path / "corpus")
    (tmp_path / "corpus" / "models" / "v1").mkdir(parents=True)
    (tmp_path / "corpus" / "models" / "v1" / "model.joblib").write_bytes(b"")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"letter": "a.pdf", "text": "An invented sentence.",
                                "themes": []}) + "\n")

    def trained_on(*hashes: str) -> None:
        with corpus.transaction() as con:
            con.execute("DELETE FROM models")
            con.execute("INSERT INTO models(version, created_at, path, meta, is_current) "
                        "VALUES ('v1', ?, 'models/v1', ?, 1)",
                        (now_iso(), json.dumps({"training": {"label_sha256": list(hashes)}})))

    trained_on("0" * 64)
    assert cv_recording(corpus, gold) is None  # another file: nothing to say
    trained_on(file_sha256(gold), "0" * 64)
    version, why = cv_recording(corpus, gold)
    assert version == "v1" and "trained on more hand labels than gold.jsonl" in str(why)
