"""What the session layer raises: every failure a person can act on is one of these (a message
and a hint), so a front end shows it the same way wherever it comes from."""

from __future__ import annotations

from interviewer.errors import InterviewerError


class SessionError(InterviewerError):
    """An interview cannot start, resume or regrade: ``str()`` says why, ``hint`` what to do."""


class ResumeError(SessionError):
    """The session cannot continue; the message says why and ``hint`` what to do instead."""


class TranscriptWriteError(SessionError, OSError):
    """The transcript could not be written where the user asked."""

    def __init__(self, message: str, hint: str = "choose another --export path") -> None:
        super().__init__(message, hint)

    def __str__(self) -> str:
        return str(self.args[0])
