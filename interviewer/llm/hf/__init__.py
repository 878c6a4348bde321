"""The real backend: a local instruct model through transformers (+ bitsandbytes 4-bit).

torch and transformers are imported inside the functions that need them, never at module import,
so the rest of the program (and its first paint) does not pay for them.

One model serves every purpose. Prompts always go through the tokenizer's own chat template
(``apply_chat_template(..., add_generation_prompt=True)``); text streams through a
``TextIteratorStreamer`` made per call, from a generation thread that a ``StoppingCriteria``
stops as soon as the cancel signal is set; grades are constrained to their JSON Schema with
xgrammar while they are decoded.

The modules, by job:

* :mod:`~interviewer.llm.hf.config`: the settings (:class:`HFModelConfig`) and the plan;
* :mod:`~interviewer.llm.hf.load`: planning, downloading and loading, and the advice for
  loading errors;
* :mod:`~interviewer.llm.hf.model`: :class:`HFModel`, generation and streaming;
* :mod:`~interviewer.llm.hf.templates`: chat-template rendering and end-of-turn tokens;
* :mod:`~interviewer.llm.hf.structured`: schema-constrained decoding and its confidences.
"""

from interviewer.llm.hf.config import Decode, Device, DType, HFModelConfig, LoadPlan, Quantization
from interviewer.llm.hf.load import (
    GIB,
    download_model,
    explain_load_error,
    load_hf_model,
    plan_load,
    progress_bar_class,
    weights_size,
)
from interviewer.llm.hf.model import HFModel
from interviewer.llm.hf.structured import field_confidences
from interviewer.llm.structured import grammar_schema

__all__ = [
    "GIB",
    "DType",
    "Decode",
    "Device",
    "HFModel",
    "HFModelConfig",
    "LoadPlan",
    "Quantization",
    "download_model",
    "explain_load_error",
    "field_confidences",
    "grammar_schema",
    "load_hf_model",
    "plan_load",
    "progress_bar_class",
    "weights_size",
]
