"""One plain test per bug the fuzzers (tests/test_fuzz_parsers.py) found in a parser of outside
input. Each of these was a traceback before its fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from interviewer.bank import BankError, load_bank
from interviewer.calibration import load_calibration
from interviewer.cli import cli
from interviewer.config import ConfigError, load_settings
from interviewer.engine.grading import LLMGrader, grader_output_type
from interviewer.headless import AnswersFileError, load_answers, terminal_replies
from interviewer.llm.base import StructuredOutputError
from interviewer.llm.scripted import ScriptedModel, ScriptError, ScriptStep, load_script
from interviewer.llm.structured import parse_structured
from interviewer.resources import default_bank_dir
from interviewer.session.running import Session
from interviewer.transcript import (
    SCHEMA_VERSION,
    TranscriptError,
    load_transcript,
    parse_transcript,
)

DEEP_TOML = "x = " + "[" * 3000 + "]" * 3000 + "\n"
LONG_INT_TOML = "x = " + "9" * 5000 + "\n"
DEEP_JSON = '{"answers": ' + "[" * 5000 + "]" * 5000 + "}"
LONG_INT_JSON = '{"answers": ' + "9" * 5000 + "}"


@pytest.fixture
def bank_copy(tmp_path: Path) -> Path:
    target = tmp_path / "bank"
    shutil.copytree(default_bank_dir(), target)
    return target


# ----------------------------------------------------------------------------- the bank


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DEEP_TOML, "not valid TOML: it is nested too deeply"),  # was RecursionError
        (LONG_INT_TOML, "not valid TOML: a number is too long"),  # was ValueError
        ('title = "caf\xe9"\n', "not UTF-8 text (byte 0xe9 on line 1)"),
    ],
)
def test_a_question_file_that_breaks_the_toml_parser_is_a_bank_problem(
    bank_copy: Path, content: str, message: str
) -> None:
    path = bank_copy / "apply-chat-template.toml"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(BankError) as caught:
        load_bank(bank_copy)
    assert f"{path}: (syntax): {message}" in str(caught.value)
    assert caught.value.hint


def test_a_manifest_nested_too_deeply_is_a_bank_problem(bank_copy: Path) -> None:
    (bank_copy / "bank.toml").write_text(
        'id = "x"\ntitle = "T"\nquestions = ["a", ' + "[" * 3000 + "]" * 3000 + "]\n"
    )
    with pytest.raises(BankError, match=r"bank.toml: \(syntax\): not valid TOML: it is nested"):
        load_bank(bank_copy)


def test_a_calibration_set_nested_too_deeply_is_a_bank_problem(bank_copy: Path) -> None:
    (bank_copy / "calibration" / "apply-chat-template.toml").write_text(DEEP_TOML)
    bank = load_bank(bank_copy)
    with pytest.raises(BankError, match="nested too deeply"):
        load_calibration(bank, bank_copy / "calibration")


# ----------------------------------------------------------------------------- answers files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DEEP_JSON, "not valid JSON: it is nested too deeply"),  # was RecursionError
        (LONG_INT_JSON, "not valid JSON: a number is too long"),  # was ValueError
        # was a UnicodeEncodeError when the store recorded the answer
        ('{"answers": {"apply-chat-template": ["a \\ud800 b"]}}', "answers.apply-chat-template[0]"),
    ],
)
def test_answers_files_that_broke_the_json_parser(
    tmp_path: Path, hf_bank, content: str, message: str
) -> None:
    path = tmp_path / "answers.json"
    path.write_text(content)
    with pytest.raises(AnswersFileError) as caught:
        load_answers(path, hf_bank)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)
    assert caught.value.hint


def test_a_lone_surrogate_in_an_answers_file_is_refused_before_the_run(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text('{"answers": {"apply-chat-template": ["a \\ud800 b"]}}')
    result = CliRunner().invoke(
        cli, ["run", "--headless", "--backend", "scripted", "--answers", str(path)]
    )
    assert result.exit_code == 1, result.output
    assert "lone UTF-16 surrogate" in result.output
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------------- script files


@pytest.mark.parametrize(
    "content",
    ["[", '{"steps": 1}', "\xff", '{"steps": ' + "[" * 5000 + "]" * 5000 + "}", "9" * 5000],
)
def test_every_script_file_error_has_a_hint(tmp_path: Path, content: str) -> None:
    """The fuzzer's first find: ScriptError came without a hint; the nested and long-number
    documents were RecursionError and ValueError behind it."""
    path = tmp_path / "script.json"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert caught.value.hint
    with pytest.raises(ScriptError):
        load_script(tmp_path / "missing.json")


# ----------------------------------------------------------------------------- the config file


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'mode = "exam"\n\xff\n', "not UTF-8 text"),  # was UnicodeDecodeError
        (DEEP_TOML.encode(), "nested too deeply"),  # was RecursionError
        (LONG_INT_TOML.encode(), "a number is too long"),  # was ValueError
    ],
)
def test_a_config_file_that_breaks_the_toml_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(content)
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{config}: ") and message in str(caught.value)
    assert caught.value.hint
    result = CliRunner().invoke(cli, ["sessions"])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_a_path_with_a_nul_character_in_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data_dir = "/tmp/a\u0000b" passed validation and ended `interviewer run` in
    ``ValueError: embedded null byte`` when the store made its folder."""
    config = tmp_path / "config.toml"
    config.write_text('data_dir = "/tmp/a\\u0000b"\n')
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(config))
    monkeypatch.delenv("INTERVIEWER_DATA_DIR")  # (it would win over the file)
    with pytest.raises(ConfigError, match="data_dir: a path cannot hold a NUL character"):
        load_settings()
    result = CliRunner().invoke(cli, ["run", "--headless", "--answers", "x.json"])
    assert result.exit_code == 1 and "NUL character" in result.output


def test_a_config_path_that_is_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="is a folder, not a config file"):
        load_settings()


def test_a_nested_setting_in_the_environment_that_is_not_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """INTERVIEWER_EVIDENCE=x raised pydantic-settings' SettingsError (a traceback)."""
    monkeypatch.setenv("INTERVIEWER_EVIDENCE", "x")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("INTERVIEWER_EVIDENCE: not valid JSON")
    assert "INTERVIEWER_EVIDENCE=" in caught.value.hint


def test_a_bad_value_names_the_variable_or_the_file_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message said which setting, not where it was set."""
    config = tmp_path / "config.toml"
    config.write_text("max_follow_ups = 9\n")
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(config))
    monkeypatch.setenv("INTERVIEWER_MODE", "interview")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "mode: Input should be 'practice' or 'exam' (from INTERVIEWER_MODE)" in text
    assert f"max_follow_ups: Input should be less than or equal to 5 (in {config})" in text
    with pytest.raises(ConfigError, match=r"\(from the command line\)"):
        load_settings(max_follow_ups=7)


# ----------------------------------------------------------------------------- grade JSON


def test_a_grade_nested_too_deeply_is_a_bad_reply_not_a_crash(hf_bank, prompts) -> None:
    """A model reply nested deeper than the stack raised RecursionError out of the grader."""
    question = hf_bank.questions[0]
    deep = '{"a":' * 3000 + "1" + "}" * 3000
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_structured(deep, grader_output_type(question))
    model = ScriptedModel([ScriptStep(purpose="grade", text=deep)] * 3)
    with pytest.raises(StructuredOutputError, match="nested too deeply"):
        LLMGrader(model, prompts).grade(question, ["an answer"])


def test_a_grade_with_a_lone_surrogate_is_asked_again(hf_bank, prompts) -> None:
    question = hf_bank.questions[0]
    points = [
        {"key_point_id": p.id, "rationale": "r", "verdict": "missing", "evidence": ""}
        for p in question.key_points
    ]
    broken = json.dumps({"key_points": points}).replace('"r"', '"\\ud800"', 1)
    good = json.dumps({"key_points": points})
    model = ScriptedModel([ScriptStep(purpose="grade", text=t) for t in (broken, good)])
    verdicts = LLMGrader(model, prompts).grade(question, ["an answer"])
    assert verdicts[0].rationale == "r" and model.remaining == 0


# ----------------------------------------------------------------------------- transcripts


def test_a_transcript_from_a_newer_version_says_so(tmp_path: Path) -> None:
    fixture = next((Path(__file__).parent / "fixtures" / "transcripts").glob("*.json"))
    data = json.loads(fixture.read_text())
    newer = SCHEMA_VERSION + 1
    data["schema_version"] = newer
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TranscriptError, match=f"schema_version {newer} was written by a newer"):
        load_transcript(path)
    with pytest.raises(TranscriptError, match=r"t.json: not a valid transcript: \(document\)"):
        parse_transcript(b"\xff", str(path))


# ----------------------------------------------------------------------------- typed replies


def test_bytes_that_are_not_utf8_on_the_terminal_do_not_end_the_interview() -> None:
    """In --plain mode a stray byte came back as a lone surrogate (or a UnicodeDecodeError):
    the store could not record the answer."""
    import io

    raw = io.TextIOWrapper(io.BytesIO(b"caf\xe9 au lait\n\n"), encoding="utf-8", errors="strict")
    replies = terminal_replies(raw, io.StringIO())
    assert replies(None) == "caf\ufffd au lait"  # type: ignore[arg-type]


def test_the_session_never_hands_a_lone_surrogate_to_the_engine(small_bank) -> None:
    from interviewer.engine import EvidenceGrader, Interview

    session = Session(Interview(small_bank, ScriptedModel(), EvidenceGrader()))
    list(session.begin())
    list(session.reply("apple \udcff and apple-extra"))
    answer = next(t for t in session.interview.turns if t.role == "candidate")
    assert answer.text == "apple \ufffd and apple-extra"
    answer.text.encode("utf-8")


# ----------------------------------------------------------------------------- notes


def test_a_notes_line_of_brackets_is_read_in_linear_time() -> None:
    """The link pattern rescanned the rest of the line from every "[": a fuzzed notes file
    with a 3,000-bracket line took 5 s to parse (20,000 brackets: minutes)."""
    import time

    from interviewer.bank.notes import clean_inline, parse_notes

    started = time.perf_counter()
    assert (
        clean_inline("[" * 20000 + " see [the docs](https://x.y)") == "[" * 20000 + " see the docs"
    )
    text = "# Notes\n\n**Q:** What is a tokenizer?\n**A:** " + "[" * 20000 + " It splits text.\n"
    parse_notes(text)
    assert time.perf_counter() - started < 2.0  # quadratic: over a minute on this machine


def test_a_long_answer_of_punctuation_is_not_a_placeholder_check_in_quadratic_time() -> None:
    """The placeholder pattern (an answer of only "TODO", "n/a", "...") had two [\\W_]* in a
    row: 4,000 brackets and a letter took 0.5 s, 40,000 took a minute."""
    import time

    from interviewer.bank.notes.markup import _PLACEHOLDER

    started = time.perf_counter()
    assert _PLACEHOLDER.match("[" * 40000 + "a") is None
    assert time.perf_counter() - started < 1.0
    assert all(_PLACEHOLDER.match(t) for t in ("TODO", "- tbd -", "...", "n/a", "**coming soon**"))
    assert not _PLACEHOLDER.match("a real answer")
