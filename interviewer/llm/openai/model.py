"""A model on an OpenAI-compatible server behind the :class:`~interviewer.llm.base.ChatModel`
protocol: replies streamed over SSE from ``/v1/chat/completions``, grades constrained by the
server where it can, verdict confidence from ``logprobs`` where it returns them.

The server formats the conversation with its own chat template: messages go as plain
role/content pairs. Optional request fields a server refuses (``stream_options``,
``logprobs``) are dropped for that server once it has said so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from interviewer.llm.base import (
    ChatMessage,
    DecodeMode,
    GenerationCancelled,
    GenerationOptions,
    GenerationUsage,
    ModelError,
    ModelUnavailable,
    Reply,
    StructuredOutputError,
    T,
)
from interviewer.llm.openai.client import ServerClient, ServerFailed
from interviewer.llm.openai.structured import (
    DIALECTS,
    KNOWN,
    PROBE_PROMPT,
    PROBE_SCHEMA,
    PROBE_TOKENS,
    Dialect,
    Probe,
    TokenChoice,
    allowed_values,
    field_confidences,
    token_choices,
)
from interviewer.llm.structured import (
    generate_with_retries,
    grammar_schema,
    parse_structured,
    repair_truncated,
)
from interviewer.llm.thinking import without_thinking
from interviewer.transcript import ModelInfo

Report = Callable[[GenerationUsage], None]

TOP_LOGPROBS = 10
"""Alternatives asked for per token when reading a grade's confidence."""

_OPTIONAL = ("stream_options", "logprobs", "top_logprobs")
"""Request fields the backend can do without, dropped where the server refuses them."""


@dataclass
class Completion:
    """One whole streamed reply."""

    text: str = ""
    tokens: list[TokenChoice] = field(default_factory=list)
    finish_reason: str | None = None


class OpenAIModel:
    """A model served by an OpenAI-compatible server (vLLM, llama.cpp, Ollama, TGI)."""

    def __init__(self, client: ServerClient, name: str, *, load_seconds: float = 0.0) -> None:
        self.client = client
        self.name = name
        self.load_seconds = load_seconds
        self._dropped: set[str] = set()
        self._lock = threading.Lock()
        self._keep: tuple[list[ChatMessage], GenerationOptions] | None = None
        """A prompt whose reply the interview stopped early, to be kept by the server's
        prompt cache before a request of another purpose (:meth:`_keep_prompt`)."""
        self._info = ModelInfo(backend="openai", model_id=name, base_url=client.url)

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def decode_mode(self) -> DecodeMode | None:
        return None  # the server decodes

    # ----------------------------------------------------------------- the protocol

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Reply:
        return Reply.reporting(
            lambda report: without_thinking(self._chunks(messages, options, cancel, report))
        )

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        return self._structured(messages, output_type, options, cancel, None)[0]

    def generate_structured_scored(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
        *,
        scored_field: str,
    ) -> tuple[T, list[float]]:
        """Like :meth:`generate_structured`, plus the model's probability for each value of
        ``scored_field`` from the server's ``logprobs`` (greedy decoding only; an empty list
        where the server returns none)."""
        return self._structured(messages, output_type, options, cancel, scored_field)

    # ----------------------------------------------------------------- structured output

    @property
    def structured_output(self) -> Dialect | None:
        """How this server constrains output to a JSON Schema (found out once per server and
        model, see :mod:`~interviewer.llm.openai.structured`); None: it does not."""
        key = (self.client.url, self.name)
        with KNOWN.lock:
            if key in KNOWN.dialects:
                return KNOWN.dialects[key]
        found = self._probe()
        with KNOWN.lock:
            KNOWN.dialects[key] = found
        return found

    def _probe(self) -> Dialect | None:
        messages = [ChatMessage(role="user", content=PROBE_PROMPT)]
        options = GenerationOptions(purpose="grade", max_new_tokens=PROBE_TOKENS, temperature=0)
        for dialect in DIALECTS:
            try:
                done = self.complete(messages, options, None, dialect.fields(PROBE_SCHEMA, "probe"))
            except ModelUnavailable:
                raise
            except ServerFailed:
                continue  # the server does not take this form
            try:
                parse_structured(done.text, Probe)
            except ValueError:
                continue  # it took the form and ignored it
            return dialect
        return None

    def _structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None,
        scored_field: str | None,
    ) -> tuple[T, list[float]]:
        dialect = self.structured_output
        if dialect is not None:
            try:
                return self._constrained(
                    dialect, messages, output_type, options, cancel, scored_field
                )
            except ServerFailed:
                pass  # this schema is beyond the server's constraint: ask without it
        result = generate_with_retries(
            lambda conversation: self.complete(conversation, options, cancel).text,
            messages,
            output_type,
        )
        return result, []

    def _constrained(
        self,
        dialect: Dialect,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None,
        scored_field: str | None,
    ) -> tuple[T, list[float]]:
        schema = grammar_schema(output_type)
        request = dialect.fields(schema, output_type.__name__)
        scored = scored_field is not None and options.temperature == 0
        if scored:
            request |= {"logprobs": True, "top_logprobs": TOP_LOGPROBS}
        problem = ""
        for _ in range(2):
            done = self.complete(messages, options, cancel, request)
            for candidate in (done.text, repair_truncated(done.text)):
                try:
                    result = parse_structured(candidate, output_type)
                except ValueError as exc:
                    problem = str(exc)
                    continue
                if not scored or scored_field is None or candidate is not done.text:
                    return result, []
                allowed = allowed_values(schema, scored_field)
                return result, field_confidences(done.tokens, done.text, scored_field, allowed)
        raise StructuredOutputError(
            f"the server's constrained output did not validate as {output_type.__name__}: "
            f"{problem}",
            hint="raise the token budget, or use another model",
        )

    # ----------------------------------------------------------------- requests

    def request_body(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": options.max_new_tokens,
            "temperature": options.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
            **(extra or {}),
        }
        if options.temperature > 0:
            body["top_p"] = options.top_p
        with self._lock:
            dropped = tuple(self._dropped)
        for name in dropped:
            body.pop(name, None)
        return body

    def events(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
        extra: dict[str, Any] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """The server-sent events of one call. A refused optional field is dropped (for good,
        on this server) and the call made again; nothing has been yielded by then."""
        self._keep_prompt(options)
        while True:
            body = self.request_body(messages, options, extra)
            events = self.client.stream("chat/completions", body, cancel)
            try:
                first = next(events, None)
            except ServerFailed as exc:
                refused = [name for name in _OPTIONAL if name in body and name in exc.detail]
                if not refused:
                    raise
                with self._lock:
                    self._dropped.update(refused)
                continue
            if first is None:
                raise self._why_no_reply(body)
            try:
                yield first
                yield from events
            finally:
                events.close()
            return

    def _keep_prompt(self, options: GenerationOptions) -> None:
        """Before a request of another purpose (a grade after a follow-up), finish the prompt
        whose reply the interview stopped early, with one token.

        A one-slot server holds one prompt's key/values; a server that also keeps the states
        of finished requests (llama-cpp-python's ``--cache``) keeps only those that ran to their
        end, and a reply cut off once it had its shape is not one. Asked again for one token,
        the server still holds the prompt, so the request costs one step, and the next
        interviewer turn, which starts with the same conversation, finds it there after the
        grade. A server that caches prefixes on its own (vLLM, llama.cpp's ``llama-server``)
        answers it from its cache just as cheaply."""
        with self._lock:
            keep, self._keep = self._keep, None
        if keep is None or keep[1].purpose == options.purpose:
            return
        messages, kept = keep
        one = kept.model_copy(update={"max_new_tokens": 1, "temperature": 0.0})
        try:
            self.complete(messages, one, None)
        except ModelUnavailable:
            raise
        except ModelError:
            pass  # only a cache warmed less: the request that follows says what is wrong

    def _why_no_reply(self, body: dict[str, Any]) -> ModelError:
        """A stream that ended before its first event: some servers (llama-cpp-python) start
        a stream and only then find that the request cannot be served (the conversation is
        longer than the context), and say why only when asked without streaming. Ask so,
        for one token."""
        asked = {**body, "stream": False, "max_tokens": 1}
        for name in ("stream_options", "logprobs", "top_logprobs"):
            asked.pop(name, None)
        try:
            self.client.post_json("chat/completions", asked)
        except ModelError as exc:
            return exc
        return ModelError(
            f"the server at {self.client.url} ended a reply before it began",
            hint="the server's own log says why",
        )

    def complete(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
        extra: dict[str, Any] | None = None,
    ) -> Completion:
        """One whole reply (streamed, so a cancel stops it within a fraction of a second),
        with its tokens' log probabilities when the request asked for them."""
        done = Completion()
        parts: list[str] = []
        for event in self.events(messages, options, cancel, extra):
            for choice in event.get("choices") or []:
                parts.append(_content(choice))
                logprobs = choice.get("logprobs")
                if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
                    done.tokens += token_choices(logprobs["content"])
                done.finish_reason = choice.get("finish_reason") or done.finish_reason
        done.text = "".join(parts)
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled("generation cancelled")
        return done

    def _chunks(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
        report: Report,
    ) -> Generator[str, None, None]:
        started = time.perf_counter()
        first: float | None = None
        pieces = 0
        finish: str | None = None
        usage: dict[str, Any] = {}
        events = self.events(messages, options, cancel)
        failed = stopped = False
        try:
            for event in events:
                if isinstance(event.get("usage"), dict):
                    usage = event["usage"]
                for choice in event.get("choices") or []:
                    finish = choice.get("finish_reason") or finish
                    text = _content(choice)
                    if text:
                        if first is None:
                            first = time.perf_counter() - started
                        pieces += 1
                        yield text
        except GeneratorExit:  # the consumer stopped reading: the server stops too
            stopped = True
            with self._lock:
                self._keep = (list(messages), options)
            raise
        except BaseException:
            failed = True
            raise
        finally:
            events.close()
            if not failed:
                report(
                    GenerationUsage(
                        path="server",
                        prompt_tokens=_count(usage, "prompt_tokens"),
                        reused_tokens=_count(
                            usage.get("prompt_tokens_details") or {}, "cached_tokens"
                        ),
                        new_tokens=_count(usage, "completion_tokens") or pieces,
                        first_token_s=first,
                        total_s=time.perf_counter() - started,
                        # No finish reason: the server cut the reply off (llama-cpp-python
                        # does when another request comes in): it may stop mid-sentence.
                        budget_exhausted=not stopped and finish in (None, "length"),
                    )
                )


def _content(choice: dict[str, Any]) -> str:
    delta = choice.get("delta")
    if not isinstance(delta, dict):  # a server that answers a stream in one message
        delta = choice.get("message") or {}
    text = delta.get("content")
    return text if isinstance(text, str) else ""


def _count(usage: dict[str, Any], name: str) -> int:
    value = usage.get(name)
    return value if isinstance(value, int) and value >= 0 else 0
