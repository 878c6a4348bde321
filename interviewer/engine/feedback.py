"""The feedback card a question ends with: why there is no grade (if so), the coach's words,
the key points by verdict, and the reference answer."""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence

from interviewer.bank.models import Question
from interviewer.engine.events import Event
from interviewer.engine.grading import graded_points, verdict_changes
from interviewer.engine.turns import generate
from interviewer.llm.base import ChatModel
from interviewer.prompts import PromptLibrary
from interviewer.textutil import escape_markdown
from interviewer.transcript import (
    VERDICT_WORDS,
    Delivery,
    Grade,
    KeyPointGrade,
    QuestionResult,
    Turn,
    describe_speech,
)

_PREFILTER_FEEDBACK = {
    "empty": "No answer was given, so this question scores 0.",
    "dont_know": "You said you don't know, so this question scores 0. That is an honest answer "
    "in a real interview too; the key points below are what to study.",
    "gibberish": "The answer was not words the grader could read (keyboard mash or one word "
    "repeated), so this question scores 0.",
    "injection": "The answer only gave instructions to the grader, and those earn nothing, so "
    "this question scores 0.",
    "off_topic": "The answer was about something else, so this question scores 0. The key "
    "points below are what the question was after.",
}


def coach_words(
    model: ChatModel,
    prompts: PromptLibrary,
    question: Question,
    grade: Grade,
    cancel: threading.Event | None,
) -> Generator[Event, None, str]:
    """The coach's own words on a graded answer ("" when the model failed)."""
    messages = prompts.feedback_messages(question, grade.key_points)
    budget = 60 + 30 * len(question.key_points)  # 3-5 sentences, more for more points
    generated = yield from generate(
        model, "feedback", messages, question.id, cancel, max_new_tokens=budget, stream_kind=None
    )
    return generated or ""


def feedback_intro(result: QuestionResult, prose: str) -> list[str]:
    """The words of the feedback: why there is no grade (if so), then the coach's own."""
    parts: list[str] = []
    if result.status == "skipped" and not result.answers:
        parts.append("You skipped this question.")
    elif result.grading_error:
        parts.append(f"This answer could not be graded: {result.grading_error}")
    elif result.grade is not None and result.grade.prefilter_reason is not None:
        parts.append(_PREFILTER_FEEDBACK[result.grade.prefilter_reason])
    if prose:
        parts.append(prose)
    return parts


def study_line(verdict: KeyPointGrade) -> str:
    """For a missed point that something in the answer came close to: that sentence, verbatim,
    and the point's facts it lacks (Markdown, every word escaped); "" when nothing came close.
    Grounded in what was said: both halves are quotes, of the candidate and of the bank."""
    if verdict.verdict != "missing" or not verdict.closest:
        return ""
    line = f'closest you came: "{escape_markdown(verdict.closest)}"'
    if verdict.lacking:
        line += "; it lacks: " + "; ".join(escape_markdown(fact) for fact in verdict.lacking)
    return line


def retake_lines(question: Question, before: QuestionResult, after: QuestionResult) -> list[str]:
    """What a retake changed against the attempt before it, per key point (Markdown lines)."""
    points = question.key_points_by_id
    lines = []
    for point_id, was, now in verdict_changes(before.grade, after.grade):
        if point_id not in points:
            continue
        said = VERDICT_WORDS[was] if was else "not graded"
        line = f"- {said} → **{VERDICT_WORDS[now.verdict] if now else 'not graded'}**: "
        line += points[point_id].statement
        if now is not None and now.evidence:
            line += f' (you said: "{escape_markdown(now.evidence)}")'
        lines.append(line)
    return lines or ["- no key point changed"]


def feedback_markdown(
    question: Question,
    result: QuestionResult,
    prose: str,
    *,
    before: QuestionResult | None = None,
    replies: Sequence[Delivery] = (),
) -> str:
    """The feedback card: the coach's words, what a retake changed (``before``: the attempt
    before it), the key points by verdict, how the replies were spoken and timed
    (``replies``), the reference answer."""
    parts = feedback_intro(result, prose)
    if before is not None:
        parts.append(
            f"**This retake: {before.score * 100:.0f}% → {result.score * 100:.0f}%** (graded on "
            "this attempt's replies alone; the interview keeps the first answer's score)\n\n"
            + "\n".join(retake_lines(question, before, result))
        )
    if result.grade is not None:
        rows = []
        for mark, point, verdict in graded_points(question, result.grade):
            line = f"- **{mark}**: {point.statement}"
            if verdict.uncertain:
                line += " *(uncertain)*"
            if verdict.evidence:
                line += f' (you said: "{escape_markdown(verdict.evidence)}")'
            study = study_line(verdict)
            if study:
                line += f"\n  - {study}"
            rows.append(line)
        parts.append(f"Score: {result.score * 100:.0f}%\n\n" + "\n".join(rows))
    spoken = [f"- {describe_speech(d.speech)}" for d in replies if d.speech is not None]
    if any(d.sent_by_clock for d in replies):
        spoken.append("- the time ran out: what was in the box was sent")
    if spoken:
        parts.append("**How you spoke**\n\n" + "\n".join(spoken))
    parts.append(f"**Reference answer**\n\n{question.reference_answer}")
    return "\n\n".join(parts)


def interview_summary(
    prompts: PromptLibrary, results: Sequence[QuestionResult], score: float, ended_early: bool
) -> str:
    """The interviewer's closing words: the score and what became of each question."""
    return prompts.summary(
        score=score,
        question_count=len(results),
        answered=sum(r.status == "answered" for r in results),
        skipped=sum(r.status == "skipped" for r in results),
        not_reached=sum(r.status == "not_reached" for r in results),
        ended_early=ended_early,
    )


def deliveries(turns: Sequence[Turn], question_id: str) -> list[Delivery]:
    """How each reply to the question was given (the spoken or timed ones)."""
    return [t.delivery for t in turns if t.question_id == question_id and t.delivery is not None]
