"""The session store: every interview recorded as it happens, resumable after any interruption.

SQLite through the standard library, in ``Settings().store_path`` (the user data directory, or
``data_dir`` / ``INTERVIEWER_DATA_DIR``). No textual, no torch. The API a screen needs:

* open: ``store = SessionStore(settings.store_path)`` (creates and migrates the file);
* record: ``recorder = SessionRecorder(store, interview)``, then ``recorder(event)`` for every
  event, in the engine's thread, before the next one (:mod:`interviewer.store.recorder`);
* list: ``store.list_sessions()``, newest first, as :class:`SessionSummary`;
  ``store.unfinished()`` for the sessions to offer to resume; ``store.get(id_or_prefix)``;
  ``store.latest()``;
* resume: ``check_resumable(store, id, bank)`` (cheap, no model), then
  ``interview, recorder = resume_session(store, id, bank, model, grader)`` and drive
  ``interview.resume()`` (:mod:`interviewer.store.resume`);
* read: ``store.load_transcript(id)`` (with its regrades), ``store.turns(id)``,
  ``store.grades(id)``; ``session_stats(store.transcripts())`` for progress
  (:mod:`interviewer.report.stats`);
* regrade: ``store.add_regrade(id, regrade_transcript(...))``
  (:mod:`interviewer.engine.regrade`);
* export: :func:`interviewer.report.render` and :func:`interviewer.report.write_report`.

Every method raises :class:`StoreError` (``str()`` what happened, ``hint`` what to do) rather
than a raw ``sqlite3`` error.
"""

from interviewer.store.db import (
    SessionNotFoundError,
    SessionStore,
    SessionSummary,
    StoredGrade,
    StoreError,
)
from interviewer.store.recorder import SessionRecorder
from interviewer.store.resume import ResumeError, check_resumable, resume_session, session_settings

__all__ = [
    "ResumeError",
    "SessionNotFoundError",
    "SessionRecorder",
    "SessionStore",
    "SessionSummary",
    "StoreError",
    "StoredGrade",
    "check_resumable",
    "resume_session",
    "session_settings",
]
