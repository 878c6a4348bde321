"""Fit the evidence signal's learned model on answers people graded, cross-validated by question.

    python scripts/fit_evidence.py [--asag DIR] [--write] [--json FILE]

Reads the public human-graded training splits (``../shared/benchmarks/asag/``: SemEval-2013
Beetle and SciEntsBank, SAF) and the default bank's labelled calibration answers
(``knowledge/calibration/``), drafts each public question by rule as ``bank import`` does,
screens every answer with the prefilter, and computes the features of
:mod:`interviewer.engine.evidence_model` for each (answer, key point). Then:

1. five folds by question (no question is in its own fit): a weighted logistic model on the
   other folds gives each held-out answer its probabilities, and from them its verdicts and
   score exactly as the grader computes them;
2. the covered and partial probability levels are chosen on those held-out probabilities;
3. the figures per set (Pearson, Spearman, RMSE, 2-way macro-F1 with a threshold
   cross-validated by question, the mean against the people's) are printed beside the
   whole-answer cosine baseline of the same run;
4. with ``--write``, the model fitted on everything is written to
   ``interviewer/engine/evidence-model.json``.

Each set weighs the same in the fit, whatever its size.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interviewer.bank import load_bank  # noqa: E402
from interviewer.benchmark import (  # noqa: E402
    cosine_baseline,
    cross_validated_f1,
    load_benchmark,
    pearson,
    rmse,
    spearman,
)
from interviewer.calibration import load_calibration  # noqa: E402
from interviewer.config import EvidenceThresholds  # noqa: E402
from interviewer.engine.evidence import EvidenceGrader  # noqa: E402
from interviewer.engine.evidence_model import (  # noqa: E402
    FEATURES,
    MODEL_FILE,
    EvidenceModel,
    fit_logistic,
)
from interviewer.engine.prefilter import screen  # noqa: E402
from interviewer.llm.embeddings import open_embedder  # noqa: E402
from interviewer.resources import default_bank_dir  # noqa: E402
from interviewer.transcript import VERDICT_CREDIT  # noqa: E402

SETS = (
    "semeval2013-beetle-train.json",
    "semeval2013-scientsbank-train.json",
    "saf-networking-en-train.json",
)
FOLDS = 5
L2 = 1.0
LEVELS = [round(0.05 * i, 2) for i in range(2, 19)]


@dataclass
class Data:
    """Per (answer, key point) row: features, target, weight; per answer: where its rows are."""

    x: list[list[float]] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    set_of: list[str] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    answer_of: list[int] = field(default_factory=list)
    point_weight: list[float] = field(default_factory=list)
    # per answer
    answers: list[tuple[str, str, float, bool | None, bool, float]] = field(default_factory=list)
    """(set, question group, human 0-1, 2-way label, prefiltered, baseline cosine)."""


def collect(asag: Path, grader: EvidenceGrader) -> Data:
    data = Data()
    for name in SETS:
        benchmark = load_benchmark(asag / name)
        rows = [(q.question, a) for q in benchmark.questions for a in q.answers]
        print(f"{name}: {len(rows)} answers, embedding...", file=sys.stderr)
        screened = [screen(a.text, q) for q, a in rows]
        grader.prefetch([q for q, _ in rows], [s.text for s in screened if s.reason is None])
        assert grader.embedder is not None
        grader.embedder.embed(
            list({s.text for s in screened} | {q.reference_answer for q, _ in rows})
        )
        baseline = cosine_baseline(grader.embedder, rows)
        for (question, answer), checked, cosine in zip(rows, screened, baseline, strict=True):
            group = f"{name}:{question.id}"
            index = len(data.answers)
            data.answers.append(
                (name, group, answer.human, answer.correct, checked.reason is not None, cosine)
            )
            if checked.reason is not None:
                continue
            for point, row in zip(
                question.key_points, grader.point_features(question, [checked.text]), strict=True
            ):
                data.x.append(row)
                data.y.append(answer.human)
                data.set_of.append(name)
                data.group.append(group)
                data.answer_of.append(index)
                data.point_weight.append(point.weight / question.total_weight)
    bank = load_bank(default_bank_dir())
    sets = load_calibration(bank)
    name = "team-dev (knowledge/calibration)"
    for calibration in sets:
        question = calibration.question
        group = f"team:{question.id}"
        for answer in calibration.answers:
            labels = answer.expected(question)
            human = (
                sum(p.weight * VERDICT_CREDIT[labels[p.id]] for p in question.key_points)
                / question.total_weight
            )
            checked = screen(answer.text, question)
            index = len(data.answers)
            data.answers.append((name, group, human, None, checked.reason is not None, 0.0))
            if checked.reason is not None:
                continue
            for point, row in zip(
                question.key_points, grader.point_features(question, [checked.text]), strict=True
            ):
                data.x.append(row)
                data.y.append(VERDICT_CREDIT[labels[point.id]])
                data.set_of.append(name)
                data.group.append(group)
                data.answer_of.append(index)
                data.point_weight.append(point.weight / question.total_weight)
    return data


def weights(data: Data) -> np.ndarray:
    """Each set weighs the same; within a set, each answer weighs the same."""
    sets = sorted(set(data.set_of))
    points_per_answer = np.bincount(np.asarray(data.answer_of), minlength=len(data.answers))
    rows_per_set = {s: 0.0 for s in sets}
    for s, a in zip(data.set_of, data.answer_of, strict=True):
        rows_per_set[s] += 1.0 / points_per_answer[a]
    return np.asarray(
        [
            1.0 / points_per_answer[a] / rows_per_set[s] * len(data.x) / len(sets)
            for s, a in zip(data.set_of, data.answer_of, strict=True)
        ]
    )


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, mask: np.ndarray) -> EvidenceModel:
    """Fit on the rows in ``mask``: a soft target y in [0, 1] is two weighted rows."""
    xs = np.vstack([x[mask], x[mask]])
    ys = np.concatenate([np.ones(mask.sum()), np.zeros(mask.sum())])
    ws = np.concatenate([w[mask] * y[mask], w[mask] * (1 - y[mask])])
    beta, bias, mean, scale = fit_logistic(xs, ys, ws, l2=L2)
    return EvidenceModel(
        tuple(float(b) for b in beta),
        bias,
        tuple(float(m) for m in mean),
        tuple(float(s) for s in scale),
        covered=0.5,
        partial=0.25,
        doubt=0.05,
        fitted_on="",
        command="",
    )


def answer_scores(data: Data, p: np.ndarray, covered: float, partial: float) -> np.ndarray:
    credit = np.where(p >= covered, 1.0, np.where(p >= partial, 0.5, 0.0))
    scores = np.zeros(len(data.answers))
    np.add.at(scores, np.asarray(data.answer_of), credit * np.asarray(data.point_weight))
    return scores


def choose_levels(data: Data, p: np.ndarray) -> tuple[float, float]:
    """The (covered, partial) levels with the lowest RMSE against the people, each set
    weighing the same."""
    human = np.asarray([a[2] for a in data.answers])
    names = [a[0] for a in data.answers]
    best = (float("inf"), 0.5, 0.25)
    for covered in LEVELS:
        for partial in LEVELS:
            if partial >= covered:
                continue
            scores = answer_scores(data, p, covered, partial)
            errors = [
                float(
                    np.sqrt(
                        np.mean(
                            [
                                (scores[i] - human[i]) ** 2
                                for i in range(len(names))
                                if names[i] == s
                            ]
                        )
                    )
                )
                for s in sorted(set(names))
            ]
            loss = float(np.mean(errors))
            if loss < best[0]:
                best = (loss, covered, partial)
    return best[1], best[2]


def report(data: Data, scores: np.ndarray) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name in sorted({a[0] for a in data.answers}):
        idx = [i for i, a in enumerate(data.answers) if a[0] == name]
        human = [data.answers[i][2] for i in idx]
        groups = [data.answers[i][1] for i in idx]
        labels = [data.answers[i][3] for i in idx]
        row: dict[str, object] = {"answers": len(idx)}
        for label, values in (
            ("learned", [float(scores[i]) for i in idx]),
            ("cosine", [data.answers[i][5] for i in idx]),
        ):
            if label == "cosine" and name.startswith("team"):
                continue
            labelled = [
                (v, bool(c), g)
                for v, c, g in zip(values, labels, groups, strict=True)
                if c is not None
            ]
            row[label] = {
                "pearson": pearson(values, human),
                "spearman": spearman(values, human),
                "rmse": rmse(values, human),
                "macro_f1": cross_validated_f1(*map(list, zip(*labelled, strict=True)))
                if labelled
                else None,
                "mean": sum(values) / len(values),
                "human_mean": sum(human) / len(human),
            }
        out[name] = row
    return out


def show(figures: dict[str, dict[str, object]]) -> None:
    def cell(v: object) -> str:
        return "-" if v is None else f"{v:.3f}"  # type: ignore[str-format]

    print(
        f"{'set':<38}{'grader':<9}{'Pearson':>9}{'Spearman':>10}{'RMSE':>8}{'F1':>8}{'mean':>8}{'people':>8}"
    )
    for name, row in figures.items():
        for label in ("learned", "cosine"):
            f = row.get(label)
            if not isinstance(f, dict):
                continue
            print(
                f"{name:<38}{label:<9}{cell(f['pearson']):>9}{cell(f['spearman']):>10}"
                f"{cell(f['rmse']):>8}{cell(f['macro_f1']):>8}{cell(f['mean']):>8}{cell(f['human_mean']):>8}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--asag", type=Path, default=ROOT.parent / "shared" / "benchmarks" / "asag")
    parser.add_argument("--write", action="store_true", help="write the model fitted on all")
    parser.add_argument("--json", type=Path, help="write the cross-validated figures")
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep the sentence vectors in this file and reuse them (a pickle): refitting "
        "after a change of features then takes a minute, not the embedding's hour",
    )
    args = parser.parse_args()

    embedder = open_embedder()
    if args.cache is not None and args.cache.is_file():
        embedder._cache.update(pickle.loads(args.cache.read_bytes()))
    grader = EvidenceGrader(embedder, EvidenceThresholds(learned=False))
    data = collect(args.asag, grader)
    if args.cache is not None:
        args.cache.write_bytes(pickle.dumps(embedder._cache))
    x, y = np.asarray(data.x), np.asarray(data.y)
    w = weights(data)
    names = sorted(set(data.group))
    fold_of = {g: i % FOLDS for i, g in enumerate(sorted(names, key=lambda g: hash_of(g)))}
    folds = np.asarray([fold_of[g] for g in data.group])
    held_out = np.zeros(len(y))
    for fold in range(FOLDS):
        model = fit(x, y, w, folds != fold)
        for i in np.nonzero(folds == fold)[0]:
            held_out[i] = model.probability(x[i])
    covered, partial = choose_levels(data, held_out)
    scores = answer_scores(data, held_out, covered, partial)
    figures = report(data, scores)
    print(
        f"Cross-validated by question ({FOLDS} folds); levels covered {covered}, partial {partial}"
    )
    show(figures)
    final = fit(x, y, w, np.ones(len(y), dtype=bool))
    print("weights:", {f: round(b, 3) for f, b in zip(FEATURES, final.weights, strict=True)})
    if args.json:
        args.json.write_text(
            json.dumps({"covered": covered, "partial": partial, "sets": figures}, indent=2)
        )
    if args.write:
        sets = ", ".join(SETS) + " (training splits) and knowledge/calibration"
        EvidenceModel(
            final.weights,
            final.bias,
            final.mean,
            final.scale,
            covered,
            partial,
            0.05,
            fitted_on=f"{len(data.answers)} answers graded by people: {sets}; "
            f"embeddings {grader.method}",
            command="python scripts/fit_evidence.py --write",
        ).write(ROOT / "interviewer" / "engine" / MODEL_FILE)
        print(f"wrote interviewer/engine/{MODEL_FILE}")


def hash_of(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


if __name__ == "__main__":
    main()
