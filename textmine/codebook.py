"""The project's codebook: themes, their labelling patterns and stance cues.

The codebook is a YAML file a researcher can edit without touching code. Which file
is used, first match wins: `$SENDLENS_CODEBOOK`, `<corpus>/codebook.yaml`, the copy
shipped with sendlens (`textmine/codebook.yaml`). Its hash goes into every model's
metadata so that a model trained under another codebook is detected as stale.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import reprlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scraper.records import CANONICAL_SECTIONS
from sendlens.textfile import TextFileError, read_utf8

PACKAGED_CODEBOOK = Path(__file__).with_name("codebook.yaml")
STANCES: tuple[str, ...] = ("positive", "negative", "mixed", "neutral")
SECTIONS: tuple[str, ...] = CANONICAL_SECTIONS
_ID = re.compile(r"[a-z][a-z0-9_]*")  # fullmatch: "$" let an id end in a line break
# Score names of the stance beside the themes' (model.score_keys): a theme so named would
# share its score's key.
_STANCE_SCORE_IDS = {f"stance_{s}" for s in STANCES}


class CodebookError(ValueError):
    """The codebook file is malformed; the message names the file and the entry.

    `at` is where in the file, as keys and list positions ("themes", 2, "patterns", 0),
    for parse_codebook to name the line."""

    def __init__(self, message: str, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    definition: str
    include: str = ""
    short_name: str = ""  # the app's column label, where the name cut short misleads
    exclude_note: str = ""
    patterns: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    yields_to_others: bool = False
    core_patterns: tuple[str, ...] = ()  # strong evidence that never yields


@dataclass(frozen=True)
class StanceCues:
    section_priors: dict[str, dict[str, float]]
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    contrast: tuple[str, ...]
    neutral: tuple[str, ...]
    credited_action: tuple[str, ...] = ()  # a weakness known and acted on: mixed
    # Words that negate the praise words after them ("not identified quickly"), and how
    # many words on a negation reaches.
    negation: tuple[str, ...] = ()
    negation_scope: int = 4
    # Sections that hold only recommendations: a positive or mixed prediction there is
    # made negative (the codebook calls a recommendation negative whatever its words).
    recommendation_sections: tuple[str, ...] = ()
    # Sections of description only (an area's background, how the inspection was done):
    # every sentence there is tagged neutral.
    neutral_sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codebook:
    path: Path
    sha256: str
    themes: tuple[Theme, ...]
    stance: StanceCues
    ignore: tuple[str, ...] = field(default=())
    # Sections in the inspectorates' fixed wording, the same in every report: they say
    # nothing about a theme, so their sentences are tagged with none.
    fixed_wording_sections: tuple[str, ...] = ()
    # The hash of the file's text, as models trained before `sha256` was of its content
    # recorded it: such a model of an unchanged file is not stale.
    text_sha256: str = ""
    # The hash of all the file says, words for people included, as models trained before
    # `sha256` left those out recorded it.
    full_sha256: str = ""

    @property
    def theme_ids(self) -> list[str]:
        return [t.id for t in self.themes]

    def theme(self, theme_id: str) -> Theme:
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise KeyError(theme_id)


# The themes of the labelling scheme the hand-label files follow (CODEBOOK.md, and so
# dev.jsonl): a constant, not read from the packaged codebook, so that a theme a
# researcher adds to that file in place, or a later sendlens adds, counts as added.
SCHEME_THEMES: tuple[str, ...] = (
    "co_production", "health_input", "local_offer", "post16_transition", "ehc_plans",
    "joint_commissioning", "inclusion", "social_care",
)


def added_themes(theme_ids: Sequence[str]) -> set[str]:
    """Themes outside the labelling scheme (SCHEME_THEMES): a researcher's additions,
    which label files made with the scheme (dev.jsonl) cannot have. A file that gives
    such a theme to none of its sentences has not labelled it (see `evaluate` and
    `train`)."""
    return set(theme_ids) - set(SCHEME_THEMES)


def codebook_path(corpus: Path | None = None) -> Path:
    """The codebook file in force: $SENDLENS_CODEBOOK, <corpus>/codebook.yaml, packaged."""
    env = os.environ.get("SENDLENS_CODEBOOK")
    if env:
        return Path(env).expanduser()  # "~/codebook.yaml", quoted, as for --corpus
    # Anything by that name, even a folder or a link to a drive not mounted: loading it
    # then says what is wrong, rather than quietly training on the packaged codebook.
    if corpus is not None and os.path.lexists(Path(corpus) / "codebook.yaml"):
        return Path(corpus) / "codebook.yaml"
    return PACKAGED_CODEBOOK


def codebook_shadowed(corpus: Path) -> Path | None:
    """The corpus's own codebook.yaml when $SENDLENS_CODEBOOK points at another file and
    so rules instead: a variable set for one corpus retrained another on its themes
    without a word. None otherwise."""
    own = Path(corpus) / "codebook.yaml"
    if not os.environ.get("SENDLENS_CODEBOOK") or not os.path.lexists(own):
        return None
    return None if os.path.realpath(codebook_path(corpus)) == os.path.realpath(own) else own


def shadowed_note(corpus: Path) -> str | None:
    """What to say of codebook_shadowed, or None."""
    if (own := codebook_shadowed(corpus)) is None:
        return None
    return (f"$SENDLENS_CODEBOOK ({codebook_path(corpus)}) is used instead of this corpus's "
            f"own {own}: unset it to use that one")


def _escape_len(pattern: str, i: int) -> int:
    """Length of the escape starting at pattern[i] ("\\"): "\\x41", "\\u00e9",
    "\\N{...}" whole, so that their hex digits or names are not read as letters."""
    kind = pattern[i + 1:i + 2]
    if kind == "N" and pattern.startswith("{", i + 2):
        end = pattern.find("}", i)
        return len(pattern) - i if end < 0 else end + 1 - i
    return {"x": 4, "u": 6, "U": 10}.get(kind, 2)


def _tokens(pattern: str) -> list[str]:
    """The pattern's tokens: an escape is one token ("\\1", "\\u00e9"), a character
    class is one token kept whole ("[\\1(?]": nothing in it is a group, a flag or a
    reference), a comment "(?#...)" is dropped."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            step = _escape_len(pattern, i)
            out.append(pattern[i:i + step])
            i += step
        elif pattern.startswith("(?#", i):  # a comment, up to its ")"
            end = pattern.find(")", i)
            i = n if end < 0 else end + 1
        elif c == "[":
            start = i
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":  # "[]...]": a leading ] is literal
                i += 1
            while i < n and pattern[i] != "]":
                i += _escape_len(pattern, i) if pattern[i] == "\\" else 1
            i += 1
            out.append(pattern[start:i])  # the class whole, for the capitals check
        else:
            out.append(c)
            i += 1
    return out


# Why a pattern that compiles alone cannot go into a list: weak.py joins each list into
# one alternation "(?:p1)|(?:p2)|...", matched on lower-cased text.
_JOINED = "the patterns of a list are joined into one expression"
_OCTAL_PAIRS = {a + b for a in "01234567" for b in "01234567"}


def _class_capitals(cls: str) -> bool:
    """Whether a character class "[...]" could only match capital letters: it names some
    itself (not by an escape) and no lower-case letter, and is not negated ("[^A-Z]"
    matches lower case, "[a-zA-Z]" its lower half)."""
    if cls.startswith("[^"):
        return False
    upper = lower = False
    i = 1
    while i < len(cls) - 1:
        if cls[i] == "\\":
            i += _escape_len(cls, i)
            continue
        upper |= cls[i].isupper()
        lower |= cls[i].islower()
        i += 1
    return upper and not lower


def _quantifier(toks: list[str], i: int) -> tuple[int, int | None, int]:
    """The repeat toks[i] starts, as (least, most or None for no limit, tokens it
    takes, a lazy "?" included); (1, 1, 0) when toks[i] is no quantifier."""
    if i >= len(toks):
        return 1, 1, 0
    tok = toks[i]
    if tok in ("*", "+", "?"):
        least, most, used = {"*": (0, None), "+": (1, None), "?": (0, 1)}[tok] + (1,)
    elif tok == "{" and (m := re.match(r"\{(\d*)(,?)(\d*)\}", "".join(toks[i:i + 12]))):
        least = int(m.group(1) or 0)
        most = None if m.group(2) and not m.group(3) else int(m.group(3) or m.group(1) or 0)
        used = len(m.group(0))
    else:
        return 1, 1, 0
    if i + used < len(toks) and toks[i + used] == "?":  # lazy: the same repeat
        used += 1
    return least, most, used


def _wordlike(tok: str) -> bool:
    """Whether a repeated atom matches only letters and digits (not a space or a mark)."""
    if len(tok) == 1:
        return tok.isalnum() or tok == "_"
    if tok.startswith("\\"):
        return tok in ("\\w", "\\d")
    if tok.startswith("[") and not tok.startswith("[^"):
        body = tok[1:-1].replace("\\w", "a").replace("\\d", "0")
        return all(c.isalnum() or c in "_-" for c in body)
    return False


def _separator(tok: str) -> bool:
    """Whether an atom matches only a space or a mark, never a letter or a digit."""
    if len(tok) == 1:
        return not (tok.isalnum() or tok in "_.")
    if tok.startswith("\\"):
        return tok == "\\s" or (len(tok) == 2 and not tok[1].isalnum())
    if tok.startswith("[") and not tok.startswith("[^"):
        return not any(c.isalnum() or c == "_" for c in tok[1:-1].replace("\\s", " "))
    return False


def _group_body(toks: list[str], i: int) -> int:
    """Where the body of the group opened at toks[i] ("(") begins: past its "(?:", "(?=",
    "(?!", "(?<=", "(?<!" or "(?P<name>" when it has one."""
    i += 1
    if i < len(toks) and toks[i] == "?":
        while i < len(toks) and toks[i] not in (":", "=", "!", ">"):
            i += 1
        i += 1
    return i


def _nested_repeat(toks: list[str]) -> bool:
    """Whether a group repeated without limit holds a repeat without limit that its turns
    can share out a run of text among in more than one way, as in "(\\w+ ?)+" or
    "(ehc\\w*)*": on a long sentence the regex engine tries exponentially many ways
    (training hung at the weak labels, its time doubling every two characters). A group
    whose every turn must match a space or a mark its repeats of letters cannot
    ("(\\w+ )+", "(?:, [a-z]+)*", "(?:[a-z]+-)+") splits a run one way only: fine."""
    # Per open group: [holds an unbounded repeat, one that may match a separator too,
    # must match a separator each turn, holds an alternation].
    stack: list[list[bool]] = [[False, False, False, False]]
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok == "(":
            stack.append([False, False, False, False])
            i = _group_body(toks, i)
            continue
        if tok == "|":
            stack[-1][3] = True
            i += 1
            continue
        least, most, used = _quantifier(toks, i + 1)
        if tok == ")" and len(stack) > 1:
            unbounded, wild, separated, alternation = stack.pop()
            if most is None and unbounded and (wild or not separated or alternation):
                return True
            # As an atom of its group: a repeated group may share out what it matches.
            atom_unbounded = unbounded or most is None
            atom_wild = wild or (most is None)
            atom_separator = separated and not alternation
        else:
            atom_unbounded = most is None
            atom_wild = atom_unbounded and not _wordlike(tok)
            atom_separator = _separator(tok)
        frame = stack[-1]
        frame[0] |= atom_unbounded
        frame[1] |= atom_unbounded and atom_wild
        frame[2] |= atom_separator and least > 0 and most is not None
        i += 1 + used
    return False


def _overlapping_turns(toks: list[str]) -> bool:
    """Whether a group repeated without limit has alternatives that may begin with the
    same character ("(?:[a-z ]|\\w\\w)*", "(\\w|\\w)*"): each turn can then take a run
    of text in more than one way, exponentially many in all. Alternatives that each begin
    with a letter of their own ("(assistant |deputy |interim )*") split it one way."""
    starts: list[list[str]] = []  # per open group, the first token of each alternative
    fresh: list[bool] = []  # per open group: the next token begins an alternative
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok == "(":
            i = _group_body(toks, i)
            if fresh and fresh[-1]:
                starts[-1].append("(")  # a group begins the enclosing alternative
                fresh[-1] = False
            starts.append([])
            fresh.append(True)
            continue
        if tok == ")" and starts:
            firsts = starts.pop()
            fresh.pop()
            most = _quantifier(toks, i + 1)[1]
            literal = [f for f in firsts if len(f) == 1 and (f.isalnum() or f == " ")]
            if most is None and len(firsts) > 1 and (
                    len(literal) < len(firsts) or len(set(literal)) < len(literal)):
                return True
            i += 1
            continue
        if tok == "|" and fresh:
            fresh[-1] = True
        elif fresh and fresh[-1]:
            starts[-1].append(tok)
            fresh[-1] = False
        i += 1
    return False


def _repeats_in_a_row(toks: list[str]) -> bool:
    """Whether three or more atoms repeated without limit that match letters follow one
    another ("\\w*\\w*\\w*zq"): the engine tries every way of sharing a run of letters
    among them, as many as its length to the power of their number."""
    run = 0
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok in ("(", ")", "|"):
            run = 0
            i += 1
            continue
        most, used = _quantifier(toks, i + 1)[1:]
        if most is None:
            run = run if _separator(tok) else run + 1
            if run >= 3:
                return True
        else:
            run = 0
        i += 1 + used
    return False


def _unjoinable(pattern: str) -> str | None:
    """Why `pattern` (which compiles alone) breaks or misbehaves once joined, or None."""
    if control := [c for c in pattern if unicodedata.category(c) == "Cc"]:
        # YAML reads "\b" in double quotes as a backspace: the pattern compiled, and its
        # word boundary never matched.
        return (f"it holds the control character {control[0]!r}, which no letter holds: in "
                r'double quotes YAML reads a backslash as its own escape ("\b" is a '
                r'backspace, "\t" a tab); write it twice ("\\b") or put the pattern in '
                r"single quotes ('\b')")
    if re.compile(pattern).groupindex:
        return (f"named groups (?P<name>...) are not allowed ({_JOINED}, where two patterns "
                "may not share a name); use (...) or (?:...)")
    toks = _tokens(pattern)
    text = "".join(t if len(t) == 1 else "_" for t in toks)  # escapes, classes masked
    for i, tok in enumerate(toks):
        # "\1".."\99" refer to a group; three octal digits ("\101") are a character.
        if len(tok) == 2 and tok[1] in "123456789" and not (
                tok[1] in "1234567" and "".join(toks[i + 1:i + 3]) in _OCTAL_PAIRS):
            return (f"back-references such as {tok} are not allowed ({_JOINED}, so group "
                    "numbers shift and the reference points at another pattern's group)")
    if "(?(" in text:
        return f"conditional groups (?(n)...) are not allowed ({_JOINED}, so numbers shift)"
    if m := re.search(r"\(\?[aiLmsux]+\)", text):
        return (f"inline flags such as {m.group(0)} are not allowed ({_JOINED}, where a flag "
                "would apply to every pattern or fail to compile; text is lower-cased before "
                "matching, so write the pattern in lower case)")
    if any((len(t) == 1 and t.isupper()) or (t.startswith("[") and _class_capitals(t))
           for t in toks):
        return ("capital letters never match: text is lower-cased before matching, so "
                "write the pattern in lower case")
    # weak.py matches whole words: a match starts at a word's first letter (or a bracket),
    # so a pattern that must start with a space or punctuation (" camhs", "-camhs",
    # '"camhs"') never matches anything.
    if not toks:
        return None
    if _nested_repeat(toks):
        return ("a group repeated without limit holds a repeat without limit and nothing it "
                "must match each turn (such as (\\w+ ?)+): matched against a long sentence it "
                "can take hours; give the outer repeat a limit, as in (\\w+ ?){0,5}, or make "
                "each turn match something fixed, as in (\\w+ )+")
    if _overlapping_turns(toks):
        return ("a group repeated without limit has alternatives that can begin with the "
                "same character (such as (?:[a-z ]|\\w\\w)*): matched against a long sentence "
                "it can take hours; give the repeat a limit, as in {0,5}, or begin each "
                "alternative with its own letters, as in (assistant |deputy )*")
    if _repeats_in_a_row(toks):
        return ("three or more repeats without limit of letters follow one another (such as "
                "\\w*\\w*\\w*): matched against a long sentence it can take hours; one \\w* "
                "matches what they do")
    # Only where the whole pattern must begin so: a first character that may be left out
    # ("-?camhs", "-{0,1}camhs") or an alternative beside it ("-camhs|camhs") can match.
    depth, alternatives = 0, False
    for tok in toks:
        depth += (tok == "(") - (tok == ")")
        alternatives |= tok == "|" and depth == 0
    first = toks[0]
    if len(first) == 1 and not (first.isalnum() or first in "_(.\\[") \
            and _quantifier(toks, 1)[0] > 0 and not alternatives:
        return (f"it begins with {first!r}, so it never matches: patterns are matched as whole "
                "words, from a word's first letter; leave out what comes before the word")
    return None


_SHOWN = reprlib.Repr()  # (keywords from Python 3.12 only)
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring = 2, 6, 6, 200


def _shown(value: Any) -> str:
    """A value of the file, for a message: a list or mapping cut short (YAML aliases can
    repeat one list inside another until its full text takes gigabytes)."""
    return _SHOWN.repr(value) if isinstance(value, list | dict) else repr(value)


def _strings(value: Any, where: str, at: tuple[str | int, ...] = ()) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise CodebookError(f"{where}: expected a list of strings, got "
                            f"{type(value).__name__} {_shown(value)}", at)
    for i, v in enumerate(value):
        if not isinstance(v, str):  # "- portage: home visiting" is a mapping to YAML
            raise CodebookError(f"{where}: item {i + 1} is not a string: {_shown(v)} (put "
                                "quotes around a pattern holding ': ' or '#')", at + (i,))
    first: dict[str, int] = {}
    for i, v in enumerate(value):
        try:
            re.compile(v)
        except re.error as exc:
            raise CodebookError(f"{where}: bad regular expression {v!r}: {exc}",
                                at + (i,)) from exc
        if reason := _unjoinable(v):
            raise CodebookError(f"{where}: pattern {v!r}: {reason}", at + (i,))
        if re.fullmatch(v, ""):
            raise CodebookError(f"{where}: pattern {v!r} matches an empty text, so it would "
                                "match in almost every sentence", at + (i,))
        # Harmless to matching, but a sign of an edit gone wrong (a pattern meant to be
        # changed was copied instead), as a key given twice is.
        if v in first:
            raise CodebookError(f"{where}: pattern {v!r} is given twice (items "
                                f"{first[v] + 1} and {i + 1}); keep one", at + (i,))
        first[v] = i
    try:  # as weak.py joins them: anything the checks above missed fails here, not in training
        re.compile("|".join(f"(?:{v})" for v in value))
    except re.error as exc:
        raise CodebookError(f"{where}: the patterns do not compile when joined into one "
                            f"expression: {exc}", at) from exc
    return tuple(value)


def _sections(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # one section, as the other lists may be given
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CodebookError(f"{where}: expected a list of section names")
    unknown = [v for v in value if v not in SECTIONS]
    if unknown:
        raise CodebookError(f"{where}: unknown section {unknown[0]!r} (sections: "
                            f"{', '.join(SECTIONS)})")
    return tuple(value)


def _scope(value: Any, where: str) -> int:
    # bool is an int to Python, but "negation_scope: yes" is a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise CodebookError(f"{where}: expected a number of words from 1 to 20, got "
                            f"{_shown(value)}")
    return value


def _priors(value: Any, where: str) -> dict[str, dict[str, float]]:
    """The stance a section's sentences lean to, per section: a map of stance to a
    probability (rescaled to sum to 1). A section name not in SECTIONS ("strenghts") or a
    value that is no number from 0 up is an error: either silently changed the tags."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CodebookError(f"{where}: expected a map of section name to stance "
                            "probabilities")
    out: dict[str, dict[str, float]] = {}
    for section, dist in value.items():
        if section not in SECTIONS:
            raise CodebookError(f"{where}: unknown section {section!r} (sections: "
                                f"{', '.join(SECTIONS)})")
        if not isinstance(dist, dict) or set(dist) - set(STANCES):
            raise CodebookError(f"{where}.{section}: expected a map of {', '.join(STANCES)}")
        probs: dict[str, float] = {}
        for stance in STANCES:
            p = dist.get(stance, 0.0)
            # bool is an int to Python, but "positive: yes" is a mistake.
            if isinstance(p, bool) or not isinstance(p, int | float) or not (
                    math.isfinite(p) and p >= 0):
                raise CodebookError(f"{where}.{section}.{stance}: {_shown(p)} is not a "
                                    "probability (a number from 0 up)")
            probs[stance] = float(p)
        total = sum(probs.values())
        if total <= 0:
            raise CodebookError(f"{where}.{section}: probabilities sum to zero")
        out[str(section)] = {s: p / total for s, p in probs.items()}
    return out


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (YAML
    itself keeps the last silently: a second `exclude:` would replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)  # merge keys (<<: *anchor) as the safe loader has them
        seen: list[Any] = []
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:  # a list, as a key may be unhashable (reported by YAML itself)
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice in one mapping", key_node.start_mark)
            seen.append(key)
        return super().construct_mapping(node, deep=deep)


# What each level of the file may hold: a misspelt key ("relatd:") is an error, not a
# silently ignored list.
TOP_KEYS = {"version", "ignore", "themes", "stance", "fixed_wording_sections"}
THEME_KEYS = {"id", "name", "short_name", "definition", "include", "exclude_note", "patterns",
              "related", "exclude", "yields_to_others", "core_patterns"}
STANCE_KEYS = {"section_priors", "positive", "negative", "contrast", "neutral",
               "credited_action", "negation", "negation_scope", "recommendation_sections",
               "neutral_sections"}


def _unknown_keys(mapping: dict, allowed: set[str], where: str) -> None:
    if unknown := sorted(str(k) for k in set(mapping) - allowed):
        raise CodebookError(f"{where}: unknown key {unknown[0]!r} (expected one of "
                            f"{', '.join(sorted(allowed))})")


def _line_of(text: str, at: tuple[str | int, ...]) -> int | None:
    """The line (from 1) of the entry `at` names ("themes", 2, "patterns", 0), or of the
    deepest part of that path the file has; None when not even its first step is there."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for step in at:
        if isinstance(node, yaml.MappingNode):
            hit = [(k, v) for k, v in node.value if getattr(k, "value", None) == step]
            if not hit:
                break
            key, node = hit[0]
            line = key.start_mark.line + 1  # "patterns:", where a list that follows begins
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) \
                and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


def parse_codebook(text: str, path: Path = PACKAGED_CODEBOOK) -> Codebook:
    """Validate codebook YAML text; raise CodebookError naming the bad entry and its line."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no Python objects
    except yaml.YAMLError as exc:
        # PyYAML names the text it was given, not the file: the file, where it says "in".
        said = str(exc).replace('"<unicode string>"', str(path))
        raise CodebookError(f"{path}: not valid YAML: {said}") from exc
    try:
        return _codebook(data, text, path)
    except CodebookError as exc:
        # The line is looked up only now: composing the YAML again costs a third of a load.
        line = _line_of(text, exc.at) if exc.at else None
        if line is None or not str(exc).startswith(f"{path}: "):
            raise
        raise CodebookError(str(exc).replace(f"{path}: ", f"{path}, line {line}: ", 1),
                            exc.at) from None


def _codebook(data: Any, text: str, path: Path) -> Codebook:
    if not isinstance(data, dict) or not isinstance(data.get("themes"), list):
        raise CodebookError(f"{path}: expected a mapping with a 'themes' list")
    _unknown_keys(data, TOP_KEYS, f"{path}")
    if isinstance(data.get("version"), list | dict):
        # A number, a text or a date all name a version; a list or a mapping is a mistake.
        raise CodebookError(f"{path}: version: expected one value (1, 1.1, \"spring 2025\"), "
                            f"got {_shown(data['version'])}")
    themes: list[Theme] = []
    seen: set[str] = set()
    names: dict[str, str] = {}  # lower-cased name -> its theme's id
    i = 0
    try:
        for i, entry in enumerate(data["themes"]):
            where = f"{path}: theme {i + 1} of the list"
            if not isinstance(entry, dict):
                raise CodebookError(f"{where}: expected a mapping")
            tid = entry.get("id")
            if not isinstance(tid, str) or not _ID.fullmatch(tid):
                raise CodebookError(f"{where}: id must be lower_snake_case, got {_shown(tid)}")
            if tid in _STANCE_SCORE_IDS:
                raise CodebookError(f"{where}: id {tid!r} is the name of a stance score "
                                    "(the scores name each theme and stance_<stance>); "
                                    "choose another")
            if tid in seen:
                raise CodebookError(f"{where}: duplicate theme id {tid!r}")
            seen.add(tid)
            where = f"{path}: theme {tid}"
            _unknown_keys(entry, THEME_KEYS, where)
            for key in ("name", "definition"):
                if not isinstance(entry.get(key), str) or not entry[key].strip():
                    raise CodebookError(f"{where}: missing {key}")
            # Tables, charts and the app's pickers show the name: two alike are one column.
            name = " ".join(entry["name"].split()).lower()
            if name in names:
                raise CodebookError(f"{where}: the name {entry['name'].strip()!r} is also theme "
                                    f"{names[name]}'s; give each theme a name of its own")
            names[name] = tid
            lists = {k: _strings(entry.get(k), f"{where}.{k}", ("themes", i, k))
                     for k in ("patterns", "related", "exclude", "core_patterns")}
            patterns = lists["patterns"]
            if not patterns:
                raise CodebookError(f"{where}: needs at least one pattern to learn from")
            for key in ("include", "exclude_note", "short_name"):
                if entry.get(key) is not None and not isinstance(entry[key], str):
                    raise CodebookError(f"{where}.{key}: expected text (one string), got "
                                        f"{type(entry[key]).__name__} {_shown(entry[key])}")
            yields = entry.get("yields_to_others", False)
            if not isinstance(yields, bool):  # "false" in quotes would be true
                raise CodebookError(f"{where}.yields_to_others: expected true or false "
                                    f"(unquoted), got {_shown(yields)}")
            themes.append(
                Theme(
                    id=tid,
                    name=entry["name"].strip(),
                    definition=" ".join(entry["definition"].split()),
                    include=entry.get("include") or "",
                    short_name=" ".join((entry.get("short_name") or "").split()),
                    exclude_note=entry.get("exclude_note") or "",
                    patterns=patterns,
                    related=lists["related"],
                    exclude=lists["exclude"],
                    yields_to_others=yields,
                    core_patterns=lists["core_patterns"],
                )
            )
    except CodebookError as exc:
        exc.at = exc.at or ("themes", i)  # at least the theme's entry
        raise
    if not themes:
        raise CodebookError(f"{path}: no themes")
    st = data.get("stance")
    if st is None:
        raise CodebookError(f"{path}: no 'stance' section: stance is learnt from its cues; "
                            f"copy the one of {PACKAGED_CODEBOOK}")
    if not isinstance(st, dict):
        raise CodebookError(f"{path}: stance must be a mapping")
    _unknown_keys(st, STANCE_KEYS, f"{path}: stance")
    for key in ("positive", "negative"):
        if not st.get(key):  # one stance alone cannot be learnt: training would stop
            raise CodebookError(f"{path}: stance.{key}: needs at least one cue, as the "
                                f"packaged codebook has ({PACKAGED_CODEBOOK})")
    cues = {k: _strings(st.get(k), f"{path}: stance.{k}", ("stance", k))
            for k in ("positive", "negative", "contrast", "neutral", "credited_action",
                      "negation")}
    stance = StanceCues(
        section_priors=_priors(st.get("section_priors"), f"{path}: stance.section_priors"),
        **cues,
        negation_scope=_scope(st.get("negation_scope", 4), f"{path}: stance.negation_scope"),
        recommendation_sections=_sections(
            st.get("recommendation_sections"), f"{path}: stance.recommendation_sections"),
        neutral_sections=_sections(
            st.get("neutral_sections"), f"{path}: stance.neutral_sections"),
    )
    return Codebook(
        path=path,
        # Of what the tagger reads, not the file's bytes: a comment, a re-indented line or
        # a reworded definition (words for people) changes no tag, so it must not make
        # every model stale.
        sha256=_digest(_for_the_tagger(data)),
        full_sha256=_digest(data),
        themes=tuple(themes),
        stance=stance,
        ignore=_strings(data.get("ignore"), f"{path}: ignore", ("ignore",)),
        fixed_wording_sections=_sections(
            data.get("fixed_wording_sections"), f"{path}: fixed_wording_sections"),
        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


# What a person reads and the tagger does not: the file's version, and each theme's name,
# definition and notes on what it takes in and leaves out.
FOR_PEOPLE_TOP = ("version",)
FOR_PEOPLE_THEME = ("name", "short_name", "definition", "include", "exclude_note")


def _for_the_tagger(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k not in FOR_PEOPLE_TOP}
    out["themes"] = [{k: v for k, v in t.items() if k not in FOR_PEOPLE_THEME}
                     for t in data.get("themes") or []]
    return out


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False,
                                     default=str).encode("utf-8")).hexdigest()


def load_codebook(path: Path | None = None, *, corpus: Path | None = None) -> Codebook:
    """Load and validate a codebook (default: the one in force for `corpus`)."""
    path = Path(path) if path is not None else codebook_path(corpus)
    try:
        text = read_utf8(path, "codebook")
    except TextFileError as exc:
        raise CodebookError(str(exc)) from exc
    return parse_codebook(text, path)
