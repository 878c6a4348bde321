"""Background grading: the candidate never waits for a grade.

Follow-ups are chosen from the instant evidence signal; the model's grade runs after the next
prompt is on screen (while the candidate reads and types), one reply behind, and the session
store always knows which grades are still owed.
"""

from __future__ import annotations

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
