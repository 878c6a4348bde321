"""Choosing each next token outside ``generate()`` as ``generate()`` would, and the generation
settings the fast decode loop (:mod:`interviewer.llm.fast_decode`) does not implement."""

from __future__ import annotations

from typing import Any

# Generation settings the loop does not implement, with the values that mean "off".
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "bad_words_ids": (None,),
    "begin_suppress_tokens": (None,),
    "suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
    "no_repeat_ngram_size": (None, 0),
    "encoder_no_repeat_ngram_size": (None, 0),
    "encoder_repetition_penalty": (None, 1.0),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "typical_p": (None, 1.0),
    "epsilon_cutoff": (None, 0.0),
    "eta_cutoff": (None, 0.0),
    "exponential_decay_length_penalty": (None,),
    "guidance_scale": (None, 1.0),
    "watermarking_config": (None,),
    "top_h": (None,),
    "renormalize_logits": (None, False),
    "num_beams": (None, 1),
    "stop_strings": (None,),
    "max_time": (None,),
}


def unsupported_settings(generation_config: Any) -> list[str]:
    """The generation settings of ``generation_config`` that the fast loop does not implement."""
    found = []
    for name, neutral in _NEUTRAL.items():
        value = getattr(generation_config, name, None)
        if value in ([], ()) or any(value is v or value == v for v in neutral):
            continue
        found.append(name)
    return found


class Sampler:
    """Chooses each next token as ``generate()`` would for the same arguments: transformers
    itself merges them with the model's generation config and its global defaults
    (``_prepare_generation_config``) and builds the logits processors from the result
    (``_get_logits_processor``), so repetition penalty, temperature, top-k, top-p and min-p
    come in generate()'s order with generate()'s values (Qwen's top-k 20 stays 20; a ``top_k``
    of None stays off)."""

    def __init__(self, model: Any, generation_kwargs: dict[str, Any], prompt: Any) -> None:
        import torch

        config, _ = model._prepare_generation_config(None, **generation_kwargs)
        self.config = config
        self.sample = bool(config.do_sample)
        self.processors = model._get_logits_processor(
            generation_config=config,
            input_ids_seq_length=int(prompt.shape[-1]),
            encoder_input_ids=prompt,
            device=prompt.device,
            model_kwargs={"attention_mask": torch.ones_like(prompt)},
        )
        self.history = prompt

    def choose(self, logits: Any) -> int:
        """The next token after ``logits`` (float32, [1, vocab]); it joins the history."""
        import torch

        scores = self.processors(self.history, logits) if self.processors else logits
        if self.sample:
            probabilities = torch.softmax(scores, dim=-1)
            token = int(torch.multinomial(probabilities, num_samples=1).item())
        else:
            token = int(scores.argmax(dim=-1).item())
        if self.processors:  # only processors read the history
            self.history = torch.cat([self.history, self.history.new_tensor([[token]])], dim=1)
        return token
