"""A session's report, found as every front end finds it: the stored transcript (with its
regrades), the bank it was taken on, and each key point's review state from the memory."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from interviewer.bank import Bank
from interviewer.config import Settings
from interviewer.errors import InterviewerError
from interviewer.report import Format, render
from interviewer.review import Memory
from interviewer.session.banks import find_session_bank
from interviewer.session.review import review_memory
from interviewer.session.stores import find_session
from interviewer.store import SessionStore
from interviewer.transcript import Transcript


@dataclass(frozen=True)
class SessionReport:
    """A rendered report, and what it had to go without."""

    session_id: str
    text: str
    missing_bank: str | None = None
    """The bank id that was not found (the report shows key point ids without reference
    answers), or None."""


def session_report(
    settings: Settings,
    store: SessionStore | None,
    fmt: Format,
    *,
    session_id: str | None = None,
    bank_dir: Path | None = None,
    running: tuple[Transcript, Bank | None] | None = None,
) -> SessionReport:
    """The report of a stored session (``session_id``, default: the latest; its bank found
    where it was taken, or ``bank_dir``), or of the ``running`` one (its transcript and bank).

    Markdown and HTML carry each key point's review state from ``store``'s memory: for a
    running session at best effort (the report is written even when the memory cannot be read).
    Raises :class:`~interviewer.store.StoreError` or
    :class:`~interviewer.session.errors.SessionError` when a stored session cannot be read."""
    if running is not None:
        transcript, bank = running
        known: Memory | None = None
        if fmt != "json" and store is not None:
            with contextlib.suppress(InterviewerError):
                known = review_memory(settings, store)
        return SessionReport(transcript.session_id, render(transcript, bank, fmt, memory=known))
    if store is None:
        raise ValueError("a stored session's report needs its store")
    summary = find_session(store, session_id)
    transcript = store.load_transcript(summary.id)
    bank = None
    if fmt != "json":
        bank = find_session_bank(summary, bank_dir, settings)[0]
    memory: Memory | None = review_memory(settings, store) if fmt != "json" else None
    return SessionReport(
        summary.id,
        render(transcript, bank, fmt, memory=memory),
        summary.bank_id if fmt != "json" and bank is None else None,
    )
