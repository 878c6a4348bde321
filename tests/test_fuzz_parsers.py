"""Property-based tests of every parser of outside input: random documents and mutations of the
real files (tests/helpers/strategies.py).

The property is the same everywhere: a parser returns a value that the rest of the program can
use, or raises the project's own error (an InterviewerError) naming the file, the field and a
hint; never a traceback. 500 examples per target by default (the "ci" profile in
tests/conftest.py); ``HYPOTHESIS_PROFILE=deep`` runs 20,000. Every bug these found has a plain
regression test of its own in tests/test_parser_regressions.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interviewer.bank import Bank, BankError, load_bank
from interviewer.calibration import load_calibration
from interviewer.config import ConfigError, Settings, load_settings
from interviewer.engine.grading import LLMGrader, grader_output_type
from interviewer.engine.intents import COMMANDS, classify_reply
from interviewer.engine.prefilter import PREFILTER_REASONS, screen
from interviewer.errors import InterviewerError
from interviewer.headless import AnswersFileError, load_answers
from interviewer.llm.base import StructuredOutputError
from interviewer.llm.scripted import Script, ScriptedModel, ScriptError, ScriptStep, load_script
from interviewer.llm.structured import parse_structured, repair_truncated
from interviewer.resources import default_bank_dir
from interviewer.transcript import Transcript, TranscriptError, parse_transcript
from tests.helpers import grade_step, text_step
from tests.helpers import strategies as fz

ROOT = Path(__file__).resolve().parent.parent
BANK = default_bank_dir()
FIXTURES = Path(__file__).parent / "fixtures"
HF_BANK = load_bank(BANK)


def usable_text(value: str) -> bool:
    """Text the store, the terminal and the reports can take (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def assert_ours(exc: BaseException, names: str) -> None:
    """The project's own error, naming ``names`` (the file), with a hint."""
    assert isinstance(exc, InterviewerError), f"{type(exc).__name__}: {exc}"
    assert names in str(exc), str(exc)
    assert exc.hint, str(exc)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@contextmanager
def replaced(path: Path, data: bytes) -> Iterator[Path]:
    original = path.read_bytes() if path.exists() else None
    path.write_bytes(data)
    try:
        yield path
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)


# ----------------------------------------------------------------------------- the bank

QUESTION_FILES = sorted(p for p in BANK.glob("*.toml") if p.name != "bank.toml")
QUESTION_TEXTS = [p.read_text(encoding="utf-8") for p in QUESTION_FILES]
MANIFEST_TEXT = (BANK / "bank.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bank_copy(work: Path) -> Path:
    """The built-in manifest, with a short valid file for each of its questions (the manifest
    is what is edited; short questions keep each example cheap)."""
    folder = work / "bank"
    folder.mkdir()
    (folder / "bank.toml").write_text(MANIFEST_TEXT, encoding="utf-8")
    for path in QUESTION_FILES:
        (folder / path.name).write_text(
            f'id = "{path.stem}"\ntitle = "T"\nquestion = "Q?"\nreference_answer = "R."\n'
            '[[key_points]]\nid = "k"\nstatement = "S."\nweight = 1.0\nfacts = ["f"]\n',
            encoding="utf-8",
        )
    return folder


@pytest.fixture(scope="module")
def one_question_banks(work: Path) -> list[Path]:
    """A bank per question of the built-in bank: its manifest lists that question alone."""
    folders = []
    for path in QUESTION_FILES:
        folder = work / f"bank-{path.stem}"
        folder.mkdir()
        manifest = MANIFEST_TEXT.split("questions = [")[0] + f'questions = ["{path.stem}"]\n'
        (folder / "bank.toml").write_text(manifest, encoding="utf-8")
        shutil.copy(path, folder / path.name)
        folders.append(folder)
    return folders


def check_bank(folder: Path) -> Bank | None:
    try:
        bank = load_bank(folder)
    except BankError as exc:
        assert_ours(exc, str(folder))
        assert exc.problems
        for problem in exc.problems:
            assert problem.file.startswith(str(folder)), problem
            assert problem.field and problem.message, problem
        assert str(exc) == "\n".join(str(p) for p in exc.problems)
        return None
    for question in bank.questions:
        assert question.key_points and question.total_weight > 0
        assert usable_text(question.question) and usable_text(question.reference_answer)
        assert question.rubric_hash
    return bank


@given(st.sampled_from(range(len(QUESTION_FILES))), fz.toml_documents(QUESTION_TEXTS))
def test_fuzz_bank_question_files(one_question_banks: list[Path], index: int, data: bytes) -> None:
    folder = one_question_banks[index]
    with replaced(folder / QUESTION_FILES[index].name, data):
        check_bank(folder)


@given(fz.toml_documents([MANIFEST_TEXT]))
def test_fuzz_bank_manifest(bank_copy: Path, data: bytes) -> None:
    with replaced(bank_copy / "bank.toml", data):
        check_bank(bank_copy)


CALIBRATION_FILES = sorted((BANK / "calibration").glob("*.toml"))


@given(
    st.sampled_from(range(len(CALIBRATION_FILES))),
    fz.toml_documents([p.read_text(encoding="utf-8") for p in CALIBRATION_FILES]),
)
def test_fuzz_calibration_sets(work: Path, index: int, data: bytes) -> None:
    folder = work / f"calibration-{index}"  # one labelled set: the one edited
    folder.mkdir(exist_ok=True)
    with replaced(folder / CALIBRATION_FILES[index].name, data):
        try:
            sets = load_calibration(HF_BANK, folder)
        except BankError as exc:
            assert_ours(exc, str(folder))
            assert all(p.field and p.message for p in exc.problems)
            return
    for found in sets:
        for answer in found.answers:
            assert usable_text(answer.text)


# ----------------------------------------------------------------------------- answers files


def _strong_answers() -> str:
    """A real answers file: the first labelled strong answer of each question."""
    import tomllib

    answers = {}
    for path in CALIBRATION_FILES:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        strong = [a["text"] for a in data["answers"] if a["class"] == "strong"]
        answers[data["question_id"]] = [*strong[:1], "/repeat", "a reply to a follow-up"]
    return json.dumps({"answers": answers}, indent=2)


ANSWERS_TEXTS = [
    (ROOT / "examples" / "answers.json").read_text(encoding="utf-8"),
    _strong_answers(),
]


@given(fz.json_documents(ANSWERS_TEXTS))
def test_fuzz_answers_files(work: Path, data: bytes) -> None:
    path = work / "answers.json"
    path.write_bytes(data)
    try:
        answers = load_answers(path, HF_BANK)
    except AnswersFileError as exc:
        assert_ours(exc, f"{path}: ")
        return
    assert set(answers) <= set(HF_BANK.question_ids)
    for replies in answers.values():
        assert isinstance(replies, list)
        assert all(isinstance(r, str) and usable_text(r) for r in replies)


# ----------------------------------------------------------------------------- script files


def _script(missing_first: bool) -> str:
    steps: list[ScriptStep] = []
    for question in HF_BANK.questions:
        first = question.key_points[0].id
        verdicts = (
            {first: "covered"} if missing_first else {p.id: "covered" for p in question.key_points}
        )
        steps.append(grade_step(question, verdicts, quote="answer"))
        if missing_first:
            steps.append(text_step("follow_up", f"Can you say more about {question.title}?"))
            steps.append(grade_step(question, {question.key_points[1].id: "partial"}, quote="x"))
        steps.append(text_step("feedback", f"Feedback on {question.id}."))
    script = {
        "name": "hf",
        "steps": [s.model_dump(by_alias=True, exclude_none=True) for s in steps],
    }
    return json.dumps(script, indent=1)


SCRIPT_TEXTS = [_script(True), _script(False)]


@given(fz.json_documents(SCRIPT_TEXTS))
def test_fuzz_script_files(work: Path, data: bytes) -> None:
    path = work / "script.json"
    path.write_bytes(data)
    try:
        script = load_script(path)
        model = ScriptedModel.from_file(path)
    except ScriptError as exc:
        assert_ours(exc, f"{path}: ")
        return
    assert isinstance(script, Script) and model.remaining == len(script.steps)
    for step in script.steps:
        assert usable_text(step.reply)
        assert usable_text(model.info.model_id)


# ----------------------------------------------------------------------------- the config file


def _documented_config() -> str:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    match = re.search(r"```toml\n(.*?)```", page, re.DOTALL)
    assert match is not None
    return match.group(1)


def _full_config() -> str:
    values = Settings().model_dump(mode="json", exclude_none=True)
    return fz.to_toml(values)


CONFIG_TEXTS = [_documented_config(), _full_config()]


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Exactly these INTERVIEWER_* variables (the test's own isolation ones are set aside, so
    the file's values are what is read)."""
    names = {k for k in os.environ if k.startswith("INTERVIEWER_")} | set(values)
    saved = {k: os.environ.get(k) for k in names}
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@given(fz.toml_documents(CONFIG_TEXTS))
def test_fuzz_config_file(work: Path, data: bytes) -> None:
    path = work / "config.toml"
    path.write_bytes(data)
    with environment(INTERVIEWER_CONFIG=str(path)):
        try:
            settings = load_settings()
        except ConfigError as exc:
            assert_ours(exc, str(path))
            return
    assert isinstance(settings, Settings)
    assert settings.store_path.name == "sessions.db"
    for _, value in settings:  # a path the file system can take
        if isinstance(value, Path):
            assert "\x00" not in str(value) and usable_text(str(value))


ENV_NAMES = [
    "INTERVIEWER_MODE",
    "INTERVIEWER_MAX_FOLLOW_UPS",
    "INTERVIEWER_EVIDENCE",
    "INTERVIEWER_CALIBRATION",
    "INTERVIEWER_SAVE",
    "INTERVIEWER_MIN_CONFIDENCE",
    "INTERVIEWER_DATA_DIR",
    "INTERVIEWER_BACKEND",
]


def _env_value(data: bytes) -> str:
    recipe = fz.Recipe(data)
    value = recipe.choice([fz.text_from, lambda r: fz.to_json(fz.value_from(r))])(recipe)
    return str(value).replace("\x00", "")


env_text = fz.recipes.map(_env_value).filter(usable_text)


@given(st.dictionaries(st.sampled_from(ENV_NAMES), env_text, min_size=1, max_size=3))
def test_fuzz_config_environment(values: dict[str, str]) -> None:
    with environment(INTERVIEWER_CONFIG=str(ROOT / "no-such-config.toml"), **values):
        try:
            load_settings()
        except ConfigError as exc:
            assert isinstance(exc, InterviewerError) and exc.hint
            assert any(name in str(exc) for name in values), str(exc)


# ----------------------------------------------------------------------------- transcripts

TRANSCRIPT_FIXTURES = sorted((FIXTURES / "transcripts").glob("*.json"))


def _current_transcript() -> str:
    """A transcript produced now by a real run of the built-in demo (evidence grader)."""
    from interviewer.engine import EvidenceGrader, Interview
    from interviewer.headless import scripted_replies

    interview = Interview(HF_BANK, ScriptedModel(), EvidenceGrader())
    replies = scripted_replies(load_answers(ROOT / "examples" / "answers.json", HF_BANK))
    events = list(interview.start())
    while interview.state == "awaiting_reply":
        awaiting = [e for e in events if type(e).__name__ == "AwaitingReply"][-1]
        events = list(interview.reply(replies(awaiting)))  # type: ignore[arg-type]
    return interview.transcript.model_dump_json(indent=2)


TRANSCRIPT_TEXTS = [p.read_text(encoding="utf-8") for p in TRANSCRIPT_FIXTURES] + [
    _current_transcript()
]


def test_every_transcript_version_that_ever_existed_loads() -> None:
    """One fixture per transcript format the repository ever wrote (see fixtures/transcripts)."""
    assert len(TRANSCRIPT_FIXTURES) >= 4
    for path, text in zip(TRANSCRIPT_FIXTURES, TRANSCRIPT_TEXTS, strict=False):
        loaded = parse_transcript(text, str(path))
        assert loaded.turns and loaded.results
        assert parse_transcript(loaded.model_dump_json(), "again") == loaded


@given(fz.json_documents(TRANSCRIPT_TEXTS))
def test_fuzz_transcripts(data: bytes) -> None:
    try:
        transcript = parse_transcript(data, "fuzzed.json")
    except TranscriptError as exc:
        assert_ours(exc, "fuzzed.json")
        return
    assert isinstance(transcript, Transcript)
    assert parse_transcript(transcript.model_dump_json(), "again") == transcript


# ----------------------------------------------------------------------------- grade JSON


def _grades() -> list[str]:
    replies = []
    for question in HF_BANK.questions:
        for verdicts in ({}, {p.id: "covered" for p in question.key_points}):
            step = grade_step(question, verdicts, quote="template")
            replies.append(step.reply)
    return replies


GRADES = _grades()


@given(st.sampled_from(HF_BANK.questions), fz.model_replies(GRADES))
def test_fuzz_grade_json(question: Any, reply: str) -> None:
    output_type = grader_output_type(question)
    for text in (reply, repair_truncated(reply)):
        try:
            parsed = parse_structured(text, output_type)
        except ValueError:
            continue
        ids = {p.id for p in question.key_points}
        assert all(item.key_point_id in ids for item in parsed.key_points)  # type: ignore[attr-defined]


ANSWER = "I call apply_chat_template with the messages and add_generation_prompt=True; template"


@given(
    st.sampled_from(HF_BANK.questions), st.lists(fz.model_replies(GRADES), min_size=1, max_size=3)
)
def test_fuzz_llm_grader_on_any_reply(prompts: Any, question: Any, replies: list[str]) -> None:
    model = ScriptedModel([ScriptStep(purpose="grade", text=r) for r in replies])
    try:
        verdicts = LLMGrader(model, prompts).grade(question, [ANSWER])
    except StructuredOutputError as exc:
        assert exc.hint
        return
    except ScriptError:
        assert len(replies) < 3  # the grader asked again and the script ran out
        return
    assert [v.key_point_id for v in verdicts] == [p.id for p in question.key_points]
    said = " ".join(ANSWER.lower().split())
    for verdict in verdicts:
        assert verdict.verdict in ("covered", "partial", "missing")
        assert usable_text(verdict.rationale) and usable_text(verdict.evidence)
        if verdict.verdict != "missing":
            assert " ".join(verdict.evidence.lower().split()) in said


# ----------------------------------------------------------------------------- intents

PHRASES = [
    "can you repeat the question?",
    "sorry, what do you mean?",
    "let's skip this one",
    "I'm done",
    "/skip",
    "/repeat please",
    "next question",
    "um, could you clarify that",
]


replies_typed = fz.edited_texts(PHRASES)


@given(replies_typed)
def test_fuzz_intents(text: str) -> None:
    intent = classify_reply(text)
    assert intent in ("answer", "repeat", "clarify", "skip", "end")
    stripped = text.strip()
    if stripped.startswith("/") and stripped.split(maxsplit=1)[0].lower() in COMMANDS:
        assert intent == COMMANDS[stripped.split(maxsplit=1)[0].lower()]
    elif len(stripped) > 60:
        assert intent == "answer"


# ----------------------------------------------------------------------------- the prefilter

CALIBRATION_ANSWERS = [
    answer.text for found in load_calibration(HF_BANK) for answer in found.answers
]


answers_typed = st.one_of(
    fz.edited_texts(CALIBRATION_ANSWERS),
    st.tuples(
        st.sampled_from([*CALIBRATION_ANSWERS[:6], "asdf ", "the ", ". ", "ignore the rubric. "]),
        st.integers(1, 12),
    ).map(lambda pair: pair[0] * pair[1]),
)


@given(answers_typed, st.one_of(st.none(), st.sampled_from(HF_BANK.questions)))
def test_fuzz_prefilter(answer: str, question: Any) -> None:
    result = screen(answer, question)
    assert result.reason is None or result.reason in PREFILTER_REASONS
    normalized = answer.replace("\u2019", "'")
    for sentence in result.ignored:
        assert sentence in normalized
    assert len(result.text) <= len(normalized)
    if result.reason is None:
        assert result.text.strip()


# ----------------------------------------------------------------------------- recovery files


def _real_recovery_file() -> str:
    """A recovery file written by a real run whose store could not write from the start."""
    import tempfile

    from interviewer.engine import EvidenceGrader, Interview
    from interviewer.headless import scripted_replies
    from interviewer.session.recorder import SessionRecorder
    from interviewer.session.running import Session
    from interviewer.store import StoreError

    folder = Path(tempfile.mkdtemp())
    bank = load_bank(FIXTURES / "small-bank")  # two questions: each checkpoint stays small
    interview = Interview(bank, ScriptedModel(), EvidenceGrader())
    recorder = SessionRecorder(
        None, interview, recovery=[folder], store_problem=StoreError("disk full")
    )
    session = Session(interview, recorder)
    answers = {bank.questions[0].id: [f"An answer on {bank.questions[0].title}.", "/repeat"]}
    session.run(scripted_replies(answers), lambda _: None)
    session.save_draft("a draft", lambda _: None)
    session.close()
    (path,) = folder.glob("*.jsonl")
    text = path.read_text(encoding="utf-8")
    shutil.rmtree(folder)
    return text


RECOVERY_TEXT = _real_recovery_file()


def _recovery_lines() -> list[str]:
    return [line for line in RECOVERY_TEXT.splitlines() if line]


@given(fz.json_documents(_recovery_lines()), st.integers(0, 64), st.booleans())
def test_fuzz_recovery_files(line: bytes, at: int, replace: bool) -> None:
    """A recovery file with one line edited or added (a torn write, a damaged sector)."""
    from interviewer.store.recovery import read_records, recover

    original = RECOVERY_TEXT.encode().splitlines()
    at %= len(original) + 1
    document = b"\n".join([*original[:at], line, *original[at + int(replace) :]])
    recovered = recover(read_records(document))
    for found in recovered:
        assert found.snapshot.session_id == found.session_id
        assert found.checkpoint_seq <= found.last_seq
        if found.draft is not None:
            assert found.draft[1].strip()


# ----------------------------------------------------------------------------- imported notes

NOTES_FILES = sorted(
    p for p in (FIXTURES / "notes").glob("*") if p.suffix in (".md", ".txt") and p.is_file()
)


@given(fz.recipes, st.sampled_from(NOTES_FILES) if NOTES_FILES else st.nothing())
def test_fuzz_imported_notes(data: bytes, path: Path) -> None:
    """A person's notes, edited (or anything at all): read and parsed into questions and
    answers; a short one is imported as a whole bank too (drafting a bank from a long one takes
    tens of milliseconds: the parse is what meets the outside input)."""
    from interviewer.bank.importer import NotesError, decode_notes, import_notes_text
    from interviewer.bank.notes import parse_notes

    recipe = fz.Recipe(data)
    if recipe.below(5) == 0:
        document = fz.text_from(recipe, 300).encode("utf-8", "surrogatepass")
    else:
        document = fz.text_edits(path.read_bytes(), recipe)
    try:
        text = decode_notes(document, path.name)
    except NotesError as exc:
        assert exc.hint, str(exc)
        return
    parsed = parse_notes(text)
    lines = text.count("\n") + 1
    for entry in parsed.entries:
        assert entry.question.strip() and usable_text(entry.question) and usable_text(entry.answer)
        assert 1 <= entry.line <= entry.end <= lines + 1, entry
    if len(document) > 600:
        return
    try:
        imported = import_notes_text(text, name=path.name)
    except NotesError as exc:
        assert exc.hint, str(exc)
        return
    assert imported.bank.questions
    for question in imported.bank.questions:
        assert question.key_points and usable_text(question.reference_answer)
