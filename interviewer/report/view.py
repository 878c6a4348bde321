"""What a report shows, computed once from a transcript and its bank for every format.

The bank supplies the key point statements, the reference answers and the sources. It may be
missing (the folder moved) or changed since the session: the report then says so and falls back
on what the transcript itself holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from interviewer.bank.models import Bank, KeyPoint, Question
from interviewer.engine.grading import verdict_changes
from interviewer.engine.prefilter import PREFILTER_REASONS
from interviewer.review.memory import Memory, PointMemory
from interviewer.textutil import shown_name
from interviewer.transcript import (
    VERDICT_WORDS,
    Grade,
    KeyPointGrade,
    QuestionResult,
    Regrade,
    Retake,
    SpeechStats,
    Transcript,
    Turn,
    time_spent,
)

STATUS_WORDS = {
    "finished": "finished",
    "ended_early": "ended early",
    "in_progress": "not finished (resumable)",
}


@dataclass(frozen=True)
class KeyPointView:
    id: str
    statement: str
    weight: float | None
    verdict: str
    rationale: str
    evidence: str
    doubt: str = ""
    """Why the verdict is uncertain ("" when it is not): the model's confidence and the
    model-free signal's verdict, where known."""
    closest: str = ""
    """A missed point: what the candidate said that came closest (verbatim), if anything."""
    lacking: list[str] = field(default_factory=list)
    """A missed point: its facts that the closest sentence does not show."""
    review: str = ""
    """The point's review state now in words (due, learning, learned, with the next review
    date); "" when the report is made without the review memory."""
    review_state: str = ""
    """due, learning, learned, or "new" (not reviewed yet); "" without the memory."""


@dataclass(frozen=True)
class RetakeView:
    """A fresh attempt at a question (``/retry``), against the attempt before it."""

    number: int
    retake: Retake
    turns: list[Turn]
    key_points: list[KeyPointView]
    score_before: float
    changes: list[tuple[str, str, str, str]]
    """(key point statement, verdict before, verdict now, the new quote) per changed point."""

    def by_verdict(self, verdict: str) -> list[KeyPointView]:
        return [k for k in self.key_points if k.verdict == verdict]


@dataclass(frozen=True)
class RegradeChange:
    """How one regrade changed one question."""

    label: str
    score_before: float
    score_after: float
    grading_error: str | None
    verdicts: list[tuple[str, str, str]]
    """(key point statement, verdict before, verdict after) for each verdict that changed."""


@dataclass(frozen=True)
class QuestionView:
    number: int
    result: QuestionResult
    question_text: str
    turns: list[Turn]
    key_points: list[KeyPointView]
    reference_answer: str | None
    sources: list[str]
    rubric_note: str | None
    """Set when the bank's current rubric is not the one that graded this question."""
    regrades: list[RegradeChange] = field(default_factory=list)
    retakes: list[RetakeView] = field(default_factory=list)
    """Later attempts (``turns`` holds the first attempt's conversation only)."""
    seconds: float = 0.0
    """Time spent on the question (every reply, retakes included)."""

    def by_verdict(self, verdict: str) -> list[KeyPointView]:
        return [k for k in self.key_points if k.verdict == verdict]

    @property
    def speech(self) -> list[SpeechStats]:
        """How each spoken reply of the first attempt was said."""
        return [t.delivery.speech for t in self.turns if t.delivery and t.delivery.speech]

    @property
    def time_line(self) -> str:
        """ "1:23", with the limit and what the clock did."""
        line = clock_time(self.seconds)
        replies = [t.delivery for t in self.turns if t.delivery is not None]
        limit = next((d.time_limit_seconds for d in replies if d.time_limit_seconds), None)
        if limit:
            line += f" (limit {clock_time(limit)}"
            if any(d.sent_by_clock for d in replies):
                line += "; time ran out and what was in the box was sent"
            over = max((d.overrun_seconds for d in replies), default=0.0)
            if over:
                line += f"; {clock_time(over)} over"
            line += ")"
        return line

    @property
    def screened_out(self) -> str | None:
        """Why the answer scored 0 without grading, in words (None when it was graded)."""
        grade = self.result.grade
        if grade is None or grade.prefilter_reason is None:
            return None
        return PREFILTER_REASONS.get(grade.prefilter_reason, grade.prefilter_reason)

    @property
    def ignored(self) -> list[str]:
        """Sentences cut out of the answer as instructions to the grader."""
        return list(self.result.grade.ignored) if self.result.grade is not None else []


@dataclass(frozen=True)
class ReportView:
    transcript: Transcript
    questions: list[QuestionView]
    bank_note: str | None
    regrade_labels: list[str]
    review_counts: dict[str, int] = field(default_factory=dict)
    """With the review memory: how many of this session's key points are due, learning and
    learned now (empty without it)."""

    @property
    def status(self) -> str:
        return STATUS_WORDS[self.transcript.status]

    @property
    def model_line(self) -> str:
        info = self.transcript.model
        extras = [info.backend]
        if info.base_url:
            extras.append(f"server {info.base_url}")
        if info.revision:
            extras.append(f"revision {info.revision}")
        if info.quantization:
            extras.append(info.quantization)
        return f"{shown_name(info.model_id)} ({', '.join(extras)})"

    @property
    def confidence_line(self) -> str | None:
        """Whether the model's verdicts carry its confidence, in words; None when no model
        graded (the evidence signal, or nothing graded)."""
        verdicts = [
            v
            for r in self.transcript.results
            if r.grade is not None and r.grade.grader.startswith("llm:")
            for v in r.grade.key_points
        ]
        if not verdicts:
            return None
        known = sum(v.confidence is not None for v in verdicts)
        if known == len(verdicts):
            return "the grading model's probability for each verdict (a low one is flagged)"
        if known == 0:
            return (
                "not available: the model's backend returned no token probabilities, so no "
                "verdict is flagged for the model's doubt"
            )
        return (
            f"known for {known} of {len(verdicts)} verdicts (for the rest the backend returned "
            "no token probabilities)"
        )


def regrade_label(number: int, regrade: Regrade) -> str:
    return f"regrade {number} ({shown_name(regrade.grader)}, {regrade.regraded_at:%Y-%m-%d %H:%M})"


def review_words(memory: PointMemory, now: datetime) -> str:
    """A key point's review state in words: due (since when), learning or learned (next
    review on a date)."""
    state = memory.state(now)
    when = memory.due.astimezone(now.tzinfo)
    if state == "due":
        return f"due (since {when:%Y-%m-%d})"
    return f"{state} (next review {when:%Y-%m-%d})"


def build_view(
    transcript: Transcript,
    bank: Bank | None,
    memory: Memory | None = None,
    now: datetime | None = None,
) -> ReportView:
    """``memory`` (with ``now``): each key point's review state is shown too."""
    bank_note = None
    if bank is None:
        bank_note = (
            f"The bank '{transcript.bank.id}' was not found: key points are shown by id, "
            "without reference answers."
        )
    elif bank.id != transcript.bank.id:
        bank_note = f"The bank given is '{bank.id}', not the session's '{transcript.bank.id}'."
        bank = None
    labels = [regrade_label(i + 1, r) for i, r in enumerate(transcript.regrades)]
    states: dict[tuple[str, str], PointMemory] | None = None
    moment = now or datetime.now().astimezone()
    if memory is not None:
        states = memory.by_point(transcript.bank.id)
    questions = []
    for number, result in enumerate(transcript.results, start=1):
        question: Question | None = None
        if bank is not None:
            try:
                question = bank.question(result.question_id)
            except KeyError:
                question = None
        review: dict[str, tuple[str, str]] | None = None
        if states is not None:
            review = {
                pid: (m.state(moment), review_words(m, moment))
                for (qid, pid), m in states.items()
                if qid == result.question_id
            }
        questions.append(_question_view(number, result, question, transcript, labels, review))
    counts: dict[str, int] = {}
    for q in questions:
        for kp in q.key_points:
            if kp.review_state:
                counts[kp.review_state] = counts.get(kp.review_state, 0) + 1
    return ReportView(
        transcript=transcript,
        questions=questions,
        bank_note=bank_note,
        regrade_labels=labels,
        review_counts=counts,
    )


def _key_points(
    grade: Grade | None,
    points: dict[str, KeyPoint],
    review: dict[str, tuple[str, str]] | None,
) -> list[KeyPointView]:
    views = []
    for verdict in grade.key_points if grade is not None else []:
        point = points.get(verdict.key_point_id)
        state, words = ("", "")
        if review is not None:
            state, words = review.get(verdict.key_point_id, ("new", "not reviewed yet"))
        views.append(
            KeyPointView(
                id=verdict.key_point_id,
                statement=point.statement if point else verdict.key_point_id,
                weight=point.weight if point else None,
                verdict=verdict.verdict,
                rationale=verdict.rationale,
                evidence=verdict.evidence,
                doubt=_doubt(verdict),
                closest=verdict.closest if verdict.verdict == "missing" else "",
                lacking=list(verdict.lacking) if verdict.verdict == "missing" else [],
                review=words,
                review_state=state,
            )
        )
    return views


def _retake_views(
    result: QuestionResult, turns: list[Turn], points: dict[str, KeyPoint]
) -> list[RetakeView]:
    views = []
    before_grade, before_score = result.grade, result.score
    for number, retake in enumerate(result.retakes, start=1):
        end = result.retakes[number].first_turn if number < len(result.retakes) else None
        changes = [
            (
                points[pid].statement if pid in points else pid,
                VERDICT_WORDS[was] if was else "not graded",
                VERDICT_WORDS[now.verdict] if now else "not graded",
                now.evidence if now else "",
            )
            for pid, was, now in verdict_changes(before_grade, retake.grade)
        ]
        views.append(
            RetakeView(
                number=number,
                retake=retake,
                turns=[
                    t
                    for t in turns
                    if t.index >= retake.first_turn and (end is None or t.index < end)
                ],
                key_points=_key_points(retake.grade, points, None),
                score_before=before_score,
                changes=changes,
            )
        )
        before_grade, before_score = retake.grade, retake.score
    return views


def _question_view(
    number: int,
    result: QuestionResult,
    question: Question | None,
    transcript: Transcript,
    labels: list[str],
    review: dict[str, tuple[str, str]] | None = None,
) -> QuestionView:
    every = [t for t in transcript.turns if t.question_id == result.question_id]
    first_end = result.retakes[0].first_turn if result.retakes else None
    turns = [t for t in every if first_end is None or t.index < first_end]
    asked = next((t.text for t in turns if t.kind == "question"), None)
    points = question.key_points_by_id if question is not None else {}
    key_points = _key_points(result.grade, points, review)
    note = None
    if question is None:
        note = "This question is not in the bank any more: key points are shown by id."
    elif question.rubric_hash != result.rubric_hash:
        note = (
            f"The bank's rubric for this question changed since it was graded (graded with "
            f"rubric {result.rubric_hash}, now {question.rubric_hash}); statements and the "
            "reference answer are the current ones."
        )
    changes = []
    before = {v.key_point_id: v.verdict for v in (result.grade.key_points if result.grade else [])}
    for label, regrade in zip(labels, transcript.regrades, strict=True):
        redone = next((r for r in regrade.results if r.question_id == result.question_id), None)
        if redone is None:
            continue
        after = {
            v.key_point_id: v.verdict for v in (redone.grade.key_points if redone.grade else [])
        }
        changed = [
            (
                points[kp].statement if kp in points else kp,
                VERDICT_WORDS.get(before.get(kp, ""), "not graded"),
                VERDICT_WORDS.get(after.get(kp, ""), "not graded"),
            )
            for kp in list(dict.fromkeys([*before, *after]))
            if before.get(kp) != after.get(kp)
        ]
        changes.append(
            RegradeChange(
                label=label,
                score_before=result.score,
                score_after=redone.score,
                grading_error=redone.grading_error,
                verdicts=changed,
            )
        )
    return QuestionView(
        number=number,
        result=result,
        question_text=asked or (question.question if question else result.title),
        turns=turns,
        key_points=key_points,
        reference_answer=question.reference_answer if question else None,
        sources=list(question.sources) if question else [],
        rubric_note=note,
        regrades=changes,
        retakes=_retake_views(result, every, points),
        seconds=time_spent(transcript).get(result.question_id, 0.0),
    )


def clock_time(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def speaker(turn: Turn) -> str:
    return "Interviewer" if turn.role == "interviewer" else "You"


def percent(score: float) -> str:
    return f"{score * 100:.0f}%"


def _doubt(verdict: KeyPointGrade) -> str:
    if not verdict.uncertain:
        return ""
    reasons = []
    if verdict.confidence is not None:
        reasons.append(f"model confidence {verdict.confidence:.0%}")
    if verdict.cross_check is not None and verdict.cross_check != verdict.verdict:
        reasons.append(f"the evidence signal says {verdict.cross_check}")
    return "uncertain" + (f" ({', '.join(reasons)})" if reasons else "")
