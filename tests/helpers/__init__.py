"""Helpers shared by the tests (imported as ``from tests.helpers import ...``; fixtures stay
in ``conftest.py``): scripted model steps, a fixed clock, and draining an event stream.

The other modules here: ``models`` (where SmolLM2's GGUF file is), ``llama_server`` (a real
OpenAI-compatible server), ``faults`` (real filesystem faults: tmpfs, read-only mounts),
``strategies`` (Hypothesis strategies of every input format) and ``tui`` (driving the app).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from interviewer.bank import Question
from interviewer.engine.events import Event
from interviewer.llm.scripted import ScriptStep


def grade_step(
    question: Question, verdicts: dict[str, str], quote: str | None = None
) -> ScriptStep:
    """A scripted grader reply: the given verdicts, 'missing' for the rest.

    Each covered or partial verdict quotes ``quote`` (default: the key point's id, which the
    tests' answers mention), since evidence the candidate never wrote is downgraded.
    """
    return ScriptStep(
        purpose="grade",
        json={
            "key_points": [
                {
                    "key_point_id": p.id,
                    "rationale": f"rationale for {p.id}",
                    "verdict": verdicts.get(p.id, "missing"),
                    "evidence": (quote if quote is not None else p.id)
                    if verdicts.get(p.id, "missing") != "missing"
                    else "",
                }
                for p in question.key_points
            ]
        },
    )


def text_step(purpose: Any, text: str) -> ScriptStep:
    return ScriptStep(purpose=purpose, text=text)


class FixedClock:
    """A clock that starts at a fixed instant and moves one second per reading."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def drain(events: Iterator[Event]) -> list[Event]:
    return list(events)
