"""``calibrate``, ``doctor``, ``bank check`` and ``bench``: checks of the grader, the machine,
a bank and the speed. (``bank import`` is in :mod:`interviewer.cli.importing`.)"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from interviewer.cli import TRUST_JUDGE_OPTION, _fail, _load_settings, _model_options, _status, cli

if TYPE_CHECKING:
    from interviewer.engine.grading import GraderName


@cli.command()
@click.option("--bank", "bank_dir", type=click.Path(path_type=Path), help="The bank to calibrate.")
@click.option(
    "--set",
    "set_dir",
    type=click.Path(path_type=Path),
    help="Folder of labelled answers (default: the bank's calibration/ folder).",
)
@_model_options
@click.option(
    "--grader",
    type=click.Choice(["llm", "evidence", "both"]),
    help="The grader to test (default: evidence, or both when --model/--backend is given).",
)
@TRUST_JUDGE_OPTION
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results.")
@click.option(
    "--fit",
    is_flag=True,
    help="Evidence grader: search the thresholds on this set and print them for the config.",
)
@click.option(
    "--against",
    "against",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="With --fit: also report the fitted thresholds' agreement on this folder of labelled "
    "answers that the fit never sees (repeatable).",
)
@click.option("--worst", type=click.IntRange(0), default=10, show_default=True)
@click.option(
    "--benchmark",
    "benchmarks",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Grade a human-graded answer set (JSON: questions with reference_answer and answers "
    "with a score or label) and compare with the people, beside the whole-answer cosine "
    "baseline (repeatable).",
)
@click.option(
    "--sample",
    type=click.IntRange(1),
    help="With --benchmark: grade only this many answers of each set, drawn at random (for "
    "slow model judges).",
)
def calibrate(
    bank_dir: Path | None,
    set_dir: Path | None,
    grader: str | None,
    json_path: Path | None,
    fit: bool,
    against: tuple[Path, ...],
    worst: int,
    benchmarks: tuple[Path, ...],
    sample: int | None,
    **model_flags: Any,
) -> None:
    """Grade the bank's labelled answers and compare with the labels (a grader self-test).

    Prints key-point agreement overall, per class and per key point, whether scores order
    strong > partial > wrong for every question, the worst disagreements, and exits 1 when the
    grader falls short of the targets under [calibration] in the config. Run it after changing
    the model or the rubric. With --benchmark, grades public human-graded answer sets instead
    (see docs/grading.md).
    """
    from interviewer.calibration import fit_thresholds, run_calibration
    from interviewer.engine.evidence import EvidenceGrader
    from interviewer.session import (
        calibration_grader_name,
        labelled_answers,
        open_calibration,
    )

    settings = _load_settings(bank=bank_dir, **model_flags)
    chosen = calibration_grader_name(
        settings,
        cast("GraderName | None", grader),
        model_given=bool(model_flags.get("model") or model_flags.get("backend")),
    )
    calibration = open_calibration(settings, chosen, set_dir=set_dir, on_status=_status)
    sets, grader_obj = calibration.sets, calibration.grader
    if benchmarks:
        if fit or against:
            _fail("--benchmark grades a public set; --fit tunes on the bank's set", "drop one")
        _run_benchmarks(benchmarks, grader_obj, sample, json_path)
        return

    def progress_of(doing: str) -> Callable[[int, int, str], None]:
        def progress(done: int, total: int, label: str) -> None:
            if not sys.stderr.isatty():
                return
            if done < total:
                click.echo(f"\r  {doing} {done + 1}/{total} {label:<50}", nl=False, err=True)
            else:
                click.echo("\r" + " " * 78 + "\r", nl=False, err=True)

        return progress

    if against and not fit:
        _fail("--against reports what --fit found on answers it did not see", "add --fit")
    if fit:
        if not isinstance(grader_obj, EvidenceGrader) or grader_obj.embedder is None:
            _fail("--fit tunes the evidence signal's embedding thresholds", "use --grader evidence")
        assert isinstance(grader_obj, EvidenceGrader)
        click.echo("Searching the evidence thresholds (each answer is embedded once)...", err=True)
        fitted = fit_thresholds(sets, grader_obj, on_progress=progress_of("searching"))
        thresholds = fitted.thresholds
        click.echo(f"Best thresholds on this set: agreement {fitted.agreement:.1%} (fitted on it)")
        if fitted.cross_validated is not None:
            click.echo(
                f"Cross-validated (each question left out of the fit, scored on it): "
                f"{fitted.cross_validated:.1%}"
            )
            for question_id, value in fitted.folds.items():
                click.echo(f"  {question_id:<32} {value:.1%}")
        for folder in against:
            other = labelled_answers(calibration.bank, folder)
            unseen = run_calibration(other, EvidenceGrader(grader_obj.embedder, thresholds))
            precision = unseen.probe_precision()
            click.echo(
                f"On {folder} (never seen by the fit): agreement {unseen.agreement:.1%}, "
                f"probe precision {'-' if precision is None else f'{precision:.1%}'}"
            )
        click.echo("For config.toml:")
        click.echo("[evidence]")
        for name, value in thresholds.model_dump().items():
            click.echo(f"{name} = {str(value).lower() if isinstance(value, bool) else value}")
        grader_obj.thresholds = thresholds

    try:
        report = run_calibration(
            sets, grader_obj, settings.calibration, on_progress=progress_of("grading")
        )
    except KeyboardInterrupt:
        _fail("calibration was interrupted")
    from interviewer.report.calibration import calibration_json, calibration_text

    click.echo(calibration_text(report, worst=worst))
    if json_path is not None:
        json_path.write_text(json.dumps(calibration_json(report), indent=2), encoding="utf-8")
        click.echo(f"Results written to {json_path}")
    failures = report.failures()
    if failures:
        click.echo("FAIL: " + "; ".join(failures), err=True)
        sys.exit(1)
    click.echo("PASS: the grader meets every target in [calibration].")


def _advance(bar: Any, done: int) -> None:
    """Move a click progress bar to ``done``."""
    bar.update(done - bar.pos)


def _run_benchmarks(
    paths: tuple[Path, ...], grader: Any, sample_size: int | None, json_path: Path | None
) -> None:
    from interviewer.benchmark import (
        BenchmarkError,
        benchmark_text,
        load_benchmark,
        run_benchmark,
        sample,
    )
    from interviewer.engine.evidence import EvidenceGrader

    evidence = grader if isinstance(grader, EvidenceGrader) else getattr(grader, "evidence", None)
    embedder = evidence.embedder if isinstance(evidence, EvidenceGrader) else None
    results = []
    for path in paths:
        try:
            benchmark = sample(load_benchmark(path), sample_size)
        except BenchmarkError as exc:
            _fail(str(exc), exc.hint)
        with click.progressbar(
            length=benchmark.answers, label=f"Grading {path.name}", file=sys.stderr
        ) as bar:
            try:
                result = run_benchmark(
                    benchmark, grader, embedder, on_progress=lambda done, _: _advance(bar, done)
                )
            except KeyboardInterrupt:
                _fail("the benchmark was interrupted")
        click.echo(benchmark_text(result))
        results.append(result.as_dict())
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2), encoding="utf-8")
        click.echo(f"Results written to {json_path}")


@cli.command()
@click.option("--model", help="The model to check (default: what `run` would choose here).")
@click.option(
    "--base-url",
    help="Check an OpenAI-compatible model server instead: reachable, its models, a one-token "
    "completion, schema-constrained output.",
)
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="With --base-url: the variable holding the server's API key (default OPENAI_API_KEY).",
)
def doctor(model: str | None, base_url: str | None, api_key_env: str | None) -> None:
    """Check this machine: versions, GPU, memory, which model the defaults would pick, and the
    model servers running here (Ollama, llama.cpp, LM Studio, vLLM on their usual ports); or,
    with --base-url, a model server."""
    from interviewer.doctor import run_doctor, run_server_doctor

    if base_url is not None:
        settings = _load_settings(api_key_env=api_key_env)
        sys.exit(run_server_doctor(base_url, model, settings.api_key_env, click.echo))
    from interviewer.llm.openai.discover import KNOWN_PORTS

    look = _load_settings().discover_servers
    sys.exit(run_doctor(model, click.echo, ports=KNOWN_PORTS if look else ()))


@cli.group()
def bank() -> None:
    """Work with question banks."""


@bank.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option(
    "--strict",
    is_flag=True,
    help="Also check the bank with the evidence signal: the reference answer scores >= 90%, "
    "each key point's statement covers it, no misconception earns a point, no keyword is in "
    "the question, no two points are the same to the signal.",
)
def bank_check(directory: Path | None, strict: bool) -> None:
    """Validate a bank folder (default: the built-in bank)."""
    from interviewer.bank import BankError, load_bank
    from interviewer.resources import default_bank_dir

    target = directory or default_bank_dir()
    try:
        loaded = load_bank(target)
    except BankError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        count = len(exc.problems)
        click.echo(f"{target}: {count} problem{'s' if count != 1 else ''}", err=True)
        sys.exit(1)
    for question in loaded.questions:
        click.echo(
            f"ok  {question.id}: {len(question.key_points)} key points, total weight "
            f"{question.total_weight:g}, {len(question.misconceptions)} misconceptions, "
            f"{len(question.sources)} sources"
        )
    click.echo(
        f"{target}: bank '{loaded.id}' ({loaded.title}) has {len(loaded.questions)} valid questions"
    )
    if not strict:
        return
    from interviewer.session import strict_findings

    findings, method = strict_findings(loaded, _load_settings(), _status)
    for finding in findings:
        click.echo(str(finding), err=True)
    if findings:
        count = len(findings)
        click.echo(
            f"{target}: {count} finding{'s' if count != 1 else ''} of the evidence signal "
            f"({method})",
            err=True,
        )
        sys.exit(1)
    click.echo(f"{target}: the bank passes the strict check ({method})")


@cli.command()
@click.option("--model", help="Hub id, local model folder or .gguf file to measure.")
@click.option(
    "--random-weights",
    "shape",
    help="Measure random weights of this shape instead (tiny, small, qwen2.5-7b), built in a "
    "temporary folder and loaded through the real loader: no download.",
)
@click.option(
    "--family",
    type=click.Choice(["chatml", "gemma", "llama3", "mistral", "qwen3"]),
    default="chatml",
    show_default=True,
    help="Chat template family of the random-weight model.",
)
@click.option(
    "--compare",
    help="Modes side by side, comma-separated: default, fast (CUDA-graph decode), no-reuse "
    "(default without KV-cache reuse). E.g. --compare default,fast",
)
@click.option(
    "--decode",
    type=click.Choice(["default", "fast"]),
    help="The one mode to measure without --compare (default: default).",
)
@click.option(
    "--grader",
    type=click.Choice(["llm", "evidence", "both"]),
    default="both",
    show_default=True,
    help="Who grades the answers during the session (both: the model, cross-checked by the "
    "keyword evidence signal, which also picks follow-ups in background grading).",
)
@click.option(
    "--grading",
    type=click.Choice(["inline", "background"]),
    default="background",
    show_default=True,
    help="background: the model grades while the candidate types (needs --grader both).",
)
@click.option(
    "--mode",
    "interview_mode",
    type=click.Choice(["practice", "exam"]),
    default="practice",
    show_default=True,
)
@click.option("--max-follow-ups", type=click.IntRange(0, 5), default=2, show_default=True)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(1),
    help="Cap every streamed interviewer turn at N tokens (a quick run on the CPU); the "
    "conversation's replies get N (default 64).",
)
@click.option(
    "--conversation-turns",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="Turns of the growing conversation (time to first token at turn 1 vs the last); 0 "
    "skips it.",
)
@click.option(
    "--long-context",
    type=click.IntRange(0),
    default=8192,
    show_default=True,
    help="Prompt tokens of the long-session probe (one reply, and the memory it peaks at); 0 "
    "skips it.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build --random-weights here and keep them; a later run with the same folder reuses "
    "them (default: a temporary folder).",
)
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help="The candidate's replies (default: examples/answers.json).",
)
@click.option("--bank", "bank_dir", type=click.Path(path_type=Path), help="Question bank folder.")
@click.option("--quantization", type=click.Choice(["auto", "4bit", "8bit", "none"]), default="auto")
@click.option("--device", type=click.Choice(["auto", "cuda", "cpu"]), default="auto")
@click.option(
    "--threads",
    type=click.IntRange(1),
    help="CPU threads for torch (default: its own choice; 1 is steadier on a shared machine).",
)
@click.option("--no-first-paint", is_flag=True, help="Skip measuring the TUI's first paint.")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Write the results as JSON to this file."
)
def bench(
    model: str | None,
    shape: str | None,
    family: str,
    compare: str | None,
    decode: str | None,
    grader: str,
    grading: str,
    interview_mode: str,
    max_follow_ups: int,
    max_new_tokens: int | None,
    conversation_turns: int,
    long_context: int,
    workdir: Path | None,
    answers_file: Path | None,
    bank_dir: Path | None,
    quantization: str,
    device: str,
    threads: int | None,
    no_first_paint: bool,
    out: Path | None,
) -> None:
    """Measure load time, first paint, time to first token, tokens/s, grading latency, the
    candidate's wait and peak memory on a scripted six-question session.

    `--compare default,fast` runs the modes side by side in one table.
    """
    from interviewer.bench import (
        BenchError,
        BenchOptions,
        parse_modes,
        render,
        run_bench,
        write_json,
    )

    if out is not None and not out.expanduser().parent.is_dir():
        _fail(f"{out}: the folder {out.parent} does not exist", "create it first")
    try:
        options = BenchOptions(
            model=model,
            random_weights=shape,
            family=family,
            modes=parse_modes(compare, decode),
            grader=grader,  # type: ignore[arg-type]
            grading=grading,  # type: ignore[arg-type]
            mode=interview_mode,  # type: ignore[arg-type]
            max_follow_ups=max_follow_ups,
            max_new_tokens=max_new_tokens,
            conversation_turns=conversation_turns,
            long_context=long_context,
            workdir=workdir.expanduser() if workdir is not None else None,
            answers=answers_file,
            bank=bank_dir,
            quantization=quantization,  # type: ignore[arg-type]
            device=device,  # type: ignore[arg-type]
            first_paint=not no_first_paint,
            threads=threads,
        )
        results = run_bench(options, _status)
    except BenchError as exc:
        _fail(str(exc), exc.hint)
    render(results)
    if out is not None:
        try:
            write_json(results, out.expanduser())
        except OSError as exc:
            _fail(f"cannot write {out}: {exc.strerror or exc}", "choose another --out path")
        click.echo(f"Results written to {out}")
