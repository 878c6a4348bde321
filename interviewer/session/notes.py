"""Banks drafted from a person's notes, and banks that check themselves.

* :func:`import_notes_bank` is ``interviewer bank import``: the rule-based draft, the model's
  checked draft where a model is asked for (or a GPU is there to run the default one), and
  the bank written and loaded back. (``run --bank notes.md`` imports by rule alone:
  :func:`interviewer.session.banks.open_bank`.)
* :func:`strict_findings` is ``interviewer bank check --strict``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from interviewer.authoring.drafts import DraftReport, draft_bank_questions
from interviewer.authoring.selfcheck import Finding, bank_findings
from interviewer.bank import Bank, BankError, load_bank
from interviewer.bank.importer import ImportedNotes, Skipped, file_comments, import_source
from interviewer.bank.sources import ReadOptions
from interviewer.bank.writer import BankWriteError, write_bank
from interviewer.config import Settings
from interviewer.errors import InterviewerError
from interviewer.llm.base import ChatModel, ModelError
from interviewer.prompts import PromptLibrary
from interviewer.session.graders import evidence_grader
from interviewer.session.graders import open_model as open_chat_model

# ----------------------------------------------------------------------------- bank import


@dataclass
class NotesImport:
    """A bank imported from notes, as written, and how it was drafted."""

    bank: Bank
    folder: Path
    layout: str
    skipped: tuple[Skipped, ...]
    drafter: str
    """``rules``, or the model that drafted."""
    reports: list[DraftReport] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    imported: ImportedNotes | None = None
    """What was read: the near misses and the notices of the reading too."""


def _gpu_likely() -> bool:
    """Whether an NVIDIA GPU may be here, without importing torch (seconds) to find out."""
    if sys.platform.startswith("linux"):
        return Path("/proc/driver/nvidia/version").exists() or any(
            Path("/dev").glob("nvidia[0-9]*")
        )
    return shutil.which("nvidia-smi") is not None


def drafting_model(settings: Settings, *, model_given: bool, rules: bool) -> tuple[bool, str]:
    """Whether ``bank import`` drafts with a model, and why (or why not).

    A model named on the command line (or a script for the scripted backend) always drafts;
    otherwise the configured or default model drafts only where a CUDA GPU can run it."""
    if rules:
        return False, "drafted by rule (--rules)"
    if settings.backend == "scripted":
        if settings.script is None:
            return False, "drafted by rule (the built-in demo script cannot draft)"
        return True, f"drafted by the script {settings.script}"
    if model_given:
        return True, f"drafted by {settings.model}"
    if settings.backend != "hf":  # a model server: no GPU of ours needed
        return True, f"drafted by the {settings.backend} backend's model"
    if not _gpu_likely():
        return False, "drafted by rule (no CUDA GPU here; --model X drafts with a model)"
    from interviewer.llm.hardware import probe

    if not probe().cuda:
        return False, "drafted by rule (no CUDA GPU here; --model X drafts with a model)"
    return True, "drafted by the default model for this GPU"


def import_notes_bank(
    settings: Settings,
    notes: Path,
    output: Path,
    *,
    layout: str | None = None,
    options: ReadOptions | None = None,
    force: bool = False,
    rules: bool = False,
    model_given: bool = False,
    check: bool = False,
    on_status: Callable[[str], None] = lambda _: None,
    open_model: Callable[[Settings, Callable[[str], None]], ChatModel] | None = None,
) -> NotesImport:
    """``interviewer bank import``: read ``notes``, draft, write the bank to ``output``.

    ``check``: also merge the key points the evidence signal cannot tell apart (loads the
    embedding model; a model draft always does). Raises :class:`InterviewerError` subclasses
    for everything a person can fix: no question found, an output folder that exists, a model
    that cannot load."""
    output = output.expanduser()
    if output.exists() and not output.is_dir():
        raise BankWriteError(
            f"{output} exists and is not a folder", "choose another folder with -o"
        )
    if output.is_dir() and any(output.iterdir()) and not force:
        raise BankWriteError(
            f"{output} already exists and is not empty; nothing was written",
            "pass --force to replace the bank in it, or choose another folder with -o",
        )
    imported: ImportedNotes = import_source(notes.expanduser(), layout, options)
    use_model, why = drafting_model(settings, model_given=model_given, rules=rules)
    notices: list[str] = []
    model: ChatModel | None = None
    if use_model:
        try:
            model = (open_model or open_chat_model)(settings, on_status)
        except ModelError as exc:
            if model_given:
                raise
            notices.append(f"the default model could not load ({exc}); drafted by rule instead")
            why = "drafted by rule (the model could not load)"
    questions = list(imported.bank.questions)
    reports: list[DraftReport] = []
    drafter = "rules"
    if model is not None or check:
        grader = evidence_grader(settings, on_status)
        if grader.embedder is None:
            notices.append("the checks used keywords only (no embedding model)")
        questions, reports = draft_bank_questions(
            questions, model, PromptLibrary(), grader, on_status
        )
        if model is not None:
            drafter = model.info.model_id
    bank = imported.bank.model_copy(update={"questions": tuple(questions)})
    how = why if model is not None else "drafted by rule from the answer's structure"
    write_bank(bank, output, force=force, comments=file_comments(imported, how))
    try:
        written = load_bank(output)
    except BankError as exc:  # a draft the checks let through that the loader refuses
        raise InterviewerError(
            f"the imported bank in {output} does not load:\n{exc}",
            "please report this with the notes file; `--rules` drafts without a model",
        ) from exc
    notices.insert(0, why)
    return NotesImport(
        written, output, imported.layout, imported.skipped, drafter, reports, notices, imported
    )


# ----------------------------------------------------------------------------- bank check


def strict_findings(
    bank: Bank, settings: Settings, on_status: Callable[[str], None] = lambda _: None
) -> tuple[list[Finding], str]:
    """``bank check --strict``: every finding of the evidence signal on ``bank``, and how the
    signal was computed."""
    grader = evidence_grader(settings, on_status)
    return bank_findings(bank, grader), grader.method
