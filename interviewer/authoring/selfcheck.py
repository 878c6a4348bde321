"""``bank check --strict``: a bank checks itself with the model-free evidence signal.

A rubric is only as good as what the signal can read from it. Five things must hold for each
question, and each finding names the file, the key point and what to change:

1. the reference answer, graded as a candidate's answer would be, scores at least 90%;
2. each key point's own statement, said as an answer, covers that point;
3. no misconception's claim, said as an answer, earns a key point (the signal would reward the
   very belief it should catch);
4. the question does not contain a key point's keywords (asking would give the point away:
   every candidate would "use" them);
5. no two key points are the same to the signal (each one's statement covers the other).

The grader is the one an interview uses (:class:`~interviewer.engine.evidence.EvidenceGrader`,
with the embedding model where it is available, else keywords alone), and answers pass through
the same screen first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from interviewer.bank.models import Bank, Question
from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.grading import grader_view, score_verdicts
from interviewer.transcript import KeyPointGrade

REFERENCE_MIN = 0.9
"""The least a question's reference answer must score against its own key points."""


@dataclass(frozen=True)
class Finding:
    """One thing the evidence signal cannot use in a bank, and what to change."""

    file: str
    where: str
    """The field: ``key_points[2] (cold-start)``, ``misconceptions[0]``, ``reference_answer``."""
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def _quote(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _point(question: Question, index: int) -> str:
    return f"key_points[{index}] ({question.key_points[index].id})"


def _grade(grader: EvidenceGrader, question: Question, text: str) -> dict[str, KeyPointGrade]:
    answers = grader_view([text])
    verdicts = grader.grade(question, answers) if answers else []
    return {v.key_point_id: v for v in verdicts}


def _contains(haystack: str, term: str) -> bool:
    """Whole-word containment, as the evidence signal matches keywords."""
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", haystack) is not None


def prefetch(
    grader: EvidenceGrader, questions: Sequence[Question], answers: Sequence[str] = ()
) -> None:
    """:meth:`EvidenceGrader.prefetch` for the checks of ``questions``: they also grade each
    point's statement, each misconception's claim and the reference answer as answers."""
    said = list(answers)
    for question in questions:
        said += [point.statement for point in question.key_points]
        said += [misconception.claim for misconception in question.misconceptions]
        said.append(question.reference_answer)
    grader.prefetch(questions, grader_view(said))


def question_findings(question: Question, grader: EvidenceGrader, file: str) -> list[Finding]:
    """Everything the signal cannot use in ``question`` (see the module docstring)."""
    findings: list[Finding] = []
    points = question.key_points

    # Without the reference answer's own wording among the point texts: the answer would
    # match itself, and the check would say nothing about the statements and facts.
    plain = EvidenceGrader(
        grader.embedder, grader.thresholds.model_copy(update={"reference": False})
    )
    reference = _grade(plain, question, question.reference_answer)
    score = score_verdicts(question, list(reference.values()))
    if score < REFERENCE_MIN:
        for index, point in enumerate(points):
            verdict = reference.get(point.id)
            if verdict is None or verdict.verdict != "covered":
                shown = verdict.verdict if verdict is not None else "missing"
                findings.append(
                    Finding(
                        file,
                        _point(question, index),
                        f"the reference answer scores {score:.0%} (needs "
                        f"{REFERENCE_MIN:.0%}) and shows this point only as {shown}: add a "
                        "sentence on it to reference_answer, or word the point's statement and "
                        "facts the way the answer says it",
                    )
                )

    own = [_grade(grader, question, point.statement) for point in points]
    for index, point in enumerate(points):
        verdict = own[index].get(point.id)
        if verdict is None or verdict.verdict != "covered":
            findings.append(
                Finding(
                    file,
                    _point(question, index),
                    "its own statement, said as an answer, does not cover it "
                    f"({verdict.verdict if verdict else 'missing'}): say it in one plain "
                    "sentence, and check that no misconception's claim is close to it",
                )
            )

    for index, misconception in enumerate(question.misconceptions):
        earned = _grade(grader, question, misconception.claim)
        for p_index, point in enumerate(points):
            verdict = earned.get(point.id)
            if verdict is not None and verdict.verdict != "missing":
                findings.append(
                    Finding(
                        file,
                        f"misconceptions[{index}]",
                        f"its claim {_quote(misconception.claim)}, said as an answer, earns "
                        f"{_point(question, p_index)} ({verdict.verdict}): state the wrong "
                        "belief in words beyond the question's own, and make the correction "
                        "say clearly what is right instead",
                    )
                )

    asked = question.question.lower()
    for index, point in enumerate(points):
        for keyword in point.keywords:
            term = keyword.lower().strip()
            if term and _contains(asked, term):
                findings.append(
                    Finding(
                        file,
                        _point(question, index),
                        f"the keyword {keyword!r} is in the question, so every answer "
                        "repeats it: drop it, or use a term only a good answer would use",
                    )
                )

    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            a, b = points[i], points[j]
            a_covers_b = (v := own[i].get(b.id)) is not None and v.verdict == "covered"
            b_covers_a = (v := own[j].get(a.id)) is not None and v.verdict == "covered"
            if a_covers_b and b_covers_a:
                findings.append(
                    Finding(
                        file,
                        f"{_point(question, i)} and {_point(question, j)}",
                        "the signal cannot tell them apart (each one's statement covers "
                        "the other): merge them into one point, or give each a statement, "
                        "facts and keywords of its own",
                    )
                )
    return findings


def bank_findings(bank: Bank, grader: EvidenceGrader) -> list[Finding]:
    """Every finding of every question of ``bank``, in bank order."""
    prefetch(grader, bank.questions)
    root = bank.path or Path()
    return [
        finding
        for question in bank.questions
        for finding in question_findings(question, grader, str(root / f"{question.id}.toml"))
    ]


def findings_for(questions: Sequence[Question], grader: EvidenceGrader) -> dict[str, int]:
    """How many findings each question has (a draft with fewer is the better one)."""
    return {q.id: len(question_findings(q, grader, q.id)) for q in questions}
