"""The loaded transformers model behind the :class:`~interviewer.llm.base.ChatModel` protocol:
generation, streaming, the kept key/value caches and the fast decode path.

Text streams through a ``TextIteratorStreamer`` made per call, from a generation thread that a
``StoppingCriteria`` stops as soon as the cancel signal is set; what each call did comes back
with its :class:`~interviewer.llm.base.Reply`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from interviewer.llm.base import (
    ChatMessage,
    GenerationCancelled,
    GenerationOptions,
    GenerationUsage,
    ModelError,
    Reply,
    T,
)
from interviewer.llm.fast_decode import (
    FastDecoder,
    FastDecodeUnavailable,
    FastResult,
    Replay,
)
from interviewer.llm.hf.config import Decode, HFModelConfig, LoadPlan, model_info
from interviewer.llm.hf.structured import (
    ChosenTokenProbability,
    Grammars,
    generate_structured_scored,
)
from interviewer.llm.hf.templates import ChatTemplate, stop_token_ids
from interviewer.llm.kv_reuse import Lease, PrefixCachePool, crop_dynamic_cache
from interviewer.llm.sampling import unsupported_settings
from interviewer.llm.static_cache import cache_argument
from interviewer.llm.thinking import without_thinking
from interviewer.transcript import ModelInfo

Report = Callable[[GenerationUsage], None]
"""Hears what a finished generation did (see :meth:`Reply.reporting`)."""


@dataclass
class _Outcome:
    """How one attempt at a streamed generation ended."""

    failure: BaseException | None = None
    reused: int = 0
    fast: bool = False


_SAMPLING = ("do_sample", "temperature", "top_p", "top_k")
"""The ``generate()`` arguments the fast decode loop takes over."""


class HFModel:
    """A loaded transformers model behind the :class:`ChatModel` protocol."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        config: HFModelConfig,
        plan: LoadPlan,
        smaller: str | None = None,
    ) -> None:
        self.model = model
        self.smaller = smaller
        self.tokenizer = tokenizer
        self.config = config
        self.plan = plan
        self.load_seconds = 0.0
        self._template = ChatTemplate(tokenizer)
        self._eos_ids = stop_token_ids(model, tokenizer)
        self._grammars = Grammars(model, tokenizer, self._eos_ids)
        self._lock = threading.Lock()
        self.decode_mode: Decode = "default"
        """The decode path in use (``fast`` only once it was prepared successfully)."""
        self.decode_notice: str | None = None
        """Why ``fast`` was asked for but is not in use, in words for the user."""
        self.fast_prepare_seconds = 0.0
        self._fast: FastDecoder | None = None
        self.fast_decoder: FastDecoder | None = None
        """The prepared fast decoder, also while :meth:`use_decode` has set it aside."""
        self.prefill_chunk = config.prefill_chunk_tokens
        """Prompt tokens per prefill forward on the default path (0: one pass)."""
        self._cache_argument = cache_argument(model)
        self._prefix: PrefixCachePool | None = (
            PrefixCachePool(self._new_cache, crop_dynamic_cache, max_tokens=config.kv_cache_tokens)
            if config.kv_reuse
            else None
        )
        self.kv_reuse_failures = 0
        """Generations that failed with a reused cache and were redone with a fresh one."""
        self._info = model_info(config, plan, _commit_hash(model))

    @property
    def info(self) -> ModelInfo:
        return self._info

    # ----------------------------------------------------------------- prompts

    @property
    def _fold_system(self) -> bool:
        """The chat template rejected a system role (see :class:`ChatTemplate`)."""
        return self._template.fold_system

    def render(self, messages: Sequence[ChatMessage]) -> Any:
        """Token ids for ``messages`` through the model's own chat template."""
        return self._template.render(messages)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """How many tokens the prompt of ``messages`` holds."""
        return int(self.render(messages)["input_ids"].shape[-1])

    # ----------------------------------------------------------------- the protocol

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Reply:
        return Reply.reporting(
            lambda report: without_thinking(
                self._generate(messages, options, cancel, report=report)
            )
        )

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        return self._structured(messages, output_type, options, cancel, None)[0]

    def generate_structured_scored(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
        *,
        scored_field: str,
    ) -> tuple[T, list[float]]:
        """Like :meth:`generate_structured`, plus the model's probability for each value of the
        string field ``scored_field`` (see :class:`~interviewer.llm.base.ReadsConfidence`).

        Probabilities are read under the grammar (the JSON Schema constraint), so they compare
        only the values the schema allows. Without xgrammar, or when decoding is not greedy,
        the list is empty.
        """
        return self._structured(messages, output_type, options, cancel, scored_field)

    def _structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None,
        scored_field: str | None,
    ) -> tuple[T, list[float]]:
        return generate_structured_scored(
            self._generate_text,
            self._grammars,
            self.tokenizer,
            messages,
            output_type,
            options,
            cancel,
            scored_field=scored_field,
        )

    # ----------------------------------------------------------------- generation

    def _generation_kwargs(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        halt: Callable[[], bool],
        logits_processor: Any = None,
    ) -> dict[str, Any]:
        """The ``generate()`` arguments for one call; ``halt`` is read before every token."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],), halt(), dtype=torch.bool, device=input_ids.device
                )

        kwargs: dict[str, Any] = {
            **self.render(messages).to(self.model.device),
            "max_new_tokens": options.max_new_tokens,
            "stopping_criteria": StoppingCriteriaList([_Stop()]),
            "eos_token_id": self._eos_ids,
            "pad_token_id": self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self._eos_ids[0],
        }
        if options.temperature > 0:
            kwargs.update(do_sample=True, temperature=options.temperature, top_p=options.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if logits_processor is not None:
            kwargs["logits_processor"] = [logits_processor]
        return kwargs

    def _generate_text(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
        logits_processor: Any = None,
        *,
        record: ChosenTokenProbability | None = None,
    ) -> tuple[str, list[int]]:
        """Generate without streaming, in the caller's thread (structured output needs the
        whole text anyway, and skipping the streamer saves a decode per token).

        Returns the text and the generated token ids. ``record``, a logits processor placed
        after every other, notes the probability of each chosen token (greedy decoding only).
        """
        import torch

        kwargs = self._generation_kwargs(
            messages, options, lambda: cancel is not None and cancel.is_set(), logits_processor
        )
        if record is not None:
            kwargs["logits_processor"] = [*kwargs.get("logits_processor", []), record]
        prompt_length = kwargs["input_ids"].shape[1]
        with self._lock:
            try:
                with torch.inference_mode():
                    self._prefill_in_chunks(kwargs, 0)
                    output = self.model.generate(**kwargs)
            except Exception as exc:
                raise self._generation_error(exc) from exc
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled("generation cancelled")
        ids: list[int] = output[0, prompt_length:].tolist()
        text: str = self.tokenizer.decode(ids, skip_special_tokens=True)
        return text, ids

    def _generate(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
        logits_processor: Any = None,
        *,
        report: Report | None = None,
    ) -> Generator[str, None, None]:
        """Stream one reply; ``report`` hears what the generation did once it is over.

        A generation that fails on the fast path turns the fast path off; one that fails on a
        reused cache drops the kept caches (twice: stops reusing them). Either is redone on
        the default path with a fresh cache when no text had been shown yet.
        """
        with self._lock:  # one generation at a time on one model
            reuse = self._prefix is not None
            while True:
                outcome = _Outcome()
                shown = False
                attempt = self._stream_once(
                    messages, options, cancel, logits_processor, reuse, outcome, report
                )
                try:
                    for chunk in attempt:
                        shown = True
                        yield chunk
                finally:  # a consumer that stops early stops the generation under the lock
                    attempt.close()
                if outcome.failure is None or (cancel is not None and cancel.is_set()):
                    break
                if outcome.fast:  # never again: the default path is the one known to work
                    self._fast = self.fast_decoder = None
                    self.decode_mode = "default"
                    self.decode_notice = (
                        f"fast decoding is off: it failed while generating "
                        f"({type(outcome.failure).__name__}: {str(outcome.failure)[:200]}); "
                        "using the default decoder"
                    )
                elif outcome.reused:
                    self.kv_reuse_failures += 1
                    if self._prefix is not None:
                        self._prefix.clear()
                    if self.kv_reuse_failures >= 2:  # not a one-off: stop reusing caches
                        self._prefix = None
                    reuse = False
                else:
                    break
                if shown:
                    break
        if outcome.failure is not None:
            raise self._generation_error(outcome.failure)
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled("generation cancelled")

    def _stream_once(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
        logits_processor: Any,
        reuse: bool,
        outcome: _Outcome,
        report: Report | None,
    ) -> Generator[str, None, None]:
        import torch
        from transformers import TextIteratorStreamer

        stop = threading.Event()
        first_token: list[float] = []

        def halt() -> bool:  # read after every new token
            if not first_token:
                first_token.append(time.perf_counter())
            return stop.is_set() or (cancel is not None and cancel.is_set())

        started = time.perf_counter()
        kwargs = self._generation_kwargs(messages, options, halt, logits_processor)
        prompt: list[int] = kwargs["input_ids"][0].tolist()
        streamer = TextIteratorStreamer(
            self.tokenizer,
            skip_prompt=True,
            skip_special_tokens=True,
            timeout=self.config.poll_seconds,
        )
        kwargs["streamer"] = streamer
        fast = self._fast
        if fast is not None and (
            logits_processor is not None or not fast.fits(len(prompt), options.max_new_tokens)
        ):
            fast = None  # a grammar or a long prompt: this call takes the default path
        if fast is not None:
            fast.reuse = reuse
            outcome.fast = True
        lease: Lease | None = None
        if fast is None and reuse and self._prefix is not None:
            lease = self._prefix.take(prompt)
            kwargs[self._cache_argument] = lease.cache
            outcome.reused = lease.reused
        result: list[Any] = []

        def work() -> None:
            try:
                with torch.inference_mode():
                    if fast is not None:
                        streamer.put(torch.tensor([prompt]))
                        done = fast.generate(
                            prompt,
                            {k: kwargs[k] for k in _SAMPLING if k in kwargs},
                            self._eos_ids,
                            options.max_new_tokens,
                            halt,
                            lambda token: streamer.put(torch.tensor([token])),
                        )
                        outcome.reused = done.reused
                        streamer.end()
                        result.append(done)
                    else:
                        self._prefill_in_chunks(kwargs, lease.reused if lease else 0)
                        result.append(self.model.generate(**kwargs))
            except BaseException as exc:  # reported to the caller, never lost in the thread
                outcome.failure = exc
                streamer.end()

        thread = threading.Thread(target=work, name="interviewer-generate", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    chunk = next(streamer)
                except StopIteration:
                    break
                except queue.Empty:
                    if not thread.is_alive():
                        break
                    continue
                if chunk:
                    yield chunk
        finally:
            stop.set()  # also when the consumer stops reading early
            thread.join(timeout=30)
            if not thread.is_alive() and outcome.failure is None and result:
                usage = self._finished(prompt, result[0], lease, started, first_token, options)
                if report is not None:
                    report(usage)

    def _finished(
        self,
        prompt: list[int],
        result: Any,
        lease: Lease | None,
        started: float,
        first_token: list[float],
        options: GenerationOptions,
    ) -> GenerationUsage:
        """What a clean generation did; its cache is kept for the next prompt."""
        first = first_token[0] - started if first_token else None
        total = time.perf_counter() - started
        budget = options.max_new_tokens
        if isinstance(result, FastResult):
            made = len(result.generated)
            return GenerationUsage(
                "fast", len(prompt), result.reused, made, first, total, made >= budget
            )
        new_tokens = int(result.shape[1]) - len(prompt)
        usage = GenerationUsage(
            "generate",
            len(prompt),
            lease.reused if lease else 0,
            new_tokens,
            first,
            total,
            new_tokens >= budget,
        )
        if lease is not None and self._prefix is not None:
            length = int(lease.cache.get_seq_length())
            if 0 < length <= int(result.shape[1]):
                self._prefix.give_back(result[0, :length].tolist(), lease.cache)
        return usage

    def _prefill_in_chunks(self, kwargs: dict[str, Any], cached: int) -> None:
        """Prefill a long prompt (all but its last token) into the cache ``generate()`` will
        go on from, :attr:`prefill_chunk` tokens per forward, so the activations of an 8k-token
        prompt are those of one chunk; ``generate()`` then prefills only the last token, as
        after a reused prefix. ``cached``: leading tokens the cache already holds."""
        chunk = self.prefill_chunk
        ids = kwargs["input_ids"]
        end = int(ids.shape[1]) - 1
        if not chunk or end - cached <= chunk:
            return  # one pass is one chunk anyway
        cache = kwargs.get(self._cache_argument)
        if cache is None:
            cache = kwargs[self._cache_argument] = self._new_cache()
        mask = kwargs.get("attention_mask")
        for start in range(cached, end, chunk):
            stop = min(start + chunk, end)
            self.model(
                input_ids=ids[:, start:stop],
                attention_mask=mask[:, :stop] if mask is not None else None,
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_argument: cache},
            )

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def _generation_error(self, exc: BaseException) -> ModelError:
        if "OutOfMemoryError" in type(exc).__name__ or "out of memory" in str(exc).lower():
            smaller = f" --model {self.smaller}" if self.smaller else " model"
            return ModelError(
                "the GPU ran out of memory while generating",
                hint=f"close other programs using the GPU, or restart with a smaller{smaller}",
            )
        return ModelError(f"generation failed: {type(exc).__name__}: {str(exc)[:300]}")

    # ----------------------------------------------------------------- the fast decode path

    def use_decode(self, mode: Decode) -> None:
        """Take the ``default`` or the prepared ``fast`` path from the next call on (the GPU
        script measures both on one load); ``fast`` needs :meth:`prepare_fast_decoding` to
        have worked."""
        if mode == "fast" and self.fast_decoder is None:
            raise ModelError("fast decoding was not prepared", hint=self.decode_notice or "")
        with self._lock:
            self._fast = self.fast_decoder if mode == "fast" else None
            self.decode_mode = mode

    def forget_caches(self) -> None:
        """Drop every kept key/value cache (the next prompt is prefilled whole)."""
        with self._lock:
            if self._prefix is not None:
                self._prefix.clear()
            if self.fast_decoder is not None:
                self.fast_decoder.cached_ids = []

    def prompt_capacity(self, max_new_tokens: int) -> int:
        """The longest prompt that, with ``max_new_tokens`` new tokens, the kept caches hold
        and the fast path serves (its static cache keeps one slot for scratch)."""
        return self.config.kv_cache_tokens - 1 - max_new_tokens

    def prepare_fast_decoding(self, say: Callable[[str], None], replay: Replay = "cuda") -> None:
        """Switch to the ``fast`` decode path if it works here; otherwise keep the default one
        and say why (never raises for a fast-path problem: the default path still works).

        ``replay="eager"`` captures eager stand-ins instead of CUDA graphs (the CPU rehearsal
        of the GPU script, and tests): the same steps, checks and decode loop, no graphs."""
        started = time.perf_counter()
        decoder: FastDecoder | None = None
        try:
            unsupported = unsupported_settings(self.model.generation_config)
            if unsupported:
                raise FastDecodeUnavailable(
                    "the model's generation config sets "
                    f"{', '.join(unsupported)}, which fast decoding does not implement"
                )
            decoder = FastDecoder(
                self.model,
                self.config.kv_cache_tokens,
                reuse=self.config.kv_reuse,
                prefill_chunk=self.config.prefill_chunk_tokens,
            )
            if self.plan.device == "cuda" and replay == "cuda":
                say("Preparing fast decoding (capturing one decode step in a CUDA graph)")
            decoder.capture(replay)
        except FastDecodeUnavailable as exc:
            reason = str(exc)
        except Exception as exc:  # whatever a capture raises: the default path stays
            reason = f"capturing the decode step failed ({type(exc).__name__}: {str(exc)[:200]})"
        else:
            assert decoder is not None
            self._fast = self.fast_decoder = decoder
            self.decode_mode = "fast"
            self.fast_prepare_seconds = time.perf_counter() - started
            left_out = (
                f"; spans left out: {', '.join(map(str, sorted(decoder.failures)))}"
                if decoder.failures
                else ""
            )
            say(f"Fast decoding is ready (prepared in {self.fast_prepare_seconds:.1f} s{left_out})")
            return
        decoder = None  # its static cache and any captured graph go before the check below
        self.fast_prepare_seconds = time.perf_counter() - started
        self.decode_notice = f"fast decoding is off: {reason}; using the default decoder"
        say(self.decode_notice[0].upper() + self.decode_notice[1:])
        self._check_after_failed_capture()

    def _check_after_failed_capture(self) -> None:
        """A failed capture must not leave a broken CUDA context behind a working-looking
        model: run one eager step, and turn a failure into advice."""
        if self.plan.device != "cuda":
            return
        import torch

        try:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            with torch.inference_mode():
                ids = torch.tensor([[int(self._eos_ids[0])]], device=self.model.device)
                self.model(input_ids=ids, use_cache=False)
            torch.cuda.synchronize()
        except Exception as exc:
            raise ModelError(
                f"the GPU is unusable after the failed fast-decoding capture: {str(exc)[:200]}",
                hint='restart with --decode default (the setting decode = "default")',
            ) from exc


def _commit_hash(model: Any) -> str | None:
    value = getattr(model.config, "_commit_hash", None)
    return str(value) if value else None
