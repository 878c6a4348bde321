"""The session store: round trips, migrations, concurrent readers, and resuming after a crash."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from interviewer.engine import EvidenceGrader, Interview, InterviewStateError
from interviewer.engine.events import (
    AwaitingReply,
    Event,
    Graded,
    InterviewFinished,
    SessionStarted,
    TurnRecorded,
)
from interviewer.engine.snapshot import InterviewSnapshot
from interviewer.llm.scripted import ScriptedModel
from interviewer.session.errors import ResumeError
from interviewer.session.recorder import SessionRecorder
from interviewer.session.running import resume_session
from interviewer.store import SessionNotFoundError, SessionStore, StoreError
from interviewer.store.migrations import MIGRATIONS, migrate
from interviewer.transcript import Transcript
from tests.helpers import FixedClock


@pytest.fixture
def store(tmp_path) -> Iterator[SessionStore]:
    with SessionStore(tmp_path / "sessions.db") as opened:
        yield opened


def evidence_interview(bank: Any, session_id: str = "s1", **settings: Any) -> Interview:
    from interviewer.transcript import InterviewSettings

    return Interview(
        bank,
        ScriptedModel(),
        EvidenceGrader(),
        InterviewSettings(**settings),
        clock=FixedClock(),
        session_id=session_id,
    )


def drive(events: Iterator[Event], recorder: SessionRecorder, stop: Any = None) -> list[Event]:
    """Record events until ``stop(event)`` is true: stopping there is a crash (nothing after)."""
    seen = []
    for event in events:
        recorder(event)
        seen.append(event)
        if stop is not None and stop(event):
            break
    return seen


def candidate_turn(event: Event) -> bool:
    return isinstance(event, TurnRecorded) and event.turn.role == "candidate"


def play(interview: Interview, recorder: SessionRecorder, replies: list[str]) -> Transcript:
    events = drive(interview.start(), recorder)
    for text in replies:
        if interview.state != "awaiting_reply":
            break
        events = drive(interview.reply(text), recorder)
    assert isinstance(events[-1], InterviewFinished | AwaitingReply)
    return interview.transcript


REPLIES = [
    "apple and apple-extra are the point",  # apple covered: a follow-up on banana
    "/repeat",
    "banana, and also the banana-extra",  # the cap (1) is reached: on to beta
    "delta delta-extra",  # a follow-up on echo
    "",  # an empty reply to it (prefiltered): the interview ends
]


def test_a_recorded_session_round_trips(store, small_bank):
    interview = evidence_interview(small_bank, max_follow_ups=1)
    recorder = SessionRecorder(store, interview)
    final = play(interview, recorder, REPLIES)
    assert final.status == "finished"

    loaded = store.load_transcript("s1")
    assert loaded == final
    assert store.turns("s1") == final.turns
    summary = store.get("s1")
    assert (summary.status, summary.bank_id, summary.model_id, summary.grader) == (
        "finished",
        "small",
        "demo",
        "evidence",
    )
    assert summary.score == final.score and summary.answered == 2 and summary.question_count == 2
    grades = store.grades("s1")
    graded = [e for e in final.results if e.grade is not None]
    assert {g.question_id for g in grades} == {r.question_id for r in graded}
    for stored in grades:
        assert stored.rubric_hash == small_bank.question(stored.question_id).rubric_hash
        assert stored.model.model_id == "demo" and stored.regrade_id is None
    assert store.rubric("s1") == {q.id: q.rubric_hash for q in small_bank.questions}
    assert [s.id for s in store.list_sessions()] == ["s1"] and store.unfinished() == []


def test_sessions_are_listed_newest_first_and_found_by_prefix(store, small_bank):
    for sid in ("20260101-a", "20260102-b", "20260102-c"):
        interview = evidence_interview(small_bank, session_id=sid)
        interview.started_at = interview.started_at.replace(day=int(sid[6:8]))
        recorder = SessionRecorder(store, interview)
        drive(interview.start(), recorder)
    assert [s.id for s in store.list_sessions()] == ["20260102-c", "20260102-b", "20260101-a"]
    assert [s.id for s in store.unfinished()] == ["20260102-c", "20260102-b", "20260101-a"]
    assert store.get("20260101").id == "20260101-a"
    with pytest.raises(SessionNotFoundError, match="matches 2 sessions"):
        store.get("20260102")
    with pytest.raises(SessionNotFoundError, match="no stored session 'nope'"):
        store.get("nope")
    # '_' and '%' are literal in a prefix, not LIKE wildcards
    for pattern in ("2026010_", "2026%"):
        with pytest.raises(SessionNotFoundError):
            store.get(pattern)


def test_migrations_from_an_empty_database(tmp_path):
    db = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
    assert migrate(db) == [fn.__name__ for fn in MIGRATIONS]
    assert migrate(db) == []  # idempotent
    names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [fn.__name__ for fn in MIGRATIONS]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "questions", "turns", "grades", "regrades", "_migrations"} <= tables


def test_migrations_from_an_older_database_keep_its_sessions(tmp_path, small_bank):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    assert migrate(old, upto=1) == ["m001_sessions_turns_grades"]
    # A session written by the version that only had the first migration.
    interview = evidence_interview(small_bank, max_follow_ups=0)
    model_info = interview.model.info
    list(interview.start())
    list(interview.reply("apple apple-extra"))
    transcript = interview.transcript
    old.execute(
        "INSERT INTO sessions (id, started_at, updated_at, status, bank_id, bank_title, "
        "bank_version, mode, backend, model_id, grader, score, turn_count, snapshot_json, "
        "transcript_json) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "old-1",
            transcript.started_at.isoformat(),
            transcript.started_at.isoformat(),
            transcript.status,
            "small",
            "Small bank",
            "practice",
            model_info.backend,
            model_info.model_id,
            "evidence",
            transcript.score,
            len(transcript.turns),
            interview.snapshot().model_dump_json(),
            transcript.model_dump_json(),
        ),
    )
    old.execute(
        "INSERT INTO grades (session_id, question_id, rubric_hash, grader, backend, model_id, "
        "score, grade_json, at) VALUES ('old-1', 'alpha', 'h', 'evidence', 'scripted', 'demo', "
        "0.5, ?, '2026-01-01T00:00:00+00:00')",
        (transcript.results[0].grade.model_dump_json(),),
    )
    old.close()

    with SessionStore(path) as store:
        applied = [r[0] for r in store._db.execute("SELECT name FROM _migrations ORDER BY rowid")]
        assert applied == [fn.__name__ for fn in MIGRATIONS]
        assert store.load_transcript("old-1").results == transcript.results
        assert store.grades("old-1")[0].regrade_id is None  # the column added by m002
        assert store.get("old-1").regrades == 0
        # m005 counted the answers from the stored transcript: the quick listing agrees.
        expected = sum(r.status == "answered" for r in transcript.results)
        assert expected == 1
        assert store.list_sessions(check=False)[0].answered == expected
        assert store.list_sessions()[0].answered == expected


def test_the_quick_listing_reads_no_transcript(tmp_path, small_bank):
    """``list_sessions(check=False)`` (what the review memory uses after every interview)
    answers from the sessions' own columns: a transcript damaged on disk is not read, so it
    is not flagged either; the checked listing reads and flags it. The memory's sync skips
    the damaged session and keeps the others."""
    from interviewer.review import sync_memory

    path = tmp_path / "sessions.db"
    with SessionStore(path) as store:
        ids = []
        for number in range(2):
            interview = evidence_interview(small_bank, f"s{number}", max_follow_ups=0)
            list(interview.start())
            store.create_session(
                interview.snapshot(), interview.transcript, rubric=[], bank_path=None
            )
            for answer in ("apple apple-extra", "/skip"):
                list(interview.reply(answer))
            store.checkpoint(
                interview.transcript.session_id, interview.snapshot(), interview.transcript
            )
            ids.append(interview.transcript.session_id)
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE sessions SET transcript_json = substr(transcript_json, 1, 300) WHERE id = ?",
            (ids[0],),
        )
    with SessionStore(path) as store:
        quick = {s.id: s for s in store.list_sessions(check=False)}
        checked = {s.id: s for s in store.list_sessions()}
        assert quick[ids[0]].answered == quick[ids[1]].answered == 1
        assert not quick[ids[0]].damaged
        assert checked[ids[0]].damaged and checked[ids[0]].answered == 0
        assert not checked[ids[1]].damaged and checked[ids[1]].answered == 1
        memory = sync_memory(store, lambda summary: small_bank)
        assert set(memory.sessions) == {ids[1]}


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.db"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db)
    db.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', 'now')")
    db.close()
    with pytest.raises(StoreError, match="written by a newer interviewer") as caught:
        SessionStore(path)
    assert "upgrade interviewer" in caught.value.hint


def test_a_file_that_is_not_a_database_gets_a_clear_error(tmp_path):
    path = tmp_path / "sessions.db"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="cannot open the session database") as caught:
        SessionStore(path)
    assert "INTERVIEWER_DATA_DIR" in caught.value.hint


def test_wal_and_full_sync(store):
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_reader_sees_consistent_sessions_while_a_writer_records(tmp_path, small_bank):
    path = tmp_path / "sessions.db"
    writer = SessionStore(path)
    reader = SessionStore(path)
    done = threading.Event()
    errors: list[BaseException] = []
    seen_turns: list[int] = []

    def read() -> None:
        try:
            while not done.is_set():
                for summary in reader.list_sessions():
                    transcript = reader.load_transcript(summary.id)
                    assert transcript.session_id == summary.id
                    turns = reader.turns(summary.id)
                    assert [t.index for t in turns] == list(range(len(turns)))
                    seen_turns.append(len(turns))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for n in range(8):
            interview = evidence_interview(small_bank, session_id=f"s{n}", max_follow_ups=1)
            play(interview, SessionRecorder(writer, interview), REPLIES)
    finally:
        done.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert seen_turns, "the reader never saw a session"
    assert len(reader.list_sessions()) == 8
    writer.close()
    reader.close()


# ---------------------------------------------------------------- snapshot and resume


def test_snapshot_round_trips_through_json(small_bank):
    interview = evidence_interview(small_bank, max_follow_ups=1)
    list(interview.start())
    list(interview.reply("apple"))
    snapshot = interview.snapshot()
    assert InterviewSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot
    restored = Interview.restore(small_bank, ScriptedModel(), EvidenceGrader(), snapshot)
    assert restored.snapshot() == snapshot
    assert restored.transcript == interview.transcript


@pytest.mark.parametrize("crash_at", range(10))  # 10 checkpoints: 1 + 2 per reply but the last
def test_resuming_from_any_rest_gives_the_same_results(store, small_bank, crash_at):
    """Crash after the n-th checkpointing event, resume, finish: same answers, grades, score."""
    reference = evidence_interview(small_bank, session_id="ref", max_follow_ups=1)
    expected = play(reference, SessionRecorder(store, reference), REPLIES)

    interview = evidence_interview(small_bank, session_id="crash", max_follow_ups=1)
    recorder = SessionRecorder(store, interview)
    checkpoints = 0

    def stop(event: Event) -> bool:
        nonlocal checkpoints
        if candidate_turn(event) or isinstance(event, AwaitingReply):
            checkpoints += 1
        return checkpoints > crash_at

    replies = iter(REPLIES)
    drive(interview.start(), recorder, stop)
    while checkpoints <= crash_at:
        drive(interview.reply(next(replies)), recorder, stop)
    assert store.get("crash").status == "in_progress"

    resumed, recorder = resume_session(
        store, "crash", small_bank, ScriptedModel(), EvidenceGrader()
    )
    given = sum(t.role == "candidate" for t in resumed.turns)
    rest = iter(REPLIES[given:])
    events = drive(resumed.resume(), recorder)
    while resumed.state == "awaiting_reply":
        events = drive(resumed.reply(next(rest)), recorder)
    assert isinstance(events[-1], InterviewFinished)

    final = store.load_transcript("crash")
    assert final.status == "finished"
    strip = {"feedback", "coach_feedback"}
    assert [r.model_dump(exclude=strip) for r in final.results] == [
        r.model_dump(exclude=strip) for r in expected.results
    ]
    assert final.score == expected.score
    assert [(t.role, t.kind, t.question_id) for t in final.turns] == [
        (t.role, t.kind, t.question_id) for t in expected.turns
    ]
    candidate = [t.text for t in final.turns if t.role == "candidate"]
    assert candidate == REPLIES
    # the turns table holds exactly the transcript's turns: nothing duplicated or left over
    assert store.turns("crash") == final.turns


def test_a_reply_taken_but_not_graded_is_graded_on_resume(store, small_bank):
    interview = evidence_interview(small_bank, max_follow_ups=1)
    recorder = SessionRecorder(store, interview)
    drive(interview.start(), recorder)
    drive(interview.reply("apple apple-extra banana"), recorder, candidate_turn)  # killed here

    snapshot = store.load_snapshot("s1")
    assert snapshot.pending_reply == "apple apple-extra banana"
    assert store.grades("s1") == []
    summary = store.unfinished()[0]
    assert summary.id == "s1" and not summary.finished

    resumed, recorder = resume_session(store, "s1", small_bank, ScriptedModel(), EvidenceGrader())
    events = drive(resumed.resume(), recorder)
    assert isinstance(events[0], SessionStarted) and events[0].resumed
    graded = [e for e in events if isinstance(e, Graded)]
    assert graded and graded[0].question_id == "alpha"
    assert {v.key_point_id: v.verdict for v in graded[0].grade.key_points}["apple"] == "covered"
    assert resumed.snapshot().pending_reply is None
    assert isinstance(events[-1], AwaitingReply)
    # the reply is recorded once, at its original index
    texts = [t.text for t in store.turns("s1") if t.role == "candidate"]
    assert texts == ["apple apple-extra banana"]


def test_work_done_after_the_last_checkpoint_is_redone_not_duplicated(store, small_bank):
    interview = evidence_interview(small_bank, max_follow_ups=1)
    recorder = SessionRecorder(store, interview)
    drive(interview.start(), recorder)
    # killed after the grade and the follow-up were committed, before AwaitingReply
    drive(
        interview.reply("apple apple-extra"),
        recorder,
        lambda e: isinstance(e, TurnRecorded) and e.turn.kind == "follow_up",
    )
    assert len(store.grades("s1")) == 1
    before = store.turns("s1")
    assert before[-1].kind == "follow_up"

    resumed, recorder = resume_session(store, "s1", small_bank, ScriptedModel(), EvidenceGrader())
    drive(resumed.resume(), recorder)
    after = store.turns("s1")
    assert [t.index for t in after] == list(range(len(after)))
    assert [t.kind for t in after] == [t.kind for t in before]
    assert len(store.grades("s1")) == 1


def test_resume_refuses_a_changed_rubric_and_a_finished_session(store, small_bank):
    interview = evidence_interview(small_bank)
    drive(interview.start(), SessionRecorder(store, interview))
    alpha = small_bank.question("alpha")
    changed_point = alpha.key_points[0].model_copy(update={"statement": "A new statement."})
    changed = small_bank.model_copy(
        update={
            "questions": (
                alpha.model_copy(update={"key_points": [changed_point, *alpha.key_points[1:]]}),
                small_bank.questions[1],
            )
        }
    )
    with pytest.raises(ResumeError, match="the rubric of alpha changed") as caught:
        resume_session(store, "s1", changed, ScriptedModel(), EvidenceGrader())
    assert "interviewer regrade s1" in caught.value.hint
    other = small_bank.model_copy(update={"id": "other"})
    with pytest.raises(ResumeError, match="taken on the bank 'small', not 'other'"):
        resume_session(store, "s1", other, ScriptedModel(), EvidenceGrader())

    finished = evidence_interview(small_bank, session_id="done", max_follow_ups=0)
    play(finished, SessionRecorder(store, finished), ["/skip", "/skip"])
    with pytest.raises(ResumeError, match="has already finished") as caught:
        resume_session(store, "done", small_bank, ScriptedModel(), EvidenceGrader())
    assert "interviewer export done" in caught.value.hint


def test_a_crash_before_the_greeting_starts_afresh(store, small_bank):
    interview = evidence_interview(small_bank)
    SessionRecorder(store, interview)  # the session row exists; the process died right away
    resumed, recorder = resume_session(store, "s1", small_bank, ScriptedModel(), EvidenceGrader())
    events = drive(resumed.resume(), recorder)
    assert [t.kind for t in store.turns("s1")] == ["greeting", "question"]
    assert isinstance(events[-1], AwaitingReply)


def test_reply_refuses_while_a_reply_is_pending(small_bank):
    interview = evidence_interview(small_bank)
    list(interview.start())
    events = interview.reply("apple")
    next(events)  # the candidate's turn is taken; processing has not run
    snapshot = interview.snapshot()
    restored = Interview.restore(small_bank, ScriptedModel(), EvidenceGrader(), snapshot)
    with pytest.raises(InterviewStateError, match="still being processed"):
        list(restored.reply("again"))


def test_an_unsent_answer_is_kept_until_it_is_sent(store, small_bank):
    interview = evidence_interview(small_bank, max_follow_ups=0)
    recorder = SessionRecorder(store, interview)
    drive(interview.start(), recorder)
    assert store.draft("s1") is None
    store.save_draft("s1", "alpha", "apple and")
    store.save_draft("s1", "alpha", "apple and apple-extra")  # the latest text wins
    saved = store.draft("s1")
    assert saved is not None and (saved.question_id, saved.text) == (
        "alpha",
        "apple and apple-extra",
    )
    drive(interview.reply("/repeat"), recorder)  # a request is not the answer: the draft stays
    assert store.draft("s1") is not None
    drive(interview.reply("apple and apple-extra"), recorder)  # sent: it is a turn now
    assert store.draft("s1") is None
    store.save_draft("s1", "beta", "delta")
    store.save_draft("s1", "beta", "  ")  # the candidate cleared the box
    assert store.draft("s1") is None
    store.save_draft("s1", "beta", "delta")
    store.delete_session("s1")
    assert store.draft("s1") is None  # gone with its session


def test_a_store_that_fails_never_stops_the_typing_and_warns_once(store, small_bank):
    """Keeping drafts is best effort: when the database refuses them, the candidate hears it
    once per session (the TUI as a notice, plain mode on stderr) and goes on typing."""
    import sqlite3

    interview = evidence_interview(small_bank)
    recorder = SessionRecorder(store, interview)
    drive(interview.start(), recorder)
    with sqlite3.connect(store.path) as other:  # the table goes away under the store
        other.execute("DROP TABLE drafts")
    heard: list[StoreError] = []
    recorder.save_draft("apple", heard.append)
    recorder.save_draft("apple and", heard.append)
    assert len(heard) == 1 and "cannot write" in str(heard[0]) and heard[0].hint
    assert recorder.draft() is None  # nothing to restore, and no crash either
