"""Play an interview without a screen: replies from an answers file (or the terminal), the
conversation printed as it goes, the transcript written at the end (even when something fails).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from interviewer.bank.models import Bank
from interviewer.config import VoiceSettings
from interviewer.documents import DocumentError, clean_text, parse_json
from interviewer.engine.events import (
    AwaitingReply,
    Event,
    FollowUpAsked,
    Graded,
    GradingStarted,
    ModelFailed,
    QuestionAsked,
    SessionStarted,
    TokenStreamed,
    TurnRecorded,
    TurnStarted,
)
from interviewer.engine.intents import classify_reply
from interviewer.engine.interview import Interview
from interviewer.errors import InterviewerError
from interviewer.session import (
    Reply,
    ReplySource,
    Session,
    SessionRecorder,
)
from interviewer.textutil import strip_control
from interviewer.transcript import Delivery, Transcript, Turn, describe_speech


class AnswersFileError(InterviewerError, ValueError):
    """The answers file cannot be used; the message names the file and the problem."""

    def __init__(self, message: str, hint: str = "fix the answers file") -> None:
        super().__init__(message, hint)


class AnswersFile(BaseModel):
    """``{"answers": {"<question-id>": ["first answer", "reply to follow-up 1", ...]}}``."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, list[str]]

    @field_validator("answers", mode="before")
    @classmethod
    def _single_answer_as_list(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value


def load_answers(path: Path, bank: Bank) -> dict[str, list[str]]:
    try:
        raw = parse_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise AnswersFileError(f"{path}: no such file") from exc
    except OSError as exc:
        raise AnswersFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except DocumentError as exc:
        raise AnswersFileError(f"{path}: {exc}") from exc
    try:
        parsed = AnswersFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise AnswersFileError(
            f'{path}: {problems} (expected {{"answers": {{"<question-id>": ["answer", '
            '"reply to a follow-up", ...]}})'
        ) from exc
    unknown = [qid for qid in parsed.answers if qid not in bank.question_ids]
    if unknown:
        raise AnswersFileError(
            f"{path}: answers: {', '.join(repr(u) for u in unknown)} "
            f"{'is not a question' if len(unknown) == 1 else 'are not questions'} of the bank "
            f"'{bank.id}' (its questions: {', '.join(bank.question_ids)})"
        )
    return parsed.answers


_MARKDOWN_KINDS = frozenset({"greeting", "feedback", "summary"})
"""Interviewer turns written in Markdown (for the TUI's Markdown widget)."""


def markdown_as_text(markdown: str, width: int = 100) -> str:
    """Render Markdown to plain text (Rich, no colour or styles), lines stripped at the right."""
    from rich.console import Console
    from rich.markdown import Markdown

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=max(width, 40),
        color_system=None,
        force_terminal=False,
        no_color=True,
        highlight=False,
        emoji=False,
    )
    console.print(Markdown(markdown, hyperlinks=False))
    return "\n".join(line.rstrip() for line in buffer.getvalue().strip("\n").splitlines())


def delivery_line(delivery: Delivery) -> str:
    """How a reply was spoken and timed, as a line under it ("" when there is nothing)."""
    parts = []
    if delivery.speech is not None:
        parts.append(describe_speech(delivery.speech))
    if delivery.sent_by_clock:
        parts.append("time was up: what was in the box was sent")
    elif delivery.overrun_seconds:
        parts.append(f"{delivery.overrun_seconds:.0f} s over the time limit")
    return f"  [{'; '.join(parts)}]\n" if parts else ""


class EventPrinter:
    """Prints the conversation as plain text. Candidate text is printed without control codes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.mode = "practice"
        self.current: str | None = None
        self.titles: dict[str, str] = {}
        self._streamed = ""

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _text(self, markdown: str, indent: int = 0) -> str:
        """A Markdown turn (greeting, feedback, summary) as plain text for the terminal: no
        ``**`` or backticks, and the escapes that keep candidate text literal resolved."""
        try:
            width = os.get_terminal_size(self.out.fileno()).columns if self.out.isatty() else 100
        except (OSError, ValueError, io.UnsupportedOperation):
            width = 100
        # ``indent``: the first line follows a prefix of that many characters.
        return strip_control(markdown_as_text(markdown, width - indent))

    def _earlier(self, question_id: str) -> str:
        """' the answer to <title>' when a grade is for an earlier question (background)."""
        if question_id == self.current:
            return ""
        return f" the answer to {self.titles.get(question_id, question_id)}"

    def __call__(self, event: Event) -> None:
        if isinstance(event, SessionStarted):
            self.mode = event.mode
            self._write(
                f"Session {event.session_id}{' resumed' if event.resumed else ''}: "
                f"{event.bank_title}, {event.question_count} questions, {event.mode} mode\n"
            )
        elif isinstance(event, QuestionAsked):
            self.current = event.question_id
            self.titles[event.question_id] = event.title
            again = f" (retake {event.retake})" if event.retake else ""
            self._write(f"\n=== Question {event.number}/{event.total}: {event.title}{again} ===\n")
        elif isinstance(event, TurnStarted):
            self._streamed = ""
            self._write("\nInterviewer: ")
        elif isinstance(event, TokenStreamed):
            self._streamed += event.text
            self._write(strip_control(event.text))
        elif isinstance(event, TurnRecorded):
            if event.streamed:
                self._write("\n")
                if not self._streamed.strip().startswith(event.turn.text):
                    # The engine replaced a reply that went astray: say what was kept.
                    self._write(f"Interviewer: {strip_control(event.turn.text)}\n")
            elif event.turn.kind == "feedback" and event.turn.question_id is not None:
                title = self.titles.get(event.turn.question_id, event.turn.question_id)
                self._write(f"\nFeedback on {title}:\n{self._text(event.turn.text)}\n")
            elif event.turn.role == "interviewer" and event.turn.kind in _MARKDOWN_KINDS:
                prefix = "Interviewer: "
                self._write(f"\n{prefix}{self._text(event.turn.text, len(prefix))}\n")
            elif event.turn.role == "interviewer":
                self._write(f"\nInterviewer: {event.turn.text}\n")
            else:
                shown = strip_control(event.turn.text) or "(no answer)"
                delivery = event.turn.delivery
                spoken = delivery is not None and delivery.spoken
                self._write(f"\nYou{' (spoken)' if spoken else ''}: {shown}\n")
                if delivery is not None:
                    self._write(delivery_line(delivery))
        elif isinstance(event, GradingStarted):
            self._write(f"  (grading{self._earlier(event.question_id)}...)\n")
        elif isinstance(event, FollowUpAsked):
            self._write(f"  (follow-up {event.number} of at most {event.cap})\n")
        elif isinstance(event, Graded) and self.mode == "practice":
            covered = sum(v.verdict == "covered" for v in event.grade.key_points)
            partial = sum(v.verdict == "partial" for v in event.grade.key_points)
            self._write(
                f"  [{self._earlier(event.question_id).strip() or 'graded'}"
                f"{' graded' if event.question_id != self.current else ''} by "
                f"{event.grade.grader}: {covered} covered, {partial} partial, "
                f"{len(event.grade.key_points) - covered - partial} missing; "
                f"score {event.grade.score * 100:.0f}%]\n"
            )
        elif isinstance(event, ModelFailed):
            self._write(f"\n  [warning: the model failed ({event.purpose}): {event.message}]\n")


def scripted_replies(
    answers: dict[str, list[str]], already_given: dict[str, int] | None = None
) -> Callable[[AwaitingReply], str]:
    """Replies from an answers file; once a question's list is used up, the candidate is silent,
    and a question the file does not mention at all is skipped.

    ``already_given`` (question id -> replies used, see :func:`replies_given`) skips the replies
    a resumed session has already received, so the same file carries on where it stopped.

    A ``/retry`` in a question's list retakes it: given as a reply while the question is
    answered, or, when the question was over before it came up (no follow-up was asked), as
    the first reply after its feedback; the replies after it answer the retake.
    """
    given = already_given or {}
    queues = {qid: list(replies)[given.get(qid, 0) :] for qid, replies in answers.items()}

    def next_reply(awaiting: AwaitingReply) -> str:
        before = queues.get(awaiting.retry_of or "")
        over = awaiting.retry_of != awaiting.question_id  # the question just over: retake it
        if over and before and classify_reply(before[0]) == "retry":
            return before.pop(0)
        if awaiting.question_id not in queues:
            return "/skip"
        queue = queues[awaiting.question_id]
        return queue.pop(0) if queue else ""

    return next_reply


def audio_replies(
    bank: Bank,
    audio: dict[str, list[Path]],
    voice: VoiceSettings,
    *,
    time_limit: float | None = None,
    soft: bool = False,
    already_given: dict[str, int] | None = None,
    say: Callable[[str], None] | None = None,
) -> ReplySource:
    """Spoken replies from ``--answers-audio``: each file recognised by the real recogniser
    (loaded once, at the first reply), primed with the question and the bank's identifiers.
    A question without files is skipped; once its files are used up the candidate is silent."""
    from interviewer.voice.answers import recognise_file
    from interviewer.voice.listen import Listener
    from interviewer.voice.recognise import Recogniser, identifier_vocabulary, recognition_prompt

    given = already_given or {}
    queues = {qid: list(files)[given.get(qid, 0) :] for qid, files in audio.items()}
    vocabulary = identifier_vocabulary(bank) if voice.prime else []
    loaded: list[Recogniser] = []

    def next_reply(awaiting: AwaitingReply) -> str | Reply:
        if awaiting.question_id not in queues:
            return "/skip"
        queue = queues[awaiting.question_id]
        if not queue:
            return ""
        if not loaded:
            loaded.append(Recogniser(voice.stt_model, device=voice.stt_device))
        question = bank.question(awaiting.question_id)
        listener = Listener(
            loaded[0],
            prompt=recognition_prompt(question, vocabulary, voice.fillers) if voice.prime else "",
            fillers=voice.fillers,
            max_seconds=voice.max_answer,
        )
        spoken = recognise_file(queue.pop(0), listener, time_limit=time_limit, soft=soft)
        if spoken.notice and say is not None:
            say(spoken.notice)
        return Reply(spoken.text, spoken.delivery)

    return next_reply


def replies_given(turns: Iterable[Turn]) -> dict[str, int]:
    """How many replies (answers and requests alike) the candidate gave per question."""
    counts: dict[str, int] = {}
    for turn in turns:
        if turn.role == "candidate" and turn.question_id is not None:
            counts[turn.question_id] = counts.get(turn.question_id, 0) + 1
    return counts


def terminal_replies(
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    *,
    keep: Callable[[str], None] | None = None,
    restored: str | None = None,
) -> ReplySource:
    """Replies typed at the terminal: several lines, finished by an empty line; EOF ends.

    ``keep`` is called with the reply so far after every line (the session store keeps it
    through a crash); ``restored`` is an unsent reply from an interrupted session, which the
    first reply starts with."""
    pending = restored.splitlines() if restored and restored.strip() else []

    def next_reply(awaiting: AwaitingReply) -> str:
        nonlocal stdin, out, pending
        if stdin is None:
            stdin = sys.stdin
        reconfigure = getattr(stdin, "reconfigure", None)
        if reconfigure is not None and getattr(stdin, "errors", "strict") == "strict":
            # A byte that is not UTF-8 (another terminal encoding, a paste) must not end the
            # interview: keep it as a surrogate here and as U+FFFD in the answer.
            with contextlib.suppress(io.UnsupportedOperation, ValueError):
                reconfigure(errors="surrogateescape")
        out = out or sys.stdout
        out.write("\nYou (finish with an empty line; /repeat /clarify /skip /retry /end):\n")
        lines, pending = pending, []
        if lines:
            out.write(
                "(the answer you had not sent, restored: add lines, or an empty line sends it)\n"
                + "\n".join(strip_control(line) for line in lines)
                + "\n"
            )
        out.flush()
        while True:
            line = clean_text(stdin.readline())
            if not line:
                return "\n".join(lines) if lines else "/end"
            if not line.strip():
                if lines:
                    return "\n".join(lines)
                continue
            lines.append(line.rstrip("\n"))
            if keep is not None:
                keep("\n".join(lines))

    return next_reply


def run_interview(
    interview: Interview,
    replies: ReplySource,
    on_event: Callable[[Event], None],
    *,
    export: Path | None = None,
    cancel: threading.Event | None = None,
    recorder: SessionRecorder | None = None,
    resume: bool = False,
) -> Transcript:
    """Drive ``interview`` to the end (:meth:`interviewer.session.Session.run`). The transcript
    is written to ``export`` even on failure.

    ``recorder`` sees every event before ``on_event`` does, so what is shown has been stored.
    ``resume`` continues a restored interview (``Interview.resume()``) instead of starting it.
    """
    session = Session(interview, recorder, resuming=resume)
    return session.run(replies, on_event, cancel=cancel, export=export)
