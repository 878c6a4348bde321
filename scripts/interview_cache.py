"""One candidate, a whole interview: the wait per reply, and what the prompt caches reuse.

    PYTHONPATH=. python scripts/interview_cache.py --llama-cpp SmolLM2.gguf [--server-cache]
    PYTHONPATH=. python scripts/interview_cache.py --hf-model FOLDER
    PYTHONPATH=. python scripts/interview_cache.py --base-url URL --model NAME --server-log FILE

A six-question headless interview on the built-in bank (practice mode, the defaults otherwise),
one strong answer per question (tests/fixtures/notes/strong-answers.json; a follow-up gets the
answer's last sentences), through the session layer as every front end runs it. Measured:

- the wait per reply: from sending it until the next question or follow-up starts to appear
  (``interviewer bench``'s definition); the reply that ends the interview waits for its grade,
  its card and the summary, and is given apart ("end");
- per interviewer turn (follow-up, clarification, acknowledgement): its prompt tokens and the
  share served from a cache: the local KV cache's reuse (the HF backend reports it), or the
  server's, read from llama-cpp-python's log ("N prefix-match hit"), one log segment per call;
- time to first token of each interviewer turn;
- then ``--turns`` (default 20) interviewer turns on the first question, a grade between two
  (as a one-slot server sees them), for time to first token at the last turn over the first.

``--llama-cpp`` starts llama-cpp-python's server on 127.0.0.1 (``--server-cache`` adds its
prompt-state cache, ``--cache true``). Run it alone on the machine (``flock /tmp/cpu.lock``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STRONG = ROOT / "tests" / "fixtures" / "notes" / "strong-answers.json"
INTERVIEWER_TURNS = {"follow_up", "clarify", "acknowledge"}
_HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens")


def strong_answers(bank: Any) -> dict[str, list[str]]:
    """Each question's strong answer, then its last two sentences for a follow-up."""
    texts = json.loads(STRONG.read_text(encoding="utf-8"))["seed-hf-course-page.txt"]
    answers = {}
    for question, text in zip(bank.questions, texts, strict=True):
        sentences = re.split(r"(?<=[.!?])\s+", text.strip())
        answers[question.id] = [text, " ".join(sentences[-2:])]
    return answers


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, -(-int(share * 100 * len(ordered)) // 100) - 1))
    return ordered[index]


class ServerLog:
    """The log of llama-cpp-python's server, read one call's segment at a time."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.offset = path.stat().st_size if path is not None and path.exists() else 0

    def mark(self) -> int:
        return self.path.stat().st_size if self.path is not None else 0

    def segment(self, start: int, end: int) -> str:
        if self.path is None:
            return ""
        with self.path.open("rb") as log:
            log.seek(start)
            return log.read(max(0, end - start)).decode(errors="replace")


def timed_model(inner: Any, log: ServerLog) -> Any:
    """The bench's TimedModel, noting where each call's lines start in the server's log."""
    from interviewer.bench.timing import TimedModel

    class Marked(TimedModel):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(inner)
            self.marks: list[int] = []

        def stream(self, messages: Any, options: Any, cancel: Any = None) -> Any:
            self.marks.append(log.mark())
            return super().stream(messages, options, cancel)

        def generate_structured(self, *args: Any, **kwargs: Any) -> Any:
            self.marks.append(log.mark())
            return super().generate_structured(*args, **kwargs)

    return Marked()


def server_reuse(segment: str, prompt_tokens: int | None) -> int | None:
    """Prompt tokens the server took from its cache for the call whose log is ``segment``:
    the prefix-match line whose total is the call's prompt (0 when none; None: unknown)."""
    hits = [(int(a), int(b)) for a, b in _HIT.findall(segment)]
    if prompt_tokens:
        for reused, remaining in hits:
            if reused + remaining == prompt_tokens:
                return reused
        return 0
    return hits[-1][0] if hits else None


def call_rows(timed: Any, log: ServerLog) -> list[dict[str, Any]]:
    rows = []
    marks = [*timed.marks, log.mark()]
    for index, call in enumerate(timed.calls):
        reused = call.reused_tokens
        if log.path is not None:
            reused = server_reuse(log.segment(marks[index], marks[index + 1]), call.prompt_tokens)
        rows.append(
            {
                "purpose": call.purpose,
                "kind": call.kind,
                "prompt_tokens": call.prompt_tokens,
                "cached_tokens": reused,
                "cached_share": round(reused / call.prompt_tokens, 3)
                if reused is not None and call.prompt_tokens
                else None,
                "ttft_s": call.first_token_s
                if call.first_token_s is not None
                else call.first_text_s,
                "total_s": round(call.total_s, 3),
                "failed": call.failed,
            }
        )
    return rows


def run_interview(model: Any, log: ServerLog, questions: int = 6) -> dict[str, Any]:
    from interviewer.bank import load_bank
    from interviewer.bench.timing import timed_reply
    from interviewer.config import Settings
    from interviewer.engine.events import AwaitingReply
    from interviewer.headless import scripted_replies
    from interviewer.resources import default_bank_dir
    from interviewer.session import SessionPlan, open_session

    bank = load_bank(default_bank_dir())
    bank = bank.model_copy(update={"questions": bank.questions[:questions]})
    timed = timed_model(model, log)
    settings = Settings(grader="both", mode="practice", save=False, embedding_model="none")
    session = open_session(
        SessionPlan(settings, bank, "both", None), on_status=lambda _: None, model=timed
    )
    replies = scripted_replies(strong_answers(load_bank(default_bank_dir())))
    started = time.perf_counter()
    awaiting = None
    for event in session.begin():
        if isinstance(event, AwaitingReply):
            awaiting = event
    records = []
    while awaiting is not None and session.interview.state == "awaiting_reply":
        record, awaiting = timed_reply(session.reply(replies(awaiting)), awaiting.question_id)
        records.append(record)
    session_s = time.perf_counter() - started
    calls = call_rows(timed, log)
    waits = [r.next_prompt_s for r in records if r.next_prompt not in (None, "summary")]
    end = [r.next_prompt_s for r in records if r.next_prompt == "summary"]
    turns = [c for c in calls if c["purpose"] in INTERVIEWER_TURNS and not c["failed"]]
    later = turns[1:]  # after the first interviewer turn (the first question's follow-up)
    shares = [c["cached_share"] for c in later if c["cached_share"] is not None]
    return {
        "session_s": round(session_s, 1),
        "finished": session.interview.state == "finished",
        "score": session.interview.score,
        "replies": len(records),
        "wait_p50_s": percentile([w for w in waits if w is not None], 0.5),
        "wait_p95_s": percentile([w for w in waits if w is not None], 0.95),
        "wait_max_s": max((w for w in waits if w is not None), default=None),
        "end_wait_s": end[0] if end else None,
        "calls": len(calls),
        "calls_by_purpose": {
            p: sum(c["purpose"] == p for c in calls) for p in {c["purpose"] for c in calls}
        },
        "prompt_tokens_total": sum(c["prompt_tokens"] or 0 for c in calls),
        "prompt_tokens_cached": sum(c["cached_tokens"] or 0 for c in calls),
        "interviewer_turns": len(turns),
        "turn_cached_share_min": min(shares) if shares else None,
        "turn_cached_share_median": statistics.median(shares) if shares else None,
        "turn_cached_share_mean": round(statistics.mean(shares), 3) if shares else None,
        "reply_waits": [
            {"kind": r.kind, "next": r.next_prompt, "wait_s": r.next_prompt_s} for r in records
        ],
        "call_rows": calls,
    }


def run_long_conversation(model: Any, log: ServerLog, turns: int) -> dict[str, Any]:
    """``turns`` interviewer turns on the first question with the interview's own prompts,
    and a grade of the answers between two, as the engine sends them to a one-slot server."""
    from datetime import UTC, datetime

    from interviewer.bank import load_bank
    from interviewer.engine.grading import LLMGrader
    from interviewer.llm.base import GenerationOptions, Reply
    from interviewer.prompts import PromptLibrary
    from interviewer.resources import default_bank_dir
    from interviewer.transcript import Turn

    bank = load_bank(default_bank_dir())
    question = bank.questions[0]
    replies = strong_answers(bank)[question.id]
    prompts = PromptLibrary()
    timed = timed_model(model, log)
    grader = LLMGrader(timed, prompts)
    history: list[Turn] = []
    now = datetime.now(UTC)

    def said(role: str, kind: str, text: str) -> None:
        history.append(
            Turn(
                index=len(history), role=role, kind=kind, text=text, question_id=question.id, at=now
            )  # type: ignore[arg-type]
        )

    said("interviewer", "question", question.question)
    options = GenerationOptions(purpose="follow_up", max_new_tokens=40, temperature=0)
    answers: list[str] = []
    for turn in range(turns):
        answer = replies[turn % len(replies)]
        said("candidate", "answer", answer)
        answers.append(answer)
        messages = prompts.interviewer_messages(
            "follow_up",
            bank_title=bank.title,
            question=question,
            question_number=1,
            question_count=len(bank.questions),
            history=history,
            key_point=question.key_points[turn % len(question.key_points)],
            **({"questions": [q.question for q in bank.questions]} if _new_prompts() else {}),
        )
        reply = Reply.of(timed.stream(messages, options))
        text = "".join(reply).strip() or "Could you say more?"
        reply.close()
        said("interviewer", "follow_up", text[:300])
        try:
            grader.grade(question, answers[-2:])
        except Exception as exc:  # a grade the tiny model cannot write: the turn still counts
            print(f"  grade failed: {type(exc).__name__}", file=sys.stderr)
    calls = [c for c in call_rows(timed, log) if c["purpose"] == "follow_up"]
    ttfts = [c["ttft_s"] for c in calls]
    return {
        "turns": len(calls),
        "ttft_s": ttfts,
        "ttft_last_over_first": round(ttfts[-1] / ttfts[0], 2) if ttfts and ttfts[0] else None,
        "prompt_tokens": [c["prompt_tokens"] for c in calls],
        "cached_tokens": [c["cached_tokens"] for c in calls],
    }


def _new_prompts() -> bool:
    """Whether the code measured has the one-system-prompt interviewer (this branch)."""
    import inspect

    from interviewer.prompts import PromptLibrary

    return "questions" in inspect.signature(PromptLibrary.interviewer_messages).parameters


def start_llama_cpp(
    gguf: Path, work: Path, cache: bool
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """The server on 127.0.0.1; two threads on a quiet machine, one on a busy one (llama.cpp's
    threads wait for each other: a busy neighbour makes two several times slower than one)."""
    import httpx

    threads = 2 if os.getloadavg()[0] < 2 else 1
    print(f"llama.cpp threads: {threads} (load {os.getloadavg()[0]:.1f})", flush=True)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = work / "llama-server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
        "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "8192", "--n_threads", str(threads), "--interrupt_requests", "False",
        "--verbose", "True",
    ]  # fmt: skip
    if cache:
        command += ["--cache", "True", "--cache_type", "ram"]
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return process, url, log
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the llama-cpp-python server did not start (log: {log})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llama-cpp", type=Path, help="start llama-cpp-python's server on it")
    parser.add_argument("--server-cache", action="store_true", help="the server's --cache")
    parser.add_argument("--base-url")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--server-log", type=Path, help="the running server's log file")
    parser.add_argument("--hf-model", type=Path, help="a local model folder (HF backend)")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument(
        "--questions", type=int, default=6, help="the bank's first N (a smoke test)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="interviewer-cache-") as tmp:
        server = None
        log_path = args.server_log
        if args.llama_cpp is not None:
            server, args.base_url, log_path = start_llama_cpp(
                args.llama_cpp, Path(tmp), args.server_cache
            )
        try:
            from interviewer.config import Settings
            from interviewer.llm.factory import open_model

            if args.hf_model is not None:
                settings = Settings(backend="hf", model=str(args.hf_model), embedding_model="none")
            else:
                settings = Settings(backend="openai", base_url=args.base_url, model=args.model)
            model = open_model(settings, lambda _: None)
            log = ServerLog(log_path)
            interview = run_interview(model, log, args.questions)
            print(
                json.dumps(
                    {k: v for k, v in interview.items() if k not in ("call_rows", "reply_waits")},
                    indent=1,
                ),
                flush=True,
            )
            if args.out is not None:  # kept even if the long conversation runs out of time
                args.out.write_text(json.dumps({"interview": interview}, indent=1) + "\n")
            long = run_long_conversation(model, log, args.turns)
            print(json.dumps(long), flush=True)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
    result = {
        "backend": "hf" if args.hf_model else "openai",
        "server_cache": args.server_cache,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "interview": interview,
        "long_conversation": long,
    }
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
