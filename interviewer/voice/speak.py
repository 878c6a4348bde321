"""The interviewer's voice: its turns read aloud sentence by sentence as they stream.

A sentence is handed to the voice the moment it is complete, so the interviewer starts
speaking while the rest of its reply is still being written. The voice is Piper (a local
neural voice, ``voice.tts_voice``) or, where none is installed, espeak-ng. :meth:`Speaker.stop`
(Ctrl+C, like generation) drops what is queued and silences what is playing. Feedback is read
without its reference answer unless ``voice.read_reference`` asks for it.
"""

from __future__ import annotations

import io
import queue
import re
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from interviewer.voice.errors import VoiceError

if TYPE_CHECKING:
    from interviewer.voice.sources import Samples

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n\s*\n")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")


def clauses(sentence: str, shortest: int = 1) -> list[str]:
    """A sentence cut at its commas, semicolons and colons (pieces of at least ``shortest``
    words): each is voiced as soon as it is synthesized, while the next one is."""
    pieces: list[str] = []
    for part in _CLAUSE_END.split(sentence):
        if pieces and len(pieces[-1].split()) < shortest:
            pieces[-1] = f"{pieces[-1]} {part}"
        else:
            pieces.append(part)
    if len(pieces) > 1 and len(pieces[-1].split()) < shortest:
        pieces[-2:] = [f"{pieces[-2]} {pieces[-1]}"]
    return [p for p in pieces if p.strip()]


REFERENCE_HEADING = "**Reference answer**"


class Voice(Protocol):
    """Text to audio: (mono float32 samples, sample rate)."""

    name: str

    def synthesize(self, text: str) -> tuple[Samples, int]: ...


class Sink(Protocol):
    """Where the audio goes: the speakers, or a list in a test."""

    def play(self, samples: Samples, rate: int, stop: threading.Event) -> None: ...


class SentenceSplitter:
    """Streamed text in, whole sentences out."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        parts = _SENTENCE_END.split(self._buffer)
        self._buffer = parts.pop()
        return [p.strip() for p in parts if p and p.strip()]

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []


def speakable(markdown: str, *, read_reference: bool = False) -> str:
    """A turn as it is read aloud: no Markdown marks, and no reference answer unless asked."""
    if not read_reference and REFERENCE_HEADING in markdown:
        markdown = markdown.split(REFERENCE_HEADING, 1)[0]
    text = re.sub(r"[*_`#>|]+", "", markdown)
    text = re.sub(r"^\s*-\s+", "", text, flags=re.M)
    return re.sub(r"[ \t]+", " ", text).strip()


class PiperVoice:
    """A Piper voice (``.onnx`` with its ``.onnx.json`` beside it)."""

    def __init__(self, model: Path) -> None:
        try:
            from piper import PiperVoice as _Piper
        except ImportError as exc:
            raise VoiceError(
                "the interviewer's voice needs piper-tts", "`pip install 'interviewer[voice]'`"
            ) from exc
        if not model.is_file() or not Path(f"{model}.json").is_file():
            raise VoiceError(
                f"{model}: not a Piper voice (a .onnx file with its .onnx.json beside it)",
                "set voice.tts_voice to a Piper voice, or unset it to use espeak-ng",
            )
        self.voice = _Piper.load(model)
        self.name = f"piper:{model.stem}"
        list(self.voice.synthesize("Hello."))  # the first call sets the model up: not mid-turn

    def synthesize(self, text: str) -> tuple[Samples, int]:
        import numpy as np

        chunks = list(self.voice.synthesize(text))
        if not chunks:
            return np.zeros(0, dtype=np.float32), 22050
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        return audio, int(chunks[0].sample_rate)


class EspeakVoice:
    """espeak-ng, the fallback voice: robotic, instant, everywhere."""

    def __init__(self, voice: str = "en-us", speed: int = 165) -> None:
        found = shutil.which("espeak-ng")
        if found is None:
            raise VoiceError(
                "no voice for the interviewer: neither a Piper voice nor espeak-ng",
                "install espeak-ng (`apt-get install espeak-ng`) or set voice.tts_voice, or "
                "run with --no-speak",
            )
        self.command = [found, "-v", voice, "-s", str(speed), "--stdout"]
        self.name = "espeak-ng"

    def synthesize(self, text: str) -> tuple[Samples, int]:
        import numpy as np

        wav = subprocess.run([*self.command, text], capture_output=True, check=True).stdout
        with wave.open(io.BytesIO(wav)) as read:
            rate = read.getframerate()
            pcm = read.readframes(read.getnframes())
        samples: Samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768)
        return samples, rate


def open_voice(model: Path | None) -> Voice:
    """The Piper voice at ``model``, else espeak-ng."""
    return PiperVoice(model) if model is not None else EspeakVoice()


class SpeakerSink:
    """The default output device, through PortAudio."""

    def __init__(self) -> None:
        from interviewer.voice.sources import _sounddevice

        self.sd = _sounddevice()
        try:
            self.sd.query_devices(kind="output")  # type: ignore[attr-defined]
        except Exception as exc:  # PortAudioError or ValueError: no output device at all
            raise VoiceError(
                f"no speakers or headphones found ({exc})",
                "plug some in, or run with --no-speak to read the interviewer",
            ) from exc

    def play(self, samples: Samples, rate: int, stop: threading.Event) -> None:
        sd = self.sd
        sd.play(samples, rate)  # type: ignore[attr-defined]
        end = time.monotonic() + len(samples) / rate + 0.1
        while time.monotonic() < end and not stop.wait(0.02):
            pass
        sd.stop()  # type: ignore[attr-defined]


@dataclass
class Played:
    """What a :class:`RecordingSink` was given, and when."""

    at: float
    samples: Samples
    rate: int


@dataclass
class RecordingSink:
    """Keeps what would have been played (tests, benchmarks, a machine without speakers)."""

    played: list[Played] = field(default_factory=list)

    def play(self, samples: Samples, rate: int, stop: threading.Event) -> None:
        self.played.append(Played(time.monotonic(), samples, rate))


class Speaker:
    """Reads sentences aloud, one after another: one thread synthesizes (clause by clause),
    another plays, so a clause is heard while the next one is being made."""

    def __init__(
        self,
        voice: Voice,
        sink: Sink,
        *,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.voice = voice
        self.sink = sink
        self.on_error = on_error
        self._text: queue.Queue[str | None] = queue.Queue()
        self._audio: queue.Queue[tuple[Samples, int] | None] = queue.Queue()
        self._stop = threading.Event()
        self._splitter = SentenceSplitter()
        self._threads = [
            threading.Thread(target=self._synthesize, daemon=True, name="speaker-voice"),
            threading.Thread(target=self._play, daemon=True, name="speaker-play"),
        ]
        for thread in self._threads:
            thread.start()

    def feed(self, text: str) -> None:
        """Streamed text: each sentence is spoken as soon as it is complete."""
        for sentence in self._splitter.feed(text):
            self.say(sentence)

    def finish(self) -> None:
        """The turn is over: speak what is left of it."""
        for sentence in self._splitter.flush():
            self.say(sentence)

    def say(self, sentence: str) -> None:
        self._stop.clear()
        for clause in clauses(sentence):
            self._text.put(clause)

    def stop(self) -> None:
        """Silence: drop what is queued, cut what is playing."""
        self._splitter.flush()
        self._stop.set()
        for pending in (self._text, self._audio):
            while True:
                try:
                    pending.get_nowait()
                except queue.Empty:
                    break

    def close(self) -> None:
        self.stop()
        self._text.put(None)
        for thread in self._threads:
            thread.join(timeout=2)

    def _synthesize(self) -> None:
        while (clause := self._text.get()) is not None:
            if self._stop.is_set():
                continue
            try:
                audio = self.voice.synthesize(clause)
            except Exception as exc:  # a voice that fails must never stop the interview
                if self.on_error is not None:
                    self.on_error(exc)
                continue
            if not self._stop.is_set():
                self._audio.put(audio)
        self._audio.put(None)

    def _play(self) -> None:
        while (audio := self._audio.get()) is not None:
            if self._stop.is_set():
                continue
            try:
                self.sink.play(audio[0], audio[1], self._stop)
            except Exception as exc:
                if self.on_error is not None:
                    self.on_error(exc)
