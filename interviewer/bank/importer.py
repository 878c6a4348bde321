"""Import a file of questions and answers as a bank, by rule (no model, instant).

:func:`import_source` reads a notes file (its layout: :mod:`interviewer.bank.notes`), a
spreadsheet, JSON, an Anki deck, or a folder of them (:mod:`interviewer.bank.sources`), drafts
each answered question's rubric (:mod:`interviewer.bank.drafting`) and returns the bank with
what it skipped and the near misses (lines that looked like questions and were not read as
one); :func:`cached_notes_bank` is what ``interviewer run --bank notes.md`` uses: the bank
is imported once per content of the file and kept in a folder named by its hash, so the next
start is instant, an edited file is imported again, and a stored session can always find the
folder it was taken on. Model-drafted key points are a layer up
(:mod:`interviewer.authoring.drafts`); they start from this draft.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from interviewer.bank.drafting import Vocabulary, draft_question, slug, unique
from interviewer.bank.loader import MANIFEST_NAME, BankError, load_bank
from interviewer.bank.models import Bank, Question
from interviewer.bank.notes import NearMiss, NoteEntry, ParsedNotes, first_lines
from interviewer.bank.notes.layouts import EMPTY_BLOCK
from interviewer.bank.sources import (
    ALL_FORMATS,
    FORMATS,
    UNITS,
    ReadOptions,
    detect_format,
    read_folder,
    read_source,
)
from interviewer.bank.sources.base import MAX_NOTES_BYTES, NotesError, decode_text
from interviewer.bank.writer import BankWriteError, write_bank

IMPORTER_VERSION = 2
"""Part of the cache key: a change to the drafting rules imports cached notes again."""


@dataclass(frozen=True)
class Skipped:
    """A question of the notes that is not in the bank, and why."""

    line: int
    question: str
    reason: str
    unit: str = "line"
    """What ``line`` counts: a line of the file, an item of a JSON list, a note of a deck."""
    source: str = ""
    """The file, when a folder is imported."""

    def __str__(self) -> str:
        where = f"{self.source}, " if self.source else ""
        return f"{where}{self.unit} {self.line}: {_short(self.question)}: {self.reason}"


@dataclass(frozen=True)
class ImportedNotes:
    """A bank drafted from notes, how its notes were read, and what was left out."""

    bank: Bank
    layout: str
    skipped: tuple[Skipped, ...]
    source: str
    """The notes file's name."""
    lines: dict[str, int]
    """The line of each question of the bank in the notes."""
    entries: dict[str, NoteEntry]
    """The question and answer each question of the bank was drafted from."""
    near_misses: tuple[NearMiss, ...] = ()
    """Lines that looked like questions and were not read as one, with why."""
    notices: tuple[str, ...] = ()
    """What else the reading said (a file of a folder that gave no question)."""


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def read_notes(path: Path) -> str:
    """The text of a notes file, or :class:`NotesError` saying why it cannot be read."""
    return decode_notes(_read_bytes(path), path.name)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise NotesError(
            f"{path} is a folder, not a notes file",
            "give a file of questions; a bank folder is used with --bank as it is",
        ) from exc
    except OSError as exc:
        raise NotesError(
            f"cannot read {path}: {exc.strerror or exc}", "check the path and its permissions"
        ) from exc


def decode_notes(data: bytes, name: str) -> str:
    """The text of a notes file's bytes (UTF-8, with or without a BOM, or UTF-16 with one)."""
    return decode_text(data, name, limit=MAX_NOTES_BYTES)


def _near_miss_lines(parsed: ParsedNotes, limit: int = 12) -> str:
    misses = parsed.near_misses
    if not misses:
        return ""
    more = f"\n  ... and {len(misses) - limit} more" if len(misses) > limit else ""
    return (
        "\nLines that look like questions:\n"
        + "\n".join(f"  {miss}" for miss in misses[:limit])
        + more
    )


def _no_questions(parsed: ParsedNotes, text: str, name: str) -> NotesError:
    if parsed.tried and all(t in FORMATS for t in parsed.tried) and len(parsed.tried) == 1:
        return NotesError(
            f"no question found in {name} ({parsed.tried[0]}: {FORMATS[parsed.tried[0]]})"
            + _near_miss_lines(parsed),
            "check that the file has rows with a question and an answer; --columns or --keys "
            "name where they are",
        )
    tried = "\n".join(f"  - {layout}: {ALL_FORMATS.get(layout, layout)}" for layout in parsed.tried)
    shown = first_lines(text)
    begins = (
        "The file begins:\n" + "\n".join(f"  | {line}" for line in shown)
        if shown
        else "The file is empty."
    )
    return NotesError(
        f"no question found in {name}. Layouts tried:\n{tried}\n{begins}"
        + _near_miss_lines(parsed),
        "put each question on a line of its own ('## What is X?', 'Q: ...' then 'A: ...', "
        "'1. What is X?' with the answer below), or force a layout with --format",
    )


def _bank_identity(parsed: ParsedNotes, name: str) -> tuple[str, str]:
    stem = Path(name).stem or "notes"
    title = parsed.title or stem.replace("_", " ").replace("-", " ").strip() or "Notes"
    bank_id = slug(title, words=8, length=64) or slug(stem, length=64) or "notes"
    return bank_id, title


def import_notes_text(
    text: str,
    *,
    name: str = "notes.md",
    layout: str | None = None,
    options: ReadOptions | None = None,
) -> ImportedNotes:
    """The bank drafted by rule from the notes ``text`` (named ``name`` in messages and
    sources). ``layout`` forces one of :data:`~interviewer.bank.sources.ALL_FORMATS`.

    Raises :class:`NotesError` when no question, or no question with an answer, is found; a
    question without an answer is left out and listed in ``skipped``, never invented."""
    _check_format(layout)
    if layout in FORMATS:
        parsed = read_source(text.encode("utf-8"), name, layout, options)
    else:
        from interviewer.bank.notes import parse_notes

        every = options.every_heading if options else False
        parsed = parse_notes(text, layout, every_heading=every)
    return import_parsed(parsed, name, text=text)


def _check_format(layout: str | None) -> None:
    if layout is not None and layout not in ALL_FORMATS:
        raise NotesError(
            f"unknown format '{layout}'", f"use one of: {', '.join(ALL_FORMATS)} (or leave it out)"
        )


def import_source(
    path: Path, layout: str | None = None, options: ReadOptions | None = None
) -> ImportedNotes:
    """The bank of the file or folder at ``path`` (see the module docstring)."""
    _check_format(layout)
    if path.is_dir():
        parsed, notices = read_folder(path, layout, options)
        return import_parsed(parsed, path.name, notices=notices)
    data = _read_bytes(path)
    parsed = read_source(data, path.name, layout, options)
    shown = (
        ""
        if detect_format(path.name, data) == "apkg"
        else data[:4096].decode("utf-8", errors="replace")
    )
    return import_parsed(parsed, path.name, text=shown)


def _skipped(entry: NoteEntry, unit: str, tabular: bool) -> Skipped:
    if entry.placeholder == EMPTY_BLOCK:
        reason = "its <details> block is empty; skipped, never invented"
    elif entry.placeholder:
        reason = (
            f"its answer is only a placeholder ({entry.placeholder!r}); skipped, never invented"
        )
    elif tabular:
        reason = "its answer is empty (skipped; nothing is invented)"
    else:
        reason = "no answer below it (skipped; nothing is invented)"
    return Skipped(entry.line, entry.question, reason, entry.unit or unit, entry.source)


def _unique_entries(parsed: ParsedNotes, unit: str) -> tuple[list[NoteEntry], list[Skipped]]:
    """The answered entries, each question and answer once; the rest as skipped."""
    seen: dict[tuple[str, str], NoteEntry] = {}
    kept: list[NoteEntry] = []
    skipped: list[Skipped] = []
    for entry in parsed.entries:
        if not entry.answer:
            tabular = parsed.layout in FORMATS or parsed.layout.startswith("folder")
            skipped.append(_skipped(entry, unit, tabular))
            continue
        key = (" ".join(entry.question.split()).lower(), " ".join(entry.answer.split()))
        first = seen.get(key)
        if first is not None:
            where = f"{first.source}, " if first.source and first.source != entry.source else ""
            skipped.append(
                Skipped(
                    entry.line,
                    entry.question,
                    f"the same question and answer as {where}{first.unit or unit} {first.line}",
                    entry.unit or unit,
                    entry.source,
                )
            )
            continue
        seen[key] = entry
        kept.append(entry)
    return kept, skipped


def import_parsed(
    parsed: ParsedNotes, name: str, *, text: str = "", notices: Sequence[str] = ()
) -> ImportedNotes:
    """The bank drafted by rule from what a reader found (see :func:`import_notes_text`)."""
    if not parsed.entries:
        if notices:
            raise NotesError(
                f"no question found in {name}:\n" + "\n".join(f"  {n}" for n in notices),
                "check the files listed above",
            )
        raise _no_questions(parsed, text, name)
    unit = UNITS.get(parsed.layout, "line")
    answered, skipped = _unique_entries(parsed, unit)
    if not answered:
        listing = "\n".join(f"  {s}" for s in skipped[:10])
        raise NotesError(
            f"{len(skipped)} question{'s' if len(skipped) != 1 else ''} found in {name} "
            f"({parsed.layout} layout), but none has an answer:\n{listing}"
            + _near_miss_lines(parsed),
            "fill in the answer of each question (its cell, key or field), then import again"
            if parsed.layout in FORMATS
            else "write each answer below its question (or after 'A:'), then import again",
        )
    vocabulary = Vocabulary(e.answer for e in answered)
    used: set[str] = set()
    questions: list[Question] = []
    lines: dict[str, int] = {}
    entries: dict[str, NoteEntry] = {}
    for number, entry in enumerate(answered, start=1):
        question_id = unique(slug(entry.question), used, f"q{number}")
        try:
            question = draft_question(
                entry.question,
                entry.answer,
                question_id=question_id,
                vocabulary=vocabulary,
                sources=[f"{entry.source or name}, {entry.unit or unit} {entry.line}"],
            )
        except ValidationError as exc:  # a rule that failed on odd text: say so, never crash
            first = exc.errors(include_url=False)[0]
            skipped.append(
                Skipped(
                    entry.line,
                    entry.question,
                    f"could not be drafted: {first['msg']}",
                    entry.unit or unit,
                    entry.source,
                )
            )
            continue
        questions.append(question)
        lines[question.id] = entry.line
        entries[question.id] = entry
    if not questions:
        raise NotesError(
            f"no question of {name} could be drafted:\n"
            + "\n".join(f"  {s}" for s in skipped[:10]),
            "check the answers listed above",
        )
    bank_id, title = _bank_identity(parsed, name)
    described = ALL_FORMATS.get(parsed.layout)
    how = f"{parsed.layout} layout: {described}" if described else f"{parsed.layout} layout"
    bank = Bank(
        id=bank_id,
        title=title,
        description=f"Imported from {name} ({how}); {len(questions)} questions.",
        questions=tuple(questions),
    )
    return ImportedNotes(
        bank,
        parsed.layout,
        tuple(sorted(skipped, key=lambda s: (s.source, s.line))),
        name,
        lines,
        entries,
        parsed.near_misses,
        tuple(notices),
    )


def import_notes(path: Path, layout: str | None = None) -> ImportedNotes:
    """:func:`import_source` of the file at ``path``."""
    return import_source(path, layout)


def file_comments(imported: ImportedNotes, note: str = "") -> dict[str, str]:
    """The comment at the top of each file of an imported bank: where it came from."""
    how = note or "drafted by rule from the answer's structure"
    comments = {
        MANIFEST_NAME: (
            f"Imported from {imported.source} by `interviewer bank import` "
            f"({imported.layout} layout).\nEdit freely; `interviewer bank check --strict "
            "DIR` checks the bank."
        )
    }
    for question_id, line in imported.lines.items():
        entry = imported.entries.get(question_id)
        source = entry.source if entry is not None and entry.source else imported.source
        unit = (entry.unit if entry is not None else "") or UNITS.get(imported.layout, "line")
        comments[question_id] = (
            f"From {source}, {unit} {line}. Key points {how}; the reference answer is "
            "the notes' own."
        )
    return comments


def notes_cache_key(data: bytes, layout: str | None = None) -> str:
    """What names a cached import: the file's content, the layout asked for and the rules."""
    digest = hashlib.sha256(f"notes-v{IMPORTER_VERSION}:{layout or 'auto'}:".encode())
    digest.update(data)
    return digest.hexdigest()[:16]


def cached_notes_bank(path: Path, cache_root: Path, layout: str | None = None) -> Bank:
    """The bank of the notes file ``path``, imported into ``cache_root`` once per content.

    The folder is ``<name>-<hash>``: the same file loads from it at once, an edited file gets
    a folder of its own (sessions taken on the old one still find it). Where the folder cannot
    be written, the bank is returned from memory."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotesError(
            f"cannot read {path}: {exc.strerror or exc}", "check the path and its permissions"
        ) from exc
    folder = cache_root / f"{slug(path.stem, length=40) or 'notes'}-{notes_cache_key(data, layout)}"
    if (folder / MANIFEST_NAME).is_file():
        try:
            return load_bank(folder)
        except BankError:
            shutil.rmtree(folder, ignore_errors=True)  # damaged: import it again
    imported = import_parsed(
        read_source(data, path.name, layout),
        path.name,
        text=data[:4096].decode("utf-8", errors="replace"),
    )
    try:
        write_bank(imported.bank, folder, comments=file_comments(imported))
    except BankWriteError:
        if not (folder / MANIFEST_NAME).is_file():
            # The data folder cannot be written: the interview can still run on the bank in
            # memory (a stored session then finds it again with --bank NOTES).
            return imported.bank
    return load_bank(folder)


def is_notes_file(path: Path) -> bool:
    """Whether ``path`` names a notes file rather than a bank folder."""
    return path.is_file()


__all__: Sequence[str] = [
    "IMPORTER_VERSION",
    "ImportedNotes",
    "NotesError",
    "Skipped",
    "cached_notes_bank",
    "file_comments",
    "import_notes",
    "import_notes_text",
    "import_parsed",
    "import_source",
    "is_notes_file",
    "read_notes",
]
