"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

``templates/report.html.j2`` lays it out and ``templates/report.css`` styles it (both ship in
the package). Jinja2 escapes every value by construction (autoescape), after making control
characters visible, and candidate text shows in ``white-space: pre-wrap`` blocks, so it renders
exactly as typed and never as markup. The bank's own Markdown (reference answers, key points)
and the coach's words go through markdown-it-py with raw HTML off, images off and links only to
web addresses. A Content-Security-Policy that allows no script and no network backs that up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interviewer.report.view import ReportView, percent, speaker
from interviewer.textutil import shown_name, visible_control
from interviewer.transcript import VERDICT_WORDS

if TYPE_CHECKING:
    import jinja2
    from markdown_it import MarkdownIt

TEMPLATES = Path(__file__).resolve().parent / "templates"

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
_WEB_ADDRESS = re.compile(r"^https?://[^\s\"'<>]+$")


def is_web_address(text: object) -> bool:
    """Whether ``text`` is an http(s) address with nothing that could leave an attribute."""
    return isinstance(text, str) and _WEB_ADDRESS.match(text) is not None


@cache
def _markdown() -> MarkdownIt:
    """CommonMark with raw HTML off (``<script>`` in the source is text), no images (nothing
    is fetched or shown that the bank did not write as text), links only to web addresses,
    and a line break where the source breaks a line."""
    from markdown_it import MarkdownIt

    class WebLinksOnly(MarkdownIt):
        def validateLink(self, url: str) -> bool:  # markdown-it-py's name
            return is_web_address(url)

    return WebLinksOnly("commonmark", {"html": False, "breaks": True}).disable("image")


def markdown_block(text: str) -> Any:
    """``text`` (Markdown) as HTML blocks, control characters made visible."""
    from markupsafe import Markup

    return Markup(_markdown().render(visible_control(text)).strip())


def markdown_inline(text: str) -> Any:
    """One line of Markdown (`code`, **bold**) as inline HTML."""
    from markupsafe import Markup

    return Markup(_markdown().renderInline(visible_control(text)))


def _shown(value: object) -> object:
    """What every ``{{ }}`` shows: text with its control characters made visible (then
    escaped by autoescape); HTML the Markdown filters made is left as it is."""
    from markupsafe import Markup

    if isinstance(value, str) and not isinstance(value, Markup):
        return visible_control(value)
    return value


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_shown,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        markdown=markdown_block,
        inline=markdown_inline,
        percent=percent,
        speaker=speaker,
        shown_name=shown_name,
    )
    env.tests["web_address"] = is_web_address
    return env


@dataclass(frozen=True)
class Bar:
    y: int
    width: str
    label_x: str
    colour: str
    score: float


@dataclass(frozen=True)
class ChartRow:
    y: int
    label: str
    bars: list[Bar]


@dataclass(frozen=True)
class Tick:
    x: str
    label: str


@dataclass(frozen=True)
class Chart:
    """The score chart's geometry: a horizontal bar per question (and per regrade)."""

    width: int
    height: int
    label_width: int
    bar_height: int
    ticks: list[Tick]
    rows: list[ChartRow]


def score_chart(view: ReportView) -> Chart:
    """Where each bar of the inline SVG chart goes."""
    colours = ["var(--bar)"] + ["var(--bar2)"] * len(view.regrade_labels)
    bar_h, gap, label_w, chart_w = 14, 10, 230, 420
    group_h = bar_h * len(colours) + gap
    height = group_h * len(view.questions) + 30
    ticks = [
        Tick(f"{label_w + chart_w * tick / 100:.1f}", f"{tick}%") for tick in range(0, 101, 25)
    ]
    rows = []
    for i, q in enumerate(view.questions):
        y = i * group_h + 4
        title = q.result.title if len(q.result.title) <= 32 else q.result.title[:31] + "…"
        scores = [q.result.score] + [c.score_after for c in q.regrades]
        bars = []
        for j, (colour, score) in enumerate(zip(colours, scores, strict=False)):
            w = max(chart_w * score, 1.5)
            bars.append(Bar(y + j * bar_h, f"{w:.1f}", f"{label_w + w + 5:.1f}", colour, score))
        rows.append(ChartRow(y + bar_h - 2, f"{q.number}. {title}", bars))
    return Chart(label_w + chart_w + 60, height, label_w, bar_h, ticks, rows)


def render_html(view: ReportView) -> str:
    """The report of ``view`` as one HTML page."""
    from markupsafe import Markup

    css = Markup((TEMPLATES / "report.css").read_text(encoding="utf-8"))
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            view=view,
            chart=score_chart(view),
            css=css,
            csp=Markup(_CSP),
            verdict_words=VERDICT_WORDS,
        )
    )
