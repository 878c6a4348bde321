"""The record of a session: turns, grades, results. Everything a store or a report reads.

The JSON form of :class:`Transcript` is the project's exchange format. Its schema is generated
from these models and checked in at ``schemas/transcript.schema.json``; bump
``SCHEMA_VERSION`` whenever a change would break a reader of older files.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

Verdict = Literal["covered", "partial", "missing"]
Mode = Literal["practice", "exam"]

VERDICT_CREDIT: dict[str, float] = {"covered": 1.0, "partial": 0.5, "missing": 0.0}
"""How much of a key point's weight each verdict earns."""

VERDICT_RANK: dict[str, int] = {"missing": 0, "partial": 1, "covered": 2}

VERDICT_WORDS: dict[str, str] = {"covered": "covered", "partial": "partial", "missing": "missed"}
"""How a verdict is said to the candidate."""

TurnKind = Literal[
    # interviewer turns
    "greeting",
    "question",
    "follow_up",
    "acknowledgement",
    "clarification",
    "repeat",
    "feedback",
    "summary",
    # candidate turns
    "answer",
    "repeat_request",
    "clarify_request",
    "skip",
    "end",
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelInfo(_Record):
    """Which model produced the interviewer's words and the grades."""

    backend: str
    model_id: str
    revision: str | None = None
    quantization: str | None = None


class InterviewSettings(_Record):
    """The rules one interview runs under."""

    mode: Mode = "practice"
    """practice: feedback after every question; exam: all feedback at the end."""
    max_follow_ups: int = Field(default=2, ge=0, le=5)
    """How many follow-up questions the interviewer may ask per question."""
    acknowledge: bool = True
    """Let the model say a short acknowledgement before the next question (exam mode)."""
    grading: Literal["inline", "background"] = "inline"
    """inline: each answer is graded by the grader before the interview goes on. background:
    follow-ups are chosen from the instant evidence signal and the grader's (slower) grade runs
    while the candidate reads and types, one reply behind; feedback follows when it is ready."""


class BankRef(_Record):
    id: str
    title: str
    version: int = 1


class Turn(_Record):
    """One message of the conversation, as it was shown."""

    index: int = Field(ge=0)
    role: Literal["interviewer", "candidate"]
    kind: TurnKind
    text: str
    question_id: str | None = None
    key_point_id: str | None = None
    """For a follow-up: the key point it probes (never shown to the candidate)."""
    at: datetime


class KeyPointGrade(_Record):
    """The verdict on one key point, with the grader's reasoning and evidence."""

    key_point_id: str
    rationale: str = ""
    verdict: Verdict
    evidence: str = ""
    """A quote from the candidate's answer that supports the verdict ("" when missing); the
    program checks that the candidate really wrote it."""
    confidence: float | None = Field(default=None, ge=0, le=1)
    """The grading model's probability for its verdict, where the backend can read it."""
    cross_check: Verdict | None = None
    """The model-free evidence signal's verdict on the same point, when both graded."""
    uncertain: bool = False
    """The verdict is in doubt: the model was unsure, or the two signals disagreed."""


class Grade(_Record):
    """The grade of everything the candidate said on one question so far."""

    key_points: list[KeyPointGrade]
    score: float = Field(ge=0, le=1)
    """Weighted share of the key points covered: covered 1, partial 0.5, missing 0."""
    grader: str
    """What produced the verdicts: 'llm:<model id>', 'evidence', or 'prefilter'."""
    prefilter_reason: str | None = None
    """Why the answer was scored 0 without a model call (empty, dont_know, gibberish,
    injection, off_topic), if it was."""
    ignored: list[str] = Field(default_factory=list)
    """Sentences of the answer addressed to the grader, cut out before grading."""


class QuestionResult(_Record):
    question_id: str
    title: str
    rubric_hash: str
    status: Literal["answered", "skipped", "not_reached"]
    answers: list[str] = Field(default_factory=list)
    """Everything the candidate answered on this question: the first answer, then replies to
    follow-ups."""
    follow_ups: int = 0
    grade: Grade | None = None
    grading_error: str | None = None
    """Why no grade could be produced (the model failed); the question then counts 0."""
    score: float = Field(default=0.0, ge=0, le=1)
    feedback: str | None = None
    """The feedback card as shown (Markdown: the coach's words, the key points, the reference)."""
    coach_feedback: str | None = None
    """The coach's words alone (or why there is no grade), for reports that lay out the rest."""


class RegradedQuestion(_Record):
    """One question's stored answers, graded again."""

    question_id: str
    rubric_hash: str
    """The rubric this grade was given against (the bank's current one at regrade time)."""
    grade: Grade | None = None
    grading_error: str | None = None
    score: float = Field(default=0.0, ge=0, le=1)


class Regrade(_Record):
    """A session's answers re-scored by another model or against the current rubric.

    The original grades stay in ``Transcript.results``; each regrade sits beside them.
    """

    regraded_at: datetime
    model: ModelInfo
    grader: str
    results: list[RegradedQuestion]
    score: float = Field(ge=0, le=1)
    """Mean of the regraded question scores over every question of the session."""


class Transcript(_Record):
    """A whole session: what was said, how it was graded, and the final score."""

    schema_version: Literal[1] = SCHEMA_VERSION
    session_id: str
    status: Literal["in_progress", "finished", "ended_early"]
    started_at: datetime
    finished_at: datetime | None = None
    bank: BankRef
    model: ModelInfo
    grader: str
    settings: InterviewSettings
    turns: list[Turn]
    results: list[QuestionResult]
    score: float = Field(ge=0, le=1)
    """Mean of the question scores over every question of the bank (unanswered count 0)."""
    regrades: list[Regrade] = Field(default_factory=list)
    """Later re-scorings of the same answers (``interviewer regrade``), oldest first."""


def transcript_json_schema() -> dict[str, object]:
    """The JSON Schema of a transcript, as checked in under ``schemas/``."""
    schema = Transcript.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://interviewer.local/schemas/transcript.v{SCHEMA_VERSION}.json"
    return schema
