"""The learned part of the evidence signal: how likely a key point was made, from a few
model-free features, combined by a small logistic model fitted on answers that people graded.

Similarity of the best sentence alone is a poor judge of an answer nobody here wrote: a correct
paraphrase of a one-line point often sits at 0.45-0.6 with a small embedding model, the range
of a sentence on a neighbouring point, and a short correct answer ("By reference.") shares
little with a long statement. People grade the whole answer against the whole reference; so do
these features, beside the per-sentence evidence (which still gives the quote):

* ``unit`` and ``margin``: the best unit's similarity to the point and its margin over the
  question's other points (the per-sentence signal);
* ``whole_point`` and ``whole_reference``: the whole answer's similarity to the point's
  statement and to the whole reference answer (the plain cosine baseline);
* ``point_recall`` and ``reference_recall``: the share of the point's and of the reference's
  content words (stems, beyond the question's own words) the answer uses;
* ``precision``: the share of the answer's own content words (beyond the question's) found in
  the reference or the point: an answer about something else says other things;
* ``keywords``: the share of the point's keywords the answer uses;
* ``negation``: the answer and the reference disagree on negation ("not connected");
* ``length`` and ``relative_length``: the answer's length in words (log), and against the
  reference answer's;
* ``share``: the point's share of the question's weight (a point of eight is a smaller claim);
* ``flagged``: a sentence of the answer restates a known misconception.

The parameters ship in ``evidence-model.json`` beside this module and name what they were
fitted on and the command that refits them (``scripts/fit_evidence.py``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from interviewer.textutil import FUNCTION_WORDS

FEATURES = (
    "unit",
    "margin",
    "whole_point",
    "whole_reference",
    "point_recall",
    "reference_recall",
    "precision",
    "keywords",
    "negation",
    "length",
    "relative_length",
    "share",
    "flagged",
)

_TOKEN = re.compile(r"[a-z0-9]+")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|neither|nor|cannot|without)\b|n't\b", re.I)


def content_words(text: str) -> set[str]:
    """The words of ``text`` other than function words, lowercased ("not", "only", "all",
    "never" stay: they are what a wrong claim often turns on)."""
    return set(_TOKEN.findall(text.lower())) - FUNCTION_WORDS


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def content_stems(text: str) -> set[str]:
    """:func:`content_words` with common endings dropped ("endpoints" is "endpoint",
    "evaporated" is "evaporat" as "evaporates" is)."""
    return {_stem(w) for w in content_words(text)}


def _recall(wanted: set[str], found: set[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


@dataclass(frozen=True)
class PointInputs:
    """What the features of one key point are computed from."""

    unit: float
    margin: float
    whole_point: float
    whole_reference: float
    answer: str
    point_texts: Sequence[str]
    reference: str
    question: str
    keywords_found: int
    keywords_total: int
    share: float
    flagged: bool


def features(inputs: PointInputs) -> list[float]:
    """The feature vector of :data:`FEATURES`, in order."""
    topic = content_stems(inputs.question)
    said = content_stems(inputs.answer)
    point = (
        set().union(*(content_stems(t) for t in inputs.point_texts))
        if inputs.point_texts
        else set()
    )
    reference = content_stems(inputs.reference)
    point_new = (point - topic) or point
    reference_new = (reference - topic) or reference
    said_new = said - topic
    precision = len(said_new & (reference | point)) / len(said_new) if said_new else 0.0
    negated = bool(_NEGATION.search(inputs.answer)) != bool(_NEGATION.search(inputs.reference))
    return [
        inputs.unit,
        inputs.margin,
        inputs.whole_point,
        inputs.whole_reference,
        _recall(point_new, said),
        _recall(reference_new, said),
        precision,
        inputs.keywords_found / inputs.keywords_total if inputs.keywords_total else 0.0,
        float(negated),
        math.log1p(len(inputs.answer.split())),
        math.log1p(len(inputs.answer.split())) - math.log1p(len(inputs.reference.split())),
        inputs.share,
        float(inputs.flagged),
    ]


@dataclass(frozen=True)
class EvidenceModel:
    """A logistic model over :data:`FEATURES` and the probability levels of each verdict."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    """Each feature is standardised with the training data's mean and scale first."""
    covered: float
    partial: float
    doubt: float
    fitted_on: str
    command: str

    def probability(self, values: Sequence[float]) -> float:
        z = self.bias + sum(
            w * (x - m) / s
            for w, x, m, s in zip(self.weights, values, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "weights": list(self.weights),
            "bias": self.bias,
            "mean": list(self.mean),
            "scale": list(self.scale),
            "covered": self.covered,
            "partial": self.partial,
            "doubt": self.doubt,
            "fitted_on": self.fitted_on,
            "command": self.command,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvidenceModel:
        if list(data.get("features", [])) != list(FEATURES):
            raise ValueError(
                f"the evidence model was fitted on the features {data.get('features')}, "
                f"not {list(FEATURES)}: refit it with scripts/fit_evidence.py"
            )
        return cls(
            tuple(float(x) for x in data["weights"]),
            float(data["bias"]),
            tuple(float(x) for x in data["mean"]),
            tuple(float(x) for x in data["scale"]),
            float(data["covered"]),
            float(data["partial"]),
            float(data.get("doubt", 0.05)),
            str(data.get("fitted_on", "")),
            str(data.get("command", "")),
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")


MODEL_FILE = "evidence-model.json"


def shipped_model() -> EvidenceModel | None:
    """The model that ships with the product (None where the file is missing)."""
    try:
        text = resources.files("interviewer.engine").joinpath(MODEL_FILE).read_text("utf-8")
    except (FileNotFoundError, OSError):
        return None
    return EvidenceModel.from_dict(json.loads(text))


def fit_logistic(
    x: Any, y: Any, weight: Any, *, l2: float = 1.0, steps: int = 50
) -> tuple[Any, float, Any, Any]:
    """Weighted logistic regression by Newton's method on standardised features, with an L2
    penalty on the weights (not the bias). ``y`` may be fractional (a grade between 0 and 1).
    Returns (weights, bias, mean, scale). A dozen features and ten thousand rows converge in a
    few steps; numpy alone, no extra dependency in the product."""
    import numpy as np

    mean = np.average(x, axis=0, weights=weight)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=weight))
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -40, 40)))
        gradient = z.T @ (weight * (p - y)) + penalty * beta
        hessian = (z * (weight * p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return beta[:-1], float(beta[-1]), mean, scale
