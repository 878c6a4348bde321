"""Settings precedence, and the scripted backend's file format, replay checks and cancel."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.config import Settings
from interviewer.llm.base import ChatModel, GenerationCancelled, GenerationOptions
from interviewer.llm.scripted import ScriptedModel, ScriptError, ScriptStep, load_script


def test_settings_precedence(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('mode = "exam"\nmax_follow_ups = 1\n')
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(config))
    assert (Settings().mode, Settings().max_follow_ups) == ("exam", 1)
    monkeypatch.setenv("INTERVIEWER_MAX_FOLLOW_UPS", "3")
    assert (Settings().mode, Settings().max_follow_ups) == ("exam", 3)
    assert Settings(max_follow_ups=0).max_follow_ups == 0


def test_a_bad_config_file_is_reported_not_raised(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('mode = "interview"\nfollowups = 2\n')
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(config))
    result = CliRunner().invoke(cli, ["run", "--headless", "--answers", "x.json"])
    assert result.exit_code == 1
    assert "mode: Input should be 'practice' or 'exam'" in result.output
    assert "followups: Extra inputs are not permitted" in result.output
    assert str(config) in result.output
    config.write_text("mode = [")
    result = CliRunner().invoke(cli, ["run"])
    assert result.exit_code == 1 and "not valid TOML" in result.output


def test_scripted_model_implements_the_protocol():
    assert isinstance(ScriptedModel(), ChatModel)


def test_replay_checks_the_purpose_and_the_length():
    model = ScriptedModel([ScriptStep(purpose="follow_up", text="one two")])
    with pytest.raises(
        ScriptError, match="step 1 is a 'follow_up' reply but the interview asked for 'clarify'"
    ):
        list(model.stream([], GenerationOptions(purpose="clarify")))
    assert "".join(model.stream([], GenerationOptions(purpose="follow_up"))) == "one two"
    with pytest.raises(ScriptError, match="ran out after 1 steps"):
        list(model.stream([], GenerationOptions(purpose="follow_up")))


def test_stream_stops_when_cancelled():
    cancel = threading.Event()
    model = ScriptedModel(["a b c d e"])
    stream = model.stream([], GenerationOptions(purpose="clarify"), cancel)
    assert next(stream) == "a "
    cancel.set()
    with pytest.raises(GenerationCancelled):
        next(stream)


def test_demo_cycles_its_phrasings_and_cannot_grade():
    model = ScriptedModel()
    replies = ["".join(model.stream([], GenerationOptions(purpose="follow_up"))) for _ in range(4)]
    assert replies[0] != replies[1] and replies[0] == replies[3]
    with pytest.raises(ScriptError, match="cannot grade"):
        model._next_reply("grade", [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[", "not valid JSON"),
        (
            '{"steps": [{"purpose": "grade"}]}',
            "steps.0: Value error, a step needs exactly one of 'text' or 'json'",
        ),
        ('{"steps": [{"purpose": "dance", "text": "x"}]}', "steps.0.purpose"),
        ('{"stepz": []}', "steps: Field required"),
    ],
)
def test_bad_script_files(tmp_path, content, message):
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(ScriptError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_script(path)


def test_script_file_round_trip(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps({"name": "x", "steps": [{"text": "hi"}, {"purpose": "grade", "json": {"a": 1}}]})
    )
    model = ScriptedModel.from_file(path)
    assert model.info.model_id == "script:x" and model.remaining == 2
