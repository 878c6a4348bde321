"""Every command in docs/import.md runs as written (from a folder that has the repository's
tests/ in it, so the page's paths resolve and what it writes stays in a temporary folder)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from interviewer.cli import cli

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "import.md"


def commands() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def test_every_command_of_the_import_page_runs(tmp_path, monkeypatch):
    found = commands()
    assert len(found) >= 15
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    for command in found:
        words = shlex.split(command)
        if words[0] == "python":
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            done = subprocess.run([sys.executable, *words[1:]], env=env, capture_output=True)
            assert done.returncode == 0, (command, done.stderr)
            continue
        assert words[0] == "interviewer", command
        result = CliRunner().invoke(cli, words[1:])
        assert result.exit_code == 0, (command, result.output)
        if "--dry-run" in words:
            assert "Dry run: " in result.output and "nothing was written" in result.output
