"""The question bank as pydantic models: a bank holds questions, a question holds key points."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=64)]
"""A kebab-case identifier: lowercase letters, digits and single dashes."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Non-empty text; surrounding whitespace is dropped."""


class _BankModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class KeyPoint(_BankModel):
    """One thing a good answer must convey, and how much it counts."""

    id: Id
    statement: Text
    """What a good answer conveys, in one sentence."""
    weight: float = Field(gt=0, le=100)
    """How much the point counts relative to the others of its question (1.0 is normal)."""
    facts: list[Text] = Field(min_length=1)
    """Concrete facts that show the point: numbers, API names, arguments, file names."""
    keywords: list[Text] = Field(default_factory=list)
    """Words whose presence in an answer suggests the point is addressed (model-free signal)."""


class Misconception(_BankModel):
    """A wrong belief a candidate may state confidently, with its correction."""

    claim: Text
    correction: Text


class Question(_BankModel):
    """One interview question with its reference answer and grading rubric."""

    id: Id
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    question: Text
    """The question as the interviewer asks it."""
    reference_answer: Text
    key_points: list[KeyPoint] = Field(min_length=1, max_length=12)
    misconceptions: list[Misconception] = Field(default_factory=list)
    follow_up_angles: list[Text] = Field(default_factory=list)
    sources: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _key_point_ids_unique(self) -> Question:
        seen: set[str] = set()
        for point in self.key_points:
            if point.id in seen:
                raise ValueError(f"duplicate key point id '{point.id}'")
            seen.add(point.id)
        return self

    @property
    def total_weight(self) -> float:
        return sum(point.weight for point in self.key_points)

    @property
    def key_points_by_id(self) -> dict[str, KeyPoint]:
        return {point.id: point for point in self.key_points}

    def key_point(self, key_point_id: str) -> KeyPoint:
        return self.key_points_by_id[key_point_id]

    @property
    def rubric_hash(self) -> str:
        """A short, stable hash of everything grading depends on, to tell rubric versions apart."""
        canonical = self.model_dump_json(
            include={"id", "question", "reference_answer", "key_points", "misconceptions"}
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class BankManifest(_BankModel):
    """``bank.toml``: the bank's identity and the order of its questions."""

    id: Id
    title: Text
    description: str = ""
    version: int = Field(default=1, ge=1)
    questions: list[Id] = Field(min_length=1)
    """Question ids in the order they are asked; each is a file ``<id>.toml`` beside this one."""


class Bank(BaseModel):
    """A loaded, validated bank: the manifest's identity and its questions in order."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    description: str = ""
    version: int = 1
    questions: tuple[Question, ...]
    path: Path | None = None

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    @property
    def question_ids(self) -> list[str]:
        return [question.id for question in self.questions]
