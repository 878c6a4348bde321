"""The real backend: a local instruct model through transformers (+ bitsandbytes 4-bit).

torch and transformers are imported inside the functions that need them, never at module import,
so the rest of the program (and its first paint) does not pay for them.

One model serves every purpose. Prompts always go through the tokenizer's own chat template
(``apply_chat_template(..., add_generation_prompt=True)``); text streams through a
``TextIteratorStreamer`` made per call, from a generation thread that a ``StoppingCriteria``
stops as soon as the cancel signal is set; grades are constrained to their JSON Schema with
xgrammar while they are decoded.
"""

from __future__ import annotations

import copy
import inspect
import json
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from interviewer.llm.base import (
    ChatMessage,
    GenerationCancelled,
    GenerationOptions,
    ModelError,
    StructuredOutputError,
    T,
)
from interviewer.llm.fast_decode import (
    FastDecoder,
    FastDecodeUnavailable,
    FastResult,
    cache_argument,
    unsupported_settings,
)
from interviewer.llm.kv_reuse import Lease, PrefixCachePool, crop_dynamic_cache
from interviewer.llm.structured import generate_with_retries, parse_structured, repair_truncated
from interviewer.transcript import ModelInfo

Quantization = Literal["auto", "4bit", "8bit", "none"]
DType = Literal["auto", "bfloat16", "float16", "float32"]
Device = Literal["auto", "cuda", "cpu"]
Decode = Literal["default", "fast"]

# End-of-turn markers of the common chat families. Generation stops on every id the model's
# generation config lists; these are added when the tokenizer knows them, for checkpoints whose
# generation config forgot its own end-of-turn token.
_END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")

_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)\s*", re.DOTALL)


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


@dataclass(frozen=True)
class GenerationStats:
    """What one streamed generation did; ``interviewer bench`` reads it after each call."""

    path: Literal["generate", "fast"]
    prompt_tokens: int
    reused_tokens: int
    """Leading prompt tokens whose key/values came from an earlier call (not prefilled)."""
    new_tokens: int
    first_token_s: float | None
    """From the start of the call to the first new token (prefill plus one step)."""
    total_s: float


@dataclass
class _Outcome:
    """How one attempt at a streamed generation ended."""

    failure: BaseException | None = None
    reused: int = 0
    fast: bool = False


_SAMPLING = ("do_sample", "temperature", "top_p", "top_k")
"""The ``generate()`` arguments the fast decode loop takes over."""


def _safetensors_policy(folder: Path, allow_pickle: bool) -> bool | None:
    safetensors = any(folder.glob("*.safetensors"))
    pickles = any(folder.glob("*.bin")) or any(folder.glob("*.pt")) or any(folder.glob("*.pth"))
    if safetensors:
        return True
    if pickles and not allow_pickle:
        raise ModelError(
            f"{folder} only has pickle weights (.bin/.pt), which can run code when loaded",
            hint="convert them to safetensors, or pass --allow-pickle if you trust where they "
            "came from",
        )
    if not pickles:
        raise ModelError(
            f"{folder} has no model weights (*.safetensors)",
            hint="point --model at a folder saved with save_pretrained, a .gguf file or a Hub id",
        )
    return None


def plan_load(config: HFModelConfig, cuda_available: bool, bf16_supported: bool) -> LoadPlan:
    """Resolve ``auto`` settings and check a local source, without importing torch."""
    device: Literal["cuda", "cpu"]
    if config.device == "auto":
        device = "cuda" if cuda_available else "cpu"
    elif config.device == "cuda" and not cuda_available:
        raise ModelError(
            "--device cuda was asked for, but PyTorch sees no CUDA GPU",
            hint="check `nvidia-smi` and that torch is a CUDA build (`interviewer doctor`), or "
            "use --device cpu",
        )
    else:
        device = config.device
    quantization: Literal["4bit", "8bit", "none"] = (
        ("4bit" if device == "cuda" else "none")
        if config.quantization == "auto"
        else config.quantization
    )
    compute_dtype: Literal["bfloat16", "float16", "float32"]
    if config.compute_dtype != "auto":
        compute_dtype = config.compute_dtype
    elif device == "cuda":
        compute_dtype = "bfloat16" if bf16_supported else "float16"
    else:
        compute_dtype = "float32"

    path = Path(config.model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"{path}: no such GGUF file", hint="check the path given to --model")
        return LoadPlan(str(path.parent), "gguf", path.name, device, "none", compute_dtype, None)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"{path} is not a model folder (it has no config.json)",
                hint="point --model at a folder saved with save_pretrained, a .gguf file or a "
                "Hub id such as Qwen/Qwen2.5-7B-Instruct",
            )
        tokenizer_files = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
        if not any((path / name).is_file() for name in tokenizer_files):
            raise ModelError(
                f"{path} has no tokenizer (tokenizer.json or tokenizer_config.json)",
                hint="save the tokenizer into the same folder (tokenizer.save_pretrained(folder))",
            )
        use_safetensors = _safetensors_policy(path, config.allow_pickle)
        return LoadPlan(
            str(path), "folder", None, device, quantization, compute_dtype, use_safetensors
        )
    if config.model.startswith((".", "/", "~")) or config.model.count("/") > 1:
        raise ModelError(
            f"{config.model}: no such file or folder", hint="check the path given to --model"
        )
    return LoadPlan(
        config.model,
        "hub",
        None,
        device,
        quantization,
        compute_dtype,
        None if config.allow_pickle else True,
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def explain_load_error(exc: BaseException, plan: LoadPlan, smaller: str | None) -> ModelError:
    """Turn what transformers, huggingface_hub, torch or bitsandbytes raised into advice."""
    names = {type(e).__name__ for e in _chain(exc)}
    text = " ".join(str(e) for e in _chain(exc))
    lowered = text.lower()
    source = plan.source if plan.kind != "gguf" else f"{plan.source}/{plan.gguf_file}"
    smaller_hint = f" or try the smaller model: --model {smaller}" if smaller else ""
    if "OutOfMemoryError" in names or "out of memory" in lowered:
        return ModelError(
            f"the GPU ran out of memory while loading {source}",
            hint=f"close other programs using the GPU{smaller_hint}",
        )
    if "GatedRepoError" in names or "gated" in lowered:
        return ModelError(
            f"{source} is a gated model: it needs you to accept its licence on the Hub and a token",
            hint="accept the licence on the model's Hub page, then `hf auth login` or set "
            "HF_TOKEN; or pick an ungated model",
        )
    if "RevisionNotFoundError" in names:
        return ModelError(
            f"{source} has no revision '{text.split('revision')[-1][:40].strip()}'",
            hint="check --revision (a branch, tag or commit hash)",
        )
    if (
        "RepositoryNotFoundError" in names
        or "HFValidationError" in names
        or ("is not a valid model identifier" in lowered)
    ):
        return ModelError(
            f"there is no model '{source}' on the Hugging Face Hub (or it is private)",
            hint="check the spelling (owner/name), or log in with a token that can see it",
        )
    if (
        "LocalEntryNotFoundError" in names
        or "OfflineModeIsEnabled" in names
        or "couldn't connect" in lowered
        or "connection" in lowered
    ):
        return ModelError(
            f"{source} is not in the local Hugging Face cache and the Hub cannot be reached",
            hint="connect to the internet once to download it (or unset HF_HUB_OFFLINE), or "
            "point --model at a local folder or .gguf file",
        )
    if "does not appear to have a file named" in lowered and "safetensors" in lowered:
        return ModelError(
            f"{source} has no safetensors weights, only pickle files that can run code on load",
            hint="pick a repository with safetensors, or pass --allow-pickle if you trust it",
        )
    if "trust_remote_code" in lowered:
        return ModelError(
            f"{source} needs custom Python code from its repository to load",
            hint="read that code first; pass --trust-remote-code only if you trust it",
        )
    if "bitsandbytes" in lowered or "libbitsandbytes" in lowered or "cuda setup" in lowered:
        return ModelError(
            f"bitsandbytes could not run the {plan.quantization} quantization: {text[:300]}",
            hint="`pip install -U bitsandbytes`, check that its CUDA library matches your driver "
            "(`python -m bitsandbytes`), or load without quantization: --quantization none",
        )
    return ModelError(
        f"could not load {source}: {type(exc).__name__}: {str(exc)[:400]}",
        hint="run `interviewer doctor` to check the installation",
    )


def grammar_schema(output_type: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema to constrain decoding to: the model's schema with its ``x-grammar`` hints
    applied (tighter bounds than validation, so the grammar's and pydantic's differing ways of
    counting string length can never make a constrained output fail validation)."""
    schema = copy.deepcopy(output_type.model_json_schema())

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            hints = node.pop("x-grammar", None)
            if isinstance(hints, dict):
                node.update(hints)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return schema


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
        self._fold_system = False
        self._eos_ids = self._stop_token_ids()
        self._grammars: dict[str, Any] = {}
        self._xgr_tokenizer_info: Any = None
        self._lock = threading.Lock()
        self._sanitize = (
            "sanitize_control_tokens" in inspect.signature(tokenizer.apply_chat_template).parameters
        )
        self.last_generation: GenerationStats | None = None
        """What the last streamed generation did (tokens, reuse, time to first token)."""
        self.decode_mode: Decode = "default"
        """The decode path in use (``fast`` only once it was prepared successfully)."""
        self.decode_notice: str | None = None
        """Why ``fast`` was asked for but is not in use, in words for the user."""
        self.fast_prepare_seconds = 0.0
        self._fast: FastDecoder | None = None
        self._cache_argument = cache_argument(model)
        self._prefix: PrefixCachePool | None = (
            PrefixCachePool(self._new_cache, crop_dynamic_cache, max_tokens=config.kv_cache_tokens)
            if config.kv_reuse
            else None
        )
        self.kv_reuse_failures = 0
        """Generations that failed with a reused cache and were redone with a fresh one."""
        self._info = ModelInfo(
            backend="hf",
            model_id=config.model if plan.kind != "gguf" else f"{plan.gguf_file}",
            revision=config.revision or _commit_hash(model),
            quantization=(
                "gguf (dequantized)"
                if plan.kind == "gguf"
                else {"4bit": "nf4", "8bit": "int8", "none": plan.compute_dtype}[plan.quantization]
            ),
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    # ----------------------------------------------------------------- prompts

    def _stop_token_ids(self) -> list[int]:
        ids: set[int] = set()
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(int(i) for i in configured)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        vocab = self.tokenizer.get_vocab()
        for token in _END_OF_TURN_TOKENS:
            if token in vocab and token in self.tokenizer.all_special_tokens:
                ids.add(int(vocab[token]))
        return sorted(ids)

    def _plain(self, text: str) -> str:
        """For transformers without ``sanitize_control_tokens``: break up special-token strings
        (with a zero-width joiner) so typed text can never become a control token."""
        for token in self.tokenizer.all_special_tokens:
            if len(token) > 1 and token in text:
                text = text.replace(token, token[0] + "\u200d" + token[1:])
        return text

    def _as_dicts(self, messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        dicts = [
            {"role": m.role, "content": m.content if self._sanitize else self._plain(m.content)}
            for m in messages
        ]
        if self._fold_system and dicts and dicts[0]["role"] == "system":
            system = dicts.pop(0)["content"]
            if dicts and dicts[0]["role"] == "user":
                dicts[0] = {"role": "user", "content": f"{system}\n\n{dicts[0]['content']}"}
            else:
                dicts.insert(0, {"role": "user", "content": system})
        return dicts

    def render(self, messages: Sequence[ChatMessage]) -> Any:
        """Token ids for ``messages`` through the model's own chat template.

        Templates that reject a system role get the system text folded into the first user
        turn (decided once, on the first rejection); thinking is switched off where a
        template has the switch; control tokens typed by the candidate stay plain text.
        """
        import jinja2

        extra: dict[str, Any] = {"enable_thinking": False}
        if self._sanitize:
            extra["sanitize_control_tokens"] = True
        for _ in range(2):
            try:
                return self.tokenizer.apply_chat_template(
                    self._as_dicts(messages),
                    add_generation_prompt=True,
                    tokenize=True,
                    return_dict=True,
                    return_tensors="pt",
                    **extra,
                )
            except jinja2.TemplateError as exc:
                has_system = any(m.role == "system" for m in messages)
                if has_system and not self._fold_system:
                    self._fold_system = True
                    continue
                raise ModelError(
                    f"the model's chat template rejected the conversation: {exc}",
                    hint="pass a template that fits with --chat-template FILE",
                ) from exc
        raise AssertionError("unreachable")

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
        record: _ChosenTokenProbability | None = None,
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
    ) -> Iterator[str]:
        """Stream one reply.

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
                    messages, options, cancel, logits_processor, reuse, outcome
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
                    self._fast = None
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
                self._finished(prompt, result[0], lease, started, first_token)

    def _finished(
        self,
        prompt: list[int],
        result: Any,
        lease: Lease | None,
        started: float,
        first_token: list[float],
    ) -> None:
        """Record what a clean generation did, and keep its cache for the next prompt."""
        first = first_token[0] - started if first_token else None
        total = time.perf_counter() - started
        if isinstance(result, FastResult):
            self.last_generation = GenerationStats(
                "fast", len(prompt), result.reused, len(result.generated), first, total
            )
            return
        new_tokens = int(result.shape[1]) - len(prompt)
        self.last_generation = GenerationStats(
            "generate", len(prompt), lease.reused if lease else 0, new_tokens, first, total
        )
        if lease is not None and self._prefix is not None:
            length = int(lease.cache.get_seq_length())
            if 0 < length <= int(result.shape[1]):
                self._prefix.give_back(result[0, :length].tolist(), lease.cache)

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def prepare_fast_decoding(self, say: Callable[[str], None]) -> None:
        """Switch to the ``fast`` decode path if it works here; otherwise keep the default one
        and say why (never raises for a fast-path problem: the default path still works)."""
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
                self.model, self.config.kv_cache_tokens, reuse=self.config.kv_reuse
            )
            if self.plan.device == "cuda":
                say("Preparing fast decoding (capturing one decode step in a CUDA graph)")
            decoder.capture()
        except FastDecodeUnavailable as exc:
            reason = str(exc)
        except Exception as exc:  # whatever a capture raises: the default path stays
            reason = f"capturing the decode step failed ({type(exc).__name__}: {str(exc)[:200]})"
        else:
            assert decoder is not None
            self._fast = decoder
            self.decode_mode = "fast"
            self.fast_prepare_seconds = time.perf_counter() - started
            say(f"Fast decoding is ready (prepared in {self.fast_prepare_seconds:.1f} s)")
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

    def _generation_error(self, exc: BaseException) -> ModelError:
        if "OutOfMemoryError" in type(exc).__name__ or "out of memory" in str(exc).lower():
            smaller = f" --model {self.smaller}" if self.smaller else " model"
            return ModelError(
                "the GPU ran out of memory while generating",
                hint=f"close other programs using the GPU, or restart with a smaller{smaller}",
            )
        return ModelError(f"generation failed: {type(exc).__name__}: {str(exc)[:300]}")

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        in_think = False
        for chunk in self._generate(messages, options, cancel):
            # Models that think anyway: keep their reasoning out of the interview.
            if "<think>" in chunk:
                in_think = True
            if in_think:
                if "</think>" in chunk:
                    in_think = False
                    chunk = chunk.split("</think>", 1)[1].lstrip()
                else:
                    continue
            if chunk:
                yield chunk

    # ----------------------------------------------------------------- structured output

    def _grammar(self, output_type: type[BaseModel]) -> Any:
        import xgrammar

        schema = grammar_schema(output_type)
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            if self._xgr_tokenizer_info is None:
                self._xgr_tokenizer_info = xgrammar.TokenizerInfo.from_huggingface(
                    self.tokenizer,
                    vocab_size=self.model.config.get_text_config().vocab_size,
                    stop_token_ids=self._eos_ids,
                )
            compiler = xgrammar.GrammarCompiler(self._xgr_tokenizer_info)
            self._grammars[key] = compiler.compile_json_schema(
                schema, any_whitespace=False, separators=(",", ":"), strict_mode=True
            )
        return self._grammars[key]

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        result, _ = self._structured(messages, output_type, options, cancel, scored_field=None)
        return result

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
        return self._structured(messages, output_type, options, cancel, scored_field=scored_field)

    def _structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None,
        *,
        scored_field: str | None,
    ) -> tuple[T, list[float]]:
        try:
            from xgrammar.contrib.hf import LogitsProcessor
        except ImportError:
            result = generate_with_retries(
                lambda conversation: self._generate_text(conversation, options, cancel)[0],
                messages,
                output_type,
            )
            return result, []
        problem = ""
        for _ in range(2):
            processor = LogitsProcessor(self._grammar(output_type))  # one per generate() call
            record = (
                _chosen_token_probability()
                if scored_field is not None and options.temperature == 0
                else None
            )
            text, ids = self._generate_text(messages, options, cancel, processor, record=record)
            for candidate in (text, repair_truncated(text)):
                try:
                    result = parse_structured(candidate, output_type)
                except ValueError as exc:
                    problem = str(exc)
                    continue
                if record is None or scored_field is None or candidate is not text:
                    return result, []
                return result, field_confidences(
                    self.tokenizer, ids, record.probabilities(), text, scored_field
                )
        raise StructuredOutputError(
            f"the model's constrained output did not validate as {output_type.__name__}: {problem}",
            hint="raise the token budget or use another model",
        )


class _ChosenTokenProbability(Protocol):
    """The recorder made by :func:`_chosen_token_probability`."""

    def __call__(self, input_ids: Any, scores: Any) -> Any: ...

    def probabilities(self) -> list[float]: ...


def _chosen_token_probability() -> _ChosenTokenProbability:
    """A logits processor that notes, per step, the probability of the token greedy decoding
    will pick (the largest after every other processor, the grammar's mask included).

    The values stay on the device until the end, so recording adds no synchronisation.
    """
    import torch
    from transformers import LogitsProcessor

    class Recorder(LogitsProcessor):
        def __init__(self) -> None:
            self.steps: list[Any] = []

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            self.steps.append(torch.softmax(scores[0].float(), dim=-1).max())
            return scores

        def probabilities(self) -> list[float]:
            if not self.steps:
                return []
            values: list[float] = torch.stack(self.steps).cpu().tolist()
            return values

    recorder: _ChosenTokenProbability = Recorder()
    return recorder


def field_confidences(
    tokenizer: Any, ids: Sequence[int], probabilities: Sequence[float], text: str, field: str
) -> list[float]:
    """For each ``"field": "value"`` in ``text`` (decoded from ``ids``), the product of the
    probabilities of the tokens that wrote the value.

    The grammar forces every character before the value and, once the value's first letters are
    chosen, usually the rest of it, so the product is the model's probability for that value
    (a lower bound where one value has several tokenizations). Tokens are mapped to characters
    by decoding prefixes, found by bisection (a handful of decodes per value).
    """
    if len(probabilities) < len(ids) or not ids:
        return []
    lengths: dict[int, int] = {}

    def decoded_length(count: int) -> int:
        if count not in lengths:
            lengths[count] = len(tokenizer.decode(list(ids[:count]), skip_special_tokens=True))
        return lengths[count]

    def token_at(offset: int) -> int:
        """Index of the token that wrote character ``offset``."""
        low, high = 1, len(ids)
        while low < high:
            middle = (low + high) // 2
            if decoded_length(middle) > offset:
                high = middle
            else:
                low = middle + 1
        return low - 1

    pattern = re.compile(rf'"{re.escape(field)}"\s*:\s*"([^"\\]*)"')
    confidences: list[float] = []
    for match in pattern.finditer(text):
        first, last = token_at(match.start(1)), token_at(max(match.end(1) - 1, match.start(1)))
        confidence = 1.0
        for index in range(first, last + 1):
            confidence *= float(probabilities[index])
        confidences.append(confidence)
    return confidences


def _commit_hash(model: Any) -> str | None:
    value = getattr(model.config, "_commit_hash", None)
    return str(value) if value else None


GIB = 1024**3

_HUB_FILES = ["*.json", "*.safetensors", "*.jinja", "tokenizer*", "*.model", "*.txt", "*.tiktoken"]


def weights_size(plan: LoadPlan) -> int:
    """Bytes of weights a local plan will read."""
    folder = Path(plan.source)
    if plan.gguf_file:
        return (folder / plan.gguf_file).stat().st_size
    patterns = ("*.safetensors", "*.bin") if plan.use_safetensors is None else ("*.safetensors",)
    return sum(f.stat().st_size for pattern in patterns for f in folder.glob(pattern))


def progress_bar_class(on_progress: Callable[[int, int], None]) -> type[Any]:
    """A tqdm class for huggingface_hub that reports downloaded bytes instead of drawing."""
    import os

    from tqdm.auto import tqdm

    class _Progress(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["file"] = Path(os.devnull).open("w")  # noqa: SIM115 - closed with the bar
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            shown: bool | None = super().update(n)
            if self.unit == "B" and self.total:
                on_progress(int(self.n), int(self.total))
            return shown

        def close(self) -> None:
            super().close()
            if self.fp is not None and not self.fp.closed:
                self.fp.close()

    return _Progress


def download_model(
    config: HFModelConfig,
    plan: LoadPlan,
    say: Callable[[str], None],
    on_progress: Callable[[int, int], None] | None,
    smaller: str | None,
) -> tuple[str, str | None]:
    """The local snapshot folder of a Hub model (downloaded first when it is not cached), and
    its commit hash. HF_TOKEN is used for gated models; HF_HUB_OFFLINE is honoured."""
    from huggingface_hub import snapshot_download

    patterns = [*_HUB_FILES, *(["*.bin"] if config.allow_pickle else [])]
    try:
        folder = snapshot_download(
            config.model, revision=config.revision, allow_patterns=patterns, local_files_only=True
        )
        say(f"{config.model} is in the local Hugging Face cache")
    except Exception:
        say(f"Downloading {config.model} into the Hugging Face cache")
        try:
            folder = snapshot_download(
                config.model,
                revision=config.revision,
                allow_patterns=patterns,
                tqdm_class=progress_bar_class(on_progress) if on_progress else None,
            )
        except Exception as exc:
            raise explain_load_error(exc, plan, smaller) from exc
    path = Path(str(folder))
    if not any(path.glob("*.safetensors")) and not config.allow_pickle:
        raise ModelError(
            f"{config.model} has no safetensors weights, only pickle files that can run code on "
            "load",
            hint="pick a repository with safetensors, or pass --allow-pickle if you trust it",
        )
    return str(path), path.name if path.parent.name == "snapshots" else None


def load_hf_model(
    config: HFModelConfig,
    *,
    smaller: str | None = None,
    on_status: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> HFModel:
    """Load tokenizer and model as ``config`` says; every failure becomes a :class:`ModelError`.

    ``on_status`` hears each stage in words; ``on_progress`` hears (bytes done, bytes total) while
    a Hub model downloads.
    """
    say = on_status or (lambda _message: None)
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ModelError(
            f"the model stack is not installed ({exc.name} is missing)",
            hint="pip install 'torch>=2.11' 'transformers>=5.17' accelerate bitsandbytes",
        ) from exc

    cuda = torch.cuda.is_available()
    plan = plan_load(config, cuda, cuda and torch.cuda.is_bf16_supported())
    started = time.perf_counter()
    common: dict[str, Any] = {
        "revision": config.revision,
        "trust_remote_code": config.trust_remote_code,
    }
    if plan.gguf_file:
        common["gguf_file"] = plan.gguf_file
    if plan.kind == "hub":
        folder, commit = download_model(config, plan, say, on_progress, smaller)
        plan = LoadPlan(
            folder,
            "folder",
            None,
            plan.device,
            plan.quantization,
            plan.compute_dtype,
            plan.use_safetensors,
        )
        common["revision"] = None
        config = config.model_copy(update={"revision": config.revision or commit})
    say(f"Loading the tokenizer of {config.model} ({weights_size(plan) / GIB:.2f} GiB of weights)")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(plan.source, **common)
    except Exception as exc:
        raise explain_load_error(exc, plan, smaller) from exc
    if config.chat_template:
        template_path = Path(config.chat_template).expanduser()
        tokenizer.chat_template = (
            template_path.read_text(encoding="utf-8")
            if template_path.is_file()
            else config.chat_template
        )
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            f"{config.model} has no chat template: it is probably a base model, not an "
            "instruct/chat model",
            hint="use an instruct model, or give the template with --chat-template FILE",
        )

    model_kwargs: dict[str, Any] = {
        **common,
        "dtype": getattr(torch, plan.compute_dtype),
        "device_map": "auto" if plan.device == "cuda" else "cpu",
    }
    if plan.use_safetensors is not None:
        model_kwargs["use_safetensors"] = plan.use_safetensors
    if plan.quantization != "none":
        model_kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            **(
                {
                    "load_in_4bit": True,
                    "bnb_4bit_quant_type": "nf4",
                    "bnb_4bit_use_double_quant": True,
                    "bnb_4bit_compute_dtype": getattr(torch, plan.compute_dtype),
                }
                if plan.quantization == "4bit"
                else {"load_in_8bit": True}
            )
        )
    where = "the GPU" if plan.device == "cuda" else "the CPU (slow: no CUDA GPU was found)"
    quant = {"4bit": "4-bit NF4", "8bit": "8-bit", "none": plan.compute_dtype}[plan.quantization]
    if plan.kind == "gguf":
        say(
            f"Loading {config.model} in {quant} on {where}: transformers converts every tensor "
            "of a .gguf file as it loads, which takes a while (about half a minute per 100 MB "
            "on two CPU cores); a folder saved with save_pretrained loads in seconds"
        )
    else:
        say(f"Loading {config.model} in {quant} on {where}")
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(plan.source, **model_kwargs)
    except Exception as exc:
        raise explain_load_error(exc, plan, smaller) from exc
    model.eval()
    loaded = HFModel(model, tokenizer, config, plan, smaller)
    loaded.load_seconds = time.perf_counter() - started
    if config.decode == "fast":
        loaded.prepare_fast_decoding(say)  # behind the loading screen; timed on its own
    return loaded
