"""Re-score a stored session's answers with another grader or against the current rubric.

Each answered question is graded once over everything the candidate said on it (the interview
graded after every reply and kept the best verdict per key point; one call over all the replies
sees the same words). Every reply is screened as in the interview: empty, "I don't know",
gibberish, instruction-only and off-topic replies score 0 without a model call. Skipped
questions stay skipped, and a failed grade is recorded as such, never invented.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from interviewer.bank.models import Bank
from interviewer.engine.grading import Grader, grade_answers
from interviewer.llm.base import GenerationCancelled, ModelError, ModelUnavailable
from interviewer.transcript import ModelInfo, Regrade, RegradedQuestion, Transcript


def regrade_transcript(
    transcript: Transcript,
    bank: Bank,
    grader: Grader,
    model: ModelInfo,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[str], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Regrade:
    """Grade the transcript's answers again; the original grades are left as they are."""
    results: list[RegradedQuestion] = []
    for result in transcript.results:
        try:
            question = bank.question(result.question_id)
        except KeyError:
            results.append(
                RegradedQuestion(
                    question_id=result.question_id,
                    rubric_hash=result.rubric_hash,
                    grading_error=f"the question is no longer in the bank '{bank.id}'",
                )
            )
            continue
        if result.status != "answered" or not result.answers:
            results.append(
                RegradedQuestion(question_id=question.id, rubric_hash=question.rubric_hash)
            )
            continue
        if on_progress is not None:
            on_progress(f"Grading {question.id}")
        try:
            grade = grade_answers(question, result.answers, grader, cancel)
        except (GenerationCancelled, ModelUnavailable):  # nothing is stored
            raise
        except ModelError as exc:
            results.append(
                RegradedQuestion(
                    question_id=question.id,
                    rubric_hash=question.rubric_hash,
                    grading_error=exc.describe(),
                )
            )
            continue
        results.append(
            RegradedQuestion(
                question_id=question.id,
                rubric_hash=question.rubric_hash,
                grade=grade,
                score=grade.score,
            )
        )
    total = round(sum(r.score for r in results) / len(results), 4) if results else 0.0
    return Regrade(
        regraded_at=clock(), model=model, grader=grader.name, results=results, score=total
    )
