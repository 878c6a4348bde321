"""A deterministic backend that replays prepared replies: for tests, demos and CI.

A script is a list of steps. Each step is the text the "model" says next; a step may name the
purpose it answers (``grade``, ``follow_up``, ...), and replay then fails loudly when the
interview asks for something else, so a test never passes on a script that drifted out of step.
Given no script, the model plays a built-in demo: neutral interviewer phrasings for every text
purpose. The demo has no grades of its own; pair it with the model-free evidence grader.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from interviewer.documents import DocumentError, parse_json
from interviewer.llm.base import (
    ChatMessage,
    DecodeMode,
    GenerationCancelled,
    GenerationOptions,
    ModelError,
    Purpose,
    Reply,
    T,
)
from interviewer.llm.structured import generate_with_retries
from interviewer.transcript import ModelInfo


class ScriptError(ModelError):
    """The script is unreadable, ran out, or does not match what the interview asked for."""


class ScriptStep(BaseModel):
    """One reply. ``json`` is a shorthand for a structured reply (serialized to ``text``)."""

    model_config = ConfigDict(extra="forbid")

    purpose: Purpose | None = None
    text: str | None = None
    json_: dict[str, Any] | None = Field(default=None, alias="json")

    @model_validator(mode="after")
    def _one_payload(self) -> ScriptStep:
        if (self.text is None) == (self.json_ is None):
            raise ValueError("a step needs exactly one of 'text' or 'json'")
        return self

    @property
    def reply(self) -> str:
        return self.text if self.text is not None else json.dumps(self.json_)


class Script(BaseModel):
    """The file format: ``{"name": "...", "steps": [{"purpose": "grade", "json": {...}}, ...]}``."""

    model_config = ConfigDict(extra="forbid")

    name: str = "script"
    steps: list[ScriptStep]


DEMO_REPLIES: dict[str, tuple[str, ...]] = {
    "acknowledge": (
        "Thank you, that's noted.",
        "Thanks for walking me through that.",
        "Understood, thank you.",
    ),
    "follow_up": (
        "Could you go one level deeper there: what actually happens under the hood?",
        "How would that play out in a real project you have worked on?",
        "Is there a concrete number, setting or API you would reach for there?",
    ),
    "clarify": (
        "Sure. Answer it the way you would explain it to a colleague: what it is, how it "
        "works, and when you would use it.",
    ),
    "feedback": (
        "Good effort. Compare your answer with the key points below; the missed ones are the "
        "ones worth a second look before your interview.",
    ),
}


def load_script(path: Path) -> Script:
    """Read a script file, with errors that name the file and the step."""
    try:
        raw = parse_json(path.read_bytes())
    except OSError as exc:
        raise ScriptError(
            f"{path}: cannot read the script: {exc.strerror or exc}",
            "check the --script path (or leave it out for the built-in demo)",
        ) from exc
    except DocumentError as exc:
        raise ScriptError(f"{path}: {exc}", _SCRIPT_HINT) from exc
    try:
        return Script.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ScriptError(f"{path}: {where}: {first['msg']}", _SCRIPT_HINT) from exc


_SCRIPT_HINT = (
    'fix the script; its shape is {"name": "...", "steps": [{"purpose": "grade", "json": '
    '{...}}, {"purpose": "follow_up", "text": "..."}]}'
)


_CHUNK = re.compile(r"\S+\s*|\s+")


class ScriptedModel:
    """Replays a script (or the built-in demo) through the :class:`ChatModel` protocol."""

    def __init__(self, steps: Sequence[ScriptStep | str] | None = None, name: str = "") -> None:
        self._steps: list[ScriptStep] | None = (
            None
            if steps is None
            else [s if isinstance(s, ScriptStep) else ScriptStep(text=s) for s in steps]
        )
        self._position = 0
        self._demo_turns: dict[str, int] = {}
        self._lock = threading.Lock()
        self.calls: list[tuple[Purpose, list[ChatMessage]]] = []
        """Every call received, in order: what tests inspect to see what the model was shown."""
        self._info = ModelInfo(
            backend="scripted", model_id=name or ("demo" if steps is None else "script")
        )

    @classmethod
    def from_file(cls, path: Path) -> ScriptedModel:
        script = load_script(path)
        return cls(script.steps, name=f"script:{script.name}")

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def load_seconds(self) -> float:
        return 0.0

    @property
    def decode_mode(self) -> DecodeMode | None:
        return None  # nothing is decoded

    @property
    def remaining(self) -> int:
        return 0 if self._steps is None else len(self._steps) - self._position

    def _next_reply(self, purpose: Purpose, messages: Sequence[ChatMessage]) -> str:
        with self._lock:
            self.calls.append((purpose, list(messages)))
            if self._steps is None:
                return self._demo_reply(purpose)
            if self._position >= len(self._steps):
                raise ScriptError(
                    f"the script ran out after {len(self._steps)} steps; the interview asked "
                    f"for a '{purpose}' reply"
                )
            step = self._steps[self._position]
            if step.purpose is not None and step.purpose != purpose:
                raise ScriptError(
                    f"script step {self._position + 1} is a '{step.purpose}' reply but the "
                    f"interview asked for '{purpose}'"
                )
            self._position += 1
            return step.reply

    def _demo_reply(self, purpose: Purpose) -> str:
        replies = DEMO_REPLIES.get(purpose)
        if replies is None:
            raise ScriptError(
                "the built-in demo script cannot grade answers",
                hint="use the evidence grader (--grader evidence) or give a --script with grades",
            )
        turn = self._demo_turns.get(purpose, 0)
        self._demo_turns[purpose] = turn + 1
        return replies[turn % len(replies)]

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Reply:
        """The next reply, word by word; its usage stays None (a script counts no tokens, and
        its replies are never cut short by a token budget)."""
        return Reply(self._chunks(messages, options, cancel))

    def _chunks(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
    ) -> Iterator[str]:
        reply = self._next_reply(options.purpose, messages)
        for match in _CHUNK.finditer(reply):
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled("generation cancelled")
            yield match.group()

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        def generate_text(conversation: Sequence[ChatMessage]) -> str:
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled("generation cancelled")
            return self._next_reply(options.purpose, conversation)

        return generate_with_retries(generate_text, messages, output_type)
