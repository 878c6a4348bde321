"""The ``interviewer`` command. Heavy imports stay inside the commands that need them."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from interviewer import __version__


def _fail(message: str, hint: str = "") -> None:
    click.echo(f"Error: {message}", err=True)
    if hint:
        click.echo(f"  what to do: {hint}", err=True)
    sys.exit(1)


def _load_settings(**overrides: Any) -> Any:
    from interviewer.config import Settings, config_path

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        _fail(
            f"invalid settings: {problems}",
            f"check the config file {config_path()} and any INTERVIEWER_* environment variables",
        )
    except tomllib.TOMLDecodeError as exc:
        _fail(f"{config_path()}: not valid TOML: {exc}", "fix the file or move it away")


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="interviewer")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A private, local mock interviewer for ML engineers.

    Run without a command to start an interview in the terminal.
    """
    if ctx.invoked_subcommand is None:
        if _interactive():
            settings = _load_settings()
            from interviewer.tui.app import create_app

            create_app(settings).run()
        else:
            ctx.invoke(run)


def _interactive() -> bool:
    """A full-screen TUI needs a terminal on both ends."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _model_options(command: Any) -> Any:
    """The flags that choose and load the model, shared by the commands that open one."""
    options = [
        click.option(
            "--backend",
            type=click.Choice(["hf", "scripted"]),
            help="Model backend (default hf: a local model through transformers).",
        ),
        click.option(
            "--model",
            help="Hub id, local model folder or .gguf file (default: chosen from your GPU).",
        ),
        click.option("--revision", help="Branch, tag or commit of a Hub model."),
        click.option(
            "--quantization",
            type=click.Choice(["auto", "4bit", "8bit", "none"]),
            help="auto: 4-bit NF4 on a GPU, none on the CPU.",
        ),
        click.option(
            "--dtype",
            "compute_dtype",
            type=click.Choice(["auto", "bfloat16", "float16", "float32"]),
            help="Compute dtype (auto: bf16 where supported).",
        ),
        click.option(
            "--device", type=click.Choice(["auto", "cuda", "cpu"]), help="Where the model runs."
        ),
        click.option(
            "--trust-remote-code",
            is_flag=True,
            default=None,
            help="Allow Python code from the model repository (off by default).",
        ),
        click.option(
            "--allow-pickle",
            is_flag=True,
            default=None,
            help="Allow pickle .bin weights when there are no safetensors.",
        ),
        click.option(
            "--chat-template",
            type=click.Path(path_type=Path),
            help="Jinja chat template file for a tokenizer without one.",
        ),
        click.option(
            "--script",
            type=click.Path(path_type=Path),
            help="Scripted backend: JSON file of replies.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _status(message: str) -> None:
    click.echo(message, err=True)


@cli.command()
@click.option(
    "--bank",
    "bank_dir",
    type=click.Path(path_type=Path),
    help="Question bank folder (default: the six Hugging Face ecosystem questions).",
)
@click.option(
    "--mode",
    type=click.Choice(["practice", "exam"]),
    help="Feedback after each question (practice) or at the end (exam).",
)
@click.option(
    "--max-follow-ups",
    type=click.IntRange(0, 5),
    help="Follow-up questions per question (default 2).",
)
@_model_options
@click.option(
    "--grader",
    type=click.Choice(["llm", "evidence"]),
    help="Who grades: the model, or model-free keyword evidence.",
)
@click.option("--headless", is_flag=True, help="No interaction: replies come from --answers.")
@click.option("--plain", is_flag=True, help="A line-by-line conversation instead of the TUI.")
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help="Headless: JSON file of the candidate's replies.",
)
@click.option(
    "--export",
    "export_path",
    type=click.Path(path_type=Path),
    help="Write the transcript JSON here.",
)
def run(
    bank_dir: Path | None = None,
    mode: str | None = None,
    max_follow_ups: int | None = None,
    grader: str | None = None,
    headless: bool = False,
    plain: bool = False,
    answers_file: Path | None = None,
    export_path: Path | None = None,
    **model_flags: Any,
) -> None:
    """Run an interview: the TUI in a terminal, --plain line by line, --headless from a file."""
    from interviewer.bank import BankError, load_bank
    from interviewer.engine import EvidenceGrader, Interview, LLMGrader
    from interviewer.engine.grading import Grader
    from interviewer.headless import (
        AnswersFileError,
        EventPrinter,
        TranscriptWriteError,
        load_answers,
        run_interview,
        scripted_replies,
        terminal_replies,
    )
    from interviewer.llm.base import ModelError
    from interviewer.llm.factory import can_grade, open_model
    from interviewer.prompts import PromptLibrary
    from interviewer.resources import default_bank_dir
    from interviewer.transcript import InterviewSettings

    settings = _load_settings(
        bank=bank_dir, mode=mode, max_follow_ups=max_follow_ups, grader=grader, **model_flags
    )
    if headless and answers_file is None:
        _fail("--headless needs --answers FILE", 'write {"answers": {"<question-id>": ["..."]}}')
    if answers_file is not None and not headless:
        _fail("--answers is for headless runs", "add --headless")
    if export_path is not None and not export_path.expanduser().parent.is_dir():
        _fail(f"{export_path}: the folder {export_path.parent} does not exist", "create it first")
    grader_name = settings.grader or ("llm" if can_grade(settings) else "evidence")
    if grader_name == "llm" and not can_grade(settings):
        _fail(
            "the built-in demo script cannot grade answers",
            "use --grader evidence, or give a --script that contains grades",
        )

    if not headless and not plain and _interactive():
        from interviewer.tui.app import create_app

        create_app(settings, start_now=True).run()
        return

    try:
        bank = load_bank(settings.bank or default_bank_dir())
    except BankError as exc:
        _fail(
            f"the bank cannot be used:\n{exc}",
            "fix the files above; `interviewer bank check DIR` re-checks",
        )
    replies = terminal_replies()
    if headless:
        assert answers_file is not None
        try:
            replies = scripted_replies(load_answers(answers_file, bank))
        except AnswersFileError as exc:
            _fail(str(exc), "fix the answers file")

    try:
        model = open_model(settings, _status)
    except ModelError as exc:
        _fail(str(exc), exc.hint)
    except KeyboardInterrupt:
        _fail("loading was interrupted")
    prompts = PromptLibrary()
    chosen: Grader = LLMGrader(model, prompts) if grader_name == "llm" else EvidenceGrader()
    interview = Interview(
        bank,
        model,
        chosen,
        InterviewSettings(mode=settings.mode, max_follow_ups=settings.max_follow_ups),
        prompts,
    )
    try:
        run_interview(interview, replies, EventPrinter(sys.stdout), export=export_path)
    except ModelError as exc:
        saved = f" The transcript so far is in {export_path}." if export_path else ""
        _fail(f"the interview stopped: {exc}.{saved}", exc.hint)
    except TranscriptWriteError as exc:
        _fail(f"cannot write the transcript: {exc}", "choose another --export path")
    if export_path is not None:
        click.echo(f"\nTranscript written to {export_path}")


@cli.command()
@click.option("--model", help="The model to check (default: what `run` would choose here).")
def doctor(model: str | None) -> None:
    """Check this machine: versions, GPU, memory, and which model the defaults would pick."""
    from interviewer.doctor import run_doctor

    sys.exit(run_doctor(model, click.echo))


@cli.group()
def bank() -> None:
    """Work with question banks."""


@bank.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def bank_check(directory: Path | None) -> None:
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


@cli.command()
def schema() -> None:
    """Print the JSON Schema of exported transcripts."""
    from interviewer.transcript import transcript_json_schema

    click.echo(json.dumps(transcript_json_schema(), indent=2))


def main() -> None:
    try:
        cli()
    except BrokenPipeError:
        # Output piped into `head` and friends: stop quietly, like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
