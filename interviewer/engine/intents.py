"""Tell a conversational request (repeat, clarify, skip, end, retry) from an answer.

Slash commands always work. A few plain phrasings work too, but only when they are the whole
message, so an answer that merely mentions "skip" or "repeat" is never mistaken for a request.
"""

from __future__ import annotations

import re
from typing import Literal

Intent = Literal["answer", "repeat", "clarify", "skip", "end", "retry"]

COMMANDS: dict[str, Intent] = {
    "/repeat": "repeat",
    "/r": "repeat",
    "/clarify": "clarify",
    "/c": "clarify",
    "/skip": "skip",
    "/s": "skip",
    "/pass": "skip",
    "/next": "skip",
    "/end": "end",
    "/quit": "end",
    "/stop": "end",
    "/retry": "retry",
    "/retake": "retry",
    "/again": "retry",
}

_POLITE = r"(?:(?:sorry|um+|uh+|ok(?:ay)?|so|hmm+)[,.!]?\s+)*"
_PLEASE = r"(?:[,\s]+please)?"
_PHRASES: tuple[tuple[Intent, str], ...] = (
    (
        "repeat",
        r"(?:(?:can|could|would) you\s+)?(?:please\s+)?(?:repeat|say) (?:that|it|the question)"
        r"(?: again)?|repeat|come again|pardon|(?:what|which) was the question(?: again)?",
    ),
    (
        "clarify",
        r"(?:(?:can|could|would) you\s+)?(?:please\s+)?(?:clarify|rephrase|explain the question)"
        r"(?: (?:that|it|the question))?|what do you mean|i don'?t (?:understand|get) the question"
        r"|what (?:exactly )?are you asking(?: for)?",
    ),
    (
        "skip",
        r"(?:(?:can|could) (?:i|we)\s+|i'?d like to\s+|let'?s\s+)?(?:skip|pass)"
        r"(?: (?:this|that)(?: one| question)?)?|next question|(?:let'?s )?move on",
    ),
    (
        "end",
        r"(?:(?:can|could) (?:i|we)\s+|i'?d like to\s+|let'?s\s+)?(?:end|stop|finish|quit)"
        r"(?: (?:the|this) interview| here| now)?|i'?m done",
    ),
    (
        "retry",
        r"(?:(?:can|could|may) (?:i|we)\s+|i'?d like to\s+|let me\s+|let'?s\s+)?"
        r"(?:retry|retake|try (?:(?:that|this|it)(?: one| question)? )?again|have another go)"
        r"(?: (?:at )?(?:that|this|it)(?: one| question)?)?",
    ),
)
_PATTERNS = [
    (intent, re.compile(rf"^{_POLITE}(?:{body}){_PLEASE}[\s.!?]*$", re.IGNORECASE))
    for intent, body in _PHRASES
]


def classify_reply(text: str) -> Intent:
    """What the candidate's message asks for; anything that is not a request is an answer."""
    stripped = text.strip()
    command = stripped.split(maxsplit=1)[0].lower() if stripped.startswith("/") else ""
    if command in COMMANDS:
        return COMMANDS[command]
    normalized = stripped.replace("\u2019", "'")
    if len(normalized) > 60:
        return "answer"
    for intent, pattern in _PATTERNS:
        if pattern.match(normalized):
            return intent
    return "answer"
