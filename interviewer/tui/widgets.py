"""The TUI's own widgets: conversation bubbles, the status bar, the score chart."""

from __future__ import annotations

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Label, Markdown, Static

from interviewer.textutil import strip_control
from interviewer.transcript import QuestionResult


class InterviewerMessage(Vertical):
    """An interviewer turn, rendered as Markdown.

    A turn the model is speaking streams into a Markdown widget token by token; once it is
    complete (and for every turn that arrives whole) it is one static block rendered by Rich.
    A Markdown widget is a tree of widgets that Textual styles one by one, so a long session
    of them made every later layout slower; a static block costs one widget.
    """

    def __init__(
        self,
        markdown: str = "",
        *,
        kind: str = "question",
        streaming: bool = False,
        pending: bool = False,
        about: str | None = None,
    ):
        """``about``: the question a feedback card is for (shown in its label, since with
        background grading a card can arrive after the next question). ``pending``: a
        placeholder until :meth:`complete` brings the turn (one that arrives whole)."""
        super().__init__(classes=f"message interviewer {kind}" + (" pending" if pending else ""))
        self._text = strip_control(markdown)
        self._streaming = streaming
        self.kind = kind
        self._about = about

    def compose(self) -> ComposeResult:
        label = _LABELS.get(self.kind, "Interviewer")
        if self._about:
            label = f"{label}: {strip_control(self._about)}"
        yield Label(Content(label), classes="speaker")
        if self._streaming:
            yield Markdown(self._text)
        else:
            yield Static(RichMarkdown(self._text), classes="body")

    @property
    def text(self) -> str:
        """The Markdown source shown (once complete)."""
        return self._text

    @property
    def markdown(self) -> Markdown:
        """The widget a streaming turn writes into."""
        return self.query_one(Markdown)

    async def complete(self, markdown: str) -> None:
        """The turn is complete: show ``markdown`` (the stored text) as one static block."""
        self._text = strip_control(markdown)
        self._streaming = False
        self.remove_class("pending")
        await self.query(Markdown).remove()
        await self.query(".body").remove()
        await self.mount(Static(RichMarkdown(self._text), classes="body"))


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
        self.kind = kind

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
    clock: reactive[str] = reactive("")
    """With a time limit: the countdown ("1:23 left", "0:29 left!", "time is up")."""

    def render(self) -> Content:
        minutes, seconds = divmod(self.elapsed, 60)
        parts = [
            self.progress or "Interview",
            self.clock or f"{minutes:d}:{seconds:02d} on this question",
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
