"""The session layer: the one place that turns settings into a running interview.

Every front end (the CLI commands, the headless and plain runs, the TUI, the bench) goes through
it, so their rules cannot drift apart::

    plan = plan_interview(settings, store)        # cheap: bank, grader, store; no model
    session = open_session(plan, on_status=say)   # loads the model and the grader
    for event in session.begin():                 # recorded, then shown
        ...
    for event in session.reply("my answer"):
        ...

``plan_resume`` continues a stored session instead (``resumable_sessions`` lists those it can),
``plan_review`` asks the questions due for review (``plan_study`` plans them up to a date),
``plan_regrade`` / ``run_regrade`` grade a stored session again, ``session_report`` renders
one. Every failure a person can act on is a :class:`~interviewer.errors.InterviewerError` (a
message and a hint).

This face holds what the front ends import; the modules (and their layers, checked by
import-linter) are described in ``docs/architecture.md``. Names are loaded on first use, so
the TUI's start screen can ask for the store without loading the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interviewer.session.banks import find_session_bank
    from interviewer.session.calibrate import (
        calibration_grader_name,
        labelled_answers,
        open_calibration,
    )
    from interviewer.session.errors import SessionError
    from interviewer.session.graders import usable_grader
    from interviewer.session.notes import import_notes_bank, strict_findings
    from interviewer.session.plan import SessionPlan, plan_interview, plan_regrade, plan_resume
    from interviewer.session.recorder import SessionRecorder
    from interviewer.session.reports import session_report
    from interviewer.session.review import (
        ReviewRequest,
        due_now,
        plan_review,
        plan_study,
        render_plan,
        review_memory,
        sessions_with_banks,
    )
    from interviewer.session.running import (
        LoadedModel,
        ModelOpener,
        ReplySource,
        Session,
        load_session_model,
        open_session,
        regrade_summary,
        run_regrade,
        start_session,
    )
    from interviewer.session.stores import (
        open_recording_store,
        open_resume_store,
        open_store,
        resumable_sessions,
    )

_WHERE = {
    "calibrate": ("calibration_grader_name", "labelled_answers", "open_calibration"),
    "errors": ("SessionError",),
    "banks": ("find_session_bank",),
    "graders": ("usable_grader",),
    "notes": ("import_notes_bank", "strict_findings"),
    "plan": ("SessionPlan", "plan_interview", "plan_regrade", "plan_resume"),
    "recorder": ("SessionRecorder",),
    "reports": ("session_report",),
    "review": (
        "ReviewRequest",
        "due_now",
        "plan_review",
        "plan_study",
        "render_plan",
        "review_memory",
        "sessions_with_banks",
    ),
    "running": (
        "LoadedModel",
        "ModelOpener",
        "ReplySource",
        "Session",
        "load_session_model",
        "open_session",
        "regrade_summary",
        "run_regrade",
        "start_session",
    ),
    "stores": ("open_recording_store", "open_resume_store", "open_store", "resumable_sessions"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "LoadedModel",
    "ModelOpener",
    "ReplySource",
    "ReviewRequest",
    "Session",
    "SessionError",
    "SessionPlan",
    "SessionRecorder",
    "calibration_grader_name",
    "due_now",
    "find_session_bank",
    "import_notes_bank",
    "labelled_answers",
    "load_session_model",
    "open_calibration",
    "open_recording_store",
    "open_resume_store",
    "open_session",
    "open_store",
    "plan_interview",
    "plan_regrade",
    "plan_resume",
    "plan_review",
    "plan_study",
    "regrade_summary",
    "render_plan",
    "resumable_sessions",
    "review_memory",
    "run_regrade",
    "session_report",
    "sessions_with_banks",
    "start_session",
    "strict_findings",
    "usable_grader",
]
"""What the front ends import (a test checks that each is used by one)."""


def __getattr__(name: str) -> Any:
    """Load the module that holds ``name`` on first use (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
