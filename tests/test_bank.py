"""The shipped bank, and every way a bank file can be broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from interviewer.bank import BankError, load_bank
from interviewer.resources import default_bank_dir

EXPECTED_IDS = [
    "inference-api-vs-endpoints",
    "apply-chat-template",
    "bnb-4bit-quantization",
    "datasets-streaming",
    "choosing-embedding-model",
    "model-repo-files",
]


def test_the_shipped_bank_has_the_six_questions_in_order(hf_bank):
    assert hf_bank.question_ids == EXPECTED_IDS
    for question in hf_bank.questions:
        assert 4 <= len(question.key_points) <= 8, question.id
        assert question.reference_answer and question.question
        assert question.misconceptions and question.follow_up_angles and question.sources
        assert all(s.startswith("https://") for s in question.sources)
        for point in question.key_points:
            assert point.weight > 0 and point.facts and point.keywords


def test_rubric_hash_is_stable_and_changes_with_the_rubric(hf_bank):
    question = hf_bank.questions[0]
    assert question.rubric_hash == question.model_copy().rubric_hash
    changed = question.model_copy(update={"reference_answer": "something else"})
    assert changed.rubric_hash != question.rubric_hash


@pytest.fixture
def bank_copy(tmp_path: Path) -> Path:
    target = tmp_path / "bank"
    shutil.copytree(default_bank_dir(), target)
    return target


def problems(directory: Path) -> list[str]:
    with pytest.raises(BankError) as info:
        load_bank(directory)
    return [str(p) for p in info.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_missing_field(bank_copy):
    path = bank_copy / "datasets-streaming.toml"
    text = path.read_text()
    start = text.index("reference_answer = ")
    end = text.index('"""', text.index('"""', start) + 3) + 3
    path.write_text(text[:start] + text[end:])
    assert problems(bank_copy) == [f"{path}: reference_answer: missing: this field is required"]


def test_weight_must_be_positive(bank_copy):
    path = bank_copy / "apply-chat-template.toml"
    edit(path, "weight = 2.0", "weight = 0")
    assert problems(bank_copy) == [f"{path}: key_points[0].weight: input should be greater than 0"]


def test_negative_weight_and_a_second_file_reported_together(bank_copy):
    first = bank_copy / "apply-chat-template.toml"
    second = bank_copy / "model-repo-files.toml"
    edit(first, "weight = 2.0", "weight = -1.5")
    edit(second, 'title = "', 'titel = "')
    found = problems(bank_copy)
    assert found[0] == f"{first}: key_points[0].weight: input should be greater than 0"
    assert f"{second}: title: missing: this field is required" in found
    assert any(p.startswith(f"{second}: titel: unknown key") for p in found)


def test_unknown_key_names_the_allowed_ones(bank_copy):
    path = bank_copy / "bnb-4bit-quantization.toml"
    edit(path, "weight = 2.0\n", "weight = 2.0\nwieght = 3\n")
    (message,) = problems(bank_copy)
    assert message.startswith(f"{path}: key_points[0].wieght: unknown key (check its spelling)")
    assert "allowed keys: id, statement, weight, facts, keywords" in message


def test_duplicate_key_point_id(bank_copy):
    path = bank_copy / "datasets-streaming.toml"
    text = path.read_text()
    ids = [
        line.split('"')[1]
        for line in text.splitlines()
        if line.startswith("id = ") and "[[" not in line
    ]
    edit(path, f'id = "{ids[2]}"', f'id = "{ids[1]}"')
    assert problems(bank_copy) == [f"{path}: (file): duplicate key point id '{ids[1]}'"]


def test_duplicate_question_in_manifest(bank_copy):
    manifest = bank_copy / "bank.toml"
    edit(manifest, '"model-repo-files",', '"model-repo-files",\n  "apply-chat-template",')
    assert problems(bank_copy) == [
        f"{manifest}: questions[6]: duplicate question id 'apply-chat-template'"
    ]


def test_unparseable_file(bank_copy):
    path = bank_copy / "model-repo-files.toml"
    path.write_text(path.read_text() + "\nthis is = = not toml\n")
    (message,) = problems(bank_copy)
    assert message.startswith(f"{path}: (syntax): not valid TOML:")
    assert "line" in message


def test_empty_bank(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (message,) = problems(empty)
    assert message.startswith(f"{empty / 'bank.toml'}: (file): missing:")
    assert "the bank is empty" in message
    (empty / "bank.toml").write_text('id = "mine"\ntitle = "Mine"\nquestions = []\n')
    assert problems(empty) == [
        f"{empty / 'bank.toml'}: questions: "
        "list should have at least 1 item after validation, not 0"
    ]


def test_listed_question_without_a_file_and_a_stray_file(bank_copy):
    (bank_copy / "datasets-streaming.toml").rename(bank_copy / "streaming.toml")
    found = problems(bank_copy)
    assert found[0].startswith(f"{bank_copy / 'datasets-streaming.toml'}: (file): missing:")
    assert found[1].startswith(f"{bank_copy / 'streaming.toml'}: (file): not listed in bank.toml")


def test_id_must_match_the_file_name(bank_copy):
    path = bank_copy / "apply-chat-template.toml"
    edit(path, 'id = "apply-chat-template"', 'id = "chat-templates"')
    (message,) = problems(bank_copy)
    assert message.startswith(f"{path}: id: 'chat-templates' does not match the file name")


def test_bad_id_format(bank_copy):
    path = bank_copy / "apply-chat-template.toml"
    edit(path, 'id = "apply-chat-template"', 'id = "Apply Chat Template"')
    (message,) = problems(bank_copy)
    assert message.startswith(f"{path}: id: 'Apply Chat Template' is not a valid id")


def test_not_a_directory(tmp_path):
    assert problems(tmp_path / "nope") == [f"{tmp_path / 'nope'}: (directory): not a directory"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interviewer", *args], capture_output=True, text=True, timeout=60
    )


def test_bank_check_cli_ok_and_broken(bank_copy):
    ok = run_cli("bank", "check", str(bank_copy))
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.strip().splitlines()
    assert [line.split()[1].rstrip(":") for line in lines[:-1]] == EXPECTED_IDS
    assert "6 valid questions" in lines[-1]

    edit(bank_copy / "apply-chat-template.toml", "weight = 2.0", "weight = 0")
    (bank_copy / "model-repo-files.toml").write_text("not = [valid")
    broken = run_cli("bank", "check", str(bank_copy))
    assert broken.returncode == 1
    assert "Traceback" not in broken.stderr
    err = broken.stderr.strip().splitlines()
    assert err[0] == (
        f"{bank_copy / 'apply-chat-template.toml'}: key_points[0].weight: input should be "
        "greater than 0"
    )
    assert err[1].startswith(f"{bank_copy / 'model-repo-files.toml'}: (syntax): not valid TOML")
    assert err[-1] == f"{bank_copy}: 2 problems"
