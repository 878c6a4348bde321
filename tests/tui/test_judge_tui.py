"""The judge check in the TUI: it runs in the load worker (the screen keeps drawing and shows
"checking the judge: k/4"), and a model that fails it is said once, as a notification, before
the interview starts on the evidence signal."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from textual.widgets import Static

from interviewer.config import Settings
from interviewer.engine.evidence import EvidenceGrader
from interviewer.llm.base import ChatMessage, GenerationOptions, T
from interviewer.llm.scripted import ScriptedModel, ScriptStep
from interviewer.session.judge import judge_sample
from interviewer.transcript import ModelInfo
from interviewer.tui.app import create_app
from interviewer.tui.start import LoadingScreen
from tests.helpers.tui import ready_for_answer


class LenientJudge(ScriptedModel):
    """A model (under a real model's name) that credits every point, as weak models do; its
    first grade waits for ``release`` so the test can look at the loading screen meanwhile."""

    def __init__(self, steps: Sequence[ScriptStep]) -> None:
        super().__init__(list(steps))
        self._info = ModelInfo(backend="hf", model_id="org/lenient")
        self.grading = threading.Event()
        self.release = threading.Event()

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        self.grading.set()
        self.release.wait(10)
        return super().generate_structured(messages, output_type, options, cancel)


def all_covered() -> list[ScriptStep]:
    from interviewer.engine.prefilter import screen

    steps = []
    for labelled in judge_sample():
        question = labelled.question
        for answer in labelled.answers:
            if screen(answer.text, question).reason is not None:
                continue
            quote = screen(answer.text, question).text[:20]
            points = [
                {"key_point_id": p.id, "rationale": "r", "verdict": "covered", "evidence": quote}
                for p in question.key_points
            ]
            steps.append(ScriptStep(purpose="grade", json={"key_points": points}))
    return steps


async def test_a_refused_judge_is_checked_off_the_screen_and_said_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTERVIEWER_TRUST_JUDGE")
    model = LenientJudge(all_covered())
    script = tmp_path / "script.json"  # only tells the settings that this backend can grade
    script.write_text(json.dumps({"name": "tui", "steps": []}))
    settings = Settings(backend="scripted", script=script, grader="both")
    app = create_app(
        settings, start_now=True, open_model=lambda s, status, progress: model, live=False
    )
    async with app.run_test() as pilot:
        for _ in range(500):
            if model.grading.is_set():
                break
            await pilot.pause(0.01)
        assert model.grading.is_set()
        await pilot.pause(0.05)
        screen = pilot.app.screen
        assert isinstance(screen, LoadingScreen)  # the screen still draws while it checks
        status = str(screen.query_one("#load-status", Static).render())
        assert "checking the judge: 0/4" in status
        model.release.set()
        await ready_for_answer(pilot, seconds=20)
        notes = [n for n in pilot.app._notifications if "not trusted to grade" in n.message]
        assert len(notes) == 1
        assert notes[0].title == "Graded by the evidence signal"
        assert pilot.app.interview is not None
        assert isinstance(pilot.app.interview.grader, EvidenceGrader)
