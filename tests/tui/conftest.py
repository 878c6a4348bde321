from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from interviewer.config import Settings
from interviewer.llm.base import ChatMessage, GenerationCancelled, GenerationOptions, T
from interviewer.llm.scripted import ScriptedModel
from interviewer.transcript import ModelInfo
from interviewer.tui.app import InterviewerApp, create_app


class GatedModel:
    """A scripted model whose ``purpose`` stream pauses after ``after`` chunks until released.

    It lets a test look at the screen while a reply is half streamed, deterministically.
    """

    def __init__(self, inner: Any, purpose: str, after: int) -> None:
        self.inner = inner
        self.purpose = purpose
        self.after = after
        self.reached = threading.Event()
        self.release = threading.Event()

    @property
    def info(self) -> ModelInfo:
        return self.inner.info  # type: ignore[no-any-return]

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        for index, chunk in enumerate(self.inner.stream(messages, options, cancel)):
            if options.purpose == self.purpose and index == self.after:
                self.reached.set()
                for _ in range(200):  # at most 10 s, and a cancel ends it at once
                    if self.release.wait(0.05):
                        break
                    if cancel is not None and cancel.is_set():
                        raise GenerationCancelled("generation cancelled")
            yield chunk

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        return self.inner.generate_structured(messages, output_type, options, cancel)  # type: ignore[no-any-return]


def demo_settings(**overrides: Any) -> Settings:
    return Settings(backend="scripted", grader="evidence", **overrides)


@pytest.fixture
def demo_app() -> Callable[..., InterviewerApp]:
    def build(*, start_now: bool = True, model: Any = None, **overrides: Any) -> InterviewerApp:
        opener = (lambda settings, status, progress: model) if model is not None else None
        return create_app(
            demo_settings(**overrides), start_now=start_now, open_model=opener, live=False
        )

    return build


@pytest.fixture
def gated_clarification() -> Iterator[GatedModel]:
    """Stops mid-stream in a clarification (follow-ups are shown only once settled)."""
    model = GatedModel(ScriptedModel(), "clarify", after=6)
    yield model
    model.release.set()
