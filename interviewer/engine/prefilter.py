"""Answers that are scored 0 before any model sees them: empty, or a plain "I don't know"."""

from __future__ import annotations

import re
from typing import Literal

PrefilterReason = Literal["empty", "dont_know"]

_DONT_KNOW = re.compile(
    r"^(?:(?:sorry|honestly|um+|uh+|hmm+|well|so)[,.!]?\s+)*"
    r"(?:i\s+(?:really\s+|honestly\s+)?(?:do\s*n[o']?t|dont|don't|do not)\s+know"
    r"(?:\s+(?:that|this|the answer|it))?(?:\s+(?:sorry|honestly))?"
    r"|i\s+(?:have\s+)?no\s+(?:idea|clue)|no\s+(?:idea|clue)|idk|dunno|not\s+sure"
    r"|i'?m\s+not\s+sure|i\s+am\s+not\s+sure"
    r"|i\s+(?:can't|cannot|can\s+not|don't|do\s+not)\s+(?:remember|recall)"
    r"|i\s+have\s+never\s+(?:heard\s+of|used)\s+(?:it|that|this)"
    r"|no|nope|nothing|\?+|\.+|-+)"
    r"[\s.!?,]*$",
    re.IGNORECASE,
)


def prefilter(answer: str) -> PrefilterReason | None:
    """The reason ``answer`` earns 0 without grading, or None when it must be graded."""
    text = answer.strip().replace("\u2019", "'")
    if not text:
        return "empty"
    if len(text) <= 80 and _DONT_KNOW.match(text):
        return "dont_know"
    return None
