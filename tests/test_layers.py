"""The layer contract (pyproject's [tool.importlinter]) holds, and it is a real check: an
import that points up makes `lint-imports` fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_import_from_the_engine_in_llm_breaks_the_contract(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT / "interviewer", tree / "interviewer", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    kept = lint(tree)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "2 kept, 0 broken" in kept.stdout

    base = tree / "interviewer" / "llm" / "base.py"
    base.write_text(base.read_text() + "\nfrom interviewer.engine.events import Event  # up\n")
    broken = lint(tree)
    assert broken.returncode != 0
    assert "interviewer.llm.base -> interviewer.engine.events" in broken.stdout
