"""The session store: every interview recorded as it happens, resumable after any interruption.

SQLite through the standard library, in ``Settings().store_path`` (the user data directory, or
``data_dir`` / ``INTERVIEWER_DATA_DIR``). Rows and named migrations only: no textual, no torch,
no engine logic, prompts or settings (the session layer, :mod:`interviewer.session`, records
interviews into it and resumes them from it). The API:

* open: ``store = SessionStore(path)`` (creates and migrates the file);
* record: ``create_session``, ``add_turn`` (with the checkpoint a candidate's turn commits),
  ``add_grade``, ``checkpoint``, ``save_draft`` / ``draft``;
* list: ``store.list_sessions()``, newest first, as :class:`SessionSummary`;
  ``store.unfinished()``; ``store.get(id_or_prefix)``; ``store.latest()``;
* resume: ``store.load_snapshot(id)`` and ``store.rollback_to_checkpoint(id)``;
* read: ``store.load_transcript(id)`` (with its regrades), ``store.turns(id)``,
  ``store.grades(id)``, ``store.transcripts()``;
* regrade: ``store.add_regrade(id, regrade)``;
* review memory (derived from the sessions, kept by :mod:`interviewer.review`):
  ``store.review_memory()``, ``store.save_review_memory(cards, sessions, replace=...)``,
  ``store.clear_review_memory()``;
* judge checks (each model's grading self-test, kept by :mod:`interviewer.session.judge`):
  ``store.judge_check(model_key)``, ``store.save_judge_check(row)``.

Every method raises :class:`StoreError` (``str()`` what happened, ``hint`` what to do) rather
than a raw ``sqlite3`` error.
"""

from interviewer.store.database import store_hint
from interviewer.store.db import SessionStore
from interviewer.store.rows import (
    DamagedRowError,
    Draft,
    JudgeCheckRow,
    ReviewCardRow,
    SessionNotFoundError,
    SessionSummary,
    StoredGrade,
    StoreError,
)

__all__ = [
    "DamagedRowError",
    "Draft",
    "JudgeCheckRow",
    "ReviewCardRow",
    "SessionNotFoundError",
    "SessionStore",
    "SessionSummary",
    "StoreError",
    "StoredGrade",
    "store_hint",
]
