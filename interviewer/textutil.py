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
