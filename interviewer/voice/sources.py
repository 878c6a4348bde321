"""Where the candidate's voice comes from: one small protocol, three sources.

An :class:`AudioSource` yields mono float32 chunks at 16 kHz (what the recogniser takes) until
it ends or is stopped: the microphone (``sounddevice``), a WAV file (``--answers-audio`` and
the tests), or samples made in memory (tests and benchmarks: known words, known silences).
A file or generated source can be paced in real time, so the streaming recogniser meets it
exactly as it meets a microphone.
"""

from __future__ import annotations

import queue
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from interviewer.voice.errors import TYPE_INSTEAD, AudioFormatError, MicrophoneError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Samples = NDArray[np.float32]

SAMPLE_RATE = 16_000
"""Whisper's rate: every source yields audio at it."""
CHUNK_SECONDS = 0.1


@runtime_checkable
class AudioSource(Protocol):
    """Mono float32 audio at :data:`SAMPLE_RATE`, chunk by chunk, until it ends or is stopped."""

    def chunks(self) -> Iterator[Samples]: ...

    def stop(self) -> None: ...


class SampleSource:
    """Audio already in memory (a decoded file, generated speech), optionally paced in real
    time: each chunk is handed over when it would have been heard."""

    def __init__(self, samples: Samples, *, realtime: bool = False, chunk: float = CHUNK_SECONDS):
        self.samples = samples
        self.realtime = realtime
        self.chunk = max(1, int(chunk * SAMPLE_RATE))
        self._stopped = threading.Event()

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def chunks(self) -> Iterator[Samples]:
        start = time.monotonic()
        for offset in range(0, len(self.samples), self.chunk):
            if self._stopped.is_set():
                return
            piece = self.samples[offset : offset + self.chunk]
            if self.realtime:
                due = start + (offset + len(piece)) / SAMPLE_RATE
                self._stopped.wait(max(0.0, due - time.monotonic()))
            yield piece

    def stop(self) -> None:
        self._stopped.set()


def read_wav(path: Path) -> Samples:
    """The WAV file at ``path`` as mono float32 at 16 kHz, or :class:`AudioFormatError` saying
    what is wrong with it (any rate, 8/16/24/32-bit PCM, mono or stereo is fine)."""
    hint = (
        "record it again as a PCM WAV file (e.g. `ffmpeg -i in.m4a -ar 16000 -ac 1 out.wav`); "
        + TYPE_INSTEAD
    )
    try:
        with wave.open(str(path), "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except FileNotFoundError as exc:
        raise AudioFormatError(f"{path}: no such file", "check the path") from exc
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path}: not a PCM WAV file ({exc})", hint) from exc
    except OSError as exc:
        raise AudioFormatError(f"{path}: cannot read: {exc.strerror or exc}", hint) from exc
    if frames == 0 or rate <= 0:
        raise AudioFormatError(f"{path}: the WAV file holds no audio", hint)
    from faster_whisper import decode_audio  # resamples and mixes down (PyAV)

    try:
        samples: Samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV's errors are many; any of them means an unusable file
        raise AudioFormatError(f"{path}: cannot decode the WAV file: {exc}", hint) from exc
    return samples


def wav_source(path: Path, *, realtime: bool = False) -> SampleSource:
    return SampleSource(read_wav(path), realtime=realtime)


def write_wav(path: Path, samples: Samples, rate: int = SAMPLE_RATE) -> None:
    """Keep audio as a 16-bit PCM WAV file (``--keep-audio``; tests)."""
    import numpy as np

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())


def _sounddevice() -> object:
    """The ``sounddevice`` module, or :class:`MicrophoneError` when PortAudio is missing."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be loaded
        raise MicrophoneError(
            f"voice input needs the PortAudio library, which is not installed ({exc})",
            "install it (Debian/Ubuntu: `apt-get install libportaudio2`; macOS: `brew install "
            "portaudio`), or run without --voice; " + TYPE_INSTEAD,
        ) from exc
    except ImportError as exc:
        raise MicrophoneError(
            "voice input needs the sounddevice package",
            "`pip install 'interviewer[voice]'`; " + TYPE_INSTEAD,
        ) from exc
    return sounddevice


class Microphone:
    """The default (or named) input device, through PortAudio. Chunks come from PortAudio's
    callback thread through a queue; :meth:`stop` ends :meth:`chunks`."""

    def __init__(self, device: str | int | None = None) -> None:
        self.sd = _sounddevice()
        self.device = device
        self._queue: queue.Queue[Samples | None] = queue.Queue()
        self._check_input()

    def _check_input(self) -> None:
        sd = self.sd
        try:
            info = sd.query_devices(self.device, "input")  # type: ignore[attr-defined]
        except Exception as exc:  # PortAudioError or ValueError: no such device, none at all
            raise MicrophoneError(
                f"no microphone found ({exc})",
                "plug one in or choose one with `voice.input_device` in the config file "
                "(`python -m sounddevice` lists them); " + TYPE_INSTEAD,
            ) from exc
        if int(info.get("max_input_channels", 0)) < 1:
            raise MicrophoneError(
                f"the audio device {info.get('name', self.device)!r} cannot record",
                "choose an input device with `voice.input_device`; " + TYPE_INSTEAD,
            )

    def _callback(self, data: Samples, frames: int, at: object, status: object) -> None:
        self._queue.put(data[:, 0].copy())

    def chunks(self) -> Iterator[Samples]:
        sd = self.sd
        try:
            stream = sd.InputStream(  # type: ignore[attr-defined]
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="float32",
                device=self.device,
                blocksize=int(CHUNK_SECONDS * SAMPLE_RATE),
                callback=self._callback,
            )
            stream.start()
        except Exception as exc:
            raise MicrophoneError(
                f"the microphone cannot record: {exc}",
                "check that no other program holds it; " + TYPE_INSTEAD,
            ) from exc
        try:
            while (piece := self._queue.get()) is not None:
                yield piece
        finally:
            stream.stop()
            stream.close()

    def stop(self) -> None:
        self._queue.put(None)
