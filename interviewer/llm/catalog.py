"""Which model to run: the defaults, and the choice made from the machine's GPU.

Pure Python: the hardware facts come in as a :class:`Hardware` value (see
:func:`interviewer.llm.hardware.probe`), so the choice is easy to test and to explain.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class ModelChoice:
    model_id: str
    why: str
    needs_gib: float
    """Free GPU memory it needs in 4-bit, with room for the KV cache of a long session."""
    licence: str


DEFAULT = ModelChoice(
    "Qwen/Qwen2.5-7B-Instruct",
    "strong 7B instruct model, Apache-2.0, ungated, native in transformers; ~5.1 GiB in NF4",
    7.0,
    "Apache-2.0",
)
FALLBACK = ModelChoice(
    "Qwen/Qwen2.5-1.5B-Instruct",
    "the same family at 1.5B: fits ~2.5 GiB of free GPU memory in NF4",
    2.5,
    "Apache-2.0",
)
CPU = ModelChoice(
    "Qwen/Qwen2.5-1.5B-Instruct",
    "no CUDA GPU: a 1.5B model in float32 on the CPU (about 6 GiB of RAM; slow, a few tokens/s)",
    0.0,
    "Apache-2.0",
)


@dataclass(frozen=True)
class Hardware:
    cuda: bool
    device_name: str | None = None
    total_bytes: int = 0
    free_bytes: int = 0
    bf16: bool = False


def choose_model(hardware: Hardware) -> ModelChoice:
    """The default model for this machine: 7B on a GPU with room, 1.5B on a small one, CPU else."""
    if not hardware.cuda:
        return CPU
    free_gib = hardware.free_bytes / GIB
    if free_gib >= DEFAULT.needs_gib:
        return DEFAULT
    if free_gib >= FALLBACK.needs_gib:
        return FALLBACK
    return CPU


def smaller_than(model_id: str) -> str | None:
    """The model to suggest when ``model_id`` does not fit."""
    return FALLBACK.model_id if model_id != FALLBACK.model_id else None
