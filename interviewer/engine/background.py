"""Grades the conversation does not wait for.

With background grading, a follow-up is chosen from the instant (model-free) signal, and the
model's grade runs once the candidate has the next prompt in front of them. The conversation
comes first: between two background steps (a grade, an owed feedback card) the engine checks
:attr:`~interviewer.engine.interview.Interview.turn_waiting`, and when the candidate has
already replied it stops there, so the reply's turn goes first and the grades after it. A grade
already running is the only thing a turn waits for (a one-slot server answers one request at a
time). Practice-mode feedback still waits for its grade: a card is written only once its grade
is in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

from interviewer.engine.events import AwaitingReply, Event, Graded, GradingStarted, ModelFailed
from interviewer.engine.grading import Grader, missing_verdicts
from interviewer.engine.questions import QuestionState
from interviewer.llm.base import GenerationCancelled, ModelError, ModelUnavailable
from interviewer.transcript import KeyPointGrade

if TYPE_CHECKING:
    from interviewer.engine.events import State


class BackgroundGrading:
    """The grading half of :class:`~interviewer.engine.interview.Interview`."""

    if TYPE_CHECKING:  # what the interview it is part of provides
        grader: Grader
        state: State
        turn_waiting: Callable[[], bool]
        _quick: bool
        _quick_grader: Grader | None

        def _active(self) -> QuestionState: ...
        def _attempts(self) -> Iterator[QuestionState]: ...
        def _awaiting(self, qs: QuestionState) -> AwaitingReply: ...
        def _finish_question(
            self, qs: QuestionState, cancel: threading.Event | None
        ) -> Iterator[Event]: ...

    def _grade_now(
        self, qs: QuestionState, cancel: threading.Event | None
    ) -> Generator[Event, None, bool]:
        """Grade everything graded so far on ``qs``; False when the model failed (then
        ``qs.grading_error`` says why and the earlier grade stands)."""
        yield GradingStarted(question_id=qs.question.id)
        try:
            latest = self.grader.grade(qs.question, qs.graded_answers, cancel)
        except (GenerationCancelled, ModelUnavailable):  # the interview stops here
            raise
        except ModelError as exc:
            qs.grading_error = exc.describe()
            yield ModelFailed(question_id=qs.question.id, purpose="grade", message=qs.grading_error)
            return False
        yield from self._keep_grade(qs, latest, self.grader.name)
        return True

    def _keep_grade(
        self, qs: QuestionState, latest: list[KeyPointGrade], grader_name: str
    ) -> Iterator[Event]:
        yield Graded(question_id=qs.question.id, grade=qs.keep_grade(latest, grader_name))

    def _background_work(self, cancel: threading.Event | None) -> Iterator[Event]:
        """Background grading: grade what waits, now that the candidate has the next prompt
        in front of them, then checkpoint again (a second ``AwaitingReply``). Stops between
        two steps when the candidate has replied meanwhile: their turn goes first, and the
        next reply's own background work carries on with what is left."""
        if self.state != "awaiting_reply":
            return
        if not any(q.grade_pending or q.finish_pending for q in self._attempts()):
            return
        yield from self._grade_pending(cancel, yielding=True)
        yield self._awaiting(self._active())

    def _grade_pending(
        self, cancel: threading.Event | None, *, yielding: bool = False
    ) -> Iterator[Event]:
        """Grade every attempt whose grade is owed, and write the cards owed once it is in.
        ``yielding``: stop before the next step when a reply waits (conversation first)."""
        for qs in list(self._attempts()):
            if qs.grade_pending:
                if yielding and self.turn_waiting():
                    return
                yield from self._grade_in_background(qs, cancel)
            if qs.finish_pending and not qs.grade_pending:
                if yielding and self.turn_waiting():
                    return
                qs.finish_pending = False
                yield from self._finish_question(qs, cancel)

    def _grade_in_background(
        self, qs: QuestionState, cancel: threading.Event | None
    ) -> Iterator[Event]:
        if self._quick:  # the interview is closing without more model calls
            quick = qs.quick
            if quick is None and self._quick_grader is not None:
                quick = self._quick_grader.grade(qs.question, qs.graded_answers, cancel)
            latest = quick or missing_verdicts(qs.question, "not graded")
            name = self._quick_grader.name if self._quick_grader else "evidence"
            yield from self._keep_grade(qs, latest, name)
        else:
            yield from self._grade_now(qs, cancel)
        qs.grade_pending = False  # graded, or failed with the reason in grading_error
