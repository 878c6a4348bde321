"""Progress over time: per session, per question and per key point, as text tables and charts.

Computed from stored transcripts (the interview's own grades; regrades are not mixed in). A
question counts in a session once it was reached (answered or skipped); a key point counts each
time its question was graded, so the table shows which points this candidate keeps missing.
With the review memory (:mod:`interviewer.review`), each key point's review state follows: due,
learning or learned, its next review and its interval.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from interviewer.bank.models import Bank
from interviewer.review.memory import LEARNED_AFTER, Memory
from interviewer.transcript import Transcript

_SPARK = "▁▂▃▄▅▆▇█"

if TYPE_CHECKING:
    from interviewer.store.rows import SessionSummary


@dataclass
class QuestionProgress:
    question_id: str
    title: str
    scores: list[float] = field(default_factory=list)
    """One score per session that reached the question, oldest first."""


@dataclass
class KeyPointRecord:
    question_id: str
    key_point_id: str
    covered: int = 0
    partial: int = 0
    missed: int = 0

    @property
    def graded(self) -> int:
        return self.covered + self.partial + self.missed

    @property
    def miss_rate(self) -> float:
        """Share of the weight not earned: missed counts 1, partial 0.5."""
        return (self.missed + 0.5 * self.partial) / self.graded if self.graded else 0.0


@dataclass
class BankStats:
    bank_id: str
    bank_title: str
    sessions: list[tuple[str, datetime, float, str]] = field(default_factory=list)
    """(session id, started at, score, status), oldest first."""
    questions: dict[str, QuestionProgress] = field(default_factory=dict)
    key_points: dict[tuple[str, str], KeyPointRecord] = field(default_factory=dict)
    speech: list[SessionSpeech] = field(default_factory=list)
    """How the candidate spoke, per session that had spoken replies, oldest first."""


@dataclass
class SessionSpeech:
    """A session's spoken replies, together."""

    session_id: str
    started: datetime
    replies: int = 0
    seconds: float = 0.0
    words: int = 0
    fillers: int = 0
    longest_pause: float = 0.0

    @property
    def words_per_minute(self) -> float:
        return self.words / self.seconds * 60 if self.seconds else 0.0

    @property
    def fillers_per_minute(self) -> float:
        return self.fillers / self.seconds * 60 if self.seconds else 0.0


def _session_speech(t: Transcript) -> SessionSpeech | None:
    spoken = [turn.delivery.speech for turn in t.turns if turn.delivery and turn.delivery.speech]
    if not spoken:
        return None
    return SessionSpeech(
        t.session_id,
        t.started_at,
        replies=len(spoken),
        seconds=sum(s.speaking_seconds for s in spoken),
        words=sum(s.words for s in spoken),
        fillers=sum(s.filler_count for s in spoken),
        longest_pause=max(s.longest_pause_seconds for s in spoken),
    )


def session_stats(transcripts: Sequence[Transcript]) -> list[BankStats]:
    """Progress per bank, from transcripts in any order."""
    by_bank: dict[str, BankStats] = {}
    for t in sorted(transcripts, key=lambda t: (t.started_at, t.session_id)):
        stats = by_bank.setdefault(t.bank.id, BankStats(t.bank.id, t.bank.title))
        stats.sessions.append((t.session_id, t.started_at, t.score, t.status))
        speech = _session_speech(t)
        if speech is not None:
            stats.speech.append(speech)
        for r in t.results:
            if r.status == "not_reached":
                continue
            progress = stats.questions.setdefault(
                r.question_id, QuestionProgress(r.question_id, r.title)
            )
            progress.scores.append(r.score)
            if r.grade is None:
                continue
            for verdict in r.grade.key_points:
                record = stats.key_points.setdefault(
                    (r.question_id, verdict.key_point_id),
                    KeyPointRecord(r.question_id, verdict.key_point_id),
                )
                if verdict.verdict == "covered":
                    record.covered += 1
                elif verdict.verdict == "partial":
                    record.partial += 1
                else:
                    record.missed += 1
    return list(by_bank.values())


def sparkline(values: Sequence[float]) -> str:
    return "".join(_SPARK[min(int(v * len(_SPARK)), len(_SPARK) - 1)] for v in values)


def bar(value: float, width: int = 30) -> str:
    filled = round(value * width)
    return "█" * filled + "·" * (width - filled)


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render_review(memory: Memory, bank: Bank, now: datetime) -> list[str]:
    """Each key point's review state (due, learning, learned), next review and interval."""
    points = memory.of_bank(bank)
    out = [
        "",
        "Review state per key point (spaced repetition; `interviewer review` asks what is due)",
    ]
    if not points:
        return [*out, "  nothing reviewed yet: finish an interview first"]
    states = [m.state(now) for m in points]
    out.append(
        "  "
        + ", ".join(f"{states.count(s)} {s}" for s in ("due", "learning", "learned"))
        + f" (learned: an interval of {LEARNED_AFTER.days} days or more)"
    )
    rows = []
    for memory_point, state in zip(points, states, strict=True):
        due = memory_point.due.astimezone(now.tzinfo)
        rows.append(
            [
                f"{memory_point.question_id}/{memory_point.key_point_id}",
                state,
                "now" if state == "due" else f"{due:%Y-%m-%d}",
                f"{memory_point.interval.days}d",
                f"{memory_point.reviews}",
                f"{memory_point.misses}",
            ]
        )
    return out + [
        "  " + line
        for line in _table(
            ["key point", "state", "next review", "interval", "reviews", "missed"],
            rows,
            right={3, 4, 5},
        )
    ]


def render_stats(
    stats: BankStats,
    bank: Bank | None = None,
    *,
    top: int = 10,
    memory: Memory | None = None,
    now: datetime | None = None,
) -> str:
    """The text `interviewer stats` prints for one bank (with the review ``memory``, each key
    point's review state at ``now`` as well)."""
    out = [f"{stats.bank_title} ({stats.bank_id}): {len(stats.sessions)} session(s)", ""]
    out.append("Score per session")
    for session_id, started, score, status in stats.sessions:
        mark = "" if status == "finished" else f"  ({status.replace('_', ' ')})"
        out.append(
            f"  {started:%Y-%m-%d %H:%M}  {bar(score)}  {score * 100:3.0f}%  {session_id}{mark}"
        )
    out += ["", "Per question (oldest to newest)"]
    rows = []
    order = bank.question_ids if bank is not None else list(stats.questions)
    for qid in [*order, *(q for q in stats.questions if q not in order)]:
        progress = stats.questions.get(qid)
        if progress is None:
            continue
        s = progress.scores
        rows.append(
            [
                progress.title,
                str(len(s)),
                f"{s[0] * 100:.0f}%",
                f"{s[-1] * 100:.0f}%",
                f"{max(s) * 100:.0f}%",
                f"{sum(s) / len(s) * 100:.0f}%",
                sparkline(s),
            ]
        )
    out += [
        "  " + line
        for line in _table(
            ["question", "times", "first", "last", "best", "mean", "trend"],
            rows,
            right={1, 2, 3, 4, 5},
        )
    ]
    missed = sorted(
        (k for k in stats.key_points.values() if k.miss_rate > 0),
        key=lambda k: (-k.miss_rate, -k.graded, k.question_id, k.key_point_id),
    )[:top]
    out += ["", "Key points you keep missing (missed counts 1, partial 1/2)"]
    if not missed:
        out.append("  none: every graded key point was covered")
    krows = []
    for k in missed:
        statement = k.key_point_id
        if bank is not None:
            with contextlib.suppress(KeyError):
                statement = bank.question(k.question_id).key_point(k.key_point_id).statement
        if len(statement) > 70:
            statement = statement[:69] + "…"
        krows.append(
            [
                f"{k.question_id}/{k.key_point_id}",
                f"{k.missed}/{k.partial}/{k.covered}",
                f"{bar(k.miss_rate, 10)} {k.miss_rate * 100:.0f}%",
                statement,
            ]
        )
    if krows:
        out += [
            "  " + line
            for line in _table(
                ["key point", "missed/partial/covered", "miss rate", "statement"], krows, set()
            )
        ]
    out += render_speech(stats.speech)
    if memory is not None and bank is not None:
        out += render_review(memory, bank, now or datetime.now().astimezone())
    return "\n".join(out) + "\n"


def render_speech(sessions: Sequence[SessionSpeech]) -> list[str]:
    """How you spoke, session by session (nothing when no session was spoken)."""
    if not sessions:
        return []
    rows = [
        [
            f"{s.started:%Y-%m-%d %H:%M}",
            str(s.replies),
            f"{s.seconds:.0f} s",
            f"{s.words_per_minute:.0f}",
            f"{s.fillers_per_minute:.1f}",
            f"{s.longest_pause:.1f} s",
        ]
        for s in sessions
    ]
    out = ["", "How you spoke (spoken replies per session, oldest to newest)"]
    out += [
        "  " + line
        for line in _table(
            ["session", "replies", "speaking", "words/min", "fillers/min", "longest pause"],
            rows,
            right={1, 2, 3, 4, 5},
        )
    ]
    if len(sessions) > 1:
        first, last = sessions[0], sessions[-1]
        out.append(
            f"  since the first: {last.words_per_minute - first.words_per_minute:+.0f} words/min, "
            f"{last.fillers_per_minute - first.fillers_per_minute:+.1f} fillers/min"
        )
    return out


def sessions_table(summaries: Sequence[SessionSummary]) -> str:
    """`interviewer sessions` as text: one line per session, newest first."""
    rows = [
        [
            s.id,
            f"{s.started_at.astimezone():%Y-%m-%d %H:%M}",
            s.bank_id,
            s.mode,
            s.model_id,
            f"{s.score * 100:.0f}%",
            f"{s.answered}/{s.question_count}",
            {"in_progress": "unfinished", "ended_early": "ended early"}.get(s.status, s.status)
            + (f", {s.regrades} regrade(s)" if s.regrades else ""),
        ]
        for s in summaries
    ]
    header = ["session", "date", "bank", "mode", "model", "score", "answered", "status"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, ["-" * w for w in widths], *rows]
    )
