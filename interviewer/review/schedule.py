"""What to practise when: the questions due now, and a plan that aims at an interview date.

:func:`due_questions` picks a review session: the questions with key points due, most overdue
first. :func:`study_plan` spreads practice over the days before a date so that every key point
missed so far is asked at least twice after its last miss (a new miss asks for two more), the
two asks of a question days apart, and every point the scheduler makes due before the date is
asked on its due day. Both read the memory only (:mod:`interviewer.review.memory`); asking a
question asks all its key points, so the plan schedules questions and names the points that
put each one there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from interviewer.bank.models import Bank, Question
from interviewer.review.memory import Memory, PointMemory

DEFAULT_QUESTIONS = 3
"""Questions in a review session, and the daily load a plan aims at."""

ASKS_AFTER_A_MISS = 2
"""How many times a missed point is asked again before the interview date."""


# ----------------------------------------------------------------------------- due now


@dataclass(frozen=True)
class DueQuestion:
    """A question with key points due for review, the most overdue first."""

    question: Question
    points: list[PointMemory]

    @property
    def since(self) -> datetime:
        """When its most overdue point fell due."""
        return self.points[0].due


def due_questions(
    memory: Memory, bank: Bank, now: datetime, limit: int | None = DEFAULT_QUESTIONS
) -> list[DueQuestion]:
    """The questions of ``bank`` with key points due at ``now``: the one whose point has been
    due longest first (then the one with more points due, then bank order); ``limit`` at most
    (None: all)."""
    found: list[tuple[datetime, int, int, DueQuestion]] = []
    for order, question in enumerate(bank.questions):
        due = sorted(
            (
                m
                for p in question.key_points
                if (m := memory.get(bank.id, question.id, p.id)) is not None and m.due <= now
            ),
            key=lambda m: (m.due, m.key_point_id),
        )
        if due:
            found.append((due[0].due, -len(due), order, DueQuestion(question, due)))
    found.sort(key=lambda item: item[:3])
    chosen = [item[3] for item in found]
    return chosen if limit is None else chosen[:limit]


def next_due(memory: Memory, bank: Bank) -> datetime | None:
    """When the next key point of ``bank`` falls due (None: nothing has been reviewed)."""
    return min((m.due for m in memory.of_bank(bank)), default=None)


# ----------------------------------------------------------------------------- a plan

Why = Literal["missed", "due"]


@dataclass(frozen=True)
class PlannedPoint:
    key_point_id: str
    statement: str
    why: Why
    """missed: asked again after a miss; due: the scheduler makes it due that day."""


@dataclass(frozen=True)
class PlannedQuestion:
    question_id: str
    title: str
    points: list[PlannedPoint]
    times: int = 1
    """2 when a single day is left for two asks (two sittings that day)."""

    @property
    def focus(self) -> list[str]:
        return [p.key_point_id for p in self.points]


@dataclass(frozen=True)
class StudyDay:
    day: date
    questions: list[PlannedQuestion] = field(default_factory=list)


@dataclass(frozen=True)
class StudyPlan:
    bank_id: str
    today: date
    until: date
    """The interview date; the plan fills the days before it."""
    per_day: int
    days: list[StudyDay]

    @property
    def busiest(self) -> int:
        return max((len(d.questions) for d in self.days), default=0)

    def asks(self, question_id: str, key_point_id: str) -> list[date]:
        """The days the plan asks this point on."""
        return [
            d.day
            for d in self.days
            for q in d.questions
            if q.question_id == question_id and key_point_id in q.focus
            for _ in range(q.times)
        ]


class PlanError(ValueError):
    """The date leaves no day to practise on."""


def study_plan(
    memory: Memory,
    bank: Bank,
    now: datetime,
    until: date,
    per_day: int = DEFAULT_QUESTIONS,
) -> StudyPlan:
    """The days from ``now``'s date up to the day before ``until`` (see the module docstring).

    Questions are placed most overdue first, each ask on the least busy day of its window (the
    first ask in the first half of the days left, the second at least half the days later),
    so the load stays near ``per_day`` (it goes over it only when the date leaves too few
    days; :attr:`StudyPlan.busiest` says so)."""
    today = now.date()
    days = (until - today).days
    if days < 1:
        raise PlanError(f"{until} leaves no day to practise before it (today is {today})")
    load = [0] * days
    planned: dict[int, dict[str, dict[str, Why]]] = {d: {} for d in range(days)}
    times: dict[tuple[int, str], int] = {}
    order = {q.id: i for i, q in enumerate(bank.questions)}

    def place(day: int, question: Question, points: dict[str, Why], count: int = 1) -> None:
        if question.id not in planned[day]:
            planned[day][question.id] = {}
        load[day] += count
        times[day, question.id] = times.get((day, question.id), 0) + count
        for point_id, why in points.items():
            planned[day][question.id].setdefault(point_id, why)

    def quietest(first: int, last: int) -> int:
        return min(range(first, last + 1), key=lambda d: (load[d], d))

    # Missed points: each question as often as its neediest point still needs.
    needy: list[tuple[datetime, int, int, Question, dict[str, Why], int, bool]] = []
    for question in bank.questions:
        points: dict[str, Why] = {}
        need = 0
        soonest: datetime | None = None
        today_seen = False
        for point in question.key_points:
            m = memory.get(bank.id, question.id, point.id)
            if m is None or m.misses == 0:
                continue
            still = max(0, ASKS_AFTER_A_MISS - m.since_missed)
            if still == 0:
                continue
            points[point.id] = "missed"
            need = max(need, still)
            soonest = m.due if soonest is None else min(soonest, m.due)
            reviewed = m.last_reviewed
            today_seen |= reviewed is not None and reviewed.astimezone(now.tzinfo).date() == today
        if points and soonest is not None:
            needy.append(
                (soonest, -len(points), order[question.id], question, points, need, today_seen)
            )
    needy.sort(key=lambda item: item[:3])
    for _, _, _, question, points, need, today_seen in needy:
        # Just practised today: start tomorrow, when the days left allow it.
        start = 1 if today_seen and days - 1 >= need else 0
        span = days - start
        if need >= 2 and span >= 2:
            first = quietest(start, start + math.ceil(span / 2) - 1)
            gap = max(1, span // 2)
            second = quietest(min(first + gap, days - 1), days - 1)
            place(first, question, points)
            place(second, question, points)
        elif need >= 2:  # one day left: twice that day (two sittings)
            place(start, question, points, count=2)
        else:
            place(quietest(start, days - 1), question, points)

    # Points the scheduler makes due before the date: on their due day (today when overdue).
    for question in bank.questions:
        for point in question.key_points:
            m = memory.get(bank.id, question.id, point.id)
            if m is None:
                continue
            day = max(0, (m.due.astimezone(now.tzinfo).date() - today).days)
            if day >= days:
                continue
            if any(point.id in planned[d].get(question.id, {}) for d in range(day, days)):
                continue  # asked on or after its due day already
            if question.id in planned[day]:  # asked that day anyway: the point joins it
                planned[day][question.id].setdefault(point.id, "due")
            else:
                place(day, question, {point.id: "due"})

    out = []
    for d in range(days):
        questions = []
        for question_id in planned[d]:  # in the order placed: the most urgent first
            question = bank.question(question_id)
            statements = question.key_points_by_id
            questions.append(
                PlannedQuestion(
                    question.id,
                    question.title,
                    [
                        PlannedPoint(pid, statements[pid].statement, why)
                        for pid, why in planned[d][question_id].items()
                    ],
                    times[d, question_id],
                )
            )
        out.append(StudyDay(today + timedelta(days=d), questions))
    return StudyPlan(bank.id, today, until, per_day, out)
