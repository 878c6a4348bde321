from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from interviewer.bank import Bank, KeyPoint, Question, load_bank
from interviewer.engine import Interview
from interviewer.engine.events import Event
from interviewer.engine.grading import EvidenceGrader, Grader, LLMGrader
from interviewer.llm.scripted import ScriptedModel, ScriptStep
from interviewer.prompts import PromptLibrary
from interviewer.resources import default_bank_dir
from interviewer.transcript import InterviewSettings


@pytest.fixture(autouse=True)
def _isolated_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads the developer's own config file or INTERVIEWER_* variables."""
    for name in list(os.environ):
        if name.startswith("INTERVIEWER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(tmp_path_factory.getbasetemp() / "no-config.toml"))


@pytest.fixture(scope="session")
def hf_bank() -> Bank:
    return load_bank(default_bank_dir())


@pytest.fixture(scope="session")
def prompts() -> PromptLibrary:
    return PromptLibrary()


def _question(qid: str, points: list[tuple[str, float]]) -> Question:
    return Question(
        id=qid,
        title=qid.replace("-", " ").title(),
        question=f"Tell me about {qid.replace('-', ' ')}?",
        reference_answer=f"The reference answer for {qid}: SECRET-REFERENCE-{qid}.",
        key_points=[
            KeyPoint(
                id=pid,
                statement=f"Statement of {pid}.",
                weight=weight,
                facts=[f"fact about {pid}"],
                keywords=[pid.split("-")[0], f"{pid.split('-')[0]}-extra"],
            )
            for pid, weight in points
        ],
        follow_up_angles=["an angle"],
    )


@pytest.fixture(scope="session")
def small_bank() -> Bank:
    """Two questions with easy-to-reason-about weights."""
    return Bank(
        id="small",
        title="Small bank",
        questions=(
            _question("alpha", [("apple", 2.0), ("banana", 1.0), ("cherry", 1.0)]),
            _question("beta", [("delta", 1.0), ("echo", 1.0)]),
        ),
    )


def grade_step(question: Question, verdicts: dict[str, str], **evidence: str) -> ScriptStep:
    """A scripted grader reply: the given verdicts, 'missing' for the rest."""
    return ScriptStep(
        purpose="grade",
        json={
            "key_points": [
                {
                    "key_point_id": p.id,
                    "rationale": f"rationale for {p.id}",
                    "verdict": verdicts.get(p.id, "missing"),
                    "evidence": evidence.get(p.id.replace("-", "_"), ""),
                }
                for p in question.key_points
            ]
        },
    )


def text_step(purpose: Any, text: str) -> ScriptStep:
    return ScriptStep(purpose=purpose, text=text)


class FixedClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def make_interview(
    prompts: PromptLibrary,
) -> Callable[..., tuple[Interview, ScriptedModel]]:
    def build(
        bank: Bank,
        steps: list[ScriptStep] | None = None,
        *,
        grader: str = "llm",
        **settings: Any,
    ) -> tuple[Interview, ScriptedModel]:
        model = ScriptedModel(steps if steps is not None else [])
        chosen: Grader = LLMGrader(model, prompts) if grader == "llm" else EvidenceGrader()
        interview = Interview(
            bank,
            model,
            chosen,
            InterviewSettings(**settings),
            prompts,
            clock=FixedClock(),
            session_id="test-session",
        )
        return interview, model

    return build


def drain(events: Iterator[Event]) -> list[Event]:
    return list(events)


def dump(obj: Any) -> str:
    return json.dumps(obj)
