"""Import a notes file of questions and answers as a bank, by rule (no model, instant).

:func:`import_notes_text` reads the layout (:mod:`interviewer.bank.notes`), drafts each
answered question's rubric (:mod:`interviewer.bank.drafting`) and returns the bank with what it
skipped; :func:`cached_notes_bank` is what ``interviewer run --bank notes.md`` uses: the bank
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
from interviewer.bank.notes import LAYOUTS, NoteEntry, ParsedNotes, first_lines, parse_notes
from interviewer.bank.writer import BankWriteError, write_bank
from interviewer.errors import InterviewerError

IMPORTER_VERSION = 1
"""Part of the cache key: a change to the drafting rules imports cached notes again."""

MAX_NOTES_BYTES = 20 * 1024 * 1024

NOTES_SUFFIXES = (".md", ".markdown", ".txt", ".text", ".mdx", ".rst", ".html", ".htm")


class NotesError(InterviewerError):
    """A notes file that cannot be imported: unreadable, or no question with an answer in it."""


@dataclass(frozen=True)
class Skipped:
    """A question of the notes that is not in the bank, and why."""

    line: int
    question: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {_short(self.question)}: {self.reason}"


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


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def read_notes(path: Path) -> str:
    """The text of a notes file, or :class:`NotesError` saying why it cannot be read."""
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise NotesError(
            f"{path} is a folder, not a notes file",
            "give a Markdown or text file; a bank folder is used with --bank as it is",
        ) from exc
    except OSError as exc:
        raise NotesError(
            f"cannot read {path}: {exc.strerror or exc}", "check the path and its permissions"
        ) from exc
    return decode_notes(data, path.name)


def decode_notes(data: bytes, name: str) -> str:
    if len(data) > MAX_NOTES_BYTES:
        raise NotesError(
            f"{name} is {len(data) / 1e6:.0f} MB: too large for a notes file (20 MB at most)",
            "split it into several files",
        )
    if b"\x00" in data[:8192]:
        raise NotesError(
            f"{name} looks like a binary file, not notes",
            "give a Markdown or plain-text file of questions and answers",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotesError(
            f"{name} is not UTF-8 text (byte {exc.start} cannot be decoded)",
            "save the file as UTF-8 (any editor's 'Save with encoding' does it)",
        ) from exc


def _no_questions(parsed: ParsedNotes, text: str, name: str) -> NotesError:
    tried = "\n".join(f"  - {layout}: {LAYOUTS[layout]}" for layout in parsed.tried)
    shown = first_lines(text)
    begins = (
        "The file begins:\n" + "\n".join(f"  | {line}" for line in shown)
        if shown
        else "The file is empty."
    )
    return NotesError(
        f"no question found in {name}. Layouts tried:\n{tried}\n{begins}",
        "put each question on a line of its own ('## What is X?', 'Q: ...' then 'A: ...', "
        "'1. What is X?' with the answer below), or force a layout with --format",
    )


def _bank_identity(parsed: ParsedNotes, name: str) -> tuple[str, str]:
    stem = Path(name).stem or "notes"
    title = parsed.title or stem.replace("_", " ").replace("-", " ").strip() or "Notes"
    bank_id = slug(title, words=8, length=64) or slug(stem, length=64) or "notes"
    return bank_id, title


def import_notes_text(
    text: str, *, name: str = "notes.md", layout: str | None = None
) -> ImportedNotes:
    """The bank drafted by rule from the notes ``text`` (named ``name`` in messages and
    sources). ``layout`` forces one of :data:`~interviewer.bank.notes.LAYOUTS`.

    Raises :class:`NotesError` when no question, or no question with an answer, is found; a
    question without an answer is left out and listed in ``skipped``, never invented."""
    if layout is not None and layout not in LAYOUTS:
        raise NotesError(
            f"unknown layout '{layout}'", f"use one of: {', '.join(LAYOUTS)} (or leave it out)"
        )
    parsed = parse_notes(text, layout)
    if not parsed.entries:
        raise _no_questions(parsed, text, name)
    skipped = [
        Skipped(e.line, e.question, "no answer below it (skipped; nothing is invented)")
        for e in parsed.unanswered
    ]
    answered = parsed.answered
    if not answered:
        listing = "\n".join(f"  {s}" for s in skipped[:10])
        raise NotesError(
            f"{len(skipped)} question{'s' if len(skipped) != 1 else ''} found in {name} "
            f"({parsed.layout} layout), but none has an answer:\n{listing}",
            "write each answer below its question (or after 'A:'), then import again",
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
                sources=[f"{name}, line {entry.line}"],
            )
        except ValidationError as exc:  # a rule that failed on odd text: say so, never crash
            first = exc.errors(include_url=False)[0]
            skipped.append(
                Skipped(entry.line, entry.question, f"could not be drafted: {first['msg']}")
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
    bank = Bank(
        id=bank_id,
        title=title,
        description=(
            f"Imported from {name} ({parsed.layout} layout: {LAYOUTS[parsed.layout]}); "
            f"{len(questions)} questions."
        ),
        questions=tuple(questions),
    )
    return ImportedNotes(
        bank,
        parsed.layout,
        tuple(sorted(skipped, key=lambda s: s.line)),
        name,
        lines,
        entries,
    )


def import_notes(path: Path, layout: str | None = None) -> ImportedNotes:
    """:func:`import_notes_text` of the file at ``path``."""
    return import_notes_text(read_notes(path), name=path.name, layout=layout)


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
        comments[question_id] = (
            f"From {imported.source}, line {line}. Key points {how}; the reference answer is "
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
    imported = import_notes_text(decode_notes(data, path.name), name=path.name, layout=layout)
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
    "is_notes_file",
    "read_notes",
]
