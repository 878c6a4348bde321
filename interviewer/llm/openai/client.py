"""HTTP to an OpenAI-compatible server (``/v1/models``, ``/v1/chat/completions``) with httpx.

One :class:`ServerClient` per model: a pooled ``httpx.Client`` with a connect timeout, a read
timeout (the longest the server may stay silent), and retries with backoff on connection errors
only (httpx's transport retries a refused or timed-out connection, never a request that reached
the server). Every failure becomes a :class:`~interviewer.llm.base.ModelError` in the user's
words with what to do; one that every later call would meet too (nothing listening, the
connection lost, the key refused) is a :class:`~interviewer.llm.base.ModelUnavailable`.

Streams are read in a worker thread, so a cancel is seen within :data:`POLL_S` whatever the
server is doing (still prefilling, or queueing the request behind other candidates'): the
reader stops waiting, and the connection is shut down, which tells the server to stop.
The API key is sent as a bearer token and never appears in a message: server error texts are
scrubbed of it, and a URL is shown and stored without credentials.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import socket
import threading
from collections.abc import Generator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from interviewer.llm.base import GenerationCancelled, ModelError, ModelUnavailable

CONNECT_TIMEOUT_S = 5.0
CONNECT_RETRIES = 2
"""Extra connection attempts (httpx backs off 0 s, then 0.5 s) before "nothing is listening"."""
POLL_S = 0.05
"""How often a waiting stream looks at the cancel signal."""


class ServerFailed(ModelError):
    """The server answered this request with an error; ``detail`` is its own text. Some
    servers answer a request they cannot take with a 500 (llama-cpp-python does for a
    ``response_format`` it does not know), so this, not only a 4xx, can mean "not this way"."""

    def __init__(self, message: str, hint: str = "", *, status: int, detail: str) -> None:
        super().__init__(message, hint)
        self.status = status
        self.detail = detail


class ServerRejected(ServerFailed):
    """The server refused this request as invalid (a 4xx other than auth and not-found): a
    field it does not take, a schema it cannot constrain to."""


class ContextLengthError(ServerRejected):
    """The conversation and the reply's token budget do not fit the server's context."""


class AuthError(ModelUnavailable):
    """The server refused the API key (401 / 403)."""


class ModelNotFound(ModelUnavailable):
    """The server has no model of that name."""


_CONTEXT = re.compile(
    r"context[ _](length|window|size)|maximum context|max_model_len|context_length_exceeded"
    r"|must be <= \d+|too many tokens|prompt is too long",
    re.IGNORECASE,
)

CONTEXT_HINT = (
    "the conversation no longer fits the model's context on the server: restart the server "
    "with a longer one (llama.cpp --n_ctx / -c, vLLM --max-model-len, Ollama num_ctx, TGI "
    "--max-total-tokens), or use a model with a longer context"
)


def normalize_base_url(url: str) -> str:
    """``url`` as the API root: a scheme is assumed (http) when missing, ``/v1`` is added to a
    URL without a path, a trailing slash, query and fragment are dropped."""
    raw = url.strip()
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelError(
            f"'{url}' is not a server address",
            hint="give --base-url as http://HOST:PORT/v1 (Ollama: http://localhost:11434/v1)",
        )
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def shown_url(url: str) -> str:
    """``url`` without any ``user:password@`` part: what is printed and stored."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class ServerClient:
    """Talks to one server; thread-safe (one pooled httpx client)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.url = shown_url(self.base_url)
        """The address as shown and stored (no credentials)."""
        self.timeout_s = timeout_s
        self._key = api_key or None
        self._key_env = api_key_env
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
            transport=httpx.HTTPTransport(retries=CONNECT_RETRIES),
        )

    def close(self) -> None:
        self._http.close()

    # ----------------------------------------------------------------- requests

    def get_json(self, path: str) -> Any:
        """GET ``path`` (relative to the API root) and its JSON body."""
        try:
            response = self._http.get(path.lstrip("/"))
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        if response.status_code >= 400:
            raise self.status_error(response.status_code, response.text, path)
        try:
            return response.json()
        except ValueError as exc:
            raise ModelError(
                f"{self.url}/{path.lstrip('/')} did not answer with JSON: "
                f"{self._scrub(response.text[:200])}",
                hint="is --base-url an OpenAI-compatible API (it usually ends in /v1)?",
            ) from exc

    def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` (not streamed) and the JSON answer. Asked twice when the first try
        meets a connection the server had closed (after a stream it ended abruptly)."""
        for attempt in range(2):
            try:
                response = self._http.post(path.lstrip("/"), json=dict(body))
                break
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if attempt:
                    raise self._transport_error(exc) from exc
            except httpx.HTTPError as exc:
                raise self._transport_error(exc) from exc
        if response.status_code >= 400:
            raise self.status_error(response.status_code, response.text, path)
        try:
            return response.json()
        except ValueError as exc:
            raise ModelError(f"{self.url}/{path.lstrip('/')} did not answer with JSON") from exc

    def stream(
        self, path: str, body: Mapping[str, Any], cancel: threading.Event | None
    ) -> Generator[dict[str, Any], None, None]:
        """POST ``body`` with ``"stream": true`` and yield each server-sent event's JSON.

        Raises :class:`GenerationCancelled` within :data:`POLL_S` of ``cancel`` being set;
        closing the generator (a consumer that stops early) shuts the connection too."""
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        lock = threading.Lock()
        reading: list[httpx.Response] = []
        """The response while its body is being read (shut down when the consumer leaves
        early; never once it was read whole, when its connection goes back to the pool)."""

        def read() -> None:
            try:
                with self._http.stream("POST", path.lstrip("/"), json=dict(body)) as response:
                    with lock:
                        if stop.is_set():
                            return
                        reading.append(response)
                    try:
                        if response.status_code >= 400:
                            text = response.read().decode("utf-8", "replace")
                            error = self.status_error(response.status_code, text, path)
                            events.put(("error", error))
                            return
                        for event in _server_sent_events(response):
                            if stop.is_set():
                                return
                            events.put(("event", event))
                    finally:
                        with lock:
                            reading.clear()
                events.put(("end", None))
            except BaseException as exc:  # handed to the consumer, never lost in the thread
                events.put(("error", exc))

        reader = threading.Thread(target=read, name="interviewer-server-stream", daemon=True)
        reader.start()
        try:
            while True:
                try:
                    kind, value = events.get(timeout=POLL_S)
                except queue.Empty:
                    if cancel is not None and cancel.is_set():
                        raise GenerationCancelled("generation cancelled") from None
                    continue
                if cancel is not None and cancel.is_set():
                    raise GenerationCancelled("generation cancelled")
                if kind == "event":
                    if "error" in value and not value.get("choices"):
                        raise self._stream_error(value["error"])
                    yield value
                elif kind == "end":
                    return
                else:
                    raise self._failure(value)
        finally:
            with lock:
                stop.set()
                for response in reading:
                    _shut_down(response)

    # ----------------------------------------------------------------- errors

    def _failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, ModelError):
            return exc
        if isinstance(exc, httpx.HTTPError):
            return self._transport_error(exc)
        return exc

    def _transport_error(self, exc: httpx.HTTPError) -> ModelError:
        url = self.url
        if isinstance(exc, httpx.ConnectError):
            return ModelUnavailable(
                f"nothing is listening at {url} ({self._scrub(str(exc)) or 'connection refused'})",
                hint="start the model server (ollama serve, vllm serve MODEL, "
                "python -m llama_cpp.server ...) or check --base-url",
            )
        if isinstance(exc, httpx.ConnectTimeout):
            return ModelUnavailable(
                f"the server at {url} did not accept a connection within {CONNECT_TIMEOUT_S:.0f} s",
                hint="check --base-url and that the machine is reachable",
            )
        if isinstance(exc, httpx.ReadTimeout):
            return ModelUnavailable(
                f"the server at {url} sent nothing for {self.timeout_s:.0f} s",
                hint="check the server (is it overloaded or stuck?); a slow one needs a "
                "longer request_timeout in the config",
            )
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return ModelUnavailable(
                f"the connection to the server at {url} was lost mid-reply ({type(exc).__name__})",
                hint="check that the server is still running, and start it again if not",
            )
        return ModelError(f"talking to the server at {url} failed: {self._scrub(str(exc))}")

    def status_error(self, status: int, text: str, path: str) -> ModelError:
        """The error for an HTTP ``status`` with body ``text`` from ``path``."""
        detail = self._scrub(_error_text(text))
        reason = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            key = (
                f"the key from ${self._key_env}"
                if self._key
                else f"no API key (${self._key_env} is not set)"
            )
            return AuthError(
                f"the server at {self.url} refused the request with {key} ({reason})",
                hint=f"set {self._key_env} to the server's API key, or name the variable that "
                "holds it with --api-key-env VAR",
            )
        if _CONTEXT.search(detail):
            return ContextLengthError(
                f"the server could not take the conversation ({reason})",
                hint=CONTEXT_HINT,
                status=status,
                detail=detail,
            )
        if status == 404:
            if "model" in detail.lower():
                return ModelNotFound(
                    f"the server at {self.url} has no such model ({reason})",
                    hint="`interviewer doctor --base-url URL` lists its models; pass one with "
                    "--model",
                )
            return ModelUnavailable(
                f"{self.url}/{path.lstrip('/')} does not exist ({reason})",
                hint="is --base-url an OpenAI-compatible API? It usually ends in /v1",
            )
        if status in (502, 503, 504):
            return ModelUnavailable(
                f"the server at {self.url} is not serving right now ({reason})",
                hint="wait until the server (or the proxy in front of it) is up, then go on",
            )
        if 400 <= status < 500:
            return ServerRejected(
                f"the server refused the request ({reason})", status=status, detail=detail
            )
        return ServerFailed(
            f"the server at {self.url} failed ({reason})",
            hint="the server's own log says why",
            status=status,
            detail=detail,
        )

    def _stream_error(self, error: Any) -> ModelError:
        detail = _error_text(json.dumps({"error": error}))
        status = error.get("code") if isinstance(error, dict) else None
        return self.status_error(status if isinstance(status, int) else 500, detail, "")

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _error_text(text: str) -> str:
    """The message of an OpenAI-style error body (``{"error": {"message": ...}}``, FastAPI's
    ``{"detail": ...}``), else the text itself, shortened."""
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300]
    found: Any = body
    if isinstance(body, dict):
        found = body.get("error", body.get("detail", body.get("message", body)))
        if isinstance(found, dict):
            found = found.get("message", found)
    if isinstance(found, list):  # FastAPI validation errors: [{"loc": ..., "msg": ...}]
        found = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg', '')}"
            if isinstance(item, dict)
            else str(item)
            for item in found[:3]
        )
    return " ".join(str(found).split())[:300]


def _server_sent_events(response: httpx.Response) -> Generator[dict[str, Any], None, None]:
    """The ``data:`` payloads of an SSE stream, until ``[DONE]`` or the end."""
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, comments (keep-alives), event: and id: lines
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise ModelError(
                f"the server sent a stream event that is not JSON: {data[:200]}"
            ) from exc
        if isinstance(event, dict):
            yield event


def _shut_down(response: httpx.Response) -> None:
    """Shut the response's socket down, so a reader blocked on it returns now and the server
    sees the client go (it stops generating); the reader thread closes the response itself."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
