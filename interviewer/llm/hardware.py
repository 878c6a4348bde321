"""Read the machine's GPU facts (imports torch: call it only when a model is about to load)."""

from __future__ import annotations

from interviewer.llm.catalog import Hardware


def probe() -> Hardware:
    import torch

    if not torch.cuda.is_available():
        return Hardware(cuda=False)
    index = torch.cuda.current_device()
    free, total = torch.cuda.mem_get_info(index)
    return Hardware(
        cuda=True,
        device_name=torch.cuda.get_device_name(index),
        total_bytes=int(total),
        free_bytes=int(free),
        bf16=bool(torch.cuda.is_bf16_supported()),
    )
