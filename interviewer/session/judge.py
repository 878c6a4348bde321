"""A judge checked before it is trusted: the grading self-test of a model.

The first time a model is asked to grade (``--grader llm`` or ``both``), it grades a few labelled
answers of the built-in bank's calibration set (:func:`judge_sample`), and so does the
model-free evidence signal. The model's verdicts are used only if they agree with the labels,
key point by key point, at least as often as the evidence signal's do on the same answers;
otherwise the session grades with the evidence signal and says so once, with both figures and
the command that shows more. So ``both`` never grades worse than the evidence signal alone on
the test, and a model that cannot judge (a small model on a laptop) cannot wreck every grade
silently.

The result is kept per model in the session store (:meth:`SessionStore.judge_check`): each
model is tested once per interviewer version. A model that fails while it is being tested (a
server that dies) is not judged: the session grades with the evidence signal, says why, and
the model is tested again next time. ``trust_judge`` (``--trust-judge``) skips the test; the
scripted backend is exempt (its grades are the script's).
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from interviewer import __version__
from interviewer.bank import Bank, load_bank
from interviewer.calibration import CalibrationSet, LabelledAnswer, load_calibration
from interviewer.config import Settings
from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.grading import Grader, GraderName, grade_answers
from interviewer.engine.prefilter import screen
from interviewer.llm.base import (
    ChatModel,
    GenerationCancelled,
    ModelError,
    StructuredOutputError,
)
from interviewer.prompts import PromptLibrary
from interviewer.resources import default_bank_dir
from interviewer.store import JudgeCheckRow, SessionStore, StoreError
from interviewer.transcript import ModelInfo

SAMPLE_CLASSES = ("strong", "partial", "wrong", "dont_know")
"""The self-test's answers, by label: the shortest answer of each class, all from one question
(a server that keeps the prompt's prefix then prefills only the answer). The "I don't know"
answer is screened out before any grader reads it: it costs no model call and checks that
nothing is credited for it. Three model calls: a grade is some 450 tokens, about 25 s at the
19 tokens/s of a 1.5B model on two CPU cores, so the test stays near two minutes there."""


@dataclass(frozen=True)
class JudgeOutcome:
    """What the self-test decided for one model."""

    grader: Grader
    """The grader the session uses: the model's, or the evidence signal."""
    trusted: bool
    check: JudgeCheckRow | None
    """The figures (None: the model could not be tested, or the test was skipped)."""
    cached: bool = False
    """The figures came from the store (no model call was made)."""
    message: str = ""


def model_key(info: ModelInfo) -> str | None:
    """Which model a self-test is about: backend, id, revision and quantization of a local
    model; server and model name of a model server. None for the scripted backend (exempt)."""
    if info.backend == "scripted":
        return None
    if info.backend == "openai":
        return f"openai {info.base_url or '(default server)'} {info.model_id}"
    key = f"{info.backend} {info.model_id}"
    if info.revision:
        key += f"@{info.revision}"
    return key + (f" {info.quantization}" if info.quantization else "")


def judge_sample(bank: Bank | None = None) -> list[CalibrationSet]:
    """The self-test's labelled answers: from the first question of ``bank`` (default: the
    built-in bank) that has answers of every class in :data:`SAMPLE_CLASSES`, the shortest
    answer of each (ties: file order). The same answers every time."""
    bank = bank or load_bank(default_bank_dir())
    for labelled in load_calibration(bank):
        chosen: list[LabelledAnswer] = []
        for answer_class in SAMPLE_CLASSES:
            left = [
                a for a in labelled.answers if a.answer_class == answer_class and a not in chosen
            ]
            if not left:
                break
            chosen.append(min(left, key=lambda a: len(a.text)))
        else:
            return [CalibrationSet(labelled.question, tuple(chosen))]
    raise ValueError(f"the bank '{bank.id}' has no question with answers of {SAMPLE_CLASSES}")


def agreement(
    sample: Sequence[CalibrationSet],
    grader: Grader,
    on_answer: Callable[[int, int], None] | None = None,
) -> tuple[float, int]:
    """Share of key-point verdicts of ``grader`` on ``sample`` that match the labels, and how
    many verdicts that is. Each answer is graded as the interview grades it (screened first).
    A grade the model could not write credits nothing (as in the interview); any other
    :class:`ModelError` (a server that died) is raised: a test that was not run is no result."""
    total = sum(len(s.answers) for s in sample)
    hits = points = done = 0
    for labelled in sample:
        question = labelled.question
        for answer in labelled.answers:
            if on_answer is not None:
                on_answer(done, total)
            try:
                grade = grade_answers(question, [answer.text], grader)
                given = {v.key_point_id: v.verdict for v in grade.key_points}
            except StructuredOutputError:  # a grade that cannot be read credits nothing
                given = {}
            for point, expected in answer.expected(question).items():
                hits += given.get(point, "missing") == expected
                points += 1
            done += 1
    return (hits / points if points else 0.0), points


def run_judge_check(
    key: str,
    judge: Grader,
    evidence: EvidenceGrader,
    sample: Sequence[CalibrationSet],
    on_progress: Callable[[int, int], None] | None = None,
) -> JudgeCheckRow:
    """Grade ``sample`` with the model's grader and the evidence signal; the figures."""
    if evidence.embedder is not None:  # one batch for the sample
        evidence.prefetch(
            [s.question for s in sample],
            [screen(a.text, s.question).text for s in sample for a in s.answers],
        )
    evidence_share, points = agreement(sample, evidence)
    started = time.monotonic()
    judge_share, _ = agreement(sample, judge, on_progress)
    seconds = time.monotonic() - started
    if on_progress is not None:
        total = sum(len(s.answers) for s in sample)
        on_progress(total, total)
    return JudgeCheckRow(
        model_key=key,
        judge_agreement=round(judge_share, 4),
        evidence_agreement=round(evidence_share, 4),
        answers=sum(len(s.answers) for s in sample),
        key_points=points,
        seconds=round(seconds, 1),
        checked_at=datetime.now(UTC),
        version=__version__,
    )


def trusted(check: JudgeCheckRow) -> bool:
    """The model judges at least as well as the evidence signal on the self-test."""
    return check.judge_agreement >= check.evidence_agreement


def model_flags(settings: Settings, info: ModelInfo) -> str:
    """The flags that name this model again on the command line."""
    model = shlex.quote(info.model_id)
    if info.backend == "openai":
        url = shlex.quote(info.base_url or settings.base_url or "")
        return f"--backend openai --base-url {url} --model {model}"
    return f"--model {model}" + (
        f" --revision {shlex.quote(info.revision)}" if info.revision else ""
    )


def verdict_message(
    check: JudgeCheckRow, settings: Settings, info: ModelInfo, *, measuring: bool = False
) -> str:
    """What the candidate is told about the self-test (the refusal is said once, as a notice);
    ``measuring``: said by ``calibrate``, which grades with the model either way."""
    figures = (
        f"it agreed with the labels on {check.judge_agreement:.0%} of the key points of "
        f"{check.answers} labelled answers, the evidence signal on "
        f"{check.evidence_agreement:.0%}"
    )
    if trusted(check):
        return f"The model {info.model_id} passed its grading self-test: {figures}."
    if measuring:
        return (
            f"The model {info.model_id} failed its grading self-test ({figures}): an interview "
            "would grade with the evidence signal instead. This calibration grades with the "
            "model, as asked."
        )
    return (
        f"The model {info.model_id} is not trusted to grade: {figures}. This session is "
        f"graded by the evidence signal. See where the model disagrees: `interviewer "
        f"calibrate --grader llm {model_flags(settings, info)}`; --trust-judge "
        "(or trust_judge = true in the config) uses its grades anyway."
    )


def judge_store(settings: Settings) -> SessionStore | None:
    """The session store that keeps the self-tests, for a command that records no session
    (``calibrate``); None when it cannot be opened (the model is then tested every time)."""
    from interviewer.session.stores import open_store

    try:
        return open_store(settings)
    except StoreError:
        return None


def _stored(store: SessionStore | None, key: str) -> JudgeCheckRow | None:
    """The model's stored self-test from this version, if the store has one (a store that
    cannot be read only means testing again)."""
    if store is None:
        return None
    try:
        found = store.judge_check(key)
    except StoreError:
        return None
    return found if found is not None and found.version == __version__ else None


def _save(store: SessionStore | None, check: JudgeCheckRow) -> None:
    if store is not None and not store.readonly:
        with contextlib.suppress(StoreError):  # the next session tests again: nothing is lost
            store.save_judge_check(check)


def check_judge(
    name: GraderName,
    settings: Settings,
    model: ChatModel | None,
    grader: Grader,
    store: SessionStore | None,
    *,
    on_status: Callable[[str], None],
    on_notice: Callable[[str], None] | None = None,
    sample: Sequence[CalibrationSet] | None = None,
    measuring: bool = False,
) -> JudgeOutcome:
    """The grader a session uses: ``grader`` when the model passed its self-test (run now, or
    found in ``store``), is exempt or ``settings.trust_judge`` says to trust it; else the
    evidence signal, with a notice (``on_notice``, default ``on_status``) saying why.
    ``on_status`` shows the progress ("checking the judge: 2/4"). ``measuring`` (``calibrate``,
    which measures the grader it is given): the test is run and said, the grader kept."""
    notice = on_notice or on_status
    key = model_key(model.info) if model is not None else None
    if name == "evidence" or model is None or key is None or settings.trust_judge:
        return JudgeOutcome(grader, trusted=True, check=None)
    instant = grader.instant
    evidence = (
        instant if isinstance(instant, EvidenceGrader) else _open_evidence(settings, on_status)
    )
    check = _stored(store, key)
    cached = check is not None
    if check is None:
        sample = sample if sample is not None else judge_sample()
        on_status("Checking the judge: grading a few labelled answers...")
        try:
            check = run_judge_check(
                key,
                grader,
                evidence,
                sample,
                lambda done, total: on_status(f"checking the judge: {done}/{total}"),
            )
        except GenerationCancelled:
            raise
        except ModelError as exc:
            if measuring:
                raise
            message = (
                f"The model {model.info.model_id} could not be checked as a judge "
                f"({exc}). This session is graded by the evidence signal; the "
                "model is checked again next time."
            )
            notice(message)
            return JudgeOutcome(evidence, trusted=False, check=None, message=message)
        _save(store, check)
    message = verdict_message(check, settings, model.info, measuring=measuring)
    if trusted(check) or measuring:
        on_status(message)
        return JudgeOutcome(
            grader, trusted=trusted(check), check=check, cached=cached, message=message
        )
    notice(message)
    return JudgeOutcome(evidence, trusted=False, check=check, cached=cached, message=message)


def _open_evidence(settings: Settings, on_status: Callable[[str], None]) -> EvidenceGrader:
    """The evidence signal as ``--grader evidence`` builds it (with its embedding model)."""
    from interviewer.session.graders import open_grader

    evidence = open_grader("evidence", settings, None, PromptLibrary(), on_status)
    assert isinstance(evidence, EvidenceGrader)
    return evidence
