"""The calibration report as plain text (for the terminal) and as JSON (for tracking)."""

from __future__ import annotations

from typing import Any, get_args

from interviewer.calibration import (
    NULL_CLASSES,
    PROBED_FOLLOW_UPS,
    WRONG_CLASSES,
    AnswerClass,
    CalibrationReport,
)
from interviewer.textutil import strip_control

_CLASS_ORDER = get_args(AnswerClass)


def _pct(value: float | None) -> str:
    return "  -" if value is None else f"{value * 100:3.0f}%"


def _class_means(report: CalibrationReport) -> dict[str, tuple[int, float]]:
    scores: dict[str, list[float]] = {}
    for outcome in report.outcomes:
        scores.setdefault(outcome.answer_class, []).append(outcome.score)
    return {c: (len(v), sum(v) / len(v)) for c, v in scores.items()}


def calibration_text(report: CalibrationReport, *, worst: int = 10) -> str:
    targets = report.targets
    lines = [
        f"Calibration of {report.grader} on {len(report.outcomes)} labelled answers "
        f"({len({o.question_id for o in report.outcomes})} questions)",
        f"Key-point agreement: {report.agreement:.1%} (target >= {targets.min_agreement:.0%})",
        "",
        f"{'class':<15}{'answers':>8}{'agreement':>11}{'mean score':>12}",
    ]
    by_class = report.agreement_by(lambda o, _: o.answer_class)
    means = _class_means(report)
    for name in _CLASS_ORDER:
        if name in means:
            count, mean = means[name]
            lines.append(f"{name:<15}{count:>8}{_pct(by_class[name]):>11}{_pct(mean):>12}")
    lines += ["", "Ordering of mean scores (strong > partial > wrong and misconception):"]
    question_means = report.mean_scores()
    for question_id, ok in report.ordering().items():
        mine = question_means[question_id]
        wrong = [mine[c] for c in WRONG_CLASSES if c in mine]
        lines.append(
            f"  {question_id:<32} strong {_pct(mine.get('strong'))}  partial "
            f"{_pct(mine.get('partial'))}  wrong {_pct(sum(wrong) / len(wrong) if wrong else None)}"
            f"  {'ok' if ok else 'OUT OF ORDER'}"
        )
    nulls = report.null_outcomes()
    top = max((o.score for o in nulls), default=0.0)
    right, probed = report.probes()
    every_right, every = report.probes(None)
    lines += [
        "",
        f"Probe precision: {_pct(right / probed if probed else None)} of the follow-ups it "
        f"would ask ({right}/{probed}, the first {PROBED_FOLLOW_UPS} per answer) go to a point "
        f"the labels say is missing or partial; {_pct(every_right / every if every else None)} "
        f"of every point it would probe ({every_right}/{every})",
        f"Answers with nothing in them ({', '.join(NULL_CLASSES)}): "
        f"{len(nulls) - len(report.null_failures())}/{len(nulls)} at or under "
        f"{targets.max_null_score:.0%} (highest {top:.0%})",
        f"Quotes not in the answer: {len(report.unverified_quotes())} (verdicts downgraded for "
        f"a quote the candidate did not write: {report.downgraded()}); "
        f"uncertain verdicts: {report.uncertain()}; "
        f"answers not graded: {sum(1 for o in report.outcomes if o.error)}",
    ]
    per_point = report.agreement_by(lambda o, p: f"{o.question_id}/{p}")
    weakest = sorted(per_point.items(), key=lambda item: item[1])[:8]
    lines += ["", "Key points with the lowest agreement:"]
    lines += [f"  {_pct(value)}  {name}" for name, value in weakest]
    misses = report.disagreements(worst)
    if misses:
        lines += ["", "Worst disagreements (expected -> given):"]
        for outcome, point, expected, given in misses:
            quote = ""
            if outcome.grade is not None:
                verdict = next(
                    (v for v in outcome.grade.key_points if v.key_point_id == point), None
                )
                if verdict is not None and verdict.evidence:
                    quote = f'  "{strip_control(verdict.evidence)[:70]}"'
            lines.append(
                f"  {outcome.question_id}/{outcome.answer_id} {point}: {expected} -> {given}{quote}"
            )
    return "\n".join(lines)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def calibration_json(report: CalibrationReport) -> dict[str, Any]:
    return {
        "grader": report.grader,
        "answers": len(report.outcomes),
        "agreement": round(report.agreement, 4),
        "agreement_by_class": {
            k: round(v, 4) for k, v in report.agreement_by(lambda o, _: o.answer_class).items()
        },
        "agreement_by_key_point": {
            k: round(v, 4)
            for k, v in report.agreement_by(lambda o, p: f"{o.question_id}/{p}").items()
        },
        "mean_scores": {
            q: {c: round(v, 4) for c, v in by_class.items()}
            for q, by_class in report.mean_scores().items()
        },
        "ordering": report.ordering(),
        "null_failures": [f"{o.question_id}/{o.answer_id}" for o in report.null_failures()],
        "unverified_quotes": len(report.unverified_quotes()),
        "downgraded_for_quotes": report.downgraded(),
        "uncertain_verdicts": report.uncertain(),
        "probe_precision": _rounded(report.probe_precision()),
        "probe_precision_every_point": _rounded(report.probe_precision(None)),
        "probes": dict(zip(("right", "probed"), report.probes(), strict=True)),
        "targets": report.targets.model_dump(),
        "failures": report.failures(),
        "outcomes": [
            {
                "question_id": o.question_id,
                "answer_id": o.answer_id,
                "class": o.answer_class,
                "score": o.score,
                "prefilter_reason": o.grade.prefilter_reason if o.grade else None,
                "error": o.error,
                "expected": o.expected,
                "given": o.verdicts,
            }
            for o in report.outcomes
        ],
    }
