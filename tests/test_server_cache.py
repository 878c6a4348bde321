"""What a REAL model server's prompt cache reuses of the interview's prompts (llama-cpp-python
serving SmolLM2 on 127.0.0.1 with its prompt-state cache; no mocks): an interviewer turn after a
grade prefills only what is new since the turn before it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from interviewer.engine.grading import LLMGrader
from interviewer.llm.base import GenerationOptions, Reply
from interviewer.llm.openai import open_server_model
from interviewer.prompts import PromptLibrary
from interviewer.transcript import Turn
from tests.helpers.llama_server import ALIAS, LlamaServer, start_llama_server
from tests.helpers.models import smollm2_gguf as _smollm2_gguf

HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens")
AT = datetime(2026, 12, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def cached_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = start_llama_server(
        _smollm2_gguf(),
        tmp_path_factory.mktemp("cached-server"),
        extra=("--cache", "True", "--cache_type", "ram", "--interrupt_requests", "False"),
    )
    yield server
    server.stop()


def _turn(index: int, role: str, kind: str, text: str) -> Turn:
    return Turn(index=index, role=role, kind=kind, text=text, question_id="q", at=AT)  # type: ignore[arg-type]


def _follow_up(model: Any, prompts: PromptLibrary, bank: Any, history: list[Turn]) -> str:
    """One follow-up, stopped after a few chunks as the engine stops a reply with its shape."""
    question = bank.questions[0]
    messages = prompts.interviewer_messages(
        "follow_up",
        bank_title=bank.title,
        question=question,
        question_number=1,
        question_count=len(bank.questions),
        history=history,
        key_point=question.key_points[len(history) % len(question.key_points)],
        questions=[q.question for q in bank.questions],
    )
    reply = Reply.of(model.stream(messages, GenerationOptions(purpose="follow_up", temperature=0)))
    chunks = []
    for chunk in reply:
        chunks.append(chunk)
        if len(chunks) >= 6:
            break
    reply.close()
    return "".join(chunks).strip() or "Could you say more?"


def test_a_turn_after_a_grade_prefills_only_what_is_new(cached_server, hf_bank, prompts):
    model = open_server_model(cached_server.base_url, ALIAS)
    grader = LLMGrader(model, prompts)
    question = hf_bank.questions[0]
    history = [
        _turn(0, "interviewer", "question", question.question),
        _turn(1, "candidate", "answer", "Serverless shares a pool of GPUs; endpoints are yours."),
    ]
    said = _follow_up(model, prompts, hf_bank, history)
    grader.grade(question, [history[1].text])  # the grade replaces the live prompt state
    history += [
        _turn(2, "interviewer", "follow_up", said),
        _turn(3, "candidate", "answer", "An endpoint is billed by the hour and always warm."),
    ]
    start = cached_server.log.stat().st_size
    _follow_up(model, prompts, hf_bank, history)
    log = cached_server.log.read_bytes()[start:].decode(errors="replace")
    hits = [(int(a), int(b)) for a, b in HIT.findall(log)]
    assert hits, f"the server reused nothing for the second turn:\n{log[-2000:]}"
    reused, remaining = hits[-1]
    # The system prompt, the question and the first answer came from the cache: only the
    # follow-up said, the second answer and the task block were prefilled.
    assert reused / (reused + remaining) >= 0.6, (reused, remaining)
