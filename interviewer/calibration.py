"""The calibration set and the grader self-test (``interviewer calibrate``).

A bank may carry ``calibration/<question-id>.toml`` files: answers labelled by hand, each with
the verdict a careful interviewer gives every key point (``covered`` and ``partial`` list the
points; every other point is expected missing) and a class (strong, partial, confidently wrong,
a known misconception, off topic, gibberish, "I don't know", an attempt to instruct the grader).

:func:`run_calibration` grades every labelled answer the way the interview does (screen, then
prefilter or grader) and measures agreement per key point and per class, whether scores order
strong > partial > wrong for every question, whether answers with nothing in them stay near
zero, and whether every quote is really in the answer. :func:`fit_thresholds` searches the
evidence signal's thresholds on the same set.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from interviewer.bank.loader import BankError, BankProblem, _problems_from, _read_toml
from interviewer.bank.models import Bank, Question
from interviewer.config import CalibrationTargets, EvidenceThresholds
from interviewer.engine.evidence import EvidenceGrader, sentence_signal, verdict_for
from interviewer.engine.grading import Grader, grade_answers
from interviewer.engine.prefilter import screen
from interviewer.transcript import VERDICT_CREDIT, VERDICT_RANK, Grade, Verdict

CALIBRATION_DIR = "calibration"

AnswerClass = Literal[
    "strong",
    "partial",
    "wrong",
    "misconception",
    "off_topic",
    "gibberish",
    "dont_know",
    "injection",
]
NULL_CLASSES: tuple[AnswerClass, ...] = ("gibberish", "dont_know", "injection")
"""Answers with nothing in them: any grader must score them near zero."""
WRONG_CLASSES: tuple[AnswerClass, ...] = ("wrong", "misconception")


class LabelledAnswer(BaseModel):
    """One hand-labelled answer."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    answer_class: AnswerClass = Field(alias="class")
    text: str
    covered: list[str] = Field(default_factory=list)
    """Key points the answer states fully."""
    partial: list[str] = Field(default_factory=list)
    """Key points it touches incompletely; every other point is expected missing."""
    note: str = ""

    @model_validator(mode="after")
    def _disjoint(self) -> LabelledAnswer:
        both = set(self.covered) & set(self.partial)
        if both:
            raise ValueError(f"{sorted(both)} listed as both covered and partial")
        return self

    def expected(self, question: Question) -> dict[str, Verdict]:
        return {
            p.id: "covered"
            if p.id in self.covered
            else "partial"
            if p.id in self.partial
            else "missing"
            for p in question.key_points
        }


class CalibrationFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question_id: str
    answers: list[LabelledAnswer] = Field(min_length=1)


@dataclass(frozen=True)
class CalibrationSet:
    question: Question
    answers: tuple[LabelledAnswer, ...]


def load_calibration(bank: Bank, directory: Path | None = None) -> list[CalibrationSet]:
    """The bank's labelled answers, in bank order; every problem reported as file: field: msg."""
    root = directory or (bank.path / CALIBRATION_DIR if bank.path else None)
    if root is None or not root.is_dir():
        raise BankError(
            [
                BankProblem(
                    str(root or CALIBRATION_DIR),
                    "(directory)",
                    "no calibration set: add calibration/<question-id>.toml files with labelled "
                    "answers to the bank (see knowledge/calibration/ for the format)",
                )
            ]
        )
    problems: list[BankProblem] = []
    sets: dict[str, CalibrationSet] = {}
    for path in sorted(root.glob("*.toml")):
        label = str(path)
        raw = _read_toml(path, label, problems)
        if raw is None:
            continue
        try:
            parsed = CalibrationFile.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_problems_from(exc, label, CalibrationFile))
            continue
        try:
            question = bank.question(parsed.question_id)
        except KeyError:
            problems.append(
                BankProblem(
                    label,
                    "question_id",
                    f"'{parsed.question_id}' is not a question of the bank '{bank.id}'",
                )
            )
            continue
        ids = set(question.key_points_by_id)
        seen: set[str] = set()
        for index, answer in enumerate(parsed.answers):
            if answer.id in seen:
                problems.append(
                    BankProblem(label, f"answers[{index}].id", f"duplicate id '{answer.id}'")
                )
            seen.add(answer.id)
            for name in ("covered", "partial"):
                unknown = [p for p in getattr(answer, name) if p not in ids]
                if unknown:
                    problems.append(
                        BankProblem(
                            label,
                            f"answers[{index}].{name}",
                            f"unknown key point ids {unknown}; the question has {sorted(ids)}",
                        )
                    )
        sets[question.id] = CalibrationSet(question, tuple(parsed.answers))
    if problems:
        raise BankError(problems)
    if not sets:
        raise BankError([BankProblem(str(root), "(directory)", "holds no .toml files")])
    return [sets[q.id] for q in bank.questions if q.id in sets]


def in_order(scores: dict[str, list[float]]) -> bool:
    """Mean scores per class order strong > partial > wrong (with misconception); a class
    without answers is left out of the chain."""
    groups = (["strong"], ["partial"], list(WRONG_CLASSES))
    means = []
    for classes in groups:
        values = [v for c in classes for v in scores.get(c, [])]
        if values:
            means.append(sum(values) / len(values))
    return all(a > b for a, b in itertools.pairwise(means))


@dataclass
class AnswerOutcome:
    question_id: str
    answer_id: str
    answer_class: AnswerClass
    expected: dict[str, Verdict]
    grade: Grade | None
    error: str | None
    text: str

    @property
    def score(self) -> float:
        return self.grade.score if self.grade is not None else 0.0

    @property
    def verdicts(self) -> dict[str, Verdict]:
        if self.grade is None:
            return {point: "missing" for point in self.expected}
        given = {v.key_point_id: v.verdict for v in self.grade.key_points}
        return {point: given.get(point, "missing") for point in self.expected}


@dataclass
class CalibrationReport:
    grader: str
    outcomes: list[AnswerOutcome]
    targets: CalibrationTargets
    weights: dict[tuple[str, str], float] = field(default_factory=dict)

    def _pairs(self) -> list[tuple[AnswerOutcome, str, Verdict, Verdict]]:
        return [
            (o, point, expected, o.verdicts[point])
            for o in self.outcomes
            for point, expected in o.expected.items()
        ]

    @property
    def agreement(self) -> float:
        pairs = self._pairs()
        return sum(e == g for _, _, e, g in pairs) / len(pairs) if pairs else 0.0

    def agreement_by(self, key: Callable[[AnswerOutcome, str], str]) -> dict[str, float]:
        hits: dict[str, list[bool]] = defaultdict(list)
        for outcome, point, expected, given in self._pairs():
            hits[key(outcome, point)].append(expected == given)
        return {k: sum(v) / len(v) for k, v in hits.items()}

    def mean_scores(self) -> dict[str, dict[str, float]]:
        """Mean score per question and class."""
        scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for o in self.outcomes:
            scores[o.question_id][o.answer_class].append(o.score)
        return {
            q: {c: sum(v) / len(v) for c, v in by_class.items()} for q, by_class in scores.items()
        }

    def ordering(self) -> dict[str, bool]:
        """Per question: mean strong > mean partial > mean of wrong and misconception."""
        result: dict[str, bool] = {}
        for question_id in dict.fromkeys(o.question_id for o in self.outcomes):
            by_class: dict[str, list[float]] = defaultdict(list)
            for o in self.outcomes:
                if o.question_id == question_id:
                    by_class[o.answer_class].append(o.score)
            result[question_id] = in_order(by_class)
        return result

    def null_outcomes(self) -> list[AnswerOutcome]:
        return [o for o in self.outcomes if o.answer_class in NULL_CLASSES]

    def null_failures(self) -> list[AnswerOutcome]:
        return [o for o in self.null_outcomes() if o.score > self.targets.max_null_score]

    def unverified_quotes(self) -> list[tuple[AnswerOutcome, str]]:
        """Verdicts quoting words that are not in the answer (must be none)."""
        found = []
        for o in self.outcomes:
            if o.grade is None:
                continue
            said = " ".join(o.text.lower().split())
            for v in o.grade.key_points:
                quote = " ".join(v.evidence.lower().split())
                if quote and quote not in said:
                    found.append((o, v.key_point_id))
        return found

    def downgraded(self) -> int:
        """Verdicts lowered because their quote was not in the answer."""
        return sum(
            "[downgraded:" in v.rationale
            for o in self.outcomes
            if o.grade is not None
            for v in o.grade.key_points
        )

    def uncertain(self) -> int:
        return sum(
            v.uncertain for o in self.outcomes if o.grade is not None for v in o.grade.key_points
        )

    def disagreements(self, limit: int = 10) -> list[tuple[AnswerOutcome, str, Verdict, Verdict]]:
        """The worst mismatches: two levels apart first, then the heaviest points."""
        wrong = [p for p in self._pairs() if p[2] != p[3]]
        wrong.sort(
            key=lambda p: (
                -abs(VERDICT_RANK[p[2]] - VERDICT_RANK[p[3]]),
                -self.weights.get((p[0].question_id, p[1]), 1.0),
            )
        )
        return wrong[:limit]

    def failures(self) -> list[str]:
        """Why the grader falls short of the targets (empty when it passes)."""
        problems = []
        if self.agreement < self.targets.min_agreement:
            problems.append(
                f"key-point agreement {self.agreement:.1%} is below "
                f"{self.targets.min_agreement:.0%}"
            )
        if self.targets.require_ordering:
            broken = [q for q, ok in self.ordering().items() if not ok]
            if broken:
                problems.append(f"scores do not order strong > partial > wrong for {broken}")
        nulls = self.null_failures()
        if nulls:
            problems.append(
                f"{len(nulls)} empty-content answers score above "
                f"{self.targets.max_null_score:.0%}: "
                + ", ".join(f"{o.question_id}/{o.answer_id}" for o in nulls)
            )
        unverified = self.unverified_quotes()
        if unverified:
            problems.append(f"{len(unverified)} credited verdicts quote words not in the answer")
        errors = [o for o in self.outcomes if o.error]
        if errors:
            problems.append(f"{len(errors)} answers could not be graded")
        return problems


def run_calibration(
    sets: Sequence[CalibrationSet],
    grader: Grader,
    targets: CalibrationTargets | None = None,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> CalibrationReport:
    """Grade every labelled answer as the interview would, and compare with the labels."""
    from interviewer.llm.base import GenerationCancelled, ModelError

    total = sum(len(s.answers) for s in sets)
    outcomes: list[AnswerOutcome] = []
    weights: dict[tuple[str, str], float] = {}
    done = 0
    for calibration in sets:
        question = calibration.question
        for point in question.key_points:
            weights[(question.id, point.id)] = point.weight
        for answer in calibration.answers:
            if on_progress is not None:
                on_progress(done, total, f"{question.id}/{answer.id}")
            grade: Grade | None = None
            error: str | None = None
            try:
                grade = grade_answers(question, [answer.text], grader, cancel)
            except GenerationCancelled:
                raise
            except ModelError as exc:
                error = exc.describe()
            outcomes.append(
                AnswerOutcome(
                    question_id=question.id,
                    answer_id=answer.id,
                    answer_class=answer.answer_class,
                    expected=answer.expected(question),
                    grade=grade,
                    error=error,
                    text=answer.text,
                )
            )
            done += 1
    if on_progress is not None:
        on_progress(done, total, "done")
    return CalibrationReport(
        grader=grader.name,
        outcomes=outcomes,
        targets=targets or CalibrationTargets(),
        weights=weights,
    )


def fit_thresholds(
    sets: Sequence[CalibrationSet], grader: EvidenceGrader, targets: CalibrationTargets
) -> tuple[EvidenceThresholds, float]:
    """The evidence thresholds with the best key-point agreement on ``sets`` (among those that
    keep the ordering for every question), and that agreement.

    Each answer's sentences are embedded once; the grid search is arithmetic on the cached
    similarities. Keep the grid coarse: a calibration set of a few dozen answers cannot pin
    thresholds down finer than a few hundredths.
    """
    best: tuple[float, EvidenceThresholds] | None = None
    base = grader.thresholds
    for misconception in (0.6, 0.65, 0.7, 0.75, 0.8, 1.0):
        probe = EvidenceGrader(
            grader.embedder, base.model_copy(update={"misconception": misconception})
        )
        samples: list[tuple[Question, LabelledAnswer, list[list[tuple[float, int]]] | None]] = []
        for calibration in sets:
            for answer in calibration.answers:
                screened = screen(answer.text, calibration.question)  # as grade_answers does
                table = (
                    None
                    if screened.reason is not None
                    else probe.similarities(calibration.question, [screened.text])
                )
                samples.append((calibration.question, answer, table))
        for bonus in (0.0, 0.04, 0.08, 0.12):
            for covered in [round(0.40 + 0.02 * i, 2) for i in range(21)]:
                for partial in [round(0.26 + 0.02 * i, 2) for i in range(21)]:
                    if partial >= covered:
                        continue
                    trial = probe.thresholds.model_copy(
                        update={"covered": covered, "partial": partial, "keyword_bonus": bonus}
                    )
                    agreement, ordered = _score_trial(samples, trial)
                    if targets.require_ordering and not ordered:
                        continue
                    if best is None or agreement > best[0] + 1e-9:
                        best = (agreement, trial)
    if best is None:
        return base, 0.0
    return best[1], best[0]


def _score_trial(
    samples: list[tuple[Question, LabelledAnswer, list[list[tuple[float, int]]] | None]],
    thresholds: EvidenceThresholds,
) -> tuple[float, bool]:
    matches = total = 0
    by_question: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for question, answer, table in samples:
        expected = answer.expected(question)
        earned = 0.0
        for index, point in enumerate(question.key_points):
            verdict: Verdict = "missing"
            if table is not None:
                signal = max(
                    (sentence_signal(sim, hits, thresholds) for sim, hits in table[index]),
                    default=0.0,
                )
                verdict = verdict_for(signal, thresholds)
            matches += verdict == expected[point.id]
            total += 1
            earned += point.weight * VERDICT_CREDIT[verdict]
        by_question[question.id][answer.answer_class].append(earned / question.total_weight)
    ordered = all(in_order(by_class) for by_class in by_question.values())
    return (matches / total if total else 0.0), ordered
