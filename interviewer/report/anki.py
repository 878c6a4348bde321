"""Anki decks of what was missed: one note per missed key point (``export --format anki``).

Each note's front is the question and the key point as a prompt; its back is the point's
statement and facts, the part of the reference answer about it, the sources, and, when the
candidate's answer came close, what they said. Every field is HTML-escaped: bank text and
candidate text show literally, never as markup.

Ids are stable: a note's guid comes from the bank, question and key point ids, and the note
type and decks have fixed ids, so exporting again (after more sessions) updates the cards
already in Anki, with their review history, instead of adding copies.
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import re
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import genanki

from interviewer.bank.models import Bank, KeyPoint, Question
from interviewer.review.memory import latest_grades, review_time
from interviewer.textutil import split_sentences, visible_control
from interviewer.transcript import Transcript

FIELDS = ["Question", "Prompt", "Statement", "Facts", "Reference", "Sources", "YouSaid", "Key"]
"""The note type's fields, in order (``Key`` is bank/question/point, for searching)."""


def _stable_id(name: str) -> int:
    """A fixed Anki id (they are 31-bit-ish positive integers by convention) for ``name``."""
    return (1 << 30) + int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % (1 << 30)


MODEL_ID = _stable_id("interviewer key point v1")

_CSS = """
.card { font-family: system-ui, sans-serif; font-size: 18px; text-align: left; color: #1f2328;
  background: #fff; max-width: 40em; margin: 0 auto; }
.question { font-size: .95em; color: #59636e; }
.prompt { margin-top: .8em; font-weight: 600; }
.statement { font-weight: 600; }
.facts, .reference, .sources, .said { margin-top: .8em; }
.reference { border-left: 3px solid #d1d9e0; padding-left: .6em; }
.said { color: #9a6700; }
.sources { font-size: .8em; color: #59636e; overflow-wrap: anywhere; }
"""

NOTE_MODEL = genanki.Model(
    MODEL_ID,
    "interviewer: key point",
    fields=[{"name": name} for name in FIELDS],
    templates=[
        {
            "name": "Recall the key point",
            "qfmt": '<div class="question">{{Question}}</div><div class="prompt">{{Prompt}}</div>',
            "afmt": (
                '{{FrontSide}}<hr id="answer"><div class="statement">{{Statement}}</div>'
                '<div class="facts">{{Facts}}</div>'
                '{{#Reference}}<div class="reference">{{Reference}}</div>{{/Reference}}'
                '{{#YouSaid}}<div class="said">{{YouSaid}}</div>{{/YouSaid}}'
                '{{#Sources}}<div class="sources">{{Sources}}</div>{{/Sources}}'
            ),
        }
    ],
    css=_CSS,
)


def note_guid(bank_id: str, question_id: str, key_point_id: str) -> str:
    """The note's stable guid (the same point always maps to the same note)."""
    return str(genanki.guid_for("interviewer", bank_id, question_id, key_point_id))


def deck_id(bank_id: str) -> int:
    return _stable_id(f"interviewer deck {bank_id}")


@dataclass(frozen=True)
class MissedPoint:
    """A key point missed in some session, with the bank text a card is made of."""

    bank_id: str
    bank_title: str
    question: Question
    point: KeyPoint
    closest: str
    """What the candidate said that came closest, the last time it was missed ("" if nothing)."""
    missed_at: datetime
    session_id: str


def missed_points(
    sessions: Iterable[tuple[Transcript, Bank | None]],
) -> tuple[list[MissedPoint], int]:
    """Every key point missed in ``sessions`` (each with its bank): missed in the verdicts as
    they stand (a regrade's replace the original's), or in a skipped question; one entry per
    point, from its latest miss. Also returns how many missed points were left out because
    their bank (or question) could not be found: a card needs the bank's text."""
    found: dict[tuple[str, str, str], MissedPoint] = {}
    left_out: set[tuple[str, str, str]] = set()
    ordered = sorted(sessions, key=lambda s: (s[0].started_at, s[0].session_id))
    for transcript, bank in ordered:
        grades = latest_grades(transcript)
        at = review_time(transcript)
        for result in transcript.results:
            missed: list[tuple[str, str]] = []
            grade = grades.get(result.question_id)
            if result.status == "answered" and grade is not None:
                missed = [
                    (v.key_point_id, v.closest) for v in grade.key_points if v.verdict == "missing"
                ]
            elif result.status == "skipped" and transcript.status != "in_progress":
                missed = [(p, "") for p in _point_ids(bank, transcript, result.question_id)]
            for point_id, closest in missed:
                key = (transcript.bank.id, result.question_id, point_id)
                question, point = _bank_text(bank, transcript, result.question_id, point_id)
                if question is None or point is None:
                    left_out.add(key)
                    continue
                left_out.discard(key)
                found[key] = MissedPoint(
                    transcript.bank.id,
                    bank.title if bank is not None else transcript.bank.title,
                    question,
                    point,
                    closest,
                    at,
                    transcript.session_id,
                )
    return list(found.values()), len(left_out - set(found))


def _point_ids(bank: Bank | None, transcript: Transcript, question_id: str) -> list[str]:
    if bank is None or bank.id != transcript.bank.id:
        return []
    try:
        return [p.id for p in bank.question(question_id).key_points]
    except KeyError:
        return []


def _bank_text(
    bank: Bank | None, transcript: Transcript, question_id: str, point_id: str
) -> tuple[Question | None, KeyPoint | None]:
    if bank is None or bank.id != transcript.bank.id:
        return None, None
    try:
        question = bank.question(question_id)
    except KeyError:
        return None, None
    return question, question.key_points_by_id.get(point_id)


# ----------------------------------------------------------------------------- fields

_WORD = re.compile(r"[a-z0-9_]+")


def esc(text: str) -> str:
    """Literal text in an Anki field: escaped, control characters visible, lines kept."""
    return html.escape(visible_control(text), quote=True).replace("\n", "<br>")


def reference_excerpt(question: Question, point: KeyPoint, limit: int = 2) -> str:
    """The sentences of the reference answer that are about ``point`` (its keywords, then the
    words of its statement and facts), at most ``limit``, in their order; "" when none is."""
    sentences = split_sentences(question.reference_answer, lines=True)
    keywords = [k.lower() for k in point.keywords if k.strip()]
    words = set(_WORD.findall(" ".join([point.statement, *point.facts]).lower()))
    scored = []
    for index, sentence in enumerate(sentences):
        lowered = sentence.lower()
        hits = sum(k in lowered for k in keywords)
        shared = len(words & set(_WORD.findall(lowered)))
        score = hits * 3 + shared
        if hits or shared >= 3:
            scored.append((score, index, sentence))
    best = sorted(scored, key=lambda item: (-item[0], item[1]))[:limit]
    return " ".join(sentence for _, _, sentence in sorted(best, key=lambda item: item[1]))


def _prompt(point: KeyPoint) -> str:
    topic = point.id.replace("-", " ")
    return f"What does a strong answer say about <b>{esc(topic)}</b>?"


def note_fields(missed: MissedPoint) -> list[str]:
    """The note's fields (:data:`FIELDS`), every piece of text escaped."""
    question, point = missed.question, missed.point
    facts = "<ul>" + "".join(f"<li>{esc(fact)}</li>" for fact in point.facts) + "</ul>"
    said = ""
    if missed.closest:
        said = f"Closest you came (session {esc(missed.session_id)}): “{esc(missed.closest)}”"
    return [
        esc(question.question),
        _prompt(point),
        esc(point.statement),
        facts,
        esc(reference_excerpt(question, point)),
        "<br>".join(esc(source) for source in question.sources),
        said,
        esc(f"{missed.bank_id}/{question.id}/{point.id}"),
    ]


def anki_deck_bytes(points: Iterable[MissedPoint], timestamp: float | None = None) -> bytes:
    """The ``.apkg`` file (a zip holding the collection's SQLite database) of ``points``: one
    deck per bank, one note per point."""
    decks: dict[str, genanki.Deck] = {}
    for missed in sorted(points, key=lambda m: (m.bank_id, m.question.id, m.point.id)):
        deck = decks.get(missed.bank_id)
        if deck is None:
            deck = decks[missed.bank_id] = genanki.Deck(
                deck_id(missed.bank_id), f"interviewer::{missed.bank_title}"
            )
        deck.add_note(
            genanki.Note(
                model=NOTE_MODEL,
                fields=note_fields(missed),
                guid=note_guid(missed.bank_id, missed.question.id, missed.point.id),
                tags=["interviewer", missed.question.id],
            )
        )
    package = genanki.Package(list(decks.values()))
    moment = time.time() if timestamp is None else timestamp
    with tempfile.TemporaryDirectory(prefix="interviewer-anki-") as folder:
        db_path = Path(folder) / "collection.anki2"
        connection = sqlite3.connect(db_path)
        try:
            package.write_to_db(connection.cursor(), moment, itertools.count(int(moment * 1000)))
            connection.commit()
        finally:
            connection.close()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(db_path, "collection.anki2")
            archive.writestr("media", "{}")
    return buffer.getvalue()


__all__ = [
    "FIELDS",
    "MODEL_ID",
    "MissedPoint",
    "anki_deck_bytes",
    "deck_id",
    "missed_points",
    "note_fields",
    "note_guid",
    "reference_excerpt",
]
