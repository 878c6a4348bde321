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
from typing import Protocol

from interviewer.bank.models import KeyPoint, Question
from interviewer.config import EvidenceThresholds
from interviewer.textutil import FUNCTION_WORDS, split_sentences
from interviewer.transcript import KeyPointGrade, Verdict

EVIDENCE_MAX = 100


class Embedder(Protocol):
    """Unit-length sentence vectors (see :mod:`interviewer.llm.embeddings`)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


_CLAUSE_SPLIT = re.compile(r",\s+(?:and|but|so|which|while|because)?\s*|\s+(?:and|but)\s+(?=\w+\s)")


def answer_sentences(answers: Sequence[str]) -> list[str]:
    """The sentences of the answers, as written (each can be quoted verbatim), and the clauses
    of longer sentences: one sentence often makes two points."""
    units: list[str] = []
    for answer in answers:
        for sentence in split_sentences(answer, lines=True, semicolons=True):
            units.append(sentence)
            clauses = [c.strip(" ,") for c in _CLAUSE_SPLIT.split(sentence)]
            if len(clauses) > 1:
                units += [c for c in clauses if len(c.split()) >= 4]
    return list(dict.fromkeys(units))


_TOKEN = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    """The words of ``text`` other than function words, lowercased ("not", "only", "all",
    "never" stay: they are what a wrong claim often turns on)."""
    return set(_TOKEN.findall(text.lower())) - FUNCTION_WORDS


def _terms(point: KeyPoint) -> list[str]:
    return sorted({k.lower().strip() for k in point.keywords if k.strip()})


@functools.lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])")


def _contains(haystack: str, term: str) -> bool:
    """Whole-word (or whole-phrase) containment, so 'bin' does not match 'binary'. ``haystack``
    and ``term`` are lowercase; the substring test first keeps long answers cheap."""
    return term in haystack and _term_pattern(term).search(haystack) is not None


def sentence_signal(similarity: float, keywords: int, thresholds: EvidenceThresholds) -> float:
    """How strongly one sentence shows a point: its similarity plus a bonus per keyword (two
    at most)."""
    return similarity + thresholds.keyword_bonus * min(keywords, 2)


def verdict_for(signal: float, thresholds: EvidenceThresholds) -> Verdict:
    """The verdict the best sentence's signal earns."""
    if signal >= thresholds.covered:
        return "covered"
    if signal >= thresholds.partial:
        return "partial"
    return "missing"


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


def study_hint(
    point: KeyPoint, evidence: PointEvidence, thresholds: EvidenceThresholds
) -> tuple[str, list[str]]:
    """For a point a grader judged missed: the answer's sentence that came closest (verbatim,
    when its signal reaches ``thresholds.near``) and the point's facts that sentence does not
    show (those it is less similar to than ``thresholds.partial``). ``("", [])`` when nothing
    came close (or without embeddings): the hint only ever quotes the candidate and the bank,
    it never makes anything up."""
    if not evidence.sentence or not evidence.facts:
        return "", []
    if evidence.signal < thresholds.near:
        return "", []
    lacking = [
        fact
        for fact, similarity in zip(point.facts, evidence.facts, strict=False)
        if similarity < thresholds.partial
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
        self, embedder: Embedder | None = None, thresholds: EvidenceThresholds | None = None
    ) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or EvidenceThresholds()

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
        sentences = answer_sentences(answers)
        if self.embedder is None:
            return [_keyword_evidence(point, sentences) for point in question.key_points]
        return self._embedding_evidence(question, sentences)

    def similarities(
        self, question: Question, answers: Sequence[str]
    ) -> list[list[tuple[float, int]]]:
        """Per key point, per usable sentence: (similarity to the point, keywords it uses).

        Needs the embedder. Sentences that restate a known misconception are left out.
        """
        table, _ = self._table(question, answer_sentences(answers))
        return [[(sim, len(hits)) for sim, hits, *_ in row] for row in table]

    def _table(
        self, question: Question, sentences: list[str]
    ) -> tuple[list[list[tuple[float, tuple[str, ...], str, tuple[float, ...]]]], list[str]]:
        import numpy as np  # comes with transformers, as the embedder does

        assert self.embedder is not None
        t = self.thresholds
        point_texts = [[p.statement, *p.facts] for p in question.key_points]
        claims = [m.claim for m in question.misconceptions]
        corrections = [m.correction for m in question.misconceptions]
        flat = [text for texts in point_texts for text in texts]

        vectors = self.embedder.embed([*sentences, *flat, *claims, *corrections])
        matrix = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1)
        n, m, k = len(sentences), len(flat), len(claims)
        sentence_vectors = matrix[:n]
        # Every similarity at once: sentences against point texts, claims and corrections.
        to_texts = sentence_vectors @ matrix[n : n + m].T
        to_claims = sentence_vectors @ matrix[n + m : n + m + k].T
        to_corrections = sentence_vectors @ matrix[n + m + k :].T
        wrong = (to_claims >= t.misconception) & (to_claims > to_corrections + 0.05)
        # A sentence restates a claim only if it says something of the claim beyond the topic:
        # "I'd use the serverless API." is close to "The free serverless API is a fine backend
        # for production" by topic alone (0.76), and a strong answer lost it.
        topic = _words(question.question)
        beyond = [_words(claim) - topic for claim in claims]
        for i, j in zip(*np.nonzero(wrong), strict=True):
            if not _words(sentences[i]) & beyond[j]:
                wrong[i, j] = False
        believes = [bool(wrong[i].any()) for i in range(n)]
        usable = [i for i in range(n) if not believes[i]]
        flagged = [sentences[i] for i in range(n) if believes[i]]
        table: list[list[tuple[float, tuple[str, ...], str, tuple[float, ...]]]] = []
        offset = 0
        lowered = {i: sentences[i].lower() for i in usable}
        for point, texts in zip(question.key_points, point_texts, strict=True):
            block = to_texts[:, offset : offset + len(texts)]
            best = block.max(axis=1)
            offset += len(texts)
            terms = _terms(point)
            table.append(
                [
                    (
                        float(best[i]),
                        tuple(term for term in terms if _contains(lowered[i], term)),
                        sentences[i],
                        tuple(float(x) for x in block[i, 1:]),  # texts[0] is the statement
                    )
                    for i in usable
                ]
            )
        return table, flagged

    def _embedding_evidence(self, question: Question, sentences: list[str]) -> list[PointEvidence]:
        t = self.thresholds
        table, _ = self._table(question, sentences)
        results: list[PointEvidence] = []
        for point, row in zip(question.key_points, table, strict=True):
            best = PointEvidence(point.id, "missing", 0.0, "", ())
            for sim, hits, sentence, facts in row:
                signal = sentence_signal(sim, len(hits), t)
                if signal > best.signal:
                    best = PointEvidence(point.id, "missing", signal, sentence, hits, facts)
            results.append(
                PointEvidence(
                    point.id,
                    verdict_for(best.signal, t),
                    round(best.signal, 4),
                    best.sentence,
                    best.keywords,
                    best.facts,
                )
            )
        return results

    def _verdict(self, evidence: PointEvidence) -> KeyPointGrade:
        if evidence.verdict == "missing":
            rationale = "no sentence of the answer matches this point"
        elif self.embedder is None:
            rationale = f"mentions {', '.join(repr(k) for k in evidence.keywords)}"
        else:
            rationale = f"closest sentence matches the point at {evidence.signal:.2f}"
            if evidence.keywords:
                rationale += f" and mentions {', '.join(repr(k) for k in evidence.keywords)}"
        return KeyPointGrade(
            key_point_id=evidence.key_point_id,
            rationale=rationale,
            verdict=evidence.verdict,
            evidence=evidence.sentence[:EVIDENCE_MAX] if evidence.verdict != "missing" else "",
        )


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
