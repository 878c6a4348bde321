"""Recognise while recording: the answer is in the box moments after the candidate stops.

The audio is cut at the candidate's own pauses into pieces of a few seconds; each piece is
recognised as soon as it ends (its words are final), and the piece still being spoken is
recognised again about once a second (its words shown as a draft). When the recording stops
only the last piece is left to recognise. A long silence may end the recording
(``end_silence``), and a recording stops at ``max_seconds`` (what was said until then is kept).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from interviewer.transcript import SpeechStats
from interviewer.voice.sources import SAMPLE_RATE, AudioSource
from interviewer.voice.speech import DEFAULT_FILLERS, Span, speech_spans, speech_stats

if TYPE_CHECKING:
    from interviewer.voice.recognise import Recogniser
    from interviewer.voice.sources import Samples

PIECE_PAUSE = 0.3
"""A silence this long ends a piece (a breath between sentences)."""
PIECE_MAX = 8.0
"""A piece with no such pause is cut here, at its quietest moment."""
DRAFT_EVERY = 1.0
"""How often the piece being spoken is recognised again for the draft."""


@dataclass
class Listened:
    """A spoken reply: its recognised text, how it was said, and its audio."""

    text: str
    speech: SpeechStats
    samples: Samples
    seconds: float
    ended_by: str = "stopped"
    """stopped (the key, or the source ran out), silence (``end_silence``), too_long."""
    pieces: list[str] = field(default_factory=list)


class Listener:
    """One recording, recognised as it goes. ``on_text(text, final)`` hears the words so far
    (from the recognising thread: a screen posts them to itself)."""

    def __init__(
        self,
        recogniser: Recogniser,
        *,
        prompt: str = "",
        fillers: Iterable[str] = DEFAULT_FILLERS,
        end_silence: float = 0.0,
        max_seconds: float = 600.0,
        on_text: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.recogniser = recogniser
        self.prompt = prompt
        self.fillers = tuple(fillers)
        self.end_silence = end_silence
        self.max_seconds = max_seconds
        self.on_text = on_text
        self._chunks: list[Samples] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ended_by = "stopped"
        self._error: BaseException | None = None
        self.first_text_at: float | None = None
        """When the first words were shown (time.monotonic), for the benchmark."""

    # ------------------------------------------------------------------ capture

    def _capture(self, source: AudioSource) -> None:
        heard = 0
        try:
            for chunk in source.chunks():
                with self._lock:
                    self._chunks.append(chunk)
                heard += len(chunk)
                if heard >= self.max_seconds * SAMPLE_RATE:
                    self._ended_by = "too_long"
                    source.stop()
                    break
        except BaseException as exc:  # a microphone that failed mid-answer: keep what was heard
            self._error = exc
        finally:
            self._done.set()

    def _audio(self) -> Samples:
        import numpy as np

        with self._lock:
            if len(self._chunks) > 1:
                self._chunks = [np.concatenate(self._chunks)]
            return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.float32)

    # ------------------------------------------------------------------ recognise

    def _cut(self, piece: Samples, spans: list[Span], final: bool) -> int | None:
        """Where the piece still being spoken ends (in its own samples): at the last pause
        within its first ``PIECE_MAX`` seconds, or at its quietest point near there; the
        whole of what is left once the recording is over and it is short; None while it goes
        on. Pieces stay short, so each is recognised in a moment."""
        now = len(piece) / SAMPLE_RATE
        if final and now <= PIECE_MAX:
            return len(piece)
        ended = [end for _s, end in spans if now - end >= PIECE_PAUSE and end <= PIECE_MAX]
        if ended and ended[-1] >= 1.0:
            return int(ended[-1] * SAMPLE_RATE)
        if now < PIECE_MAX:
            return None
        import numpy as np

        reach = int((PIECE_MAX - 1.0) * SAMPLE_RATE)
        tail = piece[reach : int(PIECE_MAX * SAMPLE_RATE)]
        frame = SAMPLE_RATE // 50
        energy = [float(np.abs(tail[i : i + frame]).mean()) for i in range(0, len(tail), frame)]
        return reach + int(np.argmin(energy)) * frame

    def _show(self, text: str, final: bool) -> None:
        if text and self.first_text_at is None:
            self.first_text_at = time.monotonic()
        if self.on_text is not None:
            self.on_text(text, final)

    def _recognise(self, samples: Samples, pieces: list[str], *, draft: bool = False) -> str:
        context = " ".join(pieces)[-150:]
        prompt = f"{self.prompt} {context}".strip()
        return self.recogniser.transcribe(samples, prompt, beam=1 if draft else 5)

    def listen(self, source: AudioSource) -> Listened:
        """Record from ``source`` until it ends (or is stopped: another thread calls
        ``source.stop()``), recognising as it goes; returns the whole reply."""
        capture = threading.Thread(target=self._capture, args=(source,), daemon=True)
        capture.start()
        pieces: list[str] = []
        start = 0
        drafted_to = 0.0  # how far into the piece's speech the last draft went
        last_draft = 0.0
        said = False
        while True:
            final = self._done.is_set()
            audio = self._audio()
            piece = audio[start:]
            if len(piece) < SAMPLE_RATE // 2 and not final:
                self._done.wait(0.05)
                continue
            spans = speech_spans(piece, PIECE_PAUSE) if len(piece) else []
            cut = self._cut(piece, spans, final)
            if cut:
                if any(s < cut / SAMPLE_RATE for s, _e in spans):  # silence is not recognised
                    text = self._recognise(piece[:cut], pieces)
                    if text:
                        pieces.append(text)
                        said = True
                        self._show(" ".join(pieces), final)
                start += cut
                drafted_to = 0.0
                if final and start >= len(audio):
                    break
                continue
            if final:
                break
            now = len(piece) / SAMPLE_RATE
            silent = now - spans[-1][1] if spans else now
            if self.end_silence > 0 and (said or spans) and silent >= self.end_silence:
                self._ended_by = "silence"
                source.stop()
            elif (
                spans
                and spans[-1][1] - spans[0][0] >= 0.8
                and spans[-1][1] > drafted_to + 0.3
                and time.monotonic() - last_draft >= DRAFT_EVERY
            ):
                draft = self._recognise(
                    piece[: int(spans[-1][1] * SAMPLE_RATE)], pieces, draft=True
                )
                last_draft, drafted_to = time.monotonic(), spans[-1][1]
                if draft:
                    self._show(" ".join([*pieces, draft]), False)
            self._done.wait(0.05)
        capture.join(timeout=1.0)
        audio = self._audio()
        text = " ".join(pieces).strip()
        if self._error is not None and not text:
            raise self._error
        spans = speech_spans(audio) if len(audio) else []
        return Listened(
            text=text,
            speech=speech_stats(text, spans, self.fillers),
            samples=audio,
            seconds=len(audio) / SAMPLE_RATE,
            ended_by=self._ended_by,
            pieces=pieces,
        )
