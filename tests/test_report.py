"""Reports from stored sessions: JSON, Markdown, HTML (rendered by headless Chromium), regrades,
stats, and hostile candidate text through the store and every export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.config import Settings
from interviewer.report import render
from interviewer.report.markdown import literal
from interviewer.resources import resource_dir
from interviewer.store import SessionStore
from interviewer.transcript import Transcript

EXAMPLE_ANSWERS = Path(__file__).parent.parent / "examples" / "answers.json"
CHROMIUM = "/usr/bin/chromium"

HOSTILE = (
    "<script>alert('pwned')</script> <img src=x onerror=alert(1)> **bold** _it_ [link](http://x)"
    " # not a heading\n- not a list\n1. not a list\n> not a quote\n```\ncode fence\n```\n"
    "&lt;entity&gt; &amp; | table | \\backslash `tick` ~~strike~~ {{ jinja }} [bold]rich[/bold]"
    "\n\x1b[31mred\x1b[0m \x07bell \x00nul\x7f del \x9b csi\n    indented line"
)
# 100 KB that reads as an answer (a phrase repeated 2800 times would be screened as gibberish).
BIG = (
    HOSTILE
    + "\n"
    + " ".join(f"Endpoint {i} serves model {i * 7 % 1000} on GPU {i % 8}." for i in range(3000))
)


# On the subject, so the answer is graded (and quoted) despite the hostile text after it.
CHAT_TEMPLATE_ANSWER = (
    "apply_chat_template renders the list of messages with the jinja chat template that is "
    "stored with the tokenizer, so the same code works for any model. With "
    "add_generation_prompt the template opens the assistant turn for generation, and "
    "tokenize=False returns the formatted string instead of token ids. Special tokens differ "
    "between model families, and a malformed prompt fails silently with worse output. "
)


def invoke(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


@pytest.fixture
def store_path() -> Path:
    return Settings().store_path


@pytest.fixture
def schema() -> dict:
    return json.loads((resource_dir("schemas") / "transcript.schema.json").read_text())


def run_demo(answers: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["run", "--headless", "--backend", "scripted", "--answers", str(answers), *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("Session ") and "saved" in x)
    return line.split()[1]


@pytest.fixture
def hostile_session(tmp_path) -> tuple[str, Path]:
    answers = tmp_path / "hostile.json"
    answers.write_text(
        json.dumps(
            {
                "answers": {
                    "inference-api-vs-endpoints": [BIG, HOSTILE],
                    "apply-chat-template": [CHAT_TEMPLATE_ANSWER + HOSTILE],
                }
            }
        )
    )
    return run_demo(answers), answers


def export(session: str, fmt: str, out: Path, *extra: str):
    return CliRunner().invoke(
        cli, ["export", session, "--format", fmt, "-o", str(out), *extra], catch_exceptions=False
    )


def test_hostile_text_round_trips_through_the_store_and_json(
    hostile_session, store_path, tmp_path, schema
):
    session, _ = hostile_session
    assert len(BIG.encode()) > 100_000
    with SessionStore(store_path) as store:
        texts = [t.text for t in store.turns(session) if t.role == "candidate"]
        transcript = store.load_transcript(session)
    assert texts[:2] == [BIG, HOSTILE]  # stored exactly as typed
    out = tmp_path / "r.json"
    assert export(session, "json", out).exit_code == 0
    data = json.loads(out.read_text())
    jsonschema.validate(data, schema)
    exported = Transcript.model_validate(data)
    assert exported == transcript
    assert exported.results[0].answers[:2] == [BIG, HOSTILE]


def test_markdown_has_the_sections_and_candidate_text_is_literal(hostile_session, tmp_path):
    session, _ = hostile_session
    out = tmp_path / "r.md"
    result = export(session, "md", out)
    assert result.exit_code == 0, result.output
    md = out.read_text()
    assert md.startswith("# Interview report: Hugging Face ecosystem")
    for section in (
        "## Summary",
        "| # | Question | Status | Score |",
        "## 1. Serverless inference vs Endpoints",
        "### Conversation",
        "### Grade",
        "**Covered**",
        "**Partial**",
        "**Missed**",
        "### Feedback",
        "### Reference answer",
        "Sources: <https://",
        "Evidence: “",
    ):
        assert section in md, section
    # in what the candidate said (and the evidence quoted from it) every '<' is escaped
    conversations = re.findall(r"### Conversation\n(.*?)### Grade", md, re.S)
    evidence = re.findall(r"Evidence: .*", md)
    assert conversations and evidence
    assert re.findall(r"(?<!\\)<", "".join(conversations + evidence)) == []
    assert "\\<script\\>" in md and "\\*\\*bold\\*\\*" in md
    assert "\x1b" not in md and "\x00" not in md and "\x07" not in md and "\x9b" not in md
    assert "␛\\[31mred" in md  # control characters show, harmlessly
    # every line of the candidate's text is in a block quote, none escapes it
    assert "\\# not a heading" in md and "\n> \\- not a list" in md
    assert "\n> 1\\. not a list" in md and "\n> \\> not a quote" in md


def test_markdown_literal_escapes_everything_that_could_be_markup():
    assert literal("a <b> & `c`") == "a \\<b\\> \\& \\`c\\`"
    assert literal("# h\n- l\n  x") == "\\# h  \n\\- l  \n&nbsp;&nbsp;x"
    assert literal("\x1b[0m") == "␛\\[0m"


def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"{CHROMIUM} is missing: the HTML report test renders it in headless Chromium; "
            "install it with `apt-get update && apt-get install -y chromium` (.ci/run does)"
        )
    return CHROMIUM


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.browser
def test_html_report_renders_in_chromium_and_shows_script_as_text(hostile_session, tmp_path):
    session, _ = hostile_session
    out = tmp_path / "report.html"
    result = export(session, "html", out)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page  # markupsafe's quote
    assert "<svg" in page and "@media print" in page
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    assert not [t for t in tags if "src=" in t or "on" in t.split("=")[0].split()[-1][:2]]
    links = [t for t in tags if "href=" in t]
    assert all(t.startswith(('<a href="#q', '<a href="https://')) for t in links), links
    assert "@import" not in page and "url(" not in page  # no external assets
    assert "\x1b" not in page and "\x00" not in page
    shot, pdf = tmp_path / "report.png", tmp_path / "report.pdf"
    rendered = run_chromium(
        tmp_path,
        "--window-size=1100,1600",
        f"--screenshot={shot}",
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
        f"file://{out}",
    )
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    dom = run_chromium(tmp_path, "--dump-dom", f"file://{out}")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<script" not in dom.stdout.lower()  # nothing the candidate typed became an element
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in dom.stdout  # ... it is text


def test_export_defaults_and_file_errors(hostile_session, tmp_path):
    session, _ = hostile_session
    latest = invoke("export")  # the latest session, Markdown, to stdout
    assert latest.exit_code == 0 and latest.output.startswith("# Interview report")
    target = tmp_path / "report.html"
    assert invoke("export", "-o", str(target)).exit_code == 0
    assert target.read_text().startswith("<!DOCTYPE html>")  # format from the suffix
    again = CliRunner().invoke(cli, ["export", "-o", str(target)])
    assert again.exit_code == 1
    assert f"{target}: the file already exists" in again.output and "--force" in again.output
    assert invoke("export", session[:12], "-o", str(target), "--force").exit_code == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.html.")]
    for bad, message in (
        (tmp_path / "no" / "such" / "r.md", "does not exist"),
        (tmp_path, "is a folder"),
    ):
        failed = CliRunner().invoke(cli, ["export", "-o", str(bad)])
        assert failed.exit_code == 1 and message in failed.output, failed.output
        assert "Traceback" not in failed.output
    missing = CliRunner().invoke(cli, ["export", "nope"])
    assert missing.exit_code == 1 and "no stored session 'nope'" in missing.output


def test_commands_on_an_empty_store_say_so(tmp_path):
    assert "No sessions yet" in invoke("sessions").output
    assert "No sessions yet" in invoke("stats").output
    for args in (["export"], ["resume"], ["regrade"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and "no sessions are stored yet" in result.output


def grade_script(transcript: Transcript, bank) -> dict:
    """An LLM-grader script that covers every key point of each answered question."""
    from interviewer.engine.prefilter import prefilter

    steps = []
    for r in transcript.results:
        answers = [a for a in r.answers if prefilter(a) is None]
        if r.status != "answered" or not answers:
            continue
        quote = answers[0][:24]
        steps.append(
            {
                "purpose": "grade",
                "json": {
                    "key_points": [
                        {
                            "key_point_id": p.id,
                            "rationale": "ok",
                            "verdict": "covered",
                            "evidence": quote,
                        }
                        for p in bank.question(r.question_id).key_points
                    ]
                },
            }
        )
    return {"name": "regrader", "steps": steps}


def test_regrade_stores_new_grades_beside_the_old_and_reports_the_change(
    tmp_path, store_path, hf_bank, schema
):
    session = run_demo(EXAMPLE_ANSWERS)
    with SessionStore(store_path) as store:
        original = store.load_transcript(session)
    script = tmp_path / "regrade.json"
    script.write_text(json.dumps(grade_script(original, hf_bank)))
    result = invoke("regrade", session, "--backend", "scripted", "--script", str(script))
    assert result.exit_code == 0, result.output
    assert "inference-api-vs-endpoints: 57% -> 100%" in result.output

    with SessionStore(store_path) as store:
        regraded = store.load_transcript(session)
        grades = store.grades(session)
        assert store.get(session).regrades == 1
    assert regraded.results == original.results  # the old grades stay
    (redo,) = regraded.regrades
    assert redo.grader == "llm:script:regrader" and redo.model.model_id == "script:regrader"
    by_id = {r.question_id: r for r in redo.results}
    assert by_id["inference-api-vs-endpoints"].score == 1.0
    assert by_id["bnb-4bit-quantization"].grade.prefilter_reason == "dont_know"
    assert by_id["datasets-streaming"].grade is None  # skipped stays skipped
    assert {g.regrade_id for g in grades} == {None, 1}

    out = tmp_path / "r.json"
    assert export(session, "json", out).exit_code == 0
    jsonschema.validate(json.loads(out.read_text()), schema)
    md = invoke("export", session).output
    assert "### What the regrades changed" in md
    assert "57% → 100%" in md and ": missed → covered" in md

    # The evidence signal needs no chat model: nothing is loaded (HF_HUB_OFFLINE=1 and the
    # default hf backend would fail to find one).
    evidence = invoke("regrade", session, "--grader", "evidence")
    assert evidence.exit_code == 0, evidence.output
    assert "Regraded session" in evidence.output and "Checking the GPU" not in evidence.output
    with SessionStore(store_path) as store:
        second = store.load_transcript(session).regrades[1]
    assert second.grader == "evidence" and second.model.backend == "none"
    html = invoke("export", session, "--format", "html").output
    assert "What the regrades changed" in html and "regrade 1 (llm:script:regrader" in html

    # the same grader as the interview changes nothing
    same = invoke("regrade", session, "--backend", "scripted", "--grader", "evidence")
    assert same.exit_code == 0 and "total: 26% -> 26%" in same.output
    assert "no key point changed" in invoke("export", session).output


def test_sessions_and_stats_show_progress(tmp_path, hf_bank):
    first = run_demo(EXAMPLE_ANSWERS)
    better = tmp_path / "better.json"
    better.write_text(
        json.dumps(
            {
                "answers": {
                    q.id: [" ".join(k for p in q.key_points for k in p.keywords)]
                    for q in hf_bank.questions
                }
            }
        )
    )
    second = run_demo(better, "--mode", "exam")
    listed = invoke("sessions").output
    lines = listed.splitlines()
    assert lines[0].split() == [
        "session",
        "date",
        "bank",
        "mode",
        "model",
        "score",
        "answered",
        "status",
    ]
    assert lines[2].startswith(second) and "exam" in lines[2] and "100%" in lines[2]
    assert lines[3].startswith(first) and "26%" in lines[3] and "finished" in lines[3]

    stats = invoke("stats").output
    assert "hf-ecosystem" in stats and "2 session(s)" in stats
    assert "Score per session" in stats and "█" in stats
    chat = next(line for line in stats.splitlines() if line.strip().startswith("Chat templates"))
    assert chat.split()[2:7] == ["2", "40%", "100%", "100%", "70%"]
    assert "Key points you keep missing" in stats
    assert "apply-chat-template/formats-differ" in stats  # missed once, covered once
    assert "Model families use different special tokens" in stats


def test_a_session_can_be_rendered_without_its_bank(hostile_session, store_path):
    session, _ = hostile_session
    with SessionStore(store_path) as store:
        transcript = store.load_transcript(session)
    md = render(transcript, None, "md")
    assert "was not found" in md and "### Reference answer" not in md
    html = render(transcript, None, "html")
    assert "was not found" in html


def test_an_unusable_data_folder_is_said_once_and_the_answers_go_to_a_recovery_file(
    tmp_path, monkeypatch
):
    """The interview goes on (issue 19): told once why and where the answers go instead."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(blocker / "data"))
    monkeypatch.setenv("INTERVIEWER_RECOVERY_DIR", str(tmp_path / "recovery"))
    args = ["run", "--headless", "--backend", "scripted", "--answers", str(EXAMPLE_ANSWERS)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.output.count("cannot create the session folder") == 1
    assert "=== Question" in result.output and "Traceback" not in result.output
    (kept,) = (tmp_path / "recovery").glob("*.jsonl")
    assert str(kept) in result.output
    saved = CliRunner().invoke(cli, [*args, "--no-save"])
    assert saved.exit_code == 0 and "saved" not in saved.output.splitlines()[-1]


def test_shared_reports_name_a_local_model_folder_but_not_its_path(hostile_session, store_path):
    from interviewer.textutil import shown_name

    session, _ = hostile_session
    with SessionStore(store_path) as store:
        transcript = store.load_transcript(session)
    local = "/home/alice/private-models/qwen2.5-7b-finetune"
    transcript = transcript.model_copy(
        update={
            "model": transcript.model.model_copy(update={"model_id": local}),
            "grader": f"llm:{local}",
        }
    )
    for fmt in ("md", "html"):
        shown = render(transcript, None, fmt)
        assert "qwen2.5-7b-finetune" in shown and "/home/alice" not in shown, fmt
    assert shown_name("llm:Qwen/Qwen2.5-7B-Instruct") == "llm:Qwen/Qwen2.5-7B-Instruct"  # Hub ids
    assert shown_name("~/m/x.gguf") == "x.gguf" and shown_name("evidence") == "evidence"


# Each payload marks the page if it ever runs; the page is loaded without its CSP, so a missed
# escape would run instead of being blocked by the policy.
MARK = "document.documentElement.setAttribute('data-pwned', '{}')"
HOSTILE_MARKUP = (
    f"<script>{MARK.format('script')}</script>"
    f'<img src=x onerror="{MARK.format("img")}">'
    f'<svg onload="{MARK.format("svg")}"></svg>'
    f'<a href="javascript:{MARK.format("a")}">click</a>'
    " &lt;b&gt;entity&amp;amp; &#60;i&#62;"
)
HOSTILE_MARKDOWN = (
    f"[click](javascript:{MARK.format('md-link')}) ![pic](javascript:{MARK.format('md-img')}) "
    "![pic](x.png) [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) "
    f"<javascript:{MARK.format('autolink')}> **bold** `<script>{MARK.format('code')}</script>`"
    "\n\n" + HOSTILE_MARKUP
)
FREE_TEXT = {"text", "title", "model_id", "rationale", "evidence", "coach_feedback", "feedback"}


def hostile(data: object) -> object:
    """Every free-text field of a stored transcript with markup (and Markdown) appended."""
    if isinstance(data, dict):
        return {
            k: v + " " + HOSTILE_MARKDOWN if k in FREE_TEXT and isinstance(v, str) else hostile(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [hostile(v) for v in data]
    return data


def hostile_bank():
    from interviewer.bank import load_bank

    bank = load_bank(resource_dir("knowledge"))
    questions = tuple(
        q.model_copy(
            update={
                "question": q.question + " " + HOSTILE_MARKUP,
                "reference_answer": q.reference_answer + "\n\n" + HOSTILE_MARKDOWN,
                "sources": [*q.sources, f"javascript:{MARK.format('source')}", HOSTILE_MARKUP],
                "key_points": [
                    kp.model_copy(update={"statement": kp.statement + " " + HOSTILE_MARKDOWN})
                    for kp in q.key_points
                ],
            }
        )
        for q in bank.questions
    )
    return bank.model_copy(update={"title": bank.title + HOSTILE_MARKUP, "questions": questions})


def test_hostile_text_in_every_field_injects_no_element_and_runs_nothing(tmp_path):
    stored = json.loads(
        (Path(__file__).parent / "fixtures/transcripts/v2-retakes-and-study-hints.json").read_text()
    )
    transcript = Transcript.model_validate(hostile(stored))
    page = render(transcript, hostile_bank(), "html")
    assert page.count('http-equiv="Content-Security-Policy"') == 1
    unguarded = tmp_path / "report.html"  # without the policy: only the escaping protects it
    unguarded.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page))
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    assert not [t for t in tags if re.search(r"\s(on\w+|src)\s*=", t)]
    assert not [t for t in tags if t.split()[0] in ("<script", "<img", "<iframe", "<object")]
    links = [t for t in tags if "href=" in t]
    assert links and all(t.startswith(('<a href="#q', '<a href="https://')) for t in links), links
    assert "&lt;script&gt;" in page and "&amp;lt;b&amp;gt;entity&amp;amp;amp;" in page
    dom = run_chromium(tmp_path, "--dump-dom", f"file://{unguarded}")
    assert dom.returncode == 0, dom.stderr[-2000:]
    root = re.search(r"<html[^>]*>", dom.stdout)
    assert root is not None and "data-pwned" not in root.group(0), root  # no script ran
    elements = re.findall(r"<([a-zA-Z][\w-]*)([^>]*)>", dom.stdout)
    assert not [n for n, _ in elements if n.lower() in ("script", "img", "iframe", "object")]
    assert not [a for _, a in elements if re.search(r"\son\w+\s*=|javascript:|data:text", a)]
    assert "<script>document.documentElement" not in dom.stdout
    assert "&lt;script&gt;document.documentElement" in dom.stdout  # ... it is text
