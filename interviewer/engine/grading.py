"""Grading: the graders, the per-question output schema, and the score arithmetic.

The program owns the score. A grader only says, per key point, covered / partial / missing
(with a rationale and a quote); :func:`score_verdicts` turns that into a number from the
bank's weights, and :func:`merge_verdicts` keeps the best verdict a point has earned so far.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, create_model

from interviewer.bank.models import KeyPoint, Question
from interviewer.llm.base import ChatModel, GenerationOptions
from interviewer.prompts import PromptLibrary
from interviewer.transcript import (
    VERDICT_CREDIT,
    VERDICT_RANK,
    VERDICT_WORDS,
    Grade,
    KeyPointGrade,
    Verdict,
)

RATIONALE_MAX = 120
EVIDENCE_MAX = 100


def score_verdicts(question: Question, verdicts: Sequence[KeyPointGrade]) -> float:
    """Weighted share of the question's key points earned by ``verdicts`` (0 to 1)."""
    by_id = {v.key_point_id: v.verdict for v in verdicts}
    earned = sum(
        point.weight * VERDICT_CREDIT[by_id.get(point.id, "missing")]
        for point in question.key_points
    )
    return round(earned / question.total_weight, 4)


def missing_verdicts(question: Question, rationale: str) -> list[KeyPointGrade]:
    return [
        KeyPointGrade(key_point_id=p.id, rationale=rationale, verdict="missing")
        for p in question.key_points
    ]


def graded_points(question: Question, grade: Grade) -> list[tuple[str, KeyPoint, KeyPointGrade]]:
    """(verdict as said to the candidate, key point, verdict) for each point of the grade that
    the question still has: what the feedback card and the report list."""
    points = question.key_points_by_id
    return [
        (VERDICT_WORDS[v.verdict], points[v.key_point_id], v)
        for v in grade.key_points
        if v.key_point_id in points
    ]


def normalize_verdicts(
    question: Question, verdicts: Sequence[KeyPointGrade]
) -> list[KeyPointGrade]:
    """Exactly one verdict per key point, in bank order: unknown ids dropped, gaps missing."""
    given: dict[str, KeyPointGrade] = {}
    for verdict in verdicts:
        if verdict.key_point_id in question.key_points_by_id and verdict.key_point_id not in given:
            given[verdict.key_point_id] = verdict
    return [
        given.get(
            point.id,
            KeyPointGrade(
                key_point_id=point.id, rationale="the grader gave no verdict", verdict="missing"
            ),
        )
        for point in question.key_points
    ]


def merge_verdicts(
    previous: Sequence[KeyPointGrade], latest: Sequence[KeyPointGrade]
) -> list[KeyPointGrade]:
    """Per key point, keep the better verdict: a follow-up reply can add credit, never take it."""
    earlier = {v.key_point_id: v for v in previous}
    merged: list[KeyPointGrade] = []
    for verdict in latest:
        before = earlier.get(verdict.key_point_id)
        if before is not None and VERDICT_RANK[before.verdict] > VERDICT_RANK[verdict.verdict]:
            merged.append(before)
        else:
            merged.append(verdict)
    return merged


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def verify_evidence(
    verdicts: Sequence[KeyPointGrade], answers: Sequence[str]
) -> list[KeyPointGrade]:
    """Keep a quote only if the candidate really said it (ignoring case and whitespace).

    A covered or partial verdict whose quote is not in the answers drops one level (covered to
    partial, partial to missing): a grader may not credit words the candidate never wrote.
    """
    said = _squash("\n".join(answers))
    checked: list[KeyPointGrade] = []
    for verdict in verdicts:
        quote = _squash(verdict.evidence)
        if verdict.verdict == "missing" or (quote and quote in said):
            checked.append(verdict)
            continue
        lower: Verdict = "partial" if verdict.verdict == "covered" else "missing"
        checked.append(
            KeyPointGrade(
                key_point_id=verdict.key_point_id,
                rationale=f"{verdict.rationale} [downgraded: the quoted evidence is not in the "
                "answer]".strip(),
                verdict=lower,
                evidence="",
            )
        )
    return checked


class Grader(Protocol):
    """Grades everything the candidate has said on one question."""

    @property
    def name(self) -> str: ...

    def grade(
        self,
        question: Question,
        answers: Sequence[str],
        cancel: threading.Event | None = None,
    ) -> list[KeyPointGrade]: ...


def grader_output_type(question: Question) -> type[BaseModel]:
    """The JSON shape the LLM grader must produce for ``question``.

    Key point ids are an enum of this question's ids and strings are bounded, so a backend
    that constrains decoding to this schema cannot wander off into unknown ids or endless text.
    """
    return _grader_output_type(question.id, tuple(point.id for point in question.key_points))


@cache
def _grader_output_type(question_id: str, ids: tuple[str, ...]) -> type[BaseModel]:
    # Validation is lenient (twice the grammar's bounds, any number of items up to 2n) and the
    # grammar strict (exactly n items, tight strings): see interviewer.llm.hf.grammar_schema.
    id_type: Any = Literal[ids]
    point_model = create_model(
        f"KeyPointVerdict_{question_id.replace('-', '_')}",
        __config__=ConfigDict(extra="ignore"),
        key_point_id=(id_type, ...),
        rationale=(
            str,
            Field(
                max_length=RATIONALE_MAX * 2, json_schema_extra=_grammar(maxLength=RATIONALE_MAX)
            ),
        ),
        verdict=(Verdict, ...),
        evidence=(
            str,
            Field(
                default="",
                max_length=EVIDENCE_MAX * 2,
                json_schema_extra=_grammar(maxLength=EVIDENCE_MAX),
            ),
        ),
    )
    output: type[BaseModel] = create_model(
        f"GraderOutput_{question_id.replace('-', '_')}",
        __config__=ConfigDict(extra="ignore"),
        key_points=(
            list[point_model],
            Field(
                min_length=1,
                max_length=len(ids) * 2,
                json_schema_extra=_grammar(minItems=len(ids), maxItems=len(ids)),
            ),
        ),
    )
    return output


def _grammar(**bounds: int) -> dict[str, Any]:
    """Schema hints for constrained decoding only (``x-grammar``); validation ignores them."""
    return {"x-grammar": dict(bounds)}


def grading_token_budget(question: Question) -> int:
    """Enough new tokens for a full grade within the grammar's bounds."""
    # Worst case for a model that spends one token per character (weak models do).
    per_point = RATIONALE_MAX + EVIDENCE_MAX + 40
    return per_point * len(question.key_points) + 32


class LLMGrader:
    """Reference-guided grading by the chat model, greedy, in a fresh context."""

    def __init__(self, model: ChatModel, prompts: PromptLibrary) -> None:
        self._model = model
        self._prompts = prompts

    @property
    def name(self) -> str:
        return f"llm:{self._model.info.model_id}"

    def grade(
        self,
        question: Question,
        answers: Sequence[str],
        cancel: threading.Event | None = None,
    ) -> list[KeyPointGrade]:
        output_type = grader_output_type(question)
        options = GenerationOptions(
            purpose="grade",
            temperature=0.0,
            max_new_tokens=grading_token_budget(question),
        )
        output = self._model.generate_structured(
            self._prompts.grader_messages(
                question, answers, rationale_max=RATIONALE_MAX, evidence_max=EVIDENCE_MAX
            ),
            output_type,
            options,
            cancel,
        )
        raw: list[Any] = getattr(output, "key_points", [])
        verdicts = [
            KeyPointGrade(
                key_point_id=item.key_point_id,
                rationale=item.rationale.strip()[: RATIONALE_MAX * 2],
                verdict=item.verdict,
                evidence=item.evidence.strip()[: EVIDENCE_MAX * 2]
                if item.verdict != "missing"
                else "",
            )
            for item in raw
        ]
        return verify_evidence(normalize_verdicts(question, verdicts), answers)


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+")


def _terms(point: KeyPoint) -> list[str]:
    return sorted({k.lower().strip() for k in point.keywords if k.strip()})


def _contains(haystack: str, term: str) -> bool:
    """Whole-word (or whole-phrase) containment, so 'bin' does not match 'binary'."""
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", haystack) is not None


class EvidenceGrader:
    """A model-free grader: a key point counts where the answer uses its listed keywords.

    Coarse but cheap, deterministic, and impossible to talk into a better grade. It is what the
    demo uses, a fallback when no LLM is available, and (later) a cross-check on the LLM.
    """

    name = "evidence"

    def grade(
        self,
        question: Question,
        answers: Sequence[str],
        cancel: threading.Event | None = None,
    ) -> list[KeyPointGrade]:
        sentences = [s.strip() for a in answers for s in _SENTENCE_SPLIT.split(a) if s.strip()]
        verdicts: list[KeyPointGrade] = []
        for point in question.key_points:
            terms = _terms(point)
            best_sentence, best_hits = "", list[str]()
            found: set[str] = set()
            for sentence in sentences:
                hits = [t for t in terms if _contains(sentence.lower(), t)]
                found.update(hits)
                if len(hits) > len(best_hits):
                    best_sentence, best_hits = sentence, hits
            needed = min(2, len(terms))
            verdict: Verdict
            if terms and len(found) >= needed:
                verdict = "covered"
            elif found:
                verdict = "partial"
            else:
                verdict = "missing"
            rationale = (
                f"mentions {', '.join(repr(t) for t in sorted(found))}"
                if found
                else "none of the point's keywords appear in the answer"
            )
            verdicts.append(
                KeyPointGrade(
                    key_point_id=point.id,
                    rationale=rationale,
                    verdict=verdict,
                    evidence=best_sentence[:EVIDENCE_MAX] if verdict != "missing" else "",
                )
            )
        return verdicts
