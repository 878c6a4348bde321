"""The question bank: models and a loader with precise errors."""

from interviewer.bank.loader import BankError, BankProblem, load_bank
from interviewer.bank.models import Bank, BankManifest, KeyPoint, Misconception, Question

__all__ = [
    "Bank",
    "BankError",
    "BankManifest",
    "BankProblem",
    "KeyPoint",
    "Misconception",
    "Question",
    "load_bank",
]
