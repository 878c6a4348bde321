"""Keep the interviewer's instructions, and the key point it probes, out of what it says.

The interviewer's system prompt holds its rules and, for a follow-up, the key point to probe
("confidential, never quote it"). A strong model keeps them to itself; a small one sometimes
recites its instructions or names the very point the candidate missed, which would hand them
the answer. :class:`LeakGuard` notices a reply that repeats a run of words from those texts
(words the question and the conversation already contain are fair to repeat), so the engine can
stop the reply and say something safe instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[a-z0-9_]+(?:['.][a-z0-9_]+)*")

RULES_RUN = 6
"""Words in a row from the instructions that count as reciting them."""
POINT_RUN = 4
"""Words in a row from the probed key point that count as naming it."""
_TAIL = 24
"""Words at the end of a growing reply that :meth:`LeakGuard.leaks_at_end` looks at."""


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _runs(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


class LeakGuard:
    """Finds runs of words that a reply shares with secret texts but not with allowed ones."""

    def __init__(self, rules: str, point: Iterable[str] = (), allowed: Iterable[str] = ()) -> None:
        allowed_words = [words(text) for text in allowed]
        fair = {
            n: set().union(*(_runs(a, n) for a in allowed_words)) for n in (RULES_RUN, POINT_RUN)
        }
        self._secret: list[tuple[int, set[tuple[str, ...]]]] = []
        for text, n in [(rules, RULES_RUN), *((p, POINT_RUN) for p in point)]:
            runs = _runs(words(text), n) - fair[n]
            if runs:
                self._secret.append((n, runs))

    def _repeats(self, tokens: list[str]) -> bool:
        return any(_runs(tokens, n) & runs for n, runs in self._secret)

    def leaks(self, text: str) -> bool:
        """True when ``text`` repeats a secret run of words."""
        return self._repeats(words(text))

    def leaks_at_end(self, text: str) -> bool:
        """:meth:`leaks` on the last words only, for a check after every streamed chunk (a run
        is found when its last word arrives)."""
        return self._repeats(words(text)[-_TAIL:])
