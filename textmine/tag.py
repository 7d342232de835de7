"""Tag the corpus and classify arbitrary sentences with the current model.

Models live in `<corpus>/models/<version>/` and are registered in the `models` table;
the one with `is_current = 1` tags. A model is stale when what it was trained from has
changed (the codebook in force or its theme list, a label file, the corpus's letters or
passages, the model format, scikit-learn's minor or numpy's major version: `staleness`);
`ensure_model` then trains a new one. Hand labels come from JSONL files (dev.jsonl's
format) and from the `labels` table (corrections made in the app); both are matched back
to corpus passages so that the section, heading and neighbouring sentences are features,
as for any corpus sentence.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scraper.records import CANONICAL_SECTIONS
from sendlens.store import Corpus, corpus_size, current_model_row, now_iso, offered_column
from sendlens.textfile import TextFileError, read_utf8, unreadable
from textmine.codebook import SCHEME_THEMES, STANCES, Codebook, added_themes, load_codebook
from textmine.features import Item, items_from_rows
from textmine.model import (
    ModelFileError,
    TaggerModel,
    TrainingSet,
    file_digest,
    hand_training_set,
    load_model,
    model_version,
    save_model,
    staleness,
    train_model,
)

Progress = Callable[[float, str], None]


class TaggingError(RuntimeError):
    """Something the user must fix (no passages, bad labels file); the message says what."""


class LabelFileError(TaggingError):
    """A hand-label file that cannot be read or holds a bad line (the message says which)."""


class StoredLabelError(TaggingError, ValueError):
    """A correction in the labels table whose themes cannot be read (a hand edit); names it.
    A ValueError too, as export's table readers report those."""


class ClassifyInputError(ValueError):
    """A line of classify's input is not a JSON object with a text; names the line."""


# --- the corpus as items ------------------------------------------------------------------


def corpus_rows(corpus: Corpus) -> list[dict[str, Any]]:
    """All passages in letter order, with the letter's file name (for label matching)."""
    with corpus.reading() as con:
        rows = con.execute(
            """SELECT p.passage_id, p.letter_id, p.seq, p.section, p.heading, p.paragraph,
                      p.text, l.source
               FROM passages p JOIN letters l USING (letter_id)
               ORDER BY p.letter_id, p.seq"""
        ).fetchall()
    return [dict(r) for r in rows]


def corpus_items(corpus: Corpus) -> tuple[list[str], list[Item]]:
    """(passage ids, items with section/heading/neighbours) for every passage."""
    rows = corpus_rows(corpus)
    return [r["passage_id"] for r in rows], items_from_rows(rows)


def _norm(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


@functools.lru_cache(maxsize=4096)
def _file_name(source: str) -> str:
    return Path(source).name


def _grams(n: str, k: int = 4) -> list[tuple[str, ...]]:
    words = n.split()
    return [tuple(words[i : i + k]) for i in range(len(words) - k + 1)]


def _nested(a: str, b: str, least: float = 0.8) -> bool:
    """Whether normalised texts `a` and `b` are the same words but for hyphens and spaces
    ("neuro-developmental"), or one inside the other, word for word, the shorter at least
    `least` of the longer's length (a heading glued on, a word lost at a page break)."""
    short, long = sorted((a, b), key=len)
    if not short:
        return False
    if short.replace(" ", "") == long.replace(" ", ""):
        return True
    return len(short) >= least * len(long) and f" {short} " in f" {long} "


def _glued_after(line: str, passage: str) -> bool:
    """Whether normalised `line` ends with the whole of `passage` (of 6 words or more,
    so that a stock phrase is not taken for it) after words glued before it."""
    return len(passage.split()) >= 6 and line.endswith(f" {passage}")


class PassageMatcher:
    """Find a sentence's passage in the corpus, to give it the passage's context.

    Hand-labelled sentences name their letter by file name (or letter id) and may be
    cut differently from our sentences (a heading merged in, a split at a page break),
    so matching is exact on normalised text first, then by containment, then fuzzy.
    """

    def __init__(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows = list(rows)
        self.items = items_from_rows(self.rows)
        self.by_letter: dict[str, list[int]] = defaultdict(list)
        self.exact: dict[tuple[str, str], int] = {}
        self.global_exact: dict[str, int] = {}
        # File name -> letter id, so that an unmatched sentence still groups with its letter.
        self.letter_ids: dict[str, str] = {}
        self.norms = [_norm(r["text"]) for r in self.rows]  # normalised once, matched often
        for i, (r, n) in enumerate(zip(self.rows, self.norms, strict=True)):
            keys = {r["letter_id"]}
            if r.get("source"):
                name = _file_name(r["source"])
                self.letter_ids[name] = r["letter_id"]
                keys.add(name)
            self.global_exact.setdefault(n, i)
            for key in keys:
                self.by_letter[key].append(i)
                self.exact.setdefault((key, n), i)
        self.text_of = {r["passage_id"]: r["text"] for r in self.rows}
        self.index_of = {r["passage_id"]: i for i, r in enumerate(self.rows)}
        # Normalised text -> every passage that has it (most have one; a sentence repeated
        # in a letter, or the same stock sentence in several letters, have more).
        self.copies: dict[str, list[int]] = defaultdict(list)
        for i, n in enumerate(self.norms):
            self.copies[n].append(i)
        self._shingles: dict[tuple[str, ...], list[int]] | None = None  # built when needed
        self._sizes: list[int] = []

    def find(self, text: str, letter: str | None, *, strict: bool = False) -> int | None:
        """Index of the best matching passage, or None when nothing is close enough.

        Without a letter, or with one the corpus does not hold, the sentence is looked
        up in the whole corpus: exactly, then among the few passages sharing most of its
        word 4-grams. `strict` (for `classify`, whose sentences need not come from the
        corpus) takes only the same words, or one text wholly inside the other (at least
        80% of its length, or 40% in the letter named): a similar sentence ("is well
        established" against "is not well established") is not the same sentence, and
        its context would mislead; in the letter named, also a line ending with a whole
        passage of 6 words or more (a long heading or table header glued before it).
        """
        n = _norm(text)
        if letter and self.knows(letter):
            letter = _file_name(letter)
            if (letter, n) in self.exact:
                return self.exact[(letter, n)]
            candidates = self.by_letter.get(letter, [])
        else:
            if n in self.global_exact:
                return self.global_exact[n]
            return self._find_anywhere(n, strict=strict)
        if strict:
            # Within the letter named, a sentence with its section's heading glued on
            # (as hand-labelled files have them: "Areas for improvement Leaders ...") is
            # still that sentence, however long the heading: a table's header before it
            # ("Areas for priority action Responsible body ... Area leaders need to ...")
            # left the passage under 40% of the line.
            nested = [i for i in candidates if _nested(n, self.norms[i], least=0.4)
                      or _glued_after(n, self.norms[i])]
            return max(nested, key=lambda i: -abs(len(self.norms[i]) - len(n)), default=None)
        best, best_i = 0.0, None
        for i in candidates:
            m = self.norms[i]
            if not m:
                continue
            if m in n or n in m:
                score = 0.6 + 0.4 * min(len(m), len(n)) / max(len(m), len(n))
            else:
                sm = difflib.SequenceMatcher(None, n, m, autojunk=False)
                if sm.real_quick_ratio() < best or sm.quick_ratio() < max(best, 0.6):
                    continue
                score = sm.ratio()
            if score > best:
                best, best_i = score, i
        return best_i if best >= 0.6 else None

    def knows(self, letter: str) -> bool:
        """Whether the corpus holds this letter (by letter id or PDF file name)."""
        return _file_name(letter) in self.by_letter

    def _find_anywhere(self, n: str, *, strict: bool = False) -> int | None:
        """The passage sharing most of normalised text `n`'s word 4-grams, if it shares
        at least 60% of the shorter one's (a sentence cut differently, a heading merged
        in); `strict`, the best sharing one that nests with `n` (see `find`). Counting
        shared 4-grams keeps this fast enough for `classify`."""
        if self._shingles is None:
            index: dict[tuple[str, ...], list[int]] = defaultdict(list)
            sizes = []
            for i, m in enumerate(self.norms):
                grams = set(_grams(m))
                sizes.append(len(grams))
                for g in grams:
                    index[g].append(i)
            self._shingles, self._sizes = index, sizes
        grams = set(_grams(n))
        votes: Counter[int] = Counter()
        for g in grams:
            hits = self._shingles.get(g, ())
            if len(hits) <= 20:  # a 4-gram in many passages is boilerplate, not evidence
                votes.update(hits)
        if not votes:
            return None
        if strict:
            # Not only the top one: a longer passage with as many shared 4-grams may
            # come first, and not nest, while the next one does.
            return next((i for i, _ in votes.most_common(10) if _nested(n, self.norms[i])),
                        None)
        i, v = votes.most_common(1)[0]
        return i if v >= 2 and v >= 0.6 * min(len(grams), self._sizes[i]) else None

    def others(self, passage_id: str, letter: str | None = None) -> list[str]:
        """The other passages with the same text as `passage_id` (in `letter`, if named
        and held): read in another context, the same words may be tagged otherwise."""
        i = self.index_of[passage_id]
        wanted = (self.letter_ids.get(_file_name(letter), _file_name(letter))
                  if letter and self.knows(letter) else None)
        return [self.rows[j]["passage_id"] for j in self.copies[self.norms[i]]
                if j != i and (wanted is None or self.rows[j]["letter_id"] == wanted)]

    def holds(self, passage_id: str, text: str) -> bool:
        """Whether `passage_id` is a passage of the corpus with this text."""
        i = self.index_of.get(passage_id)
        return i is not None and self.norms[i] == _norm(text)

    def item_for(self, text: str, letter: str | None, passage_id: str | None = None,
                 *, strict: bool = False) -> tuple[Item, str | None]:
        """An Item for `text` with its passage's context (if found) and the passage id;
        `passage_id`, when the corpus holds it, names the passage outright. `strict` as
        for `find`."""
        i = self.index_of[passage_id] if passage_id and self.holds(passage_id, text) else None
        # Else an id from another import, or a typo: looked up by its text.
        if i is None:
            i = self.find(text, letter, strict=strict)
        if i is None:
            key = _file_name(letter) if letter else None
            return Item(text=text, letter=self.letter_ids.get(key or "", letter)), None
        ctx = self.items[i]
        item = Item(
            text=text,
            section=ctx.section,
            heading=ctx.heading,
            prev_text=ctx.prev_text,
            next_text=ctx.next_text,
            letter=ctx.letter,
        )
        return item, self.rows[i]["passage_id"]


# --- hand labels --------------------------------------------------------------------------


def json_problem(exc: json.JSONDecodeError) -> str:
    """What is wrong and where in the line: "Invalid control character at column 12"."""
    return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"


LABEL_KEYS = ("letter", "text", "themes", "stance")
LABEL_LINE = ('a labels file has one JSON object a line, such as {"letter": "...", "text": '
              '"...", "themes": ["ehc_plans"], "stance": "negative"}')
# Also read, as `sendlens export passages` names them: the letter's id (for "letter"),
# and the passage, whose context a sentence in its letter twice then gets.
# And the themes a correction was offered (`sendlens export labels`): it judged those only.
LABEL_EXTRA_KEYS = ("letter_id", "passage_id", "themes_offered")


# Other names for a label's stance, as other tools call it.
_STANCE_WORDS = ("sentiment", "polarity")


def _near_key(key: str, rec: dict[str, Any]) -> str | None:
    """The label key `key` of `rec` was probably meant to be: a case or plural variant
    ("Themes", "theme") always; a typo or another tool's name ("stnace", "lettr",
    "sentiment") when `rec` lacks the key it looks like (else it is a field of its own)."""
    k = key.strip().lower()
    for known in LABEL_KEYS:
        if k in (known, known.rstrip("s"), known + "s"):
            return known
    if k in LABEL_EXTRA_KEYS:
        return None if key in LABEL_EXTRA_KEYS else k  # "Letter_ID" would be unread
    # A typo keeps the word's length, give or take a letter ("instance" is no "stance").
    near = "stance" if k in _STANCE_WORDS else next(
        (m for m in difflib.get_close_matches(k, LABEL_KEYS, n=1, cutoff=0.75)
         if abs(len(m) - len(k)) <= 1), None)
    return near if near not in rec else None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def read_labels(path: Path, codebook: Codebook | None = None,
                removed: Collection[str] = ()) -> list[dict[str, Any]]:
    """Records of a JSONL labels file ({"letter", "text", "themes", "stance"} a line).
    With a codebook, a theme it does not have is an error naming the line, unless it is
    one of `removed` (themes taken out of the codebook since the labels were used)."""
    known = set(codebook.theme_ids) | set(removed) if codebook else None
    out = []
    lines_read: list[int] = []
    try:
        # Lines end at \n, \r\n or \r only: str.splitlines also splits at U+2028 and
        # others, which a JSON string may hold as they are.
        lines = re.split(r"\r\n|\r|\n", read_utf8(path, "labels file"))
    except TextFileError as exc:
        raise LabelFileError(str(exc)) from exc
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line, object_pairs_hook=_label_pairs, parse_constant=_not_json)
        except RecursionError:  # "[[[[..." nested past Python's limit
            raise LabelFileError(f"{path}, line {no}: not valid JSON (nested too deeply); "
                                 f"{LABEL_LINE}") from None
        except json.JSONDecodeError as exc:
            looks = (" (it looks like a CSV or TSV file: convert it to JSON Lines)"
                     if not line.lstrip().startswith(("{", "[")) and ("," in line or "\t" in line)
                     else "")
            raise LabelFileError(
                f"{path}, line {no}: not valid JSON ({json_problem(exc)}); {LABEL_LINE}{looks}"
            ) from exc
        except _NotJSON as exc:
            raise LabelFileError(f"{path}, line {no}: {exc}") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            raise LabelFileError(f"{path}, line {no}: expected an object with a \"text\"")
        if not rec["text"].strip():
            raise LabelFileError(f"{path}, line {no}: \"text\" is empty: a label needs the "
                               "sentence it labels")
        for key, value in rec.items():
            # "\ud800" escaped alone is no character: it cannot be written as UTF-8 (a
            # letter so named stopped evaluate with a UnicodeEncodeError).
            if half := _LONE_SURROGATE.search(json.dumps(value, ensure_ascii=False)):
                raise LabelFileError(
                    f"{path}, line {no}: \"{key}\" holds {half.group()!r}, half of a UTF-16 "
                    "surrogate pair, which is no character (a program split an emoji or "
                    "another character in two): write the file again as UTF-8")
        for key in rec:
            # "theme" or "Stance" would otherwise read as "no theme" at a hand label's weight.
            if key not in LABEL_KEYS and (near := _near_key(key, rec)):
                raise LabelFileError(f"{path}, line {no}: unknown key {key!r}; did you mean "
                                   f"{near!r}?")
        if "themes" not in rec:
            raise LabelFileError(f"{path}, line {no}: no \"themes\" (a list of theme ids, [] "
                               "for a sentence about none)")
        themes = rec["themes"]
        # null, "" or false are not "no theme": that is [] (each label weighs 12 weak ones).
        if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
            raise LabelFileError(f"{path}, line {no}: \"themes\" must be a list of theme ids "
                               "(strings), [] for a sentence about none")
        if known is not None and (unknown := set(themes) - known):
            hints = [f"{t!r} (did you mean {near[0]!r}?)"
                     if (near := difflib.get_close_matches(str(t), known, n=1)) else repr(t)
                     for t in sorted(unknown, key=str)]
            raise LabelFileError(f"{path}, line {no}: unknown theme {', '.join(hints)}; the "
                               f"codebook's themes: {', '.join(sorted(known))}")
        letter = rec.get("letter", rec.get("letter_id"))
        if letter is not None and not isinstance(letter, str):
            raise LabelFileError(f"{path}, line {no}: \"letter\" must be a string (the "
                               f"letter's PDF file name or letter id), not {letter!r}")
        passage = rec.get("passage_id")
        if passage is not None and not isinstance(passage, str):
            raise LabelFileError(f"{path}, line {no}: \"passage_id\" must be a string, not "
                               f"{passage!r}")
        stance = rec.get("stance")
        if stance is not None and stance not in STANCES:
            raise LabelFileError(f"{path}, line {no}: unknown stance {stance!r}; choose "
                               f"{', '.join(STANCES)}")
        offered = rec.get("themes_offered")
        if offered is not None and not (isinstance(offered, list)
                                        and all(isinstance(t, str) for t in offered)):
            raise LabelFileError(f"{path}, line {no}: \"themes_offered\" must be a list of "
                               "theme ids (the themes the label judged)")
        if offered is not None and (unjudged := [t for t in themes if t not in offered]):
            # A typo in themes_offered made the label judge none of its themes, silently.
            raise LabelFileError(
                f"{path}, line {no}: theme {', '.join(map(repr, unjudged))} is in \"themes\" "
                "but not in \"themes_offered\" (the themes the label judged): a label gives "
                "only themes it judged")
        # A theme named twice is named once: ["x", "x"] is the label ["x"] (not a second).
        out.append({"letter": letter, "text": rec["text"], "themes": list(dict.fromkeys(themes)),
                    "stance": stance,
                    **({"passage_id": passage} if passage else {}),
                    **({"offered": offered} if offered is not None else {}),
                    "source": f"{path}, line {no}"})  # for messages about the label
        lines_read.append(no)
    if codebook and (mixed := renamed_beside([r["themes"] for r in out], codebook.theme_ids)):
        i, old, new = mixed
        raise LabelFileError(
            f"{path}, line {lines_read[i]}: theme {old!r} is not in the codebook, and the file "
            f"also names {new!r}, which looks like its new name: give those lines {new!r} "
            f"(read as they are, they would teach that {new} is not about them)")
    return out


def renamed_beside(themes: Sequence[Sequence[str]],
                   codebook_ids: Collection[str]) -> tuple[int, str, str] | None:
    """(record index, theme, codebook theme) where labels name a theme the codebook does
    not have beside one of its themes that looks like that theme renamed ("social_care"
    and "social_care_input"): a file half edited after a rename, not labels to train on."""
    ids = set(codebook_ids)
    named = {t for ts in themes for t in ts if t in ids}
    for i, ts in enumerate(themes):
        for t in ts:
            if t not in ids and (near := difflib.get_close_matches(t, named, n=1, cutoff=0.6)):
                return i, t, near[0]
    return None


def stored_labels(corpus: Corpus) -> list[dict[str, Any]]:
    """Corrections saved in the labels table; the newest label of a passage wins.
    "offered": the themes the app offered beside it (None for one saved before sendlens
    recorded them); "label_id": the row's id."""
    with corpus.reading() as con:
        rows = con.execute(
            "SELECT id, passage_id, letter, text, themes, stance, "
            f"{offered_column(con)} FROM labels ORDER BY id"
        ).fetchall()
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r["passage_id"] or f"text:{r['text']}"
        latest[key] = {
            "passage_id": r["passage_id"],
            "letter": r["letter"],
            "text": r["text"],
            "themes": _stored_themes(r, "themes", r["themes"] or "[]"),
            "stance": r["stance"],
            "offered": None if r["themes_offered"] is None else
            _stored_themes(r, "themes_offered", r["themes_offered"]),
            "label_id": r["id"],
        }
    return list(latest.values())


def not_offered(record: dict[str, Any], theme_ids: Collection[str]) -> set[str]:
    """The themes (of `theme_ids`, the codebook's) a correction was not offered, added to
    the codebook after it was saved: it says nothing about them, so training takes no
    label for them from it, and tagging leaves them to the model."""
    offered = record.get("offered")
    return set() if offered is None else set(theme_ids) - set(offered)


def labels_not_judged(records: Sequence[dict[str, Any]], codebook: Codebook) -> list[set[str]]:
    """Per record of one labels file, the themes it did not judge: those the file gives
    to none of its sentences (added to the codebook after it), and, for a correction
    exported from the app, those its form did not offer, as when it is read from the
    corpus."""
    gaps = unlabelled_themes(records, codebook)
    return [gaps | not_offered(r, codebook.theme_ids) for r in records]


def _stored_themes(row: Any, column: str, text: str) -> list[str]:
    """A correction's list of theme ids, or StoredLabelError naming the correction: a
    damaged or hand-edited row stopped a retrain with 'Expecting value: line 1 column 1'
    or a TypeError, and a string was read as a list of its letters."""
    try:
        themes = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        themes = None
    if isinstance(themes, list) and all(isinstance(t, str) for t in themes):
        return themes
    which = f"passage {row['passage_id']}" if row["passage_id"] else \
        f"the sentence {str(row['text'])[:40]!r}"
    raise StoredLabelError(
        f"the correction saved in the app with id {row['id']} ({which}) has {column} that "
        f"cannot be read ({str(text)[:40]!r}: not a list of theme ids; a damaged or "
        "hand-edited database): remove it on the app's Label page ('Remove a correction "
        "saved by mistake') and save it again")


def corrected_passages(corpus: Corpus) -> dict[str, dict[str, Any]]:
    """Passage id -> its newest correction saved in the app ({"themes", "stance",
    "offered"}, as stored_labels)."""
    return {r["passage_id"]: r for r in stored_labels(corpus) if r["passage_id"]}


def unlabelled_themes(records: Sequence[dict[str, Any]], codebook: Codebook) -> set[str]:
    """Themes a labels file has not labelled: added to the codebook after it (not in
    sendlens's own codebook) and given to none of its sentences. `evaluate` does not score
    them on the file, and training takes no label for them from it."""
    given = {t for r in records for t in r.get("themes") or []}
    return added_themes(codebook.theme_ids) - given


def matched(records: Sequence[dict[str, Any]], matcher: PassageMatcher
            ) -> list[tuple[Item, str | None]]:
    """Each record's Item, with its passage's context, and the passage id (None when not
    found). A correction names its passage: a sentence that is in its letter twice gets
    the context of the one corrected, not of the first."""
    return [matcher.item_for(r["text"], r.get("letter"), r.get("passage_id")) for r in records]


def hand_set(
    records: Sequence[dict[str, Any]], matcher: PassageMatcher, codebook: Codebook,
    *, unlabelled: Sequence[Collection[str]] | None = None,
    found: Sequence[tuple[Item, str | None]] | None = None,
) -> TrainingSet | None:
    """Hand-labelled records as a training set, each with its passage's context.
    `unlabelled`: per record, the themes its file did not label (no label for them);
    `found`: `matched(records, matcher)`, when the caller has it already."""
    if not records:
        return None
    known = set(codebook.theme_ids)
    items = [item for item, _ in (found if found is not None else matched(records, matcher))]
    themes = [[t for t in r.get("themes") or [] if t in known] for r in records]
    return hand_training_set(items, themes, [r.get("stance") for r in records], codebook,
                             unlabelled=unlabelled)


# --- models -------------------------------------------------------------------------------


@dataclass
class TrainResult:
    version: str
    path: Path
    meta: dict[str, Any]
    seconds: float
    # Labels from files naming a theme the codebook no longer has (lenient training).
    removed_theme_labels: int = 0
    # Letters the label files name that the corpus does not hold: their sentences were
    # looked up in every letter, or read alone.
    unknown_letters: tuple[str, ...] = ()
    # Labels given again word for word (another file, the same line twice): read once.
    duplicate_labels: int = 0
    # Sentences the label files label in two ways, each with its files' lines: all kept.
    conflicting_labels: tuple[str, ...] = ()
    # Labels whose passage_id names no passage of this corpus with their text.
    unmatched_passage_ids: int = 0


def train(
    corpus: Corpus,
    label_files: Sequence[Path] = (),
    *,
    use_stored_labels: bool = True,
    lenient: bool = False,
    codebook: Codebook | None = None,
    progress: Progress | None = None,
    tune_folds: int = 0,
) -> TrainResult:
    """Train on the corpus (+ hand labels), save under models/<version>/, make it current.

    With `tune_folds` K >= 2 the theme thresholds are tuned on the hand labels by a
    K-fold cross-validation grouped by letter (see `train_model`), which needs labels
    from at least K letters. `lenient` (a retrain) takes label files as they are now. A
    label naming a theme the codebook no longer has (`removed_themes`) loses it."""
    with _model_lock(corpus, progress):
        return _train(corpus, label_files, use_stored_labels=use_stored_labels,
                      lenient=lenient, codebook=codebook, progress=progress,
                      tune_folds=tune_folds)


def _train(
    corpus: Corpus,
    label_files: Sequence[Path],
    *,
    use_stored_labels: bool,
    lenient: bool,
    codebook: Codebook | None,
    progress: Progress | None,
    tune_folds: int = 0,
) -> TrainResult:
    started = time.time()
    codebook = codebook or load_codebook(corpus=corpus.root)
    gone = removed_themes(corpus, codebook)
    _check_can_save(corpus)
    say = progress or (lambda _f, _m: None)
    records: list[dict[str, Any]] = []
    unlabelled: list[set[str]] = []  # per record, the themes its file did not label
    # Each file's hash as it was read: one edited during the training is then a changed
    # file (stale), not taken for the one the model learnt.
    digests: list[str] = []
    for path in label_files:
        digests.append(file_sha256(Path(path)))
        # Labels of a theme the codebook no longer has (`removed_themes`) lose that theme
        # instead of stopping the run (hand_set drops it), as `evaluate` scores them; any
        # other unknown theme (a typo) is still an error.
        found = read_labels(Path(path), codebook, gone)
        if not found and not lenient:
            # Asked for hand labels and given none: a model without them must not quietly
            # replace the current one (which may have been trained on many). A retrain
            # (lenient) takes the files as they are now, as it does a removed one.
            raise TaggingError(f"{path}: no labelled sentences (one JSON object a line, "
                               "as in dev.jsonl); nothing was trained")
        records += found
        # A file made before a theme was added says nothing about it: its sentences must
        # not become hand-weighted negatives for it (as `evaluate` does not score it).
        unlabelled += labels_not_judged(found, codebook)
    records, unlabelled, duplicates = _once_each(records, unlabelled)
    # The label files first: a mistyped name is told before any work is shown.
    say(0.05, "reading passages")
    rows = corpus_rows(corpus)
    if not rows:
        raise TaggingError("the corpus has no passages: run `sendlens import` first")
    matcher = PassageMatcher(rows)
    found = matched(records, matcher)  # looked up once: for the conflicts and the training
    conflicts = _two_ways(records, [pid for _, pid in found])
    unknown = tuple(sorted({r["letter"] for r in records if isinstance(r.get("letter"), str)
                            and not matcher.knows(r["letter"])}))
    # A passage_id of another corpus (or a typo): the label is looked up by its text.
    strange = sum(1 for r in records if r.get("passage_id")
                  and not matcher.holds(r["passage_id"], r["text"]))
    last_label = 0  # the newest correction read: `info` counts those saved after it
    if use_stored_labels:
        stored = stored_labels(corpus)
        records += stored
        found += matched(stored, matcher)
        unlabelled += [not_offered(r, codebook.theme_ids) for r in stored]
        last_label = max((r["label_id"] for r in stored), default=0)
    # Of the files' labels and the app's corrections alike (a correction naming a theme
    # renamed since lost it without a word).
    known = set(codebook.theme_ids)
    removed = sum(bool(set(r["themes"]) - known) for r in records)
    hand = hand_set(records, matcher, codebook, unlabelled=unlabelled, found=found)
    n_letters = 0 if hand is None else len({it.letter for it in hand.items if it.letter})
    if tune_folds and n_letters < tune_folds and not lenient:
        # Each fold holds whole letters. (A retrain, lenient, tunes on what is left.)
        raise TaggingError(
            f"tuning thresholds by {tune_folds}-fold cross-validation needs hand labels from "
            f"at least {tune_folds} letters; these come from {n_letters} (a label with no "
            "\"letter\" is looked up in the corpus); nothing was trained")
    say(0.2, f"training on {len(rows):,} passages and {len(records):,} hand labels"
        + (f", thresholds tuned by {tune_folds}-fold cross-validation" if tune_folds else ""))
    # Training is most of the run: its stages move the bar from 20% to 55%.
    model = train_model(matcher.items, codebook, hand, tune_folds=tune_folds,
                        progress=lambda f, m: say(0.2 + 0.35 * f, m))
    model.meta["training"]["tune_folds_asked"] = tune_folds
    # Kept for a retrain (after a codebook edit, or the app's button): a model trained
    # without the app's corrections is retrained without them.
    model.meta["training"]["use_stored_labels"] = use_stored_labels
    model.meta["training"]["last_label_id"] = last_label
    # Themes taken out of the codebook that the label files still name: a later retrain
    # drops them again (this model's theme list no longer has them to tell it).
    named = {t for r in records for t in r.get("themes") or []}
    model.meta["training"]["removed_themes"] = sorted(named & gone)
    # Absolute paths and content hashes: an automatic retrain finds the files again, and
    # `evaluate` recognises them from any working directory, or under another name.
    model.meta["training"]["label_files"] = [str(Path(p).resolve()) for p in label_files]
    model.meta["training"]["label_sha256"] = digests
    # ... and each labelled sentence, so that a copy, subset or edit of the files (or a
    # passage corrected in the app) is not taken for held-out labels.
    model.meta["training"]["label_texts"] = sorted(
        {label_key(r, matcher.letter_ids) for r in records})
    version = _unused_version(corpus, model_version(model.meta))
    directory = corpus.model_dir / version
    save_model(model, directory)
    try:
        with corpus.transaction() as con:
            con.execute("UPDATE models SET is_current = 0")
            con.execute(
                "INSERT OR REPLACE INTO models(version, created_at, path, meta, is_current)"
                " VALUES (?, ?, ?, ?, 1)",
                # Relative to the corpus root, so a corpus folder can be moved or copied.
                (version, model.meta["created_at"], f"models/{version}",
                 json.dumps(model.meta)),
            )
    except BaseException:
        # Not registered (the database busy or full, an interrupt): no folder of 3.5 MB
        # that no row names and nothing would ever remove. Looked up first: an interrupt
        # may come just after the COMMIT, and a registered model must keep its files.
        try:
            with corpus.reading() as con:
                registered = con.execute("SELECT 1 FROM models WHERE version = ?",
                                         (version,)).fetchone() is not None
        except Exception:  # noqa: BLE001 - unsure: keep the folder
            registered = True
        if not registered:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    say(0.6, f"model {version} saved")
    _prune_models(corpus)
    return TrainResult(version, directory, model.meta, time.time() - started, removed, unknown,
                       duplicates, conflicts, strange)


KEEP_MODELS = 5  # earlier models whose files are kept, besides the current one


def _check_can_save(corpus: Corpus) -> None:
    """Refuse before training, not after it (half a minute on a real corpus), when the
    models folder cannot take a new model."""
    folder = corpus.model_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(prefix=".partial-check-", dir=folder)).rmdir()
    except OSError as exc:
        raise TaggingError(f"{folder}: a model cannot be saved there "
                           f"({exc.strerror or exc}), so none was trained") from None


def _prune_models(corpus: Corpus, keep: int = KEEP_MODELS) -> int:
    """Remove the files of earlier models (3-4 MB each: every retrain added one) but the
    `keep` newest and any whose tags the corpus still holds; their rows stay, as the
    record of what was trained when. Under the model lock; best effort. Returns how many."""
    with corpus.reading() as con:
        rows = con.execute(
            "SELECT version, path FROM models WHERE NOT is_current AND version NOT IN"
            " (SELECT DISTINCT model_version FROM tags WHERE model_version IS NOT NULL)"
            " ORDER BY rowid DESC").fetchall()  # newest first (created_at has seconds)
        named = {Path(r["path"]).name for r in con.execute("SELECT path FROM models")
                 if r["path"]}
    removed = 0
    for row in rows[keep:]:
        folder = corpus.root / row["path"] if row["path"] else None
        if folder is not None and folder.is_dir() and folder.parent == corpus.model_dir:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    # A model saved but never recorded (the run killed between the two): no row names it,
    # so nothing else would ever remove its 3.5 MB. Only folders named as sendlens names
    # a model, holding one: anything else a user put there is left alone. Nor one saved in
    # the last hour: where the model lock excludes nothing (Windows), another training
    # may be about to record it.
    for folder in corpus.model_dir.iterdir() if corpus.model_dir.is_dir() else ():
        if (folder.name not in named and _MODEL_FOLDER.fullmatch(folder.name)
                and folder.is_dir() and (folder / "meta.json").is_file()
                and time.time() - folder.stat().st_mtime > 3600):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


# What model_version and _unused_version name a model's folder: 20261205-124720-1b75a165(.2)
_MODEL_FOLDER = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}(\.\d+)?")


def _once_each(records: list[dict[str, Any]], unlabelled: list[set[str]]
               ) -> tuple[list[dict[str, Any]], list[set[str]], int]:
    """The label files' records with repeats left out (a copy of a file given as another
    weighed its labels twice), and how many. A label with no stance and one with the same
    themes and a stance are one label (themes labelled in one file, stances in another),
    with the stance. (The sentences labelled two ways: `_two_ways`, by passage.)"""
    seen: dict[tuple[str, str], list[int]] = {}  # sentence -> its records' places in kept
    kept: list[dict[str, Any]] = []
    kept_unlabelled: list[set[str]] = []
    repeats = 0
    for rec, gaps in zip(records, unlabelled, strict=True):
        # The passage when given: a sentence in its letter twice is two passages.
        where = (str(rec.get("passage_id") or rec.get("letter") or ""),
                 " ".join(rec["text"].split()))
        themes = sorted(rec["themes"])
        places = seen.setdefault(where, [])
        same = next((i for i in places if sorted(kept[i]["themes"]) == themes and (
            kept[i].get("stance") is None or rec.get("stance") is None
            or kept[i].get("stance") == rec.get("stance"))), None)
        if same is not None:
            repeats += 1
            if kept[same].get("stance") is None and rec.get("stance") is not None:
                kept[same] = {**kept[same], "stance": rec["stance"]}
            # A theme either file judged is judged (not left unlabelled).
            kept_unlabelled[same] = kept_unlabelled[same] & gaps
            continue
        places.append(len(kept))
        kept.append(rec)
        kept_unlabelled.append(gaps)
    return kept, kept_unlabelled, repeats


def _two_ways(records: Sequence[dict[str, Any]],
              passage_ids: Sequence[str | None]) -> tuple[str, ...]:
    """The sentences the label files label in two ways, each with the lines that do:
    found by the passage each label matches (`passage_ids`, from `matched`), so that a
    line naming the letter by its file and one naming its passage (as `export labels`
    writes a correction) are the same sentence. A label with no stance agrees with any
    stance."""
    by_passage: dict[str, list[dict[str, Any]]] = {}
    for r, pid in zip(records, passage_ids, strict=True):
        by_passage.setdefault(pid or f"text:{_norm(r['text'])}", []).append(r)
    out = []
    for labels in by_passage.values():
        themes = {tuple(sorted(r["themes"])) for r in labels}
        stances = {r["stance"] for r in labels if r.get("stance")}
        if len(themes) > 1 or len(stances) > 1:
            lines = "; ".join(dict.fromkeys(str(r.get("source", "")) for r in labels))
            out.append(f"{labels[0]['text'][:60]!r} ({lines})")
    return tuple(out)


def _unused_version(corpus: Corpus, version: str) -> str:
    """`version`, or `version.2`, `.3`...: two models trained in the same second (a script
    running `tag` then `train`) must not share a version, or the first one's tags would be
    taken for the second's."""
    with corpus.reading() as con:
        taken = {row[0] for row in con.execute(
            "SELECT version FROM models WHERE version = ? OR version LIKE ?",
            (version, f"{version}.%"))}
    candidate, n = version, 1
    while candidate in taken or (corpus.model_dir / candidate).exists():
        n += 1
        candidate = f"{version}.{n}"
    return candidate


def _current(corpus: Corpus) -> tuple[str, Path, str | None] | None:
    """The current model's (version, directory, stored meta JSON), or None when there is
    none on disk."""
    with corpus.reading() as con:
        row = current_model_row(con)
    if row is None:
        return None
    path = Path(row["path"])
    if not path.is_absolute():
        path = corpus.root / path
    if not (path / "model.joblib").is_file():
        return None
    return row["version"], path, row["meta"]


def _recorded(corpus: Corpus) -> tuple[str, dict[str, Any]] | None:
    """The current model's version and metadata as the database records them, whether or
    not its files are there."""
    with corpus.reading() as con:
        row = current_model_row(con)
    return None if row is None else (row["version"], json.loads(row["meta"] or "{}"))


def current_meta(corpus: Corpus) -> tuple[str, dict[str, Any]] | None:
    """The current model's version and metadata, without loading its pipelines (None, as
    for current_model, when there is none on disk)."""
    found = _current(corpus)
    return None if found is None else (found[0], json.loads(found[2] or "{}"))


def current_model(corpus: Corpus) -> tuple[str, TaggerModel] | None:
    """The current model (version, model), or None when there is none on disk."""
    found = _current(corpus)
    return None if found is None else (found[0], load_model(found[1]))


def ensure_model(
    corpus: Corpus, *, progress: Progress | None = None,
    on_stale: Callable[[list[str]], None] | None = None,
) -> tuple[str, TaggerModel, list[str]]:
    """The current model, training one first when there is none or it is stale.

    Returns (version, model, reasons it was (re)trained: empty when it was current).
    With `on_stale`, a stale model in a corpus this user cannot write is used as it is,
    after `on_stale(reasons)`, instead of failing: reading needs no new model.
    """
    codebook = load_codebook(corpus=corpus.root)

    def current() -> tuple[tuple[str, TaggerModel] | None, list[str], dict | None]:
        """(the model, reasons to train it again, the metadata to train it again from:
        the database's record when its files are damaged or gone)."""
        try:
            found = current_model(corpus)
        except ModelFileError as exc:  # damaged on disk: trained again, as it was
            return None, [exc.problem], (_recorded(corpus) or (None, None))[1]
        if found is None:
            recorded = _recorded(corpus)
            if recorded is None:
                return None, ["the corpus had no model yet"], None
            return None, [f"the files of model {recorded[0]} are missing from the corpus"], \
                recorded[1]
        return found, stale_reasons(corpus, found[1].meta, codebook), found[1].meta

    found, reasons, _ = current()
    if found is not None and not reasons:
        return found[0], found[1], []
    if corpus.readonly and found is not None and on_stale is not None:
        on_stale(reasons)
        return found[0], found[1], []
    with _model_lock(corpus, progress):
        # Looked at again: a run this one waited for may have trained it meanwhile.
        found, reasons, meta = current()
        if found is not None and not reasons:
            return found[0], found[1], []
        # A model whose files are damaged or gone is trained again as the database
        # recorded it (its label files, settings): not from weak labels alone.
        try:
            result, notes = train_again(corpus, meta, codebook=codebook, progress=progress)
        except LabelFileError as exc:
            # A label file broken since: say why it is read at all (a classify or an
            # export seemed to fail on a file it had nothing to do with).
            raise TaggingError(
                f"{exc}. The model is trained again first ({'; '.join(reasons)}), with the "
                "hand-label files it was trained on, and this one cannot be read: mend it, "
                "or train without it (`sendlens train`)") from exc
    return result.version, load_model(result.path), reasons + notes


def _model_lock(corpus: Corpus, progress: Progress | None) -> Any:
    """corpus.model_lock, saying so when another run holds it."""
    def waiting() -> None:
        if progress is not None:
            progress(0.0, "waiting for another sendlens run on this corpus to finish")
    return corpus.model_lock(waiting)


def removed_themes(corpus: Corpus, codebook: Codebook) -> set[str]:
    """Themes label files may name that `codebook` does not have: those of any model the
    corpus has kept a record of (known, or dropped as removed: a theme removed or renamed
    some retrains ago), and the labelling scheme's own."""
    with corpus.reading() as con:
        metas = [json.loads(m or "{}") for (m,) in con.execute("SELECT meta FROM models")]
    known = set(SCHEME_THEMES).union(
        *(set(m.get("themes") or ()) | set(m.get("training", {}).get("removed_themes") or ())
          for m in metas))
    return known - set(codebook.theme_ids)


def train_again(
    corpus: Corpus, meta: dict[str, Any] | None, *, codebook: Codebook | None = None,
    progress: Progress | None = None, use_stored_labels: bool | None = None,
) -> tuple[TrainResult, list[str]]:
    """Train a new model on the label files the model with `meta` was trained on (where
    still there) and, as that model was (or as `use_stored_labels` says), the stored
    corrections; returns it with what to say of those files."""
    kept, gone = previous_label_files(meta)
    if gone:
        # The researcher's labels: a retrain made on the way (a codebook edit, letters
        # imported, the app's button) must not drop them with a line of notes.
        raise TaggingError(
            "the current model learnt from hand labels in "
            + ", ".join(gone) + (" which are" if len(gone) > 1 else ", which is")
            + " no longer there, and a new model would lose them: put the file back, or "
            "train without it yourself (`sendlens train`, with `--labels FILE` for the "
            "others), then run this again")
    training = (meta or {}).get("training", {})
    tune_folds = int(training.get("tune_folds_asked", training.get("tune_folds")) or 0)
    stored = (bool(training.get("use_stored_labels", True)) if use_stored_labels is None
              else use_stored_labels)
    result = train(corpus, kept, codebook=codebook, progress=progress, lenient=True,
                   tune_folds=tune_folds, use_stored_labels=stored)
    notes = [] if stored else ["without the corrections saved in the app, as before "
                               "(`sendlens train` to use them)"]
    if kept:
        notes.append("with the hand labels it was trained on: " + ", ".join(map(str, kept)))
    tuned = int(result.meta["training"].get("tune_folds") or 0)
    if tuned:
        notes.append(f"thresholds tuned on the hand labels by {tuned}-fold cross-validation, "
                     "as before")
    elif tune_folds:
        # Too few labelled letters left (a file gone): said; the model records the setting
        # asked for (tune_folds_asked), so that a later retrain with labels from enough
        # letters (corrections made in the app) tunes again.
        notes.append(f"thresholds not tuned by {tune_folds}-fold cross-validation as before: "
                     "the hand labels left come from too few letters; they match the weak "
                     "labels' prevalence")
    if note := removed_note(result):
        notes.append(note)
    return result, notes + thin_themes(result.meta)


def removed_note(result: TrainResult) -> str | None:
    """What to say of labels naming themes the codebook does not have, naming them."""
    if not (n := result.removed_theme_labels):
        return None
    gone = result.meta["training"].get("removed_themes") or []
    # Removed, renamed, or a theme of the labelling scheme this codebook never had.
    return (f"{n} of the hand labels {'names' if n == 1 else 'name'} "
            f"{'a theme' if len(gone) == 1 else 'themes'} of an earlier codebook or of "
            f"sendlens's labelling scheme that this codebook does not have "
            f"({', '.join(gone)}: removed or renamed?), left out of the training")


# Fewer sentences than this for a theme (its patterns' matches in the corpus plus hand
# labels giving it) and the model cannot learn it: its column would read as a finding.
FEW_EXAMPLES = 5


def thin_themes(meta: dict[str, Any], *, stale: bool = False) -> list[str]:
    """Warnings for the themes a model had (almost) nothing to learn from: a pattern
    with a typo matches no sentence, and every table then counts the theme 0. None for a
    `stale` model: its codebook may have been mended since (its patterns are what to
    check), and the stale warning says to retrain."""
    training = meta.get("training", {})
    if stale or "weak_theme_positives" not in training:  # or not recorded: nothing to go by
        return []
    weak = training["weak_theme_positives"]
    hand = training.get("hand_labels", {}).get("themes", {})
    out = []
    for theme in meta.get("themes", []):
        n, m = int(weak.get(theme, 0)), int(hand.get(theme, 0))
        if n + m < FEW_EXAMPLES:
            out.append(f"theme {theme}: its patterns match {n} sentence{'' if n == 1 else 's'} "
                       f"of the corpus and {m} hand label{'' if m == 1 else 's'} give it, too "
                       "few to learn from, so tables count it (almost) never; check its "
                       "patterns in the codebook")
    return out


def stale_reasons(corpus: Corpus, meta: dict[str, Any], codebook: Codebook) -> list[str]:
    """Why the model with `meta` is stale for `corpus` as it is now (staleness, with the
    corpus's size: one imported since is another corpus); empty when current."""
    with corpus.reading() as con:
        return staleness(meta, codebook, corpus_size(con))


def gone_label_files(meta: dict[str, Any] | None) -> list[str]:
    """The hand-label files a model learnt from that are no longer there: a retrain stops
    rather than lose them (train_again)."""
    return previous_label_files(meta)[1]


def previous_label_files(meta: dict[str, Any] | None) -> tuple[list[Path], list[str]]:
    """The hand-label files a model was trained on: (those still there, those gone).
    A retrain trains on them again: they are the researcher's work, not to be dropped."""
    previous = [] if meta is None else meta.get("training", {}).get("label_files", [])
    kept = [Path(p) for p in previous if Path(p).is_file()]
    return kept, [p for p in previous if not Path(p).is_file()]


def letter_ids(corpus: Corpus) -> dict[str, str]:
    """PDF file name -> letter id, for every letter of the corpus."""
    with corpus.reading() as con:
        rows = con.execute("SELECT letter_id, source FROM letters").fetchall()
    return {_file_name(r["source"]): r["letter_id"] for r in rows if r["source"]}


def label_key(record: dict[str, Any], ids: dict[str, str]) -> str:
    """A short fingerprint of a labelled sentence, blind to case, spacing and punctuation,
    with its letter when the label names one (by file name or letter id, as `ids` maps
    them: a label file and the app name the same letter differently)."""
    sentence = hashlib.sha1(_norm(record["text"]).encode("utf-8")).hexdigest()[:16]
    letter = str(record.get("letter") or "")
    letter = ids.get(_file_name(letter), letter) if letter else ""
    return sentence + ":" + (hashlib.sha1(letter.encode("utf-8")).hexdigest()[:8]
                             if letter else "")


def trained_on(meta: dict[str, Any], records: Sequence[dict[str, Any]],
               ids: dict[str, str]) -> int | None:
    """How many of `records` (labelled sentences) the model of `meta` was trained on: the
    same sentence of the same letter (or either with no letter named). None for a model
    from before these fingerprints were kept."""
    keys = meta.get("training", {}).get("label_texts")
    if keys is None:
        return None
    letters: defaultdict[str, set[str]] = defaultdict(set)
    for key in keys:
        sentence, _, letter = key.partition(":")
        letters[sentence].add(letter)
    count = 0
    for r in records:
        sentence, _, letter = label_key(r, ids).partition(":")
        seen = letters.get(sentence, set())
        count += bool(seen) and (not letter or "" in seen or letter in seen)
    return count


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (TaggingError naming it when it cannot be read)."""
    try:
        return file_digest(Path(path))
    except OSError as exc:
        raise TaggingError(unreadable("labels file", path, exc)) from None


@dataclass
class TagReport:
    version: str
    passages: int
    seconds: float
    trained: list[str]


def tag_corpus(corpus: Corpus, *, progress: Progress | None = None) -> TagReport:
    """Tag every passage with the current model (training one if needed).

    Idempotent: each passage's row in `tags` is replaced, so re-tagging with the same
    model gives the same table.
    """
    with _model_lock(corpus, progress):
        return _tag_corpus(corpus, progress)


def _tag_corpus(corpus: Corpus, progress: Progress | None) -> TagReport:
    started = time.time()
    version, model, reasons = ensure_model(corpus, progress=progress)
    say = progress or (lambda _f, _m: None)
    say(0.7, "tagging passages")
    corrections = corrected_passages(corpus)
    ids, items = corpus_items(corpus)
    predictions = model.predict(items)
    # A passage a researcher corrected in the app keeps the correction as its tag: the
    # model learns from it, but one label among thousands need not flip its prediction.
    for i, pid in enumerate(ids):
        if (fixed := corrections.get(pid)) is not None:
            # A theme added since the correction was saved is the model's to give.
            model_gives = set(predictions[i]["themes"]) & not_offered(fixed, model.theme_ids)
            themes = [t for t in model.theme_ids if t in fixed["themes"] or t in model_gives]
            predictions[i] = {**predictions[i], "themes": themes,
                              "stance": fixed["stance"] or predictions[i]["stance"]}
    stamp = now_iso()
    with corpus.transaction() as con:
        con.execute("DELETE FROM tags WHERE passage_id NOT IN (SELECT passage_id FROM passages)")
        con.executemany(
            "INSERT OR REPLACE INTO tags(passage_id, themes, stance, scores, model_version,"
            " tagged_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (pid, json.dumps(p["themes"]), p["stance"], json.dumps(p["scores"]), version, stamp)
                for pid, p in zip(ids, predictions, strict=True)
            ],
        )
    say(1.0, f"tagged {len(ids):,} passages with {version}")
    return TagReport(version, len(ids), time.time() - started, reasons)


def retrain(corpus: Corpus, progress: Progress | None = None) -> TagReport:
    """Train with the stored labels (and the label files the current model was trained
    on, where still there) and re-tag the corpus (the app's 'retrain' button)."""
    with _model_lock(corpus, progress):
        found = current_meta(corpus)  # only its label files are needed, not its pipelines
        # The button is there to train on the corrections: used even if the model before
        # was trained without them.
        _, notes = train_again(corpus, None if found is None else found[1], progress=progress,
                               use_stored_labels=True)
        report = tag_corpus(corpus, progress=progress)
    report.trained[:0] = notes  # shown by the app beside the new model
    return report


# --- classify -----------------------------------------------------------------------------


def _parse_line(no: int, line: str) -> dict[str, Any]:
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as exc:
            # Bytes that are not UTF-8 reach us as lone surrogates: the text is garbled.
            raise ClassifyInputError(f"line {no}: not UTF-8 text (character {exc.start + 1})"
                                     ) from None
    try:
        # Without its line end: a string cut short is "unterminated", not a control char.
        # Numbers are kept as written, so that an id comes back as it was given (1e400 is
        # valid JSON; as a float it came back as Infinity; an integer of 5,000 digits is
        # more than Python reads).
        rec = json.loads(line.rstrip("\r\n"), parse_float=RawJSON, parse_int=RawJSON,
                         parse_constant=_not_json)
    except RecursionError:
        raise ClassifyInputError(f"line {no}: nested too deeply to read; {ONE_LINE}") from None
    except _NotJSON as exc:
        raise ClassifyInputError(f"line {no}: {exc}; {ONE_LINE}") from None
    except json.JSONDecodeError as exc:
        raise ClassifyInputError(f"line {no}: not valid JSON ({json_problem(exc)}); {ONE_LINE}"
                                 ) from exc
    if not isinstance(rec, dict):
        raise ClassifyInputError(f"line {no}: expected a JSON object; {ONE_LINE}")
    if line.count('"id"') > 1 or line.count('"text"') > 1 or "\\u" in line:
        # JSON keeps the last of two equal keys: {"id": 1, "id": 2} was answered as 2.
        # Looked at only then (a hook on every object would cost a fifth of the speed);
        # a key may also be spelt with escapes ("\\u0074ext").
        def refuse_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [k for k, _ in pairs]
            if (twice := next((k for k in ("id", "text") if keys.count(k) > 1), None)):
                raise _NotJSON(f"the key {twice!r} is given twice")
            return dict(pairs)

        try:
            json.loads(line, object_pairs_hook=refuse_twice, parse_float=RawJSON,
                       parse_int=RawJSON, parse_constant=_not_json)
        except _NotJSON as exc:
            raise ClassifyInputError(f"line {no}: {exc}; {ONE_LINE}") from None
    if "id" not in rec:
        # Output lines are matched to input by id: without one, results cannot be joined.
        raise ClassifyInputError(f"line {no}: no \"id\" (any JSON value naming the sentence)")
    try:  # written back as it came, once, here: the answer only repeats it
        rec["id"] = RawJSON(id_json(rec["id"]))
    except RecursionError:
        raise ClassifyInputError(f"line {no}: the \"id\" is nested too deeply to write "
                                 "back") from None
    if not isinstance(rec.get("text"), str):
        raise ClassifyInputError(f"line {no}: expected a \"text\" string")
    if not rec["text"].strip():
        # A model scores even nothing (it came out "positive"): say so instead.
        raise ClassifyInputError(f"line {no}: \"text\" is empty")
    for key in CLASSIFY_FIELDS[2:]:
        # A number for a letter's file name, a list for a heading: said here, by line,
        # rather than as a type error from deep inside after the run has stopped.
        if (value := rec.get(key)) is not None and not isinstance(value, str):
            try:
                shown = id_json(value)[:40]
            except RecursionError:
                shown = "a value nested too deeply to show"
            raise ClassifyInputError(f"line {no}: \"{key}\" must be a string, not {shown}")
    section = rec.get("section")
    if section == "":  # as conversions from CSV write a blank cell
        rec["section"] = section = None
    if section is not None and section not in CANONICAL_SECTIONS:
        near = difflib.get_close_matches(section.lower(), CANONICAL_SECTIONS, n=1)
        raise ClassifyInputError(f"line {no}: unknown section {section!r}"
                                 + (f" (did you mean {near[0]!r}?)" if near else "")
                                 + f"; sections: {', '.join(CANONICAL_SECTIONS)}")
    return rec


# What a line of classify's input looks like, for the messages about one that is not.
ONE_LINE = 'each line must be one JSON object such as {"id": 1, "text": "..."}'


class RawJSON:
    """JSON text kept as written: a number, so that an id comes back exactly (see id_json),
    and a line's whole id once written. Not a str: a number where a field needs text is
    still refused."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _NotJSON(ValueError):
    pass


def _label_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A label's object; a key it reads given twice is refused (json keeps the last, so
    '"themes": [...], "themes": []' would be a label of no theme without a word)."""
    keys = [k for k, _ in pairs]
    if twice := next((k for k in (*LABEL_KEYS, *LABEL_EXTRA_KEYS) if keys.count(k) > 1), None):
        raise _NotJSON(f"the key {twice!r} is given twice")
    return dict(pairs)


def _not_json(word: str) -> Any:
    raise _NotJSON(f"{word} is not JSON (Python writes it; JSON has no such number)")


def id_json(value: Any) -> str:
    """An input line's id as JSON, exactly as it was written: numbers (RawJSON) as
    their text, anything else as json.dumps writes it."""
    if isinstance(value, RawJSON):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {id_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(id_json, value)) + "]"
    return json.dumps(value)


# The fields classify reads; others (a gold file's "themes", the user's own) pass unread.
CLASSIFY_FIELDS = ("id", "text", "letter", "passage_id", "section", "heading", "context",
                   "prev_text", "next_text")


def _misspelt_fields(rec: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, the field it looks like) for keys one typo away from a field classify reads:
    "sectoin" would otherwise be ignored and the sentence read without its section."""
    out = []
    for key in rec:
        if isinstance(key, str) and key not in CLASSIFY_FIELDS:
            meant = _field_like(key)
            if meant and meant not in rec:
                out.append((key, meant))
    return out


@functools.lru_cache(maxsize=256)
def _field_like(key: str) -> str | None:
    # Cached: a file's extra fields (a gold file's "themes") recur on every line.
    close = difflib.get_close_matches(key.lower(), CLASSIFY_FIELDS, n=1, cutoff=0.75)
    return close[0] if close else None


def _has_context(rec: dict[str, Any]) -> bool:
    """Whether a classify line gives its own context (then it is not looked up)."""
    return bool(rec.get("section") or rec.get("heading") or rec.get("context")
                or rec.get("prev_text") or rec.get("next_text"))


def _item(rec: dict[str, Any],
          lookup: PassageMatcher | None) -> tuple[Item, str | None, str | None]:
    """The record (a line `_parse_line` checked: its fields are strings) as an Item, its
    corpus passage id when it was looked up in `lookup` and found verbatim (whose stored
    result it may share), and the passage it was read in."""
    if lookup is not None:
        # A corpus sentence is read in its letter, as `tag` read it; any other
        # sentence from its words alone.
        found, pid = lookup.item_for(rec["text"], rec.get("letter"), rec.get("passage_id"),
                                     strict=True)
        # Only a verbatim passage can share that passage's result.
        return found, pid if pid and lookup.text_of.get(pid) == rec["text"] else None, pid
    item = Item(
        text=rec["text"],
        section=rec.get("section"),
        heading=rec.get("heading"),
        prev_text=rec.get("prev_text") or rec.get("context") or "",
        next_text=rec.get("next_text") or "",
        letter=rec.get("letter"),
    )
    return item, None, None


def stored_results(corpus: Corpus, version: str) -> dict[str, str]:
    """classify's output (without the id) for every passage tagged by model `version`."""
    with corpus.reading() as con:
        rows = con.execute(
            "SELECT passage_id, themes, stance, scores FROM tags WHERE model_version = ?",
            (version,),
        ).fetchall()
    return {
        r["passage_id"]: _result_body(r["themes"], json.dumps(r["stance"]), r["scores"])
        for r in rows
    }


def _result_body(themes: str, stance: str, scores: str) -> str:
    """A classify output line without its id, from the three fields already as JSON."""
    return f'"themes": {themes}, "stance": {stance}, "scores": {scores}'


# Given among the input lines: the input has paused, answer what came before it (and
# yielded back after those answers, so that the caller flushes its output).
PAUSE: Any = None


def classify_lines(
    lines: Iterable[str | None],
    model: TaggerModel,
    *,
    matcher: PassageMatcher | None = None,
    known: dict[str, str] | None = None,
    batch: int = 5000,
    warn: Callable[[str], None] | None = None,
) -> Iterator[str | None]:
    """JSONL in, JSONL out, in order: {"id", "themes", "stance", "scores"} per input line.
    A PAUSE among the lines gets the answers to the lines before it at once, then a PAUSE.

    Optional input fields "section", "heading", "context" (or "prev_text"/"next_text")
    give the context. Without them, and with a matcher, the sentence is looked up in
    the corpus (in its "letter" if named, else everywhere) and a corpus sentence gets
    its passage's context, so it is tagged as `tag` tagged it (`known`, from
    `stored_results`, saves recomputing passages already tagged by this model); a
    sentence found nowhere is classified from its words alone. Blank lines are
    skipped. A line that is not a JSON object with a text raises ClassifyInputError
    naming the line, after the lines before it have been written. `warn` is told, once
    per letter, of a "letter" the corpus does not hold (then searched everywhere), and
    once per field of a field name one typo away from one it reads ("sectoin").
    """
    unknown_letters: set[str] = set()
    misspelt: set[str] = set()
    # Lines whose text is in more than one passage: (line, the passage read, the others,
    # whether all of them are in the letter the line named).
    ambiguous: list[tuple[int, str, list[str], bool]] = []
    mismatched: list[tuple[int, Any]] = []  # lines whose passage_id was not used
    missing: list[tuple[int, str]] = []  # lines whose letter does not hold their text
    pending: list[tuple[Any, Item, str | None]] = []
    done: dict[str, str] = dict(known or {})
    # The scores object is the same for every line but its numbers: format it from a
    # template rather than through json.dumps (a third of the time otherwise).
    template = "{" + ", ".join(f"{json.dumps(k)}: %r" for k in model.score_keys) + "}"
    stances = [json.dumps(s) for s in STANCES]

    as_json: dict[tuple[str, ...], str] = {}  # a theme list as JSON, made once per list

    def body(themes: tuple[str, ...], k: int, row: list[float]) -> str:
        if (listed := as_json.get(themes)) is None:
            listed = as_json[themes] = json.dumps(list(themes))
        return _result_body(listed, stances[k], template % tuple(row))

    def flush() -> Iterator[str]:
        # Each corpus passage is computed once; everything else line by line.
        todo: list[Item] = []
        scheduled: dict[str, int] = {}  # passage id -> its row in todo
        slots: list[int | None] = []  # row in todo, or None: already in `done`
        for _, it, pid in pending:
            if pid in done:
                slots.append(None)
            elif pid is not None and pid in scheduled:
                slots.append(scheduled[pid])
            else:
                if pid is not None:
                    scheduled[pid] = len(todo)
                slots.append(len(todo))
                todo.append(it)
        tagged, stance_idx, values = model.predict_lists(todo)
        bodies = [body(f, k, r) for f, k, r in zip(tagged, stance_idx, values, strict=True)]
        done.update((pid, bodies[row]) for pid, row in scheduled.items())
        for (rid, _, pid), row in zip(pending, slots, strict=True):
            text = done[pid] if row is None else bodies[row]
            yield f'{{"id": {rid}, {text}}}'
        pending.clear()

    def closing_warnings() -> None:
        """Warnings about the lines answered (at the end, or before an error)."""
        if warn is None:
            return
        if mismatched:
            shown = _examples([f"line {no}: {named!r}" for no, named in mismatched[:4]])
            warn(f"{_lines(mismatched)}: passage_id not a passage of this corpus with that text "
                 f"(an id from another import?), so the sentence was looked up by its text "
                 f"({shown})")
        if missing:
            shown = _examples([f"line {no}: {letter!r}" for no, letter in missing[:4]])
            warn(f"{_lines(missing)}: the text is not in the letter named, so it was read from "
                 f"its words alone ({shown})")
        if ambiguous:
            shown = _examples([f"line {no}: {pid}, also {', '.join(others[:2])}"
                               f"{' ...' if len(others) > 2 else ''}"
                               for no, pid, others, _ in ambiguous[:4]])
            # Copies within the letter a line named: only a passage id tells them apart.
            or_letter = "" if all(a[3] for a in ambiguous) else ' or "letter"'
            warn(f"{_lines(ambiguous)}: the text is in more than one corpus passage and was read "
                 "in the first, whose context, and so tags, may differ from the others' "
                 f"({shown}); give \"passage_id\" (as "
                 f"`sendlens export passages` has it){or_letter} to choose")

    no = 0
    for line in lines:
        if line is PAUSE:
            # The input paused (a program waiting for its answers, someone typing):
            # answer what has come so far, and say the output is to be flushed (the
            # answers of a full batch too, written before the pause).
            if pending:
                yield from flush()
            yield PAUSE
            continue
        no += 1
        if no == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark, as Windows editors write
        if not line.strip():
            continue
        try:
            rec = _parse_line(no, line)
        except ClassifyInputError:
            yield from flush()
            closing_warnings()  # about the lines before it, which were answered
            raise
        if warn is not None:
            for key, meant in _misspelt_fields(rec):
                if key not in misspelt:
                    misspelt.add(key)
                    warn(f"line {no}: field {key!r} is not read (did you mean {meant!r}?); "
                         f"classify reads {', '.join(CLASSIFY_FIELDS)}")
        letter = rec.get("letter")
        if (warn is not None and matcher is not None and letter is not None
                and letter not in unknown_letters and not matcher.knows(letter)):
            unknown_letters.add(letter)
            warn(f"line {no}: letter {letter!r} is not in the corpus; its sentences are "
                 "looked up in every letter")
        # Looked up in the corpus unless the line gives its own context.
        lookup = matcher if matcher is not None and not _has_context(rec) else None
        item, pid, read_in = _item(rec, lookup)
        if warn is not None and lookup is not None:
            named = rec.get("passage_id")
            if named is not None and named != read_in:
                mismatched.append((no, named))
            if read_in is None and letter is not None and lookup.knows(letter):
                missing.append((no, letter))
            if (read_in is not None and named != read_in
                    and (others := lookup.others(read_in, letter))):
                ambiguous.append((no, read_in, others,
                                  letter is not None and lookup.knows(letter)))
        pending.append((rec["id"].text, item, pid))
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()
    closing_warnings()


def _examples(parts: Sequence[str]) -> str:
    """The first three of a warning's cases, "; ..." after them when there are more (the
    caller passes four at most: a fourth says there are more)."""
    return "; ".join(parts[:3]) + ("; ..." if len(parts) > 3 else "")


def _lines(found: Sequence[tuple[Any, ...]]) -> str:
    """"line 4", "lines 4, 9 and 12", "lines 4, 9, 12 and 33 more": where a warning is."""
    numbers = [str(f[0]) for f in found]
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    if len(numbers) <= 4:
        return f"lines {', '.join(numbers[:-1])} and {numbers[-1]}"
    return f"lines {', '.join(numbers[:3])} and {len(numbers) - 3} more"
