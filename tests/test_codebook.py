"""The codebook file: validation, overrides, hashing, and `sendlens themes`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sendlens.cli import app
from textmine.codebook import (
    PACKAGED_CODEBOOK,
    CodebookError,
    codebook_path,
    load_codebook,
    parse_codebook,
)

THEMES = ["co_production", "health_input", "local_offer", "post16_transition", "ehc_plans",
          "joint_commissioning", "inclusion", "social_care"]

NEW_THEME = """
  - id: transport
    name: Home to school transport
    definition: Travel assistance for children and young people with SEND.
    patterns:
      - "transport"
      - "travel (assistance|training)"
"""


def test_packaged_codebook_has_the_eight_themes_and_stance_cues() -> None:
    cb = load_codebook(PACKAGED_CODEBOOK)
    assert cb.theme_ids == THEMES
    assert all(t.definition and t.patterns for t in cb.themes)
    assert cb.stance.section_priors["strengths"]["positive"] > 0.5
    assert cb.stance.section_priors["actions"]["negative"] > 0.5
    assert cb.stance.recommendation_sections == ("actions",)
    assert cb.stance.neutral_sections == ("context",)
    assert cb.fixed_wording_sections == ("outcome",)
    assert cb.stance.contrast and cb.stance.positive and cb.stance.negative


@pytest.mark.parametrize("key, where, good, bad", [
    ("fixed_wording_sections", "fixed_wording_sections", "outcome", "outcomes"),
    ("neutral_sections", "stance.neutral_sections", "context", "contexts"),
])
def test_an_unknown_section_in_a_section_rule_is_named(key: str, where: str, good: str,
                                                       bad: str, tmp_path: Path) -> None:
    text = PACKAGED_CODEBOOK.read_text()
    assert f"{key}: [{good}]" in text
    with pytest.raises(CodebookError, match=rf"{where}: unknown section '{bad}'"):
        parse_codebook(text.replace(f"{key}: [{good}]", f"{key}: [{bad}]", 1),
                       tmp_path / "codebook.yaml")


def test_an_unknown_recommendation_section_is_named(tmp_path: Path) -> None:
    text = PACKAGED_CODEBOOK.read_text().replace("recommendation_sections: [actions]",
                                                 "recommendation_sections: [action]", 1)
    with pytest.raises(CodebookError, match=r"recommendation_sections: unknown section "
                       r"'action' \(sections: .*actions"):
        parse_codebook(text, tmp_path / "codebook.yaml")


@pytest.mark.parametrize("old, new, message", [
    # A misspelt section was ignored: its sentences lost their lean (1840 strengths
    # passages positive became 1762, 54 neutral), with no word.
    ("    strengths:     {", "    strenghts:     {",
     r"stance.section_priors: unknown section 'strenghts'"),
    # Text, nan, a negative number or yes: a traceback, a scikit-learn error, or a prior.
    ("{positive: 0.70, negative: 0.12", "{positive: abc, negative: 0.12",
     r"stance.section_priors.strengths.positive: 'abc' is not a probability"),
    ("{positive: 0.70, negative: 0.12", "{positive: .nan, negative: 0.12",
     r"strengths.positive: nan is not a probability"),
    ("{positive: 0.70, negative: 0.12", "{positive: -0.1, negative: 0.12",
     r"strengths.positive: -0.1 is not a probability"),
    ("{positive: 0.70, negative: 0.12", "{positive: yes, negative: 0.12",
     r"strengths.positive: True is not a probability"),
    ("  section_priors:\n    strengths:", "  section_priors: 5\n  xstrengths:",
     r"stance.section_priors: expected a map of section name"),
    # A misspelt stance would be read as 0, the others rescaled to make up for it.
    ("{positive: 0.70, negative: 0.12", "{postive: 0.70, negative: 0.12",
     r"stance.section_priors.strengths: expected a map of positive, negative, mixed, "
     r"neutral"),
    # All zero: no lean to rescale (a division by zero).
    ("{positive: 0.70, negative: 0.12, mixed: 0.08, neutral: 0.10}",
     "{positive: 0, negative: 0, mixed: 0, neutral: 0}",
     r"stance.section_priors.strengths: probabilities sum to zero"),
], ids=["misspelt-section", "text", "nan", "negative", "yes", "not-a-map", "misspelt-stance",
        "all-zero"])
def test_a_section_prior_that_is_not_a_probability_map_is_named(
        old: str, new: str, message: str, tmp_path: Path) -> None:
    text = PACKAGED_CODEBOOK.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    if "xstrengths" in text:  # the map's entries gone with it
        text = re.sub(r"\n  xstrengths:.*(\n    \w+: +\{.*)*", "", text, count=1)
    with pytest.raises(CodebookError, match=message):
        parse_codebook(text, tmp_path / "codebook.yaml")


@pytest.mark.parametrize("value", ["0", "yes", "four", "50"])
def test_a_negation_scope_that_is_not_a_word_count_is_named(tmp_path: Path,
                                                            value: str) -> None:
    text = PACKAGED_CODEBOOK.read_text().replace("negation_scope: 4",
                                                 f"negation_scope: {value}", 1)
    with pytest.raises(CodebookError, match=r"stance.negation_scope: expected a number of "
                       r"words from 1 to 20"):
        parse_codebook(text, tmp_path / "codebook.yaml")


def test_priors_are_rescaled_and_one_section_may_be_given_alone(tmp_path: Path) -> None:
    # Percentages, or weights that do not add up to one, lean a section as their shares
    # do: a prior of 70 is not seventy times as strong as one of 0.70.
    text = PACKAGED_CODEBOOK.read_text()
    base = parse_codebook(text, tmp_path / "c.yaml").stance.section_priors
    old = "{positive: 0.70, negative: 0.12, mixed: 0.08, neutral: 0.10}"
    assert old in text
    for weights in ("{positive: 70, negative: 12, mixed: 8, neutral: 10}",
                    "{positive: 7, negative: 1.2, mixed: 0.8, neutral: 1}"):
        priors = parse_codebook(text.replace(old, weights, 1),
                                tmp_path / "c.yaml").stance.section_priors
        assert priors["strengths"] == pytest.approx(base["strengths"]), weights
        assert sum(priors["strengths"].values()) == pytest.approx(1.0)
    # One section needs no brackets, as one pattern needs none.
    single = text.replace("recommendation_sections: [actions]", "recommendation_sections: actions",
                          1)
    assert single != text
    assert parse_codebook(single, tmp_path / "c.yaml").stance.recommendation_sections == (
        "actions",)


def test_a_key_given_twice_or_misspelt_is_an_error_not_ignored(tmp_path: Path) -> None:
    packaged = PACKAGED_CODEBOOK.read_text()
    # YAML keeps the last of two equal keys: the first list would be lost.
    twice = packaged.replace("    exclude_note: a family",
                             "    related: [x]\n    exclude_note: a family", 1)
    second = twice.splitlines().index("    related:") + 1
    with pytest.raises(CodebookError,
                       match=rf"(?s)not valid YAML.*'related' given twice.*line {second},"):
        parse_codebook(twice, tmp_path / "codebook.yaml")
    misspelt = packaged.replace("    related:\n", "    relatd:\n", 1)
    with pytest.raises(CodebookError, match=r"theme co_production: unknown key 'relatd'"):
        parse_codebook(misspelt, tmp_path / "codebook.yaml")
    stance = packaged.replace("  contrast:\n", "  contrasts:\n", 1)
    with pytest.raises(CodebookError, match=r"stance: unknown key 'contrasts'"):
        parse_codebook(stance, tmp_path / "codebook.yaml")
    # At the top of the file too: a misspelt "ignore:" dropped its phrases without a word.
    top = packaged.replace("\nignore:\n", "\nignroe:\n", 1)
    assert top != packaged
    with pytest.raises(CodebookError, match=r"codebook.yaml: unknown key 'ignroe' \(expected "
                       r"one of fixed_wording_sections, ignore"):
        parse_codebook(top, tmp_path / "codebook.yaml")


def test_yaml_merge_keys_still_work_and_odd_keys_are_errors(tmp_path: Path) -> None:
    packaged = PACKAGED_CODEBOOK.read_text()
    merged = packaged.replace("  - id: co_production\n",
                              "  - <<: {yields_to_others: false}\n    id: co_production\n", 1)
    assert parse_codebook(merged, tmp_path / "c.yaml").theme_ids == THEMES
    odd = packaged.replace("  - id: co_production\n", "  - ? [a, b]\n    : 1\n"
                           "    id: co_production\n", 1)
    with pytest.raises(CodebookError, match="(?s)not valid YAML.*unhashable key"):
        parse_codebook(odd, tmp_path / "c.yaml")


def test_notes_in_words_are_not_patterns() -> None:
    cb = load_codebook(PACKAGED_CODEBOOK)
    assert cb.theme("co_production").exclude_note.startswith("a family merely named")
    assert cb.theme("co_production").exclude == ()
    assert cb.theme("health_input").exclude_note and cb.theme("health_input").exclude


def test_bad_regex_is_reported_with_theme_and_pattern(tmp_path: Path) -> None:
    text = PACKAGED_CODEBOOK.read_text().replace('"local offer"', '"local (offer"', 1)
    with pytest.raises(CodebookError, match=r"theme local_offer.*local \(offer"):
        parse_codebook(text, tmp_path / "c.yaml")


def test_duplicate_and_malformed_theme_ids_are_rejected(tmp_path: Path) -> None:
    dup = PACKAGED_CODEBOOK.read_text().replace(
        "\nstance:", NEW_THEME.replace("transport\n", "inclusion\n", 1) + "\nstance:", 1)
    with pytest.raises(CodebookError, match="duplicate theme id 'inclusion'") as caught:
        parse_codebook(dup, tmp_path / "c.yaml")
    # Named at the second theme's own line, as an error in one of its lists is.
    line = dup.splitlines().index("  - id: inclusion", dup.splitlines().index(
        "  - id: inclusion") + 1) + 1
    assert str(caught.value).startswith(f"{tmp_path / 'c.yaml'}, line {line}: theme 9 of "
                                        "the list: duplicate theme id 'inclusion'")
    with pytest.raises(CodebookError, match="lower_snake_case"):
        parse_codebook(NEW_THEME.replace("id: transport", "id: Transport Needs")
                       .join(["themes:", ""]), tmp_path / "c.yaml")


def test_corpus_codebook_and_environment_override_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SENDLENS_CODEBOOK", raising=False)
    assert codebook_path(tmp_path) == PACKAGED_CODEBOOK
    (tmp_path / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text())
    assert codebook_path(tmp_path) == tmp_path / "codebook.yaml"
    other = tmp_path / "mine.yaml"
    other.write_text(PACKAGED_CODEBOOK.read_text())
    monkeypatch.setenv("SENDLENS_CODEBOOK", str(other))
    assert codebook_path(tmp_path) == other


def test_a_corpus_codebook_that_cannot_be_read_is_an_error_not_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A link to a shared drive that is not mounted: training on the packaged codebook
    # instead would drop the researcher's themes without a word.
    monkeypatch.delenv("SENDLENS_CODEBOOK", raising=False)
    (tmp_path / "codebook.yaml").symlink_to(tmp_path / "unmounted" / "codebook.yaml")
    with pytest.raises(CodebookError, match=r"codebook .*codebook.yaml: no such file"):
        load_codebook(corpus=tmp_path)
    (tmp_path / "codebook.yaml").unlink()
    (tmp_path / "codebook.yaml").mkdir()
    with pytest.raises(CodebookError, match="a folder, not a file"):
        load_codebook(corpus=tmp_path)


def test_a_pattern_matching_an_empty_text_and_a_name_given_twice_are_refused(
        tmp_path: Path) -> None:
    # "" matched before every "(": a theme on 69% of sentences with a bracket in them.
    empty = PACKAGED_CODEBOOK.read_text().replace(
        "\nstance:", NEW_THEME.replace('"transport"', '""') + "\nstance:", 1)
    with pytest.raises(CodebookError, match=r"theme transport.patterns: pattern '' matches "
                                            "an empty text"):
        parse_codebook(empty, tmp_path / "c.yaml")
    starred = empty.replace("- \"\"", '- "(speech)?"')
    with pytest.raises(CodebookError, match="matches an empty text"):
        parse_codebook(starred, tmp_path / "c.yaml")
    # Two themes of one name would be one column of a chart, one choice in the app.
    twice = PACKAGED_CODEBOOK.read_text().replace(
        "\nstance:", NEW_THEME.replace("Home to school transport", "Social care and short "
                                        "breaks") + "\nstance:", 1)
    with pytest.raises(CodebookError, match="theme transport: the name 'Social care and short "
                                            "breaks' is also theme social_care's"):
        parse_codebook(twice, tmp_path / "c.yaml")
    # Typed in another case or with a double space, it is still one column of a chart.
    alike = twice.replace("name: Social care and short breaks\n    definition: Travel",
                          "name: social care  and Short Breaks\n    definition: Travel", 1)
    assert alike != twice
    with pytest.raises(CodebookError, match="is also theme social_care's"):
        parse_codebook(alike, tmp_path / "c.yaml")


def test_hash_changes_when_what_the_file_says_changes(tmp_path: Path) -> None:
    base = load_codebook(PACKAGED_CODEBOOK)
    text = PACKAGED_CODEBOOK.read_text()
    edited = parse_codebook(text.replace('"local offer"', '"local offers?"', 1),
                            tmp_path / "c.yaml")
    assert base.sha256 != edited.sha256
    assert base.sha256 == load_codebook(PACKAGED_CODEBOOK).sha256
    # A comment changes nothing the tagger reads: the model stays current (a retrain
    # took half a minute for nothing).
    noted = parse_codebook("# my notes\n" + text + "\n# more notes\n", tmp_path / "c.yaml")
    assert noted.sha256 == base.sha256
    # Nor does the order of a theme's keys ("patterns:" moved above "definition:"), or of
    # the file's sections: the same entries, the same tags.
    book = yaml.safe_load(text)
    book["themes"] = [dict(reversed(list(t.items()))) for t in book["themes"]]
    book = dict(reversed(list(book.items())))
    moved = parse_codebook(yaml.safe_dump(book, sort_keys=False), tmp_path / "c.yaml")
    assert moved.theme_ids == base.theme_ids and moved.sha256 == base.sha256


@pytest.mark.parametrize("edit, message", [
    # A researcher's own file with themes only: training stopped with a scikit-learn
    # traceback ("needs samples of at least 2 classes").
    (lambda t: t[:t.index("\nstance:")], "no 'stance' section"),
    (lambda t: re.sub(r"\n  positive:\n(?:    .*\n)+", "\n  positive: []\n", t, count=1),
     "stance.positive: needs at least one cue"),
    (lambda t: re.sub(r"\n  negative:\n(?:    .*\n)+", "\n  negative: []\n", t, count=1),
     "stance.negative: needs at least one cue"),
    # A theme with no pattern has no sentence to learn from.
    (lambda t: t.replace("\nstance:", NEW_THEME[:NEW_THEME.index("    patterns:")]
                         + "\nstance:", 1),
     "theme transport: needs at least one pattern to learn from"),
    (lambda t: t.replace("\nstance:", NEW_THEME + "    short_name: [Transport]\nstance:", 1),
     r"theme transport.short_name: expected text \(one string\), got list"),
    (lambda t: t.replace("\nversion: 1\n", "\nversion: [1, 2]\n", 1),
     r"version: expected one value"),
    # Quoted, "false" was true; a list where text belongs was kept as its Python repr.
    (lambda t: t.replace("\nstance:", NEW_THEME + '    yields_to_others: "false"\nstance:', 1),
     r'theme transport.yields_to_others: expected true or false \(unquoted\), got \'false\''),
    (lambda t: t.replace("\nstance:", NEW_THEME + "    include: [nurseries, minders]\nstance:",
                         1), "theme transport.include: expected text"),
    # "- portage: home visiting" is a mapping to YAML: say which item.
    (lambda t: t.replace("\nstance:", NEW_THEME + "      - portage: home visiting\nstance:", 1),
     r"theme transport.patterns: item 3 is not a string: \{'portage': 'home visiting'\}"),
])
def test_a_codebook_entry_of_the_wrong_kind_is_named(tmp_path: Path, edit, message: str) -> None:
    text = edit(PACKAGED_CODEBOOK.read_text())
    assert text != PACKAGED_CODEBOOK.read_text()
    with pytest.raises(CodebookError, match=message):
        parse_codebook(text, tmp_path / "c.yaml")


def test_a_wrong_kind_of_entry_built_of_yaml_aliases_is_named_in_a_line(tmp_path: Path) -> None:
    # Each level repeats the one before through an alias ("billion laughs"): the error
    # wrote the whole expanded list into its message, gigabytes for eight levels.
    nested = '&l0 ["a", "b", "c", "d", "e", "f", "g", "h", "i"]'
    for level in range(1, 9):
        nested = f"&l{level} [{nested}, " + ", ".join([f"*l{level - 1}"] * 8) + "]"
    text = PACKAGED_CODEBOOK.read_text().replace(
        "\nstance:", NEW_THEME + f"    related: [{nested}]\nstance:", 1)
    with pytest.raises(CodebookError, match="theme transport.related: item 1 is not a "
                       r"string: \[\[\[") as caught:
        parse_codebook(text, tmp_path / "c.yaml")
    assert len(str(caught.value)) < 1000


def test_a_bad_theme_is_named_by_its_place_counting_from_one(tmp_path: Path) -> None:
    text = "themes:\n" + NEW_THEME + NEW_THEME.replace("id: transport", "id: Early_Years")
    with pytest.raises(CodebookError, match=r"theme 2 of the list: id must be lower_snake"):
        parse_codebook(text, tmp_path / "c.yaml")


def test_themes_added_in_the_packaged_file_count_as_added(tmp_path: Path) -> None:
    # Which themes a label file like dev.jsonl could have is the labelling scheme's, not
    # whatever the packaged file holds today: a theme added there by hand (or by a later
    # sendlens) is one the labels never had, so it must not score 0 in their macro-F1.
    from textmine.codebook import SCHEME_THEMES, added_themes

    assert list(SCHEME_THEMES) == load_codebook(PACKAGED_CODEBOOK).theme_ids
    assert added_themes([*THEMES, "transport"]) == {"transport"}
    assert added_themes(THEMES) == set()


def test_a_researcher_adds_a_theme_without_code_and_themes_lists_it(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text().replace(
        "\nstance:", NEW_THEME + "\nstance:", 1))
    result = CliRunner().invoke(app, ["themes", "--corpus", str(corpus)],
                                env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 0, result.output
    assert "transport  Home to school transport" in result.output
    for theme in THEMES:
        assert theme in result.output
    # ... with its patterns when asked: what it will match, to check before a retrain.
    shown = CliRunner().invoke(app, ["themes", "--patterns", "--corpus", str(corpus)],
                               env={"SENDLENS_CODEBOOK": ""})
    assert "    patterns: travel (assistance|training)" in shown.output
    listed = json.loads(CliRunner().invoke(app, ["themes", "--json", "--patterns", "--corpus",
                                                 str(corpus)], env={"SENDLENS_CODEBOOK": ""}
                                           ).output)
    assert listed[-1]["patterns"] == ["transport", "travel (assistance|training)"]
    # A copy whose shipped themes are as shipped: nothing to say of them.
    assert "differ" not in result.output
    # One whose copy of a shipped theme's patterns has moved apart (an edit, or a fix to
    # sendlens's own since the copy was made) is named: fixes do not reach a copy.
    text = (corpus / "codebook.yaml").read_text()
    (corpus / "codebook.yaml").write_text(text.replace('"tribunals?|mediation|appeals?"',
                                                       '"tribunals?|mediation"', 1))
    moved = CliRunner().invoke(app, ["themes", "--corpus", str(corpus)],
                               env={"SENDLENS_CODEBOOK": ""})
    assert "its ehc_plans differs from the codebook shipped with this sendlens" in moved.output
    assert "the shipped codebook has" not in moved.output
    # A shipped theme the copy lacks (renamed here, or added to sendlens since the copy),
    # and a file-wide rule edited: said too, they were silent.
    text = (corpus / "codebook.yaml").read_text()
    (corpus / "codebook.yaml").write_text(
        text.replace("  - id: social_care\n", "  - id: short_breaks\n", 1)
        .replace("\nignore:\n", "\nignore:\n  - \"lorem ipsum\"\n", 1))
    renamed = " ".join(CliRunner().invoke(app, ["themes", "--corpus", str(corpus)],
                                          env={"SENDLENS_CODEBOOK": ""}).output.split())
    assert ("the shipped codebook has theme social_care, which this one does not: removed or "
            "renamed here, or added to sendlens since you copied it") in renamed
    assert "its ehc_plans, ignore differ from the codebook shipped" in renamed


def test_themes_counts_and_lists_every_kind_of_pattern_and_notes_edited_excludes_and_cues(
        tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text())
    health = load_codebook(PACKAGED_CODEBOOK).theme("health_input")
    assert health.exclude and len(health.patterns) != len(health.related)

    def themes(*options: str) -> str:
        result = CliRunner().invoke(app, ["themes", *options, "--corpus", str(corpus)],
                                    env={"SENDLENS_CODEBOOK": ""})
        assert result.exit_code == 0, result.output
        return result.output

    shown = themes("--patterns")
    assert (f"health_input  {health.name}  [{len(health.patterns)} patterns, "
            f"{len(health.related)} related]") in shown.splitlines()
    # What a theme must not match is what it is checked for before a retrain, too.
    for pattern in health.exclude:
        assert f"    exclude: {pattern}" in shown.splitlines()
    assert "from the codebook shipped" not in shown
    # An exclude dropped from a copied theme, and a stance cue added, change what the
    # tagger reads: both are named, as an edited pattern is.
    text = (corpus / "codebook.yaml").read_text()
    assert '      - "health and wellbeing board"\n' in text and "\n  positive:\n" in text
    (corpus / "codebook.yaml").write_text(text.replace(
        '      - "health and wellbeing board"\n', "", 1))
    assert "its health_input differs from the codebook shipped" in themes()
    (corpus / "codebook.yaml").write_text(text.replace(
        "\n  positive:\n", '\n  positive:\n    - "splendid"\n', 1))
    said = themes()
    assert ("its stance rules differ from the codebook shipped" in said
            and "health_input differ" not in said)
    # The other file-wide rule named in the plural.
    (corpus / "codebook.yaml").write_text(text.replace(
        "\nfixed_wording_sections: [outcome]\n", "\nfixed_wording_sections: [outcome, context]\n",
        1))
    assert "its fixed wording sections differ from the codebook shipped" in themes()


def test_a_codebook_variable_that_overrules_a_corpus_codebook_is_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$SENDLENS_CODEBOOK set for one corpus retrained another (with a codebook of its
    own) on its themes; `themes` showed only the variable's file."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text().replace(
        "\nstance:", NEW_THEME + "\nstance:", 1))
    other = tmp_path / "other.yaml"
    other.write_text(PACKAGED_CODEBOOK.read_text())
    monkeypatch.setenv("HOME", str(tmp_path))
    from sendlens.store import Corpus

    Corpus.open(corpus)  # for `info`
    for command in (["themes"], ["info"]):
        said = " ".join(CliRunner().invoke(app, [*command, "--corpus", str(corpus)], env={
            "SENDLENS_CODEBOOK": "~/other.yaml"}).output.split())  # quoted: not expanded
        assert (f"$SENDLENS_CODEBOOK ({other}) is used instead of this corpus's own "
                f"{corpus / 'codebook.yaml'}: unset it to use that one") in said, command
    # Pointing at the corpus's own file, or unset: nothing to say.
    for env in (str(corpus / "codebook.yaml"), ""):
        said = CliRunner().invoke(app, ["themes", "--corpus", str(corpus)],
                                  env={"SENDLENS_CODEBOOK": env}).output
        assert "instead of" not in said and "transport" in said


def test_themes_reports_a_broken_codebook_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("themes: [")
    result = CliRunner().invoke(app, ["themes"], env={"SENDLENS_CODEBOOK": str(bad)})
    assert result.exit_code == 2
    assert "not valid YAML" in result.output
    # Where it went wrong is in the file named, not in PyYAML's "<unicode string>".
    assert f"in {bad}, line 1" in " ".join(result.output.split())


def test_themes_refuses_a_corpus_that_is_a_file_or_another_programs_database(
        tmp_path: Path) -> None:
    # Every other command refused them; `themes` listed the codebook with exit code 0 and
    # advised copying it to "FILE/codebook.yaml", or into the other program's folder.
    import sqlite3

    a_file = tmp_path / "notes.txt"
    a_file.write_text("notes")
    result = CliRunner().invoke(app, ["themes", "--corpus", str(a_file)],
                                env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 2 and f"{a_file}: not a folder" in result.output
    other = tmp_path / "other"
    other.mkdir()
    with sqlite3.connect(other / "sendlens.db") as con:
        con.execute("CREATE TABLE readings (t TEXT, value REAL)")
    con.close()
    before = (other / "sendlens.db").read_bytes()
    result = CliRunner().invoke(app, ["themes", "--corpus", str(other)],
                                env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 2
    assert "not a sendlens corpus (a database of other tables: readings)" in result.output
    assert (other / "sendlens.db").read_bytes() == before
    assert sorted(p.name for p in other.iterdir()) == ["sendlens.db"]

# Each list of patterns is joined into one expression (textmine/weak.py): a pattern that
# compiles alone can still break training, or match something else, once joined.
@pytest.mark.parametrize("old, new, where, why", [
    ('      - "local offer"\n', '      - "(?i)local offer"\n',
     "theme local_offer.patterns", r"inline flags such as \(\?i\)"),
    ('      - "co-?produc\\\\w*"\n',
     '      - "(?P<w>co)-?produc\\\\w*"\n      - "(?P<w>co) design"\n',
     "theme co_production.patterns", "named groups"),
    ('  negative:\n', '  negative:\n    - "(too) slow and \\\\1 late"\n',
     "stance.negative", r"back-references such as \\1"),
    ('ignore:\n', 'ignore:\n  - "(the )?(?(1)council|area)"\n',
     "ignore", "conditional groups"),
], ids=["inline-flag", "named-group-twice", "back-reference", "conditional"])
def test_a_pattern_that_breaks_when_joined_is_named_with_its_list(
        old: str, new: str, where: str, why: str, tmp_path: Path) -> None:
    text = PACKAGED_CODEBOOK.read_text()
    assert old in text
    edited = text.replace(old, new, 1)
    # The error names the line of the pattern itself, in a theme's list or a stance list.
    with pytest.raises(CodebookError, match=rf"c\.yaml, line \d+: {where}: pattern '.*': {why}"
                       ) as caught:
        parse_codebook(edited, tmp_path / "c.yaml")
    line = int(str(caught.value).split(", line ")[1].split(":")[0])
    # The first pattern the edit put in (any named group is refused, not only a repeated one).
    first_new = next(x for x in new.splitlines() if x not in old.splitlines())
    assert edited.splitlines()[line - 1] == first_new


@pytest.mark.parametrize("old, new, where", [
    ('      - "local offer"\n', '      - "local offer"\n      - "local offer"\n',
     "theme local_offer.patterns"),
    ('  negative:\n', '  negative:\n    - "too slow"\n    - "too slow"\n', "stance.negative"),
], ids=["theme", "stance"])
def test_a_pattern_given_twice_in_one_list_is_refused_at_its_second_line(
        old: str, new: str, where: str, tmp_path: Path) -> None:
    # A copy left where an edit was meant (a key given twice is refused the same way).
    text = PACKAGED_CODEBOOK.read_text()
    assert old in text
    edited = text.replace(old, new, 1)
    with pytest.raises(CodebookError, match=rf"c\.yaml, line \d+: {where}: pattern '.*' is "
                       r"given twice \(items \d+ and \d+\)") as caught:
        parse_codebook(edited, tmp_path / "c.yaml")
    line = int(str(caught.value).split(", line ")[1].split(":")[0])
    start = edited.index(new)
    assert line == edited[:start].count("\n") + len(new.splitlines())


@pytest.mark.parametrize("pattern, why", [
    ('" camhs"', "it begins with ' ', so it never matches"),
    ('"-camhs"', "it begins with '-', so it never matches"),
    ("'\"camhs\"'", "it begins with '\"', so it never matches"),
    # YAML's escapes in double quotes: a backspace where a word boundary was meant, even
    # after the first alternative (only a first character was caught, in other words).
    ('"taxis?\\b"', "it holds the control character '\\x08'"),
    ('"senco\\N"', "it holds the control character '\\x85'"),  # YAML's next-line
    ('"\\bsenco\\b|\\bsencos\\b"', r'write it twice ("\\b") or put the pattern in single quotes'),
])
def test_a_pattern_that_can_never_match_a_whole_word_is_refused(
        pattern: str, why: str, tmp_path: Path) -> None:
    # Matched as whole words, it matched nothing, and an exclude written so was dead.
    text = PACKAGED_CODEBOOK.read_text().replace(
        '      - "local offer"\n', f'      - "local offer"\n      - {pattern}\n', 1)
    with pytest.raises(CodebookError, match=re.escape(why)):
        parse_codebook(text, tmp_path / "c.yaml")
    from textmine.weak import _alternation

    assert not _alternation([yaml.safe_load(pattern)]).search("waits for camhs are long")
    # Optional, the space is fine; and patterns that begin with a group or an escape, or
    # have another alternative ("camhs " matches before punctuation: not refused either).
    for ok in ('" ?camhs"', '"-{0,1}camhs"', '"-camhs|camhs"', '"(camhs|cahms)"',
               "'\\(camhs\\)'", '"camhs "'):
        parse_codebook(PACKAGED_CODEBOOK.read_text().replace(
            '      - "local offer"\n', f'      - "local offer"\n      - {ok}\n', 1),
            tmp_path / "c.yaml")


def test_a_pattern_that_can_take_hours_to_match_is_refused(tmp_path: Path) -> None:
    # "(\w+ ?)+ plans? review" held training at the weak labels for good (its time
    # doubled every two characters of a sentence); a bounded repeat is fine.
    def with_pattern(pattern: str) -> str:
        return PACKAGED_CODEBOOK.read_text().replace(
            '      - "local offer"\n', f"      - '{pattern}'\n      - \"local offer\"\n", 1)

    for slow in (r"(\w+ ?)+ plans? review", r"(?:ehc\w*)*plans", r"(a+){2,}b",
                 r"(\w+\s*)* waits?", r"(a+|b)+c"):
        with pytest.raises(CodebookError, match=r"a group repeated without limit holds a "
                           r"repeat without limit .* give the outer repeat a limit"):
            parse_codebook(with_pattern(slow), tmp_path / "c.yaml")
    # Found by a security review (over a minute on 60 characters): alternatives of a
    # repeated group that may begin alike, and repeats of letters one after another.
    for slow, why in ((r"(?:[a-z ]|\w\w)*zq", "has alternatives that can begin with the same"),
                      (r"(\w|\w|\w)*zq", "has alternatives that can begin with the same"),
                      (r"(a|a)*zq", "has alternatives that can begin with the same"),
                      (r"\w*\w*\w*\w*\w*\w*zq", "three or more repeats without limit"),
                      (r"\w*\w*\w*zq", "three or more repeats without limit")):
        with pytest.raises(CodebookError, match=why):
            parse_codebook(with_pattern(slow), tmp_path / "c.yaml")
    # Alternatives each with a first letter of its own split a run one way: accepted.
    parse_codebook(with_pattern(r"(assistant |deputy |interim )*director"), tmp_path / "c.yaml")
    # Each turn must match something fixed (a space, a comma), so a run of letters splits
    # one way only: fast, and accepted (a reviewer timed them on 24,000 characters).
    for fine in (r"(\w+ ){0,5}plans", r"(annual|phase) reviews?", r"(\w+)? plans",
                 r"\(\w+\)+ plans", r"(?:[a-z]+-)+year-olds?", r"[a-z]+(?:, [a-z]+)* plans",
                 r"(?:\w+ )+waiting", r"(?:ehc\w* )*plans"):
        parse_codebook(with_pattern(fine), tmp_path / "c.yaml")


@pytest.mark.parametrize("tid", ["stance_positive", "stance_mixed", "mental_health\n"])
def test_a_theme_id_that_would_clash_or_carry_a_line_break_is_refused(
        tid: str, tmp_path: Path) -> None:
    # stance_positive shared its score's key with the stance's; "$" let a line break in.
    extra = (f"  - id: {json.dumps(tid)}\n    name: Extra\n    definition: Extra.\n"
             "    patterns: [\"extra\"]\n\nstance:\n")
    text = PACKAGED_CODEBOOK.read_text().replace("\nstance:\n", "\n" + extra, 1)
    with pytest.raises(CodebookError, match="id"):
        parse_codebook(text, tmp_path / "c.yaml")


def test_a_bad_regular_expression_is_named_at_its_own_line(tmp_path: Path) -> None:
    text = PACKAGED_CODEBOOK.read_text().replace(
        '      - "local offer"\n', '      - "local offer"\n      - "offer ("\n', 1)
    with pytest.raises(CodebookError) as caught:
        parse_codebook(text, tmp_path / "c.yaml")
    line = text.splitlines().index('      - "offer ("') + 1
    assert str(caught.value).startswith(
        f"{tmp_path / 'c.yaml'}, line {line}: theme local_offer.patterns: bad regular "
        "expression 'offer ('")


def test_scoped_flags_groups_and_escaped_digits_are_still_accepted(tmp_path: Path) -> None:
    # Only what breaks when joined is refused: "(?i:...)" stays inside its group, "[\1]"
    # and "\101" are characters, "\(?(" is a literal bracket.
    new = '      - "local offer"\n      - "(?i:info) (hub)s? [\\\\1(?] \\\\101 \\\\(?(x)"\n'
    text = PACKAGED_CODEBOOK.read_text().replace('      - "local offer"\n', new, 1)
    assert len(parse_codebook(text, tmp_path / "c.yaml").theme("local_offer").patterns) > 1


@pytest.mark.parametrize("command", ["themes", "tag"])
def test_themes_and_tag_report_an_unjoinable_pattern_not_a_traceback(
        command: str, tmp_path: Path) -> None:
    from test_model import build_corpus

    corpus = tmp_path / "corpus"
    build_corpus(corpus, n_letters=2)
    (corpus / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text().replace(
        '      - "parent carer (forum|council|panel)"\n',
        '      - "(?i)parent carer forums?"\n', 1))
    quiet = ["-q"] if command == "tag" else []
    result = CliRunner().invoke(app, [command, "--corpus", str(corpus), *quiet],
                                env={"SENDLENS_CODEBOOK": ""})
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    edited = (corpus / "codebook.yaml").read_text().splitlines()
    line = edited.index('      - "(?i)parent carer forums?"') + 1
    assert (f"codebook.yaml, line {line}: theme co_production.patterns: pattern '(?i)parent "
            "carer forums?': inline flags") in result.output


def test_a_pattern_with_capital_letters_is_refused_but_upper_case_escapes_are_not(
        tmp_path: Path) -> None:
    # Sentences are lower-cased before matching: "SENDIASS" would never match anything.
    capital = PACKAGED_CODEBOOK.read_text().replace(
        "\nstance:", NEW_THEME.replace('"transport"', '"SENDIASS"') + "\nstance:", 1)
    with pytest.raises(CodebookError, match="pattern 'SENDIASS': capital letters never match"):
        parse_codebook(capital, tmp_path / "c.yaml")
    escapes = capital.replace('"SENDIASS"', r'"\\Wsendiass\\S*"')
    assert "transport" in parse_codebook(escapes, tmp_path / "c.yaml").theme_ids
    # A class of capitals never matches either; a comment or a character named in
    # capitals is no capital letter to match.
    with pytest.raises(CodebookError, match="capital letters never match"):
        parse_codebook(capital.replace('"SENDIASS"', '"[A-Z]+ plans"'), tmp_path / "c.yaml")
    for fine in (r"(?#Note)plans", r"\\N{LATIN SMALL LETTER E}hc", r"caf\\u00E9",
                 r"[^A-Z]x", r"[a-zA-Z]+ plan"):
        book = capital.replace('"SENDIASS"', f'"{fine}"')
        assert "transport" in parse_codebook(book, tmp_path / "c.yaml").theme_ids, fine
