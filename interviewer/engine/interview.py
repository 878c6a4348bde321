"""The interview state machine.

greet -> ask -> take a reply -> (repeat | clarify | skip | end | answer -> grade ->
probe or move on) -> ... -> summary.

The engine decides everything that matters: whether to probe, which key point to probe, when to
move on, and the score. The model only phrases follow-ups, clarifications, acknowledgements and
feedback, and returns per-key-point verdicts. It is pure Python: a generator of events that a TUI
worker, the headless runner or a test drives one reply at a time.

A session survives its process: :meth:`Interview.snapshot` captures the engine at rest,
:meth:`Interview.restore` rebuilds it, and :meth:`Interview.resume` continues (see
:mod:`interviewer.engine.snapshot` for when a snapshot is consistent).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from interviewer.bank.models import Bank, KeyPoint, Question
from interviewer.engine.events import (
    AwaitingReply,
    FeedbackGiven,
    FollowUpAsked,
    Graded,
    GradingStarted,
    InterviewFinished,
    ModelFailed,
    QuestionAsked,
    QuestionFinished,
    SessionStarted,
    TokenStreamed,
    TurnRecorded,
    TurnStarted,
)
from interviewer.engine.events import Event as _Event
from interviewer.engine.grading import (
    Grader,
    graded_points,
    merge_verdicts,
    missing_verdicts,
    prefilter_grade,
    score_verdicts,
)
from interviewer.engine.intents import Intent, classify_reply
from interviewer.engine.leaks import LeakGuard
from interviewer.engine.prefilter import screen
from interviewer.engine.shape import SHAPES, ReplyShape, first_repeat
from interviewer.engine.snapshot import (
    InterviewSnapshot,
    QuestionSnapshot,
    check_snapshot_fits,
)
from interviewer.llm.base import (
    ChatMessage,
    ChatModel,
    GenerationCancelled,
    GenerationOptions,
    ModelError,
    Purpose,
)
from interviewer.prompts import InterviewerTask, PromptLibrary
from interviewer.textutil import escape_markdown, finish_at_sentence
from interviewer.transcript import (
    VERDICT_RANK,
    BankRef,
    Grade,
    InterviewSettings,
    KeyPointGrade,
    QuestionResult,
    Transcript,
    Turn,
    TurnKind,
)

Event = _Event
State = Literal["not_started", "awaiting_reply", "finished"]

_CANDIDATE_KIND: dict[Intent, TurnKind] = {
    "answer": "answer",
    "repeat": "repeat_request",
    "clarify": "clarify_request",
    "skip": "skip",
    "end": "end",
}

_PREFILTER_FEEDBACK = {
    "empty": "No answer was given, so this question scores 0.",
    "dont_know": "You said you don't know, so this question scores 0. That is an honest answer "
    "in a real interview too; the key points below are what to study.",
    "gibberish": "The answer was not words the grader could read (keyboard mash or one word "
    "repeated), so this question scores 0.",
    "injection": "The answer only gave instructions to the grader, and those earn nothing, so "
    "this question scores 0.",
    "off_topic": "The answer was about something else, so this question scores 0. The key "
    "points below are what the question was after.",
}


class InterviewStateError(RuntimeError):
    """The engine was driven out of order (a reply before start, or after the end)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def new_session_id(now: datetime) -> str:
    """Sortable by time, unique enough for one person's sessions."""
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass
class _QuestionState:
    question: Question
    number: int
    status: Literal["answered", "skipped", "not_reached"] = "not_reached"
    answers: list[str] = field(default_factory=list)
    graded_answers: list[str] = field(default_factory=list)
    follow_ups: int = 0
    probed: set[str] = field(default_factory=set)
    grade: Grade | None = None
    grading_error: str | None = None
    feedback: str | None = None
    coach_feedback: str | None = None
    last_prompt: str = ""
    """What the interviewer last asked on this question (the question or a follow-up)."""
    grade_pending: bool = False
    """Background grading: replies were given since the grader last graded this question."""
    finish_pending: bool = False
    """Background grading: closed, but its result and feedback wait for the grade."""
    quick: list[KeyPointGrade] | None = None
    """Background grading: the instant evidence signal on every reply so far."""

    def result(self) -> QuestionResult:
        return QuestionResult(
            question_id=self.question.id,
            title=self.question.title,
            rubric_hash=self.question.rubric_hash,
            status=self.status,
            answers=list(self.answers),
            follow_ups=self.follow_ups,
            grade=self.grade,
            grading_error=self.grading_error,
            score=self.grade.score if self.grade is not None else 0.0,
            feedback=self.feedback,
            coach_feedback=self.coach_feedback,
        )


class Interview:
    """One interview over a bank. Drive it with :meth:`start`, then :meth:`reply` per message."""

    def __init__(
        self,
        bank: Bank,
        model: ChatModel,
        grader: Grader,
        settings: InterviewSettings | None = None,
        prompts: PromptLibrary | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
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
            _QuestionState(question=q, number=i + 1) for i, q in enumerate(bank.questions)
        ]
        self._current = 0
        self._quick = False
        self._pending: str | None = None
        quick = quick_grader or getattr(grader, "evidence", None)
        self._quick_grader: Grader | None = quick
        self._background = self.settings.grading == "background" and quick is not None

    # ----------------------------------------------------------------- public API

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

    def reply(self, text: str, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Take one message from the candidate and carry the interview to the next reply.

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
        qs = self._questions[self._current]
        self._pending = text
        yield self._record("candidate", _CANDIDATE_KIND[intent], text, qs.question.id)
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
        qs = self._questions[self._current]
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
        yield self._awaiting(self._questions[self._current])

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
            questions=[
                QuestionSnapshot(
                    question_id=qs.question.id,
                    rubric_hash=qs.question.rubric_hash,
                    status=qs.status,
                    answers=list(qs.answers),
                    graded_answers=list(qs.graded_answers),
                    follow_ups=qs.follow_ups,
                    probed=sorted(qs.probed),
                    grade=qs.grade,
                    grading_error=qs.grading_error,
                    feedback=qs.feedback,
                    coach_feedback=qs.coach_feedback,
                    last_prompt=qs.last_prompt,
                    grade_pending=qs.grade_pending,
                    finish_pending=qs.finish_pending,
                )
                for qs in self._questions
            ],
            pending_reply=self._pending,
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
        clock: Callable[[], datetime] = _utcnow,
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
        interview._pending = snapshot.pending_reply
        for qs, saved_q in zip(interview._questions, snapshot.questions, strict=True):
            qs.status = saved_q.status
            qs.answers = list(saved_q.answers)
            qs.graded_answers = list(saved_q.graded_answers)
            qs.follow_ups = saved_q.follow_ups
            qs.probed = set(saved_q.probed)
            qs.grade = saved_q.grade
            qs.grading_error = saved_q.grading_error
            qs.feedback = saved_q.feedback
            qs.coach_feedback = saved_q.coach_feedback
            qs.last_prompt = saved_q.last_prompt
            qs.grade_pending = saved_q.grade_pending
            qs.finish_pending = saved_q.finish_pending
        return interview

    def _process_pending(self, cancel: threading.Event | None) -> Iterator[Event]:
        """Act on the reply taken by :meth:`reply` (already recorded as a turn)."""
        assert self._pending is not None
        text = self._pending
        intent = classify_reply(text)
        qs = self._questions[self._current]
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
        qs = self._questions[self._current]
        if qs.status != "answered":
            qs.status = "skipped"
        yield from self._finish_question(qs, cancel)
        self.ended_early = True
        yield from self._finish(cancel)

    # ----------------------------------------------------------------- the flow

    def _ask(self, index: int) -> Iterator[Event]:
        self._current = index
        qs = self._questions[index]
        qs.last_prompt = qs.question.question
        yield QuestionAsked(
            question_id=qs.question.id,
            title=qs.question.title,
            number=qs.number,
            total=len(self._questions),
        )
        yield self._record("interviewer", "question", qs.question.question, qs.question.id)
        self.state = "awaiting_reply"
        yield self._awaiting(qs)

    def _awaiting(self, qs: _QuestionState) -> AwaitingReply:
        # The engine comes to rest here: the reply in flight (if any) is fully processed.
        self._pending = None
        return AwaitingReply(question_id=qs.question.id, follow_up=qs.follow_ups > 0)

    def _clarify(self, qs: _QuestionState, cancel: threading.Event | None) -> Iterator[Event]:
        text = yield from self._model_turn(
            "clarify", "clarification", qs, cancel, max_new_tokens=160
        )
        if text is None:
            yield self._record("interviewer", "repeat", qs.last_prompt, qs.question.id)
        yield self._awaiting(qs)

    def _answer(
        self, qs: _QuestionState, text: str, cancel: threading.Event | None
    ) -> Iterator[Event]:
        qs.status = "answered"
        qs.answers.append(text)
        screened = screen(text, qs.question)
        if screened.reason is not None:
            if qs.grade is None and not qs.graded_answers:
                qs.grade = prefilter_grade(qs.question, screened.reason, self._ignored(qs))
                yield Graded(question_id=qs.question.id, grade=qs.grade)
            elif screened.ignored and qs.grade is not None:
                qs.grade = qs.grade.model_copy(update={"ignored": self._ignored(qs)})
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

    def _ignored(self, qs: _QuestionState) -> list[str]:
        """The sentences of this question's replies cut out as instructions to the grader."""
        return [s for answer in qs.answers for s in screen(answer, qs.question).ignored]

    def _grade_now(
        self, qs: _QuestionState, cancel: threading.Event | None
    ) -> Generator[Event, None, bool]:
        """Grade everything graded so far on ``qs``; False when the model failed (then
        ``qs.grading_error`` says why and the earlier grade stands)."""
        yield GradingStarted(question_id=qs.question.id)
        try:
            latest = self.grader.grade(qs.question, qs.graded_answers, cancel)
        except GenerationCancelled:
            raise
        except ModelError as exc:
            qs.grading_error = exc.describe()
            yield ModelFailed(question_id=qs.question.id, purpose="grade", message=qs.grading_error)
            return False
        yield from self._keep_grade(qs, latest, self.grader.name)
        return True

    def _keep_grade(
        self, qs: _QuestionState, latest: list[KeyPointGrade], grader_name: str
    ) -> Iterator[Event]:
        """Merge ``latest`` into the question's grade (a reply adds credit, never takes it)."""
        previous = qs.grade.key_points if qs.grade is not None else []
        verdicts = merge_verdicts(previous, latest)
        qs.grade = Grade(
            key_points=verdicts,
            score=score_verdicts(qs.question, verdicts),
            grader=grader_name,
            ignored=self._ignored(qs),
        )
        qs.grading_error = None
        yield Graded(question_id=qs.question.id, grade=qs.grade)

    def _probe_or_move_on(
        self, qs: _QuestionState, cancel: threading.Event | None
    ) -> Iterator[Event]:
        target = self._probe_target(qs)
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

    def _probe_target(self, qs: _QuestionState) -> KeyPoint | None:
        """The key point worth a follow-up: a doubtful verdict first (asking beats guessing), then
        missing before partial, heavier first, then bank order.

        None once the cap is reached or nothing is left to probe. Each point is probed once.
        """
        view = self._probe_view(qs)
        if not view or qs.follow_ups >= self.settings.max_follow_ups:
            return None
        order = {p.id: i for i, p in enumerate(qs.question.key_points)}
        weights = qs.question.key_points_by_id
        candidates: list[KeyPointGrade] = [
            v
            for v in view
            if (v.verdict != "covered" or v.uncertain) and v.key_point_id not in qs.probed
        ]
        if not candidates:
            return None
        best = min(
            candidates,
            key=lambda v: (
                not v.uncertain,
                VERDICT_RANK[v.verdict],
                -weights[v.key_point_id].weight,
                order[v.key_point_id],
            ),
        )
        return weights[best.key_point_id]

    def _probe_view(self, qs: _QuestionState) -> list[KeyPointGrade]:
        """What the follow-up choice reads: the grader's verdicts, and in background grading
        the instant signal on the newest replies where it sees more (the grader lags one reply
        behind; its doubts still count)."""
        graded = list(qs.grade.key_points) if qs.grade is not None else []
        if not self._background or qs.quick is None:
            return graded
        by_id = {v.key_point_id: v for v in graded}
        view: list[KeyPointGrade] = []
        for quick in qs.quick:
            before = by_id.get(quick.key_point_id)
            if before is None or VERDICT_RANK[quick.verdict] > VERDICT_RANK[before.verdict]:
                view.append(quick)
            else:
                view.append(before)
        return view

    def _background_work(self, cancel: threading.Event | None) -> Iterator[Event]:
        """Background grading: grade what waits, now that the candidate has the next prompt
        in front of them, then checkpoint again (a second ``AwaitingReply``)."""
        if self.state != "awaiting_reply":
            return
        if not any(q.grade_pending or q.finish_pending for q in self._questions):
            return
        yield from self._grade_pending(cancel)
        yield self._awaiting(self._questions[self._current])

    def _grade_pending(self, cancel: threading.Event | None) -> Iterator[Event]:
        for qs in self._questions:
            if qs.grade_pending:
                yield from self._grade_in_background(qs, cancel)
            if qs.finish_pending and not qs.grade_pending:
                qs.finish_pending = False
                yield from self._finish_question(qs, cancel)

    def _grade_in_background(
        self, qs: _QuestionState, cancel: threading.Event | None
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

    def _finish_question(
        self, qs: _QuestionState, cancel: threading.Event | None
    ) -> Iterator[Event]:
        if qs.grade_pending:
            qs.finish_pending = True  # finished once its grade is in (_grade_pending)
            return
        yield QuestionFinished(result=qs.result())
        if self.settings.mode == "practice":
            yield from self._feedback(qs, cancel)

    def _advance(self, *, acknowledge: bool, cancel: threading.Event | None) -> Iterator[Event]:
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
        results = self.results
        summary = self.prompts.summary(
            score=self.score,
            question_count=len(results),
            answered=sum(r.status == "answered" for r in results),
            skipped=sum(r.status == "skipped" for r in results),
            not_reached=sum(r.status == "not_reached" for r in results),
            ended_early=self.ended_early,
        )
        yield self._record("interviewer", "summary", summary, None)
        self.finished_at = self._clock()
        self._pending = None
        yield InterviewFinished(transcript=self.transcript)

    def _feedback(self, qs: _QuestionState, cancel: threading.Event | None) -> Iterator[Event]:
        prose = ""
        if qs.grade is not None and qs.grade.prefilter_reason is None and not self._quick:
            messages = self.prompts.feedback_messages(qs.question, qs.grade.key_points)
            budget = 60 + 30 * len(qs.question.key_points)  # 3-5 sentences, more for more points
            generated = yield from self._generate(
                "feedback", messages, qs, cancel, max_new_tokens=budget, stream_kind=None
            )
            prose = generated or ""
        qs.coach_feedback = "\n\n".join(_feedback_intro(qs.result(), prose)) or None
        qs.feedback = feedback_markdown(qs.question, qs.result(), prose)
        yield self._record("interviewer", "feedback", qs.feedback, qs.question.id)
        yield FeedbackGiven(result=qs.result())

    # ----------------------------------------------------------------- model calls

    def _model_turn(
        self,
        task: InterviewerTask,
        kind: TurnKind,
        qs: _QuestionState,
        cancel: threading.Event | None,
        *,
        key_point: KeyPoint | None = None,
        max_new_tokens: int,
    ) -> Generator[Event, None, str | None]:
        """Stream an interviewer turn written by the model; return its text (None if it failed)."""
        history = [t for t in self.turns if t.question_id == qs.question.id]
        messages = self.prompts.interviewer_messages(
            task,
            bank_title=self.bank.title,
            question=qs.question,
            question_number=qs.number,
            question_count=len(self._questions),
            history=history,
            key_point=key_point,
        )
        guard = LeakGuard(
            messages[0].content,
            point=[key_point.statement] if key_point is not None else [],
            allowed=[
                qs.question.question,
                self.bank.title,
                *qs.question.follow_up_angles,
                *(t.text for t in history),
            ],
        )
        text = yield from self._generate(
            task,
            messages,
            qs,
            cancel,
            max_new_tokens=max_new_tokens,
            stream_kind=kind,
            rules=_ReplyRules(
                guard, SHAPES[task], _safe_reply(task, qs.question, (t.text for t in history))
            ),
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

    def _generate(
        self,
        purpose: Purpose,
        messages: list[ChatMessage],
        qs: _QuestionState,
        cancel: threading.Event | None,
        *,
        max_new_tokens: int,
        stream_kind: TurnKind | None,
        rules: _ReplyRules | None = None,
    ) -> Generator[Event, None, str | None]:
        """Run one text generation; a model failure becomes a ModelFailed event, not a crash.

        With ``rules``, a reply that starts reciting its instructions (or naming the key point
        it probes) is stopped there and the safe line is said instead; the model is stopped as
        soon as the turn has its shape (only what is kept is streamed), and a reply that goes
        astray is replaced too. A shape that holds its turn back (a follow-up) streams nothing
        until the turn is settled, then all of it: the candidate never reads a lecture that is
        about to be replaced."""
        held = stream_kind is not None and rules is not None and rules.shape.hold
        if stream_kind is not None:
            yield TurnStarted(kind=stream_kind, question_id=qs.question.id, held=held)
        options = GenerationOptions(purpose=purpose, max_new_tokens=max_new_tokens)
        live = stream_kind is not None and not held
        text = yield from self._read_reply(messages, options, qs, cancel, live, rules)
        if held and text is not None:
            yield TokenStreamed(text=text)
        return text

    def _read_reply(
        self,
        messages: list[ChatMessage],
        options: GenerationOptions,
        qs: _QuestionState,
        cancel: threading.Event | None,
        live: bool,
        rules: _ReplyRules | None,
    ) -> Generator[Event, None, str | None]:
        """The body of :meth:`_generate`: streams chunks when ``live``."""
        purpose, max_new_tokens = options.purpose, options.max_new_tokens
        guard, shape = (rules.guard, rules.shape) if rules is not None else (None, None)
        fallback = rules.fallback if rules is not None else ""
        before = getattr(self.model, "last_generation", None)
        stream = self.model.stream(messages, options, cancel)
        so_far = ""
        try:
            for chunk in stream:
                shown = len(so_far)
                so_far += chunk
                if guard is not None and guard.leaks_at_end(so_far):
                    return fallback
                cut = first_repeat(so_far)  # stuck in a loop: keep what came before it
                if shape is not None:
                    progress, end = shape.read(so_far[:cut])
                    if progress == "astray":
                        return fallback
                    if progress == "complete":
                        cut = end
                if cut is not None:  # the turn ends here: the model stops (finally below)
                    so_far, chunk = so_far[:cut], so_far[shown:cut]
                if live and chunk:
                    yield TokenStreamed(text=chunk)
                if cut is not None:
                    break
        except GenerationCancelled:
            raise
        except ModelError as exc:
            yield ModelFailed(question_id=qs.question.id, purpose=purpose, message=exc.describe())
            return None
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # a reply stopped early stops generating now
        text = so_far.strip()
        if not text:
            yield ModelFailed(
                question_id=qs.question.id, purpose=purpose, message="the model returned no text"
            )
            return None
        if shape is not None:
            progress, end = shape.read(text, finished=True)
            if progress != "complete":
                return fallback
            text = text[:end].strip()
        stats = getattr(self.model, "last_generation", None)  # the HF backend's record
        if stats is not None and stats is not before and stats.new_tokens >= max_new_tokens:
            text = finish_at_sentence(text)  # it ran out of tokens mid-sentence
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
    ) -> TurnRecorded:
        turn = Turn(
            index=len(self.turns),
            role=role,
            kind=kind,
            text=text,
            question_id=question_id,
            key_point_id=key_point_id,
            at=self._clock(),
        )
        self.turns.append(turn)
        return TurnRecorded(turn=turn, streamed=streamed)


@dataclass(frozen=True)
class _ReplyRules:
    """What an interviewer turn must respect: its secrets (``guard``), its ``shape``, and the
    safe line said instead of a reply that breaks them."""

    guard: LeakGuard
    shape: ReplyShape
    fallback: str


_SAFE_FOLLOW_UPS = (
    "Could you go a little deeper there? What else would you take into account?",
    "What trade-offs would you weigh there, and why?",
    "Can you walk me through how that works in practice, step by step?",
)


def _safe_reply(task: InterviewerTask, question: Question, said: Iterable[str] = ()) -> str:
    """What the interviewer says instead of a reply that leaked its instructions or went
    astray: open, about nothing in particular, and not a line already said on this question
    while another is left."""
    if task == "follow_up":
        used = set(said)
        return next((q for q in _SAFE_FOLLOW_UPS if q not in used), _SAFE_FOLLOW_UPS[0])
    if task == "clarify":
        return (
            "Let me put it simply: I'd like to hear how you would approach this in practice, "
            f"step by step. Here is the question again: {question.question}"
        )
    return "Thank you. Let's move on."


def _feedback_intro(result: QuestionResult, prose: str) -> list[str]:
    """The words of the feedback: why there is no grade (if so), then the coach's own."""
    parts: list[str] = []
    if result.status == "skipped" and not result.answers:
        parts.append("You skipped this question.")
    elif result.grading_error:
        parts.append(f"This answer could not be graded: {result.grading_error}")
    elif result.grade is not None and result.grade.prefilter_reason is not None:
        parts.append(_PREFILTER_FEEDBACK[result.grade.prefilter_reason])
    if prose:
        parts.append(prose)
    return parts


def feedback_markdown(question: Question, result: QuestionResult, prose: str) -> str:
    """The feedback card: the coach's words, the key points by verdict, the reference answer."""
    parts = _feedback_intro(result, prose)
    if result.grade is not None:
        rows = []
        for mark, point, verdict in graded_points(question, result.grade):
            line = f"- **{mark}**: {point.statement}"
            if verdict.uncertain:
                line += " *(uncertain)*"
            if verdict.evidence:
                line += f' (you said: "{escape_markdown(verdict.evidence)}")'
            rows.append(line)
        parts.append(f"Score: {result.score * 100:.0f}%\n\n" + "\n".join(rows))
    parts.append(f"**Reference answer**\n\n{question.reference_answer}")
    return "\n\n".join(parts)
