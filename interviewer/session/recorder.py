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
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from interviewer.engine.events import AwaitingReply, Event, Graded, InterviewFinished, TurnRecorded
from interviewer.engine.interview import Interview
from interviewer.store import SessionStore, StoreError


class SessionRecorder:
    """Commits an interview's events to a :class:`SessionStore` as they arrive."""

    def __init__(
        self,
        store: SessionStore,
        interview: Interview,
        *,
        bank_path: Path | None = None,
        resumed: bool = False,
        after_turn: Callable[[], None] | None = None,
    ) -> None:
        """Create the session row (unless ``resumed``: it exists and continues).

        ``after_turn`` runs after each committed turn (the crash test uses it to slow a run).
        """
        self.store = store
        self.interview = interview
        self.session_id = interview.session_id
        self._after_turn = after_turn
        self._draft_warned = False
        if not resumed:
            store.create_session(
                interview.snapshot(),
                interview.transcript,
                rubric=[(q.id, q.title, q.rubric_hash) for q in interview.bank.questions],
                bank_path=bank_path if bank_path is not None else interview.bank.path,
            )

    def __call__(self, event: Event) -> None:
        interview = self.interview
        if isinstance(event, TurnRecorded):
            checkpoint = None
            if event.turn.role == "candidate":
                checkpoint = (interview.snapshot(), interview.transcript)
            self.store.add_turn(self.session_id, event.turn, checkpoint)
            if self._after_turn is not None:
                self._after_turn()
        elif isinstance(event, Graded):
            self.store.add_grade(
                self.session_id,
                event.question_id,
                interview.bank.question(event.question_id).rubric_hash,
                event.grade,
                interview.model.info,
            )
        elif isinstance(event, AwaitingReply | InterviewFinished):
            self.store.checkpoint(self.session_id, interview.snapshot(), interview.transcript)

    def save_draft(self, text: str, warn: Callable[[StoreError], None]) -> None:
        """Keep the answer being typed for the current question (an empty one drops it).

        The store drops the draft itself when the answer, or a skip, is recorded. Best effort:
        the candidate goes on typing when the store fails, and ``warn`` hears the first failure
        of the session only."""
        question = self.interview.current_question
        try:
            self.store.save_draft(self.session_id, question.id if question else None, text)
        except StoreError as exc:
            if not self._draft_warned:
                self._draft_warned = True
                warn(exc)

    def draft(self) -> str | None:
        """The answer left unsent when the session was interrupted, if any (None, too, when the
        store cannot say)."""
        try:
            found = self.store.draft(self.session_id)
        except StoreError:
            return None
        return found.text if found is not None else None
