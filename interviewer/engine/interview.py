"""The interview state machine.

greet -> ask -> take a reply -> (repeat | clarify | skip | end | retry | answer -> grade ->
probe or move on) -> ... -> summary.

The engine decides everything that matters: whether to probe, which key point to probe, when to
move on, and the score. The model only phrases follow-ups, clarifications, acknowledgements and
feedback, and returns per-key-point verdicts. It is pure Python: a generator of events that a TUI
worker, the headless runner or a test drives one reply at a time.

A session survives its process: :meth:`Interview.snapshot` captures the engine at rest,
:meth:`Interview.restore` rebuilds it, and :meth:`Interview.resume` continues (see
:mod:`interviewer.engine.snapshot` for when a snapshot is consistent).

The flow lives here; its parts beside it: each question's state and the point to probe
(:mod:`~.questions`), the model's turns and the reading of its replies (:mod:`~.turns`), the
feedback card (:mod:`~.feedback`), retakes (:mod:`~.retakes`), and the grades that run in the
background while the conversation goes on (:mod:`~.background`).
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from typing import Literal

from interviewer.bank.models import Bank, KeyPoint, Question
from interviewer.engine.background import BackgroundGrading
from interviewer.engine.events import (
    AwaitingReply,
    FeedbackGiven,
    FollowUpAsked,
    Graded,
    InterviewFinished,
    QuestionAsked,
    QuestionFinished,
    SessionStarted,
    State,
    TurnRecorded,
)
from interviewer.engine.events import Event as _Event
from interviewer.engine.feedback import (
    coach_words,
    deliveries,
    feedback_intro,
    feedback_markdown,
    interview_summary,
)
from interviewer.engine.grading import Grader, prefilter_grade
from interviewer.engine.intents import Intent, classify_reply
from interviewer.engine.prefilter import screen
from interviewer.engine.questions import QuestionState, probe_target, probe_view
from interviewer.engine.retakes import Retakes
from interviewer.engine.snapshot import InterviewSnapshot, check_snapshot_fits
from interviewer.engine.turns import interviewer_turn, persona_history
from interviewer.llm.base import ChatModel
from interviewer.prompts import InterviewerTask, PromptLibrary
from interviewer.transcript import (
    BankRef,
    Delivery,
    InterviewSettings,
    QuestionResult,
    Transcript,
    Turn,
    TurnKind,
)

__all__ = [
    "Event",
    "Interview",
    "InterviewStateError",
    "State",
    "feedback_markdown",
    "new_session_id",
]

Event = _Event
_CANDIDATE_KIND: dict[Intent, TurnKind] = {
    "answer": "answer",
    "repeat": "repeat_request",
    "clarify": "clarify_request",
    "skip": "skip",
    "end": "end",
    "retry": "retry_request",
}


_UTC_NOW: Callable[[], datetime] = functools.partial(datetime.now, UTC)


class InterviewStateError(RuntimeError):
    """The engine was driven out of order (a reply before start, or after the end)."""


def new_session_id(now: datetime) -> str:
    """Sortable by time, unique enough for one person's sessions."""
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class Interview(Retakes, BackgroundGrading):
    """One interview over a bank. Drive it with :meth:`start`, then :meth:`reply` per message."""

    def __init__(
        self,
        bank: Bank,
        model: ChatModel,
        grader: Grader,
        settings: InterviewSettings | None = None,
        prompts: PromptLibrary | None = None,
        *,
        clock: Callable[[], datetime] = _UTC_NOW,
        session_id: str | None = None,
        quick_grader: Grader | None = None,
    ) -> None:
        """``quick_grader`` (an instant, model-free grader) chooses follow-ups when
        ``settings.grading`` is "background"; a grader that cross-checks with one (``both``)
        lends its own. Without one, grading stays inline."""
        if not bank.questions:
            raise ValueError("the bank has no questions")
        self.bank = bank
        self.model = model
        self.grader = grader
        self.settings = settings or InterviewSettings()
        self.prompts = prompts or PromptLibrary()
        self._clock = clock
        self.started_at = clock()
        self.session_id = session_id or new_session_id(self.started_at)
        self.finished_at: datetime | None = None
        self.ended_early = False
        self.state: State = "not_started"
        self.turns: list[Turn] = []
        self._questions = [
            QuestionState(question=q, number=i + 1) for i, q in enumerate(bank.questions)
        ]
        self._current = 0
        self._return_to: int | None = None
        """The question to ask again after a retake asked for before it was answered."""
        self._quick = False
        self._pending: str | None = None
        quick = quick_grader or grader.instant
        self._quick_grader: Grader | None = quick
        self._background = self.settings.grading == "background" and quick is not None
        self.turn_waiting: Callable[[], bool] = lambda: False
        """True while a reply waits to be taken: background grading stops between two steps
        then (:mod:`~interviewer.engine.background`). The session sets it."""

    # ----------------------------------------------------------------- public API

    def _active(self) -> QuestionState:
        """The attempt being answered: the current question, or its retake in progress."""
        return self._questions[self._current].current_attempt

    def _attempts(self) -> Iterator[QuestionState]:
        """Every attempt at every question (first attempts, each followed by its retakes)."""
        for qs in self._questions:
            yield qs
            yield from qs.retakes

    @property
    def current_question(self) -> Question | None:
        return self._questions[self._current].question if self.state == "awaiting_reply" else None

    @property
    def results(self) -> list[QuestionResult]:
        return [q.result() for q in self._questions]

    @property
    def score(self) -> float:
        """Mean question score over the whole bank; questions not answered count 0."""
        return round(sum(r.score for r in self.results) / len(self._questions), 4)

    @property
    def transcript(self) -> Transcript:
        """The session as it stands now (``in_progress`` until the interview finishes)."""
        status: Literal["in_progress", "finished", "ended_early"] = (
            "in_progress"
            if self.state != "finished"
            else ("ended_early" if self.ended_early else "finished")
        )
        return Transcript(
            session_id=self.session_id,
            status=status,
            started_at=self.started_at,
            finished_at=self.finished_at,
            bank=BankRef(id=self.bank.id, title=self.bank.title, version=self.bank.version),
            model=self.model.info,
            grader=self.grader.name,
            settings=self.settings,
            turns=list(self.turns),
            results=self.results,
            score=self.score,
        )

    def start(self) -> Iterator[Event]:
        """Greet the candidate and ask the first question."""
        if self.state != "not_started":
            raise InterviewStateError("the interview has already started")
        yield SessionStarted(
            session_id=self.session_id,
            bank_title=self.bank.title,
            mode=self.settings.mode,
            question_count=len(self._questions),
        )
        greeting = self.prompts.greeting(
            bank_title=self.bank.title,
            question_count=len(self._questions),
            mode=self.settings.mode,
            max_follow_ups=self.settings.max_follow_ups,
        )
        yield self._record("interviewer", "greeting", greeting, None)
        yield from self._ask(0)

    def reply(
        self,
        text: str,
        cancel: threading.Event | None = None,
        *,
        delivery: Delivery | None = None,
    ) -> Iterator[Event]:
        """Take one message from the candidate and carry the interview to the next reply.
        ``delivery`` (spoken or typed, its clock) is kept on the candidate's turn as given.

        The first event is the candidate's ``TurnRecorded``: at that point the reply is the
        snapshot's ``pending_reply``, so a store that saves the snapshot then never loses it.
        """
        if self.state != "awaiting_reply":
            raise InterviewStateError(
                "the interview is not waiting for a reply"
                + (" (it has finished)" if self.state == "finished" else " (call start() first)")
            )
        if self._pending is not None:
            raise InterviewStateError("a reply is still being processed (call resume() first)")
        intent = classify_reply(text)
        question_id = self._active().question.id
        if intent == "retry":  # recorded on the question it retakes
            target = self._retry_target()
            if target is not None:
                question_id = self._questions[target].question.id
        self._pending = text
        yield self._record(
            "candidate", _CANDIDATE_KIND[intent], text, question_id, delivery=delivery
        )
        yield from self._process_pending(cancel)
        yield from self._background_work(cancel)

    def resume(self, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Continue a restored interview where its snapshot stopped.

        Yields ``SessionStarted`` (``resumed=True``) and the current ``QuestionAsked``, then
        processes the pending reply if there is one (grading it, asking the follow-up or the next
        question), else waits for a reply (``AwaitingReply``). The turns of the conversation so
        far are in :attr:`turns`. A snapshot taken before the greeting simply starts.
        """
        if self.state == "not_started":
            yield from self.start()
            return
        if self.state == "finished":
            raise InterviewStateError("the interview has finished; there is nothing to resume")
        qs = self._active()
        yield SessionStarted(
            session_id=self.session_id,
            bank_title=self.bank.title,
            mode=self.settings.mode,
            question_count=len(self._questions),
            resumed=True,
        )
        yield QuestionAsked(
            question_id=qs.question.id,
            title=qs.question.title,
            number=qs.number,
            total=len(self._questions),
            retake=qs.attempt,
        )
        if self._pending is not None:
            yield from self._process_pending(cancel)
        else:
            yield self._awaiting(qs)
        yield from self._background_work(cancel)

    def abandon(self) -> Iterator[Event]:
        """The candidate stopped the interviewer mid-reply (Ctrl+C in the TUI).

        The candidate's message stays recorded (and an answer stays among the answers, graded
        with the next one); what the model was producing for it is dropped, and the interview
        waits for the next reply on the same question.
        """
        if self.state != "awaiting_reply":
            raise InterviewStateError("the interview is not running")
        yield self._awaiting(self._active())

    def snapshot(self) -> InterviewSnapshot:
        """Everything needed to continue this interview later (consistent only at rest)."""
        return InterviewSnapshot(
            session_id=self.session_id,
            bank_id=self.bank.id,
            state=self.state,
            current=self._current,
            started_at=self.started_at,
            finished_at=self.finished_at,
            ended_early=self.ended_early,
            settings=self.settings,
            turns=list(self.turns),
            questions=[qs.snapshot() for qs in self._questions],
            pending_reply=self._pending,
            return_to=self._return_to,
        )

    @classmethod
    def restore(
        cls,
        bank: Bank,
        model: ChatModel,
        grader: Grader,
        snapshot: InterviewSnapshot,
        prompts: PromptLibrary | None = None,
        *,
        clock: Callable[[], datetime] = _UTC_NOW,
        quick_grader: Grader | None = None,
    ) -> Interview:
        """Rebuild an interview from ``snapshot``; continue it with :meth:`resume`.

        Raises :class:`~interviewer.engine.snapshot.SnapshotMismatchError` when the bank is not
        the one the snapshot was taken with, or a question's rubric changed since (its grades
        would mix two rubrics).
        """
        check_snapshot_fits(bank, snapshot)
        interview = cls(
            bank,
            model,
            grader,
            snapshot.settings,
            prompts,
            clock=clock,
            session_id=snapshot.session_id,
            quick_grader=quick_grader,
        )
        interview.started_at = snapshot.started_at
        interview.finished_at = snapshot.finished_at
        interview.ended_early = snapshot.ended_early
        interview.state = snapshot.state
        interview.turns = list(snapshot.turns)
        interview._current = snapshot.current
        interview._return_to = snapshot.return_to
        interview._pending = snapshot.pending_reply
        for qs, saved_q in zip(interview._questions, snapshot.questions, strict=True):
            qs.restore(saved_q)
        return interview

    def _process_pending(self, cancel: threading.Event | None) -> Iterator[Event]:
        """Act on the reply taken by :meth:`reply` (already recorded as a turn)."""
        assert self._pending is not None
        text = self._pending
        intent = classify_reply(text)
        qs = self._active()
        if intent == "repeat":
            yield self._record("interviewer", "repeat", qs.last_prompt, qs.question.id)
            yield self._awaiting(qs)
        elif intent == "clarify":
            yield from self._clarify(qs, cancel)
        elif intent == "skip":
            if qs.status != "answered":
                qs.status = "skipped"
            yield from self._finish_question(qs, cancel)
            yield from self._advance(acknowledge=False, cancel=cancel)
        elif intent == "end":
            yield from self.end(cancel)
        elif intent == "retry":
            yield from self._retry(qs, cancel)
        else:
            yield from self._answer(qs, text, cancel)

    def end(self, cancel: threading.Event | None = None, *, quick: bool = False) -> Iterator[Event]:
        """Finish early: the current question is closed, the rest are not reached.

        ``quick`` (after Ctrl+C, a closed window) makes no more model calls: the feedback cards
        then hold the key points and the reference answer without the coach's words.
        """
        if self.state != "awaiting_reply":
            raise InterviewStateError("the interview is not running")
        self._quick = quick
        qs = self._active()
        if qs.status != "answered":
            qs.status = "skipped"
        yield from self._finish_question(qs, cancel)
        self.ended_early = True
        yield from self._finish(cancel)

    # ----------------------------------------------------------------- the flow

    def _ask(self, index: int, *, again: str = "") -> Iterator[Event]:
        """Ask question ``index`` (its current attempt); ``again``: the words that say why it is
        asked once more (a retake, or back to a question a retake interrupted)."""
        self._current = index
        qs = self._questions[index].current_attempt
        qs.last_prompt = qs.question.question
        yield QuestionAsked(
            question_id=qs.question.id,
            title=qs.question.title,
            number=qs.number,
            total=len(self._questions),
            retake=qs.attempt,
        )
        text = f"{again} {qs.question.question}" if again else qs.question.question
        yield self._record("interviewer", "question", text, qs.question.id)
        self.state = "awaiting_reply"
        yield self._awaiting(qs)

    def _awaiting(self, qs: QuestionState) -> AwaitingReply:
        # The engine comes to rest here: the reply in flight (if any) is fully processed.
        self._pending = None
        target = self._retry_target(offered=True)
        return AwaitingReply(
            question_id=qs.question.id,
            follow_up=qs.follow_ups > 0,
            retry_of=self._questions[target].question.id if target is not None else None,
        )

    def _clarify(self, qs: QuestionState, cancel: threading.Event | None) -> Iterator[Event]:
        text = yield from self._model_turn(
            "clarify", "clarification", qs, cancel, max_new_tokens=160
        )
        if text is None:
            yield self._record("interviewer", "repeat", qs.last_prompt, qs.question.id)
        yield self._awaiting(qs)

    def _answer(
        self, qs: QuestionState, text: str, cancel: threading.Event | None
    ) -> Iterator[Event]:
        qs.status = "answered"
        qs.answers.append(text)
        screened = screen(text, qs.question)
        if screened.reason is not None:
            if qs.grade is None and not qs.graded_answers:
                qs.grade = prefilter_grade(qs.question, screened.reason, qs.ignored())
                yield Graded(question_id=qs.question.id, grade=qs.grade)
            elif screened.ignored and qs.grade is not None:
                qs.grade = qs.grade.model_copy(update={"ignored": qs.ignored()})
            yield from self._finish_question(qs, cancel)
            yield from self._advance(acknowledge=True, cancel=cancel)
            return

        qs.graded_answers.append(screened.text)
        if self._background:
            # Follow-ups come from the instant signal; the grader runs once the candidate
            # has the next question in front of them (see _background_work).
            assert self._quick_grader is not None
            qs.quick = self._quick_grader.grade(qs.question, qs.graded_answers, cancel)
            qs.grade_pending = True
        else:
            graded = yield from self._grade_now(qs, cancel)
            if not graded:
                yield from self._finish_question(qs, cancel)
                yield from self._advance(acknowledge=True, cancel=cancel)
                return
        yield from self._probe_or_move_on(qs, cancel)

    def _probe_or_move_on(
        self, qs: QuestionState, cancel: threading.Event | None
    ) -> Iterator[Event]:
        view = probe_view(qs, self._background)
        focus = self.settings.focus.get(qs.question.id, ())
        target = probe_target(qs, view, self.settings.max_follow_ups, focus)
        if target is not None:
            follow_up = yield from self._model_turn(
                "follow_up", "follow_up", qs, cancel, key_point=target, max_new_tokens=120
            )
            if follow_up is not None:
                qs.follow_ups += 1
                qs.probed.add(target.id)
                qs.last_prompt = follow_up
                yield FollowUpAsked(
                    question_id=qs.question.id,
                    key_point_id=target.id,
                    number=qs.follow_ups,
                    cap=self.settings.max_follow_ups,
                )
                yield self._awaiting(qs)
                return
        yield from self._finish_question(qs, cancel)
        yield from self._advance(acknowledge=True, cancel=cancel)

    def _finish_question(
        self, qs: QuestionState, cancel: threading.Event | None
    ) -> Iterator[Event]:
        if qs.grade_pending:
            qs.finish_pending = True  # finished once its grade is in (_grade_pending)
            return
        yield QuestionFinished(result=self._questions[qs.number - 1].result())
        if self.settings.mode == "practice":
            yield from self._feedback(qs, cancel)

    def _advance(self, *, acknowledge: bool, cancel: threading.Event | None) -> Iterator[Event]:
        if self._return_to is not None:  # a retake interrupted this question: ask it again
            back, self._return_to = self._return_to, None
            yield from self._ask(back, again=f"Back to question {back + 1}:")
            return
        finished = self._questions[self._current]
        if self._current + 1 >= len(self._questions):
            yield from self._finish(cancel)
            return
        if acknowledge and self.settings.acknowledge and self.settings.mode == "exam":
            yield from self._model_turn(
                "acknowledge", "acknowledgement", finished, cancel, max_new_tokens=48
            )
        yield from self._ask(self._current + 1)

    def _finish(self, cancel: threading.Event | None) -> Iterator[Event]:
        yield from self._grade_pending(cancel)  # grades still owed (background grading)
        self.state = "finished"
        if self.settings.mode == "exam":
            for qs in self._questions:
                if qs.status != "not_reached":
                    yield from self._feedback(qs, cancel)
        summary = interview_summary(self.prompts, self.results, self.score, self.ended_early)
        yield self._record("interviewer", "summary", summary, None)
        self.finished_at = self._clock()
        self._pending = None
        yield InterviewFinished(transcript=self.transcript)

    def _feedback(self, qs: QuestionState, cancel: threading.Event | None) -> Iterator[Event]:
        prose = ""
        if qs.grade is not None and qs.grade.prefilter_reason is None and not self._quick:
            prose = yield from coach_words(self.model, self.prompts, qs.question, qs.grade, cancel)
        qs.coach_feedback = "\n\n".join(feedback_intro(qs.result(), prose)) or None
        before = None
        if qs.attempt > 0:
            before = self._questions[qs.number - 1].previous_attempt(qs).result()
        replies = deliveries(self.turns[qs.first_turn :], qs.question.id)
        qs.feedback = feedback_markdown(
            qs.question, qs.result(), prose, before=before, replies=replies
        )
        yield self._record("interviewer", "feedback", qs.feedback, qs.question.id)
        yield FeedbackGiven(result=self._questions[qs.number - 1].result())

    # ----------------------------------------------------------------- model calls

    def _model_turn(
        self,
        task: InterviewerTask,
        kind: TurnKind,
        qs: QuestionState,
        cancel: threading.Event | None,
        *,
        key_point: KeyPoint | None = None,
        max_new_tokens: int,
    ) -> Generator[Event, None, str | None]:
        """Stream an interviewer turn written by the model; return its text (None if it failed)."""
        text = yield from interviewer_turn(
            self.model,
            self.prompts,
            task,
            kind,
            qs,
            cancel,
            bank_title=self.bank.title,
            question_count=len(self._questions),
            # The whole interview's conversation, so consecutive turns share their prompt's
            # prefix; never a feedback card (it holds the reference answer).
            history=persona_history(self.turns),
            key_point=key_point,
            max_new_tokens=max_new_tokens,
            questions=[q.question for q in self.bank.questions],
        )
        if text is not None:
            yield self._record(
                "interviewer",
                kind,
                text,
                qs.question.id,
                key_point_id=key_point.id if key_point else None,
                streamed=True,
            )
        return text

    def _record(
        self,
        role: Literal["interviewer", "candidate"],
        kind: TurnKind,
        text: str,
        question_id: str | None,
        *,
        key_point_id: str | None = None,
        streamed: bool = False,
        delivery: Delivery | None = None,
    ) -> TurnRecorded:
        turn = Turn(
            index=len(self.turns),
            role=role,
            kind=kind,
            text=text,
            question_id=question_id,
            key_point_id=key_point_id,
            at=self._clock(),
            delivery=delivery,
        )
        self.turns.append(turn)
        return TurnRecorded(turn=turn, streamed=streamed)
