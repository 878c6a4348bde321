"""Where the interview stands on each question, and which key point to probe next.

A :class:`QuestionState` is the engine's working record of one attempt at a question: the
replies, the follow-ups asked, the grade and feedback, and (in background grading) what still
waits for the grader. The first attempt holds the later ones (``retakes``, each a
:class:`QuestionState` of its own, graded on its own replies only). It turns into the question's
:class:`~interviewer.transcript.QuestionResult` and, to continue a session later, its
:class:`~interviewer.engine.snapshot.QuestionSnapshot`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from interviewer.bank.models import KeyPoint, Question
from interviewer.engine.grading import merge_verdicts, score_verdicts
from interviewer.engine.prefilter import screen
from interviewer.engine.snapshot import QuestionSnapshot
from interviewer.transcript import VERDICT_RANK, Grade, KeyPointGrade, QuestionResult, Retake


@dataclass
class QuestionState:
    question: Question
    number: int
    status: Literal["answered", "skipped", "not_reached"] = "not_reached"
    answers: list[str] = field(default_factory=list)
    graded_answers: list[str] = field(default_factory=list)
    follow_ups: int = 0
    probed: set[str] = field(default_factory=set)
    grade: Grade | None = None
    grading_error: str | None = None
    feedback: str | None = None
    coach_feedback: str | None = None
    last_prompt: str = ""
    """What the interviewer last asked on this question (the question or a follow-up)."""
    grade_pending: bool = False
    """Background grading: replies were given since the grader last graded this question."""
    finish_pending: bool = False
    """Background grading: closed, but its result and feedback wait for the grade."""
    quick: list[KeyPointGrade] | None = None
    """Background grading: the instant evidence signal on every reply so far."""
    attempt: int = 0
    """0 for the question as first asked; n for its n-th retake."""
    first_turn: int = 0
    """Index of the turn this attempt starts at (a retake's ``/retry``)."""
    retakes: list[QuestionState] = field(default_factory=list)
    """The first attempt's later, fresh attempts (``/retry``), oldest first."""

    @property
    def current_attempt(self) -> QuestionState:
        """The attempt being answered while this question is current: the last retake, if any
        (a finished retake is never current: the interview moves on after it)."""
        return self.retakes[-1] if self.retakes else self

    def start_retake(self, first_turn: int) -> QuestionState:
        """A fresh attempt at this (first-attempt) question: no replies, no grade, the full
        follow-up budget. Nothing carries over, so a retake earns what its own replies earn."""
        retake = QuestionState(
            question=self.question,
            number=self.number,
            attempt=len(self.retakes) + 1,
            first_turn=first_turn,
        )
        retake.last_prompt = self.question.question
        self.retakes.append(retake)
        return retake

    def previous_attempt(self, retake: QuestionState) -> QuestionState:
        """The attempt before ``retake`` (the first answer, or the retake before it)."""
        return self if retake.attempt <= 1 else self.retakes[retake.attempt - 2]

    def retake_result(self) -> Retake:
        return Retake(
            status=self.status,
            first_turn=self.first_turn,
            answers=list(self.answers),
            follow_ups=self.follow_ups,
            grade=self.grade,
            grading_error=self.grading_error,
            score=self.grade.score if self.grade is not None else 0.0,
            feedback=self.feedback,
            coach_feedback=self.coach_feedback,
        )

    def result(self) -> QuestionResult:
        return QuestionResult(
            question_id=self.question.id,
            title=self.question.title,
            rubric_hash=self.question.rubric_hash,
            status=self.status,
            answers=list(self.answers),
            follow_ups=self.follow_ups,
            grade=self.grade,
            grading_error=self.grading_error,
            score=self.grade.score if self.grade is not None else 0.0,
            feedback=self.feedback,
            coach_feedback=self.coach_feedback,
            retakes=[retake.retake_result() for retake in self.retakes],
        )

    def ignored(self) -> list[str]:
        """The sentences of this question's replies cut out as instructions to the grader."""
        return [s for answer in self.answers for s in screen(answer, self.question).ignored]

    def keep_grade(self, latest: list[KeyPointGrade], grader_name: str) -> Grade:
        """Merge ``latest`` into the question's grade (a reply adds credit, never takes it)."""
        previous = self.grade.key_points if self.grade is not None else []
        verdicts = merge_verdicts(previous, latest)
        self.grade = Grade(
            key_points=verdicts,
            score=score_verdicts(self.question, verdicts),
            grader=grader_name,
            ignored=self.ignored(),
        )
        self.grading_error = None
        return self.grade

    def snapshot(self) -> QuestionSnapshot:
        kept = {name: _copied(getattr(self, name)) for name in SNAPSHOT_FIELDS}
        return QuestionSnapshot(
            question_id=self.question.id,
            rubric_hash=self.question.rubric_hash,
            probed=sorted(self.probed),
            retakes=[retake.snapshot() for retake in self.retakes],
            **kept,
        )

    def restore(self, saved: QuestionSnapshot) -> None:
        """Take over what ``saved`` (a snapshot of this question) recorded."""
        for name in SNAPSHOT_FIELDS:
            setattr(self, name, _copied(getattr(saved, name)))
        self.probed = set(saved.probed)
        self.retakes = []
        for number, saved_retake in enumerate(saved.retakes, start=1):
            retake = QuestionState(question=self.question, number=self.number, attempt=number)
            retake.restore(saved_retake)
            self.retakes.append(retake)


SNAPSHOT_FIELDS = tuple(
    sorted(
        {f.name for f in fields(QuestionState)}
        & set(QuestionSnapshot.model_fields)
        - {"probed", "retakes"}  # a set stored as a sorted list; attempts of their own
    )
)
"""What a question's snapshot keeps as it is: every field the two have in common (a field added
to both is kept without another line), less the two that change form."""


def _copied(value: Any) -> Any:
    """Lists copied (the state goes on changing after a snapshot); the rest is immutable."""
    return list(value) if isinstance(value, list) else value


def probe_view(qs: QuestionState, background: bool) -> list[KeyPointGrade]:
    """What the follow-up choice reads: the grader's verdicts, and in background grading
    the instant signal on the newest replies where it sees more (the grader lags one reply
    behind; its doubts still count)."""
    graded = list(qs.grade.key_points) if qs.grade is not None else []
    if not background or qs.quick is None:
        return graded
    by_id = {v.key_point_id: v for v in graded}
    view: list[KeyPointGrade] = []
    for quick in qs.quick:
        before = by_id.get(quick.key_point_id)
        if before is None or VERDICT_RANK[quick.verdict] > VERDICT_RANK[before.verdict]:
            view.append(quick)
        else:
            view.append(before)
    return view


def probe_order(
    question: Question, view: Sequence[KeyPointGrade], focus: Collection[str] = ()
) -> list[KeyPointGrade]:
    """The verdicts worth a follow-up, best first: in a review, a point due for review that
    the candidate missed again (``focus``); then missing before partial, and a point surely
    missing before one in doubt or one that something in the answer came close to (asking
    what may already have been said is what an interviewer must not do); a covered verdict in
    doubt comes last; then heavier first, then bank order."""
    order = {p.id: i for i, p in enumerate(question.key_points)}
    points = question.key_points_by_id
    candidates = [
        v for v in view if (v.verdict != "covered" or v.uncertain) and v.key_point_id in points
    ]
    return sorted(
        candidates,
        key=lambda v: (
            v.key_point_id not in focus,
            VERDICT_RANK[v.verdict],
            v.uncertain,
            bool(v.closest),
            -points[v.key_point_id].weight,
            order[v.key_point_id],
        ),
    )


def probe_target(
    qs: QuestionState,
    view: list[KeyPointGrade],
    max_follow_ups: int,
    focus: Collection[str] = (),
) -> KeyPoint | None:
    """The key point worth a follow-up (:func:`probe_order`), or None once the cap is reached
    or nothing is left to probe. Each point is probed once."""
    if not view or qs.follow_ups >= max_follow_ups:
        return None
    for verdict in probe_order(qs.question, view, focus):
        if verdict.key_point_id not in qs.probed:
            return qs.question.key_points_by_id[verdict.key_point_id]
    return None
