"""Read a notes file of questions and answers: its layout, and each question with its answer.

People keep interview notes in a few layouts, and each has a parser here:

* ``details``: GitHub-style ``<details><summary>question</summary>answer</details>`` blocks (a
  summary that only says "Answer" takes its question from the line above the block);
* ``qa``: "Q: ... A: ..." pairs (also ``**Q:**`` / ``**A:**``, "Question:" / "Answer:", on one
  line or several);
* ``course``: numbered questions ("Q1: ...", "Question 3." ...), each followed by its answer,
  with or without a "Show answer" line between them (course pages copied from a browser);
* ``headings``: a Markdown heading per question ("## What is ...?"), the answer below it;
* ``table``: a Markdown table with a question column and an answer column;
* ``numbered``: a numbered (or bulleted) list of questions, each answer below its item;
* ``lines``: questions on lines of their own (ending in "?", or in bold and asking by request:
  "**4. Name ...**"), each followed by its answer.

Questions may ask by request ("Explain ...", "Name different ...", "List a few ...", "How
would you ..."), not only with a question mark, and may carry markers (an emoji for their
difficulty, a "[[src]](url)" link) that are not part of them (:mod:`.markup`).

Detection tries them in that order (the most explicit structure first) and keeps the first that
finds answered questions, unless a later one finds more questions outside those answers (a
"## What to revise" heading must not swallow the numbered questions under it). Questions of
other layouts outside every answer of that one are added (a file of several layouts: headings,
then a table, then ``<details>`` blocks). Text in fenced code blocks is never read as
structure; decoration (``<br/>``, images, badges, HTML blocks, tables of contents) never is a
question or part of an answer. Nothing here invents an answer: a question whose answer is empty
(or a placeholder such as "Answer here" or "TODO") is kept with an empty answer, for the
importer to report and skip. :func:`parse_notes` also lists the near misses: lines that look
like questions and were not read as one, with why (:mod:`.misses`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from interviewer.bank.notes.layouts import (
    Doc,
    NoteEntry,
    atx_heading,
    parse_details,
    parse_headings,
    parse_markers,
    parse_numbered,
    read_doc,
)
from interviewer.bank.notes.lines import is_bold_line, parse_lines
from interviewer.bank.notes.markup import html_block_end, is_decoration
from interviewer.bank.notes.misses import NearMiss, Spans, near_misses
from interviewer.bank.notes.tables import parse_table
from interviewer.bank.notes.text import (
    clean_inline,
    fenced_lines,
    looks_like_code,
    normalize,
    question_strength,
)

__all__ = [
    "LAYOUTS",
    "NearMiss",
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
    "table": "a Markdown table with a Question column and an Answer column",
    "numbered": "a numbered or bulleted list of questions (1. What is ...?), the answer below "
    "each item",
    "lines": "questions on lines of their own ending in '?' (or bold lines that ask: "
    "'**Explain ...**'), each followed by its answer",
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
    near_misses: tuple[NearMiss, ...] = ()
    """Lines that look like questions and were not read as one, with why."""

    @property
    def answered(self) -> list[NoteEntry]:
        return [e for e in self.entries if e.answer]

    @property
    def unanswered(self) -> list[NoteEntry]:
        return [e for e in self.entries if not e.answer]


# ----------------------------------------------------------------------------- detection


def _parsers(labelled: list[int], every: bool) -> dict[str, Callable[[Doc, bool], list[NoteEntry]]]:
    def markers(doc: Doc, forced: bool) -> list[NoteEntry]:
        entries, count = parse_markers(doc)
        labelled.append(count)
        return entries

    return {
        "details": lambda doc, forced: parse_details(doc),
        "table": lambda doc, forced: parse_table(doc),
        "markers": markers,
        "headings": lambda doc, forced: parse_headings(doc, forced=forced, every=every),
        "numbered": lambda doc, forced: parse_numbered(doc, forced=forced),
        "lines": lambda doc, forced: parse_lines(doc, forced=forced),
    }


def _outside(entries: list[NoteEntry], spans: Spans) -> int:
    """How many answered ``entries`` start outside every span of ``spans``."""
    return sum(
        1 for entry in entries if entry.answer and not spans.overlaps(entry.line, entry.line)
    )


_EXPLICIT = ("details", "table", "markers")
"""Layouts whose questions are marked as such: one of them is enough to add to another layout."""


def _asks_clearly(doc: Doc, entry: NoteEntry) -> bool:
    """A question that ends with "?" on a heading or a bold line of its own."""
    raw = doc.lines[entry.line - 1].strip() if entry.line <= len(doc.lines) else ""
    shaped = atx_heading(doc, entry.line - 1) is not None or is_bold_line(raw)
    return shaped and question_strength(entry.question) == 2


def _merge(
    doc: Doc, best_name: str, best: list[NoteEntry], found: dict[str, list[NoteEntry]]
) -> tuple[list[str], list[NoteEntry]]:
    """``best`` with the answered questions of the other layouts that lie outside all its
    answers (and each other's): a file of several layouts. A layout adds its questions where
    they are explicit (a table row, a ``<details>`` block, a "Q:" label) or clear ("?")."""
    names, merged = [best_name], list(best)
    for name, entries in found.items():
        if name == best_name or not entries:
            continue
        spans = Spans(merged)
        extra = [
            e
            for e in entries
            if not spans.overlaps(e.line, e.end)
            and (name in _EXPLICIT or question_strength(e.question) >= 1)
        ]
        inner = Spans(extra)
        if any(inner.overlaps(m.line, m.line) for m in merged):
            continue  # it would hold questions already read: another reading, not more
        answered = [e for e in extra if e.answer]
        clear = all(_asks_clearly(doc, e) for e in answered)
        if len(answered) >= (1 if name in _EXPLICIT or clear else 2):
            names.append(name)
            merged.extend(extra)
    merged.sort(key=lambda e: e.line)
    return names, merged


def _barriers(doc: Doc, found: dict[str, list[NoteEntry]]) -> tuple[int, ...]:
    """The lines where explicit questions start (see :attr:`Doc.barriers`): each
    ``<details>`` block, each question table's header, each "Q:" label."""
    lines = {e.line - 1 for e in found["details"]}
    lines.update(e.line - 1 for e in found["markers"])
    for entry in found["table"]:
        header = entry.line - 1
        while header > 0 and doc.lines[header - 1].strip().startswith("|"):
            header -= 1
        lines.add(header)
    return tuple(sorted(lines))


def parse_notes(
    text: str, layout: str | None = None, *, every_heading: bool = False
) -> ParsedNotes:
    """The questions of a notes document (see the module docstring). ``layout`` forces one of
    :data:`LAYOUTS`; otherwise it is detected. ``every_heading`` (--questions-from-headings):
    every heading with text under it at a level that asks is a question. Never raises: a
    document with no question gives no entries (the importer says what was tried)."""
    doc = read_doc(normalize(text))
    labelled: list[int] = []
    parsers = _parsers(labelled, every_heading)
    if layout is not None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}")
        key = "markers" if layout in ("qa", "course") else layout
        entries = parsers[key](doc, True)
        # A forced explicit layout reads only its own blocks: the rest is not a near miss.
        explicit = key in _EXPLICIT
        misses = () if explicit else tuple(near_misses(doc, entries))
        return ParsedNotes(layout, _title(doc, entries), tuple(entries), (layout,), misses)
    best_name, best = "", list[NoteEntry]()
    unanswered: tuple[str, list[NoteEntry]] | None = None  # questions, but no answers at all
    found: dict[str, list[NoteEntry]] = {}
    for name in _EXPLICIT:  # first: where they start, no other layout's answer runs on
        found[name] = parsers[name](doc, False)
    doc = replace(doc, barriers=_barriers(doc, found))
    for name, parse in parsers.items():
        entries = found[name] if name in found else parse(doc, False)
        found[name] = entries
        answered = sum(1 for e in entries if e.answer)
        if entries and unanswered is None:
            unanswered = (name, entries)
        if not best_name:
            if answered:
                best_name, best = name, entries
            continue
        if _outside(entries, Spans(best)) > sum(1 for e in best if e.answer):
            best_name, best = name, entries
    if not best_name and unanswered is not None:
        best_name, best = unanswered
    names = [best_name] if best_name else []
    if best_name:
        names, best = _merge(doc, best_name, best, found)
    if "markers" in names:
        marked = "qa" if 2 * labelled[0] >= len(found["markers"]) else "course"
        names = [marked if n == "markers" else n for n in names]
    tried = tuple(LAYOUTS)
    misses = tuple(near_misses(doc, best))
    return ParsedNotes("+".join(names) or "none", _title(doc, best), tuple(best), tried, misses)


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
    index = start - 1
    while index + 1 < min(first_question, len(lines)):
        index += 1
        if doc.fenced[index] or not lines[index].strip() or is_decoration(lines[index]):
            continue
        block_end = html_block_end(lines, index)
        if block_end is not None:
            index = block_end
            continue
        raw = lines[index].strip()
        heading = atx_heading(doc, index)
        if raw.startswith("<"):  # <h1 align="center">Title</h1>
            raw = re.sub(r"<[^>]*>", " ", raw)
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
