"""Reasoning that some models write anyway (``<think>...</think>``), kept out of the interview.
Every backend that streams raw model text passes it through :func:`without_thinking`."""

from __future__ import annotations

from collections.abc import Generator


def without_thinking(chunks: Generator[str, None, None]) -> Generator[str, None, None]:
    """``chunks`` less any ``<think>...</think>`` block: models that think anyway keep their
    reasoning out of the interview. Closing this closes ``chunks`` (and its generation)."""
    in_think = False
    try:
        for chunk in chunks:
            if "<think>" in chunk:
                in_think = True
            if in_think:
                if "</think>" in chunk:
                    in_think = False
                    chunk = chunk.split("</think>", 1)[1].lstrip()
                else:
                    continue
            if chunk:
                yield chunk
    finally:
        chunks.close()
