"""The ``lines`` layout: questions on lines of their own, each followed by its answer.

A question line is a line (not a heading, list item, table row or HTML) that ends with "?"
and is bold, starts with a question word, or starts its paragraph; or a line in bold as a
whole that asks by request ("**4. Name different approaches to X.**"): numbered, ending with
".", or four words or more that start with a request ("Explain", "Name", "How would you").
Markers after it (an emoji for its difficulty, a link to its source) do not count, and
decoration between questions (``<br/>``, images, tables of contents) is never read. A bold
question followed by its answer on the same line ("**What is X?** X is ...") is split there.
"""

from __future__ import annotations

import re

from interviewer.bank.notes.layouts import Doc, NoteEntry, atx_heading, blocks, make_entry
from interviewer.bank.notes.markup import is_decoration, strip_markers
from interviewer.bank.notes.text import (
    LIST_ITEM,
    QUESTION_START,
    clean_inline,
    question_strength,
    question_text,
)

_NUMBERED = re.compile(r"^\(?\d{1,3}[.)]\s")
_BOLD_LEAD = re.compile(
    r"^(\*\*|__)(?P<question>[^*_\n]{3,300}?\?)[ \t]*(?:\1)[ \t]*(?P<rest>\S.*)$"
)


def _lead(stripped: str) -> re.Match[str] | None:
    """A bold question with its answer after it on the same line."""
    match = _BOLD_LEAD.match(stripped)
    if match is None or len(strip_markers(match.group("rest")).split()) < 3:
        return None
    return match


def is_bold_line(stripped: str) -> bool:
    """A line in bold as a whole, markers after it aside ("**What is X? 👶**", "**X?** ⭐")."""
    core = strip_markers(stripped)
    return core.startswith(("**", "__")) and core.rstrip(" :").endswith(("**", "__"))


def bold_request(stripped: str) -> bool:
    """A bold line that asks by request, without a question mark (see the module docstring)."""
    if not is_bold_line(stripped):
        return False
    plain = clean_inline(strip_markers(stripped))
    if question_strength(plain) < 1 and not _NUMBERED.match(plain):
        return False
    text = question_text(stripped)
    if not re.search(r"[^\W\d_]{2}", text) or len(text) > 300:
        return False
    if question_strength(text) < 1:
        return False  # "**1. Basics**": a numbered section, not a request
    return bool(_NUMBERED.match(plain)) or text.endswith(".") or len(text.split()) >= 4


_HTML_BOLD = re.compile(r"^<(b|strong)>(.+)</\1>(.*)$", re.IGNORECASE)


def _candidate(doc: Doc, index: int) -> str | None:
    """The stripped line at ``index`` when it may be a question line, else None (a line in
    ``<b>`` or ``<strong>`` reads as one in ``**``)."""
    line = doc.lines[index]
    stripped = _HTML_BOLD.sub(r"**\2**\3", line.strip())
    if (
        doc.fenced[index]
        or not stripped
        or atx_heading(doc, index) is not None
        or LIST_ITEM.match(line)
        or stripped.startswith(("|", ">", "<"))
        or is_decoration(stripped)
    ):
        return None
    return stripped


def is_question_line(doc: Doc, index: int, *, forced: bool = False) -> bool:
    stripped = _candidate(doc, index)
    if stripped is None:
        return False

    if _lead(stripped):
        return True
    bold = is_bold_line(stripped)
    plain = clean_inline(strip_markers(stripped))
    plain = strip_markers(plain)
    if not plain.endswith("?"):
        return bold_request(stripped) or (forced and bold and bool(re.search(r"\w", plain)))
    if len(plain) > 300 or not re.search(r"[^\W\d_]{2}", plain):
        return False
    paragraph_start = index == 0 or not doc.lines[index - 1].strip()
    return forced or bold or bool(QUESTION_START.match(plain)) or paragraph_start


def parse_lines(doc: Doc, *, forced: bool = False) -> list[NoteEntry]:
    """Questions on lines of their own (see the module docstring). Forced: every line that
    ends with "?", and every line in bold."""
    starts = [
        index for index in range(len(doc.lines)) if is_question_line(doc, index, forced=forced)
    ]
    entries: list[NoteEntry] = []
    for start, end in blocks(doc, starts, stop_at_heading=True):
        first = doc.lines[start].strip()
        body = doc.lines[start + 1 : end + 1]
        lead = _lead(first)
        if lead is not None:
            first, body = lead.group("question"), [lead.group("rest"), *body]
        entry = make_entry(doc, first, start, body, end)
        if entry is not None:
            entries.append(entry)
    return entries
