"""Sentence features: the batch TF-IDF must equal scikit-learn's and not depend on the batch."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from textmine.features import FastTfidf, Item, SentenceFeatures
from textmine.model import _theme_sets
from textmine.weak import normalise

# Invented sentences in the letters' register, with the characters normalise() folds.
TEXTS = [
    "Families wait too long for speech and language therapy.",
    "Leaders\u2019 plans to reduce waiting times have not yet had an impact.",
    "The parent carer forum is a strong, equal partner in co\u00adproduction.",
    "Co-produced plans reflect children\u2019s views \u2013 and their wishes.",
    "However, waiting times for autism assessments remain too long.",
    "",
    "Young people\u2019s post-16 options are limited; some are NEET.",
    "However, the parent carer forum says families\u2019 views are not heard.",
    "Speech and language therapy is timely for children in special schools.",
]


def test_matches_scikit_learn_tfidf() -> None:
    ours = FastTfidf(ngrams=2, min_df=2)
    theirs = TfidfVectorizer(analyzer=ours._grams, min_df=2, sublinear_tf=True)
    texts = [normalise(t) for t in TEXTS]
    ours.fit(texts)
    expected = theirs.fit_transform(texts)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert "<s> however" in ours.vocabulary_  # a sentence-initial word is its own feature
    np.testing.assert_allclose(ours.transform(texts).toarray(), expected.toarray())
    # transform normalises raw text itself, as the features pass it.
    np.testing.assert_allclose(ours.transform(TEXTS).toarray(), expected.toarray())


@pytest.mark.parametrize("ngrams", [1, 2])
def test_rows_do_not_depend_on_the_batch(ngrams: int) -> None:
    tfidf = FastTfidf(ngrams=ngrams, min_df=1).fit([normalise(t) for t in TEXTS])
    odd = ["", "   ", "therapy\x00waiting times", "\u2013however\u2013", "x"]
    batch = TEXTS + odd
    whole = tfidf.transform(batch).toarray()
    one_by_one = np.vstack([tfidf.transform([t]).toarray() for t in batch])
    np.testing.assert_allclose(whole, one_by_one)
    assert not whole[len(TEXTS)].any()  # an empty text is an empty row
    assert tfidf.transform([]).shape == (0, len(tfidf.vocabulary_))


def test_pickled_features_transform_the_same() -> None:
    items = [Item(text=t, section="weaknesses", prev_text=TEXTS[i - 1]) for i, t in
             enumerate(TEXTS)]
    features = SentenceFeatures().fit(items)
    size = len(pickle.dumps(features))
    before = features.transform(items)
    assert len(pickle.dumps(features)) == size  # the lookup built by transform is not saved
    again = pickle.loads(pickle.dumps(features))
    assert abs(again.transform(items) - before).max() == 0


@pytest.mark.parametrize("n_themes", [0, 3, 70])
def test_theme_sets_name_each_row(n_themes: int) -> None:
    ids = [f"theme{j}" for j in range(n_themes)]
    on = np.random.default_rng(1).random((40, n_themes)) < 0.3
    expected = [tuple(t for t, flag in zip(ids, row) if flag) for row in on]
    assert _theme_sets(on, ids) == expected


def test_refit_forgets_the_old_vocabulary() -> None:
    tfidf = FastTfidf(ngrams=2, min_df=1).fit(TEXTS[:3])
    tfidf.transform(TEXTS)
    refit = tfidf.fit(TEXTS[3:]).transform(TEXTS).toarray()
    fresh = FastTfidf(ngrams=2, min_df=1).fit(TEXTS[3:]).transform(TEXTS).toarray()
    np.testing.assert_allclose(refit, fresh)


def test_neighbours_are_taken_within_the_letter_and_section() -> None:
    from textmine.features import items_from_rows

    rows = [
        {"letter_id": "A", "section": "strengths", "text": "one"},
        {"letter_id": "A", "section": "strengths", "text": "two"},
        {"letter_id": "A", "section": "weaknesses", "text": "three", "heading": "Do better"},
        {"letter_id": "B", "section": "weaknesses", "text": "four"},
        {"letter_id": "B", "section": "weaknesses", "text": "five"},
    ]
    items = items_from_rows(rows)
    assert [(it.prev_text, it.next_text) for it in items] == [
        ("", "two"),  # the first sentence has no previous one
        ("one", ""),  # "three" is in another section
        ("", ""),  # "four" is in another letter
        ("", "five"),
        ("four", ""),
    ]
    assert [it.letter for it in items] == ["A", "A", "A", "B", "B"]
    assert items[2].section == "weaknesses" and items[2].heading == "Do better"
    # Read alone (as classify reads a sentence it cannot find), no context is left.
    assert items[1].alone() == Item(text="two", letter="A")


# Columns of SentenceFeatures' blocks: words, context words, heading words, sections.
def _blocks(features: SentenceFeatures, X) -> list[np.ndarray]:
    sizes = [len(features.words_.vocabulary_), len(features.context_.vocabulary_),
             len(features.heading_.vocabulary_)]
    edges = np.cumsum([0, *sizes])
    dense = X.toarray()
    return [dense[:, a:b] for a, b in zip(edges[:-1], edges[1:])] + [dense[:, edges[-1]:]]


def test_context_heading_and_section_are_features_with_their_weights() -> None:
    from textmine.codebook import SECTIONS

    heading = "Invented heading about the partnership plans"
    items = [Item(text=t, section=SECTIONS[i % len(SECTIONS)], heading=heading,
                  prev_text=TEXTS[i - 1], next_text=TEXTS[(i + 1) % len(TEXTS)])
             for i, t in enumerate(TEXTS)]
    features = SentenceFeatures(context_weight=0.5).fit(items)
    probe = [
        Item(text=TEXTS[0], section=SECTIONS[0], heading=heading, prev_text=TEXTS[4]),
        Item(text=TEXTS[0], next_text=TEXTS[4]),  # context after the sentence only
        Item(text=TEXTS[0], section=SECTIONS[3]),
    ]
    words, context, head, sections = _blocks(features, features.transform(probe))
    np.testing.assert_allclose(np.linalg.norm(words, axis=1), 1.0)
    # The neighbours' words weigh context_weight, the heading's half that.
    np.testing.assert_allclose(np.linalg.norm(context, axis=1), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(np.linalg.norm(head, axis=1), [0.25, 0.0, 0.0])
    # The next sentence alone is the same context as the previous one alone, and a row
    # does not depend on what else is in the batch (classify reads lines in batches).
    np.testing.assert_allclose(context[0], context[1])
    for i, item in enumerate(probe):
        np.testing.assert_allclose(features.transform([item]).toarray(),
                                   features.transform(probe)[i].toarray())
    # Every section has its own column, the first one too.
    expected = np.zeros((3, len(SECTIONS)))
    expected[0, 0] = expected[2, 3] = 1.0
    np.testing.assert_array_equal(sections, expected)


def test_hyphenated_and_possessive_words_are_one_word() -> None:
    from textmine.features import tokens

    # "co-produced" is a word of its own, not "co" and "produced".
    assert tokens("co-produced plans, o'neil's post-16 offer") == [
        "co-produced", "plans", "o'neil's", "post-16", "offer"]


def test_both_neighbours_words_are_context_and_the_section_has_its_weight() -> None:
    from textmine.codebook import SECTIONS

    items = [Item(text=t, section=SECTIONS[1], prev_text=TEXTS[i - 1]) for i, t in
             enumerate(TEXTS)]
    features = SentenceFeatures(section_weight=2.0).fit(items)
    # Neighbours without a final full stop: the last word of one and the first of the
    # other stay two words.
    probe = [Item(text=TEXTS[0], section=SECTIONS[1], prev_text="staff help families",
                  next_text="therapy is timely")]
    _, context, _, sections = _blocks(features, features.transform(probe))
    names = features.context_.get_feature_names_out()
    seen = {n for n, v in zip(names, context[0]) if v}
    assert {"ctx:families", "ctx:therapy"} <= seen
    assert sections[0].tolist() == [2.0 if i == 1 else 0.0 for i in range(len(SECTIONS))]


def test_the_pattern_block_reads_each_neighbour_on_its_own_side() -> None:
    from textmine.codebook import load_codebook

    codebook = load_codebook()
    features = SentenceFeatures(codebook, use_patterns=True).fit(
        [Item(text=t, prev_text=TEXTS[i - 1]) for i, t in enumerate(TEXTS)])
    probe = [Item(text="Leaders meet.", prev_text="Short breaks are valued.")]
    X = features.transform(probe).toarray()[0]
    n = len(codebook.theme_ids)
    own, prev, nxt = (X[-(3 * n + 5):-5][k * n:(k + 1) * n] for k in range(3))
    j = codebook.theme_ids.index("social_care")
    # A neighbour's evidence counts half, squashed as the sentence's own is.
    assert own[j] == 0 and nxt[j] == 0
    assert prev[j] == pytest.approx(np.log1p(0.5))
