"""`sendlens themes | train | tag | classify | evaluate`: the theme and stance tagger."""

from __future__ import annotations

import codecs
import io
import json
import os
import queue
import select
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import typer

from sendlens.commands import CorpusOption, corpus_path, open_corpus
from sendlens.export import counted
from sendlens.textfile import unreadable

if TYPE_CHECKING:
    from textmine.codebook import Codebook


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


@contextmanager
def _stages(what: str, quiet: bool, *, on_interrupt: str | None = None
            ) -> Iterator[Callable[[float, str], None] | None]:
    """A progress bar over the stages of training and tagging (on stderr), and a clear
    word on Ctrl-C: each stage writes in one transaction, so nothing is half done."""
    bar = None

    def say(fraction: float, message: str) -> None:
        nonlocal bar
        if bar is None and not quiet:
            # Drawn at the first stage, not before: a mistyped labels file is told alone.
            from tqdm import tqdm

            bar = tqdm(total=100, desc=what, leave=False,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")
        if bar is not None:
            bar.set_description_str(f"{what}: {message}", refresh=False)
            bar.update(max(0, round(fraction * 100) - bar.n))
            # Drawn now: tqdm skips a redraw within 0.1 s of the last, and the next
            # call may be many seconds away (the whole fit sat at "5%").
            bar.refresh()
        elif message.startswith("waiting"):
            # Quiet means no bar, not a run that blocks without a word.
            typer.echo(f"{what}: {message}", err=True)

    try:
        yield say
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        # `sendlens train` alone would train without the --labels given.
        again = ("the same command (with the same options)" if what == "train"
                 else f"`sendlens {what}`")
        raise _fail(on_interrupt or (
            "interrupted: nothing is half-written (a model and a round of tags are each "
            f"saved in one transaction); run {again} again to finish"), 130) from None
    finally:
        if bar is not None:
            bar.close()


def themes_cmd(
    corpus: Path | None = CorpusOption,
    as_json: bool = typer.Option(False, "--json", help="Print the themes as JSON."),
    patterns: bool = typer.Option(
        False, "--patterns", help="Also list each theme's labelling patterns (regular "
        "expressions): core, patterns, related (weaker) and exclude."),
) -> None:
    """List the codebook's themes (the file in force: $SENDLENS_CODEBOOK,
    the corpus folder's codebook.yaml, or the packaged one)."""
    import sqlite3

    from sendlens.store import DB_NAME, Corpus, CorpusError, check_folder
    from textmine.codebook import PACKAGED_CODEBOOK, CodebookError, load_codebook

    # No corpus is needed (the themes before a first import), but what cannot be one, or
    # another program's (or a newer sendlens's) database, is refused as by every command.
    root = corpus_path(corpus)
    try:
        check_folder(root)  # as Corpus.open does, which would make or upgrade the corpus
        if (root / DB_NAME).is_file() and (root / DB_NAME).stat().st_size:
            Corpus(root).check_kind()  # reads only: nothing in the folder is changed
    except CorpusError as exc:
        raise _fail(str(exc)) from exc
    except sqlite3.DatabaseError:
        pass  # damaged: the commands that read it say so; the codebook is a file apart
    try:
        cb = load_codebook(corpus=root)
    except CodebookError as exc:
        raise _fail(str(exc)) from exc
    lists = ("core_patterns", "patterns", "related", "exclude")
    if as_json:
        typer.echo(json.dumps(
            [{"id": t.id, "name": t.name, "definition": t.definition,
              "patterns": list(t.patterns) if patterns else len(t.patterns),
              **({k: list(getattr(t, k)) for k in lists if k != "patterns"} if patterns
                 else {})}
             for t in cb.themes], indent=2, ensure_ascii=False))
        return
    typer.echo(f"codebook: {cb.path} (sha256 {cb.sha256[:12]})")
    _warn_if_shadowed(corpus_path(corpus))
    if cb.path == PACKAGED_CODEBOOK:
        # Edited in place, it would be overwritten by the next sendlens installed.
        typer.echo(f"  shipped with sendlens: to change it, copy it to "
                   f"{corpus_path(corpus) / 'codebook.yaml'} and edit the copy")
    else:
        # A copy keeps its themes as they were copied: fixes made to sendlens's own since
        # reach it only by hand. Which is which only the researcher knows.
        differ, missing = _differs_from_shipped(cb)
        if differ:
            # "its ehc_plans differs", but "its stance rules differ" (and the sections).
            plural = ("stance rules", "fixed wording sections")
            verb = "differs" if len(differ) == 1 and differ[0] not in plural else "differ"
            typer.echo(f"  its {', '.join(differ)} {verb}"
                       f" from the codebook shipped with this sendlens ({PACKAGED_CODEBOOK}) "
                       "in what the tagger reads: your edits, or changes to sendlens's own "
                       "since you copied it (compare with --patterns and the shipped file)")
        if missing:
            one = len(missing) == 1
            typer.echo(f"  the shipped codebook has {'theme' if one else 'themes'} "
                       f"{', '.join(missing)}, which this one does not: removed or renamed "
                       f"here, or added to sendlens since you copied it")
    for t in cb.themes:
        typer.echo(f"\n{t.id}  {t.name}  [{len(t.patterns)} patterns, {len(t.related)} related]")
        typer.echo(f"  {t.definition}")
        if patterns:
            for key in lists:
                for pattern in getattr(t, key):
                    typer.echo(f"    {key.replace('_patterns', '')}: {pattern}")


def _warn_if_shadowed(corpus: Path) -> None:
    """Say when $SENDLENS_CODEBOOK rules over the corpus's own codebook file."""
    from textmine.codebook import shadowed_note

    if note := shadowed_note(corpus):
        typer.secho(f"warning: {note}", fg="yellow", err=True)


def _differs_from_shipped(cb: Codebook) -> tuple[list[str], list[str]]:
    """What of codebook `cb` the tagger reads otherwise than from the packaged codebook:
    the themes both have, with other patterns or rules, and the file-wide rules (ignore,
    stance cues, fixed wording) that differ; then the packaged themes `cb` lacks."""
    from textmine.codebook import PACKAGED_CODEBOOK, load_codebook

    packaged = load_codebook(PACKAGED_CODEBOOK)
    shipped = {t.id: t for t in packaged.themes}
    rules = ("patterns", "related", "exclude", "core_patterns", "yields_to_others")
    differ = [t.id for t in cb.themes if t.id in shipped
              and any(getattr(t, k) != getattr(shipped[t.id], k) for k in rules)]
    differ += [f"{k.replace('_', ' ')} rules" if k == "stance" else k.replace("_", " ")
               for k in ("ignore", "stance", "fixed_wording_sections")
               if getattr(cb, k) != getattr(packaged, k)]
    return differ, [i for i in shipped if i not in cb.theme_ids]


def train_cmd(
    labels: list[Path] = typer.Option(
        [], "--labels", help="JSONL hand labels (dev.jsonl format); repeatable.",
        metavar="FILE",
    ),
    no_stored: bool = typer.Option(
        False, "--no-stored-labels", help="Ignore corrections saved in the app."
    ),
    tune: int | None = typer.Option(
        None, "--tune-thresholds", min=2, metavar="K",
        help="Tune each theme's threshold on the hand labels by K-fold cross-validation "
        "grouped by letter (K + 1 times as long) and set it halfway between that and the one "
        "matching the weak labels' prevalence; the same held-out predictions fit a log-prior "
        "offset per stance (when enough of the labels give a stance).",
    ),
    corpus: Path | None = CorpusOption,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train the theme and stance models from the corpus (+ hand labels) and make them current.

    By default each theme's threshold makes its share of tagged corpus sentences match its
    share under the weak labels (before a sentence's second theme is held to its threshold
    plus 0.05): with dev.jsonl's 332 labels that scored higher in grouped cross-validation
    than thresholds tuned on the labels (--tune-thresholds; 0.841 against 0.832), which
    may pay with more labels. Measure both with `sendlens evaluate --cv`."""
    from textmine.codebook import CodebookError
    from textmine.tag import (
        TaggingError,
        current_meta,
        previous_label_files,
        removed_note,
        thin_themes,
        train,
    )

    for path in labels:
        if path.exists() and not path.is_file() and not path.is_dir():
            # <(...) or /dev/stdin: read once, but the model records its label files to
            # read them again when it is retrained, and a pipe is empty by then.
            raise _fail(f"labels file {path}: not a file on disk (a pipe?); save the labels "
                        "to a file and give that: a model records its label files, to train "
                        "again with them later")
    store = open_corpus(corpus)
    _warn_if_shadowed(store.root)
    unique = list({path.resolve(): path for path in labels}.values())
    if len(unique) < len(labels):
        # Read twice, each label would weigh twice as much as a label of any other file.
        typer.secho("warning: a labels file given more than once is read once",
                    fg="yellow", err=True)
        labels = unique
    try:
        found = current_meta(store)  # the model replaced, for what it learnt from
        with _stages("train", quiet) as progress:
            result = train(store, labels, use_stored_labels=not no_stored, progress=progress,
                           tune_folds=tune or 0)
    except (TaggingError, CodebookError) as exc:
        raise _fail(str(exc)) from exc
    if note := removed_note(result):
        typer.secho(f"note: {note}", fg="yellow", err=True)
    # The model replaced learnt from label files this one was not given: said, as they
    # are the researcher's work and a later `tag` retrains with this model's files only.
    given = {Path(p).resolve() for p in labels}
    if left := [str(p) for p in (previous_label_files(found[1])[0] if found else [])
                if p.resolve() not in given]:
        typer.secho(f"note: the model this replaces also learnt from {', '.join(left)}; "
                    f"this one was trained without {'it' if len(left) == 1 else 'them'} "
                    f"(give --labels {' --labels '.join(left)} to keep "
                    f"{'it' if len(left) == 1 else 'them'})", fg="yellow", err=True)
    if result.unknown_letters:
        shown = ", ".join(result.unknown_letters[:3]) + (
            f" and {len(result.unknown_letters) - 3} more" if len(result.unknown_letters) > 3
            else "")
        typer.secho(f"warning: the labels name {counted(len(result.unknown_letters), 'letter')}"
                    f" the corpus does not hold ({shown}); their sentences were looked up in every "
                    "letter, and read alone where not found", fg="yellow", err=True)
    if n := result.unmatched_passage_ids:
        typer.secho(f"warning: {counted(n, 'label')} {'names' if n == 1 else 'name'} a "
                    "passage_id that is no passage of this corpus with "
                    f"{'its' if n == 1 else 'their'} text (another corpus's ids, or a typo): "
                    f"looked up by {'its' if n == 1 else 'their'} text instead",
                    fg="yellow", err=True)
    if result.duplicate_labels:
        n = result.duplicate_labels
        typer.secho(f"warning: {counted(n, 'hand label')} given again word for word (in "
                    f"another file, or twice in one) {'was' if n == 1 else 'were'} read once",
                    fg="yellow", err=True)
    if conflicts := result.conflicting_labels:
        shown = "\n  ".join(conflicts[:5]) + (
            f"\n  and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        typer.secho(f"warning: {counted(len(conflicts), 'sentence')} "
                    f"{'is' if len(conflicts) == 1 else 'are'} labelled in two ways by the "
                    f"labels files (every label is kept):\n  {shown}", fg="yellow", err=True)
    tr = result.meta["training"]
    typer.echo(
        f"model {result.version}: {tr['corpus_sentences']:,} sentences from "
        f"{counted(tr['corpus_letters'], 'letter')}, "
        f"{counted(tr['hand_labels']['n'], 'hand label')}, "
        f"{result.seconds:.1f} s; thresholds tuned on {tr['threshold_tuning']}",
        err=True,
    )
    for warning in thin_themes(result.meta):
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    typer.echo("the passages keep their old tags until `sendlens tag` re-tags them", err=True)
    typer.echo(result.version)


def tag_cmd(
    corpus: Path | None = CorpusOption,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Tag every passage (training a model first when there is none or it is stale)."""
    from textmine.codebook import CodebookError
    from textmine.tag import TaggingError, tag_corpus

    store = open_corpus(corpus)
    _warn_if_shadowed(store.root)
    try:
        with _stages("tag", quiet) as progress:
            report = tag_corpus(store, progress=progress)
    except (TaggingError, CodebookError) as exc:
        raise _fail(str(exc)) from exc
    if report.trained:
        typer.echo(f"trained a new model first: {'; '.join(report.trained)}", err=True)
    typer.echo(
        f"tagged {counted(report.passages, 'passage')} with model {report.version} "
        f"in {report.seconds:.1f} s",
        err=True,
    )


def _stale_warning(reasons: list[str]) -> None:
    """A read-only corpus's stale model is used as it is (it cannot be retrained here)."""
    typer.secho(f"warning: the corpus's model is out of date ({'; '.join(reasons)}) and "
                "cannot be trained again here, as the corpus is read-only: using it as it "
                "is; `sendlens tag` in a copy you can write trains a current one",
                fg="yellow", err=True)


def classify_cmd(
    source: Path | None = typer.Argument(
        None, metavar="IN.jsonl",
        help="Read the sentences from this file instead of stdin ('-' for stdin)."),
    corpus: Path | None = CorpusOption,
) -> None:
    """Classify sentences: JSONL {"id", "text"} on stdin (or in IN.jsonl), JSONL
    {"id", "themes", "stance", "scores"} on stdout, one line per input line, in order
    (blank lines are skipped).

    A sentence of a corpus letter is read in its letter (section, heading,
    neighbouring sentences), as `sendlens tag` read it; "letter" (a letter id or PDF
    file name) narrows the search to that letter, and "passage_id" names the passage (a
    sentence the corpus holds twice is otherwise read where it first appears, with a
    warning). Other sentences are classified from
    their words alone, unless "section", "heading" or "context" (the sentence before
    it; or "prev_text" and "next_text", the sentences either side) give their context.
    """
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        raise _fail("no standard output to write the answers to (it is closed)")
    if source is None or str(source) == "-":
        if sys.stdin is None or sys.stdin.closed:  # started with stdin closed (`<&-`)
            raise _fail("no standard input to read (it is closed): pipe JSONL in, or give "
                        "IN.jsonl")
        try:
            os.read(sys.stdin.fileno(), 0)  # opened for writing only (`0>file`)?
        except io.UnsupportedOperation:
            pass  # no descriptor (a test's stream): read it as it is
        except OSError as exc:
            raise _fail(f"stdin cannot be read ({exc.strerror or exc})") from None
        fd = _pipe_fd(sys.stdin)
        # UTF-8 whatever the locale; bytes that are not UTF-8 become lone surrogates,
        # which classify_lines reports by line instead of a decoding traceback.
        raw = getattr(sys.stdin, "buffer", None)
        stream = (_paced(fd, "stdin") if fd is not None else sys.stdin if raw is None else
                  io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape"))
        _classify(stream, "stdin", corpus, keyboard=sys.stdin.isatty())
        return
    # Opened first: a mistyped file name is told at once, not after training a model.
    try:
        opened = open(source, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    except OSError as exc:
        raise _fail(unreadable("input", source, exc)) from None
    with opened:
        fd = _pipe_fd(opened)  # <(...) or a named pipe pauses as stdin does
        _classify(opened if fd is None else _paced(fd, str(source)), str(source), corpus,
                  keyboard=False)


def _pipe_fd(stream: IO[str]) -> int | None:
    """The file descriptor of `stream` when it is not a file on disk (a pipe, a terminal),
    whose input can pause; None for a file on disk, or a stream with no descriptor."""
    try:
        fd = stream.fileno()
        return None if stat.S_ISREG(os.fstat(fd).st_mode) else fd
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


# Input that stops arriving for this long is answered at once (a program that writes a
# line and waits for its answer, someone typing); a steady stream is read in batches.
PAUSE_SECONDS = 0.05
# Chunks of input (64 KiB each) read ahead of the classifier, at most: memory stays the
# same whatever the size of the input.
READ_AHEAD = 16
# A steady stream is answered at least this often.
FLUSH_SECONDS = 1.0


def _paced(fd: int, name: str) -> Iterator[str | None]:
    """The lines read from `fd` (UTF-8; bytes that are not become lone surrogates, which
    classify_lines reports by line; lines end at \\n, \\r\\n or \\r, as a file read in text
    mode), with a PAUSE (None) whenever none has come for PAUSE_SECONDS, and at least
    every FLUSH_SECONDS of a steady stream. Read by a thread, so that waiting for input and
    answering overlap, with os.read: a thread blocked inside sys.stdin's own read when the
    run ended made Python abort ("_enter_buffered_busy")."""
    from textmine.tag import PAUSE

    chunks: queue.Queue = queue.Queue(maxsize=READ_AHEAD)

    def read() -> None:
        decode = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode
        partial: list[str] = []  # the line being read: each piece scanned once
        after_cr = False

        def lines_of(text: str) -> list[str]:
            nonlocal after_cr
            if after_cr and text.startswith("\n"):  # the \n of a \r\n cut between reads
                text, after_cr = text[1:], False
            if text:
                after_cr = text.endswith("\r")
            *ended, rest = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            out = []
            for piece in ended:
                out.append("".join(partial) + piece + "\n")
                partial.clear()
            partial.append(rest)
            return out

        try:
            while True:
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:  # a descriptor left non-blocking: wait for input
                    select.select([fd], [], [])
                    continue
                if not data:
                    break
                if found := lines_of(decode(data)):
                    chunks.put(found)
            found = lines_of(decode(b"", final=True))
            last = "".join(partial)
            chunks.put(found + [last] if last else found)
        except BaseException as exc:  # noqa: BLE001 - raised again by the reader of the queue
            chunks.put(exc)
            return
        chunks.put(None)

    threading.Thread(target=read, daemon=True, name="classify-input").start()
    flushed = time.monotonic()
    while True:
        try:
            item = chunks.get(timeout=PAUSE_SECONDS)
        except queue.Empty:
            yield PAUSE
            flushed = time.monotonic()
            item = chunks.get()
        if item is None:
            return
        if isinstance(item, OSError):  # stdin opened for writing only, a read error
            raise _fail(f"{name} cannot be read ({item.strerror or item})")
        if isinstance(item, BaseException):
            raise item
        yield from item
        if time.monotonic() - flushed > FLUSH_SECONDS:
            # A steady stream (a line every 30 ms) never pauses: answer it now and then.
            yield PAUSE
            flushed = time.monotonic()


def _classify(stream: Iterable[str | None], name: str, corpus: Path | None, *,
              keyboard: bool) -> None:
    from textmine.codebook import CodebookError
    from textmine.tag import (
        PAUSE,
        ClassifyInputError,
        PassageMatcher,
        TaggingError,
        classify_lines,
        corpus_rows,
        ensure_model,
        stored_results,
    )

    store = open_corpus(corpus)
    _warn_if_shadowed(store.root)  # it may train first, on that codebook
    told: list[str] = []

    def training(fraction: float, what: str) -> None:
        # Said before the wait (about 10 s on the 55 reports), not only after it. The
        # first word may be a wait for another run, which may bring the model itself.
        if what not in told and (not told or what.startswith("waiting")
                                 or told[-1].startswith("waiting")):
            told.append(what)
            typer.echo(f"{what} ..." if what.startswith("waiting") else
                       "no model of this corpus is up to date with its codebook and "
                       f"sendlens (none yet, or a stale one), so one is trained first ({what})"
                       " ...", err=True)

    try:
        version, model, reasons = ensure_model(store, progress=training,
                                               on_stale=_stale_warning)
    except (TaggingError, CodebookError) as exc:
        raise _fail(str(exc)) from exc
    if reasons:
        typer.echo(f"trained a new model first: {'; '.join(reasons)}", err=True)
    if keyboard:
        # Run with nothing piped in, it would wait silently for typing.
        typer.echo('reading JSONL from the keyboard, one {"id": ..., "text": "..."} a line; '
                   "Ctrl-D ends (usually: sendlens classify < in.jsonl > out.jsonl)", err=True)
    # Corpus sentences get their passage's context (and its stored tags when this
    # model tagged it); other sentences are classified from their words.
    rows = corpus_rows(store)
    matcher = PassageMatcher(rows) if rows else None
    known = stored_results(store, version)
    out = sys.stdout
    try:
        def warn(message: str) -> None:
            typer.secho(f"warning: {name} {message}", fg="yellow", err=True)

        for line in classify_lines(stream, model, matcher=matcher, known=known, warn=warn):
            if line is PAUSE:  # the input paused: the answers so far go out now
                out.flush()
            else:
                out.write(line + "\n")
        out.flush()
    except ClassifyInputError as exc:
        out.flush()
        raise _fail(f"{name} {exc}") from exc
    except BrokenPipeError:
        # The reader went away (`| head -1`): it had what it wanted. Exit 0, as export
        # does, and point stdout at nothing so that Python's own flush at exit is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        raise typer.Exit(0) from None


def evaluate_cmd(
    gold: Path = typer.Argument(..., help="JSONL hand labels to score against.",
                                metavar="GOLD.jsonl"),
    cv: bool = typer.Option(
        False, "--cv", help="Cross-validate grouped by letter, training on the other folds' labels."
    ),
    folds: int | None = typer.Option(
        None, "--folds", min=2, metavar="K",
        help="Number of folds for --cv or --model-card (default 5)."
    ),
    tune: int | None = typer.Option(
        None, "--tune-thresholds", min=2, metavar="K",
        help="With --cv: each fold's model tunes its thresholds by an inner K-fold "
        "cross-validation, as `train --tune-thresholds K` does.",
    ),
    no_labels: bool = typer.Option(
        False, "--no-labels", help="Train a fresh model with no hand labels and score it."
    ),
    card: bool = typer.Option(
        False, "--model-card", help="Measure both settings and write the model card."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o",
        help="Model card path (--model-card; default docs/MODEL_CARD.md).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    corpus: Path | None = CorpusOption,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Per-theme precision/recall/F1, macro/micro F1, stance confusion and macro-F1.

    --cv trains one model per fold and --no-labels one more (--model-card both): about
    10 s each on the 55 reports on an idle 2-core machine (more when other work shares
    it), so about a minute for --cv and a little more for --model-card."""
    from sendlens.export import OutputError, check_destination
    from textmine.codebook import CodebookError, load_codebook
    from textmine.evaluate import (
        cross_validate_gold,
        cv_recording,
        evaluate_gold,
        gold_labels,
        no_label_evaluation,
        record_quality,
        write_model_card,
    )
    from textmine.tag import (
        TaggingError,
        ensure_model,
        file_sha256,
        letter_ids,
        read_labels,
        removed_themes,
        trained_on,
    )

    if output is not None and not card:
        raise _fail("--output is the model card's path: it needs --model-card (use --json "
                    "and a redirect to save the figures)")
    if folds is not None and not (cv or card):
        # Without them the figures are the current model's on these labels, not CV.
        raise _fail("--folds is for cross-validation: it needs --cv (or --model-card)")
    if no_labels and (cv or card):
        raise _fail("--no-labels scores a model trained without hand labels; --cv "
                    "cross-validates one trained with them, and --model-card measures both: "
                    "give one of them")
    if tune is not None and (card or not cv):
        raise _fail("--tune-thresholds measures tuned thresholds by cross-validation: it "
                    "needs --cv (the model card measures the default thresholds)")
    folds = folds or 5
    if gold.exists() and not gold.is_file() and not gold.is_dir():
        # <(...) or /dev/stdin: evaluate reads the file more than once, and a pipe is
        # empty the second time ("no labelled sentences", of a file that had them).
        raise _fail(f"labels file {gold}: not a file on disk (a pipe?); save the labels to "
                    "a file and give that: evaluate reads it more than once")
    if output is not None:
        # Before the minute of training: a mistyped folder is said at once (the default,
        # docs/, is made when missing).
        try:
            # Not inside the corpus: "-o corpus/sendlens.db" would replace the database.
            check_destination(output, "MODEL_CARD.md", corpus_path(corpus))
        except OutputError as exc:
            raise _fail(str(exc)) from None
    output = output or Path("docs/MODEL_CARD.md")
    store = open_corpus(corpus)
    _warn_if_shadowed(store.root)  # it may train first, on that codebook
    try:
        # Read before any training: a mistyped or broken file (or a theme one typo from
        # the codebook's) is said at once, not after a stale model was retrained (and made
        # current) for nothing.
        try:
            codebook = load_codebook(corpus=store.root)
        except CodebookError:  # said in the command's own words below; the file still read
            codebook = None
        gold_labels(gold, codebook,
                    removed_themes(store, codebook) if codebook is not None else None)
    except TaggingError as exc:
        raise _fail(str(exc)) from exc

    def record_cv(result: dict) -> None:
        if (found := cv_recording(store, gold, tune or 0)) is not None:
            version, refused = found
            _recorded(refused or record_quality(store, version, "cross-validation", gold,
                                                result), version)

    stopped = ("interrupted: nothing was recorded and no file written; the figures need "
               "the whole run")
    try:
        if card:
            with _stages("evaluate", quiet, on_interrupt=stopped) as progress:
                figures = write_model_card(store, gold, output, folds=folds, progress=progress)
            typer.echo(f"wrote {Path(output).resolve()}", err=True)
            gathered: list[dict] = []
            _print(figures["no_labels"], "no hand labels", as_json, gathered)
            if figures["with_labels"]:
                _print(figures["with_labels"], "hand labels, grouped CV", as_json, gathered)
                record_cv(figures["with_labels"])
            if as_json:  # one JSON document, a list of the settings, not two back to back
                typer.echo(json.dumps(gathered, indent=2))
            return
        if cv:
            with _stages("evaluate", quiet, on_interrupt=stopped) as progress:
                result = cross_validate_gold(store, gold, folds=folds, progress=progress,
                                             tune_folds=tune or 0)
            title = f"hand labels, {result['folds']}-fold CV grouped by letter" + (
                f", thresholds tuned by inner {tune}-fold CV" if tune else "")
            record_cv(result)
        elif no_labels:
            with _stages("evaluate", quiet, on_interrupt=stopped) as progress:
                result = no_label_evaluation(store, gold, progress)
            title = "trained with no hand labels"
        else:
            # A stale model is retrained first (half a minute): shown and said, as `tag`
            # and `classify` do; it ran without a word.
            with _stages("train", quiet, on_interrupt=stopped) as progress:
                version, model, reasons = ensure_model(store, progress=progress,
                                                       on_stale=_stale_warning)
            if reasons:
                typer.echo(f"trained a new model first: {'; '.join(reasons)}", err=True)
            training = model.meta["training"]
            used = [Path(p).resolve() for p in training.get("label_files", [])]
            # A model from before label hashes named its files as typed (maybe relative):
            # match those by name, and never record its figures as held-out.
            legacy = bool(used) and "label_sha256" not in training
            seen = gold.resolve() in used or file_sha256(gold) in training.get(
                "label_sha256", []) or (legacy and gold.name in {p.name for p in used})
            records = read_labels(gold)
            shared = trained_on(model.meta, records, letter_ids(store))
            # Nor one from before sentence fingerprints, if it had hand labels at all.
            legacy |= shared is None and training.get("hand_labels", {}).get("n", 0) > 0
            if seen:
                typer.secho(
                    f"warning: model {version} was trained on {gold}; use --cv for honest "
                    "figures", fg="yellow", err=True,
                )
            elif shared:
                # A copy, subset or edit of the training labels is not held out either.
                typer.secho(
                    f"warning: model {version} was trained on {shared} of the "
                    f"{len(records)} sentences in {gold}, so its figures here are not "
                    "held-out and are not recorded; use --cv, or labels of other sentences",
                    fg="yellow", err=True,
                )
            result = evaluate_gold(store, model, gold)
            title = f"model {version}"
            if not seen and not legacy and not shared:  # labels it never saw: its quality
                _recorded(record_quality(store, version, "held-out labels", gold, result),
                          version)
            elif legacy:
                typer.echo(f"not recorded: model {version} predates the fingerprints of "
                           "its training labels, so they cannot be told apart from these; "
                           "retrain to record", err=True)
    except (TaggingError, CodebookError, OutputError) as exc:
        raise _fail(str(exc)) from exc
    _print(result, title, as_json)


def _recorded(refused: str | None, version: str) -> None:
    if refused:
        typer.echo(f"not recorded: {refused}", err=True)
    else:
        typer.echo(f"recorded with model {version} (shown on the app's Overview)", err=True)


def _print(result: dict, title: str, as_json: bool, gathered: list[dict] | None = None
           ) -> None:
    from textmine.intervals import interval_text

    if not as_json:
        typer.echo(f"== {title}: {counted(result['n'], 'sentence')}")
    if dropped := result.get("dropped_themes"):
        named = ", ".join(f"{t} ({counted(n, 'label')})" for t, n in dropped.items())
        typer.secho(f"note: the labels name {'a theme' if len(dropped) == 1 else 'themes'} the "
                    f"codebook no longer has: {named}; "
                    "left out of the scores, as a retrain leaves them out", fg="yellow",
                    err=True)
    if unlabelled := result.get("unlabelled_predictions"):
        given = ", ".join(f"{t} {n} times" for t, n in unlabelled.items())
        one = len(unlabelled) == 1
        typer.secho(f"note: {', '.join(unlabelled)} (added to the codebook) "
                    f"{'is' if one else 'are'} in none of the labels, but the model gave "
                    f"{'it' if one else 'them'}"
                    f" ({given}): left out of the scores (macro- and micro-F1), as the labels "
                    "were not made with it", fg="yellow", err=True)
    if as_json:
        if gathered is not None:  # printed with the other settings, as one document
            gathered.append({"setting": title, **result})
        else:
            typer.echo(json.dumps({"setting": title, **result}, indent=2))
        return
    if (found := result.get("matched_to_corpus")) is not None and found < result["n"]:
        # Sentences of letters missing from the corpus lose their context: lower scores.
        missing, named = result["n"] - found, result.get("not_found", [])
        typer.secho(f"note: {missing} of the {result['n']:,} sentences "
                    f"{'was' if missing == 1 else 'were'} not found in this corpus's letters "
                    f"and read alone, without {'its' if missing == 1 else 'their'} section "
                    f"and neighbours ({'its' if missing == 1 else 'a'} letter not imported, "
                    "or text sendlens leaves out of a letter's passages, such as a page's "
                    "running head)"
                    + "".join(f"\n  {t}" for t in named[:5]) + ("\n  ..." if len(named) > 5
                                                               else ""),
                    fg="yellow", err=True)
    typer.echo(f"{'theme':22} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}")
    for t, m in result["themes"].items():
        if t in result.get("unlabelled_themes", ()):
            # Zeros here read as a theme the model gets wrong; the file never labels it.
            typer.echo(f"{t:22} {'(not in the labels)':>20} {m['support']:5d}")
            continue
        typer.echo(
            f"{t:22} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['support']:5d}"
        )
    over = result.get("macro_over", {})
    left_out = [t for t in result["themes"] if t not in over.get("themes", result["themes"])]
    spread = result.get("intervals") or {}

    def interval(key: str) -> str:
        return interval_text(spread.get(key))

    typer.echo(f"theme macro-F1 {result['theme_macro_f1']:.3f}{interval('theme_macro_f1')}  "
               f"micro-F1 {result['theme_micro_f1']:.3f}{interval('theme_micro_f1')}"
               + (f"  (macro over {len(result['themes']) - len(left_out)} of the "
                  f"{len(result['themes'])} themes: not {', '.join(left_out)})"
                  if left_out else ""))
    if result.get("stance_n", 1) == 0:
        typer.echo("stance: none of the labels gives one, so there is nothing to score")
        labels = []
    else:
        labels = result["stance_confusion"]["labels"]
        typer.echo("stance confusion (rows gold, columns predicted): " + " ".join(labels))
    for s, row in zip(labels, result["stance_confusion"]["matrix"] if labels else [],
                      strict=True):
        typer.echo(f"  {s:9} " + " ".join(f"{v:5d}" for v in row))
    absent = [s for s in labels if s not in over.get("stances", labels)]
    if labels:
        typer.echo(f"stance macro-F1 {result['stance_macro_f1']:.3f}"
                   f"{interval('stance_macro_f1')}  accuracy {result['stance_accuracy']:.3f}"
                   f"{interval('stance_accuracy')}"
                   + (f"  (macro over {', '.join(over['stances'])}: {', '.join(absent)} "
                      "neither in the labels nor predicted)" if absent else ""))
    if spread:
        typer.echo("(in brackets: 95% intervals from resampling the letters, i.e. how much "
                   "the figure could differ on other letters like these)")
    if bare := result.get("without_context"):
        typer.echo(f"the same sentences read alone (no section, no neighbours): theme "
                   f"macro-F1 {bare['theme_macro_f1']:.3f}"
                   + (f", stance macro-F1 {bare['stance_macro_f1']:.3f}" if labels else ""))


def register(app: typer.Typer) -> None:
    app.command("themes")(themes_cmd)
    app.command("train")(train_cmd)
    app.command("tag")(tag_cmd)
    app.command("classify")(classify_cmd)
    app.command("evaluate")(evaluate_cmd)
