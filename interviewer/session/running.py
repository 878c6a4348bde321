"""The long half of starting an interview, and the interview as it runs.

:func:`open_session` turns a :class:`~interviewer.session.plan.SessionPlan` into a
:class:`Session`: it loads the model through the backend factory (or takes one already loaded),
builds the grader, a new or restored :class:`~interviewer.engine.Interview`, and the recorder.
A :class:`Session` then drives the engine for every front end: each event is recorded in the
store before the front end sees it, so what is shown has been stored.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from interviewer.bank import Bank
from interviewer.config import Settings
from interviewer.documents import clean_text
from interviewer.engine.events import AwaitingReply, Event, InterviewFinished
from interviewer.engine.grading import EvidenceGrader, Grader
from interviewer.engine.interview import Interview
from interviewer.engine.regrade import regrade_transcript
from interviewer.llm.base import ChatModel
from interviewer.prompts import PromptLibrary
from interviewer.report.write import ReportWriteError, write_atomic
from interviewer.session.errors import SessionError, TranscriptWriteError
from interviewer.session.graders import open_grader
from interviewer.session.graders import open_model as open_model_of
from interviewer.session.plan import RegradePlan, SessionPlan, check_resumable
from interviewer.session.recorder import SessionRecorder
from interviewer.session.review import refresh_memory, review_memory
from interviewer.store import SessionStore, StoreError
from interviewer.store.locks import SessionLock
from interviewer.transcript import Delivery, InterviewSettings, ModelInfo, Regrade, Transcript

ModelOpener = Callable[
    [Settings, Callable[[str], None], Callable[[int, int], None] | None], ChatModel
]
"""How a session gets its model: (settings, on_status, on_progress) -> model."""


@dataclass(frozen=True)
class Reply:
    """A reply with how it was given (spoken, against a clock), for the sources that know."""

    text: str
    delivery: Delivery | None = None


ReplySource = Callable[[AwaitingReply], "str | Reply"]
"""Where the candidate's replies come from: the terminal, an answers file (typed or spoken),
a test."""


def write_transcript(transcript: Transcript, path: Path) -> None:
    """Write the transcript JSON atomically: a reader sees the old file or the new, never half."""
    try:
        write_atomic(path, transcript.model_dump_json(indent=2) + "\n")
    except ReportWriteError as exc:
        raise TranscriptWriteError(str(exc)) from exc


class Session:
    """A running interview: the engine, its model and grader, and the recorder behind it.

    Every event passes through the recorder (when the interview is saved) before a front end
    sees it. Engine steps go one at a time, and the conversation comes first: a reply sent
    while earlier answers are graded in the background waits only for the grade already
    running (never racing it on the model); the grades still owed run after the reply's turn.
    """

    def __init__(
        self,
        interview: Interview,
        recorder: SessionRecorder | None = None,
        *,
        plan: SessionPlan | None = None,
        resuming: bool | None = None,
    ) -> None:
        self.interview = interview
        self.recorder = recorder
        self.plan = plan
        self.resuming = plan.resuming if resuming is None and plan is not None else bool(resuming)
        self._begun = False
        self._step = threading.Lock()
        self._replies_waiting = 0
        self._count = threading.Lock()
        interview.turn_waiting = lambda: self._replies_waiting > 0

    @property
    def session_id(self) -> str:
        return self.interview.session_id

    @property
    def model(self) -> ChatModel:
        return self.interview.model

    @property
    def grader(self) -> Grader:
        return self.interview.grader

    @property
    def store(self) -> SessionStore | None:
        return self.recorder.store if self.recorder is not None else None

    @property
    def on_notice(self) -> Callable[[str], None] | None:
        """Hears where the answers go when the store cannot take them: the front end shows it
        (once; notices from before it is set are delivered when it is)."""
        return self.recorder.on_notice if self.recorder is not None else None

    @on_notice.setter
    def on_notice(self, callback: Callable[[str], None] | None) -> None:
        if self.recorder is not None:
            self.recorder.on_notice = callback

    @property
    def recovery_file(self) -> Path | None:
        """The recovery file that keeps this session while the store cannot, if one does."""
        return self.recorder.recovery_file if self.recorder is not None else None

    def close(self) -> None:
        """Let the session go (its lock, its recovery file); the interview may be unfinished."""
        if self.recorder is not None:
            self.recorder.close()

    # ------------------------------------------------------------------ driving

    def record(self, events: Iterable[Event]) -> Iterator[Event]:
        """``events``, each recorded before it is passed on. A finished interview's verdicts
        go into the review memory then (best effort: the next read catches up anyway)."""
        for event in events:
            if self.recorder is not None:
                self.recorder(event)
                if isinstance(event, InterviewFinished):
                    self._remember()
            yield event

    def _remember(self) -> None:
        store = self.store
        if store is None or store.readonly or self.plan is None:
            return
        with contextlib.suppress(StoreError):
            review_memory(self.plan.settings, store)

    def _locked(self, events: Iterable[Event], *, reply: bool = False) -> Iterator[Event]:
        """``events``, one engine step at a time. A ``reply`` counts as waiting from the moment
        it is read until it holds the step: background grading gives way to it then."""
        if reply:
            with self._count:
                self._replies_waiting += 1
        try:
            with self._step:
                if reply:
                    with self._count:
                        self._replies_waiting -= 1
                    reply = False
                yield from self.record(events)
        finally:
            if reply:  # closed before it ever held the step
                with self._count:
                    self._replies_waiting -= 1

    def begin(self, cancel: threading.Event | None = None) -> Iterator[Event]:
        """The interview's first events: its greeting and question, or, resumed, where it
        stopped (a reply that was being graded is graded now)."""
        self._begun = True
        if self.resuming:
            return self._locked(self.interview.resume(cancel))
        return self._locked(self.interview.start())

    def reply(
        self,
        text: str,
        cancel: threading.Event | None = None,
        *,
        delivery: Delivery | None = None,
    ) -> Iterator[Event]:
        """The candidate's message (a byte a terminal could not decode becomes U+FFFD: what
        the store, the reports and the screen cannot take never reaches the engine);
        ``delivery``: how it was given (spoken, its clock), kept on its turn."""
        return self._locked(
            self.interview.reply(clean_text(text), cancel, delivery=delivery), reply=True
        )

    def end(self, cancel: threading.Event | None = None, *, quick: bool = False) -> Iterator[Event]:
        return self._locked(self.interview.end(cancel, quick=quick))

    def abandon(self) -> Iterator[Event]:
        """Drop the half-spoken reply (Ctrl+C) and wait for the candidate again."""
        return self._locked(self.interview.abandon())

    def run(
        self,
        replies: ReplySource,
        on_event: Callable[[Event], None],
        *,
        cancel: threading.Event | None = None,
        export: Path | None = None,
    ) -> Transcript:
        """Drive the interview to its end with ``replies``; Ctrl+C ends it (what was said is
        graded quickly). The transcript is written to ``export`` even on failure."""

        def pump(events: Iterable[Event]) -> AwaitingReply | None:
            awaiting = None
            for event in events:
                on_event(event)
                if isinstance(event, AwaitingReply):
                    awaiting = event
            return awaiting

        interview = self.interview
        try:
            awaiting = pump(self.begin(cancel))
            while awaiting is not None and interview.state == "awaiting_reply":
                given = replies(awaiting)
                if isinstance(given, Reply):
                    awaiting = pump(self.reply(given.text, cancel, delivery=given.delivery))
                else:
                    awaiting = pump(self.reply(given, cancel))
        except KeyboardInterrupt:
            if interview.state == "awaiting_reply":
                pump(self.end(cancel, quick=True))
        finally:
            if export is not None:
                write_transcript(interview.transcript, export)
        return interview.transcript

    # ------------------------------------------------------------------ drafts and reads

    def save_draft(self, text: str, warn: Callable[[StoreError], None]) -> None:
        """Keep the unsent answer (best effort; ``warn`` hears the first failure)."""
        if self.recorder is not None:
            self.recorder.save_draft(clean_text(text), warn)

    def draft(self) -> str | None:
        """The answer left unsent when this session was interrupted, if any."""
        return self.recorder.draft() if self.recorder is not None else None

    def transcript(self) -> Transcript:
        """The transcript, with its regrades when the session is stored."""
        transcript = self.interview.transcript
        if self.store is not None and not (self.recorder is not None and self.recorder.degraded):
            try:
                return self.store.load_transcript(transcript.session_id)
            except StoreError:
                return transcript
        return transcript

    def regrade(self, cancel: threading.Event | None = None) -> tuple[Transcript, Regrade]:
        """Grade the answers again with this session's grader against the current rubric and
        store the new grades beside the old; returns the transcript before and the regrade."""
        store = self.store
        if store is None:
            raise SessionError(
                "regrading needs the session store, and saving is off for this interview",
                "run without --no-save",
            )
        before = self.interview.transcript
        result = regrade_transcript(
            before, self.interview.bank, self.grader, self.model.info, cancel=cancel
        )
        store.add_regrade(before.session_id, result)
        if self.plan is not None:
            refresh_memory(self.plan.settings, store)  # the new verdicts replace the old
        return before, result


def resume_session(
    store: SessionStore,
    session_id: str,
    bank: Bank,
    model: ChatModel,
    grader: Grader,
    prompts: PromptLibrary | None = None,
    *,
    recovery: Sequence[Path] | None = None,
) -> tuple[Interview, SessionRecorder]:
    """Restore an unfinished session from its last checkpoint (nothing is replayed through the
    model); drive it with ``interview.resume()`` and the recorder.

    If the process died while a reply was being processed, that reply is the snapshot's
    ``pending_reply`` and ``Interview.resume()`` processes it first; the interviewer turns and
    grades stored after the checkpoint are dropped, since the resumed engine produces them
    again. Raises :class:`ResumeError` when the session has finished or no longer fits ``bank``.
    """
    snapshot = check_resumable(store, session_id, bank)
    summary = store.get(session_id)
    interview = Interview.restore(bank, model, grader, snapshot, prompts)
    # Before the rollback: a session another process still runs must not lose its newest turns.
    lock = SessionLock.acquire(store.path.parent, summary.id)
    store.rollback_to_checkpoint(summary.id)
    return interview, SessionRecorder(store, interview, resumed=True, recovery=recovery, lock=lock)


@dataclass(frozen=True)
class LoadedModel:
    """The slow half of opening a session: the chat model and the grader, loaded."""

    model: ChatModel
    grader: Grader
    prompts: PromptLibrary


def load_session_model(
    plan: SessionPlan,
    *,
    on_status: Callable[[str], None],
    on_progress: Callable[[int, int], None] | None = None,
    model: ChatModel | None = None,
    open_model: ModelOpener | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> LoadedModel:
    """Load the model (unless ``model`` is given) and the grader: the long wait, run off the
    UI thread. Raises :class:`ModelError` with advice when the model cannot load. A model
    asked to grade is checked first (:mod:`interviewer.session.judge`); ``on_notice`` hears
    once when its grades are not used (default: ``on_status``)."""
    if model is None:
        model = (open_model or open_model_of)(plan.settings, on_status, on_progress)
    prompts = PromptLibrary()
    grader = open_grader(plan.grader, plan.settings, model, prompts, on_status)
    from interviewer.session.judge import check_judge

    grader = check_judge(
        plan.grader,
        plan.settings,
        model,
        grader,
        plan.store,
        on_status=on_status,
        on_notice=on_notice,
    ).grader
    return LoadedModel(model, grader, prompts)


def start_session(
    plan: SessionPlan,
    loaded: LoadedModel,
    *,
    after_turn: Callable[[], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Session:
    """Build the interview, new or restored from the plan's checkpoint, and its recorder
    (cheap; the session row is created here, so a load that was cancelled leaves none).
    Raises :class:`StoreError` or :class:`SessionError` when it cannot be recorded or resumed."""
    settings, store = plan.settings, plan.store
    if plan.recovered is not None:  # resumed from a recovery file: the store cannot take it
        recovered = plan.recovered
        lock = SessionLock.acquire(settings.store_path.parent, recovered.session_id)
        interview = Interview.restore(
            plan.bank, loaded.model, loaded.grader, recovered.snapshot, loaded.prompts
        )
        recorder = SessionRecorder(
            store,
            interview,
            resumed=True,
            recovery=plan.recovery,
            store_problem=plan.store_problem
            or StoreError("the session store could not take the recovered session back"),
            first_seq=recovered.last_seq,
            restored_draft=recovered.draft[1] if recovered.draft else None,
            lock=lock,
        )
        return Session(interview, recorder, plan=plan)
    if plan.resume is not None:
        if store is None:
            raise SessionError(
                "resuming a session needs the session store", "run without --no-save"
            )
        interview, recorder = resume_session(
            store,
            plan.resume.id,
            plan.bank,
            loaded.model,
            loaded.grader,
            loaded.prompts,
            recovery=plan.recovery,
        )
        return Session(interview, recorder, plan=plan)
    interview = Interview(
        plan.bank,
        loaded.model,
        loaded.grader,
        InterviewSettings(
            mode=settings.mode,
            max_follow_ups=settings.max_follow_ups,
            grading=settings.grading,
            focus=plan.focus or {},
        ),
        loaded.prompts,
        clock=clock or (lambda: datetime.now(UTC)),
    )
    saved = None
    if store is not None or (settings.save and plan.store_problem is not None):
        saved = SessionRecorder(
            store,
            interview,
            after_turn=after_turn,
            recovery=plan.recovery,
            store_problem=plan.store_problem,
        )
    return Session(interview, saved, plan=plan)


def open_session(
    plan: SessionPlan,
    *,
    on_status: Callable[[str], None],
    on_progress: Callable[[int, int], None] | None = None,
    model: ChatModel | None = None,
    open_model: ModelOpener | None = None,
    after_turn: Callable[[], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> Session:
    """:func:`load_session_model`, then :func:`start_session`: a plan made into a running
    interview in one call (the CLI, the bench; the TUI runs the two halves on two threads).
    ``clock``: the interview's own time (tests that span days)."""
    loaded = load_session_model(
        plan,
        on_status=on_status,
        on_progress=on_progress,
        model=model,
        open_model=open_model,
        on_notice=on_notice,
    )
    return start_session(plan, loaded, after_turn=after_turn, clock=clock)


def run_regrade(
    plan: RegradePlan,
    *,
    on_status: Callable[[str], None],
    model: ChatModel | None = None,
    open_model: ModelOpener | None = None,
    cancel: threading.Event | None = None,
) -> Regrade:
    """Regrade a stored session (loading the model only when the grader needs one) and store
    the new grades beside the old. Nothing is stored when it stops early."""
    if model is None and plan.needs_model:
        model = (open_model or open_model_of)(plan.settings, on_status, None)
    grader = open_grader(plan.grader, plan.settings, model, PromptLibrary(), on_status)
    from interviewer.session.judge import check_judge

    grader = check_judge(
        plan.grader, plan.settings, model, grader, plan.store, on_status=on_status
    ).grader
    if model is not None:
        info = model.info
    else:
        method = grader.method if isinstance(grader, EvidenceGrader) else grader.name
        info = ModelInfo(backend="none", model_id=method)
    result = regrade_transcript(
        plan.transcript, plan.bank, grader, info, cancel=cancel, on_progress=on_status
    )
    plan.store.add_regrade(plan.summary.id, result)
    refresh_memory(plan.settings, plan.store)  # the new verdicts replace the old
    return result


def regrade_summary(before: Transcript, result: Regrade, *, session_id: str | None = None) -> str:
    """What a regrade changed, per question and in total (the CLI and the report screen)."""
    who = f"session {session_id} " if session_id else ""
    lines = [f"Regraded {who}with {result.grader}:"]
    for old, new in zip(before.results, result.results, strict=True):
        line = f"  {old.question_id}: {old.score * 100:.0f}% -> {new.score * 100:.0f}%  {old.title}"
        if new.grading_error:
            line += f"  (not graded: {new.grading_error.splitlines()[0]})"
        lines.append(line)
    lines.append(f"  total: {before.score * 100:.0f}% -> {result.score * 100:.0f}%")
    return "\n".join(lines)
