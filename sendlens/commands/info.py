"""`sendlens info`: what the corpus holds, its model and what needs doing."""

from __future__ import annotations

import os
import shlex
import sqlite3
from pathlib import Path

import typer

from sendlens.commands import (
    CorpusOption,
    open_corpus,
)
from sendlens.export import (
    counted,
)
from sendlens.importer import (
    outdated_letters,
    unlisted_note,
)
from sendlens.store import Corpus, untagged_counts


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
    """What the corpus holds (letters by framework and outcome, passages, tags), the model
    and its measured quality, what is stale or waits for `tag`, and the EHC plans check."""
    store = open_corpus(corpus)
    counts = store.counts()
    typer.echo(f"corpus: {store.root.resolve()}")
    for key, value in counts.items():
        if key == "fetches":
            # A bare "fetches: 0" meant nothing to a user who had imported files; and a
            # file the site would not give is no file downloaded.
            with store.reading() as con:
                status = dict(con.execute("SELECT status, count(*) FROM fetches GROUP BY 1")
                              .fetchall())
            got = value - status.get("failed", 0)
            line = f"  files downloaded by `sendlens scrape`: {got:,}"
            if status.get("skipped"):
                line += f" ({status['skipped']:,} of them not letters sendlens could read)"
            if status.get("failed"):
                line += (f"; {status['failed']:,} could not be downloaded (tried again at the "
                         "next scrape)")
            if last := store.get_meta("last_scrape"):
                # When the site was last read (all of it, or the --area asked for).
                line += f"; last scrape finished {last.replace('T', ' ')}"
            typer.echo(line)
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
        rows = con.execute(
            "SELECT framework, outcome, count(*) n FROM letters GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        if rows:
            typer.echo(f"  {'framework':<16} {'outcome':<26} letters")
        for row in rows:
            typer.echo(f"  {row['framework']:<16} {row['outcome'] or '?':<26} {row['n']:,}")
        replaced = con.execute("SELECT count(DISTINCT letter_id) FROM replaced_files "
                               "WHERE letter_id IN (SELECT letter_id FROM letters)"
                               ).fetchone()[0]
        # (A read-only corpus of schema 3 has no such table.)
        has_taken = con.execute("SELECT 1 FROM sqlite_master WHERE name='taken_out'").fetchone()
        taken = con.execute("SELECT letter_id, by_id FROM taken_out ORDER BY taken_at"
                            ).fetchall() if has_taken else []
    if replaced:
        typer.echo(f"  {counted(replaced, 'letter')} read from a later file of the report than the "
                   "one first imported (a corrected report published again)")
    if taken:
        typer.echo(f"  {counted(len(taken), 'letter')} taken out by `supersede` (earlier "
                   "publications of a report held): "
                   + ", ".join(f"{r['letter_id']} (by {r['by_id']})" for r in taken[:5])
                   + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
                   + "; `sendlens supersede LETTER_ID --undo` puts one back")
    if lines := store.close_pairs_text():
        # No area is inspected twice so soon: a report corrected and published again under
        # other dates, held beside the first, is counted twice by every table.
        from sendlens.store import CLOSE_PAIRS, SUPERSEDE_HINT

        typer.secho(f"{counted(len(lines), 'pair')} {CLOSE_PAIRS}: "
                    + "; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5
                                              else "")
                    + ". If one is the other corrected under other dates, the tables count "
                    f"that report twice: {SUPERSEDE_HINT}", fg="yellow")
    if unlisted := store.unlisted_pdfs():
        # Kept, never swept: a database put back from a backup left these out.
        typer.secho(unlisted_note(store, len(unlisted)), fg="yellow")
    has_model = _model_info(store)
    if outdated := outdated_letters(store):
        typer.secho(f"{counted(len(outdated), 'letter')} read by an older version of sendlens's "
                    "parser: `sendlens import --reparse` reads them again (with its fixes) "
                    "from the PDFs the corpus keeps", fg="yellow")
    untagged = untagged_in(store)
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


def model_in_force(store: Corpus) -> tuple[str, dict, list[str], int] | None:
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


def untagged_in(store: Corpus) -> tuple[int, int]:
    """(passages, letters) with no tags: imported after the last `sendlens tag`."""
    with store.reading() as con:
        return untagged_counts(con)


def codebook_problem(exc: Exception, store: Corpus) -> str:
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
    from textmine.codebook import CodebookError, shadowed_note
    from textmine.intervals import interval_text

    if note := shadowed_note(store.root):
        typer.secho(f"codebook: {note}", fg="yellow")
    try:
        found = model_in_force(store)
    except CodebookError as exc:
        typer.secho(f"model: cannot be checked: {codebook_problem(exc, store)}", fg="red")
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
        missing = q.get("themes_not_scored")
        typer.echo(f"  measured ({setting}, {q.get('gold')}): theme macro-F1 "
                   f"{figure['theme_macro_f1']}, stance macro-F1 {figure['stance_macro_f1']}"
                   + (f" (themes not in the labels, not measured: {', '.join(missing)})"
                      if missing else ""))
    if not quality:
        typer.echo(f"  quality not measured yet ({_how_to_measure(meta)})")
    from textmine.tag import gone_label_files, thin_themes

    # Said once at training, then a column of zeros.
    for thin in thin_themes(meta, stale=bool(reasons)):
        typer.secho(f"  {thin}", fg="yellow")
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
        from sendlens.export import older_tags_note
        from textmine.aggregate import retired_themes

        # Themes the tags name that the codebook lost: of the older tags only when the
        # current model is not stale (else its own tags may be the ones, said above).
        typer.secho(f"  {older_tags_note(older, () if reasons else retired_themes(store))}"
                    + (once if reasons else ""), fg="yellow")
    return True


def register(app: typer.Typer) -> None:
    app.command("info")(info_cmd)
