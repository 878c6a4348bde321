"""Importing a notes file as a bank: every layout, no invented answers, the errors, the cache
behind `run --bank notes.md`, any text in (a property), and the speed of a 200-question file.

The notes pages in tests/fixtures/notes/ were written for these tests, one per layout, on topics
other than the seed page (which is copied there as seed-hf-course-page.txt); each has a question
without an answer, which must be skipped.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewer.authoring.selfcheck import prefetch
from interviewer.bank import BankManifest, Question, load_bank
from interviewer.bank.importer import (
    NotesError,
    cached_notes_bank,
    import_notes,
    import_notes_text,
)
from interviewer.bank.notes import LAYOUTS, normalize
from interviewer.bank.writer import BankWriteError, manifest_toml, question_toml, write_bank
from interviewer.cli import cli
from interviewer.config import Settings
from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.grading import grader_view, score_verdicts
from interviewer.session.banks import find_session_bank
from interviewer.session.plan import plan_interview
from interviewer.session.stores import open_store

NOTES = Path(__file__).parent / "fixtures" / "notes"
SEED = NOTES / "seed-hf-course-page.txt"

# (file, layout detected, questions imported, lines of the questions skipped for no answer)
LAYOUT_FIXTURES = [
    ("seed-hf-course-page.txt", "course", 6, []),
    ("pytorch-headings.md", "headings", 5, [70]),
    ("tokenizers-details.md", "details", 5, [58]),
    ("evaluation-qa.md", "qa", 6, [44]),
    ("rl-numbered.md", "numbered", 5, [34]),
    ("training-course.txt", "course", 5, [29]),
    ("optimization-lines.txt", "lines", 3, [18]),
]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def words(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", text.lower()))


@pytest.mark.parametrize(("name", "layout", "count", "skipped"), LAYOUT_FIXTURES)
def test_each_layout_imports_its_questions_and_invents_no_answer(name, layout, count, skipped):
    path = NOTES / name
    imported = import_notes(path)
    assert imported.layout == layout
    assert len(imported.bank.questions) == count
    assert [s.line for s in imported.skipped] == skipped
    source = words(normalize(path.read_text(encoding="utf-8")))
    for question in imported.bank.questions:
        # The answer is the notes' own: every word of it is in the file, and so is the question.
        assert words(question.reference_answer) <= source, question.id
        assert words(question.question) <= source, question.id
        asked = question.question.lower()
        for point in question.key_points:
            assert point.facts and point.weight > 0
            for keyword in point.keywords:
                assert keyword in question.reference_answer.lower(), (question.id, keyword)
                assert not re.search(rf"(?<![a-z0-9]){re.escape(keyword)}(?![a-z0-9])", asked)
        assert question.sources == [f"{name}, line {imported.lines[question.id]}"]
    # Forcing the detected layout gives the same questions.
    forced = import_notes(path, layout)
    assert [q.question for q in forced.bank.questions] == [
        q.question for q in imported.bank.questions
    ]


VARIANTS = [
    (  # a GitHub README: numbered question headings, "Back to top" links, section headings
        "# ML questions\n\n## Basics\n\n### 1. What is overfitting?\n\nThe model learns the "
        "noise of the training set.\n\n**[Back to Top](#toc)**\n\n### 2. Explain the bias-variance"
        " tradeoff.\n\n- **Bias**: error from wrong assumptions.\n- **Variance**: error from "
        "sensitivity to the data.\n\n## Appendix\n\nLinks.\n",
        ["What is overfitting?", "Explain the bias-variance tradeoff."],
        [
            "The model learns the noise of the training set.",
            "- **Variance**: error from sensitivity",
        ],
    ),
    (  # "Q." and "A." labels
        "Q. What is a tensor?\nA. A multi-dimensional array with a dtype.\n\nQ. What is "
        "broadcasting?\nA. Expanding dimensions of size one.\n",
        ["What is a tensor?", "What is broadcasting?"],
        ["A multi-dimensional array with a dtype.", "Expanding dimensions of size one."],
    ),
    (  # "Question 1" on its own line, then the question, then "Answer"
        "Question 1\nWhat is attention?\nAnswer\nA weighted sum of values.\nQuestion 2\nWhat is"
        " multi-head attention?\nAnswer\nSeveral heads in parallel.\n",
        ["What is attention?", "What is multi-head attention?"],
        ["A weighted sum of values.", "Several heads in parallel."],
    ),
    (  # an "Answer" sub-heading under each question heading
        "### Question 3: What is dropout?\n#### Answer\nIt zeroes activations at random.\n\n"
        "### Question 4: What is label smoothing?\n#### Answer\nIt softens one-hot targets.\n",
        ["What is dropout?", "What is label smoothing?"],
        ["It zeroes activations at random.", "It softens one-hot targets."],
    ),
    (  # bold questions, no blank lines
        "**What is a learning rate schedule?**\nA rule that changes the rate, such as cosine "
        "decay.\n**Why use warm restarts?**\nThey reset the rate to escape sharp minima.\n",
        ["What is a learning rate schedule?", "Why use warm restarts?"],
        ["A rule that changes the rate", "They reset the rate"],
    ),
    (  # CRLF line ends, a BOM, a pilcrow and a comment
        "\ufeff## What is a GPU?\u00b6\r\n<!-- private -->\r\nA processor for parallel work.\r\n",
        ["What is a GPU?"],
        ["A processor for parallel work."],
    ),
]


@pytest.mark.parametrize(("text", "questions", "answers"), VARIANTS)
def test_layout_variants_people_write(text, questions, answers):
    imported = import_notes_text(text, name="notes.md")
    assert [q.question for q in imported.bank.questions] == questions
    for question, start in zip(imported.bank.questions, answers, strict=True):
        assert start in question.reference_answer
        assert "Back to Top" not in question.reference_answer and "Answer" not in question.title


def test_the_answers_keep_the_notes_structure():
    """A course page copied from a browser: inline "Label: - a - b" lists become lists, pasted
    code is fenced, the 'Show answer' line and the page's navigation footer are dropped."""
    questions = import_notes(SEED).bank.questions
    first, streaming, last = questions[0], questions[3], questions[5]
    assert first.question.startswith("What is the difference between the Hugging Face")
    assert "Inference API (serverless):\n\n- Uses a shared pool of GPU workers\n- Free tier" in (
        first.reference_answer
    )
    assert "Show answer" not in first.reference_answer
    assert '```\ndataset = load_dataset("allenai/c4"' in streaming.reference_answer
    assert "Day-05" not in last.reference_answer and last.reference_answer.endswith(".bin).")
    # A lead-in stays with its items: the point says when *not* to stream.
    statements = [p.statement for p in streaming.key_points]
    assert any(s.startswith("Don't use streaming when: You need random access") for s in statements)


def test_seed_page_imports_to_a_bank_that_passes_bank_check(tmp_path):
    out = tmp_path / "seed-bank"
    result = invoke("bank", "import", str(SEED), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.count("ok  ") == 6
    assert "course layout" in result.output
    check = invoke("bank", "check", str(out))
    assert check.exit_code == 0, check.output
    assert "has 6 valid questions" in check.output
    bank = load_bank(out)
    assert bank.title == "Interview Questions — Hugging Face Ecosystem"
    assert min(len(q.key_points) for q in bank.questions) >= 1
    assert max(len(q.key_points) for q in bank.questions) <= 8


def test_an_existing_output_folder_is_only_replaced_with_force(tmp_path):
    out = tmp_path / "bank"
    assert invoke("bank", "import", str(SEED), "-o", str(out)).exit_code == 0
    (out / "calibration").mkdir()
    (out / "stale-question.toml").write_text('id = "stale"\n')
    again = CliRunner().invoke(
        cli, ["bank", "import", str(NOTES / "rl-numbered.md"), "-o", str(out)]
    )
    assert again.exit_code == 1
    assert "already exists and is not empty; nothing was written" in again.output
    assert "--force" in again.output
    manifest = tomllib.loads((out / "bank.toml").read_text(encoding="utf-8"))
    assert manifest["id"] == "interview-questions-hugging-face-ecosystem"  # untouched
    forced = invoke("bank", "import", str(NOTES / "rl-numbered.md"), "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert load_bank(out).id == "reinforcement-learning-llms"  # stale files gone, loads clean
    assert (out / "calibration").is_dir()  # what is not the bank's own stays


def test_no_question_found_says_what_was_tried_and_shows_the_start(tmp_path):
    notes = tmp_path / "shopping.md"
    notes.write_text("# Shopping\n\nmilk, eggs and bread\n\nbuy stamps\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["bank", "import", str(notes), "-o", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert "no question found in shopping.md. Layouts tried:" in result.output
    for layout in LAYOUTS:
        assert f"- {layout}: " in result.output
    assert "| # Shopping" in result.output and "| milk, eggs and bread" in result.output
    assert "--format" in result.output
    assert not (tmp_path / "b").exists()


def test_questions_without_answers_are_reported_and_never_invented(tmp_path):
    with pytest.raises(NotesError) as info:
        import_notes_text("## What is a tensor?\n\n## What is a kernel?\n\nTODO\n", name="n.md")
    assert "2 questions found in n.md (headings layout), but none has an answer" in str(info.value)
    assert "line 1: 'What is a tensor?'" in str(info.value)
    notes = tmp_path / "notes.md"
    notes.write_text(
        "Q: What is a GPU?\nA: A processor for parallel work.\n\nQ: What is a TPU?\nA:\n",
        encoding="utf-8",
    )
    result = invoke("bank", "import", str(notes), "-o", str(tmp_path / "b"))
    assert result.exit_code == 0
    assert "skipped  line 4: 'What is a TPU?': no answer below it" in result.output
    assert [q.question for q in load_bank(tmp_path / "b").questions] == ["What is a GPU?"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01binary\x00", "looks like a binary file"),
        ("Q: caf\u00e9?\nA: yes".encode("latin-1"), "is not UTF-8 text"),
        (b"", "The file is empty."),
    ],
)
def test_unreadable_notes_get_a_clear_error(tmp_path, content, message):
    notes = tmp_path / "notes.md"
    notes.write_bytes(content)
    result = CliRunner().invoke(cli, ["bank", "import", str(notes), "-o", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert message in result.output and "what to do:" in result.output


def test_a_forced_layout_that_finds_nothing_names_only_that_layout():
    with pytest.raises(NotesError) as info:
        import_notes_text((NOTES / "rl-numbered.md").read_text(), layout="details")
    assert "Layouts tried:\n  - details:" in str(info.value)
    assert "- headings:" not in str(info.value)


# ----------------------------------------------------------------------------- run --bank


def test_run_takes_a_notes_file_imported_once_and_again_when_edited(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(data))
    notes = tmp_path / "hf.txt"
    notes.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    result = invoke(
        "run",
        "--headless",
        "--backend",
        "scripted",
        "--bank",
        str(notes),
        "--max-follow-ups",
        "1",
        "--answers",
        str(NOTES / "seed-answers.json"),
    )
    assert result.exit_code == 0, result.output
    assert "=== Question 6/6: Required files for a valid Hugging Face model repository ===" in (
        result.output
    )
    cached = sorted((data / "imported-banks").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("hf-")
    # The stored session points at the cached folder: reports and resumes find the bank.
    settings = Settings()
    store = open_store(settings)
    summary = store.latest()
    assert summary.bank_path == str(cached[0].resolve())
    assert summary.score > 0
    assert find_session_bank(summary)[0] is not None
    assert find_session_bank(summary, notes, settings)[0] is not None
    # The next start loads the same folder; an edited file is imported again.
    start = time.perf_counter()
    plan = plan_interview(settings.model_copy(update={"bank": notes}), None)
    assert time.perf_counter() - start < 1.0
    assert plan.bank.path == cached[0].resolve()
    notes.write_text(
        notes.read_text(encoding="utf-8") + "\nQ7: What is a model card?\nShow answer\n"
        "A README.md with YAML metadata that documents the model.\n",
        encoding="utf-8",
    )
    edited = plan_interview(settings.model_copy(update={"bank": notes}), None)
    assert len(edited.bank.questions) == 7
    assert len(list((data / "imported-banks").iterdir())) == 2


def test_a_damaged_cached_import_is_imported_again(tmp_path):
    notes = tmp_path / "rl.md"
    notes.write_text((NOTES / "rl-numbered.md").read_text(encoding="utf-8"), encoding="utf-8")
    first = cached_notes_bank(notes, tmp_path / "cache")
    assert first.path is not None
    (first.path / f"{first.questions[0].id}.toml").write_text("not toml [", encoding="utf-8")
    second = cached_notes_bank(notes, tmp_path / "cache")
    assert second.question_ids == first.question_ids


def test_a_notes_file_still_works_where_its_import_cannot_be_kept(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bank = cached_notes_bank(NOTES / "rl-numbered.md", blocker / "cache")
    assert len(bank.questions) == 5 and bank.path is None


def test_a_notes_file_that_is_no_bank_fails_the_plan_with_a_clear_error(tmp_path):
    notes = tmp_path / "empty.md"
    notes.write_text("nothing here\n", encoding="utf-8")
    from interviewer.session.errors import SessionError

    with pytest.raises(SessionError) as info:
        plan_interview(Settings(bank=notes, backend="scripted"), None)
    assert "cannot be used as a bank: no question found" in str(info.value)


# ----------------------------------------------------------------------------- grading


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


def test_a_strong_answer_scores_well_above_a_vague_one(embedder, one_torch_thread):
    """With the evidence signal, each imported question: a strong answer in words of its own
    against a vague one-liner (and one that only echoes the question)."""
    strong = json.loads((NOTES / "strong-answers.json").read_text(encoding="utf-8"))
    grader = EvidenceGrader(embedder)
    vague = "It is an important concept that helps the model work better, it depends on the case."
    cases: list[tuple[Question, dict[str, str]]] = []
    for name, answers in strong.items():
        if name.startswith("_"):
            continue
        questions = import_notes(NOTES / name).bank.questions
        assert len(questions) == len(answers), name
        for question, answer in zip(questions, answers, strict=True):
            echo = f"{question.question.rstrip('?')}: I have used it, it is useful, it depends."
            cases.append((question, {"strong": answer, "vague": vague, "echo": echo}))
    prefetch(grader, [q for q, _ in cases], [a for _, said in cases for a in said.values()])
    scores: dict[str, list[float]] = {"strong": [], "vague": [], "echo": []}
    for question, said in cases:
        for kind, text in said.items():
            verdicts = grader.grade(question, grader_view([text]))
            scores[kind].append(score_verdicts(question, verdicts))
        assert scores["strong"][-1] > scores["vague"][-1], question.id
    means = {kind: round(statistics.mean(values), 3) for kind, values in scores.items()}
    print(f"\nstrong vs vague over {len(cases)} imported questions: {means}")
    assert means["strong"] >= 0.8
    assert means["vague"] <= 0.05
    assert means["echo"] <= 0.15
    assert means["strong"] - means["echo"] >= 0.6


# ----------------------------------------------------------------------------- any text


def _round_trips(imported_bank) -> None:
    """Every file the importer would write parses back to the same bank."""
    manifest = BankManifest.model_validate(tomllib.loads(manifest_toml(imported_bank)))
    assert manifest.questions == imported_bank.question_ids
    for question in imported_bank.questions:
        again = Question.model_validate(tomllib.loads(question_toml(question, "a comment\nof two")))
        assert again == question


_FRAGMENTS = [
    "## ",
    "# ",
    "#### ",
    "Q: ",
    "**Q:** ",
    "A: ",
    "**A:** ",
    "Q1: ",
    "Question 2. ",
    "Answer:",
    "Show answer",
    "1. ",
    "2) ",
    "- ",
    "* ",
    "   - ",
    "<details>",
    "</details>",
    "<summary>",
    "</summary>",
    "```",
    "~~~",
    "| a | b |",
    "|---|---|",
    "---",
    "===",
    "",
    "?",
    ":",
    " - ",
    "What is ",
    "Why does ",
    "How ",
    "TODO",
    "\t",
    "\u00b6",
    "<!--",
    "-->",
    "`x_y`",
    "**b**",
    "e.g.",
    "x = f(",
    ")",
    "&amp;",
    "<br>",
    "<li>",
    "\u2028",
    "\r",
    "\x00",
    "\ud800",
    "Step 1 \u2014 ",
    "title: T",
    "[link](http://x)",
    "7B params",
    "~3.5 GB",
    "load_in_4bit=True",
]
_WORDS = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), max_size=12)
_LINE = st.tuples(
    st.sampled_from(_FRAGMENTS), _WORDS, st.sampled_from(["", "?", ":", ".", " - x", "**"])
).map("".join)
_DOCUMENT = st.lists(_LINE, max_size=30).map("\n".join)


def _import_or_clear_error(text: str):
    try:
        return import_notes_text(text, name="fuzz.md")
    except NotesError as exc:
        assert str(exc) and exc.hint
        return None


@given(st.text(max_size=400))
def test_any_text_gives_a_valid_bank_or_a_clear_error(text):
    imported = _import_or_clear_error(text)
    if imported is not None:
        _round_trips(imported.bank)


@settings(max_examples=300)
@given(_DOCUMENT)
def test_any_notes_like_document_gives_a_valid_bank_or_a_clear_error(text):
    imported = _import_or_clear_error(text)
    if imported is not None:
        assert imported.bank.questions
        _round_trips(imported.bank)


@settings(max_examples=40)
@given(_DOCUMENT)
def test_a_written_import_loads_as_a_bank(tmp_path_factory, text):
    imported = _import_or_clear_error(text)
    if imported is None:
        return
    folder = tmp_path_factory.mktemp("fuzz") / "bank"
    write_bank(imported.bank, folder)
    assert load_bank(folder).question_ids == imported.bank.question_ids


@settings(max_examples=60)
@given(_DOCUMENT, st.sampled_from(list(LAYOUTS)))
def test_a_forced_layout_gives_a_valid_bank_or_a_clear_error(text, layout):
    try:
        imported = import_notes_text(text, name="fuzz.md", layout=layout)
    except NotesError:
        return
    _round_trips(imported.bank)


# ----------------------------------------------------------------------------- speed


def big_document(questions: int) -> str:
    """A notes file of ``questions`` questions with answers of every style."""
    parts = ["# Two hundred questions\n"]
    for n in range(questions):
        topic = f"component{n} of system{n % 17}"
        parts.append(f"## Q{n + 1}: How does {topic} handle load number {n}?\n")
        style = n % 4
        if style == 0:
            parts.append(
                f"It shards requests across {n % 7 + 2} workers with `shard_{n}()`. Each worker "
                f"keeps a queue of {n * 3} items, so latency stays near {n % 50} ms. Back-pressure "
                "stops producers when the queue is full.\n"
            )
        elif style == 1:
            parts.append(
                "Use it when:\n"
                f"- traffic exceeds {n} requests/hour\n- the payload is larger than 4 MB\n"
                "Don't use it when:\n- you need strict ordering\n- the data fits in memory\n"
            )
        elif style == 2:
            parts.append(
                f"```python\nclient = System{n}(retries=3)\nclient.run(batch_size={n})\n```\n"
                f"The client retries three times and batches {n} items per call.\n"
            )
        else:
            parts.append(
                "| Mode | Latency | Cost |\n|---|---|---|\n"
                f"| eager | {n} ms | low |\n| lazy | {n * 2} ms | lower |\n\n"
                "Lazy mode trades latency for cost; eager mode is the default.\n"
            )
    return "\n".join(parts)


def test_a_200_question_document_imports_in_well_under_two_seconds(tmp_path):
    text = big_document(200)
    start = time.perf_counter()
    imported = import_notes_text(text, name="big.md")
    write_bank(imported.bank, tmp_path / "big")
    bank = load_bank(tmp_path / "big")
    elapsed = time.perf_counter() - start
    print(f"\n200-question import, write and load: {elapsed:.3f} s")
    assert len(bank.questions) == 200
    assert elapsed < 2.0


def test_bank_write_refuses_a_file_in_the_way(tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(BankWriteError):
        write_bank(import_notes(SEED).bank, target)
