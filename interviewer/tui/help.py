"""The help screen: keys and how the interview works."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown

HELP = """\
# How the interview works

The interviewer asks one question at a time and may ask **follow-up questions** when your answer
leaves something out. Answer as you would in a real interview.

| key | what it does |
| --- | --- |
| Enter | a new line in your answer |
| Ctrl+S | send your answer |
| Ctrl+R | repeat the question (or type `/repeat`) |
| Ctrl+L | ask the interviewer to clarify (`/clarify`) |
| Ctrl+N | skip this question (`/skip`; it scores 0) |
| Ctrl+T | practice mode: try the question again, fresh (`/retry`), after its feedback |
| Ctrl+F | finish the interview now (`/end`); what you answered is kept |
| Ctrl+C | while the interviewer is speaking: stop it |
| Ctrl+P | the command palette (themes, help, quit) |
| F1 | this help |
| Ctrl+Q | quit (stops the model within a second) |

**Practice mode** shows feedback and the reference answer after each question; **exam mode**
keeps them for the end. Each key point earns its weight: covered 1, partial 0.5, missed 0. A
retake is graded on its own and shown against your first answer, whose score stays.

Press Escape to close this help.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
            with Center():
                yield Button("Close", id="close")

    @on(Button.Pressed, "#close")
    def close(self) -> None:
        self.dismiss()
