"""Open the model the settings ask for. The heavy stacks load only for the hf backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from interviewer.llm.base import ChatModel, ModelError
from interviewer.llm.catalog import choose_model, smaller_than
from interviewer.llm.scripted import ScriptedModel

if TYPE_CHECKING:
    from interviewer.config import Settings
    from interviewer.engine.grading import Grader, GraderName
    from interviewer.prompts import PromptLibrary


def can_grade(settings: Settings) -> bool:
    """Whether the chosen backend can act as the grader (the built-in demo cannot)."""
    return settings.backend == "hf" or settings.script is not None


def grader_name(settings: Settings) -> GraderName:
    """The grader ``run``, ``resume`` and ``regrade`` use unless one is named: both signals with
    a local model, the script's grades with a scripted one, evidence for the built-in demo."""
    if settings.grader is not None:
        return settings.grader
    if settings.backend == "hf":
        return "both"
    return "llm" if can_grade(settings) else "evidence"


def open_grader(
    name: GraderName,
    settings: Settings,
    model: ChatModel | None,
    prompts: PromptLibrary,
    on_status: Callable[[str], None],
) -> Grader:
    """Build the grader ``name``. The evidence signal loads its embedding model here; when it
    cannot, the signal falls back to keywords and ``on_status`` says why (never a crash)."""
    from interviewer.engine.grading import make_grader

    embedder = None
    if name in ("evidence", "both") and settings.embedding_model.lower() != "none":
        from interviewer.llm.embeddings import open_embedder

        try:
            embedder = open_embedder(settings.embedding_model, on_status)
        except ModelError as exc:
            on_status(f"The evidence signal uses keywords only: {exc} ({exc.hint})")
    return make_grader(
        name,
        model,
        prompts,
        embedder,
        settings.evidence,
        min_confidence=settings.min_confidence,
    )


def open_model(
    settings: Settings,
    on_status: Callable[[str], None],
    on_progress: Callable[[int, int], None] | None = None,
) -> ChatModel:
    """Build or load the chat model; raises ModelError with advice when it cannot.

    ``on_status`` hears each stage; ``on_progress`` (bytes done, bytes total) a download."""
    if settings.backend == "scripted":
        if settings.script is not None:
            return ScriptedModel.from_file(settings.script)
        return ScriptedModel()

    from interviewer.llm.hardware import probe
    from interviewer.llm.hf import HFModelConfig, load_hf_model

    model_id = settings.model
    if model_id is None:
        on_status("Checking the GPU")
        choice = choose_model(probe())
        model_id = choice.model_id
        on_status(f"Model: {model_id} ({choice.why})")
    config = HFModelConfig(
        model=model_id,
        revision=settings.revision,
        quantization=settings.quantization,
        compute_dtype=settings.compute_dtype,
        device=settings.device,
        trust_remote_code=settings.trust_remote_code,
        allow_pickle=settings.allow_pickle,
        chat_template=settings.chat_template,
        decode=settings.decode,
        kv_reuse=settings.kv_reuse,
        kv_cache_tokens=settings.kv_cache_tokens,
    )
    model = load_hf_model(
        config, smaller=smaller_than(model_id), on_status=on_status, on_progress=on_progress
    )
    on_status(
        f"Loaded {model.info.model_id} ({model.info.quantization}) in {model.load_seconds:.1f} s"
    )
    return model
