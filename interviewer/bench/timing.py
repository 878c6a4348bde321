"""The timing proxy around the chat model, and the scripted session it times."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from interviewer.bank.models import Bank
from interviewer.engine.events import (
    AwaitingReply,
    Event,
    Graded,
    GradingStarted,
    ModelFailed,
    TokenStreamed,
    TurnRecorded,
    TurnStarted,
)
from interviewer.errors import InterviewerError
from interviewer.llm.base import (
    ChatMessage,
    ChatModel,
    DecodeMode,
    GenerationOptions,
    GenerationUsage,
    Reply,
    T,
)
from interviewer.transcript import ModelInfo

BENCH_VERSION = 1

MODES: dict[str, tuple[Literal["default", "fast"], bool]] = {
    "default": ("default", True),
    "fast": ("fast", True),
    "no-reuse": ("default", False),
}
"""Mode name -> (decode path asked for, KV-cache reuse)."""

PROMPT_KINDS = frozenset({"question", "follow_up", "clarification", "repeat", "summary"})
"""Interviewer turns that end the candidate's wait: something to answer (or the end)."""

GIB = 1024**3


class BenchError(InterviewerError):
    """Bad input for the bench; ``hint`` says what to do."""


# ----------------------------------------------------------------- the timing proxy


@dataclass
class CallRecord:
    """One model call as the engine made it."""

    purpose: str
    kind: Literal["stream", "structured"]
    total_s: float = 0.0
    first_text_s: float | None = None
    """Until the first chunk of text reached the engine (streamed calls)."""
    first_token_s: float | None = None
    """Until the backend had the first new token (prefill plus one step)."""
    prompt_tokens: int | None = None
    reused_tokens: int | None = None
    new_tokens: int | None = None
    tokens_per_s: float | None = None
    """Decode speed after the first token."""
    path: str | None = None
    failed: str | None = None


class TimedModel:
    """A :class:`ChatModel` that records every call of the model it wraps.

    ``max_new_tokens`` caps streamed calls (structured calls keep their budget: a grade cut
    short would not validate).
    """

    def __init__(self, inner: ChatModel, max_new_tokens: int | None = None) -> None:
        self.inner = inner
        self.max_new_tokens = max_new_tokens
        self.calls: list[CallRecord] = []

    @property
    def info(self) -> ModelInfo:
        return self.inner.info

    @property
    def load_seconds(self) -> float:
        return self.inner.load_seconds

    @property
    def decode_mode(self) -> DecodeMode | None:
        return self.inner.decode_mode

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Reply:
        """The wrapped model's reply, timed; its usage is passed on as the backend gave it."""
        if self.max_new_tokens is not None and options.max_new_tokens > self.max_new_tokens:
            options = options.model_copy(update={"max_new_tokens": self.max_new_tokens})
        return Reply.reporting(lambda report: self._timed(messages, options, cancel, report))

    def _timed(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
        report: Callable[[GenerationUsage], None],
    ) -> Iterator[str]:
        record = CallRecord(purpose=options.purpose, kind="stream")
        self.calls.append(record)
        started = time.perf_counter()
        reply = Reply.of(self.inner.stream(messages, options, cancel))
        try:
            for chunk in reply:
                if record.first_text_s is None:
                    record.first_text_s = time.perf_counter() - started
                yield chunk
        except Exception as exc:
            record.failed = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            reply.close()  # an abandoned stream stops its generation now, not at garbage collection
            record.total_s = time.perf_counter() - started
            if reply.usage is not None:
                self._from_backend(record, reply.usage)
                report(reply.usage)

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        record = CallRecord(purpose=options.purpose, kind="structured")
        self.calls.append(record)
        started = time.perf_counter()
        try:
            return self.inner.generate_structured(messages, output_type, options, cancel)
        except Exception as exc:
            record.failed = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            record.total_s = time.perf_counter() - started

    @staticmethod
    def _from_backend(record: CallRecord, usage: GenerationUsage) -> None:
        record.path = usage.path
        record.prompt_tokens = usage.prompt_tokens
        record.reused_tokens = usage.reused_tokens
        record.new_tokens = usage.new_tokens
        record.first_token_s = usage.first_token_s
        decoding = usage.total_s - (usage.first_token_s or 0.0)
        if usage.new_tokens > 1 and decoding > 0:
            record.tokens_per_s = (usage.new_tokens - 1) / decoding


# ----------------------------------------------------------------- the scripted session


@dataclass
class ReplyRecord:
    """One reply of the candidate and what it cost them."""

    question_id: str
    kind: str
    first_output_s: float | None = None
    """Until anything new from the interviewer started to appear (feedback included)."""
    next_prompt_s: float | None = None
    """Until the next question, follow-up (or clarification, repeat, the summary) started."""
    next_prompt: str | None = None
    grading_s: float | None = None
    ready_s: float | None = None
    """Until the answer box took input again (the first ``AwaitingReply``)."""
    grading_in_wait_s: float = 0.0
    """Grading the candidate sat through: grades finished before the answer box was ready."""
    total_s: float = 0.0
    """Until the engine was idle again (background grading included)."""


@dataclass
class SessionResult:
    calls: list[CallRecord]
    replies: list[ReplyRecord]
    session_s: float
    finished: bool


def timed_reply(
    events: Iterator[Event], question_id: str
) -> tuple[ReplyRecord, AwaitingReply | None]:
    started = time.perf_counter()
    record = ReplyRecord(question_id=question_id, kind="answer")
    streaming: str | None = None
    grading_started: float | None = None
    awaiting: AwaitingReply | None = None
    for event in events:
        now = time.perf_counter() - started
        if isinstance(event, TurnRecorded) and event.turn.role == "candidate":
            record.kind = event.turn.kind
        elif isinstance(event, GradingStarted):
            grading_started = now
        elif isinstance(event, Graded) or (
            isinstance(event, ModelFailed) and event.purpose == "grade"
        ):
            if grading_started is not None and record.grading_s is None:
                record.grading_s = now - grading_started
                if record.ready_s is None:
                    record.grading_in_wait_s += now - grading_started
        elif isinstance(event, TurnStarted):
            streaming = event.kind
        elif isinstance(event, TokenStreamed):
            _shown(record, now, streaming)
        elif isinstance(event, TurnRecorded):
            _shown(record, now, event.turn.kind)
            streaming = None
        elif isinstance(event, AwaitingReply):
            awaiting = event
            if record.ready_s is None:
                record.ready_s = now
    record.total_s = time.perf_counter() - started
    return record, awaiting


def _shown(record: ReplyRecord, now: float, kind: str | None) -> None:
    if record.first_output_s is None:
        record.first_output_s = now
    if kind in PROMPT_KINDS and record.next_prompt_s is None:
        record.next_prompt_s = now
        record.next_prompt = kind


def run_session(
    model: ChatModel,
    bank: Bank,
    answers: dict[str, list[str]],
    *,
    grader: Literal["llm", "evidence", "both"],
    mode: Literal["practice", "exam"],
    max_follow_ups: int,
    max_new_tokens: int | None,
    grading: Literal["inline", "background"] = "background",
) -> SessionResult:
    """A whole interview through the session layer, as every front end runs one (the same
    graders, the evidence signal with the configured embedding model), every reply timed."""
    from interviewer.config import Settings
    from interviewer.headless import scripted_replies
    from interviewer.session import SessionPlan, open_session

    timed = TimedModel(model, max_new_tokens)
    settings = Settings(  # it times the grader it is given: no grading self-test first
        grader=grader,
        mode=mode,
        max_follow_ups=max_follow_ups,
        grading=grading,
        save=False,
        trust_judge=True,
    )
    session = open_session(
        SessionPlan(settings, bank, grader, None), on_status=lambda _: None, model=timed
    )
    replies = scripted_replies(answers)
    started = time.perf_counter()
    awaiting: AwaitingReply | None = None
    for event in session.begin():
        if isinstance(event, AwaitingReply):
            awaiting = event
    records: list[ReplyRecord] = []
    interview = session.interview
    while awaiting is not None and interview.state == "awaiting_reply":
        text = replies(awaiting)
        record, awaiting = timed_reply(session.reply(text), awaiting.question_id)
        records.append(record)
    return SessionResult(
        timed.calls, records, time.perf_counter() - started, interview.state == "finished"
    )


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _paths(calls: Sequence[CallRecord]) -> dict[str, int]:
    """How many streamed calls took each decode path (the fast one hands a call it cannot
    serve, such as a prompt longer than its static cache, to generate())."""
    counts: dict[str, int] = {}
    for call in calls:
        key = call.path or "unknown"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _ttft(call: CallRecord) -> float | None:
    """Time to first token: the backend's own when it reports one, else the first text."""
    return call.first_token_s if call.first_token_s is not None else call.first_text_s


def _peak_memory(cuda: bool) -> dict[str, Any]:
    if cuda:  # allocated, reserved and held by the process (interviewer.bench.memory)
        from interviewer.bench.memory import gpu_memory, process_baseline

        return gpu_memory(process_baseline())
    import resource

    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"kind": "cpu_rss", "peak_mib": round(rss_kib / 1024, 1), "note": "process peak so far"}
