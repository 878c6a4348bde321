"""The Textual app: one factory (:func:`create_app`) for the CLI and the tests.

Long work never blocks the screen: the model loads and the engine runs in thread workers that
talk to the UI only through posted messages; the engine's events arrive as :class:`EngineEvent`.
Quitting sets a cancel signal that stops generation within a second (a StoppingCriteria reads it).
torch is imported only inside the loading worker, so the first paint does not wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from interviewer.engine.events import Event
from interviewer.tui.messages import (
    EngineEvent,
    EngineStopped,
    LoadFailed,
    LoadProgress,
    LoadStatus,
    ModelReady,
    StoreNotice,
)

if TYPE_CHECKING:
    from interviewer.bank.models import Bank
    from interviewer.config import Settings
    from interviewer.engine.interview import Interview
    from interviewer.llm.base import ChatModel
    from interviewer.session import ModelOpener, ReviewRequest, Session, SessionPlan
    from interviewer.store import SessionStore, StoreError
    from interviewer.transcript import Delivery


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
        review: ReviewRequest | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.review = review
        """With ``start_now``: start a review (``interviewer review``) rather than an interview."""
        self.live = live
        """False for snapshots and tests: no blinking cursor, no ticking timer."""
        self.start_now = start_now
        self._open_model = open_model
        self.plan: SessionPlan | None = None
        """The interview being started (decided on the UI thread, before the model loads)."""
        self.session: Session | None = None
        """The running interview; every screen asks it, not the app's internals."""
        self.cancel = threading.Event()
        self.engine_idle = threading.Event()
        self.engine_idle.set()
        self._load_generation = 0
        self._quitting = False
        self.last_export: Path | None = None
        self.store: SessionStore | None = None
        """The session store (opened on first use; None when saving is off or it failed)."""
        self.store_problem: StoreError | None = None
        """Why the store could not be opened: interviews then go to a recovery file."""

    @property
    def interview(self) -> Interview | None:
        return self.session.interview if self.session is not None else None

    @property
    def model(self) -> ChatModel | None:
        return self.session.model if self.session is not None else None

    @property
    def bank(self) -> Bank | None:
        return self.plan.bank if self.plan is not None else None

    # ----------------------------------------------------------------- start and load

    def on_mount(self) -> None:
        from interviewer.tui.start import StartScreen

        self.theme = self.settings.theme
        if self.start_now:
            self.begin(self.settings, review=self.review)
        else:
            self.push_screen(StartScreen(self.settings))

    def begin(
        self,
        settings: Settings,
        resume_id: str | None = None,
        review: ReviewRequest | None = None,
    ) -> None:
        """Plan the interview (a resume continues the session on its own bank and model; a
        review asks the questions due): a problem shows at once, before any model loads; then
        load the model."""
        from interviewer.errors import InterviewerError
        from interviewer.session import (
            SessionError,
            open_resume_store,
            plan_interview,
            plan_resume,
            plan_review,
        )
        from interviewer.tui.start import LoadingScreen

        try:
            store = self.open_store()
            problem = self.store_problem if settings.save else None
            if review is not None:
                plan = plan_review(settings, store, review)
            elif resume_id is None:
                plan = plan_interview(settings, store, store_problem=problem)
            elif store is None and problem is None:
                raise SessionError("resuming a session needs the session store (saving is off)")
            else:
                if store is None:  # read-only, or without a store from its recovery file
                    store, problem = open_resume_store(settings)
                plan = plan_resume(
                    settings,
                    store,
                    resume_id,
                    model_given=settings.model is not None,
                    store_problem=problem,
                )
        except InterviewerError as exc:
            text = f"{exc} ({exc.hint})" if exc.hint else str(exc)
            self.notify(text, title="Cannot start", severity="error", timeout=15)
            if len(self.screen_stack) <= 1:
                from interviewer.tui.start import StartScreen

                self.push_screen(StartScreen(settings))
            return
        self.plan = plan
        self.settings = plan.settings
        self._load_generation += 1
        self.push_screen(LoadingScreen(plan.model_label))
        self._load_model(plan, self._load_generation)

    def open_store(self) -> SessionStore | None:
        """The session store, opened once; None when saving is off or it cannot be used (then
        ``store_problem`` says why, and the interview records into a recovery file)."""
        if self.store is None and self.settings.save:
            # The layer's store module alone: the start screen asks for it right after its
            # first frame, before the engine is imported.
            from interviewer.session import open_recording_store

            # A problem is said once the interview starts, with where the answers go instead.
            self.store, self.store_problem = open_recording_store(self.settings)
        return self.store

    def on_store_notice(self, message: StoreNotice) -> None:
        """The recorder says where the answers go: shown until dismissed, and in the log."""
        self.notify(
            message.text,
            title="Your answers are kept elsewhere",
            severity="warning",
            timeout=60,
        )

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_model(self, plan: SessionPlan, generation: int) -> None:
        from interviewer.llm.base import ModelError
        from interviewer.session import load_session_model

        def status(text: str) -> None:
            self.post_message(LoadStatus(text))

        def progress(done: int, total: int) -> None:
            self.post_message(LoadProgress(done, total))

        def judge_notice(text: str) -> None:  # the model's grades are not used: said once
            title = "Graded by the evidence signal"
            self.notify(text, title=title, severity="warning", timeout=60, markup=False)

        try:
            # The evidence signal's embedding model loads here too, off the UI thread, and a
            # model asked to grade takes its self-test here ("checking the judge: 2/4").
            loaded = load_session_model(
                plan,
                on_status=status,
                on_progress=progress,
                open_model=self._open_model,
                on_notice=judge_notice,
            )
        except ModelError as exc:
            if generation == self._load_generation:
                self.post_message(LoadFailed(str(exc), exc.hint))
            return
        except Exception as exc:  # an unexpected failure still gets a screen, not a traceback
            if generation == self._load_generation:
                self.post_message(LoadFailed(f"{type(exc).__name__}: {exc}", ""))
            return
        if generation == self._load_generation:  # a cancelled load is ignored
            self.post_message(ModelReady(loaded))

    def _find_screen(self, kind: type[Any]) -> Any:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, kind):
                return screen
        return None

    def on_load_status(self, message: LoadStatus) -> None:
        from interviewer.tui.start import LoadingScreen

        screen = self._find_screen(LoadingScreen)
        if screen is not None:
            screen.show_status(message)

    def on_load_progress(self, message: LoadProgress) -> None:
        from interviewer.tui.start import LoadingScreen

        screen = self._find_screen(LoadingScreen)
        if screen is not None:
            screen.show_progress(message)

    def on_load_failed(self, message: LoadFailed) -> None:
        from interviewer.tui.start import LoadingScreen

        screen = self._find_screen(LoadingScreen)
        if screen is not None:
            screen.show_failure(message)

    async def on_engine_event(self, message: EngineEvent) -> None:
        from interviewer.tui.conversation import InterviewScreen

        screen = self._find_screen(InterviewScreen)
        if screen is not None:
            await screen.handle_event(message)

    async def on_engine_stopped(self, message: EngineStopped) -> None:
        from interviewer.tui.conversation import InterviewScreen

        screen = self._find_screen(InterviewScreen)
        if screen is not None:
            await screen.handle_stopped(message)

    def cancel_load(self) -> None:
        """Leave the loading screen; the load still finishes in its thread and is dropped."""
        from interviewer.tui.start import StartScreen

        self._load_generation += 1
        below = self.screen_stack[-2] if len(self.screen_stack) > 2 else None
        if isinstance(below, StartScreen):
            self.pop_screen()  # back to the form as the candidate left it
        else:
            self.switch_screen(StartScreen(self.settings))

    def on_model_ready(self, message: ModelReady) -> None:
        from interviewer.errors import InterviewerError
        from interviewer.session import start_session
        from interviewer.tui.conversation import InterviewScreen

        assert self.plan is not None
        try:
            self.session = start_session(self.plan, message.loaded)
        except InterviewerError as exc:
            self.notify(f"{exc}. {exc.hint}", title="Cannot start", severity="error", timeout=15)
            self.cancel_load()
            return

        def notice(text: str) -> None:  # from any thread (the engine records in its worker)
            self.post_message(StoreNotice(text))

        self.session.on_notice = notice
        self.switch_screen(InterviewScreen(self.session, on_shown=lambda: self.run_engine(None)))

    # ----------------------------------------------------------------- the engine

    @work(thread=True, exclusive=False, group="engine", exit_on_error=False)
    def run_engine(
        self, reply: str | None, end: bool = False, delivery: Delivery | None = None
    ) -> None:
        """Advance the interview by one candidate message (None: start or resume; ``end``:
        finish now). The session records each event in the store before the screen sees it.

        Textual may start this worker while the previous one still grades in the background
        (``exclusive`` only marks the old one cancelled); the session runs one step at a time,
        so this one waits its turn."""
        from interviewer.errors import InterviewerError
        from interviewer.llm.base import GenerationCancelled, ModelUnavailable
        from interviewer.store import StoreError

        session = self.session
        assert session is not None
        if not self._quitting:
            self.cancel = threading.Event()  # one signal per step: a stop ends this step only
        self.engine_idle.clear()
        error: str | None = None

        def pump(events: Iterable[Event]) -> None:
            for event in events:
                self.post_message(EngineEvent(event))

        try:
            if reply is None and not end:
                pump(session.begin(self.cancel))
            elif end:
                pump(session.end(self.cancel, quick=self.cancel.is_set()))
            else:
                pump(session.reply(reply or "", self.cancel, delivery=delivery))
        except GenerationCancelled:
            if not self._quitting and session.interview.state == "awaiting_reply":
                # Ctrl+C: keep what the candidate said, drop the half-spoken reply.
                pump(session.abandon())
        except StoreError as exc:
            error = f"the session could not be saved: {exc}. {exc.hint}"
        except ModelUnavailable as exc:  # the model is gone: the interview cannot go on now
            error = (
                f"{exc.describe()}\n  Everything you said is saved: quit, and "
                f"`interviewer resume {session.session_id}` continues once the model is back."
            )
        except InterviewerError as exc:
            error = exc.describe()
        except Exception as exc:  # shown, and the interview can still be ended and exported
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self.engine_idle.set()
            self.post_message(EngineStopped(error))

    # ----------------------------------------------------------------- actions

    def action_help(self) -> None:
        from interviewer.tui.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette: the interview's own actions first, then Textual's."""
        from interviewer.tui.conversation import InterviewScreen
        from interviewer.tui.report import ReportScreen

        if isinstance(screen, InterviewScreen):
            yield SystemCommand(
                "Send answer", "Send what is in the answer box", screen.action_submit
            )
            for title, command, text in (
                ("Repeat the question", "/repeat", "The interviewer says the question again"),
                ("Ask to clarify", "/clarify", "The interviewer rephrases the question"),
                ("Skip this question", "/skip", "Move on (the question scores 0)"),
                ("Finish the interview", "/end", "End now; your answers are kept and graded"),
                (
                    "Try the question again",
                    "/retry",
                    "Practice mode: a fresh attempt at the question just done (Ctrl+T)",
                ),
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

        for screen in self.screen_stack:  # the interviewer's voice stops with its words
            stop_speaking = getattr(screen, "stop_speaking", None)
            if stop_speaking is not None:
                stop_speaking()
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

        from interviewer.tui.conversation import InterviewScreen

        screen = self._find_screen(InterviewScreen)
        if screen is not None:  # keep what was typed in the last half second too
            typed = screen.query_one("#answer", TextArea).text
            if typed.strip():
                screen.save_draft(typed)
        self._quitting = True
        self.cancel.set()
        await self._wait_for_engine(1.0)
        self.exit()

    async def _wait_for_engine(self, seconds: float) -> bool:
        import asyncio

        return await asyncio.to_thread(self.engine_idle.wait, seconds)

    def export_report(self, fmt: str = "json", path: Path | None = None) -> Path | None:
        """Write the report (md, html or json) atomically; return where, or None after a notice."""
        from interviewer.report import ReportWriteError, write_report
        from interviewer.session import session_report

        if self.session is None:
            return None
        # The stored transcript also carries any regrades; the memory, each key point's state.
        target = path or Path.cwd() / f"interview-{self.session.session_id}.{fmt}"
        try:
            report = session_report(
                self.settings,
                self.session.store,
                fmt,  # type: ignore[arg-type]
                running=(self.session.transcript(), self.bank),
            )
            write_report(report.text, target)
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
    review: ReviewRequest | None = None,
    **overrides: Any,
) -> InterviewerApp:
    """Build the app the way the CLI does; tests pass settings and, if they must, a model opener.
    ``review`` (with ``start_now``): start a review of what is due."""
    from interviewer.config import Settings

    base = settings or Settings(**overrides)
    return InterviewerApp(
        base, start_now=start_now, open_model=open_model, live=live, review=review
    )
