"""Driving the Textual app in tests: waiting for it to settle, answering, and a model that
pauses mid-stream so a test can look at a half-drawn reply."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from textual.pilot import Pilot
from textual.widgets import TextArea

from interviewer.llm.base import ChatMessage, GenerationCancelled, GenerationOptions, T
from interviewer.transcript import ModelInfo


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the workers are done and every message they posted has been handled."""
    await pilot.pause(0)
    await pilot.app.workers.wait_for_complete()
    for _ in range(3):  # the messages the workers posted, and the ones those handlers post
        await pilot.pause(0)


async def ready_for_answer(pilot: Pilot[None], seconds: float = 10.0) -> None:
    """Wait until the interview screen takes an answer: :func:`settle` can return before the
    screen has started the engine (it starts once the screen is shown), and a reply sent while
    the interviewer is still busy stays in the box, as it should for a person."""
    from interviewer.tui.screens import InterviewScreen

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        screen = pilot.app.screen
        if isinstance(screen, InterviewScreen) and not screen.busy:
            return
        await pilot.pause(0.01)
    raise AssertionError(f"the interview screen did not get ready in {seconds} s")


async def answer(pilot: Pilot[None], text: str) -> None:
    """Put ``text`` in the answer box (as a paste would) and send it with Ctrl+S."""
    await ready_for_answer(pilot)
    box = pilot.app.screen.query_one("#answer", TextArea)
    box.text = text
    await pilot.press("ctrl+s")
    await settle(pilot)


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
