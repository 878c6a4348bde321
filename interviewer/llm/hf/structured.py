"""Structured output on the transformers backend: decoding constrained to a JSON Schema with
xgrammar, and the model's own probability for the values it chose."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from interviewer.llm.base import ChatMessage, GenerationOptions, StructuredOutputError, T
from interviewer.llm.structured import (
    generate_with_retries,
    grammar_schema,
    parse_structured,
    repair_truncated,
)


class Grammars:
    """The compiled grammar of each output type, for one model and tokenizer."""

    def __init__(self, model: Any, tokenizer: Any, stop_token_ids: list[int]) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._stop_token_ids = stop_token_ids
        self._compiled: dict[str, Any] = {}
        self._tokenizer_info: Any = None

    def __call__(self, output_type: type[BaseModel]) -> Any:
        import xgrammar

        schema = grammar_schema(output_type)
        key = json.dumps(schema, sort_keys=True)
        if key not in self._compiled:
            if self._tokenizer_info is None:
                self._tokenizer_info = xgrammar.TokenizerInfo.from_huggingface(
                    self._tokenizer,
                    vocab_size=self._model.config.get_text_config().vocab_size,
                    stop_token_ids=self._stop_token_ids,
                )
            compiler = xgrammar.GrammarCompiler(self._tokenizer_info)
            self._compiled[key] = compiler.compile_json_schema(
                schema, any_whitespace=False, separators=(",", ":"), strict_mode=True
            )
        return self._compiled[key]


class ChosenTokenProbability(Protocol):
    """The recorder made by :func:`_chosen_token_probability`."""

    def __call__(self, input_ids: Any, scores: Any) -> Any: ...

    def probabilities(self) -> list[float]: ...


class TextGenerator(Protocol):
    """Generates without streaming: the text and the generated token ids."""

    def __call__(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
        logits_processor: Any = None,
        *,
        record: ChosenTokenProbability | None = None,
    ) -> tuple[str, list[int]]: ...


def generate_structured_scored(
    generate_text: TextGenerator,
    grammars: Grammars,
    tokenizer: Any,
    messages: Sequence[ChatMessage],
    output_type: type[T],
    options: GenerationOptions,
    cancel: threading.Event | None,
    *,
    scored_field: str | None,
) -> tuple[T, list[float]]:
    """An instance of ``output_type`` decoded under its grammar (twice at most), and, with
    ``scored_field`` and greedy decoding, the model's probability for each value of that string
    field. Without xgrammar, the text is parsed and retried without a grammar (no scores)."""
    try:
        from xgrammar.contrib.hf import LogitsProcessor
    except ImportError:
        result = generate_with_retries(
            lambda conversation: generate_text(conversation, options, cancel)[0],
            messages,
            output_type,
        )
        return result, []
    problem = ""
    for _ in range(2):
        processor = LogitsProcessor(grammars(output_type))  # one per generate() call
        record = (
            _chosen_token_probability()
            if scored_field is not None and options.temperature == 0
            else None
        )
        text, ids = generate_text(messages, options, cancel, processor, record=record)
        for candidate in (text, repair_truncated(text)):
            try:
                result = parse_structured(candidate, output_type)
            except ValueError as exc:
                problem = str(exc)
                continue
            if record is None or scored_field is None or candidate is not text:
                return result, []
            return result, field_confidences(
                tokenizer, ids, record.probabilities(), text, scored_field
            )
    raise StructuredOutputError(
        f"the model's constrained output did not validate as {output_type.__name__}: {problem}",
        hint="raise the token budget or use another model",
    )


def _chosen_token_probability() -> ChosenTokenProbability:
    """A logits processor that notes, per step, the probability of the token greedy decoding
    will pick (the largest after every other processor, the grammar's mask included).

    The values stay on the device until the end, so recording adds no synchronisation.
    """
    import torch
    from transformers import LogitsProcessor

    class Recorder(LogitsProcessor):
        def __init__(self) -> None:
            self.steps: list[Any] = []

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            self.steps.append(torch.softmax(scores[0].float(), dim=-1).max())
            return scores

        def probabilities(self) -> list[float]:
            if not self.steps:
                return []
            values: list[float] = torch.stack(self.steps).cpu().tolist()
            return values

    recorder: ChosenTokenProbability = Recorder()
    return recorder


def field_confidences(
    tokenizer: Any, ids: Sequence[int], probabilities: Sequence[float], text: str, field: str
) -> list[float]:
    """For each ``"field": "value"`` in ``text`` (decoded from ``ids``), the product of the
    probabilities of the tokens that wrote the value.

    The grammar forces every character before the value and, once the value's first letters are
    chosen, usually the rest of it, so the product is the model's probability for that value
    (a lower bound where one value has several tokenizations). Tokens are mapped to characters
    by decoding prefixes, found by bisection (a handful of decodes per value).
    """
    if len(probabilities) < len(ids) or not ids:
        return []
    lengths: dict[int, int] = {}

    def decoded_length(count: int) -> int:
        if count not in lengths:
            lengths[count] = len(tokenizer.decode(list(ids[:count]), skip_special_tokens=True))
        return lengths[count]

    def token_at(offset: int) -> int:
        """Index of the token that wrote character ``offset``."""
        low, high = 1, len(ids)
        while low < high:
            middle = (low + high) // 2
            if decoded_length(middle) > offset:
                high = middle
            else:
                low = middle + 1
        return low - 1

    pattern = re.compile(rf'"{re.escape(field)}"\s*:\s*"([^"\\]*)"')
    confidences: list[float] = []
    for match in pattern.finditer(text):
        first, last = token_at(match.start(1)), token_at(max(match.end(1) - 1, match.start(1)))
        confidence = 1.0
        for index in range(first, last + 1):
            confidence *= float(probabilities[index])
        confidences.append(confidence)
    return confidences
