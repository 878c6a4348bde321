"""Recovery files on their own: torn lines, a folder that fills up, more than one file per
session, and bringing a session back into the store without ever going back in time."""

from __future__ import annotations

from pathlib import Path

import pytest

from interviewer.engine import EvidenceGrader, Interview
from interviewer.engine.events import AwaitingReply
from interviewer.llm.scripted import ScriptedModel
from interviewer.session.recorder import SessionRecorder
from interviewer.session.running import Session
from interviewer.store import SessionStore, StoreError
from interviewer.store.recovery import find_recovered, import_recovered, in_use, read_records
from tests.helpers.faults import fill, tmpfs

REPLIES = ["apple and apple-extra", "/repeat", "banana and banana-extra", "delta", "echo"]


def journaled(small_bank, folders: list[Path], replies: list[str] = REPLIES) -> Session:
    """A session whose store cannot write from the start: everything goes to ``folders``."""
    interview = Interview(small_bank, ScriptedModel(), EvidenceGrader())
    recorder = SessionRecorder(
        None, interview, recovery=folders, store_problem=StoreError("no store", "fix it")
    )
    session = Session(interview, recorder)
    notices: list[str] = []
    session.on_notice = notices.append
    session.notices = notices  # type: ignore[attr-defined]
    awaiting = [e for e in session.begin() if isinstance(e, AwaitingReply)]
    for text in replies:
        if session.interview.state != "awaiting_reply":
            break
        awaiting = [e for e in session.reply(text) if isinstance(e, AwaitingReply)]
    assert awaiting or session.interview.state == "finished"
    return session


def candidate(turns) -> list[str]:
    return [t.text for t in turns if t.role == "candidate"]


def test_a_torn_last_line_is_ignored_and_the_rest_resumes(tmp_path, small_bank):
    session = journaled(small_bank, [tmp_path], REPLIES[:3])
    assert in_use(session.recovery_file)  # a running interview holds its file
    session.close()
    (path,) = tmp_path.glob("*.jsonl")
    assert not in_use(path)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"v": 1, "kind": "checkpoint", "seq": 999, "sess')  # a crash
    (found,) = find_recovered([tmp_path])
    assert candidate(found.snapshot.turns) == REPLIES[:3]
    assert len(read_records(path.read_bytes())) == len(whole.splitlines())


@pytest.mark.root
def test_a_recovery_folder_that_fills_up_passes_the_session_on(tmp_path, small_bank):
    with tmpfs(tmp_path / "small", "size=256k") as small:
        interview = Interview(small_bank, ScriptedModel(), EvidenceGrader())
        recorder = SessionRecorder(
            None, interview, recovery=[small, tmp_path / "next"], store_problem=StoreError("x")
        )
        session = Session(interview, recorder)
        notices: list[str] = []
        session.on_notice = notices.append
        list(session.begin())
        list(session.reply(REPLIES[0]))
        first = session.recovery_file
        assert first is not None and first.parent == small
        fill(small)
        for text in REPLIES[1:]:
            if session.interview.state == "awaiting_reply":
                list(session.reply(text))
        moved = session.recovery_file
        assert moved is not None and moved.parent == tmp_path / "next"
        assert sum("The recovery file moved" in n for n in notices) == 1
        assert str(moved) in notices[-1] or any(str(moved) in n for n in notices)
        session.close()
        found = find_recovered([small, tmp_path / "next"])
        assert len(found) == 1 and len(found[0].files) == 2  # the session, over two files
        assert candidate(found[0].snapshot.turns) == candidate(session.interview.turns)


def test_bringing_a_session_back_never_goes_back_in_time(tmp_path, small_bank):
    """An old recovery file of a session the store has a later state of (it was resumed and
    went on since) is out of date: importing it changes nothing, and it is deleted."""
    later = journaled(small_bank, [tmp_path / "new"], REPLIES)
    later.close()
    store = SessionStore(tmp_path / "sessions.db")
    (imported,) = import_recovered(store, [tmp_path / "new"])
    assert imported.session_id == later.session_id
    assert find_recovered([tmp_path / "new"]) == []  # brought in, and its file deleted
    before = store.load_transcript(later.session_id)

    stale_folder = tmp_path / "stale"  # the same session, as it was after its first reply
    early = Interview(small_bank, ScriptedModel(), EvidenceGrader(), session_id=later.session_id)
    recorder = SessionRecorder(None, early, recovery=[stale_folder], store_problem=StoreError("x"))
    session = Session(early, recorder)
    list(session.begin())
    list(session.reply(REPLIES[0]))
    session.close()
    assert import_recovered(store, [stale_folder]) == []
    assert not list(stale_folder.glob("*.jsonl"))  # out of date: deleted
    assert store.load_transcript(later.session_id) == before
    assert candidate(store.turns(later.session_id)) == candidate(later.interview.turns)
