"""What a report shows, computed once from a transcript and its bank for every format.

The bank supplies the key point statements, the reference answers and the sources. It may be
missing (the folder moved) or changed since the session: the report then says so and falls back
on what the transcript itself holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from interviewer.bank.models import Bank, Question
from interviewer.engine.prefilter import PREFILTER_REASONS
from interviewer.textutil import shown_name
from interviewer.transcript import (
    VERDICT_WORDS,
    KeyPointGrade,
    QuestionResult,
    Regrade,
    Transcript,
    Turn,
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

    def by_verdict(self, verdict: str) -> list[KeyPointView]:
        return [k for k in self.key_points if k.verdict == verdict]

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

    @property
    def status(self) -> str:
        return STATUS_WORDS[self.transcript.status]

    @property
    def model_line(self) -> str:
        info = self.transcript.model
        extras = [info.backend]
        if info.revision:
            extras.append(f"revision {info.revision}")
        if info.quantization:
            extras.append(info.quantization)
        return f"{shown_name(info.model_id)} ({', '.join(extras)})"


def regrade_label(number: int, regrade: Regrade) -> str:
    return f"regrade {number} ({shown_name(regrade.grader)}, {regrade.regraded_at:%Y-%m-%d %H:%M})"


def build_view(transcript: Transcript, bank: Bank | None) -> ReportView:
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
    questions = []
    for number, result in enumerate(transcript.results, start=1):
        question: Question | None = None
        if bank is not None:
            try:
                question = bank.question(result.question_id)
            except KeyError:
                question = None
        questions.append(_question_view(number, result, question, transcript, labels))
    return ReportView(
        transcript=transcript, questions=questions, bank_note=bank_note, regrade_labels=labels
    )


def _question_view(
    number: int,
    result: QuestionResult,
    question: Question | None,
    transcript: Transcript,
    labels: list[str],
) -> QuestionView:
    turns = [t for t in transcript.turns if t.question_id == result.question_id]
    asked = next((t.text for t in turns if t.kind == "question"), None)
    points = question.key_points_by_id if question is not None else {}
    key_points = []
    if result.grade is not None:
        for verdict in result.grade.key_points:
            point = points.get(verdict.key_point_id)
            key_points.append(
                KeyPointView(
                    id=verdict.key_point_id,
                    statement=point.statement if point else verdict.key_point_id,
                    weight=point.weight if point else None,
                    verdict=verdict.verdict,
                    rationale=verdict.rationale,
                    evidence=verdict.evidence,
                    doubt=_doubt(verdict),
                )
            )
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
    )


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
