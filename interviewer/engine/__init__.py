"""The interview engine: pure Python, no UI and no GPU stack."""

from interviewer.engine.events import Event
from interviewer.engine.grading import EvidenceGrader, Grader, LLMGrader
from interviewer.engine.interview import Interview, InterviewStateError

__all__ = ["Event", "EvidenceGrader", "Grader", "Interview", "InterviewStateError", "LLMGrader"]
