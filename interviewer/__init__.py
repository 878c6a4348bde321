"""interviewer: a private, local mock-interview coach for ML engineers."""

__version__ = "0.1.0"
