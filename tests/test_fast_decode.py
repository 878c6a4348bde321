"""The ``fast`` decode mode. Its CUDA graph needs a GPU; everything around it (the static cache,
the explicit mask, prefix reuse, sampling, streaming, stopping, the fallbacks) runs here, with
the very same decode step called eagerly instead of replayed."""

from __future__ import annotations

import threading
import time

import pytest

from interviewer.llm.base import ChatMessage, GenerationCancelled, GenerationOptions
from interviewer.llm.fast_decode import (
    FastDecoder,
    FastDecodeUnavailable,
    _Graph,
)
from interviewer.llm.hf import HFModelConfig, load_hf_model
from interviewer.llm.random_weights import CHAT_TEMPLATES
from interviewer.llm.sampling import unsupported_settings
from interviewer.llm.static_cache import length_buckets

GREEDY = GenerationOptions(purpose="follow_up", max_new_tokens=10, temperature=0)


def conversation(turn: int) -> list[ChatMessage]:
    messages = [
        ChatMessage(role="system", content="You are an interviewer."),
        ChatMessage(role="user", content="I'm ready."),
    ]
    for i in range(turn):
        messages += [
            ChatMessage(role="assistant", content=f"Question {i}: what does NF4 store?"),
            ChatMessage(role="user", content=f"Answer {i}: weights in 4 bits, bf16 compute."),
        ]
    return messages


def with_eager_fast_path(model, max_tokens: int = 384):
    """Install the fast decoder without its CUDA graph (each step runs eagerly)."""
    model._fast = FastDecoder(model.model, max_tokens, reuse=model.config.kv_reuse)
    model.decode_mode = "fast"
    return model


@pytest.mark.parametrize("family", sorted(CHAT_TEMPLATES))
def test_the_fast_loop_matches_generate_greedily_turn_after_turn(tiny_models, family):
    default = load_hf_model(HFModelConfig(model=str(tiny_models[family]), kv_reuse=False))
    fast = with_eager_fast_path(load_hf_model(HFModelConfig(model=str(tiny_models[family]))))
    for turn in range(3):
        reference = default.stream(conversation(turn), GREEDY)
        expected = "".join(reference)
        stream = fast.stream(conversation(turn), GREEDY)
        assert "".join(stream) == expected
        stats = stream.usage
        assert stats.path == "fast" and stats.new_tokens == reference.usage.new_tokens
        assert stats.first_token_s is not None and stats.first_token_s <= stats.total_s
        if turn:  # the earlier turns' tokens came from the static cache
            assert stats.reused_tokens > 0


def test_sampling_settings_behave_as_in_generate(tiny_models):
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"])))
    decoder = FastDecoder(model.model, 256)
    prompt = model.render(conversation(1))["input_ids"][0].tolist()

    def run(**sampling):
        return decoder.generate(prompt, sampling, [], 12, lambda: False, lambda _: None).generated

    greedy = run(do_sample=False)
    assert run(do_sample=True, temperature=0.7, top_k=1) == greedy  # top-1 sampling is greedy
    sampled = {tuple(run(do_sample=True, temperature=1.5, top_p=1.0, top_k=0)) for _ in range(5)}
    assert len(sampled) > 1
    # a repetition penalty from the model's generation config is applied as generate() does
    model.model.generation_config.repetition_penalty = 1.5
    import torch

    with torch.inference_mode():
        expected = model.model.generate(
            torch.tensor([prompt]), max_new_tokens=12, do_sample=False, eos_token_id=None
        )[0, len(prompt) :].tolist()
    assert run(do_sample=False) == expected != greedy


def test_it_stops_at_an_end_of_turn_token_and_on_cancel(tiny_models):
    model = with_eager_fast_path(load_hf_model(HFModelConfig(model=str(tiny_models["llama3"]))))
    prompt = model.render(conversation(0))["input_ids"][0].tolist()
    decoder = model._fast
    first = decoder.generate(prompt, {}, [], 5, lambda: False, lambda _: None).generated
    stopped = decoder.generate(prompt, {}, [first[2]], 5, lambda: False, lambda _: None)
    assert stopped.generated == first[:3]
    cancel = threading.Event()
    stream = model.stream(
        conversation(0), GenerationOptions(purpose="clarify", max_new_tokens=300), cancel
    )
    next(stream)
    cancel.set()
    started = time.perf_counter()
    with pytest.raises(GenerationCancelled):
        list(stream)
    assert time.perf_counter() - started < 1.0


def test_calls_the_fast_loop_cannot_serve_take_the_default_path(tiny_models):
    model = with_eager_fast_path(
        load_hf_model(HFModelConfig(model=str(tiny_models["chatml"]))), max_tokens=64
    )
    long = GenerationOptions(purpose="feedback", max_new_tokens=60)  # prompt + 60 > 64 tokens
    stream = model.stream(conversation(1), long)
    "".join(stream)
    assert stream.usage.path == "generate" and model.decode_mode == "fast"


def test_on_the_cpu_fast_falls_back_to_default_and_says_so(tiny_models):
    statuses: list[str] = []
    model = load_hf_model(
        HFModelConfig(model=str(tiny_models["chatml"]), decode="fast"), on_status=statuses.append
    )
    assert model.decode_mode == "default" and model._fast is None
    assert "needs a CUDA GPU" in model.decode_notice
    assert any("Fast decoding is off" in s for s in statuses)
    stream = model.stream(conversation(0), GREEDY)
    assert "".join(stream) is not None
    assert stream.usage.path == "generate"


def test_a_capture_that_fails_leaves_the_default_path(tiny_models, monkeypatch):
    def broken_capture(self, replay="cuda"):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(FastDecoder, "capture", broken_capture)
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"]), decode="fast"))
    assert model.decode_mode == "default"
    assert "capturing the decode step failed (RuntimeError: operation not permitted" in (
        model.decode_notice or ""
    )
    assert "".join(model.stream(conversation(0), GREEDY)) is not None


def test_a_fast_path_that_fails_mid_call_is_turned_off_and_the_call_redone(tiny_models):
    model = with_eager_fast_path(load_hf_model(HFModelConfig(model=str(tiny_models["gemma"]))))
    expected = "".join(
        load_hf_model(HFModelConfig(model=str(tiny_models["gemma"]))).stream(
            conversation(0), GREEDY
        )
    )

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: operation failed during replay")

    model._fast.generate = broken
    assert "".join(model.stream(conversation(0), GREEDY)) == expected
    assert model.decode_mode == "default" and model._fast is None
    assert "failed while generating (RuntimeError" in model.decode_notice


def test_generation_settings_the_loop_does_not_implement_are_named(tiny_models):
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"])))
    config = model.model.generation_config
    assert unsupported_settings(config) == []
    config.no_repeat_ngram_size = 3
    config.suppress_tokens = [5]
    assert unsupported_settings(config) == ["suppress_tokens", "no_repeat_ngram_size"]
    model.prepare_fast_decoding(lambda _: None)
    assert "no_repeat_ngram_size" in model.decode_notice


def test_the_settings_reach_the_backend(tiny_models, monkeypatch):
    from interviewer.config import Settings
    from interviewer.llm.factory import open_model

    monkeypatch.setenv("INTERVIEWER_DECODE", "fast")
    monkeypatch.setenv("INTERVIEWER_KV_REUSE", "false")
    monkeypatch.setenv("INTERVIEWER_KV_CACHE_TOKENS", "1024")
    model = open_model(Settings(model=str(tiny_models["chatml"])), lambda _: None)
    assert model.config.decode == "fast" and "needs a CUDA GPU" in model.decode_notice
    assert model._prefix is None and model.config.kv_cache_tokens == 1024


def test_length_buckets():
    assert length_buckets(8192) == [128, 256, 512, 1024, 2048, 4096, 8192]
    assert length_buckets(384) == [128, 256, 384]
    assert length_buckets(100) == [100]


class StandInGraph:
    """What a CUDA graph does, without CUDA: replay re-runs the captured step and writes into
    the output buffer that capture returned (so stale buffers or wrong spans would show)."""

    def __init__(self, step, output, corrupt: bool = False) -> None:
        self.step, self.output, self.corrupt = step, output, corrupt
        self.replays = 0

    def replay(self) -> None:
        self.replays += 1
        self.output.copy_(self.step())
        if self.corrupt:
            self.output.mul_(-1)


def stand_in_capture(decoder, corrupt: bool = False):
    def capture(span):
        output = decoder._step(span).clone()
        return _Graph(StandInGraph(lambda: decoder._step(span), output, corrupt), output)

    return capture


def test_the_captured_path_decodes_what_generate_does(tiny_models):
    """The capture flow (scratch position, mask, one graph per span, replays reading the
    captured buffers) with stand-in graphs; only the CUDA capture itself is not run here."""
    default = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"]), kv_reuse=False))
    model = with_eager_fast_path(load_hf_model(HFModelConfig(model=str(tiny_models["chatml"]))))
    decoder = model._fast
    decoder._capture(stand_in_capture(decoder))
    assert sorted(decoder.graphs) == decoder.buckets == [128, 256, 384]
    long = GenerationOptions(purpose="follow_up", max_new_tokens=150, temperature=0)
    for turn in range(2):  # the second turn crosses from one span into the next
        expected = "".join(default.stream(conversation(turn), long))
        assert "".join(model.stream(conversation(turn), long)) == expected
    replays = [decoder.graphs[span].graph.replays - 1 for span in decoder.buckets]  # less checks
    assert sum(replays) >= 2 * 140 and replays[0] > 0 and replays[1] > 0


def test_a_replay_that_disagrees_with_the_eager_step_is_refused(tiny_models):
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"])))
    decoder = FastDecoder(model.model, 256)
    with pytest.raises(FastDecodeUnavailable, match="disagreed with the eager one"):
        decoder._capture(stand_in_capture(decoder, corrupt=True))
