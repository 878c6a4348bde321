"""Open the model the settings ask for: a local one (hf; the heavy stacks load only for it), one
on an OpenAI-compatible server (openai), or a script.

Graders are the session layer's (:func:`interviewer.session.open_grader`): ``llm/`` knows
nothing of the engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from interviewer.llm.base import ChatModel
from interviewer.llm.catalog import choose_model, smaller_than
from interviewer.llm.scripted import ScriptedModel

if TYPE_CHECKING:
    from interviewer.config import Settings


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
    if settings.backend == "openai":
        from interviewer.llm.openai import open_server_model

        return open_server_model(
            settings.base_url,
            settings.model,
            api_key_env=settings.api_key_env,
            timeout_s=settings.request_timeout,
            on_status=on_status,
        )

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
