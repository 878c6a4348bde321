"""Voice and the clock in the TUI: F5 records into the answer box (the real recogniser, fed
generated speech through the audio source protocol), the interviewer is read aloud, the
countdown sends the box at zero, and none of it costs the first paint anything."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from textual.widgets import TextArea

from interviewer.config import VoiceSettings
from interviewer.tui.screens import InterviewScreen
from interviewer.tui.widgets import StatusBar
from tests.helpers.tui import ready_for_answer, settle

_FIRST_PAINT = """
import json, sys
from interviewer.config import Settings, VoiceSettings
from interviewer.tui.app import InterviewerApp

class Probe(InterviewerApp):
    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        heavy = ("faster_whisper", "ctranslate2", "sounddevice", "piper", "onnxruntime")
        self.loaded = sorted(m for m in heavy if m in sys.modules)
        self.exit()

app = Probe(Settings(voice=VoiceSettings(enabled=True), time_limit=120))
app.run(headless=True, size=(100, 36))
print(json.dumps(app.loaded))
"""


def test_voice_loads_nothing_before_the_first_paint():
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_PAINT], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


async def test_the_clock_counts_down_and_sends_the_box_at_zero(demo_app):
    app = demo_app(time_limit=60, max_follow_ups=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await ready_for_answer(pilot)
        screen = app.screen
        assert isinstance(screen, InterviewScreen)
        now = [time.monotonic()]
        screen.clock.now = lambda: now[0]
        screen.clock.restart()
        screen._tick()
        status = screen.query_one(StatusBar)
        assert status.clock == "1:00 left"
        now[0] += 45
        screen._tick()
        assert status.clock == "0:15 left!"
        screen.query_one("#answer", TextArea).text = "Serverless is shared, endpoints are not"
        now[0] += 15
        screen._tick()  # zero: the box is sent, once
        await settle(pilot)
        screen._tick()
        await settle(pilot)
        replies = [t for t in app.interview.turns if t.role == "candidate"]
        assert len(replies) == 1
        assert replies[0].text == "Serverless is shared, endpoints are not"
        assert replies[0].delivery is not None and replies[0].delivery.sent_by_clock
        assert replies[0].delivery.time_limit_seconds == 60


async def test_a_spoken_answer_goes_into_the_box_and_is_kept(demo_app, whisper_dir, spoken_answer):
    from interviewer.voice.sources import SampleSource

    voice = VoiceSettings(enabled=True, stt_model=str(whisper_dir), speak=True)
    app = demo_app(voice=voice, max_follow_ups=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await ready_for_answer(pilot)
        screen = app.screen
        assert isinstance(screen, InterviewScreen) and screen.voice is not None
        assert screen.voice.ready.wait(60)
        screen.voice._make_source = lambda: SampleSource(spoken_answer["samples"])
        box = screen.query_one("#answer", TextArea)
        box.text = "Typed first."
        await pilot.press("f5")
        deadline = time.monotonic() + 60
        while "numbers" not in box.text.lower() and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await settle(pilot)
        assert box.text.startswith("Typed first. So basically"), box.text
        # Said, so kept: the recognised words are the draft `resume` restores.
        assert app.session.draft() == box.text
        await pilot.press("ctrl+s")
        await settle(pilot)
        # The interviewer was read aloud (espeak-ng; no speakers here, so it was recorded).
        speaker = screen.voice.speaker
        assert speaker is not None and speaker.voice.name == "espeak-ng"
        deadline = time.monotonic() + 20
        while not getattr(speaker.sink, "played", []) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert speaker.sink.played, "the interviewer's turns were not voiced"
        turn = next(t for t in app.interview.turns if t.role == "candidate")
        assert turn.delivery is not None and turn.delivery.spoken
        assert turn.delivery.recognised.startswith("So basically")
        assert turn.delivery.speech is not None
        assert turn.delivery.speech.fillers == spoken_answer["fillers"]
        feedback = next(t for t in app.interview.turns if t.kind == "feedback")
        assert "**How you spoke**" in feedback.text


async def test_the_start_screen_turns_voice_and_the_clock_on(demo_app):
    from textual.widgets import Select

    from interviewer.tui.screens import StartScreen

    app = demo_app(start_now=False)
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StartScreen)
        assert screen.query_one("#voice", Select).value == "off"
        screen.query_one("#voice", Select).value = "listen"
        screen.query_one("#time-limit", Select).value = 120.0
        chosen = screen._chosen()
        assert chosen.voice.enabled and not chosen.voice.speak
        assert chosen.time_limit == 120
