"""The openai backend: a model on any OpenAI-compatible server (vLLM, llama.cpp, Ollama, TGI).

* :mod:`~interviewer.llm.openai.client`: HTTP and SSE with httpx, timeouts, connection
  retries, and errors that say what to do;
* :mod:`~interviewer.llm.openai.model`: :class:`OpenAIModel`, the ``ChatModel`` protocol;
* :mod:`~interviewer.llm.openai.structured`: which JSON Schema constraint the server takes, and
  verdict confidence from ``logprobs``.

:func:`open_server_model` connects (the server, its models, the name asked for) and finds out
how the server constrains structured output; :func:`check_server` is ``interviewer doctor
--base-url``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from interviewer.llm.base import ChatMessage, GenerationOptions, ModelError
from interviewer.llm.openai.client import (
    AuthError,
    ContextLengthError,
    ModelNotFound,
    ServerClient,
    ServerRejected,
    normalize_base_url,
    shown_url,
)
from interviewer.llm.openai.model import OpenAIModel
from interviewer.llm.openai.structured import KNOWN, Dialect, described


def server_models(client: ServerClient) -> list[str]:
    """The model names the server lists at ``/v1/models``."""
    body = client.get_json("models")
    data = body.get("data") if isinstance(body, dict) else body
    names = []
    for item in data if isinstance(data, list) else []:
        name = item.get("id") if isinstance(item, dict) else item
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names


def choose_server_model(client: ServerClient, models: list[str], wanted: str | None) -> str:
    """``wanted`` if the server has it, else its only model, else :class:`ModelNotFound`
    listing what it has."""
    listed = ", ".join(models) if models else "none"
    if wanted is None:
        if len(models) == 1:
            return models[0]
        raise ModelNotFound(
            f"the server at {client.url} serves {len(models)} models ({listed}); which one?",
            hint="name one with --model NAME (or model in the config)",
        )
    if models and wanted not in models:
        raise ModelNotFound(
            f"the server at {client.url} has no model '{wanted}'; it has: {listed}",
            hint="pass one of them with --model (Ollama: `ollama pull NAME` adds one)",
        )
    return wanted


def open_client(base_url: str | None, api_key_env: str, timeout_s: float) -> ServerClient:
    if not base_url:
        raise ModelError(
            "the openai backend needs the server's address",
            hint="pass --base-url URL (Ollama: http://localhost:11434/v1, vLLM: "
            "http://HOST:8000/v1), or set base_url in the config",
        )
    return ServerClient(
        base_url,
        api_key=os.environ.get(api_key_env) or None,
        api_key_env=api_key_env,
        timeout_s=timeout_s,
    )


def open_server_model(
    base_url: str | None,
    model: str | None,
    *,
    api_key_env: str = "OPENAI_API_KEY",
    timeout_s: float = 120.0,
    on_status: Callable[[str], None] = lambda _: None,
) -> OpenAIModel:
    """Connect to the server, check the model, and find out how it constrains grades.
    Raises :class:`ModelError` (most often :class:`~interviewer.llm.base.ModelUnavailable`)
    with what to do."""
    started = time.perf_counter()
    client = open_client(base_url, api_key_env, timeout_s)
    on_status(f"Connecting to the model server at {client.url}")
    try:
        name = choose_server_model(client, server_models(client), model)
        opened = OpenAIModel(client, name)
        on_status(f"Grades: {described(opened.structured_output)}")
    except BaseException:
        client.close()
        raise
    opened.load_seconds = time.perf_counter() - started
    on_status(f"Using {name} on {client.url}; the server applies its chat template")
    return opened


@dataclass
class ServerCheck:
    """What ``interviewer doctor --base-url`` found."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def check_server(
    base_url: str, model: str | None, *, api_key_env: str = "OPENAI_API_KEY"
) -> ServerCheck:
    """Reachable? Its models; a one-token completion; whether schema-constrained output
    works (and in which form)."""
    check = ServerCheck()
    try:
        client = open_client(base_url, api_key_env, timeout_s=30.0)
    except ModelError as exc:
        check.problems.append((str(exc), exc.hint))
        return check
    check.rows.append(("server", client.url))
    key = os.environ.get(api_key_env)
    check.rows.append(
        ("API key", f"from ${api_key_env}" if key else f"none (${api_key_env} is not set)")
    )
    try:
        started = time.perf_counter()
        models = server_models(client)
        check.rows.append(
            ("reachable", f"yes (listed its models in {time.perf_counter() - started:.2f} s)")
        )
        check.rows.append(("models", ", ".join(models) or "none listed"))
        name = choose_server_model(client, models, model)
        check.rows.append(("model", name))
        opened = OpenAIModel(client, name)
        started = time.perf_counter()
        done = opened.complete(
            [ChatMessage(role="user", content="Say OK.")],
            GenerationOptions(purpose="clarify", max_new_tokens=1, temperature=0),
            None,
        )
        check.rows.append(
            (
                "one-token completion",
                f"{done.text!r} in {time.perf_counter() - started:.2f} s",
            )
        )
        dialect = opened.structured_output
        check.rows.append(("structured output", described(dialect)))
        if dialect is None:
            check.problems.append(
                (
                    "the server does not constrain output to a JSON Schema",
                    "grades still work (parsed, repaired, retried) but a weak model fails "
                    "more often: vLLM, llama.cpp, Ollama 0.5+ and TGI can constrain",
                )
            )
    except ModelError as exc:
        check.problems.append((str(exc), exc.hint))
    finally:
        client.close()
    return check


__all__ = [
    "KNOWN",
    "AuthError",
    "ContextLengthError",
    "Dialect",
    "ModelNotFound",
    "OpenAIModel",
    "ServerCheck",
    "ServerClient",
    "ServerRejected",
    "check_server",
    "choose_server_model",
    "described",
    "normalize_base_url",
    "open_server_model",
    "server_models",
    "shown_url",
]
