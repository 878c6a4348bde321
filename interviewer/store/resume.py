"""Continue a stored session that stopped before its end.

    interview, recorder = resume_session(store, session_id, bank, model, grader)
    for event in interview.resume():
        recorder(event)
        ...           # then interview.reply(...) as usual

Nothing is replayed through the model: the engine is restored from the session's last
checkpoint. If the process died while a reply was being processed, that reply is the
snapshot's ``pending_reply`` and ``Interview.resume()`` processes it first; the interviewer turns
and grades produced after the checkpoint are dropped, since the resumed engine produces them
again.
"""

from __future__ import annotations

from pathlib import Path

from interviewer.bank.loader import BankError, load_bank
from interviewer.bank.models import Bank
from interviewer.config import Settings
from interviewer.engine.grading import Grader
from interviewer.engine.interview import Interview
from interviewer.engine.snapshot import SnapshotMismatchError, check_snapshot_fits
from interviewer.llm.base import ChatModel
from interviewer.prompts import PromptLibrary
from interviewer.store.db import SessionStore, SessionSummary, StoreError
from interviewer.store.recorder import SessionRecorder


class ResumeError(StoreError):
    """The session cannot continue; the message says why and ``hint`` what to do instead."""


def find_session_bank(
    summary: SessionSummary, bank_dir: Path | None = None
) -> tuple[Bank | None, list[str]]:
    """The bank a stored session was taken on: ``bank_dir`` if given, else the folder it came
    from, else the built-in bank; with what was wrong with each place that did not fit."""
    from interviewer.resources import default_bank_dir

    if bank_dir is not None:
        candidates = [bank_dir]
    else:
        candidates = [Path(summary.bank_path)] if summary.bank_path else []
        candidates.append(default_bank_dir())
    problems: list[str] = []
    for folder in candidates:
        try:
            bank = load_bank(folder)
        except BankError as exc:
            problems.append(f"{folder}: {exc}")
            continue
        if bank.id == summary.bank_id:
            return bank, problems
        problems.append(f"{folder}: holds the bank '{bank.id}'")
    return None, problems


def check_resumable(store: SessionStore, session_id: str, bank: Bank) -> None:
    """Raise :class:`ResumeError` unless the session is unfinished and fits ``bank``."""
    summary = store.get(session_id)
    if summary.finished:
        raise ResumeError(
            f"session {summary.id} has already finished ({summary.status.replace('_', ' ')}, "
            f"score {summary.score * 100:.0f}%); there is nothing to resume",
            f"export it: `interviewer export {summary.id}`",
        )
    try:
        check_snapshot_fits(bank, store.load_snapshot(summary.id))
    except SnapshotMismatchError as exc:
        raise ResumeError(
            f"session {summary.id} cannot resume: {exc}",
            f"its answers are kept: `interviewer regrade {summary.id}` re-scores them against "
            "the current rubric, or pass --bank with the bank the session was taken on",
        ) from exc


def session_settings(
    settings: Settings,
    summary: SessionSummary,
    *,
    model_given: bool,
    backend_given: bool = False,
) -> Settings:
    """The settings that continue ``summary`` on the model it ran on, unless the candidate chose
    another: a session on a local model keeps that model, and one on the built-in demo goes on
    with the demo (not with the default model, which may not even be downloaded).

    Raises :class:`ResumeError` for a session that ran on a script file: which file is not
    stored, so the candidate has to name it again."""
    if summary.backend == "scripted" and settings.backend == "hf" and not backend_given:
        if summary.model_id != "demo":
            raise ResumeError(
                f"session {summary.id} ran on the script '{summary.model_id}'",
                "resume it with --backend scripted --script FILE (the same script)",
            )
        return settings.model_copy(update={"backend": "scripted"})
    if summary.backend == settings.backend == "hf" and not model_given and summary.model_id:
        return settings.model_copy(update={"model": summary.model_id})
    return settings


def resume_session(
    store: SessionStore,
    session_id: str,
    bank: Bank,
    model: ChatModel,
    grader: Grader,
    prompts: PromptLibrary | None = None,
) -> tuple[Interview, SessionRecorder]:
    """Restore an unfinished session; drive it with ``interview.resume()`` and the recorder."""
    summary = store.get(session_id)
    check_resumable(store, summary.id, bank)
    interview = Interview.restore(bank, model, grader, store.load_snapshot(summary.id), prompts)
    store.rollback_to_checkpoint(summary.id)
    return interview, SessionRecorder(store, interview, resumed=True)
