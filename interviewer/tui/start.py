"""The start screen (bank, mode, model, follow-ups; resume) and the loading screen."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import (
    Button,
    Footer,
    Header,
    Input,
    Label,
    LoadingIndicator,
    ProgressBar,
    Select,
    Static,
)

from interviewer.config import Settings
from interviewer.tui.messages import Host, LoadFailed, LoadProgress, LoadStatus


def _host(screen: Screen[Any]) -> Host:
    return cast("Host", screen.app)


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
            with Vertical(id="review", classes="hidden"):
                yield Label("", id="review-due")
                with Center():
                    yield Button("Review what is due", id="review-button")
            yield Label(
                "Question bank (a folder or a notes file; empty: the six Hugging Face questions)"
            )
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
        if not _host(self).live:
            for field in self.query(Input):
                field.cursor_blink = False
        self.call_after_refresh(self._offer_resume)
        # Well after the first frame, off the UI thread: it reads every stored session.
        self.set_timer(0.4, self._offer_review)
        if self.settings.backend == "scripted":
            self.query_one("#gpu", Static).update(Content("Backend: scripted (no model is loaded)"))
        elif self.settings.backend == "openai":
            server = self.settings.base_url or "(no --base-url given)"
            self.query_one("#gpu", Static).update(Content(f"Backend: the model server at {server}"))
        else:
            # Well after the first frame: importing torch, even in a thread, holds the GIL. The
            # timer starts once that frame is drawn (a slow first frame on a busy machine
            # could otherwise come after it).
            self.call_after_refresh(self.set_timer, 0.3, self._probe_gpu)

    def _offer_resume(self) -> None:
        # The layer's store module alone (no engine): this runs right after the first frame.
        from interviewer.session import resumable_sessions

        unfinished = resumable_sessions(self.settings, _host(self).open_store())
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

    @work(thread=True, exclusive=True, group="review", exit_on_error=False)
    def _offer_review(self) -> None:
        """Offer a review when key points of the bank are due (what was missed comes back)."""
        from interviewer.errors import InterviewerError
        from interviewer.session import due_now

        store = self.app.call_from_thread(_host(self).open_store)
        if store is None:
            return
        try:
            questions, points = due_now(self.settings, store)
        except InterviewerError:
            return
        if questions:
            self.app.call_from_thread(self._show_review, questions, points)

    def _show_review(self, questions: int, points: int) -> None:
        self.query_one("#review-due", Label).update(
            Content(
                f"Due for review: {points} key point(s) in {questions} question(s) "
                "(what you missed comes back on a schedule)"
            )
        )
        self.query_one("#review").remove_class("hidden")

    @on(Button.Pressed, "#review-button")
    def start_review(self) -> None:
        from interviewer.session import ReviewRequest

        _host(self).begin(self._chosen(), review=ReviewRequest())

    @on(Button.Pressed, "#resume-button")
    def resume(self) -> None:
        choice = self.query_one("#resume-session", Select)
        if isinstance(choice.value, str):
            _host(self).begin(self.settings, resume_id=choice.value)

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

        _host(self).begin(self._chosen())

    def _chosen(self) -> Settings:
        """The settings as the form has them."""
        from pathlib import Path

        bank = self.query_one("#bank", Input).value.strip()
        model = self.query_one("#model", Input).value.strip()
        return self.settings.model_copy(
            update={
                "bank": Path(bank).expanduser() if bank else None,
                "model": model or None,
                "mode": self.query_one("#mode", Select).value,
                "max_follow_ups": self.query_one("#follow-ups", Select).value,
            }
        )


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
        _host(self).cancel_load()
