"""Loading a model: the plan (resolved settings, checked sources), the Hub download, the
loader itself, and advice for every failure a user will meet.

torch and transformers are imported inside the functions that need them, never at module import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from interviewer.llm.base import ModelError
from interviewer.llm.hf.config import HFModelConfig, LoadPlan
from interviewer.llm.hf.model import HFModel


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
