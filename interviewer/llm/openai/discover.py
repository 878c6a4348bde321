"""Find the OpenAI-compatible model servers already running on this machine.

Most candidates without an NVIDIA GPU run their models in Ollama, llama.cpp's server, LM Studio
or vLLM. :func:`discover` knocks on each one's usual port on the loopback interface (never
another host), all at once, each with a short timeout, and asks the ones that answer for
their models (``GET /v1/models``). A closed port answers at once (connection refused); a
listener that never answers costs at most ``timeout`` seconds, in parallel with the others.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

KNOWN_PORTS: tuple[tuple[str, int], ...] = (
    ("Ollama", 11434),
    ("llama.cpp", 8080),
    ("LM Studio", 1234),
    ("vLLM", 8000),
)
"""The servers looked for, and the port each listens on by default."""

TIMEOUT_S = 0.25
"""Seconds one port may take (connecting, then the model list): the start screen's budget."""

Status = Literal["found", "closed", "silent", "not_openai"]


@dataclass(frozen=True)
class Probe:
    """What one port said."""

    name: str
    """The server usually found on this port (it may be another one)."""
    port: int
    status: Status
    """found: it lists its models; closed: nothing listens; silent: something listens but
    did not answer in time; not_openai: it answered, but not with an OpenAI model list."""
    base_url: str
    models: tuple[str, ...] = field(default=())
    detail: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        """One line for ``doctor`` and the start screen."""
        where = f"{self.name} port {self.port}"
        if self.status == "found":
            names = ", ".join(self.models) if self.models else "no models loaded"
            return f"{where}: a server at {self.base_url} ({names})"
        if self.status == "closed":
            return f"{where}: nothing listens"
        if self.status == "silent":
            return f"{where}: something listens but did not answer in {self.detail}"
        return f"{where}: answers, but not as an OpenAI-compatible server ({self.detail})"


def _check_loopback(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"server discovery only looks on this machine, not at {host}")


def _model_ids(payload: Any) -> tuple[str, ...] | None:
    """The model ids of an OpenAI ``/v1/models`` answer (None: not one)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        return None
    ids = [item.get("id") for item in payload["data"] if isinstance(item, dict)]
    return tuple(i for i in ids if isinstance(i, str) and i)


def probe_port(
    name: str, port: int, *, host: str = "127.0.0.1", timeout: float = TIMEOUT_S
) -> Probe:
    """Knock on ``host:port`` (loopback only) and ask for its model list."""
    import httpx

    _check_loopback(host)
    base_url = f"http://{host}:{port}/v1"
    started = time.perf_counter()

    def result(status: Status, models: tuple[str, ...] = (), detail: str = "") -> Probe:
        spent = time.perf_counter() - started
        return Probe(name, port, status, base_url, models, detail, round(spent, 3))

    try:  # a plain connect first: a closed port says so at once, without an HTTP client
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except TimeoutError:
        return result("silent", detail=f"{timeout:.2f} s")
    except OSError:
        return result("closed")
    left = max(0.05, timeout - (time.perf_counter() - started))
    try:
        response = httpx.get(f"{base_url}/models", timeout=left)
    except httpx.TimeoutException:
        return result("silent", detail=f"{timeout:.2f} s")
    except httpx.HTTPError as exc:
        return result("not_openai", detail=type(exc).__name__)
    if response.status_code == 401:
        return result("found", detail="it needs an API key")
    try:
        models = _model_ids(response.json()) if response.status_code == 200 else None
    except ValueError:
        models = None
    if models is None:
        return result("not_openai", detail=f"HTTP {response.status_code} from /v1/models")
    return result("found", models)


def discover(
    ports: Sequence[tuple[str, int]] = KNOWN_PORTS,
    *,
    host: str = "127.0.0.1",
    timeout: float = TIMEOUT_S,
) -> list[Probe]:
    """Every port of ``ports`` probed at once; the results in the order given."""
    _check_loopback(host)
    if not ports:
        return []
    with ThreadPoolExecutor(max_workers=len(ports), thread_name_prefix="discover") as pool:
        futures = [
            pool.submit(probe_port, name, port, host=host, timeout=timeout) for name, port in ports
        ]
        return [future.result() for future in futures]


def found(probes: Sequence[Probe]) -> list[Probe]:
    """The servers among ``probes`` that listed their models."""
    return [p for p in probes if p.status == "found"]


def suggested_server(probes: Sequence[Probe], *, cuda: bool) -> Probe | None:
    """The server to suggest as the default: with no CUDA GPU here, the first one found that
    has a model loaded (a local model on the CPU is far slower than any of them)."""
    if cuda:
        return None
    return next((p for p in found(probes) if p.models), None)


def server_command(server: Probe) -> str:
    """The command line that runs an interview on ``server``."""
    return f"interviewer --backend openai --base-url {server.base_url} --model {server.models[0]}"
