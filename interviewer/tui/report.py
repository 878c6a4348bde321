"""The report screen (scores, chart, every key point with its evidence; export, regrade)
and the history screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Label, Markdown, Static

from interviewer.textutil import escape_markdown, shown_name
from interviewer.transcript import VERDICT_WORDS
from interviewer.tui.messages import Host
from interviewer.tui.widgets import ScoreChart, score_bar

if TYPE_CHECKING:
    from interviewer.bank.models import Bank
    from interviewer.report.view import KeyPointView
    from interviewer.session import Session
    from interviewer.transcript import Transcript


def _host(screen: Screen[Any]) -> Host:
    return cast("Host", screen.app)


def report_markdown(transcript: Transcript, bank: Bank) -> str:
    """The per-question detail of the report screen, from the same view the exported reports
    use: verdicts with evidence quotes, doubts, and what was cut out before grading."""
    from interviewer.report.view import build_view

    parts: list[str] = []
    for q in build_view(transcript, bank).questions:
        result = q.result
        parts.append(f"## {q.number}. {escape_markdown(result.title)}: {result.score * 100:.0f}%")
        if result.status != "answered":
            parts.append(f"*{result.status.replace('_', ' ')}*")
        if q.rubric_note:
            parts.append(f"*{escape_markdown(q.rubric_note)}*")
        if result.grading_error:
            parts.append(f"Not graded: {escape_markdown(result.grading_error)}")
        if q.screened_out is not None:
            parts.append(f"Scored 0 without grading: {escape_markdown(q.screened_out)}.")
        if q.ignored:
            cut = "; ".join(f'"{escape_markdown(s)}"' for s in q.ignored)
            parts.append(f"Ignored as instructions to the grader: {cut}")
        parts += [_point_line(point) for point in q.key_points]
        for retake in q.retakes:
            parts.append(
                f"**Retake {retake.number}: {retake.score_before * 100:.0f}% → "
                f"{retake.retake.score * 100:.0f}%** (the question keeps the first score)"
            )
            for statement, before, after, quote in retake.changes:
                line = f"- {before} → **{after}**: {escape_markdown(statement)}"
                if quote:
                    line += f'  \n  you said: "{escape_markdown(quote)}"'
                parts.append(line)
            if not retake.changes:
                parts.append("- no key point changed")
    return "\n\n".join(parts)


def _point_line(point: KeyPointView) -> str:
    line = f"- **{VERDICT_WORDS[point.verdict]}**: {escape_markdown(point.statement)}"
    if point.doubt:
        line += f" *({escape_markdown(point.doubt)})*"
    if point.evidence:
        line += f'  \n  you said: "{escape_markdown(point.evidence)}"'
    if point.closest:
        line += f'  \n  closest you came: "{escape_markdown(point.closest)}"'
        if point.lacking:
            line += "; it lacks: " + "; ".join(escape_markdown(f) for f in point.lacking)
    return line


class ReportScreen(Screen[None]):
    """Scores, a chart, every key point with the evidence, and export."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "export('md')", "Markdown"),
        Binding("h", "export('html')", "HTML"),
        Binding("x", "export('json')", "JSON"),
        Binding("r", "regrade", "Regrade"),
        Binding("s", "history", "Sessions"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self, transcript: Transcript, session: Session) -> None:
        super().__init__()
        self.transcript = transcript
        self.session = session
        self.bank: Bank = session.interview.bank

    def compose(self) -> ComposeResult:
        t = self.transcript
        yield Header()
        with VerticalScroll(id="report"):
            yield Static(  # wraps (a Label would cut a long model name at the edge)
                Content(
                    f"Score: {t.score * 100:.0f}%  {score_bar(t.score, 30)}   "
                    f"({t.status.replace('_', ' ')}, {t.settings.mode} mode, "
                    f"graded by {shown_name(t.grader)})"
                ),
                classes="title",
            )
            yield ScoreChart(t.results, id="chart")
            yield Static("", id="regrade")
            yield Markdown(report_markdown(t, self.bank), id="details")
            with Horizontal(id="report-buttons"):
                yield Button("Export Markdown", variant="primary", id="export-md")
                yield Button("Export HTML", id="export-html")
                yield Button("Export JSON", id="export-json")
                yield Button("Quit", id="quit")
        yield Footer()

    def action_export(self, fmt: str) -> None:
        _host(self).export_report(fmt)

    def action_history(self) -> None:
        self.app.push_screen(HistoryScreen())

    def action_regrade(self) -> None:
        """Grade the stored answers again with the loaded model against the current rubric."""
        if self.session.store is None:
            self.notify(
                "Regrading needs the session store (saving is off, or the store could not be "
                "opened: the session is in its recovery file).",
                severity="warning",
            )
            return
        self.query_one("#regrade", Static).update(Content("Regrading..."))
        self._regrade()

    @work(thread=True, exclusive=True, group="regrade", exit_on_error=False)
    def _regrade(self) -> None:
        from interviewer.errors import InterviewerError
        from interviewer.session import regrade_summary

        try:
            before, result = self.session.regrade(cancel=_host(self).cancel)
        except InterviewerError as exc:
            text = f"The regrade stopped: {exc}. Nothing was stored."
        else:
            text = (
                regrade_summary(before, result)
                + "\nBoth grades are stored; exported reports show what changed."
            )
        self.app.call_from_thread(self.query_one("#regrade", Static).update, Content(text))

    @on(Button.Pressed, "#export-md")
    def export_md(self) -> None:
        self.action_export("md")

    @on(Button.Pressed, "#export-html")
    def export_html(self) -> None:
        self.action_export("html")

    @on(Button.Pressed, "#export-json")
    def export_json(self) -> None:
        self.action_export("json")

    @on(Button.Pressed, "#quit")
    async def quit(self) -> None:
        await _host(self).action_quit()


# --------------------------------------------------------------------------- history


class HistoryScreen(Screen[None]):
    """Past sessions and progress over time (the same tables as `sessions` and `stats`)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="history"):
            yield Label("Sessions", classes="title")
            yield Static("", id="sessions")
            yield Label("Progress", classes="title")
            yield Static("", id="stats")
        yield Footer()

    def on_mount(self) -> None:
        from interviewer.report.stats import render_stats, session_stats, sessions_table
        from interviewer.store import StoreError

        store = _host(self).open_store()
        if store is None:
            self.query_one("#sessions", Static).update(Content("Saving is off: no history."))
            return
        try:
            summaries = store.list_sessions()
            transcripts = store.transcripts()
        except StoreError as exc:
            self.query_one("#sessions", Static).update(Content(f"{exc} ({exc.hint})"))
            return
        self.query_one("#sessions", Static).update(
            Content(sessions_table(summaries[:30]) if summaries else "No sessions yet.")
        )
        session = _host(self).session
        bank = session.interview.bank if session is not None else None
        blocks = [
            render_stats(stats, bank if bank is not None and bank.id == stats.bank_id else None)
            for stats in session_stats(transcripts)
        ]
        self.query_one("#stats", Static).update(Content("\n".join(blocks) or "No progress yet."))
