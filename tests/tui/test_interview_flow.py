"""Whole interviews through the TUI with the scripted backend, driven by Pilot."""

from __future__ import annotations

import json

import jsonschema
import pytest
from rich.markdown import Markdown as RichMarkdown
from textual.widgets import Markdown, Static, TextArea

from interviewer.resources import resource_dir
from interviewer.transcript import Transcript
from interviewer.tui.screens import (
    HelpScreen,
    HistoryScreen,
    InterviewScreen,
    LoadingScreen,
    ReportScreen,
    StartScreen,
)
from interviewer.tui.widgets import CandidateMessage, InterviewerMessage, StatusBar
from tests.helpers.tui import answer, ready_for_answer, settle

GOOD = (
    "Serverless runs on a shared pool of GPUs managed by Hugging Face, billed per request, with "
    "cold starts. An Endpoint is dedicated compute billed per hour, for production."
)


def bubbles(app, kind=None):
    found = list(app.screen.query(".message"))
    return [b for b in found if kind is None or b.has_class(kind)]


@pytest.mark.parametrize("mode", ["practice", "exam"])
async def test_a_whole_interview(demo_app, tmp_path, monkeypatch, mode):
    monkeypatch.chdir(tmp_path)
    app = demo_app(mode=mode, max_follow_ups=1)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, InterviewScreen)
        status = app.screen.query_one(StatusBar)
        assert status.progress.startswith("Question 1/6") and status.status == "ready"

        await answer(pilot, GOOD)  # the demo grader leaves points missing: a follow-up
        assert bubbles(app, "follow_up"), "no follow-up was asked"
        await answer(pilot, "I would also check the model is supported.")
        # practice: the feedback card comes now; exam: not before the end
        assert bool(bubbles(app, "feedback")) == (mode == "practice")
        assert status.progress.startswith("Question 2/6")

        await pilot.press("ctrl+r")  # repeat
        await settle(pilot)
        repeated = bubbles(app, "repeat")[-1].text
        assert repeated == app.interview.bank.questions[1].question

        await pilot.press("ctrl+n")  # skip question 2
        await settle(pilot)
        assert status.progress.startswith("Question 3/6")
        for _ in range(4):
            await answer(pilot, "/skip")
        assert isinstance(app.screen, ReportScreen)
        transcript = app.screen.transcript
        assert [r.status for r in transcript.results] == ["answered"] + ["skipped"] * 5
        assert transcript.results[0].answers[0] == GOOD
        assert transcript.results[0].follow_ups == 1
        assert len(bubbles(app)) == 0  # the report is its own screen

        for key in ("x", "m", "h"):
            await pilot.press(key)
        await pilot.pause()
        exported = tmp_path / f"interview-{transcript.session_id}.json"
        markdown = (tmp_path / f"interview-{transcript.session_id}.md").read_text()
        assert "Serverless runs on a shared pool" in markdown
        html = (tmp_path / f"interview-{transcript.session_id}.html").read_text()
        assert "<svg" in html and "<script" not in html
        data = json.loads(exported.read_text())
        schema = json.loads((resource_dir("schemas") / "transcript.schema.json").read_text())
        jsonschema.validate(data, schema)
        assert Transcript.model_validate(data).results == transcript.results

        if mode == "exam":  # sessions, stats and regrade from the report screen
            await pilot.press("s")
            await pilot.pause()
            assert isinstance(app.screen, HistoryScreen)
            assert transcript.session_id in str(app.screen.query_one("#sessions").render())
            assert "Serverless inference vs Endpoints" in str(
                app.screen.query_one("#stats").render()
            )
            await pilot.press("escape")
            await pilot.press("r")
            await settle(pilot)
            regrade = str(app.screen.query_one("#regrade").render())
            assert "Regraded with evidence" in regrade and "Serverless inference" in regrade
            assert len(app.store.load_transcript(transcript.session_id).regrades) == 1


async def test_the_start_screen_prefills_and_starts(demo_app):
    app = demo_app(start_now=False, mode="exam", max_follow_ups=3)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert app.screen.query_one("#mode").value == "exam"
        assert app.screen.query_one("#follow-ups").value == 3
        assert "scripted" in str(app.screen.query_one("#gpu", Static).render())
        await pilot.click("#start")
        await settle(pilot)
        assert isinstance(app.screen, InterviewScreen)
        assert app.interview.settings.mode == "exam"
        assert app.interview.settings.max_follow_ups == 3


async def test_a_broken_bank_is_reported_on_the_start_screen(demo_app, tmp_path):
    app = demo_app(start_now=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        app.screen.query_one("#bank").value = str(tmp_path)
        await pilot.click("#start")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert any("bank.toml" in str(n.message) for n in app._notifications)


async def test_a_model_that_fails_to_load_shows_why_and_a_way_back(demo_app):
    from interviewer.llm.base import ModelError

    def broken(settings, status, progress):
        status("Downloading broken/model into the Hugging Face cache")
        progress(512 * 2**20, 2048 * 2**20)
        raise ModelError("there is no model 'broken/model'", hint="check the spelling")

    app = demo_app(start_now=False)
    app._open_model = broken
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#start")
        await settle(pilot)
        assert isinstance(app.screen, LoadingScreen)
        bar = app.screen.query_one("#download")
        assert not bar.has_class("hidden") and (bar.progress, bar.total) == (
            512 * 2**20,
            2048 * 2**20,
        )
        error = str(app.screen.query_one("#load-error", Static).render())
        assert "there is no model 'broken/model'" in error and "check the spelling" in error
        await pilot.click("#back")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert len(app.screen_stack) == 2  # the same form, not a new one on top


HOSTILE = [
    "[bold red]not bold[/bold red] [link=http://x]not a link[/link]",
    "\x1b[31mred?\x1b[0m and a bell\x07",
    "unicode: ü ß 漢字 😀 \u200b zero-width",
    "x" * 100_000,
]


async def test_hostile_text_is_shown_as_typed_and_stored_as_typed(demo_app):
    app = demo_app(mode="exam", max_follow_ups=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        for text in HOSTILE:
            await answer(pilot, text)
        transcript = app.interview.transcript
        assert [r.answers[0] for r in transcript.results[:4]] == HOSTILE
        shown = [
            str(m.query_one(".body", Static).render()) for m in app.screen.query(CandidateMessage)
        ]
        assert shown[0] == HOSTILE[0]  # markup stays literal
        assert "\x1b" not in shown[1] and "red?" in shown[1]
        assert shown[2] == HOSTILE[2]
        assert len(shown[3]) == 100_000
        await pilot.pause()
        assert app.screen.query_one("#answer", TextArea).size.height > 0  # layout intact


async def test_help_and_the_command_palette(demo_app):
    app = demo_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, InterviewScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles[:5] == [
            "Send answer",
            "Repeat the question",
            "Ask to clarify",
            "Skip this question",
            "Finish the interview",
        ]
        assert "Help" in titles and "Quit" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"
        await pilot.press(*"skip this")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.interview.results[0].status == "skipped"


async def test_each_turn_is_shown_once_even_when_the_screen_mounts_slowly(demo_app, monkeypatch):
    """The engine starts only once the interview screen is up: a greeting recorded while the
    screen was still mounting was shown twice (restored, then again by its event)."""
    import asyncio

    slow_mount = InterviewScreen.on_mount

    async def on_mount(self):
        await asyncio.sleep(0.2)  # a loaded machine, a big model just off the loading screen
        await slow_mount(self)

    monkeypatch.setattr(InterviewScreen, "on_mount", on_mount)
    app = demo_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert [b.kind for b in bubbles(app)] == ["greeting", "question"]


async def test_the_interviewer_bubbles_render_markdown(demo_app):
    app = demo_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        greeting = bubbles(app, "greeting")[0]
        assert "**Hugging Face ecosystem**" in greeting.text
        shown = greeting.query_one(".body", Static)
        assert isinstance(shown.content, RichMarkdown)  # rendered, not shown as source
        assert isinstance(bubbles(app, "question")[0], InterviewerMessage)
        assert not app.screen.query(Markdown)  # finished turns are one static block each


def test_first_paint_comes_before_torch_is_imported():
    """The real measurement is scripts/first_paint.py (reported on the issue); this guards
    against an import that would drag torch into the start-up path."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "first_paint.py"
    spec = importlib.util.spec_from_file_location("first_paint", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seconds, torch_loaded = module.measure()
    assert not torch_loaded
    assert seconds < 5.0  # generous: CI machines are busy; the target (1 s) is measured apart


async def test_an_interrupted_interview_is_offered_and_resumed(demo_app, monkeypatch):
    from interviewer.config import Settings
    from interviewer.store import SessionStore
    from interviewer.tui import conversation

    monkeypatch.setattr(conversation, "DRAFT_SAVE_DELAY", 0.05)
    draft = "Half an answer about chat templates, typed but not sent"
    first = demo_app(mode="exam", max_follow_ups=0)
    async with first.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await answer(pilot, GOOD)
        session_id = first.interview.session_id
        box = first.screen.query_one("#answer", TextArea)
        box.text = draft
        for _ in range(100):  # the draft is saved shortly after the last keystroke
            await pilot.pause(0.05)
            if first.store.draft(session_id) is not None:
                break
        await pilot.press("ctrl+r")  # hear the question again: the typed text stays
        await settle(pilot)
        assert box.text == draft
        # the window closes mid-interview: no /end, no report
    store = SessionStore(Settings().store_path)
    (unfinished,) = store.unfinished()
    assert unfinished.id == session_id and unfinished.answered == 1
    saved = store.draft(session_id)
    assert saved is not None and saved.text == draft
    assert saved.question_id == first.interview.bank.questions[1].id

    second = demo_app(start_now=False)
    async with second.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert not second.screen.query_one("#resume").has_class("hidden")
        assert second.screen.query_one("#resume-session").value == session_id
        second.screen.query_one("#resume-button").press()
        await settle(pilot)
        assert isinstance(second.screen, InterviewScreen), [
            n.message for n in second._notifications
        ]
        assert second.interview.session_id == session_id
        shown = [
            str(m.query_one(".body", Static).render())
            for m in second.screen.query(CandidateMessage)
        ]
        assert shown == [GOOD, "/repeat"]  # the conversation so far is back on screen
        assert second.screen.query_one(StatusBar).progress.startswith("Question 2/6")
        assert second.screen.query_one("#answer", TextArea).text == draft  # and the draft
        await answer(pilot, draft + ", now finished.")
        assert SessionStore(Settings().store_path).draft(session_id) is None  # it was sent
        for _ in range(4):
            await answer(pilot, "/skip")
        assert isinstance(second.screen, ReportScreen)
    finished = SessionStore(Settings().store_path).load_transcript(session_id)
    assert finished.status == "finished"
    assert finished.results[0].answers == [GOOD]
    assert finished.results[1].answers == [draft + ", now finished."]


async def test_keys_still_queued_in_the_answer_box_are_sent_with_it(demo_app):
    """Ctrl+S is a priority binding: the screen sees it before the answer box has handled the
    keys typed just before it (a fast paste, a busy machine). The answer sent is the whole of it."""
    from textual import events

    typed = "Serverless is shared and billed per request."
    app = demo_app(max_follow_ups=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        box = app.screen.query_one("#answer", TextArea)
        for char in typed:  # arrive together, as from a terminal without bracketed paste
            app.post_message(events.Key(char, char))
        app.post_message(events.Key("ctrl+s", None))
        await settle(pilot)
        assert app.interview.results[0].answers == [typed]
        assert box.text == ""


async def test_quitting_keeps_what_was_just_typed(demo_app):
    from interviewer.config import Settings
    from interviewer.store import SessionStore

    app = demo_app(max_follow_ups=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#answer", TextArea).text = "typed a moment ago"
        session_id = app.interview.session_id
        await pilot.press("ctrl+q")  # before the half-second save
    saved = SessionStore(Settings().store_path).draft(session_id)
    assert saved is not None and saved.text == "typed a moment ago"


async def test_a_follow_up_shows_a_placeholder_until_it_is_settled(demo_app):
    """Follow-ups arrive whole (engine/shape.py): meanwhile the bubble says "…", never the
    model's first words, and then it shows the question as stored."""
    from interviewer.llm.scripted import ScriptedModel
    from tests.helpers.tui import GatedModel

    model = GatedModel(ScriptedModel(), "follow_up", after=4)
    app = demo_app(model=model)
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            await ready_for_answer(pilot)
            app.screen.query_one("#answer", TextArea).text = GOOD
            await pilot.press("ctrl+s")
            for _ in range(400):
                if model.reached.is_set():
                    break
                await pilot.pause(0.01)
            await pilot.pause()
            pending = app.screen.query(".follow_up").last()
            assert pending.has_class("pending")
            assert pending.text == "…" and len(pending.query(".body")) == 1
            model.release.set()
            await settle(pilot)
            [stored] = [t for t in app.interview.turns if t.kind == "follow_up"]
            shown = app.screen.query(".follow_up").last()
            assert not shown.has_class("pending") and shown.text == stored.text
            assert len(shown.query(".body")) == 1
    finally:
        model.release.set()


async def test_the_report_header_wraps_a_long_model_name(demo_app, small_bank, make_interview):
    """A local model folder's name can be long: the header wraps it instead of cutting it."""
    from interviewer.session.running import Session
    from tests.helpers import drain

    interview, _ = make_interview(small_bank, [], grader="evidence", mode="exam")
    drain(interview.start())
    drain(interview.reply("/end"))
    long_name = "llm:smollm2-b179c9523d0e6a0f-tf5.24.0-converted-from-gguf+evidence"
    transcript = interview.transcript.model_copy(update={"grader": long_name})
    app = demo_app(start_now=False)
    async with app.run_test(size=(80, 30)) as pilot:
        await app.push_screen(ReportScreen(transcript, Session(interview)))
        await pilot.pause()
        header = app.screen.query_one("#report .title")
        assert header.size.height >= 2 and header.size.width <= 80  # wrapped, not cut
