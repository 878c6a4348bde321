"""What the process holds in memory: the figure the 6 GiB target is about, and the CPU stand-in.

The target (a 7B model in NF4 with an 8k-token session in at most 6 GiB of GPU memory) is about
what a candidate's card must have free, so it counts everything the process takes on the GPU,
not only the tensors PyTorch has allocated:

* ``allocated``: tensors alive (``torch.cuda.memory_allocated``), and its peak;
* ``reserved``: what PyTorch's caching allocator holds from the driver, graph pools included
  (``torch.cuda.memory_reserved``), and its peak;
* ``held``: the device's free memory before the process allocated anything (the
  :class:`Baseline`) less its free memory now (``torch.cuda.mem_get_info``): the allocator's
  reservation plus what it does not see (cuBLAS workspaces, bitsandbytes, the graphs' own
  buffers), and ``held_peak``: that, with the allocator's peak reservation in place of today's;
* ``process``: ``held_peak`` plus the CUDA context the baseline found in use (everything in use
  on the device when the baseline was taken; on a machine of one's own, that is this process's
  context): the **figure the target is checked against**.

On the CPU, :func:`cpu_peak_bytes` measures the peak of one call's allocations with the torch
profiler (what the tests use to show chunked prefill's lower peak).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GIB = 1024**3

PROCESS_DEFINITION = (
    "GPU memory the process holds: the device's free memory when the baseline was taken "
    "(before the model loaded) less its free memory now (torch.cuda.mem_get_info), with the "
    "allocator's peak reservation (max_memory_reserved) in place of its reservation now, plus "
    "the memory already in use at the baseline (the CUDA context)"
)


@dataclass(frozen=True)
class Baseline:
    """The device's memory before the process allocated anything on it."""

    free: int
    total: int

    @classmethod
    def take(cls, device: int = 0) -> Baseline | None:
        """Now (this creates the CUDA context); None without CUDA."""
        import torch

        if not torch.cuda.is_available():
            return None
        free, total = torch.cuda.mem_get_info(device)
        return cls(int(free), int(total))


_PROCESS_BASELINE: list[Baseline | None] = []


def process_baseline() -> Baseline | None:
    """The baseline of this process: taken the first time it is asked for (the bench and the
    GPU script ask before anything is loaded), the same afterwards."""
    if not _PROCESS_BASELINE:
        _PROCESS_BASELINE.append(Baseline.take())
    return _PROCESS_BASELINE[0]


def _gib(value: float | None) -> float | None:
    return None if value is None else round(value / GIB, 3)


def gpu_memory(baseline: Baseline | None, device: int = 0) -> dict[str, Any]:
    """Allocated, reserved, held and the process figure (GiB) now, with the peaks since the
    last ``torch.cuda.reset_peak_memory_stats()``. ``peak_gib`` is the allocated peak (the
    figure earlier bench results reported)."""
    import torch

    allocated = torch.cuda.memory_allocated(device)
    allocated_peak = torch.cuda.max_memory_allocated(device)
    reserved = torch.cuda.memory_reserved(device)
    reserved_peak = torch.cuda.max_memory_reserved(device)
    free, total = torch.cuda.mem_get_info(device)
    held = held_peak = process = context = None
    if baseline is not None:
        held = baseline.free - free
        held_peak = held - reserved + reserved_peak
        context = baseline.total - baseline.free
        process = held_peak + context
    return {
        "kind": "gpu",
        "peak_gib": _gib(allocated_peak),
        "allocated_gib": _gib(allocated),
        "allocated_peak_gib": _gib(allocated_peak),
        "reserved_gib": _gib(reserved),
        "reserved_peak_gib": _gib(reserved_peak),
        "held_gib": _gib(held),
        "held_peak_gib": _gib(held_peak),
        "context_gib": _gib(context),
        "process_gib": _gib(process),
        "free_gib": _gib(free),
        "total_gib": _gib(total),
        "definition": PROCESS_DEFINITION,
    }


def cpu_peak_bytes(call: Callable[[], object]) -> int:
    """The peak of the memory ``call`` allocates on the CPU above what it started with, from
    the torch profiler's memory events in the order they happened."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    events = sorted(prof.events(), key=lambda event: event.time_range.start)
    current = peak = 0
    for event in events:
        current += int(event.self_cpu_memory_usage)
        peak = max(peak, current)
    return peak
