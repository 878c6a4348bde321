"""Test speech: known words spoken by espeak-ng, and silence, at 16 kHz."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def _espeak() -> str:
    import shutil

    found = shutil.which("espeak-ng")
    if found is None:
        pytest.fail("the voice tests make speech with espeak-ng: apt-get install espeak-ng")
    return found


def speak(text: str, folder: Path) -> Any:
    """``text`` spoken by espeak-ng, at 16 kHz, without the silence it adds around it."""
    import subprocess

    import numpy as np

    from interviewer.voice.sources import read_wav

    path = folder / f"say-{abs(hash(text))}.wav"
    subprocess.run([_espeak(), "-v", "en-us", "-s", "165", "-w", str(path), text], check=True)
    samples = read_wav(path)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1]


def silence(seconds: float) -> Any:
    import numpy as np

    return np.zeros(int(seconds * 16_000), dtype=np.float32)
