"""N candidates at once against one model server: how long each waits per turn.

    PYTHONPATH=. python scripts/server_load.py --base-url http://HOST:8000/v1 --model NAME
    PYTHONPATH=. python scripts/server_load.py --llama-cpp model.gguf        # starts a server

For each N in ``--clients`` (default 1,4,8) it starts N headless interviews at once, each its own
process (an ``interviewer`` client), all recorded in one fresh session store. Each candidate's
replies carry its own marker, so afterwards the store shows whether every answer landed in its
own session and none was mixed up. Per reply it measures the candidate's visible wait: from
sending the reply until the next question or follow-up starts to appear (as ``interviewer
bench`` does); the table gives p50 / p95 over every reply of every candidate.

Bounded: one question (from tests/fixtures/small-bank), at most one follow-up, every client
killed after ``--timeout`` seconds. ``--llama-cpp`` serves on 127.0.0.1
only. The evidence signal uses keywords (no embedding model per client), so what is measured is
the server.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUESTION = ROOT / "tests" / "fixtures" / "small-bank" / "serverless-vs-dedicated.toml"
REPLIES = {
    "serverless-vs-dedicated": [
        "{marker}: serverless shares machines between many users.",
        "{marker}: I think a dedicated endpoint is billed per hour.",
    ],
}
"""An answer that misses a point (so a follow-up is asked), then the reply to it."""


def write_bank(folder: Path) -> Path:
    """A one-question bank (two key points): each session is an answer, a follow-up, a reply
    to it, two grades and the feedback."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bank.toml").write_text(
        'id = "load"\ntitle = "Load"\nquestions = ["serverless-vs-dedicated"]\n'
    )
    (folder / QUESTION.name).write_text(QUESTION.read_text())
    return folder


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


# ----------------------------------------------------------------------------- one client


def client(args: argparse.Namespace) -> None:
    """One candidate: a headless interview through the session layer, each reply timed."""
    from interviewer.bench.timing import timed_reply
    from interviewer.config import Settings
    from interviewer.engine.events import AwaitingReply
    from interviewer.headless import load_answers, scripted_replies
    from interviewer.session import open_session, open_store, plan_interview

    settings = Settings(
        backend="openai",
        base_url=args.base_url,
        model=args.model,
        bank=Path(args.bank),
        mode="practice",
        max_follow_ups=1,
        data_dir=Path(args.data_dir),
        embedding_model="none",
        trust_judge=True,  # it measures the server under load, not the model's judgement
    )
    started = time.perf_counter()
    plan = plan_interview(settings, open_store(settings))
    session = open_session(plan, on_status=lambda _: None)
    opened_s = time.perf_counter() - started
    replies = scripted_replies(load_answers(Path(args.answers), plan.bank))
    awaiting = None
    for event in session.begin():
        if isinstance(event, AwaitingReply):
            awaiting = event
    records = []
    while awaiting is not None and session.interview.state == "awaiting_reply":
        record, awaiting = timed_reply(session.reply(replies(awaiting)), awaiting.question_id)
        records.append(
            {"kind": record.kind, "next_prompt_s": record.next_prompt_s, "ready_s": record.ready_s}
        )
    Path(args.json).write_text(
        json.dumps(
            {
                "session_id": session.session_id,
                "finished": session.interview.state == "finished",
                "open_s": opened_s,
                "session_s": time.perf_counter() - started,
                "replies": records,
            }
        )
    )


# ----------------------------------------------------------------------------- the load


def run_load(args: argparse.Namespace, count: int, work: Path) -> dict[str, Any]:
    """``count`` clients at once; their waits, and whether the store kept them apart."""
    from interviewer.store import SessionStore

    data_dir = work / f"n{count}"
    data_dir.mkdir()
    markers = [f"candidate-{count}-{index:02d}" for index in range(count)]
    processes = []
    started = time.perf_counter()
    for index, marker in enumerate(markers):
        answers = data_dir / f"answers-{index}.json"
        answers.write_text(
            json.dumps(
                {"answers": {q: [r.format(marker=marker) for r in rs] for q, rs in REPLIES.items()}}
            )
        )
        command = [
            sys.executable, __file__, "--client", "--base-url", args.base_url,
            "--model", args.model, "--answers", str(answers), "--data-dir", str(data_dir),
            "--bank", str(write_bank(work / "bank")),
            "--json", str(data_dir / f"client-{index}.json"),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        processes.append(subprocess.Popen(command, env=env, stderr=subprocess.PIPE))
    failures = []
    for index, process in enumerate(processes):
        try:
            _, err = process.communicate(
                timeout=max(1.0, args.timeout - (time.perf_counter() - started))
            )
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
            failures.append(f"client {index}: killed after {args.timeout} s")
            continue
        if process.returncode != 0:
            failures.append(f"client {index}: exit {process.returncode}: {err.decode()[-500:]}")
    wall_s = time.perf_counter() - started
    results = []
    for index in range(count):
        path = data_dir / f"client-{index}.json"
        results.append(json.loads(path.read_text()) if path.is_file() else None)
    # Every answer in its own session, none mixed up.
    store = SessionStore(data_dir / "sessions.db")
    mixed = []
    for index, (marker, result) in enumerate(zip(markers, results, strict=True)):
        if result is None:
            continue
        transcript = store.load_transcript(result["session_id"])
        said = [t.text for t in transcript.turns if t.role == "candidate"]
        expected = [r.format(marker=marker) for rs in REPLIES.values() for r in rs]
        if said != expected[: len(said)] or not said:
            mixed.append(f"client {index}: its session holds {said}")
        for other in markers:
            if other != marker and any(other in turn.text for turn in transcript.turns):
                mixed.append(f"client {index}: its session mentions {other}")
    sessions = len(store.list_sessions())
    waits = [
        r["next_prompt_s"]
        for result in results
        if result is not None
        for r in result["replies"]
        if r["next_prompt_s"] is not None
    ]
    return {
        "load_average": os.getloadavg()[0],
        "clients": count,
        "sessions_stored": sessions,
        "finished": sum(bool(r and r["finished"]) for r in results),
        "replies": len(waits),
        "wait_p50_s": percentile(waits, 0.50),
        "wait_p95_s": percentile(waits, 0.95),
        "wait_max_s": max(waits) if waits else None,
        "session_mean_s": statistics.mean([r["session_s"] for r in results if r])
        if any(results)
        else None,
        "wall_s": wall_s,
        "mixed_up": mixed,
        "failures": failures,
    }


def start_llama_cpp(gguf: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (work / "llama-server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
            "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", "8192", "--interrupt_requests", "False",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the llama-cpp-python server did not start (log: {work}/llama-server.log)")


def render(rows: list[dict[str, Any]]) -> str:
    def s(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [
        "| candidates at once | sessions stored | finished | replies | wait p50 (s) "
        "| wait p95 (s) | wait max (s) | session, mean (s) | mixed up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['clients']} | {row['sessions_stored']} | {row['finished']} | "
            f"{row['replies']} | {s(row['wait_p50_s'])} | {s(row['wait_p95_s'])} | "
            f"{s(row['wait_max_s'])} | {s(row['session_mean_s'])} | "
            f"{'none' if not row['mixed_up'] else len(row['mixed_up'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--llama-cpp", type=Path, help="start llama-cpp-python's server on it")
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--timeout", type=float, default=900.0, help="per load run, seconds")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--answers", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--bank", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args)
        return
    with tempfile.TemporaryDirectory(prefix="interviewer-load-") as tmp:
        work = Path(tmp)
        server = None
        if args.llama_cpp is not None:
            server, args.base_url = start_llama_cpp(args.llama_cpp, work)
        if not args.base_url:
            parser.error("give --base-url URL or --llama-cpp FILE.gguf")
        try:
            rows = []
            for count in [int(n) for n in args.clients.split(",")]:
                row = run_load(args, count, work)
                rows.append(row)
                print(render([row]).splitlines()[-1], flush=True)
                for problem in row["mixed_up"] + row["failures"]:
                    print(f"  {problem}", file=sys.stderr)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
    print()
    print(render(rows))
    if args.out is not None:
        args.out.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    if any(row["mixed_up"] or row["failures"] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
