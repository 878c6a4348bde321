"""Spreadsheets: CSV and TSV files, and Anki's plain-text export of notes.

A header row names the question and answer columns ("Question", "Answer", "Front", "Back"
...; see :data:`~interviewer.bank.sources.base.QUESTION_NAMES`), or ``--columns`` does (names
or 1-based numbers: ``--columns Prompt,Model answer`` or ``--columns 2,4``). A file of two
columns without a header is read when its first cell reads as a question. The delimiter is
the tab for ``.tsv``, else sniffed among ``,``, ``;`` (Excel in many locales), tab and ``|``.

Anki's export ("Notes in Plain Text") is tab-separated, may start with ``#separator:``,
``#html:`` and ``#... column:`` lines, and writes HTML in its fields: the first field is the
question and the second the answer (after its guid, note type and deck columns).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from interviewer.bank.notes import NearMiss, NoteEntry, ParsedNotes
from interviewer.bank.notes.text import question_strength
from interviewer.bank.sources.base import (
    ANSWER_NAMES,
    QUESTION_NAMES,
    NotesError,
    cell_entry,
    pick,
)
from interviewer.bank.sources.cloze import cloze_entries, has_cloze

csv.field_size_limit(16 * 1024 * 1024)

TABULAR_FORMATS = {
    "csv": "a CSV file with a header row naming the question and answer columns (or --columns)",
    "tsv": "the same, tab-separated (as Excel and Google Sheets export it)",
    "anki-text": "Anki's 'Notes in Plain Text' export (tab-separated fields, HTML inside)",
}


@dataclass(frozen=True)
class Columns:
    question: int
    answer: int
    header: bool


def parse_columns(spec: str) -> tuple[str, str]:
    """``--columns Q,A`` as its two names or numbers."""
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) != 2 or not all(parts):
        raise NotesError(
            f"--columns {spec!r} does not name two columns",
            "give the question column and the answer column, by header name or 1-based "
            "number: --columns Question,Answer or --columns 1,3",
        )
    return parts[0], parts[1]


def _named(
    header: list[str], spec: tuple[str, str], name: str, second: list[str] | None
) -> Columns:
    found: list[int] = []
    for wanted in spec:
        if wanted.isdigit():
            index = int(wanted) - 1
            if not 0 <= index < max(len(header), 1):
                raise NotesError(
                    f"--columns: {name} has no column {wanted} (its first row has {len(header)})",
                    "count the columns from 1, or name them by their header",
                )
            found.append(index)
            continue
        index_or_none = pick(header, [wanted])
        if index_or_none is None:
            shown = ", ".join(repr(cell) for cell in header[:12])
            raise NotesError(
                f"--columns: {name} has no column named {wanted!r} (its header: {shown})",
                "name a column of the header, or give its 1-based number",
            )
        found.append(index_or_none)
    header_row = not all(wanted.isdigit() for wanted in spec)
    if not header_row and second is not None:
        # By number: the first row is a header when it does not ask and the next row does.
        def asks(row: list[str]) -> int:
            return question_strength(row[found[0]]) if len(row) > found[0] else 0

        header_row = asks(header) == 0 and asks(second) > 0
    return Columns(found[0], found[1], header_row)


def _detect(header: list[str], name: str) -> Columns:
    asked = pick(header, QUESTION_NAMES)
    said = pick(header, ANSWER_NAMES, avoid=asked)
    if asked is not None and said is not None:
        return Columns(asked, said, True)
    filled = [cell for cell in header if cell.strip()]
    if len(filled) >= 2 and question_strength(header[0]) > 0:
        return Columns(0, 1, False)  # no header: the first row is a question already
    shown = ", ".join(repr(cell[:30]) for cell in header[:12]) or "(empty)"
    raise NotesError(
        f"{name}: cannot tell which columns hold the questions and the answers (first row: "
        f"{shown})",
        "give the header row a 'Question' and an 'Answer' column, or pass --columns "
        "Question,Answer (header names or 1-based numbers)",
    )


def sniff_delimiter(text: str, name: str) -> str:
    if name.lower().endswith((".tsv", ".tab")):
        return "\t"
    sample = "\n".join(text.split("\n", 20)[:20])
    counts = {d: sample.count(d) for d in (",", ";", "\t", "|")}
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _rows(text: str, delimiter: str, name: str) -> list[tuple[int, list[str]]]:
    """(line, cells) of every row that is not blank."""
    reader = csv.reader(text.splitlines(keepends=True) or [""], delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise NotesError(
            f"{name}, line {reader.line_num}: {exc}",
            "check the quoting of that row (a cell with the delimiter or a line break in it "
            "must be in double quotes)",
        ) from exc
    return rows


def read_table(
    text: str,
    name: str,
    *,
    delimiter: str | None = None,
    columns: tuple[str, str] | None = None,
    html: bool = False,
    layout: str = "csv",
) -> ParsedNotes:
    """The questions of a CSV or TSV file's text (see the module docstring)."""
    text = text.replace("\x00", "")
    rows = _rows(text, delimiter or sniff_delimiter(text, name), name)
    if not rows:
        return ParsedNotes(layout, None, (), (layout,))
    header = rows[0][1]
    second = rows[1][1] if len(rows) > 1 else None
    chosen = _named(header, columns, name, second) if columns else _detect(header, name)
    body = rows[1:] if chosen.header else rows
    entries: list[NoteEntry] = []
    misses: list[NearMiss] = []
    for line, cells in body:
        question = cells[chosen.question] if len(cells) > chosen.question else ""
        answer = cells[chosen.answer] if len(cells) > chosen.answer else ""
        if has_cloze(question):
            entries.extend(cloze_entries(question, answer, line, html=html))
            continue
        entry = cell_entry(question, answer, line, html=html)
        if entry is not None:
            entries.append(entry)
        elif answer.strip():
            misses.append(
                NearMiss(line, answer, "has an answer but no question: fill in its question cell")
            )
    return ParsedNotes(layout, None, tuple(entries), (layout,), tuple(misses))


_ANKI_HEADER = re.compile(r"^#([a-z ]+):(.*)$")


def is_anki_text(text: str) -> bool:
    return bool(re.match(r"^#(?:separator|html|notetype|deck|tags|columns|guid)", text))


def read_anki_text(text: str, name: str, columns: tuple[str, str] | None = None) -> ParsedNotes:
    """Anki's plain-text export (see the module docstring)."""
    lines = text.split("\n")
    settings: dict[str, str] = {}
    while lines and _ANKI_HEADER.match(lines[0].strip()):
        match = _ANKI_HEADER.match(lines[0].strip())
        assert match is not None
        settings[match.group(1).strip()] = match.group(2).strip()
        lines.pop(0)
    skipped_lines = len(text.split("\n")) - len(lines)
    separator = {"tab": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|"}.get(
        settings.get("separator", "tab").lower(), "\t"
    )
    html = settings.get("html", "true").lower() != "false"
    meta = [
        int(value) - 1
        for key, value in settings.items()
        if key.endswith(" column") and key != "tags column" and value.isdigit()
    ]
    fields = [index for index in range(64) if index not in meta]
    spec = columns or (str(fields[0] + 1), str(fields[1] + 1))
    body = "\n" * skipped_lines + "\n".join(lines)
    parsed = read_table(
        body, name, delimiter=separator, columns=spec, html=html, layout="anki-text"
    )
    return parsed
