"""Snapshots of the four main screens (pytest-textual-snapshot). Blink and timers are off and
workers are awaited, so they never flake. Update with `pytest --snapshot-update` after a
deliberate visual change, and look at the new SVGs before committing them."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.helpers.tui import answer, ready_for_answer, settle

SIZE = (100, 36)
GOOD = (
    "Serverless runs on a shared pool of GPUs, billed per request, with cold starts. An "
    "Endpoint is dedicated compute billed per hour, for production."
)


def test_start_screen(snap_compare, demo_app):
    async def ready(pilot: Pilot[None]) -> None:
        await pilot.pause()

    assert snap_compare(demo_app(start_now=False), run_before=ready, terminal_size=SIZE)


def test_interview_mid_stream(snap_compare, demo_app, gated_clarification):
    async def half_streamed(pilot: Pilot[None]) -> None:
        await ready_for_answer(pilot)
        pilot.app.screen.query_one("#answer").text = "/clarify"
        await pilot.press("ctrl+s")
        for _ in range(400):
            if gated_clarification.reached.is_set():
                break
            await pilot.pause(0.01)
        for _ in range(5):
            await pilot.pause()

    app = demo_app(model=gated_clarification)
    assert snap_compare(app, run_before=half_streamed, terminal_size=SIZE)


def test_feedback_in_practice_mode(snap_compare, demo_app):
    async def after_feedback(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await answer(pilot, GOOD)
        await answer(pilot, "I would pick dedicated compute for private models.")
        # Show the card from its top: the verdicts and quotes, then the reference answer.
        card = pilot.app.screen.query(".feedback").last()
        pilot.app.screen.query_one("#conversation").scroll_to_widget(card, animate=False, top=True)
        await pilot.pause()

    app = demo_app(mode="practice", max_follow_ups=1)
    assert snap_compare(app, run_before=after_feedback, terminal_size=(100, 50))


def test_report(snap_compare, demo_app):
    async def to_the_report(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await answer(pilot, GOOD)
        await answer(pilot, "/end")

    app = demo_app(mode="exam", max_follow_ups=0)
    assert snap_compare(app, run_before=to_the_report, terminal_size=SIZE)
