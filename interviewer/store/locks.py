"""One running interview per session: a lock that two processes cannot both hold (the session
layer takes it for each session it records or resumes).

Two windows may record into one ``sessions.db`` at once (SQLite serializes their writes), but
not continue the *same* session: the second would drop the first one's newest turns when it
rolls back to the last checkpoint, and both would number their turns alike. The recorder holds
``locks/<session id>.lock`` beside the database under an exclusive ``flock`` while the session
runs; the operating system releases it when the process ends, however it ends. Within one
process a second recorder of the same session takes the lock over (the first one was left
behind: a TUI that resumes a session it was showing, a test that simulates a crash).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import ClassVar

from interviewer.errors import InterviewerError


class SessionBusyError(InterviewerError):
    """The session is running in another process."""


class SessionLock:
    """The lock on one session; :meth:`acquire` it, :meth:`release` it when the session ends."""

    _held: ClassVar[dict[Path, tuple[int, int]]] = {}
    """Locks this process holds: path -> (file descriptor, how many holders)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._released = False

    @classmethod
    def acquire(cls, folder: Path, session_id: str) -> SessionLock | None:
        """The lock on ``session_id`` in ``folder``; None when the folder cannot hold locks
        (a read-only disk: nothing can be recorded there either). Raises
        :class:`SessionBusyError` when another process holds it."""
        path = folder / "locks" / f"{session_id}.lock"
        if path in cls._held:
            fd, count = cls._held[path]
            cls._held[path] = (fd, count + 1)
            return cls(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        for _ in range(5):  # the file may be unlinked between our open and our lock
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_pid(fd)
                os.close(fd)
                where = f" (process {holder})" if holder else ""
                raise SessionBusyError(
                    f"session {session_id} is open in another interviewer{where}",
                    "finish it there, or close that window; `interviewer resume` continues it "
                    "once it is closed",
                ) from None
            try:
                same = os.fstat(fd).st_ino == path.stat().st_ino
            except OSError:
                same = False
            if not same:
                os.close(fd)
                continue
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
            cls._held[path] = (fd, 1)
            return cls(path)
        return None

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        fd, count = self._held.get(self.path, (-1, 0))
        if count > 1:
            self._held[self.path] = (fd, count - 1)
            return
        self._held.pop(self.path, None)
        if fd >= 0:
            with contextlib.suppress(OSError):
                self.path.unlink()  # unlink first, then unlock: see the inode check above
            with contextlib.suppress(OSError):
                os.close(fd)


def holder(folder: Path, session_id: str) -> int | None:
    """The process that runs ``session_id`` now, if another one does (0: unknown pid)."""
    path = folder / "locks" / f"{session_id}.lock"
    if path in SessionLock._held:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _read_pid(fd) or 0
    finally:
        os.close(fd)
    return None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
