"""Model-drafted rubrics for imported notes, checked against the answer by the program.

The model proposes each question's key points (statement, facts, keywords, importance),
misconceptions and follow-up angles, decoded under the draft's JSON Schema where the backend
constrains (as grades are). Nothing it says is taken on trust:

* a keyword the reference answer does not contain, or that the question contains, is dropped;
* a fact, or a whole point, that no sentence of the answer supports is dropped (by the evidence
  signal where the embedding model is there, else by the words they share), and so is any text
  whose numbers the answer does not contain;
* a misconception is kept only if the answer supports its correction, the reference answer
  scores as well with it as without it (the answer does not state the claim), and the claim,
  said as an answer, earns no key point;
* the question that results must have no more ``bank check --strict`` findings than the
  rule-based draft; otherwise, and whenever the model fails or none of its points survive, the
  rule-based key points stay (its checked misconceptions and angles are still added).

Finally key points the evidence signal cannot tell apart are merged (:func:`tidy_question`),
which ``bank import --check`` also applies to a rule-based draft.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interviewer.authoring.selfcheck import prefetch, question_findings
from interviewer.bank.drafting import slug, unique
from interviewer.bank.models import KeyPoint, Misconception, Question
from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.grading import grader_view, score_verdicts
from interviewer.llm.base import ChatModel, GenerationOptions, ModelError
from interviewer.prompts import PromptLibrary
from interviewer.textutil import STOPWORDS

STATEMENT_MAX = 160
FACT_MAX = 120
KEYWORD_MAX = 40
ANGLE_MAX = 100
MAX_POINTS = 8
MAX_MISCONCEPTIONS = 3
MAX_ANGLES = 4
WEIGHTS = {1: 0.5, 2: 1.0, 3: 2.0}
"""Importance as the model gives it, and the weight it becomes."""


def _grammar(**hints: Any) -> dict[str, Any]:
    """Schema hints for constrained decoding only (``x-grammar``; see the grader's schema)."""
    return {"x-grammar": dict(hints)}


def _text(limit: int) -> Any:
    return Field(max_length=limit * 2, json_schema_extra=_grammar(maxLength=limit))


class DraftPoint(BaseModel):
    model_config = ConfigDict(extra="ignore")

    statement: str = _text(STATEMENT_MAX)
    facts: list[str] = Field(
        default_factory=list,
        max_length=6,
        json_schema_extra=_grammar(
            minItems=1, maxItems=3, items={"type": "string", "maxLength": FACT_MAX}
        ),
    )
    keywords: list[str] = Field(
        default_factory=list,
        max_length=12,
        json_schema_extra=_grammar(
            maxItems=6, items={"type": "string", "minLength": 1, "maxLength": KEYWORD_MAX}
        ),
    )
    importance: Literal[1, 2, 3] = 2


class DraftMisconception(BaseModel):
    model_config = ConfigDict(extra="ignore")

    claim: str = _text(STATEMENT_MAX)
    correction: str = _text(STATEMENT_MAX)


class QuestionDraft(BaseModel):
    """What the model is asked for, per question (constrained to this schema while decoded)."""

    model_config = ConfigDict(extra="ignore")

    key_points: list[DraftPoint] = Field(
        min_length=1, max_length=MAX_POINTS * 2, json_schema_extra=_grammar(maxItems=MAX_POINTS)
    )
    misconceptions: list[DraftMisconception] = Field(
        default_factory=list,
        max_length=MAX_MISCONCEPTIONS * 2,
        json_schema_extra=_grammar(maxItems=MAX_MISCONCEPTIONS),
    )
    follow_up_angles: list[str] = Field(
        default_factory=list,
        max_length=MAX_ANGLES * 2,
        json_schema_extra=_grammar(
            maxItems=MAX_ANGLES, items={"type": "string", "maxLength": ANGLE_MAX}
        ),
    )


def draft_token_budget() -> int:
    """Enough new tokens for a full draft within the grammar's bounds, for a model that spends
    about one token per four characters (a weak one stops at the budget; the repair path keeps
    the points it finished)."""
    per_point = STATEMENT_MAX + 3 * FACT_MAX + 6 * KEYWORD_MAX + 60
    characters = (
        MAX_POINTS * per_point
        + MAX_MISCONCEPTIONS * (2 * STATEMENT_MAX + 30)
        + MAX_ANGLES * (ANGLE_MAX + 4)
    )
    return characters // 4 + 64


# ----------------------------------------------------------------------------- checks


def _contains(haystack: str, term: str) -> bool:
    return (
        term in haystack
        and re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", haystack) is not None
    )


def _clean(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text[:limit].strip()


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


class Support:
    """Whether the answer supports a text: by the evidence signal (one sentence of the answer
    close enough in meaning) where the embedding model is there, else by shared words; and
    never when the text has a number the answer lacks."""

    def __init__(self, answer: str, question: str, grader: EvidenceGrader) -> None:
        self.answer = answer
        self.answer_l = answer.lower()
        self.question = question
        self.grader = grader
        self._numbers = set(_NUMBER.findall(answer))
        self._words = {w for w in re.findall(r"[a-z0-9]+", self.answer_l) if w not in STOPWORDS}

    def numbers_ok(self, text: str) -> bool:
        return all(n in self._numbers for n in _NUMBER.findall(text))

    def check(self, text: str) -> tuple[bool, str]:
        """(supported, the answer's sentence that supports it best)."""
        if not re.search(r"\w", text) or not self.numbers_ok(text):
            return False, ""
        if self.grader.embedder is None:
            words = {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS}
            if not words:
                return False, ""
            shared = len(words & self._words) / len(words)
            return shared >= 0.6, ""
        probe = Question(
            id="probe",
            title="probe",
            question=self.question,
            reference_answer=self.answer,
            key_points=[KeyPoint(id="probe", statement=text, weight=1.0, facts=[text])],
        )
        evidence = self.grader.assess(probe, grader_view([self.answer]))[0]
        return evidence.verdict != "missing", evidence.sentence


@dataclass
class DraftReport:
    """What became of one question's model draft."""

    question_id: str
    source: Literal["model", "rules"]
    """Whose key points the question kept."""
    dropped_keywords: int = 0
    dropped_facts: int = 0
    dropped_points: int = 0
    dropped_misconceptions: int = 0
    merged: int = 0
    """Pairs of key points merged because the evidence signal cannot tell them apart."""
    reason: str = ""
    """Why the rule-based key points were kept, when they were."""
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts: list[str] = []
        if self.source == "model":
            parts.append("model draft kept")
        else:
            parts.append(
                f"rule-based key points kept ({self.reason})" if self.reason else "rule-based"
            )
        dropped = [
            (self.dropped_points, "point"),
            (self.dropped_facts, "fact"),
            (self.dropped_keywords, "keyword"),
            (self.dropped_misconceptions, "misconception"),
        ]
        shown = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in dropped if n]
        if shown:
            parts.append("dropped " + ", ".join(shown) + " the answer does not support")
        if self.merged:
            pairs = f"{self.merged} pair{'s' if self.merged != 1 else ''}"
            parts.append(f"merged {pairs} of key points the signal cannot tell apart")
        return "; ".join(parts)


def checked_points(
    draft: QuestionDraft, base: Question, support: Support, report: DraftReport
) -> list[KeyPoint]:
    """The model's key points that survive the checks, as bank key points."""
    points: list[KeyPoint] = []
    used: set[str] = set()
    question_l = base.question.lower()
    for raw in draft.key_points:
        statement = _clean(raw.statement, STATEMENT_MAX * 2)
        supported, best = support.check(statement)
        if not supported:
            report.dropped_points += 1
            continue
        facts: list[str] = []
        for fact in raw.facts:
            text = _clean(fact, FACT_MAX * 2)
            if text and support.check(text)[0]:
                facts.append(text)
            else:
                report.dropped_facts += 1
        if not facts:
            facts = [best or statement]
        keywords: list[str] = []
        for keyword in raw.keywords:
            term = _clean(keyword, KEYWORD_MAX * 2).lower()
            if (
                term
                and re.search(r"[a-z0-9]", term)
                and _contains(support.answer_l, term)
                and not _contains(question_l, term)
                and term not in keywords
            ):
                keywords.append(term)
            else:
                report.dropped_keywords += 1
        point_id = unique(slug(statement, words=4, length=40), used, f"point-{len(points) + 1}")
        points.append(
            KeyPoint(
                id=point_id,
                statement=statement,
                weight=WEIGHTS[raw.importance],
                facts=list(dict.fromkeys(facts)),
                keywords=keywords[:6],
            )
        )
        if len(points) == MAX_POINTS:
            break
    return points


def checked_misconceptions(
    draft: QuestionDraft, question: Question, support: Support, report: DraftReport
) -> list[Misconception]:
    """The model's misconceptions that survive the checks against ``question``'s points."""
    grader = support.grader
    reference = grader_view([question.reference_answer])
    before = score_verdicts(question, grader.grade(question, reference))
    kept: list[Misconception] = []
    for raw in draft.misconceptions:
        claim = _clean(raw.claim, STATEMENT_MAX * 2)
        correction = _clean(raw.correction, STATEMENT_MAX * 2)
        if not (re.search(r"\w", claim) and re.search(r"\w", correction)):
            report.dropped_misconceptions += 1
            continue
        candidate = Misconception(claim=claim, correction=correction)
        trial = question.model_copy(update={"misconceptions": [*kept, candidate]})
        earns = [v for v in grader.grade(trial, grader_view([claim])) if v.verdict != "missing"]
        after = score_verdicts(trial, grader.grade(trial, reference))
        if not support.check(correction)[0] or earns or after < before:
            report.dropped_misconceptions += 1
            continue
        kept.append(candidate)
    return kept


def checked_angles(draft: QuestionDraft) -> list[str]:
    angles = [_clean(a, ANGLE_MAX * 2) for a in draft.follow_up_angles]
    return list(dict.fromkeys(a for a in angles if re.search(r"\w", a)))[:MAX_ANGLES]


# ----------------------------------------------------------------------------- tidying


def _merge(a: KeyPoint, b: KeyPoint) -> KeyPoint:
    statement = a.statement.rstrip(".;: ") + "; " + b.statement[:1].lower() + b.statement[1:]
    return KeyPoint(
        id=a.id,
        statement=statement,
        weight=min(a.weight + b.weight, 3.0),
        facts=list(dict.fromkeys([*a.facts, *b.facts]))[:8],
        keywords=list(dict.fromkeys([*a.keywords, *b.keywords]))[:8],
    )


def tidy_question(question: Question, grader: EvidenceGrader) -> tuple[Question, int]:
    """``question`` with every pair of key points the evidence signal cannot tell apart (each
    one's statement covers the other) merged into one, and how many pairs were merged."""
    merged = 0
    while len(question.key_points) > 1:
        own = [
            {v.key_point_id: v.verdict for v in grader.grade(question, grader_view([p.statement]))}
            for p in question.key_points
        ]
        points = question.key_points
        pair = next(
            (
                (i, j)
                for i in range(len(points))
                for j in range(i + 1, len(points))
                if own[i].get(points[j].id) == "covered" and own[j].get(points[i].id) == "covered"
            ),
            None,
        )
        if pair is None:
            break
        i, j = pair
        combined = _merge(points[i], points[j])
        rest = [p for k, p in enumerate(points) if k not in (i, j)]
        rest.insert(i, combined)
        question = question.model_copy(update={"key_points": rest})
        merged += 1
    return Question.model_validate(question.model_dump()), merged


# ----------------------------------------------------------------------------- drafting


def draft_with_model(
    base: Question,
    model: ChatModel,
    prompts: PromptLibrary,
    grader: EvidenceGrader,
    cancel: threading.Event | None = None,
    *,
    max_new_tokens: int | None = None,
) -> tuple[Question, DraftReport]:
    """``base`` (the rule-based draft) with the model's checked draft where it holds up.
    ``max_new_tokens``: the draft's token budget (default :func:`draft_token_budget`)."""
    report = DraftReport(base.id, "rules")
    messages = prompts.draft_messages(
        base.question,
        base.reference_answer,
        max_points=MAX_POINTS,
        statement_max=STATEMENT_MAX,
        max_misconceptions=MAX_MISCONCEPTIONS,
        max_angles=MAX_ANGLES,
    )
    options = GenerationOptions(
        purpose="draft", temperature=0.0, max_new_tokens=max_new_tokens or draft_token_budget()
    )
    try:
        draft = model.generate_structured(messages, QuestionDraft, options, cancel)
    except ModelError as exc:
        report.reason = f"the model gave no usable draft: {str(exc)[:160]}"
        tidied, report.merged = tidy_question(base, grader)
        return tidied, report
    support = Support(base.reference_answer, base.question, grader)
    try:
        points = checked_points(draft, base, support, report)
    except ValidationError as exc:  # an odd value the checks did not foresee: never a crash
        points = []
        report.notes.append(f"model points unusable: {exc.errors(include_url=False)[0]['msg']}")
    question = base
    if points:
        candidate = base.model_copy(update={"key_points": points})
        ours = len(question_findings(candidate, grader, base.id))
        theirs = len(question_findings(base, grader, base.id))
        if ours <= theirs:
            question, report.source = candidate, "model"
        else:
            report.reason = (
                f"the model's points have {ours} `bank check --strict` findings, the rule-based "
                f"ones {theirs}"
            )
    else:
        report.reason = "none of the model's points is supported by the answer"
    question, report.merged = tidy_question(question, grader)
    misconceptions = checked_misconceptions(draft, question, support, report)
    question = question.model_copy(
        update={"misconceptions": misconceptions, "follow_up_angles": checked_angles(draft)}
    )
    return Question.model_validate(question.model_dump()), report


def draft_bank_questions(
    questions: Sequence[Question],
    model: ChatModel | None,
    prompts: PromptLibrary,
    grader: EvidenceGrader,
    on_status: Callable[[str], None] = lambda _: None,
) -> tuple[list[Question], list[DraftReport]]:
    """Every question drafted with ``model`` (or, without one, only tidied by the signal)."""
    drafted: list[Question] = []
    reports: list[DraftReport] = []
    prefetch(grader, questions)
    for number, question in enumerate(questions, start=1):
        if model is None:
            tidied, merged = tidy_question(question, grader)
            report = DraftReport(question.id, "rules", merged=merged)
        else:
            on_status(f"Drafting {number}/{len(questions)}: {question.title}")
            tidied, report = draft_with_model(question, model, prompts, grader)
        drafted.append(tidied)
        reports.append(report)
    return drafted, reports
