"""What the engine tells its consumers (the TUI, the headless runner, the session store).

Every event is a small frozen pydantic model with a ``type`` tag, so a consumer can match on it
and a store can serialize it. An interviewer turn that the model writes arrives as
``TurnStarted``, any number of ``TokenStreamed``, then ``TurnRecorded``; turns the program writes
(greeting, question, repeat, summary) and candidate turns arrive as ``TurnRecorded`` alone.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interviewer.transcript import Grade, QuestionResult, Transcript, Turn, TurnKind

State = Literal["not_started", "awaiting_reply", "finished"]
"""Where an interview stands: before its first question, waiting for a reply, or over."""


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SessionStarted(_Event):
    type: Literal["session_started"] = "session_started"
    session_id: str
    bank_title: str
    mode: str
    question_count: int
    resumed: bool = False
    """True when a stored session continues (the conversation so far is in ``Interview.turns``)."""


class TurnStarted(_Event):
    type: Literal["turn_started"] = "turn_started"
    kind: TurnKind
    question_id: str | None
    held: bool = False
    """The turn arrives whole once settled (a follow-up): nothing streams before that."""


class TokenStreamed(_Event):
    type: Literal["token"] = "token"
    text: str


class TurnRecorded(_Event):
    type: Literal["turn"] = "turn"
    turn: Turn
    streamed: bool = False
    """True when the turn's text already arrived as TokenStreamed events."""


class QuestionAsked(_Event):
    type: Literal["question_asked"] = "question_asked"
    question_id: str
    title: str
    number: int
    total: int
    retake: int = 0
    """A fresh attempt (``/retry``): 1 for the first retake, and so on; 0 for the question."""


class FollowUpAsked(_Event):
    type: Literal["follow_up_asked"] = "follow_up_asked"
    question_id: str
    key_point_id: str
    number: int
    cap: int


class AwaitingReply(_Event):
    type: Literal["awaiting_reply"] = "awaiting_reply"
    question_id: str
    follow_up: bool
    retry_of: str | None = None
    """The question a ``/retry`` would retake now (practice mode): the one being answered, or,
    before any reply to this one, the one whose feedback was just given. None: no retake now."""


class GradingStarted(_Event):
    type: Literal["grading_started"] = "grading_started"
    question_id: str


class Graded(_Event):
    type: Literal["graded"] = "graded"
    question_id: str
    grade: Grade


class ModelFailed(_Event):
    """A model call failed; the interview goes on without it (a grade of 0 is never invented)."""

    type: Literal["model_failed"] = "model_failed"
    question_id: str | None
    purpose: str
    message: str


class QuestionFinished(_Event):
    type: Literal["question_finished"] = "question_finished"
    result: QuestionResult


class FeedbackGiven(_Event):
    type: Literal["feedback"] = "feedback"
    result: QuestionResult


class InterviewFinished(_Event):
    type: Literal["finished"] = "finished"
    transcript: Transcript


Event = Annotated[
    SessionStarted
    | TurnStarted
    | TokenStreamed
    | TurnRecorded
    | QuestionAsked
    | FollowUpAsked
    | AwaitingReply
    | GradingStarted
    | Graded
    | ModelFailed
    | QuestionFinished
    | FeedbackGiven
    | InterviewFinished,
    Field(discriminator="type"),
]
