"""The session layer: the one place that turns settings into a running interview.

Every front end (the CLI commands, the headless and plain runs, the TUI, the bench) goes through
it, so their rules cannot drift apart::

    plan = plan_interview(settings, store)        # cheap: bank, grader, store; no model
    session = open_session(plan, on_status=say)   # loads the model and the grader
    for event in session.begin():                 # recorded, then shown
        ...
    for event in session.reply("my answer"):
        ...

``plan_resume`` continues a stored session instead, ``plan_review`` asks the questions due for
review (``plan_study`` plans them up to a date), and ``plan_regrade`` / ``run_regrade`` grade a
stored session again. Every failure a person can act on is a
:class:`~interviewer.errors.InterviewerError` (a message and a hint).
"""

from interviewer.session.plan import (
    RegradePlan,
    ResumeError,
    SessionError,
    SessionPlan,
    can_grade,
    check_resumable,
    find_session,
    find_session_bank,
    grader_name,
    open_recording_store,
    open_store,
    plan_interview,
    plan_regrade,
    plan_resume,
    recovery_folders,
    resume_grader,
    session_bank,
    session_settings,
    usable_grader,
)
from interviewer.session.recorder import SessionRecorder
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
    Reply,
    ReplySource,
    Session,
    TranscriptWriteError,
    load_session_model,
    open_grader,
    open_session,
    regrade_summary,
    resume_session,
    run_regrade,
    start_session,
    write_transcript,
)
from interviewer.store.locks import SessionBusyError
from interviewer.store.recovery import Recovered, RecoveryError, find_recovered, import_recovered

__all__ = [
    "LoadedModel",
    "ModelOpener",
    "Recovered",
    "RecoveryError",
    "RegradePlan",
    "Reply",
    "ReplySource",
    "ResumeError",
    "ReviewRequest",
    "Session",
    "SessionBusyError",
    "SessionError",
    "SessionPlan",
    "SessionRecorder",
    "TranscriptWriteError",
    "can_grade",
    "check_resumable",
    "due_now",
    "find_recovered",
    "find_session",
    "find_session_bank",
    "grader_name",
    "import_recovered",
    "load_session_model",
    "open_grader",
    "open_recording_store",
    "open_session",
    "open_store",
    "plan_interview",
    "plan_regrade",
    "plan_resume",
    "plan_review",
    "plan_study",
    "recovery_folders",
    "regrade_summary",
    "render_plan",
    "resume_grader",
    "resume_session",
    "review_memory",
    "run_regrade",
    "session_bank",
    "session_settings",
    "sessions_with_banks",
    "start_session",
    "usable_grader",
    "write_transcript",
]
