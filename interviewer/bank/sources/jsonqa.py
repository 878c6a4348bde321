"""JSON and JSON Lines of questions and answers.

* JSON: a list of objects (``[{"question": ..., "answer": ...}, ...]``), or an object that
  holds such a list ("questions", "items", "data", "cards" ... or its only list of objects),
  or an object of question → answer strings;
* JSON Lines: one object per line (blank lines and ``//`` comments aside).

The keys are found by name ("question", "q", "prompt", "front", "instruction" ...; "answer",
"a", "reference_answer", "back", "response", "output" ...) or set with ``--keys
question_key,answer_key``. So the ``reference_answer`` format of the short-answer grading sets
(``question``, ``reference_answer``, and ``reference_answers`` whose first ``text`` stands in
when the answer is missing) reads as it is. An answer that is a list becomes a Markdown list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from interviewer.bank.notes import NearMiss, NoteEntry, ParsedNotes
from interviewer.bank.sources.base import (
    ANSWER_NAMES,
    QUESTION_NAMES,
    NotesError,
    cell_entry,
    pick,
)

JSON_FORMATS = {
    "json": "a JSON list of {question, answer} objects (keys found by name, or --keys)",
    "jsonl": "JSON Lines: one {question, answer} object per line",
}
_HOLDERS = ("questions", "items", "data", "cards", "entries", "records", "qa", "examples", "notes")


def parse_keys(spec: str) -> tuple[str, str]:
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) != 2 or not all(parts):
        raise NotesError(
            f"--keys {spec!r} does not name two keys",
            "give the question key and the answer key: --keys prompt,response",
        )
    return parts[0], parts[1]


def _text(value: Any) -> str:
    """A JSON value as answer text: a string as is, a list as a Markdown list, a number as
    written, an object by its "text" (or nothing)."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        items = [_text(item).strip() for item in value]
        return "\n".join(f"- {item}" for item in items if item)
    if isinstance(value, dict) and "text" in value:
        return _text(value["text"])
    return ""


def _keys_of(item: dict[str, Any], keys: tuple[str, str] | None) -> tuple[str | None, str | None]:
    names = list(item)
    if keys is not None:
        asked, said = (pick(names, [key]) for key in keys)
        return (names[asked] if asked is not None else None), (
            names[said] if said is not None else None
        )
    asked = pick(names, QUESTION_NAMES)
    said = pick(names, ANSWER_NAMES, avoid=asked)
    return (names[asked] if asked is not None else None), (
        names[said] if said is not None else None
    )


def _entry(
    item: Any, where: int, keys: tuple[str, str] | None, name: str, unit: str
) -> NoteEntry | NearMiss | None:
    if not isinstance(item, dict):
        return NearMiss(where, json.dumps(item)[:60], f"is not an object ({name}, {unit} {where})")
    asked_key, said_key = _keys_of(item, keys)
    if asked_key is None:
        wanted = f"'{keys[0]}'" if keys else "'question' (or 'prompt', 'front' ...)"
        shown = ", ".join(list(item)[:8])
        return NearMiss(where, shown, f"has no {wanted} key: pass --keys QUESTION,ANSWER")
    answer = _text(item.get(said_key)) if said_key is not None else ""
    if not answer.strip():
        references = item.get("reference_answers")
        if isinstance(references, list) and references:
            answer = _text(references[0])
    return cell_entry(_text(item[asked_key]), answer, where)


def _items(data: Any, name: str) -> tuple[list[Any], bool]:
    """The objects of a JSON document, and whether they were a question → answer mapping."""
    if isinstance(data, list):
        return data, False
    if isinstance(data, dict):
        for holder in _HOLDERS:
            for key, value in data.items():
                if key.lower() == holder and isinstance(value, list):
                    return value, False
        lists = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) == 1:
            return lists[0], False
        if data and all(isinstance(v, str) for v in data.values()):
            return [{"question": k, "answer": v} for k, v in data.items()], True
        if _keys_of(data, None)[0] is not None:
            return [data], False
    raise NotesError(
        f"{name} holds no list of questions (its top level is a {type(data).__name__})",
        'write a list of objects: [{"question": "...", "answer": "..."}], or an object '
        'with a "questions" list',
    )


def _collect(
    found: Iterable[tuple[int, Any]], keys: tuple[str, str] | None, name: str, unit: str
) -> tuple[list[NoteEntry], list[NearMiss]]:
    entries: list[NoteEntry] = []
    misses: list[NearMiss] = []
    for where, item in found:
        result = _entry(item, where, keys, name, unit)
        if isinstance(result, NoteEntry):
            entries.append(result)
        elif isinstance(result, NearMiss):
            misses.append(result)
    return entries, misses


def read_json(text: str, name: str, keys: tuple[str, str] | None = None) -> ParsedNotes:
    """The questions of a JSON document (see the module docstring); ``line`` of each entry
    is its position in the list (1-based)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotesError(
            f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            "fix the JSON there (a missing comma or quote), or give JSON Lines as .jsonl",
        ) from exc
    except RecursionError as exc:
        raise NotesError(f"{name} nests too deeply to read", "flatten the JSON") from exc
    items, _ = _items(data, name)
    entries, misses = _collect(enumerate(items, start=1), keys, name, "item")
    return ParsedNotes("json", _title(data), tuple(entries), ("json",), tuple(misses))


def _title(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("title", "name", "deck"):
            value = data.get(key)
            if isinstance(value, str) and re.search(r"\w", value):
                return " ".join(value.split())[:120]
    return None


def read_jsonl(text: str, name: str, keys: tuple[str, str] | None = None) -> ParsedNotes:
    """The questions of JSON Lines (see the module docstring); ``line`` is the file's line."""
    found: list[tuple[int, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        try:
            found.append((number, json.loads(stripped)))
        except json.JSONDecodeError as exc:
            raise NotesError(
                f"{name}, line {number}: not a JSON object ({exc.msg} at column {exc.colno})",
                "write one JSON object per line, or give a JSON list as .json",
            ) from exc
        except RecursionError as exc:
            raise NotesError(f"{name}, line {number} nests too deeply", "flatten it") from exc
    entries, misses = _collect(found, keys, name, "line")
    return ParsedNotes("jsonl", None, tuple(entries), ("jsonl",), tuple(misses))


def looks_like_jsonl(text: str) -> bool:
    lines = [line.strip() for line in text.split("\n")[:5] if line.strip()]
    return len(lines) >= 2 and all(line.startswith("{") and line.endswith("}") for line in lines)
