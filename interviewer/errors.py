"""The one error base of the project: what happened, and what the user can do about it.

Every error a person may see (a bank that cannot be used, a model that cannot load, a store that
cannot write, a session that cannot resume) is an :class:`InterviewerError`: ``str(error)`` says
what happened, ``hint`` what to do. The front ends turn one into an exit message (the CLI) or a
notice (the TUI) in one place each.
"""

from __future__ import annotations


class InterviewerError(Exception):
    """A failure the user can act on: ``str(error)`` says what happened, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def describe(self) -> str:
        """The message and, on a line of its own, the hint."""
        return f"{self}\n  what to do: {self.hint}" if self.hint else str(self)
