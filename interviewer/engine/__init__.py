"""The interview engine: pure Python, no UI and no GPU stack."""

from interviewer.engine.events import Event
from interviewer.engine.grading import EvidenceGrader, Grader, LLMGrader
from interviewer.engine.interview import Interview, InterviewStateError
from interviewer.engine.snapshot import InterviewSnapshot, SnapshotMismatchError

__all__ = [
    "Event",
    "EvidenceGrader",
    "Grader",
    "Interview",
    "InterviewSnapshot",
    "InterviewStateError",
    "LLMGrader",
    "SnapshotMismatchError",
]
