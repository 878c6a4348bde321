"""The interview engine: pure Python, no UI and no GPU stack.

The names below load on first use (PEP 562), so a screen that only needs the event types (the
TUI's first paint) does not import the grading and prompt machinery with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interviewer.engine.events import Event
    from interviewer.engine.grading import EvidenceGrader, Grader, LLMGrader
    from interviewer.engine.interview import Interview, InterviewStateError
    from interviewer.engine.snapshot import InterviewSnapshot, SnapshotMismatchError

_WHERE = {
    "Event": "interviewer.engine.events",
    "EvidenceGrader": "interviewer.engine.grading",
    "Grader": "interviewer.engine.grading",
    "LLMGrader": "interviewer.engine.grading",
    "Interview": "interviewer.engine.interview",
    "InterviewStateError": "interviewer.engine.interview",
    "InterviewSnapshot": "interviewer.engine.snapshot",
    "SnapshotMismatchError": "interviewer.engine.snapshot",
}

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


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'interviewer.engine' has no attribute {name!r}")
