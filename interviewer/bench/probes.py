"""The growing conversation (time to first token, turn 1 against turn N) and the long
session (one reply to about ``--long-context`` tokens, and the memory it peaks at)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from interviewer.bank.models import Bank
from interviewer.bench.timing import CallRecord, TimedModel, _peak_memory, _ttft
from interviewer.llm.base import (
    ChatMessage,
    ChatModel,
    CountsPromptTokens,
    GenerationOptions,
)


@runtime_checkable
class KnowsPromptCapacity(Protocol):
    """A backend whose caches (and fast path) hold prompts up to a length (the HF one)."""

    def prompt_capacity(self, max_new_tokens: int) -> int: ...


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
    """The first question's conversation, grown exchange by exchange while its prompt holds at
    most ``target_tokens`` tokens (counted with the model's chat template where it has one,
    else at about four characters a token): the longest such conversation, so a probe sized
    to a cache really fits it."""
    question = bank.questions[0]
    messages = _opening(bank)

    def size(candidate: list[ChatMessage]) -> int:
        if isinstance(model, CountsPromptTokens):
            return model.prompt_tokens(candidate)
        return sum(len(m.content) for m in candidate) // 4

    def grown(base: list[ChatMessage], first: int, exchanges: int) -> list[ChatMessage]:
        for turn in range(first, first + exchanges):
            base = [
                *base,
                ChatMessage(role="assistant", content=f"Thank you. {question.question}"),
                ChatMessage(role="user", content=replies[turn % len(replies)]),
            ]
        return base

    turn = 0  # (an opening longer than the target is returned as it is: the probe says so)
    # Four exchanges at a time, then one: each count renders the whole prompt.
    for step in (4, 1):
        while size(candidate := grown(messages, turn, step)) <= target_tokens:
            messages, turn = candidate, turn + step
    return messages


def run_long_context(
    model: ChatModel,
    bank: Bank,
    replies: Sequence[str],
    target_tokens: int,
    max_new_tokens: int,
    cuda: bool,
) -> dict[str, Any]:
    """One interviewer reply to a session of about ``target_tokens`` tokens, and the memory it
    peaks at. The session is sized to what the backend's caches hold with the reply
    (``sized_to``), so the fast path serves it rather than quietly handing it to
    ``generate()``; ``path`` says which path did."""
    sized = target_tokens
    if isinstance(model, KnowsPromptCapacity):
        sized = min(target_tokens, model.prompt_capacity(max_new_tokens))
    messages = long_messages(model, bank, replies, sized)
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
        "sized_to": sized,
        "prompt_tokens": call.prompt_tokens,
        "reused_tokens": call.reused_tokens,
        "ttft_s": _ttft(call),
        "tokens_per_s": call.tokens_per_s,
        "path": call.path,
        "failed": failed,
        "peak": _peak_memory(cuda),
    }
