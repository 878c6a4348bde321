"""Chat model backends behind one small protocol. Backends import their heavy stacks lazily."""

import logging

from interviewer.llm.base import (
    ChatMessage,
    ChatModel,
    GenerationCancelled,
    GenerationOptions,
    ModelError,
    ModelUnavailable,
    StructuredOutputError,
)

__all__ = [
    "ChatMessage",
    "ChatModel",
    "GenerationCancelled",
    "GenerationOptions",
    "ModelError",
    "ModelUnavailable",
    "StructuredOutputError",
]

# bitsandbytes warns, on import, on CPUs with AVX512-BF16, that an optional kernel from the
# Hub ("kernels" package) is missing: noise for the candidate, who can do nothing about it and
# loses nothing (its own CPU kernel is used). Its real errors still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
