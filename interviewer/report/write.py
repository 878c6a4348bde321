"""Atomic writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from interviewer.errors import InterviewerError


class ReportWriteError(InterviewerError, OSError):
    """The file cannot be written where the user asked; the message says why."""

    def __str__(self) -> str:
        return str(self.args[0])


def write_atomic(path: Path, text: str | bytes, *, force: bool = True) -> Path:
    """Write ``text`` (UTF-8; or bytes as they are) to ``path`` through a temporary file in the
    same folder and a rename.

    With ``force=False`` an existing file is left alone and :class:`ReportWriteError` raised.
    Returns the path written.
    """
    path = path.expanduser()
    directory = path.parent
    if path.is_dir():
        raise ReportWriteError(f"{path}: is a folder", "give a file name inside it")
    if not directory.is_dir():
        raise ReportWriteError(
            f"{path}: the folder {directory} does not exist",
            "create it first or choose another path",
        )
    if not force and path.exists():
        raise ReportWriteError(
            f"{path}: the file already exists", "add --force to replace it, or choose another path"
        )
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ReportWriteError(
            f"{path}: cannot write there: {exc.strerror or exc}", "choose a writable folder"
        ) from exc
    temp = Path(temp_name)
    try:
        if isinstance(text, bytes):
            with os.fdopen(handle, "wb") as raw:
                raw.write(text)
                raw.flush()
                os.fsync(raw.fileno())
        else:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
        temp.chmod(0o644 & ~_umask())
        temp.replace(path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ReportWriteError(
            f"{path}: cannot write there: {exc.strerror or exc}", "choose a writable folder"
        ) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
