"""``interviewer bench``: how long the candidate waits, measured on a scripted session.

A run measures one or more *modes* (``default``; ``fast``: the CUDA-graph decode step;
``no-reuse``: default without KV-cache reuse), each on a freshly loaded model:

* model load time (and, for ``fast``, the seconds spent preparing it);
* a session through the real :class:`~interviewer.engine.Interview` over a bank (the built-in
  six questions by default), the candidate's replies from an answers file: per interviewer turn
  the time to first token and tokens/s, per answer the grading latency and the candidate's
  visible wait from submitting it until the next question or follow-up starts to appear (a
  follow-up appears whole once settled, so its whole generation counts);
* a conversation that grows by one exchange per turn: time to first token at turn 1 against
  turn N shows what reusing the KV cache buys;
* a long session: one interviewer reply to a conversation of about ``--long-context`` tokens
  (8k by default, sized to what the caches hold with the reply, so the fast path serves it),
  with the GPU memory it peaks at (weights, cache and activations together);
* GPU memory allocated, reserved and held by the process (:mod:`interviewer.bench.memory`: the
  figure the 6 GiB target is about) or, on the CPU, the process's peak RSS.

Plus, once per run, the TUI's time to first paint. The model is a Hub id, a local folder, or
random weights of a known shape, built in a temporary folder (or in ``--workdir``, kept there
and reused by the next run) and loaded through the real loader (so a GPU can be measured without
a download).

Timings come from :class:`TimedModel`, a proxy around the chat model that notes, per call, when
the first text arrives and how long the call took, and reads the usage the HF backend returns
with the call (prompt tokens, tokens reused from the cache, new tokens, time to the first token).
torch is imported only when a mode runs, never with this module.
"""

from interviewer.bench.modes import BenchOptions, parse_modes, run_bench, run_mode
from interviewer.bench.probes import long_messages, run_conversation, run_long_context
from interviewer.bench.table import render, speedups, write_json
from interviewer.bench.timing import (
    BENCH_VERSION,
    GIB,
    MODES,
    PROMPT_KINDS,
    BenchError,
    CallRecord,
    ReplyRecord,
    SessionResult,
    TimedModel,
    run_session,
)

__all__ = [
    "BENCH_VERSION",
    "GIB",
    "MODES",
    "PROMPT_KINDS",
    "BenchError",
    "BenchOptions",
    "CallRecord",
    "ReplyRecord",
    "SessionResult",
    "TimedModel",
    "long_messages",
    "parse_modes",
    "render",
    "run_bench",
    "run_conversation",
    "run_long_context",
    "run_mode",
    "run_session",
    "speedups",
    "write_json",
]
