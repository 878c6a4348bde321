"""The bench's results as a table (modes side by side) and as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# ----------------------------------------------------------------- reporting

# (label, path in a mode's results, unit scale, how to compare: "time" | "rate" | None)
_ROWS: list[tuple[str, tuple[str, ...], float, str | None]] = [
    ("model load (s)", ("load_s",), 1, "time"),
    ("fast decode preparation (s)", ("fast_prepare_s",), 1, None),
    ("interviewer turns timed", ("summary", "interviewer_turns"), 1, None),
    ("time to first token, median (ms)", ("summary", "ttft_median_s"), 1000, "time"),
    ("decode tokens/s, median", ("summary", "tokens_per_s_median"), 1, "rate"),
    ("grading per answer, median (ms)", ("summary", "grading_median_s"), 1000, "time"),
    ("candidate's wait to next prompt, median (s)", ("summary", "wait_median_s"), 1, "time"),
    ("candidate's wait to next prompt, max (s)", ("summary", "wait_max_s"), 1, "time"),
    (
        "grading the candidate waited for, max per answer (s)",
        ("summary", "grading_in_wait_max_s"),
        1,
        "time",
    ),
    ("conversation TTFT, turn 1 (ms)", ("conversation", "ttft_turn1_s"), 1000, "time"),
    ("conversation TTFT, last turn (ms)", ("conversation", "ttft_last_s"), 1000, "time"),
    ("conversation TTFT, last / first", ("conversation", "ttft_last_over_first"), 1, None),
    ("prompt tokens at the last turn", ("conversation", "prompt_tokens_last"), 1, None),
    ("... of them reused from the cache", ("conversation", "reused_tokens_last"), 1, None),
    ("long session: prompt tokens", ("long_context", "prompt_tokens"), 1, None),
    ("long session: time to first token (ms)", ("long_context", "ttft_s"), 1000, "time"),
]


def _get(mode: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = mode
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def speedups(modes: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each mode against the first one: >1 means faster (shorter times, more tokens/s)."""
    names = list(modes)
    out: dict[str, dict[str, float | None]] = {}
    for name in names[1:]:
        row: dict[str, float | None] = {}
        for _label, path, _scale, how in _ROWS:
            if how is None:
                continue
            base, this = _get(modes[names[0]], path), _get(modes[name], path)
            ratio = None
            if isinstance(base, int | float) and isinstance(this, int | float) and base and this:
                ratio = round(base / this if how == "time" else this / base, 3)
            row[".".join(path)] = ratio
        out[name] = row
    return out


def _cell(value: Any, scale: float) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) and scale == 1:
        return str(value)
    if isinstance(value, int | float):
        number = value * scale
        return f"{number:.0f}" if abs(number) >= 100 else f"{number:.3g}"
    return str(value)


def _memory_cell(memory: dict[str, Any]) -> str:
    """GPU: the allocated peak, and what the process holds (the target's figure) when known."""
    if memory["kind"] != "gpu":
        return f"{memory['peak_mib']:.0f} MiB RSS"
    held = memory.get("process_gib")
    cell = f"{memory['peak_gib']:.2f} GiB GPU"
    return f"{cell} ({held:.2f} held)" if held is not None else cell


def render(results: dict[str, Any], out: Any = None) -> None:
    """Print the results as one table (a column per mode, then the speed-ups) and notes."""
    from rich.console import Console
    from rich.table import Table

    from interviewer.textutil import shown_name

    console = Console(file=out or sys.stdout, width=120, highlight=False)
    modes: dict[str, dict[str, Any]] = results["modes"]
    names = list(modes)
    model = results["model"]
    machine = results["machine"]
    where = (
        machine["cuda_device"]
        or f"CPU ({machine['cpu_count']} cores, {machine['torch_threads']} torch threads)"
    )
    title = (
        f"interviewer bench: {(model.get('random_weights') and 'random weights, ') or ''}"
        f"{model.get('random_weights') or shown_name(model['source'])} on {where}"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for name in names:
        table.add_column(name, justify="right")
    for name in names[1:]:
        table.add_column(f"{name} vs {names[0]}", justify="right")
    table.add_row("decode path in use", *[modes[n]["decode_in_use"] for n in names])
    memory_row = [_memory_cell(modes[name]["memory"]) for name in names]
    for label, path, scale, how in _ROWS:
        cells = [_cell(_get(modes[n], path), scale) for n in names]
        ratios = [results["speedup"][n].get(".".join(path)) if how else None for n in names[1:]]
        table.add_row(label, *cells, *[f"{r:.2f}x" if r is not None else "" for r in ratios])
    table.add_row("peak memory", *memory_row)
    if any(modes[n].get("long_context") for n in names):
        long_row = []
        for name in names:
            probe = modes[name].get("long_context")
            if not probe:
                long_row.append("-")
            elif probe["failed"]:
                long_row.append("failed")
            else:
                long_row.append(_memory_cell(probe["peak"]))
        table.add_row("peak memory, long session", *long_row)
    console.print(table)
    paint = results["first_paint"]
    if paint["seconds"] is not None:
        console.print(f"First paint of the TUI: {paint['seconds']:.3f} s")
    else:
        console.print(f"First paint of the TUI: {paint['note']}")
    for name in names:
        probe = modes[name].get("long_context")
        if probe and probe["failed"]:
            console.print(f"{name}: the long-session reply failed: {probe['failed']}")
    for name in names:
        notice = modes[name]["decode_notice"]
        if notice:
            console.print(f"{name}: {notice} (its numbers are the default path's)")
    if len(names) > 1 and any(modes[n]["memory"]["kind"] == "cpu_rss" for n in names):
        console.print("Peak RSS is the process's peak so far (the modes ran one after another).")


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
