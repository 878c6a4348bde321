"""``sessions``, ``stats``, ``export`` and ``schema``: what the store holds, read back."""

from __future__ import annotations

import json
from pathlib import Path

import click

from interviewer.cli import _bank_option, _fail, _load_settings, cli


@cli.command()
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--unfinished", is_flag=True, help="Only the sessions that can be resumed.")
def sessions(limit: int, unfinished: bool) -> None:
    """List past sessions, newest first."""
    from interviewer.report.stats import sessions_table
    from interviewer.session import open_store

    settings = _load_settings()
    if not settings.store_path.is_file():
        click.echo(f"No sessions yet (they are stored in {settings.store_path}).")
        return
    store = open_store(settings)
    found = store.unfinished() if unfinished else store.list_sessions()
    if not found:
        click.echo("No unfinished sessions." if unfinished else "No sessions yet.")
        return
    click.echo(sessions_table(found[:limit]))
    if len(found) > limit:
        click.echo(f"... and {len(found) - limit} older (--limit N shows more)")
    if any(s.status == "in_progress" for s in found[:limit]):
        click.echo("\nUnfinished sessions continue with `interviewer resume ID`.")


@cli.command()
@_bank_option("Bank for statements.")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True)
def stats(bank_dir: Path | None, top: int) -> None:
    """Progress over time: per session, per question, and the key points you keep missing."""
    from interviewer.report.stats import render_stats, session_stats
    from interviewer.session import find_session_bank, open_store

    settings = _load_settings()
    if not settings.store_path.is_file():
        click.echo(f"No sessions yet (they are stored in {settings.store_path}).")
        return
    store = open_store(settings)
    transcripts = store.transcripts()
    summaries = {s.bank_id: s for s in reversed(store.list_sessions())}
    if not transcripts:
        click.echo("No sessions yet.")
        return
    for i, bank_stats in enumerate(session_stats(transcripts)):
        bank = find_session_bank(summaries[bank_stats.bank_id], bank_dir)[0]
        if i:
            click.echo("")
        click.echo(render_stats(bank_stats, bank, top=top), nl=False)


@cli.command()
@click.argument("session_id", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "html"]),
    help="Report format (default: from the -o suffix, else md).",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write here (default: stdout)."
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@_bank_option("The session's bank.")
def export(
    session_id: str | None,
    fmt: str | None,
    output: Path | None,
    force: bool,
    bank_dir: Path | None,
) -> None:
    """Write a session's report as Markdown, JSON or HTML (default: the latest session)."""
    from interviewer.report import render, write_report
    from interviewer.session import find_session, find_session_bank, open_store

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = {"md": "md", "markdown": "md", "json": "json", "html": "html", "htm": "html"}.get(
            suffix, "md"
        )
    settings = _load_settings()
    store = open_store(settings, must_exist=True)
    summary = find_session(store, session_id)
    transcript = store.load_transcript(summary.id)
    bank = None
    if fmt != "json":
        bank = find_session_bank(summary, bank_dir)[0]
        if bank is None:
            click.echo(
                f"Warning: the bank '{summary.bank_id}' was not found; the report shows key "
                "point ids without reference answers (pass --bank DIR).",
                err=True,
            )
    text = render(transcript, bank, fmt)  # type: ignore[arg-type]
    if output is None:
        click.echo(text, nl=False)
        return
    written = write_report(text, output, force=force)
    click.echo(f"Wrote the {fmt} report of session {summary.id} to {written}", err=True)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of exported transcripts."""
    from interviewer.transcript import transcript_json_schema

    click.echo(json.dumps(transcript_json_schema(), indent=2))


__all__ = ["_fail", "export", "schema", "sessions", "stats"]
