"""The screens, one module each when large: start and loading (:mod:`.start`), the interview
(:mod:`.conversation`), the report and history (:mod:`.report`), help (:mod:`.help`)."""

from interviewer.tui.conversation import (
    DRAFT_SAVE_DELAY,
    InterviewScreen,
    display_order,
    place_before,
)
from interviewer.tui.help import HELP, HelpScreen
from interviewer.tui.report import HistoryScreen, ReportScreen
from interviewer.tui.start import LoadingScreen, StartScreen

__all__ = [
    "DRAFT_SAVE_DELAY",
    "HELP",
    "HelpScreen",
    "HistoryScreen",
    "InterviewScreen",
    "LoadingScreen",
    "ReportScreen",
    "StartScreen",
    "display_order",
    "place_before",
]
