"""The interview as a conversation: the candidate's answer box under the bubbles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual import on, work
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
from interviewer.session import QuestionClock
from interviewer.textutil import strip_control
from interviewer.transcript import Turn
from interviewer.tui.messages import EngineEvent, EngineStopped, Host
from interviewer.tui.report import ReportScreen
from interviewer.tui.voice import VoiceDone, VoiceNotice, VoiceText, spoken_summary
from interviewer.tui.widgets import CandidateMessage, InterviewerMessage, StatusBar

if TYPE_CHECKING:
    from textual.timer import Timer

    from interviewer.session import Session
    from interviewer.transcript import Delivery, SpeechStats
    from interviewer.tui.voice import VoiceControl


def merge_speech(first: SpeechStats, second: SpeechStats) -> SpeechStats:
    """Two recordings of one answer, counted as one."""
    seconds = first.speaking_seconds + second.speaking_seconds
    words = first.words + second.words
    fillers = dict(first.fillers)
    for word, n in second.fillers.items():
        fillers[word] = fillers.get(word, 0) + n
    return first.model_copy(
        update={
            "speaking_seconds": round(seconds, 2),
            "words": words,
            "words_per_minute": round(words / seconds * 60, 1) if seconds else 0.0,
            "fillers": fillers,
            "longest_pause_seconds": max(first.longest_pause_seconds, second.longest_pause_seconds),
        }
    )


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
        Binding("f5", "record", "Record / stop"),
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
        settings = session.plan.settings if session.plan is not None else None
        limit = settings.time_limit if settings is not None else None
        soft = bool(settings and settings.time_limit_soft and settings.mode == "practice")
        self.clock = QuestionClock(limit, soft=soft)
        self._warned = False
        self.voice: VoiceControl | None = None
        if settings is not None and settings.voice.enabled:
            from interviewer.tui.voice import VoiceControl

            keep = settings.voice.audio_dir or settings.store_path.parent / "audio"
            self.voice = VoiceControl(
                settings.voice,
                self._vocabulary,
                self.post_message,
                keep_in=keep.expanduser() / session.session_id,
            )
        self._typed_before = ""
        """What was in the box when the recording started: the words are added after it."""
        self._spoken: Delivery | None = None
        """The recognised words and how they were said, until the answer is sent."""
        self._speaking_stream = False

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
        if self.voice is not None:
            self._load_voice()
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
        status = self.query_one(StatusBar)
        if not self.busy:
            status.elapsed += 1
        if self.clock.limit is None:
            return
        status.clock = self.clock.status()
        if self.clock.warning and not self._warned:
            self._warned = True
            self.notify("30 seconds left on this question.", title="Time")
        if self.clock.due():
            if self.voice is not None and self.voice.recording:
                self.voice.stop()
            answer = self.query_one("#answer", TextArea)
            if self._send(answer.text, by_clock=True):
                self._sent = True
                answer.text = ""
                self.notify("Time is up: what was in the box was sent.", title="Time")

    # ------------------------------------------------------------- voice

    def _vocabulary(self) -> list[str]:
        from interviewer.voice.recognise import identifier_vocabulary

        return identifier_vocabulary(self.interview.bank)

    @work(thread=True, group="voice", exit_on_error=False)
    def _load_voice(self) -> None:
        if self.voice is not None:
            self.voice.load()

    @work(thread=True, group="voice-record", exclusive=True, exit_on_error=False)
    def _listen(self) -> None:
        if self.voice is not None:
            question = self.interview.current_question
            self.voice.start(question)

    def action_record(self) -> None:
        """F5: start recording into the answer box, or stop."""
        if self.voice is None:
            self.notify("Voice is off: start with --voice (or voice.enabled in the config).")
            return
        if self.voice.recording:
            self.voice.stop()
            return
        self.voice.silence()  # the candidate speaks: the interviewer stops
        self._typed_before = self.query_one("#answer", TextArea).text
        self.query_one(StatusBar).status = "recording (F5 stops)"
        self._listen()

    @on(VoiceText)
    def _heard(self, message: VoiceText) -> None:
        answer = self.query_one("#answer", TextArea)
        joiner = " " if self._typed_before and not self._typed_before.endswith((" ", "\n")) else ""
        answer.text = (
            f"{self._typed_before}{joiner}{message.text}" if message.text else (self._typed_before)
        )
        answer.move_cursor(answer.document.end)

    @on(VoiceDone)
    def _heard_all(self, message: VoiceDone) -> None:
        from interviewer.transcript import Delivery

        self.query_one(StatusBar).status = "ready" if not self.busy else "thinking"
        if message.heard is None:
            self.notify(
                f"{message.error}. Typing always works.",
                title="Voice",
                severity="warning",
                timeout=10,
            )
            return
        heard = message.heard
        if not heard.text:
            self.notify("No speech was recognised (silence or noise).", title="Voice")
            return
        if heard.ended_by == "too_long":
            self.notify("The recording reached the longest answer; what you said is kept.")
        earlier = self._spoken
        recognised = f"{earlier.recognised} {heard.text}".strip() if earlier else heard.text
        speech = heard.speech
        if earlier is not None and earlier.speech is not None:
            speech = merge_speech(earlier.speech, speech)
        self._spoken = Delivery(spoken=True, recognised=recognised, speech=speech)
        self.save_draft(self.query_one("#answer", TextArea).text)  # said, so kept
        self.notify(spoken_summary(heard.speech), title="How you spoke")

    @on(VoiceNotice)
    def _voice_notice(self, message: VoiceNotice) -> None:
        if message.severity == "warning":
            self.notify(message.text, title="Voice", severity="warning", timeout=10)
        else:
            self.notify(message.text, title="Voice", timeout=10)

    def stop_speaking(self) -> None:
        """Ctrl+C: the interviewer's voice stops with its words."""
        if self.voice is not None:
            self.voice.silence()

    def on_unmount(self) -> None:
        if self.voice is not None:
            self.voice.close()

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
        if action == "record":  # F5 shows only with voice on
            return self.voice is not None
        return True

    def action_command(self, command: str) -> None:
        # /repeat and /clarify from the keyboard: what is in the box stays there, for the
        # answer it is part of; /skip leaves the question, and what was typed for it.
        if self._send(command) and command == "/skip":
            self._sent = True
            self.query_one("#answer", TextArea).text = ""

    def action_end(self) -> None:
        self._send("/end")

    def _delivery(self, by_clock: bool) -> Delivery | None:
        """How this reply was given: spoken or typed, and against the clock."""
        from interviewer.transcript import Delivery

        spoken = self._spoken
        limit = self.clock.limit
        if spoken is None and limit is None:
            return None
        return Delivery(
            spoken=spoken is not None,
            recognised=spoken.recognised if spoken else "",
            speech=spoken.speech if spoken else None,
            seconds=round(self.clock.elapsed, 1),
            time_limit_seconds=limit,
            sent_by_clock=by_clock,
            overrun_seconds=round(self.clock.overrun, 1) if self.clock.soft else 0.0,
        )

    def _send(self, text: str, *, by_clock: bool = False) -> bool:
        """Hand ``text`` to the engine; False when it cannot take it now."""
        if self.busy:
            self.notify("The interviewer is still speaking; your answer is kept in the box.")
            return False
        if self.interview.state != "awaiting_reply":
            return False
        self.busy = True
        self._set_status("thinking")
        delivery = self._delivery(by_clock)
        self._spoken = None
        self.clock.restart()  # a follow-up's reply is timed from the follow-up
        _host(self).run_engine(text, delivery=delivery)
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
            self.clock.restart()
            self._warned = False
            status.clock = self.clock.status() if self.clock.limit is not None else ""
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
            self._speaking_stream = not held  # what is shown as it streams is heard as well
        elif isinstance(event, TokenStreamed):
            if self._stream is not None:
                await self._stream.write(strip_control(event.text))
                if self.voice is not None and self._speaking_stream:
                    self.voice.feed(strip_control(event.text))
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
        if self.voice is not None and turn.role == "interviewer":
            self._say(turn, streamed=event.streamed)
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

    def _say(self, turn: Turn, *, streamed: bool) -> None:
        """Read an interviewer turn aloud: a streamed one has been fed sentence by sentence
        (a held one, replaced or not, is read once settled); feedback without its reference
        answer unless asked."""
        from interviewer.voice.speak import speakable

        assert self.voice is not None
        if streamed and self._speaking_stream:
            self._speaking_stream = False
            self.voice.finish()
            return
        read_reference = self.voice.settings.read_reference
        self.voice.speak(speakable(turn.text, read_reference=read_reference))

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
