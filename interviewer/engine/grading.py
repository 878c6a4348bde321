"""Grading: the graders, the per-question output schema, and the score arithmetic.

The program owns the score. A grader only says, per key point, covered / partial / missing
(with a rationale and a quote); :func:`score_verdicts` turns that into a number from the
bank's weights, and :func:`merge_verdicts` keeps the best verdict a point has earned so far.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, create_model

from interviewer.bank.models import KeyPoint, Question
from interviewer.config import EvidenceThresholds
from interviewer.engine.evidence import (
    EVIDENCE_MAX,
    Embedder,
    EvidenceGrader,
    PointEvidence,
    with_study_hints,
)
from interviewer.engine.prefilter import PREFILTER_REASONS, screen
from interviewer.llm.base import ChatModel, GenerationOptions, ReadsConfidence
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
MIN_CONFIDENCE = 0.6
"""Below this probability for its verdict, the LLM's verdict is marked uncertain."""


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


def verdict_changes(
    before: Grade | None, after: Grade | None
) -> list[tuple[str, Verdict | None, KeyPointGrade | None]]:
    """(key point id, verdict before, verdict after) for each key point whose verdict differs
    between two grades of the same question (a retake against the attempt before it), in the
    order the later grade lists them. None: that grade has no verdict on the point."""
    old = {v.key_point_id: v for v in before.key_points} if before is not None else {}
    new = {v.key_point_id: v for v in after.key_points} if after is not None else {}
    changed: list[tuple[str, Verdict | None, KeyPointGrade | None]] = []
    for point_id in dict.fromkeys([*new, *old]):
        was, now = old.get(point_id), new.get(point_id)
        if (was.verdict if was else None) != (now.verdict if now else None):
            changed.append((point_id, was.verdict if was else None, now))
    return changed


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
    """Per key point, keep the better verdict: a follow-up reply can add credit, never take it.

    A doubtful verdict is the exception: a sure verdict given after a follow-up replaces it
    (the follow-up was asked to settle it), and between two equal verdicts the sure one wins.
    """
    earlier = {v.key_point_id: v for v in previous}
    merged: list[KeyPointGrade] = []
    for verdict in latest:
        before = earlier.get(verdict.key_point_id)
        if before is not None and before.uncertain and not verdict.uncertain:
            merged.append(verdict)
        elif before is not None and (
            VERDICT_RANK[before.verdict] > VERDICT_RANK[verdict.verdict]
            or (
                VERDICT_RANK[before.verdict] == VERDICT_RANK[verdict.verdict]
                and verdict.uncertain
                and not before.uncertain
            )
        ):
            merged.append(before)
        else:
            merged.append(verdict)
    return merged


def grader_view(answers: Sequence[str]) -> list[str]:
    """What graders read of the answers: sentences addressed to the grader are cut out, and a
    reply that was nothing else is dropped."""
    texts = [screen(answer).text for answer in answers]
    return [text for text in texts if text]


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def verify_evidence(
    verdicts: Sequence[KeyPointGrade],
    answers: Sequence[str],
    fallback: dict[str, str] | None = None,
) -> list[KeyPointGrade]:
    """Keep a quote only if the candidate really said it (ignoring case and whitespace).

    A covered or partial verdict whose quote is not in the answers drops one level (covered to
    partial, partial to missing): a grader may not credit words the candidate never wrote. A
    covered verdict keeps partial credit only with ``fallback[point]`` to show instead (a
    sentence of the answer that the model-free signal matches to the point); with nothing the
    candidate said to point at, it is missing. So every credited verdict quotes the candidate.
    """
    said = _squash("\n".join(answers))
    fallback = fallback or {}
    checked: list[KeyPointGrade] = []
    for verdict in verdicts:
        quote = _squash(verdict.evidence)
        if verdict.verdict == "missing" or (quote and quote in said):
            checked.append(verdict)
            continue
        instead = fallback.get(verdict.key_point_id, "")
        lower: Verdict = "partial" if verdict.verdict == "covered" and instead else "missing"
        checked.append(
            verdict.model_copy(
                update={
                    "rationale": f"{verdict.rationale} [downgraded: the quoted evidence is not "
                    "in the answer]".strip(),
                    "verdict": lower,
                    "evidence": instead if lower != "missing" else "",
                }
            )
        )
    return checked


class Grader(Protocol):
    """Grades everything the candidate has said on one question."""

    @property
    def name(self) -> str: ...

    @property
    def instant(self) -> Grader | None:
        """A model-free grader that gives the same kind of verdicts at once (the combined
        grader's evidence signal), or None. With one, background grading chooses follow-ups
        from it while the model grades."""
        ...

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
    # The grammar asks for one verdict per key point, in the bank's order (the order the prompt
    # lists them): a weak model cannot judge one point seven times and skip the rest.
    generic = point_model.model_json_schema()
    generic.pop("title", None)
    in_order = []
    for point_id in ids:
        item = copy.deepcopy(generic)
        item["properties"]["key_point_id"] = {"const": point_id}
        in_order.append(item)
    output: type[BaseModel] = create_model(
        f"GraderOutput_{question_id.replace('-', '_')}",
        __config__=ConfigDict(extra="ignore"),
        key_points=(
            list[point_model],
            Field(
                min_length=1,
                max_length=len(ids) * 2,
                json_schema_extra=_grammar(
                    minItems=len(ids), maxItems=len(ids), prefixItems=in_order, items=False
                ),
            ),
        ),
    )
    return output


def _grammar(**hints: Any) -> dict[str, Any]:
    """Schema hints for constrained decoding only (``x-grammar``); validation ignores them."""
    return {"x-grammar": dict(hints)}


def grading_token_budget(question: Question) -> int:
    """Enough new tokens for a full grade within the grammar's bounds."""
    # Worst case for a model that spends one token per character (weak models do).
    per_point = RATIONALE_MAX + EVIDENCE_MAX + 40
    return per_point * len(question.key_points) + 32


class LLMGrader:
    """Reference-guided grading by the chat model, greedy, in a fresh context.

    The model reads the answers without the sentences addressed to the grader; its quotes are
    checked against those same answers. Where the backend can read token probabilities, each
    verdict carries the model's confidence, and a verdict under ``min_confidence`` is marked
    uncertain. ``quotes`` finds the sentence of the answer that a verdict lowered for its quote
    shows instead (keywords alone unless an evidence grader with embeddings is given).
    """

    def __init__(
        self,
        model: ChatModel,
        prompts: PromptLibrary,
        *,
        min_confidence: float = MIN_CONFIDENCE,
        quotes: EvidenceGrader | None = None,
    ) -> None:
        self._model = model
        self._prompts = prompts
        self.min_confidence = min_confidence
        self._quotes = quotes or EvidenceGrader(None)

    @property
    def name(self) -> str:
        return f"llm:{self._model.info.model_id}"

    @property
    def instant(self) -> Grader | None:
        return None

    def grade(
        self,
        question: Question,
        answers: Sequence[str],
        cancel: threading.Event | None = None,
    ) -> list[KeyPointGrade]:
        return self.grade_view(question, grader_view(answers), cancel)

    def grade_view(
        self,
        question: Question,
        texts: Sequence[str],
        cancel: threading.Event | None = None,
        evidence: Sequence[PointEvidence] | None = None,
    ) -> list[KeyPointGrade]:
        """Grade ``texts`` (the answers as the grader sees them, :func:`grader_view`).
        ``evidence``: the evidence signal on them, when the caller has it already."""
        if not texts:
            return missing_verdicts(question, "nothing in the answer to grade")
        output_type = grader_output_type(question)
        options = GenerationOptions(
            purpose="grade",
            temperature=0.0,
            max_new_tokens=grading_token_budget(question),
        )
        messages = self._prompts.grader_messages(
            question, texts, rationale_max=RATIONALE_MAX, evidence_max=EVIDENCE_MAX
        )
        confidences: list[float] = []
        if isinstance(self._model, ReadsConfidence):
            output, confidences = self._model.generate_structured_scored(
                messages, output_type, options, cancel, scored_field="verdict"
            )
        else:
            output = self._model.generate_structured(messages, output_type, options, cancel)
        raw: list[Any] = getattr(output, "key_points", [])
        verdicts = []
        for index, item in enumerate(raw):
            confidence = round(confidences[index], 4) if index < len(confidences) else None
            verdicts.append(
                KeyPointGrade(
                    key_point_id=item.key_point_id,
                    rationale=item.rationale.strip()[: RATIONALE_MAX * 2],
                    verdict=item.verdict,
                    evidence=item.evidence.strip()[: EVIDENCE_MAX * 2]
                    if item.verdict != "missing"
                    else "",
                    confidence=confidence,
                    uncertain=confidence is not None and confidence < self.min_confidence,
                )
            )
        # Sentences the evidence signal matches to each point: quotes for lowered verdicts,
        # and for a missed point what came closest to it.
        assessed = evidence if evidence is not None else self._quotes.assess(question, texts)
        fallback = {
            e.key_point_id: e.sentence[:EVIDENCE_MAX]
            for e in assessed
            if e.verdict != "missing" and e.sentence
        }
        checked = verify_evidence(normalize_verdicts(question, verdicts), texts, fallback)
        return with_study_hints(question, checked, assessed, self._quotes.thresholds)


class CombinedGrader:
    """The LLM's verdicts, cross-checked against the model-free evidence signal.

    The LLM reads meaning (a wrong statement full of the right words is still wrong), so its
    verdict stands. Where the two signals are two levels apart (covered against missing) or the
    model was unsure, the verdict is marked uncertain: the interview then asks a targeted
    follow-up on that point, and the report flags it. (A credited verdict always quotes the
    candidate: :func:`verify_evidence` sees to that, with the evidence signal's sentences.)
    """

    def __init__(self, llm: LLMGrader, evidence: EvidenceGrader) -> None:
        self.llm = llm
        self.evidence = evidence

    @property
    def name(self) -> str:
        return f"{self.llm.name}+evidence"

    @property
    def instant(self) -> Grader | None:
        return self.evidence

    def grade(
        self,
        question: Question,
        answers: Sequence[str],
        cancel: threading.Event | None = None,
    ) -> list[KeyPointGrade]:
        texts = grader_view(answers)
        assessed = self.evidence.assess(question, texts)  # once: the LLM's quotes come from it
        llm = self.llm.grade_view(question, texts, cancel, assessed)
        signal = {e.key_point_id: e for e in assessed}
        combined = []
        for verdict in llm:
            other = signal[verdict.key_point_id]
            apart = abs(VERDICT_RANK[verdict.verdict] - VERDICT_RANK[other.verdict]) >= 2
            combined.append(
                verdict.model_copy(
                    update={"cross_check": other.verdict, "uncertain": verdict.uncertain or apart}
                )
            )
        return combined


def prefilter_grade(question: Question, reason: str, ignored: Sequence[str] = ()) -> Grade:
    """The 0 an answer with nothing to grade earns, with the screen's reason for it."""
    return Grade(
        key_points=missing_verdicts(question, PREFILTER_REASONS[reason]),
        score=0.0,
        grader="prefilter",
        prefilter_reason=reason,
        ignored=list(ignored),
    )


def grade_answers(
    question: Question,
    answers: Sequence[str],
    grader: Grader,
    cancel: threading.Event | None = None,
) -> Grade:
    """Grade everything said on ``question`` at once, as the interview would: each reply is
    screened first, and when none is left to grade the prefilter's reason gives the 0."""
    screened = [screen(answer, question) for answer in answers]
    ignored = [sentence for s in screened for sentence in s.ignored]
    graded = [s.text for s in screened if s.reason is None]
    if not graded:
        reason = next((s.reason for s in screened if s.reason is not None), "empty")
        return prefilter_grade(question, reason, ignored)
    verdicts = grader.grade(question, graded, cancel)
    return Grade(
        key_points=verdicts,
        score=score_verdicts(question, verdicts),
        grader=grader.name,
        ignored=ignored,
    )


GraderName = Literal["llm", "evidence", "both"]


def make_grader(
    name: GraderName,
    model: ChatModel | None,
    prompts: PromptLibrary,
    embedder: Embedder | None = None,
    thresholds: EvidenceThresholds | None = None,
    *,
    min_confidence: float = MIN_CONFIDENCE,
) -> Grader:
    """The grader called ``name``; ``llm`` and ``both`` need a model that can grade."""
    evidence = EvidenceGrader(embedder, thresholds)
    if name == "evidence":
        return evidence
    if model is None:
        raise ValueError(f"the {name} grader needs a model")
    llm = LLMGrader(model, prompts, min_confidence=min_confidence, quotes=evidence)
    return llm if name == "llm" else CombinedGrader(llm, evidence)


__all__ = [
    "CombinedGrader",
    "EvidenceGrader",
    "EvidenceThresholds",
    "Grader",
    "LLMGrader",
    "grade_answers",
    "make_grader",
]
