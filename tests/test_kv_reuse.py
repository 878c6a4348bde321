"""KV-cache reuse across calls: the pool's choices, greedy equality with and without reuse on
every chat-template family, and the fallbacks (a crop that fails, a generation that fails on a
reused cache, the setting off, the memory cap). Tiny random models on the CPU."""

from __future__ import annotations

import itertools

import pytest

from interviewer.llm.base import ChatMessage, GenerationOptions
from interviewer.llm.hf import HFModelConfig, load_hf_model
from interviewer.llm.kv_reuse import PrefixCachePool, common_prefix_length
from interviewer.llm.random_weights import CHAT_TEMPLATES

GREEDY = GenerationOptions(purpose="follow_up", max_new_tokens=8, temperature=0)
ANSWERS = [
    "Serverless runs on a shared pool; an Endpoint is dedicated compute.",
    "I would pick an Endpoint for private models in production.",
    "apply_chat_template renders the messages with the tokenizer's template.",
    "NF4 stores weights in 4 bits with bf16 compute.",
]


SYSTEM = "You are a friendly technical interviewer. Ask one question at a time. " * 4


def converse(model, turns: int, system: str = SYSTEM) -> tuple[list, list]:
    """A conversation that grows by one exchange per turn: (replies, stats per turn)."""
    messages = [
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content="I'm ready. Please ask me the question."),
    ]
    replies, stats = [], []
    for turn in range(turns):
        stream = model.stream(messages, GREEDY)
        reply = "".join(stream)
        replies.append(reply)
        stats.append(stream.usage)
        messages += [
            ChatMessage(role="assistant", content=reply or "(silence)"),
            ChatMessage(role="user", content=ANSWERS[turn % len(ANSWERS)]),
        ]
    return replies, stats


# ----------------------------------------------------------------- the pool, without a model


class Cache:
    def __init__(self) -> None:
        self.length = 0


def pool(**kwargs) -> PrefixCachePool:
    def crop(cache, keep):
        cache.length = keep

    return PrefixCachePool(Cache, crop, min_shared=3, min_fraction=0.0, **kwargs)


def test_common_prefix_length():
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2
    assert common_prefix_length([], [1]) == 0
    assert common_prefix_length([5], [1]) == 0


def test_the_pool_hands_out_the_longest_shared_prefix_and_evicts_the_least_recent():
    p = pool(slots=2)
    a, b = Cache(), Cache()
    p.give_back([1, 2, 3, 4, 5], a)
    p.give_back([1, 2, 9, 9], b)
    lease = p.take([1, 2, 3, 4, 7])
    assert lease.cache is a and lease.reused == 4 and a.length == 4
    assert len(p) == 1  # taken out while in use: a failed generation never comes back
    p.give_back([1, 2, 3, 4, 7, 8], a)
    p.give_back([6, 6, 6], Cache())  # a third slot: the least recently used (b) goes
    assert p.take([1, 2, 9, 9, 1]).reused == 0
    # the whole prompt is cached: the last token is still prefilled (its logits are needed)
    assert p.take([1, 2, 3, 4, 7, 8]).reused == 5


def test_the_pool_keeps_nothing_over_its_token_cap_and_ignores_short_prefixes():
    p = pool(slots=2, max_tokens=4)
    p.give_back([1, 2, 3, 4, 5], Cache())
    assert len(p) == 0
    p.give_back([1, 2, 3], Cache())
    assert p.take([1, 9, 9]).reused == 0  # 1 shared token < min_shared: a fresh cache
    assert len(p) == 1  # and the slot kept what it holds


def test_the_pool_reuses_only_when_most_of_the_prompt_is_cached():
    p = PrefixCachePool(Cache, lambda cache, keep: None, min_shared=1, min_fraction=0.5)
    p.give_back([1, 2, 3, 4], Cache())
    assert p.take([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).reused == 0  # 4 of 10: a fresh prefill
    assert p.take([1, 2, 3, 4, 5, 6, 7]).reused == 4  # 4 of 7


def test_a_crop_that_fails_gives_a_fresh_cache():
    def crop(cache, keep):
        raise RuntimeError("this layer cannot be cropped")

    p = PrefixCachePool(Cache, crop, min_shared=1)
    kept = Cache()
    p.give_back([1, 2, 3], kept)
    lease = p.take([1, 2, 4])
    assert lease.cache is not kept and lease.reused == 0
    assert p.crop_failures == 1 and "cannot be cropped" in (p.last_error or "")
    assert len(p) == 0


# ----------------------------------------------------------------- the real backend


@pytest.mark.parametrize("family", sorted(CHAT_TEMPLATES))
def test_greedy_replies_are_the_same_with_and_without_reuse(tiny_models, family):
    reusing = load_hf_model(HFModelConfig(model=str(tiny_models[family])))
    fresh = load_hf_model(HFModelConfig(model=str(tiny_models[family]), kv_reuse=False))
    replies, stats = converse(reusing, 3)
    expected, fresh_stats = converse(fresh, 3)
    assert replies == expected
    assert all(s.reused_tokens == 0 for s in fresh_stats)
    assert stats[0].reused_tokens == 0
    # From the second turn on, the conversation so far comes from the cache: all of the last
    # prompt, less the few tokens a template renders differently once a turn is history (the
    # generation prompt of qwen3 has an empty think block, its history does not).
    for before, now in itertools.pairwise(stats):
        assert now.reused_tokens >= before.prompt_tokens - 8
    assert all(s.reused_tokens < s.prompt_tokens for s in stats)


def test_reuse_works_with_nf4_weights(load_tiny):
    model = load_tiny("chatml", "4bit")  # shared: switch reuse off and on again in place
    pool, model._prefix = model._prefix, None
    try:
        expected, _ = converse(model, 3)
    finally:
        model._prefix = pool
    pool.clear()
    replies, stats = converse(model, 3)
    assert replies == expected
    assert stats[-1].reused_tokens > 0


def test_two_contexts_keep_a_slot_each(tiny_models):
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"])))
    interviewer = [
        ChatMessage(role="system", content="You are an interviewer. " * 4),
        ChatMessage(role="user", content="I'm ready."),
    ]
    coach = [
        ChatMessage(role="system", content="You are a coach giving feedback. " * 4),
        ChatMessage(role="user", content="Please give me my feedback."),
    ]
    first = "".join(model.stream(interviewer, GREEDY))
    "".join(model.stream(coach, GREEDY))
    stream = model.stream(interviewer, GREEDY)
    again = "".join(stream)
    assert again == first
    assert stream.usage.reused_tokens == stream.usage.prompt_tokens - 1
    stream = model.stream(coach, GREEDY)
    "".join(stream)
    assert stream.usage.reused_tokens == stream.usage.prompt_tokens - 1


def test_a_generation_that_fails_on_a_reused_cache_is_redone_on_a_fresh_one(tiny_models):
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"])))
    expected, _ = converse(load_hf_model(HFModelConfig(model=str(tiny_models["chatml"]))), 2)
    real_generate = model.model.generate
    failures = []

    def generate_failing_on_reuse(**kwargs):
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        if cache is not None and cache.get_seq_length() > 0:
            failures.append(cache.get_seq_length())
            raise RuntimeError("a cache the model did not expect")
        return real_generate(**kwargs)

    model.model.generate = generate_failing_on_reuse
    replies, stats = converse(model, 2)
    assert replies == expected
    assert failures and stats[1].reused_tokens == 0
    assert model.kv_reuse_failures == 1
    converse(model, 2)  # fails once more: reuse is switched off for this model
    assert model.kv_reuse_failures == 2 and model._prefix is None
    converse(model, 2)
    assert len(failures) == 2


def test_the_setting_turns_reuse_off_and_the_cap_bounds_what_is_kept(tiny_models):
    off = load_hf_model(HFModelConfig(model=str(tiny_models["llama3"]), kv_reuse=False))
    _, stats = converse(off, 3)
    assert off._prefix is None and all(s.reused_tokens == 0 for s in stats)
    capped = load_hf_model(HFModelConfig(model=str(tiny_models["llama3"]), kv_cache_tokens=64))
    _, stats = converse(capped, 3, system="You are an interviewer. " * 5)
    assert stats[0].prompt_tokens > 64
    assert all(s.reused_tokens == 0 for s in stats) and capped._prefix.cached_tokens == 0
