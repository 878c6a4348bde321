"""Hypothesis strategies for the fuzz tests: random documents, and realistic mutations of the real
files a person writes or the program writes (the bank's TOML, answers files, scripts, the config
file, transcripts, a model's grade JSON).

Each example is drawn as a short byte string, a *recipe*, that a small interpreter turns into
edits, the way coverage fuzzers drive structured mutators: the first bytes pick the original
file and how to edit it, the next ones each edit (what, where, with what). Hypothesis stores,
replays and shrinks the recipe like any other example (fewer and smaller bytes: fewer, simpler
edits), and drawing a few bytes costs a fraction of a millisecond, so 500 examples of each target
fit in the suite's time budget.

Two kinds of edits:

* textual, on the bytes (so they also make invalid UTF-8): delete, insert a token that matters
  to the syntax or a "bomb" (nesting deeper than the stack, a 5,000-digit number, 20,000
  characters), duplicate, overwrite a byte, truncate, swap or drop lines;
* structural: the document is parsed, one node of its tree is deleted, replaced by a random
  value, renamed, duplicated, wrapped, emptied, nested deeper or set to an edge value (NaN,
  2**63, "", a lone surrogate), and the tree is written back as JSON or TOML.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from hypothesis import strategies as st

# ----------------------------------------------------------------------------- the recipe


class Recipe:
    """Reads choices from a byte string; past its end every choice is 0 (the simplest)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            return 0
        value = self.data[self.at]
        self.at += 1
        return value

    def below(self, n: int) -> int:
        if n <= 1:
            return 0
        if n <= 256:
            return self.byte() % n
        return ((self.byte() << 8) | self.byte()) % n

    def fraction(self) -> float:
        return ((self.byte() << 8) | self.byte()) / 65535

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.below(len(options))]

    def chunk(self, size: int) -> bytes:
        piece = self.data[self.at : self.at + size]
        self.at += len(piece)
        return piece


recipes = st.binary(max_size=40)

# ----------------------------------------------------------------------------- values

EDGE_STRINGS = [
    "",
    " ",
    "\x00",
    "\n\n",
    "a" * 5000,
    "\u202e\u200b",
    "é",
    "🙂",
    "\ud800",
    "[bold]x[/bold]",
    "</answer>",
    "-",
    "UPPER-Case",
    "1",
]
EDGE_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    2**63,
    -(2**63) - 1,
    1e308,
    -1e308,
    1e-320,
    0.5,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
]
_CODE_POINTS = [
    (0x20, 0x7E),  # ASCII
    (0x00, 0x1F),  # control characters
    (0xA0, 0x24F),  # Latin
    (0x4E00, 0x4E80),  # CJK
    (0x1F600, 0x1F64F),  # emoji
    (0xD800, 0xDFFF),  # lone surrogates (a JSON escape makes them)
    (0x200B, 0x202E),  # zero-width and direction marks
]


def text_from(recipe: Recipe, longest: int = 12) -> str:
    chars = []
    for _ in range(recipe.below(longest + 1)):
        low, high = recipe.choice(_CODE_POINTS)
        chars.append(chr(low + recipe.below(high - low + 1)))
    return "".join(chars)


def value_from(recipe: Recipe, depth: int = 0, toml: bool = False) -> Any:
    """A random JSON-like value (TOML-like with ``toml``: datetimes, no None)."""
    kind = recipe.below(11)
    if kind == 0:
        return datetime(2026, 1, 1, tzinfo=UTC) if toml else None
    if kind == 1:
        return bool(recipe.byte() & 1)
    if kind == 2:
        return recipe.byte() - 128
    if kind == 3:
        return recipe.choice(EDGE_NUMBERS)
    if kind == 4:
        return recipe.choice(EDGE_STRINGS)
    if kind in (5, 6):
        return text_from(recipe)
    if kind == 7 and depth < 3:
        return [value_from(recipe, depth + 1, toml) for _ in range(recipe.below(4))]
    if kind == 8 and depth < 3:
        return {
            text_from(recipe, 8): value_from(recipe, depth + 1, toml)
            for _ in range(recipe.below(4))
        }
    if kind == 9:
        return int.from_bytes(recipe.chunk(8), "big", signed=True)
    return (date(2026, 2, 3) if recipe.byte() & 1 else time(9, 30)) if toml else 0.25


# ----------------------------------------------------------------------------- writers


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def to_json(value: Any) -> str:
    """JSON as Python writes it (NaN and Infinity included, as ``json.loads`` reads them)."""
    return json.dumps(value, ensure_ascii=True)


def _toml_string(text: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's too; TOML also escapes DEL, and a lone
    surrogate is written as its (invalid) escape."""
    escaped = json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
    if _has_surrogate(escaped):
        escaped = "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in escaped)
    return escaped


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = [f"{_toml_string(str(k))} = {_toml_value(v)}" for k, v in value.items()]
        return "{" + ", ".join(items) + "}"
    return _toml_string(str(value))


def to_toml(document: Any) -> str:
    """A TOML document: ``key = value`` lines, nested tables inline (None is left out: TOML
    has no null). A tree that is not a table is written as ``value = ...``."""
    if not isinstance(document, dict):
        document = {"value": document}
    lines = [
        f"{_toml_string(str(k))} = {_toml_value(v)}" for k, v in document.items() if v is not None
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- textual edits

BOMBS: list[bytes] = [
    b"[" * 3000,  # nesting deeper than a recursive parser goes
    b"{" * 3000,
    b"[[" * 1500 + b"1" + b"]]" * 1500,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n",
    b"9" * 5000,  # more digits than int() converts
    b"x = " + b"9" * 5000 + b"\n",
    b"-" + b"1" * 4400,
    b"1e999999",
    b"x" * 20000,
]
TOKENS: list[bytes] = [
    b'"',
    b"'",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b":",
    b"=",
    b"\n",
    b"\r\n",
    b"#",
    b'"""',
    b"'''",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\udfff\\ud800",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xed\xa0\x80",  # an encoded surrogate: not valid UTF-8
    b"null",
    b"true",
    b"nan",
    b"inf",
    b"-0",
    b"1e309",
    b"NaN",
    b"Infinity",
    b"[[key_points]]\n",
    b"[x]\n",
    b'id = "x"\n',
    b'"answers": ',
    b'"steps": []',
    b'"schema_version": 2, ',
    b'"verdict": "covered"',
    b"```json\n",
    b"\n```",
]


def _at(size: int, fraction: float) -> int:
    return min(int(fraction * size), max(size - 1, 0))


def text_edit(data: bytes, recipe: Recipe) -> bytes:
    """One textual edit of ``data``, as the recipe says."""
    kind = recipe.below(10)
    where = _at(len(data), recipe.fraction())
    if kind == 0:
        return data[:where] + data[where + 1 + recipe.below(200) :]
    if kind in (1, 2):
        return data[:where] + recipe.choice(TOKENS) + data[where:]
    if kind == 3:
        return data[:where] + recipe.chunk(1 + recipe.below(12)) + data[where:]
    if kind == 4:
        return data[:where] + recipe.choice(BOMBS) + data[where:]
    if kind == 5:
        piece = data[where : where + 1 + recipe.below(400)]
        to = _at(len(data), recipe.fraction())
        return data[:to] + piece + data[to:]
    if kind == 6:
        return data[:where] + bytes([recipe.byte()]) + data[where + 1 :]
    if kind == 7:
        return data[:where]
    lines = data.split(b"\n")
    i = _at(len(lines), recipe.fraction())
    if kind == 8:
        j = _at(len(lines), recipe.fraction())
        lines[i], lines[j] = lines[j], lines[i]
    elif lines:
        del lines[i]
    return b"\n".join(lines)


def text_edits(data: bytes, recipe: Recipe) -> bytes:
    for _ in range(1 + recipe.below(4)):
        data = text_edit(data, recipe)
    return data


# ----------------------------------------------------------------------------- structural edits


def _nodes(root: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair of the tree, breadth first (the root's children first)."""
    found: list[tuple[Any, Any]] = []
    queue = [root]
    for node in queue:
        if isinstance(node, dict):
            keys: Sequence[Any] = list(node)
        elif isinstance(node, list):
            keys = range(len(node))
        else:
            continue
        for key in keys:
            found.append((node, key))
            queue.append(node[key])
    return found


def node_edit(root: Any, recipe: Recipe, toml: bool = False) -> Any:
    """One structural edit of ``root`` (in place where it can be), as the recipe says."""
    nodes = _nodes(root)
    kind = recipe.below(10)
    if not nodes:
        return value_from(recipe, toml=toml)
    container, key = nodes[recipe.below(len(nodes))]
    value = container[key]
    if kind == 0:
        del container[key]
    elif kind in (1, 2):
        container[key] = value_from(recipe, toml=toml)
    elif kind == 3 and isinstance(container, dict):
        container[text_from(recipe)] = container.pop(key)
    elif kind == 4:
        if isinstance(container, list):
            container.insert(key, copy.deepcopy(value))
        else:
            container[f"{key}-copy"] = copy.deepcopy(value)
    elif kind == 5:
        container[key] = [value]
    elif kind == 6:
        container[key] = {text_from(recipe, 6): value}
    elif kind == 7:
        container[key] = type(value)() if isinstance(value, list | dict | str) else None
    elif kind == 8:
        for _ in range(2 + recipe.below(40)):
            value = [value]
        container[key] = value
    else:
        container[key] = recipe.choice(EDGE_NUMBERS + EDGE_STRINGS)
    return root


# ----------------------------------------------------------------------------- documents


def edit_document(
    original: str,
    recipe: Recipe,
    parse: Callable[[str], Any],
    write: Callable[[Any], str],
    toml: bool = False,
) -> bytes:
    """``original`` edited structurally (parsed, changed, written back), textually, or both."""
    how = recipe.below(5)  # 0, 1: structure; 2, 3: text; 4: both
    text = original
    if how in (0, 1, 4):
        tree = parse(original)
        for _ in range(1 + recipe.below(3)):
            tree = node_edit(tree, recipe, toml)
        with contextlib.suppress(ValueError, TypeError, RecursionError):
            text = write(tree)  # (a tree the writer cannot express: only the text edits count)
    data = text.encode("utf-8", "surrogatepass")
    if how in (2, 3, 4):
        data = text_edits(data, recipe)
    return data


_TOML_TREES: dict[str, Any] = {}


def _toml_tree(text: str) -> Any:
    """A fresh copy of the parsed file (parsing TOML costs milliseconds; copying less)."""
    import tomllib

    if text not in _TOML_TREES:
        _TOML_TREES[text] = tomllib.loads(text)
    return copy.deepcopy(_TOML_TREES[text])


def _json_document(originals: Sequence[str], data: bytes) -> bytes:
    recipe = Recipe(data)
    kind = recipe.below(8)
    if kind == 6:  # a random value
        return to_json(value_from(recipe)).encode()
    if kind == 7:  # bytes, not even a document
        return data[1:]
    return edit_document(recipe.choice(originals), recipe, json.loads, to_json)


def _toml_document(originals: Sequence[str], data: bytes) -> bytes:
    recipe = Recipe(data)
    kind = recipe.below(8)
    if kind == 6:
        table = {
            text_from(recipe, 8): value_from(recipe, toml=True) for _ in range(recipe.below(6))
        }
        return to_toml(table).encode("utf-8", "surrogatepass")
    if kind == 7:
        return data[1:]
    return edit_document(recipe.choice(originals), recipe, _toml_tree, to_toml, toml=True)


def json_documents(originals: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Mutations of real JSON files, random JSON values, and bytes."""
    return recipes.map(lambda data: _json_document(originals, data))


def toml_documents(originals: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Mutations of real TOML files, random TOML tables, and bytes."""
    return recipes.map(lambda data: _toml_document(originals, data))


def edited_texts(originals: Sequence[str]) -> st.SearchStrategy[str]:
    """Texts a person might type: the originals with textual edits, or random text."""

    def build(data: bytes) -> str:
        recipe = Recipe(data)
        if recipe.below(4) == 0:
            return text_from(recipe, 200)
        original = recipe.choice(originals).encode()
        return text_edits(original, recipe).decode("utf-8", "replace")

    return recipes.map(build)


# ----------------------------------------------------------------------------- model replies


def model_replies(valid: Sequence[str]) -> st.SearchStrategy[str]:
    """What a grading model might say: a valid grade, edited; wrapped in prose or a code fence;
    cut off mid-way; or anything at all."""

    def build(data: bytes) -> str:
        recipe = Recipe(data)
        kind = recipe.below(6)
        if kind == 0:
            return text_from(recipe, 60) if recipe.byte() & 1 else to_json(value_from(recipe))
        original = recipe.choice(valid)
        if kind == 1:
            return str(original[: _at(len(original) + 1, recipe.fraction())])
        text = edit_document(original, recipe, json.loads, to_json).decode("utf-8", "replace")
        if kind == 2:
            before = recipe.choice(["", "Here is the grade:\n", "```json\n", "{ not json } "])
            after = recipe.choice(["", "\n```", " Hope this helps.", "}"])
            text = before + text + after
        return text

    return recipes.map(build)
