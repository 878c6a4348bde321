"""Packaged data is found alike from a checkout and from a built wheel; the core stays light."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    assert f"```bash\n{command}\n```" in readme
    assert "pytest" in command and "pip install" in command
