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
import itertools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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


_CLAUSE_BREAK = re.compile(
    r"\s*[,;:]\s+|\s+[-\u2013\u2014]+\s+|\s*[()]\s*"
    r"|\s+(?=(?:and|but|so|because|which|while|whereas|though|although|since|then|unless)\s)",
    re.IGNORECASE,
)
"""Where a spoken sentence turns to its next clause: commas, semicolons, colons, dashes,
brackets, and before a conjunction."""
MIN_CLAUSE_WORDS = 4
_EDGES = " ,;:-\u2013\u2014"


def _clause_spans(sentence: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for found in _CLAUSE_BREAK.finditer(sentence):
        if found.start() > start:
            spans.append((start, found.start()))
        start = max(start, found.end())
    if start < len(sentence):
        spans.append((start, len(sentence)))
    return spans


def answer_units(answers: Sequence[str]) -> tuple[list[str], list[int]]:
    """The units the signal compares with each key point, each a verbatim piece of an answer
    (so any of them can be quoted): every sentence, and for a longer sentence its clauses and
    each two neighbouring clauses. A candidate speaking states several points in one sentence
    joined by commas ("it's shared, you pay per call, and it can cold-start"), and a clause
    alone often lacks its subject, which the pair gives back. With each unit, the index of
    the sentence it comes from (its own for a sentence): a clause of a sentence that restates
    a misconception counts for no more than the sentence does."""
    units: list[str] = []
    parents: list[int] = []
    seen: dict[str, int] = {}
    for answer in answers:
        for sentence in split_sentences(answer, lines=True, semicolons=True):
            if sentence not in seen:
                seen[sentence] = len(units)
                units.append(sentence)
                parents.append(len(units) - 1)
            parent = seen[sentence]
            spans = _clause_spans(sentence)
            if len(spans) < 2:
                continue
            pieces = [sentence[a:b] for a, b in spans]
            pieces += [sentence[a:b] for (a, _), (_, b) in itertools.pairwise(spans)]
            for piece in pieces:
                piece = piece.strip(_EDGES)
                if len(piece.split()) >= MIN_CLAUSE_WORDS and piece not in seen:
                    seen[piece] = len(units)
                    units.append(piece)
                    parents.append(parent)
    return units, parents


def answer_sentences(answers: Sequence[str]) -> list[str]:
    """The units of :func:`answer_units`, without where they come from."""
    return answer_units(answers)[0]


_REJECTS = re.compile(
    r"\b(?:not|never|no longer|myth|misconception|mistake|wrong|false|untrue|contrary|"
    r"actually|cannot)\b|n't\b|\bpeople (?:often |sometimes )?(?:think|assume|believe|say)\b",
    re.IGNORECASE,
)
"""Words with which a sentence rejects a claim rather than makes it."""


_TOKEN = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    """The words of ``text`` other than function words, lowercased ("not", "only", "all",
    "never" stay: they are what a wrong claim often turns on)."""
    return set(_TOKEN.findall(text.lower())) - FUNCTION_WORDS


def _stems(text: str) -> set[str]:
    """:func:`_words` with a plural's "s" dropped ("endpoints" is the topic's "endpoint")."""
    return {
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in _words(text)
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
        self, embedder: Embedder | None = None, thresholds: EvidenceThresholds | None = None
    ) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or EvidenceThresholds()
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
        return self._embedding_evidence(question, sentences, parents)

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
        self, question: Question, sentences: list[str], parents: list[int]
    ) -> list[PointEvidence]:
        t = self.thresholds
        table, _ = self._table(question, sentences, parents)
        results: list[PointEvidence] = []
        for point, row in zip(question.key_points, table, strict=True):
            best = PointEvidence(point.id, "missing", 0.0, "", ())
            for unit in row:
                signal = sentence_signal(unit.similarity, len(unit.keywords), t, unit.margin)
                if signal > best.signal:
                    best = PointEvidence(
                        point.id, "missing", signal, unit.text, unit.keywords, unit.facts
                    )
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
        t = self.thresholds
        mentions = (
            f" and mentions {', '.join(repr(k) for k in evidence.keywords)}"
            if evidence.keywords
            else ""
        )
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
                    f'closest: "{shown}" at {evidence.signal:.2f}{mentions}, under the '
                    f"{t.partial:.2f} partial credit needs"
                )
            else:
                rationale = "nothing in the answer comes near this point"
        else:
            needed = t.covered if evidence.verdict == "covered" else t.partial
            rationale = (
                f"closest sentence matches the point at {evidence.signal:.2f}{mentions} "
                f"({evidence.verdict} from {needed:.2f})"
            )
        doubtful = self.embedder is not None and in_doubt(evidence.signal, t)
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
