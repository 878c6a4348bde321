"""Reuse the key/value cache of earlier calls when a new prompt starts with the same tokens.

An interview sends the model prompts that share long prefixes: every interviewer turn starts
with the interview's one system prompt and the conversation so far (the turn's task comes
last), every grade with the grader's rules. Keeping the past key/values of a call together with the
token ids they hold lets the next call prefill only the tokens after the common prefix.

:class:`PrefixCachePool` keeps a few such caches ("slots"; the conversation and the feedback
context each tend to keep one) and hands out the one that shares the longest prefix with a new
prompt, cropped to that prefix (the HF backend keeps three: the conversation, the grader's and
the coach's). A slot is taken out of the pool while a generation uses it and
put back only when that generation finished cleanly, so a failed or abandoned generation can
never leave a half-written cache behind. The pool is plain Python: the caches themselves are
whatever the backend makes (a transformers ``DynamicCache``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MIN_SHARED_PREFIX = 16
"""Below this many shared tokens a slot is not worth cropping: a fresh cache is used and the
slot keeps what it holds for a prompt that shares more with it."""

MIN_SHARED_FRACTION = 0.5
"""Reuse only when at least this share of the prompt is cached. Prefilling after a cached
prefix needs an explicit attention mask, which loses the fused causal kernel: measured on the
CPU (tiny model, 1500-token prompt), 100 cached tokens made the prefill 2x slower, 750 broke
even, 1400 made it 5x faster."""


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading token ids ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class Lease:
    """A cache handed to one generation: ``reused`` leading tokens of the prompt are in it."""

    cache: Any
    reused: int


@dataclass
class _Slot:
    ids: list[int]
    cache: Any
    used: int


class PrefixCachePool:
    """At most ``slots`` caches, each of at most ``max_tokens`` tokens; a cache is reused when
    it shares at least ``min_shared`` tokens and ``min_fraction`` of the new prompt.

    ``new_cache`` makes an empty cache; ``crop(cache, keep)`` shortens one to its first ``keep``
    tokens (and may raise: the pool then drops that slot and hands out a fresh cache).
    """

    def __init__(
        self,
        new_cache: Callable[[], Any],
        crop: Callable[[Any, int], None],
        *,
        slots: int = 2,
        max_tokens: int = 8192,
        min_shared: int = MIN_SHARED_PREFIX,
        min_fraction: float = MIN_SHARED_FRACTION,
    ) -> None:
        if slots < 1:
            raise ValueError("a prefix cache pool needs at least one slot")
        self._new_cache = new_cache
        self._crop = crop
        self.slots = slots
        self.max_tokens = max_tokens
        self.min_shared = min_shared
        self.min_fraction = min_fraction
        self._pool: list[_Slot] = []
        self._clock = 0
        self.crop_failures = 0
        self.last_error: str | None = None

    def __len__(self) -> int:
        return len(self._pool)

    @property
    def cached_tokens(self) -> int:
        return sum(len(slot.ids) for slot in self._pool)

    def clear(self) -> None:
        self._pool.clear()

    def take(self, prompt: Sequence[int]) -> Lease:
        """The cache to generate ``prompt`` with, out of the pool until :meth:`give_back`.

        At least the last prompt token is always left to prefill (generation needs the logits
        of the last position).
        """
        best: _Slot | None = None
        best_shared = 0
        for slot in self._pool:
            shared = common_prefix_length(slot.ids, prompt)
            if shared > best_shared:
                best, best_shared = slot, shared
        keep = min(best_shared, len(prompt) - 1)
        if best is None or keep < max(self.min_shared, self.min_fraction * len(prompt)):
            return Lease(self._new_cache(), 0)
        self._pool.remove(best)
        try:
            self._crop(best.cache, keep)
        except Exception as exc:  # an unusual cache layout: never reuse what could be wrong
            self.crop_failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return Lease(self._new_cache(), 0)
        return Lease(best.cache, keep)

    def give_back(self, ids: Sequence[int], cache: Any) -> None:
        """Keep ``cache``, which now holds the key/values of ``ids``; the least recently used
        slot makes room. A cache longer than ``max_tokens`` is dropped (memory stays bounded)."""
        if not ids or len(ids) > self.max_tokens:
            return
        self._clock += 1
        self._pool.append(_Slot(list(ids), cache, self._clock))
        while len(self._pool) > self.slots:
            self._pool.remove(min(self._pool, key=lambda slot: slot.used))


def crop_dynamic_cache(cache: Any, keep: int) -> None:
    """Shorten a transformers cache to its first ``keep`` tokens.

    transformers 5.17 deprecates and 5.24 rejects a positive ``crop`` argument (the length to
    keep); a negative one (the number of tokens to remove) works in both.
    """
    length = int(cache.get_seq_length())
    if keep > length:
        raise ValueError(f"cannot keep {keep} tokens of a cache that holds {length}")
    if keep < length:
        cache.crop(keep - length)
    if int(cache.get_seq_length()) != keep:
        held = cache.get_seq_length()
        raise RuntimeError(f"the cache holds {held} tokens after cropping to {keep}")
