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

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from interviewer.engine.snapshot import InterviewSnapshot
from interviewer.store.database import utc_now
from interviewer.store.reads import SessionReads, answered_count
from interviewer.store.rows import (
    Draft,
    JudgeCheckRow,
    ReviewCardRow,
    SessionNotFoundError,
    StoreError,
)
from interviewer.transcript import (
    Grade,
    ModelInfo,
    Regrade,
    Transcript,
    Turn,
)


def _delivery_json(turn: Turn) -> str | None:
    """How a spoken or timed reply was given (None for a typed one)."""
    return turn.delivery.model_dump_json() if turn.delivery is not None else None


class SessionStore(SessionReads):
    """A handle on the session database: its connection (:mod:`interviewer.store.database`),
    its reads (:mod:`interviewer.store.reads`) and, here, every write, each its own committed
    transaction. Safe to share between threads (writes are serialized)."""

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
                utc_now(),
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
                answered_count(transcript),
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
            "INSERT INTO turns (session_id, idx, role, kind, text, question_id, key_point_id, at, "
            "delivery_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                turn.index,
                turn.role,
                turn.kind,
                turn.text,
                turn.question_id,
                turn.key_point_id,
                turn.at.isoformat(),
                _delivery_json(turn),
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
                utc_now(),
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
                answered_count(transcript),
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
                (session_id, question_id, text, utc_now()),
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
                utc_now(),
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
                    "key_point_id, at, delivery_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (session_id, idx) DO UPDATE SET role = excluded.role, kind = "
                    "excluded.kind, text = excluded.text, question_id = excluded.question_id, "
                    "key_point_id = excluded.key_point_id, at = excluded.at, delivery_json = "
                    "excluded.delivery_json",
                    (
                        session_id,
                        turn.index,
                        turn.role,
                        turn.kind,
                        turn.text,
                        turn.question_id,
                        turn.key_point_id,
                        turn.at.isoformat(),
                        _delivery_json(turn),
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
                    (session_id, draft[0], draft[1], utc_now()),
                )
        return True

    def delete_session(self, session_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

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
                [(sid, at.isoformat(), utc_now()) for sid, at in sessions.items()],
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
