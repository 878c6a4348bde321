"""The one small protocol every chat model backend implements.

Two calls, in the spirit of simonw/llm's ``Model.prompt() -> Response``:

* :meth:`ChatModel.stream` turns chat messages into a :class:`Reply`: its text chunks, checking a
  cancel signal, and, once it has ended, the call's own :class:`GenerationUsage` (tokens, time
  to the first token, whether the token budget ran out);
* :meth:`ChatModel.generate_structured` returns a validated pydantic object.

Per-call figures travel with the call, never as state on the model, so two threads calling one
model (background grading beside the interviewer's turn) never read each other's.

A backend takes plain role/content messages and formats them itself (``apply_chat_template`` for
transformers, the server for an OpenAI-compatible API), so nothing upstream builds a
model-specific prompt string.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from interviewer.errors import InterviewerError
from interviewer.transcript import ModelInfo

Purpose = Literal["acknowledge", "follow_up", "clarify", "feedback", "grade", "draft"]
"""Why the engine calls the model (``draft``: ``bank import`` drafting a rubric from notes).
Backends may use it for logging, timing and scripted replay."""

T = TypeVar("T", bound=BaseModel)

DecodeMode = Literal["default", "fast"]
"""A decoder: ``default`` (transformers' ``generate()``), ``fast`` (a replayed CUDA graph)."""

DecodePath = Literal["generate", "fast", "server"]
"""The path one call took: ``generate`` (the default decoder), ``fast``, or ``server`` (a
model server decoded it)."""


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class GenerationOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    purpose: Purpose
    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.7, ge=0)
    """0 means greedy decoding."""
    top_p: float = Field(default=0.9, gt=0, le=1)


class ModelError(InterviewerError):
    """A failure the user can act on: ``str(error)`` says what happened, ``hint`` what to do."""


class GenerationCancelled(ModelError):
    """Generation stopped because the cancel signal was set."""


class StructuredOutputError(ModelError):
    """The model's output could not be turned into the requested object, even after retries."""


class ModelUnavailable(ModelError):
    """The model cannot be reached any more: a server that stopped, stopped answering or
    refused the key. Every later call would fail too, so the engine does not carry on without
    it (as it does after one failed reply): the interview stops where it is, everything the
    candidate said is stored, and ``interviewer resume`` continues once the model is back."""


@dataclass(frozen=True)
class GenerationUsage:
    """What one streamed call did, as its backend measured it."""

    path: DecodePath
    prompt_tokens: int
    reused_tokens: int
    """Leading prompt tokens whose key/values came from an earlier call (not prefilled)."""
    new_tokens: int
    first_token_s: float | None
    """From the start of the call to the first new token (prefill plus one step)."""
    total_s: float
    budget_exhausted: bool
    """The call made all the ``max_new_tokens`` it was allowed: its text may stop mid-sentence."""


class Reply(Iterator[str]):
    """One streamed call: iterate it for the text chunks; read :attr:`usage` once it has ended.

    :meth:`close` stops the generation now (a consumer that stops reading early), not at garbage
    collection. A backend fills :attr:`usage` in when the stream ends or is closed, through the
    ``report`` callback :meth:`reporting` hands its chunk generator.
    """

    def __init__(self, chunks: Iterable[str] = ()) -> None:
        self._chunks: Iterator[str] = iter(chunks)
        self.usage: GenerationUsage | None = None
        """This call's figures; None while it runs, or from a backend that cannot say (the
        scripted one)."""

    @classmethod
    def reporting(
        cls, produce: Callable[[Callable[[GenerationUsage], None]], Iterable[str]]
    ) -> Reply:
        """The reply of ``produce(report)``: chunks from a generator that calls ``report`` with
        the call's usage when it ends (lazily: nothing runs before the first chunk is read)."""
        reply = cls()
        reply._chunks = iter(produce(reply._report))
        return reply

    @classmethod
    def of(cls, chunks: Iterable[str]) -> Reply:
        """``chunks`` as a reply: itself when it is one, else a reply with no usage (a wrapper
        that passes plain chunks on)."""
        return chunks if isinstance(chunks, Reply) else cls(chunks)

    def _report(self, usage: GenerationUsage) -> None:
        self.usage = usage

    def __iter__(self) -> Reply:
        return self

    def __next__(self) -> str:
        return next(self._chunks)

    def close(self) -> None:
        if isinstance(self._chunks, Generator):
            self._chunks.close()


@runtime_checkable
class ChatModel(Protocol):
    """What the engine needs from a model."""

    @property
    def info(self) -> ModelInfo: ...

    @property
    def load_seconds(self) -> float:
        """How long loading the model took (0 for a backend that loads nothing)."""
        ...

    @property
    def decode_mode(self) -> DecodeMode | None:
        """The decoder in use; None for a backend that decodes nothing here (the scripted one,
        a model server)."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Reply:
        """The reply in chunks; raise :class:`GenerationCancelled` once ``cancel`` is set."""
        ...

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        """Return an instance of ``output_type`` or raise :class:`StructuredOutputError`."""
        ...


@runtime_checkable
class ReadsConfidence(Protocol):
    """A backend that can also say how sure the model was of some values it chose.

    ``generate_structured_scored`` returns the object and, for every occurrence of the string
    field ``scored_field`` in the generated JSON (in order), the probability the model gave the
    value it wrote there: the product of its tokens' probabilities under the constraint.
    """

    def generate_structured_scored(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
        *,
        scored_field: str,
    ) -> tuple[T, list[float]]: ...


@runtime_checkable
class CountsPromptTokens(Protocol):
    """A backend that can say how many tokens a conversation's prompt holds."""

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int: ...
