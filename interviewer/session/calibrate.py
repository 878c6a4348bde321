"""``interviewer calibrate`` through the session layer: the bank's labelled answers and the
grader to measure on them, opened by the same rules as an interview's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from interviewer.bank import Bank, BankError, load_bank
from interviewer.calibration import CalibrationSet, load_calibration
from interviewer.config import Settings
from interviewer.engine.grading import Grader, GraderName
from interviewer.llm.base import ChatModel
from interviewer.prompts import PromptLibrary
from interviewer.resources import default_bank_dir
from interviewer.session.errors import SessionError
from interviewer.session.graders import open_grader, open_model, usable_grader


@dataclass(frozen=True)
class Calibration:
    """What a calibration run measures: the grader, on the bank's labelled answers."""

    bank: Bank
    sets: list[CalibrationSet]
    grader: Grader


def calibration_grader_name(
    settings: Settings, named: GraderName | None, *, model_given: bool
) -> GraderName:
    """The grader to calibrate: the one named, else both signals when a model (or backend) is
    named, else the evidence signal alone (it needs no chat model)."""
    return usable_grader(settings, named or ("both" if model_given else "evidence"))


def labelled_answers(bank: Bank, folder: Path) -> list[CalibrationSet]:
    """Another folder of labelled answers for ``bank`` (``calibrate --against``), or
    :class:`SessionError` naming each problem."""
    try:
        return load_calibration(bank, folder)
    except BankError as exc:
        raise SessionError(
            f"the set {folder} cannot be used:\n{exc}", "fix the files above"
        ) from exc


def open_calibration(
    settings: Settings,
    grader: GraderName,
    *,
    set_dir: Path | None = None,
    on_status: Callable[[str], None],
    model: ChatModel | None = None,
) -> Calibration:
    """The bank of ``settings`` (default: the built-in one), its labelled answers (or those in
    ``set_dir``) and the grader ``grader``, with the chat model loaded when it needs one."""
    try:
        bank = load_bank(settings.bank or default_bank_dir())
        sets = load_calibration(bank, set_dir)
    except BankError as exc:
        raise SessionError(
            f"the calibration set cannot be used:\n{exc}", "fix the files above"
        ) from exc
    if model is None and grader != "evidence":
        model = open_model(settings, on_status)
    chosen = open_grader(grader, settings, model, PromptLibrary(), on_status)
    if model is not None:  # says whether an interview would use the model's grades; this
        from interviewer.session.judge import check_judge, judge_store  # measures them anyway

        store = judge_store(settings)
        check_judge(grader, settings, model, chosen, store, on_status=on_status, measuring=True)
    return Calibration(bank, sets, chosen)
