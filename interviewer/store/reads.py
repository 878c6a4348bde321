"""Reading the session database: the session list, one session's summary, its checkpoint,
transcript, turns, grades and rubric (:class:`~interviewer.store.db.SessionStore` adds the
writes)."""

from __future__ import annotations

from datetime import datetime

from interviewer.engine.snapshot import InterviewSnapshot
from interviewer.store.database import Database
from interviewer.store.rows import (
    SessionNotFoundError,
    SessionSummary,
    StoredGrade,
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


def answered_count(transcript: Transcript) -> int:
    return sum(r.status == "answered" for r in transcript.results)


_SUMMARY_COLUMNS = (
    "s.id, s.started_at, s.updated_at, s.finished_at, s.status, s.bank_id, s.bank_title, "
    "s.bank_path, s.mode, s.backend, s.model_id, s.grader, s.score, "
    "(SELECT count(*) FROM questions q WHERE q.session_id = s.id), "
    "(SELECT count(*) FROM regrades r WHERE r.session_id = s.id)"
)


class SessionReads(Database):
    """What the store reads back; every damaged row is a :class:`DamagedRowError`."""

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
                    answered = answered_count(parse_transcript(str(row[15]), f"session {row[0]}"))
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
