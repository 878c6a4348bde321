"""The openai backend against a REAL OpenAI-compatible server (llama-cpp-python serving SmolLM2
on 127.0.0.1; no mocks): a whole headless interview through the CLI, constrained grades with
confidence from logprobs, cancel, a server killed mid-answer and resumed, and the errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.config import Settings
from interviewer.llm.base import (
    ChatMessage,
    GenerationCancelled,
    GenerationOptions,
    ModelUnavailable,
)
from interviewer.llm.openai import (
    KNOWN,
    ContextLengthError,
    open_server_model,
    shown_url,
)
from interviewer.llm.openai.client import normalize_base_url
from interviewer.llm.openai.structured import TokenChoice, allowed_values, field_confidences
from interviewer.resources import resource_dir
from interviewer.session.graders import grader_name
from interviewer.session.plan import session_settings
from interviewer.store import SessionStore
from interviewer.transcript import ModelInfo, Transcript
from tests.helpers.llama_server import ALIAS, LlamaServer, free_port, start_llama_server
from tests.helpers.models import smollm2_gguf

ONE_QUESTION = """\
id = "serverless-vs-dedicated"
title = "Serverless vs dedicated"
question = "How does serverless inference differ from a dedicated endpoint?"
reference_answer = "Serverless shares machines and bills per request; an endpoint bills per hour."
follow_up_angles = ["billing"]

[[key_points]]
id = "billing"
statement = "Serverless bills per request; an endpoint bills per hour of uptime."
weight = 1.0
facts = ["per request", "per hour"]
keywords = ["per request", "per hour"]
"""
KEY = "sk-interviewer-test-4f1c"
KEY_ENV = "LLAMA_TEST_KEY"

FIRST = "Serverless bills per request, while a dedicated endpoint bills per hour."
ANSWERS = {"serverless-vs-dedicated": [FIRST]}


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One question with one key point: SmolLM2 on two shared cores prefills a grading prompt
    in seconds, so every server test makes as few, as short calls as it can."""
    folder = tmp_path_factory.mktemp("one-question-bank")
    (folder / "bank.toml").write_text(
        'id = "one"\ntitle = "One question"\nquestions = ["serverless-vs-dedicated"]\n'
    )
    (folder / "serverless-vs-dedicated.toml").write_text(ONE_QUESTION)
    return folder


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def answers_file(tmp_path: Path) -> Path:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"answers": ANSWERS}))
    return path


def server_flags(url: str, model: str = ALIAS) -> list[str]:
    return ["--backend", "openai", "--base-url", url, "--model", model]


def short(bank: Path) -> list[str]:
    return ["--bank", str(bank), "--mode", "exam", "--max-follow-ups", "0"]


# ----------------------------------------------------------------------------- no server needed


def test_base_urls_are_normalized_and_shown_without_credentials():
    assert normalize_base_url("localhost:11434") == "http://localhost:11434/v1"
    assert normalize_base_url("http://gpu-box:8000/v1/") == "http://gpu-box:8000/v1"
    assert normalize_base_url("https://h/api/v1?x=1") == "https://h/api/v1"
    assert shown_url("http://me:secret@h:1/v1") == "http://h:1/v1"


def test_a_server_grades_by_default_and_is_set_like_every_setting(monkeypatch):
    assert grader_name(Settings(backend="openai")) == "both"
    monkeypatch.setenv("INTERVIEWER_BACKEND", "openai")
    monkeypatch.setenv("INTERVIEWER_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("INTERVIEWER_API_KEY_ENV", "MY_KEY")
    settings = Settings()
    assert (settings.backend, settings.base_url, settings.api_key_env) == (
        "openai",
        "http://127.0.0.1:9/v1",
        "MY_KEY",
    )


def test_a_server_session_resumes_on_its_server_and_model():
    from interviewer.store import SessionSummary

    summary = SessionSummary(
        id="s", started_at=None, updated_at=None, finished_at=None, status="in_progress",  # type: ignore[arg-type]
        bank_id="b", bank_title="B", bank_path=None, mode="exam", backend="openai",
        model_id="qwen", grader="llm:qwen+evidence", score=0, answered=0, question_count=1,
        regrades=0,
    )  # fmt: skip
    stored = ModelInfo(backend="openai", model_id="qwen", base_url="http://box:8000/v1")
    same = session_settings(Settings(), summary, model_given=False, stored=stored)
    assert (same.backend, same.model, same.base_url) == ("openai", "qwen", "http://box:8000/v1")
    moved = Settings(backend="openai", base_url="http://other:1/v1", model="llama")
    kept = session_settings(moved, summary, model_given=True, base_url_given=True, stored=stored)
    assert (kept.model, kept.base_url) == ("llama", "http://other:1/v1")
    local = session_settings(Settings(backend="hf"), summary, model_given=False, backend_given=True)
    assert local.backend == "hf"


def test_confidence_is_read_from_logprobs_among_the_allowed_values():
    # '{"verdict":"covered"}' written as four tokens; the model wanted prose more than a
    # verdict at the value's first token, but among verdicts it was sure.
    tokens = [
        TokenChoice(b'{"verdict":"', -0.01),
        TokenChoice(b"cover", -1.2, ((b"cover", -1.2), (b"The", -0.5), (b"miss", -3.0))),
        TokenChoice(b"ed", -0.001),
        TokenChoice(b'"}', -0.001),
    ]
    text = '{"verdict":"covered"}'
    raw = field_confidences(tokens, text, "verdict", None)
    among = field_confidences(tokens, text, "verdict", ["covered", "partial", "missing"])
    assert raw[0] == pytest.approx(0.301, abs=0.01)
    assert among[0] == pytest.approx(0.86, abs=0.02)
    assert field_confidences(tokens, text + " ", "verdict", None) == []  # tokens do not spell it
    schema = {"$defs": {"P": {"properties": {"verdict": {"enum": ["covered", "missing"]}}}}}
    assert allowed_values(schema, "verdict") == ["covered", "missing"]


# ----------------------------------------------------------------------------- the real server


def test_a_headless_interview_on_a_model_server(llama_server, bank_dir, tmp_path):
    """The whole interview through the CLI: every call on the server, the grade constrained by
    it (the form found by probing) with confidence from its logprobs, the answer stored, the
    transcript valid, the report saying how sure the grader was."""
    KNOWN.dialects.pop((llama_server.base_url, ALIAS), None)  # this run finds it out
    out = tmp_path / "t.json"
    result = invoke(
        "run", "--headless", *server_flags(llama_server.base_url), *short(bank_dir),
        "--answers", str(answers_file(tmp_path)), "--export", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    dialect = KNOWN.dialects[(llama_server.base_url, ALIAS)]
    assert dialect is not None and dialect.name == "json_object_schema"  # llama-cpp-python's
    data = json.loads(out.read_text())
    schema = json.loads((resource_dir("schemas") / "transcript.schema.json").read_text())
    jsonschema.validate(data, schema)
    transcript = Transcript.model_validate(data)
    assert transcript.status == "finished"
    assert transcript.model == ModelInfo(
        backend="openai", model_id=ALIAS, base_url=llama_server.base_url
    )
    assert transcript.grader == f"llm:{ALIAS}+evidence"
    (answered,) = transcript.results
    assert answered.answers == [FIRST]
    assert answered.grade is not None, answered.grading_error
    assert [v.key_point_id for v in answered.grade.key_points] == ["billing"]
    assert all(v.confidence is not None for v in answered.grade.key_points)
    assert answered.coach_feedback  # the coach's words came from the server too
    stored = SessionStore(Settings().store_path).load_transcript(transcript.session_id)
    assert [t.text for t in stored.turns if t.role == "candidate"] == [FIRST]
    report = invoke("export", transcript.session_id, "--format", "md").output
    assert "| Verdict confidence | the grading model's probability for each verdict" in report
    # A server that returns no logprobs: no confidence, and the report says so.
    from interviewer.report import build_view

    answered.grade.key_points[0].confidence = None
    assert "not available" in (build_view(transcript, None).confidence_line or "")


def test_a_cancel_stops_a_reply_within_a_second(llama_server):
    model = open_server_model(llama_server.base_url, ALIAS)
    cancel = threading.Event()
    reply = model.stream(
        [ChatMessage(role="user", content="Write a very long story about a lighthouse.")],
        GenerationOptions(purpose="clarify", max_new_tokens=2000),
        cancel,
    )
    next(reply)
    cancelled_at = time.perf_counter()
    cancel.set()
    with pytest.raises(GenerationCancelled):
        for _ in reply:
            pass
    assert time.perf_counter() - cancelled_at < 1.0
    # The server stopped generating for it: it serves one request at a time, and the next
    # call is answered in seconds, not after the 2000 tokens (over a minute on this CPU).
    started = time.perf_counter()
    done = model.complete(
        [ChatMessage(role="user", content="Say OK.")],
        GenerationOptions(purpose="clarify", max_new_tokens=1, temperature=0),
        None,
    )
    assert done.text and time.perf_counter() - started < 10.0


def test_a_context_length_error_says_what_to_do(llama_server):
    model = open_server_model(llama_server.base_url, ALIAS)
    long = "interview " * 9000  # more tokens than the server's --n_ctx 8192
    with pytest.raises(ContextLengthError) as caught:
        "".join(
            model.stream(
                [ChatMessage(role="user", content=long)],
                GenerationOptions(purpose="clarify", max_new_tokens=8),
            )
        )
    assert "--n_ctx" in caught.value.hint and "--max-model-len" in caught.value.hint


def test_a_model_name_the_server_does_not_have_lists_the_ones_it_has(
    llama_server, bank_dir, tmp_path
):
    result = CliRunner().invoke(
        cli,
        ["run", "--headless", *server_flags(llama_server.base_url, "qwen-72b"), *short(bank_dir),
         "--answers", str(answers_file(tmp_path))],
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"has no model 'qwen-72b'; it has: {ALIAS}" in result.output
    assert "what to do: pass one of them with --model" in result.output


def test_nothing_listening_is_said_at_once(bank_dir, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.perf_counter()
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--headless",
            *server_flags(url),
            *short(bank_dir),
            "--answers",
            str(answers_file(tmp_path)),
        ],
    )
    assert result.exit_code == 1
    assert f"Error: nothing is listening at {url}" in result.output
    assert "what to do: start the model server" in result.output
    assert time.perf_counter() - started < 5  # two retries with backoff, then the error


def test_doctor_checks_a_server(llama_server):
    result = CliRunner().invoke(cli, ["doctor", "--base-url", llama_server.base_url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("reachable") and "yes" in line for line in lines)
    assert any(line.startswith("models") and ALIAS in line for line in lines)
    assert any(line.startswith("one-token completion") for line in lines)
    assert "constrained by the server to the grade's JSON Schema" in result.output
    assert "No problems found." in result.output
    down = CliRunner().invoke(cli, ["doctor", "--base-url", f"127.0.0.1:{free_port()}"])
    assert down.exit_code == 1 and "nothing is listening" in down.output


# ----------------------------------------------------------------------------- a keyed server


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LlamaServer]]:
    """A second server, separately started (the kill test kills it; the shared one lives on),
    that wants an API key."""
    log_dir = tmp_path_factory.mktemp("keyed-server")
    holder = {
        "server": start_llama_server(smollm2_gguf(), log_dir, extra=("--api_key", KEY)),
        "log_dir": log_dir,  # type: ignore[dict-item]
    }
    yield holder  # type: ignore[misc]
    holder["server"].stop()


def test_a_refused_key_says_which_variable_to_set(keyed_server, bank_dir, tmp_path, monkeypatch):
    url = keyed_server["server"].base_url
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    missing = CliRunner().invoke(
        cli,
        [
            "run",
            "--headless",
            *server_flags(url),
            *short(bank_dir),
            "--answers",
            str(answers_file(tmp_path)),
        ],
    )
    assert missing.exit_code == 1
    assert "refused the request with no API key ($OPENAI_API_KEY is not set)" in missing.output
    assert "HTTP 401" in missing.output
    assert "what to do: set OPENAI_API_KEY to the server's API key" in missing.output
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-9d2e")
    wrong = CliRunner().invoke(
        cli,
        ["run", "--headless", *server_flags(url), *short(bank_dir), "--api-key-env", KEY_ENV,
         "--answers", str(answers_file(tmp_path))],
    )  # fmt: skip
    assert wrong.exit_code == 1
    assert f"with the key from ${KEY_ENV}" in wrong.output
    assert "sk-wrong-key-9d2e" not in wrong.output


def test_a_server_killed_mid_answer_loses_nothing_and_the_session_resumes(
    keyed_server, bank_dir, tmp_path, monkeypatch
):
    """The candidate's answer is stored before the server dies; the run stops with a clear
    message; `interviewer resume` finishes the session once a server is back. Then a server
    killed while it streams: the reply fails as a lost connection, not as a short reply."""
    server: LlamaServer = keyed_server["server"]
    data_dir = tmp_path / "data"
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(data_dir), KEY_ENV: KEY}
    answers = answers_file(tmp_path)
    command = [
        sys.executable, "-m", "interviewer", "run", "--headless", *server_flags(server.base_url),
        "--api-key-env", KEY_ENV, *short(bank_dir), "--grader", "evidence",
        "--answers", str(answers),
    ]  # fmt: skip
    run = subprocess.Popen(
        command,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert run.stdout is not None
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the interviewer answers once the answer is stored
        chunk = os.read(run.stdout.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
        if f"You: {FIRST}".encode() in seen:
            server.kill()
            break
    else:
        run.kill()
        pytest.fail(f"the answer never came: {seen!r}")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1, (seen + out, err)
    message = err.decode()
    assert "Error: the interview stopped:" in message
    assert f"server at {server.base_url}" in message  # lost mid-reply, or nothing listening
    assert "Continue later with `interviewer resume" in message
    assert KEY not in message and KEY not in (seen + out).decode()

    store = SessionStore(data_dir / "sessions.db")
    (summary,) = store.unfinished()
    stored = store.load_transcript(summary.id)
    assert [t.text for t in stored.turns if t.role == "candidate"] == [FIRST]

    # A server is back (same address, same key): resume finishes the session on it.
    back = start_llama_server(
        smollm2_gguf(), keyed_server["log_dir"], port=server.port, extra=("--api_key", KEY)
    )
    keyed_server["server"] = back
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(data_dir))
    monkeypatch.setenv(KEY_ENV, KEY)
    resumed = invoke(
        "resume", summary.id, "--headless", "--answers", str(answers), "--api-key-env", KEY_ENV
    )
    assert resumed.exit_code == 0, resumed.output
    final = store.load_transcript(summary.id)
    assert final.status == "finished"
    assert [t.text for t in final.turns if t.role == "candidate"] == [FIRST]  # asked once
    assert final.model.base_url == server.base_url and final.results[0].coach_feedback
    assert KEY.encode() not in (data_dir / "sessions.db").read_bytes()
    assert KEY not in invoke("export", summary.id, "--format", "json").output

    # Killed while streaming: the reply fails, as a lost connection (the interview stops).
    monkeypatch.setenv(KEY_ENV, KEY)
    model = open_server_model(back.base_url, ALIAS, api_key_env=KEY_ENV)
    reply = model.stream(
        [ChatMessage(role="user", content="Write a very long story about a lighthouse.")],
        GenerationOptions(purpose="clarify", max_new_tokens=500),
    )
    next(reply)
    back.kill()
    with pytest.raises(ModelUnavailable, match="lost mid-reply"):
        for _ in reply:
            pass
