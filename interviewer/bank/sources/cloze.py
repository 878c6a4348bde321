"""Anki cloze deletions made into questions.

A cloze note ("The {{c1::Adam}} optimizer keeps {{c2::two moving averages::how many}} ...")
gives one question per cloze number, as Anki gives one card: that deletion is blanked
("[...]", or "[how many]" with its hint), the others read as written. The answer is the
deleted text, then the whole sentence, then the note's extra field when it has one.
"""

from __future__ import annotations

import re

from interviewer.bank.notes import NoteEntry
from interviewer.bank.sources.base import cell_entry, plain_field

_CLOZE = re.compile(r"\{\{c(\d{1,3})::((?:(?!\}\}).)*?)(?:::((?:(?!\}\}).)*?))?\}\}", re.DOTALL)


def has_cloze(text: str) -> bool:
    return "{{c" in text and _CLOZE.search(text) is not None


def _reveal(text: str) -> str:
    return _CLOZE.sub(lambda m: m.group(2), text)


def cloze_entries(text: str, extra: str, line: int, *, html: bool = False) -> list[NoteEntry]:
    """One entry per cloze number of ``text`` (see the module docstring)."""
    numbers = sorted({int(m.group(1)) for m in _CLOZE.finditer(text)})
    whole = plain_field(_reveal(text), html=html).strip()
    entries: list[NoteEntry] = []
    for number in numbers:
        deleted: list[str] = []

        def blank(match: re.Match[str], number: int = number, deleted: list[str] = deleted) -> str:
            if int(match.group(1)) != number:
                return match.group(2)
            deleted.append(match.group(2))
            hint = (match.group(3) or "").strip()
            return f"[{hint}]" if hint else "[...]"

        asked = _CLOZE.sub(blank, text)
        said = "; ".join(plain_field(d, html=html).strip() for d in deleted)
        parts = [f"{said}.".replace("..", ".") if said else "", whole]
        if extra.strip():
            parts.append(extra)
        answer = "\n\n".join(part for part in parts if part.strip())
        if not said.strip():
            answer = ""
        entry = cell_entry(f"Fill in the blank: {asked}", answer, line, html=html)
        if entry is not None:
            entries.append(entry)
    return entries
