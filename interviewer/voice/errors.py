"""What can go wrong with voice, each with what to do (typing always works)."""

from __future__ import annotations

from interviewer.errors import InterviewerError

TYPE_INSTEAD = "you can type your answer instead"


class VoiceError(InterviewerError):
    """Voice cannot be used for this reply; the message says why, the hint what to do."""


class MicrophoneError(VoiceError):
    """No microphone, no PortAudio library, or the device refused to record."""


class SpeechModelError(VoiceError):
    """The speech-to-text model cannot be found, downloaded or loaded."""


class AudioFormatError(VoiceError):
    """An audio file that is not a readable WAV of speech."""


class NoSpeechError(VoiceError):
    """The audio holds no speech (silence or noise): nothing was recognised."""


class AnswerTooLongError(VoiceError):
    """A recording reached the longest answer allowed; what was said until then is kept."""
