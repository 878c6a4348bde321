"""The ``interviewer`` command. Heavy imports stay inside the commands that need them."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from pydantic import ValidationError

from interviewer import __version__
from interviewer.textutil import strip_control

if TYPE_CHECKING:
    from interviewer.engine.grading import GraderName


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

    Run without a command to open the interview TUI (its start screen).
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
    for option in reversed(options):
        command = option(command)
    return command


_Command = TypeVar("_Command", bound=Callable[..., Any])


def _usable_grader(settings: Any, name: GraderName) -> GraderName:
    """``name``, or a clear exit when it needs grades the built-in demo cannot give."""
    from interviewer.llm.factory import can_grade

    if name != "evidence" and not can_grade(settings):
        _fail(
            "the built-in demo script cannot grade answers",
            "use --grader evidence, or give a --script that contains grades",
        )
    return name


def _load_model(settings: Any) -> Any:
    """The model the settings ask for, or a clear exit (with advice) when it cannot load."""
    from interviewer.llm.base import ModelError
    from interviewer.llm.factory import open_model

    try:
        return open_model(settings, _status)
    except ModelError as exc:
        _fail(str(exc), exc.hint)
    except KeyboardInterrupt:
        _fail("loading was interrupted")


def _session_options(*, grader_help: str, answers_help: str) -> Callable[[_Command], _Command]:
    """--grader, --headless, --answers and --export: shared by `run` and `resume`."""
    options = [
        click.option("--grader", type=click.Choice(["llm", "evidence", "both"]), help=grader_help),
        click.option(
            "--headless", is_flag=True, help="No interaction: replies come from --answers."
        ),
        click.option(
            "--answers", "answers_file", type=click.Path(path_type=Path), help=answers_help
        ),
        click.option(
            "--export",
            "export_path",
            type=click.Path(path_type=Path),
            help="Write the transcript JSON here.",
        ),
    ]

    def decorate(command: _Command) -> _Command:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


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
@_session_options(
    grader_help="Who grades: the model (llm), the model-free evidence signal (evidence), or the "
    "model cross-checked by the evidence signal (both, the default with a local model).",
    answers_help="Headless: JSON file of the candidate's replies.",
)
@click.option("--plain", is_flag=True, help="A line-by-line conversation instead of the TUI.")
@click.option(
    "--no-save",
    "no_save",
    is_flag=True,
    default=None,
    help="Do not record this interview in the session store (it cannot be resumed then).",
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
    no_save: bool | None = None,
    **model_flags: Any,
) -> None:
    """Run an interview: the TUI in a terminal, --plain line by line, --headless from a file.

    Every turn is recorded in the session store as it happens: `interviewer resume` continues
    an interrupted session, `interviewer export` writes its report.
    """
    from interviewer.bank import BankError, load_bank
    from interviewer.engine import Interview
    from interviewer.headless import (
        AnswersFileError,
        load_answers,
        scripted_replies,
        terminal_replies,
    )
    from interviewer.llm.factory import grader_name, open_grader
    from interviewer.prompts import PromptLibrary
    from interviewer.resources import default_bank_dir
    from interviewer.transcript import InterviewSettings

    settings = _load_settings(
        bank=bank_dir,
        mode=mode,
        max_follow_ups=max_follow_ups,
        grader=grader,
        save=False if no_save else None,
        **model_flags,
    )
    if headless and answers_file is None:
        _fail("--headless needs --answers FILE", 'write {"answers": {"<question-id>": ["..."]}}')
    if answers_file is not None and not headless:
        _fail("--answers is for headless runs", "add --headless")
    if export_path is not None and not export_path.expanduser().parent.is_dir():
        _fail(f"{export_path}: the folder {export_path.parent} does not exist", "create it first")
    chosen_grader = _usable_grader(settings, grader_name(settings))

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

    store = _open_store(settings) if settings.save else None  # before a long model load
    model = _load_model(settings)
    prompts = PromptLibrary()
    chosen = open_grader(chosen_grader, settings, model, prompts, _status)
    interview = Interview(
        bank,
        model,
        chosen,
        InterviewSettings(
            mode=settings.mode,
            max_follow_ups=settings.max_follow_ups,
            grading=settings.grading,
        ),
        prompts,
    )
    recorder = None
    if store is not None:
        from interviewer.store import SessionRecorder, StoreError

        try:
            recorder = SessionRecorder(store, interview, after_turn=_test_delay_hook())
        except StoreError as exc:
            _fail(str(exc), exc.hint)
        if not headless:
            replies = _typed_replies(recorder)
    _drive(interview, replies, export_path, recorder, resume=False)


def _typed_replies(recorder: Any) -> Any:
    """Replies typed at the terminal, each kept in the store line by line until it is sent
    (and the one left unsent by an interrupted session offered again)."""
    from interviewer.headless import terminal_replies

    def warn(exc: Any) -> None:
        click.echo(f"warning: your typing is not being saved: {exc}. {exc.hint}", err=True)

    return terminal_replies(
        keep=lambda text: recorder.save_draft(text, warn), restored=recorder.draft()
    )


def _test_delay_hook() -> Any:
    """Test-only: INTERVIEWER_TEST_DELAY_AFTER_TURN=SECONDS sleeps after each recorded turn.

    The crash test uses it to kill a run mid-session at a predictable pace. Not a setting.
    """
    raw = os.environ.get("INTERVIEWER_TEST_DELAY_AFTER_TURN")
    if not raw:
        return None
    import time

    seconds = float(raw)
    return lambda: time.sleep(seconds)


def _open_store(settings: Any, *, must_exist: bool = False) -> Any:
    from interviewer.store import SessionStore, StoreError

    path = settings.store_path
    if must_exist and not path.is_file():
        _fail(
            f"no sessions are stored yet (looked in {path})",
            "run `interviewer` to take an interview; set INTERVIEWER_DATA_DIR if they are "
            "stored elsewhere",
        )
    try:
        return SessionStore(path)
    except StoreError as exc:
        _fail(str(exc), exc.hint)


def _drive(
    interview: Any, replies: Any, export_path: Path | None, recorder: Any, *, resume: bool
) -> None:
    """Run the interview to its end, record it, and say where it went."""
    from interviewer.headless import EventPrinter, TranscriptWriteError, run_interview
    from interviewer.llm.base import ModelError
    from interviewer.store import StoreError

    session = interview.session_id
    try:
        run_interview(
            interview,
            replies,
            EventPrinter(sys.stdout),
            export=export_path,
            recorder=recorder,
            resume=resume,
        )
    except ModelError as exc:
        saved = f" The transcript so far is in {export_path}." if export_path else ""
        if recorder is not None:
            saved += f" Continue later with `interviewer resume {session}`."
        _fail(f"the interview stopped: {exc}.{saved}", exc.hint)
    except StoreError as exc:
        _fail(
            f"the session could not be recorded: {exc}",
            exc.hint or "run with --no-save to go on without the session store",
        )
    except TranscriptWriteError as exc:
        _fail(f"cannot write the transcript: {exc}", "choose another --export path")
    if export_path is not None:
        click.echo(f"\nTranscript written to {export_path}")
    if recorder is not None:
        click.echo(
            f"\nSession {session} saved. Report: `interviewer export {session} --format html "
            f"-o report.html`; history: `interviewer sessions`."
        )


def _find_session(store: Any, session_id: str | None, *, unfinished: bool = False) -> Any:
    from interviewer.store import StoreError

    try:
        if session_id is not None:
            return store.get(session_id)
        if unfinished:
            found = store.unfinished()
            if not found:
                _fail(
                    "no unfinished session to resume",
                    "`interviewer sessions` lists them all; `interviewer` starts a new one",
                )
            return found[0]
        return store.latest()
    except StoreError as exc:
        _fail(str(exc), exc.hint)


def _session_bank(bank_dir: Path | None, summary: Any, *, required: bool) -> Any:
    """The bank a stored session was taken on: --bank, the folder it came from, or built-in."""
    from interviewer.store.resume import find_session_bank

    bank, problems = find_session_bank(summary, bank_dir)
    if bank is not None:
        return bank
    if required:
        _fail(
            f"the bank '{summary.bank_id}' of session {summary.id} cannot be found:\n"
            + "\n".join(problems),
            "pass --bank DIR with the bank the session was taken on",
        )
    click.echo(
        f"Warning: the bank '{summary.bank_id}' was not found; the report shows key point ids "
        "without reference answers (pass --bank DIR).",
        err=True,
    )
    return None


@cli.command()
@click.argument("session_id", required=False)
@click.option("--bank", "bank_dir", type=click.Path(path_type=Path), help="The session's bank.")
@_model_options
@_session_options(
    grader_help="Who grades from here on (default: as the session did).",
    answers_help="Headless: the answers file; replies already given are skipped.",
)
def resume(
    session_id: str | None = None,
    bank_dir: Path | None = None,
    grader: str | None = None,
    headless: bool = False,
    answers_file: Path | None = None,
    export_path: Path | None = None,
    **model_flags: Any,
) -> None:
    """Continue an interrupted session (default: the latest unfinished one).

    Nothing said before the interruption is lost: a reply that was being graded is graded now.
    The model is the session's own unless --model (or --backend) says otherwise.
    """
    from interviewer.headless import (
        AnswersFileError,
        load_answers,
        replies_given,
        scripted_replies,
        terminal_replies,
    )
    from interviewer.llm.factory import can_grade, grader_name, open_grader
    from interviewer.prompts import PromptLibrary
    from interviewer.store import StoreError, check_resumable, resume_session, session_settings

    if headless and answers_file is None:
        _fail("--headless needs --answers FILE", 'write {"answers": {"<question-id>": ["..."]}}')
    if answers_file is not None and not headless:
        _fail("--answers is for headless runs", "add --headless")
    settings = _load_settings(grader=grader, **model_flags)
    store = _open_store(settings, must_exist=True)
    summary = _find_session(store, session_id, unfinished=True)
    bank = _session_bank(bank_dir, summary, required=True)
    try:
        check_resumable(store, summary.id, bank)
        snapshot = store.load_snapshot(summary.id)
        settings = session_settings(
            settings,
            summary,
            model_given=model_flags.get("model") is not None,
            backend_given=model_flags.get("backend") is not None,
        )
    except StoreError as exc:
        _fail(str(exc), exc.hint)
    if settings.grader is None and (summary.grader == "evidence" or not can_grade(settings)):
        settings = settings.model_copy(update={"grader": "evidence"})
    chosen_grader = _usable_grader(settings, grader_name(settings))
    replies = terminal_replies()
    if headless:
        assert answers_file is not None
        try:
            replies = scripted_replies(
                load_answers(answers_file, bank), replies_given(snapshot.turns)
            )
        except AnswersFileError as exc:
            _fail(str(exc), "fix the answers file")
    model = _load_model(settings)
    prompts = PromptLibrary()
    chosen = open_grader(chosen_grader, settings, model, prompts, _status)
    try:
        interview, recorder = resume_session(store, summary.id, bank, model, chosen, prompts)
    except StoreError as exc:
        _fail(str(exc), exc.hint)
    if not headless:
        replies = _typed_replies(recorder)
    answers = sum(t.role == "candidate" for t in interview.turns)
    click.echo(f"Resuming session {summary.id}: {answers} replies so far, all kept.")
    if not headless and interview.state == "awaiting_reply":
        current = interview.current_question
        for turn in interview.turns:
            if current is not None and turn.question_id == current.id:
                who = "Interviewer" if turn.role == "interviewer" else "You"
                click.echo(f"\n{who}: {strip_control(turn.text)}")
    _drive(interview, replies, export_path, recorder, resume=True)


@cli.command()
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--unfinished", is_flag=True, help="Only the sessions that can be resumed.")
def sessions(limit: int, unfinished: bool) -> None:
    """List past sessions, newest first."""
    from interviewer.store import StoreError

    settings = _load_settings()
    if not settings.store_path.is_file():
        click.echo(f"No sessions yet (they are stored in {settings.store_path}).")
        return
    store = _open_store(settings)
    try:
        found = store.unfinished() if unfinished else store.list_sessions()
    except StoreError as exc:
        _fail(str(exc), exc.hint)
    if not found:
        click.echo("No unfinished sessions." if unfinished else "No sessions yet.")
        return
    from interviewer.report.stats import sessions_table

    click.echo(sessions_table(found[:limit]))
    if len(found) > limit:
        click.echo(f"... and {len(found) - limit} older (--limit N shows more)")
    if any(s.status == "in_progress" for s in found[:limit]):
        click.echo("\nUnfinished sessions continue with `interviewer resume ID`.")


@cli.command()
@click.option("--bank", "bank_dir", type=click.Path(path_type=Path), help="Bank for statements.")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True)
def stats(bank_dir: Path | None, top: int) -> None:
    """Progress over time: per session, per question, and the key points you keep missing."""
    from interviewer.report.stats import render_stats, session_stats
    from interviewer.store import StoreError

    settings = _load_settings()
    if not settings.store_path.is_file():
        click.echo(f"No sessions yet (they are stored in {settings.store_path}).")
        return
    store = _open_store(settings)
    try:
        transcripts = store.transcripts()
        summaries = {s.bank_id: s for s in reversed(store.list_sessions())}
    except StoreError as exc:
        _fail(str(exc), exc.hint)
    if not transcripts:
        click.echo("No sessions yet.")
        return
    for i, bank_stats in enumerate(session_stats(transcripts)):
        summary = summaries[bank_stats.bank_id]
        bank = _session_bank_quiet(bank_dir, summary)
        if i:
            click.echo("")
        click.echo(render_stats(bank_stats, bank, top=top), nl=False)


def _session_bank_quiet(bank_dir: Path | None, summary: Any) -> Any:
    from interviewer.store.resume import find_session_bank

    return find_session_bank(summary, bank_dir)[0]


@cli.command()
@click.argument("session_id", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "html"]),
    help="Report format (default: from the -o suffix, else md).",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write here (default: stdout)."
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option("--bank", "bank_dir", type=click.Path(path_type=Path), help="The session's bank.")
def export(
    session_id: str | None,
    fmt: str | None,
    output: Path | None,
    force: bool,
    bank_dir: Path | None,
) -> None:
    """Write a session's report as Markdown, JSON or HTML (default: the latest session)."""
    from interviewer.report import ReportWriteError, render, write_report
    from interviewer.store import StoreError

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = {"md": "md", "markdown": "md", "json": "json", "html": "html", "htm": "html"}.get(
            suffix, "md"
        )
    settings = _load_settings()
    store = _open_store(settings, must_exist=True)
    summary = _find_session(store, session_id)
    try:
        transcript = store.load_transcript(summary.id)
    except StoreError as exc:
        _fail(str(exc), exc.hint)
    bank = None if fmt == "json" else _session_bank(bank_dir, summary, required=False)
    text = render(transcript, bank, fmt)  # type: ignore[arg-type]
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        written = write_report(text, output, force=force)
    except ReportWriteError as exc:
        _fail(str(exc), exc.hint)
    click.echo(f"Wrote the {fmt} report of session {summary.id} to {written}", err=True)


@cli.command()
@click.argument("session_id", required=False)
@click.option("--bank", "bank_dir", type=click.Path(path_type=Path), help="The rubric to use.")
@_model_options
@click.option(
    "--grader",
    type=click.Choice(["llm", "evidence", "both"]),
    help="Who grades: the model (llm), the model-free evidence signal (evidence), or the model "
    "cross-checked by the evidence signal (both, the default with a local model).",
)
def regrade(
    session_id: str | None,
    bank_dir: Path | None,
    grader: str | None,
    **model_flags: Any,
) -> None:
    """Re-score a stored session's answers with another model or the current rubric.

    The new grades are stored beside the old ones; `interviewer export` shows what changed.
    """
    from interviewer.engine.regrade import regrade_transcript
    from interviewer.llm.base import ModelError
    from interviewer.llm.factory import grader_name, open_grader
    from interviewer.prompts import PromptLibrary
    from interviewer.store import StoreError
    from interviewer.transcript import ModelInfo

    settings = _load_settings(grader=grader, **model_flags)
    store = _open_store(settings, must_exist=True)
    summary = _find_session(store, session_id)
    bank = _session_bank(bank_dir, summary, required=True)
    chosen_grader = _usable_grader(settings, grader_name(settings))
    try:
        transcript = store.load_transcript(summary.id)
    except StoreError as exc:
        _fail(str(exc), exc.hint)
    # The evidence signal needs no chat model: nothing to load (or download) for it.
    model = _load_model(settings) if chosen_grader != "evidence" else None
    chosen = open_grader(chosen_grader, settings, model, PromptLibrary(), _status)
    info = (
        model.info
        if model is not None
        else ModelInfo(backend="none", model_id=getattr(chosen, "method", chosen.name))
    )
    try:
        result = regrade_transcript(transcript, bank, chosen, info, on_progress=_status)
    except ModelError as exc:
        _fail(f"the regrade stopped: {exc}", exc.hint)
    except KeyboardInterrupt:
        _fail("the regrade was interrupted; nothing was stored")
    try:
        store.add_regrade(summary.id, result)
    except StoreError as exc:
        _fail(str(exc), exc.hint)
    click.echo(f"Regraded session {summary.id} with {result.grader}:")
    for before, after in zip(transcript.results, result.results, strict=True):
        note = (
            f"  (not graded: {after.grading_error.splitlines()[0]})" if after.grading_error else ""
        )
        click.echo(
            f"  {before.question_id}: {before.score * 100:.0f}% -> {after.score * 100:.0f}%{note}"
        )
    click.echo(f"  total: {transcript.score * 100:.0f}% -> {result.score * 100:.0f}%")
    click.echo(f"The report shows what changed: `interviewer export {summary.id}`.")


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
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results.")
@click.option(
    "--fit",
    is_flag=True,
    help="Evidence grader: search the thresholds on this set and print them for the config.",
)
@click.option("--worst", type=click.IntRange(0), default=10, show_default=True)
def calibrate(
    bank_dir: Path | None,
    set_dir: Path | None,
    grader: str | None,
    json_path: Path | None,
    fit: bool,
    worst: int,
    **model_flags: Any,
) -> None:
    """Grade the bank's labelled answers and compare with the labels (a grader self-test).

    Prints key-point agreement overall, per class and per key point, whether scores order
    strong > partial > wrong for every question, the worst disagreements, and exits 1 when the
    grader falls short of the targets under [calibration] in the config. Run it after changing
    the model or the rubric.
    """
    from interviewer.bank import BankError, load_bank
    from interviewer.calibration import fit_thresholds, load_calibration, run_calibration
    from interviewer.engine.evidence import EvidenceGrader
    from interviewer.llm.factory import open_grader
    from interviewer.prompts import PromptLibrary
    from interviewer.resources import default_bank_dir

    settings = _load_settings(bank=bank_dir, **model_flags)
    chosen = grader or (
        "both" if model_flags.get("model") or model_flags.get("backend") else "evidence"
    )
    try:
        bank = load_bank(settings.bank or default_bank_dir())
        sets = load_calibration(bank, set_dir)
    except BankError as exc:
        _fail(f"the calibration set cannot be used:\n{exc}", "fix the files above")
    chosen_grader = _usable_grader(settings, cast("GraderName", chosen))
    model = _load_model(settings) if chosen_grader != "evidence" else None
    grader_obj = open_grader(chosen_grader, settings, model, PromptLibrary(), _status)
    if fit:
        if not isinstance(grader_obj, EvidenceGrader) or grader_obj.embedder is None:
            _fail("--fit tunes the evidence signal's embedding thresholds", "use --grader evidence")
        assert isinstance(grader_obj, EvidenceGrader)
        thresholds, agreement = fit_thresholds(sets, grader_obj, settings.calibration)
        click.echo(f"Best thresholds on this set (agreement {agreement:.1%}); for config.toml:")
        click.echo("[evidence]")
        for name, value in thresholds.model_dump().items():
            click.echo(f"{name} = {value}")
        grader_obj.thresholds = thresholds

    def progress(done: int, total: int, label: str) -> None:
        if not sys.stderr.isatty():
            return
        if done < total:
            click.echo(f"\r  grading {done + 1}/{total} {label:<50}", nl=False, err=True)
        else:
            click.echo("\r" + " " * 70 + "\r", nl=False, err=True)

    try:
        report = run_calibration(sets, grader_obj, settings.calibration, on_progress=progress)
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
    from interviewer.llm.base import ModelError

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
    except ModelError as exc:
        _fail(str(exc), exc.hint)
    render(results)
    if out is not None:
        try:
            write_json(results, out.expanduser())
        except OSError as exc:
            _fail(f"cannot write {out}: {exc.strerror or exc}", "choose another --out path")
        click.echo(f"Results written to {out}")


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
