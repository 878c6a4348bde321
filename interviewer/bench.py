"""``interviewer bench``: how long the candidate waits, measured on a scripted session.

A run measures one or more *modes* (``default``; ``fast``: the CUDA-graph decode step;
``no-reuse``: default without KV-cache reuse), each on a freshly loaded model:

* model load time (and, for ``fast``, the seconds spent preparing it);
* a session through the real :class:`~interviewer.engine.Interview` over a bank (the built-in
  six questions by default), the candidate's replies from an answers file: per interviewer turn
  the time to first token and tokens/s, per answer the grading latency and the candidate's
  visible wait from submitting it until the next question or follow-up starts to appear (a
  follow-up appears whole once settled, so its whole generation counts);
* a conversation that grows by one exchange per turn: time to first token at turn 1 against
  turn N shows what reusing the KV cache buys;
* a long session: one interviewer reply to a conversation of about ``--long-context`` tokens
  (8k by default), with the GPU memory it peaks at (weights, cache and activations together);
* peak GPU memory (``torch.cuda.max_memory_allocated``) or, on the CPU, the process's peak RSS.

Plus, once per run, the TUI's time to first paint. The model is a Hub id, a local folder, or
random weights of a known shape, built in a temporary folder (or in ``--workdir``, kept there
and reused by the next run) and loaded through the real loader (so a GPU can be measured without
a download).

Timings come from :class:`TimedModel`, a proxy around the chat model that notes, per call, when
the first text arrives and how long the call took, and reads the HF backend's own record of the
call (prompt tokens, tokens reused from the cache, new tokens, time to the first token).
torch is imported only when a mode runs, never with this module.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
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
from interviewer.llm.base import ChatMessage, ChatModel, GenerationOptions, T
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


class BenchError(Exception):
    """Bad input for the bench; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


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

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        if self.max_new_tokens is not None and options.max_new_tokens > self.max_new_tokens:
            options = options.model_copy(update={"max_new_tokens": self.max_new_tokens})
        record = CallRecord(purpose=options.purpose, kind="stream")
        self.calls.append(record)
        before = getattr(self.inner, "last_generation", None)
        started = time.perf_counter()
        chunks = self.inner.stream(messages, options, cancel)
        try:
            for chunk in chunks:
                if record.first_text_s is None:
                    record.first_text_s = time.perf_counter() - started
                yield chunk
        except Exception as exc:
            record.failed = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # an abandoned stream stops its generation now, not at garbage collection
            record.total_s = time.perf_counter() - started
            self._from_backend(record, before)

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

    def _from_backend(self, record: CallRecord, before: Any) -> None:
        stats = getattr(self.inner, "last_generation", None)
        if stats is None or stats is before:
            return
        record.path = stats.path
        record.prompt_tokens = stats.prompt_tokens
        record.reused_tokens = stats.reused_tokens
        record.new_tokens = stats.new_tokens
        record.first_token_s = stats.first_token_s
        decoding = stats.total_s - (stats.first_token_s or 0.0)
        if stats.new_tokens > 1 and decoding > 0:
            record.tokens_per_s = (stats.new_tokens - 1) / decoding


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


def _timed_reply(
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
    """A whole interview through the real engine, every reply timed."""
    from interviewer.engine import EvidenceGrader, Interview, LLMGrader
    from interviewer.engine.grading import CombinedGrader, Grader
    from interviewer.headless import scripted_replies
    from interviewer.prompts import PromptLibrary
    from interviewer.transcript import InterviewSettings

    timed = TimedModel(model, max_new_tokens)
    prompts = PromptLibrary()
    chosen: Grader = EvidenceGrader()
    if grader == "llm":
        chosen = LLMGrader(timed, prompts)
    elif grader == "both":
        chosen = CombinedGrader(LLMGrader(timed, prompts), EvidenceGrader())
    interview = Interview(
        bank,
        timed,
        chosen,
        InterviewSettings(mode=mode, max_follow_ups=max_follow_ups, grading=grading),
        prompts,
    )
    replies = scripted_replies(answers)
    started = time.perf_counter()
    awaiting: AwaitingReply | None = None
    for event in interview.start():
        if isinstance(event, AwaitingReply):
            awaiting = event
    records: list[ReplyRecord] = []
    while awaiting is not None and interview.state == "awaiting_reply":
        text = replies(awaiting)
        record, awaiting = _timed_reply(interview.reply(text), awaiting.question_id)
        records.append(record)
    return SessionResult(
        timed.calls, records, time.perf_counter() - started, interview.state == "finished"
    )


# ----------------------------------------------------------------- the growing conversation


@dataclass
class ConversationResult:
    turns: list[CallRecord]

    def ttft(self, index: int) -> float | None:
        return _ttft(self.turns[index]) if self.turns else None


def _opening(bank: Bank) -> list[ChatMessage]:
    """The interviewer's prompt on the bank's first question, before any exchange."""
    from interviewer.prompts import PromptLibrary

    question = bank.questions[0]
    return PromptLibrary().interviewer_messages(
        "clarify",
        bank_title=bank.title,
        question=question,
        question_number=1,
        question_count=len(bank.questions),
        history=[],
    )


def run_conversation(
    model: ChatModel, bank: Bank, replies: Sequence[str], turns: int, max_new_tokens: int
) -> ConversationResult:
    """The interviewer's conversation on the first question, one exchange longer each turn
    (greedy replies, the candidate's words cycled from ``replies``)."""
    timed = TimedModel(model)
    messages = _opening(bank)
    options = GenerationOptions(purpose="follow_up", max_new_tokens=max_new_tokens, temperature=0)
    for turn in range(turns):
        reply = "".join(timed.stream(messages, options)).strip()
        messages = [
            *messages,
            ChatMessage(role="assistant", content=reply or "Could you say more?"),
            ChatMessage(role="user", content=replies[turn % len(replies)]),
        ]
    return ConversationResult(timed.calls)


def long_messages(
    model: ChatModel, bank: Bank, replies: Sequence[str], target_tokens: int
) -> list[ChatMessage]:
    """The first question's conversation, grown exchange by exchange until its prompt holds at
    least ``target_tokens`` tokens (counted with the model's chat template where it has one,
    else at about four characters a token)."""
    question = bank.questions[0]
    messages = _opening(bank)
    render = getattr(model, "render", None)

    def size(candidate: list[ChatMessage]) -> int:
        if render is not None:
            return int(render(candidate)["input_ids"].shape[-1])
        return sum(len(m.content) for m in candidate) // 4

    turn = 0
    # Add exchanges in growing steps, then count: rendering is linear in the prompt's length.
    while size(messages) < target_tokens:
        for _ in range(4):
            messages = [
                *messages,
                ChatMessage(role="assistant", content=f"Thank you. {question.question}"),
                ChatMessage(role="user", content=replies[turn % len(replies)]),
            ]
            turn += 1
    return messages


def run_long_context(
    model: ChatModel,
    bank: Bank,
    replies: Sequence[str],
    target_tokens: int,
    max_new_tokens: int,
    cuda: bool,
) -> dict[str, Any]:
    """One interviewer reply to a ``target_tokens``-long session, and the memory it peaks at."""
    messages = long_messages(model, bank, replies, target_tokens)
    timed = TimedModel(model)
    options = GenerationOptions(purpose="follow_up", max_new_tokens=max_new_tokens, temperature=0)
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    failed = None
    try:
        for _ in timed.stream(messages, options):
            pass
    except Exception as exc:  # out of memory, mostly: that is the measurement
        failed = f"{type(exc).__name__}: {str(exc)[:300]}"
    call = timed.calls[-1]
    return {
        "target_tokens": target_tokens,
        "prompt_tokens": call.prompt_tokens,
        "reused_tokens": call.reused_tokens,
        "ttft_s": _ttft(call),
        "tokens_per_s": call.tokens_per_s,
        "path": call.path,
        "failed": failed,
        "peak": _peak_memory(cuda),
    }


# ----------------------------------------------------------------- one mode


@dataclass
class BenchOptions:
    """What ``interviewer bench`` was asked to do."""

    model: str | None = None
    random_weights: str | None = None
    family: str = "chatml"
    modes: list[str] = field(default_factory=lambda: ["default"])
    grader: Literal["llm", "evidence", "both"] = "both"
    grading: Literal["inline", "background"] = "background"
    mode: Literal["practice", "exam"] = "practice"
    max_follow_ups: int = 2
    max_new_tokens: int | None = None
    conversation_turns: int = 20
    long_context: int = 8192
    """Prompt tokens of the long-session probe (0 skips it)."""
    workdir: Path | None = None
    """Where random weights are built and kept (reused by the next run); None: a temporary
    folder, removed afterwards."""
    answers: Path | None = None
    bank: Path | None = None
    quantization: Literal["auto", "4bit", "8bit", "none"] = "auto"
    device: Literal["auto", "cuda", "cpu"] = "auto"
    first_paint: bool = True
    threads: int | None = None
    """CPU threads for torch (None: its default). One is steadier on a busy machine."""

    def as_command(self) -> str:
        """The ``interviewer bench`` command line that asks for exactly this run."""
        defaults = BenchOptions()
        parts = ["interviewer", "bench"]
        if self.model is not None:
            parts += ["--model", self.model]
        if self.random_weights is not None:
            parts += ["--random-weights", self.random_weights]
            if self.family != defaults.family:
                parts += ["--family", self.family]
        if len(self.modes) > 1:
            parts += ["--compare", ",".join(self.modes)]
        elif self.modes != defaults.modes:
            parts += ["--decode", self.modes[0]]
        flags: list[tuple[str, Any]] = [
            ("--grader", self.grader),
            ("--grading", self.grading),
            ("--mode", self.mode),
            ("--max-follow-ups", self.max_follow_ups),
            ("--max-new-tokens", self.max_new_tokens),
            ("--conversation-turns", self.conversation_turns),
            ("--long-context", self.long_context),
            ("--workdir", self.workdir),
            ("--answers", self.answers),
            ("--bank", self.bank),
            ("--quantization", self.quantization),
            ("--device", self.device),
            ("--threads", self.threads),
        ]
        for flag, value in flags:
            default = getattr(defaults, flag[2:].replace("-", "_"))
            if value is not None and value != default:
                parts += [flag, str(value)]
        if not self.first_paint:
            parts.append("--no-first-paint")
        return " ".join(parts)


def parse_modes(compare: str | None, decode: str | None) -> list[str]:
    """The modes to run: ``--compare a,b`` or the single ``--decode`` mode."""
    if compare is None:
        return [decode or "default"]
    modes = list(dict.fromkeys(m.strip() for m in compare.split(",") if m.strip()))
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise BenchError(
            f"unknown mode{'s' if len(unknown) > 1 else ''} in --compare: "
            f"{', '.join(repr(m) for m in unknown) or repr(compare)}",
            hint=f"the modes are {', '.join(MODES)} (e.g. --compare default,fast)",
        )
    return modes


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _warm_up(model: Any, bank: Bank, answers: dict[str, list[str]], grader: str) -> None:
    """One short generation (and one evidence grade) before anything is timed, so the first
    mode does not pay alone for what a process does once (lazy CUDA and library set-up)."""
    from interviewer.engine import EvidenceGrader

    warm = [ChatMessage(role="user", content="Hello.")]
    for _ in model.stream(warm, GenerationOptions(purpose="clarify", max_new_tokens=4)):
        pass
    if grader == "evidence":
        question = bank.questions[0]
        EvidenceGrader().grade(question, answers.get(question.id) or ["warm-up"])


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
    if cuda:
        import torch

        return {"kind": "gpu", "peak_gib": round(torch.cuda.max_memory_allocated() / GIB, 3)}
    import resource

    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"kind": "cpu_rss", "peak_mib": round(rss_kib / 1024, 1), "note": "process peak so far"}


def run_mode(
    name: str,
    source: str,
    options: BenchOptions,
    bank: Bank,
    answers: dict[str, list[str]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Load the model in mode ``name``, run the session and the conversation, free the model."""
    import torch

    from interviewer.llm.hf import HFModelConfig, load_hf_model

    decode, reuse = MODES[name]
    say(f"[{name}] loading {source}")
    torch.manual_seed(0)
    cuda = torch.cuda.is_available() and options.device != "cpu"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = load_hf_model(
        HFModelConfig(
            model=source,
            quantization=options.quantization,
            device=options.device,
            decode=decode,
            kv_reuse=reuse,
        ),
        on_status=lambda message: say(f"[{name}] {message}"),
    )
    cuda = model.plan.device == "cuda"
    _warm_up(model, bank, answers, options.grader)
    say(f"[{name}] running the session")
    session = run_session(
        model,
        bank,
        answers,
        grader=options.grader,
        grading=options.grading,
        mode=options.mode,
        max_follow_ups=options.max_follow_ups,
        max_new_tokens=options.max_new_tokens,
    )
    texts = [t for replies in answers.values() for t in replies if t and not t.startswith("/")]
    candidate = texts or ["I am not sure."]
    reply_tokens = options.max_new_tokens or 64
    conversation = ConversationResult([])
    if options.conversation_turns:
        say(f"[{name}] running a {options.conversation_turns}-turn conversation")
        turns = options.conversation_turns
        conversation = run_conversation(model, bank, candidate, turns, reply_tokens)
    memory = _peak_memory(cuda)
    long_context = None
    if options.long_context:
        say(f"[{name}] one reply to a {options.long_context}-token session")
        long_context = run_long_context(
            model, bank, candidate, options.long_context, reply_tokens, cuda
        )
    streamed = [c for c in session.calls if c.kind == "stream"]
    structured = [c for c in session.calls if c.kind == "structured"]
    waits = [r.next_prompt_s for r in session.replies]
    first = conversation.ttft(0)
    last = conversation.ttft(-1)
    result: dict[str, Any] = {
        "decode_asked": decode,
        "kv_reuse": reuse,
        "decode_in_use": model.decode_mode,
        "decode_notice": model.decode_notice,
        "device": model.plan.device,
        "quantization": model.info.quantization,
        "load_s": round(model.load_seconds, 3),
        "fast_prepare_s": round(model.fast_prepare_seconds, 3),
        "memory": memory,
        "long_context": long_context,
        "session": {
            "finished": session.finished,
            "session_s": round(session.session_s, 3),
            "calls": [asdict(c) for c in session.calls],
            "replies": [asdict(r) for r in session.replies],
        },
        "conversation": {
            "turns": [asdict(c) for c in conversation.turns],
            "ttft_turn1_s": first,
            "ttft_last_s": last,
            "ttft_last_over_first": (last / first) if first and last is not None else None,
            "reused_tokens_last": conversation.turns[-1].reused_tokens
            if conversation.turns
            else None,
            "prompt_tokens_last": conversation.turns[-1].prompt_tokens
            if conversation.turns
            else None,
        },
        "summary": {
            "interviewer_turns": len(streamed),
            "ttft_median_s": _median(
                [
                    c.first_token_s if c.first_token_s is not None else c.first_text_s
                    for c in streamed
                ]
            ),
            "tokens_per_s_median": _median([c.tokens_per_s for c in streamed]),
            "grading_median_s": _median([r.grading_s for r in session.replies]),
            "grading_calls": len(structured),
            "wait_median_s": _median(waits),
            "wait_max_s": max((w for w in waits if w is not None), default=None),
            "grading_in_wait_total_s": round(sum(r.grading_in_wait_s for r in session.replies), 4),
            "grading_in_wait_max_s": max(
                (r.grading_in_wait_s for r in session.replies), default=0.0
            ),
            "decode_paths": _paths([*streamed, *conversation.turns]),
        },
    }
    del model, session, conversation
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result


# ----------------------------------------------------------------- the whole run


def _version(package: str) -> str | None:
    """An installed package's version, without importing it (bitsandbytes takes seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _machine() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "bitsandbytes": _version("bitsandbytes"),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
    }


def _default_answers() -> Path:
    path = Path(__file__).resolve().parent.parent / "examples" / "answers.json"
    if not path.is_file():
        raise BenchError(
            "the example answers file is not installed with this copy of interviewer",
            hint='pass --answers FILE ({"answers": {"<question-id>": ["answer", ...]}})',
        )
    return path


def _first_paint(enabled: bool) -> dict[str, Any]:
    if not enabled:
        return {"seconds": None, "note": "skipped (--no-first-paint)"}
    import subprocess

    from interviewer.firstpaint import measure_first_paint

    try:
        seconds, torch_imported = measure_first_paint()
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        return {"seconds": None, "note": f"could not measure: {str(detail).strip()[-300:]}"}
    return {"seconds": round(seconds, 3), "torch_imported": torch_imported, "note": None}


def _source(options: BenchOptions, workdir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Where the model comes from: built random weights, or what --model names."""
    if options.random_weights is None:
        assert options.model is not None
        return {"source": options.model, "random_weights": None}
    from interviewer.llm.random_weights import CHAT_TEMPLATES, SHAPES, build_random_model

    shape = options.random_weights
    if shape not in SHAPES:
        raise BenchError(
            f"unknown random-weights shape '{shape}'",
            hint=f"use one of: {', '.join(SHAPES)}",
        )
    if options.family not in CHAT_TEMPLATES:
        raise BenchError(
            f"unknown chat template family '{options.family}'",
            hint=f"use one of: {', '.join(CHAT_TEMPLATES)}",
        )
    import torch

    cuda = torch.cuda.is_available() and options.device != "cpu"
    if SHAPES[shape].hidden_size >= 1024 and not cuda:
        raise BenchError(
            f"the {shape} shape is built and measured on a CUDA GPU, and none is in use here "
            "(on the CPU its float32 noise alone would need tens of GB of memory)",
            hint="measure --random-weights tiny or small on the CPU",
        )
    reuse = options.workdir is not None
    say(
        f"Building random weights in the {shape} shape ({options.family} template)"
        + (f" in {workdir / shape} (reused if already built there)" if reuse else "")
    )
    started = time.perf_counter()
    try:
        folder = build_random_model(
            workdir / shape,
            shape,
            options.family,  # type: ignore[arg-type]
            dtype="bfloat16" if cuda else "float32",
            device="cuda" if cuda else "cpu",
            reuse=reuse,
        )
    except Exception as exc:  # out of memory or disk, mostly
        raise BenchError(
            f"could not build the random {shape} model in {workdir}: "
            f"{type(exc).__name__}: {str(exc)[:300]}",
            hint="free GPU memory and disk space (the 7B shape saves 15 GB), or pick a "
            "smaller shape",
        ) from exc
    gc.collect()  # the built model is gone: give its memory back before measuring
    if cuda:
        torch.cuda.empty_cache()
    return {
        "source": str(folder),
        "random_weights": shape,
        "family": options.family,
        "build_s": round(time.perf_counter() - started, 2),
        "checkpoint_gib": round(
            sum(f.stat().st_size for f in folder.glob("*.safetensors")) / GIB, 3
        ),
    }


def run_bench(options: BenchOptions, say: Callable[[str], None]) -> dict[str, Any]:
    """Run every mode of ``options``; the results as a JSON-ready dict.

    Raises :class:`BenchError` for bad input and
    :class:`~interviewer.llm.base.ModelError` when the model cannot be loaded.
    """
    from interviewer.bank import BankError, load_bank
    from interviewer.headless import AnswersFileError, load_answers
    from interviewer.resources import default_bank_dir

    if (options.model is None) == (options.random_weights is None):
        raise BenchError(
            "say which model to measure: --model or --random-weights (one of them)",
            hint="e.g. --random-weights tiny, or --model Qwen/Qwen2.5-7B-Instruct",
        )
    for mode in options.modes:
        if mode not in MODES:
            raise BenchError(f"unknown mode '{mode}'", hint=f"the modes are {', '.join(MODES)}")
    try:
        bank = load_bank(options.bank or default_bank_dir())
    except BankError as exc:
        raise BenchError(f"the bank cannot be used:\n{exc}", hint="fix the bank") from exc
    try:
        answers = load_answers(options.answers or _default_answers(), bank)
    except AnswersFileError as exc:
        raise BenchError(str(exc), hint="fix the answers file") from exc

    results: dict[str, Any] = {
        "bench_version": BENCH_VERSION,
        "command": options.as_command(),
        "settings": {
            "modes": options.modes,
            "grader": options.grader,
            "grading": options.grading,
            "mode": options.mode,
            "max_follow_ups": options.max_follow_ups,
            "max_new_tokens": options.max_new_tokens,
            "conversation_turns": options.conversation_turns,
            "long_context": options.long_context,
            "bank": bank.id,
            "quantization": options.quantization,
            "device": options.device,
            "threads": options.threads,
        },
    }
    say("Measuring the TUI's first paint" if options.first_paint else "First paint: skipped")
    results["first_paint"] = _first_paint(options.first_paint)
    import torch

    threads = torch.get_num_threads()
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    try:
        results["machine"] = _machine()
        with contextlib.ExitStack() as stack:
            workdir = options.workdir or Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="interviewer-bench-"))
            )
            results["model"] = _source(options, workdir, say)
            results["modes"] = {
                name: run_mode(name, results["model"]["source"], options, bank, answers, say)
                for name in options.modes
            }
    finally:
        torch.set_num_threads(threads)  # a caller (a test run) keeps its own setting
    results["speedup"] = speedups(results["modes"])
    return results


# ----------------------------------------------------------------- reporting

# (label, path in a mode's results, unit scale, how to compare: "time" | "rate" | None)
_ROWS: list[tuple[str, tuple[str, ...], float, str | None]] = [
    ("model load (s)", ("load_s",), 1, "time"),
    ("fast decode preparation (s)", ("fast_prepare_s",), 1, None),
    ("interviewer turns timed", ("summary", "interviewer_turns"), 1, None),
    ("time to first token, median (ms)", ("summary", "ttft_median_s"), 1000, "time"),
    ("decode tokens/s, median", ("summary", "tokens_per_s_median"), 1, "rate"),
    ("grading per answer, median (ms)", ("summary", "grading_median_s"), 1000, "time"),
    ("candidate's wait to next prompt, median (s)", ("summary", "wait_median_s"), 1, "time"),
    ("candidate's wait to next prompt, max (s)", ("summary", "wait_max_s"), 1, "time"),
    (
        "grading the candidate waited for, max per answer (s)",
        ("summary", "grading_in_wait_max_s"),
        1,
        "time",
    ),
    ("conversation TTFT, turn 1 (ms)", ("conversation", "ttft_turn1_s"), 1000, "time"),
    ("conversation TTFT, last turn (ms)", ("conversation", "ttft_last_s"), 1000, "time"),
    ("conversation TTFT, last / first", ("conversation", "ttft_last_over_first"), 1, None),
    ("prompt tokens at the last turn", ("conversation", "prompt_tokens_last"), 1, None),
    ("... of them reused from the cache", ("conversation", "reused_tokens_last"), 1, None),
    ("long session: prompt tokens", ("long_context", "prompt_tokens"), 1, None),
    ("long session: time to first token (ms)", ("long_context", "ttft_s"), 1000, "time"),
]


def _get(mode: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = mode
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def speedups(modes: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each mode against the first one: >1 means faster (shorter times, more tokens/s)."""
    names = list(modes)
    out: dict[str, dict[str, float | None]] = {}
    for name in names[1:]:
        row: dict[str, float | None] = {}
        for _label, path, _scale, how in _ROWS:
            if how is None:
                continue
            base, this = _get(modes[names[0]], path), _get(modes[name], path)
            ratio = None
            if isinstance(base, int | float) and isinstance(this, int | float) and base and this:
                ratio = round(base / this if how == "time" else this / base, 3)
            row[".".join(path)] = ratio
        out[name] = row
    return out


def _cell(value: Any, scale: float) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) and scale == 1:
        return str(value)
    if isinstance(value, int | float):
        number = value * scale
        return f"{number:.0f}" if abs(number) >= 100 else f"{number:.3g}"
    return str(value)


def render(results: dict[str, Any], out: Any = None) -> None:
    """Print the results as one table (a column per mode, then the speed-ups) and notes."""
    from rich.console import Console
    from rich.table import Table

    from interviewer.textutil import shown_name

    console = Console(file=out or sys.stdout, width=120, highlight=False)
    modes: dict[str, dict[str, Any]] = results["modes"]
    names = list(modes)
    model = results["model"]
    machine = results["machine"]
    where = (
        machine["cuda_device"]
        or f"CPU ({machine['cpu_count']} cores, {machine['torch_threads']} torch threads)"
    )
    title = (
        f"interviewer bench: {(model.get('random_weights') and 'random weights, ') or ''}"
        f"{model.get('random_weights') or shown_name(model['source'])} on {where}"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for name in names:
        table.add_column(name, justify="right")
    for name in names[1:]:
        table.add_column(f"{name} vs {names[0]}", justify="right")
    table.add_row("decode path in use", *[modes[n]["decode_in_use"] for n in names])
    memory_row = []
    for name in names:
        memory = modes[name]["memory"]
        memory_row.append(
            f"{memory['peak_gib']:.2f} GiB GPU"
            if memory["kind"] == "gpu"
            else f"{memory['peak_mib']:.0f} MiB RSS"
        )
    for label, path, scale, how in _ROWS:
        cells = [_cell(_get(modes[n], path), scale) for n in names]
        ratios = [results["speedup"][n].get(".".join(path)) if how else None for n in names[1:]]
        table.add_row(label, *cells, *[f"{r:.2f}x" if r is not None else "" for r in ratios])
    table.add_row("peak memory", *memory_row)
    if any(modes[n].get("long_context") for n in names):
        long_row = []
        for name in names:
            probe = modes[name].get("long_context")
            if not probe:
                long_row.append("-")
            elif probe["failed"]:
                long_row.append("failed")
            elif probe["peak"]["kind"] == "gpu":
                long_row.append(f"{probe['peak']['peak_gib']:.2f} GiB GPU")
            else:
                long_row.append(f"{probe['peak']['peak_mib']:.0f} MiB RSS")
        table.add_row("peak memory, long session", *long_row)
    console.print(table)
    paint = results["first_paint"]
    if paint["seconds"] is not None:
        console.print(f"First paint of the TUI: {paint['seconds']:.3f} s")
    else:
        console.print(f"First paint of the TUI: {paint['note']}")
    for name in names:
        probe = modes[name].get("long_context")
        if probe and probe["failed"]:
            console.print(f"{name}: the long-session reply failed: {probe['failed']}")
    for name in names:
        notice = modes[name]["decode_notice"]
        if notice:
            console.print(f"{name}: {notice} (its numbers are the default path's)")
    if len(names) > 1 and any(modes[n]["memory"]["kind"] == "cpu_rss" for n in names):
        console.print("Peak RSS is the process's peak so far (the modes ran one after another).")


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
