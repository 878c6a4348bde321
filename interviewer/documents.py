"""Reading JSON and TOML that comes from outside (a person's files, a model's reply).

``json.loads`` and ``tomllib`` fail in more ways than their documented error: a document nested
deeper than the interpreter's stack raises ``RecursionError``, a number of more than 4,300 digits
a plain ``ValueError``, bytes that are not UTF-8 a ``UnicodeDecodeError``, and a JSON ``\\ud800``
escape decodes to a lone surrogate that no file, terminal or database can take later. Every
parser of outside input reads through :func:`parse_json` / :func:`parse_toml`, which turn all of
these into one :class:`DocumentError` saying, in words, what is wrong and where; the caller
wraps it in its own error with the file name and a hint.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any


class DocumentError(ValueError):
    """A document that cannot be read: ``str()`` says why (and where, when it can)."""


def _text(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from exc


def parse_json(data: str | bytes) -> Any:
    """The JSON value of ``data``, or :class:`DocumentError`. Its strings hold only characters
    that can be written as UTF-8 (no lone surrogates)."""
    text = _text(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError as exc:
        raise DocumentError("not valid JSON: it is nested too deeply") from exc
    except ValueError as exc:  # int(): "Exceeds the limit (4300 digits) ..."
        raise DocumentError(f"not valid JSON: a number is too long ({_first_line(exc)})") from exc
    check_text(value)
    return value


def parse_toml(data: str | bytes) -> dict[str, Any]:
    """The TOML document of ``data``, or :class:`DocumentError`."""
    text = _text(data)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DocumentError(f"not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise DocumentError("not valid TOML: it is nested too deeply") from exc
    except ValueError as exc:
        raise DocumentError(f"not valid TOML: a number is too long ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).split(";")[0].strip()


def check_text(value: Any) -> None:
    """Raise :class:`DocumentError` naming the first string (key or value) in ``value`` that
    holds a lone surrogate. Iterative: a deep document cannot exhaust the stack here."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if not _encodable(node):
                raise DocumentError(
                    f"{where or '(document)'}: holds an invalid character (a lone UTF-16 "
                    "surrogate such as \\ud800, which is not text)"
                )
        elif isinstance(node, dict):
            for key, item in node.items():
                path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and not _encodable(key):
                    raise DocumentError(
                        f"{where or '(document)'}: a key holds an invalid character"
                    )
                stack.append((item, path))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str) -> str:
    """``text`` with each lone surrogate (a byte a terminal could not decode, kept by
    ``surrogateescape``) replaced by U+FFFD, so it can be stored, shown and written."""
    if _encodable(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")
