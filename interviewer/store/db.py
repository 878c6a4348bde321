"""The session database: one SQLite file, WAL, every write its own committed transaction.

Durability: ``journal_mode=WAL`` lets a report or the TUI read while an interview writes, and
``synchronous=FULL`` syncs the WAL on every commit. NORMAL would survive a killed process too
(kill -9, OOM, a closed terminal) but can lose the last commits on a power cut or an OS crash;
at the pace of an interview (a few commits a minute) FULL costs nothing noticeable, so the
candidate's answers survive that as well.

What is stored per session:

* ``sessions``: one row, with the model, grader and bank, the latest *checkpoint* (the engine's
  snapshot and the transcript at its last rest, see :mod:`interviewer.engine.snapshot`), and how
  many turns and which grades that checkpoint covers;
* ``questions``: each question's rubric hash at the start, so a report can say what graded it;
* ``turns``: every message, committed the moment it is said;
* ``grades``: every grade, the moment it is given, with its model, revision, quantization and
  rubric hash (regrades add theirs with a ``regrade_id``);
* ``regrades``: each re-scoring of the answers;
* ``review_cards`` and ``review_sessions``: the spaced-repetition memory per key point and the
  sessions it was computed from (derived data: :mod:`interviewer.review` rebuilds it from the
  sessions when they no longer match).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from interviewer.engine.snapshot import InterviewSnapshot
from interviewer.store.migrations import MIGRATIONS, NewerDatabaseError, applied_readonly, migrate
from interviewer.store.rows import (
    DamagedRowError,
    Draft,
    JudgeCheckRow,
    ReviewCardRow,
    SessionNotFoundError,
    SessionSummary,
    StoredGrade,
    StoreError,
)
from interviewer.transcript import (
    Grade,
    ModelInfo,
    Regrade,
    Transcript,
    TranscriptError,
    Turn,
    parse_transcript,
)


def _answered(transcript: Transcript) -> int:
    return sum(r.status == "answered" for r in transcript.results)


def _now() -> str:
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

_SUMMARY_COLUMNS = (
    "s.id, s.started_at, s.updated_at, s.finished_at, s.status, s.bank_id, s.bank_title, "
    "s.bank_path, s.mode, s.backend, s.model_id, s.grader, s.score, "
    "(SELECT count(*) FROM questions q WHERE q.session_id = s.id), "
    "(SELECT count(*) FROM regrades r WHERE r.session_id = s.id)"
)


class SessionStore:
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

    def __enter__(self) -> SessionStore:
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

    # ------------------------------------------------------------------ writing

    def create_session(
        self,
        snapshot: InterviewSnapshot,
        transcript: Transcript,
        *,
        rubric: list[tuple[str, str, str]],
        bank_path: Path | None,
    ) -> None:
        """Record a new session with its first checkpoint; ``rubric`` is (id, title, hash)."""
        with self._write() as db:
            self._insert_session(
                db, snapshot, transcript, rubric, str(bank_path) if bank_path is not None else None
            )

    @classmethod
    def _insert_session(
        cls,
        db: sqlite3.Connection,
        snapshot: InterviewSnapshot,
        transcript: Transcript,
        rubric: list[tuple[str, str, str]],
        bank_path: str | None,
    ) -> None:
        db.execute(
            "INSERT INTO sessions (id, started_at, updated_at, finished_at, status, bank_id, "
            "bank_title, bank_version, bank_path, mode, backend, model_id, model_revision, "
            "model_quantization, grader, score, turn_count, last_grade_id, snapshot_json, "
            "transcript_json, answered) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, 0, ?, ?, ?)",
            (
                transcript.session_id,
                transcript.started_at.isoformat(),
                _now(),
                transcript.status,
                transcript.bank.id,
                transcript.bank.title,
                transcript.bank.version,
                bank_path,
                transcript.settings.mode,
                transcript.model.backend,
                transcript.model.model_id,
                transcript.model.revision,
                transcript.model.quantization,
                transcript.grader,
                transcript.score,
                len(snapshot.turns),
                snapshot.model_dump_json(),
                transcript.model_dump_json(),
                _answered(transcript),
            ),
        )
        db.executemany(
            "INSERT INTO questions (session_id, position, question_id, title, rubric_hash) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (transcript.session_id, i, qid, title, digest)
                for i, (qid, title, digest) in enumerate(rubric)
            ],
        )
        for turn in snapshot.turns:
            cls._insert_turn(db, transcript.session_id, turn)

    @staticmethod
    def _insert_turn(db: sqlite3.Connection, session_id: str, turn: Turn) -> None:
        db.execute(
            "INSERT INTO turns (session_id, idx, role, kind, text, question_id, key_point_id, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                turn.index,
                turn.role,
                turn.kind,
                turn.text,
                turn.question_id,
                turn.key_point_id,
                turn.at.isoformat(),
            ),
        )

    @staticmethod
    def _checkpoint(
        db: sqlite3.Connection,
        session_id: str,
        snapshot: InterviewSnapshot,
        transcript: Transcript,
    ) -> None:
        cursor = db.execute(
            "UPDATE sessions SET updated_at = ?, finished_at = ?, status = ?, backend = ?, "
            "model_id = ?, model_revision = ?, model_quantization = ?, grader = ?, score = ?, "
            "turn_count = ?, last_grade_id = (SELECT coalesce(max(id), 0) FROM grades WHERE "
            "session_id = ?), snapshot_json = ?, transcript_json = ?, answered = ? WHERE id = ?",
            (
                _now(),
                transcript.finished_at.isoformat() if transcript.finished_at else None,
                transcript.status,
                transcript.model.backend,
                transcript.model.model_id,
                transcript.model.revision,
                transcript.model.quantization,
                transcript.grader,
                transcript.score,
                len(snapshot.turns),
                session_id,
                snapshot.model_dump_json(),
                transcript.model_dump_json(),
                _answered(transcript),
                session_id,
            ),
        )
        if cursor.rowcount != 1:
            raise StoreError(f"session {session_id} is not in the store")

    def add_turn(
        self,
        session_id: str,
        turn: Turn,
        checkpoint: tuple[InterviewSnapshot, Transcript] | None = None,
    ) -> None:
        """Commit one turn; with ``checkpoint``, the engine's new rest in the same transaction."""
        with self._write() as db:
            self._insert_turn(db, session_id, turn)
            if turn.kind in ("answer", "skip"):  # the draft was sent, or given up with the
                db.execute("DELETE FROM drafts WHERE session_id = ?", (session_id,))  # question
            if checkpoint is not None:
                self._checkpoint(db, session_id, *checkpoint)

    def save_draft(self, session_id: str, question_id: str | None, text: str) -> None:
        """Keep what the candidate has typed so far (an empty ``text`` removes the draft)."""
        with self._write() as db:
            if not text.strip():
                db.execute("DELETE FROM drafts WHERE session_id = ?", (session_id,))
                return
            db.execute(
                "INSERT INTO drafts (session_id, question_id, text, saved_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET question_id = excluded.question_id, "
                "text = excluded.text, saved_at = excluded.saved_at",
                (session_id, question_id, text, _now()),
            )

    def draft(self, session_id: str) -> Draft | None:
        """The answer the candidate was typing and had not sent, if any."""
        rows = self._read(
            "SELECT question_id, text, saved_at FROM drafts WHERE session_id = ?", (session_id,)
        )
        if not rows:
            return None
        question_id, text, saved_at = rows[0]
        return Draft(question_id, text, datetime.fromisoformat(saved_at))

    def add_grade(
        self,
        session_id: str,
        question_id: str,
        rubric_hash: str,
        grade: Grade,
        model: ModelInfo,
        *,
        regrade_id: int | None = None,
    ) -> int:
        """Commit one grade with what produced it; returns its id."""
        with self._write() as db:
            return self._insert_grade(
                db, session_id, question_id, rubric_hash, grade, model, regrade_id
            )

    @staticmethod
    def _insert_grade(
        db: sqlite3.Connection,
        session_id: str,
        question_id: str,
        rubric_hash: str,
        grade: Grade,
        model: ModelInfo,
        regrade_id: int | None,
    ) -> int:
        cursor = db.execute(
            "INSERT INTO grades (session_id, question_id, rubric_hash, grader, backend, model_id, "
            "model_revision, model_quantization, score, grade_json, at, regrade_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                question_id,
                rubric_hash,
                grade.grader,
                model.backend,
                model.model_id,
                model.revision,
                model.quantization,
                grade.score,
                grade.model_dump_json(),
                _now(),
                regrade_id,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def checkpoint(
        self, session_id: str, snapshot: InterviewSnapshot, transcript: Transcript
    ) -> None:
        """Commit the engine's state at rest (awaiting a reply, or finished)."""
        with self._write() as db:
            self._checkpoint(db, session_id, snapshot, transcript)

    def rollback_to_checkpoint(self, session_id: str) -> tuple[int, int]:
        """Drop the interviewer's turns and the grades produced after the last checkpoint.

        They were not final (the process died before the engine came to rest) and a resumed
        engine produces them again. The candidate's turns are never dropped: each one is a
        checkpoint itself. Returns how many turns and grades were dropped.
        """
        with self._write() as db:
            row = db.execute(
                "SELECT turn_count, last_grade_id FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise SessionNotFoundError(f"no stored session '{session_id}'")
            turn_count, last_grade = row
            lost = db.execute(
                "SELECT count(*) FROM turns WHERE session_id = ? AND idx >= ? AND role = "
                "'candidate'",
                (session_id, turn_count),
            ).fetchone()[0]
            if lost:  # cannot happen through SessionRecorder; refuse rather than drop answers
                raise StoreError(
                    f"session {session_id}: {lost} candidate turn(s) are newer than its last "
                    "checkpoint; refusing to drop them",
                    "export the session to keep its turns, then report this as a bug",
                )
            turns = db.execute(
                "DELETE FROM turns WHERE session_id = ? AND idx >= ?", (session_id, turn_count)
            ).rowcount
            grades = db.execute(
                "DELETE FROM grades WHERE session_id = ? AND id > ? AND regrade_id IS NULL",
                (session_id, last_grade),
            ).rowcount
        return turns, grades

    def add_regrade(self, session_id: str, regrade: Regrade) -> int:
        """Store a regrade and its grades beside the original ones; returns its id."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO regrades (session_id, regraded_at, grader, backend, model_id, "
                "model_revision, model_quantization, score, regrade_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    regrade.regraded_at.isoformat(),
                    regrade.grader,
                    regrade.model.backend,
                    regrade.model.model_id,
                    regrade.model.revision,
                    regrade.model.quantization,
                    regrade.score,
                    regrade.model_dump_json(),
                ),
            )
            regrade_id = cursor.lastrowid
            assert regrade_id is not None
            for result in regrade.results:
                if result.grade is not None:
                    self._insert_grade(
                        db,
                        session_id,
                        result.question_id,
                        result.rubric_hash,
                        result.grade,
                        regrade.model,
                        regrade_id,
                    )
        return regrade_id

    def import_session(
        self,
        snapshot: InterviewSnapshot,
        transcript: Transcript,
        *,
        rubric: list[tuple[str, str, str]],
        bank_path: str | None,
        grades: Sequence[tuple[str, str, Grade, ModelInfo]] = (),
        later_grades: Sequence[tuple[str, str, Grade, ModelInfo]] = (),
        draft: tuple[str | None, str] | None = None,
    ) -> bool:
        """Bring a session recorded elsewhere (a recovery file, while this store could not
        write) into the store, in one transaction: its row (created if missing), its turns,
        its ``grades`` (question id, rubric hash, grade, model), the checkpoint, and the
        unsent draft. ``later_grades`` were given after that checkpoint: like any work after a
        checkpoint, a resumed session drops and redoes them.

        Never goes back: when the store already holds a later state of the session (more
        turns, or finished where this one is not), nothing is written and False returned."""
        session_id = transcript.session_id
        with self._write() as db:
            row = db.execute(
                "SELECT status, turn_count FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                self._insert_session(db, snapshot, transcript, rubric, bank_path)
            elif int(row[1]) > len(snapshot.turns) or (
                row[0] != "in_progress" and transcript.status == "in_progress"
            ):
                return False
            for turn in snapshot.turns:
                db.execute(
                    "INSERT INTO turns (session_id, idx, role, kind, text, question_id, "
                    "key_point_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, "
                    "idx) DO UPDATE SET role = excluded.role, kind = excluded.kind, text = "
                    "excluded.text, question_id = excluded.question_id, key_point_id = "
                    "excluded.key_point_id, at = excluded.at",
                    (
                        session_id,
                        turn.index,
                        turn.role,
                        turn.kind,
                        turn.text,
                        turn.question_id,
                        turn.key_point_id,
                        turn.at.isoformat(),
                    ),
                )
            for question_id, rubric_hash, grade, model in grades:
                self._insert_grade(db, session_id, question_id, rubric_hash, grade, model, None)
            self._checkpoint(db, session_id, snapshot, transcript)
            for question_id, rubric_hash, grade, model in later_grades:
                self._insert_grade(db, session_id, question_id, rubric_hash, grade, model, None)
            db.execute("DELETE FROM drafts WHERE session_id = ?", (session_id,))
            if draft is not None and draft[1].strip():
                db.execute(
                    "INSERT INTO drafts (session_id, question_id, text, saved_at) "
                    "VALUES (?, ?, ?, ?)",
                    (session_id, draft[0], draft[1], _now()),
                )
        return True

    def delete_session(self, session_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # ------------------------------------------------------------------ reading

    def _summaries(
        self, where: str = "", params: tuple[object, ...] = (), *, check: bool = True
    ) -> list[SessionSummary]:
        """``check``: read each stored transcript (to flag a damaged one, and to count the
        answers of a database that does not keep the count); without it nothing but the
        sessions' own columns is read."""
        read = check or not self._answered_column
        rows = self._read(
            f"SELECT {_SUMMARY_COLUMNS}, {'s.transcript_json' if read else 's.answered'} "
            f"FROM sessions s {where} ORDER BY s.started_at DESC, s.id DESC",
            params,
        )
        summaries = []
        for row in rows:
            answered, damaged = 0, False
            if not read:
                answered = int(row[15] or 0)
            else:
                try:
                    answered = _answered(parse_transcript(str(row[15]), f"session {row[0]}"))
                except TranscriptError:
                    damaged = True  # listed, so the others still are
            summaries.append(
                SessionSummary(
                    id=str(row[0]),
                    started_at=datetime.fromisoformat(str(row[1])),
                    updated_at=datetime.fromisoformat(str(row[2])),
                    finished_at=datetime.fromisoformat(str(row[3])) if row[3] else None,
                    status=str(row[4]),
                    bank_id=str(row[5]),
                    bank_title=str(row[6]),
                    bank_path=str(row[7]) if row[7] is not None else None,
                    mode=str(row[8]),
                    backend=str(row[9]),
                    model_id=str(row[10]),
                    grader=str(row[11]),
                    score=float(row[12]),
                    answered=answered,
                    question_count=int(row[13]),
                    regrades=int(row[14]),
                    damaged=damaged,
                )
            )
        return summaries

    def list_sessions(
        self, limit: int | None = None, *, check: bool = True
    ) -> list[SessionSummary]:
        """Stored sessions, newest first. ``check=False`` reads no transcript: quick however
        many sessions there are, but a damaged transcript is only found when it is loaded
        (:meth:`load_transcript` raises)."""
        found = self._summaries(check=check)
        return found if limit is None else found[:limit]

    def unfinished(self) -> list[SessionSummary]:
        """Sessions that stopped before their end (crash, kill, closed terminal): resumable."""
        return self._summaries("WHERE s.status = 'in_progress'")

    def get(self, session_id: str) -> SessionSummary:
        """The session with this id, or the only one whose id starts with it."""
        exact = self._summaries("WHERE s.id = ?", (session_id,))
        if exact:
            return exact[0]
        escaped = session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found = self._summaries("WHERE s.id LIKE ? ESCAPE '\\'", (escaped + "%",))
        if len(found) == 1:
            return found[0]
        if found:
            raise SessionNotFoundError(
                f"'{session_id}' matches {len(found)} sessions "
                f"({', '.join(s.id for s in found[:5])})",
                "give more of the id",
            )
        raise SessionNotFoundError(
            f"no stored session '{session_id}'", "`interviewer sessions` lists them"
        )

    def latest(self) -> SessionSummary:
        found = self.list_sessions(limit=1)
        if not found:
            raise SessionNotFoundError(
                f"no sessions are stored yet (in {self.path})", "run `interviewer` first"
            )
        return found[0]

    def load_snapshot(self, session_id: str) -> InterviewSnapshot:
        rows = self._read("SELECT snapshot_json FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise SessionNotFoundError(f"no stored session '{session_id}'")
        return self._parsed(InterviewSnapshot, rows[0][0], session_id, "checkpoint")

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

    def load_transcript(self, session_id: str) -> Transcript:
        """The transcript at the session's last checkpoint, with its regrades attached."""
        rows = self._read("SELECT transcript_json FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise SessionNotFoundError(f"no stored session '{session_id}'")
        transcript = self._parsed(Transcript, rows[0][0], session_id, "transcript")
        regrades = [
            self._parsed(Regrade, row[0], session_id, "regrade")
            for row in self._read(
                "SELECT regrade_json FROM regrades WHERE session_id = ? ORDER BY id", (session_id,)
            )
        ]
        return transcript.model_copy(update={"regrades": regrades})

    def turns(self, session_id: str) -> list[Turn]:
        """Every committed turn, including any said after the last checkpoint."""
        return [
            Turn(
                index=int(row[0]),
                role=row[1],
                kind=row[2],
                text=str(row[3]),
                question_id=row[4],
                key_point_id=row[5],
                at=datetime.fromisoformat(str(row[6])),
            )
            for row in self._read(
                "SELECT idx, role, kind, text, question_id, key_point_id, at FROM turns "
                "WHERE session_id = ? ORDER BY idx",
                (session_id,),
            )
        ]

    def grades(self, session_id: str) -> list[StoredGrade]:
        """Every committed grade of the session (the interview's and the regrades'), in order."""
        return [
            StoredGrade(
                id=int(row[0]),
                question_id=str(row[1]),
                rubric_hash=str(row[2]),
                grader=str(row[3]),
                model=ModelInfo(
                    backend=str(row[4]),
                    model_id=str(row[5]),
                    revision=row[6],
                    quantization=row[7],
                ),
                grade=self._parsed(Grade, row[8], session_id, "grade"),
                at=datetime.fromisoformat(str(row[9])),
                regrade_id=row[10],
            )
            for row in self._read(
                "SELECT id, question_id, rubric_hash, grader, backend, model_id, model_revision, "
                "model_quantization, grade_json, at, regrade_id FROM grades WHERE session_id = ? "
                "ORDER BY id",
                (session_id,),
            )
        ]

    def rubric(self, session_id: str) -> dict[str, str]:
        """Question id -> the rubric hash recorded when the session started."""
        return {
            str(row[0]): str(row[1])
            for row in self._read(
                "SELECT question_id, rubric_hash FROM questions WHERE session_id = ? "
                "ORDER BY position",
                (session_id,),
            )
        }

    def transcripts(self) -> list[Transcript]:
        """Every session's transcript (at its last checkpoint), oldest first: for stats."""
        return [
            self._parsed(Transcript, row[1], str(row[0]), "transcript")
            for row in self._read(
                "SELECT id, transcript_json FROM sessions ORDER BY started_at, id"
            )
        ]

    # ------------------------------------------------------------------ review memory

    def review_memory(self) -> tuple[list[ReviewCardRow], dict[str, datetime]]:
        """The stored spaced-repetition memory: every key point's row, and the sessions it
        holds (session id -> the time their verdicts count at)."""
        cards = [
            ReviewCardRow(
                bank_id=str(row[0]),
                question_id=str(row[1]),
                key_point_id=str(row[2]),
                card_json=str(row[3]),
                due=datetime.fromisoformat(str(row[4])),
                reviews=int(row[5]),
                misses=int(row[6]),
                last_verdict=str(row[7]),
                last_reviewed_at=datetime.fromisoformat(str(row[8])),
                last_missed_at=datetime.fromisoformat(str(row[9])) if row[9] else None,
                since_missed=int(row[10]),
            )
            for row in self._read(
                "SELECT bank_id, question_id, key_point_id, card_json, due, reviews, misses, "
                "last_verdict, last_reviewed_at, last_missed_at, since_missed FROM review_cards "
                "ORDER BY bank_id, question_id, key_point_id"
            )
        ]
        sessions = {
            str(row[0]): datetime.fromisoformat(str(row[1]))
            for row in self._read("SELECT session_id, reviewed_at FROM review_sessions")
        }
        return cards, sessions

    def save_review_memory(
        self,
        cards: Sequence[ReviewCardRow],
        sessions: dict[str, datetime],
        *,
        replace: bool,
        held: Sequence[str] | None = None,
    ) -> bool:
        """Store ``cards`` (replacing the rows of the same key points) and record ``sessions``
        as held, in one transaction; ``replace`` drops the whole memory first (a rebuild).

        ``held``: the sessions the memory held when it was read. If another process changed
        that since, nothing is written (its memory is as good; the next read catches up) and
        False is returned."""
        with self._write() as db:
            if held is not None:
                now_held = {str(r[0]) for r in db.execute("SELECT session_id FROM review_sessions")}
                if now_held != set(held):
                    return False
            if replace:
                db.execute("DELETE FROM review_cards")
                db.execute("DELETE FROM review_sessions")
            db.executemany(
                "INSERT OR REPLACE INTO review_cards (bank_id, question_id, key_point_id, "
                "card_json, due, reviews, misses, last_verdict, last_reviewed_at, "
                "last_missed_at, since_missed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.bank_id,
                        c.question_id,
                        c.key_point_id,
                        c.card_json,
                        c.due.isoformat(),
                        c.reviews,
                        c.misses,
                        c.last_verdict,
                        c.last_reviewed_at.isoformat(),
                        c.last_missed_at.isoformat() if c.last_missed_at else None,
                        c.since_missed,
                    )
                    for c in cards
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO review_sessions (session_id, reviewed_at, applied_at) "
                "VALUES (?, ?, ?)",
                [(sid, at.isoformat(), _now()) for sid, at in sessions.items()],
            )
        return True

    def clear_review_memory(self) -> None:
        """Forget the memory (a regrade changed verdicts it holds); the next read rebuilds it."""
        with self._write() as db:
            db.execute("DELETE FROM review_cards")
            db.execute("DELETE FROM review_sessions")

    # ------------------------------------------------------------------ judge checks

    def judge_check(self, model_key: str) -> JudgeCheckRow | None:
        """The stored grading self-test of the model ``model_key``, if it has one."""
        rows = self._read(
            "SELECT model_key, judge_agreement, evidence_agreement, answers, key_points, "
            "seconds, checked_at, version FROM judge_checks WHERE model_key = ?",
            (model_key,),
        )
        if not rows:
            return None
        row = rows[0]
        return JudgeCheckRow(
            model_key=str(row[0]),
            judge_agreement=float(row[1]),
            evidence_agreement=float(row[2]),
            answers=int(row[3]),
            key_points=int(row[4]),
            seconds=float(row[5]),
            checked_at=datetime.fromisoformat(str(row[6])),
            version=str(row[7]),
        )

    def save_judge_check(self, check: JudgeCheckRow) -> None:
        """Store a model's grading self-test (replacing its earlier one)."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO judge_checks (model_key, judge_agreement, "
                "evidence_agreement, answers, key_points, seconds, checked_at, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    check.model_key,
                    check.judge_agreement,
                    check.evidence_agreement,
                    check.answers,
                    check.key_points,
                    check.seconds,
                    check.checked_at.isoformat(),
                    check.version,
                ),
            )
