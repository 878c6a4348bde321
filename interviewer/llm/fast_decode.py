"""The ``fast`` decode mode: one decode step captured in a CUDA graph over a static KV cache.

Why by hand (see NOTES-models.md): with bitsandbytes 4-bit, transformers does not compile
``generate()`` (the quantizer is not "compileable"), a static cache alone is no faster, and
``torch.compile(mode="reduce-overhead")`` broke on the static cache's in-place counter. Decode at
batch 1 is bound by per-token overhead (Python and ~1000 kernel launches per token), which a CUDA
graph removes: the whole forward of one token is replayed as one launch.

How: :class:`StaticKV` is a key/value cache of fixed size whose ``update`` writes at positions
held in a device tensor; attention sees an explicit boolean mask (passed to the model as a
``{"full_attention": mask}`` mapping, which transformers uses as it is), so what a position may
attend to is data, not Python control flow, and cropping the cache to a shared prefix costs
nothing (the mask hides the rest). The prompt is prefilled eagerly; each new token is one replay
of the captured step; sampling (greedy, temperature, top-k, top-p, min-p, repetition penalty)
runs outside the graph on the logits it leaves in a static buffer.

Anything unexpected (no CUDA, an attention layout other than full attention, a capture error, a
replay that disagrees with the eager step) raises :class:`FastDecodeUnavailable` at load time,
and the backend keeps its default path. Calls the captured step cannot serve (a logits processor
such as the grammar of a grade, a prompt longer than the static cache, generation settings it
does not implement) use the default path too. On the CPU the same loop runs eagerly: the tests
compare it with ``generate()`` there.
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from interviewer.llm.kv_reuse import common_prefix_length

# Generation settings the loop does not implement, with the values that mean "off".
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "bad_words_ids": (None,),
    "begin_suppress_tokens": (None,),
    "suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
    "no_repeat_ngram_size": (None, 0),
    "encoder_no_repeat_ngram_size": (None, 0),
    "encoder_repetition_penalty": (None, 1.0),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "typical_p": (None, 1.0),
    "epsilon_cutoff": (None, 0.0),
    "eta_cutoff": (None, 0.0),
    "exponential_decay_length_penalty": (None,),
    "guidance_scale": (None, 1.0),
    "watermarking_config": (None,),
    "top_h": (None,),
    "renormalize_logits": (None, False),
    "num_beams": (None, 1),
    "stop_strings": (None,),
    "max_time": (None,),
}


class FastDecodeUnavailable(Exception):
    """The fast path cannot run here; ``str()`` says why in words a user can read."""


@dataclass
class FastResult:
    """What one fast generation did."""

    generated: list[int]
    reused: int
    first_token_s: float | None


def unsupported_settings(generation_config: Any) -> list[str]:
    """The generation settings of ``generation_config`` that the fast loop does not implement."""
    found = []
    for name, neutral in _NEUTRAL.items():
        value = getattr(generation_config, name, None)
        if value in ([], ()) or any(value is v or value == v for v in neutral):
            continue
        found.append(name)
    return found


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


@dataclass
class _Graph:
    graph: Any
    logits: Any


class FastDecoder:
    """Prefill eagerly, then decode one token per replay of a captured step (CUDA) or per
    eager call of the very same step (CPU, for tests).

    The static cache is one slot: the ids whose keys/values it holds are kept, and a new prompt
    that shares a prefix with them only prefills the rest (when ``reuse`` is on).
    """

    def __init__(self, model: Any, max_tokens: int, *, reuse: bool = True) -> None:
        import torch

        config = model.config.get_text_config()
        layer_types = getattr(config, "layer_types", None) or ["full_attention"]
        if any(kind != "full_attention" for kind in layer_types):
            raise FastDecodeUnavailable(
                "fast decoding supports models with full attention in every layer only "
                f"(this one has {sorted(set(layer_types))})"
            )
        self.model = model
        self.max_tokens = max_tokens
        self.reuse = reuse
        self.device = model.device
        self.cache_argument = cache_argument(model)
        self.kv = StaticKV(config.num_hidden_layers, max_tokens)
        self.cached_ids: list[int] = []
        self.buckets = length_buckets(max_tokens)
        self.graphs: dict[int, _Graph] = {}
        self.capture_seconds = 0.0
        with torch.inference_mode():
            self._ids = torch.zeros((1, 1), dtype=torch.long, device=self.device)
            self._position = torch.zeros((1, 1), dtype=torch.long, device=self.device)
            self._mask = torch.zeros((1, 1, 1, max_tokens), dtype=torch.bool, device=self.device)

    # ------------------------------------------------------------- the model calls

    def _forward(self, ids: Any, positions: Any, mask: Any, span: int) -> Any:
        """The model on ``ids`` at ``positions``; attention covers the first ``span``
        positions of the cache, as ``mask`` allows."""
        self.kv.index = positions[0]
        self.kv.limit = span
        try:
            output = self.model(
                input_ids=ids,
                position_ids=positions,
                attention_mask={"full_attention": mask},
                use_cache=True,
                logits_to_keep=1,
                **{self.cache_argument: self.kv},
            )
        finally:
            self.kv.limit = None
        return output.logits

    def _step(self, span: int) -> Any:
        """One decode step from the static buffers (what a graph captures)."""
        return self._forward(self._ids, self._position, self._mask[..., :span], span)

    def _span(self, position: int) -> int:
        return next(b for b in self.buckets if position < b)

    def _decode(self, token: int, position: int) -> Any:
        """Logits after feeding ``token`` at ``position`` (float32, shape [1, vocab])."""
        import torch

        self._ids.fill_(token)
        self._position.fill_(position)
        self._mask[..., position] = True
        span = self._span(position)
        captured = self.graphs.get(span)
        if captured is not None:
            captured.graph.replay()
            logits = captured.logits
        else:
            logits = self._step(span)
        return logits[:, -1, :].to(dtype=torch.float32, copy=True)

    def _prefill(self, ids: Sequence[int], start: int) -> Any:
        import torch

        end = start + len(ids)
        positions = torch.arange(start, end, device=self.device).unsqueeze(0)
        columns = torch.arange(end, device=self.device)
        mask = (columns[None, :] <= positions[0][:, None])[None, None]
        tensor = torch.tensor([list(ids)], dtype=torch.long, device=self.device)
        logits = self._forward(tensor, positions, mask, end)
        self._mask.zero_()
        self._mask[..., :end] = True
        return logits[:, -1, :].to(dtype=torch.float32, copy=True)

    # ------------------------------------------------------------- CUDA graphs

    def capture(self) -> None:
        """Capture the decode step in a CUDA graph per attention span, and check each replay
        against the eager step."""
        if self.device.type != "cuda":
            raise FastDecodeUnavailable("fast decoding needs a CUDA GPU")
        self._capture(self._cuda_graph)

    def _capture(self, capture_step: Callable[[int], _Graph]) -> None:
        """Capture every span with ``capture_step`` (the CUDA one, or a stand-in in tests).

        Warm-ups and captures write their keys/values at the last position of the cache,
        which no prompt reaches (:meth:`fits` keeps it free), and attend to position 0 only,
        where a prefill put a token (token 0 is often padding, whose embedding may be zero:
        a check of all-zero logits would prove nothing).
        """
        import torch

        started = time.perf_counter()
        scratch = self.max_tokens - 1
        token = self.model.config.get_text_config().vocab_size // 2
        with torch.inference_mode():
            self._prefill([token], 0)  # allocates the cache
            self._ids.fill_(token)
            self._position.fill_(scratch)
            self._mask.zero_()
            self._mask[..., 0] = True
            for span in self.buckets:
                captured = capture_step(span)
                self._check(captured, span)
                self.graphs[span] = captured
            self._mask.zero_()
        self.cached_ids = []
        self.capture_seconds = time.perf_counter() - started

    def _cuda_graph(self, span: int) -> _Graph:
        import torch

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the capture, as torch asks
            for _ in range(2):
                self._step(span)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            logits = self._step(span)
        return _Graph(graph, logits)

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize()

    def _check(self, captured: _Graph, span: int) -> None:
        captured.graph.replay()
        self._synchronize()
        replayed = captured.logits[:, -1, :].float().clone()
        eager = self._step(span)[:, -1, :].float()
        self._synchronize()
        difference = (replayed - eager).abs().max().item()
        scale = eager.abs().max().item() or 1.0
        if replayed.argmax().item() != eager.argmax().item() or not difference <= 1e-2 * scale:
            raise FastDecodeUnavailable(
                f"the captured decode step (span {span}) disagreed with the eager one "
                f"(max difference {difference:.3g})"
            )

    # ------------------------------------------------------------- generation

    def fits(self, prompt_tokens: int, max_new_tokens: int) -> bool:
        return prompt_tokens + max_new_tokens <= self.max_tokens - 1  # the last slot is scratch

    def generate(
        self,
        prompt: Sequence[int],
        generation_kwargs: dict[str, Any],
        eos_ids: Sequence[int],
        max_new_tokens: int,
        halt: Callable[[], bool],
        on_token: Callable[[int], None],
    ) -> FastResult:
        """Generate after ``prompt``; ``on_token`` hears each new token id as it is chosen.

        ``generation_kwargs`` are the ``generate()`` sampling arguments (do_sample,
        temperature, top_p, top_k); the model's generation config fills the rest. Stops at an
        end-of-sequence id, after ``max_new_tokens``, or when ``halt()`` says so (read after
        every token, as a stopping criterion would be).
        """
        import torch

        config = copy.deepcopy(self.model.generation_config)
        config.update(**generation_kwargs)
        processors = _processors(config)
        sample = bool(config.do_sample)
        shared = common_prefix_length(self.cached_ids, prompt) if self.reuse else 0
        keep = min(shared, len(prompt) - 1)
        self.cached_ids = []  # unknown until this generation finishes cleanly
        stop = set(int(i) for i in eos_ids)
        generated: list[int] = []
        first_token_s = None
        started = time.perf_counter()
        with torch.inference_mode():
            history = torch.tensor([list(prompt)], dtype=torch.long, device=self.device)
            logits = self._prefill(prompt[keep:], keep)
            position = len(prompt)
            while True:
                token = _choose(logits, history, processors, sample)
                generated.append(token)
                if first_token_s is None:
                    first_token_s = time.perf_counter() - started
                on_token(token)
                if token in stop or len(generated) >= max_new_tokens or halt():
                    break
                if processors:
                    history = torch.cat([history, history.new_tensor([[token]])], dim=1)
                logits = self._decode(token, position)
                position += 1
        # The cache holds the prompt and every generated token but the last (never fed).
        self.cached_ids = [*prompt, *generated[:-1]]
        return FastResult(generated, keep, first_token_s)


def _processors(config: Any) -> list[Any]:
    """The logits processors ``generate()`` would apply for these settings (the ones the loop
    supports; :func:`unsupported_settings` names the others)."""
    from transformers.generation.logits_process import (
        MinPLogitsWarper,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors: list[Any] = []
    penalty = getattr(config, "repetition_penalty", None)
    if penalty is not None and penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(penalty=penalty))
    if config.do_sample:
        if config.temperature is not None and config.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(config.temperature))
        top_k = config.top_k if config.top_k is not None else 50
        if top_k:
            processors.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if config.top_p is not None and config.top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=config.top_p, min_tokens_to_keep=1))
        if getattr(config, "min_p", None) is not None:
            processors.append(MinPLogitsWarper(min_p=config.min_p, min_tokens_to_keep=1))
    return processors


def _choose(logits: Any, history: Any, processors: list[Any], sample: bool) -> int:
    import torch

    scores = logits
    for processor in processors:
        scores = processor(history, scores)
    if sample:
        probabilities = torch.softmax(scores, dim=-1)
        return int(torch.multinomial(probabilities, num_samples=1).item())
    return int(scores.argmax(dim=-1).item())
