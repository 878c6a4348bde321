"""The ``table`` layout: questions in a Markdown table, one row each.

A table is read when its header names a question column and an answer column ("Question",
"Q", "Prompt", "Front" ...; "Answer", "A", "Back", "Explanation" ...), or when it has two
columns (a "#" column aside) and its first column's cells read as questions. A line break
in a cell (``<br>``) is kept; a row without a question is passed over; a row whose answer is
empty or a placeholder is kept with an empty answer, for the importer to list.
"""

from __future__ import annotations

import re

from interviewer.bank.notes.layouts import Doc, NoteEntry, placeholder_of
from interviewer.bank.notes.text import (
    clean_answer,
    clean_inline,
    level_questions,
    question_strength,
    question_text,
)

_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
QUESTION_HEADERS = frozenset(
    [
        "question",
        "questions",
        "q",
        "prompt",
        "front",
        "term",
        "concept",
        "query",
        "interview question",
        "question text",
        "the question",
    ]
)
ANSWER_HEADERS = frozenset(
    [
        "answer",
        "answers",
        "a",
        "back",
        "response",
        "definition",
        "explanation",
        "solution",
        "reference",
        "reference_answer",
        "reference answer",
        "model answer",
        "sample answer",
        "short answer",
        "the answer",
    ]
)
_NUMBER_HEADERS = frozenset(["#", "no", "no.", "n", "nr", "id", "number", ""])


def split_row(line: str) -> list[str]:
    """The cells of a table row; ``\\|`` and a "|" inside `code` stay in their cell."""
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    cells: list[str] = []
    current: list[str] = []
    in_code = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] == "|":
            current.append("|")
            index += 2
            continue
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    cells.append("".join(current).strip())
    return cells


def header_name(cell: str) -> str:
    return " ".join(clean_inline(cell).lower().strip(" :*_").split())


def _columns(header: list[str], body: list[list[str]]) -> tuple[int, int] | None:
    names = [header_name(cell) for cell in header]
    asked = [i for i, name in enumerate(names) if name in QUESTION_HEADERS]
    answered = [i for i, name in enumerate(names) if name in ANSWER_HEADERS]
    if asked and answered and asked[0] != answered[0]:
        return asked[0], answered[0]
    content = [i for i, name in enumerate(names) if name not in _NUMBER_HEADERS or i > 0]
    if names and names[0] in _NUMBER_HEADERS and len(names) == 3:
        content = [1, 2]
    if len(content) != 2:
        return None
    first, second = content
    strengths = [question_strength(row[first]) for row in body if len(row) > first]
    strengths.append(question_strength(header[first]))
    return (first, second) if level_questions(strengths) else None


def _tables(doc: Doc) -> list[tuple[int, int]]:
    """(header line, last row line) of each Markdown table outside code."""
    found: list[tuple[int, int]] = []
    index = 0
    lines = doc.lines
    while index + 1 < len(lines):
        if (
            not doc.fenced[index]
            and "|" in lines[index]
            and not doc.fenced[index + 1]
            and _SEPARATOR.match(lines[index + 1])
            and "|" in lines[index + 1] + lines[index]
        ):
            end = index + 1
            while end + 1 < len(lines) and "|" in lines[end + 1] and not doc.fenced[end + 1]:
                end += 1
            found.append((index, end))
            index = end + 1
        else:
            index += 1
    return found


def parse_table(doc: Doc) -> list[NoteEntry]:
    """Rows of question tables (see the module docstring)."""
    entries: list[NoteEntry] = []
    for start, end in _tables(doc):
        header = split_row(doc.lines[start])
        rows = [(index, split_row(doc.lines[index])) for index in range(start + 2, end + 1)]
        columns = _columns(header, [cells for _, cells in rows])
        if columns is None:
            continue
        asked, answered = columns
        for index, cells in rows:
            question = question_text(cells[asked]) if len(cells) > asked else ""
            if not re.search(r"\w", question):
                continue
            raw = cells[answered] if len(cells) > answered else ""
            body = re.split(r"<br\s*/?>", raw, flags=re.IGNORECASE)
            answer = clean_answer(body)
            entries.append(
                NoteEntry(question, answer, index + 1, index + 1, placeholder_of(body, answer))
            )
    return entries
