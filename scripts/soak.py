"""Soak the session store: many headless interviews into one database, in a row.

Each interview is the built-in demo (scripted backend, evidence grader) with the replies of
``examples/answers.json``, driven exactly as ``interviewer run --headless`` drives it (the session
layer, the recorder, the event printer writing to a buffer instead of the terminal), so every
turn, grade, checkpoint and draft is committed with ``synchronous=FULL`` as in real use.
``--cli`` runs each interview as its own ``interviewer run --headless`` process instead (slower:
each pays Python's start-up).

Reports the time per interview (and the part spent in store writes), the database's size, and
whether ``PRAGMA integrity_check`` passes; the question is whether an interview takes as long
when the database holds 200 sessions as when it holds none::

    PYTHONPATH=. python scripts/soak.py --count 200 --out soak.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _timed(calls: list[float], fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            calls.append(time.perf_counter() - start)

    return wrapper


def one_interview(settings: Any, answers_file: Path) -> tuple[float, float, float, str]:
    """One headless interview in this process: (seconds, CPU seconds, seconds in store
    writes, session id)."""
    from interviewer.headless import EventPrinter, load_answers, scripted_replies
    from interviewer.session import open_recording_store, open_session, plan_interview

    start, cpu = time.perf_counter(), time.process_time()
    store, problem = open_recording_store(settings)
    if store is None:
        raise SystemExit(f"the store cannot be opened: {problem}")
    writes: list[float] = []
    for name in ("create_session", "add_turn", "add_grade", "checkpoint", "save_draft"):
        setattr(store, name, _timed(writes, getattr(store, name)))
    plan = plan_interview(settings, store)
    session = open_session(plan, on_status=lambda _: None)
    notices: list[str] = []
    session.on_notice = notices.append
    replies = scripted_replies(load_answers(answers_file, plan.bank))
    transcript = session.run(replies, EventPrinter(io.StringIO()))
    session.close()
    store.close()
    if notices or transcript.status != "finished":
        raise SystemExit(f"interview {transcript.session_id} did not record cleanly: {notices}")
    return (
        time.perf_counter() - start,
        time.process_time() - cpu,
        sum(writes),
        transcript.session_id,
    )


def cli_interview(env: dict[str, str], answers_file: Path) -> tuple[float, float, float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "interviewer",
            "run",
            "--headless",
            "--backend",
            "scripted",
            "--answers",
            str(answers_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    session_id = done.stdout.rsplit("Session ", 1)[-1].split(" ", 1)[0]
    return time.perf_counter() - start, float("nan"), float("nan"), session_id


def summary(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--workdir", type=Path, help="where the database goes (default: a temp dir)"
    )
    parser.add_argument("--answers", type=Path, default=ROOT / "examples" / "answers.json")
    parser.add_argument("--cli", action="store_true", help="one `interviewer` process each")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--compare-empty",
        type=int,
        default=20,
        metavar="N",
        help="then N interviews into the full database, each followed by one into an empty one "
        "(interleaved, so a busy machine slows both alike); 0 skips it",
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="interviewer-soak-"))
    data = workdir / "data"
    os.environ.update(
        INTERVIEWER_DATA_DIR=str(data),
        INTERVIEWER_RECOVERY_DIR=str(workdir / "recovery"),
        INTERVIEWER_EMBEDDING_MODEL="none",
        INTERVIEWER_CONFIG=str(workdir / "no-config.toml"),
        HF_HUB_OFFLINE="1",
    )
    from interviewer.config import Settings
    from interviewer.store import SessionStore

    settings = Settings(backend="scripted", grader="evidence")
    times: list[float] = []
    cpus: list[float] = []
    writes: list[float] = []
    sizes: list[int] = []
    ids: list[str] = []
    for number in range(1, args.count + 1):
        if args.cli:
            seconds, cpu, in_store, sid = cli_interview(dict(os.environ), args.answers)
        else:
            seconds, cpu, in_store, sid = one_interview(settings, args.answers)
        times.append(seconds)
        cpus.append(cpu)
        writes.append(in_store)
        ids.append(sid)
        sizes.append(settings.store_path.stat().st_size)
        if number % 20 == 0:
            window = times[-20:]
            print(
                f"{number:4d} interviews: last 20 median {statistics.median(window) * 1000:.0f} ms"
                f" ({statistics.median(cpus[-20:]) * 1000:.0f} ms CPU), database "
                f"{sizes[-1] / 1e6:.2f} MB",
                flush=True,
            )

    comparison = None
    if args.compare_empty and not args.cli:
        full: list[tuple[float, float, float]] = []
        empty: list[tuple[float, float, float]] = []
        for number in range(args.compare_empty):
            seconds, cpu, in_store, _ = one_interview(settings, args.answers)
            full.append((seconds, cpu, in_store))
            fresh = settings.model_copy(update={"data_dir": workdir / f"empty-{number}"})
            seconds, cpu, in_store, _ = one_interview(fresh, args.answers)
            empty.append((seconds, cpu, in_store))
        comparison = {
            kind: {
                "full_database_median": round(statistics.median(r[i] for r in full), 4),
                "empty_database_median": round(statistics.median(r[i] for r in empty), 4),
                "full_over_empty": round(
                    statistics.median(r[i] for r in full) / statistics.median(r[i] for r in empty),
                    3,
                ),
            }
            for i, kind in enumerate(("seconds", "cpu_seconds", "store_write_seconds"))
        }
        comparison["interviews_each"] = args.compare_empty  # type: ignore[assignment]

    store = SessionStore(settings.store_path)
    started = time.perf_counter()
    integrity = store.integrity()
    check_seconds = time.perf_counter() - started
    started = time.perf_counter()
    listed = store.list_sessions()
    list_seconds = time.perf_counter() - started
    finished = sum(s.status == "finished" for s in listed)  # (with the comparison's own)
    turns = store._read("SELECT count(*) FROM turns")[0][0]
    grades = store._read("SELECT count(*) FROM grades")[0][0]
    store.close()
    wal = settings.store_path.with_name("sessions.db-wal")
    first, last = times[:20], times[-20:]
    result = {
        "count": args.count,
        "mode": "cli" if args.cli else "in-process",
        "integrity_check": "ok" if not integrity else integrity[:5],
        "integrity_check_seconds": round(check_seconds, 4),
        "sessions": len(listed),
        "finished": finished,
        "unique_ids": len(set(ids)),
        "turns": turns,
        "grades": grades,
        "database_bytes": settings.store_path.stat().st_size,
        "wal_bytes_after_close": wal.stat().st_size if wal.exists() else 0,
        "bytes_per_session": round(settings.store_path.stat().st_size / max(len(listed), 1)),
        "list_sessions_seconds_at_end": round(list_seconds, 4),
        "seconds_per_interview": {
            "all": summary(times),
            "first_20": summary(first),
            "last_20": summary(last),
            "last_20_over_first_20_median": round(
                statistics.median(last) / statistics.median(first), 3
            ),
        },
        "cpu_seconds_per_interview": None
        if args.cli
        else {
            "first_20": summary(cpus[:20]),
            "last_20": summary(cpus[-20:]),
            "last_20_over_first_20_median": round(
                statistics.median(cpus[-20:]) / statistics.median(cpus[:20]), 3
            ),
        },
        "store_write_seconds_per_interview": None
        if args.cli
        else {"first_20": summary(writes[:20]), "last_20": summary(writes[-20:])},
        "interleaved_with_an_empty_database": comparison,
        "total_seconds": round(sum(times), 2),
        "sizes_bytes_every_20": sizes[19::20],
        "database": str(settings.store_path),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    expected = args.count + (args.compare_empty if comparison else 0)
    ok = not integrity and finished == expected and len(set(ids)) == args.count
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
