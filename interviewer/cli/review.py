"""``review`` and ``plan``: what you missed, asked again on a schedule (the session layer's
:func:`~interviewer.session.plan_review` and :func:`~interviewer.session.plan_study`)."""

from __future__ import annotations

from datetime import date, datetime
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
    cli,
)
from interviewer.cli.interview import (
    _audio_replies,
    _check_reply_flags,
    _drive,
    _open,
    _session_options,
    _typed_replies,
)

if TYPE_CHECKING:
    from interviewer.session import ReplySource

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@cli.command()
@_bank_option("The bank to review (default: the built-in one).")
@click.option(
    "--max",
    "max_questions",
    type=click.IntRange(1, 50),
    help="At most this many questions (default 3; with --until, today's share of the plan).",
)
@click.option(
    "--until",
    type=_DATE,
    help="Your interview date (YYYY-MM-DD): ask today's questions of the plan that gets every "
    "missed key point asked twice before it (`interviewer plan --until` shows it).",
)
@click.option(
    "--mode",
    type=click.Choice(["practice", "exam"]),
    help="Feedback after each question (practice, the default: /retry works) or at the end.",
)
@click.option(
    "--max-follow-ups",
    type=click.IntRange(0, 5),
    help="Follow-up questions per question (default 2); they go to the points due first.",
)
@_model_options
@_grader_option(GRADER_HELP)
@_session_options("Headless: JSON file of the candidate's replies.")
@click.option("--plain", is_flag=True, help="A line-by-line conversation instead of the TUI.")
def review(
    bank_dir: Path | None = None,
    max_questions: int | None = None,
    until: datetime | None = None,
    mode: str | None = None,
    max_follow_ups: int | None = None,
    grader: str | None = None,
    headless: bool = False,
    plain: bool = False,
    answers_file: Path | None = None,
    answers_audio: Path | None = None,
    export_path: Path | None = None,
    **model_flags: Any,
) -> None:
    """An interview of the questions whose key points are due for review, most overdue first.

    What you missed comes back on a spaced-repetition schedule (FSRS): covered points return
    after longer and longer intervals, missed ones the next day. Follow-ups probe the points
    that are due first when you miss them again.
    """
    from interviewer.headless import load_answers, scripted_replies
    from interviewer.session import ReviewRequest, open_store, plan_interview, plan_review

    settings = _load_settings(
        bank=bank_dir, mode=mode, max_follow_ups=max_follow_ups, grader=grader, **model_flags
    )
    if not settings.save:
        _fail("a review needs the session store (saving is off)", "unset INTERVIEWER_SAVE")
    _check_reply_flags(headless, answers_file, export_path, answers_audio)
    request = ReviewRequest(max_questions=max_questions, until=_day(until))
    if not headless and not plain and _interactive():
        from interviewer.tui.app import create_app

        create_app(settings, start_now=True, review=request).run()
        return
    plan = plan_review(settings, open_store(settings), request)
    replies: ReplySource | None = None
    whole = plan_interview(settings, None).bank  # files made for the whole bank work here too
    if answers_file is not None:
        replies = scripted_replies(load_answers(answers_file, whole))
    elif answers_audio is not None:
        replies = _audio_replies(plan, answers_audio, whole)
    chosen = ", ".join(q.title for q in plan.bank.questions)
    click.echo(f"Review: {len(plan.bank.questions)} question(s) due: {chosen}", err=True)
    session = _open(plan)
    _drive(session, replies or _typed_replies(session), export_path)


@cli.command()
@click.option(
    "--until",
    type=_DATE,
    required=True,
    help="Your interview date (YYYY-MM-DD); the plan fills the days before it.",
)
@click.option(
    "--per-day",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    help="Questions a day the plan aims at.",
)
@_bank_option("The bank to plan for (default: the built-in one).")
def plan(until: datetime, per_day: int, bank_dir: Path | None) -> None:
    """Print a study plan up to an interview date, without starting anything: per day, which
    questions and which key points. Every key point missed so far is asked at least twice
    before the date (days apart), and each point the schedule makes due comes on its day."""
    from interviewer.session import open_store, plan_study, render_plan

    settings = _load_settings(bank=bank_dir)
    store = open_store(settings, must_exist=True)
    bank, study = plan_study(settings, store, until.date(), per_day=per_day)
    click.echo(render_plan(bank, study), nl=False)


__all__ = ["plan", "review"]
