"""Choosing the model for the machine, `interviewer doctor`, the GPU check script, and the
model errors as the command line shows them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.llm.catalog import CPU, DEFAULT, FALLBACK, GIB, Hardware, choose_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("hardware", "expected"),
    [
        (Hardware(cuda=False), CPU),
        (Hardware(cuda=True, free_bytes=int(23.5 * GIB), total_bytes=24 * GIB, bf16=True), DEFAULT),
        (Hardware(cuda=True, free_bytes=int(7.2 * GIB), total_bytes=8 * GIB), DEFAULT),
        (Hardware(cuda=True, free_bytes=int(5.0 * GIB), total_bytes=8 * GIB), FALLBACK),
        (Hardware(cuda=True, free_bytes=int(1.0 * GIB), total_bytes=4 * GIB), CPU),
    ],
)
def test_choose_model_by_free_memory(hardware, expected):
    assert choose_model(hardware) == expected


def test_defaults_are_ungated_permissive_instruct_models():
    for choice in (DEFAULT, FALLBACK, CPU):
        assert choice.licence == "Apache-2.0"
        assert choice.model_id.endswith("-Instruct")


@pytest.mark.model
def test_doctor_explains_this_machine(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1  # the default model is not cached and we are offline
    out = result.output
    for label in ("python", "torch", "transformers", "bitsandbytes", "xgrammar", "GPU", "model"):
        assert f"\n{label}" in "\n" + out
    assert "none found: the model runs on the CPU" in out
    assert CPU.model_id in out
    assert "not cached and HF_HUB_OFFLINE is set" in out
    assert "what to do:" in out
    # the test config turns the embedding model off (conftest): doctor says what that means
    assert "evidence model" in out and "keywords only" in out


def test_doctor_finds_the_offline_evidence_model(monkeypatch, tiny_models):
    monkeypatch.delenv("INTERVIEWER_EMBEDDING_MODEL")
    result = CliRunner().invoke(cli, ["doctor", "--model", str(tiny_models["chatml"])])
    assert "all-MiniLM-L6-v2, installed for offline use" in result.output
    monkeypatch.setenv("INTERVIEWER_EMBEDDING_MODEL", "no/such-model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(cli, ["doctor", "--model", str(tiny_models["chatml"])])
    assert "no/such-model is not available offline" in result.output
    assert result.exit_code == 0  # never a blocking problem: keywords remain


def test_doctor_with_a_local_model_is_happy(tiny_models):
    result = CliRunner().invoke(cli, ["doctor", "--model", str(tiny_models["chatml"])])
    assert result.exit_code == 0, result.output
    assert "local, 0.00 GiB" in result.output
    assert "4-bit (bitsandbytes)  works" in result.output


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (
            ["--model", "/nonexistent/model"],
            "/nonexistent/model: no such file or folder",
            "check the path",
        ),
        (["--model", "/nonexistent/m.gguf"], "no such GGUF file", "check the path"),
        (
            ["--model", "someone/not-cached-xyz"],
            "is not in the local Hugging Face cache",
            "HF_HUB_OFFLINE",
        ),
        (["--device", "cuda"], "sees no CUDA GPU", "--device cpu"),
    ],
)
def test_model_errors_on_the_command_line(args, message, hint, tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if args == ["--device", "cuda"]:
        args = [*args, "--model", str(tiny_models["chatml"])]
    answers = tmp_path / "a.json"
    answers.write_text('{"answers": {}}')
    result = CliRunner().invoke(cli, ["run", "--headless", "--answers", str(answers), *args])
    assert result.exit_code == 1
    assert message in result.output and hint in result.output, result.output
    assert "Traceback" not in result.output


def test_the_gpu_scripts_parse_and_pass_only_flags_that_exist(tmp_path):
    """The lent GPU's minutes are few: a typo in the one prepared script must fail here.
    (`GPU_ALL_DRY_RUN=1 bash scripts/gpu_all.sh` rehearses the whole run on the CPU.)"""
    import re
    import subprocess

    bench_help = CliRunner().invoke(cli, ["bench", "--help"]).output
    for name in ("gpu_all.sh", "fetch_device_wheels.sh"):
        script = ROOT / "scripts" / name
        subprocess.run(["bash", "-n", str(script)], check=True)  # syntax
        text = script.read_text()
        for command, known in (
            ("interviewer bench", bench_help),
            ("bench_extra=(", bench_help),
        ):
            for line in re.findall(rf"{re.escape(command)}[^\n]*(?:\\\n[^\n]*)*", text):
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", line):
                    assert flag in known, f"{name}: {command} has no {flag}"
