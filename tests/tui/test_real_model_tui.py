"""The real transformers streaming path through the UI, and quitting mid-generation."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from interviewer.config import Settings
from interviewer.llm.base import GenerationOptions
from interviewer.textutil import strip_control
from interviewer.tui.app import create_app
from interviewer.tui.screens import InterviewScreen
from tests.helpers.tui import answer, settle


async def until(pilot: Any, condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.01)


def generating_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "interviewer-generate" and t.is_alive()]


async def test_a_tiny_real_model_streams_into_the_conversation(load_tiny):
    model = load_tiny("chatml")
    # The model speaks; the evidence signal grades (a random model's grade would only fill
    # its token budget: tests/test_hf_backend.py covers that path).
    app = create_app(
        Settings(backend="hf", grader="evidence", mode="exam", max_follow_ups=1),
        start_now=True,
        open_model=lambda settings, status, progress: model,
        live=False,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, InterviewScreen)
        await answer(pilot, "Serverless is a shared pool; an Endpoint is dedicated compute.")
        follow_ups = [t for t in app.interview.turns if t.kind == "follow_up"]
        assert follow_ups, "the answer leaves points missing, so the interviewer should probe"
        shown = app.screen.query(".follow_up").last().text
        # what streamed in is what was stored (less the control codes a random model emits)
        assert shown == strip_control(follow_ups[-1].text)
        assert app.screen.query_one("#status").status == "ready"


class Endless:
    """The real tiny model, asked for endless replies (its end-of-turn tokens suppressed, so a
    random model cannot stop early by chance). What it says is passed on as one growing word:
    the engine stops a turn that has said its sentences or too many words (engine/shape.py),
    and these tests need a reply that only the candidate can stop."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.info = model.info

    def stream(self, messages, options, cancel=None):
        from transformers import SuppressTokensLogitsProcessor

        endless = GenerationOptions(purpose=options.purpose, max_new_tokens=100_000)
        no_eos = SuppressTokensLogitsProcessor(self.model._eos_ids)
        inner = self.model._generate(messages, endless, cancel, no_eos)
        try:
            for chunk in inner:
                yield re.sub(r"[\s.!?\u2026]", "", chunk) or "x"
        finally:
            inner.close()  # as the engine's close() reaches the real stream

    def generate_structured(self, messages, output_type, options, cancel=None):
        return self.model.generate_structured(messages, output_type, options, cancel)


async def test_quitting_mid_generation_stops_it_within_a_second(load_tiny):
    model = Endless(load_tiny("chatml"))
    app = create_app(
        Settings(backend="hf", grader="evidence", mode="exam"),
        start_now=True,
        open_model=lambda settings, status, progress: model,
        live=False,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+l")  # clarify: the model starts an endless reply
        await until(pilot, lambda: generating_threads() and app.screen.query(".clarification"))
        assert generating_threads()
        started = time.perf_counter()
        await pilot.press("ctrl+q")
        for _ in range(200):
            if not generating_threads():
                break
            await pilot.pause(0.01)
        assert time.perf_counter() - started < 1.0
    assert not generating_threads()


async def test_ctrl_c_stops_the_interviewer_and_the_interview_goes_on(load_tiny):
    model = Endless(load_tiny("chatml"))
    app = create_app(
        Settings(backend="hf", grader="evidence", mode="exam", max_follow_ups=0),
        start_now=True,
        open_model=lambda settings, status, progress: model,
        live=False,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+l")
        await until(pilot, generating_threads)
        started = time.perf_counter()
        await pilot.press("ctrl+c")
        await settle(pilot)
        assert time.perf_counter() - started < 1.5
        assert not generating_threads()
        assert app.screen.query_one("#status").status == "ready"
        await answer(pilot, "/skip")  # the next step works with a fresh cancel signal
        assert app.interview.results[0].status == "skipped"
