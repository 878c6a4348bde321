"""The screens: start, loading, interview, report, help."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Footer,
    Header,
    Input,
    Label,
    LoadingIndicator,
    Markdown,
    ProgressBar,
    Select,
    Static,
    TextArea,
)
from textual.widgets._markdown import MarkdownStream

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
from interviewer.textutil import escape_markdown, shown_name, strip_control
from interviewer.transcript import VERDICT_WORDS, Turn
from interviewer.tui.app import (
    EngineEvent,
    EngineStopped,
    InterviewerApp,
    LoadFailed,
    LoadProgress,
    LoadStatus,
)
from interviewer.tui.widgets import (
    CandidateMessage,
    InterviewerMessage,
    ScoreChart,
    StatusBar,
    score_bar,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.timer import Timer

    from interviewer.bank.models import Bank
    from interviewer.config import Settings
    from interviewer.engine.interview import Interview
    from interviewer.transcript import Transcript


def _app(screen: Screen[Any]) -> InterviewerApp:
    return cast(InterviewerApp, screen.app)


# --------------------------------------------------------------------------- start


class StartScreen(Screen[None]):
    """Choose the bank, mode, model and follow-up cap; flags and the config file pre-fill it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "start", "Start")]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        s = self.settings
        yield Header()
        with VerticalScroll(id="start-form"):
            yield Label("Mock interview", classes="title")
            with Vertical(id="resume", classes="hidden"):
                yield Label("Unfinished interviews (stopped by a crash, a closed window, ...)")
                yield Select[str]([], id="resume-session", allow_blank=True, prompt="choose one")
                with Center():
                    yield Button("Resume", id="resume-button")
            yield Label("Question bank (a folder; empty: the six Hugging Face questions)")
            yield Input(str(s.bank or ""), placeholder="built-in bank", id="bank")
            yield Label("Mode")
            yield Select(
                [
                    ("practice: feedback after each question", "practice"),
                    ("exam: feedback and score at the end", "exam"),
                ],
                value=s.mode,
                allow_blank=False,
                id="mode",
            )
            yield Label("Model (a Hub id, a folder or a .gguf file; empty: the default here)")
            yield Input(s.model or "", placeholder="default for this machine", id="model")
            yield Label("Follow-up questions per question")
            yield Select(
                [(str(n), n) for n in range(6)],
                value=s.max_follow_ups,
                allow_blank=False,
                id="follow-ups",
            )
            yield Static(Content("GPU: checking..."), id="gpu")
            with Center():
                yield Button("Start the interview", variant="primary", id="start")
        yield Footer()

    def on_mount(self) -> None:
        if not _app(self).live:
            for field in self.query(Input):
                field.cursor_blink = False
        self.call_after_refresh(self._offer_resume)
        if self.settings.backend == "scripted":
            self.query_one("#gpu", Static).update(Content("Backend: scripted (no model is loaded)"))
        else:
            # Well after the first frame: importing torch, even in a thread, holds the GIL.
            self.set_timer(0.3, self._probe_gpu)

    def _offer_resume(self) -> None:
        from interviewer.store import StoreError

        store = _app(self).open_store()
        if store is None:
            return
        try:
            unfinished = store.unfinished()
        except StoreError:
            return
        if not unfinished:
            return
        options = [
            (
                f"{s.started_at:%Y-%m-%d %H:%M} | {s.bank_title} | {s.mode} | "
                f"{s.answered}/{s.question_count} answered | {s.model_id}",
                s.id,
            )
            for s in unfinished
        ]
        choice = self.query_one("#resume-session", Select)
        choice.set_options(options)
        choice.value = options[0][1]
        self.query_one("#resume").remove_class("hidden")

    @on(Button.Pressed, "#resume-button")
    def resume(self) -> None:
        choice = self.query_one("#resume-session", Select)
        if isinstance(choice.value, str):
            _app(self).begin(self.settings, resume_id=choice.value)

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def _probe_gpu(self) -> None:
        """Importing torch takes seconds: it happens here, after the first paint."""
        from interviewer.llm.catalog import GIB, choose_model
        from interviewer.llm.hardware import probe

        hardware = probe()
        choice = choose_model(hardware)
        if hardware.cuda:
            text = (
                f"GPU: {hardware.device_name}, {hardware.free_bytes / GIB:.1f} GiB free of "
                f"{hardware.total_bytes / GIB:.1f} GiB. Default model: {choice.model_id}"
            )
        else:
            text = f"No CUDA GPU: the model runs on the CPU (slow). Default: {choice.model_id}"
        self.app.call_from_thread(self.query_one("#gpu", Static).update, Content(text))

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        from pathlib import Path

        bank = self.query_one("#bank", Input).value.strip()
        model = self.query_one("#model", Input).value.strip()
        chosen = self.settings.model_copy(
            update={
                "bank": Path(bank).expanduser() if bank else None,
                "model": model or None,
                "mode": self.query_one("#mode", Select).value,
                "max_follow_ups": self.query_one("#follow-ups", Select).value,
            }
        )
        _app(self).begin(chosen)


# --------------------------------------------------------------------------- loading


class LoadingScreen(Screen[None]):
    """What is loading, how far it got, and a way out."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, model_label: str) -> None:
        super().__init__()
        self.model_label = model_label

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="loading"):
            yield Label(Content(f"Loading {self.model_label}"), classes="title")
            yield LoadingIndicator()
            yield Static(Content("Starting..."), id="load-status")
            yield ProgressBar(id="download", classes="hidden", show_eta=True)
            yield Static("", id="load-error")
            with Horizontal(id="load-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Back", id="back", classes="hidden")
        yield Footer()

    def show_status(self, message: LoadStatus) -> None:
        status = self.query_one("#load-status", Static)
        status.update(Content(message.text))

    def show_progress(self, message: LoadProgress) -> None:
        """Bytes of a download: a real bar, with the size in GiB beside the status."""
        bar = self.query_one("#download", ProgressBar)
        bar.remove_class("hidden")
        bar.update(total=message.total, progress=message.done)

    def show_failure(self, message: LoadFailed) -> None:
        self.query_one(LoadingIndicator).display = False
        text = f"Could not load the model: {message.message}"
        if message.hint:
            text += f"\n\nWhat to do: {message.hint}"
        self.query_one("#load-error", Static).update(Content(text))
        self.query_one("#cancel").display = False
        back = self.query_one("#back", Button)
        back.remove_class("hidden")
        back.focus()

    @on(Button.Pressed, "#cancel")
    @on(Button.Pressed, "#back")
    def action_cancel(self) -> None:
        _app(self).cancel_load()


# --------------------------------------------------------------------------- interview


W = TypeVar("W")

DRAFT_SAVE_DELAY = 0.5
"""Seconds after the last keystroke before the unsent answer is saved."""


def place_before(turn: Turn, asked: dict[str, W], practice: bool) -> W | None:
    """Where a finished turn goes: at the end (None), except that in practice mode a feedback
    card recorded after the next question was asked goes above that question, so the question
    being answered stays at the bottom. ``asked`` holds each question's first bubble (or
    turn), in the order asked."""
    if not practice or turn.kind != "feedback" or turn.question_id not in asked:
        return None
    ids = list(asked)
    following = ids.index(turn.question_id) + 1
    return asked[ids[following]] if following < len(ids) else None


def display_order(turns: Sequence[Turn], practice: bool) -> list[Turn]:
    """The turns in the order the screen shows them (:func:`place_before`, as the live screen
    places them)."""
    shown: list[Turn] = []
    asked: dict[str, Turn] = {}
    for turn in turns:
        before = place_before(turn, asked, practice)
        shown.insert(shown.index(before) if before is not None else len(shown), turn)
        if turn.kind == "question" and turn.question_id is not None:
            asked.setdefault(turn.question_id, turn)
    return shown


class InterviewScreen(Screen[None]):
    """The conversation. Enter adds a new line; Ctrl+S sends the answer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Send answer", priority=True),
        Binding("ctrl+r", "command('/repeat')", "Repeat"),
        Binding("ctrl+l", "command('/clarify')", "Clarify"),
        Binding("ctrl+n", "command('/skip')", "Skip"),
        Binding("ctrl+f", "end", "Finish"),
    ]

    def __init__(self, interview: Interview, on_shown: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.interview = interview
        self._on_shown = on_shown
        """Called once the conversation so far is on screen: the app starts the engine then,
        so a turn is never both restored and shown again by its event."""
        self._draft_timer: Timer | None = None
        self._sent = False
        self._question_bubbles: dict[str, InterviewerMessage | CandidateMessage] = {}
        """Each question's first bubble, in the order asked."""
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
        if _app(self).live:
            self.set_interval(1.0, self._tick)
        else:
            answer.cursor_blink = False
        unsent = _app(self).saved_draft()
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
        _app(self).save_draft(text)

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
        _app(self).run_engine(text)
        return True

    # ------------------------------------------------------------- engine events

    async def handle_event(self, message: EngineEvent) -> None:
        event = message.event
        conversation = self.query_one("#conversation", VerticalScroll)
        status = self.query_one(StatusBar)
        if isinstance(event, SessionStarted):
            self.sub_title = f"{event.bank_title} - {event.mode} mode"
        elif isinstance(event, QuestionAsked):
            status.progress = f"Question {event.number}/{event.total}: {event.title}"
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
            self._set_status("ready")
            self.query_one("#answer", TextArea).focus()
        elif isinstance(event, InterviewFinished):
            self.busy = True
            self._set_status("finished")
            self.app.push_screen(ReportScreen(event.transcript, self.interview.bank))

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
            self._question_bubbles.setdefault(turn.question_id, bubble)
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


# --------------------------------------------------------------------------- report


def report_markdown(transcript: Transcript, bank: Bank) -> str:
    """The per-question detail of the report screen, from the same view the exported reports
    use: verdicts with evidence quotes, doubts, and what was cut out before grading."""
    from interviewer.report.view import build_view

    parts: list[str] = []
    for q in build_view(transcript, bank).questions:
        result = q.result
        parts.append(f"## {q.number}. {escape_markdown(result.title)}: {result.score * 100:.0f}%")
        if result.status != "answered":
            parts.append(f"*{result.status.replace('_', ' ')}*")
        if q.rubric_note:
            parts.append(f"*{escape_markdown(q.rubric_note)}*")
        if result.grading_error:
            parts.append(f"Not graded: {escape_markdown(result.grading_error)}")
        if q.screened_out is not None:
            parts.append(f"Scored 0 without grading: {escape_markdown(q.screened_out)}.")
        if q.ignored:
            cut = "; ".join(f'"{escape_markdown(s)}"' for s in q.ignored)
            parts.append(f"Ignored as instructions to the grader: {cut}")
        for point in q.key_points:
            line = f"- **{VERDICT_WORDS[point.verdict]}**: {escape_markdown(point.statement)}"
            if point.doubt:
                line += f" *({escape_markdown(point.doubt)})*"
            if point.evidence:
                line += f'  \n  you said: "{escape_markdown(point.evidence)}"'
            parts.append(line)
    return "\n\n".join(parts)


class ReportScreen(Screen[None]):
    """Scores, a chart, every key point with the evidence, and export."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "export('md')", "Markdown"),
        Binding("h", "export('html')", "HTML"),
        Binding("x", "export('json')", "JSON"),
        Binding("r", "regrade", "Regrade"),
        Binding("s", "history", "Sessions"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self, transcript: Transcript, bank: Bank) -> None:
        super().__init__()
        self.transcript = transcript
        self.bank = bank

    def compose(self) -> ComposeResult:
        t = self.transcript
        yield Header()
        with VerticalScroll(id="report"):
            yield Static(  # wraps (a Label would cut a long model name at the edge)
                Content(
                    f"Score: {t.score * 100:.0f}%  {score_bar(t.score, 30)}   "
                    f"({t.status.replace('_', ' ')}, {t.settings.mode} mode, "
                    f"graded by {shown_name(t.grader)})"
                ),
                classes="title",
            )
            yield ScoreChart(t.results, id="chart")
            yield Static("", id="regrade")
            yield Markdown(report_markdown(t, self.bank), id="details")
            with Horizontal(id="report-buttons"):
                yield Button("Export Markdown", variant="primary", id="export-md")
                yield Button("Export HTML", id="export-html")
                yield Button("Export JSON", id="export-json")
                yield Button("Quit", id="quit")
        yield Footer()

    def action_export(self, fmt: str) -> None:
        _app(self).export_report(fmt)

    def action_history(self) -> None:
        self.app.push_screen(HistoryScreen())

    def action_regrade(self) -> None:
        """Grade the stored answers again with the loaded model against the current rubric."""
        app = _app(self)
        if app.store is None or app.interview is None:
            self.notify("Regrading needs the session store (saving is off).", severity="warning")
            return
        self.query_one("#regrade", Static).update(Content("Regrading..."))
        self._regrade(app)

    @work(thread=True, exclusive=True, group="regrade", exit_on_error=False)
    def _regrade(self, app: InterviewerApp) -> None:
        from interviewer.engine.regrade import regrade_transcript
        from interviewer.llm.base import ModelError
        from interviewer.store import StoreError

        assert app.interview is not None and app.model is not None
        try:
            result = regrade_transcript(
                self.transcript,
                self.bank,
                app.interview.grader,
                app.model.info,
                cancel=app.cancel,
            )
            app.store.add_regrade(self.transcript.session_id, result)
        except (ModelError, StoreError) as exc:
            text = f"The regrade stopped: {exc}. Nothing was stored."
        else:
            lines = [f"Regraded with {result.grader}: {self.transcript.score * 100:.0f}% before."]
            for before, after in zip(self.transcript.results, result.results, strict=True):
                if after.grading_error:
                    lines.append(f"  {before.title}: not graded ({after.grading_error})")
                elif after.grade is not None:
                    lines.append(
                        f"  {before.title}: {before.score * 100:.0f}% -> "
                        f"{after.grade.score * 100:.0f}%"
                    )
            lines.append("Both grades are stored; exported reports show what changed.")
            text = "\n".join(lines)
        self.app.call_from_thread(self.query_one("#regrade", Static).update, Content(text))

    @on(Button.Pressed, "#export-md")
    def export_md(self) -> None:
        self.action_export("md")

    @on(Button.Pressed, "#export-html")
    def export_html(self) -> None:
        self.action_export("html")

    @on(Button.Pressed, "#export-json")
    def export_json(self) -> None:
        self.action_export("json")

    @on(Button.Pressed, "#quit")
    async def quit(self) -> None:
        await _app(self).action_quit()


# --------------------------------------------------------------------------- history


class HistoryScreen(Screen[None]):
    """Past sessions and progress over time (the same tables as `sessions` and `stats`)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="history"):
            yield Label("Sessions", classes="title")
            yield Static("", id="sessions")
            yield Label("Progress", classes="title")
            yield Static("", id="stats")
        yield Footer()

    def on_mount(self) -> None:
        from interviewer.report.stats import render_stats, session_stats, sessions_table
        from interviewer.store import StoreError

        store = _app(self).open_store()
        if store is None:
            self.query_one("#sessions", Static).update(Content("Saving is off: no history."))
            return
        try:
            summaries = store.list_sessions()
            transcripts = store.transcripts()
        except StoreError as exc:
            self.query_one("#sessions", Static).update(Content(f"{exc} ({exc.hint})"))
            return
        self.query_one("#sessions", Static).update(
            Content(sessions_table(summaries[:30]) if summaries else "No sessions yet.")
        )
        bank = _app(self).bank
        blocks = [
            render_stats(stats, bank if bank is not None and bank.id == stats.bank_id else None)
            for stats in session_stats(transcripts)
        ]
        self.query_one("#stats", Static).update(Content("\n".join(blocks) or "No progress yet."))


# --------------------------------------------------------------------------- help


HELP = """\
# How the interview works

The interviewer asks one question at a time and may ask **follow-up questions** when your answer
leaves something out. Answer as you would in a real interview.

| key | what it does |
| --- | --- |
| Enter | a new line in your answer |
| Ctrl+S | send your answer |
| Ctrl+R | repeat the question (or type `/repeat`) |
| Ctrl+L | ask the interviewer to clarify (`/clarify`) |
| Ctrl+N | skip this question (`/skip`; it scores 0) |
| Ctrl+F | finish the interview now (`/end`); what you answered is kept |
| Ctrl+C | while the interviewer is speaking: stop it |
| Ctrl+P | the command palette (themes, help, quit) |
| F1 | this help |
| Ctrl+Q | quit (stops the model within a second) |

**Practice mode** shows feedback and the reference answer after each question; **exam mode**
keeps them for the end. Each key point earns its weight: covered 1, partial 0.5, missed 0.

Press Escape to close this help.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
            with Center():
                yield Button("Close", id="close")

    @on(Button.Pressed, "#close")
    def close(self) -> None:
        self.dismiss()
