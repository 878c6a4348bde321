"""Opening the session store, and finding the sessions in it: the rules every front end shares.

Sessions kept in recovery files while the store could not write are brought into it whenever it
is opened; a reading command (or a resume) gets the store read-only on a read-only disk; a
session that another window is running now is not offered for resuming. This module imports
only the store (no bank, engine or model), so the TUI's start screen can use it right after its
first frame.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from interviewer.config import Settings
from interviewer.session.errors import SessionError
from interviewer.store import SessionStore, SessionSummary, StoreError
from interviewer.store.locks import holder
from interviewer.store.recovery import find_recovered, import_recovered
from interviewer.store.recovery import recovery_folders as _folders


def recovery_folders(settings: Settings) -> tuple[Path, ...]:
    """Where a session goes when the store cannot write it, in order (and where ``resume``
    looks): ``recovery/`` beside the database, ``recovery_dir``, the temp directory."""
    return _folders(settings.store_path, settings.recovery_dir)


def open_store(
    settings: Settings,
    *,
    must_exist: bool = False,
    on_import: Callable[[str], None] | None = None,
) -> SessionStore:
    """The session store of ``settings``; ``must_exist`` for commands that only read it (on a
    read-only disk they get it read-only). Sessions that were kept in recovery files while the
    store could not write are brought into it first (``on_import`` hears of each)."""
    path = settings.store_path
    if must_exist and not path.is_file() and not find_recovered(recovery_folders(settings)):
        raise SessionError(
            f"no sessions are stored yet (looked in {path})",
            "run `interviewer` to take an interview; set INTERVIEWER_DATA_DIR if they are "
            "stored elsewhere",
        )
    try:
        store = SessionStore(path)
    except StoreError as exc:
        if not must_exist:
            raise
        try:  # a read-only disk: the reading commands still read it
            return SessionStore(path, readonly=True)
        except StoreError:
            raise exc from None
    import_recovered(
        store,
        recovery_folders(settings),
        None
        if on_import is None
        else lambda found: on_import(
            f"Session {found.session_id} was kept in a recovery file while the store could "
            f"not write ({found.reason or 'the store failed'}); it is in {path} now."
        ),
    )
    return store


def open_recording_store(settings: Settings) -> tuple[SessionStore | None, StoreError | None]:
    """The store to record a new interview in, or None and why not: the interview then goes on
    with its answers in a recovery file (:mod:`interviewer.store.recovery`)."""
    try:
        return open_store(settings), None
    except StoreError as exc:
        return None, exc


def open_resume_store(
    settings: Settings, on_import: Callable[[str], None] | None = None
) -> tuple[SessionStore | None, StoreError | None]:
    """The store to resume a session from: writable, else read-only (the session goes on in a
    recovery file from its last checkpoint), else None and why (a session kept in a recovery
    file can still go on). :class:`SessionError` when no session was ever stored."""
    try:
        return open_store(settings, must_exist=True, on_import=on_import), None
    except StoreError as exc:
        return None, exc


def _not_running(store: SessionStore) -> list[SessionSummary]:
    """The store's unfinished sessions, newest first, less those another window runs now
    (that one is not interrupted)."""
    return [s for s in store.unfinished() if holder(store.path.parent, s.id) is None]


def resumable_sessions(settings: Settings, store: SessionStore | None) -> list[SessionSummary]:
    """The sessions ``resume`` can continue: the store's unfinished ones that no other window
    runs (newest first), then those still only in recovery files (the store cannot take them
    back yet). A store that cannot be read offers the recovery files alone."""
    unfinished: list[SessionSummary] = []
    if store is not None:
        with contextlib.suppress(StoreError):
            unfinished = _not_running(store)
    known = {s.id for s in unfinished}
    return unfinished + [
        found.summary()
        for found in find_recovered(recovery_folders(settings))
        if not found.finished and found.session_id not in known
    ]


def find_session(
    store: SessionStore, session_id: str | None, *, unfinished: bool = False
) -> SessionSummary:
    """The session ``session_id`` (a unique prefix will do); without one, the latest, or the
    latest unfinished one when ``unfinished``."""
    if session_id is not None:
        return store.get(session_id)
    if unfinished:
        found = _not_running(store)
        if not found:
            raise SessionError(
                "no unfinished session to resume",
                "`interviewer sessions` lists them all; `interviewer` starts a new one",
            )
        return found[0]
    return store.latest()
