"""Anki packages (``.apkg``): a zip holding the collection, an SQLite database.

Each note gives a question: its first field (or the field named "Front", "Question" ...) is the
question and its second (or "Back", "Answer", "Reference" ...) the answer, HTML turned to text
and media references (images, ``[sound:...]``) dropped. A cloze note gives one question per
deletion (:mod:`.cloze`). Read with the standard library (zipfile, sqlite3): the collection is
opened in memory, never written to disk. Packages in Anki's newest format only
(``collection.anki21b``, compressed with zstd) are refused with how to export them readably.
"""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from collections import Counter
from typing import Any

from interviewer.bank.notes import NearMiss, NoteEntry, ParsedNotes
from interviewer.bank.sources.base import (
    ANSWER_NAMES,
    MAX_DECK_BYTES,
    QUESTION_NAMES,
    NotesError,
    cell_entry,
    pick,
)
from interviewer.bank.sources.cloze import cloze_entries, has_cloze

ANKI_FORMATS = {"apkg": "an Anki package (.apkg): each note's front and back, clozes as questions"}
_HINT = "export the deck again from Anki (File > Export > Anki Deck Package)"


def _collection(data: bytes, name: str) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise NotesError(f"{name} is not an Anki package (not a zip file)", _HINT) from exc
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        for member in ("collection.anki21", "collection.anki2"):
            info = members.get(member)
            if info is None:
                continue
            if info.file_size > MAX_DECK_BYTES:
                raise NotesError(
                    f"{name}: its collection is {info.file_size / 1e6:.0f} MB, too large",
                    "export only the deck you want to import",
                )
            try:
                return archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                raise NotesError(
                    f"{name}: its collection cannot be unpacked ({exc})", _HINT
                ) from exc
        if "collection.anki21b" in members:
            raise NotesError(
                f"{name} is in Anki's newest package format (compressed with zstd), which "
                "this reader does not open",
                "export it again with 'Support older Anki versions' ticked (File > Export)",
            )
    raise NotesError(f"{name} holds no Anki collection (no collection.anki2 in the zip)", _HINT)


def _models(db: sqlite3.Connection) -> dict[int, list[str]]:
    """The field names of each note type: from the ``col`` row's JSON (older schemas) or the
    ``fields`` table (newer)."""
    names: dict[int, list[str]] = {}
    try:
        row = db.execute("select models from col").fetchone()
        models: Any = json.loads(row[0]) if row and row[0] else {}
    except (sqlite3.DatabaseError, json.JSONDecodeError, TypeError, RecursionError):
        models = {}
    if isinstance(models, dict):
        for key, model in models.items():
            fields = model.get("flds") if isinstance(model, dict) else None
            if isinstance(fields, list) and str(key).lstrip("-").isdigit():
                names[int(key)] = [
                    str(f.get("name", "")) if isinstance(f, dict) else "" for f in fields
                ]
    if not names:
        try:
            for ntid, _, field in db.execute(
                "select ntid, ord, name from fields order by ntid, ord"
            ):
                names.setdefault(int(ntid), []).append(str(field))
        except sqlite3.DatabaseError:
            pass
    return names


def _deck_title(db: sqlite3.Connection) -> str | None:
    try:
        counts = Counter(did for (did,) in db.execute("select did from cards"))
        row = db.execute("select decks from col").fetchone()
        decks: Any = json.loads(row[0]) if row and row[0] else {}
    except (sqlite3.DatabaseError, json.JSONDecodeError, TypeError, RecursionError):
        return None
    if not isinstance(decks, dict) or not counts:
        return None
    for did, _ in counts.most_common():
        deck = decks.get(str(did))
        name = deck.get("name") if isinstance(deck, dict) else None
        if isinstance(name, str):
            title = name.replace("\x1f", "::").strip()
            if title and title != "Default":
                return title[:120]
    return None


def _sides(fields: list[str], names: list[str]) -> tuple[int, int]:
    asked = pick(names, QUESTION_NAMES) if names else None
    asked = 0 if asked is None else asked
    said = pick(names, ANSWER_NAMES, avoid=asked) if names else None
    if said is None:
        said = next((i for i in range(len(fields)) if i != asked), asked)
    return asked, said


def read_apkg(data: bytes, name: str) -> ParsedNotes:
    """The questions of an Anki package (see the module docstring); ``line`` of each entry
    is its note's position in the collection (1-based)."""
    if len(data) > MAX_DECK_BYTES:
        raise NotesError(f"{name} is {len(data) / 1e6:.0f} MB: too large", "export one deck")
    collection = _collection(data, name)
    db = sqlite3.connect(":memory:")
    try:
        try:
            db.deserialize(collection)
            rows = db.execute("select mid, flds from notes order by id").fetchall()
        except (sqlite3.DatabaseError, ValueError, OverflowError, MemoryError) as exc:
            raise NotesError(
                f"{name}: its collection is not a readable Anki database", _HINT
            ) from exc
        models = _models(db)
        title = _deck_title(db)
    finally:
        db.close()
    entries: list[NoteEntry] = []
    misses: list[NearMiss] = []
    for number, (mid, flds) in enumerate(rows, start=1):
        fields = str(flds or "").split("\x1f")
        names = models.get(int(mid) if isinstance(mid, int) else -1, [])
        asked, said = _sides(fields, names)
        question = fields[asked] if asked < len(fields) else ""
        answer = fields[said] if said < len(fields) and said != asked else ""
        if has_cloze(question):
            entries.extend(cloze_entries(question, answer, number, html=True))
            continue
        entry = cell_entry(question, answer, number, html=True)
        if entry is not None:
            entries.append(entry)
        elif any(field.strip() for field in fields):
            misses.append(NearMiss(number, answer or fields[0], "has no question on its front"))
    return ParsedNotes("apkg", title, tuple(entries), ("apkg",), tuple(misses))
