"""Read a notes file of questions and answers: its layout, and each question with its answer.

People keep interview notes in a few layouts, and each has a parser here:

* ``details``: GitHub-style ``<details><summary>question</summary>answer</details>`` blocks (a
  summary that only says "Answer" takes its question from the line above the block);
* ``qa``: "Q: ... A: ..." pairs (also ``**Q:**`` / ``**A:**``, "Question:" / "Answer:", on one
  line or several);
* ``course``: numbered questions ("Q1: ...", "Question 3." ...), each followed by its answer,
  with or without a "Show answer" line between them (course pages copied from a browser);
* ``headings``: a Markdown heading per question ("## What is ...?"), the answer below it;
* ``numbered``: a numbered (or bulleted) list of questions, each answer below its item;
* ``lines``: questions on lines of their own, ending in "?", each followed by its answer.

Detection tries them in that order (the most explicit structure first) and keeps the first that
finds answered questions, unless a later one finds more questions outside those answers (a
"## What to revise" heading must not swallow the numbered questions under it). Text in fenced
code blocks is never read as structure. Nothing here invents an answer: a question whose answer
is empty (or a placeholder such as "TODO") is kept with an empty answer, for the importer to
report and skip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from interviewer.bank.notes.layouts import (
    Doc,
    NoteEntry,
    atx_heading,
    parse_details,
    parse_headings,
    parse_lines,
    parse_markers,
    parse_numbered,
    read_doc,
)
from interviewer.bank.notes.text import (
    clean_inline,
    fenced_lines,
    looks_like_code,
    normalize,
    question_strength,
)

__all__ = [
    "LAYOUTS",
    "NoteEntry",
    "ParsedNotes",
    "clean_inline",
    "fenced_lines",
    "first_lines",
    "looks_like_code",
    "normalize",
    "parse_notes",
]

LAYOUTS: dict[str, str] = {
    "details": "<details><summary>question</summary> answer </details> blocks",
    "qa": "Q: ... A: ... pairs (also **Q:** / **A:**, Question: / Answer:)",
    "course": "numbered questions (Q1: ...), each followed by its answer (a 'Show answer' line "
    "between them is dropped)",
    "headings": "a Markdown heading per question (## What is ...?), the answer below it",
    "numbered": "a numbered or bulleted list of questions (1. What is ...?), the answer below "
    "each item",
    "lines": "questions on lines of their own ending in '?', each followed by its answer",
}
"""Every layout, in the order detection tries them, with what it looks like."""


@dataclass(frozen=True)
class ParsedNotes:
    """What a notes file holds: its layout, its title if it has one, and its questions."""

    layout: str
    title: str | None
    entries: tuple[NoteEntry, ...]
    tried: tuple[str, ...]
    """The layouts that were tried (all of them unless one was forced)."""

    @property
    def answered(self) -> list[NoteEntry]:
        return [e for e in self.entries if e.answer]

    @property
    def unanswered(self) -> list[NoteEntry]:
        return [e for e in self.entries if not e.answer]


# ----------------------------------------------------------------------------- detection


def _parsers(labelled: list[int]) -> dict[str, Callable[[Doc, bool], list[NoteEntry]]]:
    def markers(doc: Doc, forced: bool) -> list[NoteEntry]:
        entries, count = parse_markers(doc)
        labelled.append(count)
        return entries

    return {
        "details": lambda doc, forced: parse_details(doc),
        "markers": markers,
        "headings": lambda doc, forced: parse_headings(doc, forced=forced),
        "numbered": lambda doc, forced: parse_numbered(doc, forced=forced),
        "lines": lambda doc, forced: parse_lines(doc, forced=forced),
    }


def _outside(entries: list[NoteEntry], spans: list[NoteEntry]) -> int:
    """How many answered ``entries`` start outside every span of ``spans``."""
    return sum(
        1
        for entry in entries
        if entry.answer and not any(s.line <= entry.line <= s.end for s in spans)
    )


def parse_notes(text: str, layout: str | None = None) -> ParsedNotes:
    """The questions of a notes document (see the module docstring). ``layout`` forces one of
    :data:`LAYOUTS`; otherwise it is detected. Never raises: a document with no question gives
    no entries (the importer says what was tried)."""
    doc = read_doc(normalize(text))
    labelled: list[int] = []
    parsers = _parsers(labelled)
    if layout is not None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}")
        key = "markers" if layout in ("qa", "course") else layout
        entries = parsers[key](doc, True)
        return ParsedNotes(layout, _title(doc, entries), tuple(entries), (layout,))
    best_name, best = "", list[NoteEntry]()
    unanswered: tuple[str, list[NoteEntry]] | None = None  # questions, but no answers at all
    for name, parse in parsers.items():
        entries = parse(doc, False)
        answered = sum(1 for e in entries if e.answer)
        if entries and unanswered is None:
            unanswered = (name, entries)
        if not best_name:
            if answered:
                best_name, best = name, entries
            continue
        if _outside(entries, best) > sum(1 for e in best if e.answer):
            best_name, best = name, entries
    if not best_name and unanswered is not None:
        best_name, best = unanswered
    if best_name == "markers":
        best_name = "qa" if 2 * labelled[0] >= len(best) else "course"
    tried = tuple(LAYOUTS)
    return ParsedNotes(best_name or "none", _title(doc, best), tuple(best), tried)


def _title(doc: Doc, entries: list[NoteEntry]) -> str | None:
    """The document's title: its front matter's ``title:``, else its first heading or short
    line before the first question, when that is not itself a question."""
    first_question = entries[0].line - 1 if entries else len(doc.lines)
    lines = doc.lines
    start = 0
    if lines and lines[0].strip() == "---":
        for index in range(1, min(len(lines), 60)):
            found = re.match(r"^title:\s*(.+)$", lines[index].strip())
            if found:
                title = clean_inline(found.group(1).strip("'\" "))
                if re.search(r"\w", title):
                    return title[:120]
            if lines[index].strip() in ("---", "..."):
                start = index + 1
                break
    for index in range(start, min(first_question, len(lines))):
        if doc.fenced[index] or not lines[index].strip():
            continue
        raw = lines[index].strip()
        heading = atx_heading(doc, index)
        candidate = clean_inline(heading[1] if heading is not None else raw)
        if (
            re.search(r"\w", candidate)
            and question_strength(candidate) == 0
            and len(candidate) <= 100
            and (heading is not None or not candidate.endswith((".", "?", "!", ":", ",")))
        ):
            return candidate
        return None
    return None


def first_lines(text: str, count: int = 5) -> list[str]:
    """The first ``count`` non-blank lines of ``text``, shortened, for an error message."""
    shown: list[str] = []
    for line in normalize(text).split("\n"):
        if line.strip():
            line = line.strip()
            shown.append(line if len(line) <= 100 else line[:99] + "…")
            if len(shown) == count:
                break
    return shown
