"""Grade public human-graded answer sets the way an interview would, and compare with people.

A benchmark file is a JSON list of questions, each ``{"question_id", "question",
"reference_answer", "answers": [{"id", "text", <a human grade>}]}`` (the format of the public
short-answer grading sets: SemEval-2013 Beetle and SciEntsBank, SAF, and 0-5 graded sets).
Each question is drafted into a bank question by rule from its reference answer, exactly as
``bank import`` drafts notes, and every answer is graded through :func:`grade_answers` (the
prefilter, then the grader). The figures are the ones the short-answer grading literature
reports, beside the plain baseline of the same run: the cosine between the whole answer and the
whole reference answer with the same embedding model. A grader that does not beat that
baseline adds nothing to it.

The human grade of an answer, on a 0-1 scale, is the first of: ``score_normalized``; ``score``
over the question's ``max_points`` (else over the file's highest score); ``label``/``label_2way``
(correct 1, partially correct 0.5, anything else 0). The 2-way decision (for macro-F1) is
``label_2way`` where given, else ``label`` correct or not, else none.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interviewer.bank.drafting import Vocabulary, draft_question, slug
from interviewer.bank.models import Question
from interviewer.engine.evidence import Embedder
from interviewer.engine.grading import Grader, grade_answers
from interviewer.errors import InterviewerError

FOLDS = 5
"""Folds of the cross-validation by question that picks the 2-way threshold."""

_PARTIAL_LABELS = {"partially_correct_incomplete", "partially correct", "partial", "partially"}


class BenchmarkError(InterviewerError):
    """A benchmark file that cannot be read."""


@dataclass(frozen=True)
class BenchmarkAnswer:
    id: str
    text: str
    human: float
    """The people's grade on a 0-1 scale."""
    correct: bool | None
    """The people's 2-way decision, where the set has one."""


@dataclass(frozen=True)
class BenchmarkQuestion:
    question: Question
    answers: tuple[BenchmarkAnswer, ...]


@dataclass(frozen=True)
class Benchmark:
    name: str
    questions: tuple[BenchmarkQuestion, ...]

    @property
    def answers(self) -> int:
        return sum(len(q.answers) for q in self.questions)


def _label_score(label: str) -> float:
    lowered = label.strip().lower().replace("-", "_")
    if lowered == "correct":
        return 1.0
    return (
        0.5 if lowered.replace("_", " ") in _PARTIAL_LABELS or lowered in _PARTIAL_LABELS else 0.0
    )


def _human(answer: dict[str, Any], max_points: float | None, file_max: float) -> float | None:
    if isinstance(answer.get("score_normalized"), int | float):
        return float(answer["score_normalized"])
    score = answer.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        scale = max_points or file_max
        return min(max(float(score) / scale, 0.0), 1.0) if scale > 0 else None
    for key in ("label", "label_2way"):
        if isinstance(answer.get(key), str):
            return _label_score(answer[key])
    return None


def _decision(answer: dict[str, Any]) -> bool | None:
    for key in ("label_2way", "label"):
        value = answer.get(key)
        if isinstance(value, str):
            return value.strip().lower() == "correct"
    return None


def load_benchmark(path: Path) -> Benchmark:
    """Read a benchmark file and draft its questions (see the module docstring)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BenchmarkError(
            f"{path}: cannot be read as JSON ({exc})",
            hint="give a JSON list of questions with question, reference_answer and answers",
        ) from exc
    if not isinstance(data, list) or not all(isinstance(q, dict) for q in data):
        raise BenchmarkError(
            f"{path}: the top level is not a list of questions",
            hint='each item: {"question_id", "question", "reference_answer", "answers": [...]}',
        )
    scores = [
        float(a["score"])
        for q in data
        for a in q.get("answers", [])
        if isinstance(a, dict)
        and isinstance(a.get("score"), int | float)
        and not isinstance(a.get("score"), bool)
    ]
    file_max = max(scores, default=0.0)
    vocabulary = Vocabulary(str(q.get("reference_answer", "")) for q in data)
    questions: list[BenchmarkQuestion] = []
    used: set[str] = set()
    for index, raw in enumerate(data):
        where = f"{path}: question {index + 1}"
        text, reference = raw.get("question"), raw.get("reference_answer")
        if not isinstance(text, str) or not text.strip():
            raise BenchmarkError(f"{where} has no 'question' text", hint="add the question")
        if not isinstance(reference, str) or not reference.strip():
            raise BenchmarkError(
                f"{where} has no 'reference_answer'", hint="add the teacher's reference answer"
            )
        base = slug(str(raw.get("question_id") or text))
        question_id = base if base not in used else f"{base}-{index + 1}"
        used.add(question_id)
        question = draft_question(
            text.strip(), reference.strip(), question_id=question_id, vocabulary=vocabulary
        )
        max_points = raw.get("max_points")
        answers = []
        for number, answer in enumerate(raw.get("answers") or []):
            if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
                raise BenchmarkError(
                    f"{where}, answer {number + 1}: no 'text'", hint="each answer needs its text"
                )
            human = _human(
                answer, float(max_points) if isinstance(max_points, int | float) else None, file_max
            )
            if human is None:
                raise BenchmarkError(
                    f"{where}, answer {number + 1}: no human grade",
                    hint="give score_normalized, score (with max_points) or label",
                )
            answers.append(
                BenchmarkAnswer(
                    str(answer.get("id", f"{question_id}-{number + 1}")),
                    answer["text"],
                    human,
                    _decision(answer),
                )
            )
        questions.append(BenchmarkQuestion(question, tuple(answers)))
    if not questions:
        raise BenchmarkError(f"{path}: holds no questions", hint="give at least one question")
    name = str(data[0].get("dataset") or path.stem)
    return Benchmark(name, tuple(questions))


def sample(benchmark: Benchmark, size: int | None, seed: int = 0) -> Benchmark:
    """At most ``size`` answers, drawn at random (the same ones for the same seed), keeping
    each question's drafted rubric; questions left with no answer are dropped."""
    if size is None or size >= benchmark.answers:
        return benchmark
    everything = [
        (qi, ai) for qi, q in enumerate(benchmark.questions) for ai in range(len(q.answers))
    ]
    chosen = set(random.Random(seed).sample(everything, size))
    questions = []
    for qi, q in enumerate(benchmark.questions):
        kept = tuple(a for ai, a in enumerate(q.answers) if (qi, ai) in chosen)
        if kept:
            questions.append(BenchmarkQuestion(q.question, kept))
    return Benchmark(benchmark.name, tuple(questions))


# ----------------------------------------------------------------------------- figures


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's r; None where either side does not vary."""
    n = len(x)
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 0 or syy <= 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # ties share their mean rank
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    return pearson(_ranks(x), _ranks(y))


def rmse(x: Sequence[float], y: Sequence[float]) -> float:
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(x, y, strict=True)) / max(len(x), 1))


def macro_f1(predicted: Sequence[bool], actual: Sequence[bool]) -> float:
    """The mean of the F1 of the 'correct' class and of the 'incorrect' class."""
    total = 0.0
    for cls in (True, False):
        tp = sum(p == cls and a == cls for p, a in zip(predicted, actual, strict=True))
        fp = sum(p == cls and a != cls for p, a in zip(predicted, actual, strict=True))
        fn = sum(p != cls and a == cls for p, a in zip(predicted, actual, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / 2


def _best_threshold(scores: Sequence[float], actual: Sequence[bool]) -> float:
    candidates = sorted(set(scores))
    cuts = [(a + b) / 2 for a, b in itertools.pairwise(candidates)]
    cuts = [candidates[0] - 1e-9, *cuts, candidates[-1] + 1e-9] if candidates else [0.5]
    best, best_f1 = 0.5, -1.0
    for cut in cuts:
        f1 = macro_f1([s >= cut for s in scores], actual)
        if f1 > best_f1:
            best, best_f1 = cut, f1
    return best


def cross_validated_f1(
    scores: Sequence[float], actual: Sequence[bool], groups: Sequence[str], folds: int = FOLDS
) -> float | None:
    """2-way macro-F1 where each answer's threshold was chosen on the other questions' answers
    (folds by question, so no answer is decided by a threshold its own question helped fit)."""
    names = sorted(set(groups))
    if len(names) < 2 or len(set(actual)) < 2:
        return None
    fold_of = {name: i % min(folds, len(names)) for i, name in enumerate(names)}
    predicted = [False] * len(scores)
    for fold in set(fold_of.values()):
        train = [i for i, g in enumerate(groups) if fold_of[g] != fold]
        cut = _best_threshold([scores[i] for i in train], [actual[i] for i in train])
        for i, g in enumerate(groups):
            if fold_of[g] == fold:
                predicted[i] = scores[i] >= cut
    return macro_f1(predicted, actual)


@dataclass(frozen=True)
class Figures:
    """How one grader's scores compare with the people's on a set."""

    pearson: float | None
    spearman: float | None
    rmse: float
    f1: float | None
    """2-way macro-F1, threshold cross-validated by question (None without 2-way labels)."""
    mean: float
    human_mean: float

    def as_dict(self) -> dict[str, float | None]:
        return {
            "pearson": self.pearson,
            "spearman": self.spearman,
            "rmse": self.rmse,
            "macro_f1": self.f1,
            "mean": self.mean,
            "human_mean": self.human_mean,
        }


def figures(scores: Sequence[float], rows: Sequence[tuple[str, BenchmarkAnswer]]) -> Figures:
    human = [a.human for _, a in rows]
    labelled = [
        (s, a.correct, q) for s, (q, a) in zip(scores, rows, strict=True) if a.correct is not None
    ]
    f1 = (
        cross_validated_f1(
            [s for s, _, _ in labelled],
            [bool(c) for _, c, _ in labelled],
            [q for _, _, q in labelled],
        )
        if labelled
        else None
    )
    return Figures(
        pearson(scores, human),
        spearman(scores, human),
        rmse(scores, human),
        f1,
        sum(scores) / max(len(scores), 1),
        sum(human) / max(len(human), 1),
    )


@dataclass
class BenchmarkResult:
    name: str
    grader: str
    answers: int
    questions: int
    grader_figures: Figures
    baseline: Figures | None
    """The whole-answer cosine of the same run (None without an embedding model)."""
    seconds_per_answer: float
    scores: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "set": self.name,
            "grader": self.grader,
            "answers": self.answers,
            "questions": self.questions,
            "figures": self.grader_figures.as_dict(),
            "baseline_cosine": None if self.baseline is None else self.baseline.as_dict(),
            "seconds_per_answer": self.seconds_per_answer,
        }


def cosine_baseline(
    embedder: Embedder, rows: Sequence[tuple[Question, BenchmarkAnswer]]
) -> list[float]:
    """The plain baseline: cosine of the whole answer with the whole reference answer, clipped
    to 0-1."""
    texts = [a.text for _, a in rows] + [q.reference_answer for q, _ in rows]
    vectors = embedder.embed(list(dict.fromkeys(texts)))
    by_text = dict(zip(dict.fromkeys(texts), vectors, strict=True))
    out = []
    for question, answer in rows:
        a, r = by_text[answer.text], by_text[question.reference_answer]
        out.append(min(max(sum(x * y for x, y in zip(a, r, strict=True)), 0.0), 1.0))
    return out


def run_benchmark(
    benchmark: Benchmark,
    grader: Grader,
    embedder: Embedder | None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> BenchmarkResult:
    """Grade every answer of ``benchmark`` with ``grader`` through :func:`grade_answers` and
    compare with the people's grades, beside the whole-answer cosine of the same embedder."""
    import time

    rows = [(q.question, a) for q in benchmark.questions for a in q.answers]
    prefetch = getattr(grader, "prefetch", None)
    if callable(prefetch):  # one sorted batch instead of one small batch per answer
        prefetch([q.question for q in benchmark.questions], [a.text for _, a in rows])
    scores: list[float] = []
    started = time.perf_counter()
    for done, (question, answer) in enumerate(rows):
        if on_progress is not None:
            on_progress(done, len(rows))
        scores.append(grade_answers(question, [answer.text], grader, cancel).score)
    elapsed = time.perf_counter() - started
    if on_progress is not None:
        on_progress(len(rows), len(rows))
    keyed = [(question.id, answer) for question, answer in rows]
    baseline = figures(cosine_baseline(embedder, rows), keyed) if embedder is not None else None
    return BenchmarkResult(
        benchmark.name,
        grader.name,
        len(rows),
        len(benchmark.questions),
        figures(scores, keyed),
        baseline,
        elapsed / max(len(rows), 1),
        scores,
    )


def benchmark_text(result: BenchmarkResult) -> str:
    """The result as a small table: the grader beside the whole-answer cosine."""

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [
        f"{result.name}: {result.answers} answers to {result.questions} questions, "
        f"graded by {result.grader} ({result.seconds_per_answer * 1000:.0f} ms an answer)",
        f"  {'':<18}{'Pearson':>9}{'Spearman':>10}{'RMSE':>8}{'F1 (2-way)':>12}"
        f"{'mean':>8}{'people':>8}",
    ]
    shown = [("grader", result.grader_figures)]
    if result.baseline is not None:
        shown.append(("cosine baseline", result.baseline))
    for label, f in shown:
        lines.append(
            f"  {label:<18}{cell(f.pearson):>9}{cell(f.spearman):>10}{f.rmse:>8.3f}"
            f"{cell(f.f1):>12}{f.mean:>8.3f}{f.human_mean:>8.3f}"
        )
    return "\n".join(lines)
