"""Which grader an interview uses, and building it: the rules every front end shares.

The built-in demo script cannot grade, so it is graded by the evidence signal; a local model or
a model server grades with both signals; a resumed session is graded as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from interviewer.config import Settings
from interviewer.engine.grading import EvidenceGrader, Grader, GraderName, make_grader
from interviewer.llm.base import ChatModel, ModelError
from interviewer.prompts import PromptLibrary
from interviewer.session.errors import SessionError
from interviewer.store import SessionSummary


def can_grade(settings: Settings) -> bool:
    """Whether the chosen backend can act as the grader (the built-in demo cannot)."""
    return settings.backend in ("hf", "openai") or settings.script is not None


def grader_name(settings: Settings) -> GraderName:
    """The grader unless one is named: both signals with a local model or a model server, the
    script's grades with a scripted one, the evidence signal for the built-in demo."""
    if settings.grader is not None:
        return settings.grader
    if settings.backend in ("hf", "openai"):
        return "both"
    return "llm" if can_grade(settings) else "evidence"


def usable_grader(settings: Settings, name: GraderName | None = None) -> GraderName:
    """``name`` (default: :func:`grader_name`), or :class:`SessionError` when it needs grades
    that the built-in demo cannot give."""
    chosen = name or grader_name(settings)
    if chosen != "evidence" and not can_grade(settings):
        raise SessionError(
            "the built-in demo script cannot grade answers",
            "use --grader evidence, or give a --script that contains grades",
        )
    return chosen


def resume_grader(settings: Settings, summary: SessionSummary) -> Settings:
    """A resumed session is graded as it was: unless a grader is named, one graded by the
    evidence signal (or on a backend that cannot grade) goes on with the evidence signal."""
    if settings.grader is None and (summary.grader == "evidence" or not can_grade(settings)):
        return settings.model_copy(update={"grader": "evidence"})
    return settings


def open_grader(
    name: GraderName,
    settings: Settings,
    model: ChatModel | None,
    prompts: PromptLibrary,
    on_status: Callable[[str], None],
) -> Grader:
    """Build the grader ``name``. The evidence signal loads its embedding model here; when it
    cannot, the signal falls back to keywords and ``on_status`` says why (never a crash)."""
    embedder = None
    if name in ("evidence", "both") and settings.embedding_model.lower() != "none":
        from interviewer.llm.embeddings import open_embedder

        try:
            embedder = open_embedder(settings.embedding_model, on_status)
        except ModelError as exc:
            on_status(f"The evidence signal uses keywords only: {exc} ({exc.hint})")
    return make_grader(
        name, model, prompts, embedder, settings.evidence, min_confidence=settings.min_confidence
    )


def evidence_grader(settings: Settings, on_status: Callable[[str], None]) -> EvidenceGrader:
    """The evidence signal alone (no chat model): bank checks and drafts use it."""
    grader = open_grader("evidence", settings, None, PromptLibrary(), on_status)
    assert isinstance(grader, EvidenceGrader)
    return grader


def open_model(
    settings: Settings,
    on_status: Callable[[str], None],
    on_progress: Callable[[int, int], None] | None = None,
) -> ChatModel:
    """The chat model of ``settings``, through the backend factory (imported only here: it
    is the slow part)."""
    from interviewer.llm.factory import open_model as factory_open

    return factory_open(settings, on_status, on_progress)
