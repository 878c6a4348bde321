"""A real OpenAI-compatible server for the tests: llama-cpp-python's, serving SmolLM2 on
127.0.0.1 (loopback only) at a free port."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ALIAS = "smollm2"
INSTALL = (
    "pip install 'llama-cpp-python[server]==0.3.36' "
    "(`make server` builds it with the flags that work here)"
)


def _threads() -> int:
    """Both cores on a quiet machine; one when others are busy there (llama.cpp's threads
    wait for each other, and a busy neighbour makes two several times slower than one)."""
    cores = os.cpu_count() or 1
    if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # its share of the cores (tests/conftest.py)
        cores = max(1, cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    return min(2, cores) if os.getloadavg()[0] < cores / 2 else 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def kill(self) -> None:
        """Die at once, as a crashed server does (SIGKILL)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_llama_server(
    gguf: Path, log_dir: Path, *, port: int | None = None, extra: tuple[str, ...] = ()
) -> LlamaServer:
    """Start the server and wait (60 s at most) until it lists its model."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail(f"the model-server tests need llama-cpp-python's server: {INSTALL}")
    port = port or free_port()
    log = log_dir / f"llama-server-{port}.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "8192",
        "--n_threads",
        str(_threads()),
        *extra,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = LlamaServer(process, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"the llama-cpp-python server exited ({process.returncode}):\n{tail}")
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2).status_code in (200, 401):
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"the llama-cpp-python server did not start in 60 s (log: {log})")
