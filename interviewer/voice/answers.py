"""A spoken interview from files: ``run --headless --answers-audio DIR``.

DIR holds one WAV file per reply, ``<question-id>-<n>.wav``: ``-1`` answers the question,
``-2`` replies to its first follow-up, and so on. Each is recognised by the real recogniser
through the same :class:`~interviewer.voice.listen.Listener` a microphone feeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from interviewer.transcript import Delivery
from interviewer.voice.errors import AudioFormatError, NoSpeechError, VoiceError
from interviewer.voice.listen import Listener
from interviewer.voice.sources import SAMPLE_RATE, SampleSource, read_wav

if TYPE_CHECKING:
    from interviewer.bank import Bank

_NAME = re.compile(r"^(?P<question>[a-z0-9]+(?:-[a-z0-9]+)*)-(?P<n>[1-9][0-9]*)\.wav$")


class AnswersAudioError(VoiceError, ValueError):
    """The answers folder cannot be used; the message names the folder and the file."""


def find_answer_audio(folder: Path, bank: Bank) -> dict[str, list[Path]]:
    """Question id -> its reply files in order, or :class:`AnswersAudioError` naming what is
    wrong (a file named for no question of the bank, a gap in the numbering)."""
    if not folder.is_dir():
        raise AnswersAudioError(
            f"{folder}: no such folder", "give the folder of <question-id>-<n>.wav files"
        )
    found: dict[str, dict[int, Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".wav":
            continue
        named = _NAME.match(path.name)
        if named is None:
            raise AnswersAudioError(
                f"{path}: not named <question-id>-<n>.wav",
                f"rename it, e.g. {bank.question_ids[0]}-1.wav for the first answer",
            )
        question, n = named["question"], int(named["n"])
        if question not in bank.question_ids:
            raise AnswersAudioError(
                f"{path}: {question!r} is not a question of the bank '{bank.id}'",
                f"its questions: {', '.join(bank.question_ids)}",
            )
        found.setdefault(question, {})[n] = path
    if not found:
        raise AnswersAudioError(
            f"{folder}: no <question-id>-<n>.wav files",
            f"record one per reply, e.g. {bank.question_ids[0]}-1.wav",
        )
    ordered: dict[str, list[Path]] = {}
    for question, files in found.items():
        missing = [n for n in range(1, max(files) + 1) if n not in files]
        if missing:
            raise AnswersAudioError(
                f"{folder}: {question}-{missing[0]}.wav is missing (there is "
                f"{question}-{max(files)}.wav)",
                "number each question's replies 1, 2, 3 ... without gaps",
            )
        ordered[question] = [files[n] for n in sorted(files)]
    return ordered


@dataclass
class SpokenReply:
    text: str
    delivery: Delivery
    notice: str = ""
    """What the front end should say about this reply (noise, cut by the clock)."""


def recognise_file(
    path: Path,
    listener: Listener,
    *,
    time_limit: float | None = None,
    soft: bool = False,
) -> SpokenReply:
    """One reply file, recognised. A hard ``time_limit`` keeps the first ``time_limit``
    seconds (what was in the box at zero is sent); a soft one records the overrun. A file of
    silence or noise becomes an empty reply with a notice, never a crash."""
    samples = read_wav(path)
    seconds = len(samples) / SAMPLE_RATE
    by_clock = time_limit is not None and not soft and seconds > time_limit
    if by_clock and time_limit is not None:
        samples = samples[: int(time_limit * SAMPLE_RATE)]
    heard = listener.listen(SampleSource(samples))
    notice = ""
    if not heard.text:
        notice = str(NoSpeechError(f"{path}: no speech was recognised (silence or noise)"))
    elif heard.ended_by == "too_long":
        notice = f"{path}: longer than the longest answer; the rest was not recognised"
    if by_clock:
        notice = (notice + "; " if notice else "") + f"{path}: the time limit cut it"
    delivery = Delivery(
        spoken=True,
        recognised=heard.text,
        speech=heard.speech if heard.text else None,
        seconds=round(heard.seconds, 2),
        time_limit_seconds=time_limit,
        sent_by_clock=by_clock,
        overrun_seconds=round(max(0.0, seconds - time_limit), 2) if time_limit and soft else 0.0,
    )
    return SpokenReply(heard.text, delivery, notice)


__all__ = [
    "AnswersAudioError",
    "AudioFormatError",
    "SpokenReply",
    "find_answer_audio",
    "recognise_file",
]
