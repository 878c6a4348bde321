"""Structured output on an OpenAI-compatible server: which JSON Schema constraint the server
takes, and the model's probability for the values it chose, read from ``logprobs``.

Servers spell a schema constraint differently: vLLM, SGLang, Ollama (0.5+) and OpenAI take
``response_format: {"type": "json_schema", "json_schema": {...}}``; llama-cpp-python's server
``{"type": "json_object", "schema": ...}``; TGI ``{"type": "json_object", "value": ...}``;
Ollama's own field is ``format``. A server may also accept a form and ignore it, so each form
is tried on a tiny probe schema whose only valid output no model writes unconstrained: the
first form whose output validates is the server's. What was found is remembered per server and
model for the life of the process; with none, grades take the parse / repair / retry path.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

DialectName = Literal["json_schema", "json_object_schema", "json_object_value", "format"]


@dataclass(frozen=True)
class Dialect:
    """One way of asking a server to constrain its output to a JSON Schema."""

    name: DialectName
    described: str
    build: Callable[[dict[str, Any], str], dict[str, Any]]
    """(schema, name) -> the request fields that ask for it."""

    def fields(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        return self.build(schema, name)


DIALECTS: tuple[Dialect, ...] = (
    Dialect(
        "json_schema",
        'response_format {"type": "json_schema"} (vLLM, SGLang, Ollama, OpenAI)',
        lambda schema, name: {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name[:64], "schema": schema},
            }
        },
    ),
    Dialect(
        "json_object_schema",
        'response_format {"type": "json_object", "schema": ...} (llama-cpp-python)',
        lambda schema, name: {"response_format": {"type": "json_object", "schema": schema}},
    ),
    Dialect(
        "json_object_value",
        'response_format {"type": "json_object", "value": ...} (TGI)',
        lambda schema, name: {"response_format": {"type": "json_object", "value": schema}},
    ),
    Dialect("format", "format (Ollama)", lambda schema, name: {"format": schema}),
)


class Probe(BaseModel):
    """The probe's output: one field, one allowed value that no model writes unasked (and
    short: the probe costs a handful of tokens)."""

    model_config = ConfigDict(extra="forbid")

    zq: Literal["qz"]


PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"zq": {"type": "string", "enum": ["qz"]}},
    "required": ["zq"],
    "additionalProperties": False,
}
PROBE_PROMPT = "Say hello."
PROBE_TOKENS = 24


@dataclass
class _Known:
    """What was found out per (server, model), shared by every client in this process."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    dialects: dict[tuple[str, str], Dialect | None] = field(default_factory=dict)


KNOWN = _Known()


def described(dialect: Dialect | None) -> str:
    """How structured output works on a server, in words."""
    if dialect is None:
        return (
            "not constrained by the server (it took no JSON Schema form): grades are parsed, "
            "repaired and retried"
        )
    return f"constrained by the server to the grade's JSON Schema ({dialect.described})"


# ----------------------------------------------------------------------------- logprobs


@dataclass(frozen=True)
class TokenChoice:
    """One token the server reports: its bytes and log probability, with the alternatives
    it reports at that position (``top_logprobs``)."""

    data: bytes
    logprob: float
    alternatives: tuple[tuple[bytes, float], ...] = ()


def token_choices(content: Sequence[Any]) -> list[TokenChoice]:
    """``choices[0].logprobs.content`` of a response as :class:`TokenChoice` values."""
    found = []
    for item in content:
        if not isinstance(item, dict) or "logprob" not in item:
            continue
        alternatives = tuple(
            (_token_bytes(alt), float(alt["logprob"]))
            for alt in item.get("top_logprobs") or []
            if isinstance(alt, dict) and "logprob" in alt
        )
        found.append(TokenChoice(_token_bytes(item), float(item["logprob"]), alternatives))
    return found


def _token_bytes(item: dict[str, Any]) -> bytes:
    raw = item.get("bytes")
    if isinstance(raw, list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
        return bytes(raw)
    return str(item.get("token", "")).encode("utf-8")


def allowed_values(schema: dict[str, Any], field_name: str) -> list[str] | None:
    """The ``enum`` (or ``const``) of the string property ``field_name`` anywhere in
    ``schema``; None when it is free text or not found."""
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict) and isinstance(properties.get(field_name), dict):
                spec = _resolve(schema, properties[field_name])
                values = spec.get("enum", [spec["const"]] if "const" in spec else [])
                found.extend(v for v in values if isinstance(v, str) and v not in found)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return found or None


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"))
        if isinstance(target, dict):
            return target
    return node


def field_confidences(
    tokens: Sequence[TokenChoice], text: str, field_name: str, allowed: Sequence[str] | None
) -> list[float]:
    """For each ``"field": "value"`` in ``text``, the model's probability for the value: the
    product over the tokens that wrote it of each token's probability.

    Servers report the model's own probabilities, before any constraint. With ``allowed``
    (the schema's values for the field) each token's probability is taken among the reported
    alternatives that can still spell an allowed value, as the constraint does: a model that
    wanted to write prose where the schema wants a verdict is not read as unsure of the verdict.
    Empty when the tokens do not spell ``text`` (a server that reports something else)."""
    data = text.encode("utf-8")
    if not tokens or b"".join(t.data for t in tokens) != data:
        return []
    starts = []
    offset = 0
    for token in tokens:
        starts.append(offset)
        offset += len(token.data)
    targets = [value.encode("utf-8") + b'"' for value in allowed] if allowed else None
    pattern = re.compile(rb'"' + re.escape(field_name.encode()) + rb'"\s*:\s*"([^"\\]*)"')
    confidences = []
    for match in pattern.finditer(data):
        begin, end = match.start(1), match.end(1)
        confidence = 1.0
        for index, token in enumerate(tokens):
            start = starts[index]
            if start >= end or start + len(token.data) <= begin:
                continue
            confidence *= _share(token, data, start, begin, targets)
        confidences.append(min(confidence, 1.0))
    return confidences


def _share(
    token: TokenChoice, data: bytes, start: int, begin: int, targets: Sequence[bytes] | None
) -> float:
    """The token's probability, among the alternatives that can still spell a target."""
    chosen = math.exp(token.logprob)
    if not targets or not token.alternatives:
        return chosen
    forced = data[start:begin] if start < begin else b""
    written = data[begin:start] if start > begin else b""

    def fits(candidate: bytes) -> bool:
        if not candidate.startswith(forced):
            return False
        spelled = written + candidate[len(forced) :]
        return bool(spelled) and any(
            target.startswith(spelled) or spelled.startswith(target) for target in targets
        )

    total = sum(math.exp(lp) for alt, lp in token.alternatives if fits(alt))
    if token.data not in {alt for alt, _ in token.alternatives}:
        total += chosen
    return chosen / total if total > 0 else chosen
