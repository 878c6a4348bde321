"""Time to first paint: process start to the first frame of the TUI's start screen.

A fresh Python process builds the app exactly as ``interviewer`` does (the settings, then the
app) and runs it headless; the app notes the wall time right after its first refresh and exits.
Used by ``scripts/first_paint.py`` and ``interviewer bench``. Nothing heavy is imported here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

_CHILD = """
import json, sys, time
from interviewer.cli import _load_settings
from interviewer.tui.app import InterviewerApp

class Probe(InterviewerApp):
    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        self.painted = time.time()
        self.torch = "torch" in sys.modules
        self.exit()

app = Probe(_load_settings())
app.run(headless=True, size=(100, 36))
print(json.dumps({"painted": app.painted, "torch": app.torch}))
"""


def measure_first_paint(timeout: float = 60) -> tuple[float, bool]:
    """Seconds from starting a process to the TUI's first frame, and whether torch had been
    imported by then (it must not be: the GPU probe runs in a worker after the first paint).

    Raises ``subprocess.CalledProcessError`` (with the child's stderr) when the TUI cannot start.
    """
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=timeout
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return float(result["painted"]) - started, bool(result["torch"])
