"""The TUI's own widgets: conversation bubbles, the status bar, the score chart."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Label, Markdown, Static

from interviewer.textutil import strip_control
from interviewer.transcript import QuestionResult


class InterviewerMessage(Vertical):
    """An interviewer turn, rendered as Markdown (streamed token by token when the model speaks)."""

    def __init__(self, markdown: str = "", *, kind: str = "question") -> None:
        super().__init__(classes=f"message interviewer {kind}")
        self._initial = markdown
        self.kind = kind

    def compose(self) -> ComposeResult:
        yield Label(_LABELS.get(self.kind, "Interviewer"), classes="speaker")
        yield Markdown(self._initial)

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)


_LABELS = {
    "feedback": "Feedback",
    "summary": "Interviewer",
    "follow_up": "Interviewer (follow-up)",
    "clarification": "Interviewer",
}


class CandidateMessage(Vertical):
    """What the candidate typed, shown exactly as typed: no markup, no escape codes, any length."""

    def __init__(self, text: str, *, kind: str = "answer") -> None:
        super().__init__(classes=f"message candidate {kind}")
        self._text = text

    def compose(self) -> ComposeResult:
        yield Label("You", classes="speaker")
        shown = self._text if self._text.strip() else "(no answer)"
        # Content renders text literally ("[bold]" stays "[bold]"); escape codes are dropped so
        # they cannot reach the terminal.
        yield Static(Content(strip_control(shown)), classes="body")


class StatusBar(Static):
    """Question progress, the per-question timer and what the model is doing."""

    progress: reactive[str] = reactive("")
    elapsed: reactive[int] = reactive(0)
    status: reactive[str] = reactive("starting")

    def render(self) -> Content:
        minutes, seconds = divmod(self.elapsed, 60)
        parts = [
            self.progress or "Interview",
            f"{minutes:d}:{seconds:02d} on this question",
            f"model: {self.status}",
        ]
        return Content("   |   ".join(parts))


def score_bar(score: float, width: int = 20) -> str:
    filled = round(score * width)
    return "█" * filled + "░" * (width - filled)


class ScoreChart(Static):
    """One bar per question: a plain-text chart that reads in any terminal theme."""

    def __init__(self, results: list[QuestionResult], **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.results = results

    def render(self) -> Content:
        width = max((len(r.title) for r in self.results), default=10)
        lines = []
        for number, result in enumerate(self.results, 1):
            label = f"{number}. {result.title}".ljust(width + 3)
            status = "" if result.status == "answered" else f"  ({result.status.replace('_', ' ')})"
            lines.append(f"{label}  {score_bar(result.score)} {result.score * 100:4.0f}%{status}")
        return Content("\n".join(lines))
