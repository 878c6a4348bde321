"""Background grading: the candidate never waits for a grade.

Follow-ups are chosen from the instant evidence signal; the model's grade runs after the next
prompt is on screen (while the candidate reads and types), one reply behind, and the session
store always knows which grades are still owed.
"""

from __future__ import annotations

import threading
import time

import pytest

from interviewer.engine import Interview
from interviewer.engine.events import (
    AwaitingReply,
    FeedbackGiven,
    FollowUpAsked,
    Graded,
    GradingStarted,
    InterviewFinished,
    TurnRecorded,
)
from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.grading import LLMGrader
from interviewer.llm.scripted import ScriptedModel
from interviewer.session.running import Session
from interviewer.transcript import InterviewSettings
from tests.helpers import FixedClock, drain, grade_step, text_step


def background(bank, steps, prompts, **settings):
    model = ScriptedModel(steps)
    interview = Interview(
        bank,
        model,
        LLMGrader(model, prompts),
        InterviewSettings(grading="background", **settings),
        prompts,
        clock=FixedClock(),
        session_id="bg",
        quick_grader=EvidenceGrader(),  # keywords: 'apple', 'banana', ... in the small bank
    )
    return interview, model


def kinds(events):
    return [type(e).__name__ for e in events]


def test_the_follow_up_comes_first_and_the_grade_after_the_prompt(small_bank, prompts):
    alpha = small_bank.question("alpha")
    interview, model = background(
        small_bank,
        [
            text_step("follow_up", "And what about the rest?"),
            grade_step(alpha, {"apple": "covered"}),
        ],
        prompts,
    )
    drain(interview.start())
    events = drain(interview.reply("An apple, of course."))
    names = kinds(events)
    # the follow-up is asked (and the answer box ready) before the model grades anything
    assert (
        names.index("FollowUpAsked") < names.index("AwaitingReply") < names.index("GradingStarted")
    )
    assert [c[0] for c in model.calls] == ["follow_up", "grade"]
    assert isinstance(events[-1], AwaitingReply)  # at rest again, grade stored
    graded = next(e for e in events if isinstance(e, Graded))
    assert graded.grade.grader.startswith("llm:")
    # the instant signal saw 'apple' and so probed another point
    asked = next(e for e in events if isinstance(e, FollowUpAsked))
    assert asked.key_point_id == "banana"


def test_practice_feedback_arrives_after_the_next_question(small_bank, prompts):
    alpha = small_bank.question("alpha")
    interview, _ = background(
        small_bank,
        [grade_step(alpha, {"apple": "covered", "banana": "covered", "cherry": "partial"})],
        prompts,
        mode="practice",
        max_follow_ups=0,
    )
    drain(interview.start())
    events = drain(interview.reply("apple banana cherry"))
    turns = [e.turn for e in events if isinstance(e, TurnRecorded)]
    assert [t.kind for t in turns][-2:] == ["question", "feedback"]  # beta asked, then alpha's card
    assert turns[-1].question_id == "alpha"
    assert any(isinstance(e, FeedbackGiven) for e in events)
    assert interview.results[0].score > 0 and interview.results[0].grade.grader.startswith("llm:")


def test_a_crash_before_the_grade_resumes_and_grades(small_bank, prompts):
    alpha = small_bank.question("alpha")
    interview, _ = background(small_bank, [], prompts, mode="exam", max_follow_ups=0)
    drain(interview.start())
    events = []
    for event in interview.reply("apple and banana"):
        events.append(event)
        if isinstance(event, AwaitingReply):
            break  # the process dies while the grade is running
    snapshot = interview.snapshot()
    alpha_state = snapshot.questions[0]
    assert alpha_state.grade_pending and alpha_state.grade is None
    assert snapshot.pending_reply is None and snapshot.current == 1

    model = ScriptedModel([grade_step(alpha, {"apple": "covered", "banana": "covered"})])
    restored = Interview.restore(
        small_bank, model, LLMGrader(model, prompts), snapshot, prompts, clock=FixedClock()
    )
    resumed = drain(restored.resume())
    assert isinstance(resumed[-1], AwaitingReply)
    assert any(isinstance(e, Graded) and e.question_id == "alpha" for e in resumed)
    assert restored.results[0].score == 0.75
    assert not restored.snapshot().questions[0].grade_pending


def test_the_models_doubt_still_earns_a_follow_up_one_reply_later(small_bank, prompts):
    alpha = small_bank.question("alpha")
    unsure = grade_step(alpha, {"apple": "covered", "banana": "covered", "cherry": "covered"})
    interview, _ = background(
        small_bank,
        [
            text_step("follow_up", "Tell me more?"),  # probes what the keywords missed
            unsure,
            text_step("follow_up", "And that first part, how exactly?"),
            grade_step(alpha, {"apple": "covered", "banana": "covered", "cherry": "covered"}),
        ],
        prompts,
        max_follow_ups=2,
    )
    drain(interview.start())
    original = interview.grader.grade

    def doubting(question, answers, cancel=None):
        verdicts = original(question, answers, cancel)
        if len(answers) == 1:  # the model is unsure of its first verdict on apple
            return [
                v.model_copy(update={"uncertain": True}) if v.key_point_id == "apple" else v
                for v in verdicts
            ]
        return verdicts

    interview.grader.grade = doubting  # type: ignore[method-assign]
    drain(interview.reply("apple"))
    # banana and cherry now surely made (two keywords each): only the model's doubt is left
    second = drain(interview.reply("banana and banana-extra, cherry and cherry-extra too"))
    asked = [e for e in second if isinstance(e, FollowUpAsked)]
    assert asked and asked[0].key_point_id == "apple"


def test_ending_at_once_uses_the_instant_signal_without_a_model_call(small_bank, prompts):
    interview, model = background(
        small_bank, [], prompts, mode="exam", max_follow_ups=0, acknowledge=False
    )
    drain(interview.start())
    for event in interview.reply("apple and banana"):
        if isinstance(event, AwaitingReply):
            break
    events = drain(interview.end(quick=True))
    assert isinstance(events[-1], InterviewFinished)
    assert not any(isinstance(e, GradingStarted) for e in events)
    alpha = interview.results[0]
    assert alpha.grade is not None and alpha.grade.grader == "evidence" and alpha.score > 0
    assert model.calls == []


def test_inline_grading_is_unchanged_without_an_instant_signal(small_bank, prompts):
    alpha = small_bank.question("alpha")
    model = ScriptedModel([grade_step(alpha, {"apple": "covered"}), text_step("follow_up", "?")])
    interview = Interview(
        small_bank,
        model,
        LLMGrader(model, prompts),
        InterviewSettings(grading="background"),  # asked for, but no instant signal to use
        prompts,
    )
    drain(interview.start())
    drain(interview.reply("apple"))
    assert [c[0] for c in model.calls] == ["grade", "follow_up"]


# ----------------------------------------------------------------- the conversation first


class HeldGrades(ScriptedModel):
    """The scripted model, whose grades wait for ``release`` (a grade running on a one-slot
    server while the candidate replies)."""

    def __init__(self, steps):
        super().__init__(steps)
        self.release = threading.Event()
        self.grading = threading.Event()

    def generate_structured(self, messages, output_type, options, cancel=None):
        self.grading.set()
        assert self.release.wait(10), "the test never released the grade"
        return super().generate_structured(messages, output_type, options, cancel)


def _reply_in_thread(session, text):
    """The candidate's reply, sent from another thread (as the TUI's next worker does)."""
    events: list = []
    thread = threading.Thread(target=lambda: events.extend(session.reply(text)), daemon=True)
    thread.start()
    return thread, events


def _until(condition):
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.mark.parametrize("running", [False, True], ids=["grade-pending", "grade-running"])
def test_a_reply_goes_before_the_grades_still_owed(small_bank, prompts, running):
    """Practice mode: alpha's grade and card are owed when the candidate already asks about
    beta. The reply's turn goes first (after the grade already running, if one is); alpha's
    card comes after it, and still after its grade."""
    alpha = small_bank.question("alpha")
    grade = grade_step(alpha, {"apple": "covered"})
    clarify = text_step("clarify", "I mean: how would you approach it in practice?")
    model = HeldGrades(
        [*([grade, clarify] if running else [clarify, grade]), text_step("feedback", "Good.")]
    )
    interview = Interview(
        small_bank,
        model,
        LLMGrader(model, prompts),
        InterviewSettings(grading="background", mode="practice", max_follow_ups=0),
        prompts,
        clock=FixedClock(),
        session_id="first",
        quick_grader=EvidenceGrader(),
    )
    session = Session(interview)
    drain(session.begin())
    first = session.reply("apple banana cherry")
    for event in first:
        if isinstance(event, AwaitingReply):
            break  # beta is on screen; alpha's grade and card are owed
    rest = threading.Thread(target=lambda: drain(first), daemon=True)
    if running:
        rest.start()
        assert model.grading.wait(10)  # alpha's grade holds the model
    thread, events = _reply_in_thread(session, "/clarify")
    _until(interview.turn_waiting)
    model.release.set()
    if not running:
        rest.start()  # the first reply's background work gives way to the waiting reply
    rest.join(10)
    thread.join(10)
    assert not thread.is_alive() and not rest.is_alive()
    purposes = [purpose for purpose, _ in model.calls]
    first_two = ["grade", "clarify"] if running else ["clarify", "grade"]
    assert purposes == [*first_two, "feedback"]
    names = kinds(events)
    assert names.index("TurnStarted") < names.index("AwaitingReply") < names.index("FeedbackGiven")
    assert interview.results[0].grade is not None and interview.results[0].feedback
    assert not any(q.grade_pending or q.finish_pending for q in interview.snapshot().questions)
