"""Where the candidate's answers go when the session database cannot take them, and how they
come back: the store's fallback file, written by the session layer's recorder
(:class:`interviewer.session.SessionRecorder`) and read back by ``resume`` and every command
that opens the store.

When a write to ``sessions.db`` fails (a full disk, a read-only folder, a damaged or newer
database, a lock held too long by another program), the recorder does not stop the interview:
from that event on it appends the session to a *recovery file* instead. The file is JSON lines,
one record per line, each written with one ``write`` and synced (``fsync``) before the event is
shown, and held under an exclusive ``flock`` while its interview runs:

* ``session``: what the store's row would hold (the bank and its path, the rubric hashes, the
  reason the store failed);
* ``checkpoint``: the engine's snapshot and the transcript at a rest (each candidate turn, each
  wait for a reply, the end), exactly what the store's checkpoint holds; ``clears_draft`` when
  the candidate's answer (or skip) made the unsent draft obsolete;
* ``grade``: a grade given after the last checkpoint, with its model and rubric hash;
* ``draft``: what the candidate is typing and has not sent.

Records carry a ``seq`` that grows through a session, across files and resumes. A file starts
with a ``session`` record and the latest checkpoint, so any one file is enough to resume; the
reader takes the latest checkpoint over all files of a session and ignores a torn or damaged
line (a crash mid-write, a disk that filled up mid-line is cut back to the last full line).

The files go to the first folder of :func:`recovery_folders` that takes them: ``recovery/``
beside ``sessions.db``, then ``recovery_dir`` (default: the user cache directory), then the temp
directory; a folder that fails mid-interview (it filled up) passes the session on to the next.
:func:`import_recovered` brings finished and interrupted sessions back into the store as soon as
it can write (any command that opens the store tries), and ``interviewer resume`` continues a
session from its recovery file even while the store is still broken.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import ValidationError

from interviewer.engine.snapshot import InterviewSnapshot
from interviewer.errors import InterviewerError
from interviewer.store.db import SessionStore
from interviewer.store.rows import SessionSummary, StoreError
from interviewer.transcript import Grade, ModelInfo, Transcript

APP_NAME = "interviewer"

RECOVERY_VERSION = 1
SUFFIX = ".jsonl"


class RecoveryError(InterviewerError):
    """No recovery folder can take the session either."""


def recovery_folders(store_path: Path, configured: Path | None = None) -> tuple[Path, ...]:
    """Where recovery files go, in order of preference (and where ``resume`` looks), for the
    database at ``store_path`` and the ``recovery_dir`` setting."""
    beside = store_path.parent / "recovery"
    configured = configured or Path(platformdirs.user_cache_dir(APP_NAME)) / "recovery"
    temporary = temporary_folder()
    folders: list[Path] = []
    for folder in (beside, configured.expanduser(), temporary):
        if folder not in folders:
            folders.append(folder)
    return tuple(folders)


def temporary_folder() -> Path:
    """The last resort: a folder of this user's in the temp directory."""
    return Path(tempfile.gettempdir()) / f"{APP_NAME}-recovery-{os.getuid()}"


# ----------------------------------------------------------------------------- writing


class RecoveryLog:
    """One session's recovery file(s): append a record, synced, or move on to the next folder.

    ``header`` is the ``session`` record. The log keeps the latest checkpoint (and draft) it
    wrote: every new file starts with the header and them, so one file alone can resume the
    session. File names carry the writing process's id (a resumed session writes a new one)."""

    def __init__(
        self, session_id: str, folders: Sequence[Path], header: dict[str, Any], first_seq: int = 0
    ) -> None:
        self.session_id = session_id
        self.folders = tuple(folders)
        self.header = header
        self.seq = first_seq
        self.path: Path | None = None
        self.files: list[Path] = []
        self._fd: int | None = None
        self._folder = -1
        self._checkpoint: dict[str, Any] | None = None
        self._draft: dict[str, Any] | None = None
        self.problems: list[str] = []
        """Why each folder tried so far could not take the session."""

    def _record(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        return {
            "v": RECOVERY_VERSION,
            "kind": kind,
            "seq": self.seq,
            "session_id": self.session_id,
            "at": datetime.now(UTC).isoformat(),
            **body,
        }

    def write(self, kind: str, body: dict[str, Any]) -> bool:
        """Append one record; True when it went to a new file (the caller says where).
        Raises :class:`RecoveryError` when no folder can take it."""
        record = self._record(kind, body)
        if kind == "checkpoint":
            self._checkpoint = record
            if record.get("clears_draft"):
                self._draft = None
        elif kind == "draft":
            self._draft = record
        line = _line(record)
        if self._fd is not None:
            try:
                _append(self._fd, line)
                return False
            except OSError as exc:
                self.problems.append(f"{self.path}: {exc.strerror or exc}")
                self.close()
        self._open_next([line])
        return True

    def _open_next(self, pending: list[bytes]) -> None:
        """Start a file in the next folder that takes it, with the header, the latest
        checkpoint and draft, then ``pending``."""
        while self._folder + 1 < len(self.folders):
            self._folder += 1
            folder = self.folders[self._folder]
            path = folder / f"{self.session_id}.{os.getpid()}{SUFFIX}"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            except OSError as exc:
                self.problems.append(f"{folder}: {exc.strerror or exc}")
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                lines = [_line(self.header)]
                for base in (self._checkpoint, self._draft):
                    if base is not None and _line(base) not in pending:
                        lines.append(_line(base))
                for line in [*lines, *pending]:
                    _append(fd, line)
            except OSError as exc:
                self.problems.append(f"{path}: {exc.strerror or exc}")
                os.close(fd)
                with contextlib.suppress(OSError):
                    if path.stat().st_size == 0:
                        path.unlink()
                continue
            self._fd, self.path = fd, path
            self.files.append(path)
            return
        raise RecoveryError(
            "no folder can take the recovery file: " + "; ".join(self.problems[-3:]),
            "free some disk space, or set recovery_dir (INTERVIEWER_RECOVERY_DIR) to a "
            "writable folder; export the transcript before you leave",
        )

    def close(self) -> None:
        """Close the file (its lock goes with it): an importer may take it from now on."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Close and delete every file this log wrote (its session is in the store now)."""
        self.close()
        for path in self.files:
            with contextlib.suppress(OSError):
                path.unlink()
        self.files = []


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


def _append(fd: int, line: bytes) -> None:
    """Write one whole line and sync it, or leave the file as it was and raise OSError."""
    size = os.lseek(fd, 0, os.SEEK_END)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(28, "No space left on device (a short write)")
        os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)  # no torn line is left behind
        raise


def session_header(
    snapshot: InterviewSnapshot,
    transcript: Transcript,
    *,
    rubric: list[tuple[str, str, str]],
    bank_path: Path | None,
    reason: str,
) -> dict[str, Any]:
    """The ``session`` record: what the store's row and rubric rows would hold."""
    return {
        "v": RECOVERY_VERSION,
        "kind": "session",
        "seq": 0,
        "session_id": transcript.session_id,
        "bank_id": snapshot.bank_id,
        "bank_path": str(bank_path) if bank_path is not None else None,
        "rubric": [list(entry) for entry in rubric],
        "reason": reason,
        "at": datetime.now(UTC).isoformat(),
    }


def checkpoint_body(
    snapshot: InterviewSnapshot, transcript: Transcript, *, clears_draft: bool = False
) -> dict[str, Any]:
    return {
        "snapshot": snapshot.model_dump(mode="json"),
        "transcript": transcript.model_dump(mode="json"),
        "clears_draft": clears_draft,
    }


def grade_body(
    question_id: str, rubric_hash: str, grade: Grade, model: ModelInfo
) -> dict[str, Any]:
    return {
        "question_id": question_id,
        "rubric_hash": rubric_hash,
        "grade": grade.model_dump(mode="json"),
        "model": model.model_dump(mode="json"),
    }


# ----------------------------------------------------------------------------- reading


@dataclass
class Recovered:
    """A session as its recovery files hold it: its latest checkpoint and what came after."""

    session_id: str
    snapshot: InterviewSnapshot
    transcript: Transcript
    checkpoint_seq: int
    last_seq: int
    bank_path: str | None = None
    rubric: list[tuple[str, str, str]] = field(default_factory=list)
    reason: str = ""
    grades: list[tuple[int, str, str, Grade, ModelInfo]] = field(default_factory=list)
    """(seq, question id, rubric hash, grade, model) of each grade recorded."""
    draft: tuple[str | None, str] | None = None
    """(question id, text) of the answer being typed, if any."""
    files: list[Path] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.transcript.status != "in_progress"

    def summary(self) -> SessionSummary:
        """The session as ``interviewer sessions`` would list it (the resume rules read it)."""
        t = self.transcript
        return SessionSummary(
            id=t.session_id,
            started_at=t.started_at,
            updated_at=t.finished_at or t.started_at,
            finished_at=t.finished_at,
            status=t.status,
            bank_id=t.bank.id,
            bank_title=t.bank.title,
            bank_path=self.bank_path,
            mode=t.settings.mode,
            backend=t.model.backend,
            model_id=t.model.model_id,
            grader=t.grader,
            score=t.score,
            answered=sum(r.status == "answered" for r in t.results),
            question_count=len(t.results),
            regrades=0,
        )

    def import_into(self, store: SessionStore) -> bool:
        """Write the session into ``store`` (one transaction; :class:`StoreError` if not).
        False: the store already held a later state of it (these files are out of date)."""
        rubric = self.rubric or [
            (r.question_id, r.title, r.rubric_hash) for r in self.transcript.results
        ]
        before = [(q, h, g, m) for seq, q, h, g, m in self.grades if seq < self.checkpoint_seq]
        after = [(q, h, g, m) for seq, q, h, g, m in self.grades if seq > self.checkpoint_seq]
        return store.import_session(
            self.snapshot,
            self.transcript,
            rubric=rubric,
            bank_path=self.bank_path,
            grades=before,
            later_grades=after,
            draft=self.draft,
        )


def read_records(data: bytes) -> list[dict[str, Any]]:
    """The readable records of a recovery file, in file order. A line that is not a whole
    JSON object of a known version (a torn write, a damaged disk) is skipped."""
    records = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if (
            isinstance(record, dict)
            and record.get("v") == RECOVERY_VERSION
            and isinstance(record.get("seq"), int)
            and isinstance(record.get("session_id"), str)
            and isinstance(record.get("kind"), str)
        ):
            records.append(record)
    return records


def recover(records: Iterable[dict[str, Any]], files: Sequence[Path] = ()) -> list[Recovered]:
    """Each session in ``records`` at its latest readable checkpoint (sessions without one
    have nothing to resume and are left out)."""
    by_session: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_session.setdefault(record["session_id"], []).append(record)
    found = []
    for session_id, items in by_session.items():
        items.sort(key=lambda r: r["seq"])
        latest: tuple[int, InterviewSnapshot, Transcript] | None = None
        for record in reversed(items):  # the newest checkpoint that reads
            if record["kind"] != "checkpoint":
                continue
            try:
                snapshot = InterviewSnapshot.model_validate(record.get("snapshot"))
                transcript = Transcript.model_validate(record.get("transcript"))
            except ValidationError:
                continue
            if snapshot.session_id == transcript.session_id == session_id:
                latest = (record["seq"], snapshot, transcript)
                break
        if latest is None:
            continue
        seq, snapshot, transcript = latest
        header = next((r for r in items if r["kind"] == "session"), {})
        recovered = Recovered(
            session_id=session_id,
            snapshot=snapshot,
            transcript=transcript,
            checkpoint_seq=seq,
            last_seq=max(r["seq"] for r in items),
            bank_path=header.get("bank_path") if isinstance(header.get("bank_path"), str) else None,
            rubric=_rubric(header.get("rubric")),
            reason=str(header.get("reason", "")),
            files=[f for f in files if f.name.startswith(f"{session_id}.")],
        )
        seen_grades: set[int] = set()
        for record in items:
            if record["kind"] == "grade" and record["seq"] not in seen_grades:
                try:
                    grade = Grade.model_validate(record.get("grade"))
                    model = ModelInfo.model_validate(record.get("model"))
                except ValidationError:
                    continue
                seen_grades.add(record["seq"])
                recovered.grades.append(
                    (
                        record["seq"],
                        str(record.get("question_id")),
                        str(record.get("rubric_hash")),
                        grade,
                        model,
                    )
                )
            elif record["kind"] == "draft" and isinstance(record.get("text"), str):
                question = record.get("question_id")
                recovered.draft = (question if isinstance(question, str) else None, record["text"])
            elif record["kind"] == "checkpoint" and record.get("clears_draft"):
                recovered.draft = None
        if recovered.draft is not None and not recovered.draft[1].strip():
            recovered.draft = None
        found.append(recovered)
    found.sort(key=lambda r: r.transcript.started_at, reverse=True)
    return found


def _rubric(value: object) -> list[tuple[str, str, str]]:
    if not isinstance(value, list):
        return []
    rubric = []
    for entry in value:
        if isinstance(entry, list) and len(entry) == 3 and all(isinstance(x, str) for x in entry):
            rubric.append((entry[0], entry[1], entry[2]))
    return rubric


def in_use(path: Path) -> bool:
    """Whether a running interview holds the file (it is still being written)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def find_recovered(folders: Sequence[Path], *, include_live: bool = False) -> list[Recovered]:
    """Every session kept in recovery files under ``folders``, newest first; files a running
    interview still writes are left out unless ``include_live``."""
    records: list[dict[str, Any]] = []
    files: list[Path] = []
    for folder in folders:
        try:
            candidates = sorted(folder.glob(f"*{SUFFIX}"))
        except OSError:
            continue
        for path in candidates:
            if not include_live and in_use(path):
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            files.append(path)
            records.extend(read_records(data))
    return recover(records, files)


def discard_older(folders: Sequence[Path], session_id: str) -> None:
    """Delete the recovery files of ``session_id`` that no running interview holds (the store
    has the session now: an interrupted run's files, from before a resume)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            for path in folder.glob(f"{session_id}.*{SUFFIX}"):
                if not in_use(path):
                    with contextlib.suppress(OSError):
                        path.unlink()


def import_recovered(
    store: SessionStore,
    folders: Sequence[Path],
    on_import: Callable[[Recovered], None] | None = None,
) -> list[Recovered]:
    """Bring every session waiting in a recovery file into ``store``, and delete its files
    (also those the store had a later state of already). Best effort: a session the store
    cannot take (it still cannot write) stays where it is."""
    imported = []
    for recovered in find_recovered(folders):
        try:
            newer = recovered.import_into(store)
        except StoreError:
            continue
        for path in recovered.files:
            with contextlib.suppress(OSError):
                path.unlink()
        if newer:
            imported.append(recovered)
            if on_import is not None:
                on_import(recovered)
    return imported


__all__ = [
    "RECOVERY_VERSION",
    "Recovered",
    "RecoveryError",
    "RecoveryLog",
    "checkpoint_body",
    "discard_older",
    "find_recovered",
    "grade_body",
    "import_recovered",
    "in_use",
    "read_records",
    "recover",
    "recovery_folders",
    "session_header",
    "temporary_folder",
]
