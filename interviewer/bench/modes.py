"""One mode of the bench: load the model, run the session, the conversation and the long
session, free the model; and the whole run over every mode."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from interviewer.bank.models import Bank
from interviewer.bench.probes import ConversationResult, run_conversation, run_long_context
from interviewer.bench.table import speedups
from interviewer.bench.timing import (
    BENCH_VERSION,
    GIB,
    MODES,
    BenchError,
    _median,
    _paths,
    _peak_memory,
    run_session,
)
from interviewer.llm.base import (
    ChatMessage,
    GenerationOptions,
)

# ----------------------------------------------------------------- one mode


@dataclass
class BenchOptions:
    """What ``interviewer bench`` was asked to do."""

    model: str | None = None
    random_weights: str | None = None
    family: str = "chatml"
    modes: list[str] = field(default_factory=lambda: ["default"])
    grader: Literal["llm", "evidence", "both"] = "both"
    grading: Literal["inline", "background"] = "background"
    mode: Literal["practice", "exam"] = "practice"
    max_follow_ups: int = 2
    max_new_tokens: int | None = None
    conversation_turns: int = 20
    long_context: int = 8192
    """Prompt tokens of the long-session probe (0 skips it)."""
    workdir: Path | None = None
    """Where random weights are built and kept (reused by the next run); None: a temporary
    folder, removed afterwards."""
    answers: Path | None = None
    bank: Path | None = None
    quantization: Literal["auto", "4bit", "8bit", "none"] = "auto"
    device: Literal["auto", "cuda", "cpu"] = "auto"
    first_paint: bool = True
    threads: int | None = None
    """CPU threads for torch (None: its default). One is steadier on a busy machine."""

    def as_command(self) -> str:
        """The ``interviewer bench`` command line that asks for exactly this run."""
        defaults = BenchOptions()
        parts = ["interviewer", "bench"]
        if self.model is not None:
            parts += ["--model", self.model]
        if self.random_weights is not None:
            parts += ["--random-weights", self.random_weights]
            if self.family != defaults.family:
                parts += ["--family", self.family]
        if len(self.modes) > 1:
            parts += ["--compare", ",".join(self.modes)]
        elif self.modes != defaults.modes:
            parts += ["--decode", self.modes[0]]
        flags: list[tuple[str, Any]] = [
            ("--grader", self.grader),
            ("--grading", self.grading),
            ("--mode", self.mode),
            ("--max-follow-ups", self.max_follow_ups),
            ("--max-new-tokens", self.max_new_tokens),
            ("--conversation-turns", self.conversation_turns),
            ("--long-context", self.long_context),
            ("--workdir", self.workdir),
            ("--answers", self.answers),
            ("--bank", self.bank),
            ("--quantization", self.quantization),
            ("--device", self.device),
            ("--threads", self.threads),
        ]
        for flag, value in flags:
            default = getattr(defaults, flag[2:].replace("-", "_"))
            if value is not None and value != default:
                parts += [flag, str(value)]
        if not self.first_paint:
            parts.append("--no-first-paint")
        return " ".join(parts)


def parse_modes(compare: str | None, decode: str | None) -> list[str]:
    """The modes to run: ``--compare a,b`` or the single ``--decode`` mode."""
    if compare is None:
        return [decode or "default"]
    modes = list(dict.fromkeys(m.strip() for m in compare.split(",") if m.strip()))
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise BenchError(
            f"unknown mode{'s' if len(unknown) > 1 else ''} in --compare: "
            f"{', '.join(repr(m) for m in unknown) or repr(compare)}",
            hint=f"the modes are {', '.join(MODES)} (e.g. --compare default,fast)",
        )
    return modes


def _warm_up(model: Any, bank: Bank, answers: dict[str, list[str]], grader: str) -> None:
    """One short generation (and one evidence grade) before anything is timed, so the first
    mode does not pay alone for what a process does once (lazy CUDA and library set-up)."""
    from interviewer.engine import EvidenceGrader

    warm = [ChatMessage(role="user", content="Hello.")]
    for _ in model.stream(warm, GenerationOptions(purpose="clarify", max_new_tokens=4)):
        pass
    if grader == "evidence":
        question = bank.questions[0]
        EvidenceGrader().grade(question, answers.get(question.id) or ["warm-up"])


def run_mode(
    name: str,
    source: str,
    options: BenchOptions,
    bank: Bank,
    answers: dict[str, list[str]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Load the model in mode ``name``, run the session and the conversation, free the model."""
    import torch

    from interviewer.llm.hf import HFModelConfig, load_hf_model

    decode, reuse = MODES[name]
    say(f"[{name}] loading {source}")
    torch.manual_seed(0)
    cuda = torch.cuda.is_available() and options.device != "cpu"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = load_hf_model(
        HFModelConfig(
            model=source,
            quantization=options.quantization,
            device=options.device,
            decode=decode,
            kv_reuse=reuse,
        ),
        on_status=lambda message: say(f"[{name}] {message}"),
    )
    cuda = model.plan.device == "cuda"
    _warm_up(model, bank, answers, options.grader)
    say(f"[{name}] running the session")
    session = run_session(
        model,
        bank,
        answers,
        grader=options.grader,
        grading=options.grading,
        mode=options.mode,
        max_follow_ups=options.max_follow_ups,
        max_new_tokens=options.max_new_tokens,
    )
    texts = [t for replies in answers.values() for t in replies if t and not t.startswith("/")]
    candidate = texts or ["I am not sure."]
    reply_tokens = options.max_new_tokens or 64
    conversation = ConversationResult([])
    if options.conversation_turns:
        say(f"[{name}] running a {options.conversation_turns}-turn conversation")
        turns = options.conversation_turns
        conversation = run_conversation(model, bank, candidate, turns, reply_tokens)
    memory = _peak_memory(cuda)
    long_context = None
    if options.long_context:
        say(f"[{name}] one reply to a {options.long_context}-token session")
        long_context = run_long_context(
            model, bank, candidate, options.long_context, reply_tokens, cuda
        )
    streamed = [c for c in session.calls if c.kind == "stream"]
    structured = [c for c in session.calls if c.kind == "structured"]
    waits = [r.next_prompt_s for r in session.replies]
    first = conversation.ttft(0)
    last = conversation.ttft(-1)
    result: dict[str, Any] = {
        "decode_asked": decode,
        "kv_reuse": reuse,
        "decode_in_use": model.decode_mode,
        "decode_notice": model.decode_notice,
        "device": model.plan.device,
        "quantization": model.info.quantization,
        "load_s": round(model.load_seconds, 3),
        "fast_prepare_s": round(model.fast_prepare_seconds, 3),
        "memory": memory,
        "long_context": long_context,
        "session": {
            "finished": session.finished,
            "session_s": round(session.session_s, 3),
            "calls": [asdict(c) for c in session.calls],
            "replies": [asdict(r) for r in session.replies],
        },
        "conversation": {
            "turns": [asdict(c) for c in conversation.turns],
            "ttft_turn1_s": first,
            "ttft_last_s": last,
            "ttft_last_over_first": (last / first) if first and last is not None else None,
            "reused_tokens_last": conversation.turns[-1].reused_tokens
            if conversation.turns
            else None,
            "prompt_tokens_last": conversation.turns[-1].prompt_tokens
            if conversation.turns
            else None,
        },
        "summary": {
            "interviewer_turns": len(streamed),
            "ttft_median_s": _median(
                [
                    c.first_token_s if c.first_token_s is not None else c.first_text_s
                    for c in streamed
                ]
            ),
            "tokens_per_s_median": _median([c.tokens_per_s for c in streamed]),
            "grading_median_s": _median([r.grading_s for r in session.replies]),
            "grading_calls": len(structured),
            "wait_median_s": _median(waits),
            "wait_max_s": max((w for w in waits if w is not None), default=None),
            "grading_in_wait_total_s": round(sum(r.grading_in_wait_s for r in session.replies), 4),
            "grading_in_wait_max_s": max(
                (r.grading_in_wait_s for r in session.replies), default=0.0
            ),
            "decode_paths": _paths([*streamed, *conversation.turns]),
        },
    }
    del model, session, conversation
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result


# ----------------------------------------------------------------- the whole run


def _version(package: str) -> str | None:
    """An installed package's version, without importing it (bitsandbytes takes seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _machine() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "bitsandbytes": _version("bitsandbytes"),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
    }


def _default_answers() -> Path:
    path = Path(__file__).resolve().parents[2] / "examples" / "answers.json"
    if not path.is_file():
        raise BenchError(
            "the example answers file is not installed with this copy of interviewer",
            hint='pass --answers FILE ({"answers": {"<question-id>": ["answer", ...]}})',
        )
    return path


def _first_paint(enabled: bool) -> dict[str, Any]:
    if not enabled:
        return {"seconds": None, "note": "skipped (--no-first-paint)"}
    import subprocess

    from interviewer.firstpaint import measure_first_paint

    try:
        seconds, torch_imported = measure_first_paint()
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        return {"seconds": None, "note": f"could not measure: {str(detail).strip()[-300:]}"}
    return {"seconds": round(seconds, 3), "torch_imported": torch_imported, "note": None}


def _source(options: BenchOptions, workdir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Where the model comes from: built random weights, or what --model names."""
    if options.random_weights is None:
        assert options.model is not None
        return {"source": options.model, "random_weights": None}
    from interviewer.llm.random_weights import CHAT_TEMPLATES, SHAPES, build_random_model

    shape = options.random_weights
    if shape not in SHAPES:
        raise BenchError(
            f"unknown random-weights shape '{shape}'",
            hint=f"use one of: {', '.join(SHAPES)}",
        )
    if options.family not in CHAT_TEMPLATES:
        raise BenchError(
            f"unknown chat template family '{options.family}'",
            hint=f"use one of: {', '.join(CHAT_TEMPLATES)}",
        )
    import torch

    cuda = torch.cuda.is_available() and options.device != "cpu"
    if SHAPES[shape].hidden_size >= 1024 and not cuda:
        raise BenchError(
            f"the {shape} shape is built and measured on a CUDA GPU, and none is in use here "
            "(on the CPU its float32 noise alone would need tens of GB of memory)",
            hint="measure --random-weights tiny or small on the CPU",
        )
    reuse = options.workdir is not None
    say(
        f"Building random weights in the {shape} shape ({options.family} template)"
        + (f" in {workdir / shape} (reused if already built there)" if reuse else "")
    )
    started = time.perf_counter()
    try:
        folder = build_random_model(
            workdir / shape,
            shape,
            options.family,  # type: ignore[arg-type]
            dtype="bfloat16" if cuda else "float32",
            device="cuda" if cuda else "cpu",
            reuse=reuse,
        )
    except Exception as exc:  # out of memory or disk, mostly
        raise BenchError(
            f"could not build the random {shape} model in {workdir}: "
            f"{type(exc).__name__}: {str(exc)[:300]}",
            hint="free GPU memory and disk space (the 7B shape saves 15 GB), or pick a "
            "smaller shape",
        ) from exc
    gc.collect()  # the built model is gone: give its memory back before measuring
    if cuda:
        torch.cuda.empty_cache()
    return {
        "source": str(folder),
        "random_weights": shape,
        "family": options.family,
        "build_s": round(time.perf_counter() - started, 2),
        "checkpoint_gib": round(
            sum(f.stat().st_size for f in folder.glob("*.safetensors")) / GIB, 3
        ),
    }


def run_bench(options: BenchOptions, say: Callable[[str], None]) -> dict[str, Any]:
    """Run every mode of ``options``; the results as a JSON-ready dict.

    Raises :class:`BenchError` for bad input and
    :class:`~interviewer.llm.base.ModelError` when the model cannot be loaded.
    """
    from interviewer.bank import BankError, load_bank
    from interviewer.headless import AnswersFileError, load_answers
    from interviewer.resources import default_bank_dir

    if (options.model is None) == (options.random_weights is None):
        raise BenchError(
            "say which model to measure: --model or --random-weights (one of them)",
            hint="e.g. --random-weights tiny, or --model Qwen/Qwen2.5-7B-Instruct",
        )
    for mode in options.modes:
        if mode not in MODES:
            raise BenchError(f"unknown mode '{mode}'", hint=f"the modes are {', '.join(MODES)}")
    try:
        bank = load_bank(options.bank or default_bank_dir())
    except BankError as exc:
        raise BenchError(f"the bank cannot be used:\n{exc}", hint="fix the bank") from exc
    try:
        answers = load_answers(options.answers or _default_answers(), bank)
    except AnswersFileError as exc:
        raise BenchError(str(exc), hint="fix the answers file") from exc

    results: dict[str, Any] = {
        "bench_version": BENCH_VERSION,
        "command": options.as_command(),
        "settings": {
            "modes": options.modes,
            "grader": options.grader,
            "grading": options.grading,
            "mode": options.mode,
            "max_follow_ups": options.max_follow_ups,
            "max_new_tokens": options.max_new_tokens,
            "conversation_turns": options.conversation_turns,
            "long_context": options.long_context,
            "bank": bank.id,
            "quantization": options.quantization,
            "device": options.device,
            "threads": options.threads,
        },
    }
    say("Measuring the TUI's first paint" if options.first_paint else "First paint: skipped")
    results["first_paint"] = _first_paint(options.first_paint)
    import torch

    from interviewer.bench.memory import process_baseline

    process_baseline()  # the GPU's memory before anything is loaded (the memory figures' zero)

    threads = torch.get_num_threads()
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    try:
        results["machine"] = _machine()
        with contextlib.ExitStack() as stack:
            workdir = options.workdir or Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="interviewer-bench-"))
            )
            results["model"] = _source(options, workdir, say)
            results["modes"] = {
                name: run_mode(name, results["model"]["source"], options, bank, answers, say)
                for name in options.modes
            }
    finally:
        torch.set_num_threads(threads)  # a caller (a test run) keeps its own setting
    results["speedup"] = speedups(results["modes"])
    return results
