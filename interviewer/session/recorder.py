"""Record an interview into the store as it happens: one committed transaction per event.

Call the recorder with every event, in the thread that drives the engine, *before* pulling the
next event from the generator (:class:`interviewer.session.Session` does this for every front
end):

    recorder = SessionRecorder(store, interview, bank_path=bank.path)
    for event in interview.start():
        recorder(event)
        ...

What each event commits:

* ``TurnRecorded``: the turn. A candidate's turn commits, in the same transaction, a checkpoint
  whose snapshot holds the reply as ``pending_reply``: from that commit on the answer survives
  anything, and a resumed session grades it.
* ``Graded``: the grade, with the model id, revision, quantization and the question's rubric hash.
* ``AwaitingReply`` and ``InterviewFinished``: a checkpoint (the engine is at rest).
* ``QuestionFinished`` and ``FeedbackGiven`` carry nothing new: their result lands in the next
  checkpoint and the feedback text is a turn of its own. Other events are not stored.

**When the store cannot write** (a full disk, a read-only folder, a damaged or newer database,
another program holding a lock), the interview goes on: from the failing event on, the recorder
appends the session to a recovery file instead (:mod:`interviewer.store.recovery`), starting
with its last rest, and says once where the answers are going (``on_notice``). ``interviewer
resume`` picks the file up; any command that opens a working store brings it back in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from interviewer.documents import clean_text
from interviewer.engine.events import AwaitingReply, Event, Graded, InterviewFinished, TurnRecorded
from interviewer.engine.interview import Interview
from interviewer.engine.snapshot import InterviewSnapshot
from interviewer.store import SessionStore, StoreError
from interviewer.store import recovery as recovery_files
from interviewer.store.locks import SessionLock
from interviewer.store.recovery import (
    RecoveryError,
    RecoveryLog,
    checkpoint_body,
    grade_body,
    read_records,
    recover,
    session_header,
)
from interviewer.transcript import Transcript


class SessionRecorder:
    """Commits an interview's events to a :class:`SessionStore` as they arrive (or, where the
    store cannot write, to a recovery file)."""

    def __init__(
        self,
        store: SessionStore | None,
        interview: Interview,
        *,
        bank_path: Path | None = None,
        resumed: bool = False,
        after_turn: Callable[[], None] | None = None,
        recovery: Sequence[Path] | None = None,
        store_problem: StoreError | None = None,
        first_seq: int = 0,
        restored_draft: str | None = None,
        lock: SessionLock | None = None,
    ) -> None:
        """Create the session row (unless ``resumed``: it exists and continues).

        ``store`` None (with ``store_problem``, why) records into the recovery file from the
        start. ``recovery``: the folders for it (default: ``recovery/`` beside the database,
        then the temp directory). ``first_seq`` and ``restored_draft`` continue a session
        resumed from a recovery file. ``after_turn`` runs after each recorded turn (the crash
        test uses it to slow a run)."""
        self.store = store
        self.interview = interview
        self.session_id = interview.session_id
        self._after_turn = after_turn
        self._bank_path = bank_path if bank_path is not None else interview.bank.path
        self._folders = tuple(recovery) if recovery is not None else _default_folders(store)
        self._first_seq = first_seq
        self._restored_draft = restored_draft
        self._rest: tuple[InterviewSnapshot, Transcript] = (
            interview.snapshot(),
            interview.transcript,
        )
        """The engine's last rest that has been recorded (where a recovery file starts)."""
        self._log: RecoveryLog | None = None
        self.problem: StoreError | None = None
        """Why the store is not used (None while it records)."""
        self.lost: RecoveryError | None = None
        """Why nothing can be saved at all (no recovery folder takes the session either)."""
        self._notices: list[str] = []
        self._on_notice: Callable[[str], None] | None = None
        self._draft_warned = False
        self.lock = lock
        if lock is None and store is not None and not store.readonly:
            self.lock = SessionLock.acquire(store.path.parent, self.session_id)
        if store is None or store.readonly or (resumed and store_problem is not None):
            self._degrade(
                store_problem
                or StoreError(
                    f"{store.path}: opened read-only" if store else "the session store is not open"
                )
            )
        elif not resumed:
            try:
                store.create_session(
                    interview.snapshot(),
                    interview.transcript,
                    rubric=self._rubric(),
                    bank_path=self._bank_path,
                )
            except StoreError as exc:
                self._degrade(exc)

    def _rubric(self) -> list[tuple[str, str, str]]:
        return [(q.id, q.title, q.rubric_hash) for q in self.interview.bank.questions]

    # ------------------------------------------------------------------ notices

    @property
    def on_notice(self) -> Callable[[str], None] | None:
        """Hears, once, where the answers go when the store cannot take them (and again if
        that place changes). Notices given before it is set are delivered when it is."""
        return self._on_notice

    @on_notice.setter
    def on_notice(self, callback: Callable[[str], None] | None) -> None:
        self._on_notice = callback
        if callback is not None:
            pending, self._notices = self._notices, []
            for text in pending:
                callback(text)

    def _notify(self, text: str) -> None:
        if self._on_notice is not None:
            self._on_notice(text)
        else:
            self._notices.append(text)

    @property
    def degraded(self) -> bool:
        """The store is not recording this session (a recovery file is, if ``lost`` is None)."""
        return self._log is not None or self.lost is not None

    @property
    def recovery_file(self) -> Path | None:
        """Where the session is being kept instead of the store, if it is."""
        return self._log.path if self._log is not None else None

    def __call__(self, event: Event) -> None:
        if not self.degraded:
            try:
                self._commit(event)
            except StoreError as exc:
                self._degrade(exc)
                self._keep(event)
        else:
            self._keep(event)
        if isinstance(event, TurnRecorded) and self._after_turn is not None:
            self._after_turn()
        if isinstance(event, InterviewFinished):
            self._finished()

    def _commit(self, event: Event) -> None:
        """Record ``event`` in the store (:class:`StoreError` when it cannot)."""
        assert self.store is not None
        interview = self.interview
        if isinstance(event, TurnRecorded):
            checkpoint = None
            if event.turn.role == "candidate":
                checkpoint = (interview.snapshot(), interview.transcript)
            self.store.add_turn(self.session_id, event.turn, checkpoint)
            if checkpoint is not None:
                self._rest = checkpoint
        elif isinstance(event, Graded):
            self.store.add_grade(
                self.session_id,
                event.question_id,
                interview.bank.question(event.question_id).rubric_hash,
                event.grade,
                interview.model.info,
            )
        elif isinstance(event, AwaitingReply | InterviewFinished):
            rest = (interview.snapshot(), interview.transcript)
            self.store.checkpoint(self.session_id, *rest)
            self._rest = rest

    def _keep(self, event: Event) -> None:
        """Record ``event`` in the recovery file: the same checkpoints the store takes."""
        if self._log is None:
            return  # nothing can be saved (``lost``); the interview goes on regardless
        interview = self.interview
        try:
            if isinstance(event, TurnRecorded) and event.turn.role == "candidate":
                rest = (interview.snapshot(), interview.transcript)
                self._write(
                    "checkpoint",
                    checkpoint_body(*rest, clears_draft=event.turn.kind in ("answer", "skip")),
                )
                self._rest = rest
            elif isinstance(event, Graded):
                question = interview.bank.question(event.question_id)
                self._write(
                    "grade",
                    grade_body(
                        event.question_id, question.rubric_hash, event.grade, interview.model.info
                    ),
                )
            elif isinstance(event, AwaitingReply | InterviewFinished):
                rest = (interview.snapshot(), interview.transcript)
                self._write("checkpoint", checkpoint_body(*rest))
                self._rest = rest
        except RecoveryError as exc:
            self._lose(exc)

    def _write(self, kind: str, body: dict[str, object]) -> None:
        assert self._log is not None
        first = self._log.path is None
        if self._log.write(kind, body) and not first:
            self._notify(
                f"The recovery file moved: {self._log.path} holds your answers from now on "
                f"(the last place failed: {self._log.problems[-1]})."
            )

    def _degrade(self, problem: StoreError) -> None:
        """From now on, record into a recovery file, starting with the last rest."""
        self.problem = problem
        snapshot, transcript = self._rest
        header = session_header(
            snapshot,
            transcript,
            rubric=self._rubric(),
            bank_path=self._bank_path,
            reason=str(problem),
        )
        self._log = RecoveryLog(self.session_id, self._folders, header, self._first_seq)
        try:
            self._log.write("checkpoint", checkpoint_body(snapshot, transcript))
            if self._restored_draft:
                question = self.interview.current_question
                self._log.write(
                    "draft",
                    {
                        "question_id": question.id if question else None,
                        "text": self._restored_draft,
                    },
                )
        except RecoveryError as exc:
            self._lose(exc)
            return
        fix = f" To fix the store: {problem.hint}." if problem.hint else ""
        self._notify(
            f"The session store cannot save this interview ({problem}). Your answers are kept "
            f"in {self._log.path} instead, and `interviewer resume {self.session_id}` picks "
            f"them up.{fix}"
        )

    def _lose(self, problem: RecoveryError) -> None:
        self.lost = problem
        if self._log is not None:
            self._log.close()
        self._log = None
        cause = f"the session store failed ({self.problem}), and " if self.problem else ""
        self._notify(
            f"Nothing of this interview can be saved: {cause}{problem}. The interview goes on; "
            "keep this window open and export the transcript at the end (--export, or the "
            "report screen's export keys)."
        )

    def _finished(self) -> None:
        """At the end: a session kept in a recovery file goes into the store if it can write
        again (the disk was freed), and the session's lock is released."""
        log = self._log
        if log is not None and self.store is not None and not self.store.readonly:
            try:
                records = [r for path in log.files for r in read_records(path.read_bytes())]
                (recovered,) = [r for r in recover(records) if r.session_id == self.session_id]
                recovered.import_into(self.store)
            except (OSError, ValueError, StoreError):
                pass  # the recovery file keeps it; `resume` and the next command retry
            else:
                log.discard()
                recovery_files.discard_older(self._folders, self.session_id)
                self._log = None
                self.problem = None
                self._notify(f"The session store works again: session {self.session_id} is in it.")
        self.close()

    def close(self) -> None:
        """Release the session's lock and the recovery file (the interview is over, or the
        front end let it go)."""
        if self._log is not None:
            self._log.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # ------------------------------------------------------------------ drafts

    def save_draft(self, text: str, warn: Callable[[StoreError], None]) -> None:
        """Keep the answer being typed for the current question (an empty one drops it).

        The store drops the draft itself when the answer, or a skip, is recorded. Best effort:
        the candidate goes on typing when the store fails (the draft goes to the recovery file
        then), and ``warn`` hears the first failure of the session only, unless ``on_notice``
        is set, which hears it instead."""
        text = clean_text(text)
        question = self.interview.current_question
        question_id = question.id if question else None
        if not self.degraded:
            assert self.store is not None
            try:
                self.store.save_draft(self.session_id, question_id, text)
                return
            except StoreError as exc:
                self._degrade(exc)
        if self._log is not None:
            try:
                self._write("draft", {"question_id": question_id, "text": text})
            except RecoveryError as exc:
                self._lose(exc)
        if self._notices and self._on_notice is None and not self._draft_warned:
            self._draft_warned = True
            hint = self.problem.hint if self.problem is not None else ""
            warn(StoreError(" ".join(self._notices), hint))
            self._notices = []

    def draft(self) -> str | None:
        """The answer left unsent when the session was interrupted, if any (None, too, when the
        store cannot say)."""
        if self._restored_draft is not None:
            return self._restored_draft
        if self.degraded or self.store is None:
            return None
        try:
            found = self.store.draft(self.session_id)
        except StoreError:
            return None
        return found.text if found is not None else None


def _default_folders(store: SessionStore | None) -> tuple[Path, ...]:
    beside = (store.path.parent / "recovery",) if store is not None else ()
    return (*beside, recovery_files.temporary_folder())
