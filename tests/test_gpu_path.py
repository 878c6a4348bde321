"""The GPU path's fixes, each shown on the CPU (issue 14): the capture check with fresh inputs,
one span's failure not losing the others, one graph memory pool, chunked prefill on both
paths, sampling as generate() samples, the long-session probe the fast path really serves,
the memory figure of the 6 GiB target, and the full-size tokenizer of the random 7B shape.

CUDA graphs cannot run here: the capture flow runs with stand-ins that replay the captured step
eagerly, and the CUDA calls of ``_cuda_graph`` run against a fake ``torch.cuda``."""

from __future__ import annotations

import contextlib

import pytest
import torch

from interviewer.bench.memory import Baseline, cpu_peak_bytes, gpu_memory
from interviewer.llm.base import ChatMessage, GenerationOptions
from interviewer.llm.fast_decode import (
    RELATIVE_TOLERANCE,
    FastDecoder,
    FastDecodeUnavailable,
    _Graph,
)
from interviewer.llm.hf import HFModelConfig, load_hf_model
from interviewer.llm.random_weights import QWEN25_SAMPLING

GREEDY = GenerationOptions(purpose="follow_up", max_new_tokens=4, temperature=0)


@pytest.fixture(autouse=True)
def one_thread():
    """A tiny model gains nothing from a second thread, and threads stall on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def chatml(tiny_models):
    return load_hf_model(HFModelConfig(model=str(tiny_models["chatml"])))


def prompt_of(model, tokens: int) -> list[int]:
    vocab = model.model.config.vocab_size
    return [(i * 7) % (vocab - 20) + 10 for i in range(tokens)]


def conversation(exchanges: int) -> list[ChatMessage]:
    messages = [ChatMessage(role="system", content="You are an interviewer.")]
    for i in range(exchanges):
        messages += [
            ChatMessage(role="user", content=f"Answer {i}: weights in 4 bits, bf16 compute."),
            ChatMessage(role="assistant", content=f"Question {i}: what does NF4 store?"),
        ]
    return [*messages, ChatMessage(role="user", content="Go on.")]


# ----------------------------------------------------------------- the capture check


class Frozen:
    """A graph that lost its kernels: replay leaves the capture's output as it was."""

    def replay(self) -> None:
        pass


class SkipsCacheWrite:
    """A graph whose replay computes the step but never writes the new key/value."""

    def __init__(self, decoder, span, output) -> None:
        self.decoder, self.span, self.output = decoder, span, output

    def replay(self) -> None:
        kv = self.decoder.kv

        def update(key_states, value_states, layer_idx, *args, **kwargs):
            return kv.keys[layer_idx][:, :, : kv.limit], kv.values[layer_idx][:, :, : kv.limit]

        kv.update = update
        try:
            self.output.copy_(self.decoder._step(self.span))
        finally:
            del kv.update


def test_the_capture_check_passes_a_faithful_replay_with_fresh_inputs(chatml):
    decoder = FastDecoder(chatml.model, 384)
    decoder.capture(replay="eager")
    assert sorted(decoder.graphs) == [128, 256, 384] and not decoder.failures
    for span, check in decoder.checks.items():
        assert check.ok and check.top1_agrees and check.relative_error < 1e-4
        assert check.position >= 24 and check.position < span  # a real position, the prompt's past
        assert check.attended == 25  # the check's prompt and the token itself, not the scratch slot
    assert decoder.checks[256].position == 128 and decoder.checks[384].position == 256


@pytest.mark.parametrize("broken", ["frozen", "skips_cache_write"])
def test_the_capture_check_catches_a_replay_that_ignores_fresh_inputs(chatml, broken):
    """Both broken replays reproduce the capture's own inputs exactly (a check that replays
    those, as the first version did, passes them); fresh inputs show them."""
    decoder = FastDecoder(chatml.model, 256)

    def capture(span):
        output = decoder._step(span).clone()
        graph = Frozen() if broken == "frozen" else SkipsCacheWrite(decoder, span, output)
        return _Graph(graph, output)

    with pytest.raises(FastDecodeUnavailable, match="disagreed with the eager one"):
        decoder._capture(capture)
    assert set(decoder.failures) == {128, 256} and not decoder.graphs
    for check in decoder.checks.values():
        assert not check.ok and check.relative_error > RELATIVE_TOLERANCE


# ----------------------------------------------------------------- capture failures, one pool


def test_one_span_failing_to_capture_keeps_the_others(tiny_models, chatml):
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"])))
    decoder = FastDecoder(model.model, 384)
    replays: dict[int, int] = {}

    def capture(span):
        if span == 256:
            raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
        output = decoder._step(span).clone()

        class Counting:
            def replay(self) -> None:
                replays[span] = replays.get(span, 0) + 1
                output.copy_(decoder._step(span))

        return _Graph(Counting(), output)

    decoder._capture(capture)
    assert sorted(decoder.graphs) == [128, 384]
    assert "operation not permitted" in decoder.failures[256]
    model._fast = model.fast_decoder = decoder
    model.decode_mode = "fast"
    long = GenerationOptions(purpose="follow_up", max_new_tokens=200, temperature=0)
    expected = "".join(chatml.stream(conversation(1), long))
    before = dict(replays)
    stream = model.stream(conversation(1), long)
    assert "".join(stream) == expected and stream.usage.path == "fast"
    # positions 128-255 (span 256 failed) replayed the 384 graph, the mask hiding the rest
    assert replays[384] - before[384] >= 128 - 24 and replays[128] > before[128]


class FakeCuda:
    """What ``_cuda_graph`` and ``_capture_cuda_graphs`` call in ``torch.cuda``, on the CPU: a
    captured graph replays the step that ran inside its capture block."""

    def __init__(self, decoder) -> None:
        self.decoder = decoder
        self.pools: list[object] = []
        self.handles: list[object] = []
        self.capturing: list[object] = []

    def install(self, monkeypatch) -> None:
        fake = self
        real_step = self.decoder._step

        class Graph:
            def __init__(self) -> None:
                self.run = None
                self.output = None

            def replay(self) -> None:
                self.output.copy_(self.run())

        def step(span):
            output = real_step(span)
            if fake.capturing:
                graph = fake.capturing[-1]
                graph.run, graph.output = (lambda: real_step(span)), output
            return output

        @contextlib.contextmanager
        def graph(cuda_graph, pool=None, capture_error_mode="global"):
            fake.pools.append(pool)
            fake.capturing.append(cuda_graph)
            try:
                yield
            finally:
                fake.capturing.pop()

        def graph_pool_handle():
            handle = object()
            fake.handles.append(handle)
            return handle

        class Stream:
            def wait_stream(self, other) -> None:
                pass

        monkeypatch.setattr(self.decoder, "_step", step)
        monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
        monkeypatch.setattr(torch.cuda, "graph", graph)
        monkeypatch.setattr(torch.cuda, "graph_pool_handle", graph_pool_handle)
        monkeypatch.setattr(torch.cuda, "Stream", Stream)
        monkeypatch.setattr(torch.cuda, "current_stream", lambda *a: Stream())
        monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
        monkeypatch.setattr(torch.cuda, "memory_reserved", lambda *a: 0)


def test_every_span_is_captured_into_one_shared_graph_pool(chatml, monkeypatch):
    decoder = FastDecoder(chatml.model, 384)
    fake = FakeCuda(decoder)
    fake.install(monkeypatch)
    decoder._capture_cuda_graphs()
    assert len(fake.handles) == 1 and fake.pools == [fake.handles[0]] * 3
    assert sorted(decoder.graphs) == [128, 256, 384]
    assert all(check.ok for check in decoder.checks.values())  # the graphs replay fresh inputs


# ----------------------------------------------------------------- chunked prefill


def forward_sizes(model):
    """The token count of every forward of ``model`` while the context is open."""
    sizes: list[int] = []
    handle = model.model.model.register_forward_pre_hook(
        lambda module, args, kwargs: sizes.append(int(kwargs["input_ids"].shape[1])),
        with_kwargs=True,
    )
    return sizes, handle


def test_the_fast_prefill_runs_in_chunks_with_a_lower_peak(chatml):
    prompt = prompt_of(chatml, 600)
    peaks, logits = {}, {}
    for chunk in (0, 100):
        decoder = FastDecoder(chatml.model, 640, prefill_chunk=chunk)
        with torch.inference_mode():
            decoder.prefill(prompt[:4], 0)  # allocates the static cache before measuring
            sizes, handle = forward_sizes(chatml)
            out: list[torch.Tensor] = []
            try:
                peaks[chunk] = cpu_peak_bytes(
                    lambda d=decoder, o=out: o.append(d.prefill(prompt, 0))
                )
            finally:
                handle.remove()
        assert max(sizes) == (chunk or 600)
        logits[chunk] = out[0]
    assert torch.allclose(logits[0], logits[100], atol=1e-4)
    assert peaks[100] < 0.5 * peaks[0], peaks


def test_the_default_path_prefills_a_long_prompt_in_chunks_with_a_lower_peak(tiny_models):
    messages = conversation(12)  # about 450 tokens
    runs = {}
    for chunk in (0, 100):
        model = load_hf_model(
            HFModelConfig(model=str(tiny_models["chatml"]), prefill_chunk_tokens=chunk)
        )
        sizes, handle = forward_sizes(model)
        try:
            text = "".join(model.stream(messages, GREEDY))  # generates in its own thread
        finally:
            handle.remove()
        one = GenerationOptions(purpose="follow_up", max_new_tokens=1, temperature=0)
        kwargs = model._generation_kwargs(messages, one, lambda: False)

        def prefill_and_generate(model=model, kwargs=kwargs):
            # what the generation thread runs, here, where the profiler sees it
            with torch.inference_mode():
                model._prefill_in_chunks(kwargs, 0)
                model.model.generate(**kwargs)

        runs[chunk] = (sizes, text, cpu_peak_bytes(prefill_and_generate))
    (whole, text0, peak0), (chunked, text1, peak1) = runs[0], runs[100]
    assert whole[0] > 400 and max(chunked) == 100  # the prompt went in 100 tokens at a time
    assert text1 == text0
    assert peak1 < 0.6 * peak0, (peak0, peak1)


# ----------------------------------------------------------------- sampling parity


@pytest.fixture(scope="module")
def qwen_sampling(tiny_models):
    """A tiny model whose generation config samples as Qwen2.5-7B-Instruct's does."""
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"]), kv_cache_tokens=512))
    model.model.generation_config.update(**QWEN25_SAMPLING)
    return model


@pytest.mark.parametrize(
    "settings",
    [
        {},  # the model's own generation config: Qwen's top-k 20, top-p 0.8, penalty 1.05
        {"do_sample": True, "temperature": 0.7, "top_p": 0.9},  # the backend's sampled call
        {"do_sample": True, "temperature": 1.5, "top_k": None},  # None is off, not 50
        {"do_sample": False, "temperature": None, "top_p": None, "top_k": None},  # greedy
    ],
)
def test_the_fast_loop_samples_as_generate_does(qwen_sampling, settings):
    model = qwen_sampling
    decoder = FastDecoder(model.model, 256)
    prompt = model.render(conversation(1))["input_ids"][0].tolist()
    for seed in range(2 if settings.get("do_sample", True) else 1):
        torch.manual_seed(seed)
        with torch.inference_mode():
            expected = model.model.generate(
                torch.tensor([prompt]), max_new_tokens=10, eos_token_id=None, **settings
            )[0, len(prompt) :].tolist()
        torch.manual_seed(seed)
        got = decoder.generate(prompt, settings, [], 10, lambda: False, lambda _: None)
        assert got.generated == expected, (seed, settings)


def test_streamed_replies_sample_alike_on_both_paths(qwen_sampling):
    """Through the backend (its threads and streamer), with Qwen's sampling config, on one
    load (``use_decode`` switches the path)."""
    model = qwen_sampling
    model.prepare_fast_decoding(lambda _: None, replay="eager")
    assert model.decode_mode == "fast"
    texts = {}
    for path in ("default", "fast"):
        model.use_decode(path)
        model.forget_caches()
        torch.manual_seed(5)
        stream = model.stream(
            conversation(2), GenerationOptions(purpose="clarify", max_new_tokens=12)
        )
        texts[path] = "".join(stream)
        assert stream.usage.path == ("fast" if path == "fast" else "generate")
    assert texts["fast"] == texts["default"]


# ----------------------------------------------------------------- the long-session probe


def test_the_long_session_probe_is_served_by_the_fast_path(tiny_models, hf_bank):
    """An 8k probe on an 8k static cache used to overflow it and quietly run generate()."""
    from interviewer.bench import run_long_context

    # 2,048: the interview's one system prompt alone is ~1.5k of the tiny tokenizer's tokens.
    model = load_hf_model(HFModelConfig(model=str(tiny_models["chatml"]), kv_cache_tokens=2048))
    model.prepare_fast_decoding(lambda _: None, replay="eager")
    probe = run_long_context(model, hf_bank, ["I would quantize it."], 2048, 8, cuda=False)
    assert probe["failed"] is None and probe["path"] == "fast"
    assert probe["sized_to"] == 2048 - 1 - 8
    assert probe["sized_to"] - 200 < probe["prompt_tokens"] <= probe["sized_to"]


# ----------------------------------------------------------------- the memory figure


def test_the_memory_figure_counts_what_the_process_holds(monkeypatch):
    gib = 1024**3
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda *a: 5 * gib)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a: int(5.5 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda *a: int(5.25 * gib))
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda *a: 6 * gib)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (int(133.5 * gib), 140 * gib))
    memory = gpu_memory(Baseline(free=139 * gib, total=140 * gib))
    assert memory["allocated_gib"] == 5 and memory["allocated_peak_gib"] == 5.5
    assert memory["reserved_gib"] == 5.25 and memory["reserved_peak_gib"] == 6
    assert memory["held_gib"] == 5.5  # 0.25 GiB outside the allocator (workspaces, bnb)
    assert memory["held_peak_gib"] == 6.25 and memory["context_gib"] == 1
    assert memory["process_gib"] == 7.25 and "mem_get_info" in memory["definition"]
    assert memory["peak_gib"] == 5.5  # the figure earlier results reported


# ----------------------------------------------------------------- the random 7B tokenizer


def test_the_7b_shape_gets_a_tokenizer_of_its_real_size(tmp_path):
    """Random ids across 152k decode to text, not to nothing, and the special tokens sit
    where Qwen2.5's do (build: ~2 s, so the test builds a 30k-token one the same way)."""
    import random

    from transformers import AutoTokenizer

    from interviewer.llm.random_weights import SHAPES, build_full_tokenizer

    assert SHAPES["qwen2.5-7b"].tokenizer_tokens == 151_643
    build_full_tokenizer("chatml", tmp_path, 30_000)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert len(tokenizer) == 30_003
    ids = [
        tokenizer.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
    ]
    assert ids == [30_000, 30_001, 30_002]
    rng = random.Random(0)
    pieces = [tokenizer.decode([rng.randrange(30_000)]) for _ in range(400)]
    assert all(pieces) and 0.2 < sum(p.startswith(" ") for p in pieces) / 400 < 0.7
    assert tokenizer.decode(tokenizer("Hello, the candidate said NF4.")["input_ids"]) == (
        "Hello, the candidate said NF4."
    )
