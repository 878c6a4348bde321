"""The clock of a timed interview: a time limit per question, its countdown and its end.

``--time-limit 2m`` gives each question (its answer and the replies to its follow-ups) that
long. The status line counts down and warns at 30 seconds; at zero what is in the answer box
is sent, once, and the transcript says so (``Delivery.sent_by_clock``). A soft limit
(``time_limit_soft``, practice mode only) sends nothing and shows the overrun instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from interviewer.errors import InterviewerError

WARN_AT = 30.0
"""Seconds left when the status line warns."""

_LIMIT = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s?)?\s*$", re.I)


class TimeLimitError(InterviewerError, ValueError):
    """A time limit that cannot be read."""


def parse_time_limit(text: str) -> float:
    """Seconds in ``"2m"``, ``"90s"``, ``"90"``, ``"1m30s"``, ``"1.5m"``; TimeLimitError else."""
    found = _LIMIT.match(text)
    if not text.strip() or found is None or not any(found.groups()):
        raise TimeLimitError(
            f"--time-limit {text!r}: not a duration",
            'write minutes and/or seconds, e.g. "2m", "90s" or "1m30s"',
        )
    minutes, seconds = (float(g) if g else 0.0 for g in found.groups())
    total = minutes * 60 + seconds
    if total < 5 or total > 3600:
        raise TimeLimitError(
            f"--time-limit {text!r}: {total:g} s is out of range",
            "give between 5 seconds and 60 minutes per question",
        )
    return total


def format_seconds(seconds: float) -> str:
    """``m:ss`` (negative: ``-m:ss``)."""
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds) + 0.5) if seconds < 0 else int(abs(seconds) + 0.999)
    return f"{sign}{whole // 60}:{whole % 60:02d}"


@dataclass
class QuestionClock:
    """The time on one question: started when it is asked, read by the status line."""

    limit: float | None
    soft: bool = False
    now: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.now()
        self.fired = False

    def restart(self) -> None:
        self.started = self.now()
        self.fired = False

    @property
    def elapsed(self) -> float:
        return self.now() - self.started

    @property
    def remaining(self) -> float | None:
        return None if self.limit is None else self.limit - self.elapsed

    @property
    def warning(self) -> bool:
        left = self.remaining
        return left is not None and 0 < left <= WARN_AT

    @property
    def overrun(self) -> float:
        left = self.remaining
        return max(0.0, -left) if left is not None else 0.0

    def due(self) -> bool:
        """True once, when a hard limit reaches zero: the front end sends the box then."""
        left = self.remaining
        if left is None or self.soft or self.fired or left > 0:
            return False
        self.fired = True
        return True

    def status(self) -> str:
        """The status line's clock: elapsed time, or the countdown and its warning."""
        left = self.remaining
        if left is None:
            return format_seconds(self.elapsed)
        if left > WARN_AT:
            return f"{format_seconds(left)} left"
        if left > 0:
            return f"{format_seconds(left)} left!"
        if self.soft:
            return f"over by {format_seconds(-left)[0:]}"
        return "time is up"
