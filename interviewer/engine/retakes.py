"""Retakes (practice mode, ``/retry``): a fresh attempt at a question.

A retry closes the attempt being answered with its feedback, or, before any reply to the next
question, takes the question whose feedback was just given, and asks it again as a fresh
attempt: graded on its own replies, never merged into the first answer's grade, and never
counted in the score (the feedback card shows both). Then the interview goes on where it was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from interviewer.engine.events import AwaitingReply, Event, TurnRecorded
from interviewer.engine.questions import QuestionState
from interviewer.transcript import InterviewSettings, Turn, TurnKind

if TYPE_CHECKING:
    from interviewer.engine.events import State


class Retakes:
    """The retake half of :class:`~interviewer.engine.interview.Interview`."""

    if TYPE_CHECKING:  # what the interview it is part of provides
        settings: InterviewSettings
        state: State
        turns: list[Turn]
        _questions: list[QuestionState]
        _current: int
        _return_to: int | None

        def _active(self) -> QuestionState: ...
        def _ask(self, index: int, *, again: str = "") -> Iterator[Event]: ...
        def _awaiting(self, qs: QuestionState) -> AwaitingReply: ...
        def _grade_pending(
            self, cancel: threading.Event | None, *, yielding: bool = False
        ) -> Iterator[Event]: ...
        def _finish_question(
            self, qs: QuestionState, cancel: threading.Event | None
        ) -> Iterator[Event]: ...
        def _record(
            self,
            role: Literal["interviewer", "candidate"],
            kind: TurnKind,
            text: str,
            question_id: str | None,
            *,
            key_point_id: str | None = None,
            streamed: bool = False,
        ) -> TurnRecorded: ...

    def _retry_target(self, *, offered: bool = False) -> int | None:
        """The question a ``/retry`` retakes now: the one being answered (once there is a reply
        to it), or, before any reply to the current question, the one before it, whose
        feedback was just given. None in exam mode or with nothing to retake. ``offered``: only
        once that feedback is in (background grading may still owe it)."""
        if self.settings.mode != "practice" or self.state != "awaiting_reply":
            return None
        attempt = self._active()
        if attempt.answers:
            return self._current
        if attempt.attempt > 0 or self._current == 0:
            return None  # a retake not answered yet, or nothing before the first question
        previous = self._questions[self._current - 1].current_attempt
        if offered and (previous.feedback is None or previous.finish_pending):
            return None
        return self._current - 1

    def _retry(self, qs: QuestionState, cancel: threading.Event | None) -> Iterator[Event]:
        """A fresh attempt at a question (see the module docstring)."""
        target = self._retry_target()
        if target is None:
            note = (
                "Each question is asked once in an exam (retakes are for practice mode)."
                if self.settings.mode != "practice"
                else "There is nothing to try again yet: answer this one first."
            )
            yield self._record("interviewer", "repeat", f"{note} {qs.last_prompt}", qs.question.id)
            yield self._awaiting(qs)
            return
        yield from self._grade_pending(cancel)  # a card still owed comes before the retake
        if target == self._current:
            # The attempt closes as it stands, with its grade and feedback card.
            yield from self._finish_question(qs, cancel)
        else:
            self._return_to = self._current
        # Its conversation starts at the question asked again, after the card that closed
        # the attempt before: a retake's follow-ups never read that card's reference answer.
        self._questions[target].start_retake(first_turn=len(self.turns))
        yield from self._ask(target, again="Let's try that one again, as a fresh attempt.")
