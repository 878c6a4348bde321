"""Voice in the TUI: F5 records, the words appear in the answer box as they are recognised,
and the interviewer's turns are read aloud. Everything here runs only when voice is on: the
audio libraries load in a thread after the screen is shown, never before the first paint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from interviewer.errors import InterviewerError

if TYPE_CHECKING:
    from interviewer.bank import Question
    from interviewer.config import VoiceSettings
    from interviewer.transcript import SpeechStats
    from interviewer.voice.listen import Listened
    from interviewer.voice.recognise import Recogniser
    from interviewer.voice.sources import AudioSource
    from interviewer.voice.speak import Speaker


class VoiceText(Message):
    """Words recognised so far in the recording (``final``: the recording is over)."""

    def __init__(self, text: str, final: bool) -> None:
        super().__init__()
        self.text = text
        self.final = final


class VoiceDone(Message):
    """A recording ended: what was heard (None when it failed: ``error`` says why)."""

    def __init__(self, heard: Listened | None, error: str | None = None) -> None:
        super().__init__()
        self.heard = heard
        self.error = error


class VoiceNotice(Message):
    def __init__(self, text: str, severity: str = "information") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class VoiceControl:
    """The recogniser, the microphone and the speaker of one interview screen.

    ``post`` hands a message to the screen (from any thread). Loading happens in the
    background; a recording asked for before the model is ready waits for it."""

    def __init__(
        self,
        settings: VoiceSettings,
        vocabulary: Callable[[], list[str]],
        post: Callable[[Message], bool],
        *,
        source: Callable[[], AudioSource] | None = None,
        keep_in: Path | None = None,
    ) -> None:
        self.settings = settings
        self.keep_in = keep_in
        """Where ``--keep-audio`` writes each recording (nothing is written otherwise)."""
        self._vocabulary = vocabulary
        self.post = post
        self._make_source = source
        self.recogniser: Recogniser | None = None
        self.speaker: Speaker | None = None
        self.ready = threading.Event()
        self._source: AudioSource | None = None
        self.recording = False
        self._early: list[str] = []
        """What the interviewer said while the voice was loading: read once it is ready."""
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the recogniser and the voice (call from a worker thread)."""
        from interviewer.voice.recognise import Recogniser

        try:
            self.recogniser = Recogniser(self.settings.stt_model, device=self.settings.stt_device)
        except InterviewerError as exc:
            self.post(VoiceNotice(f"Voice input is off: {exc}. {exc.hint}", "warning"))
        if self.settings.speak:
            from interviewer.voice.speak import RecordingSink, Speaker, SpeakerSink, open_voice

            try:
                voice = open_voice(self.settings.tts_voice)
                try:
                    sink: SpeakerSink | RecordingSink = SpeakerSink()
                except InterviewerError as exc:
                    self.post(VoiceNotice(f"The interviewer is not heard: {exc}", "warning"))
                    sink = RecordingSink()
                self.speaker = Speaker(voice, sink, on_error=self._voice_failed)
            except InterviewerError as exc:
                self.post(VoiceNotice(f"The interviewer is not read aloud: {exc}", "warning"))
        with self._lock:
            self.ready.set()
            early, self._early = self._early, []
        for text in early:
            self.speak(text)

    # ------------------------------------------------------------------ listening

    def start(self, question: Question | None) -> None:
        """Record until :meth:`stop` (or a long silence); call from a worker thread."""
        from interviewer.voice.listen import Listener
        from interviewer.voice.recognise import recognition_prompt
        from interviewer.voice.sources import Microphone

        self.ready.wait()
        if self.recogniser is None:
            self.post(VoiceDone(None, "the speech-to-text model is not loaded"))
            return
        settings = self.settings
        try:
            source = self._make_source() if self._make_source else Microphone(settings.input_device)
        except InterviewerError as exc:
            self.post(VoiceDone(None, f"{exc}. {exc.hint}"))
            return
        self._source = source
        self.recording = True
        prompt = (
            recognition_prompt(question, self._vocabulary(), settings.fillers)
            if settings.prime
            else ""
        )
        listener = Listener(
            self.recogniser,
            prompt=prompt,
            fillers=settings.fillers,
            end_silence=settings.end_silence,
            max_seconds=settings.max_answer,
            on_text=self._heard,
        )
        try:
            heard = listener.listen(source)
        except Exception as exc:  # the microphone failed mid-answer and nothing was heard
            self.post(VoiceDone(None, f"the recording failed: {exc}"))
            return
        finally:
            self.recording = False
            self._source = None
        if settings.keep_audio and self.keep_in is not None and len(heard.samples):
            self._keep(heard)
        self.post(VoiceDone(heard))

    def _keep(self, heard: Listened) -> None:
        from datetime import datetime

        from interviewer.voice.sources import write_wav

        assert self.keep_in is not None
        try:
            self.keep_in.mkdir(parents=True, exist_ok=True)
            path = self.keep_in / f"{datetime.now():%Y%m%d-%H%M%S}.wav"
            write_wav(path, heard.samples)
            self.post(VoiceNotice(f"The recording is kept in {path}"))
        except OSError as exc:
            self.post(VoiceNotice(f"The recording could not be kept: {exc}", "warning"))

    def _heard(self, text: str, final: bool) -> None:
        self.post(VoiceText(text, final))

    def _voice_failed(self, error: BaseException) -> None:
        self.post(VoiceNotice(f"Voice: {error}"))

    def stop(self) -> None:
        source = self._source
        if source is not None:
            source.stop()

    # ------------------------------------------------------------------ speaking

    def speak(self, text: str) -> None:
        with self._lock:
            if not self.ready.is_set():
                self._early.append(text)
                return
        if self.speaker is not None:
            self.speaker.say(text)

    def feed(self, text: str) -> None:
        with self._lock:
            if not self.ready.is_set():
                self._early.append(text)
                return
        if self.speaker is not None:
            self.speaker.feed(text)

    def finish(self) -> None:
        if self.speaker is not None:
            self.speaker.finish()

    def silence(self) -> None:
        with self._lock:
            self._early = []
        if self.speaker is not None:
            self.speaker.stop()

    def close(self) -> None:
        self.stop()
        if self.speaker is not None:
            self.speaker.close()


def spoken_summary(speech: SpeechStats) -> str:
    """The notice after a recording: how it was said."""
    from interviewer.transcript import describe_speech

    return describe_speech(speech).capitalize()
