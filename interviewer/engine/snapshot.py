"""Everything an interview needs to continue where it stopped, as plain data.

:meth:`Interview.snapshot() <interviewer.engine.interview.Interview.snapshot>` returns an
:class:`InterviewSnapshot`; :meth:`Interview.restore()
<interviewer.engine.interview.Interview.restore>` rebuilds the engine from one, and
:meth:`Interview.resume() <interviewer.engine.interview.Interview.resume>` carries on. Nothing
is replayed through the model: the snapshot holds the state itself.

**When a snapshot is consistent.** The engine is *at rest* when the last event it yielded was

* a candidate ``TurnRecorded`` (the reply is taken, nothing else has happened yet: the snapshot's
  ``pending_reply`` holds it),
* an ``AwaitingReply`` or an ``InterviewFinished`` (``pending_reply`` is None),

or before :meth:`start`. A snapshot taken at rest is all a resumed session needs. Whatever the
engine produced after its last rest (a grade, a follow-up, feedback) was not final, and a resumed
engine produces it again: ``resume()`` first processes the pending reply, exactly as ``reply()``
would have.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from interviewer.bank.models import Bank
from interviewer.transcript import Grade, InterviewSettings, Turn

SNAPSHOT_VERSION: Literal[1] = 1


class QuestionSnapshot(BaseModel):
    """The engine's state for one question of the bank."""

    model_config = ConfigDict(extra="forbid")

    question_id: str
    rubric_hash: str
    """The rubric the grades below were given against; a restore refuses another one."""
    status: Literal["answered", "skipped", "not_reached"]
    answers: list[str] = Field(default_factory=list)
    graded_answers: list[str] = Field(default_factory=list)
    """The answers the grader saw (empty and "I don't know" replies are prefiltered out)."""
    follow_ups: int = 0
    probed: list[str] = Field(default_factory=list)
    """Key points already probed by a follow-up (each is probed once)."""
    grade: Grade | None = None
    grading_error: str | None = None
    feedback: str | None = None
    coach_feedback: str | None = None
    last_prompt: str = ""
    grade_pending: bool = False
    """Background grading: replies were given since the grader last graded this question."""
    finish_pending: bool = False
    """Background grading: the question is closed, its result and feedback wait for the grade."""
    first_turn: int = 0
    """Where this attempt's conversation starts (a retake's question asked again; 0 for the
    first attempt)."""
    retakes: list[QuestionSnapshot] = Field(default_factory=list)
    """Fresh attempts at the question after its feedback (``/retry``), oldest first; the last
    one is being answered while this question is the current one."""


class InterviewSnapshot(BaseModel):
    """An interview at rest: its conversation, per-question state and the reply in flight."""

    model_config = ConfigDict(extra="forbid")

    snapshot_version: Literal[1] = SNAPSHOT_VERSION
    session_id: str
    bank_id: str
    state: Literal["not_started", "awaiting_reply", "finished"]
    current: int = Field(ge=0)
    """Index of the question being asked."""
    started_at: datetime
    finished_at: datetime | None = None
    ended_early: bool = False
    settings: InterviewSettings
    turns: list[Turn]
    questions: list[QuestionSnapshot]
    pending_reply: str | None = None
    """A reply the candidate submitted whose processing (grading, follow-up, next question) had
    not finished when the snapshot was taken; ``resume()`` processes it first."""
    return_to: int | None = None
    """During a retake asked for before the next question was answered: that question's index,
    asked again once the retake is over."""


class SnapshotMismatchError(ValueError):
    """A snapshot does not fit the bank it is restored with (another bank, or a changed rubric)."""


def check_snapshot_fits(bank: Bank, snapshot: InterviewSnapshot) -> None:
    """Raise :class:`SnapshotMismatchError` unless ``snapshot`` was taken on this very rubric.

    Grades given against one rubric cannot be continued against another: a changed question is a
    case for a regrade, not a resume.
    """
    if snapshot.bank_id != bank.id:
        raise SnapshotMismatchError(
            f"the session was taken on the bank '{snapshot.bank_id}', not '{bank.id}'"
        )
    saved = [q.question_id for q in snapshot.questions]
    if saved != bank.question_ids:
        raise SnapshotMismatchError(
            f"the bank '{bank.id}' now has the questions {', '.join(bank.question_ids)}; "
            f"the session was taken on {', '.join(saved)}"
        )
    changed = [
        q.question_id
        for q, question in zip(snapshot.questions, bank.questions, strict=True)
        if q.rubric_hash != question.rubric_hash
    ]
    if changed:
        raise SnapshotMismatchError(
            f"the rubric of {', '.join(changed)} changed since the session was taken"
        )
    if snapshot.current >= len(bank.questions):
        raise SnapshotMismatchError(
            f"the snapshot's question index {snapshot.current} is out of range"
        )
