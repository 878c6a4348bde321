"""Typed settings. Precedence: defaults < config file < ``INTERVIEWER_*`` env vars < CLI flags.

The config file is TOML at ``$INTERVIEWER_CONFIG`` or, by default, ``config.toml`` in the
user config directory (``~/.config/interviewer/`` on Linux). Nothing is created on import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
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
    backend: Literal["scripted"] = "scripted"
    """Which model backend drives the interview."""
    script: Path | None = None
    """For the scripted backend: a JSON script of replies (default: the built-in demo)."""
    grader: Literal["llm", "evidence"] | None = None
    """llm: the model grades; evidence: model-free keyword evidence. Default: llm when the
    backend can grade, evidence for the built-in demo."""

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
