"""Practice over time: what was missed comes back, on a schedule, until the interview date.

* :mod:`~interviewer.review.memory`: one FSRS card per (bank, question, key point), derived
  from the finished sessions' verdicts and kept in the session store (``sync_memory``);
* :mod:`~interviewer.review.schedule`: the questions due now (``due_questions``, what
  ``interviewer review`` asks) and a plan aimed at a date (``study_plan``, what
  ``interviewer plan --until`` prints).

It sits between the store (it reads sessions and keeps the memory there) and the reports (which
show each key point's review state); the session layer turns a choice into a review interview.
"""

from interviewer.review.memory import (
    LEARNED_AFTER,
    RATINGS,
    BankFinder,
    Memory,
    PointMemory,
    PointReview,
    ReviewState,
    forget_memory,
    load_memory,
    rebuild,
    replay,
    session_reviews,
    sync_memory,
)
from interviewer.review.schedule import (
    DEFAULT_QUESTIONS,
    DueQuestion,
    PlanError,
    PlannedQuestion,
    StudyDay,
    StudyPlan,
    due_questions,
    next_due,
    study_plan,
)

__all__ = [
    "DEFAULT_QUESTIONS",
    "LEARNED_AFTER",
    "RATINGS",
    "BankFinder",
    "DueQuestion",
    "Memory",
    "PlanError",
    "PlannedQuestion",
    "PointMemory",
    "PointReview",
    "ReviewState",
    "StudyDay",
    "StudyPlan",
    "due_questions",
    "forget_memory",
    "load_memory",
    "next_due",
    "rebuild",
    "replay",
    "session_reviews",
    "study_plan",
    "sync_memory",
]
