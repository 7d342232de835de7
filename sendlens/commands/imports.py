"""`sendlens import`, `sendlens export`, `sendlens info`."""

from __future__ import annotations

import os
import shlex
import sqlite3
from datetime import date
from enum import StrEnum
from pathlib import Path

import typer

from sendlens.commands import (
    CorpusOption,
    corpus_path,
    iso_date,
    one_of,
    open_corpus,
    remove_if_empty,
)
from sendlens.export import (
    FORMATS,
    OutputError,
    check_destination,
    counted,
    format_from_name,
    letters_frame,
    passages_frame,
    provenance,
    write_table,
)
from sendlens.importer import (
    import_paths,
    missing_why,
    outdated_letters,
    reparse_letters,
    shown_path,
    unlisted_note,
)
from sendlens.store import DB_NAME, Corpus, untagged_counts
from textmine.areas import gave_way


class What(StrEnum):
    letters = "letters"
    passages = "passages"
    themes = "themes"
    evidence = "evidence"


class GroupBy(StrEnum):
    area = "area"
    region = "region"
    framework = "framework"
    year = "year"
    outcome = "outcome"


def import_cmd(
    paths: list[Path] | None = typer.Argument(
        None, help="PDF files and/or folders (searched recursively).", metavar="PATH",
        show_default=False,
        # An unreadable file is skipped with its reason like one found in a folder; Click
        # would refuse the whole command for it.
        readable=False,
    ),
    reparse: bool = typer.Option(
        False, "--reparse",
        help="Also read again, from the PDFs the corpus keeps, the letters an older version "
        "of sendlens read (`sendlens info` says when there are any).",
    ),
    replace: bool = typer.Option(
        False, "--replace",
        help="A file that is another copy of the report on an inspection the corpus holds "
        "(a corrected report published again) replaces the held letter's text instead of "
        "being left out, unless the held one was published later (by the manifest's or "
        "the letters' dates); corrections made in the app follow their sentence.",
    ),
    corpus: Path | None = CorpusOption,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Import inspection PDFs into the corpus (skips files already there).

    A manifest.csv beside the PDFs (columns file, ofsted_urn, file_date or published, url,
    sha256; path and urn are older names of file and ofsted_urn) adds what the letters do
    not say themselves; a row it cannot use is reported (file and line) and the PDF still
    imported. Exit code 1 when any file was skipped, a folder given holds no PDF or a
    letter could not be read again, 2 when no path given exists or the run stopped early
    (a full disk, a corpus it cannot write: the summary says which), 130 when
    interrupted.
    """
    paths = paths or []
    if reparse and not paths:
        store = open_corpus(corpus)
        _reparse(store, quiet)
        return
    if not paths:
        typer.secho("error: give PDF files or folders to import (or --reparse)", fg="red",
                    err=True)
        raise typer.Exit(2)
    if all(missing_why(p) for p in paths):
        # Checked before the corpus is made: a typo should not leave an empty corpus behind.
        whys = [str(missing_why(p)).replace("no such file", "no such file or folder")
                for p in paths]
        typer.secho("error: " + "; ".join(f"{shown_path(p)}: {why}"
                                          for p, why in zip(paths, whys, strict=True)),
                    fg="red", err=True)
        raise typer.Exit(2)
    path = corpus_path(corpus)
    made = (not path.exists(), not (path / DB_NAME).exists())  # (the folder, the corpus)
    store = open_corpus(corpus, create=True)
    report = import_paths(store, paths, progress=not quiet,
                          replace="not-older" if replace else "never")
    typer.echo(report.summary(), err=True)
    # Only unreadable or non-letter files: no empty corpus for `info` or `tag` to find.
    removed = made[1] and remove_if_empty(path, made_folder=made[0])
    if removed:
        typer.echo(f"nothing was imported, so no corpus was left at {path}", err=True)
    if report.interrupted:
        raise typer.Exit(130)
    if report.stopped:
        raise typer.Exit(2)
    if reparse and not removed:  # a corpus just made holds nothing older to read again
        _reparse(store, quiet, alone=False)
    if report.skipped:
        raise typer.Exit(1)


def _reparse(store: Corpus, quiet: bool, *, alone: bool = True) -> None:
    report = reparse_letters(store, progress=not quiet)
    if report.letters or report.failed or alone:  # after an import, only news
        typer.echo(report.summary(), err=True)
    if report.interrupted:
        raise typer.Exit(130)
    if report.failed:
        raise typer.Exit(1)


def export_cmd(
    what: What = typer.Argument(..., help="letters, passages, themes or evidence.",
                                metavar="TABLE", parser=one_of(What)),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help=f"One of {', '.join(FORMATS)} (default: from -o, else csv)."
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", help="File to write, or - for stdout."
    ),
    by: GroupBy | None = typer.Option(
        None, "--by", parser=one_of(GroupBy), metavar="<area|region|framework|year|outcome>",
        help="themes: group rows by this (default: area); year is the year the inspection "
             "began (of publication when a letter has no inspection dates)."
    ),
    section: list[str] = typer.Option(
        [], "--section", metavar="SECTION",
        help="passages/themes/evidence: only passages in this canonical section; repeatable.",
    ),
    themes: list[str] = typer.Option([], "--theme", metavar="THEME",
                                     help="evidence: the theme; themes: only these themes' "
                                     "rows (repeatable)."),
    stance: list[str] = typer.Option(
        [], "--stance", metavar="STANCE", help="evidence: only this stance; repeatable."
    ),
    words: str | None = typer.Option(
        None, "--words", metavar="TEXT",
        help="evidence: only passages holding every word (or \"quoted phrase\"), as the "
        "app's full-text search finds them.",
    ),
    framework: list[str] = typer.Option(
        [], "--framework", metavar="CODE",
        help="themes/evidence: only letters of this framework (area_send_2023...); repeatable.",
    ),
    outcome: list[str] = typer.Option(
        [], "--outcome", metavar="CODE",
        help="themes/evidence: only letters with this outcome (positive...); repeatable.",
    ),
    area: list[str] = typer.Option(
        [], "--area", metavar="NAME", help="themes/evidence: only this area; repeatable."
    ),
    region: list[str] = typer.Option(
        [], "--region", metavar="NAME", help="themes/evidence: only this region; repeatable."
    ),
    date_from: date | None = typer.Option(
        None, "--from", metavar="YYYY-MM-DD", parser=iso_date,
        help="themes/evidence: only inspections that started on or after this date (a "
        "letter without inspection dates: its publication date).",
    ),
    date_to: date | None = typer.Option(
        None, "--to", metavar="YYYY-MM-DD", parser=iso_date,
        help="themes/evidence: only inspections that started on or before this date (a "
        "letter without inspection dates: its publication date).",
    ),
    corpus: Path | None = CorpusOption,
) -> None:
    """Export a table: letters, passages, themes (area × theme) or evidence."""
    # Ids and codes are lower case, as --by and --region are read in any case: "--theme
    # Health_Input" was refused.
    themes, stance, section, framework, outcome = (
        [v.lower() for v in values] for values in (themes, stance, section, framework, outcome))
    letter_filters = {"--framework": framework, "--outcome": outcome, "--area": area,
                      "--region": region,
                      "--from": date_from.isoformat() if date_from else None,
                      "--to": date_to.isoformat() if date_to else None}
    if date_from and date_to and date_from > date_to:
        typer.secho(f"error: --from {date_from} is after --to {date_to}: no inspection can "
                    "start in that range", fg="red", err=True)
        raise typer.Exit(2)
    given = {"--by": by is not None, "--section": bool(section), "--theme": bool(themes),
             "--stance": bool(stance), "--words": words is not None,
             **{o: bool(v) for o, v in letter_filters.items()}}
    applies = {What.letters: (), What.passages: ("--section",),
               What.themes: ("--by", "--section", "--theme", *letter_filters),
               What.evidence: ("--section", "--theme", "--stance", "--words",
                               *letter_filters)}[what]
    if ignored := [o for o, on in given.items() if on and o not in applies]:
        # An option that would be silently ignored gives a table the user did not ask for.
        typer.secho(f"error: {', '.join(ignored)} does not apply to `export {what.value}`"
                    + (f" (it takes {', '.join(applies)})" if applies else ""),
                    fg="red", err=True)
        raise typer.Exit(2)
    if what is What.evidence and len(given_themes := list(dict.fromkeys(themes))) > 1:
        # Each row's theme_score is for the one theme asked about.
        typer.secho(f"error: export evidence takes one --theme (given "
                    f"{', '.join(given_themes)}): "
                    "export each theme to its own file", fg="red", err=True)
        raise typer.Exit(2)
    theme = themes[0] if themes else None
    asked = fmt
    try:
        fmt = format_from_name(output, fmt)
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    if fmt not in FORMATS:
        source = "" if asked else f" (from the file name {output})"
        typer.secho(f"error: unknown format {fmt!r}{source}; choose {', '.join(FORMATS)} "
                    "(--format, or the output file's suffix)", fg="red", err=True)
        raise typer.Exit(2)
    store = open_corpus(corpus)
    if output and output != "-":
        try:  # before the work: a big table can take seconds to make
            check_destination(Path(output), "table." + fmt, store.root)
        except OutputError as exc:
            typer.secho(f"error: {exc}", fg="red", err=True)
            raise typer.Exit(2) from exc
    if what is What.letters:
        frame = letters_frame(store)
    elif what is What.passages:
        frame = passages_frame(store)
        if section:
            from textmine.aggregate import checked_sections

            try:
                checked_sections(section)
            except ValueError as exc:
                typer.secho(f"error: {exc}", fg="red", err=True)
                raise typer.Exit(2) from exc
            frame = frame[frame["section"].isin(section)]
    else:
        from textmine import aggregate

        # Several letters' filters are any of them; the filters together, all of them.
        filters = {"frameworks": framework or None, "outcomes": outcome or None,
                   "areas": area or None, "regions": region or None,
                   "date_from": date_from, "date_to": date_to}
        try:
            if what is What.themes:
                # One theme across the groups (post-16 by outcome) without the others'.
                frame = aggregate.theme_table(store, by=(by or GroupBy.area).value,
                                              sections=section or None,
                                              themes=list(dict.fromkeys(themes)) or None,
                                              **filters)
            else:
                if not theme:
                    typer.secho("error: export evidence needs --theme", fg="red", err=True)
                    raise typer.Exit(2)
                frame = aggregate.evidence(store, theme=theme, stance=stance or None,
                                           sections=section or None, words=words, **filters)
        except (aggregate.NotTagged, ValueError) as exc:
            # Not tagged yet, or an unknown theme, section or stance: say which.
            typer.secho(f"error: {exc}", fg="red", err=True)
            raise typer.Exit(2) from exc
    warnings = [] if what is What.letters else _warn_if_stale(store,
                                                              listed=what is What.passages)
    if frame.empty and what in (What.themes, What.evidence):
        # A header alone looks like a failed export: say why it is empty.
        options = [*letter_filters.items(), ("--section", section)]
        options += [("--theme", list(dict.fromkeys(themes)))]
        if what is What.evidence:
            options += [("--stance", stance), ("--words", words)]
        asked = " ".join(f"{o} {', '.join(v) if isinstance(v, list) else v}"
                         for o, v in options if v)
        empty = (f"no tagged {'letter' if what is What.themes else 'passage'} matches "
                 f"{asked}" if asked else "no letter is tagged yet")
        if replaced := gave_way(area or []):  # a former council: its successors' letters
            empty += f" ({'; '.join(replaced)}: --area each of those for their letters)"
        typer.secho(f"warning: {empty}: the table is empty", fg="yellow", err=True)
        warnings.append(f"{empty}: the table is empty")
    elif section and (frame.empty if what is What.passages else
                      what is What.themes and not frame["passages"].any()):
        # Letters counted, no passage behind them: a table of zeros reads as "no letter
        # mentions any theme" (a 2023 report has no main_findings; outcome has no themes).
        asked_themes = list(dict.fromkeys(themes))
        held = (f"no passage is in section {', '.join(section)}" if what is What.passages
                else f"no passage of section {', '.join(section)} in these letters mentions "
                     + (f"{', '.join(asked_themes)}" if asked_themes else "a theme")
                     + ": every count is 0")
        typer.secho(f"warning: {held}", fg="yellow", err=True)
        warnings.append(held)
    if what in (What.themes, What.evidence) and (area or region):
        from textmine.aggregate import resolved_names

        # The note under the table names what was counted: "Kingston upon Hull", not "hull".
        named = resolved_names(store, areas=area, regions=region)
        letter_filters = {**letter_filters, "--area": named[0], "--region": named[1]}
    with store.reading() as con:
        about = provenance(con, store.root, table=what.value,
                           by=(by or GroupBy.area).value if what is What.themes else None,
                           sections=", ".join(section),
                           theme=", ".join(dict.fromkeys(themes)) or None,
                           stance=", ".join(dict.fromkeys(stance)) or None, words=words,
                           **{o.lstrip("-"): ", ".join(v) if isinstance(v, list) else v
                              for o, v in letter_filters.items() if v},
                           # Sentences of their own: several run together read as one.
                           warnings="".join(w[:1].upper() + w[1:].rstrip(".") + ". "
                                            for w in warnings).rstrip() or None)
    try:
        write_table(frame, fmt, output, about)
    except (ValueError, OSError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    if output and output != "-":
        typer.echo(f"wrote {counted(len(frame), 'row')} to {output}", err=True)


def _how_to_measure(meta: dict) -> str:
    """The evaluate command that would record this model's quality. Scored on its own
    training labels the figure would flatter it: `evaluate` then records only a --cv of
    them, run as the model was trained, and only when it was trained on that file alone."""
    training = meta.get("training", {})
    files = training.get("label_files") or []
    other = "`sendlens evaluate GOLD.jsonl` records it, on labels it was not trained on"
    if len(files) != 1:
        return other if not files else (
            f"trained on {len(files)} label files: {other}")
    tune = int(training.get("tune_folds") or 0)
    return (f"`sendlens evaluate {shlex.quote(files[0])} --cv"
            + (f" --tune-thresholds {tune}" if tune else "") + "` records it, if the model "
            "was trained on that file alone (no corrections saved in the app); or " + other)


def info_cmd(corpus: Path | None = CorpusOption) -> None:
    """What the corpus holds: letters by framework and outcome, passages, tags."""
    store = open_corpus(corpus)
    counts = store.counts()
    typer.echo(f"corpus: {store.root.resolve()}")
    for key, value in counts.items():
        if key == "fetches":
            # A bare "fetches: 0" meant nothing to a user who had imported files.
            typer.echo(f"  files downloaded by `sendlens scrape`: {value:,}")
            continue
        if key != "labels":
            typer.echo(f"  {key}: {value:,}")
            continue
        # Hand-label files are counted with the model below; these are the app's, counted
        # by passage as the app counts them (a passage's newest correction is the one used).
        with store.reading() as con:
            corrected = con.execute("SELECT count(DISTINCT coalesce(passage_id, text)) "
                                    "FROM labels").fetchone()[0]
        typer.echo(f"  corrections saved in the app: {counted(corrected, 'passage')}"
                   + (f" ({value:,} saved; the newest of each passage is used)"
                      if value != corrected else ""))
        if pending := _corrections_since_training(store):
            # Saved and counted above, but not yet in the model or the tables.
            typer.secho(f"    {counted(pending, 'passage')} corrected since the current model was "
                        "trained (or it was trained without them): the app's Retrain, or "
                        "`sendlens train` then `sendlens tag`, uses them", fg="yellow")
    with store.reading() as con:
        for row in con.execute(
            "SELECT framework, outcome, count(*) n FROM letters GROUP BY 1, 2 ORDER BY 1, 2"
        ):
            typer.echo(f"  {row['framework']:<16} {row['outcome'] or '?':<26} {row['n']:,}")
        replaced = con.execute("SELECT count(DISTINCT letter_id) FROM replaced_files "
                               "WHERE letter_id IN (SELECT letter_id FROM letters)"
                               ).fetchone()[0]
    if replaced:
        typer.echo(f"  {counted(replaced, 'letter')} read from a later file of the report than the "
                   "one first imported (a corrected report published again)")
    if unlisted := store.unlisted_pdfs():
        # Kept, never swept: a database put back from a backup left these out.
        typer.secho(unlisted_note(store, len(unlisted)), fg="yellow")
    has_model = _model_info(store)
    if outdated := outdated_letters(store):
        typer.secho(f"{counted(len(outdated), 'letter')} read by an older version of sendlens's "
                    "parser: `sendlens import --reparse` reads them again (with its fixes) "
                    "from the PDFs the corpus keeps", fg="yellow")
    untagged = _untagged(store)
    if untagged[0] and not counts["tags"] and has_model:
        typer.secho("no passage is tagged yet (the tables are empty until then); "
                    "`sendlens tag` tags them", fg="yellow")
    elif untagged[0] and counts["tags"]:
        typer.secho(f"{counted(untagged[0], 'passage')} of {counted(untagged[1], 'letter')} "
                    "not tagged yet (tables leave them out); `sendlens tag` tags them",
                    fg="yellow")
    if counts["tags"]:
        from textmine.aggregate import ehc_plans_actions_share, known_themes

        check = ehc_plans_actions_share(store)
        if "ehc_plans" not in known_themes(store):
            # A codebook without the theme (renamed, removed): "0 of 55" would be no finding.
            typer.echo("EHC plans check: not made, as the codebook has no ehc_plans theme")
        elif check["letters"]:
            typer.echo(
                f"EHC plans check: {check['letters_flagged']} of {check['letters']} "
                f"2023-framework reports ({check['share']:.0%}) have a negative ehc_plans "
                f"passage in their actions sections (Ofsted, June 2025: EHC plan timeliness "
                f"or quality an area for improvement in {check['published_share']:.0%}). "
                "Not the same measure: every recommendation is negative, so this counts any "
                "recommendation that mentions EHC assessment or plans, including annual "
                "reviews and plans named inside another recommendation"
            )


def _current_model(store: Corpus) -> tuple[str, dict, list[str], int] | None:
    """(version, meta, reasons it is stale, passages tagged by another model) of the
    current model; None when there is none. A codebook that cannot be read raises
    CodebookError: no retraining fixes that."""
    from sendlens.store import tags_of_other_models
    from textmine.codebook import load_codebook
    from textmine.tag import stale_reasons

    with store.reading() as con:
        if (found := _current_row(con)) is None:
            return None
        version, meta = found
        older = tags_of_other_models(con, version)
    return version, meta, stale_reasons(store, meta, load_codebook(corpus=store.root)), older


def _current_row(con: sqlite3.Connection) -> tuple[str, dict] | None:
    """(version, meta) of the current model in the models table; None when there is none."""
    import json

    from sendlens.store import current_model_row

    row = current_model_row(con)
    return None if row is None else (row["version"], json.loads(row["meta"] or "{}"))


def _corrections_since_training(store: Corpus) -> int:
    """Passages whose newest correction the current model was not trained with (saved
    after it read them, or all of them for a model trained with --no-stored-labels); 0
    with no model."""
    with store.reading() as con:
        if (found := _current_row(con)) is None:
            return 0
        meta = found[1]
        training = meta.get("training", {})
        if not training.get("use_stored_labels", True):
            where, args = "1", ()
        elif "last_label_id" in training:
            # The newest correction it read: one saved while it trained is not in it.
            where, args = "id > ?", (int(training["last_label_id"]),)
        else:
            # A model from before that was recorded: saved after it was made. Both stamps
            # are UTC, written "...Z" and "...+00:00": compared to the second.
            made = str(meta.get("created_at") or "")[:19]
            where, args = "substr(created_at, 1, 19) > ?", (made,)
        return int(con.execute("SELECT count(DISTINCT coalesce(passage_id, text)) FROM labels"
                               f" WHERE {where}", args).fetchone()[0])


def _untagged(store: Corpus) -> tuple[int, int]:
    """(passages, letters) with no tags: imported after the last `sendlens tag`."""
    with store.reading() as con:
        return untagged_counts(con)


def _codebook_problem(exc: Exception, store: Corpus) -> str:
    """The codebook's error and what to do, for the file actually in force."""
    from textmine.codebook import PACKAGED_CODEBOOK, codebook_path

    path = codebook_path(store.root)
    if os.environ.get("SENDLENS_CODEBOOK"):
        how = f"fix {path} (or unset SENDLENS_CODEBOOK)"
    elif os.path.realpath(path) != os.path.realpath(PACKAGED_CODEBOOK):  # a loop: no error
        how = f"fix {path} (or remove it to use the shipped codebook)"
    else:
        how = "fix the codebook"
    return (f"{exc}. {how[0].upper()}{how[1:]} before `sendlens tag`: no model can be "
            "trained or checked without it")


def _model_info(store: Corpus) -> bool:
    """The current model, whether it is stale, and whether the tags are its own; whether
    there is a current model (False when the codebook cannot be read)."""
    from textmine.codebook import CodebookError
    from textmine.intervals import interval_text

    try:
        found = _current_model(store)
    except CodebookError as exc:
        typer.secho(f"model: cannot be checked: {_codebook_problem(exc, store)}", fg="red")
        return False
    if found is None:
        typer.echo("model: none yet (`sendlens tag` trains one and tags the passages)")
        return False
    version, meta, reasons, older = found
    hand = meta.get("training", {}).get("hand_labels", {}).get("n", 0)
    typer.echo(f"model: {version} ({counted(hand, 'hand label')})")
    from textmine.model import ModelFileError
    from textmine.tag import current_model

    try:  # its files: the database may name a model whose folder was damaged or removed
        if current_model(store) is None:
            typer.secho("  its files are missing from the corpus's models folder; "
                        "`sendlens tag` trains a new one", fg="yellow")
    except ModelFileError as exc:
        typer.secho(f"  {exc}", fg="yellow")
    quality = meta.get("quality") or {}
    for setting, q in quality.items():
        figure = {k: (f"{q[k]:.3f}" + interval_text((q.get("intervals") or {}).get(k))
                      if isinstance(q.get(k), int | float) else "not measured")
                  for k in ("theme_macro_f1", "stance_macro_f1")}
        typer.echo(f"  measured ({setting}, {q.get('gold')}): theme macro-F1 "
                   f"{figure['theme_macro_f1']}, stance macro-F1 {figure['stance_macro_f1']}")
    if not quality:
        typer.echo(f"  quality not measured yet ({_how_to_measure(meta)})")
    from textmine.tag import gone_label_files

    if gone := gone_label_files(meta):
        # A retrain would lose them, so `tag` stops before one (when the model is stale).
        typer.secho(f"  hand labels it learnt from are no longer there ({', '.join(gone)}): "
                    "put the file back before it is retrained, or `sendlens train` without "
                    "it", fg="yellow")
    # A stale model whose hand labels are gone is retrained by no `tag`: it stops.
    once = " (once the hand labels above are back, or trained without)" if gone else ""
    if reasons:
        typer.secho(f"  stale: {'; '.join(reasons)}; `sendlens tag` retrains and re-tags"
                    + once, fg="yellow")
    if older:
        typer.secho(f"  {older:,} passages carry tags of an older model; `sendlens tag` "
                    "re-tags them" + (once if reasons else ""), fg="yellow")
    return True


def _warn_if_stale(store: Corpus, *, listed: bool = False) -> list[str]:
    """Tags from a model that no longer matches the codebook make a table that looks right
    and is not (a new theme counts 0 everywhere), and letters not yet tagged are missing
    from it: say so beside it. Returns the warnings, for the XLSX file's About sheet."""
    from textmine.codebook import CodebookError

    said: list[str] = []

    def warn(message: str) -> None:
        said.append(message)
        typer.secho(f"warning: {message}", fg="yellow", err=True)

    try:
        found = _current_model(store)
    except CodebookError as exc:
        warn(f"the tags cannot be checked against the codebook: {_codebook_problem(exc, store)}")
        found = None
    if found is not None:
        version, _, reasons, older = found
        if reasons:
            warn(f"these tags are from model {version}, which is stale: {'; '.join(reasons)}. "
                 "Run `sendlens tag` first to retrain and re-tag.")
        elif older:
            warn(f"{older:,} passages carry tags of an older model than {version}; "
                 "`sendlens tag` re-tags them")
    passages, letters = _untagged(store)
    if passages:
        fate = ("have no tags in this table" if listed  # passages: listed, untagged
                else "are left out of this table")
        # Of the corpus, whatever the filters (a filtered table may hold none of them);
        # passages, as a letter tagged in part is counted with the passages tagged.
        warn(f"{counted(passages, 'passage')} of {counted(letters, 'letter')} in the corpus "
             f"not tagged yet {fate}; run `sendlens tag` first")
    return said


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
    app.command("export")(export_cmd)
    app.command("info")(info_cmd)
