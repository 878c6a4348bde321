"""The headless run end to end: CLI, answers files, transcript export, and its schema."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.engine.events import AwaitingReply
from interviewer.headless import EventPrinter, run_interview, terminal_replies
from interviewer.resources import resource_dir
from interviewer.transcript import Transcript, transcript_json_schema
from tests.helpers import grade_step, text_step

EXAMPLE_ANSWERS = Path(__file__).parent.parent / "examples" / "answers.json"


@pytest.fixture(autouse=True)
def _scripted_backend(_isolated_config: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the runner: the scripted backend stands in for the model."""
    monkeypatch.setenv("INTERVIEWER_BACKEND", "scripted")


@pytest.fixture(scope="session")
def transcript_schema() -> dict:
    return json.loads((resource_dir("schemas") / "transcript.schema.json").read_text())


def test_checked_in_schema_matches_the_models(transcript_schema):
    assert transcript_schema == transcript_json_schema(), (
        "the transcript models changed: regenerate with "
        "`interviewer schema > schemas/transcript.schema.json` (and bump SCHEMA_VERSION if "
        "old files no longer validate)"
    )


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_demo_run_from_the_real_entry_point(tmp_path, transcript_schema, hf_bank):
    out = tmp_path / "t.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "interviewer",
            "run",
            "--headless",
            "--backend",
            "scripted",
            "--answers",
            str(EXAMPLE_ANSWERS),
            "--export",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "=== Question 6/6" in proc.stdout and f"Transcript written to {out}" in proc.stdout
    data = json.loads(out.read_text())
    jsonschema.validate(data, transcript_schema)
    transcript = Transcript.model_validate(data)
    assert [r.question_id for r in transcript.results] == hf_bank.question_ids
    assert transcript.status == "finished" and transcript.grader == "evidence"
    by_id = {r.question_id: r for r in transcript.results}
    assert by_id["datasets-streaming"].status == "skipped"
    assert by_id["bnb-4bit-quantization"].grade.prefilter_reason == "dont_know"
    # not in the answers file: skipped, as a candidate who says nothing about it would be
    assert by_id["model-repo-files"].status == "skipped" and by_id["model-repo-files"].grade is None
    assert by_id["inference-api-vs-endpoints"].follow_ups == 2
    assert all(r.follow_ups <= 2 for r in transcript.results)
    repeat = [t for t in transcript.turns if t.kind == "repeat"]
    assert repeat and repeat[0].text == hf_bank.question("choosing-embedding-model").question


def hf_script(bank, missing_first: bool) -> dict:
    """A script for the six questions: each first grade covers only the first key point."""
    steps = []
    for question in bank.questions:
        first = question.key_points[0].id
        steps.append(
            grade_step(
                question,
                {first: "covered"}
                if missing_first
                else {p.id: "covered" for p in question.key_points},
                quote="answer",
            )
        )
        if missing_first:
            steps += [text_step("follow_up", f"Can you say more about {question.title.lower()}?")]
            steps.append(
                grade_step(question, {question.key_points[1].id: "partial"}, quote="answer")
            )
        steps.append(text_step("feedback", f"Feedback on {question.id}."))
    return {"name": "hf", "steps": [s.model_dump(by_alias=True, exclude_none=True) for s in steps]}


@pytest.mark.parametrize("max_follow_ups", [1, 2])
def test_scripted_grades_drive_follow_ups_within_the_cap(
    tmp_path, hf_bank, transcript_schema, max_follow_ups
):
    script = tmp_path / "script.json"
    data = hf_script(hf_bank, missing_first=True)
    if max_follow_ups == 2:  # after the partial, a second probe; its reply is empty (prefiltered)
        steps = []
        for step in data["steps"]:
            steps.append(step)
            if step["purpose"] == "grade" and step["json"]["key_points"][1]["verdict"] == "partial":
                steps.append({"purpose": "follow_up", "text": "Anything else?"})
        data["steps"] = steps
    script.write_text(json.dumps(data))
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps(
            {"answers": {q: ["first answer", "second answer"] for q in hf_bank.question_ids}}
        )
    )
    out = tmp_path / "t.json"
    result = invoke(
        "run",
        "--headless",
        "--script",
        str(script),
        "--answers",
        str(answers),
        "--export",
        str(out),
        "--max-follow-ups",
        str(max_follow_ups),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    jsonschema.validate(data, transcript_schema)
    transcript = Transcript.model_validate(data)
    assert transcript.grader == "llm:script:hf"
    for r in transcript.results:
        assert r.follow_ups == max_follow_ups
        assert r.score == pytest.approx(
            (
                hf_bank.question(r.question_id).key_points[0].weight
                + 0.5 * hf_bank.question(r.question_id).key_points[1].weight
            )
            / hf_bank.question(r.question_id).total_weight,
            abs=1e-4,
        )
    follow_ups = [t for t in transcript.turns if t.kind == "follow_up"]
    assert len(follow_ups) == 6 * max_follow_ups
    assert all(t.key_point_id for t in follow_ups)


def test_exam_mode_prints_no_grades_until_the_end(tmp_path, hf_bank):
    script = tmp_path / "script.json"
    data = hf_script(hf_bank, missing_first=False)
    # exam mode: an acknowledgement between questions, all feedback at the end
    grades = [s for s in data["steps"] if s["purpose"] == "grade"]
    feedback = [s for s in data["steps"] if s["purpose"] == "feedback"]
    steps = []
    for i, grade in enumerate(grades):
        steps.append(grade)
        if i < len(grades) - 1:
            steps.append({"purpose": "acknowledge", "text": "Thanks."})
    data["steps"] = steps + feedback
    script.write_text(json.dumps(data))
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"answers": {q: "an answer" for q in hf_bank.question_ids}}))
    result = invoke(
        "run", "--headless", "--mode", "exam", "--script", str(script), "--answers", str(answers)
    )
    assert result.exit_code == 0, result.output
    assert "[graded" not in result.output
    last_question = result.output.index("=== Question 6/6")
    assert result.output.index("Feedback on inference-api-vs-endpoints.") > last_question
    assert "100%" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json",
            "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)",
        ),
        ('{"answers": ["a", "b"]}', "answers: Input should be a valid dictionary"),
        ('{"answer": {}}', "answer: Extra inputs are not permitted"),
        (
            '{"answers": {"apply-chat-template": [1]}}',
            "answers.apply-chat-template.0: Input should be a valid string",
        ),
        (
            '{"answers": {"chat-templates": ["x"]}}',
            "answers: 'chat-templates' is not a question of the bank 'hf-ecosystem'",
        ),
    ],
)
def test_bad_answers_files_get_a_clear_error(tmp_path, content, message):
    answers = tmp_path / "a.json"
    answers.write_text(content)
    result = CliRunner().invoke(cli, ["run", "--headless", "--answers", str(answers)])
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert str(answers) in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--headless"], "--headless needs --answers FILE"),
        (
            ["run", "--headless", "--answers", "/nonexistent/a.json"],
            "/nonexistent/a.json: no such file",
        ),
        (
            [
                "run",
                "--headless",
                "--answers",
                str(EXAMPLE_ANSWERS),
                "--export",
                "/nonexistent/dir/t.json",
            ],
            "does not exist",
        ),
        (
            ["run", "--headless", "--answers", str(EXAMPLE_ANSWERS), "--grader", "llm"],
            "the built-in demo script cannot grade",
        ),
        (
            ["run", "--bank", "/nonexistent", "--headless", "--answers", str(EXAMPLE_ANSWERS)],
            "/nonexistent: (directory): not a directory",
        ),
        (["run", "--script", "/nonexistent.json"], "/nonexistent.json: cannot read the script"),
    ],
)
def test_bad_invocations_fail_clearly(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_script_that_runs_out_still_saves_the_transcript(tmp_path, hf_bank):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"steps": []}))
    out = tmp_path / "t.json"
    result = invoke(
        "run",
        "--headless",
        "--script",
        str(script),
        "--answers",
        str(EXAMPLE_ANSWERS),
        "--export",
        str(out),
    )
    # every grade fails (the script is empty): the run still finishes, nothing is invented
    assert result.exit_code == 0
    assert "warning: the model failed (grade)" in result.output
    transcript = Transcript.model_validate_json(out.read_text())
    answered = [r for r in transcript.results if r.grading_error]
    assert answered and all(r.grade is None and r.score == 0 for r in answered)


def test_terminal_mode_reads_multi_line_answers(tmp_path):
    out = tmp_path / "t.json"
    result = invoke(
        "run",
        "--export",
        str(out),
        "--max-follow-ups",
        "0",
        input="It uses a shared pool.\nEndpoints are dedicated.\n\n/skip\n\n",
    )
    assert result.exit_code == 0, result.output
    transcript = Transcript.model_validate_json(out.read_text())
    assert transcript.results[0].answers == ["It uses a shared pool.\nEndpoints are dedicated."]
    assert transcript.results[1].status == "skipped"
    # stdin ran out: the candidate ended the interview
    assert transcript.status == "ended_early"


def test_no_command_starts_an_interview():
    result = invoke(input="")
    assert result.exit_code == 0
    assert "=== Question 1/6" in result.output and "ended early" in result.output


def test_ctrl_c_ends_the_interview_and_keeps_the_answers(tmp_path, small_bank, make_interview):
    interview, _ = make_interview(small_bank, [], grader="evidence", mode="exam", acknowledge=False)
    given = iter(["apple banana"])

    def replies(awaiting: AwaitingReply) -> str:
        for text in given:
            return text
        raise KeyboardInterrupt

    out = tmp_path / "t.json"
    transcript = run_interview(interview, replies, EventPrinter(io.StringIO()), export=out)
    saved = Transcript.model_validate_json(out.read_text())
    assert saved == transcript
    assert saved.status == "ended_early"
    assert saved.results[0].answers == ["apple banana"]


def test_printer_strips_control_characters(small_bank, make_interview):
    interview, _ = make_interview(small_bank, [], grader="evidence", mode="exam", acknowledge=False)
    buffer = io.StringIO()
    stdin = io.StringIO("\x1b[31mred\x1b[0m [bold]markup[/bold]\n\n")
    run_interview(interview, terminal_replies(stdin, io.StringIO()), EventPrinter(buffer))
    assert "\x1b" not in buffer.getvalue()
    assert "[31mred[0m [bold]markup[/bold]" in buffer.getvalue()
    assert interview.results[0].answers == [
        "\x1b[31mred\x1b[0m [bold]markup[/bold]"
    ]  # stored as typed


def test_plain_mode_prints_markdown_turns_as_text(small_bank, make_interview):
    """The greeting, feedback and summary are Markdown for the TUI; the plain conversation shows
    them as text (no ** or backticks), and the candidate's own words stay exactly as typed."""
    interview, _ = make_interview(small_bank, [], grader="evidence", mode="practice")
    buffer = io.StringIO()
    typed = "An apple, *not* `code` or a_b_c \\ [b]x[/b]"
    stdin = io.StringIO(f"{typed}\n\n/end\n\n")
    run_interview(interview, terminal_replies(stdin, io.StringIO()), EventPrinter(buffer))
    shown = buffer.getvalue()
    greeting = shown.split("Interviewer: ", 1)[1].split("\n\n", 1)[0]
    assert small_bank.title in greeting and "**" not in greeting and "`" not in greeting
    assert "/repeat" in greeting  # the commands, without their backticks
    feedback = shown.split("Feedback on ", 1)[1]
    assert "Reference answer" in feedback and "**Reference answer**" not in feedback
    assert f'you said: "{typed}"' in " ".join(feedback.split())  # literal, escapes resolved
