"""Chat model backends behind one small protocol. Backends import their heavy stacks lazily."""

from interviewer.llm.base import (
    ChatMessage,
    ChatModel,
    GenerationCancelled,
    GenerationOptions,
    ModelError,
    StructuredOutputError,
)

__all__ = [
    "ChatMessage",
    "ChatModel",
    "GenerationCancelled",
    "GenerationOptions",
    "ModelError",
    "StructuredOutputError",
]
