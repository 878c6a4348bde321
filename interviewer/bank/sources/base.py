"""What every reader of questions and answers shares: its error, the text of a file, the
column or key names that mean "question" and "answer", and one entry made from two cells."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Sequence

from interviewer.bank.notes import NoteEntry, clean_inline
from interviewer.bank.notes.layouts import placeholder_of
from interviewer.bank.notes.markup import strip_markers
from interviewer.bank.notes.tables import ANSWER_HEADERS, QUESTION_HEADERS
from interviewer.bank.notes.text import clean_answer, html_to_text, question_text
from interviewer.errors import InterviewerError

MAX_NOTES_BYTES = 20 * 1024 * 1024
MAX_DECK_BYTES = 200 * 1024 * 1024


class NotesError(InterviewerError):
    """A notes file that cannot be imported: unreadable, or no question with an answer in it."""


QUESTION_NAMES = (
    "question",
    "q",
    "prompt",
    "front",
    "term",
    "query",
    "title",
    "instruction",
    "input",
    "text",
    "concept",
    "interview question",
    "question text",
)
"""Names of the question's column or key, in the order they are preferred."""
ANSWER_NAMES = (
    "answer",
    "a",
    "reference_answer",
    "reference answer",
    "model answer",
    "back",
    "response",
    "solution",
    "explanation",
    "definition",
    "output",
    "completion",
    "reference",
    "extra",
    "body",
)
assert set(QUESTION_HEADERS) <= set(QUESTION_NAMES) | {"questions", "the question"}
assert set(ANSWER_HEADERS) - {"answers", "the answer", "sample answer", "short answer"} <= set(
    ANSWER_NAMES
)


def name_key(name: str) -> str:
    """A column or key name as compared: lowercase, spaces for "_" and "-", no markup."""
    return " ".join(re.sub(r"[_\-]+", " ", clean_inline(name)).lower().strip(" :*").split())


def pick(names: Sequence[str], wanted: Sequence[str], avoid: int | None = None) -> int | None:
    """The position of the first of ``wanted`` among ``names`` (compared by
    :func:`name_key`), never ``avoid``; a plural ("Questions") counts where no name is exact
    (so "reference_answer" wins over a list of "answers")."""
    keys = [name_key(name) for name in names]
    for plural in ("", "s"):
        for want in wanted:
            want_key = name_key(want) + plural
            for index, key in enumerate(keys):
                if index != avoid and key == want_key:
                    return index
    return None


def decode_text(data: bytes, name: str, *, limit: int = MAX_NOTES_BYTES) -> str:
    """The text of a file: UTF-8 (with or without the BOM Excel writes) or UTF-16 with its
    BOM (Excel's "Unicode text"); a clear :class:`NotesError` otherwise."""
    if len(data) > limit:
        raise NotesError(
            f"{name} is {len(data) / 1e6:.0f} MB: too large to import "
            f"({limit // (1024 * 1024)} MB at most)",
            "split it into several files",
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise NotesError(
                f"{name} starts as UTF-16 text but byte {exc.start} cannot be decoded",
                "save the file again as UTF-8 (in Excel: 'CSV UTF-8')",
            ) from exc
    if b"\x00" in data[:8192]:
        raise NotesError(
            f"{name} looks like a binary file, not notes",
            "give a Markdown, text, CSV, JSON or Anki (.apkg) file of questions and answers",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotesError(
            f"{name} is not UTF-8 text (byte {exc.start} cannot be decoded)",
            "save the file as UTF-8 (any editor's 'Save with encoding' does it; in Excel: "
            "'CSV UTF-8')",
        ) from exc


def plain_field(value: str, *, html: bool) -> str:
    """A cell or field as Markdown-ish text: HTML turned to text where the source writes
    HTML (Anki), media references ("[sound:x.mp3]", images) dropped."""
    value = re.sub(r"\[sound:[^\]\n]*\]", "", value)
    if html or re.search(r"<(?:br|div|p|b|i|ul|li|img|span)\b", value, re.IGNORECASE):
        value = html_to_text(value)
        value = re.sub(r"</?[A-Za-z][A-Za-z0-9]*\b[^<>]*>", "", value)
    return value.replace("\r\n", "\n").replace("\r", "\n")


def cell_entry(
    question: str, answer: str, line: int, *, html: bool = False, end: int | None = None
) -> NoteEntry | None:
    """The entry of one row, object or note: None when it has no question."""
    if html:  # a question reads as plain text: no emphasis from <b>, no `code` from <code>
        question = re.sub(r"<br\s*/?>|</?(?:div|p|li)\b[^>]*>", " ", question, flags=re.I)
        question = re.sub(r"</?[A-Za-z][A-Za-z0-9]*\b[^<>]*>", "", question)
        question = html_module.unescape(question)
    asked = question_text(strip_markers(plain_field(question, html=False).replace("\n", " ")))
    if not re.search(r"\w", asked):
        return None
    body = plain_field(answer, html=html).split("\n")
    said = clean_answer(body)
    return NoteEntry(asked, said, line, end or line, placeholder_of(body, said))
