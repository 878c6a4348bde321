"""The fixed-size key/value cache the fast decode path captures its steps over, and the
attention spans it captures them for (:mod:`interviewer.llm.fast_decode`)."""

from __future__ import annotations

import inspect
from typing import Any


def cache_argument(model: Any) -> str:
    """The name under which the model's forward takes a cache: ``cache`` from transformers
    5.24 on (``past_key_values`` still accepted, with a deprecation), ``past_key_values``
    before."""
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


class StaticKV:
    """A fixed-size key/value cache: ``update`` writes the new states at ``index`` (a device
    tensor of positions) and returns the whole buffers; a mask says which positions count."""

    is_compileable = True

    def __init__(self, layers: int, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.keys: list[Any] = [None] * layers
        self.values: list[Any] = [None] * layers
        self.index: Any = None
        self.limit: int | None = None
        """Return only the first ``limit`` positions (an eager prefill attends to no more)."""

    def update(
        self, key_states: Any, value_states: Any, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[Any, Any]:
        import torch

        keys, values = self.keys[layer_idx], self.values[layer_idx]
        if keys is None:  # first use (a prefill, never inside a capture): allocate
            batch, heads, _, dim = key_states.shape
            shape = (batch, heads, self.max_tokens, dim)
            keys = torch.zeros(shape, dtype=key_states.dtype, device=key_states.device)
            values = torch.zeros(
                (batch, heads, self.max_tokens, value_states.shape[-1]),
                dtype=value_states.dtype,
                device=value_states.device,
            )
            self.keys[layer_idx], self.values[layer_idx] = keys, values
        keys.index_copy_(2, self.index, key_states)
        values.index_copy_(2, self.index, value_states)
        if self.limit is not None:
            return keys[:, :, : self.limit], values[:, :, : self.limit]
        return keys, values

    def get_seq_length(self, layer_idx: int = 0) -> int:  # only for code that asks
        return 0

    @property
    def allocated_bytes(self) -> int:
        tensors = [t for t in (*self.keys, *self.values) if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors)


FIRST_BUCKET = 128
"""The shortest attention span a decode step is captured for; spans double up to the cache."""


def length_buckets(max_tokens: int, first: int = FIRST_BUCKET) -> list[int]:
    """The attention spans a decode step is captured for: 128, 256, ... and ``max_tokens``.

    A step at position ``p`` replays the graph of the shortest span longer than ``p``, so it
    attends to (and, before transformers 5.24, copies for grouped-query attention) about as
    many positions as the sequence has, not the whole static cache.
    """
    buckets = []
    span = first
    while span < max_tokens:
        buckets.append(span)
        span *= 2
    return [*buckets, max_tokens]
