"""What to load and how: the settings of the transformers backend, the resolved plan, and how
a transcript names what was loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from interviewer.llm.base import DecodeMode
from interviewer.transcript import ModelInfo

Quantization = Literal["auto", "4bit", "8bit", "none"]
DType = Literal["auto", "bfloat16", "float16", "float32"]
Device = Literal["auto", "cuda", "cpu"]
Decode = DecodeMode


class HFModelConfig(BaseModel):
    """How to load the model. Every field has a safe default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    """A Hub id (``Qwen/Qwen2.5-7B-Instruct``), a local model folder, or a local ``.gguf`` file."""
    revision: str | None = None
    quantization: Quantization = "auto"
    """auto: 4-bit NF4 on CUDA, none on the CPU."""
    compute_dtype: DType = "auto"
    """auto: bfloat16 where the GPU supports it, else float16; float32 on the CPU."""
    device: Device = "auto"
    trust_remote_code: bool = False
    """Run Python code shipped inside a model repository. Off unless you trust the repo."""
    allow_pickle: bool = False
    """Allow pickle-based ``.bin`` weights (they can execute code) when no safetensors exist."""
    chat_template: str | None = None
    """A Jinja chat template (file path or text) for tokenizers that ship none."""
    poll_seconds: float = Field(default=0.25, gt=0)
    """How often a waiting stream checks that generation is still alive and not cancelled."""
    decode: Decode = "default"
    """fast: decode each token by replaying a CUDA graph of the model's step (prepared while the
    model loads); falls back to default, with a notice, where that cannot work (e.g. the CPU)."""
    kv_reuse: bool = True
    """Keep the key/values of recent prompts so a prompt that starts the same way only prefills
    its new tokens."""
    kv_cache_tokens: int = Field(default=8192, ge=64)
    """The most tokens one kept cache (and the fast mode's static cache) may hold."""
    prefill_chunk_tokens: int = Field(default=1024, ge=0)
    """Prefill a long prompt this many tokens at a time, on both decode paths, so its
    activations stay those of one chunk (an 8k-token session fits the memory target); 0: the
    whole prompt in one pass."""


@dataclass(frozen=True)
class LoadPlan:
    """What will be loaded, how, and where: decided before any weight is read."""

    source: str
    kind: Literal["hub", "folder", "gguf"]
    gguf_file: str | None
    device: Literal["cuda", "cpu"]
    quantization: Literal["4bit", "8bit", "none"]
    compute_dtype: Literal["bfloat16", "float16", "float32"]
    use_safetensors: bool | None


def model_info(config: HFModelConfig, plan: LoadPlan, commit: str | None) -> ModelInfo:
    """How a transcript names the model loaded from ``plan`` (``commit``: its Hub commit)."""
    return ModelInfo(
        backend="hf",
        model_id=config.model if plan.kind != "gguf" else f"{plan.gguf_file}",
        revision=config.revision or commit,
        quantization=(
            "gguf (dequantized)"
            if plan.kind == "gguf"
            else {"4bit": "nf4", "8bit": "int8", "none": plan.compute_dtype}[plan.quantization]
        ),
    )
