"""The messages that carry work from the worker threads to the UI, and what a screen may ask
of the app (:class:`Host`): screens import this module, never the app, so there is no import
cycle between them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from textual.message import Message

from interviewer.engine.events import Event

if TYPE_CHECKING:
    from interviewer.config import Settings
    from interviewer.session import LoadedModel, ReviewRequest, Session
    from interviewer.store import SessionStore
    from interviewer.transcript import Delivery


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


class StoreNotice(Message):
    """Where the answers go when the session store cannot take them (posted from any thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


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
    """The model and the grader are loaded; the app starts the session with them."""

    def __init__(self, loaded: LoadedModel) -> None:
        super().__init__()
        self.loaded = loaded


class LoadFailed(Message):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__()
        self.message = message
        self.hint = hint


class Host(Protocol):
    """What the screens ask of the app; everything about the interview itself they ask the
    session (:class:`~interviewer.session.Session`)."""

    @property
    def live(self) -> bool:
        """False for snapshots and tests: no blinking cursor, no ticking timer."""
        ...

    @property
    def session(self) -> Session | None: ...

    @property
    def cancel(self) -> threading.Event:
        """Set to stop the model (Ctrl+C, quitting); a new one for each engine step."""
        ...

    def open_store(self) -> SessionStore | None: ...

    def begin(
        self,
        settings: Settings,
        resume_id: str | None = None,
        review: ReviewRequest | None = None,
    ) -> None: ...

    def cancel_load(self) -> None: ...

    def run_engine(
        self, reply: str | None, end: bool = False, delivery: Delivery | None = None
    ) -> object: ...

    def save_draft(self, text: str) -> None: ...

    def export_report(self, fmt: str = "json", path: Path | None = None) -> Path | None: ...

    async def action_quit(self) -> None: ...
