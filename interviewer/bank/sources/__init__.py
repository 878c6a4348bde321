"""Questions and answers from the files people keep them in, each read as
:class:`~interviewer.bank.notes.ParsedNotes` for the importer:

* notes in Markdown or text (:mod:`interviewer.bank.notes`: every layout detected, or forced);
* spreadsheets, CSV and TSV, and Anki's plain-text export (:mod:`.tabular`);
* JSON and JSON Lines (:mod:`.jsonqa`);
* Anki packages, ``.apkg`` (:mod:`.anki`);
* a folder of such files, read as one bank, each file's questions in order (:func:`read_folder`).

The format is told by the file's name and content, or forced (``--format``). Every reader
raises :class:`NotesError` (an :class:`~interviewer.errors.InterviewerError` with a hint) for
anything it cannot read, never another exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from interviewer.bank.notes import LAYOUTS, NearMiss, NoteEntry, ParsedNotes, parse_notes
from interviewer.bank.sources.anki import ANKI_FORMATS, read_apkg
from interviewer.bank.sources.base import (
    ANSWER_NAMES,
    MAX_DECK_BYTES,
    QUESTION_NAMES,
    NotesError,
    decode_text,
    pick,
)
from interviewer.bank.sources.jsonqa import JSON_FORMATS, looks_like_jsonl, read_json, read_jsonl
from interviewer.bank.sources.tabular import (
    TABULAR_FORMATS,
    is_anki_text,
    read_anki_text,
    read_table,
)

FORMATS: dict[str, str] = {**TABULAR_FORMATS, **JSON_FORMATS, **ANKI_FORMATS}
"""Every format other than the notes layouts, with what it looks like."""

ALL_FORMATS: dict[str, str] = {**LAYOUTS, **FORMATS}
"""What ``--format`` takes: a notes layout or a file format."""

NOTES_SUFFIXES = (".md", ".markdown", ".txt", ".text", ".mdx", ".rst", ".html", ".htm")
SOURCE_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".apkg": "apkg",
    ".colpkg": "apkg",
}
MAX_FOLDER_FILES = 500
UNITS = {"json": "item", "apkg": "note"}
"""What a position in each format counts (a line elsewhere)."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file beyond its format: ``--columns``, ``--keys``,
    ``--questions-from-headings``."""

    columns: tuple[str, str] | None = None
    keys: tuple[str, str] | None = None
    every_heading: bool = False


def detect_format(name: str, data: bytes) -> str:
    """The format of a file: by its suffix, else by its first bytes ("notes" for Markdown or
    text, whose layout is detected in turn)."""
    suffix = Path(name).suffix.lower()
    if suffix in SOURCE_SUFFIXES:
        return SOURCE_SUFFIXES[suffix]
    if data.startswith(b"PK\x03\x04"):
        return "apkg"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"#separator:") or head.startswith(b"#html:"):
        return "anki-text"
    if head[:1] == b"[" or (head[:1] == b"{" and not looks_like_jsonl(_head_text(head))):
        return "json"
    if head[:1] == b"{":
        return "jsonl"
    return "notes"


def _head_text(head: bytes) -> str:
    return head.decode("utf-8", errors="replace")


def read_source(
    data: bytes, name: str, fmt: str | None = None, options: ReadOptions | None = None
) -> ParsedNotes:
    """The questions of one file's bytes. ``fmt``: a notes layout or a format of
    :data:`FORMATS` (None: detected)."""
    options = options or ReadOptions()
    if fmt is not None and fmt not in ALL_FORMATS:
        raise NotesError(
            f"unknown format '{fmt}'", f"use one of: {', '.join(ALL_FORMATS)} (or leave it out)"
        )
    chosen = fmt if fmt in FORMATS else None
    if chosen is None and fmt is None:
        detected = detect_format(name, data)
        chosen = detected if detected in FORMATS else None
    if chosen == "apkg":
        return read_apkg(data, name)
    text = decode_text(data, name, limit=MAX_DECK_BYTES if chosen else 20 * 1024 * 1024)
    if chosen in ("csv", "tsv"):
        delimiter = "\t" if chosen == "tsv" else None
        return read_table(text, name, delimiter=delimiter, columns=options.columns, layout=chosen)
    if chosen == "anki-text" or (chosen is None and fmt is None and is_anki_text(text)):
        return read_anki_text(text, name, options.columns)
    if chosen is None and fmt is None and _tab_header(text):
        return read_table(text, name, delimiter="\t", layout="tsv")  # Excel's "Unicode text"
    if chosen == "json":
        return read_json(text, name, options.keys)
    if chosen == "jsonl":
        return read_jsonl(text, name, options.keys)
    return parse_notes(text, fmt, every_heading=options.every_heading)


def _tab_header(text: str) -> bool:
    """Whether a text file starts with a tab-separated header naming a question column and
    an answer column (a spreadsheet saved as text)."""
    first = text.split("\n", 1)[0]
    if "\t" not in first:
        return False
    cells = first.split("\t")
    asked = pick(cells, QUESTION_NAMES)
    return asked is not None and pick(cells, ANSWER_NAMES, avoid=asked) is not None


def _natural(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def folder_files(folder: Path) -> list[Path]:
    """The files of ``folder`` that may hold questions, in natural order ("2-x" before
    "10-x"); hidden files and other kinds skipped."""
    suffixes = set(NOTES_SUFFIXES) | set(SOURCE_SUFFIXES)
    try:
        found = [
            path
            for path in folder.iterdir()
            if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in suffixes
        ]
    except OSError as exc:
        raise NotesError(
            f"cannot list the folder {folder}: {exc.strerror or exc}", "check its permissions"
        ) from exc
    return sorted(found, key=_natural)[:MAX_FOLDER_FILES]


def read_folder(
    folder: Path, fmt: str | None = None, options: ReadOptions | None = None
) -> tuple[ParsedNotes, list[str]]:
    """Every file of ``folder`` as one set of questions, each file's in order, and a notice
    for each file that gave none (and why). Each entry names its file."""
    files = folder_files(folder)
    if not files:
        raise NotesError(
            f"{folder} holds no file of questions",
            "put Markdown, text, CSV, TSV, JSON, JSON Lines or .apkg files in it",
        )
    entries: list[NoteEntry] = []
    misses: list[NearMiss] = []
    notices: list[str] = []
    kinds: list[str] = []
    for path in files:
        try:
            data = path.read_bytes()
            parsed = read_source(data, path.name, fmt, options)
        except OSError as exc:
            notices.append(f"{path.name}: cannot be read ({exc.strerror or exc}); skipped")
            continue
        except NotesError as exc:
            notices.append(f"{path.name}: {exc} ({exc.hint}); skipped")
            continue
        if not parsed.entries:
            notices.append(f"{path.name}: no question found ({parsed.layout}); skipped")
            continue
        kinds.append(parsed.layout)
        unit = UNITS.get(parsed.layout, "line")
        entries.extend(replace(e, source=path.name, unit=unit) for e in parsed.entries)
        misses.extend(
            NearMiss(miss.line, miss.text, f"({path.name}) {miss.why}")
            for miss in parsed.near_misses
        )
    layout = "folder of " + ", ".join(sorted(set(kinds))) if kinds else "folder"
    title = folder.name.replace("_", " ").replace("-", " ").strip() or None
    parsed_all = ParsedNotes(layout, title, tuple(entries), tuple(ALL_FORMATS), tuple(misses))
    return parsed_all, notices


__all__ = [
    "ALL_FORMATS",
    "FORMATS",
    "UNITS",
    "NotesError",
    "ReadOptions",
    "detect_format",
    "folder_files",
    "read_folder",
    "read_source",
]
