"""Hold each interviewer turn to the shape its task asks for.

The prompts ask for one short neutral sentence to acknowledge an answer, a few plain sentences
to clarify a question, and exactly one open question as a follow-up. A strong model mostly
keeps to that; a small one rambles on, explains the topic itself (handing the candidate the
answer), or never asks anything. :class:`ReplyShape` reads the reply as it streams and says
when it is complete (the follow-up has asked its question, the acknowledgement has said its
sentence), so the engine stops the model right there, and when it has gone astray (a
"follow-up" with no question in it, a sentence that never ends), so the engine says a safe
line instead. Stopping early also saves the decode time of everything the model would have
added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from interviewer.prompts import InterviewerTask
from interviewer.textutil import sentence_ends

_WORD = re.compile(r"\S+")
# A probe can be a request as well as a question: "Walk me through ...", "Tell me more ...".
_REQUEST = re.compile(
    r"\s*(?:(?:so|now|and|ok|okay|then),?\s+)?(?:please\s+)?"
    r"(?:tell|walk|talk|take|give|show) me\b|\s*(?:(?:so|now|and|then),?\s+)?(?:please\s+)?"
    r"(?:describe|explain|say more|share|elaborate|expand|go on)\b",
    re.IGNORECASE,
)

Progress = Literal["more", "complete", "astray"]


@dataclass(frozen=True)
class ReplyShape:
    """The limits of one kind of interviewer turn."""

    max_sentences: int
    """Sentences kept at most; the reply is complete when this many have ended."""
    max_words: int
    """Words after which a reply has gone on too long."""
    asks: bool = False
    """A follow-up: complete at its first question (or request: "Walk me through ..."),
    astray if it never asks one."""
    hold: bool = False
    """Shown only once settled (complete, or replaced), not word by word: for the turn most
    likely to give the answer away, the one that probes what the candidate missed."""

    def read(self, text: str, *, finished: bool = False) -> tuple[Progress, int]:
        """Where a (possibly still growing) reply stands, and how much of it to keep.

        Returns ``("complete", end)`` when ``text[:end]`` is the whole turn (the rest, if any,
        is to be dropped), ``("astray", 0)`` when the reply cannot become a good turn, and
        ``("more", len(text))`` while it still can. With ``finished``, the model has stopped:
        the reply is then complete or astray, never "more".
        """
        # (while the reply streams, an end counts once what follows settles it: "3." may
        # yet become "3.5")
        ends = sentence_ends(text, final=finished)
        start = 0
        for count, (end, mark) in enumerate(ends, start=1):
            if len(_WORD.findall(text[:end])) > self.max_words:
                return self._too_long(ends[: count - 1])
            if self.asks and (mark == "?" or _REQUEST.match(text, start, end)):
                return "complete", end
            start = end
            if count >= self.max_sentences:
                # All its sentences said: a follow-up that asked nothing has gone astray.
                return ("astray", 0) if self.asks else ("complete", end)
        if len(_WORD.findall(text)) > self.max_words:
            return self._too_long(ends)
        if finished:
            if self.asks and _REQUEST.match(text, start) and text[start:].strip():
                return "complete", len(text.rstrip())  # a request left without its full stop
            if self.asks:
                return "astray", 0  # it stopped without asking anything
            # An unclosed last clause stays: a model that stopped by itself meant to stop there
            # (the engine trims one cut off by the token budget: ``finish_at_sentence``).
            return "complete", len(text.rstrip())
        return "more", len(text)

    def _too_long(self, ends: list[tuple[int, str]]) -> tuple[Progress, int]:
        if self.asks or not ends:
            return "astray", 0
        return "complete", ends[-1][0]  # the sentences that fit


SHAPES: dict[InterviewerTask, ReplyShape] = {
    # "One short, neutral sentence": a second one is tolerated, a lecture is not.
    "acknowledge": ReplyShape(max_sentences=2, max_words=40),
    # "Two or three sentences" restating the question.
    "clarify": ReplyShape(max_sentences=3, max_words=90),
    # "One or two sentences, ending with a question mark": two that ask nothing are a lecture.
    "follow_up": ReplyShape(max_sentences=2, max_words=60, asks=True, hold=True),
}


def _normal(sentence: str) -> str:
    return " ".join(_WORD.findall(sentence.lower())).rstrip(".!?\u2026\"')]\u201d\u2019")


def first_repeat(text: str) -> int | None:
    """Where the first sentence that repeats an earlier one starts (a small model stuck in a
    loop says the same sentence again and again), or None. Only complete sentences of four
    words or more count: a person may well say "Good." twice."""
    seen: set[str] = set()
    start = 0
    for end, _mark in sentence_ends(text, final=False):
        sentence = _normal(text[start:end])
        if sentence in seen:
            return start
        if sentence.count(" ") >= 3:
            seen.add(sentence)
        start = end
    return None
