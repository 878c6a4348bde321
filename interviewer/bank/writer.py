"""Write a bank as a folder ``load_bank`` reads: ``bank.toml`` and one TOML file per question.

The TOML is written here (the standard library only reads it): strings as basic strings with
every character TOML requires escaped, long text as multi-line strings, so the files stay
pleasant to edit by hand.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from interviewer.bank.loader import MANIFEST_NAME
from interviewer.bank.models import Bank, Question
from interviewer.errors import InterviewerError


class BankWriteError(InterviewerError):
    """A bank folder could not be written: the folder exists, or the disk refused."""


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]|\t|\n')


def _escape(text: str, *, newlines: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if char == "\n":
            return "\n" if newlines else "\\n"
        if char in _ESCAPES:
            return _ESCAPES[char]
        if 0xD800 <= ord(char) <= 0xDFFF:
            return "\ufffd"  # TOML holds Unicode scalar values only
        return f"\\u{ord(char):04x}"

    return _NEEDS_ESCAPE.sub(replace, text)


def toml_string(text: str) -> str:
    """``text`` as a TOML string: one line, or a multi-line string when it has line breaks."""
    if "\n" in text:
        return '"""\n' + _escape(text, newlines=True) + '"""'
    return '"' + _escape(text, newlines=False) + '"'


def toml_list(items: Sequence[str]) -> str:
    if not items:
        return "[]"
    one_line = "[" + ", ".join(toml_string(i.replace("\n", " ")) for i in items) + "]"
    if len(one_line) <= 96:
        return one_line
    return "[\n" + "".join(f"  {toml_string(i.replace(chr(10), ' '))},\n" for i in items) + "]"


def question_toml(question: Question, comment: str = "") -> str:
    """One question file."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()] if comment else []
    lines += [
        f"id = {toml_string(question.id)}",
        f"title = {toml_string(question.title)}",
        f"question = {toml_string(question.question)}",
        f"reference_answer = {toml_string(question.reference_answer)}",
        f"sources = {toml_list(question.sources)}",
        f"follow_up_angles = {toml_list(question.follow_up_angles)}",
    ]
    for point in question.key_points:
        lines += [
            "",
            "[[key_points]]",
            f"id = {toml_string(point.id)}",
            f"statement = {toml_string(point.statement)}",
            f"weight = {point.weight!r}",
            f"facts = {toml_list(point.facts)}",
            f"keywords = {toml_list(point.keywords)}",
        ]
    for misconception in question.misconceptions:
        lines += [
            "",
            "[[misconceptions]]",
            f"claim = {toml_string(misconception.claim)}",
            f"correction = {toml_string(misconception.correction)}",
        ]
    return "\n".join(lines) + "\n"


def manifest_toml(bank: Bank, comment: str = "") -> str:
    lines = [f"# {line}".rstrip() for line in comment.splitlines()] if comment else []
    lines += [
        f"id = {toml_string(bank.id)}",
        f"title = {toml_string(bank.title)}",
        f"description = {toml_string(bank.description)}",
        f"version = {bank.version}",
        "questions = [",
        *(f"  {toml_string(q.id)}," for q in bank.questions),
        "]",
    ]
    return "\n".join(lines) + "\n"


def write_bank(
    bank: Bank,
    folder: Path,
    *,
    force: bool = False,
    comments: dict[str, str] | None = None,
) -> Path:
    """Write ``bank`` into ``folder`` and return it.

    A folder that holds anything is only written with ``force``; then the bank's TOML files
    are replaced (question files no longer listed are removed, so the folder loads) and every
    other file, such as a ``calibration/`` folder, is left alone. Files appear all at once:
    the bank is written beside the folder first and moved into place.
    """
    comments = comments or {}
    folder = folder.expanduser()
    if folder.exists() and not folder.is_dir():
        raise BankWriteError(
            f"{folder} exists and is not a folder", "choose another output folder with -o"
        )
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise BankWriteError(
            f"{folder} already exists and is not empty; nothing was written",
            "pass --force to replace the bank in it, or choose another folder with -o",
        )
    files = {MANIFEST_NAME: manifest_toml(bank, comments.get(MANIFEST_NAME, ""))}
    for question in bank.questions:
        files[f"{question.id}.toml"] = question_toml(question, comments.get(question.id, ""))
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            for name, text in files.items():
                (staging / name).write_text(text, encoding="utf-8")
            if not folder.exists():
                staging.replace(folder)
                return folder
            for stale in folder.glob("*.toml"):
                if stale.name not in files:
                    stale.unlink()
            for name in files:
                (staging / name).replace(folder / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise BankWriteError(
            f"cannot write the bank to {folder}: {exc.strerror or exc}",
            "check that the folder is writable, or choose another with -o",
        ) from exc
    return folder
