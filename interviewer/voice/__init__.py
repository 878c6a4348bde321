"""Audio in and out: sources (microphone, WAV file, generated stream), speech to text, text to
speech, and how the candidate spoke.

Used by the front ends and the session, never by the engine, and imported only when voice is
on: numpy, faster-whisper, sounddevice and piper load inside the functions that need them, so
``import interviewer.voice`` costs nothing and the TUI's first paint is unchanged.
"""

from interviewer.voice.errors import (
    AnswerTooLongError,
    AudioFormatError,
    MicrophoneError,
    NoSpeechError,
    SpeechModelError,
    VoiceError,
)

__all__ = [
    "AnswerTooLongError",
    "AudioFormatError",
    "MicrophoneError",
    "NoSpeechError",
    "SpeechModelError",
    "VoiceError",
]
