"""``run``, ``resume`` and ``regrade``: each parses its flags and calls the session layer."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from interviewer.cli import (
    GRADER_HELP,
    _bank_option,
    _fail,
    _grader_option,
    _interactive,
    _load_settings,
    _model_options,
    _status,
    cli,
)
from interviewer.textutil import strip_control

if TYPE_CHECKING:
    from interviewer.session import ReplySource, Session, SessionPlan


def _session_options(answers_help: str) -> Callable[[Any], Any]:
    """--headless, --answers and --export: shared by `run` and `resume`."""
    options = [
        click.option(
            "--headless", is_flag=True, help="No interaction: replies come from --answers."
        ),
        click.option(
            "--answers", "answers_file", type=click.Path(path_type=Path), help=answers_help
        ),
        click.option(
            "--export",
            "export_path",
            type=click.Path(path_type=Path),
            help="Write the transcript JSON here.",
        ),
    ]

    def decorate(command: Any) -> Any:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _check_reply_flags(
    headless: bool, answers_file: Path | None, export_path: Path | None = None
) -> None:
    """The flags of `run`, `resume` and `review` that must agree, checked before anything
    loads: --headless with --answers, and an --export folder that exists."""
    if headless and answers_file is None:
        _fail("--headless needs --answers FILE", 'write {"answers": {"<question-id>": ["..."]}}')
    if answers_file is not None and not headless:
        _fail("--answers is for headless runs", "add --headless")
    if export_path is not None and not export_path.expanduser().parent.is_dir():
        _fail(f"{export_path}: the folder {export_path.parent} does not exist", "create it first")


def _file_replies(plan: SessionPlan, answers_file: Path) -> ReplySource:
    """Replies from the answers file; a resumed session skips the ones already given."""
    from interviewer.headless import load_answers, replies_given, scripted_replies

    given = replies_given(plan.snapshot.turns) if plan.snapshot is not None else None
    return scripted_replies(load_answers(answers_file, plan.bank), given)


def _typed_replies(session: Session) -> ReplySource:
    """Replies typed at the terminal, each kept in the store line by line until it is sent
    (and the one left unsent by an interrupted session offered again)."""
    from interviewer.headless import terminal_replies

    if session.recorder is None:
        return terminal_replies()

    def warn(exc: Any) -> None:
        click.echo(f"warning: your typing is not being saved: {exc}. {exc.hint}", err=True)

    return terminal_replies(
        keep=lambda text: session.save_draft(text, warn), restored=session.draft()
    )


def _test_delay_hook() -> Callable[[], None] | None:
    """Test-only: INTERVIEWER_TEST_DELAY_AFTER_TURN=SECONDS sleeps after each recorded turn.

    The crash test uses it to kill a run mid-session at a predictable pace. Not a setting.
    """
    raw = os.environ.get("INTERVIEWER_TEST_DELAY_AFTER_TURN")
    if not raw:
        return None
    import time

    seconds = float(raw)
    return lambda: time.sleep(seconds)


def _open(plan: SessionPlan) -> Session:
    """Load the model and open the session, or a clear exit when the model cannot load."""
    from interviewer.session import open_session

    try:
        session = open_session(plan, on_status=_status, after_turn=_test_delay_hook())
    except KeyboardInterrupt:
        _fail("loading was interrupted")
    session.on_notice = _notice
    return session


def _notice(text: str) -> None:
    """Where the answers go when the store cannot take them: said once, on stderr, set apart
    from the conversation."""
    click.echo(f"\n*** {text}\n", err=True)


def _drive(session: Session, replies: ReplySource, export_path: Path | None) -> None:
    """Run the interview to its end, record it, and say where it went."""
    from interviewer.headless import EventPrinter
    from interviewer.llm.base import ModelError
    from interviewer.store import StoreError

    saved = session.recorder is not None
    try:
        session.run(replies, EventPrinter(sys.stdout), export=export_path)
    except ModelError as exc:
        where = f" The transcript so far is in {export_path}." if export_path else ""
        if saved:
            where += f" Continue later with `interviewer resume {session.session_id}`."
        _fail(f"the interview stopped: {exc}.{where}", exc.hint)
    except StoreError as exc:
        _fail(
            f"the session could not be recorded: {exc}",
            exc.hint or "run with --no-save to go on without the session store",
        )
    if export_path is not None:
        click.echo(f"\nTranscript written to {export_path}")
    recorder = session.recorder
    if recorder is not None and recorder.degraded:
        sid = session.session_id
        kept = session.recovery_file
        if kept is not None:
            click.echo(
                f"\nSession {sid} is kept in {kept} (the session store could not take it); "
                f"`interviewer resume {sid}` or any command that opens a working store brings "
                "it back."
            )
        else:
            click.echo(f"\nSession {sid} could not be saved anywhere (see the warning above).")
        session.close()
    elif saved:
        sid = session.session_id
        click.echo(
            f"\nSession {sid} saved. Report: `interviewer export {sid} --format html "
            f"-o report.html`; history: `interviewer sessions`."
        )


@cli.command()
@_bank_option(
    "Question bank folder, or a notes file of questions and answers (imported once, cached; "
    "default: the six Hugging Face ecosystem questions)."
)
@click.option(
    "--mode",
    type=click.Choice(["practice", "exam"]),
    help="Feedback after each question (practice) or at the end (exam).",
)
@click.option(
    "--max-follow-ups",
    type=click.IntRange(0, 5),
    help="Follow-up questions per question (default 2).",
)
@_model_options
@_grader_option(GRADER_HELP)
@_session_options("Headless: JSON file of the candidate's replies.")
@click.option("--plain", is_flag=True, help="A line-by-line conversation instead of the TUI.")
@click.option(
    "--no-save",
    "no_save",
    is_flag=True,
    default=None,
    help="Do not record this interview in the session store (it cannot be resumed then).",
)
def run(
    bank_dir: Path | None = None,
    mode: str | None = None,
    max_follow_ups: int | None = None,
    grader: str | None = None,
    headless: bool = False,
    plain: bool = False,
    answers_file: Path | None = None,
    export_path: Path | None = None,
    no_save: bool | None = None,
    **model_flags: Any,
) -> None:
    """Run an interview: the TUI in a terminal, --plain line by line, --headless from a file.

    Every turn is recorded in the session store as it happens: `interviewer resume` continues
    an interrupted session, `interviewer export` writes its report.
    """
    from interviewer.session import open_recording_store, plan_interview, usable_grader

    settings = _load_settings(
        bank=bank_dir,
        mode=mode,
        max_follow_ups=max_follow_ups,
        grader=grader,
        save=False if no_save else None,
        **model_flags,
    )
    _check_reply_flags(headless, answers_file, export_path)
    usable_grader(settings)  # before the TUI starts: the same check it makes

    if not headless and not plain and _interactive():
        from interviewer.tui.app import create_app

        create_app(settings, start_now=True).run()
        return

    plan = plan_interview(settings, None)
    replies = _file_replies(plan, answers_file) if answers_file is not None else None
    if settings.save:  # opened before a long model load; if it cannot be, the answers go to
        store, problem = open_recording_store(settings)  # a recovery file (said at the start)
        plan = replace(plan, store=store, store_problem=problem)
    session = _open(plan)
    _drive(session, replies or _typed_replies(session), export_path)


@cli.command()
@click.argument("session_id", required=False)
@_bank_option("The session's bank.")
@_model_options
@_grader_option("Who grades from here on (default: as the session did).")
@_session_options("Headless: the answers file; replies already given are skipped.")
def resume(
    session_id: str | None = None,
    bank_dir: Path | None = None,
    grader: str | None = None,
    headless: bool = False,
    answers_file: Path | None = None,
    export_path: Path | None = None,
    **model_flags: Any,
) -> None:
    """Continue an interrupted session (default: the latest unfinished one).

    Nothing said before the interruption is lost: a reply that was being graded is graded now.
    The model is the session's own unless --model (or --backend) says otherwise.
    """
    from interviewer.session import open_resume_store, plan_resume

    _check_reply_flags(headless, answers_file, export_path)
    settings = _load_settings(grader=grader, **model_flags)
    # Without a store, a session kept in a recovery file can still go on.
    store, problem = open_resume_store(settings, on_import=_status)
    plan = plan_resume(
        settings,
        store,
        session_id,
        store_problem=problem,
        bank_dir=bank_dir,
        model_given=model_flags.get("model") is not None,
        backend_given=model_flags.get("backend") is not None,
        base_url_given=model_flags.get("base_url") is not None,
    )
    replies = _file_replies(plan, answers_file) if answers_file is not None else None
    session = _open(plan)
    interview = session.interview
    answers = sum(t.role == "candidate" for t in interview.turns)
    source = f" from {plan.recovered.files[0]}" if plan.recovered and plan.recovered.files else ""
    click.echo(
        f"Resuming session {session.session_id}{source}: {answers} replies so far, all kept."
    )
    if replies is None and interview.state == "awaiting_reply":
        current = interview.current_question
        for turn in interview.turns:
            if current is not None and turn.question_id == current.id:
                who = "Interviewer" if turn.role == "interviewer" else "You"
                click.echo(f"\n{who}: {strip_control(turn.text)}")
    _drive(session, replies or _typed_replies(session), export_path)


@cli.command()
@click.argument("session_id", required=False)
@_bank_option("The rubric to use.")
@_model_options
@_grader_option(GRADER_HELP)
def regrade(
    session_id: str | None,
    bank_dir: Path | None,
    grader: str | None,
    **model_flags: Any,
) -> None:
    """Re-score a stored session's answers with another model or the current rubric.

    The new grades are stored beside the old ones; `interviewer export` shows what changed.
    """
    from interviewer.session import open_store, plan_regrade, regrade_summary, run_regrade

    settings = _load_settings(grader=grader, **model_flags)
    plan = plan_regrade(
        settings, open_store(settings, must_exist=True), session_id, bank_dir=bank_dir
    )
    try:
        result = run_regrade(plan, on_status=_status)
    except KeyboardInterrupt:
        _fail("the regrade was interrupted; nothing was stored")
    click.echo(regrade_summary(plan.transcript, result, session_id=plan.summary.id))
    click.echo(f"The report shows what changed: `interviewer export {plan.summary.id}`.")
