"""The model-free evidence signal: which sentence of the answer shows which key point.

Each answer sentence is compared with each key point's statement and facts by meaning (a small
sentence-embedding model) and by the point's listed keywords. The best-matching sentence is the
point's evidence, quoted verbatim, so it always verifies. Sentences that restate one of the
question's known misconceptions earn nothing.

It is cheap (milliseconds once the embedding model is loaded), deterministic, and cannot be
talked into a better grade: instructions to the grader are cut out before it runs, and it never
reads instructions anyway. It serves three ways: as the grader of last resort when no LLM is
available, as a cross-check on the LLM's verdicts, and as the source of evidence candidates.
Without an embedding model it falls back to keywords alone (coarser).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from interviewer.bank.models import KeyPoint, Question
from interviewer.config import EvidenceThresholds
from interviewer.engine.evidence_model import (
    EvidenceModel,
    PointInputs,
    content_words,
    features,
    shipped_model,
)
from interviewer.engine.units import answer_sentences, answer_units
from interviewer.transcript import KeyPointGrade, Verdict

EVIDENCE_MAX = 100


class Embedder(Protocol):
    """Unit-length sentence vectors (see :mod:`interviewer.llm.embeddings`)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


_REJECTS = re.compile(
    r"\b(?:not|never|no longer|myth|misconception|mistake|wrong|false|untrue|contrary|"
    r"actually|cannot)\b|n't\b|\bpeople (?:often |sometimes )?(?:think|assume|believe|say)\b",
    re.IGNORECASE,
)
"""Words with which a sentence rejects a claim rather than makes it."""


def _stems(text: str) -> set[str]:
    """The content words of ``text`` with a plural's "s" dropped ("endpoints" is the topic's
    "endpoint")."""
    return {
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in content_words(text)
    }


def _terms(point: KeyPoint) -> list[str]:
    return sorted({k.lower().strip() for k in point.keywords if k.strip()})


@functools.lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])")


def _contains(haystack: str, term: str) -> bool:
    """Whole-word (or whole-phrase) containment, so 'bin' does not match 'binary'. ``haystack``
    and ``term`` are lowercase; the substring test first keeps long answers cheap."""
    return term in haystack and _term_pattern(term).search(haystack) is not None


def sentence_signal(
    similarity: float, keywords: int, thresholds: EvidenceThresholds, margin: float = 0.0
) -> float:
    """How strongly one unit shows a point: its similarity, plus ``thresholds.relative`` times
    its margin over the question's other key points (a unit that is about this point rather
    than about the topic), plus a bonus per keyword (two at most)."""
    return similarity + thresholds.relative * margin + thresholds.keyword_bonus * min(keywords, 2)


def _model_verdict(probability: float, model: EvidenceModel) -> Verdict:
    if probability >= model.covered:
        return "covered"
    return "partial" if probability >= model.partial else "missing"


def verdict_for(signal: float, thresholds: EvidenceThresholds) -> Verdict:
    """The verdict the best unit's signal earns."""
    if signal >= thresholds.covered:
        return "covered"
    if signal >= thresholds.partial:
        return "partial"
    return "missing"


def in_doubt(signal: float, thresholds: EvidenceThresholds) -> bool:
    """The signal sits within ``thresholds.doubt`` of the partial threshold: whether the
    answer made the point at all is in doubt (a follow-up goes to a point that is surely
    missing first)."""
    return abs(signal - thresholds.partial) < thresholds.doubt


@dataclass(frozen=True)
class PointEvidence:
    """The evidence signal on one key point."""

    key_point_id: str
    verdict: Verdict
    signal: float
    """The best sentence's similarity plus keyword bonus (keyword count without embeddings)."""
    sentence: str
    keywords: tuple[str, ...]
    facts: tuple[float, ...] = ()
    """The best sentence's similarity to each of the point's facts (with embeddings)."""
    probability: float | None = None
    """How likely the point was made, by the learned model (with embeddings and a model)."""


def study_hint(
    point: KeyPoint, evidence: PointEvidence, thresholds: EvidenceThresholds
) -> tuple[str, list[str]]:
    """For a point a grader judged missed: the answer's sentence that came closest (verbatim,
    when its signal reaches ``thresholds.near``) and the point's facts that sentence does not
    show (those it is less similar to than ``thresholds.fact``). ``("", [])`` when nothing
    came close (or without embeddings): the hint only ever quotes the candidate and the bank,
    it never makes anything up."""
    if not evidence.sentence or not evidence.facts:
        return "", []
    if evidence.signal < thresholds.near:
        return "", []
    lacking = [
        fact
        for fact, similarity in zip(point.facts, evidence.facts, strict=False)
        if similarity < thresholds.fact
    ]
    return evidence.sentence[:EVIDENCE_MAX], lacking


def with_study_hints(
    question: Question,
    verdicts: Sequence[KeyPointGrade],
    evidence: Sequence[PointEvidence],
    thresholds: EvidenceThresholds,
) -> list[KeyPointGrade]:
    """``verdicts`` with :func:`study_hint` on each missed point (any grader's verdicts: the
    evidence signal says what came close, whoever judged the point missed)."""
    by_id = {e.key_point_id: e for e in evidence}
    points = question.key_points_by_id
    out: list[KeyPointGrade] = []
    for verdict in verdicts:
        found = by_id.get(verdict.key_point_id)
        point = points.get(verdict.key_point_id)
        if verdict.verdict != "missing" or found is None or point is None:
            out.append(verdict)
            continue
        closest, lacking = study_hint(point, found, thresholds)
        out.append(
            verdict.model_copy(update={"closest": closest, "lacking": lacking})
            if closest
            else verdict
        )
    return out


class EvidenceGrader:
    """Grades by matching answer sentences to key points (see the module docstring)."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        thresholds: EvidenceThresholds | None = None,
        model: EvidenceModel | None = None,
    ) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or EvidenceThresholds()
        self.model = (
            model
            if model is not None
            else (shipped_model() if self.thresholds.learned and embedder is not None else None)
        )
        self._references: dict[tuple[str, str, tuple[str, ...]], list[tuple[int, str]]] = {}

    @property
    def name(self) -> str:
        return "evidence"

    @property
    def instant(self) -> None:
        """Itself instant: there is nothing quicker to choose follow-ups with."""
        return None

    @property
    def method(self) -> str:
        """How the signal is computed, for reports and ``calibrate``."""
        return f"embeddings ({self.embedder.name}) + keywords" if self.embedder else "keywords"

    def grade(
        self,
        question: Question,
        answers: Sequence[str],
        cancel: threading.Event | None = None,
    ) -> list[KeyPointGrade]:
        assessed = self.assess(question, answers)
        verdicts = [self._verdict(e) for e in assessed]
        return with_study_hints(question, verdicts, assessed, self.thresholds)

    def assess(self, question: Question, answers: Sequence[str]) -> list[PointEvidence]:
        """The signal per key point, in bank order."""
        sentences, parents = answer_units(answers)
        if self.embedder is None:
            return [_keyword_evidence(point, sentences) for point in question.key_points]
        whole = " ".join(a.strip() for a in answers if a.strip())
        return self._embedding_evidence(question, sentences, parents, whole)

    def prefetch(self, questions: Sequence[Question], answers: Sequence[str] = ()) -> None:
        """Embed in one batch every text that grading ``answers`` against ``questions`` will
        compare: the answers' units, and each question's point texts, reference answer units,
        claims and corrections. The embedder keeps each vector, and one batch sorted by length
        is several times faster than the small ones grading each answer alone makes."""
        if self.embedder is None:
            return
        texts = answer_sentences(answers)
        for question in questions:
            texts += answer_sentences([question.reference_answer])
            texts += [t for point in question.key_points for t in (point.statement, *point.facts)]
            texts += [t for m in question.misconceptions for t in (m.claim, m.correction)]
        self.embedder.embed(list(dict.fromkeys(texts)))

    def similarities(
        self, question: Question, answers: Sequence[str]
    ) -> list[list[tuple[float, float, int]]]:
        """Per key point, per usable unit: (similarity to the point, margin over the other
        points, keywords it uses): what :func:`sentence_signal` combines, for ``calibrate
        --fit``. Needs the embedder. Units that restate a known misconception are left out."""
        table, _ = self._table(question, *answer_units(answers))
        return [[(u.similarity, u.margin, len(u.keywords)) for u in row] for row in table]

    def point_texts(self, question: Question) -> list[list[str]]:
        """What each key point is compared with: its statement, its facts, and (with
        ``thresholds.reference``) the units of the reference answer that say this point
        rather than another: the bank's own second wording of it, often closer to how a
        candidate talks than the one-line statement is."""
        texts = [[p.statement, *p.facts] for p in question.key_points]
        if not self.thresholds.reference or not question.reference_answer.strip():
            return texts
        for index, unit in self._reference_units(question):
            texts[index].append(unit)
        return texts

    def _reference_units(self, question: Question) -> list[tuple[int, str]]:
        import numpy as np  # comes with transformers, as the embedder does

        assert self.embedder is not None
        key = (
            question.id,
            question.reference_answer,
            tuple(p.statement for p in question.key_points),
        )
        cached = self._references.get(key)
        if cached is not None:
            return cached
        units = answer_sentences([question.reference_answer])
        own = [[p.statement, *p.facts] for p in question.key_points]
        flat = [t for texts in own for t in texts]
        vectors = np.asarray(self.embedder.embed([*units, *flat]), dtype=np.float64)
        best = _best_per_point(vectors[: len(units)] @ vectors[len(units) :].T, own)
        found = [
            (int(best[i].argmax()), units[i])
            for i in range(len(units))
            if best[i].max() >= REFERENCE_MATCH
        ]
        self._references[key] = found
        return found

    def _table(
        self, question: Question, sentences: list[str], parents: list[int] | None = None
    ) -> tuple[list[list[Unit]], list[str]]:
        import numpy as np  # comes with transformers, as the embedder does

        assert self.embedder is not None
        t = self.thresholds
        point_texts = self.point_texts(question)
        claims = [m.claim for m in question.misconceptions]
        corrections = [m.correction for m in question.misconceptions]
        flat = [text for texts in point_texts for text in texts]

        vectors = self.embedder.embed([*sentences, *flat, *claims, *corrections])
        matrix = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1)
        n, m, k = len(sentences), len(flat), len(claims)
        sentence_vectors = matrix[:n]
        # Every similarity at once: units against point texts, claims and corrections.
        to_texts = sentence_vectors @ matrix[n : n + m].T
        to_claims = sentence_vectors @ matrix[n + m : n + m + k].T
        to_corrections = sentence_vectors @ matrix[n + m + k :].T
        wrong = (to_claims >= t.misconception) & (to_claims > to_corrections + 0.05)
        # A unit restates a claim only if it says something of the claim beyond the topic:
        # "I'd use the serverless API." is close to "The free serverless API is a fine backend
        # for production" by topic alone (0.76), and a strong answer lost it. And not when it
        # rejects the claim ("people think Endpoints never cold-start, but ..."): a correct
        # answer often names the mistake in order to rule it out.
        topic = _stems(question.question)
        beyond = [_stems(claim) - topic for claim in claims]
        claim_rejects = [bool(_REJECTS.search(claim)) for claim in claims]
        for i, j in zip(*np.nonzero(wrong), strict=True):
            if not _stems(sentences[i]) & beyond[j] or (
                not claim_rejects[j] and _REJECTS.search(sentences[i])
            ):
                wrong[i, j] = False
        restates = [bool(wrong[i].any()) for i in range(n)]
        of = parents if parents is not None else list(range(n))
        believes = [restates[i] or restates[of[i]] for i in range(n)]
        usable = [i for i in range(n) if not believes[i]]
        flagged = [sentences[i] for i in range(n) if believes[i]]
        best = _best_per_point(to_texts, point_texts)
        margin = _margins(best)
        table: list[list[Unit]] = []
        offset = 0
        lowered = {i: sentences[i].lower() for i in usable}
        for index, (point, texts) in enumerate(zip(question.key_points, point_texts, strict=True)):
            facts = to_texts[:, offset + 1 : offset + 1 + len(point.facts)]
            offset += len(texts)
            terms = _terms(point)
            table.append(
                [
                    Unit(
                        sentences[i],
                        float(best[i, index]),
                        float(margin[i, index]),
                        tuple(term for term in terms if _contains(lowered[i], term)),
                        tuple(float(x) for x in facts[i]),
                    )
                    for i in usable
                ]
            )
        return table, flagged

    def _embedding_evidence(
        self, question: Question, sentences: list[str], parents: list[int], whole: str = ""
    ) -> list[PointEvidence]:
        t = self.thresholds
        table, flagged = self._table(question, sentences, parents)
        probabilities = (
            self._probabilities(question, table, whole or " ".join(sentences), bool(flagged))
            if self.model is not None
            else None
        )
        results: list[PointEvidence] = []
        for index, (point, row) in enumerate(zip(question.key_points, table, strict=True)):
            best = PointEvidence(point.id, "missing", 0.0, "", ())
            for unit in row:
                signal = sentence_signal(unit.similarity, len(unit.keywords), t, unit.margin)
                if signal > best.signal:
                    best = PointEvidence(
                        point.id, "missing", signal, unit.text, unit.keywords, unit.facts
                    )
            probability = None if probabilities is None else probabilities[index]
            if probability is None:
                verdict = verdict_for(best.signal, t)
            elif not best.sentence:  # nothing usable to quote: every unit restates a mistake
                verdict = "missing"
            else:
                assert self.model is not None
                verdict = _model_verdict(probability, self.model)
            results.append(
                PointEvidence(
                    point.id,
                    verdict,
                    round(best.signal, 4),
                    best.sentence,
                    best.keywords,
                    best.facts,
                    None if probability is None else round(probability, 4),
                )
            )
        return results

    def _probabilities(
        self, question: Question, table: list[list[Unit]], whole: str, flagged: bool
    ) -> list[float]:
        """The learned model's probability that each key point was made (see
        :mod:`interviewer.engine.evidence_model`)."""
        assert self.model is not None
        rows = self._point_features(question, table, whole, flagged)
        return [self.model.probability(row) for row in rows]

    def point_features(self, question: Question, answers: Sequence[str]) -> list[list[float]]:
        """Per key point, the learned model's features for ``answers`` (what
        ``scripts/fit_evidence.py`` fits on). Needs the embedder."""
        sentences, parents = answer_units(answers)
        table, flagged = self._table(question, sentences, parents)
        whole = " ".join(a.strip() for a in answers if a.strip())
        return self._point_features(question, table, whole, bool(flagged))

    def _point_features(
        self, question: Question, table: list[list[Unit]], whole: str, flagged: bool
    ) -> list[list[float]]:
        assert self.embedder is not None
        statements = [p.statement for p in question.key_points]
        vectors = self.embedder.embed([whole, question.reference_answer, *statements])
        answer = vectors[0]

        def cosine(other: list[float]) -> float:
            return float(sum(a * b for a, b in zip(answer, other, strict=True)))

        total = question.total_weight or 1.0
        texts = self.point_texts(question)
        lowered = whole.lower()
        out = []
        for index, (point, row) in enumerate(zip(question.key_points, table, strict=True)):
            top = max(row, key=lambda u: u.similarity, default=None)
            terms = _terms(point)
            inputs = PointInputs(
                unit=top.similarity if top else 0.0,
                margin=top.margin if top else 0.0,
                whole_point=cosine(vectors[2 + index]),
                whole_reference=cosine(vectors[1]),
                answer=whole,
                point_texts=texts[index],
                reference=question.reference_answer,
                question=question.question,
                keywords_found=sum(_contains(lowered, term) for term in terms),
                keywords_total=len(terms),
                share=point.weight / total,
                flagged=flagged,
            )
            out.append(features(inputs))
        return out

    def _verdict(self, evidence: PointEvidence) -> KeyPointGrade:
        t = self.thresholds
        mentions = (
            f" and mentions {', '.join(repr(k) for k in evidence.keywords)}"
            if evidence.keywords
            else ""
        )
        # What the verdict was decided on: the learned model's probability, else the signal.
        value, covered, partial = evidence.signal, t.covered, t.partial
        if evidence.probability is not None and self.model is not None:
            value, covered, partial = evidence.probability, self.model.covered, self.model.partial
        how = "likely made" if evidence.probability is not None else "matches the point"
        if self.embedder is None:
            rationale = (
                f"mentions {', '.join(repr(k) for k in evidence.keywords)}"
                if evidence.verdict != "missing"
                else "uses none of this point's keywords"
            )
        elif evidence.verdict == "missing":
            if evidence.sentence:
                shown = _shorten(evidence.sentence, 80)
                rationale = (
                    f'closest: "{shown}"{mentions}; {how} at {value:.2f}, under the '
                    f"{partial:.2f} partial credit needs"
                )
            else:
                rationale = "nothing in the answer comes near this point"
        else:
            needed = covered if evidence.verdict == "covered" else partial
            rationale = (
                f"closest sentence{mentions}: {how} at {value:.2f} "
                f"({evidence.verdict} from {needed:.2f})"
            )
        if self.embedder is None:
            doubtful = False
        elif evidence.probability is not None and self.model is not None:
            doubtful = abs(evidence.probability - self.model.partial) < self.model.doubt
        else:
            doubtful = in_doubt(evidence.signal, t)
        return KeyPointGrade(
            key_point_id=evidence.key_point_id,
            rationale=rationale,
            verdict=evidence.verdict,
            evidence=evidence.sentence[:EVIDENCE_MAX] if evidence.verdict != "missing" else "",
            uncertain=doubtful,
        )


REFERENCE_MATCH = 0.5
"""A unit of the reference answer this similar to a key point's statement or facts (and more
similar to it than to any other point) is another wording of that point."""


@dataclass(frozen=True)
class Unit:
    """One unit of the answer as the signal sees it against one key point."""

    text: str
    similarity: float
    """Its best similarity to the point's statement, facts and reference units."""
    margin: float
    """That similarity less its best similarity to any other key point of the question."""
    keywords: tuple[str, ...]
    facts: tuple[float, ...]
    """Its similarity to each of the point's facts."""


def _best_per_point(similarities: Any, point_texts: list[list[str]]) -> Any:
    """Per unit and point: its best similarity to any of the point's texts (``similarities``
    has one column per text, the points' texts one after another)."""
    import numpy as np

    best = np.zeros((similarities.shape[0], len(point_texts)))
    offset = 0
    for index, texts in enumerate(point_texts):
        best[:, index] = similarities[:, offset : offset + len(texts)].max(axis=1)
        offset += len(texts)
    return best


def _margins(best: Any) -> Any:
    """Per unit and point: the similarity less the unit's best similarity to another point
    (0 for a question with one point)."""
    import numpy as np

    if best.shape[1] < 2:
        return np.zeros_like(best)
    order = np.argsort(-best, axis=1)
    top = np.take_along_axis(best, order[:, :1], axis=1)
    second = np.take_along_axis(best, order[:, 1:2], axis=1)
    other = np.where(np.arange(best.shape[1])[None, :] == order[:, :1], second, top)
    return best - other


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _keyword_evidence(point: KeyPoint, sentences: list[str]) -> PointEvidence:
    """Keywords alone: two distinct keywords anywhere cover the point, one is partial."""
    terms = _terms(point)
    best_sentence, best_hits = "", tuple[str, ...]()
    found: set[str] = set()
    for sentence in sentences:
        lowered = sentence.lower()
        hits = tuple(t for t in terms if _contains(lowered, t))
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
    return PointEvidence(point.id, verdict, float(len(found)), best_sentence, tuple(sorted(found)))
