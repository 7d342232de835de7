"""Weak labelling: the codebook's patterns and the section priors as noisy labels."""

from __future__ import annotations

import numpy as np
import pytest

from textmine.codebook import STANCES, load_codebook, parse_codebook
from textmine.weak import (
    PatternMatcher,
    anaphoric,
    normalise,
    weak_stance_labels,
    weak_theme_labels,
)


@pytest.fixture(scope="module")
def matcher() -> PatternMatcher:
    return PatternMatcher(load_codebook())


def themes_of(matcher: PatternMatcher, text: str) -> set[str]:
    scores = matcher.theme_scores([text])[0]
    return {t for t, s in zip(matcher.theme_ids, scores) if s >= 1}


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("The Local Offer website is hard to navigate.", "local_offer"),
        ("Young people have access to supported internships.", "post16_transition"),
        ("Too few EHC plans are issued within 20 weeks.", "ehc_plans"),
        ("Waiting times for autism assessment are long.", "health_input"),
        ("Families can use direct payments to buy short breaks.", "social_care"),
        ("The parent carer forum helps to co-produce services.", "co_production"),
        ("Suspensions and part-time timetables are rising.", "inclusion"),
        ("Leaders have established joint commissioning arrangements.", "joint_commissioning"),
    ],
)
def test_each_theme_has_patterns_for_its_core_vocabulary(
    matcher: PatternMatcher, text: str, theme: str
) -> None:
    assert theme in themes_of(matcher, text)


def test_patterns_respect_word_boundaries(matcher: PatternMatcher) -> None:
    # "ap" (alternative provision) must not fire inside "approach", nor "gp" in "gpa".
    assert "inclusion" not in themes_of(matcher, "Leaders agreed a new approach.")


def test_generic_partner_formula_does_not_make_a_health_sentence(matcher: PatternMatcher) -> None:
    text = "Leaders across education, health and care share an ambition for children."
    assert "health_input" not in themes_of(matcher, text)


def test_leadership_yields_to_a_more_specific_theme(matcher: PatternMatcher) -> None:
    specific = "Leaders work together to improve short breaks and direct payments."
    assert themes_of(matcher, specific) == {"social_care"}
    general = "Leaders work together and have strong governance."
    assert "joint_commissioning" in themes_of(matcher, general)


def test_leadership_yields_on_a_tie_too(matcher: PatternMatcher) -> None:
    # One leadership word and one word of a specific theme: the sentence is about the
    # specific theme ("funding" is a backdrop here, not the subject).
    assert themes_of(matcher, "Funding for short breaks has risen.") == {"social_care"}
    assert themes_of(matcher, "Funding for autism assessments has risen.") == {"health_input"}


def test_commissioning_is_leadership_even_beside_a_specific_theme(
    matcher: PatternMatcher,
) -> None:
    # Core patterns never yield: the sentence is about commissioning *and* about AP.
    text = "The commissioning of alternative provision is not well defined."
    assert themes_of(matcher, text) == {"inclusion", "joint_commissioning"}
    # Partnership working at leadership level is this theme too (the codebook); people
    # working together on the ground are only a hint of it, and it yields to the topic.
    assert themes_of(matcher, "Leaders work together on alternative provision.") == {
        "inclusion", "joint_commissioning"}
    assert themes_of(matcher, "Practitioners work together on alternative provision.") == {
        "inclusion"}


def test_normalise_straightens_quotes_and_spaces() -> None:
    assert normalise("Children\u2019s  SERVICES\n") == "children's services"


def test_batch_matching_gives_each_sentence_its_own_counts(matcher: PatternMatcher) -> None:
    texts = ["Short breaks are valued.", "", "No theme words here at all.", "Short breaks again."]
    scores = matcher.theme_scores(texts)
    j = matcher.theme_ids.index("social_care")
    assert scores[:, j].tolist() == [1.0, 0.0, 0.0, 1.0]


def test_weak_theme_labels_combine_own_and_neighbour_evidence() -> None:
    own = np.array([[2.0], [0.0], [0.0], [0.5], [0.0]])
    prev = np.array([[0.0], [2.0], [2.0], [0.0], [0.0]])
    nxt = np.zeros_like(own)
    labels, weight = weak_theme_labels(own, prev, nxt, np.array([0, 1, 0, 0, 0], bool))
    assert labels[:, 0].tolist() == [1, 1, 0, 0, 0]
    assert weight[0, 0] == 1.0  # strong own match: confident positive
    assert weight[1, 0] < weight[0, 0]  # "This means..." after a match: weaker positive
    assert weight[2, 0] < weight[4, 0]  # next to a match: a less certain negative
    assert weight[4, 0] == 1.0  # no evidence anywhere near: confident negative


def test_only_the_sentence_after_a_match_inherits_it() -> None:
    # Anaphora points back: "This..." just before a matching sentence is about what came
    # before it, not about the next one. It is no positive, and a less certain negative
    # than a sentence with no match on either side.
    own = np.array([[0.0], [2.0], [0.0], [0.0]])
    prev = np.array([[0.0], [0.0], [2.0], [0.0]])
    nxt = np.array([[2.0], [0.0], [0.0], [0.0]])
    labels, weight = weak_theme_labels(own, prev, nxt, np.array([True, False, False, True]))
    assert labels[:, 0].tolist() == [0, 1, 0, 0]
    assert weight[0, 0] == pytest.approx(0.4) and weight[2, 0] == pytest.approx(0.4)
    assert weight[3, 0] == 1.0  # no match next to it either way: a confident negative


def test_weak_label_weights_follow_the_strength_of_the_evidence() -> None:
    # One strong hit is a less certain positive than two; a related hint alone is the
    # least certain negative of all (it may well be about the theme).
    own = np.array([[1.0], [2.0], [0.5], [0.0]])
    prev = np.array([[0.0], [0.0], [0.0], [2.0]])
    labels, weight = weak_theme_labels(own, prev, np.zeros_like(own), np.zeros(4, bool))
    assert labels[:, 0].tolist() == [1, 1, 0, 0]
    assert weight[0, 0] < weight[1, 0] == 1.0
    assert weight[2, 0] < weight[3, 0] < 1.0


def test_anaphora_detects_sentences_that_point_back() -> None:
    assert anaphoric(["This means families wait.", "As a result, plans are late.",
                      "Families wait."]).tolist() == [True, True, False]


def stance_of(matcher: PatternMatcher, text: str, section: str | None) -> str:
    labels, _ = weak_stance_labels(matcher.stance_cues([text]), matcher.section_prior([section]))
    return STANCES[int(labels[0])]


def test_section_priors_decide_when_the_sentence_has_no_cues(matcher: PatternMatcher) -> None:
    bare = "Leaders meet every month."
    assert stance_of(matcher, bare, "strengths") == "positive"
    assert stance_of(matcher, bare, "weaknesses") == "negative"
    assert stance_of(matcher, bare, "context") == "neutral"


def test_a_description_reads_neutral_under_a_findings_heading(matcher: PatternMatcher) -> None:
    # The codebook's neutral cues (what inspectors did, who was appointed) outweigh the
    # findings section's even prior, which alone would call them positive.
    for text in ("Inspectors met leaders of the partnership.",
                 "A new director was appointed in March."):
        assert stance_of(matcher, text, "main_findings") == "neutral", text


def test_cues_override_the_section_prior(matcher: PatternMatcher) -> None:
    assert stance_of(matcher, "Waiting lists remain too long.", "strengths") == "negative"
    assert stance_of(matcher, "Families value the service, which works well.",
                     "weaknesses") == "positive"


def test_a_request_to_improve_is_negative(matcher: PatternMatcher) -> None:
    # The codebook: a recommendation names a shortfall. Under a findings heading (its
    # prior evenly split) such formal requests had no cue and came out positive.
    for text in ("The inspectorates ask that the partnership revises its plan.",
                 "The regulator requires the council to submit an improvement plan."):
        assert stance_of(matcher, text, "main_findings") == "negative", text


def test_contrast_with_both_polarities_is_mixed(matcher: PatternMatcher) -> None:
    text = "Although the service works well, waiting times are too long."
    assert stance_of(matcher, text, "experience") == "mixed"


def test_a_weakness_known_and_acted_on_is_mixed(matcher: PatternMatcher) -> None:
    # The codebook: mixed when the action is credited, negative when the weakness is
    # the point.
    text = "Leaders know about the queue and are working with therapists to shorten it."
    assert stance_of(matcher, text, "weaknesses") == "mixed"
    assert stance_of(matcher, "Leaders are aware of these long waits.", "weaknesses") == "negative"


def test_doing_worse_and_work_left_to_do_are_negative_and_as_well_as_is_no_praise(
    matcher: PatternMatcher,
) -> None:
    # In an experience section (its prior leaning positive) these had no negative cue
    # and one "well": their weak labels, and the model's tags, were positive.
    for text in ("Pupils with SEND are more likely to be permanently excluded than others.",
                 "Pupils on SEN support achieve less well at school than their classmates.",
                 "These pupils are more likely to have poor attendance."):
        assert stance_of(matcher, text, "experience") == "negative", text
    # Work left to do and harm done, often with a praise word beside them.
    for text in ("There is more to do to join up the work of professionals.",
                 "The gap has a negative impact on how well families cope.",
                 "Teachers get little information on the help each child needs."):
        assert stance_of(matcher, text, "experience") == "negative", text
    # "As well as" adds; "well" on its own still praises ("was well" is not "as well").
    cues = matcher.stance_cues(["Health staff, as well as teachers, attend the panel.",
                                "The event was well received.", "Families are well supported.",
                                "Leaders mitigate the negative impact of waits.",
                                "It has more to do with funding than with staff."])
    assert cues[:, 0].tolist() == [0, 1, 1, 0, 0]
    assert cues[:, 1].tolist() == [0, 0, 0, 0, 0]  # harm averted, or no work left to do


def test_praise_words_after_a_negation_do_not_make_a_sentence_positive(
    matcher: PatternMatcher,
) -> None:
    # Two praise words and one "not": counted plainly, the weak label was positive, and
    # the model learnt that failings in the experience section read positive.
    for text in ("Pupils' needs are not assessed quickly or accurately enough.",
                 "Families don't receive useful or timely support.",
                 "Young people do not benefit from a robust way of spotting needs early."):
        assert stance_of(matcher, text, "experience") == "negative", text
    assert stance_of(matcher, "Plans are neither timely nor accurate.", "experience") == \
        "negative"
    # The scope ends at a comma or a contrast word; praise beyond it still counts.
    cues = matcher.stance_cues(["Needs are not missed, and support is timely and effective.",
                                "Not only is the service effective, it is also timely.",
                                "Plans are not late but clear and useful."])
    assert cues[:, 0].tolist() == [2, 2, 2]
    # A concession keeps its praise (the codebook calls it mixed), in the scope or not.
    text = "Although the forum is effective, leaders do not act on its advice quickly."
    assert matcher.stance_cues([text])[0, 0] == 2
    # ... praise inside the negation's scope too ("not find it timely": 2 positive cues,
    # the concession flag set).
    cues = matcher.stance_cues(["Although support is good, families do not find it timely."])
    assert cues[0, [0, 4]].tolist() == [2, 1]
    # A sentence-initial "However" links to the sentence before: no concession inside.
    cues = matcher.stance_cues(["However the service is good, waits for therapy are too long."])
    assert cues[0, 4] == 0


def test_a_negation_pattern_with_a_group_of_its_own_still_negates(tmp_path) -> None:
    # The scope of a negation was group 1 of the joined expression: a negator written
    # "(not|never)" made its own word the scope, and the praise after it counted.
    text = load_codebook().path.read_text()
    old = "not(?! only)|never|cannot|no|nor|neither|\\\\w+n't"
    assert old in text
    grouped = parse_codebook(text.replace(old, "(not|never)(?! only)|cannot|no|nor|neither"),
                             tmp_path / "c.yaml")
    cues = PatternMatcher(grouped).stance_cues(["Families are not well supported."])
    assert cues[0, 0] == 0 and cues[0, 1] == 1


def test_recommendations_are_negative(matcher: PatternMatcher) -> None:
    assert stance_of(matcher, "Leaders should improve the timeliness of plans.",
                     "actions") == "negative"


def test_custom_codebook_theme_gets_weak_labels(tmp_path) -> None:
    from textmine.codebook import PACKAGED_CODEBOOK

    text = PACKAGED_CODEBOOK.read_text().replace("\nstance:", """
  - id: transport
    name: Transport
    definition: Home to school transport.
    patterns: ["transport"]
\nstance:""", 1)
    m = PatternMatcher(parse_codebook(text, tmp_path / "c.yaml"))
    assert "transport" in themes_of(m, "Transport arrangements are unreliable.")


def test_a_themes_exclude_patterns_veto_it_and_patterns_match_whole_words(tmp_path) -> None:
    # Patterns without \b of their own: the engine adds the word boundaries (the
    # codebook's "\bap\b" could not show it), and `exclude` vetoes the theme.
    from textmine.codebook import PACKAGED_CODEBOOK

    text = PACKAGED_CODEBOOK.read_text().replace("\nstance:", """
  - id: transport
    name: Transport
    definition: Home to school transport.
    patterns: ["transport", "bus"]
    exclude: ["transport of goods"]
\nstance:""", 1)
    m = PatternMatcher(parse_codebook(text, tmp_path / "c.yaml"))
    assert "transport" in themes_of(m, "The school bus is late.")
    assert "transport" not in themes_of(m, "Local businesses employ young people.")
    assert "transport" not in themes_of(m, "The transport of goods is not our subject.")


def test_the_icb_reorganisation_sentence_is_about_no_theme(matcher: PatternMatcher) -> None:
    # Every 2023 report's context says who commissions health services now; tagging it
    # health_input put a health mark on every area in the theme tables.
    text = ("In July 2022, NHS Exampleshire Integrated Care Board (ICB) became responsible "
            "for the commissioning of health services in Exampleshire.")
    assert themes_of(matcher, text) == set()
    assert "health_input" in themes_of(matcher, "Health services give timely advice.")


def test_plans_for_adulthood_are_not_ehc_plans(matcher: PatternMatcher) -> None:
    assert themes_of(matcher, "Too often, plans for adulthood are made late.") == {
        "post16_transition"
    }
    assert "ehc_plans" in themes_of(matcher, "Their plans are out of date.")


def test_achieving_well_is_attainment_but_achieving_outcomes_is_not(
    matcher: PatternMatcher,
) -> None:
    # The codebook's inclusion covers educational progress and attainment, not every
    # "achieve" (EHC plan targets met, aspirations for adult life).
    assert "inclusion" in themes_of(matcher, "Pupils with SEN support achieve less well.")
    assert "inclusion" not in themes_of(
        matcher, "Leaders do not check whether the outcomes in plans are achieved.")
    assert "inclusion" not in themes_of(
        matcher, "The service helps young people achieve their aspirations.")


@pytest.mark.parametrize(("text", "themes"), [
    # Words of a theme in another sense: a personal budget is social care, "investigate"
    # is no investment, a youth role is no commissioning, "an absence of" is a lack, the
    # forum's "inclusion" in a board is not inclusion in school.
    ("Families value their personal budgets.", set()),
    ("Leaders investigate complaints quickly.", set()),
    ("The Young Commissioners meet each month.", set()),
    ("There is an absence of oversight of plans.", {"joint_commissioning"}),
    ("Leaders value the inclusion of the forum at a strategic level.", {"joint_commissioning"}),
    # ... and the theme's own in other words: pupil referral units are alternative
    # provision; checking the quality of plans is quality assurance.
    ("Too many pupils wait in the pupil referral unit.", {"inclusion"}),
    ("The fair access panel places pupils quickly.", {"inclusion"}),
    ("Leaders check the quality of plans.", {"joint_commissioning", "ehc_plans"}),
    # ... but only leaders' (the definition: at leadership level).
    ("Teachers monitor the quality of handwriting.", set()),
    ("Families say staff know the area well.", set()),
    ("Leaders know their area well.", {"joint_commissioning"}),
    ("Leaders promote the inclusion of pupils with SEND.", {"inclusion"}),
])
def test_patterns_read_the_words_in_the_codebooks_sense(
        matcher: PatternMatcher, text: str, themes: set[str]) -> None:
    # (Only the themes these patterns decide: a personal budget is social care's.)
    assert themes_of(matcher, text) & {"joint_commissioning", "inclusion", "ehc_plans"} == themes


@pytest.mark.parametrize(("theme", "text", "has"), [
    # Each theme's words in the codebook's sense (an audit of the six other themes' patterns
    # against CODEBOOK.md on the whole corpus): the voice of the child heard, not outcomes
    # "lived"; health services' waits, not a wait for a plan or a place; information about
    # what support exists, not information in a plan; post-16 ages, not the 0-25 service; the
    # EHC needs assessment, not the joint strategic one; children's social care, not
    # "foster relationships"; and a job title is about no theme.
    ("co_production", "Many young people say they do not feel heard by services.", True),
    ("co_production", "Parents have lost confidence in the local area partnership.", True),
    ("co_production", "The work has not improved the lived experience of pupils.", False),
    ("health_input", "Children wait for more than a year for an autism assessment.", True),
    ("health_input", "The dynamic support register is reviewed each month.", True),
    ("health_input", "Many pupils wait for a special school place for over a year.", False),
    ("local_offer", "Families do not know where to go for help.", True),
    ("local_offer", "Young people get information, advice and guidance about options.", True),
    ("local_offer", "Many EHC plans hold out-of-date information about needs.", False),
    ("post16_transition", "Therapy stops when young people reach 18.", True),
    ("post16_transition", "The council's 0 to 25 SEND service has grown.", False),
    ("ehc_plans", "Most needs assessments are completed on time.", True),
    ("ehc_plans", "The joint strategic needs assessment informs commissioning.", False),
    ("social_care", "Care Act assessments for young people come too late.", True),
    ("social_care", "Youth workers foster positive relationships.", False),
    ("inclusion", "The director for inclusion was appointed in March.", False),
    # The letters' gloss of co-production is about co-production, not leaders' partnership.
    ("joint_commissioning", "Families value co-production (a way of working where leaders "
     "and families work together to create a service).", False),
    ("co_production", "Families value co-production (a way of working where leaders and "
     "families work together to create a service).", True),
    ("inclusion", "The new director for education, inclusion and skills started.", False),
])
def test_each_themes_patterns_follow_its_definition(
        matcher: PatternMatcher, theme: str, text: str, has: bool) -> None:
    assert (theme in themes_of(matcher, text)) is has


def test_normalise_folds_the_pdf_characters_patterns_would_miss(matcher: PatternMatcher) -> None:
    # Letters come from PDFs: curly quotes both ways, en dashes and soft hyphens inside
    # words. Unfolded, "post\u201316" and "pay\u00adments" lost their themes.
    assert normalise("\u2018Short breaks\u2019") == "'short breaks'"
    assert themes_of(matcher, "Post\u201316 options are limited.") == {"post16_transition"}
    assert "social_care" in themes_of(matcher, "Families use direct pay\u00adments.")


def test_a_theme_word_at_the_end_of_a_longer_word_is_no_match(tmp_path) -> None:
    # "bus" ends "syllabus": the start of a pattern is a word boundary too. And an
    # exclude pattern matching on its own leaves no evidence, not less than none: the
    # sentence is a confident negative for the theme.
    from textmine.codebook import PACKAGED_CODEBOOK

    text = PACKAGED_CODEBOOK.read_text().replace("\nstance:", """
  - id: transport
    name: Transport
    definition: Home to school transport.
    patterns: ["bus"]
    exclude: ["goods"]
\nstance:""", 1)
    m = PatternMatcher(parse_codebook(text, tmp_path / "c.yaml"))
    assert "transport" in themes_of(m, "The bus is late.")
    assert "transport" not in themes_of(m, "The syllabus is broad.")
    own = m.theme_scores(["The goods are late."])
    labels, weight = weak_theme_labels(own, np.zeros_like(own), np.zeros_like(own),
                                       np.zeros(1, bool))
    j = m.theme_ids.index("transport")
    assert (labels[0, j], weight[0, j]) == (0, 1.0)


def test_a_long_batch_scores_each_sentence_as_alone(matcher: PatternMatcher) -> None:
    # Corpus training and classify match thousands of sentences in one batch: an offset
    # slipping by a character a sentence gave late sentences their neighbours' themes.
    texts = ["Short breaks are valued.", "Leaders meet often."] * 40
    alone = np.vstack([matcher.theme_scores([t]) for t in texts])
    np.testing.assert_array_equal(matcher.theme_scores(texts), alone)
    cues_alone = np.vstack([matcher.stance_cues([t]) for t in texts])
    np.testing.assert_array_equal(matcher.stance_cues(texts), cues_alone)


def test_a_negation_reaches_the_codebooks_four_words_and_no_further(
    matcher: PatternMatcher,
) -> None:
    # negation_scope: 4 in the codebook; praise as the fourth word is negated, as the
    # fifth it counts; a word that merely begins like a contrast word ("thoughtful")
    # does not end the scope.
    assert matcher.stance_cues(["Families do not meet staff who effective."])[0, 0] == 0
    assert matcher.stance_cues(["Families do not meet staff who are effective."])[0, 0] == 1
    assert matcher.stance_cues(["Plans are not thoughtful or effective."])[0, 0] == 0
    # ... and a comma ends it however few words it holds; praise before it is praise.
    assert matcher.stance_cues(["Staff are effective and do not leave."])[0, 0] == 1
    assert matcher.stance_cues(["Plans are not late, they are timely."])[0, 0] == 1


def test_praise_and_fault_either_side_of_a_mid_sentence_but_is_mixed(
    matcher: PatternMatcher,
) -> None:
    # Only a sentence-initial "But"/"However" links back to the previous sentence; inside
    # the sentence it joins a credit and a fault (the codebook's mixed).
    text = "The service works well but waiting times are too long."
    assert matcher.stance_cues([text])[0, 4] == 1
    assert stance_of(matcher, text, "experience") == "mixed"
    # Praise on both sides of a "but" is no concession: the sentence is positive.
    text = "Staff are skilled but the service is also effective."
    assert matcher.stance_cues([text])[0, 4] == 0
    assert stance_of(matcher, text, "experience") == "positive"
    # An opening "Although" with no comma to close it does not hide a later "but".
    text = "Although leaders meet often the service works well but waits are too long."
    assert matcher.stance_cues([text])[0, 4] == 1
    # A comma before the marker and none after it: "A, although B" was passed over
    # (its comma looked for after the marker) and read positive.
    for text in ("Support is good, although waits are too long.",
                 "The forum is effective, but waits for therapy are too long."):
        assert matcher.stance_cues([text])[0, 4] == 1, text
        assert stance_of(matcher, text, "experience") == "mixed", text


def test_a_sentence_in_no_known_section_is_read_from_its_cues(matcher: PatternMatcher) -> None:
    # No section (a sentence outside the letter's headings) is an even prior, not a
    # context section's neutral one.
    assert stance_of(matcher, "Waiting lists remain too long.", None) == "negative"
    assert stance_of(matcher, "Families value the service, which works well.", None) == \
        "positive"


def test_anaphora_needs_the_whole_pointing_word() -> None:
    # "Items", "Hereford", "Thesis" begin like "it", "here", "the(se)": no pointing back.
    assert anaphoric(["Items are late.", "Hereford leaders meet.", "Italy is far.",
                      "  This means families wait."]).tolist() == [False, False, False, True]


def test_weak_theme_label_boundaries_and_weights() -> None:
    # The documented cut-offs: one strong hit is a positive, a previous sentence with
    # exactly one hit is inherited by "This...", and an anaphoric sentence with a related
    # hint after a match inherits it too. Many hits are never weighed above a certain 1.
    own = np.array([[5.0], [0.0], [0.5], [0.5]])
    prev = np.array([[0.0], [1.0], [1.0], [0.0]])
    labels, weight = weak_theme_labels(own, prev, np.zeros_like(own),
                                       np.array([False, True, True, True]))
    assert labels[:, 0].tolist() == [1, 1, 1, 0]
    assert weight[:, 0].tolist() == pytest.approx([1.0, 0.4, 0.4, 0.2])


def test_a_stance_label_is_weighed_by_its_probability(matcher: PatternMatcher) -> None:
    # The weight is the posterior of the label: at most 1, and more certain with more
    # agreeing cues.
    texts = ["Leaders meet every month.", "Support is effective.",
             "Support is timely, effective and well coordinated."]
    labels, weight = weak_stance_labels(matcher.stance_cues(texts),
                                        matcher.section_prior(["experience"] * 3))
    assert [STANCES[i] for i in labels] == ["positive"] * 3
    assert 0 < weight[0] < weight[1] < weight[2] <= 1
