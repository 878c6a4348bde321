"""Measure the TUI's time to first paint: process start to the first frame of the start screen.

    python scripts/first_paint.py [--runs 5]

Each run starts a fresh Python process that builds the app exactly as `interviewer` does (the
settings, then `create_app`) and runs it headless; the app notes the wall time right after its
first refresh and exits. Printed: each run, the median, and whether torch had been imported by
then (it must not be: the GPU probe runs in a worker after the first paint).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CHILD = """
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


def measure() -> tuple[float, bool]:
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["painted"] - started, result["torch"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    times = []
    for run in range(args.runs):
        seconds, torch_loaded = measure()
        times.append(seconds)
        print(f"run {run + 1}: first paint {seconds:.3f} s (torch imported: {torch_loaded})")
    print(f"median {statistics.median(times):.3f} s over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
