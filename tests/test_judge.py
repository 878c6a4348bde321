"""The judge check (interviewer.session.judge): a model grades a few labelled answers before
its grades are used, and is trusted only when it agrees with the labels at least as well as
the evidence signal. Real SQLite stores; the scripted backend under a model's name for judges
that grade as told; a REAL llama-cpp-python server serving SmolLM2 for the weak judge the
check exists for, and for a server that dies during the check."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from click.testing import CliRunner

from interviewer import __version__
from interviewer.calibration import CalibrationSet, load_calibration
from interviewer.cli import cli
from interviewer.config import Settings, load_settings
from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.grading import grade_answers, grader_view, make_grader
from interviewer.engine.prefilter import screen
from interviewer.llm.scripted import ScriptedModel, ScriptStep
from interviewer.prompts import PromptLibrary
from interviewer.session.judge import (
    SAMPLE_CLASSES,
    JudgeOutcome,
    check_judge,
    judge_sample,
    model_key,
)
from interviewer.store import JudgeCheckRow, SessionStore
from interviewer.transcript import ModelInfo, Transcript

LOCAL = ModelInfo(backend="hf", model_id="org/judge", revision="abc123", quantization="4bit")


@pytest.fixture(autouse=True)
def _judges_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest trusts every model (other tests are about other things); these test the check."""
    monkeypatch.delenv("INTERVIEWER_TRUST_JUDGE")


@pytest.fixture(scope="module")
def sample() -> list[CalibrationSet]:
    return judge_sample()


class NamedScript(ScriptedModel):
    """The scripted backend under a real model's name: the scripted backend itself is exempt
    from the check, so this is how a test gives the check a judge that grades as told."""

    def __init__(self, steps: Sequence[ScriptStep], info: ModelInfo = LOCAL) -> None:
        super().__init__(list(steps))
        self._info = info


def graded(sample: Sequence[CalibrationSet]) -> list[tuple[Any, Any]]:
    """(question, answer) of the sample that reach the grader (the screen keeps them)."""
    return [
        (s.question, a)
        for s in sample
        for a in s.answers
        if screen(a.text, s.question).reason is None
    ]


def grades(sample: Sequence[CalibrationSet], verdict: str | None = None) -> list[ScriptStep]:
    """The judge's replies: the labels' verdicts (``verdict`` None), or ``verdict`` for every
    point; credited points quote the answer's first words, as a grade must."""
    steps = []
    for question, answer in graded(sample):
        quote = grader_view([screen(answer.text, question).text])[0][:30]
        expected = answer.expected(question)
        points = []
        for point in question.key_points:
            said = verdict or expected[point.id]
            points.append(
                {
                    "key_point_id": point.id,
                    "rationale": "as labelled",
                    "verdict": said,
                    "evidence": quote if said != "missing" else "",
                }
            )
        steps.append(ScriptStep(purpose="grade", json={"key_points": points}))
    return steps


def check(
    model: ScriptedModel,
    store: SessionStore | None,
    sample: Sequence[CalibrationSet],
    *,
    name: str = "both",
    settings: Settings | None = None,
    embedder: Any = None,
) -> tuple[JudgeOutcome, list[str], list[str]]:
    statuses: list[str] = []
    notices: list[str] = []
    grader = make_grader(name, model, PromptLibrary(), embedder)  # type: ignore[arg-type]
    outcome = check_judge(
        name,  # type: ignore[arg-type]
        settings or Settings(),
        model,
        grader,
        store,
        on_status=statuses.append,
        on_notice=notices.append,
        sample=sample,
    )
    return outcome, statuses, notices


# ----------------------------------------------------------------------------- the sample


def test_the_sample_is_fixed_small_and_covers_every_kind_of_answer(sample):
    again = judge_sample()
    assert [(s.question.id, [a.id for a in s.answers]) for s in again] == [
        (s.question.id, [a.id for a in s.answers]) for s in sample
    ]
    (labelled,) = sample  # one question: a server keeps the prompt's prefix between calls
    assert [a.answer_class for a in labelled.answers] == list(SAMPLE_CLASSES)


def test_each_sample_answer_is_the_shortest_of_its_kind(sample, default_bank):
    (labelled,) = sample
    full = {s.question.id: s for s in load_calibration(default_bank)}[labelled.question.id]
    taken: list[str] = []
    for answer in labelled.answers:
        left = [a for a in full.answers if a.answer_class == answer.answer_class]
        left = [a for a in left if a.id not in taken]
        assert len(answer.text) == min(len(a.text) for a in left)
        taken.append(answer.id)
    # The null answer is screened out before a grader reads it: three model calls, not four.
    assert len(graded(sample)) == len(SAMPLE_CLASSES) - 1


def test_which_models_are_checked_and_told_apart():
    assert model_key(ModelInfo(backend="scripted", model_id="script:x")) is None  # exempt
    server = ModelInfo(backend="openai", model_id="qwen", base_url="http://box:8000/v1")
    other = server.model_copy(update={"base_url": "http://laptop:11434/v1"})
    keys = {
        model_key(LOCAL),
        model_key(LOCAL.model_copy(update={"revision": "def456"})),
        model_key(LOCAL.model_copy(update={"quantization": None})),
        model_key(server),
        model_key(other),
        model_key(server.model_copy(update={"model_id": "llama"})),
    }
    assert len(keys) == 6
    assert model_key(server) == "openai http://box:8000/v1 qwen"


# ----------------------------------------------------------------------------- the check


def test_a_judge_that_agrees_with_the_labels_is_trusted_and_checked_once(tmp_path, sample):
    store = SessionStore(tmp_path / "sessions.db")
    model = NamedScript(grades(sample))
    outcome, statuses, notices = check(model, store, sample)
    assert outcome.trusted and not outcome.cached and notices == []
    assert outcome.grader.name == "llm:org/judge+evidence"  # the model's grades are used
    assert outcome.check is not None
    assert outcome.check.judge_agreement == 1.0
    assert outcome.check.judge_agreement >= outcome.check.evidence_agreement
    assert outcome.check.answers == len(SAMPLE_CLASSES)
    assert outcome.check.key_points == 7 * len(SAMPLE_CLASSES)
    assert model.remaining == 0 and len(model.calls) == len(graded(sample))
    assert "checking the judge: 2/4" in statuses and "checking the judge: 4/4" in statuses
    assert "passed its grading self-test" in statuses[-1]
    kept = store.judge_check(model_key(LOCAL) or "")
    assert kept is not None and kept.version == __version__
    assert (kept.judge_agreement, kept.evidence_agreement) == (
        outcome.check.judge_agreement,
        outcome.check.evidence_agreement,
    )

    # The next session on the same model: the stored result, not one model call.
    silent = NamedScript([])  # any call would fail: the script is empty
    second, statuses, notices = check(silent, store, sample)
    assert second.trusted and second.cached and silent.calls == []
    assert not any("checking the judge" in s for s in statuses)

    # Another revision is another model: it is checked (and this one judges badly).
    newer = NamedScript(grades(sample, "covered"), LOCAL.model_copy(update={"revision": "v2"}))
    third, _, notices = check(newer, store, sample)
    assert len(newer.calls) == len(graded(sample)) and not third.trusted
    assert len(notices) == 1


def test_a_judge_worse_than_the_evidence_signal_is_refused_and_told_once(tmp_path, sample):
    store = SessionStore(tmp_path / "sessions.db")
    lenient = NamedScript(grades(sample, "covered"))  # credits everything, as weak models do
    outcome, statuses, notices = check(lenient, store, sample)
    assert not outcome.trusted and outcome.check is not None
    assert outcome.check.judge_agreement < outcome.check.evidence_agreement
    assert isinstance(outcome.grader, EvidenceGrader)
    (notice,) = notices
    judge, evidence = outcome.check.judge_agreement, outcome.check.evidence_agreement
    assert f"{judge:.0%}" in notice and f"{evidence:.0%}" in notice
    assert "graded by the evidence signal" in notice
    assert "`interviewer calibrate --grader llm --model org/judge --revision abc123`" in notice
    assert not any("not trusted" in s for s in statuses)  # said once, as the notice

    # `both` then grades exactly as the evidence signal alone would.
    alone = EvidenceGrader(None)
    for labelled in sample:
        for answer in labelled.answers:
            question = labelled.question
            used = grade_answers(question, [answer.text], outcome.grader)
            assert used.score == grade_answers(question, [answer.text], alone).score
    # And the next session is told again (once), without testing again.
    again, _, notices = check(NamedScript([]), store, sample)
    assert again.cached and not again.trusted and len(notices) == 1


def test_a_judge_that_is_silent_about_every_point_is_refused(tmp_path, sample, embedder):
    """Against the evidence signal with its embedding model (the product's default): with
    keywords alone the signal is weak enough on these answers that saying "missing" to
    everything ties it."""
    strict = NamedScript(grades(sample, "missing"), LOCAL.model_copy(update={"model_id": "x"}))
    store = SessionStore(tmp_path / "s.db")
    outcome, _, notices = check(strict, store, sample, embedder=embedder)
    assert not outcome.trusted and isinstance(outcome.grader, EvidenceGrader) and notices


def test_calibrate_says_the_verdict_and_measures_the_model_anyway(tmp_path, sample):
    store = SessionStore(tmp_path / "sessions.db")
    lenient = NamedScript(grades(sample, "covered"))
    statuses: list[str] = []
    grader = make_grader("llm", lenient, PromptLibrary())
    outcome = check_judge(
        "llm", Settings(), lenient, grader, store, on_status=statuses.append, sample=sample,
        measuring=True,
    )  # fmt: skip
    assert outcome.grader is grader and not outcome.trusted  # the model is what is measured
    assert "an interview would grade with the evidence signal" in statuses[-1]
    assert store.judge_check(model_key(LOCAL) or "") is not None  # and the result is kept


def test_trust_judge_skips_the_check(tmp_path, sample):
    store = SessionStore(tmp_path / "sessions.db")
    model = NamedScript([])
    outcome, statuses, notices = check(model, store, sample, settings=Settings(trust_judge=True))
    assert outcome.trusted and outcome.check is None and model.calls == []
    assert statuses == notices == [] and store.judge_check(model_key(LOCAL) or "") is None
    assert load_settings(trust_judge=True).trust_judge
    for command in ("run", "resume", "regrade", "calibrate", "review"):  # calibrate: no self-test
        help_text = CliRunner().invoke(cli, [command, "--help"]).output
        assert "--trust-judge" in help_text, command


def test_the_scripted_backend_and_the_evidence_grader_are_not_checked(tmp_path, sample):
    script = ScriptedModel([])  # its grades are the script's: nothing to check
    outcome, statuses, _ = check(script, SessionStore(tmp_path / "s.db"), sample, name="llm")
    assert outcome.trusted and script.calls == [] and statuses == []
    model = NamedScript([])
    outcome, _, _ = check(model, None, sample, name="evidence")
    assert outcome.trusted and model.calls == []


def test_a_judge_that_fails_mid_check_is_not_judged_and_nothing_is_kept(tmp_path, sample):
    store = SessionStore(tmp_path / "sessions.db")
    cut = NamedScript(grades(sample)[:2])  # the model stops answering after two grades
    outcome, _, notices = check(cut, store, sample)
    assert not outcome.trusted and outcome.check is None
    assert isinstance(outcome.grader, EvidenceGrader)
    (notice,) = notices
    assert "could not be checked as a judge" in notice and "checked again next time" in notice
    assert store.judge_check(model_key(LOCAL) or "") is None  # tested again next time


def test_a_result_from_another_version_is_checked_again(tmp_path, sample):
    store = SessionStore(tmp_path / "sessions.db")
    from datetime import UTC, datetime

    store.save_judge_check(
        JudgeCheckRow(
            model_key=model_key(LOCAL) or "",
            judge_agreement=0.1,
            evidence_agreement=0.9,
            answers=6,
            key_points=42,
            seconds=1.0,
            checked_at=datetime(2026, 1, 1, tzinfo=UTC),
            version="0.0.1",
        )
    )
    model = NamedScript(grades(sample))
    outcome, _, _ = check(model, store, sample)
    assert outcome.trusted and not outcome.cached and model.remaining == 0
    kept = store.judge_check(model_key(LOCAL) or "")
    assert kept is not None and kept.version == __version__ and kept.judge_agreement == 1.0


def test_a_read_only_store_still_checks(tmp_path, sample):
    path = tmp_path / "sessions.db"
    SessionStore(path).close()
    readonly = SessionStore(path, readonly=True)
    outcome, _, _ = check(NamedScript(grades(sample)), readonly, sample)
    assert outcome.trusted and not outcome.cached


# ----------------------------------------------------------------------------- a real server


def strong_answers(default_bank: Any) -> dict[str, list[str]]:
    """Each question's first labelled strong answer (the bank's hidden strong answers)."""
    return {
        s.question.id: [next(a.text for a in s.answers if a.answer_class == "strong")]
        for s in load_calibration(default_bank)
    }


def test_smollm2_on_a_real_server_is_refused_and_strong_answers_score_as_evidence_gives(
    llama_server, with_embeddings, default_bank, embedder, tmp_path, capsys
):
    """The issue's case: `--grader both` with SmolLM2 on a real model server. The self-test
    refuses it, the session is graded by the evidence signal, and the strong answers score
    exactly what the evidence signal alone gives them (the issue saw 18% against 80%)."""
    from tests.helpers.llama_server import ALIAS

    answers = strong_answers(default_bank)
    answers_path = tmp_path / "answers.json"
    answers_path.write_text(json.dumps({"answers": answers}))
    out = tmp_path / "t.json"
    started = time.monotonic()
    args = [
        "run", "--headless", "--backend", "openai", "--base-url", llama_server.base_url,
        "--model", ALIAS, "--grader", "both", "--mode", "exam", "--max-follow-ups", "0",
        "--answers", str(answers_path), "--export", str(out),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    seconds = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert "checking the judge: 3/4" in result.output
    assert f"The model {ALIAS} is not trusted to grade" in result.output
    assert result.output.count("is not trusted to grade") == 1
    transcript = Transcript.model_validate_json(out.read_text())
    assert transcript.grader == "evidence"
    evidence = EvidenceGrader(embedder)
    scores = {}
    for answered in transcript.results:
        question = default_bank.question(answered.question_id)
        alone = grade_answers(question, answers[question.id], evidence)
        assert answered.grade is not None
        assert answered.grade.score == alone.score, question.id
        scores[question.id] = answered.grade.score
    mean = sum(scores.values()) / len(scores)
    store = SessionStore(Settings().store_path)
    key = f"openai {llama_server.base_url} {ALIAS}"
    kept = store.judge_check(key)
    assert kept is not None and kept.judge_agreement < kept.evidence_agreement
    with capsys.disabled():
        print(
            f"\n[judge] SmolLM2 self-test: judge {kept.judge_agreement:.1%} vs evidence "
            f"{kept.evidence_agreement:.1%} over {kept.key_points} key points, "
            f"{kept.seconds:.1f} s; strong answers mean {mean:.1%} (evidence alone, the same); "
            f"whole run {seconds:.0f} s"
        )

    # The next session on the same server and model: no model call for the check.
    from interviewer.llm.openai import open_server_model

    model = open_server_model(llama_server.base_url, ALIAS)
    statuses: list[str] = []
    grader = make_grader("both", model, PromptLibrary(), embedder)
    started = time.monotonic()
    outcome = check_judge("both", Settings(), model, grader, store, on_status=statuses.append)
    assert outcome.cached and not outcome.trusted and time.monotonic() - started < 5
    assert not any("checking the judge" in s for s in statuses)


def test_a_server_that_dies_during_the_check_leaves_the_evidence_signal_grading(tmp_path, sample):
    """The server is killed (SIGKILL) while the judge grades its second answer: the session
    grades with the evidence signal and says why, and nothing is stored about the model."""
    from interviewer.llm.openai import open_server_model
    from tests.helpers.llama_server import ALIAS, start_llama_server
    from tests.helpers.models import smollm2_gguf as _smollm2_gguf

    server = start_llama_server(_smollm2_gguf(), tmp_path)
    try:
        model = open_server_model(server.base_url, ALIAS, timeout_s=20)
        store = SessionStore(tmp_path / "sessions.db")
        notices: list[str] = []

        def status(text: str) -> None:
            if text == "checking the judge: 1/4":  # the second answer's grade is next
                threading.Timer(0.5, server.kill).start()

        grader = make_grader("both", model, PromptLibrary())
        started = time.monotonic()
        outcome = check_judge(
            "both", Settings(), model, grader, store, on_status=status,
            on_notice=notices.append, sample=sample,
        )  # fmt: skip
        assert time.monotonic() - started < 600  # the first grade, then a fast failure
    finally:
        server.stop()
    assert not outcome.trusted and outcome.check is None
    assert isinstance(outcome.grader, EvidenceGrader)
    (notice,) = notices
    assert "could not be checked as a judge" in notice
    assert store.judge_check(f"openai {server.base_url} {ALIAS}") is None
    # The evidence signal still grades every answer.
    (labelled,) = sample
    grade = grade_answers(labelled.question, [labelled.answers[0].text], outcome.grader)
    assert grade.grader == "evidence" and grade.score > 0
