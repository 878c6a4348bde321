"""The cheap half of starting an interview: everything decided before the model loads.

A :class:`SessionPlan` holds the bank, the effective settings (the resume rules applied), the
grader to use, the store and, when resuming, the stored session and its last checkpoint. Making
one reads files and the session database but loads no model, so the TUI makes it on its UI
thread and shows a problem at once instead of after a long load. The plans apply the rules of
the layer below (:mod:`~interviewer.session.banks`, :mod:`~interviewer.session.graders`,
:mod:`~interviewer.session.stores`) and those of a resume, here: which model a resumed session
goes on with, and whether it can be resumed at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from interviewer.bank import Bank
from interviewer.config import Settings
from interviewer.engine.grading import GraderName
from interviewer.engine.snapshot import (
    InterviewSnapshot,
    SnapshotMismatchError,
    check_snapshot_fits,
)
from interviewer.session.banks import as_taken, open_bank, session_bank
from interviewer.session.errors import ResumeError, SessionError
from interviewer.session.graders import resume_grader, usable_grader
from interviewer.session.stores import find_session, recovery_folders
from interviewer.store import SessionStore, SessionSummary, StoreError, store_hint
from interviewer.store.recovery import Recovered, find_recovered, import_recovered
from interviewer.transcript import ModelInfo, Transcript


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
    base_url_given: bool = False,
    stored: ModelInfo | None = None,
) -> Settings:
    """The settings that continue ``summary`` on the model it ran on, unless the candidate chose
    another: a session on a local model keeps that model, one on a model server goes on with
    the same server and model (``stored``: the session's recorded model, with the server's
    address), and one on the built-in demo goes on with the demo (not with the default model,
    which may not even be downloaded).

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
    if summary.backend == "openai" and (settings.backend == "openai" or not backend_given):
        update: dict[str, object] = {"backend": "openai"}
        if not model_given and summary.model_id:
            update["model"] = summary.model_id
        if not base_url_given and stored is not None and stored.base_url:
            update["base_url"] = stored.base_url
        return settings.model_copy(update=update)
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
    store_problem: StoreError | None = None
    """Why ``store`` is None although saving is on: the answers go to a recovery file."""
    recovery: tuple[Path, ...] = ()
    """Where recovery files go when the store cannot write (:func:`recovery_folders`)."""
    recovered: Recovered | None = None
    """A session resumed from its recovery file (the store could not take it back yet)."""
    focus: dict[str, list[str]] | None = None
    """A review (:func:`interviewer.session.review.plan_review`): per question, the key points
    due for review; the follow-up budget goes to them first."""

    @property
    def resuming(self) -> bool:
        return self.resume is not None

    @property
    def model_label(self) -> str:
        """The model as the loading screen names it."""
        settings = self.settings
        if settings.backend == "scripted":
            return f"scripted ({settings.script or 'built-in demo'})"
        if settings.backend == "openai":
            return f"{settings.model or 'the model'} on the server at {settings.base_url}"
        return settings.model or "the default model for this machine"

    def without_store(self) -> SessionPlan:
        """The same interview, not recorded (a new one only: a resume needs its store)."""
        return replace(self, store=None, settings=self.settings.model_copy(update={"save": False}))


def plan_interview(
    settings: Settings, store: SessionStore | None, *, store_problem: StoreError | None = None
) -> SessionPlan:
    """A new interview on ``settings.bank`` (default: the built-in bank), recorded in ``store``.
    The bank may be a notes file: it is imported once per content and cached
    (:func:`interviewer.session.banks.open_bank`).

    Raises :class:`SessionError` for a bank that cannot be used or a grader the backend cannot
    serve."""
    bank = open_bank(settings.bank, settings)
    return SessionPlan(
        settings,
        bank,
        usable_grader(settings),
        store,
        store_problem=store_problem,
        recovery=recovery_folders(settings) if settings.save else (),
    )


def plan_resume(
    settings: Settings,
    store: SessionStore | None,
    session_id: str | None = None,
    *,
    bank_dir: Path | None = None,
    model_given: bool = False,
    backend_given: bool = False,
    base_url_given: bool = False,
    store_problem: StoreError | None = None,
) -> SessionPlan:
    """Continue ``session_id`` (default: the latest unfinished session) on its own bank, model,
    mode and grader, unless the flags name others. A session kept in a recovery file is
    brought into the store first, or, while the store cannot take it (``store`` None, with
    ``store_problem``), resumed from the file.

    Raises :class:`SessionError` (or :class:`StoreError`) when it cannot: no such session, a
    finished one, its bank missing or changed, a script file to name again."""
    folders = recovery_folders(settings)
    summary, recovered = _session_to_resume(store, session_id, folders, store_problem)
    bank = session_bank(summary, bank_dir, settings)
    if recovered is not None:
        snapshot = recovered.snapshot
        bank = as_taken(bank, [q.question_id for q in snapshot.questions], summary.bank_title)
        try:
            check_snapshot_fits(bank, snapshot)
        except SnapshotMismatchError as exc:
            raise ResumeError(
                f"session {summary.id} cannot resume: {exc}",
                "pass --bank with the bank the session was taken on",
            ) from exc
        stored = recovered.transcript.model if summary.backend == "openai" else None
        if store_problem is None and store is not None and store.readonly:
            store_problem = StoreError(
                f"{store.path}: its folder is read-only",
                store_hint(store.path, StoreError("readonly")),
            )
        store_problem = store_problem or StoreError(
            f"the session store cannot take session {summary.id} back yet",
            "free some disk space or fix the store; `interviewer resume` retries",
        )
    else:
        assert store is not None
        bank = as_taken(bank, list(store.rubric(summary.id)), summary.bank_title)
        snapshot = check_resumable(store, summary.id, bank)
        stored = store.load_transcript(summary.id).model if summary.backend == "openai" else None
    settings = session_settings(
        settings,
        summary,
        model_given=model_given,
        backend_given=backend_given,
        base_url_given=base_url_given,
        stored=stored,
    )
    settings = resume_grader(settings, summary).model_copy(update={"mode": summary.mode})
    return SessionPlan(
        settings,
        bank,
        usable_grader(settings),
        store,
        summary,
        snapshot,
        store_problem=store_problem if recovered is not None or store is None else None,
        recovery=folders,
        recovered=recovered,
    )


def _session_to_resume(
    store: SessionStore | None,
    session_id: str | None,
    folders: tuple[Path, ...],
    store_problem: StoreError | None,
) -> tuple[SessionSummary, Recovered | None]:
    """The session to continue, and its recovery file's state when that is newer than what
    the store holds (it could not be brought back in)."""
    if store is not None and not store.readonly:
        import_recovered(store, folders)
    waiting = [r for r in find_recovered(folders) if not r.finished]
    if session_id is not None:
        matches = [r for r in waiting if r.session_id.startswith(session_id)]
        exact = [r for r in matches if r.session_id == session_id]
        if exact or len(matches) == 1:
            chosen = (exact or matches)[0]
            return chosen.summary(), chosen
    if store is None:
        if session_id is None and waiting:
            return waiting[0].summary(), waiting[0]
        problem = f" ({store_problem})" if store_problem else ""
        raise SessionError(
            f"the session store cannot be opened{problem}, and no recovery file holds "
            + (f"a session '{session_id}'" if session_id else "an unfinished session"),
            store_problem.hint if store_problem and store_problem.hint else "fix the store",
        )
    try:
        summary = find_session(store, session_id, unfinished=True)
    except SessionError:
        if session_id is None and waiting:
            return waiting[0].summary(), waiting[0]
        raise
    if session_id is None and waiting and waiting[0].transcript.started_at > summary.started_at:
        return waiting[0].summary(), waiting[0]
    if store.readonly:  # it goes on in a recovery file, from the store's last checkpoint
        draft = store.draft(summary.id)
        return summary, Recovered(
            session_id=summary.id,
            snapshot=store.load_snapshot(summary.id),
            transcript=store.load_transcript(summary.id).model_copy(update={"regrades": []}),
            checkpoint_seq=0,
            last_seq=0,
            bank_path=summary.bank_path,
            reason=f"{store.path} is read-only",
            draft=(draft.question_id, draft.text) if draft is not None else None,
        )
    return summary, None


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
    bank = session_bank(summary, bank_dir, settings)
    grader = usable_grader(settings)
    return RegradePlan(settings, store, summary, bank, grader, store.load_transcript(summary.id))


__all__ = [
    "RegradePlan",
    "SessionPlan",
    "check_resumable",
    "plan_interview",
    "plan_regrade",
    "plan_resume",
    "session_settings",
]
