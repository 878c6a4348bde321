"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

Everything that comes from the session is escaped with :func:`html.escape` and shown in
``white-space: pre-wrap`` blocks, so candidate text renders exactly as typed and never as markup.
A Content-Security-Policy that allows no script and no network backs that up. The bank's own
Markdown (reference answers) and the coach's words go through a tiny renderer that escapes first
and then only adds paragraphs, lists, ``code`` and **bold**.
"""

from __future__ import annotations

import html
import re

from interviewer.report.view import (
    KeyPointView,
    QuestionView,
    ReportView,
    RetakeView,
    percent,
    speaker,
)
from interviewer.textutil import shown_name, visible_control
from interviewer.transcript import VERDICT_WORDS, Turn, describe_speech

_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa;
  --covered: #1a7f37; --partial: #9a6700; --missed: #cf222e; --bar: #0969da; --bar2: #8250df; }
* { box-sizing: border-box; }
body { font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); margin: 0; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin: 0 0 1rem; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 .75rem; padding-bottom: .3rem;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 1.02rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .3rem .6rem; text-align: left;
  vertical-align: top; }
th { background: var(--panel); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta th { width: 8rem; }
.note { border-left: 4px solid var(--partial); background: #fff8c5; padding: .5rem .8rem; }
.turn { margin: .5rem 0; padding: .5rem .8rem; border-radius: 6px; background: var(--panel); }
.turn.candidate { background: #ddf4ff; }
.who { font-weight: 600; font-size: .85rem; color: var(--muted); }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .2rem 0 0; font: inherit; }
.kp { margin: .3rem 0; }
.kp .tag { display: inline-block; min-width: 4.6rem; font-size: .8rem; font-weight: 600; }
.covered .tag { color: var(--covered); } .partial .tag { color: var(--partial); }
.missing .tag { color: var(--missed); }
.quote, .why { color: var(--muted); font-size: .9rem; margin-left: 4.9rem; }
.reference { border-left: 4px solid var(--line); padding-left: .9rem; }
.study { color: var(--fg); font-size: .9rem; margin-left: 4.9rem; }
.review { display: inline-block; font-size: .75rem; font-weight: 600; padding: 0 .4rem;
  border-radius: 8px; margin-left: .4rem; border: 1px solid var(--line); color: var(--muted); }
.review.due { color: var(--missed); border-color: var(--missed); }
.review.learning { color: var(--partial); border-color: var(--partial); }
.review.learned { color: var(--covered); border-color: var(--covered); }
.retake { border-left: 4px solid var(--bar2); padding-left: .9rem; margin: 1rem 0; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--panel); padding: .05rem .25rem; border-radius: 4px; }
svg { max-width: 100%; height: auto; }
.chart text { font: 12px system-ui, sans-serif; fill: var(--fg); }
.legend { font-size: .85rem; color: var(--muted); }
section.question { break-inside: auto; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-before: page; break-after: avoid; }
  h1 + table, .summary, .chart { break-inside: avoid; }
  .turn, .kp, tr { break-inside: avoid; }
  .turn, .turn.candidate { background: none; border: 1px solid var(--line); }
  a { color: inherit; }
  a[href^="http"]::after { content: " (" attr(href) ")"; font-size: .8em; color: var(--muted); }
}
"""

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


def esc(text: str) -> str:
    """Escaped text, control characters made visible."""
    return html.escape(visible_control(text), quote=True)


_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")


def _inline(escaped: str) -> str:
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def mini_markdown(text: str) -> str:
    """Paragraphs, '- ' lists, `code` and **bold**, from text escaped first (so always safe)."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line for line in block.split("\n") if line.strip()]
        if lines and all(line.lstrip().startswith(("- ", "* ")) for line in lines):
            items = "".join(f"<li>{_inline(esc(line.lstrip()[2:]))}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif lines:
            blocks.append(f"<p>{_inline(esc(chr(10).join(lines)))}</p>".replace("\n", "<br>"))
    return "\n".join(blocks)


def _link(source: str) -> str:
    if re.match(r"^https?://[^\s\"'<>]+$", source):
        return f'<a href="{esc(source)}">{esc(source)}</a>'
    return esc(source)


def score_chart(view: ReportView) -> str:
    """A horizontal bar per question (and per regrade), as inline SVG."""
    series = [("interview", "var(--bar)")] + [
        (label, "var(--bar2)") for label in view.regrade_labels
    ]
    bar_h, gap, label_w, chart_w = 14, 10, 230, 420
    group_h = bar_h * len(series) + gap
    height = group_h * len(view.questions) + 30
    width = label_w + chart_w + 60
    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Score per question">'
    ]
    for tick in (0, 25, 50, 75, 100):
        x = label_w + chart_w * tick / 100
        out.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 20}" stroke="#d1d9e0"/>'
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{tick}%</text>'
        )
    for i, q in enumerate(view.questions):
        y = i * group_h + 4
        title = q.result.title if len(q.result.title) <= 32 else q.result.title[:31] + "…"
        out.append(
            f'<text x="{label_w - 8}" y="{y + bar_h - 2}" text-anchor="end">'
            f"{q.number}. {esc(title)}</text>"
        )
        scores = [q.result.score] + [c.score_after for c in q.regrades]
        for j, ((_, colour), score) in enumerate(zip(series, scores, strict=False)):
            w = max(chart_w * score, 1.5)
            by = y + j * bar_h
            out.append(
                f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 3}" '
                f'fill="{colour}" rx="2"/>'
                f'<text x="{label_w + w + 5:.1f}" y="{by + bar_h - 4}">{percent(score)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def render_html(view: ReportView) -> str:
    t = view.transcript
    rows = [
        ("Session", f"<code>{esc(t.session_id)}</code>"),
        ("Date", f"{t.started_at:%Y-%m-%d %H:%M} UTC"),
        ("Status", esc(view.status)),
        (
            "Mode",
            f"{esc(t.settings.mode)}, up to {t.settings.max_follow_ups} follow-ups per question",
        ),
        ("Model", esc(view.model_line)),
        ("Grader", esc(shown_name(t.grader))),
        *([("Verdict confidence", esc(view.confidence_line))] if view.confidence_line else []),
        ("Score", f"<strong>{percent(t.score)}</strong>"),
    ]
    if view.review_counts:
        counts = ", ".join(
            f'<span class="review {esc(state)}">{n} {esc(state)}</span>'
            for state, n in sorted(view.review_counts.items())
        )
        rows.append(("Review", f"{counts} (this session's key points, now)"))
    body = [
        f"<h1>Interview report: {esc(t.bank.title)}</h1>",
        '<table class="meta">'
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        + "</table>",
    ]
    if view.bank_note:
        body.append(f'<p class="note">{esc(view.bank_note)}</p>')
    body.append('<h2 id="summary">Summary</h2>')
    head = (
        "<tr><th class=num>#</th><th>Question</th><th>Status</th><th class=num>Score</th>"
        "<th class=num>Follow-ups</th><th class=num>Covered</th><th class=num>Partial</th>"
        "<th class=num>Missed</th>"
        + "".join(f"<th class=num>{esc(label)}</th>" for label in view.regrade_labels)
        + "</tr>"
    )
    lines = []
    for q in view.questions:
        r = q.result
        lines.append(
            f'<tr><td class=num>{q.number}</td><td><a href="#q{q.number}">{esc(r.title)}</a>'
            f"</td><td>{esc(r.status.replace('_', ' '))}</td><td class=num>{percent(r.score)}"
            f"</td><td class=num>{r.follow_ups}</td><td class=num>{len(q.by_verdict('covered'))}"
            f"</td><td class=num>{len(q.by_verdict('partial'))}</td>"
            f"<td class=num>{len(q.by_verdict('missing'))}</td>"
            + "".join(f"<td class=num>{percent(c.score_after)}</td>" for c in q.regrades)
            + "</tr>"
        )
    lines.append(
        f"<tr><td></td><th>Total</th><td></td><th class=num>{percent(t.score)}</th>"
        "<td></td><td></td><td></td><td></td>"
        + "".join(f"<th class=num>{percent(r.score)}</th>" for r in t.regrades)
        + "</tr>"
    )
    body.append(f'<table class="summary">{head}{"".join(lines)}</table>')
    body.append(score_chart(view))
    if view.regrade_labels:
        body.append(
            '<p class="legend">Blue: the interview\'s grades; purple: '
            + "; ".join(esc(label) for label in view.regrade_labels)
            + ".</p>"
        )
    body += [_question(q) for q in view.questions]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Interview report: {esc(t.bank.title)} ({esc(t.session_id)})</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def _question(q: QuestionView) -> str:
    r = q.result
    out = [
        f'<section class="question" id="q{q.number}">',
        f"<h2>{q.number}. {esc(r.title)}: {percent(r.score)}</h2>",
        f'<p><strong>Question.</strong> <span class="text">{esc(q.question_text)}</span></p>',
    ]
    if q.rubric_note:
        out.append(f'<p class="note">{esc(q.rubric_note)}</p>')
    out.append(f"<p><strong>Time spent.</strong> {esc(q.time_line)}</p>")
    out.append("<h3>Conversation</h3>")
    out += _conversation(q.turns, r.status)
    if q.speech:
        out.append("<h3>How you spoke</h3>")
        out.append(
            "<ul>" + "".join(f"<li>{esc(describe_speech(s))}</li>" for s in q.speech) + "</ul>"
        )
    out.append("<h3>Grade</h3>")
    if r.grade is not None:
        out.append(
            f"<p>Score <strong>{percent(r.score)}</strong>, graded by "
            f"{esc(shown_name(r.grade.grader))} "
            f"(rubric <code>{esc(r.rubric_hash)}</code>), {r.follow_ups} follow-up(s).</p>"
        )
        if q.screened_out is not None:
            out.append(f"<p>Scored 0 without grading: {esc(q.screened_out)}.</p>")
        if q.ignored:
            ignored = "; ".join(f"“{esc(s)}”" for s in q.ignored)
            out.append(f"<p>Ignored as instructions to the grader: {ignored}</p>")
        for verdict in ("covered", "partial", "missing"):
            out += [_point(kp) for kp in q.by_verdict(verdict)]
    elif r.grading_error:
        out.append(f'<p>Not graded: <span class="text">{esc(r.grading_error)}</span></p>')
    else:
        out.append(f"<p>Not graded ({esc(r.status.replace('_', ' '))}).</p>")
    if r.coach_feedback:
        out += ["<h3>Feedback</h3>", mini_markdown(r.coach_feedback)]
    if q.reference_answer:
        out += [
            "<h3>Reference answer</h3>",
            f'<div class="reference">{mini_markdown(q.reference_answer)}</div>',
        ]
    if q.sources:
        out.append("<p>Sources: " + ", ".join(_link(s) for s in q.sources) + "</p>")
    out += [_retake(retake) for retake in q.retakes]
    if q.regrades:
        out.append("<h3>What the regrades changed</h3><ul>")
        for change in q.regrades:
            item = (
                f"<li><strong>{esc(change.label)}</strong>: {percent(change.score_before)} → "
                f"{percent(change.score_after)}"
            )
            if change.grading_error:
                item += f" (not graded: {esc(change.grading_error)})"
            if change.verdicts:
                item += (
                    "<ul>"
                    + "".join(
                        f"<li>{_inline(esc(s))}: {esc(b)} → {esc(a)}</li>"
                        for s, b, a in change.verdicts
                    )
                    + "</ul>"
                )
            elif not change.grading_error:
                item += " (no key point changed)"
            out.append(item + "</li>")
        out.append("</ul>")
    out.append("</section>")
    return "\n".join(out)


def _conversation(turns: list[Turn], status: str) -> list[str]:
    out = []
    shown = [t for t in turns if t.kind not in ("question", "feedback")]
    if not shown:
        out.append(
            "<p><em>not reached</em></p>" if status == "not_reached" else "<p><em>no reply</em></p>"
        )
    for turn in shown:
        kind = "" if turn.kind == "answer" else f" ({esc(turn.kind.replace('_', ' '))})"
        if turn.delivery is not None and turn.delivery.spoken:
            kind += " (spoken)"
        if turn.delivery is not None and turn.delivery.sent_by_clock:
            kind += " (sent when the time was up)"
        text = esc(turn.text) if turn.text.strip() else "<em>(no answer)</em>"
        out.append(
            f'<div class="turn {turn.role}"><div class="who">{speaker(turn)}{kind}</div>'
            f'<div class="text">{text}</div></div>'
        )
    return out


def _point(kp: KeyPointView) -> str:
    extra = ""
    if kp.doubt:
        extra += f'<div class="why"><em>{esc(kp.doubt)}</em></div>'
    if kp.evidence:
        extra += f'<div class="quote">“<span class="text">{esc(kp.evidence)}</span>”</div>'
    if kp.closest:
        extra += (
            '<div class="study">Closest you came: “<span class="text">'
            f"{esc(kp.closest)}</span>”"
            + (
                "; it lacks: " + "; ".join(f"<code>{esc(fact)}</code>" for fact in kp.lacking)
                if kp.lacking
                else ""
            )
            + "</div>"
        )
    if kp.rationale:
        extra += f'<div class="why">{esc(kp.rationale)}</div>'
    badge = (
        f' <span class="review {esc(kp.review_state)}" title="review state">{esc(kp.review)}</span>'
        if kp.review
        else ""
    )
    return (
        f'<div class="kp {kp.verdict}"><span class="tag">{VERDICT_WORDS[kp.verdict]}</span> '
        f"{_inline(esc(kp.statement))}{badge}{extra}</div>"
    )


def _retake(retake: RetakeView) -> str:
    """A retake: its conversation, what changed against the attempt before, its grade."""
    r = retake.retake
    out = [
        '<div class="retake">',
        f"<h3>Retake {retake.number}: {percent(retake.score_before)} → {percent(r.score)}</h3>",
        "<p>Graded on this attempt's replies alone; the question keeps the first answer's "
        "score.</p>",
        *_conversation(retake.turns, r.status),
        "<h4>What changed</h4><ul>",
    ]
    for statement, before, after, quote in retake.changes:
        said = f' (“<span class="text">{esc(quote)}</span>”)' if quote else ""
        out.append(
            f"<li>{_inline(esc(statement))}: {esc(before)} → <strong>{esc(after)}</strong>"
            f"{said}</li>"
        )
    if not retake.changes:
        out.append("<li>no key point changed</li>")
    out.append("</ul>")
    if r.grade is not None:
        for verdict in ("covered", "partial", "missing"):
            out += [_point(kp) for kp in retake.by_verdict(verdict)]
    elif r.grading_error:
        out.append(f'<p>Not graded: <span class="text">{esc(r.grading_error)}</span></p>')
    if r.coach_feedback:
        out += ["<h4>Feedback</h4>", mini_markdown(r.coach_feedback)]
    out.append("</div>")
    return "\n".join(out)
