"""``interviewer bench``: a whole run end to end on a tiny random model (every JSON field there,
with sane values; nothing here is timed), the timing proxy, and the errors a user can make."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from interviewer.bench import PROMPT_KINDS, BenchError, TimedModel, parse_modes
from interviewer.cli import cli
from interviewer.llm.base import ChatMessage, GenerationOptions, ModelError
from interviewer.llm.scripted import ScriptedModel, ScriptStep

CAP = 6


def positive(value) -> bool:
    return isinstance(value, int | float) and value > 0


@pytest.mark.model
def test_bench_on_a_tiny_random_model_writes_every_field(tmp_path, hf_bank):
    import torch

    threads = torch.get_num_threads()
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "--random-weights",
            "tiny",
            "--compare",
            "default,fast,no-reuse",
            "--grader",
            "evidence",
            "--max-new-tokens",
            str(CAP),
            "--conversation-turns",
            "3",
            "--long-context",
            "300",
            "--workdir",
            str(tmp_path / "work"),
            "--no-first-paint",
            "--threads",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == threads  # --threads does not outlive the run
    assert "fast vs default" in result.output and "no-reuse vs default" in result.output
    assert "peak memory, long session" in result.output
    assert "fast decoding is off: fast decoding needs a CUDA GPU" in result.output
    data = json.loads(out.read_text())

    assert data["bench_version"] == 1
    assert data["command"] == (
        "interviewer bench --random-weights tiny --compare default,fast,no-reuse --grader "
        f"evidence --max-new-tokens {CAP} --conversation-turns 3 --long-context 300 --workdir "
        f"{tmp_path / 'work'} --threads 1 --no-first-paint"
    )
    assert data["settings"]["max_new_tokens"] == CAP and data["settings"]["threads"] == 1
    assert data["first_paint"] == {"seconds": None, "note": "skipped (--no-first-paint)"}
    machine = data["machine"]
    assert machine["cuda_device"] is None and machine["torch_threads"] == 1
    assert machine["torch"] and machine["transformers"] and positive(machine["cpu_count"])
    model = data["model"]
    assert model["random_weights"] == "tiny" and model["family"] == "chatml"
    assert model["build_s"] >= 0 and positive(model["checkpoint_gib"])
    assert model["source"] == str(tmp_path / "work" / "tiny")  # kept in --workdir
    assert list(data["modes"]) == ["default", "fast", "no-reuse"]

    for name, mode in data["modes"].items():
        assert mode["decode_asked"] == ("fast" if name == "fast" else "default")
        assert mode["decode_in_use"] == "default" and mode["device"] == "cpu"
        assert mode["kv_reuse"] == (name != "no-reuse")
        notice = mode["decode_notice"]
        assert ("CUDA" in notice) if name == "fast" else notice is None
        assert positive(mode["load_s"]) and mode["fast_prepare_s"] >= 0
        assert mode["memory"]["kind"] == "cpu_rss" and positive(mode["memory"]["peak_mib"])

        session = mode["session"]
        assert session["finished"] and positive(session["session_s"])
        replies = session["replies"]
        assert {r["question_id"] for r in replies} == set(hf_bank.question_ids)
        for reply in replies:  # every reply was answered by something to answer (or the end)
            assert reply["next_prompt"] in PROMPT_KINDS
            assert 0 <= reply["first_output_s"] <= reply["next_prompt_s"] <= reply["total_s"]
        assert replies[-1]["next_prompt"] == "summary"
        graded = [r["grading_s"] for r in replies if r["grading_s"] is not None]
        assert graded and all(g >= 0 for g in graded)
        streamed = [c for c in session["calls"] if c["kind"] == "stream"]
        assert streamed and all(c["failed"] is None for c in session["calls"])
        for call in streamed:
            assert call["path"] == "generate" and 1 <= call["new_tokens"] <= CAP
            assert 0 < call["first_token_s"] <= call["total_s"]
            assert call["reused_tokens"] < call["prompt_tokens"]
            assert call["new_tokens"] == 1 or positive(call["tokens_per_s"])
        summary = mode["summary"]
        assert summary["interviewer_turns"] == len(streamed)
        for key in ("ttft_median_s", "tokens_per_s_median", "wait_median_s", "wait_max_s"):
            assert positive(summary[key]), key
        assert summary["grading_median_s"] >= 0 and summary["grading_calls"] == 0
        assert summary["decode_paths"] == {"generate": len(streamed) + 3}

        probe = mode["long_context"]  # one reply to a session of about 300 tokens
        assert probe["failed"] is None and probe["target_tokens"] == probe["sized_to"] == 300
        assert probe["prompt_tokens"] >= 300 and positive(probe["ttft_s"])
        assert probe["path"] == "generate" and probe["peak"]["kind"] == "cpu_rss"

        conversation = mode["conversation"]
        turns = conversation["turns"]
        assert len(turns) == 3
        assert all(positive(t["first_token_s"]) and t["new_tokens"] <= CAP for t in turns)
        assert positive(conversation["ttft_turn1_s"]) and positive(conversation["ttft_last_s"])
        assert positive(conversation["ttft_last_over_first"])
        assert conversation["prompt_tokens_last"] == turns[-1]["prompt_tokens"]
        if name == "no-reuse":
            assert all(t["reused_tokens"] == 0 for t in turns)
        else:  # the conversation so far comes from the cache
            assert conversation["reused_tokens_last"] > turns[-2]["prompt_tokens"] / 2

    for name in ("fast", "no-reuse"):
        ratios = data["speedup"][name]
        assert set(ratios) >= {"summary.ttft_median_s", "conversation.ttft_last_s"}
        assert all(r is None or r > 0 for r in ratios.values())


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["--random-weights", "huge"], "unknown random-weights shape 'huge'", "tiny, small"),
        (["--random-weights", "qwen2.5-7b"], "measured on a CUDA GPU", "tiny or small"),
        (["--random-weights", "tiny", "--compare", "default,turbo"], "'turbo'", "no-reuse"),
        ([], "--model or --random-weights", "--random-weights tiny"),
        (["--model", "x", "--random-weights", "tiny"], "one of them", ""),
        (["--model", "./no/such/model"], "no such file or folder", "--model"),
        (["--random-weights", "tiny", "--out", "/no/such/dir/b.json"], "does not exist", ""),
    ],
)
@pytest.mark.model  # bench imports torch before it checks its flags
def test_bad_input_gets_a_clear_error(args, message, hint):
    result = CliRunner().invoke(cli, ["bench", "--no-first-paint", *args])
    assert result.exit_code == 1, result.output
    assert message in result.output and hint in result.output
    assert "Traceback" not in result.output


def test_a_model_that_will_not_load(tiny_models, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_models["chatml"], broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    result = CliRunner().invoke(cli, ["bench", "--no-first-paint", "--model", str(broken)])
    assert result.exit_code == 1
    assert f"could not load {broken}" in result.output and "Traceback" not in result.output


def test_modes_are_parsed_and_checked():
    assert parse_modes(None, None) == ["default"]
    assert parse_modes(None, "fast") == ["fast"]
    assert parse_modes(" default, fast,default ", None) == ["default", "fast"]
    with pytest.raises(BenchError, match="'quick'"):
        parse_modes("default,quick", None)


def test_the_timing_proxy_caps_streams_and_records_structured_calls(small_bank):
    from interviewer.engine.grading import grader_output_type

    question = small_bank.questions[0]
    grade = {
        "key_points": [
            {"key_point_id": p.id, "rationale": "r", "verdict": "missing", "evidence": ""}
            for p in question.key_points
        ]
    }
    inner = ScriptedModel(
        [ScriptStep(purpose="follow_up", text="Why?"), ScriptStep(purpose="grade", json=grade)]
    )
    seen: list[int] = []
    real_stream = inner.stream

    def spy(messages, options, cancel=None):
        seen.append(options.max_new_tokens)
        return real_stream(messages, options, cancel)

    inner.stream = spy
    timed = TimedModel(inner, max_new_tokens=5)
    hello = [ChatMessage(role="user", content="hi")]
    assert "".join(timed.stream(hello, GenerationOptions(purpose="follow_up"))) == "Why?"
    assert seen == [5]
    timed.generate_structured(
        hello, grader_output_type(question), GenerationOptions(purpose="grade", max_new_tokens=900)
    )
    with pytest.raises(ModelError):  # the script has run out: recorded, then raised
        list(timed.stream(hello, GenerationOptions(purpose="clarify")))
    stream, structured, failed = timed.calls
    assert stream.kind == "stream" and stream.first_text_s is not None
    assert stream.new_tokens is None  # the scripted backend reports no tokens
    assert structured.kind == "structured" and structured.purpose == "grade"
    assert structured.total_s >= 0 and structured.failed is None
    assert failed.failed and "ScriptError" in failed.failed


def test_random_weights_are_reused_only_when_the_recipe_matches(tmp_path):
    from interviewer.llm.random_weights import RECIPE_FILE, build_random_model

    folder = build_random_model(tmp_path / "m", "tiny", reuse=True)
    weights = folder / "model.safetensors"
    first = weights.stat().st_mtime_ns
    assert build_random_model(tmp_path / "m", "tiny", reuse=True) == folder
    assert weights.stat().st_mtime_ns == first  # not built again
    build_random_model(tmp_path / "m", "tiny", seed=1, reuse=True)  # another recipe: rebuilt
    assert weights.stat().st_mtime_ns != first
    (folder / RECIPE_FILE).write_text("{broken")  # an interrupted build is never reused
    again = weights.stat().st_mtime_ns
    build_random_model(tmp_path / "m", "tiny", seed=1, reuse=True)
    assert weights.stat().st_mtime_ns != again
