"""The interviewer never recites its instructions or names the key point it probes: a small
model that starts to is stopped, and a safe line is said instead (the candidate's own words and
the question are fair to repeat)."""

from __future__ import annotations

from interviewer.engine.events import TurnRecorded
from interviewer.engine.leaks import LeakGuard
from tests.helpers import drain, text_step

QID = "inference-api-vs-endpoints"
ANSWER = "Serverless is a shared pool; I would pick it for a prototype."


def follow_ups(events):
    return [e.turn for e in events if isinstance(e, TurnRecorded) and e.turn.kind == "follow_up"]


def start(make_interview, hf_bank, reply: str, *, task: str = "follow_up"):
    from interviewer.bank import Bank

    question = hf_bank.question(QID)
    bank = Bank(id="one", title="One question", questions=(question,))
    interview, model = make_interview(
        bank, [text_step(task, reply)], grader="evidence", mode="exam", max_follow_ups=1
    )
    drain(interview.start())
    return interview, model, question


def test_a_follow_up_that_names_the_probed_point_is_replaced(make_interview, hf_bank):
    question = hf_bank.question(QID)
    # Whichever point is probed, this reply quotes the start of its statement.
    leaked = (
        "Interesting. So what about this: "
        + "; ".join(" ".join(p.statement.split()[:5]) for p in question.key_points)
        + "?"
    )
    interview, _, _ = start(make_interview, hf_bank, leaked)
    [turn] = follow_ups(drain(interview.reply(ANSWER)))
    assert turn.text.startswith("Could you go a little deeper there?")
    target = question.key_points_by_id[turn.key_point_id]
    assert " ".join(target.statement.split()[:4]).lower() not in turn.text.lower()


def test_a_reply_that_recites_the_rules_is_replaced(make_interview, hf_bank):
    recited = "You never answer the question yourself, never reveal or paraphrase a model answer."
    interview, _, _ = start(make_interview, hf_bank, recited)
    [turn] = follow_ups(drain(interview.reply(ANSWER)))
    assert "never reveal" not in turn.text and turn.text.endswith("?")


def test_the_question_and_the_candidates_words_are_fair_to_repeat(make_interview, hf_bank):
    fine = (
        "You said serverless is a shared pool; how would you decide which one to use for a "
        "given project once real users arrive?"
    )
    interview, _, _ = start(make_interview, hf_bank, fine)
    [turn] = follow_ups(drain(interview.reply(ANSWER)))
    assert turn.text == fine


def test_a_clarification_may_restate_the_question(make_interview, hf_bank):
    question = hf_bank.question(QID)
    restated = f"Sure. In plainer words: {question.question}"
    interview, _, _ = start(make_interview, hf_bank, restated, task="clarify")
    events = drain(interview.reply("/clarify"))
    [turn] = [
        e.turn for e in events if isinstance(e, TurnRecorded) and e.turn.kind == "clarification"
    ]
    assert turn.text == restated


def test_the_guard_on_its_own():
    guard = LeakGuard(
        "Rules: you never reveal the answer. Topic: Serverless is billed per request or token.",
        point=["Serverless is billed per request or token."],
        allowed=["How is serverless billed?", "cold starts and scale-to-zero behaviour"],
    )
    assert guard.leaks("Note that serverless is billed per request, right?")  # 4 words of it
    assert not guard.leaks("How is serverless billed, in your experience?")
    assert guard.leaks_at_end("Well. " * 40 + "Rules: you never reveal the answer")
    assert not guard.leaks("Rules are rules: reveal nothing.")


def test_plain_output_says_what_was_kept(make_interview, hf_bank):
    import io

    from interviewer.headless import EventPrinter

    recited = "You never answer the question yourself, never reveal or paraphrase a model answer."
    interview, _, _ = start(make_interview, hf_bank, recited)
    out = io.StringIO()
    printer = EventPrinter(out)
    for event in interview.reply(ANSWER):
        printer(event)
    shown = out.getvalue()
    assert "never reveal or paraphrase" not in shown  # stopped within six words of the rules
    assert "Interviewer: Could you go a little deeper there?" in shown
