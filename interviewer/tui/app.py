"""The Textual app: one factory (:func:`create_app`) for the CLI and the tests.

Long work never blocks the screen: the model loads and the engine runs in thread workers that
talk to the UI only through posted messages; the engine's events arrive as :class:`EngineEvent`.
Quitting sets a cancel signal that stops generation within a second (a StoppingCriteria reads it).
torch is imported only inside the loading worker, so the first paint does not wait for it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from interviewer.engine.events import Event

if TYPE_CHECKING:
    from interviewer.bank.models import Bank
    from interviewer.config import Settings
    from interviewer.engine.grading import Grader
    from interviewer.engine.interview import Interview
    from interviewer.llm.base import ChatModel
    from interviewer.store import SessionRecorder

ModelOpener = Callable[["Settings", Callable[[str], None], Callable[[int, int], None]], "ChatModel"]
"""How the app gets its model: (settings, on_status, on_progress) -> model. Tests inject one."""


class EngineEvent(Message):
    """An event of the interview engine, carried from the worker thread to the UI."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class EngineStopped(Message):
    """The engine worker ended a step: normally (``error`` None) or with a user-facing error."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error


class LoadStatus(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class LoadProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total


class ModelReady(Message):
    def __init__(self, model: ChatModel, grader: Grader) -> None:
        super().__init__()
        self.model = model
        self.grader = grader


class LoadFailed(Message):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__()
        self.message = message
        self.hint = hint


class InterviewerApp(App[None]):
    """The mock interview, from the start screen to the report."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "interviewer"
    SUB_TITLE = "a private mock interview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+c", "interrupt", "Stop", show=False, priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        start_now: bool = False,
        open_model: ModelOpener | None = None,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.live = live
        """False for snapshots and tests: no blinking cursor, no ticking timer."""
        self.start_now = start_now
        self._open_model = open_model
        self.bank: Bank | None = None
        self.model: ChatModel | None = None
        self.interview: Interview | None = None
        self.cancel = threading.Event()
        self.engine_idle = threading.Event()
        self._engine_lock = threading.Lock()
        """One engine step at a time: a reply sent while the previous answer is still being
        graded in the background waits for that grade instead of racing it on the GPU."""
        self.engine_idle.set()
        self._load_generation = 0
        self._quitting = False
        self.last_export: Path | None = None
        self.store: Any = None
        """The session store (opened on first use; None when saving is off or it failed)."""
        self.recorder: SessionRecorder | None = None
        self.resume_id: str | None = None

    # ----------------------------------------------------------------- start and load

    def on_mount(self) -> None:
        from interviewer.tui.screens import StartScreen

        self.theme = self.settings.theme
        if self.start_now:
            self.begin(self.settings)
        else:
            self.push_screen(StartScreen(self.settings))

    def begin(self, settings: Settings, resume_id: str | None = None) -> None:
        """Check the bank (the session's own when resuming), then load the model."""
        from interviewer.bank import BankError, load_bank
        from interviewer.resources import default_bank_dir
        from interviewer.tui.screens import LoadingScreen

        self.resume_id = resume_id
        try:
            if resume_id is not None:
                settings = self._prepare_resume(settings, resume_id)
            else:
                self.bank = load_bank(settings.bank or default_bank_dir())
        except (BankError, ValueError) as exc:
            self.notify(str(exc), title="Cannot start", severity="error", timeout=15)
            if len(self.screen_stack) <= 1:
                from interviewer.tui.screens import StartScreen

                self.push_screen(StartScreen(settings))
            return
        self.settings = settings
        self._load_generation += 1
        self.push_screen(LoadingScreen(self._model_label(settings)))
        self._load_model(settings, self._load_generation)

    def _prepare_resume(self, settings: Settings, session_id: str) -> Settings:
        """Find the session's bank and model; raise ValueError with what is wrong."""
        from interviewer.store import StoreError, check_resumable, session_settings
        from interviewer.store.resume import find_session_bank

        store = self.open_store()
        if store is None:
            raise ValueError("the session store cannot be opened")
        try:
            summary = store.get(session_id)
            bank, problems = find_session_bank(summary)
            if bank is None:
                raise ValueError(
                    f"the bank '{summary.bank_id}' of this session cannot be found: "
                    + "; ".join(problems)
                )
            check_resumable(store, summary.id, bank)
            settings = session_settings(settings, summary, model_given=settings.model is not None)
        except StoreError as exc:
            raise ValueError(f"{exc} ({exc.hint})" if exc.hint else str(exc)) from exc
        self.bank = bank
        if summary.grader == "evidence":
            settings = settings.model_copy(update={"grader": "evidence"})
        return settings.model_copy(update={"mode": summary.mode})

    def save_draft(self, text: str) -> None:
        """Keep the unsent answer in the session store, so a crash or a closed terminal does
        not lose it (``interviewer resume`` puts it back in the box)."""
        if self.recorder is not None:
            self.recorder.save_draft(
                text,
                lambda exc: self.notify(
                    f"{exc}. {exc.hint}",
                    title="Your typing is not being saved",
                    severity="warning",
                    timeout=15,
                ),
            )

    def saved_draft(self) -> str | None:
        """The answer left unsent when this session was interrupted, if any."""
        return self.recorder.draft() if self.recorder is not None else None

    def open_store(self) -> Any:
        """The session store, opened once; None (after a warning) when it cannot be used."""
        if self.store is None and self.settings.save:
            from interviewer.store import SessionStore, StoreError

            try:
                self.store = SessionStore(self.settings.store_path)
            except StoreError as exc:
                self.notify(
                    f"{exc}. This interview will not be saved. {exc.hint}",
                    title="Session store unavailable",
                    severity="warning",
                    timeout=15,
                )
                self.settings = self.settings.model_copy(update={"save": False})
        return self.store

    def _model_label(self, settings: Settings) -> str:
        if settings.backend == "scripted":
            return f"scripted ({settings.script or 'built-in demo'})"
        return settings.model or "the default model for this machine"

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_model(self, settings: Settings, generation: int) -> None:
        from interviewer.llm.base import ModelError
        from interviewer.llm.factory import grader_name, open_grader, open_model
        from interviewer.prompts import PromptLibrary

        opener: ModelOpener = self._open_model or open_model

        def status(text: str) -> None:
            self.post_message(LoadStatus(text))

        def progress(done: int, total: int) -> None:
            self.post_message(LoadProgress(done, total))

        try:
            model = opener(settings, status, progress)
            # The evidence signal's embedding model loads here too, off the UI thread.
            grader = open_grader(grader_name(settings), settings, model, PromptLibrary(), status)
        except ModelError as exc:
            if generation == self._load_generation:
                self.post_message(LoadFailed(str(exc), exc.hint))
            return
        except Exception as exc:  # an unexpected failure still gets a screen, not a traceback
            if generation == self._load_generation:
                self.post_message(LoadFailed(f"{type(exc).__name__}: {exc}", ""))
            return
        if generation == self._load_generation:  # a cancelled load is ignored
            self.post_message(ModelReady(model, grader))

    def _find_screen(self, kind: type[Any]) -> Any:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, kind):
                return screen
        return None

    def on_load_status(self, message: LoadStatus) -> None:
        from interviewer.tui.screens import LoadingScreen

        screen = self._find_screen(LoadingScreen)
        if screen is not None:
            screen.show_status(message)

    def on_load_progress(self, message: LoadProgress) -> None:
        from interviewer.tui.screens import LoadingScreen

        screen = self._find_screen(LoadingScreen)
        if screen is not None:
            screen.show_progress(message)

    def on_load_failed(self, message: LoadFailed) -> None:
        from interviewer.tui.screens import LoadingScreen

        screen = self._find_screen(LoadingScreen)
        if screen is not None:
            screen.show_failure(message)

    async def on_engine_event(self, message: EngineEvent) -> None:
        from interviewer.tui.screens import InterviewScreen

        screen = self._find_screen(InterviewScreen)
        if screen is not None:
            await screen.handle_event(message)

    async def on_engine_stopped(self, message: EngineStopped) -> None:
        from interviewer.tui.screens import InterviewScreen

        screen = self._find_screen(InterviewScreen)
        if screen is not None:
            await screen.handle_stopped(message)

    def cancel_load(self) -> None:
        """Leave the loading screen; the load still finishes in its thread and is dropped."""
        from interviewer.tui.screens import StartScreen

        self._load_generation += 1
        below = self.screen_stack[-2] if len(self.screen_stack) > 2 else None
        if isinstance(below, StartScreen):
            self.pop_screen()  # back to the form as the candidate left it
        else:
            self.switch_screen(StartScreen(self.settings))

    def on_model_ready(self, message: ModelReady) -> None:
        from interviewer.engine import Interview
        from interviewer.prompts import PromptLibrary
        from interviewer.store import SessionRecorder, StoreError, resume_session
        from interviewer.transcript import InterviewSettings
        from interviewer.tui.screens import InterviewScreen

        assert self.bank is not None
        self.model = message.model
        prompts = PromptLibrary()
        grader = message.grader
        store = self.open_store()
        try:
            if self.resume_id is not None and store is not None:
                self.interview, self.recorder = resume_session(
                    store, self.resume_id, self.bank, message.model, grader, prompts
                )
            else:
                self.interview = Interview(
                    self.bank,
                    message.model,
                    grader,
                    InterviewSettings(
                        mode=self.settings.mode,
                        max_follow_ups=self.settings.max_follow_ups,
                        grading=self.settings.grading,
                    ),
                    prompts,
                )
                self.recorder = SessionRecorder(store, self.interview) if store else None
        except StoreError as exc:
            self.notify(f"{exc}. {exc.hint}", title="Cannot start", severity="error", timeout=15)
            self.cancel_load()
            return
        resume = self.resume_id is not None
        self.switch_screen(
            InterviewScreen(self.interview, on_shown=lambda: self.run_engine(None, resume=resume))
        )

    # ----------------------------------------------------------------- the engine

    @work(thread=True, exclusive=False, group="engine", exit_on_error=False)
    def run_engine(self, reply: str | None, end: bool = False, resume: bool = False) -> None:
        """Advance the interview by one candidate message (None: start or resume; ``end``:
        finish now). Each event is recorded in the store before the screen sees it.

        Textual may start this worker while the previous one still grades in the background
        (``exclusive`` only marks the old one cancelled); the lock makes it wait its turn."""
        interview = self.interview
        assert interview is not None
        with self._engine_lock:
            self._engine_step(interview, reply, end, resume)

    def _engine_step(
        self, interview: Interview, reply: str | None, end: bool, resume: bool
    ) -> None:
        from interviewer.llm.base import GenerationCancelled, ModelError
        from interviewer.store import StoreError

        if not self._quitting:
            self.cancel = threading.Event()  # one signal per step: a stop ends this step only
        self.engine_idle.clear()
        error: str | None = None

        def pump(events: Iterable[Event]) -> None:
            for event in events:
                if self.recorder is not None:
                    self.recorder(event)
                self.post_message(EngineEvent(event))

        try:
            if resume:
                pump(interview.resume(self.cancel))
            elif reply is None and not end:
                pump(interview.start())
            elif end:
                pump(interview.end(self.cancel, quick=self.cancel.is_set()))
            else:
                pump(interview.reply(reply or "", self.cancel))
        except GenerationCancelled:
            if not self._quitting and interview.state == "awaiting_reply":
                # Ctrl+C: keep what the candidate said, drop the half-spoken reply.
                pump(interview.abandon())
        except StoreError as exc:
            error = f"the session could not be saved: {exc}. {exc.hint}"
        except ModelError as exc:
            error = exc.describe()
        except Exception as exc:  # shown, and the interview can still be ended and exported
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self.engine_idle.set()
            self.post_message(EngineStopped(error))

    # ----------------------------------------------------------------- actions

    def action_help(self) -> None:
        from interviewer.tui.screens import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette: the interview's own actions first, then Textual's."""
        from interviewer.tui.screens import InterviewScreen, ReportScreen

        if isinstance(screen, InterviewScreen):
            yield SystemCommand(
                "Send answer", "Send what is in the answer box", screen.action_submit
            )
            for title, command, text in (
                ("Repeat the question", "/repeat", "The interviewer says the question again"),
                ("Ask to clarify", "/clarify", "The interviewer rephrases the question"),
                ("Skip this question", "/skip", "Move on (the question scores 0)"),
                ("Finish the interview", "/end", "End now; your answers are kept and graded"),
            ):
                yield SystemCommand(title, text, partial(screen.action_command, command))
        if isinstance(screen, ReportScreen):
            for fmt, name in (("md", "Markdown"), ("html", "HTML"), ("json", "JSON")):
                yield SystemCommand(
                    f"Export {name}",
                    f"Write the report as {name}",
                    partial(self.export_report, fmt),
                )
        yield SystemCommand("Help", "Keys and how the interview works", self.action_help)
        yield from super().get_system_commands(screen)

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Every way out stops the model first, so no generation outlives the app."""
        self._quitting = True
        self.cancel.set()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        self._quitting = True
        self.cancel.set()

    def action_interrupt(self) -> None:
        """Ctrl+C: stop the interviewer mid-sentence; otherwise copy, or say how to quit."""
        from textual.widgets import TextArea

        if not self.engine_idle.is_set():
            self.cancel.set()
            self.notify("Stopped. Type your reply when you are ready.")
        elif isinstance(self.focused, TextArea):
            self.focused.action_copy()
        else:
            self.action_help_quit()

    async def action_quit(self) -> None:
        """Stop any generation (within a second), wait for the worker, then leave."""
        from textual.widgets import TextArea

        from interviewer.tui.screens import InterviewScreen

        screen = self._find_screen(InterviewScreen)
        if screen is not None:  # keep what was typed in the last half second too
            typed = screen.query_one("#answer", TextArea).text
            if typed.strip():
                self.save_draft(typed)
        self._quitting = True
        self.cancel.set()
        await self._wait_for_engine(1.0)
        self.exit()

    async def _wait_for_engine(self, seconds: float) -> bool:
        import asyncio

        return await asyncio.to_thread(self.engine_idle.wait, seconds)

    def export_report(self, fmt: str = "json", path: Path | None = None) -> Path | None:
        """Write the report (md, html or json) atomically; return where, or None after a notice."""
        from interviewer.report import ReportWriteError, render, write_report

        if self.interview is None:
            return None
        transcript = self.interview.transcript
        if self.store is not None:  # the stored one also carries any regrades
            from interviewer.store import StoreError

            with contextlib.suppress(StoreError):
                transcript = self.store.load_transcript(transcript.session_id)
        target = path or Path.cwd() / f"interview-{transcript.session_id}.{fmt}"
        try:
            write_report(render(transcript, self.bank, fmt), target)  # type: ignore[arg-type]
        except ReportWriteError as exc:
            self.notify(str(exc), title="Export failed", severity="error", timeout=10)
            return None
        self.last_export = target
        self.notify(f"Report written to {target}", title="Exported")
        return target


def create_app(
    settings: Settings | None = None,
    *,
    start_now: bool = False,
    open_model: ModelOpener | None = None,
    live: bool = True,
    **overrides: Any,
) -> InterviewerApp:
    """Build the app the way the CLI does; tests pass settings and, if they must, a model opener."""
    from interviewer.config import Settings

    base = settings or Settings(**overrides)
    return InterviewerApp(base, start_now=start_now, open_model=open_model, live=live)
