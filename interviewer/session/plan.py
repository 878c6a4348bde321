"""The cheap half of starting an interview: everything decided before the model loads.

A :class:`SessionPlan` holds the bank, the effective settings (the resume rules applied), the
grader to use, the store and, when resuming, the stored session and its last checkpoint. Making
one reads files and the session database but loads no model, so the TUI makes it on its UI
thread and shows a problem at once instead of after a long load. Every rule that decides how an
interview starts lives here once: which grader, whether the backend can grade, which model a
resumed session goes on with, whether it can be resumed at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from interviewer.bank import Bank, BankError, load_bank
from interviewer.config import Settings
from interviewer.engine.grading import GraderName
from interviewer.engine.snapshot import (
    InterviewSnapshot,
    SnapshotMismatchError,
    check_snapshot_fits,
)
from interviewer.errors import InterviewerError
from interviewer.resources import default_bank_dir
from interviewer.store import SessionStore, SessionSummary, StoreError
from interviewer.transcript import Transcript


class SessionError(InterviewerError):
    """An interview cannot start, resume or regrade: ``str()`` says why, ``hint`` what to do."""


class ResumeError(SessionError):
    """The session cannot continue; the message says why and ``hint`` what to do instead."""


# ----------------------------------------------------------------------------- graders


def can_grade(settings: Settings) -> bool:
    """Whether the chosen backend can act as the grader (the built-in demo cannot)."""
    return settings.backend == "hf" or settings.script is not None


def grader_name(settings: Settings) -> GraderName:
    """The grader unless one is named: both signals with a local model, the script's grades
    with a scripted one, the evidence signal for the built-in demo."""
    if settings.grader is not None:
        return settings.grader
    if settings.backend == "hf":
        return "both"
    return "llm" if can_grade(settings) else "evidence"


def usable_grader(settings: Settings, name: GraderName | None = None) -> GraderName:
    """``name`` (default: :func:`grader_name`), or :class:`SessionError` when it needs grades
    that the built-in demo cannot give."""
    chosen = name or grader_name(settings)
    if chosen != "evidence" and not can_grade(settings):
        raise SessionError(
            "the built-in demo script cannot grade answers",
            "use --grader evidence, or give a --script that contains grades",
        )
    return chosen


# ----------------------------------------------------------------------------- the store


def open_store(settings: Settings, *, must_exist: bool = False) -> SessionStore:
    """The session store of ``settings``; ``must_exist`` for commands that only read it."""
    path = settings.store_path
    if must_exist and not path.is_file():
        raise SessionError(
            f"no sessions are stored yet (looked in {path})",
            "run `interviewer` to take an interview; set INTERVIEWER_DATA_DIR if they are "
            "stored elsewhere",
        )
    return SessionStore(path)


def find_session(
    store: SessionStore, session_id: str | None, *, unfinished: bool = False
) -> SessionSummary:
    """The session ``session_id`` (a unique prefix will do); without one, the latest, or the
    latest unfinished one when ``unfinished``."""
    if session_id is not None:
        return store.get(session_id)
    if unfinished:
        found = store.unfinished()
        if not found:
            raise SessionError(
                "no unfinished session to resume",
                "`interviewer sessions` lists them all; `interviewer` starts a new one",
            )
        return found[0]
    return store.latest()


def find_session_bank(
    summary: SessionSummary, bank_dir: Path | None = None
) -> tuple[Bank | None, list[str]]:
    """The bank a stored session was taken on: ``bank_dir`` if given, else the folder it came
    from, else the built-in bank; with what was wrong with each place that did not fit."""
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


def session_bank(summary: SessionSummary, bank_dir: Path | None = None) -> Bank:
    """:func:`find_session_bank`, or :class:`SessionError` saying where it looked."""
    bank, problems = find_session_bank(summary, bank_dir)
    if bank is None:
        raise SessionError(
            f"the bank '{summary.bank_id}' of session {summary.id} cannot be found:\n"
            + "\n".join(problems),
            "pass --bank DIR with the bank the session was taken on",
        )
    return bank


def check_resumable(store: SessionStore, session_id: str, bank: Bank) -> InterviewSnapshot:
    """The session's last checkpoint, or :class:`ResumeError` unless the session is unfinished
    and fits ``bank``."""
    summary = store.get(session_id)
    if summary.finished:
        raise ResumeError(
            f"session {summary.id} has already finished ({summary.status.replace('_', ' ')}, "
            f"score {summary.score * 100:.0f}%); there is nothing to resume",
            f"export it: `interviewer export {summary.id}`",
        )
    snapshot = store.load_snapshot(summary.id)
    try:
        check_snapshot_fits(bank, snapshot)
    except SnapshotMismatchError as exc:
        raise ResumeError(
            f"session {summary.id} cannot resume: {exc}",
            f"its answers are kept: `interviewer regrade {summary.id}` re-scores them against "
            "the current rubric, or pass --bank with the bank the session was taken on",
        ) from exc
    return snapshot


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


def resume_grader(settings: Settings, summary: SessionSummary) -> Settings:
    """A resumed session is graded as it was: unless a grader is named, one graded by the
    evidence signal (or on a backend that cannot grade) goes on with the evidence signal."""
    if settings.grader is None and (summary.grader == "evidence" or not can_grade(settings)):
        return settings.model_copy(update={"grader": "evidence"})
    return settings


# ----------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class SessionPlan:
    """What an interview will be, decided without loading a model."""

    settings: Settings
    """The effective settings: flags, config and, when resuming, the session's own."""
    bank: Bank
    grader: GraderName
    store: SessionStore | None
    """None when this interview is not recorded (``--no-save``)."""
    resume: SessionSummary | None = None
    """The stored session this plan continues (None: a new interview)."""
    snapshot: InterviewSnapshot | None = None
    """Its last checkpoint, from which the engine is restored."""

    @property
    def resuming(self) -> bool:
        return self.resume is not None

    @property
    def model_label(self) -> str:
        """The model as the loading screen names it."""
        settings = self.settings
        if settings.backend == "scripted":
            return f"scripted ({settings.script or 'built-in demo'})"
        return settings.model or "the default model for this machine"

    def without_store(self) -> SessionPlan:
        """The same interview, not recorded (a new one only: a resume needs its store)."""
        return replace(self, store=None, settings=self.settings.model_copy(update={"save": False}))


def plan_interview(settings: Settings, store: SessionStore | None) -> SessionPlan:
    """A new interview on ``settings.bank`` (default: the built-in bank), recorded in ``store``.

    Raises :class:`SessionError` for a bank that cannot be used or a grader the backend cannot
    serve."""
    try:
        bank = load_bank(settings.bank or default_bank_dir())
    except BankError as exc:
        raise SessionError(f"the bank cannot be used:\n{exc}", exc.hint) from exc
    return SessionPlan(settings, bank, usable_grader(settings), store)


def plan_resume(
    settings: Settings,
    store: SessionStore,
    session_id: str | None = None,
    *,
    bank_dir: Path | None = None,
    model_given: bool = False,
    backend_given: bool = False,
) -> SessionPlan:
    """Continue ``session_id`` (default: the latest unfinished session) on its own bank, model,
    mode and grader, unless the flags name others.

    Raises :class:`SessionError` (or :class:`StoreError`) when it cannot: no such session, a
    finished one, its bank missing or changed, a script file to name again."""
    summary = find_session(store, session_id, unfinished=True)
    bank = session_bank(summary, bank_dir)
    snapshot = check_resumable(store, summary.id, bank)
    settings = session_settings(
        settings, summary, model_given=model_given, backend_given=backend_given
    )
    settings = resume_grader(settings, summary).model_copy(update={"mode": summary.mode})
    return SessionPlan(settings, bank, usable_grader(settings), store, summary, snapshot)


@dataclass(frozen=True)
class RegradePlan:
    """A stored session to grade again, and with what."""

    settings: Settings
    store: SessionStore
    summary: SessionSummary
    bank: Bank
    grader: GraderName
    transcript: Transcript

    @property
    def needs_model(self) -> bool:
        """The evidence signal needs no chat model: nothing to load (or download) for it."""
        return self.grader != "evidence"


def plan_regrade(
    settings: Settings,
    store: SessionStore,
    session_id: str | None = None,
    *,
    bank_dir: Path | None = None,
) -> RegradePlan:
    """Regrade ``session_id`` (default: the latest session) against its bank's current rubric."""
    summary = find_session(store, session_id)
    bank = session_bank(summary, bank_dir)
    grader = usable_grader(settings)
    return RegradePlan(settings, store, summary, bank, grader, store.load_transcript(summary.id))


__all__ = [
    "RegradePlan",
    "ResumeError",
    "SessionError",
    "SessionPlan",
    "StoreError",
    "can_grade",
    "check_resumable",
    "find_session",
    "find_session_bank",
    "grader_name",
    "open_store",
    "plan_interview",
    "plan_regrade",
    "plan_resume",
    "resume_grader",
    "session_bank",
    "session_settings",
    "usable_grader",
]
