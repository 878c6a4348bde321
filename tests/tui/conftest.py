from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from interviewer.config import Settings
from interviewer.llm.scripted import ScriptedModel
from interviewer.tui.app import InterviewerApp, create_app
from tests.helpers.tui import GatedModel


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
