"""The session database's connection: opening it (WAL, ``synchronous=FULL``, migrations, or
read-only on a read-only disk), one write transaction at a time, reads, and what to do when
SQLite fails (:func:`store_hint`). :class:`~interviewer.store.db.SessionStore` builds on it."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ValidationError

from interviewer.store.migrations import MIGRATIONS, NewerDatabaseError, applied_readonly, migrate
from interviewer.store.rows import (
    DamagedRowError,
    StoreError,
)


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def store_hint(path: Path, exc: BaseException) -> str:
    """What to do about a failure of the database at ``path``, by what SQLite said."""
    said = str(exc).lower()
    folder = path.parent
    if "full" in said:
        return (
            f"free some disk space where {folder} is (`df -h {folder}`); the next `interviewer` "
            "command brings the answers kept meanwhile back into the store"
        )
    if "readonly" in said or "read-only" in said or "unable to open" in said:
        return (
            f"{folder} cannot be written (a read-only disk or folder?): make it writable, or "
            "set INTERVIEWER_DATA_DIR (data_dir in the config file) to a writable folder"
        )
    if "malformed" in said or "not a database" in said or "encrypted" in said or "damaged" in said:
        return (
            f"the file is damaged (or not an interviewer database): move it aside (`mv {path} "
            f"{path}.damaged`) so new sessions start a fresh one, or set INTERVIEWER_DATA_DIR to "
            f"another folder; `sqlite3 {path}.damaged .recover` can salvage its sessions"
        )
    if "locked" in said or "busy" in said:
        return (
            "another program holds the database (a second interviewer writing, or a backup "
            "tool): close it or wait; the next `interviewer` command brings the answers back"
        )
    return "check free disk space and the file's permissions (or run with --no-save)"


def _check_not_damaged(path: Path) -> None:
    """Refuse a database file that was cut short before writing into it, from its header
    alone (a constant cost, however many sessions it holds: ``PRAGMA quick_check`` would read
    every page at each start). Damage inside the file is found by SQLite when a page is read,
    and reported as a :class:`StoreError` then, where the recorder moves to a recovery file."""
    wal = path.with_name(path.name + "-wal")
    try:
        if wal.exists() and wal.stat().st_size > 0:
            # Pages not yet copied into the file are in the write-ahead log: a checkpoint that
            # a full disk stopped half-way leaves a short file that SQLite reads whole.
            return
        with path.open("rb") as handle:
            header = handle.read(100)
        size = path.stat().st_size
    except OSError:
        return  # SQLite's own open says what is wrong with the file
    if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
        return  # empty (a new database), or not SQLite at all: sqlite3 says "not a database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if header[92:96] == header[24:28] and pages and size < pages * page_size:
        raise sqlite3.DatabaseError(
            f"database disk image is malformed (the file is {size} bytes, its header says "
            f"{pages * page_size}: it was cut short)"
        )


_Row = TypeVar("_Row", bound=BaseModel)


class Database:
    """A handle on the session database. Safe to share between threads (writes are serialized).

    Opening creates the file and its folder if needed and applies pending migrations.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 10.0, readonly: bool = False) -> None:
        """``busy_timeout``: how long a write waits for another process's write to finish.
        ``readonly``: open for reading only (a data folder on a read-only disk); nothing is
        created or migrated, and every write raises :class:`StoreError`."""
        self.path = path.expanduser()
        self.readonly = readonly
        self._lock = threading.RLock()
        if readonly:
            self._db = self._open_readonly(busy_timeout)
            self._answered_column = self._has_column("sessions", "answered")
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise StoreError(
                f"{self.path.parent}: cannot create the session folder: "
                f"{getattr(exc, 'strerror', None) or exc}",
                "set INTERVIEWER_DATA_DIR (or data_dir in the config file) to a writable folder, "
                "or run with --no-save",
            ) from exc
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL (journal mode {mode})")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            _check_not_damaged(self.path)
            migrate(db)
        except (NewerDatabaseError, sqlite3.DatabaseError) as exc:
            if db is not None:
                db.close()
            if isinstance(exc, NewerDatabaseError):
                raise StoreError(
                    f"{self.path}: {exc}",
                    "upgrade interviewer, or point INTERVIEWER_DATA_DIR elsewhere",
                ) from exc
            raise StoreError(
                f"{self.path}: cannot open the session database: {exc}", store_hint(self.path, exc)
            ) from exc
        self._db = db
        self._answered_column = True

    def _open_readonly(self, busy_timeout: float) -> sqlite3.Connection:
        """A read-only connection. On a read-only disk SQLite cannot make the WAL index
        beside a database that was closed cleanly (it has no -wal file then, so nothing is
        missed when it is opened as immutable)."""
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no session database here", "run `interviewer` first")
        wal = self.path.with_name(self.path.name + "-wal")
        uri = f"{self.path.resolve().as_uri()}?mode=ro" + ("" if wal.exists() else "&immutable=1")
        try:
            db = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
            _check_not_damaged(self.path)
            found = set(applied_readonly(db))
            unknown = sorted(found - {fn.__name__ for fn in MIGRATIONS})
            if unknown:
                raise NewerDatabaseError(
                    f"the database has migrations this version does not know "
                    f"({', '.join(unknown)}); it was written by a newer interviewer"
                )
        except NewerDatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}", "upgrade interviewer") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path}: cannot open the session database: {exc}", store_hint(self.path, exc)
            ) from exc
        return db

    def _has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` has ``column`` (a read-only database may predate a migration)."""
        try:
            names = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
        except sqlite3.DatabaseError:
            return False
        return column in names

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on exit (or rolled back on an error)."""
        with self._lock:
            if self.readonly:
                raise StoreError(
                    f"{self.path}: opened read-only (its folder cannot be written)",
                    store_hint(self.path, sqlite3.OperationalError("readonly database")),
                )
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self._error("cannot write", exc) from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise self._error("cannot write", exc) from exc
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Undo the open transaction. SQLite may have rolled it back itself already (a full
        disk, an I/O error): then there is nothing left to undo."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._db.execute("ROLLBACK")

    def _error(self, what: str, exc: sqlite3.DatabaseError) -> StoreError:
        return StoreError(f"{self.path}: {what}: {exc}", store_hint(self.path, exc))

    def integrity(self) -> list[str]:
        """``PRAGMA integrity_check``: [] when the database is sound, else what is wrong."""
        rows = self._read("PRAGMA integrity_check")
        found = [str(row[0]) for row in rows]
        return [] if found == ["ok"] else found

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params))
            except sqlite3.DatabaseError as exc:
                raise self._error("cannot read", exc) from exc

    def _parsed(self, model: type[_Row], data: object, session_id: str, what: str) -> _Row:
        """A stored JSON column as ``model``, or :class:`StoreError` (a damaged row)."""
        try:
            return model.model_validate_json(str(data))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(document)"
            raise DamagedRowError(
                f"{self.path}: session {session_id}: its stored {what} is damaged "
                f"({where}: {first['msg']})",
                store_hint(self.path, sqlite3.DatabaseError("damaged")),
            ) from exc
