"""What the store hands back: its rows as plain values, and its one error type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from interviewer.errors import InterviewerError
from interviewer.transcript import Grade, ModelInfo


class StoreError(InterviewerError):
    """The store cannot do what was asked; ``str()`` says what, ``hint`` what to do."""


class DamagedRowError(StoreError):
    """A stored JSON column no longer reads as what was written (bytes changed on disk)."""


class SessionNotFoundError(StoreError):
    """No stored session has that id (or the id prefix is ambiguous)."""


@dataclass(frozen=True)
class SessionSummary:
    """One row of ``interviewer sessions``."""

    id: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    status: str
    """in_progress (unfinished: it can be resumed), finished, or ended_early."""
    bank_id: str
    bank_title: str
    bank_path: str | None
    mode: str
    backend: str
    model_id: str
    grader: str
    score: float
    answered: int
    question_count: int
    regrades: int
    damaged: bool = False
    """Its stored transcript cannot be read (the database file was damaged)."""

    @property
    def finished(self) -> bool:
        return self.status != "in_progress"


@dataclass(frozen=True)
class StoredGrade:
    """A grade as it was committed, with what produced it."""

    id: int
    question_id: str
    rubric_hash: str
    model: ModelInfo
    grader: str
    grade: Grade
    at: datetime
    regrade_id: int | None


@dataclass(frozen=True)
class Draft:
    """An answer typed but not sent (kept through a crash)."""

    question_id: str | None
    text: str
    saved_at: datetime


@dataclass(frozen=True)
class ReviewCardRow:
    """One key point's spaced-repetition memory as stored (see :mod:`interviewer.review`)."""

    bank_id: str
    question_id: str
    key_point_id: str
    card_json: str
    """The scheduler's card, as the review layer wrote it (the store does not read it)."""
    due: datetime
    reviews: int
    misses: int
    last_verdict: str
    last_reviewed_at: datetime
    last_missed_at: datetime | None
    since_missed: int
    """How many times the point was graded since it was last missed."""


@dataclass(frozen=True)
class JudgeCheckRow:
    """One model's grading self-test (:mod:`interviewer.session.judge`), as stored."""

    model_key: str
    """Which model: backend, id and revision, or server and model name."""
    judge_agreement: float
    """Share of the sample's key-point verdicts where the model agreed with the labels."""
    evidence_agreement: float
    """The same share for the evidence signal, on the same answers."""
    answers: int
    key_points: int
    """How many key-point verdicts each figure is taken over."""
    seconds: float
    """How long the model took to grade the sample."""
    checked_at: datetime
    version: str
    """The interviewer version that ran the test (another version tests again)."""
