"""One GPU run that settles every target: one process, one load, stages with time limits.

On a lent GPU machine (device tool: carry [".whl"], timeout_s 540; see docs/development.md,
"Checking a GPU"):

    bash scripts/gpu_all.sh          # installs the carried wheels, then runs this script

On any machine, the rehearsal (the tiny shape on the CPU, every stage and every field):

    python scripts/gpu_run.py --rehearse --out DIR

Random weights in the Qwen2.5-7B-Instruct shape (its real vocabulary, a tokenizer of its real
size, its own sampling config) are built once in --workdir, then loaded ONCE through the real
loader in NF4; every stage measures that one model. ``$OUT/results.json`` is rewritten after
every stage, so a stage that hangs or a call that is cut off still leaves what came before.

  0. the checkpoint (built once, reused) and the one load
  1. environment: versions, the GPU, which attention backends run the decode's shapes
  2. the floor: each Linear4bit shape and the LM head at M=1, in µs and GB/s, summed per token
  3. one eager decode step profiled: kernel count, the top kernels, the attention kernel
  4. capture span by span, each checked with fresh inputs against an eager reference
  5. decode tok/s: graph replay at spans 128 / 1k / 4k / 8k; generate() against the fast path,
     greedy and with the model's sampling; through stream() on both paths
  6. time to first token over a 20-turn conversation, both paths
  7. memory at about 8k tokens, with and without chunked prefill, both paths
  8. one schema-constrained grade
  9. if time is left: bf16 on the fast path, and one compiled decode step (Inductor without
     CUDA graphs, inside the hand-made graph), capped at 2 minutes

It ends with PASS or FAIL per target, with the definition used, in ``results["targets"]``.
Budget: about 6 minutes (``--budget``); each stage has its own limit within it.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import json
import os
import platform
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_TOK_S = 150.0
TARGET_TTFT_RATIO = 1.2
TARGET_MEMORY_GIB = 6.0

GREEDY = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
MODEL_SAMPLING: dict[str, Any] = {}
"""No arguments: generate() and the fast path sample with the model's own generation config."""

ANSWER = "NF4 stores weights in 4 bits, 0.5 bytes per parameter; compute stays in bfloat16."


@dataclass(frozen=True)
class Sizes:
    """How big each stage is: the real run and its rehearsal differ only here."""

    shape: str
    quantization: str
    replay: str
    kv_cache_tokens: int
    iterations: int
    """Timed repetitions of one kernel or one step."""
    profile_prompt_tokens: int
    decode_prompt_tokens: int
    decode_tokens: int
    turns: int
    reply_tokens: int
    memory_reply_tokens: int
    prefill_chunk: int
    """The model's prefill chunk (the product's default on the GPU)."""
    chunks: tuple[int, ...]
    """Prefill chunk sizes the memory stage tries besides the model's own (0: one pass)."""
    compile_backend: str
    compile_limit_s: float


GPU = Sizes(
    shape="qwen2.5-7b",
    quantization="4bit",
    replay="cuda",
    kv_cache_tokens=8192,
    iterations=50,
    profile_prompt_tokens=1000,
    decode_prompt_tokens=1000,
    decode_tokens=128,
    turns=20,
    reply_tokens=32,
    memory_reply_tokens=16,
    prefill_chunk=1024,
    chunks=(0, 2048),
    compile_backend="inductor",
    compile_limit_s=120.0,
)
REHEARSAL = Sizes(
    shape="tiny",
    quantization="4bit",  # bitsandbytes runs NF4 on the CPU too: the same Linear4bit path
    replay="eager",
    kv_cache_tokens=2048,  # the tiny byte-level tokenizer spends ~1.5k tokens on the opening
    iterations=2,
    profile_prompt_tokens=1800,
    decode_prompt_tokens=1800,
    decode_tokens=8,
    turns=3,
    reply_tokens=4,
    memory_reply_tokens=4,
    prefill_chunk=256,  # the rehearsal's prompts are about 2k tokens: chunks must show
    chunks=(0,),
    compile_backend="eager",  # Dynamo only: Inductor on the CPU needs a compiler and minutes
    compile_limit_s=20.0,
)

# key, title, seconds allowed (the budget left caps each)
STAGES: tuple[tuple[str, str, float], ...] = (
    ("environment", "1. environment: versions, GPU, attention backends", 30),
    ("checkpoint", "0. the random checkpoint (built once in --workdir, reused after)", 240),
    ("load", "0. one load of the checkpoint (NF4, double quantization)", 90),
    ("floor", "2. the floor: each Linear4bit shape and the LM head at M=1", 30),
    ("profile", "3. one eager decode step profiled", 30),
    ("capture", "4. capture span by span, with the fresh-input check", 90),
    ("decode", "5. decode tok/s: replay per span, generate() vs fast, stream()", 90),
    ("conversation", "6. time to first token over a 20-turn conversation, both paths", 90),
    ("memory", "7. memory at about 8k tokens, with and without chunked prefill", 60),
    ("grade", "8. one schema-constrained grade", 60),
    ("extras", "9. if time is left: bf16 on the fast path, one compiled decode step", 180),
)
NEEDS = {
    "load": ("checkpoint",),
    "floor": ("load",),
    "profile": ("load",),
    "capture": ("load",),
    "decode": ("load",),
    "conversation": ("load",),
    "memory": ("load",),
    "grade": ("load",),
    "extras": ("load",),
}


class StageTimeout(Exception):
    """A stage ran past its limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`StageTimeout` in the main thread after ``seconds`` (nested limits keep
    the tighter one and restore the outer one)."""
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()
    limit = min(seconds, outer) if outer else seconds

    def expired(signum: int, frame: Any) -> None:
        raise StageTimeout(f"past its limit of {limit:.0f} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, max(limit, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            left = outer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


class Run:
    """The one process's state: the model, the results, the clock."""

    def __init__(self, sizes: Sizes, out: Path, workdir: Path, budget: float, rehearse: bool):
        self.sizes = sizes
        self.out = out
        self.workdir = workdir
        self.rehearse = rehearse
        self.started = time.monotonic()
        self.deadline = self.started + budget
        self.model: Any = None
        self.folder: Path | None = None
        self.bank: Any = None
        self.replies = [ANSWER, "I would keep the LM head in bf16.", "I am not sure."]
        self.results: dict[str, Any] = {
            "script": "scripts/gpu_run.py",
            "rehearsal": rehearse,
            "note": (
                "rehearsal on the CPU with the tiny shape: every stage and field, no "
                "measurement of the targets"
                if rehearse
                else "random weights in the Qwen2.5-7B-Instruct shape, NF4, one load"
            ),
            "sizes": asdict(sizes),
            "budget_s": budget,
            "stages": {},
            "targets": {},
            "checks": {},
        }

    @property
    def cuda(self) -> bool:
        import torch

        return torch.cuda.is_available() and not self.rehearse

    def write(self) -> None:
        self.results["elapsed_s"] = round(time.monotonic() - self.started, 1)
        path = self.out / "results.json"
        temporary = path.with_suffix(".json.partial")
        temporary.write_text(json.dumps(self.results, indent=2, default=str) + "\n")
        temporary.replace(path)

    def stage(self, key: str, body: Callable[[Run, dict[str, Any]], None]) -> None:
        title, limit = next((t, s) for k, t, s in STAGES if k == key)
        left = self.deadline - time.monotonic()
        record: dict[str, Any] = {"title": title, "status": "running", "limit_s": None}
        self.results["stages"][key] = record
        missing = [n for n in NEEDS.get(key, ()) if self.status(n) != "ok"]
        if missing:
            record.update(status="skipped", error=f"needs {', '.join(missing)}")
        elif left < 5:
            record.update(status="skipped", error="no time left in the budget")
        else:
            record["limit_s"] = round(min(limit, left), 1)
            say(f"{title} (at most {record['limit_s']} s)")
            begun = time.monotonic()
            try:
                with time_limit(record["limit_s"]):
                    body(self, record)
            except StageTimeout as exc:
                record.update(status="timeout", error=str(exc))
            except Exception as exc:
                record.update(
                    status="failed",
                    error=f"{type(exc).__name__}: {str(exc)[:500]}",
                    traceback=traceback.format_exc()[-2000:],
                )
            else:
                record["status"] = "ok"
            record["seconds"] = round(time.monotonic() - begun, 2)
            self.free()  # what the stage dropped goes back before the next one measures
        say(
            f"  -> {record['status']}" + (f": {record.get('error')}" if record.get("error") else "")
        )
        self.write()

    def status(self, key: str) -> str | None:
        stage = self.results["stages"].get(key)
        return stage["status"] if stage else None

    def memory(self) -> dict[str, Any]:
        from interviewer.bench.memory import gpu_memory, process_baseline
        from interviewer.bench.timing import _peak_memory

        return gpu_memory(process_baseline()) if self.cuda else _peak_memory(False)

    def free(self) -> None:
        """Give the GPU back what was dropped (cycles first). On the CPU there is nothing to
        give back that a measurement reads, and a collection takes about 0.4 s there."""
        if self.cuda:
            import torch

            gc.collect()
            torch.cuda.empty_cache()

    def prompt_ids(self, tokens: int) -> tuple[list[Any], list[int]]:
        """A conversation of about ``tokens`` prompt tokens, and its ids."""
        from interviewer.bench.probes import long_messages

        messages = long_messages(self.model, self.bank, self.replies, tokens)
        return messages, self.model.render(messages)["input_ids"][0].tolist()


# ----------------------------------------------------------------- stage 1


def stage_environment(run: Run, out: dict[str, Any]) -> None:
    import torch

    from interviewer.bench.memory import GIB, process_baseline

    baseline = process_baseline() if run.cuda else None  # before anything is allocated
    out["python"] = platform.python_version()
    out["platform"] = platform.platform()
    out["packages"] = {
        name: _version(name)
        for name in (
            "torch",
            "transformers",
            "bitsandbytes",
            "accelerate",
            "xgrammar",
            "tokenizers",
            "pydantic",
        )
    }
    out["torch_cuda"] = torch.version.cuda
    out["cuda_available"] = torch.cuda.is_available()
    out["device"] = torch.cuda.get_device_name(0) if run.cuda else "cpu"
    out["capability"] = list(torch.cuda.get_device_capability(0)) if run.cuda else None
    out["cpu_count"] = os.cpu_count()
    out["memory_baseline"] = (
        {"free_gib": round(baseline.free / GIB, 3), "total_gib": round(baseline.total / GIB, 3)}
        if baseline
        else None
    )
    out["attention_backends"] = _attention_backends(run.cuda)


def _attention_backends(cuda: bool) -> dict[str, Any]:
    """Which SDPA backends run the decode step's attention (one query, grouped heads already
    repeated as transformers does, with and without the fast path's boolean mask)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention

    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    query = torch.randn(1, 28, 1, 128, device=device, dtype=dtype)
    keys = torch.randn(1, 28, 1024, 128, device=device, dtype=dtype)
    mask = torch.zeros(1, 1, 1, 1024, dtype=torch.bool, device=device)
    mask[..., :900] = True
    enabled = {
        "flash": torch.backends.cuda.flash_sdp_enabled(),
        "efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
        "cudnn": torch.backends.cuda.cudnn_sdp_enabled(),
        "math": torch.backends.cuda.math_sdp_enabled(),
    }
    backends = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "math": SDPBackend.MATH,
    }
    found: dict[str, Any] = {}
    for name, backend in backends.items():
        row: dict[str, Any] = {"enabled": enabled[name]}
        for label, attention_mask in (("maskless", None), ("masked", mask)):
            try:
                with sdpa_kernel([backend]):
                    scaled_dot_product_attention(query, keys, keys, attn_mask=attention_mask)
                _sync()
                row[label] = "ok"
            except Exception as exc:
                row[label] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        found[name] = row
    return found


# ----------------------------------------------------------------- stage 0


def stage_checkpoint(run: Run, out: dict[str, Any]) -> None:
    from interviewer.bench.memory import GIB
    from interviewer.llm.random_weights import (
        QWEN25_SAMPLING,
        RECIPE_FILE,
        SHAPES,
        build_random_model,
    )

    shape = run.sizes.shape
    folder = run.workdir / shape
    started = time.perf_counter()
    existed = (folder / RECIPE_FILE).is_file()
    run.folder = build_random_model(
        folder,
        shape,
        "chatml",
        dtype="bfloat16" if run.cuda else "float32",
        device="cuda" if run.cuda else "cpu",
        reuse=True,
        sampling=QWEN25_SAMPLING,
    )
    run.free()
    if run.cuda:  # the build's 15 GB on the GPU are gone: peaks count from here
        import torch

        torch.cuda.reset_peak_memory_stats()
    out["folder"] = str(run.folder)
    out["build_s"] = round(time.perf_counter() - started, 2)
    out["recipe_found"] = existed
    out["checkpoint_gib"] = round(
        sum(f.stat().st_size for f in run.folder.glob("*.safetensors")) / GIB, 3
    )
    out["shape"] = asdict(SHAPES[shape])
    out["sampling"] = QWEN25_SAMPLING
    out["tokenizer_tokens"] = SHAPES[shape].tokenizer_tokens


def stage_load(run: Run, out: dict[str, Any]) -> None:
    from interviewer.bank import load_bank
    from interviewer.llm.hf import HFModelConfig, load_hf_model
    from interviewer.resources import default_bank_dir

    run.bank = load_bank(default_bank_dir())
    config = HFModelConfig(
        model=str(run.folder),
        quantization=run.sizes.quantization,  # type: ignore[arg-type]
        kv_cache_tokens=run.sizes.kv_cache_tokens,
        prefill_chunk_tokens=run.sizes.prefill_chunk,
        device="cpu" if run.rehearse else "auto",
    )
    run.model = load_hf_model(config, on_status=lambda message: say(f"  {message}"))
    model = run.model
    out["load_s"] = round(model.load_seconds, 2)
    out["quantization"] = model.info.quantization
    out["device"] = model.plan.device
    out["compute_dtype"] = model.plan.compute_dtype
    out["attn_implementation"] = getattr(model.model.config, "_attn_implementation", None)
    out["tokenizer_size"] = len(model.tokenizer)
    out["vocab_size"] = model.model.config.vocab_size
    out["kv_cache_tokens"] = model.config.kv_cache_tokens
    out["prefill_chunk_tokens"] = model.config.prefill_chunk_tokens
    out["generation_config"] = {
        k: getattr(model.model.generation_config, k, None)
        for k in ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty")
    }
    out["memory"] = run.memory()


# ----------------------------------------------------------------- stage 2


def _weight_bytes(module: Any) -> int:
    """Bytes the module's weight reads per call: packed 4-bit data plus its quantization
    constants (double-quantized absmax, the nested state's own), or the plain weight."""
    weight = module.weight
    total = weight.numel() * weight.element_size()
    state = getattr(weight, "quant_state", None)
    for part in (state, getattr(state, "state2", None)):
        absmax = getattr(part, "absmax", None)
        if absmax is not None:
            total += absmax.numel() * absmax.element_size()
    return int(total)


def _time_calls(call: Callable[[], Any], iterations: int) -> float:
    """Seconds per call, after two warm-ups."""
    for _ in range(2):
        call()
    _sync()
    started = time.perf_counter()
    for _ in range(iterations):
        call()
    _sync()
    return (time.perf_counter() - started) / iterations


def stage_floor(run: Run, out: dict[str, Any]) -> None:
    import torch

    model = run.model.model
    layers = model.config.get_text_config().num_hidden_layers
    linear = [
        (name, module, layers)
        for name, module in model.model.layers[0].named_modules()
        if isinstance(module, torch.nn.Linear)
    ]
    linear.append(("lm_head", model.lm_head, 1))
    rows = []
    with torch.inference_mode():
        for name, module, count in linear:
            x = torch.randn(1, 1, module.in_features, device=model.device, dtype=model.dtype)
            seconds = _time_calls(lambda m=module, x=x: m(x), run.sizes.iterations)
            read = _weight_bytes(module)
            rows.append(
                {
                    "name": name,
                    "kind": type(module).__name__,
                    "shape": [module.out_features, module.in_features],
                    "per_token": count,
                    "us": round(seconds * 1e6, 2),
                    "weight_mib": round(read / 2**20, 2),
                    "gb_s": round(read / seconds / 1e9, 1),
                }
            )
    out["modules"] = rows
    per_token = sum(row["us"] * row["per_token"] for row in rows) / 1000
    out["matmul_ms_per_token"] = round(per_token, 3)
    out["matmul_tok_s_ceiling"] = round(1000 / per_token, 1) if per_token else None
    out["note"] = (
        "the linear layers alone at batch 1, one kernel call each: a decode step cannot be "
        "faster than this with these kernels (attention, norms and sampling come on top)"
    )


# ----------------------------------------------------------------- stage 3


def _profile(call: Callable[[], Any], cuda: bool) -> dict[str, Any]:
    """Kernel launches (GPU) or aten ops (CPU) of one call, the top ones and attention's."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    _sync()
    started = time.perf_counter()
    with profile(activities=activities) as prof:
        call()
        _sync()
    wall = time.perf_counter() - started
    if cuda:
        events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]

        def spent(e: Any) -> float:
            return float(e.time_range.elapsed_us())

        unit = "CUDA kernels"
    else:
        events = [e for e in prof.events() if e.name.startswith("aten::")]

        def spent(e: Any) -> float:
            return float(e.self_cpu_time_total)

        unit = "aten ops"
    totals: dict[str, list[float]] = {}
    for event in events:
        entry = totals.setdefault(event.name, [0.0, 0])
        entry[0] += spent(event)
        entry[1] += 1
    top = sorted(totals.items(), key=lambda item: -item[1][0])[:10]
    attention = sorted(
        name
        for name in totals
        if re.search(r"flash|fmha|efficient_attention|attention|sdpa|cudnn", name, re.IGNORECASE)
    )
    return {
        "unit": unit,
        "launches": len(events),
        "distinct": len(totals),
        "top": [{"name": name[:120], "us": round(t, 1), "count": int(n)} for name, (t, n) in top],
        "attention": [name[:160] for name in attention],
        "wall_ms": round(wall * 1000, 2),
    }


def stage_profile(run: Run, out: dict[str, Any]) -> None:
    import torch
    from transformers import DynamicCache

    from interviewer.llm.fast_decode import FastDecoder

    model = run.model
    _, prompt = run.prompt_ids(run.sizes.profile_prompt_tokens)
    out["prompt_tokens"] = len(prompt)
    decoder = FastDecoder(model.model, run.sizes.kv_cache_tokens, prefill_chunk=0)
    position = len(prompt)
    with torch.inference_mode():
        token = int(decoder.prefill(prompt, 0).argmax())
        decoder.decode_one_token(token, position)  # a warm-up
        out["static_step"] = _profile(
            lambda: decoder.decode_one_token(token, position + 1), run.cuda
        )
        cache = DynamicCache(config=model.model.config)
        ids = torch.tensor([prompt], device=model.model.device)
        argument = decoder.cache_argument
        model.model(input_ids=ids, use_cache=True, logits_to_keep=1, **{argument: cache})
        one = torch.tensor([[token]], device=model.model.device)

        def dynamic_step() -> None:  # what generate() runs per token
            model.model(input_ids=one, use_cache=True, logits_to_keep=1, **{argument: cache})

        dynamic_step()
        out["dynamic_step"] = _profile(dynamic_step, run.cuda)
    out["note"] = (
        "static_step: the fast path's step (masked attention over the static cache) run "
        "eagerly, i.e. what one graph replay launches at once; dynamic_step: generate()'s "
        "step over a dynamic cache, no mask"
    )


# ----------------------------------------------------------------- stage 4


def stage_capture(run: Run, out: dict[str, Any]) -> None:
    from interviewer.bench.memory import GIB
    from interviewer.llm.fast_decode import RELATIVE_TOLERANCE

    model = run.model
    started = time.perf_counter()
    model.prepare_fast_decoding(lambda message: say(f"  {message}"), replay=run.sizes.replay)
    out["prepare_s"] = round(time.perf_counter() - started, 2)
    out["decode_in_use"] = model.decode_mode
    out["notice"] = model.decode_notice
    out["replay"] = run.sizes.replay
    out["relative_tolerance"] = RELATIVE_TOLERANCE
    decoder = model.fast_decoder
    if decoder is None:
        out.update(spans=[], captured=[], left_out={}, static_cache_gib=None, graph_pool_gib=None)
        raise RuntimeError(f"no span could be captured: {model.decode_notice}")
    out["spans"] = [
        {
            "span": span,
            "capture_s": _rounded(decoder.span_capture_seconds.get(span)),
            "ok": span in decoder.graphs,
            "check": decoder.checks[span].as_dict() if span in decoder.checks else None,
            "failure": decoder.failures.get(span),
        }
        for span in decoder.buckets
    ]
    out["captured"] = sorted(decoder.graphs)
    out["left_out"] = {str(k): v for k, v in decoder.failures.items()}
    out["static_cache_gib"] = round(decoder.kv.allocated_bytes / GIB, 3)
    out["graph_pool_gib"] = round(decoder.capture_reserved_bytes / GIB, 3)
    out["memory"] = run.memory()
    model.use_decode("default")  # each stage picks its path


# ----------------------------------------------------------------- stage 5


def _timed_generate(run: Run, prompt: list[int], settings: dict[str, Any]) -> dict[str, Any]:
    """generate() on ``prompt``: time to the first token and tokens/s after it (EOS ignored)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    model = run.model
    times: list[float] = []

    class Clock(StoppingCriteria):  # called after every new token
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            times.append(time.perf_counter())
            return torch.zeros((input_ids.shape[0],), dtype=torch.bool, device=input_ids.device)

    ids = torch.tensor([prompt], device=model.model.device)
    _sync()
    started = time.perf_counter()
    with torch.inference_mode():
        model.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=run.sizes.decode_tokens,
            eos_token_id=None,
            pad_token_id=model.tokenizer.pad_token_id,
            stopping_criteria=StoppingCriteriaList([Clock()]),
            **settings,
        )
    _sync()
    return _rates(times, started)


def _timed_fast(run: Run, prompt: list[int], settings: dict[str, Any]) -> dict[str, Any]:
    decoder = run.model.fast_decoder
    decoder.cached_ids = []  # a whole prefill, as generate() does
    times: list[float] = []
    _sync()
    started = time.perf_counter()
    decoder.generate(
        prompt,
        settings,
        [],
        run.sizes.decode_tokens,
        lambda: False,
        lambda _token: times.append(time.perf_counter()),
    )
    _sync()
    return _rates(times, started)


def replace_sizes(run: Run, sizes: Sizes) -> Run:
    """``run`` with other sizes (the same model and results)."""
    other = copy.copy(run)
    other.sizes = sizes
    return other


def _rates(times: list[float], started: float) -> dict[str, Any]:
    decoding = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "new_tokens": len(times),
        "ttft_s": _rounded(times[0] - started, 4) if times else None,
        "tokens_per_s": round((len(times) - 1) / decoding, 1) if decoding > 0 else None,
    }


def stage_decode(run: Run, out: dict[str, Any]) -> None:
    import torch

    from interviewer.bench.timing import TimedModel
    from interviewer.llm.base import GenerationOptions

    model = run.model
    decoder = model.fast_decoder
    messages, prompt = run.prompt_ids(run.sizes.decode_prompt_tokens)
    out["prompt_tokens"] = len(prompt)
    out["new_tokens"] = run.sizes.decode_tokens
    # a. the replayed step alone, per span
    spans = []
    if decoder is not None:
        seen: set[int] = set()
        token = prompt[-1]
        with torch.inference_mode():
            for target in (128, 1024, 4096, 8192):
                position = min(target - 2, decoder.capacity(0) - 1)
                span = decoder._span(position)
                if span in seen:
                    continue
                seen.add(span)
                seconds = _time_calls(
                    lambda p=position: decoder.decode_one_token(token, p), run.sizes.iterations
                )
                graph = decoder._graph_for(position)
                spans.append(
                    {
                        "target": target,
                        "span": span,
                        "position": position,
                        "replayed_span": next(
                            (s for s, g in decoder.graphs.items() if g is graph), None
                        ),
                        "ms_per_token": round(seconds * 1000, 3),
                        "tok_s": round(1 / seconds, 1),
                    }
                )
        model.forget_caches()
    out["replay"] = spans
    # b. generate() against the fast loop, greedy and with the model's own sampling
    warm = replace(run.sizes, decode_tokens=4)  # one-off set-up is not decoding
    _timed_generate(replace_sizes(run, warm), prompt[:64], GREEDY)
    if decoder is not None:
        _timed_fast(replace_sizes(run, warm), prompt[:64], GREEDY)
    engines: dict[str, Any] = {}
    for label, settings in (("greedy", GREEDY), ("sampled", MODEL_SAMPLING)):
        row: dict[str, Any] = {"settings": settings or "the model's generation config"}
        torch.manual_seed(0)
        row["generate"] = _timed_generate(run, prompt, settings)
        if decoder is not None:
            torch.manual_seed(0)
            row["fast"] = _timed_fast(run, prompt, settings)
            base, fast = row["generate"]["tokens_per_s"], row["fast"]["tokens_per_s"]
            row["speedup"] = round(fast / base, 2) if base and fast else None
        engines[label] = row
    out["engines"] = engines
    # c. the product path: stream(), its thread, streamer and detokenizing
    streamed: dict[str, Any] = {}
    for path in ("default", "fast") if decoder is not None else ("default",):
        model.use_decode(path)
        for label, temperature in (("greedy", 0.0), ("sampled", 0.7)):
            model.forget_caches()
            options = GenerationOptions(
                purpose="follow_up",
                max_new_tokens=run.sizes.decode_tokens,
                temperature=temperature,
            )
            timed = TimedModel(model)
            text = "".join(timed.stream(messages, options))
            call = timed.calls[-1]
            streamed.setdefault(path, {})[label] = {
                "path": call.path,
                "new_tokens": call.new_tokens,
                "ttft_s": _rounded(call.first_token_s, 4),
                "first_text_s": _rounded(call.first_text_s, 4),
                "tokens_per_s": _rounded(call.tokens_per_s, 1),
                "text_chars": len(text),
            }
    model.use_decode("default")
    out["stream"] = streamed
    out["note"] = (
        "sampled: the model's own generation config (top-k 20, top-p 0.8, repetition penalty "
        "1.05, temperature 0.7); stream() sampled: the interviewer's temperature 0.7 and top-p "
        "0.9 over that config; tokens/s count from the first new token to the last"
    )


# ----------------------------------------------------------------- stage 6


def stage_conversation(run: Run, out: dict[str, Any]) -> None:
    from interviewer.bench.probes import run_conversation
    from interviewer.bench.timing import _paths

    model = run.model
    out["turns"] = run.sizes.turns
    out["reply_tokens"] = run.sizes.reply_tokens
    for path in ("default", "fast") if model.fast_decoder is not None else ("default",):
        model.use_decode(path)
        model.forget_caches()
        result = run_conversation(
            model, run.bank, run.replies, run.sizes.turns, run.sizes.reply_tokens
        )
        first, last = result.ttft(0), result.ttft(-1)
        out[path] = {
            "ttft_turn1_s": _rounded(first, 4),
            "ttft_last_s": _rounded(last, 4),
            "ratio": round(last / first, 3) if first and last is not None else None,
            "paths": _paths(result.turns),
            "prompt_tokens_last": result.turns[-1].prompt_tokens,
            "reused_tokens_last": result.turns[-1].reused_tokens,
            "ttft_s": [_rounded(t.first_token_s, 4) for t in result.turns],
        }
    model.use_decode("default")


# ----------------------------------------------------------------- stage 7


def stage_memory(run: Run, out: dict[str, Any]) -> None:
    import torch

    from interviewer.bench.memory import PROCESS_DEFINITION
    from interviewer.bench.probes import run_long_context

    model = run.model
    decoder = model.fast_decoder
    default_chunk = model.config.prefill_chunk_tokens
    out["definition"] = PROCESS_DEFINITION
    out["product_chunk"] = default_chunk
    runs = []
    try:
        for path in ("default", "fast") if decoder is not None else ("default",):
            model.use_decode(path)
            for chunk in dict.fromkeys((default_chunk, *run.sizes.chunks)):
                model.forget_caches()
                model.prefill_chunk = chunk
                if decoder is not None:
                    decoder.prefill_chunk = chunk
                run.free()
                if run.cuda:
                    torch.cuda.reset_peak_memory_stats()
                probe = run_long_context(
                    model,
                    run.bank,
                    run.replies,
                    run.sizes.kv_cache_tokens,
                    run.sizes.memory_reply_tokens,
                    run.cuda,
                )
                wanted = "fast" if path == "fast" else "generate"
                runs.append(
                    {
                        "path": path,
                        "chunk": chunk,
                        "prefill_forwards": -(-probe["prompt_tokens"] // chunk) if chunk else 1,
                        "prompt_tokens": probe["prompt_tokens"],
                        "sized_to": probe["sized_to"],
                        "path_used": probe["path"],
                        "served_as_asked": probe["path"] == wanted,
                        "ttft_s": _rounded(probe["ttft_s"], 4),
                        "failed": probe["failed"],
                        "memory": probe["peak"] if run.cuda else run.memory(),
                    }
                )
                say(f"  {path}, chunk {chunk}: {runs[-1]['memory']}")
    finally:
        model.prefill_chunk = default_chunk
        if decoder is not None:
            decoder.prefill_chunk = default_chunk
        model.use_decode("default")
        model.forget_caches()
    out["runs"] = runs
    out["static_cache_gib"] = run.results["stages"].get("capture", {}).get("static_cache_gib")
    out["graph_pool_gib"] = run.results["stages"].get("capture", {}).get("graph_pool_gib")


# ----------------------------------------------------------------- stage 8


def stage_grade(run: Run, out: dict[str, Any]) -> None:
    from interviewer.engine.grading import LLMGrader
    from interviewer.prompts import PromptLibrary

    question = run.bank.question("bnb-4bit-quantization")
    question = question.model_copy(update={"key_points": question.key_points[:1]})
    grader = LLMGrader(run.model, PromptLibrary())
    started = time.perf_counter()
    try:
        verdicts = grader.grade(question, [ANSWER])
    except Exception as exc:  # a grade that fails to validate is the finding
        out.update(valid=False, error=f"{type(exc).__name__}: {str(exc)[:300]}", verdicts=[])
    else:
        out.update(valid=True, error=None, verdicts=[v.verdict for v in verdicts])
    out["seconds"] = round(time.perf_counter() - started, 2)
    out["key_points"] = len(question.key_points)


# ----------------------------------------------------------------- stage 9


def stage_extras(run: Run, out: dict[str, Any]) -> None:
    """bf16 first (a load, a capture, a few seconds of decoding), then the compiled step with
    whatever is left, at most ``compile_limit_s`` (Inductor on a 7B step takes minutes)."""
    out["unquantized_fast"] = {"status": "not run"}
    out["compiled_step"] = {"status": "not run"}
    try:
        out["unquantized_fast"] = _unquantized_fast(run)
    except StageTimeout:
        raise
    except Exception as exc:  # the compiled step still gets its turn
        out["unquantized_fast"] = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}"[:500],
        }
    run.write()
    if run.model.fast_decoder is None:
        out["compiled_step"] = {"status": "skipped", "error": "no fast decoder"}
        return
    try:
        with time_limit(run.sizes.compile_limit_s):
            out["compiled_step"] = _compiled_step(run)
    except StageTimeout as exc:
        out["compiled_step"] = {"status": "timeout", "error": str(exc)}
    except Exception as exc:
        out["compiled_step"] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}


def _compiled_step(run: Run) -> dict[str, Any]:
    """The decode step compiled by Inductor without its own CUDA graphs, captured inside the
    hand-made graph and checked with fresh inputs like every span."""
    import torch

    from interviewer.llm.fast_decode import _Graph

    decoder = run.model.fast_decoder
    position = min(1000, decoder.capacity(0) - 1)
    span = decoder._span(position)
    backend = run.sizes.compile_backend
    timings: dict[str, float] = {}

    def capture(span: int) -> _Graph:
        def step() -> Any:
            return decoder._step(span)

        if backend != "none":
            options = {"triton.cudagraphs": False} if backend == "inductor" else None
            step = torch.compile(step, backend=backend, options=options, dynamic=False)
        started = time.perf_counter()
        for _ in range(3):  # compiles, outside any capture
            step()
        _sync()
        timings["compile_s"] = time.perf_counter() - started
        # the compiled step in the hand-made graph (a side-stream warm-up, the shared pool)
        return decoder._cuda_graph(span, step) if run.cuda else decoder._eager_graph(span, step)

    captured, check = decoder.trial(span, capture)
    plain = decoder.graphs.get(span)
    with torch.inference_mode():
        compiled_s = _time_calls(captured.graph.replay, run.sizes.iterations)
        plain_s = _time_calls(plain.graph.replay, run.sizes.iterations) if plain else None
    run.model.forget_caches()
    return {
        "status": "ok",
        "backend": backend,
        "span": span,
        "compile_s": _rounded(timings.get("compile_s"), 2),
        "check": check.as_dict(),
        "ms_per_token": round(compiled_s * 1000, 3),
        "plain_ms_per_token": round(plain_s * 1000, 3) if plain_s else None,
        "speedup": round(plain_s / compiled_s, 2) if plain_s else None,
    }


def _unquantized_fast(run: Run) -> dict[str, Any]:
    """The same checkpoint in bf16 (fp32 on the CPU), on the fast path: what NF4 costs."""
    import torch

    from interviewer.llm.hf import HFModelConfig, load_hf_model

    nf4 = run.model
    model = load_hf_model(
        HFModelConfig(
            model=str(run.folder),
            quantization="none",
            kv_cache_tokens=run.sizes.kv_cache_tokens,
            prefill_chunk_tokens=run.sizes.prefill_chunk,
            device="cpu" if run.rehearse else "auto",
        )
    )
    try:
        model.prepare_fast_decoding(lambda _: None, replay=run.sizes.replay)
        run.model = model
        _, prompt = run.prompt_ids(run.sizes.decode_prompt_tokens)
        result: dict[str, Any] = {
            "status": "ok",
            "dtype": model.plan.compute_dtype,
            "decode_in_use": model.decode_mode,
            "notice": model.decode_notice,
            "generate": _timed_generate(run, prompt, GREEDY),
        }
        if model.fast_decoder is not None:
            torch.manual_seed(0)
            result["fast"] = _timed_fast(run, prompt, GREEDY)
        result["memory"] = run.memory()
        return result
    finally:
        run.model = nf4
        del model
        run.free()


# ----------------------------------------------------------------- the verdicts


def _verdict(values: list[float | None], passes: Callable[[float], bool]) -> str:
    if not values or any(v is None for v in values):
        return "NOT MEASURED"
    return "PASS" if all(passes(v) for v in values if v is not None) else "FAIL"


def targets(run: Run) -> None:
    stages = run.results["stages"]
    decode = stages.get("decode", {})
    stream = decode.get("stream", {})
    tok_s = stream.get("fast", {}).get("sampled", {}).get("tokens_per_s")
    run.results["targets"]["decode_tok_s"] = {
        "target": f">= {TARGET_TOK_S:.0f} tok/s",
        "definition": (
            "tokens/s from the first new token to the last of one reply through stream() (the "
            "product path: generation thread, streamer, detokenizing) on the fast path, with "
            f"the model's sampling, {decode.get('new_tokens')} new tokens after a "
            f"{decode.get('prompt_tokens')}-token prompt"
        ),
        "value": tok_s,
        "context": {
            f"{path}.{label}": row.get("tokens_per_s")
            for path, rows in stream.items()
            for label, row in rows.items()
        },
        "verdict": _verdict([tok_s], lambda v: v >= TARGET_TOK_S),
    }
    conversation = stages.get("conversation", {})
    ratios = {p: conversation[p]["ratio"] for p in ("default", "fast") if p in conversation}
    run.results["targets"]["ttft_turn20_over_turn1"] = {
        "target": f"<= {TARGET_TTFT_RATIO}",
        "definition": (
            f"time to first token at turn {conversation.get('turns')} of a growing "
            "conversation over turn 1, greedy, kept caches on; on each decode path (both must "
            "pass)"
        ),
        "value": ratios,
        "verdict": _verdict(
            [ratios.get("default"), ratios.get("fast")], lambda v: v <= TARGET_TTFT_RATIO
        ),
    }
    memory = stages.get("memory", {})
    product = memory.get("product_chunk")
    chosen: dict[str, Any] = {"default": None, "fast": None}
    for entry in memory.get("runs", []):
        if entry["chunk"] == product:
            chosen[entry["path"]] = entry["memory"].get("process_gib")
    run.results["targets"]["memory_8k_gib"] = {
        "target": f"<= {TARGET_MEMORY_GIB} GiB",
        "definition": (
            f"{memory.get('definition')}; one reply to a session sized to the caches (about "
            f"8k tokens), prefill in chunks of {product} tokens (the product's setting), on "
            "each decode path (both must pass; the fast path's static cache and graphs and "
            "the default path's kept caches are all in the process)"
        ),
        "value": chosen,
        "static_cache_gib": memory.get("static_cache_gib"),
        "graph_pool_gib": memory.get("graph_pool_gib"),
        "verdict": _verdict(
            [chosen.get("default"), chosen.get("fast")], lambda v: v <= TARGET_MEMORY_GIB
        ),
    }
    capture = stages.get("capture", {})
    run.results["checks"] = {
        "capture_spans_ok": f"{len(capture.get('captured', []))} of "
        f"{len(capture.get('spans', []))}",
        "long_session_served_as_asked": all(r["served_as_asked"] for r in memory.get("runs", []))
        if memory.get("runs")
        else None,
        "grade_valid": stages.get("grade", {}).get("valid"),
        "stages_ok": [k for k, s in stages.items() if s["status"] == "ok"],
        "stages_not_ok": {k: s["status"] for k, s in stages.items() if s["status"] != "ok"},
    }


def summary(run: Run) -> str:
    lines = [f"results: {run.out / 'results.json'} ({run.results['note']})"]
    for key, stage in run.results["stages"].items():
        lines.append(f"  {key:<13} {stage['status']:<8} {stage.get('seconds', '-')} s")
    for key, target in run.results["targets"].items():
        lines.append(f"  {target['verdict']:<12} {key}: {target['value']} ({target['target']})")
    return "\n".join(lines)


BODIES: dict[str, Callable[[Run, dict[str, Any]], None]] = {
    "environment": stage_environment,
    "checkpoint": stage_checkpoint,
    "load": stage_load,
    "floor": stage_floor,
    "profile": stage_profile,
    "capture": stage_capture,
    "decode": stage_decode,
    "conversation": stage_conversation,
    "memory": stage_memory,
    "grade": stage_grade,
    "extras": stage_extras,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rehearse", action="store_true", help="the tiny shape on the CPU")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/gpu-run")))
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(os.environ.get("WORK", "/tmp/interviewer-random-weights")),
        help="where the random checkpoint is built (and reused by the next run)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=420.0,
        help="seconds for every stage together (about 6 minutes are expected; stage 9 takes "
        "what is left)",
    )
    parser.add_argument(
        "--compile-backend",
        choices=["inductor", "eager", "none"],
        help="stage 9's compiled step: inductor (default on the GPU), eager (Dynamo alone, the "
        "rehearsal's default), none (the step uncompiled through the same trial: the test "
        "suite's rehearsal, which would spend seconds importing Dynamo)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    if not args.rehearse and not torch.cuda.is_available():
        print("no CUDA GPU here: run with --rehearse for the CPU rehearsal", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = REHEARSAL if args.rehearse else GPU
    if args.compile_backend:
        sizes = replace(sizes, compile_backend=args.compile_backend)
    run = Run(sizes, args.out, args.workdir, args.budget, args.rehearse)
    threads = torch.get_num_threads()
    if args.rehearse:  # a tiny model gains nothing from threads, and they stall on a busy CPU
        torch.set_num_threads(1)
    try:
        for key, _title, _limit in STAGES:
            run.stage(key, BODIES[key])
    finally:
        torch.set_num_threads(threads)
        targets(run)
        run.write()
    print(summary(run), flush=True)
    return 0 if all(s["status"] == "ok" for s in run.results["stages"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
