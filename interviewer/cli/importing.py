"""``bank import``: a file of questions and answers (notes, a spreadsheet, JSON, an Anki deck)
or a folder of them, as a bank; ``--dry-run`` lists what would be imported."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from interviewer.cli import _load_settings, _model_options, _status
from interviewer.cli.tools import bank

if TYPE_CHECKING:
    from interviewer.bank.importer import ImportedNotes
    from interviewer.bank.sources import ReadOptions

FORMAT_CHOICES = [
    "auto",
    "details",
    "qa",
    "course",
    "headings",
    "table",
    "numbered",
    "lines",
    "csv",
    "tsv",
    "anki-text",
    "json",
    "jsonl",
    "apkg",
]
"""``--format``: auto, every notes layout and every file format (a test keeps this list equal
to :data:`interviewer.bank.sources.ALL_FORMATS`, which is not imported here: it is slow)."""


def _options(columns: str | None, keys: str | None, from_headings: bool) -> ReadOptions:
    from interviewer.bank.sources import ReadOptions
    from interviewer.bank.sources.jsonqa import parse_keys
    from interviewer.bank.sources.tabular import parse_columns

    return ReadOptions(
        columns=parse_columns(columns) if columns else None,
        keys=parse_keys(keys) if keys else None,
        every_heading=from_headings,
    )


def _echo_problems(imported: ImportedNotes) -> None:
    for skipped in imported.skipped:
        click.echo(f"skipped  {skipped}", err=True)
    for miss in imported.near_misses:
        click.echo(f"near miss  {miss}", err=True)
    for notice in imported.notices:
        click.echo(f"note: {notice}", err=True)


def _dry_run(notes: Path, layout: str | None, options: ReadOptions) -> None:
    from interviewer.bank.importer import import_source

    imported = import_source(notes.expanduser(), layout, options)
    for question in imported.bank.questions:
        entry = imported.entries[question.id]
        where = f"{entry.source}:" if entry.source else ""
        answer = " ".join(question.reference_answer.split())
        shown = answer if len(answer) <= 60 else answer[:59] + "…"
        click.echo(f"{where}{entry.line:<5} {question.question}\n        -> {shown}")
    _echo_problems(imported)
    count = len(imported.bank.questions)
    click.echo(
        f"Dry run: {count} question{'s' if count != 1 else ''} would be imported from "
        f"{imported.source} ({imported.layout} layout), {len(imported.skipped)} skipped; "
        "nothing was written."
    )


@bank.command("import")
@click.argument("notes", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="The bank folder to write (default: NOTES-bank in the current folder, named after "
    "the notes file).",
)
@click.option(
    "--format",
    "layout",
    type=click.Choice(FORMAT_CHOICES),
    default="auto",
    show_default=True,
    help="The notes' layout or the file's format (auto: detected from the name and content).",
)
@click.option(
    "--columns",
    metavar="QUESTION,ANSWER",
    help="CSV/TSV: the question and answer columns, by header name or 1-based number "
    "(default: the columns named Question/Answer, Front/Back ...).",
)
@click.option(
    "--keys",
    metavar="QUESTION,ANSWER",
    help="JSON: the keys of the question and the answer (default: question/answer, "
    "prompt/response, reference_answer ...).",
)
@click.option(
    "--questions-from-headings",
    "from_headings",
    is_flag=True,
    help="Read every heading with text under it, at the levels where headings ask, as a "
    "question (for headings that ask without '?' or a request word).",
)
@click.option("--dry-run", is_flag=True, help="List what would be imported and why; write nothing.")
@click.option("--force", is_flag=True, help="Replace the bank in an existing output folder.")
@click.option(
    "--rules",
    is_flag=True,
    help="Draft the key points by rule only, even where a GPU could run the default model.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Merge key points the evidence signal cannot tell apart (loads the embedding model; "
    "a model draft always does).",
)
@_model_options
def bank_import(
    notes: Path,
    output: Path | None,
    layout: str,
    columns: str | None,
    keys: str | None,
    from_headings: bool,
    dry_run: bool,
    force: bool,
    rules: bool,
    check: bool,
    **model_flags: Any,
) -> None:
    """Import questions and answers as a bank: a notes file (Markdown or text), a CSV or TSV
    spreadsheet, JSON or JSON Lines, an Anki deck (.apkg or its plain-text export), or a
    folder of such files (one bank).

    The notes layout is detected: headings, bold question lines (with emoji or difficulty
    markers), <details> blocks, Q:/A: pairs, course pages, numbered lists, question tables, or
    several of them in one file. Each answer becomes the reference answer, word for word; a
    placeholder ("Answer here", "TODO") is skipped and listed, and lines that look like
    questions but were not read as one are listed with why. Key points, keywords and weights
    are drafted from each answer's structure, by rule (instant) or, with --model (or the
    default model where a GPU is there), by the model and then checked against the answer.
    """
    chosen = None if layout == "auto" else layout
    options = _options(columns, keys, from_headings)
    if dry_run:
        _dry_run(notes, chosen, options)
        return
    from interviewer.session import import_notes_bank

    settings = _load_settings(**model_flags)
    target = output or Path(f"{notes.stem or notes.name or 'notes'}-bank")
    result = import_notes_bank(
        settings,
        notes,
        target,
        layout=chosen,
        options=options,
        force=force,
        rules=rules,
        model_given=model_flags.get("model") is not None,
        check=check,
        on_status=_status,
    )
    reports = {r.question_id: r for r in result.reports}
    for question in result.bank.questions:
        line = (
            f"ok  {question.id}: {len(question.key_points)} key points, "
            f"{len(question.misconceptions)} misconceptions"
        )
        report = reports.get(question.id)
        detail = report.describe() if report is not None else ""
        click.echo(f"{line} ({detail})" if detail and detail != "rule-based" else line)
    if result.imported is not None:
        _echo_problems(result.imported)
    for notice in result.notices:
        click.echo(f"note: {notice}", err=True)
    count = len(result.bank.questions)
    click.echo(
        f"Wrote {result.folder}: bank '{result.bank.id}' with {count} question"
        f"{'s' if count != 1 else ''} ({result.layout} layout). Check it with `interviewer bank "
        f"check --strict {result.folder}`; practise with `interviewer run --bank "
        f"{result.folder}`."
    )
