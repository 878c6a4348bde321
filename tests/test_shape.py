"""Each interviewer turn keeps the shape its task asks for: a follow-up ends at its question, an
acknowledgement is a sentence or two, and a small model's lecture never reaches the candidate."""

from __future__ import annotations

import io

import pytest

from interviewer.engine.events import TokenStreamed, TurnRecorded
from interviewer.engine.shape import SHAPES
from tests.helpers import drain, text_step

QID = "inference-api-vs-endpoints"
ANSWER = "Serverless is a shared pool; I would pick it for a prototype."
FALLBACK = "Could you go a little deeper there? What else would you take into account?"

# What SmolLM2-135M said as a "follow-up" in a real session (tmux, this project's TUI).
LECTURE = (
    "Serverless is a cloud-native service that enables users to set up and manage their own "
    "serverless functions. It allows users to scale their cloud computing resources, such as "
    "servers, without the need for physical infrastructure. Serverless can be implemented "
    "using a variety of cloud services, including AWS, Azure, and Google Cloud Platform."
)


@pytest.mark.parametrize(
    ("task", "text", "finished", "expected"),
    [
        # A follow-up is complete at its first question; what follows is dropped.
        ("follow_up", "Fair enough. How would you size it? And the cost? Also", False, "complete"),
        ("follow_up", "How would you handle, e.g. a spike in traffic? ", False, "complete"),
        ("follow_up", "How would you handle that?", True, "complete"),
        # A request probes as well as a question does.
        ("follow_up", "Good. Walk me through what happens on the first call. ", False, "complete"),
        ("follow_up", "Now, tell me how you would pick the instance", True, "complete"),
        ("follow_up", "I see. Describing it is hard. The end", True, "astray"),
        # One sentence said and no question yet: it may still ask one.
        ("follow_up", "Interesting. Now, when traffic grows", False, "more"),
        # Two sentences and no question, or none at all when it stopped.
        ("follow_up", LECTURE, False, "astray"),
        ("follow_up", "So what would you do", True, "astray"),
        # A question too long to be one: a lecture with a question mark at the end.
        ("follow_up", "So " + "and then more " * 30 + "right?", True, "astray"),
        (
            "acknowledge",
            "Thanks for that. Let's move on. Serverless, by the way, is",
            False,
            "complete",
        ),
        ("acknowledge", "Thanks for that", True, "complete"),
        ("acknowledge", "word " * 50, False, "astray"),
        ("clarify", "Sure. I mean how the two differ in cost and control.", True, "complete"),
    ],
)
def test_reading_a_reply(task, text, finished, expected):
    progress, end = SHAPES[task].read(text, finished=finished)
    assert progress == expected
    if progress == "complete":
        assert text[end:].strip() == "" or text[:end].rstrip()[-1] in ".!?"


def test_where_a_reply_is_cut():
    follow_up, ack, clarify = SHAPES["follow_up"], SHAPES["acknowledge"], SHAPES["clarify"]
    text = "Fair enough. How would you size it? And the cost?"
    assert text[: follow_up.read(text)[1]] == "Fair enough. How would you size it?"
    text = "Thanks for that. Let's move on. Serverless, by the way, is a shared pool."
    assert text[: ack.read(text)[1]] == "Thanks for that. Let's move on."
    # Too long: the sentences that fit are kept; the abbreviation and the number end nothing.
    long = "Sure, e.g. the 3.5 GB case. It means this. " + "more " * 120
    assert long[: clarify.read(long)[1]] == "Sure, e.g. the 3.5 GB case. It means this."


def start(make_interview, hf_bank, reply: str, *, task: str = "follow_up", mode: str = "exam"):
    from interviewer.bank import Bank

    question = hf_bank.question(QID)
    bank = Bank(id="one", title="One question", questions=(question,))
    interview, model = make_interview(
        bank, [text_step(task, reply)], grader="evidence", mode=mode, max_follow_ups=1
    )
    drain(interview.start())
    return interview, model


def recorded(events, kind: str):
    return [e.turn for e in events if isinstance(e, TurnRecorded) and e.turn.kind == kind]


def test_a_follow_up_stops_at_its_question_and_only_that_is_streamed(make_interview, hf_bank):
    reply = "You mentioned a prototype. What changes once real users arrive? Also, serverless is"
    interview, model = start(make_interview, hf_bank, reply)
    closed: list[bool] = []
    stream = model.stream

    def watched(*args, **kwargs):
        inner = stream(*args, **kwargs)
        try:
            yield from inner
        finally:
            closed.append(True)

    model.stream = watched
    events = drain(interview.reply(ANSWER))
    [turn] = recorded(events, "follow_up")
    assert turn.text == "You mentioned a prototype. What changes once real users arrive?"
    streamed = "".join(e.text for e in events if isinstance(e, TokenStreamed))
    assert streamed.strip() == turn.text  # nothing after the question reached the screen
    assert closed == [True]  # the model was stopped there


def test_a_lecture_instead_of_a_follow_up_is_replaced(make_interview, hf_bank):
    interview, _ = start(make_interview, hf_bank, LECTURE)
    events = drain(interview.reply(ANSWER))
    [turn] = recorded(events, "follow_up")
    assert turn.text == FALLBACK
    streamed = "".join(e.text for e in events if isinstance(e, TokenStreamed))
    assert "Google Cloud" not in streamed  # stopped at its second sentence, before this


def test_an_acknowledgement_that_starts_teaching_is_cut(make_interview, hf_bank):
    from interviewer.bank import Bank

    question = hf_bank.question(QID)
    bank = Bank(id="two", title="Two questions", questions=(question, hf_bank.questions[1]))
    ack = "Thank you for that answer. Let's move on. Serverless is billed per token, and"
    interview, _ = make_interview(
        bank,
        [text_step("acknowledge", ack)],
        grader="evidence",
        mode="exam",
        max_follow_ups=0,
        acknowledge=True,
    )
    drain(interview.start())
    [turn] = recorded(drain(interview.reply(ANSWER)), "acknowledgement")
    assert turn.text == "Thank you for that answer. Let's move on."


def test_plain_mode_shows_the_line_that_replaced_a_lecture(make_interview, hf_bank):
    from interviewer.headless import EventPrinter

    interview, _ = start(make_interview, hf_bank, LECTURE)
    out = io.StringIO()
    printer = EventPrinter(out)
    for event in interview.reply(ANSWER):
        printer(event)
    assert f"Interviewer: {FALLBACK}" in out.getvalue()


def test_the_safe_line_is_not_said_twice_on_one_question(make_interview, hf_bank):
    from interviewer.bank import Bank

    question = hf_bank.question(QID)
    bank = Bank(id="one", title="One question", questions=(question,))
    interview, _ = make_interview(
        bank,
        [text_step("follow_up", LECTURE), text_step("follow_up", LECTURE)],
        grader="evidence",
        mode="exam",
        max_follow_ups=2,
    )
    drain(interview.start())
    [first] = recorded(drain(interview.reply(ANSWER)), "follow_up")
    [second] = recorded(drain(interview.reply("It depends on traffic.")), "follow_up")
    assert first.text == FALLBACK and second.text != first.text and second.text.endswith("?")


def test_a_follow_up_is_shown_only_once_settled(make_interview, hf_bank):
    """Word by word, the candidate would read a lecture before it is replaced: a follow-up
    arrives whole, as one chunk, whether it is the model's question or the safe line."""
    asked = "Good. What changes once real users arrive?"
    for reply, shown in [(asked + " Also,", asked), (LECTURE, FALLBACK)]:
        interview, _ = start(make_interview, hf_bank, reply)
        events = drain(interview.reply(ANSWER))
        chunks = [e.text for e in events if isinstance(e, TokenStreamed)]
        assert chunks == [shown]
        assert recorded(events, "follow_up")[0].text == shown


def test_a_reply_stuck_in_a_loop_stops_at_its_first_repeat(small_bank, make_interview):
    """SmolLM2's feedback said "I'm happy to share that." fifteen times; the engine keeps what
    came before the first repeated sentence and stops the model there."""
    from tests.helpers import grade_step

    alpha, _ = small_bank.questions
    loop = "Good start. I'm happy to share that. " + "I'm happy to share that. " * 14
    interview, _ = make_interview(
        small_bank,
        [grade_step(alpha, {"apple": "covered"}), text_step("feedback", loop)],
        mode="practice",
        max_follow_ups=0,
    )
    drain(interview.start())
    [card] = recorded(drain(interview.reply("apple")), "feedback")
    assert card.text.count("happy to share") == 1
    assert "Good start. I'm happy to share that." in card.text


def test_first_repeat():
    from interviewer.engine.shape import first_repeat

    text = "It is one thing. Two, e.g. this. It is one thing! Three"
    assert text[: first_repeat(text)] == "It is one thing. Two, e.g. this."
    assert first_repeat("It is one thing. Two. It is one thing") is None  # not ended yet
    assert first_repeat("Yes, e.g. now. Yes, e.g. later. ") is None
    assert first_repeat("Good. You covered the billing model. Good. Now the rest. ") is None
