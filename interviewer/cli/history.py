"""``sessions``, ``stats``, ``export`` and ``schema``: what the store holds, read back (``export
--format anki`` makes an Anki deck of the key points missed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from interviewer.cli import _bank_option, _fail, _load_settings, cli

if TYPE_CHECKING:
    from interviewer.config import Settings
    from interviewer.store import SessionStore


@cli.command()
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--unfinished", is_flag=True, help="Only the sessions that can be resumed.")
@click.option(
    "--check", is_flag=True, help="Also read every page of the database (PRAGMA integrity_check)."
)
def sessions(limit: int, unfinished: bool, check: bool = False) -> None:
    """List past sessions, newest first."""
    from interviewer.report.stats import sessions_table
    from interviewer.session import SessionError, open_store

    settings = _load_settings()
    try:  # sessions kept in recovery files (the store could not write) are brought in
        store = open_store(settings, must_exist=True, on_import=lambda text: click.echo(text))
    except SessionError:
        click.echo(f"No sessions yet (they are stored in {settings.store_path}).")
        return
    if check:
        from interviewer.store import StoreError, store_hint

        problems = store.integrity()
        if problems:
            raise StoreError(
                f"{store.path} is damaged: {'; '.join(problems[:3])}",
                store_hint(store.path, StoreError("damaged")),
            )
        click.echo(f"{store.path}: every page reads back (integrity_check: ok).")
    found = store.unfinished() if unfinished else store.list_sessions()
    if not found:
        click.echo("No unfinished sessions." if unfinished else "No sessions yet.")
        return
    click.echo(sessions_table(found[:limit]))
    if len(found) > limit:
        click.echo(f"... and {len(found) - limit} older (--limit N shows more)")
    damaged = [s.id for s in found[:limit] if s.damaged]
    if damaged:
        click.echo(
            f"\nThe stored transcript of {', '.join(damaged)} cannot be read (the database file "
            "was damaged); `interviewer sessions --check` reads every page."
        )
    if any(s.status == "in_progress" for s in found[:limit]):
        click.echo("\nUnfinished sessions continue with `interviewer resume ID`.")


@cli.command()
@_bank_option("Bank for statements.")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True)
def stats(bank_dir: Path | None, top: int) -> None:
    """Progress over time: per session, per question, the key points you keep missing, and
    each key point's review state (due, learning, learned)."""
    from interviewer.report.stats import render_stats, session_stats
    from interviewer.session import find_session_bank, open_store, review_memory

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
    memory = review_memory(settings, store)
    for i, bank_stats in enumerate(session_stats(transcripts)):
        bank = find_session_bank(summaries[bank_stats.bank_id], bank_dir, settings)[0]
        if i:
            click.echo("")
        click.echo(render_stats(bank_stats, bank, top=top, memory=memory), nl=False)


@cli.command()
@click.argument("session_id", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "html", "anki"]),
    help="Report format (default: from the -o suffix, else md); anki: a deck (.apkg) of the "
    "key points missed.",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write here (default: stdout)."
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option(
    "--missed",
    is_flag=True,
    help="With anki: every key point missed in any session (not one session's).",
)
@_bank_option("The session's bank.")
def export(
    session_id: str | None,
    fmt: str | None,
    output: Path | None,
    force: bool,
    missed: bool,
    bank_dir: Path | None,
) -> None:
    """Write a session's report as Markdown, JSON or HTML (default: the latest session), or an
    Anki deck of the key points missed (--format anki -o deck.apkg; --missed: in any session).

    Anki notes keep their ids (bank, question and key point), so exporting again updates the
    cards already imported instead of adding copies."""
    from interviewer.report import write_report
    from interviewer.session import open_store, session_report

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = {
            "md": "md",
            "markdown": "md",
            "json": "json",
            "html": "html",
            "htm": "html",
            "apkg": "anki",
        }.get(suffix, "anki" if missed else "md")
    if missed and fmt != "anki":
        _fail("--missed is for Anki decks", "add --format anki -o deck.apkg")
    if missed and session_id is not None:
        _fail("--missed takes every session; it cannot be given a session id", "drop the id")
    settings = _load_settings()
    store = open_store(settings, must_exist=True)
    if fmt == "anki":
        _export_anki(settings, store, session_id, output, force, missed, bank_dir)
        return
    report = session_report(settings, store, fmt, session_id=session_id, bank_dir=bank_dir)  # type: ignore[arg-type]
    if report.missing_bank is not None:
        click.echo(
            f"Warning: the bank '{report.missing_bank}' was not found; the report shows key "
            "point ids without reference answers (pass --bank DIR).",
            err=True,
        )
    text = report.text
    if output is None:
        click.echo(text, nl=False)
        return
    written = write_report(text, output, force=force)
    click.echo(f"Wrote the {fmt} report of session {report.session_id} to {written}", err=True)


def _export_anki(
    settings: Settings,
    store: SessionStore,
    session_id: str | None,
    output: Path | None,
    force: bool,
    every: bool,
    bank_dir: Path | None,
) -> None:
    from interviewer.report import write_report
    from interviewer.report.anki import anki_deck_bytes, missed_points
    from interviewer.session import sessions_with_banks

    if output is None:
        _fail("an Anki deck is a file", "give -o deck.apkg")
    sessions = sessions_with_banks(settings, store, session_id, every=every, bank_dir=bank_dir)
    points, left_out = missed_points(sessions)
    if left_out:
        click.echo(
            f"Warning: {left_out} missed key point(s) left out: their bank was not found "
            "(pass --bank DIR).",
            err=True,
        )
    if not points:
        where = "in any session" if every else f"in session {sessions[0][0].session_id}"
        click.echo(f"No key point was missed {where}: no deck written.", err=True)
        return
    written = write_report(anki_deck_bytes(points), output, force=force)
    where = "every session" if every else f"session {sessions[0][0].session_id}"
    click.echo(
        f"Wrote {len(points)} note(s), one per key point missed in {where}, to {written} "
        "(importing it again updates these notes).",
        err=True,
    )


@cli.command()
def schema() -> None:
    """Print the JSON Schema of exported transcripts."""
    from interviewer.transcript import transcript_json_schema

    click.echo(json.dumps(transcript_json_schema(), indent=2))


__all__ = ["_fail", "export", "schema", "sessions", "stats"]
