"""``scripts/gpu_run.py --rehearse``: the one GPU run, every stage on the CPU with the tiny
shape, in this process (torch and transformers are imported already). A GPU's minutes are few:
a stage that breaks, or a field the next session will read that is missing, must fail here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What the session with a GPU will read, stage by stage (dotted paths into results.json).
FIELDS = {
    "environment": [
        "packages.torch",
        "packages.transformers",
        "packages.bitsandbytes",
        "device",
        "capability",
        "memory_baseline",
        "attention_backends.flash.masked",
        "attention_backends.efficient.masked",
        "attention_backends.cudnn.maskless",
        "attention_backends.math.masked",
    ],
    "checkpoint": ["folder", "build_s", "checkpoint_gib", "sampling.top_k", "tokenizer_tokens"],
    "load": [
        "load_s",
        "quantization",
        "attn_implementation",
        "generation_config.top_k",
        "prefill_chunk_tokens",
        "memory.kind",
    ],
    "floor": ["modules", "matmul_ms_per_token", "matmul_tok_s_ceiling"],
    "profile": [
        "prompt_tokens",
        "static_step.launches",
        "static_step.top",
        "static_step.attention",
        "dynamic_step.launches",
        "dynamic_step.attention",
    ],
    "capture": [
        "prepare_s",
        "decode_in_use",
        "spans",
        "captured",
        "left_out",
        "static_cache_gib",
        "graph_pool_gib",
        "relative_tolerance",
    ],
    "decode": [
        "prompt_tokens",
        "replay",
        "engines.greedy.generate.tokens_per_s",
        "engines.greedy.fast.tokens_per_s",
        "engines.greedy.speedup",
        "engines.sampled.generate.tokens_per_s",
        "engines.sampled.fast.tokens_per_s",
        "stream.default.greedy.tokens_per_s",
        "stream.default.sampled.tokens_per_s",
        "stream.fast.greedy.tokens_per_s",
        "stream.fast.sampled.tokens_per_s",
    ],
    "conversation": [
        "default.ratio",
        "default.ttft_turn1_s",
        "default.ttft_last_s",
        "fast.ratio",
        "fast.reused_tokens_last",
    ],
    "memory": ["definition", "product_chunk", "runs"],
    "grade": ["valid", "seconds", "verdicts"],
    "extras": [
        "compiled_step.check.ok",
        "compiled_step.ms_per_token",
        "compiled_step.plain_ms_per_token",
        "unquantized_fast.fast.tokens_per_s",
        "unquantized_fast.generate.tokens_per_s",
    ],
}


def get(data, dotted: str):
    for key in dotted.split("."):
        assert isinstance(data, dict) and key in data, dotted
        data = data[key]
    return data


@pytest.fixture(scope="module")
def gpu_run():
    spec = importlib.util.spec_from_file_location("gpu_run", ROOT / "scripts" / "gpu_run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_run"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("gpu_run", None)


@pytest.mark.model
def test_the_rehearsal_runs_every_stage_and_writes_every_field(gpu_run, tmp_path):
    out = tmp_path / "out"
    argv = ["--rehearse", "--out", str(out), "--workdir", str(tmp_path / "w")]
    code = gpu_run.main([*argv, "--compile-backend", "none"])  # Dynamo's import: seconds
    results = json.loads((out / "results.json").read_text())
    stages = results["stages"]
    assert code == 0, {k: (s["status"], s.get("error")) for k, s in stages.items()}
    assert results["rehearsal"] is True and list(stages) == [k for k, _, _ in gpu_run.STAGES]
    for key, stage in stages.items():
        assert stage["status"] == "ok" and stage["seconds"] <= stage["limit_s"], key
        for field in FIELDS[key]:
            get(stage, field)
    # the numbers that settle the targets are really there, with their definitions
    for target in ("decode_tok_s", "ttft_turn20_over_turn1", "memory_8k_gib"):
        entry = results["targets"][target]
        assert entry["definition"] and entry["target"]
        assert entry["verdict"] in {"PASS", "FAIL", "NOT MEASURED"}
    assert results["targets"]["decode_tok_s"]["value"] > 0
    assert set(results["targets"]["ttft_turn20_over_turn1"]["value"]) == {"default", "fast"}
    assert results["targets"]["memory_8k_gib"]["verdict"] == "NOT MEASURED"  # no GPU here
    capture = stages["capture"]
    assert capture["decode_in_use"] == "fast" and not capture["left_out"]
    assert all(s["check"]["ok"] and s["check"]["position"] > 0 for s in capture["spans"])
    runs = stages["memory"]["runs"]  # both paths, with and without chunks, served as asked
    assert {(r["path"], r["chunk"]) for r in runs} == {
        (p, c)
        for p in ("default", "fast")
        for c in (gpu_run.REHEARSAL.prefill_chunk, *gpu_run.REHEARSAL.chunks)
    }
    assert all(r["served_as_asked"] and r["failed"] is None for r in runs)
    assert stages["conversation"]["fast"]["paths"] == {"fast": gpu_run.REHEARSAL.turns}
    assert stages["decode"]["stream"]["fast"]["sampled"]["path"] == "fast"
    assert results["checks"]["grade_valid"] is True


@pytest.mark.model
def test_a_stage_past_its_limit_is_cut_and_the_run_goes_on(gpu_run, tmp_path, monkeypatch):
    import time

    run = gpu_run.Run(gpu_run.REHEARSAL, tmp_path, tmp_path, budget=60, rehearse=True)

    def slow(run, out):
        out["started"] = True
        time.sleep(5)

    run.stage("environment", lambda r, o: o.update(ok=True))
    monkeypatch.setattr(gpu_run, "STAGES", (*gpu_run.STAGES, ("slow", "a stage that hangs", 0.2)))
    run.stage("slow", slow)
    written = json.loads((tmp_path / "results.json").read_text())["stages"]
    assert written["environment"]["status"] == "ok"
    assert written["slow"]["status"] == "timeout" and written["slow"]["started"] is True
    assert written["slow"]["seconds"] < 2


def test_without_cuda_the_real_run_refuses_and_says_why(gpu_run, tmp_path, capsys):
    assert gpu_run.main(["--out", str(tmp_path)]) == 2
    assert "--rehearse" in capsys.readouterr().err


def test_gpu_all_runs_the_one_script_with_flags_that_exist():
    import re

    script = ROOT / "scripts" / "gpu_all.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "scripts/gpu_run.py" in text and ".whl" in text
    known = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_run.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    calls = re.findall(r'"\$python" scripts/gpu_run\.py[^\n]*(?:\\\n[^\n]*)*|extra=\([^)]*\)', text)
    used = re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", " ".join(calls))
    assert "--rehearse" in used and "--out" in used
    for flag in used:
        assert flag in known, f"gpu_all.sh passes gpu_run.py no such flag: {flag}"
