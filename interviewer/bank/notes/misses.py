"""Near misses: the lines of a notes file that look like questions but were not read as one,
each with why and what to do ("line 52: '4. Name different approaches ...' reads as a
heading, not a question: pass --questions-from-headings, or end it with '?'")."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from interviewer.bank.notes.layouts import Doc, NoteEntry, atx_heading, headings_of
from interviewer.bank.notes.lines import is_bold_line
from interviewer.bank.notes.markup import is_decoration, is_toc_item, strip_markers
from interviewer.bank.notes.text import LIST_ITEM, clean_inline, question_strength

_NUMBERED = re.compile(r"^\(?\d{1,3}[.)]\s+\S")
MAX_NEAR_MISSES = 50


@dataclass(frozen=True)
class NearMiss:
    """A line that looks like a question and was not read as one."""

    line: int
    text: str
    why: str

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        shown = text if len(text) <= 60 else text[:57] + " ..."
        return f"line {self.line}: {shown!r} {self.why}"


class Spans:
    """The lines the entries cover (question and answer), for "is this line in an answer"."""

    def __init__(self, entries: list[NoteEntry]) -> None:
        ordered = sorted((e.line, e.end) for e in entries)
        self.starts = [start for start, _ in ordered]
        self.reach: list[int] = []
        furthest = 0
        for _, end in ordered:
            furthest = max(furthest, end)
            self.reach.append(furthest)

    def overlaps(self, first: int, last: int) -> bool:
        """Whether any span meets the 1-based lines ``first`` to ``last``."""
        position = bisect.bisect_right(self.starts, last) - 1
        return position >= 0 and self.reach[position] >= first


def _owner(line: int, entries: list[NoteEntry]) -> NoteEntry | None:
    """The entry whose answer holds ``line``."""
    for entry in entries:
        if entry.line < line <= entry.end:
            return entry
    return None


def _asks(text: str) -> bool:
    plain = strip_markers(clean_inline(strip_markers(text)))
    return bool(
        question_strength(plain) or _NUMBERED.match(plain) or plain.rstrip(" *_").endswith("?")
    )


def _sibling_item(raw: str, indents: set[int]) -> bool:
    item = LIST_ITEM.match(raw)
    return (
        item is not None
        and item.group("marker")[-1:] in ".)"
        and len(item.group("indent")) in indents
        and not is_toc_item(raw)
    )


def _asking_item(raw: str) -> bool:
    item = LIST_ITEM.match(raw)
    return item is not None and _asks(item.group("text")) and not is_toc_item(raw)


def _numbered_indents(doc: Doc, entries: list[NoteEntry]) -> set[int]:
    """The indents of the numbered list items that were read as questions."""
    indents: set[int] = set()
    for entry in entries:
        item = LIST_ITEM.match(doc.lines[entry.line - 1]) if entry.line <= len(doc.lines) else None
        if item is not None and item.group("marker")[-1:] in ".)":
            indents.add(len(item.group("indent")))
    return indents


def near_misses(doc: Doc, entries: list[NoteEntry]) -> list[NearMiss]:
    """The near misses of ``doc`` read as ``entries`` (see the module docstring)."""
    taken = {entry.line for entry in entries}
    numbered = _numbered_indents(doc, entries)
    heading_levels = {level for line, level, _ in headings_of(doc) if line + 1 in taken}
    found: list[NearMiss] = []
    for line, level, text in headings_of(doc):
        if line + 1 in taken or not _asks(text) or is_toc_item(text):
            continue
        plain = clean_inline(strip_markers(text))
        if heading_levels and level not in heading_levels:
            continue
        if not heading_levels and not (question_strength(plain) or plain.endswith("?")):
            continue
        found.append(
            NearMiss(
                line + 1,
                plain,
                "reads as a heading, not a question: pass --questions-from-headings (every "
                "heading at its level is a question), or end it with '?'",
            )
        )
    bold_taken = any(is_bold_line(doc.lines[e.line - 1].strip()) for e in entries if e.line)
    for index, raw in enumerate(doc.lines):
        stripped = raw.strip()
        if (
            index + 1 in taken
            or doc.fenced[index]
            or not stripped
            or atx_heading(doc, index) is not None
            or is_decoration(stripped)
        ):
            continue
        plain = clean_inline(strip_markers(stripped))
        if is_bold_line(stripped) and _asks(stripped) and (bold_taken or not entries):
            owner = _owner(index + 1, entries)
            where = (
                f"reads as bold text in the answer on line {owner.line}"
                if owner
                else "is bold but does not read as a question"
            )
            found.append(
                NearMiss(
                    index + 1,
                    plain,
                    f"{where}: end it with '?', or pass --format lines (every bold line "
                    "is a question)",
                )
            )
        elif numbered and _sibling_item(raw, numbered):
            owner = _owner(index + 1, entries)
            where = f"reads as part of the answer on line {owner.line}" if owner else "was not read"
            found.append(
                NearMiss(
                    index + 1,
                    plain,
                    f"is numbered like the questions but {where}: end it with '?', or pass "
                    "--format numbered (every item of the list is a question)",
                )
            )
        elif not entries and _asking_item(raw):
            found.append(
                NearMiss(
                    index + 1,
                    plain,
                    "is a list item with no answer read below it: pass --format numbered",
                )
            )
        if len(found) >= MAX_NEAR_MISSES:
            break
    return sorted(found, key=lambda miss: miss.line)
