"""Random-weight instruct models of a given shape, with a real tokenizer and chat template.

Used by the tests (tiny shapes, one per chat-template family), by the GPU check script and by
``interviewer bench --random-weights`` (a 7B shape measures speed and memory without a download).
The weights are noise, but everything around them (config, safetensors, tokenizer, template,
generation config) is what a real Hub checkpoint ships, so the real loading path runs on them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

TemplateFamily = Literal["chatml", "llama3", "mistral", "gemma", "qwen3"]

# Chat templates in the style of each family, written for these fixtures. What matters is the
# behaviour the backend must handle: special tokens per family, a template that rejects the
# system role (gemma, mistral), strict role alternation (mistral), a thinking switch (qwen3).
CHAT_TEMPLATES: dict[str, str] = {
    "chatml": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    "qwen3": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
        "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
        "{% else %}<think>\n{% endif %}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
        "<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}{% for m in messages %}"
        "{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/...') }}"
        "{% endif %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
        "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
    ),
    "gemma": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
        "<start_of_turn>{{ role }}\n{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
}

# (bos, eos, end-of-turn, other special tokens)
SPECIAL_TOKENS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "chatml": ("<|endoftext|>", "<|endoftext|>", "<|im_end|>", ("<|im_start|>",)),
    "qwen3": (
        "<|endoftext|>",
        "<|endoftext|>",
        "<|im_end|>",
        ("<|im_start|>", "<think>", "</think>"),
    ),
    "llama3": (
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|eot_id|>",
        ("<|start_header_id|>", "<|end_header_id|>"),
    ),
    "mistral": ("<s>", "</s>", "</s>", ("[INST]", "[/INST]")),
    "gemma": ("<bos>", "<eos>", "<end_of_turn>", ("<start_of_turn>",)),
}


@dataclass(frozen=True)
class Shape:
    """The architecture sizes of a random model."""

    architecture: Literal["qwen2", "llama"]
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int | None = None
    """None: the tokenizer's size. A real shape keeps its real vocabulary size."""
    max_position_embeddings: int = 32768
    tokenizer_tokens: int | None = None
    """Ordinary tokens of a tokenizer of the real model's size (:func:`build_full_tokenizer`);
    None: a small one trained in milliseconds (:func:`build_tokenizer`)."""


SHAPES: dict[str, Shape] = {
    "tiny": Shape("qwen2", 64, 128, 2, 4, 2),
    "small": Shape("qwen2", 256, 512, 4, 8, 2),
    # Qwen2.5-7B-Instruct: 7.6B parameters; 151,643 ordinary tokens before its special ones
    "qwen2.5-7b": Shape(
        "qwen2", 3584, 18944, 28, 28, 4, vocab_size=152064, tokenizer_tokens=151_643
    ),
}

QWEN25_SAMPLING: dict[str, Any] = {
    "do_sample": True,
    "temperature": 0.7,
    "top_p": 0.8,
    "top_k": 20,
    "repetition_penalty": 1.05,
}
"""The sampling settings of Qwen2.5-7B-Instruct's own ``generation_config.json``."""

SAMPLING: dict[str, dict[str, Any]] = {"qwen2.5-7b": QWEN25_SAMPLING}
"""Each shape's generation settings, as its real checkpoint ships them (none: plain)."""

_CORPUS = [
    "The interviewer asks a question and the candidate answers it.",
    "apply_chat_template turns messages into the prompt format of the model.",
    "BitsAndBytesConfig load_in_4bit nf4 double quantization compute dtype bfloat16.",
    "Streaming datasets load lazily; Inference Endpoints are dedicated; MTEB ranks models.",
    '{"key_points": [{"key_point_id": "a", "rationale": "r", "verdict": "covered", '
    '"evidence": "e"}]}',
    "covered partial missing 0123456789 config.json model.safetensors tokenizer.json",
]


def build_tokenizer(family: TemplateFamily, directory: Path, vocab_size: int = 600) -> None:
    """Train a small byte-level BPE tokenizer and save it with the family's chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bos, eos, end_of_turn, others = SPECIAL_TOKENS[family]
    specials = list(dict.fromkeys([bos, eos, end_of_turn, *others]))
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        pad_token=eos,
        additional_special_tokens=[t for t in specials if t not in {bos, eos}],
    )
    wrapped.chat_template = CHAT_TEMPLATES[family]
    wrapped.save_pretrained(directory)


def _word_pieces(count: int, seed: int) -> list[str]:
    """``count`` byte-level pieces shaped like a real BPE vocabulary's: about half of them
    start a word (the leading-space mark ``Ġ`` and one to four letters), the others continue
    one (two to four letters); each piece is a piece listed before it plus one letter, so
    every piece is one merge of two others."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    rng = random.Random(seed)
    pieces: list[str] = []
    levels = [[f"Ġ{a}" for a in letters], [a + b for a in letters for b in letters]]
    while len(pieces) < count:
        for level in levels:
            pieces.extend(level[: count - len(pieces)])
        # The next longer pieces: a sample of every stem, no more than the count still needs.
        wanted = max(1, (count - len(pieces)) // 2 + 1)
        levels = [
            rng.sample([stem + letter for stem in level for letter in letters], wanted)
            if len(level) * 26 > wanted
            else [stem + letter for stem in level for letter in letters]
            for level in levels
        ]
    return pieces[:count]


def build_full_tokenizer(family: TemplateFamily, directory: Path, tokens: int) -> None:
    """Save a byte-level BPE tokenizer with ``tokens`` ordinary tokens and the family's special
    tokens after them, as a real one of that size has (Qwen2.5: 151,643 ordinary tokens, then
    ``<|endoftext|>`` 151643, ``<|im_start|>`` 151644, ``<|im_end|>`` 151645).

    A random model in a real shape emits ids across its whole vocabulary; with a small
    tokenizer most of them would decode to nothing, and the streamed text (and the per-token
    cost of detokenizing it) would not be a real model's. Here every ordinary id decodes to
    one to a few letters, word-initial ones with a space, like a real vocabulary's pieces.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    merges: list[tuple[str, str]] = []
    for piece in _word_pieces(tokens - len(vocab), seed=0):
        merges.append((piece[:-1], piece[-1]))
        vocab[piece] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    bos, eos, end_of_turn, others = SPECIAL_TOKENS[family]
    specials = list(dict.fromkeys([eos, bos, *others, end_of_turn]))
    tokenizer.add_special_tokens(specials)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        pad_token=eos,
        additional_special_tokens=[t for t in specials if t not in {bos, eos}],
    )
    wrapped.chat_template = CHAT_TEMPLATES[family]
    wrapped.save_pretrained(directory)


def build_random_model(
    directory: Path,
    shape: Shape | str = "tiny",
    family: TemplateFamily = "chatml",
    *,
    dtype: str = "float32",
    seed: int = 0,
    device: str = "cpu",
    reuse: bool = False,
    sampling: Mapping[str, Any] | None = None,
) -> Path:
    """Save a random-weight causal LM (safetensors), its tokenizer and generation config.

    ``sampling``: the generation config's sampling settings (None: the shape's real ones from
    :data:`SAMPLING`, e.g. Qwen2.5's top-k 20, top-p 0.8, repetition penalty 1.05).

    Big shapes are materialized on ``device`` (``cuda`` fills 15 GB of noise in a blink) with
    cheap normal noise instead of the architecture's own initialisation. With ``reuse``, a
    folder that already holds a complete build of the same recipe is returned as it is (the
    GPU scripts build the 7B shape once for several measurements).
    """
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        GenerationConfig,
        LlamaConfig,
        Qwen2Config,
    )

    spec = SHAPES[shape] if isinstance(shape, str) else shape
    if sampling is None:
        sampling = SAMPLING.get(shape, {}) if isinstance(shape, str) else {}
    recipe = {
        "shape": asdict(spec),
        "family": family,
        "dtype": dtype,
        "seed": seed,
        "sampling": dict(sampling),
    }
    marker = directory / RECIPE_FILE
    if reuse and is_built(directory, recipe):
        return directory
    marker.unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    if spec.tokenizer_tokens:
        build_full_tokenizer(family, directory, spec.tokenizer_tokens)
    else:
        build_tokenizer(family, directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    _, _, end_of_turn, _ = SPECIAL_TOKENS[family]
    eos_ids = sorted({tokenizer.convert_tokens_to_ids(end_of_turn), tokenizer.eos_token_id})
    config_class = Qwen2Config if spec.architecture == "qwen2" else LlamaConfig
    config = config_class(
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        vocab_size=spec.vocab_size or len(tokenizer),
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    torch_dtype = getattr(torch, dtype)
    with torch.device("meta" if spec.hidden_size >= 1024 else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    if spec.hidden_size >= 1024:
        # Big shapes: materialize on the CPU in the target dtype, with cheap noise.
        model = model.to_empty(device=device)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.normal_(0.0, 0.02)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
        **sampling,
    )
    model.save_pretrained(directory, safe_serialization=True)
    marker.write_text(json.dumps(recipe, sort_keys=True), encoding="utf-8")  # last: complete
    return directory


RECIPE_FILE = "random-weights.json"
"""Written once a build is complete: what was built (shape, family, dtype, seed)."""


def is_built(directory: Path, recipe: Mapping[str, object]) -> bool:
    """True when ``directory`` holds a complete build of ``recipe``."""
    try:
        found = json.loads((directory / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(found == json.loads(json.dumps(recipe, sort_keys=True)))
