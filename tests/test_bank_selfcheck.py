"""`bank check --strict` (a bank checks itself with the evidence signal) and model-drafted
rubrics for imported notes, which the program checks against the answer whatever the model
says: a scripted model that says wrong things, one that says nothing usable, and a tiny model
with random weights through the real transformers backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from interviewer.authoring.drafts import (
    QuestionDraft,
    draft_with_model,
    tidy_question,
)
from interviewer.authoring.selfcheck import bank_findings, question_findings
from interviewer.bank import Bank, KeyPoint, Misconception, Question, load_bank
from interviewer.bank.importer import import_notes
from interviewer.cli import cli
from interviewer.engine.evidence import EvidenceGrader
from interviewer.llm.scripted import ScriptedModel, ScriptStep
from interviewer.resources import default_bank_dir

NOTES = Path(__file__).parent / "fixtures" / "notes"


@pytest.fixture
def one_torch_thread():
    """Embed on one thread when the machine is busy: two threads that wait on each other are
    then several times slower than one (512 sentences on two busy cores: 11.8 s against 2.1 s;
    idle, two threads take 1.0 s and one 1.8 s)."""
    import os

    import torch

    threads = torch.get_num_threads()
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_built_in_bank_passes_the_strict_check(hf_bank, embedder, one_torch_thread):
    assert bank_findings(hf_bank, EvidenceGrader(embedder)) == []


def _point(pid: str, statement: str, keywords: list[str] | None = None) -> KeyPoint:
    return KeyPoint(
        id=pid, statement=statement, weight=1.0, facts=[statement], keywords=keywords or []
    )


STREAMING = (
    "Streaming reads the dataset lazily in small chunks, so it never has to fit in memory. "
    "It only supports sequential access, not random access by index."
)


def test_each_kind_of_finding_names_the_file_the_point_and_the_fix(embedder, one_torch_thread):
    grader = EvidenceGrader(embedder)
    question = Question(
        id="streaming",
        title="Streaming",
        question="When would you stream a dataset from a shared pool?",
        reference_answer=STREAMING,
        key_points=[
            _point(
                "lazy", "Streaming reads the dataset lazily in small chunks.", ["pool", "lazily"]
            ),
            _point("lazy-again", "The dataset is read lazily, in small chunks, by streaming."),
            _point("sequential", "It only supports sequential access, not random access."),
            _point("gpu", "Streaming moves the tensors to the GPU with pinned memory buffers."),
        ],
        misconceptions=[
            Misconception(
                claim="It only supports sequential access, not random access.",
                correction="It only supports sequential access and not random access.",
            )
        ],
    )
    findings = [str(f) for f in question_findings(question, grader, "notes/streaming.toml")]
    text = "\n".join(findings)
    assert all(f.startswith("notes/streaming.toml: ") for f in findings)
    assert "key_points[0] (lazy): the keyword 'pool' is in the question" in text
    assert "key_points[0] (lazy) and key_points[1] (lazy-again): the signal cannot tell" in text
    assert "key_points[3] (gpu): the reference answer scores" in text
    assert "add a sentence on it to reference_answer" in text
    assert "misconceptions[0]: its claim 'It only supports sequential access" in text
    assert "earns key_points[2] (sequential)" in text
    # Merging what the signal cannot tell apart resolves that finding.
    tidied, merged = tidy_question(question, grader)
    assert merged == 1 and len(tidied.key_points) == 3
    after = "\n".join(str(f) for f in question_findings(tidied, grader, "x"))
    assert "cannot tell them apart" not in after
    # A point that restates a known misconception cannot even cover itself.
    claim = "Streaming is always faster than loading the whole dataset first."
    wrong = question.model_copy(
        update={
            "key_points": [question.key_points[2], _point("faster", claim)],
            "misconceptions": [
                Misconception(
                    claim=claim,
                    correction="Streaming saves memory, but reading each example over the "
                    "network is usually slower than reading a local copy.",
                )
            ],
        }
    )
    assert "key_points[1] (faster): its own statement, said as an answer, does not cover it" in (
        "\n".join(str(f) for f in question_findings(wrong, grader, "x"))
    )


def test_bank_check_strict_exits_1_on_findings_and_0_on_the_built_in_bank(
    tmp_path, with_embeddings, embedder
):
    ok = CliRunner().invoke(cli, ["bank", "check", "--strict"])
    assert ok.exit_code == 0, ok.output
    assert "passes the strict check (embeddings (all-MiniLM-L6-v2) + keywords)" in ok.output
    broken = tmp_path / "bank"
    shutil.copytree(default_bank_dir(), broken)
    path = broken / "datasets-streaming.toml"
    text = path.read_text(encoding="utf-8")
    assert text.count('keywords = ["streaming=true"') == 1
    path.write_text(
        text.replace('keywords = ["streaming=true"', 'keywords = ["download", "streaming=true"', 1)
    )
    result = CliRunner().invoke(cli, ["bank", "check", "--strict", str(broken)])
    assert result.exit_code == 1
    assert f"{path}: key_points[" in result.output
    assert "the keyword 'download' is in the question" in result.output
    assert "finding" in result.output.splitlines()[-1]


# ----------------------------------------------------------------------------- model drafts


def _evaluation_question() -> Question:
    return import_notes(NOTES / "evaluation-qa.md").bank.questions[0]  # accuracy, imbalanced


def _draft_json() -> dict:
    return {
        "key_points": [
            {
                "statement": "A model that always predicts the majority class gets 99% accuracy "
                "while it finds no positives at all.",
                "facts": ["99% negatives", "Accuracy improves by 42 points with dropout."],
                "keywords": ["99%", "positives", "imbalanced", "f-beta"],
                "importance": 3,
            },
            {
                "statement": "Use precision and recall per class, the F1 score or PR AUC instead.",
                "facts": ["PR AUC is usually the better summary"],
                "keywords": ["precision", "pr auc", "recall"],
                "importance": 2,
            },
            {
                "statement": "Accuracy was invented in 1912 by a committee of 40 statisticians.",
                "facts": ["1912"],
                "keywords": ["committee"],
                "importance": 1,
            },
        ],
        "misconceptions": [
            {
                "claim": "Accuracy is the right metric whatever the balance of the classes.",
                "correction": "With 99% negatives, always predicting negative scores 99% accuracy "
                "while finding no positives at all.",
            }
        ],
        "follow_up_angles": ["threshold choice on imbalanced data", "  "],
    }


def test_a_model_draft_keeps_only_what_the_answer_supports(prompts):
    base = _evaluation_question()
    model = ScriptedModel([ScriptStep(purpose="draft", json=_draft_json())])
    question, report = draft_with_model(base, model, prompts, EvidenceGrader(None))
    assert report.source == "model", report
    assert [p.statement[:20] for p in question.key_points] == [
        "A model that always ",
        "Use precision and re",
    ]
    first, second = question.key_points
    assert first.weight == 2.0 and second.weight == 1.0
    # "imbalanced" is in the question, "f-beta" not in the answer; the invented fact goes too.
    assert first.keywords == ["99%", "positives"]
    assert first.facts == ["99% negatives"]
    assert second.keywords == ["precision", "pr auc", "recall"]
    assert report.dropped_points == 1 and report.dropped_keywords == 2
    assert [m.claim for m in question.misconceptions] == [
        "Accuracy is the right metric whatever the balance of the classes."
    ]
    assert question.follow_up_angles == ["threshold choice on imbalanced data"]
    assert question.reference_answer == base.reference_answer  # the notes' own words
    # What the model saw: the question and the answer, fenced, in a fresh context.
    purpose, messages = model.calls[0]
    assert purpose == "draft" and messages[0].role == "system"
    assert f"<answer>\n{base.reference_answer}\n</answer>" in messages[1].content


def test_a_model_that_fails_leaves_the_rule_based_draft(prompts):
    base = _evaluation_question()
    model = ScriptedModel([ScriptStep(purpose="draft", text="not json") for _ in range(3)])
    question, report = draft_with_model(base, model, prompts, EvidenceGrader(None))
    assert report.source == "rules"
    assert "the model gave no usable draft" in report.reason
    assert question.key_points == base.key_points
    nothing = {"key_points": [{"statement": "Bananas are yellow.", "facts": ["yellow"]}]}
    question, report = draft_with_model(
        base,
        ScriptedModel([ScriptStep(purpose="draft", json=nothing)]),
        prompts,
        EvidenceGrader(None),
    )
    assert report.source == "rules" and "none of the model's points" in report.reason
    assert question.key_points == base.key_points


def test_bank_import_drafts_with_a_scripted_model_from_the_command_line(tmp_path):
    notes = tmp_path / "eval.md"
    notes.write_text(
        "**Q:** Why is accuracy a poor metric on an imbalanced dataset?\n"
        + "**A:** "
        + _evaluation_question().reference_answer
        + "\n",
        encoding="utf-8",
    )
    script = tmp_path / "drafts.json"
    script.write_text(
        json.dumps({"name": "drafts", "steps": [{"purpose": "draft", "json": _draft_json()}]}),
        encoding="utf-8",
    )
    out = tmp_path / "bank"
    result = CliRunner().invoke(
        cli,
        [
            "bank",
            "import",
            str(notes),
            "-o",
            str(out),
            "--backend",
            "scripted",
            "--script",
            str(script),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "model draft kept; dropped 1 point, 1 fact, 2 keywords" in result.output
    bank = load_bank(out)
    assert len(bank.questions[0].key_points) == 2
    assert "Key points drafted by the script" in (out / f"{bank.questions[0].id}.toml").read_text()


def test_the_draft_schema_bounds_what_a_constrained_model_can_write():
    schema = json.dumps(QuestionDraft.model_json_schema())
    assert '"x-grammar": {"maxItems": 8}' in schema
    assert '"enum": [1, 2, 3]' in schema


def test_a_random_weight_model_cannot_put_anything_unchecked_in_the_bank(load_tiny, prompts):
    """Whatever a model with random weights writes under the grammar, the question that comes
    out validates, its keywords are in the answer and none is in the question."""
    base = _evaluation_question()
    model = load_tiny("chatml")
    question, report = draft_with_model(
        base, model, prompts, EvidenceGrader(None), max_new_tokens=64
    )
    Question.model_validate(question.model_dump())
    answer, asked = base.reference_answer.lower(), base.question.lower()
    for point in question.key_points:
        assert all(k in answer for k in point.keywords)
        assert not any(f" {k} " in f" {asked} " for k in point.keywords)
    if report.source == "rules":
        assert question.key_points == base.key_points
    Bank(id="b", title="b", questions=(question,))
