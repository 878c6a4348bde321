"""Reviews and retakes in the TUI, driven by Pilot: the start screen offers a review when key
points are due, and Ctrl+T after a question's feedback asks it again, fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from interviewer.bank import load_bank
from interviewer.config import Settings
from interviewer.engine import EvidenceGrader, Interview
from interviewer.llm.scripted import ScriptedModel
from interviewer.session.recorder import SessionRecorder
from interviewer.store import SessionStore
from interviewer.transcript import InterviewSettings
from interviewer.tui.screens import InterviewScreen, StartScreen
from interviewer.tui.widgets import StatusBar
from tests.helpers.tui import answer, ready_for_answer, settle

SMALL_BANK = Path(__file__).parents[1] / "fixtures" / "small-bank"  # short texts: quick to draw
GOOD = "Serverless is a shared pool, while an endpoint is dedicated to one model."


def an_interview_long_ago() -> None:
    """A finished interview in 2020: everything it missed is due now."""
    bank = load_bank(SMALL_BANK)
    start = datetime(2020, 1, 1, 9, tzinfo=UTC)
    ticks = iter(start + timedelta(seconds=i) for i in range(10_000))
    interview = Interview(
        bank,
        ScriptedModel(),
        EvidenceGrader(),
        InterviewSettings(max_follow_ups=0),
        clock=lambda: next(ticks),
    )
    store = SessionStore(Settings().store_path)
    recorder = SessionRecorder(store, interview)
    for event in interview.start():
        recorder(event)
    for reply in [GOOD, "/skip"]:
        for event in interview.reply(reply):
            recorder(event)
    recorder.close()
    store.close()


async def test_a_review_from_the_start_screen_and_a_retake_with_ctrl_t(demo_app):
    an_interview_long_ago()
    app = demo_app(start_now=False, mode="practice", max_follow_ups=0, bank=SMALL_BANK)
    # Tall enough for the whole start screen (backend, server and voice rows): a click only
    # reaches a button that is on the screen.
    async with app.run_test(size=(100, 60)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, StartScreen)
        offer = app.screen.query_one("#review")
        for _ in range(1000):  # it is worked out off the UI thread, after the first frame
            if not offer.has_class("hidden"):
                break
            await pilot.pause(0.01)
        assert not offer.has_class("hidden")
        await pilot.click("#review-button")
        await settle(pilot)
        await ready_for_answer(pilot, 30)  # the plan, the (demo) model and the first question
        screen = app.screen
        assert isinstance(screen, InterviewScreen)
        interview = app.interview
        # Billing, missed long ago, and the skipped question (its points count as missed).
        assert interview.bank.title.endswith("(review)")
        assert interview.bank.question_ids == ["serverless-vs-dedicated", "chat-template-basics"]
        assert interview.settings.focus  # each question with its due key points
        assert screen.retry_of is None  # nothing to retake before the first answer

        await answer(pilot, GOOD)
        await ready_for_answer(pilot)
        status = screen.query_one(StatusBar)
        assert status.progress.startswith("Question 2/2")
        assert screen.retry_of == "serverless-vs-dedicated"
        first = interview.transcript.results[0].score

        await pilot.press("ctrl+t")
        await settle(pilot)
        assert status.progress == "Question 1/2: Serverless vs dedicated (retake 1)"
        await answer(pilot, "Serverless is billed per request.")
        cards = list(screen.query(".feedback"))
        assert "This retake:" in cards[-1].text and "→" in cards[-1].text
        assert status.progress.startswith("Question 2/2")  # back where it was
        bubbles = list(screen.query(".message"))  # the card, then the question asked again
        assert bubbles[-2] is cards[-1] and bubbles[-1].has_class("question")

        result = interview.transcript.results[0]  # (the report shows it: tests/test_retake)
        assert result.score == first and len(result.retakes) == 1
        assert result.retakes[0].answers == ["Serverless is billed per request."]
