"""Review sessions and study plans: the spaced-repetition memory turned into an interview.

:func:`plan_review` is a new kind of :class:`~interviewer.session.plan.SessionPlan`: the same
bank, grader and store as a new interview, narrowed to the questions due (most overdue first),
with each question's due key points as the interview's focus (the follow-up budget goes to
those first when they are missed again). :func:`review_memory` brings the memory up to date
from the store, finding each session's bank as every other command does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

from interviewer.bank import Bank
from interviewer.config import Settings
from interviewer.review import (
    DEFAULT_QUESTIONS,
    Memory,
    PlanError,
    StudyPlan,
    due_questions,
    forget_memory,
    next_due,
    study_plan,
    sync_memory,
)
from interviewer.session.banks import find_session_bank
from interviewer.session.errors import SessionError
from interviewer.session.plan import SessionPlan, plan_interview
from interviewer.session.stores import find_session
from interviewer.store import SessionStore, SessionSummary, StoreError
from interviewer.transcript import Transcript


@dataclass(frozen=True)
class ReviewRequest:
    """What ``interviewer review`` (or the start screen's review) asks for."""

    max_questions: int | None = None
    """At most this many questions (default 3; with ``until``, today's share of the plan)."""
    until: date | None = None
    """Follow the plan aimed at this interview date: today's questions from it."""


def bank_finder(settings: Settings) -> Callable[[SessionSummary], Bank | None]:
    """How the memory finds a stored session's bank: the folder it came from, else the
    built-in bank (as ``export`` and ``regrade`` find it)."""

    def find(summary: SessionSummary) -> Bank | None:
        return find_session_bank(summary, None, settings)[0]

    return find


def review_memory(settings: Settings, store: SessionStore) -> Memory:
    """The memory of every finished session in ``store``, brought up to date (a rebuild the
    first time a database from before it is read, or after a regrade)."""
    return sync_memory(store, bank_finder(settings))


def sessions_with_banks(
    settings: Settings,
    store: SessionStore,
    session_id: str | None = None,
    *,
    every: bool = False,
    bank_dir: Path | None = None,
) -> list[tuple[Transcript, Bank | None]]:
    """Stored sessions (with their regrades) and their banks: ``session_id`` (default: the
    latest), or with ``every`` all of them (``export --missed``)."""
    summaries = store.list_sessions() if every else [find_session(store, session_id)]
    banks: dict[tuple[str, str | None], Bank | None] = {}
    found = []
    for summary in summaries:
        if summary.damaged:
            continue
        key = (summary.bank_id, summary.bank_path)
        if key not in banks:
            banks[key] = find_session_bank(summary, bank_dir, settings)[0]
        found.append((store.load_transcript(summary.id), banks[key]))
    return found


def refresh_memory(settings: Settings, store: SessionStore) -> None:
    """After a regrade: the memory is rebuilt with the new verdicts in place of the old.
    Best effort (the next read rebuilds it anyway)."""
    try:
        forget_memory(store)
        review_memory(settings, store)
    except StoreError:
        pass


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone()


def plan_review(
    settings: Settings,
    store: SessionStore | None,
    request: ReviewRequest | None = None,
    *,
    now: datetime | None = None,
) -> SessionPlan:
    """A review interview of ``settings.bank`` (default: the built-in bank): the questions
    with key points due at ``now``, most overdue first, or with ``request.until`` the ones the
    study plan puts on today.

    Raises :class:`SessionError` when there is nothing to review yet, or no store to read."""
    request = request or ReviewRequest()
    if store is None:
        raise SessionError(
            "a review needs the session store (it reads what you missed before)",
            "run without --no-save",
        )
    base = plan_interview(settings, store)
    bank = base.bank
    memory = review_memory(settings, store)
    moment = _now(now)
    if request.until is not None:
        per_day = request.max_questions or DEFAULT_QUESTIONS
        try:
            today = study_plan(memory, bank, moment, request.until, per_day).days[0]
        except PlanError as exc:
            raise SessionError(str(exc), "give a date after today") from exc
        chosen = [(bank.question(q.question_id), q.focus) for q in today.questions]
        if request.max_questions is not None:
            chosen = chosen[: request.max_questions]
        when = f"for today in the plan until {request.until}"
    else:
        limit = request.max_questions or DEFAULT_QUESTIONS
        chosen = [
            (due.question, [m.key_point_id for m in due.points])
            for due in due_questions(memory, bank, moment, limit)
        ]
        when = "now"
    if not chosen:
        upcoming = next_due(memory, bank)
        if upcoming is None:
            raise SessionError(
                f"nothing to review in '{bank.title}' yet: no finished interview on it",
                "take an interview first (`interviewer run`); what you miss comes back here",
            )
        raise SessionError(
            f"nothing in '{bank.title}' is due {when}; the next key point is due "
            f"{upcoming.astimezone():%Y-%m-%d %H:%M}",
            "come back then, or practise anything with `interviewer run`",
        )
    reviewed = bank.model_copy(
        update={
            "title": f"{bank.title} (review)",
            "questions": tuple(question for question, _ in chosen),
        }
    )
    return replace(base, bank=reviewed, focus={q.id: list(points) for q, points in chosen})


def due_now(
    settings: Settings, store: SessionStore, *, now: datetime | None = None
) -> tuple[int, int]:
    """How many questions of ``settings.bank`` have key points due, and how many points (the
    start screen's offer to review). Raises :class:`SessionError` or :class:`StoreError`."""
    bank = plan_interview(settings, store).bank
    due = due_questions(review_memory(settings, store), bank, _now(now), limit=None)
    return len(due), sum(len(d.points) for d in due)


def plan_study(
    settings: Settings,
    store: SessionStore,
    until: date,
    *,
    per_day: int = DEFAULT_QUESTIONS,
    now: datetime | None = None,
) -> tuple[Bank, StudyPlan]:
    """The study plan up to ``until`` for ``settings.bank`` (``interviewer plan``)."""
    bank = plan_interview(settings, store).bank
    memory = review_memory(settings, store)
    try:
        return bank, study_plan(memory, bank, _now(now), until, per_day)
    except PlanError as exc:
        raise SessionError(str(exc), "give a date after today") from exc


def render_plan(bank: Bank, plan: StudyPlan) -> str:
    """``interviewer plan`` as text: per day, the questions and the key points they are for."""
    days = len(plan.days)
    missed = {
        (q.question_id, p.key_point_id)
        for d in plan.days
        for q in d.questions
        for p in q.points
        if p.why == "missed"
    }
    lines = [
        f"Study plan for '{bank.title}' until {plan.until} ({days} day{'s' * (days != 1)} "
        f"left; every missed key point asked twice, {len(missed)} of them):",
    ]
    if not any(d.questions for d in plan.days):
        lines.append("  nothing to practise: no key point was missed, and none falls due")
    for day in plan.days:
        if not day.questions:
            continue
        label = "today" if day.day == plan.today else f"{day.day:%a %Y-%m-%d}"
        lines.append("")
        lines.append(f"{label}: {len(day.questions)} question(s)")
        for question in day.questions:
            twice = " (twice: two sittings)" if question.times > 1 else ""
            lines.append(f"  {question.title} [{question.question_id}]{twice}")
            for point in question.points:
                statement = point.statement
                if len(statement) > 80:
                    statement = statement[:79] + "…"
                lines.append(f"    - {point.why}: {point.key_point_id}: {statement}")
    if plan.busiest > plan.per_day:
        lines += [
            "",
            f"Some days hold {plan.busiest} questions (more than {plan.per_day}): the date "
            "leaves few days for everything missed.",
        ]
    lines += ["", f"Each day: `interviewer review --until {plan.until}` asks that day's questions."]
    return "\n".join(lines) + "\n"


__all__ = [
    "ReviewRequest",
    "bank_finder",
    "due_now",
    "plan_review",
    "plan_study",
    "refresh_memory",
    "render_plan",
    "review_memory",
    "sessions_with_banks",
]
