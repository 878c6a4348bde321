"""The manual (README.md and docs/) stays true: every shell command in it is run here or by CI,
or is listed below with the reason nothing runs it as written; the configuration page is the
one scripts/config_docs.py writes; every path the architecture page names exists; every link
between the pages resolves; the README stays short."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)

# Pages that other pages link to and that are written on other branches (import formats, model
# servers, voice). Once one exists, this test fails until it is taken off the list.
PENDING_PAGES: set[str] = set()


@dataclass(frozen=True)
class Run:
    """How a test runs a documented command: in a fresh folder holding copies of `knowledge/`,
    `examples/` and a notes file (`notes.md`), with `tests/` linked in, after ``setup``, with
    ``env`` added; the exit status must be one of ``codes`` and the output hold ``expect``."""

    setup: str = ""
    env: dict[str, str] = field(default_factory=dict)
    marks: tuple[str, ...] = ()
    codes: tuple[int, ...] = (0,)
    expect: str = ""
    why: str = ""


DEMO_RUN = "interviewer run --backend scripted --headless --answers examples/answers.json"
SCRIPTED = {"INTERVIEWER_BACKEND": "scripted"}
WITHOUT_MODEL = (
    "run with INTERVIEWER_BACKEND=scripted: the command as written loads the default model "
    "(GPU or a download); the real-model path is tests/test_real_model.py"
)

# Every command of the manual, run by the test below.
RUN: dict[str, Run] = {
    ".venv/bin/interviewer": Run(
        env=SCRIPTED,
        why="with no terminal it runs --plain (the TUI itself: tests/tui/); " + WITHOUT_MODEL,
    ),
    "interviewer run --backend scripted": Run(),
    f"{DEMO_RUN} --export transcript.json": Run(),
    "interviewer run --headless --answers examples/answers.json --export transcript.json": Run(
        env=SCRIPTED, why=WITHOUT_MODEL
    ),
    "interviewer doctor": Run(
        marks=("model",),
        codes=(0, 1),  # 1: it found problems (here: no GPU, the default model not downloaded)
        expect="what to do:",
    ),
    "cp -r knowledge/ my-bank/": Run(),
    "interviewer bank check my-bank/": Run(
        setup="cp -r knowledge/ my-bank/", expect="has 6 valid questions"
    ),
    "interviewer run --bank my-bank/": Run(
        setup="cp -r knowledge/ my-bank/", env=SCRIPTED, why=WITHOUT_MODEL
    ),
    "interviewer bank import notes.md -o notes-bank/": Run(),
    "interviewer bank check --strict notes-bank/": Run(
        setup="interviewer bank import notes.md -o notes-bank/",
        env={"INTERVIEWER_EMBEDDING_MODEL": "sentence-transformers/all-MiniLM-L6-v2"},
        marks=("model",),
        codes=(0, 1),  # 1: findings, which is what it is for (tests/test_bank_selfcheck.py)
    ),
    "interviewer run --bank notes.md": Run(env=SCRIPTED, why=WITHOUT_MODEL),
    "interviewer stats": Run(setup=DEMO_RUN, expect="Key points you keep missing"),
    "interviewer calibrate --benchmark tests/fixtures/benchmark/mini.json": Run(
        env={"INTERVIEWER_EMBEDDING_MODEL": "sentence-transformers/all-MiniLM-L6-v2"},
        marks=("model",),
        expect="cosine baseline",
    ),
}

# Commands that the test suite cannot run as written, each with the reason and what covers it.
NOT_RUN: dict[str, str] = {
    "python3 -m venv .venv && .venv/bin/pip install -e .": (
        "installs from PyPI; CI's `make install-test` makes the same venv with the test extra"
    ),
    "make install-test server && make check test": "CI: .ci/run runs these four targets",
    "make test-fast": (
        "runs the suite inside the suite; tests/test_packaging.py checks its marker expression "
        "deselects every registered marker"
    ),
    "HYPOTHESIS_PROFILE=deep .venv/bin/python -m pytest tests/test_fuzz_parsers.py": (
        "20,000 examples per parser (many minutes); the suite runs the same tests at 500"
    ),
    "interviewer run --backend openai --base-url http://localhost:11434/v1 "
    "--model qwen2.5:7b-instruct": (
        "needs Ollama; the same command on a real llama-cpp-python server is "
        "tests/test_openai_backend.py::test_a_headless_interview_on_a_model_server"
    ),
    "interviewer calibrate --fit --against tests/fixtures/calibration-holdout "
    "--against tests/fixtures/calibration-styles": (
        "the fit searches many settings (minutes on two cores); tests/test_evidence_signal.py "
        "runs the same fit and scores it on both sets"
    ),
    'vllm serve Qwen/Qwen2.5-7B-Instruct --host 0.0.0.0 --port 8000 --api-key "$COHORT_KEY"': (
        "needs vLLM and a GPU"
    ),
    "export OPENAI_API_KEY=...": "a placeholder for the cohort's key",
    "interviewer run --backend openai --base-url http://gpu-box:8000/v1 "
    "--model Qwen/Qwen2.5-7B-Instruct": "needs the vLLM server above (a GPU box)",
    # docs/grading.md
    "interviewer calibrate --benchmark ../shared/benchmarks/asag/saf-networking-en-train.json "
    "--json saf.json": (
        "grades 1,476 answers (minutes); the same command on tests/fixtures/benchmark/mini.json "
        "runs above, and tests/test_benchmark.py covers the figures"
    ),
    "interviewer calibrate --benchmark set.json --grader llm --backend openai \\": (
        "needs a model server and a set of the reader's"
    ),
    "--base-url http://127.0.0.1:8080/v1 --sample 150": "the second line of the command above",
    "python scripts/fit_evidence.py --cache /tmp/vectors.pkl --write": (
        "embeds ten thousand answers (an hour on two cores); tests/test_benchmark.py tests the "
        "fit and the shipped model"
    ),
    # docs/servers.md
    "python -m llama_cpp.server --model model.gguf --n_ctx 8192 \\": (
        "starts a server for a model file of the reader's; tests/helpers/llama_server.py "
        "starts the same server with these flags for tests/test_server_cache.py"
    ),
    "--cache True --cache_type ram --interrupt_requests False": (
        "the second line of the server command above"
    ),
    "interviewer --backend openai --base-url http://127.0.0.1:11434/v1 --model qwen2.5:7b": (
        "needs Ollama; tests/test_openai_backend.py runs an interview on a real server"
    ),
    "interviewer doctor --base-url http://127.0.0.1:11434/v1": (
        "needs Ollama; tests/test_discovery.py runs doctor against a real llama.cpp server"
    ),
    # docs/voice.md
    "pip install 'interviewer[voice]'": "installs from PyPI; `make install-test` installs it",
    "sudo apt-get install libportaudio2 espeak-ng": "installs from Debian; .ci/run does",
    "interviewer run --voice": "needs a microphone; tests/test_voice.py drives the recogniser",
    "interviewer run --voice --no-speak": "needs a microphone (tests/tui/test_voice_tui.py)",
    "interviewer run --voice --stt-model small": (
        "needs a microphone and the `small` model from the Hub; tests use `base` from PyPI"
    ),
    "interviewer run --time-limit 2m": (
        WITHOUT_MODEL + "; the clock is tested in tests/test_voice.py and the TUI tests"
    ),
    "interviewer run --headless --answers-audio answers/ --export transcript.json": (
        "needs the reader's recordings and the default model; tests/test_voice.py runs a "
        "spoken headless interview with espeak-ng speech and the real recogniser"
    ),
}

# Pages whose every command another test runs as written.
RUN_ELSEWHERE = {"docs/import.md": "tests/test_import_docs.py"}


def shell_commands(text: str) -> list[str]:
    """Each command line of the page's shell blocks (comments and blank lines left out)."""
    commands = []
    for match in FENCE.finditer(text):
        if match.group(2) not in SHELLS:
            continue
        for line in match.group(3).splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def documented() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in PAGES:
        if page.is_file():
            if page.relative_to(ROOT).as_posix() in RUN_ELSEWHERE:
                continue
            for command in shell_commands(page.read_text(encoding="utf-8")):
                found.setdefault(command, []).append(page.relative_to(ROOT).as_posix())
    return found


def test_every_documented_command_is_run_or_listed_with_a_reason():
    found = documented()
    unaccounted = sorted(f"{pages[0]}: {c}" for c, pages in found.items() if c not in RUN | NOT_RUN)
    assert not unaccounted, (
        "commands in the manual that no test runs: add each to RUN in tests/test_docs.py "
        "(how to run it) or, only if it cannot run here, to NOT_RUN with the reason:\n"
        + "\n".join(unaccounted)
    )
    stale = sorted((set(RUN) | set(NOT_RUN)) - set(found))
    assert not stale, f"listed in tests/test_docs.py but in no page any more: {stale}"
    assert not set(RUN) & set(NOT_RUN)


def test_ci_runs_the_commands_it_is_said_to():
    ci = (ROOT / ".ci" / "run").read_text()
    for target in ("install-test", "server", "check", "test"):
        assert re.search(rf"^make {target}$", ci, re.M), target


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for folder in ("knowledge", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copy(
        ROOT / "tests" / "fixtures" / "notes" / "pytorch-headings.md", tmp_path / "notes.md"
    )
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    shim = tmp_path / ".venv" / "bin" / "interviewer"
    shim.parent.mkdir(parents=True)
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m interviewer "$@"\n')
    shim.chmod(0o755)
    return tmp_path


def run_params() -> list[object]:
    return [
        pytest.param(
            command, how, id=command[:60], marks=[getattr(pytest.mark, m) for m in how.marks]
        )
        for command, how in RUN.items()
    ]


@pytest.mark.parametrize(("command", "how"), run_params())
def test_documented_command_runs(command: str, how: Run, workdir: Path) -> None:
    env = {
        **os.environ,
        **how.env,
        "PATH": f"{workdir / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    script = f"set -e\n{how.setup}\n{command}\n" if how.setup else f"{command}\n"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = f"{command}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert done.returncode in how.codes, output
    assert how.expect in done.stdout + done.stderr, output
    assert "Traceback" not in done.stderr, done.stderr


def test_the_configuration_page_is_generated_from_the_settings():
    import runpy

    render = runpy.run_path(str(ROOT / "scripts" / "config_docs.py"))["render"]
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == render(), "docs/configuration.md is stale: run `make docs` and commit it"


def test_every_setting_is_on_the_configuration_page():
    from interviewer.config import CalibrationTargets, EvidenceThresholds, Settings

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`INTERVIEWER_{name.upper()}`" in page
    for prefix, model in (("evidence", EvidenceThresholds), ("calibration", CalibrationTargets)):
        for name in model.model_fields:
            assert f"`{prefix}.{name}`" in page


def test_every_module_the_architecture_page_names_exists():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = page[page.index("| layer |") : page.index("\n\n", page.index("| layer |"))]
    named = set(re.findall(r"`([\w/]+(?:\.py|/))`", table))
    assert len(named) > 40
    missing = sorted(p for p in named if not (ROOT / "interviewer" / p).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", re.sub(FENCE, "", text), re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return anchors


def test_every_link_between_the_pages_resolves():
    for page in PAGES:
        if not page.is_file():
            continue
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(FENCE, "", text)):
            if re.match(r"\w+://", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            relative = resolved.relative_to(ROOT).as_posix()
            if relative in PENDING_PAGES:
                continue
            assert resolved.exists(), f"{page.name}: link to {target}: no such file"
            if anchor and resolved.suffix == ".md":
                assert anchor in _anchors(resolved.read_text(encoding="utf-8")), (
                    f"{page.name}: link to {target}: no such heading"
                )
    written = sorted(p for p in PENDING_PAGES if (ROOT / p).exists())
    assert not written, f"take {written} off PENDING_PAGES in tests/test_docs.py: they exist now"


def test_the_readme_is_the_front_door_not_the_manual():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
