"""Measure the TUI's time to first paint: process start to the first frame of the start screen.

    python scripts/first_paint.py [--runs 5]

Each run starts a fresh Python process that builds the app exactly as `interviewer` does (the
settings, then the app) and runs it headless; the app notes the wall time right after its first
refresh and exits. The measurement lives in `interviewer.firstpaint` (`interviewer bench` uses it
too). Printed: each run, the median, and whether torch had been imported by then (it must not
be: the GPU probe runs in a worker after the first paint).
"""

from __future__ import annotations

import argparse
import statistics
import sys

from interviewer.firstpaint import measure_first_paint


def measure() -> tuple[float, bool]:
    """One run: (seconds to the first frame, whether torch was imported by then)."""
    return measure_first_paint()


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
