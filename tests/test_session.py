"""The session layer: each rule that decides how an interview starts, resumes or is regraded,
tested once here (every front end goes through it). Real SQLite stores, the scripted model."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from interviewer.config import Settings
from interviewer.engine.events import AwaitingReply, Event, InterviewFinished, TurnRecorded
from interviewer.errors import InterviewerError
from interviewer.llm.scripted import ScriptedModel
from interviewer.resources import default_bank_dir
from interviewer.session.errors import ResumeError, SessionError
from interviewer.session.graders import can_grade, grader_name, resume_grader, usable_grader
from interviewer.session.plan import plan_interview, plan_regrade, plan_resume, session_settings
from interviewer.session.running import Session, open_session, regrade_summary, run_regrade
from interviewer.session.stores import open_store
from interviewer.store import SessionStore, StoreError


def demo(**overrides: Any) -> Settings:
    return Settings(backend="scripted", **overrides)


def quiet(_: str) -> None:
    pass


def start_and_stop(settings: Settings, replies: list[str]) -> str:
    """A demo interview recorded in the store, stopped (as by a crash) after ``replies``."""
    plan = plan_interview(settings, open_store(settings))
    session = open_session(plan, on_status=quiet)
    list(session.begin())
    for reply in replies:
        list(session.reply(reply))
    return session.session_id


# ----------------------------------------------------------------------------- graders


def test_the_grader_follows_the_backend_unless_one_is_named():
    assert grader_name(Settings()) == "both"  # a local model: the model, cross-checked
    assert grader_name(demo()) == "evidence"  # the built-in demo cannot grade
    assert grader_name(demo(script=Path("s.json"))) == "llm"  # a script with grades can
    assert grader_name(demo(grader="both", script=Path("s.json"))) == "both"
    assert can_grade(Settings()) and not can_grade(demo())


def test_the_demo_cannot_be_asked_to_grade():
    with pytest.raises(SessionError, match="cannot grade") as caught:
        usable_grader(demo(grader="llm"))
    assert "--grader evidence" in caught.value.hint
    assert isinstance(caught.value, InterviewerError)
    assert usable_grader(demo(grader="evidence")) == "evidence"
    with pytest.raises(SessionError):  # the same rule when planning
        plan_interview(demo(grader="both"), None)


# ----------------------------------------------------------------------------- plans


def test_a_plan_loads_no_model_and_names_what_will_load():
    plan = plan_interview(demo(), None)
    assert plan.bank.id and plan.grader == "evidence" and plan.store is None
    assert not plan.resuming and plan.model_label == "scripted (built-in demo)"
    assert plan_interview(Settings(), None).model_label == "the default model for this machine"


def test_a_broken_bank_is_one_error_with_a_hint(tmp_path):
    bank = tmp_path / "bank"
    shutil.copytree(default_bank_dir(), bank)
    (bank / "bank.toml").write_text("not = [valid", encoding="utf-8")
    with pytest.raises(SessionError, match="the bank cannot be used") as caught:
        plan_interview(demo(bank=bank), None)
    assert "bank check" in caught.value.hint


def test_reading_commands_need_a_store_that_exists(tmp_path):
    settings = demo(data_dir=tmp_path / "nowhere")
    with pytest.raises(SessionError, match="no sessions are stored yet"):
        open_store(settings, must_exist=True)
    assert not settings.store_path.exists()


# ----------------------------------------------------------------------------- a session


def test_every_event_is_stored_before_the_front_end_sees_it():
    settings = demo()
    session = open_session(plan_interview(settings, open_store(settings)), on_status=quiet)
    store = session.store
    assert store is not None
    seen: list[int] = []

    def show(event: Event) -> None:
        if isinstance(event, TurnRecorded):  # already in the database when shown
            stored = store.turns(session.session_id)
            assert stored[-1].index == event.turn.index
            seen.append(event.turn.index)

    replies = iter(["/skip"] * 10)
    transcript = session.run(lambda awaiting: next(replies), show)
    assert transcript.status == "finished" and seen
    assert store.get(session.session_id).status == "finished"


def test_an_unsaved_session_records_nothing(tmp_path):
    settings = demo(data_dir=tmp_path / "data", save=False)
    session = open_session(plan_interview(settings, None), on_status=quiet)
    events = list(session.begin())
    assert isinstance(events[-1], AwaitingReply)
    assert session.recorder is None and session.draft() is None
    assert not settings.store_path.exists()
    with pytest.raises(SessionError, match="needs the session store"):
        session.regrade()


# ----------------------------------------------------------------------------- resume


def test_a_demo_session_resumes_on_the_demo_with_its_grader_and_mode():
    session_id = start_and_stop(demo(mode="exam"), ["I would use an endpoint."])
    # The candidate now runs `interviewer resume` with nothing else: the defaults say hf.
    plan = plan_resume(Settings(), open_store(Settings(), must_exist=True))
    assert plan.resume is not None and plan.resume.id == session_id
    assert plan.settings.backend == "scripted"  # not the default model (never downloaded)
    assert plan.grader == "evidence" and plan.settings.mode == "exam"
    session = open_session(plan, on_status=quiet)
    events = list(session.begin())
    assert isinstance(events[-1], AwaitingReply)
    assert sum(t.role == "candidate" for t in session.interview.turns) == 1


def test_the_resume_grader_rule():
    stored = SessionStore(demo().store_path)
    session_id = start_and_stop(demo(), [])
    summary = stored.get(session_id)
    assert summary.grader == "evidence"
    assert resume_grader(Settings(), summary).grader == "evidence"  # graded as it was
    assert resume_grader(Settings(grader="both"), summary).grader == "both"  # unless named
    graded_by_llm = replace(summary, grader="llm:Qwen")
    assert resume_grader(Settings(), graded_by_llm).grader is None  # the default: both
    assert resume_grader(demo(), graded_by_llm).grader == "evidence"  # the demo cannot grade


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    settings = demo()
    store = open_store(settings)
    with pytest.raises(SessionError, match="no unfinished session") as caught:
        plan_resume(settings, store)
    assert "interviewer sessions" in caught.value.hint

    finished = open_session(plan_interview(settings, store), on_status=quiet)
    finished.run(lambda awaiting: "/skip", quiet_event)
    with pytest.raises(ResumeError, match="already finished"):
        plan_resume(settings, store, finished.session_id)

    bank = tmp_path / "bank"
    shutil.copytree(default_bank_dir(), bank)
    session_id = start_and_stop(demo(bank=bank), [])
    shutil.rmtree(bank)  # its own folder is gone; the built-in bank is the same bank
    assert plan_resume(settings, store, session_id).bank.id
    with pytest.raises(SessionError, match="cannot be found") as missing:
        plan_resume(settings, store, session_id, bank_dir=tmp_path / "elsewhere")
    assert "--bank DIR" in missing.value.hint
    with pytest.raises(StoreError, match="no stored session"):
        plan_resume(settings, store, "nope")


def quiet_event(_: Event) -> None:
    pass


def test_a_session_resumes_on_the_model_it_ran_on():
    """A demo session goes on with the demo, not with the default model (which a demo user has
    usually not downloaded); a local-model session keeps its model unless another is chosen; a
    session on a script file needs that file named again."""
    session_id = start_and_stop(demo(), [])
    demo_summary = open_store(demo()).get(session_id)
    assert (demo_summary.backend, demo_summary.model_id) == ("scripted", "demo")
    plain = Settings()
    assert session_settings(plain, demo_summary, model_given=False).backend == "scripted"
    chosen = session_settings(plain, demo_summary, model_given=False, backend_given=True)
    assert chosen.backend == "hf"  # --backend hf was asked for

    local = replace(demo_summary, backend="hf", model_id="/models/my-qwen")
    assert session_settings(plain, local, model_given=False).model == "/models/my-qwen"
    other = plain.model_copy(update={"model": "Qwen/Qwen2.5-7B-Instruct"})
    assert session_settings(other, local, model_given=True).model == "Qwen/Qwen2.5-7B-Instruct"

    scripted = replace(demo_summary, model_id="script:fruit")
    with pytest.raises(ResumeError, match="script:fruit") as caught:
        session_settings(plain, scripted, model_given=False)
    assert "--script FILE" in caught.value.hint


# ----------------------------------------------------------------------------- regrade


def test_a_regrade_by_the_evidence_signal_loads_no_model_and_says_what_changed():
    settings = demo()
    session = open_session(plan_interview(settings, open_store(settings)), on_status=quiet)
    replies = iter(["An Inference Endpoint is dedicated and autoscaling.", "/end"])
    before = session.run(lambda awaiting: next(replies, "/end"), quiet_event)

    def no_model(*args: Any) -> Any:
        raise AssertionError("the evidence signal needs no model")

    plan = plan_regrade(settings, open_store(settings, must_exist=True), session.session_id)
    assert not plan.needs_model
    result = run_regrade(plan, on_status=quiet, open_model=no_model)
    assert result.model.backend == "none" and result.model.model_id == "keywords"
    stored = open_store(settings).load_transcript(session.session_id)
    assert len(stored.regrades) == 1
    summary = regrade_summary(before, result, session_id=session.session_id)
    first = before.results[0]
    assert summary.startswith(f"Regraded session {session.session_id} with evidence:")
    assert f"  {first.question_id}: {first.score * 100:.0f}% -> " in summary
    assert first.title in summary and "  total: " in summary


def test_a_live_session_regrades_with_its_own_grader():
    settings = demo()
    session = open_session(plan_interview(settings, open_store(settings)), on_status=quiet)
    session.run(lambda awaiting: "/end", quiet_event)
    before, result = session.regrade()
    assert result.grader == "evidence" and before.session_id == session.session_id
    assert len(session.transcript().regrades) == 1
    assert regrade_summary(before, result).startswith("Regraded with evidence:")


def test_a_session_built_from_an_interview_drives_it_the_same_way(small_bank):
    from interviewer.engine import EvidenceGrader, Interview
    from interviewer.transcript import InterviewSettings

    interview = Interview(small_bank, ScriptedModel(), EvidenceGrader(), InterviewSettings())
    events: list[Event] = []
    Session(interview).run(lambda awaiting: "/skip", events.append)
    assert isinstance(events[-1], InterviewFinished)


# ----------------------------------------------------------------------------- stores, reports


def test_resumable_sessions_leave_out_one_another_process_runs_and_add_recovery_files():
    import subprocess
    import sys

    from interviewer.session.stores import resumable_sessions

    def stopped(replies: list[str]) -> str:  # and let go, as a closed window lets go
        session = open_session(plan_interview(settings, open_store(settings)), on_status=quiet)
        list(session.begin())
        for reply in replies:
            list(session.reply(reply))
        session.close()
        return session.session_id

    settings = demo()
    older, newer = stopped(["an answer"]), stopped([])
    plan = plan_interview(settings, None, store_problem=StoreError("the disk is full", "free it"))
    kept = open_session(plan, on_status=quiet)  # the store cannot take it: a recovery file
    list(kept.begin())
    list(kept.reply("kept in a file"))
    kept.close()
    store = SessionStore(settings.store_path)  # opened without bringing the file in
    found = [s.id for s in resumable_sessions(settings, store)]
    assert found == [newer, older, kept.session_id]
    assert [s.id for s in resumable_sessions(settings, None)] == [kept.session_id]
    runner = subprocess.Popen(  # another window runs the older session now
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path\n"
            "from interviewer.store.locks import SessionLock\n"
            "lock = SessionLock.acquire(Path(sys.argv[1]), sys.argv[2])\n"
            "print('held', flush=True); sys.stdin.readline()\n",
            str(settings.store_path.parent),
            older,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert runner.stdout is not None and runner.stdout.readline().strip() == "held"
        assert [s.id for s in resumable_sessions(settings, store)] == [newer, kept.session_id]
    finally:
        runner.communicate("\n", timeout=30)
    store.close()


def test_a_session_report_finds_its_bank_or_says_which_is_missing(tmp_path):
    import json

    from interviewer.session.reports import session_report

    settings = demo()
    session_id = start_and_stop(settings, ["an answer"])
    store = open_store(settings)
    found = session_report(settings, store, "md")  # the latest session
    assert found.session_id == session_id and found.missing_bank is None
    assert "Reference answer" in found.text
    lost = session_report(settings, store, "html", session_id=session_id, bank_dir=tmp_path)
    assert lost.missing_bank == store.get(session_id).bank_id
    assert "without reference answers" in lost.text
    as_json = session_report(settings, store, "json", session_id=session_id, bank_dir=tmp_path)
    assert as_json.missing_bank is None and json.loads(as_json.text)["session_id"] == session_id
    running = session_report(
        settings, None, "md", running=(store.load_transcript(session_id), None)
    )
    assert running.session_id == session_id and running.missing_bank is None
    store.close()
