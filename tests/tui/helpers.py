from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import TextArea


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the workers are done and every message they posted has been handled."""
    await pilot.pause(0)
    await pilot.app.workers.wait_for_complete()
    for _ in range(3):  # the messages the workers posted, and the ones those handlers post
        await pilot.pause(0)


async def answer(pilot: Pilot[None], text: str) -> None:
    """Put ``text`` in the answer box (as a paste would) and send it with Ctrl+S."""
    box = pilot.app.screen.query_one("#answer", TextArea)
    box.text = text
    await pilot.press("ctrl+s")
    await settle(pilot)
