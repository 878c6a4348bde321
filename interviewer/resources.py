"""Find the data that ships with the package: prompts, the default bank, the JSON schemas.

In a checkout they live at the top level of the repository (``prompts/``, ``knowledge/``,
``schemas/``); in an installed wheel hatchling puts them under ``interviewer/_resources/``.
Both layouts are looked up the same way, so code never needs to know which one it runs from.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

ResourceName = Literal["prompts", "knowledge", "schemas"]

_PACKAGE_DIR = Path(__file__).resolve().parent


class ResourceNotFoundError(RuntimeError):
    """Raised when a packaged data folder is in neither the wheel nor the checkout layout."""


@cache
def resource_dir(name: ResourceName) -> Path:
    """Return the folder holding the packaged resource ``name``."""
    candidates = (_PACKAGE_DIR / "_resources" / name, _PACKAGE_DIR.parent / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ResourceNotFoundError(
        f"the packaged '{name}' folder is missing (looked in {looked}); "
        "reinstall interviewer or run it from a complete checkout"
    )


def default_bank_dir() -> Path:
    """The bank of six Hugging Face ecosystem questions that ships with interviewer."""
    return resource_dir("knowledge")
