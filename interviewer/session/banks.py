"""Where an interview finds its bank, and where a stored session finds the bank it was taken on.

:func:`open_bank` takes a bank folder, the built-in bank, or a notes file
(``interviewer run --bank notes.md``), imported by rule once per content and kept under the
data folder (``imported-banks/<name>-<hash>``), so the next start is instant, an edited file is
imported again, and a stored session finds the folder it was taken on (:func:`session_bank`).
"""

from __future__ import annotations

from pathlib import Path

from interviewer.bank import Bank, BankError, load_bank
from interviewer.bank.importer import NotesError, cached_notes_bank, is_notes_file
from interviewer.bank.writer import BankWriteError
from interviewer.config import Settings
from interviewer.errors import InterviewerError
from interviewer.resources import default_bank_dir
from interviewer.session.errors import SessionError
from interviewer.store import SessionSummary

IMPORTED_BANKS = "imported-banks"


def imported_banks_dir(settings: Settings) -> Path:
    """Where banks imported from notes files are kept: beside the session store, because
    stored sessions point at them."""
    return settings.store_path.parent / IMPORTED_BANKS


def open_bank(path: Path | None, settings: Settings) -> Bank:
    """The bank at ``path``: a bank folder, a notes file (imported once per content, see the
    module docstring), or the built-in bank when ``path`` is None.

    Raises :class:`SessionError` saying what is wrong with it."""
    target = (path or default_bank_dir()).expanduser()
    try:
        if is_notes_file(target):
            return cached_notes_bank(target, imported_banks_dir(settings))
        return load_bank(target)
    except BankError as exc:
        raise SessionError(f"the bank cannot be used:\n{exc}", exc.hint) from exc
    except (NotesError, BankWriteError) as exc:
        raise SessionError(
            f"the notes file {target} cannot be used as a bank: {exc}", exc.hint
        ) from exc


def find_session_bank(
    summary: SessionSummary, bank_dir: Path | None = None, settings: Settings | None = None
) -> tuple[Bank | None, list[str]]:
    """The bank a stored session was taken on: ``bank_dir`` if given (a folder, or a notes
    file: imported as ``run --bank notes.md`` imports it, into the data folder of
    ``settings``), else the folder it came from, else the built-in bank; with what was wrong
    with each place that did not fit."""
    if bank_dir is not None:
        candidates = [bank_dir]
    else:
        candidates = [Path(summary.bank_path)] if summary.bank_path else []
        candidates.append(default_bank_dir())
    problems: list[str] = []
    for folder in candidates:
        try:
            bank = _load_bank_at(folder, settings)
        except (BankError, InterviewerError) as exc:
            problems.append(f"{folder}: {exc}")
            continue
        if bank.id == summary.bank_id:
            return bank, problems
        problems.append(f"{folder}: holds the bank '{bank.id}'")
    return None, problems


def _load_bank_at(path: Path, settings: Settings | None) -> Bank:
    """A bank folder, or a notes file imported as a new interview imports one."""
    if path.is_file():
        return open_bank(path, settings or Settings())
    return load_bank(path)


def session_bank(
    summary: SessionSummary, bank_dir: Path | None = None, settings: Settings | None = None
) -> Bank:
    """:func:`find_session_bank`, or :class:`SessionError` saying where it looked."""
    bank, problems = find_session_bank(summary, bank_dir, settings)
    if bank is None:
        raise SessionError(
            f"the bank '{summary.bank_id}' of session {summary.id} cannot be found:\n"
            + "\n".join(problems),
            "pass --bank DIR with the bank the session was taken on",
        )
    return bank


def as_taken(bank: Bank, question_ids: list[str], title: str) -> Bank:
    """The bank as a session asked it: a review asks some of its questions, in its own order
    (called ``title``); any other session, all of them. Questions the bank no longer has are
    left to the resume check to report."""
    if not question_ids or question_ids == bank.question_ids:
        return bank
    if not set(question_ids) <= set(bank.question_ids):
        return bank
    return bank.model_copy(
        update={"title": title, "questions": tuple(bank.question(q) for q in question_ids)}
    )
