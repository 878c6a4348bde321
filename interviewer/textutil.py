"""Small text helpers for showing candidate text safely."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def strip_control(text: str) -> str:
    """Drop control characters (ANSI escapes included) but keep newlines and tabs."""
    return _CONTROL.sub("", text)


def escape_markdown(text: str) -> str:
    """Make text render literally inside a Markdown document."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", strip_control(text))


def visible_control(text: str) -> str:
    """Show control characters as visible symbols (ESC as ␛) instead of dropping them.

    Newlines and tabs stay as they are; C0 characters and DEL become their Unicode control
    pictures, C1 characters the replacement character. For reports, where text must show what
    the candidate sent without letting it act on a terminal.
    """
    return _CONTROL.sub(_picture, text)


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!etc)(?<!vs)[.!?](?:[\"')\]*_`]*)(?=\s|$)")
_FINISHED = re.compile(r"[.!?:;)\]\"'*_`]\s*$")


def finish_at_sentence(text: str) -> str:
    """``text`` without an unfinished last sentence (a generation that ran out of tokens stops
    mid-word): cut after the last complete one, or, with none, end it with an ellipsis."""
    text = text.rstrip()
    if not text or _FINISHED.search(text) or text.endswith("```"):
        return text
    ends = list(_SENTENCE_END.finditer(text))
    if ends:
        return text[: ends[-1].end()].rstrip()
    return text + "…"


_LOCAL_PATH = re.compile(r"(?<![\w.-])(?:~|[A-Za-z]:)?[/\\][^\s,;()]*[/\\]([^\s/\\,;()]+)[/\\]?")


def shown_name(name: str) -> str:
    """``name`` (a model id or a grader such as ``llm:<model>``) with each local folder path
    cut to the folder's own name: a shared report does not reveal where files live on the
    candidate's machine (the JSON transcript keeps the whole path)."""
    return _LOCAL_PATH.sub(lambda m: m.group(1), name)
