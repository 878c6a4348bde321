"""The Markdown report: readable on GitHub, with every piece of candidate and model text literal.

Candidate and model text is escaped so that no character of it acts as Markdown or HTML (a
``<script>`` typed in an answer shows as ``<script>``). The bank's own text (reference answers,
key point statements) is the bank author's Markdown and is rendered as such.
"""

from __future__ import annotations

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

# Every ASCII punctuation character may be backslash-escaped in CommonMark; these are the ones
# that can start markup anywhere in a line (entities and autolinks included).
_INLINE = re.compile(r"([\\`*_\[\]<>#|~&!{}])")
# These only act at the start of a line: lists, headings, quotes, thematic breaks, setext.
_LINE_START = re.compile(r"^(\s*)(?:([-+=>:])|(\d+)([.)]))")


def literal(text: str) -> str:
    """Text that renders exactly as written, on one or several lines."""
    lines = visible_control(text).split("\n")
    out = []
    for line in lines:
        escaped = _INLINE.sub(r"\\\1", line)
        escaped = _LINE_START.sub(_escape_line_start, escaped)
        # Leading spaces would be eaten (or turn the line into code): keep them visible.
        stripped = escaped.lstrip(" ")
        escaped = "&nbsp;" * (len(escaped) - len(stripped)) + stripped
        out.append(escaped)
    return "  \n".join(out)


def _escape_line_start(match: re.Match[str]) -> str:
    if match.group(2):  # - + = > :
        return f"{match.group(1)}\\{match.group(2)}"
    return f"{match.group(1)}{match.group(3)}\\{match.group(4)}"  # 1. becomes 1\.


def _quote(text: str) -> str:
    """A block quote whose every line is literal (blank lines kept)."""
    body = literal(text) if text.strip() else "*(no answer)*"
    return "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))


def _cell(text: str) -> str:
    return literal(" ".join(text.split()))


def render_markdown(view: ReportView) -> str:
    t = view.transcript
    parts = [f"# Interview report: {_cell(t.bank.title)}", ""]
    parts += [
        "| | |",
        "| --- | --- |",
        f"| Session | `{t.session_id}` |",
        f"| Date | {t.started_at:%Y-%m-%d %H:%M} UTC |",
        f"| Status | {view.status} |",
        f"| Mode | {t.settings.mode}, up to {t.settings.max_follow_ups} follow-ups per question |",
        f"| Model | {_cell(view.model_line)} |",
        f"| Grader | {_cell(shown_name(t.grader))} |",
        *(
            [f"| Verdict confidence | {_cell(view.confidence_line)} |"]
            if view.confidence_line
            else []
        ),
        f"| Score | **{percent(t.score)}** |",
        *(
            [
                "| Review | "
                + ", ".join(f"{n} {state}" for state, n in sorted(view.review_counts.items()))
                + " (this session's key points, now) |"
            ]
            if view.review_counts
            else []
        ),
        "",
    ]
    if view.bank_note:
        parts += [f"> **Note:** {view.bank_note}", ""]
    parts += ["## Summary", ""]
    header = "| # | Question | Status | Score | Follow-ups | Covered | Partial | Missed |"
    rule = "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    for label in view.regrade_labels:
        header += f" {_cell(label)} |"
        rule += " ---: |"
    parts += [header, rule]
    for q in view.questions:
        r = q.result
        row = (
            f"| {q.number} | [{_cell(r.title)}](#q{q.number}) | {r.status.replace('_', ' ')} | "
            f"{percent(r.score)} | {r.follow_ups} | {len(q.by_verdict('covered'))} | "
            f"{len(q.by_verdict('partial'))} | {len(q.by_verdict('missing'))} |"
        )
        for change in q.regrades:
            row += f" {percent(change.score_after)} |"
        parts.append(row)
    total = f"| | **Total** | | **{percent(t.score)}** | | | | |"
    for regrade in t.regrades:
        total += f" **{percent(regrade.score)}** |"
    parts += [total, ""]
    for q in view.questions:
        parts += _question(q)
    return "\n".join(parts).rstrip() + "\n"


def _question(q: QuestionView) -> list[str]:
    r = q.result
    parts = [
        f'<a id="q{q.number}"></a>',
        "",
        f"## {q.number}. {_cell(r.title)}: {percent(r.score)}",
        "",
        f"**Question.** {literal(q.question_text)}",
        "",
    ]
    if q.rubric_note:
        parts += [f"> **Note:** {q.rubric_note}", ""]
    parts += [f"**Time spent.** {q.time_line}", ""]
    parts += ["### Conversation", ""]
    parts += _conversation(q.turns, r.status)
    if q.speech:
        parts += ["### How you spoke", ""]
        parts += [f"- {describe_speech(speech)}" for speech in q.speech]
        parts.append("")
    parts += ["### Grade", ""]
    if r.grade is not None:
        parts += [
            f"Score **{percent(r.score)}**, graded by {_cell(shown_name(r.grade.grader))} "
            f"(rubric `{r.rubric_hash}`), {r.follow_ups} follow-up(s).",
            "",
        ]
        if q.screened_out is not None:
            parts += [f"Scored 0 without grading: {q.screened_out}.", ""]
        if q.ignored:
            parts += [
                "Ignored as instructions to the grader: "
                + "; ".join(f"“{_cell(s)}”" for s in q.ignored),
                "",
            ]
        for verdict in ("covered", "partial", "missing"):
            points = q.by_verdict(verdict)
            parts += [f"**{VERDICT_WORDS[verdict].capitalize()}** ({len(points)})", ""]
            if not points:
                parts += ["- none", ""]
                continue
            parts += [_point(kp) for kp in points]
            parts.append("")
    elif r.grading_error:
        parts += [f"Not graded: {literal(r.grading_error)}", ""]
    else:
        parts += [f"Not graded ({r.status.replace('_', ' ')}).", ""]
    if r.coach_feedback:
        parts += ["### Feedback", "", literal(r.coach_feedback), ""]
    if q.reference_answer:
        parts += ["### Reference answer", "", q.reference_answer, ""]
    if q.sources:
        parts += ["Sources: " + ", ".join(f"<{s}>" if "://" in s else s for s in q.sources), ""]
    for retake in q.retakes:
        parts += _retake(retake)
    if q.regrades:
        parts += ["### What the regrades changed", ""]
        for change in q.regrades:
            line = (
                f"- **{_cell(change.label)}**: {percent(change.score_before)} → "
                f"{percent(change.score_after)}"
            )
            if change.grading_error:
                line += f" (not graded: {_cell(change.grading_error)})"
            parts.append(line)
            for statement, before, after in change.verdicts:
                parts.append(f"  - {statement}: {before} → {after}")
            if not change.verdicts and not change.grading_error:
                parts.append("  - no key point changed")
        parts.append("")
    return parts


def _conversation(turns: list[Turn], status: str) -> list[str]:
    parts: list[str] = []
    shown = [t for t in turns if t.kind not in ("question", "feedback")]
    if not shown:
        parts += ["*(not reached)*" if status == "not_reached" else "*(no reply)*", ""]
    for turn in shown:
        kind = "" if turn.kind in ("answer",) else f" ({turn.kind.replace('_', ' ')})"
        if turn.delivery is not None and turn.delivery.spoken:
            kind += " (spoken)"
        if turn.delivery is not None and turn.delivery.sent_by_clock:
            kind += " (sent when the time was up)"
        parts += [f"**{speaker(turn)}**{kind}:", "", _quote(turn.text), ""]
    return parts


def _point(kp: KeyPointView) -> str:
    line = f"- {kp.statement}"
    if kp.doubt:
        line += f" *({_cell(kp.doubt)})*"
    if kp.evidence:
        line += f"  \n  Evidence: “{_cell(kp.evidence)}”"
    if kp.closest:
        line += f"  \n  Closest you came: “{_cell(kp.closest)}”"
        if kp.lacking:
            line += "  \n  It lacks: " + "; ".join(_cell(fact) for fact in kp.lacking)
    if kp.rationale:
        line += f"  \n  Why: {_cell(kp.rationale)}"
    if kp.review:
        line += f"  \n  Review: {_cell(kp.review)}"
    return line


def _retake(retake: RetakeView) -> list[str]:
    """A retake: its conversation, what changed against the attempt before, its grade."""
    r = retake.retake
    parts = [
        f"### Retake {retake.number}: {percent(retake.score_before)} → {percent(r.score)}",
        "",
        "Graded on this attempt's replies alone; the question keeps the first answer's score.",
        "",
        "#### Conversation",
        "",
        *_conversation(retake.turns, r.status),
        "#### What changed",
        "",
    ]
    for statement, before, after, quote in retake.changes:
        line = f"- {statement}: {before} → **{after}**"
        if quote:
            line += f" (“{_cell(quote)}”)"
        parts.append(line)
    if not retake.changes:
        parts.append("- no key point changed")
    parts.append("")
    if r.grade is not None:
        for verdict in ("covered", "partial", "missing"):
            points = retake.by_verdict(verdict)
            if points:
                parts += [f"**{VERDICT_WORDS[verdict].capitalize()}** ({len(points)})", ""]
                parts += [_point(kp) for kp in points]
                parts.append("")
    elif r.grading_error:
        parts += [f"Not graded: {literal(r.grading_error)}", ""]
    if r.coach_feedback:
        parts += ["#### Feedback", "", literal(r.coach_feedback), ""]
    return parts
