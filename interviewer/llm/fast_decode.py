"""The ``fast`` decode mode: one decode step captured in a CUDA graph over a static KV cache.

Why by hand: with bitsandbytes 4-bit, transformers does not compile
``generate()`` (the quantizer is not "compileable"), a static cache alone is no faster, and
``torch.compile(mode="reduce-overhead")`` broke on the static cache's in-place counter. Decode at
batch 1 is bound by per-token overhead (Python and ~1000 kernel launches per token), which a CUDA
graph removes: the whole forward of one token is replayed as one launch.

How, in gpt-fast's small named steps (pytorch-labs/gpt-fast, ``generate.py``):
:meth:`FastDecoder.prefill` runs the prompt eagerly, in chunks (so a long prompt's activations
stay those of one chunk); :meth:`FastDecoder.decode_one_token` feeds one token by replaying the
step captured for its attention span; :meth:`FastDecoder.decode_n_tokens` loops it, choosing
each token with a :class:`Sampler`. :class:`StaticKV` is a key/value cache of fixed size whose
``update`` writes at positions held in a device tensor; attention sees an explicit boolean mask
(passed to the model as a ``{"full_attention": mask}`` mapping, which transformers uses as it
is), so what a position may attend to is data, not Python control flow, and cropping the cache
to a shared prefix costs nothing (the mask hides the rest).

A captured graph is trusted only after a check with fresh inputs: a new token, at a real
position, attending to a prompt as well as to itself, against the model's own eager step over
a dynamic cache without a mask (what ``generate()`` runs). A kernel left out of the graph (as
bitsandbytes' were before 0.44) then shows, where a replay of the capture's own inputs would
have matched. The comparison is by top-1 agreement and a relative-error bound, not bit for bit:
masked and maskless attention run different bf16 kernels.

Each span is captured on its own, into one shared graph memory pool: a span whose capture or
check fails is left out (a step there replays the next longer span, which the mask makes
equivalent, or runs eagerly), and only when no span works does the fast path give up
(:class:`FastDecodeUnavailable`; the backend keeps its default path). Calls the captured step
cannot serve (a logits processor such as the grammar of a grade, a prompt longer than the static
cache, generation settings it does not implement) use the default path too. Where CUDA graphs
cannot run (the CPU: tests, the GPU script's rehearsal), ``capture(replay="eager")`` records the
same steps with an eager stand-in for the graph, and everything else runs unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from interviewer.llm.kv_reuse import common_prefix_length
from interviewer.llm.sampling import Sampler
from interviewer.llm.static_cache import StaticKV, cache_argument, length_buckets

Replay = Literal["cuda", "eager"]
"""How captured steps replay: ``cuda`` graphs, or ``eager`` stand-ins where graphs cannot run."""

DEFAULT_PREFILL_CHUNK = 1024
"""Prompt tokens per prefill forward: an 8k prompt's activations are those of 1k tokens."""

CHECK_PROMPT_TOKENS = 24
"""The prompt a capture check's new token attends to (besides itself)."""

RELATIVE_TOLERANCE = 0.05
"""How far a replay's logits may be from the eager reference, as a share of the largest
reference logit. bf16 kernels that differ (masked against maskless attention) stay within about
1%; a graph that lost a kernel, or ignores its inputs, is off by about 100%."""

_POISON = 4.0
"""Written into the key/value slot a check's token should fill: a replay that skips the write
attends to this instead, which moves the logits far."""


class FastDecodeUnavailable(Exception):
    """The fast path cannot run here; ``str()`` says why in words a user can read."""


@dataclass
class FastResult:
    """What one fast generation did."""

    generated: list[int]
    reused: int
    first_token_s: float | None


@dataclass(frozen=True)
class SpanCheck:
    """How a captured span's replay compared with the eager reference on fresh inputs."""

    span: int
    position: int
    """Where the check's new token went (a real position, not the scratch slot)."""
    attended: int
    """Positions the token attended to: the check's prompt and itself."""
    top1_agrees: bool
    near_tie: bool
    """The replay's top token scores within the tolerance of the reference's top one."""
    relative_error: float
    """max |replay - reference| / max |reference| (reference: a dynamic cache, no mask)."""
    eager_relative_error: float
    """The same against the very step the graph captured, run eagerly."""
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"the captured decode step (span {self.span}) disagreed with the eager one "
            f"(top-1 {'agrees' if self.top1_agrees else 'differs'}, relative error "
            f"{self.relative_error:.3g} against at most {RELATIVE_TOLERANCE})"
        )


@dataclass
class _Graph:
    graph: Any
    logits: Any


class EagerReplay:
    """A stand-in for a CUDA graph where none can run: a replay runs the captured step eagerly
    and writes the output buffer that the capture returned, as a graph replay does."""

    def __init__(self, step: Callable[[], Any], output: Any) -> None:
        self.step = step
        self.output = output
        self.replays = 0

    def replay(self) -> None:
        self.replays += 1
        self.output.copy_(self.step())


class FastDecoder:
    """Prefill eagerly, then decode one token per replay of a captured step (a CUDA graph, or
    an eager stand-in on the CPU), or per eager call of the very same step before any capture.

    The static cache is one slot: the ids whose keys/values it holds are kept, and a new prompt
    that shares a prefix with them only prefills the rest (when ``reuse`` is on).
    """

    def __init__(
        self,
        model: Any,
        max_tokens: int,
        *,
        reuse: bool = True,
        prefill_chunk: int = DEFAULT_PREFILL_CHUNK,
    ) -> None:
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
        self.prefill_chunk = prefill_chunk
        """Prompt tokens per prefill forward (0: the whole prompt in one)."""
        self.device = model.device
        self.cache_argument = cache_argument(model)
        self.kv = StaticKV(config.num_hidden_layers, max_tokens)
        self.cached_ids: list[int] = []
        self.buckets = length_buckets(max_tokens)
        self.graphs: dict[int, _Graph] = {}
        self.replay: Replay | None = None
        """How the captured steps replay (None: not captured; every step runs eagerly)."""
        self.checks: dict[int, SpanCheck] = {}
        self.failures: dict[int, str] = {}
        """Spans left out, with why (a capture error, or a check that disagreed)."""
        self.span_capture_seconds: dict[int, float] = {}
        self.capture_seconds = 0.0
        self.capture_reserved_bytes = 0
        """GPU memory the allocator reserved while capturing (the graphs' shared pool)."""
        self._pool: Any = None
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

    def _graph_for(self, position: int) -> _Graph | None:
        """The captured graph a step at ``position`` replays: its span's, else the next longer
        captured span's (the mask hides the extra positions); None: run the step eagerly."""
        for span in self.buckets:
            if position < span and span in self.graphs:
                return self.graphs[span]
        return None

    # ------------------------------------------------------------- gpt-fast's steps

    def prefill(self, ids: Sequence[int], start: int) -> Any:
        """Feed ``ids`` at positions ``start``... in chunks of :attr:`prefill_chunk` tokens;
        the logits after the last one (float32, [1, vocab])."""
        chunk = self.prefill_chunk or len(ids)
        logits: Any = None
        for offset in range(0, len(ids), chunk):
            logits = self._prefill_chunk(ids[offset : offset + chunk], start + offset)
        end = start + len(ids)
        self._mask.zero_()
        self._mask[..., :end] = True
        return logits

    def _prefill_chunk(self, ids: Sequence[int], start: int) -> Any:
        import torch

        end = start + len(ids)
        positions = torch.arange(start, end, device=self.device).unsqueeze(0)
        columns = torch.arange(end, device=self.device)
        mask = (columns[None, :] <= positions[0][:, None])[None, None]
        tensor = torch.tensor([list(ids)], dtype=torch.long, device=self.device)
        logits = self._forward(tensor, positions, mask, end)
        return logits[:, -1, :].to(dtype=torch.float32, copy=True)

    def decode_one_token(self, token: int, position: int) -> Any:
        """Logits after feeding ``token`` at ``position`` (float32, shape [1, vocab])."""
        import torch

        self._ids.fill_(token)
        self._position.fill_(position)
        self._mask[..., position] = True
        captured = self._graph_for(position)
        if captured is not None:
            captured.graph.replay()
            logits = captured.logits
        else:
            logits = self._step(self._span(position))
        return logits[:, -1, :].to(dtype=torch.float32, copy=True)

    def decode_n_tokens(
        self,
        logits: Any,
        position: int,
        max_new_tokens: int,
        sampler: Sampler,
        stop: set[int],
        halt: Callable[[], bool],
        on_token: Callable[[int], None],
    ) -> list[int]:
        """Choose a token from ``logits``, feed it at ``position``, and so on: at most
        ``max_new_tokens``, up to a ``stop`` id or until ``halt()`` (read after every token)."""
        generated: list[int] = []
        while True:
            token = sampler.choose(logits)
            generated.append(token)
            on_token(token)
            if token in stop or len(generated) >= max_new_tokens or halt():
                return generated
            logits = self.decode_one_token(token, position)
            position += 1

    # ------------------------------------------------------------- capturing the step

    def capture(self, replay: Replay = "cuda") -> None:
        """Capture the decode step per attention span (a CUDA graph each, in one shared memory
        pool; ``eager``: stand-ins where CUDA graphs cannot run) and check each with fresh
        inputs. Raises :class:`FastDecodeUnavailable` when no span works."""
        if replay == "eager":
            self._capture(self._eager_graph)
        elif self.device.type != "cuda":
            raise FastDecodeUnavailable("fast decoding needs a CUDA GPU")
        else:
            self._capture_cuda_graphs()
        self.replay = replay

    def _capture_cuda_graphs(self) -> None:
        """Every span's graph in one memory pool: graphs replay one at a time, so they can
        share their intermediate buffers (each keeps its own output), instead of one pool
        each."""
        import torch

        reserved = torch.cuda.memory_reserved(self.device)
        self._pool = torch.cuda.graph_pool_handle()
        self._capture(self._cuda_graph)
        self.capture_reserved_bytes = torch.cuda.memory_reserved(self.device) - reserved

    def _capture(self, capture_step: Callable[[int], _Graph]) -> None:
        """Capture every span with ``capture_step`` (the CUDA one, an eager stand-in, or a
        test's), each on its own: a span that fails is recorded in :attr:`failures` and left
        out, and the others are kept."""
        import torch

        started = time.perf_counter()
        with torch.inference_mode():
            prompt, reference = self._check_context()
            for span in self.buckets:
                begun = time.perf_counter()
                try:
                    captured, check = self._capture_one(span, capture_step, prompt, reference)
                except FastDecodeUnavailable:
                    raise
                except Exception as exc:  # this span only; the device must still work
                    self.failures[span] = f"{type(exc).__name__}: {str(exc)[:300]}"
                    self._still_usable(exc)
                    continue
                finally:
                    self.span_capture_seconds[span] = time.perf_counter() - begun
                self.checks[span] = check
                if check.ok:
                    self.graphs[span] = captured
                else:
                    self.failures[span] = check.describe()
            self._mask.zero_()
        self.cached_ids = []
        self.capture_seconds = time.perf_counter() - started
        if not self.graphs:
            first = next(iter(self.failures.values()), "no span to capture")
            raise FastDecodeUnavailable(f"no decode step could be captured: {first}")

    def trial(self, span: int, capture_step: Callable[[int], _Graph]) -> tuple[_Graph, SpanCheck]:
        """Capture one span with ``capture_step`` and check it as :meth:`capture` does, without
        putting it to use (the GPU script tries a compiled step this way)."""
        import torch

        with torch.inference_mode():
            prompt, reference = self._check_context()
            try:
                return self._capture_one(span, capture_step, prompt, reference)
            finally:
                self._mask.zero_()
                self.cached_ids = []

    def _check_context(self) -> tuple[list[int], Any]:
        """The checks' prompt, prefilled into the static cache (which this allocates) and into
        a reference cache the way ``generate()`` does."""
        prompt = self._check_prompt()
        self.prefill(prompt, 0)
        self.cached_ids = []
        return prompt, self._reference_cache(prompt)

    def _capture_one(
        self,
        span: int,
        capture_step: Callable[[int], _Graph],
        prompt: Sequence[int],
        reference: Any,
    ) -> tuple[_Graph, SpanCheck]:
        """Capture ``span``, then check the capture with fresh inputs.

        Warm-ups and the capture write their keys/values at the last position of the cache,
        which no prompt reaches (:meth:`fits` keeps it free), and attend to position 0, where
        the check's prompt put a token (token 0 is often padding, whose embedding may be zero:
        a check of all-zero logits would prove nothing).
        """
        self._ids.fill_(prompt[0])
        self._position.fill_(self.max_tokens - 1)
        self._mask.zero_()
        self._mask[..., 0] = True
        captured = capture_step(span)
        return captured, self._check(captured, span, prompt, reference)

    def _check_prompt(self) -> list[int]:
        """A fixed prompt of distinct ordinary ids from the middle of the vocabulary."""
        vocab = int(self.model.config.get_text_config().vocab_size)
        count = min(CHECK_PROMPT_TOKENS, self.max_tokens // 4)
        return [(vocab // 2 + 7919 * i) % vocab for i in range(count)]

    def _reference_cache(self, prompt: Sequence[int]) -> Any:
        """The check's prompt prefilled the way ``generate()`` does: a dynamic cache, no mask."""
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        ids = torch.tensor([list(prompt)], dtype=torch.long, device=self.device)
        self.model(input_ids=ids, use_cache=True, logits_to_keep=1, **{self.cache_argument: cache})
        return cache

    def _reference_step(self, cache: Any, token: int, position: int) -> Any:
        import torch

        from interviewer.llm.kv_reuse import crop_dynamic_cache

        held = int(cache.get_seq_length())
        output = self.model(
            input_ids=torch.tensor([[token]], dtype=torch.long, device=self.device),
            position_ids=torch.tensor([[position]], dtype=torch.long, device=self.device),
            use_cache=True,
            logits_to_keep=1,
            **{self.cache_argument: cache},
        )
        crop_dynamic_cache(cache, held)
        return output.logits[:, -1, :].float()

    def _check(
        self, captured: _Graph, span: int, prompt: Sequence[int], reference: Any
    ) -> SpanCheck:
        """Replay ``captured`` with fresh inputs and compare it with the eager reference.

        The new token goes to the first position this span serves (past the check's prompt),
        attending to the prompt and itself; its key/value slot holds poison first, so a replay
        that does not write it, or ignores the new token, position or mask, disagrees.
        """

        lower = max((b for b in self.buckets if b < span), default=0)
        position = min(max(lower, len(prompt)), span - 1, self.max_tokens - 2)
        vocab = int(self.model.config.get_text_config().vocab_size)
        token = (prompt[-1] + 104_729 * (span + 1)) % vocab
        for keys, values in zip(self.kv.keys, self.kv.values, strict=True):
            keys[:, :, position].fill_(_POISON)
            values[:, :, position].fill_(_POISON)
        self._ids.fill_(token)
        self._position.fill_(position)
        self._mask.zero_()
        self._mask[..., : len(prompt)] = True
        self._mask[..., position] = True
        captured.graph.replay()
        self._synchronize()
        replayed = captured.logits[:, -1, :].float().clone()
        eager = self._step(span)[:, -1, :].float()
        expected = self._reference_step(reference, token, position)
        self._synchronize()
        scale = expected.abs().max().item() or 1.0
        error = (replayed - expected).abs().max().item() / scale
        eager_error = (replayed - eager).abs().max().item() / scale
        chosen = int(replayed.argmax().item())
        top1 = chosen == int(expected.argmax().item())
        near_tie = expected[0, chosen].item() >= expected.max().item() - RELATIVE_TOLERANCE * scale
        return SpanCheck(
            span=span,
            position=position,
            attended=len(prompt) + 1,
            top1_agrees=top1,
            near_tie=near_tie,
            relative_error=float(error),
            eager_relative_error=float(eager_error),
            ok=(top1 or near_tie) and error <= RELATIVE_TOLERANCE,
        )

    def _cuda_graph(self, span: int, step: Callable[[], Any] | None = None) -> _Graph:
        """A CUDA graph of ``step`` (default: the decode step over ``span``) in the shared
        pool, warmed up on a side stream first, as torch asks."""
        import torch

        run = step or (lambda: self._step(span))
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                run()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
            logits = run()
        return _Graph(graph, logits)

    def _eager_graph(self, span: int, step: Callable[[], Any] | None = None) -> _Graph:
        """The stand-in where CUDA graphs cannot run: ``step`` replayed eagerly."""
        run = step or (lambda: self._step(span))
        output = run().clone()
        return _Graph(EagerReplay(run, output), output)

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize()

    def _still_usable(self, failure: BaseException) -> None:
        """After a span's capture failed: one eager step must still run, or nothing more is
        captured (a broken CUDA context fails every later call)."""
        try:
            self._synchronize()
            self._step(self.buckets[0])
            self._synchronize()
        except Exception as exc:
            raise FastDecodeUnavailable(
                f"the device failed after a capture error ({type(failure).__name__}: "
                f"{str(failure)[:200]}; then {type(exc).__name__}: {str(exc)[:200]})"
            ) from exc

    # ------------------------------------------------------------- generation

    def fits(self, prompt_tokens: int, max_new_tokens: int) -> bool:
        return prompt_tokens + max_new_tokens <= self.max_tokens - 1  # the last slot is scratch

    def capacity(self, max_new_tokens: int) -> int:
        """The longest prompt that :meth:`fits` with ``max_new_tokens`` new tokens."""
        return self.max_tokens - 1 - max_new_tokens

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
        temperature, top_p, top_k); the model's generation config fills the rest, as in
        ``generate()`` (:class:`Sampler`). Stops at an end-of-sequence id, after
        ``max_new_tokens``, or when ``halt()`` says so (read after every token, as a stopping
        criterion would be).
        """
        import torch

        shared = common_prefix_length(self.cached_ids, prompt) if self.reuse else 0
        keep = min(shared, len(prompt) - 1)
        self.cached_ids = []  # unknown until this generation finishes cleanly
        first_token_s: list[float] = []
        started = time.perf_counter()

        def heard(token: int) -> None:
            if not first_token_s:
                first_token_s.append(time.perf_counter() - started)
            on_token(token)

        with torch.inference_mode():
            history = torch.tensor([list(prompt)], dtype=torch.long, device=self.device)
            sampler = Sampler(self.model, generation_kwargs, history)
            logits = self.prefill(prompt[keep:], keep)
            generated = self.decode_n_tokens(
                logits, len(prompt), max_new_tokens, sampler, {int(i) for i in eos_ids}, halt, heard
            )
        # The cache holds the prompt and every generated token but the last (never fed).
        self.cached_ids = [*prompt, *generated[:-1]]
        return FastResult(generated, keep, first_token_s[0] if first_token_s else None)
