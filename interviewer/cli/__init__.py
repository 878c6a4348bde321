"""The ``interviewer`` command. Heavy imports stay inside the commands that need them.

Each command parses its flags and calls the session layer (:mod:`interviewer.session`); one
handler, :class:`_Group`, turns any :class:`~interviewer.errors.InterviewerError` (a message and
a hint) into the exit message. The commands live beside this module: ``interview`` (run,
resume, regrade), ``history`` (sessions, stats, export, schema), ``review`` (review, plan),
``tools`` (calibrate, doctor, bank, bench).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from interviewer import __version__
from interviewer.errors import InterviewerError

if TYPE_CHECKING:
    from interviewer.config import Settings


def _fail(message: str, hint: str = "") -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    if hint:
        click.echo(f"  what to do: {hint}", err=True)
    sys.exit(1)


class _Group(click.Group):
    """The one place where an error the user can act on becomes the exit message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InterviewerError as exc:
            _fail(str(exc), exc.hint)


def _load_settings(**overrides: Any) -> Settings:
    """The settings, or the exit message saying which one is wrong and where it was set
    (:func:`interviewer.config.load_settings`)."""
    from interviewer.config import ConfigError, load_settings

    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        _fail(str(exc), exc.hint)


@click.group(
    cls=_Group,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="interviewer")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A private, local mock interviewer for ML engineers.

    Run without a command to open the interview TUI (its start screen).
    """
    if ctx.invoked_subcommand is None:
        if _interactive():
            settings = _load_settings()
            from interviewer.tui.app import create_app

            create_app(settings).run()
        else:
            from interviewer.cli.interview import run

            ctx.invoke(run)


def _interactive() -> bool:
    """A full-screen TUI needs a terminal on both ends."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _status(message: str) -> None:
    click.echo(message, err=True)


_Command = TypeVar("_Command", bound=Callable[..., Any])


def _apply(options: list[Callable[[Any], Any]]) -> Callable[[_Command], _Command]:
    def decorate(command: _Command) -> _Command:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


_model_options = _apply(
    [
        click.option(
            "--backend",
            type=click.Choice(["hf", "openai", "scripted"]),
            help="Model backend (default hf: a local model through transformers; openai: an "
            "OpenAI-compatible server such as vLLM, llama.cpp, Ollama or TGI).",
        ),
        click.option(
            "--model",
            help="Hub id, local model folder or .gguf file (default: chosen from your GPU); "
            "with --backend openai, the server's model name (default: its only one).",
        ),
        click.option(
            "--base-url",
            help="With --backend openai: the server, e.g. http://localhost:11434/v1.",
        ),
        click.option(
            "--api-key-env",
            metavar="VAR",
            help="With --backend openai: the environment variable holding the server's API "
            "key (default OPENAI_API_KEY).",
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
            "--decode",
            type=click.Choice(["default", "fast"]),
            help="fast: replay a CUDA graph of the decode step (GPU only; else default).",
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
)
"""The flags that choose and load the model, shared by the commands that open one."""


def _grader_option(help_text: str) -> Callable[[_Command], _Command]:
    return _apply(
        [
            click.option(
                "--grader", type=click.Choice(["llm", "evidence", "both"]), help=help_text
            ),
            TRUST_JUDGE_OPTION,
        ]
    )


TRUST_JUDGE_OPTION = click.option(
    "--trust-judge",
    "trust_judge",
    is_flag=True,
    default=None,
    help="Use the model's grades without its grading self-test (by default a model grades "
    "only after it agreed with a few labelled answers at least as well as the evidence signal).",
)


GRADER_HELP = (
    "Who grades: the model (llm), the model-free evidence signal (evidence), or the model "
    "cross-checked by the evidence signal (both, the default with a local model)."
)


def _bank_option(help_text: str) -> Callable[[_Command], _Command]:
    return click.option("--bank", "bank_dir", type=click.Path(path_type=Path), help=help_text)


def main() -> None:
    try:
        cli()
    except BrokenPipeError:
        # Output piped into `head` and friends: stop quietly, like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


# The commands register themselves on `cli` when imported.
from interviewer.cli import history, importing, interview, review, tools  # noqa: E402

__all__ = ["cli", "history", "importing", "interview", "main", "review", "tools"]
