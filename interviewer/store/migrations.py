"""The session database's schema, as numbered migrations (in the style of simonw/llm).

Each migration is a function that changes the schema one step. :func:`migrate` applies, in
order, those not yet recorded in the ``_migrations`` table, each in its own transaction with
its record, so a database is always at a known step. Never edit a migration that has shipped:
add the next one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []


class NewerDatabaseError(RuntimeError):
    """The database was written by a newer interviewer (it has migrations this one lacks)."""


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_sessions_turns_grades(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            bank_id TEXT NOT NULL,
            bank_title TEXT NOT NULL,
            bank_version INTEGER NOT NULL,
            bank_path TEXT,
            mode TEXT NOT NULL,
            backend TEXT NOT NULL,
            model_id TEXT NOT NULL,
            model_revision TEXT,
            model_quantization TEXT,
            grader TEXT NOT NULL,
            score REAL NOT NULL DEFAULT 0,
            turn_count INTEGER NOT NULL DEFAULT 0,
            last_grade_id INTEGER NOT NULL DEFAULT 0,
            snapshot_json TEXT NOT NULL,
            transcript_json TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE questions (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            question_id TEXT NOT NULL,
            title TEXT NOT NULL,
            rubric_hash TEXT NOT NULL,
            PRIMARY KEY (session_id, question_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE turns (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            role TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            question_id TEXT,
            key_point_id TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (session_id, idx)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE grades (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            question_id TEXT NOT NULL,
            rubric_hash TEXT NOT NULL,
            grader TEXT NOT NULL,
            backend TEXT NOT NULL,
            model_id TEXT NOT NULL,
            model_revision TEXT,
            model_quantization TEXT,
            score REAL NOT NULL,
            grade_json TEXT NOT NULL,
            at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX grades_by_session ON grades (session_id, question_id)")
    db.execute("CREATE INDEX sessions_by_start ON sessions (started_at)")


@migration
def m002_regrades(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE regrades (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            regraded_at TEXT NOT NULL,
            grader TEXT NOT NULL,
            backend TEXT NOT NULL,
            model_id TEXT NOT NULL,
            model_revision TEXT,
            model_quantization TEXT,
            score REAL NOT NULL,
            regrade_json TEXT NOT NULL
        )
        """
    )
    # A grade given by a regrade points at it; the interview's own grades have NULL here.
    db.execute("ALTER TABLE grades ADD COLUMN regrade_id INTEGER REFERENCES regrades(id)")


@migration
def m003_drafts(db: sqlite3.Connection) -> None:
    # What the candidate has typed but not sent yet, one per session (saved as they type).
    db.execute(
        """
        CREATE TABLE drafts (
            session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
            question_id TEXT,
            text TEXT NOT NULL,
            saved_at TEXT NOT NULL
        )
        """
    )


@migration
def m004_review_memory(db: sqlite3.Connection) -> None:
    # The spaced-repetition memory, one row per (bank, question, key point): the scheduler's
    # card as JSON (the store does not read it) and the counts a study plan needs. It is
    # derived data: rebuilt from the sessions whenever review_sessions does not match them
    # (an existing database starts empty here, and its first read rebuilds it).
    db.execute(
        """
        CREATE TABLE review_cards (
            bank_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            key_point_id TEXT NOT NULL,
            card_json TEXT NOT NULL,
            due TEXT NOT NULL,
            reviews INTEGER NOT NULL,
            misses INTEGER NOT NULL,
            last_verdict TEXT NOT NULL,
            last_reviewed_at TEXT NOT NULL,
            last_missed_at TEXT,
            since_missed INTEGER NOT NULL,
            PRIMARY KEY (bank_id, question_id, key_point_id)
        )
        """
    )
    # Which sessions the memory holds, with the time their verdicts count at.
    db.execute(
        """
        CREATE TABLE review_sessions (
            session_id TEXT PRIMARY KEY,
            reviewed_at TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """
    )


@migration
def m005_answered_count(db: sqlite3.Connection) -> None:
    # How many questions of the session were answered, kept beside its transcript so that
    # listing sessions reads no transcript (the review memory lists them after every
    # interview). Filled in here from the stored transcripts; one that cannot be read stays
    # NULL (a listing that checks the transcripts says it is damaged).
    db.execute("ALTER TABLE sessions ADD COLUMN answered INTEGER")
    rows = db.execute("SELECT id, transcript_json FROM sessions").fetchall()
    for session_id, text in rows:
        try:
            results = json.loads(text).get("results", [])
            count = sum(1 for r in results if isinstance(r, dict) and r.get("status") == "answered")
        except (ValueError, AttributeError, TypeError):
            continue
        db.execute("UPDATE sessions SET answered = ? WHERE id = ?", (count, session_id))


@migration
def m006_turn_delivery(db: sqlite3.Connection) -> None:
    # How a candidate's reply was given (spoken or typed, its speech, its clock), as the
    # transcript's Delivery JSON; NULL for a typed reply without a clock and for older turns.
    db.execute("ALTER TABLE turns ADD COLUMN delivery_json TEXT")


@migration
def m007_judge_checks(db: sqlite3.Connection) -> None:
    # The grading self-test of each model asked to grade (interviewer.session.judge): per
    # key-point agreement with the labels of the model and of the evidence signal on the same
    # few labelled answers, so a model is tested once, not at every session.
    db.execute(
        """
        CREATE TABLE judge_checks (
            model_key TEXT PRIMARY KEY,
            judge_agreement REAL NOT NULL,
            evidence_agreement REAL NOT NULL,
            answers INTEGER NOT NULL,
            key_points INTEGER NOT NULL,
            seconds REAL NOT NULL,
            checked_at TEXT NOT NULL,
            version TEXT NOT NULL
        )
        """
    )


def applied(db: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in the database, in the order they were applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def applied_readonly(db: sqlite3.Connection) -> list[str]:
    """:func:`applied` on a database that cannot be written (nothing is created)."""
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(db: sqlite3.Connection, upto: int | None = None) -> list[str]:
    """Apply the pending migrations (the first ``upto`` only, for tests); return their names.

    The connection must be in autocommit mode (``isolation_level=None``): each migration runs
    in an explicit transaction together with its record in ``_migrations``.
    """
    done = set(applied(db))
    known = {fn.__name__ for fn in MIGRATIONS}
    unknown = sorted(done - known)
    if unknown:
        raise NewerDatabaseError(
            f"the database has migrations this version does not know ({', '.join(unknown)}); "
            "it was written by a newer interviewer"
        )
    ran: list[str] = []
    for fn in MIGRATIONS[:upto]:
        if fn.__name__ in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated between our read and the lock.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone():
                db.execute("COMMIT")
                continue
            fn(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (fn.__name__, datetime.now(UTC).isoformat()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        ran.append(fn.__name__)
    return ran
