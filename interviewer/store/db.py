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
* ``regrades``: each re-scoring of the answers.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from interviewer.engine.snapshot import InterviewSnapshot
from interviewer.store.migrations import NewerDatabaseError, migrate
from interviewer.store.rows import (
    Draft,
    SessionNotFoundError,
    SessionSummary,
    StoredGrade,
    StoreError,
)
from interviewer.transcript import Grade, ModelInfo, Regrade, Transcript, Turn


def _now() -> str:
    return datetime.now(UTC).isoformat()


_SUMMARY_COLUMNS = (
    "s.id, s.started_at, s.updated_at, s.finished_at, s.status, s.bank_id, s.bank_title, "
    "s.bank_path, s.mode, s.backend, s.model_id, s.grader, s.score, "
    "(SELECT count(*) FROM questions q WHERE q.session_id = s.id), "
    "(SELECT count(*) FROM regrades r WHERE r.session_id = s.id), s.transcript_json"
)


class SessionStore:
    """A handle on the session database. Safe to share between threads (writes are serialized).

    Opening creates the file and its folder if needed and applies pending migrations.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.path.parent}: cannot create the session folder: {exc.strerror or exc}",
                "set INTERVIEWER_DATA_DIR (or data_dir in the config file) to a writable folder, "
                "or run with --no-save",
            ) from exc
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
            self._db.execute("PRAGMA busy_timeout = 10000")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL (journal mode {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            migrate(self._db)
        except NewerDatabaseError as exc:
            raise StoreError(
                f"{self.path}: {exc}",
                "upgrade interviewer, or point INTERVIEWER_DATA_DIR elsewhere",
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path}: cannot open the session database: {exc}",
                "check the file's permissions; if it is not an interviewer database, move it "
                "away or set INTERVIEWER_DATA_DIR to another folder",
            ) from exc

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
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self._error("cannot write", exc) from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._db.execute("ROLLBACK")
                raise self._error("cannot write", exc) from exc
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _error(self, what: str, exc: sqlite3.DatabaseError) -> StoreError:
        return StoreError(
            f"{self.path}: {what}: {exc}",
            "check free disk space and the file's permissions (or run with --no-save)",
        )

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
            db.execute(
                "INSERT INTO sessions (id, started_at, updated_at, finished_at, status, bank_id, "
                "bank_title, bank_version, bank_path, mode, backend, model_id, model_revision, "
                "model_quantization, grader, score, turn_count, last_grade_id, snapshot_json, "
                "transcript_json) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "0, ?, ?)",
                (
                    transcript.session_id,
                    transcript.started_at.isoformat(),
                    _now(),
                    transcript.status,
                    transcript.bank.id,
                    transcript.bank.title,
                    transcript.bank.version,
                    str(bank_path) if bank_path is not None else None,
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
                self._insert_turn(db, transcript.session_id, turn)

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
            "session_id = ?), snapshot_json = ?, transcript_json = ? WHERE id = ?",
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

    def delete_session(self, session_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # ------------------------------------------------------------------ reading

    def _summaries(self, where: str = "", params: tuple[object, ...] = ()) -> list[SessionSummary]:
        rows = self._read(
            f"SELECT {_SUMMARY_COLUMNS} FROM sessions s {where} "
            "ORDER BY s.started_at DESC, s.id DESC",
            params,
        )
        summaries = []
        for row in rows:
            transcript = Transcript.model_validate_json(str(row[15]))
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
                    answered=sum(r.status == "answered" for r in transcript.results),
                    question_count=int(row[13]),
                    regrades=int(row[14]),
                )
            )
        return summaries

    def list_sessions(self, limit: int | None = None) -> list[SessionSummary]:
        """Stored sessions, newest first."""
        found = self._summaries()
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
        return InterviewSnapshot.model_validate_json(str(rows[0][0]))

    def load_transcript(self, session_id: str) -> Transcript:
        """The transcript at the session's last checkpoint, with its regrades attached."""
        rows = self._read("SELECT transcript_json FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise SessionNotFoundError(f"no stored session '{session_id}'")
        transcript = Transcript.model_validate_json(str(rows[0][0]))
        regrades = [
            Regrade.model_validate_json(str(row[0]))
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
                grade=Grade.model_validate_json(str(row[8])),
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
            Transcript.model_validate_json(str(row[0]))
            for row in self._read("SELECT transcript_json FROM sessions ORDER BY started_at, id")
        ]
