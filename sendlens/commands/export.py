"""`sendlens export`: the corpus's letters, passages, theme tables and evidence as files."""

from __future__ import annotations

import os
from datetime import date
from enum import StrEnum
from pathlib import Path

import typer

from sendlens.commands import (
    CorpusOption,
    iso_date,
    one_of,
    open_corpus,
)
from sendlens.commands.info import codebook_problem, model_in_force, untagged_in
from sendlens.export import (
    FORMATS,
    OutputError,
    check_destination,
    counted,
    format_from_name,
    labels_frame,
    letters_frame,
    older_tags_note,
    passages_frame,
    provenance,
    unreadable_tags_note,
    write_table,
)
from sendlens.store import Corpus
from textmine.areas import gave_way


class What(StrEnum):
    letters = "letters"
    passages = "passages"
    themes = "themes"
    evidence = "evidence"
    labels = "labels"


class GroupBy(StrEnum):
    area = "area"
    region = "region"
    framework = "framework"
    year = "year"
    outcome = "outcome"


def export_cmd(
    what: What = typer.Argument(..., help="letters, passages, themes, evidence or labels.",
                                metavar="TABLE", parser=one_of(What)),
    fmt: str | None = typer.Option(
        None, "--format", "-f", metavar="FORMAT",
        help=f"One of {', '.join(FORMATS)} (md also as markdown; default: from -o, else csv)."
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", metavar="FILE",
        help="File to write; without it (or with -), the table goes to stdout."
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
        help="evidence: only passages holding every word, as the app's full-text search "
        "finds them: by its stem ('timely' also finds 'time', 'timescales'); a \"quoted\" "
        "word or phrase exactly as typed (any case).",
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
    """Export a table: letters, passages, themes (area × theme), evidence, or labels (the
    corrections saved in the app, as a JSONL labels file unless told otherwise)."""
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
    applies = {What.letters: (), What.labels: (), What.passages: ("--section",),
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
    if what is What.labels and not fmt and not (output and Path(output).suffix):
        fmt = "jsonl"  # the labels file `train --labels` and `evaluate` read
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
    # Rows of a theme table whose letters are of several frameworks: said below.
    pooled: dict[str, dict[str, int]] = {}
    sectionless: dict[str, int] = {}
    if what is What.letters:
        frame = letters_frame(store)
    elif what is What.labels:
        try:
            frame = labels_frame(store)
        except ValueError as exc:  # a correction whose themes cannot be read: named
            typer.secho(f"error: {exc}", fg="red", err=True)
            raise typer.Exit(2) from exc
        if frame.empty:
            typer.secho("warning: no correction is saved in this corpus (the app's Label "
                        "page saves them): the file is empty", fg="yellow", err=True)
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
                pooled = aggregate.pooled_groups(store, by=(by or GroupBy.area).value,
                                                 sections=section or None, **filters)
                sectionless = (aggregate.letters_without_sections(store, section, **filters)
                               if section else {})
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
    warnings = [] if what in (What.letters, What.labels) else _warn_if_stale(store,
                                                              listed=what is What.passages)
    untagged = frame.attrs.get("themes_not_tagged") or [] if what is What.themes else []
    if untagged:
        # Left out, not zeros: no model that tagged these passages was asked about them.
        one = len(untagged) == 1
        said = (f"{'theme' if one else 'themes'} {', '.join(untagged)} "
                f"{'has' if one else 'have'} no rows: no model that tagged the corpus knew "
                f"{'it' if one else 'them'} (added to the codebook since); run `sendlens tag` "
                f"to retrain and count {'it' if one else 'them'}")
        typer.secho(f"warning: {said}", fg="yellow", err=True)
        warnings.append(said)
    if pooled:
        # A revisit discusses only the weaknesses it revisits, and each framework words
        # its letters its own way: a row pooling them is not like for like with others.
        shown = "; ".join(f"{group}: " + ", ".join(f"{n} {fw}" for fw, n in fws.items())
                          for group, fws in list(pooled.items())[:3])
        said = (f"{counted(len(pooled), 'row')} {'pools' if len(pooled) == 1 else 'pool'} "
                f"letters of several frameworks ({shown}"
                + (f"; and {len(pooled) - 3} more" if len(pooled) > 3 else "") + "): "
                f"{aggregate.pooled_reason(pooled)}; --framework CODE "
                "counts one framework, --by framework compares them")
        typer.secho(f"warning: {said}", fg="yellow", err=True)
        warnings.append(said)
    if sectionless and frame["passages"].any():
        # Counted in `letters` with nothing to count: their rows' shares fall. (A table of
        # zeros throughout is said below.)
        n = sum(sectionless.values())
        which = ", ".join(f"{k} {fw}" for fw, k in sectionless.items())
        said = (f"{counted(n, 'letter')} ({which}) "
                f"{'holds' if n == 1 else 'hold'} no passage in "
                f"{'sections' if len(section) > 1 else 'section'} {', '.join(section)} "
                f"but {'counts' if n == 1 else 'count'} in the letters column with 0 passages"
                + ("; revisits and monitoring visits give their judgements under "
                   "main_findings: add --section main_findings, or --framework CODE to count "
                   "one framework"
                   if set(sectionless) - {"area_send_2023"} and "main_findings" not in section
                   else ""))
        typer.secho(f"warning: {said}", fg="yellow", err=True)
        warnings.append(said)
    named_filters = letter_filters
    if what in (What.themes, What.evidence) and (area or region):
        from textmine.aggregate import resolved_names

        # Named as counted: "Kingston" is Kingston upon Thames, "hull" Kingston upon Hull.
        named = resolved_names(store, areas=area, regions=region)
        named_filters = {**letter_filters, "--area": named[0], "--region": named[1]}
    if frame.empty and what in (What.themes, What.evidence) and not (
            themes and set(themes) <= set(untagged)):
        # A header alone looks like a failed export: say why it is empty.
        options = [(o, v if named_filters[o] == v else
                    f"{', '.join(v)} (read as {', '.join(named_filters[o])})")
                   for o, v in letter_filters.items()] + [("--section", section)]
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
    with store.reading() as con:
        about = provenance(con, store.root, table=what.value,
                           by=(by or GroupBy.area).value if what is What.themes else None,
                           sections=", ".join(section),
                           theme=", ".join(dict.fromkeys(themes)) or None,
                           stance=", ".join(dict.fromkeys(stance)) or None, words=words,
                           **{o.lstrip("-"): ", ".join(v) if isinstance(v, list) else v
                              for o, v in named_filters.items() if v},
                           # Sentences of their own: several run together read as one.
                           warnings="".join(w[:1].upper() + w[1:].rstrip(".") + ". "
                                            for w in warnings).rstrip() or None)
    to_file = bool(output and output != "-")
    before = _file_identity(output) if to_file else None
    said = False
    try:
        rendered = write_table(frame, fmt, output, about)
        for warning in rendered.warnings:  # said in the file too, where few would look
            typer.secho(f"warning: {warning}", fg="yellow", err=True)
        if to_file:
            typer.echo(f"wrote {counted(len(frame), 'row')} to {output}", err=True)
            said = True
    except (ValueError, OSError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        # Ctrl-C or TERM once the file was renamed into place: it is written whole (only
        # a complete copy is renamed), so the run is done; "interrupted ... nothing was
        # left half-written", exit 130, had a script take the new file for the old one.
        if not to_file or _file_identity(output) in (None, before):
            raise
        if not said:
            typer.echo(f"wrote {counted(len(frame), 'row')} to {output}", err=True)


def _file_identity(path: str | None) -> tuple[int, int] | None:
    """The file at `path` as the system knows it (device, inode), None when there is
    none: a file renamed into its place is another file."""
    try:
        found = os.stat(path) if path else None
    except OSError:
        return None
    return None if found is None else (found.st_dev, found.st_ino)


def _warn_if_stale(store: Corpus, *, listed: bool = False) -> list[str]:
    """Tags from a model that no longer matches the codebook make a table that looks right
    and is not (a new theme counts 0 everywhere), and letters not yet tagged are missing
    from it: say so beside it. Returns the warnings, for the XLSX file's About sheet."""
    from textmine.codebook import CodebookError, shadowed_note

    said: list[str] = []

    def warn(message: str) -> None:
        said.append(message)
        typer.secho(f"warning: {message}", fg="yellow", err=True)

    if note := shadowed_note(store.root):  # the tags are checked against that codebook
        warn(note)
    try:
        found = model_in_force(store)
    except CodebookError as exc:
        warn(f"the tags cannot be checked against the codebook: {codebook_problem(exc, store)}")
        found = None
    if found is not None:
        version, meta, reasons, older = found
        from textmine.tag import thin_themes

        for thin in thin_themes(meta, stale=bool(reasons)):  # else a column of zeros
            warn(thin)
        if reasons:
            warn(f"these tags are from model {version}, which is stale: {'; '.join(reasons)}. "
                 "Run `sendlens tag` first to retrain and re-tag.")
        elif older:
            from textmine.aggregate import retired_themes

            warn(older_tags_note(older, retired_themes(store)))
    from textmine.aggregate import unreadable_tags

    if damaged := unreadable_tags(store):  # else a traceback, or the tags of no theme
        warn(unreadable_tags_note(damaged, listed=listed))
    passages, letters = untagged_in(store)
    if passages:
        fate = ("have no tags in this table" if listed  # passages: listed, untagged
                else "are left out of this table")
        # Of the corpus, whatever the filters (a filtered table may hold none of them);
        # passages, as a letter tagged in part is counted with the passages tagged.
        warn(f"{counted(passages, 'passage')} of {counted(letters, 'letter')} in the corpus "
             f"not tagged yet {fate}; run `sendlens tag` first")
    return said


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
