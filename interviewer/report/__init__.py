"""Reports: a stored session rendered as JSON, Markdown or HTML, written atomically.

Pure functions, no textual and no torch:

* ``render(transcript, bank, "md" | "json" | "html") -> str``: ``bank`` supplies key point
  statements and reference answers (None when it cannot be found: the report says so);
* ``write_report(text, path, force=False)``: atomic (temp file + rename); refuses to replace an
  existing file unless ``force``; raises :class:`ReportWriteError` with a clear message.

JSON is the transcript itself (with ``schema_version`` and any regrades) and validates against
``schemas/transcript.schema.json``. Candidate text renders literally in every format. Given the
review memory, Markdown and HTML show each key point's review state. Anki decks of the key points
missed are :mod:`interviewer.report.anki` (imported on its own: it needs genanki).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal, get_args

from interviewer.bank.models import Bank
from interviewer.report.html import render_html
from interviewer.report.markdown import render_markdown
from interviewer.report.view import build_view
from interviewer.report.write import ReportWriteError, write_atomic
from interviewer.review.memory import Memory
from interviewer.transcript import Transcript

Format = Literal["md", "json", "html"]
FORMATS: tuple[str, ...] = get_args(Format)

__all__ = ["FORMATS", "Format", "ReportWriteError", "render", "write_report"]


def render(
    transcript: Transcript,
    bank: Bank | None,
    fmt: Format,
    *,
    memory: Memory | None = None,
    now: datetime | None = None,
) -> str:
    """The report of ``transcript`` in ``fmt``; with the review ``memory``, each key point's
    review state at ``now`` too (Markdown and HTML)."""
    if fmt == "json":
        return transcript.model_dump_json(indent=2) + "\n"
    view = build_view(transcript, bank, memory, now)
    return render_markdown(view) if fmt == "md" else render_html(view)


def write_report(text: str | bytes, path: Path, *, force: bool = False) -> Path:
    """Write a rendered report atomically; see :func:`interviewer.report.write.write_atomic`."""
    return write_atomic(path, text, force=force)
