"""The units of an answer the evidence signal compares with each key point: sentences, and the
clauses of a longer sentence, each a verbatim piece of the answer (so any of them can be quoted).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from interviewer.textutil import split_sentences

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
