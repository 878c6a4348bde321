"""The human-graded benchmark (interviewer.benchmark, `calibrate --benchmark`) and the learned
evidence model it measures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from interviewer.benchmark import (
    BenchmarkError,
    cross_validated_f1,
    load_benchmark,
    macro_f1,
    pearson,
    rmse,
    run_benchmark,
    sample,
    spearman,
)
from interviewer.engine.evidence_model import (
    FEATURES,
    EvidenceModel,
    PointInputs,
    features,
    fit_logistic,
    shipped_model,
)

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark"


def test_figures_against_hand_computed_values():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 1, 1], [1, 2, 3]) is None  # no variation: undefined, not 0
    # Spearman on ranks: monotone but not linear is still 1; ties share their mean rank.
    assert spearman([1, 2, 3, 4], [1, 4, 9, 100]) == pytest.approx(1.0)
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(pearson([1.5, 1.5, 3], [1, 2, 3]))
    assert rmse([0, 1], [1, 1]) == pytest.approx(math.sqrt(0.5))
    # F1 of 'correct' 2/3 (tp 1, fp 1, fn 0), of 'incorrect' 2/3 (tp 1, fp 0, fn 1).
    assert macro_f1([True, True, False], [True, False, False]) == pytest.approx(2 / 3)


def test_the_2way_threshold_is_chosen_on_other_questions():
    # Question a's answers are separated at 0.5, question b's at 0.8: a threshold fitted on
    # b alone misjudges a's 0.6, so the cross-validated F1 is below the in-sample one.
    scores = [0.2, 0.6, 0.7, 0.9]
    actual = [False, True, False, True]
    groups = ["a", "a", "b", "b"]
    assert cross_validated_f1(scores, actual, groups) < 1.0
    assert cross_validated_f1(scores, actual, ["a"] * 4) is None  # one question: no folds


def test_human_grades_in_every_format():
    labels = load_benchmark(FIXTURES / "mini.json")
    assert labels.name == "mini-labels" and labels.answers == 12
    dropout = labels.questions[0]
    assert [a.human for a in dropout.answers] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert [a.correct for a in dropout.answers] == [True, True, False, False, False]
    assert labels.questions[1].answers[1].human == 0.5  # partially_correct_incomplete
    # Drafted by rule, as bank import does: the reference is the question's reference answer.
    assert dropout.question.reference_answer.startswith("Dropout randomly")
    assert dropout.question.key_points

    scores = load_benchmark(FIXTURES / "scores.json")
    humans = [a.human for q in scores.questions for a in q.answers]
    # score over the file's top score (5), over max_points (2), score_normalized as given
    assert humans == [1.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert all(a.correct is None for q in scores.questions for a in q.answers)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "cannot be read as JSON"),
        ('{"question": "x"}', "not a list of questions"),
        ('[{"question": "q", "answers": []}]', "no 'reference_answer'"),
        ('[{"question": "q", "reference_answer": "r", "answers": [{"text": "a"}]}]', "no human"),
        ("[]", "holds no questions"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path, content, expected):
    path = tmp_path / "set.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BenchmarkError, match=expected) as raised:
        load_benchmark(path)
    assert str(path) in str(raised.value) and raised.value.hint


def test_sample_is_repeatable_and_keeps_rubrics():
    full = load_benchmark(FIXTURES / "mini.json")
    one, two = sample(full, 5, seed=3), sample(full, 5, seed=3)
    assert one.answers == 5
    assert [a.id for q in one.questions for a in q.answers] == [
        a.id for q in two.questions for a in q.answers
    ]
    assert sample(full, 100) is full


def test_logistic_fit_recovers_a_known_rule():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).astype(float)
    beta, bias, mean, scale = fit_logistic(x, y, np.ones(len(y)), l2=0.01)
    predicted = ((x - mean) / scale) @ beta + bias > 0
    assert (predicted == y.astype(bool)).mean() > 0.97
    assert beta[0] > 0 > beta[1]


def test_the_shipped_model_names_its_fit_and_features():
    model = shipped_model()
    assert model is not None
    assert len(model.weights) == len(FEATURES)
    assert "people" in model.fitted_on and "fit_evidence.py" in model.command
    assert 0 < model.partial < model.covered < 1
    data = model.as_dict()
    data["features"] = ["unit"]
    with pytest.raises(ValueError, match="refit"):
        EvidenceModel.from_dict(data)


def test_features_read_the_whole_answer():
    base = dict(
        unit=0.5,
        margin=0.1,
        whole_point=0.6,
        whole_reference=0.6,
        point_texts=["Dropout zeroes activations at random during training"],
        reference="Dropout zeroes activations at random during training.",
        question="What does dropout do?",
        keywords_found=1,
        keywords_total=2,
        share=1.0,
        flagged=False,
    )
    said = dict(
        zip(
            FEATURES,
            features(PointInputs(answer="It zeroes random activations.", **base)),
            strict=True,
        )
    )
    other = dict(
        zip(FEATURES, features(PointInputs(answer="It is not a GPU trick.", **base)), strict=True)
    )
    assert said["point_recall"] > other["point_recall"] == 0.0
    assert said["precision"] == 1.0 and other["precision"] == 0.0
    assert said["negation"] == 0.0 and other["negation"] == 1.0  # "not" only in the answer
    assert said["keywords"] == 0.5


@pytest.mark.parametrize("learned", [False, True])
def test_benchmark_end_to_end(embedder, learned):
    from interviewer.config import EvidenceThresholds
    from interviewer.engine.evidence import EvidenceGrader

    grader = EvidenceGrader(embedder, EvidenceThresholds(learned=learned))
    assert (grader.model is not None) == learned
    result = run_benchmark(load_benchmark(FIXTURES / "mini.json"), grader, embedder)
    assert result.answers == 12 and result.baseline is not None
    assert len(result.scores) == 12 and all(0 <= s <= 1 for s in result.scores)
    # The "I don't know" answer is screened out by the prefilter, as in an interview.
    assert result.scores[4] == 0.0
    f = result.grader_figures
    assert f.pearson is not None and f.pearson > 0.5
    assert f.human_mean == pytest.approx(5.5 / 12)
    assert result.seconds_per_answer < 0.5


def test_calibrate_benchmark_command(tmp_path, with_embeddings):
    from click.testing import CliRunner

    from interviewer.cli import cli

    out = tmp_path / "figures.json"
    result = CliRunner().invoke(
        cli,
        [
            "calibrate",
            "--benchmark",
            str(FIXTURES / "mini.json"),
            "--benchmark",
            str(FIXTURES / "scores.json"),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cosine baseline" in result.output and "mini-labels" in result.output
    saved = json.loads(out.read_text())
    assert [s["answers"] for s in saved] == [12, 7]
    assert saved[0]["baseline_cosine"]["pearson"] is not None

    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    failed = CliRunner().invoke(cli, ["calibrate", "--benchmark", str(bad)])
    assert failed.exit_code == 1 and "holds no questions" in failed.output
