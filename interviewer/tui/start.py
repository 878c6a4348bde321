"""The start screen (bank, mode, backend and model, follow-ups; resume) and the loading screen.

The start screen looks for model servers on this machine in a worker after its first frame
(:mod:`~interviewer.llm.openai.discover`), lists them, and, with no CUDA GPU here, suggests the
first one that has a model loaded (unless a backend was chosen in the config file or a flag).
The backend chosen is remembered in the config file when the interview starts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

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

if TYPE_CHECKING:  # the module imports httpx: it loads in the worker, after the first frame
    from interviewer.llm.openai.discover import Probe


def _host(screen: Screen[Any]) -> Host:
    return cast("Host", screen.app)


class StartScreen(Screen[None]):
    """Choose the bank, mode, model and follow-up cap; flags and the config file pre-fill it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "start", "Start")]

    server_ports: ClassVar[tuple[tuple[str, int], ...] | None] = None
    """The ports looked for model servers on (None: the usual ones, ``KNOWN_PORTS``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.servers: list[Probe] | None = None
        """What the search for model servers found (None: not done yet)."""
        self.cuda: bool | None = None
        self.suggested: Probe | None = None
        # A backend set in the config file, a variable or a flag is the candidate's own.
        self._backend_chosen = "backend" in settings.model_fields_set

    def _servers_line(self) -> str:
        if not self.settings.discover_servers:
            return "Model servers: not looked for (discover_servers = false)"
        return "Model servers on this machine: looking..."

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
            yield Label("Backend")
            yield Select(
                [
                    ("a local model, loaded here", "hf"),
                    ("a model server (Ollama, llama.cpp, LM Studio, vLLM, ...)", "openai"),
                    ("the demo (scripted replies, no model)", "scripted"),
                ],
                value=s.backend,
                allow_blank=False,
                id="backend",
            )
            with Vertical(id="local-fields", classes="" if s.backend == "hf" else "hidden"):
                yield Label("Model (a Hub id, a folder or a .gguf file; empty: the default here)")
                yield Input(
                    s.model if s.backend == "hf" else "",
                    placeholder="default for this machine",
                    id="model",
                )
            with Vertical(id="server-fields", classes="" if s.backend == "openai" else "hidden"):
                yield Label("Server URL")
                yield Input(
                    s.base_url or "", placeholder="http://127.0.0.1:11434/v1", id="base-url"
                )
                yield Label("The server's model (empty: its only one)")
                yield Input(s.model if s.backend == "openai" else "", id="server-model")
            yield Static(Content(self._servers_line()), id="servers")
            yield Label("Follow-up questions per question")
            yield Select(
                [(str(n), n) for n in range(6)],
                value=s.max_follow_ups,
                allow_blank=False,
                id="follow-ups",
            )
            yield Label("Voice (F5 records your answer; docs/voice.md) and time per question")
            with Horizontal(id="voice-row"):
                yield Select(
                    [
                        ("off: type your answers", "off"),
                        ("speak your answers, hear the interviewer", "on"),
                        ("speak your answers, read the interviewer", "listen"),
                    ],
                    value=_voice_choice(s),
                    allow_blank=False,
                    id="voice",
                )
                yield Select(
                    [(_limit_label(v), v) for v in _limit_choices(s)],
                    value=s.time_limit or 0.0,
                    allow_blank=False,
                    id="time-limit",
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
        if self.settings.discover_servers:
            self.call_after_refresh(self._discover)
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

    @work(thread=True, exclusive=True, group="discover", exit_on_error=False)
    def _discover(self) -> None:
        """Knock on the usual ports of model servers, here only, after the first frame."""
        from interviewer.llm.openai.discover import KNOWN_PORTS, discover

        probes = discover(self.server_ports or KNOWN_PORTS)
        self.app.call_from_thread(self._show_servers, probes)

    def _show_servers(self, probes: list[Probe]) -> None:
        from interviewer.llm.openai.discover import found

        self.servers = probes
        servers = found(probes)
        if servers:
            text = "Model servers on this machine: " + "; ".join(
                f"{p.name} at {p.base_url} ({', '.join(p.models) or 'no models loaded'})"
                for p in servers
            )
        else:
            text = (
                "Model servers on this machine: none found ("
                + ", ".join(f"{p.name} {p.port}" for p in probes)
                + ")"
            )
        self.query_one("#servers", Static).update(Content(text))
        self._suggest()

    def _suggest(self) -> None:
        """With no CUDA GPU here and a server running, the server is the suggested default
        (never over a backend the candidate chose themselves)."""
        from interviewer.llm.openai.discover import suggested_server

        if self._backend_chosen or self.servers is None or self.suggested is not None:
            return
        cuda = self.cuda
        if cuda is None and self.settings.backend == "hf":
            return  # the GPU probe has not said yet
        server = suggested_server(self.servers, cuda=bool(cuda))
        if server is None:
            return
        self.suggested = server
        self.query_one("#base-url", Input).value = server.base_url
        self.query_one("#server-model", Input).value = server.models[0]
        self.query_one("#backend", Select).value = "openai"
        self.query_one("#gpu", Static).update(
            Content(
                f"Suggested: {server.name}'s {server.models[0]} at {server.base_url} "
                "(no CUDA GPU here: a local model would run on the CPU, slowly). "
                "Choose another backend above to change it."
            )
        )

    @on(Select.Changed, "#backend")
    def _backend_changed(self, event: Select.Changed) -> None:
        self.query_one("#local-fields").set_class(event.value != "hf", "hidden")
        self.query_one("#server-fields").set_class(event.value != "openai", "hidden")

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
        self.app.call_from_thread(self._show_gpu, text, hardware.cuda)

    def _show_gpu(self, text: str, cuda: bool) -> None:
        self.cuda = cuda
        if self.suggested is None:
            self.query_one("#gpu", Static).update(Content(text))
        self._suggest()

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        chosen = self._chosen()
        self._remember(chosen)
        _host(self).begin(chosen)

    def _remember(self, chosen: Settings) -> None:
        """Keep the backend chosen here in the config file, for the next start (a failure
        to write it is said, and the interview starts anyway)."""
        from interviewer.config import ConfigError, remember_choice

        server = chosen.backend == "openai"
        values = {
            "backend": chosen.backend,
            "base_url": chosen.base_url if server else None,
            "model": chosen.model if chosen.backend != "scripted" else None,
        }
        if all(getattr(self.settings, key) == value for key, value in values.items()):
            return  # nothing new to remember
        try:
            remember_choice(values)
        except ConfigError as exc:
            self.notify(f"{exc} ({exc.hint})", title="The choice is not remembered")

    def _chosen(self) -> Settings:
        """The settings as the form has them."""
        from pathlib import Path

        bank = self.query_one("#bank", Input).value.strip()
        backend = self.query_one("#backend", Select).value
        server = backend == "openai"
        model = self.query_one("#server-model" if server else "#model", Input).value.strip()
        base_url = self.query_one("#base-url", Input).value.strip()
        voice = self.query_one("#voice", Select).value
        limit = self.query_one("#time-limit", Select).value
        return self.settings.model_copy(
            update={
                "bank": Path(bank).expanduser() if bank else None,
                "backend": backend,
                "model": model or None,
                "base_url": (base_url or None) if server else self.settings.base_url,
                "mode": self.query_one("#mode", Select).value,
                "max_follow_ups": self.query_one("#follow-ups", Select).value,
                "voice": self.settings.voice.model_copy(
                    update={"enabled": voice != "off", "speak": voice == "on"}
                ),
                "time_limit": float(limit) if isinstance(limit, float | int) and limit else None,
            }
        )


def _voice_choice(settings: Settings) -> str:
    if not settings.voice.enabled:
        return "off"
    return "on" if settings.voice.speak else "listen"


def _limit_choices(settings: Settings) -> list[float]:
    choices = [0.0, 60.0, 120.0, 180.0, 300.0]
    if settings.time_limit and settings.time_limit not in choices:
        choices.append(settings.time_limit)
    return choices


def _limit_label(seconds: float) -> str:
    if not seconds:
        return "no time limit"
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d} per question"


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
