"""The record of a session: turns, grades, results. Everything a store or a report reads.

The JSON form of :class:`Transcript` is the project's exchange format. Its schema is generated
from these models and checked in at ``schemas/transcript.schema.json``; bump
``SCHEMA_VERSION`` whenever a change would break a reader of older files.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from interviewer.errors import InterviewerError

SCHEMA_VERSION: Literal[2] = 2
"""2 added retakes (``QuestionResult.retakes``, the ``retry_request`` turn), what a missed key
point came closest to (``KeyPointGrade.closest`` / ``lacking``) and the review focus
(``InterviewSettings.focus``). Every field it added has a default, so a version 1 file reads as
version 2 unchanged (:class:`Transcript` upgrades it on load)."""

OLDER_SCHEMA_VERSIONS = (1,)
"""Versions a transcript may say it is and still load (read as the current one)."""

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
    "retry_request",
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelInfo(_Record):
    """Which model produced the interviewer's words and the grades."""

    backend: str
    model_id: str
    revision: str | None = None
    quantization: str | None = None
    base_url: str | None = None
    """For a model on an OpenAI-compatible server, the server's address (never with
    credentials): a resumed session goes on on the same server."""


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
    focus: dict[str, list[str]] = Field(default_factory=dict)
    """A review session (``interviewer review``): per question, the key points due for review.
    The follow-up budget goes to those first when the candidate misses them again."""


class BankRef(_Record):
    id: str
    title: str
    version: int = 1


class SpeechStats(_Record):
    """How a spoken reply was said (measured on its audio and its recognised words)."""

    speaking_seconds: float = Field(ge=0)
    """From the first speech to the last: pauses inside count, silence before and after not."""
    words: int = Field(ge=0)
    """Words recognised (a filler counts as the words it is made of)."""
    words_per_minute: float = Field(ge=0)
    fillers: dict[str, int] = Field(default_factory=dict)
    """Each filler word or phrase of the configured list that was said, with how often."""
    longest_pause_seconds: float = Field(default=0.0, ge=0)
    """The longest silence between two stretches of speech."""

    @property
    def filler_count(self) -> int:
        return sum(self.fillers.values())


class Delivery(_Record):
    """How a candidate's reply was given: spoken or typed, and against which clock."""

    spoken: bool = False
    """Some of the reply was recognised from speech."""
    recognised: str = ""
    """What the recogniser heard, before any edit (the turn's text is what was sent)."""
    speech: SpeechStats | None = None
    seconds: float | None = Field(default=None, ge=0)
    """Time from the question (or follow-up) being shown to the reply being sent."""
    time_limit_seconds: float | None = Field(default=None, gt=0)
    sent_by_clock: bool = False
    """The time limit ran out and what was in the box was sent."""
    overrun_seconds: float = Field(default=0.0, ge=0)
    """How far past a soft time limit the reply was sent."""


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
    delivery: Delivery | None = None
    """For a candidate's reply: spoken or typed, its speech and its clock (None: typed, no
    clock, or written before these were recorded)."""


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
    closest: str = ""
    """For a missed point: the sentence of the answer that came closest to it (the evidence
    signal's best match, quoted verbatim), when one came close; "" otherwise."""
    lacking: list[str] = Field(default_factory=list)
    """For a missed point with a ``closest`` sentence: the point's facts (from the bank) that
    sentence does not show: what to study, next to what was said."""


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


class Retake(_Record):
    """A fresh attempt at a question after its feedback (practice mode): graded on its own
    replies only, so it shows what the new answer earns and nothing more."""

    status: Literal["answered", "skipped", "not_reached"]
    """not_reached: asked again, and no reply yet."""
    first_turn: int = Field(ge=0)
    """Index of its first turn (the question asked again; the candidate's ``/retry`` just
    before it closed the attempt before): its conversation is this question's turns from there
    on, up to the next retake."""
    answers: list[str] = Field(default_factory=list)
    follow_ups: int = 0
    grade: Grade | None = None
    grading_error: str | None = None
    score: float = Field(default=0.0, ge=0, le=1)
    """What this attempt's replies earned (shown beside the first answer's score)."""
    feedback: str | None = None
    coach_feedback: str | None = None


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
    retakes: list[Retake] = Field(default_factory=list)
    """Later fresh attempts at the question (``/retry`` in practice mode), oldest first. They
    never change ``score``: that stays what the first answer earned."""


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

    schema_version: Literal[2] = SCHEMA_VERSION
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

    @field_validator("schema_version", mode="before")
    @classmethod
    def _read_older_versions(cls, value: object) -> object:
        """A version 1 transcript is a version 2 one without the new fields: read it as one."""
        return SCHEMA_VERSION if value in OLDER_SCHEMA_VERSIONS else value


def transcript_json_schema() -> dict[str, object]:
    """The JSON Schema of a transcript, as checked in under ``schemas/``."""
    schema = Transcript.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://interviewer.local/schemas/transcript.v{SCHEMA_VERSION}.json"
    return schema


def describe_speech(speech: SpeechStats) -> str:
    """How a reply was spoken, in one line: "42 s, 118 words a minute, fillers: um 2, like
    1, longest pause 2.5 s"."""
    fillers = ", ".join(f"{word} {n}" for word, n in speech.fillers.items()) or "none"
    return (
        f"spoke {speech.speaking_seconds:.0f} s, {speech.words_per_minute:.0f} words a minute, "
        f"fillers: {fillers}, longest pause {speech.longest_pause_seconds:.1f} s"
    )


def time_spent(transcript: Transcript) -> dict[str, float]:
    """Seconds spent on each question: from each interviewer turn to the candidate's reply
    after it (a spoken reply: its recording), summed over the question's replies. Time between
    sessions of a resumed interview is not counted."""
    spent: dict[str, float] = {}
    before: Turn | None = None
    for turn in transcript.turns:
        if turn.role == "interviewer":
            before = turn
            continue
        if turn.question_id is None or before is None:
            continue
        if turn.delivery is not None and turn.delivery.seconds is not None:
            seconds = turn.delivery.seconds
        else:
            seconds = max(0.0, (turn.at - before.at).total_seconds())
        spent[turn.question_id] = spent.get(turn.question_id, 0.0) + seconds
        before = None
    return spent


def spoken_replies(transcript: Transcript, question_id: str) -> list[SpeechStats]:
    """The speech of each spoken reply on a question, in order."""
    return [
        t.delivery.speech
        for t in transcript.turns
        if t.question_id == question_id and t.delivery is not None and t.delivery.speech
    ]


class TranscriptError(InterviewerError):
    """A transcript that cannot be read; the message names where it came from and the field."""


def parse_transcript(data: str | bytes, source: str) -> Transcript:
    """The transcript in ``data`` (JSON, any schema version this program ever wrote), or
    :class:`TranscriptError` naming ``source`` (a file, or a session in the store), the
    fields that are wrong and what to do."""
    try:
        return Transcript.model_validate_json(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        version = next((e for e in errors if tuple(e["loc"]) == ("schema_version",)), None)
        if version is not None and isinstance(version.get("input"), int):
            raise TranscriptError(
                f"{source}: schema_version {version['input']} was written by a newer "
                f"interviewer (this one reads version {SCHEMA_VERSION})",
                "upgrade interviewer to read it",
            ) from exc
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in errors[:5]
        )
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise TranscriptError(
            f"{source}: not a valid transcript: {problems}{more}",
            "it must be a transcript JSON as `interviewer export --format json` writes it "
            "(schemas/transcript.schema.json; `interviewer schema` prints it)",
        ) from exc


def load_transcript(path: Path) -> Transcript:
    """Read a transcript file; :class:`TranscriptError` when it cannot be read or used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(
            f"{path}: cannot read: {exc.strerror or exc}", "check the path"
        ) from exc
    return parse_transcript(data, str(path))
