"""Telling requests from answers, and answers that need no grader."""

from __future__ import annotations

import pytest

from interviewer.engine.intents import classify_reply
from interviewer.engine.prefilter import prefilter


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("/repeat", "repeat"),
        ("/R", "repeat"),
        ("can you repeat the question?", "repeat"),
        ("Sorry, could you say that again please?", "repeat"),
        ("what was the question again?", "repeat"),
        ("/clarify", "clarify"),
        ("What do you mean?", "clarify"),
        ("Could you rephrase that?", "clarify"),
        ("I don't understand the question", "clarify"),
        ("/skip", "skip"),
        ("skip", "skip"),
        ("Can we skip this one?", "skip"),
        ("next question please", "skip"),
        ("/end", "end"),
        ("I'm done.", "end"),
        ("let's stop here", "end"),
        ("end the interview", "end"),
        # answers that merely mention the words stay answers
        ("You skip the download with streaming=True.", "answer"),
        ("I would repeat the evaluation on my own data", "answer"),
        ("What do you mean by endpoint? I think it is dedicated compute...", "answer"),
        ("It uses NF4.", "answer"),
        ("/unknown-command", "answer"),
        ("", "answer"),
    ],
)
def test_classify_reply(text, intent):
    assert classify_reply(text) == intent


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("  \n\t", "empty"),
        ("I don't know", "dont_know"),
        ("I dont know.", "dont_know"),
        ("i do not know the answer", "dont_know"),
        ("idk", "dont_know"),
        ("Honestly, I have no idea.", "dont_know"),
        ("no clue", "dont_know"),
        ("I\u2019m not sure", "dont_know"),
        ("I can't remember", "dont_know"),
        ("?", "dont_know"),
        ("I'm not sure, but I think it quantizes weights to NF4.", None),
        ("I don't know the exact number, but it's about a 4x saving.", None),
        ("NF4", None),
    ],
)
def test_prefilter(text, reason):
    assert prefilter(text) == reason
