"""How the candidate spoke: speaking time, pace, filler words, the longest pause.

Pauses and speaking time are measured on the audio (Silero voice-activity detection, as
faster-whisper ships it), not on the recogniser's word timings, which drift by a tenth of a
second or more; words and fillers are counted in the recognised text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from interviewer.transcript import SpeechStats
from interviewer.voice.sources import SAMPLE_RATE

if TYPE_CHECKING:
    from interviewer.voice.sources import Samples

DEFAULT_FILLERS = ("um", "uh", "erm", "like", "you know", "basically", "i mean", "sort of")
"""Filler words and phrases counted by default (``voice.fillers`` in the config replaces them)."""

MIN_PAUSE = 0.25
"""Silences shorter than this are the gaps inside speech, not pauses."""

_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")

Span = tuple[float, float]
"""A stretch of speech: (start, end) in seconds from the start of the recording."""


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower-cased, without punctuation (``don't`` stays one word)."""
    return _WORD.findall(text.lower())


def count_fillers(text: str, fillers: Iterable[str]) -> dict[str, int]:
    """How often each filler word or phrase occurs in ``text`` (whole words only; a longer
    phrase is matched before a shorter one, and no word is counted twice)."""
    words = words_of(text)
    phrases = sorted({tuple(words_of(f)) for f in fillers if words_of(f)}, key=len, reverse=True)
    counts: dict[str, int] = {}
    i = 0
    while i < len(words):
        for phrase in phrases:
            if tuple(words[i : i + len(phrase)]) == phrase:
                name = " ".join(phrase)
                counts[name] = counts.get(name, 0) + 1
                i += len(phrase)
                break
        else:
            i += 1
    return counts


def speech_spans(samples: Samples, min_pause: float = MIN_PAUSE) -> list[Span]:
    """The stretches of speech in ``samples`` (16 kHz mono), joined across gaps shorter than
    ``min_pause``. Silero VAD, without the padding it adds for recognition."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        samples,
        VadOptions(min_silence_duration_ms=int(min_pause * 1000), speech_pad_ms=0),
    )
    return _sharpened([(s["start"], s["end"]) for s in found], samples)


_FRAME = SAMPLE_RATE // 100  # 10 ms
_REACH = 0.15
"""How far (seconds) an edge of Silero's span may move to the sound's real edge."""


def _sharpened(spans: list[tuple[int, int]], samples: Samples) -> list[Span]:
    """Silero's spans move by its 32 ms windows and its smoothing: each edge is set to the
    first (last) 10 ms frame louder than the recording's noise floor nearby, so a pause is
    measured to a hundredth of a second."""
    import numpy as np

    if not spans:
        return []
    frames = len(samples) // _FRAME
    rms = np.sqrt(
        np.mean(samples[: frames * _FRAME].reshape(frames, _FRAME).astype(np.float64) ** 2, axis=1)
    )
    floor = float(np.percentile(rms, 10)) if frames else 0.0
    loud = rms > max(3 * floor, 1e-3)
    reach = int(_REACH * 100)
    out: list[Span] = []
    for start, end in spans:
        first, last = start // _FRAME, min(frames - 1, end // _FRAME)
        window = np.flatnonzero(loud[max(0, first - reach) : first + reach + 1])
        s = max(0, first - reach) + int(window[0]) if len(window) else first
        window = np.flatnonzero(loud[max(0, last - reach) : last + reach + 1])
        e = max(0, last - reach) + int(window[-1]) + 1 if len(window) else last + 1
        out.append((s * _FRAME / SAMPLE_RATE, max(s + 1, e) * _FRAME / SAMPLE_RATE))
    return out


def longest_pause(spans: Sequence[Span]) -> float:
    return max((b[0] - a[1] for a, b in itertools.pairwise(spans)), default=0.0)


def speech_stats(text: str, spans: Sequence[Span], fillers: Iterable[str]) -> SpeechStats:
    """The numbers for one spoken reply: its recognised ``text`` and its speech ``spans``."""
    words = len(words_of(text))
    speaking = spans[-1][1] - spans[0][0] if spans else 0.0
    return SpeechStats(
        speaking_seconds=round(speaking, 2),
        words=words,
        words_per_minute=round(words / speaking * 60, 1) if speaking > 0 else 0.0,
        fillers=count_fillers(text, fillers),
        longest_pause_seconds=round(max(0.0, longest_pause(spans)), 2),
    )
