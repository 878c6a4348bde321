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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from interviewer.bank.loader import BankError, BankProblem, _problems_from, _read_toml
from interviewer.bank.models import Bank, Question
from interviewer.config import CalibrationTargets, EvidenceThresholds
from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.grading import Grader, grade_answers
from interviewer.engine.prefilter import screen
from interviewer.transcript import VERDICT_RANK, Grade, Verdict

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
PROBED_FOLLOW_UPS = 2
"""Follow-ups per question that probe precision counts (the interview's default cap)."""
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
    questions: dict[str, Question] = field(default_factory=dict)

    def probes(self, follow_ups: int | None = PROBED_FOLLOW_UPS) -> tuple[int, int]:
        """Probe precision: of the key points the verdicts would send a follow-up to (the
        first ``follow_ups`` per answer in the interview's order, or all of them with None),
        on answers with content, how many the labels say are missing or partial; as (right,
        probed). A follow-up on a point the candidate already made re-asks what was said."""
        from interviewer.engine.questions import probe_order

        right = probed = 0
        for o in self.outcomes:
            question = self.questions.get(o.question_id)
            if o.answer_class in NULL_CLASSES or o.grade is None or question is None:
                continue
            order = probe_order(question, o.grade.key_points)
            for verdict in order if follow_ups is None else order[:follow_ups]:
                probed += 1
                right += o.expected.get(verdict.key_point_id) != "covered"
        return right, probed

    def probe_precision(self, follow_ups: int | None = PROBED_FOLLOW_UPS) -> float | None:
        right, probed = self.probes(follow_ups)
        return right / probed if probed else None

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


def _screened(sets: Sequence[CalibrationSet]) -> list[str]:
    """Every answer of ``sets`` as the grader reads it (grade_answers screens first)."""
    return [screen(a.text, s.question).text for s in sets for a in s.answers]


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
    evidence = grader if isinstance(grader, EvidenceGrader) else grader.instant
    if isinstance(evidence, EvidenceGrader):  # one batch for the whole set
        evidence.prefetch([s.question for s in sets], _screened(sets))
    outcomes: list[AnswerOutcome] = []
    weights: dict[tuple[str, str], float] = {}
    questions = {calibration.question.id: calibration.question for calibration in sets}
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
        questions=questions,
    )


@dataclass(frozen=True)
class FitResult:
    """What ``calibrate --fit`` found: the thresholds, their agreement on the whole set, and
    how well the search generalises: each question left out of the search in turn, its
    agreement with the thresholds found on the others (leave-one-question-out)."""

    thresholds: EvidenceThresholds
    agreement: float
    cross_validated: float | None
    """None with fewer than two questions."""
    folds: dict[str, float] = field(default_factory=dict)
    """Per question left out: its agreement under the thresholds fitted without it."""


_RELATIVE = (0.0, 0.5, 1.0)
_BONUS = (0.0, 0.04, 0.08, 0.12)
_MISCONCEPTION = (0.6, 0.65, 0.7, 0.8, 1.0)
_LEVELS = tuple(round(0.3 + 0.025 * i, 3) for i in range(53))  # 0.3 .. 1.6


@dataclass
class _Samples:
    """Per (answer, key point) of a set, flattened: what the grid search scores."""

    questions: list[Question]
    answers: list[tuple[int, LabelledAnswer]]
    """(question index, answer) per answer."""
    expected: Any
    weights: Any
    answer_of: Any
    """Per entry: the index of its answer."""
    question_of: Any
    """Per entry: the index of its question."""


def _samples(sets: Sequence[CalibrationSet]) -> _Samples:
    import numpy as np

    questions = [c.question for c in sets]
    answers: list[tuple[int, LabelledAnswer]] = []
    expected: list[int] = []
    weights: list[float] = []
    answer_of: list[int] = []
    question_of: list[int] = []
    for q_index, calibration in enumerate(sets):
        for answer in calibration.answers:
            labels = answer.expected(calibration.question)
            for point in calibration.question.key_points:
                expected.append(VERDICT_RANK[labels[point.id]])
                weights.append(point.weight)
                answer_of.append(len(answers))
                question_of.append(q_index)
            answers.append((q_index, answer))
    return _Samples(
        questions,
        answers,
        np.asarray(expected),
        np.asarray(weights, dtype=np.float64),
        np.asarray(answer_of),
        np.asarray(question_of),
    )


def _tables(
    sets: Sequence[CalibrationSet], grader: EvidenceGrader
) -> list[list[tuple[Any, Any, Any]] | None]:
    """Per answer (as screened, as grade_answers does): per key point, the arrays of its
    usable units' similarity, margin and keyword count; None when screened out."""
    import numpy as np

    found: list[list[tuple[Any, Any, Any]] | None] = []
    for calibration in sets:
        for answer in calibration.answers:
            screened = screen(answer.text, calibration.question)
            if screened.reason is not None:
                found.append(None)
                continue
            rows = grader.similarities(calibration.question, [screened.text])
            found.append(
                [
                    (
                        np.asarray([u[0] for u in row], dtype=np.float64),
                        np.asarray([u[1] for u in row], dtype=np.float64),
                        np.minimum(np.asarray([u[2] for u in row], dtype=np.float64), 2),
                    )
                    for row in rows
                ]
            )
    return found


def _signals(
    tables: list[list[tuple[Any, Any, Any]] | None],
    samples: _Samples,
    relative: float,
    bonus: float,
) -> Any:
    import numpy as np

    out = np.zeros(len(samples.expected))
    position = 0
    for (q_index, _), table in zip(samples.answers, tables, strict=True):
        count = len(samples.questions[q_index].key_points)
        if table is not None:
            for offset, (sim, margin, hits) in enumerate(table):
                if len(sim):
                    out[position + offset] = float((sim + relative * margin + bonus * hits).max())
        position += count
    return out


def _best_levels(signal: Any, samples: _Samples, mask: Any) -> tuple[float, float, float]:
    """The (agreement, covered, partial) levels with the best agreement on the entries in
    ``mask``."""
    import numpy as np

    levels = np.asarray(_LEVELS)
    s, e = signal[mask], samples.expected[mask]
    reached = (s[None, :] >= levels[:, None]).astype(np.float64)  # [level, entry]
    right_missing = ((1 - reached) * (e == 0)).sum(axis=1)  # by the partial level
    right_covered = (reached * (e == 2)).sum(axis=1)  # by the covered level
    middle = reached[:, e == 1]
    right_partial = middle @ (1 - middle).T  # [partial level, covered level]
    total = right_missing[:, None] + right_covered[None, :] + right_partial
    total = np.where(levels[None, :] > levels[:, None], total, -1.0)
    p_index, c_index = np.unravel_index(np.argmax(total), total.shape)
    agreement = float(total[p_index, c_index]) / max(int(mask.sum()), 1)
    return agreement, float(levels[c_index]), float(levels[p_index])


def fit_thresholds(
    sets: Sequence[CalibrationSet],
    grader: EvidenceGrader,
    *,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> FitResult:
    """Search the evidence thresholds on ``sets`` by cross-validation: for each way of
    computing the signal (whether to use the reference answer's wording, the misconception
    level, the weight of a unit's margin over the other points, the keyword bonus), the
    covered and partial levels are fitted with each question left out in turn and scored on
    it; the way with the best agreement on the questions it did not see wins, and its levels
    are then fitted on the whole set. The score ordering (strong > partial > wrong) is not a
    constraint of the search: a model-free signal cannot tell a confidently wrong sentence
    from a right one in the same words, and holding wrong answers down that way costs every
    strong answer its credit (which is what sends follow-ups to points already made); the
    report that follows says where the ordering holds.

    Each answer's units are embedded once; the rest is arithmetic. Keep the grid coarse: a
    calibration set of a few dozen answers cannot pin thresholds down finer than that.
    """
    import numpy as np

    samples = _samples(sets)
    base = grader.thresholds
    grader.prefetch([c.question for c in sets], _screened(sets))
    configs: list[tuple[EvidenceThresholds, Any]] = []
    outer = [(r, m) for r in (True, False) for m in _MISCONCEPTION]
    for step, (reference, misconception) in enumerate(outer):
        if on_progress is not None:
            on_progress(step, len(outer), f"reference={reference} misconception={misconception}")
        probe = EvidenceGrader(
            grader.embedder,
            base.model_copy(update={"misconception": misconception, "reference": reference}),
        )
        tables = _tables(sets, probe)
        for relative in _RELATIVE:
            for bonus in _BONUS:
                trial = probe.thresholds.model_copy(
                    update={"relative": relative, "keyword_bonus": bonus}
                )
                configs.append((trial, _signals(tables, samples, relative, bonus)))
    if on_progress is not None:
        on_progress(len(outer), len(outer), "done")

    everything = np.ones(len(samples.expected), dtype=bool)
    held_out = (
        [samples.question_of == q for q in range(len(samples.questions))]
        if len(samples.questions) > 1
        else []
    )
    best: tuple[float, float, EvidenceThresholds, dict[str, float]] | None = None
    for trial, signal in configs:
        fitted = _best_levels(signal, samples, everything)
        folds: dict[str, float] = {}
        right = 0
        for question, held in zip(samples.questions, held_out, strict=False):
            _, covered, partial = _best_levels(signal, samples, ~held)
            verdicts = np.where(signal >= covered, 2, np.where(signal >= partial, 1, 0))
            hits = int((verdicts[held] == samples.expected[held]).sum())
            folds[question.id] = hits / max(int(held.sum()), 1)
            right += hits
        cross = right / len(samples.expected) if folds else fitted[0]
        if best is None or (cross, fitted[0]) > (best[0], best[1]):
            chosen = trial.model_copy(update={"covered": fitted[1], "partial": fitted[2]})
            best = (cross, fitted[0], chosen, folds)
    if best is None:
        return FitResult(base, 0.0, None)
    cross, agreement, chosen, folds = best
    return FitResult(chosen, agreement, cross if folds else None, folds)
