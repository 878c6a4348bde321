"""The TUI when the session store stops writing mid-interview: the interview goes on, the
candidate is told once where the answers go, and every answer is in the recovery file."""

from __future__ import annotations

from interviewer.config import Settings
from interviewer.session.stores import recovery_folders
from interviewer.store.recovery import find_recovered
from interviewer.tui.screens import ReportScreen
from tests.helpers.tui import answer, settle

FIRST = "Serverless runs on shared GPUs billed per request; an Endpoint is dedicated compute."
SECOND = "apply_chat_template renders the messages with the model's own Jinja template."


async def test_a_full_disk_mid_interview_is_said_once_and_loses_nothing(demo_app):
    app = demo_app(mode="exam", max_follow_ups=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await answer(pilot, FIRST)
        store = app.store
        assert store is not None
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on
        await answer(pilot, SECOND)
        await answer(pilot, "/end")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen)
        told = [n for n in app._notifications if n.title == "Your answers are kept elsewhere"]
        assert len(told) == 1, [n.message for n in app._notifications]
        assert "database or disk is full" in told[0].message
        session_id = app.interview.session_id  # type: ignore[union-attr]
        assert f"interviewer resume {session_id}" in told[0].message
        (kept,) = find_recovered(recovery_folders(Settings()))
        assert str(kept.files[0]) in told[0].message
        answers = [t.text for t in kept.snapshot.turns if t.role == "candidate"]
        assert answers == [FIRST, SECOND, "/end"]
        assert kept.finished
