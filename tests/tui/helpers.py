from __future__ import annotations

import time

from textual.pilot import Pilot
from textual.widgets import TextArea


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the workers are done and every message they posted has been handled."""
    await pilot.pause(0)
    await pilot.app.workers.wait_for_complete()
    for _ in range(3):  # the messages the workers posted, and the ones those handlers post
        await pilot.pause(0)


async def ready_for_answer(pilot: Pilot[None], seconds: float = 10.0) -> None:
    """Wait until the interview screen takes an answer: :func:`settle` can return before the
    screen has started the engine (it starts once the screen is shown), and a reply sent while
    the interviewer is still busy stays in the box, as it should for a person."""
    from interviewer.tui.screens import InterviewScreen

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        screen = pilot.app.screen
        if isinstance(screen, InterviewScreen) and not screen.busy:
            return
        await pilot.pause(0.01)
    raise AssertionError(f"the interview screen did not get ready in {seconds} s")


async def answer(pilot: Pilot[None], text: str) -> None:
    """Put ``text`` in the answer box (as a paste would) and send it with Ctrl+S."""
    await ready_for_answer(pilot)
    box = pilot.app.screen.query_one("#answer", TextArea)
    box.text = text
    await pilot.press("ctrl+s")
    await settle(pilot)
