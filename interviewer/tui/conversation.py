"""The interview as a conversation: the candidate's answer box under the bubbles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Markdown, TextArea
from textual.widgets.markdown import MarkdownStream

from interviewer.engine.events import (
    AwaitingReply,
    FeedbackGiven,
    GradingStarted,
    InterviewFinished,
    ModelFailed,
    QuestionAsked,
    SessionStarted,
    TokenStreamed,
    TurnRecorded,
    TurnStarted,
)
from interviewer.textutil import strip_control
from interviewer.transcript import Turn
from interviewer.tui.messages import EngineEvent, EngineStopped, Host
from interviewer.tui.report import ReportScreen
from interviewer.tui.widgets import CandidateMessage, InterviewerMessage, StatusBar

if TYPE_CHECKING:
    from textual.timer import Timer

    from interviewer.session import Session


def _host(screen: Screen[Any]) -> Host:
    return cast("Host", screen.app)


W = TypeVar("W")

DRAFT_SAVE_DELAY = 0.5
"""Seconds after the last keystroke before the unsent answer is saved."""


def place_before(turn: Turn, asked: dict[str, W], practice: bool) -> W | None:
    """Where a finished turn goes: at the end (None), except that in practice mode a feedback
    card recorded after the next question was asked goes above that question, so the question
    being answered stays at the bottom. ``asked`` holds each question's latest asking bubble
    (or turn), in the order asked (:func:`note_asked`: a retake asks a question again)."""
    if not practice or turn.kind != "feedback" or turn.question_id not in asked:
        return None
    ids = list(asked)
    following = ids.index(turn.question_id) + 1
    return asked[ids[following]] if following < len(ids) else None


def note_asked(asked: dict[str, W], question_id: str, bubble: W) -> None:
    """Record that ``question_id`` was (last) asked at ``bubble``."""
    asked.pop(question_id, None)
    asked[question_id] = bubble


def display_order(turns: Sequence[Turn], practice: bool) -> list[Turn]:
    """The turns in the order the screen shows them (:func:`place_before`, as the live screen
    places them)."""
    shown: list[Turn] = []
    asked: dict[str, Turn] = {}
    for turn in turns:
        before = place_before(turn, asked, practice)
        shown.insert(shown.index(before) if before is not None else len(shown), turn)
        if turn.kind == "question" and turn.question_id is not None:
            note_asked(asked, turn.question_id, turn)
    return shown


class InterviewScreen(Screen[None]):
    """The conversation. Enter adds a new line; Ctrl+S sends the answer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Send answer", priority=True),
        Binding("ctrl+r", "command('/repeat')", "Repeat"),
        Binding("ctrl+l", "command('/clarify')", "Clarify"),
        Binding("ctrl+n", "command('/skip')", "Skip"),
        Binding("ctrl+t", "command('/retry')", "Retry"),
        Binding("ctrl+f", "end", "Finish"),
    ]

    def __init__(self, session: Session, on_shown: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.session = session
        self.interview = session.interview
        self._on_shown = on_shown
        """Called once the conversation so far is on screen: the app starts the engine then,
        so a turn is never both restored and shown again by its event."""
        self._draft_timer: Timer | None = None
        self._sent = False
        self._question_bubbles: dict[str, InterviewerMessage | CandidateMessage] = {}
        """Each question's latest asking bubble, in the order asked."""
        self.retry_of: str | None = None
        """The question a retry (Ctrl+T, /retry) would retake now (practice mode); None: no
        retake now, and the key is hidden."""
        self._stream: MarkdownStream | None = None
        self._streaming: InterviewerMessage | None = None
        self.busy = True

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusBar(id="status")
        yield VerticalScroll(id="conversation")
        yield TextArea(
            "",
            id="answer",
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder="Your answer (Enter for a new line, Ctrl+S to send; /repeat /clarify "
            "/skip /end work too)",
        )
        yield Footer()

    async def on_mount(self) -> None:
        conversation = self.query_one("#conversation", VerticalScroll)
        # A resumed interview: show the conversation so far before it goes on.
        for turn in display_order(self.interview.turns, self._practice):
            await self._show(turn, conversation)
        conversation.anchor()
        answer = self.query_one("#answer", TextArea)
        answer.focus()
        if _host(self).live:
            self.set_interval(1.0, self._tick)
        else:
            answer.cursor_blink = False
        unsent = self.session.draft()
        if unsent:
            answer.text = unsent
            answer.move_cursor(answer.document.end)
            self.notify("The answer you had not sent yet is back in the box.", title="Restored")
        if self._on_shown is not None:
            self._on_shown()

    @on(TextArea.Changed, "#answer")
    def _typed(self) -> None:
        """Save the unsent answer shortly after the candidate stops typing."""
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_SAVE_DELAY, self._save_draft)

    def _save_draft(self) -> None:
        self._draft_timer = None
        text = self.query_one("#answer", TextArea).text
        if not text and self._sent:
            return  # emptied by sending: the store drops the draft when it records the answer
        self._sent = False
        self.save_draft(text)

    def save_draft(self, text: str) -> None:
        """Keep the unsent answer in the session store, so a crash or a closed terminal does
        not lose it (``interviewer resume`` puts it back in the box)."""
        self.session.save_draft(
            text,
            lambda exc: self.notify(
                f"{exc}. {exc.hint}",
                title="Your typing is not being saved",
                severity="warning",
                timeout=15,
            ),
        )

    def _tick(self) -> None:
        if not self.busy:
            self.query_one(StatusBar).elapsed += 1

    def _set_status(self, status: str) -> None:
        self.query_one(StatusBar).status = status

    # ------------------------------------------------------------- candidate input

    def action_submit(self) -> None:
        # Ctrl+S is a priority binding, seen before the answer box has handled the keys typed
        # just before it (a paste without bracketed paste, a busy machine): read the box once
        # it has.
        self.query_one("#answer", TextArea).call_later(self._submit)

    def _submit(self) -> None:
        answer = self.query_one("#answer", TextArea)
        if self._send(answer.text):
            self._sent = True
            answer.text = ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The retry key shows only while a retake is possible (after a question's feedback,
        or during a question, in practice mode)."""
        if action == "command" and parameters == ("/retry",):
            return self.retry_of is not None and not self.busy
        return True

    def action_command(self, command: str) -> None:
        # /repeat and /clarify from the keyboard: what is in the box stays there, for the
        # answer it is part of; /skip leaves the question, and what was typed for it.
        if self._send(command) and command == "/skip":
            self._sent = True
            self.query_one("#answer", TextArea).text = ""

    def action_end(self) -> None:
        self._send("/end")

    def _send(self, text: str) -> bool:
        """Hand ``text`` to the engine; False when it cannot take it now."""
        if self.busy:
            self.notify("The interviewer is still speaking; your answer is kept in the box.")
            return False
        if self.interview.state != "awaiting_reply":
            return False
        self.busy = True
        self._set_status("thinking")
        _host(self).run_engine(text)
        return True

    # ------------------------------------------------------------- engine events

    async def handle_event(self, message: EngineEvent) -> None:
        event = message.event
        conversation = self.query_one("#conversation", VerticalScroll)
        status = self.query_one(StatusBar)
        if isinstance(event, SessionStarted):
            self.sub_title = f"{event.bank_title} - {event.mode} mode"
        elif isinstance(event, QuestionAsked):
            again = f" (retake {event.retake})" if event.retake else ""
            status.progress = f"Question {event.number}/{event.total}: {event.title}{again}"
            status.elapsed = 0
        elif isinstance(event, TurnStarted):
            self._set_status("thinking")
            # A held turn arrives whole once settled: a placeholder until then, no stream.
            held = event.held
            bubble = InterviewerMessage(
                "…" if held else "", kind=event.kind, streaming=not held, pending=held
            )
            await conversation.mount(bubble)
            self._streaming = bubble
            self._stream = None if held else Markdown.get_stream(bubble.markdown)
        elif isinstance(event, TokenStreamed):
            if self._stream is not None:
                await self._stream.write(strip_control(event.text))
        elif isinstance(event, TurnRecorded):
            await self._record(event, conversation)
        elif isinstance(event, GradingStarted):
            self._set_status("grading")
        elif isinstance(event, ModelFailed):
            await self._drop_stream()
            self.notify(
                event.message, title=f"The model failed ({event.purpose})", severity="warning"
            )
        elif isinstance(event, FeedbackGiven):
            pass  # the feedback card arrives as its own turn
        elif isinstance(event, AwaitingReply):
            self.busy = False
            self.retry_of = event.retry_of
            self.refresh_bindings()
            self._set_status("ready")
            self.query_one("#answer", TextArea).focus()
        elif isinstance(event, InterviewFinished):
            self.busy = True
            self._set_status("finished")
            self.app.push_screen(ReportScreen(event.transcript, self.session))

    async def _record(self, event: TurnRecorded, conversation: VerticalScroll) -> None:
        turn = event.turn
        if event.streamed:
            if self._stream is not None:
                await self._stream.stop()
            if self._streaming is not None:
                # The stream has shown the text; show the stored turn as one static block.
                await self._streaming.complete(turn.text)
            self._stream = None
            self._streaming = None
            return
        await self._show(turn, conversation)

    @property
    def _practice(self) -> bool:
        return self.interview.settings.mode == "practice"

    async def _show(self, turn: Turn, conversation: VerticalScroll) -> None:
        """Mount the bubble for a finished turn where :func:`place_before` puts it (a card
        graded in the background goes above the question asked after it)."""
        bubble: CandidateMessage | InterviewerMessage
        if turn.role == "candidate":
            bubble = CandidateMessage(turn.text, kind=turn.kind)
        else:
            bubble = InterviewerMessage(turn.text, kind=turn.kind, about=self._about(turn))
        before = place_before(turn, self._question_bubbles, self._practice)
        if turn.kind == "question" and turn.question_id is not None:
            note_asked(self._question_bubbles, turn.question_id, bubble)
        await conversation.mount(bubble, before=before)

    def _about(self, turn: Turn) -> str | None:
        """The question title a feedback card is labelled with."""
        if turn.kind != "feedback" or turn.question_id is None:
            return None
        try:
            return self.interview.bank.question(turn.question_id).title
        except KeyError:
            return None

    async def _drop_stream(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
        if self._streaming is not None:
            await self._streaming.remove()
        self._stream = None
        self._streaming = None

    async def handle_stopped(self, message: EngineStopped) -> None:
        """The engine step ended: normally, stopped by Ctrl+C, or with an error."""
        await self._drop_stream()
        if self.interview.state == "awaiting_reply":
            self.busy = False
            self._set_status("ready")
        if message.error:
            self.notify(
                message.error, title="The interview hit a problem", severity="error", timeout=15
            )
            self._set_status("error")
