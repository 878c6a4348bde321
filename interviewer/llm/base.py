"""The one small protocol every chat model backend implements.

Two calls, in the spirit of simonw/llm's ``Model.execute() -> Iterator[str]``:

* :meth:`ChatModel.stream` turns chat messages into text chunks, checking a cancel signal;
* :meth:`ChatModel.generate_structured` returns a validated pydantic object.

A backend takes plain role/content messages and formats them itself (``apply_chat_template`` for
transformers, the server for an OpenAI-compatible API), so nothing upstream builds a
model-specific prompt string.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from interviewer.transcript import ModelInfo

Purpose = Literal["acknowledge", "follow_up", "clarify", "feedback", "grade"]
"""Why the engine calls the model. Backends may use it for logging, timing and scripted replay."""

T = TypeVar("T", bound=BaseModel)


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


class ModelError(Exception):
    """A failure the user can act on: ``str(error)`` says what happened, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def describe(self) -> str:
        return f"{self}\n  what to do: {self.hint}" if self.hint else str(self)


class GenerationCancelled(ModelError):
    """Generation stopped because the cancel signal was set."""


class StructuredOutputError(ModelError):
    """The model's output could not be turned into the requested object, even after retries."""


@runtime_checkable
class ChatModel(Protocol):
    """What the engine needs from a model."""

    @property
    def info(self) -> ModelInfo: ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield the reply in chunks; raise :class:`GenerationCancelled` once ``cancel`` is set."""
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
