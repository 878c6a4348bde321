"""Chat-template rendering: messages to token ids through the tokenizer's own template, the
tokens that end a turn, and the thinking some models do anyway kept out of the reply."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from interviewer.llm.base import ChatMessage, ModelError

# End-of-turn markers of the common chat families. Generation stops on every id the model's
# generation config lists; these are added when the tokenizer knows them, for checkpoints whose
# generation config forgot its own end-of-turn token.
_END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every token id that ends the model's turn."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    for token in _END_OF_TURN_TOKENS:
        if token in vocab and token in tokenizer.all_special_tokens:
            ids.add(int(vocab[token]))
    return sorted(ids)


class ChatTemplate:
    """Renders conversations with a tokenizer's chat template."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.fold_system = False
        """The template rejects a system role: its text goes into the first user turn."""
        self.sanitize = (
            "sanitize_control_tokens" in inspect.signature(tokenizer.apply_chat_template).parameters
        )

    def plain(self, text: str) -> str:
        """For transformers without ``sanitize_control_tokens``: break up special-token strings
        (with a zero-width joiner) so typed text can never become a control token."""
        for token in self.tokenizer.all_special_tokens:
            if len(token) > 1 and token in text:
                text = text.replace(token, token[0] + "\u200d" + token[1:])
        return text

    def as_dicts(self, messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        dicts = [
            {"role": m.role, "content": m.content if self.sanitize else self.plain(m.content)}
            for m in messages
        ]
        if self.fold_system and dicts and dicts[0]["role"] == "system":
            system = dicts.pop(0)["content"]
            if dicts and dicts[0]["role"] == "user":
                dicts[0] = {"role": "user", "content": f"{system}\n\n{dicts[0]['content']}"}
            else:
                dicts.insert(0, {"role": "user", "content": system})
        return dicts

    def render(self, messages: Sequence[ChatMessage]) -> Any:
        """Token ids for ``messages`` through the model's own chat template.

        Templates that reject a system role get the system text folded into the first user
        turn (decided once, on the first rejection); thinking is switched off where a
        template has the switch; control tokens typed by the candidate stay plain text.
        """
        import jinja2

        extra: dict[str, Any] = {"enable_thinking": False}
        if self.sanitize:
            extra["sanitize_control_tokens"] = True
        for _ in range(2):
            try:
                return self.tokenizer.apply_chat_template(
                    self.as_dicts(messages),
                    add_generation_prompt=True,
                    tokenize=True,
                    return_dict=True,
                    return_tensors="pt",
                    **extra,
                )
            except jinja2.TemplateError as exc:
                has_system = any(m.role == "system" for m in messages)
                if has_system and not self.fold_system:
                    self.fold_system = True
                    continue
                raise ModelError(
                    f"the model's chat template rejected the conversation: {exc}",
                    hint="pass a template that fits with --chat-template FILE",
                ) from exc
        raise AssertionError("unreachable")
