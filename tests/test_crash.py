"""A real crash: a headless interview killed with SIGKILL mid-session, then resumed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.transcript import Transcript

EXAMPLE_ANSWERS = Path(__file__).parent.parent / "examples" / "answers.json"


def _rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the store (none while it or its schema is not there)."""
    if not db_path.is_file():
        return []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        db.close()


def candidate_turns(db_path: Path) -> list[tuple[str, str]]:
    sql = "SELECT question_id, text FROM turns WHERE role = 'candidate' ORDER BY session_id, idx"
    return [(str(q), str(t)) for q, t in _rows(db_path, sql)]


def kill_when(proc: subprocess.Popen[Any], ready: Callable[[], bool], what: str) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` (polled), which must come within 30 s."""
    try:
        deadline = time.monotonic() + 30
        while not ready():
            stderr = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
            assert proc.poll() is None, f"the run ended before the kill: {stderr!r}"
            assert time.monotonic() < deadline, f"never happened: {what}"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_mid_session_then_resume_loses_nothing(tmp_path):
    db_path = Path(os.environ["INTERVIEWER_DATA_DIR"]) / "sessions.db"
    env = {**os.environ, "INTERVIEWER_TEST_DELAY_AFTER_TURN": "0.1"}
    proc = subprocess.Popen(
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
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    kill_when(proc, lambda: len(candidate_turns(db_path)) >= 4, "four recorded replies")
    before = candidate_turns(db_path)
    assert len(before) >= 4

    listed = CliRunner().invoke(cli, ["sessions", "--unfinished"], catch_exceptions=False)
    assert "unfinished" in listed.output and "interviewer resume ID" in listed.output

    out = tmp_path / "resumed.json"
    resumed = CliRunner().invoke(
        cli,
        [
            "resume",
            "--headless",
            "--backend",
            "scripted",
            "--answers",
            str(EXAMPLE_ANSWERS),
            "--export",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert resumed.exit_code == 0, resumed.output
    assert "resumed" in resumed.output and "all kept" in resumed.output
    final = Transcript.model_validate_json(out.read_text())
    assert final.status == "finished"
    given = [(t.question_id, t.text) for t in final.turns if t.role == "candidate"]
    assert given[: len(before)] == before  # every reply given before the kill, in order

    # ... and the whole session ends exactly as an uninterrupted one does
    reference = tmp_path / "reference.json"
    uninterrupted = CliRunner().invoke(
        cli,
        [
            "run",
            "--headless",
            "--backend",
            "scripted",
            "--answers",
            str(EXAMPLE_ANSWERS),
            "--export",
            str(reference),
            "--no-save",
        ],
        catch_exceptions=False,
    )
    assert uninterrupted.exit_code == 0
    expected = Transcript.model_validate_json(reference.read_text())
    assert given == [(t.question_id, t.text) for t in expected.turns if t.role == "candidate"]
    assert [(r.question_id, r.answers, r.score) for r in final.results] == [
        (r.question_id, r.answers, r.score) for r in expected.results
    ]
    assert final.score == expected.score


def test_sigkill_mid_answer_in_plain_mode_keeps_the_lines_typed(tmp_path):
    """The lines of an answer not yet sent (no empty line yet) survive a kill, and `resume`
    offers them again: an empty line then sends them."""
    db_path = Path(os.environ["INTERVIEWER_DATA_DIR"]) / "sessions.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "interviewer", "run", "--plain", "--backend", "scripted"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    typed = ["Serverless is a shared pool billed per request,", "Endpoints are dedicated."]
    assert proc.stdin is not None
    for line in typed:
        proc.stdin.write(line + "\n")
    proc.stdin.flush()  # no empty line: the answer is not sent
    kill_when(
        proc,
        lambda: _rows(db_path, "SELECT text FROM drafts") == [("\n".join(typed),)],
        "the two lines saved as a draft",
    )
    assert candidate_turns(db_path) == []  # nothing was sent

    out = tmp_path / "resumed.json"
    resumed = CliRunner().invoke(
        cli,
        ["resume", "--backend", "scripted", "--export", str(out)],
        input="\n/end\n\n",  # send the restored answer as it is, then end
        catch_exceptions=False,
    )
    assert resumed.exit_code == 0, resumed.output
    assert "the answer you had not sent, restored" in resumed.output
    transcript = Transcript.model_validate_json(out.read_text())
    assert transcript.results[0].answers[0] == "\n".join(typed)
