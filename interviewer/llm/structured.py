"""Turning model text into validated pydantic objects: extract, parse leniently, retry.

Backends that constrain decoding to a JSON schema still pass their text through
:func:`parse_structured`; backends that cannot constrain use :func:`generate_with_retries`,
which tells the model what was wrong and asks again.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from interviewer.documents import check_text
from interviewer.llm.base import ChatMessage, StructuredOutputError

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class _Scan:
    """Where the first JSON object of a text starts, and how far it got."""

    start: int
    """Index of its ``{`` (-1: there is none)."""
    end: int | None
    """Index just past its closing ``}``, or None when it is not closed."""
    cut: tuple[int, tuple[str, ...]] | None
    """The last place a nested container closed, with the containers still open there."""


def _scan_first_object(text: str) -> _Scan:
    start = text.find("{")
    if start < 0:
        return _Scan(-1, None, None)
    stack: list[str] = []
    in_string = escaped = False
    cut: tuple[int, tuple[str, ...]] | None = None
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]":
            if not stack:
                break
            stack.pop()
            if not stack:
                return _Scan(start, index + 1, cut)
            cut = (index + 1, tuple(stack))
    return _Scan(start, None, cut)


def _extract_json_object(text: str) -> str:
    """The first balanced ``{...}`` in ``text`` (models like to wrap JSON in prose or fences)."""
    scan = _scan_first_object(text)
    if scan.start < 0:
        raise ValueError("no JSON object in the reply")
    if scan.end is None:
        raise ValueError("the JSON object in the reply is not closed (output cut short?)")
    return text[scan.start : scan.end]


def repair_truncated(text: str) -> str:
    """Close a JSON prefix that ran out of tokens, keeping only the elements that completed.

    Constrained decoding guarantees every prefix is valid JSON so far; when the token budget
    ends mid-object, cutting back to the last closed container and closing what is still open
    yields valid JSON holding everything the model finished.
    """
    scan = _scan_first_object(text)
    if scan.end is not None:
        return text[scan.start : scan.end]
    if scan.cut is None:
        return text
    end, still_open = scan.cut
    closers = "".join("}" if opener == "{" else "]" for opener in reversed(still_open))
    return text[scan.start : end] + closers


def grammar_schema(output_type: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema to constrain decoding to: the model's schema with its ``x-grammar`` hints
    applied (tighter bounds than validation, so the grammar's and pydantic's differing ways of
    counting string length can never make a constrained output fail validation)."""
    schema = copy.deepcopy(output_type.model_json_schema())

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            hints = node.pop("x-grammar", None)
            if isinstance(hints, dict):
                node.update(hints)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return schema


def parse_structured(text: str, output_type: type[T]) -> T:
    """Parse ``text`` into ``output_type``; raise ValueError with a reason a model can act on."""
    try:
        raw: Any = json.loads(_extract_json_object(text), strict=False)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at position {exc.pos}") from exc
    except RecursionError as exc:  # a reply nested deeper than the stack: not a grade
        raise ValueError("invalid JSON: nested too deeply") from exc
    check_text(raw)  # a "\ud800" escape is not text: it could be neither stored nor shown
    try:
        return output_type.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:5]
        )
        raise ValueError(f"JSON does not match the schema: {details}") from exc


def generate_with_retries(
    generate_text: Callable[[Sequence[ChatMessage]], str],
    messages: Sequence[ChatMessage],
    output_type: type[T],
    attempts: int = 3,
) -> T:
    """Ask, parse, and on failure ask again with the error spelled out, up to ``attempts`` times."""
    conversation = list(messages)
    schema = json.dumps(output_type.model_json_schema(), separators=(",", ":"))
    problem = ""
    for _ in range(attempts):
        reply = generate_text(conversation)
        try:
            return parse_structured(reply, output_type)
        except ValueError as exc:
            problem = str(exc)
        conversation += [
            ChatMessage(role="assistant", content=reply),
            ChatMessage(
                role="user",
                content=(
                    f"That reply could not be used: {problem}. Reply again with only one JSON "
                    f"object that matches this JSON Schema, and nothing else:\n{schema}"
                ),
            ),
        ]
    raise StructuredOutputError(
        f"the model gave no valid {output_type.__name__} in {attempts} attempts (last problem: "
        f"{problem})",
        hint="try a larger or instruction-tuned model, or grade with --grader evidence",
    )
