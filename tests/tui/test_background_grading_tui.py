"""The TUI with the default `both` grader grading in the background: the next question is on
screen before the model grades, the feedback card follows, and a reply sent while a grade is
still running waits for it (one engine step at a time) instead of racing it."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from textual.widgets import TextArea

from interviewer.llm.base import ChatMessage, GenerationOptions, T
from interviewer.llm.scripted import ScriptedModel
from interviewer.tui.app import create_app
from interviewer.tui.screens import display_order
from interviewer.tui.widgets import InterviewerMessage
from tests.helpers import grade_step, text_step
from tests.helpers.tui import ready_for_answer, settle

ANSWER_1 = "Serverless is a shared pool billed per request; an Endpoint is dedicated compute."
ANSWER_2 = "apply_chat_template renders the messages with the model's jinja template."


class SlowGrades:
    """A scripted model whose grades wait for ``release`` (a long grade on a real GPU)."""

    def __init__(self, inner: ScriptedModel) -> None:
        self.inner = inner
        self.release = threading.Event()
        self.grading = threading.Event()
        self.order: list[str] = []

    @property
    def info(self) -> Any:
        return self.inner.info

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Any:
        self.order.append(options.purpose)
        return self.inner.stream(messages, options, cancel)

    def generate_structured(
        self,
        messages: Sequence[ChatMessage],
        output_type: type[T],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> T:
        self.order.append("grade")
        self.grading.set()
        self.release.wait(10)
        return self.inner.generate_structured(messages, output_type, options, cancel)


async def test_the_grade_runs_after_the_next_question_and_a_fast_reply_waits(tmp_path, hf_bank):
    first, second = hf_bank.questions[0], hf_bank.questions[1]
    model = SlowGrades(
        ScriptedModel(
            [
                grade_step(first, {p.id: "covered" for p in first.key_points}, quote="Serverless"),
                text_step("feedback", "Solid answer on the first question."),
                grade_step(second, {second.key_points[0].id: "covered"}, quote="jinja"),
                text_step("feedback", "Good start on templates."),
            ]
        )
    )
    script = tmp_path / "script.json"  # only tells the settings that this backend can grade
    script.write_text(json.dumps({"name": "tui", "steps": []}))
    app = create_app(
        _settings(script),
        start_now=True,
        open_model=lambda settings, status, progress: model,
        live=False,
    )
    async with app.run_test() as pilot:
        await ready_for_answer(pilot)
        box = pilot.app.screen.query_one("#answer", TextArea)
        box.text = ANSWER_1
        await pilot.press("ctrl+s")
        for _ in range(200):  # the background grade has started: question 2 is already shown
            if model.grading.is_set():
                break
            await pilot.pause(0.01)
        assert model.grading.is_set()
        await pilot.pause()
        shown = [m.kind for m in pilot.app.screen.query(InterviewerMessage)]
        assert shown.count("question") == 2 and "feedback" not in shown
        assert not pilot.app.screen.busy  # the candidate can already type
        # The candidate answers question 2 before the grade of question 1 is done.
        box.text = ANSWER_2
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        model.release.set()
        await settle(pilot)
        interview = pilot.app.interview
        assert interview is not None
        results = interview.results
        assert results[0].grade is not None and results[0].grade.grader.startswith("llm:")
        assert results[0].score == 1.0
        assert results[1].grade is not None and results[1].score > 0
        # one step at a time: question 1 graded and its card given before question 2 is graded
        assert model.order[:3] == ["grade", "feedback", "grade"]
        # Each late feedback card sits above the question asked after it, so the question
        # being answered stays at the bottom; a resumed session shows the same order.
        shown = [m.kind for m in pilot.app.screen.query(".message")]
        assert shown == [
            "greeting",
            *("question", "answer", "feedback"),
            *("question", "answer", "feedback"),
            "question",
        ]
        assert [t.kind for t in display_order(interview.turns, practice=True)] == shown
        recorded = [t.kind for t in interview.turns]
        assert recorded.index("feedback") > recorded.index("question", 2)  # graded late


def _settings(script: Any) -> Any:
    from interviewer.config import Settings

    return Settings(
        backend="scripted",
        script=script,
        grader="both",
        mode="practice",
        max_follow_ups=0,
        grading="background",
    )


def test_display_order_moves_only_late_practice_feedback():
    from datetime import UTC, datetime

    from interviewer.transcript import Turn

    def turn(i: int, kind: str, qid: str | None) -> Turn:
        role = "candidate" if kind == "answer" else "interviewer"
        return Turn(index=i, role=role, kind=kind, text=kind, question_id=qid, at=datetime.now(UTC))  # type: ignore[arg-type]

    recorded = [
        turn(0, "greeting", None),
        turn(1, "question", "a"),
        turn(2, "answer", "a"),
        turn(3, "question", "b"),
        turn(4, "feedback", "a"),  # graded in the background: after the next question
        turn(5, "answer", "b"),
        turn(6, "feedback", "b"),  # the last question's card: nothing after it to move above
        turn(7, "summary", None),
    ]
    practice = [t.index for t in display_order(recorded, practice=True)]
    assert practice == [0, 1, 2, 4, 3, 5, 6, 7]
    assert [t.index for t in display_order(recorded, practice=False)] == list(range(8))
