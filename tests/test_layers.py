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
    assert "4 kept, 0 broken" in kept.stdout

    base = tree / "interviewer" / "llm" / "base.py"
    base.write_text(base.read_text() + "\nfrom interviewer.engine.events import Event  # up\n")
    broken = lint(tree)
    assert broken.returncode != 0
    assert "interviewer.llm.base -> interviewer.engine.events" in broken.stdout


def test_an_import_cycle_inside_a_package_breaks_the_contracts(tmp_path):
    """A cycle hidden in a function-level import (as session/plan.py once imported notes.py,
    which imported plan.py at the top) is seen: in the session layer, and in any package."""
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT / "interviewer", tree / "interviewer", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    errors = tree / "interviewer" / "session" / "errors.py"
    errors.write_text(
        errors.read_text()
        + "\n\ndef _later() -> None:\n    from interviewer.session import stores  # noqa\n"
    )
    view = tree / "interviewer" / "report" / "view.py"
    view.write_text(
        view.read_text()
        + "\n\ndef _later() -> None:\n    from interviewer.report import html  # noqa\n"
    )
    broken = lint(tree)
    assert broken.returncode != 0
    assert "The session layer" in broken.stdout and "BROKEN" in broken.stdout
    assert "interviewer.session.errors -> interviewer.session.stores" in broken.stdout
    assert "No cycles are allowed in interviewer.session." in broken.stdout
    assert "No cycles are allowed in interviewer.report." in broken.stdout
    assert "- .view -> .html (1 import)" in broken.stdout


def test_the_session_face_holds_what_front_ends_import():
    """`interviewer.session` exports exactly the names the front ends import from it, and the
    front ends import the layer only through it."""
    import ast

    import interviewer.session as session

    front_ends = [
        *(ROOT / "interviewer" / "cli").glob("*.py"),
        *(ROOT / "interviewer" / "tui").glob("*.py"),
        *(ROOT / "interviewer" / "bench").glob("*.py"),
        *(ROOT / "interviewer").glob("[hfd]*.py"),  # headless, firstpaint, doctor
        *(ROOT / "scripts").glob("*.py"),
    ]
    imported: set[str] = set()
    for path in front_ends:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("interviewer.session."), (path, node.module)
                if node.module == "interviewer.session":
                    imported |= {alias.name for alias in node.names}
    assert imported == set(session.__all__)
    assert set(session.__all__) == set(session._MODULE_OF)
    for name in session.__all__:
        assert getattr(session, name) is not None
