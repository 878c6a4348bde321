"""The spaced-repetition memory: one FSRS card per (bank, question, key point).

Every graded key point of a finished session is one review of its card, scheduled by the
``fsrs`` package (the FSRS algorithm Anki uses): covered counts as Good, partial as Hard,
missed as Again, and a skipped question as Again for all its points. A regrade's verdicts
replace the original's (the latest regrade that graded the question). Retakes are not
reviews: they come right after the reference answer was on screen, so they show what was just
read, not what is remembered. Neither are questions not reached.

The memory is derived data. :func:`replay` computes it from the sessions' verdicts in time
order (the scheduler runs without fuzzing, so a replay gives the same state every time), and
:func:`sync_memory` keeps the copy in the session store current: sessions finished since the
last sync are applied on top when they are newer than everything it holds, and otherwise (an
old session resumed and finished late, a regrade, a deleted session, a database from before
the memory existed) the whole memory is rebuilt, so an incremental update and a rebuild always
agree.

Cards schedule in days (no minute-long learning steps: an interview question is practised
across days, not within one sitting). A point is *due* once its card's due time has come,
*learned* while its interval is three weeks or more (Anki's "mature"), and *learning* before.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from fsrs import Card, Rating, Scheduler

from interviewer.bank.models import Bank
from interviewer.store import (
    DamagedRowError,
    ReviewCardRow,
    SessionStore,
    SessionSummary,
    StoreError,
)
from interviewer.transcript import Grade, Transcript, Verdict

RATINGS: dict[str, Rating] = {
    "covered": Rating.Good,
    "partial": Rating.Hard,
    "missing": Rating.Again,
}
"""A verdict as an FSRS rating (a skipped question counts as missing)."""

LEARNED_AFTER = timedelta(days=21)
"""A point whose interval reached this is learned (Anki calls such cards mature)."""

ReviewState = Literal["due", "learning", "learned"]

PointKey = tuple[str, str, str]
"""(bank id, question id, key point id)."""


def scheduler() -> Scheduler:
    """The one scheduler: FSRS's default parameters, day-sized steps, no fuzzing (a replay of
    the same verdicts always gives the same intervals)."""
    return Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)


def _utc(moment: datetime) -> datetime:
    # fsrs wants datetime.UTC itself (pydantic parses offsets into a tzinfo of its own).
    return moment.astimezone(UTC)


def _card_id(key: PointKey) -> int:
    digest = hashlib.sha256("\x1f".join(key).encode()).digest()
    return int.from_bytes(digest[:6], "big")


# ----------------------------------------------------------------------------- reviews


@dataclass(frozen=True)
class PointReview:
    """One key point's verdict in one finished session."""

    session_id: str
    at: datetime
    """When it counts: the session's end."""
    bank_id: str
    question_id: str
    key_point_id: str
    verdict: Verdict

    @property
    def key(self) -> PointKey:
        return (self.bank_id, self.question_id, self.key_point_id)


def review_time(transcript: Transcript) -> datetime:
    """When a session's verdicts count: when it finished (or started, for an odd record)."""
    return _utc(transcript.finished_at or transcript.started_at)


def latest_grades(transcript: Transcript) -> dict[str, Grade]:
    """Each question's verdicts as they stand: the latest regrade that graded it, else the
    interview's own grade."""
    grades = {r.question_id: r.grade for r in transcript.results if r.grade is not None}
    for regrade in transcript.regrades:
        for redone in regrade.results:
            if redone.grade is not None:
                grades[redone.question_id] = redone.grade
    return grades


def session_reviews(transcript: Transcript, bank: Bank | None = None) -> list[PointReview]:
    """The reviews one session gives (none while it is unfinished). ``bank`` names the key
    points of a skipped question (it has no grade to list them); without it, or for a
    question the bank no longer has, a skipped question gives none."""
    if transcript.status == "in_progress":
        return []
    at = review_time(transcript)
    grades = latest_grades(transcript)
    reviews: list[PointReview] = []
    for result in transcript.results:
        verdicts: list[tuple[str, Verdict]] = []
        if result.status == "answered":
            grade = grades.get(result.question_id)
            if grade is not None:  # no grade (the model failed): nothing is known
                verdicts = [(v.key_point_id, v.verdict) for v in grade.key_points]
        elif result.status == "skipped":
            ids: list[str] = []
            if bank is not None and bank.id == transcript.bank.id:
                try:
                    ids = [p.id for p in bank.question(result.question_id).key_points]
                except KeyError:
                    ids = []
            verdicts = [(point_id, "missing") for point_id in ids]
        reviews += [
            PointReview(
                transcript.session_id, at, transcript.bank.id, result.question_id, pid, verdict
            )
            for pid, verdict in verdicts
        ]
    return reviews


# ----------------------------------------------------------------------------- the memory


@dataclass
class PointMemory:
    """What the scheduler knows of one key point, and the counts a study plan reads."""

    bank_id: str
    question_id: str
    key_point_id: str
    card: Card
    reviews: int = 0
    misses: int = 0
    """Reviews rated Again (missed, or the question skipped)."""
    last_verdict: Verdict = "missing"
    last_reviewed: datetime | None = None
    last_missed: datetime | None = None
    since_missed: int = 0
    """Reviews since the last miss (all of them if it was never missed)."""

    @classmethod
    def new(cls, key: PointKey, at: datetime) -> PointMemory:
        return cls(*key, card=Card(card_id=_card_id(key), due=_utc(at)))

    @property
    def key(self) -> PointKey:
        return (self.bank_id, self.question_id, self.key_point_id)

    @property
    def due(self) -> datetime:
        return self.card.due

    @property
    def interval(self) -> timedelta:
        """How long the scheduler waits after the last review before asking again."""
        if self.card.last_review is None:
            return timedelta(0)
        return self.card.due - self.card.last_review

    def state(self, now: datetime) -> ReviewState:
        if self.card.due <= now:
            return "due"
        return "learned" if self.interval >= LEARNED_AFTER else "learning"

    def review(self, verdict: Verdict, at: datetime, schedule: Scheduler) -> None:
        self.card, _ = schedule.review_card(self.card, RATINGS[verdict], _utc(at))
        self.reviews += 1
        self.last_verdict = verdict
        self.last_reviewed = _utc(at)
        if verdict == "missing":
            self.misses += 1
            self.last_missed = _utc(at)
            self.since_missed = 0
        else:
            self.since_missed += 1

    def row(self) -> ReviewCardRow:
        assert self.last_reviewed is not None
        return ReviewCardRow(
            bank_id=self.bank_id,
            question_id=self.question_id,
            key_point_id=self.key_point_id,
            card_json=self.card.to_json(),
            due=self.card.due,
            reviews=self.reviews,
            misses=self.misses,
            last_verdict=self.last_verdict,
            last_reviewed_at=self.last_reviewed,
            last_missed_at=self.last_missed,
            since_missed=self.since_missed,
        )

    @classmethod
    def from_row(cls, row: ReviewCardRow) -> PointMemory:
        verdict: Verdict = row.last_verdict if row.last_verdict in RATINGS else "missing"  # type: ignore[assignment]
        return cls(
            row.bank_id,
            row.question_id,
            row.key_point_id,
            card=Card.from_json(row.card_json),
            reviews=row.reviews,
            misses=row.misses,
            last_verdict=verdict,
            last_reviewed=_utc(row.last_reviewed_at),
            last_missed=_utc(row.last_missed_at) if row.last_missed_at else None,
            since_missed=row.since_missed,
        )

    def same_as(self, other: PointMemory) -> bool:
        """The same state (for tests and checks: cards compare by their stored form)."""
        return self.row() == other.row()


@dataclass
class Memory:
    """Every key point's memory, and the sessions it was computed from."""

    points: dict[PointKey, PointMemory] = field(default_factory=dict)
    sessions: dict[str, datetime] = field(default_factory=dict)
    """Session id -> the time its verdicts count at."""

    def get(self, bank_id: str, question_id: str, key_point_id: str) -> PointMemory | None:
        return self.points.get((bank_id, question_id, key_point_id))

    def of_bank(self, bank: Bank) -> list[PointMemory]:
        """The points of ``bank`` that have a memory, in the bank's order (points it no
        longer has are left out)."""
        found = []
        for question in bank.questions:
            for point in question.key_points:
                memory = self.get(bank.id, question.id, point.id)
                if memory is not None:
                    found.append(memory)
        return found

    def by_point(self, bank_id: str) -> dict[tuple[str, str], PointMemory]:
        """(question id, key point id) -> memory, for one bank (what reports show)."""
        return {
            (m.question_id, m.key_point_id): m for m in self.points.values() if m.bank_id == bank_id
        }

    def same_as(self, other: Memory) -> bool:
        return (
            self.points.keys() == other.points.keys()
            and all(p.same_as(other.points[k]) for k, p in self.points.items())
            and self.sessions == other.sessions
        )


def replay(
    reviews: Iterable[PointReview],
    memory: Memory | None = None,
    schedule: Scheduler | None = None,
) -> Memory:
    """Apply ``reviews`` in time order (session id, then key, breaking ties) to ``memory``
    (default: an empty one); returns it."""
    memory = memory if memory is not None else Memory()
    schedule = schedule or scheduler()
    for review in sorted(reviews, key=lambda r: (r.at, r.session_id, r.key)):
        point = memory.points.get(review.key)
        if point is None:
            point = memory.points[review.key] = PointMemory.new(review.key, review.at)
        point.review(review.verdict, review.at, schedule)
        memory.sessions[review.session_id] = review.at
    return memory


def rebuild(transcripts: Iterable[tuple[Transcript, Bank | None]]) -> Memory:
    """The memory of these sessions, from nothing (each with its bank, for skipped points)."""
    memory = Memory()
    reviews: list[PointReview] = []
    for transcript, bank in transcripts:
        if transcript.status != "in_progress":
            memory.sessions[transcript.session_id] = review_time(transcript)
            reviews += session_reviews(transcript, bank)
    return replay(reviews, memory)


# ----------------------------------------------------------------------------- the store

BankFinder = Callable[[SessionSummary], Bank | None]
"""Where a stored session's bank is (the session layer knows: its folder, or the built-in)."""


def load_memory(store: SessionStore) -> Memory:
    """The memory as stored, without bringing it up to date (see :func:`sync_memory`)."""
    rows, sessions = store.review_memory()
    points = {(r.bank_id, r.question_id, r.key_point_id): PointMemory.from_row(r) for r in rows}
    return Memory(points, {sid: _utc(at) for sid, at in sessions.items()})


def _readable(
    store: SessionStore, summaries: Iterable[SessionSummary]
) -> list[tuple[Transcript, SessionSummary]]:
    """The transcripts of ``summaries`` that can be read (a damaged one holds no verdicts)."""
    found = []
    for summary in summaries:
        with contextlib.suppress(DamagedRowError):
            found.append((store.load_transcript(summary.id), summary))
    return found


def sync_memory(store: SessionStore, bank_for: BankFinder) -> Memory:
    """The memory of every finished session in ``store``, brought up to date and saved (when
    the store can write: a read-only one gets it computed each time).

    Sessions finished since the last sync are applied on top when each is newer than all
    the memory holds; anything else (an older session finished late, a held session gone or
    regraded, see :func:`forget_memory`) rebuilds it from all sessions."""
    held = load_memory(store)
    was_held = list(held.sessions)  # a save checks no other process changed it meanwhile
    finished = [s for s in store.list_sessions(check=False) if s.finished]
    ids = {s.id for s in finished}
    new = [s for s in finished if s.id not in held.sessions]
    if not new and set(held.sessions) <= ids:
        return held
    banks: dict[tuple[str, str | None], Bank | None] = {}

    def bank_of(summary: SessionSummary) -> Bank | None:
        key = (summary.bank_id, summary.bank_path)
        if key not in banks:
            banks[key] = bank_for(summary)
        return banks[key]

    loaded = _readable(store, new)
    newest_held = max(((at, sid) for sid, at in held.sessions.items()), default=None)
    incremental = set(held.sessions) <= ids and all(
        newest_held is None or (review_time(t), t.session_id) > newest_held for t, _ in loaded
    )
    if incremental:
        reviews = [r for t, s in loaded for r in session_reviews(t, bank_of(s))]
        before = {k: p.row() for k, p in held.points.items()}
        for t, _ in loaded:
            held.sessions[t.session_id] = review_time(t)
        replay(reviews, held)
        changed = [p.row() for k, p in held.points.items() if before.get(k) != p.row()]
        with contextlib.suppress(StoreError):  # a store that cannot write: computed, not kept
            store.save_review_memory(
                changed,
                {t.session_id: review_time(t) for t, _ in loaded},
                replace=False,
                held=was_held,
            )
        return held
    everything = [(t, bank_of(s)) for t, s in _readable(store, finished)]
    memory = rebuild(everything)
    with contextlib.suppress(StoreError):
        store.save_review_memory(
            [p.row() for p in memory.points.values()],
            memory.sessions,
            replace=True,
            held=was_held,
        )
    return memory


def forget_memory(store: SessionStore) -> None:
    """Drop the stored memory (a regrade changed verdicts it holds); the next
    :func:`sync_memory` rebuilds it from the sessions."""
    store.clear_review_memory()


__all__ = [
    "LEARNED_AFTER",
    "RATINGS",
    "BankFinder",
    "Memory",
    "PointKey",
    "PointMemory",
    "PointReview",
    "ReviewState",
    "forget_memory",
    "latest_grades",
    "load_memory",
    "rebuild",
    "replay",
    "review_time",
    "scheduler",
    "session_reviews",
    "sync_memory",
]
