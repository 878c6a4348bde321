"""Retakes (/retry in practice mode): a fresh attempt at a question after its feedback, graded on
its own replies, shown against the attempt before it, never counted in the score; kept in the
transcript (schema 2) and every report, and resumable from any rest in the middle of one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.engine import EvidenceGrader, Interview
from interviewer.engine.events import (
    AwaitingReply,
    Event,
    FeedbackGiven,
    InterviewFinished,
    QuestionAsked,
    TurnRecorded,
)
from interviewer.engine.intents import classify_reply
from interviewer.llm.scripted import ScriptedModel
from interviewer.report import render
from interviewer.resources import default_bank_dir
from interviewer.session.recorder import SessionRecorder
from interviewer.session.running import resume_session
from interviewer.store import SessionStore
from interviewer.transcript import (
    SCHEMA_VERSION,
    InterviewSettings,
    Transcript,
    parse_transcript,
    transcript_json_schema,
)
from tests.helpers import FixedClock

FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"


def evidence_interview(bank: Any, session_id: str = "s1", **settings: Any) -> Interview:
    return Interview(
        bank,
        ScriptedModel(),
        EvidenceGrader(),
        InterviewSettings(**settings),
        clock=FixedClock(),
        session_id=session_id,
    )


def play(interview: Interview, replies: list[str]) -> list[Event]:
    events = list(interview.start())
    for text in replies:
        if interview.state != "awaiting_reply":
            break
        events += interview.reply(text)
    return events


def test_retry_phrasings():
    for text in ["/retry", "/retake", "retry", "try again", "Can I try that again?"]:
        assert classify_reply(text) == "retry", text
    assert classify_reply("I would retry the request with backoff.") == "answer"


def test_a_retake_after_the_feedback_is_graded_on_its_own_and_never_raises_the_score(small_bank):
    interview = evidence_interview(small_bank, max_follow_ups=0)
    events = play(interview, ["apple apple-extra, and banana"])
    offered = [e for e in events if isinstance(e, AwaitingReply)][-1]
    assert offered.question_id == "beta" and offered.retry_of == "alpha"
    first = interview.transcript.results[0]
    assert first.score == 0.625  # apple (2) covered, banana (1) partial, cherry missed

    events = list(interview.reply("/retry"))
    retry = events[0]
    assert isinstance(retry, TurnRecorded) and retry.turn.kind == "retry_request"
    assert retry.turn.question_id == "alpha"  # recorded on the question it retakes
    asked = next(e for e in events if isinstance(e, QuestionAsked))
    assert (asked.question_id, asked.retake) == ("alpha", 1)
    assert events[-1] == AwaitingReply(question_id="alpha", follow_up=False, retry_of=None)

    # The retake covers cherry and nothing else: it earns exactly that, with no carry-over.
    events = list(interview.reply("cherry cherry-extra"))
    card = next(
        e.turn.text for e in events if isinstance(e, TurnRecorded) and e.turn.kind == "feedback"
    )
    assert "**This retake: 62% → 25%**" in card
    assert '- missed → **covered**: Statement of cherry. (you said: "cherry cherry-extra")' in card
    assert "- covered → **missed**: Statement of apple." in card
    assert "keeps the first answer's score" in card
    back = [e for e in events if isinstance(e, TurnRecorded) and e.turn.kind == "question"]
    assert back[-1].turn.question_id == "beta" and back[-1].turn.text.startswith(
        "Back to question 2:"
    )
    assert isinstance(events[-1], AwaitingReply) and events[-1].retry_of == "alpha"

    result = interview.transcript.results[0]
    retake = result.retakes[0]
    assert result.score == first.score == 0.625  # the question keeps the first answer's score
    assert retake.score == 0.25 and retake.answers == ["cherry cherry-extra"]
    assert {v.key_point_id: v.verdict for v in retake.grade.key_points} == {
        "apple": "missing",
        "banana": "missing",
        "cherry": "covered",
    }
    list(interview.reply("/skip"))
    final = interview.transcript
    assert final.status == "finished"
    assert final.score == round((0.625 + 0.0) / 2, 4)  # the first answers only


def test_a_retry_during_a_question_closes_it_with_its_card_first(small_bank):
    interview = evidence_interview(small_bank, max_follow_ups=1)
    play(interview, ["banana banana-extra"])  # a follow-up on apple follows
    events = list(interview.reply("/retry"))
    kinds = [e.turn.kind for e in events if isinstance(e, TurnRecorded)]
    assert kinds == ["retry_request", "feedback", "question"]
    assert any(isinstance(e, FeedbackGiven) for e in events)
    list(interview.reply("apple apple-extra banana banana-extra cherry cherry-extra"))
    result = interview.transcript.results[0]
    assert result.score == 0.25 and result.retakes[0].score == 1.0
    assert interview.current_question is not None and interview.current_question.id == "beta"


def test_a_retry_is_refused_in_an_exam_and_before_anything_was_answered(small_bank):
    exam = evidence_interview(small_bank, mode="exam", max_follow_ups=0)
    play(exam, ["apple apple-extra"])
    events = list(exam.reply("/retry"))
    said = [
        e.turn.text for e in events if isinstance(e, TurnRecorded) and e.turn.role == "interviewer"
    ]
    assert len(said) == 1 and "retakes are for practice mode" in said[0]
    assert all(e.retry_of is None for e in events if isinstance(e, AwaitingReply))
    practice = evidence_interview(small_bank)
    list(practice.start())
    events = list(practice.reply("/retry"))
    assert "nothing to try again yet" in events[1].turn.text  # type: ignore[union-attr]
    assert not practice.transcript.results[0].retakes


REPLIES = [
    "banana banana-extra",  # a follow-up on apple
    "/retry",  # the attempt closes with its card; a retake is asked
    "apple apple-extra",  # the retake: a follow-up (banana or cherry)
    "",  # nothing more: its card, then beta
    "delta delta-extra echo echo-extra",  # beta covered: its card, the end
]


@pytest.mark.parametrize("crash_at", range(9))
def test_resuming_in_the_middle_of_a_retake(tmp_path, small_bank, crash_at):
    """Crash after the n-th checkpointing event (the /retry pending, the retake waiting for its
    answer or its follow-up, ...), resume, finish: the same transcript as without a crash."""
    store = SessionStore(tmp_path / "sessions.db")
    reference = evidence_interview(small_bank, session_id="ref", max_follow_ups=1)
    play(reference, REPLIES)
    expected = reference.transcript

    interview = evidence_interview(small_bank, session_id="crash", max_follow_ups=1)
    recorder = SessionRecorder(store, interview)
    checkpoints = 0

    def drive(events: Any) -> None:
        nonlocal checkpoints
        for event in events:
            recorder(event)
            at_rest = isinstance(event, AwaitingReply) or (
                isinstance(event, TurnRecorded) and event.turn.role == "candidate"
            )
            checkpoints += at_rest
            if checkpoints > crash_at:
                return  # the process dies here

    replies = iter(REPLIES)
    drive(interview.start())
    while checkpoints <= crash_at:
        drive(interview.reply(next(replies)))
    recorder.close()

    resumed, recorder = resume_session(
        store, "crash", small_bank, ScriptedModel(), EvidenceGrader()
    )
    given = sum(t.role == "candidate" for t in resumed.turns)
    rest = iter(REPLIES[given:])
    for event in resumed.resume():
        recorder(event)
    while resumed.state == "awaiting_reply":
        for event in resumed.reply(next(rest)):
            recorder(event)
            last = event
    assert isinstance(last, InterviewFinished)
    final = store.load_transcript("crash")
    assert [r.model_dump(exclude={"feedback"}) for r in final.results] == [
        r.model_dump(exclude={"feedback"}) for r in expected.results
    ]
    # (the demo model's phrasings rotate per model, so a resumed one words its turns afresh)
    assert [(t.role, t.kind, t.question_id) for t in final.turns] == [
        (t.role, t.kind, t.question_id) for t in expected.turns
    ]
    assert [t.text for t in final.turns if t.role == "candidate"] == REPLIES
    assert final.results[0].retakes and store.turns("crash") == final.turns
    recorder.close()
    store.close()


def test_headless_retry_and_the_transcript_in_every_format(tmp_path):
    answers = tmp_path / "answers.json"
    # The first question's answer covers what the demo's evidence signal can see, so no
    # follow-up comes: the /retry is the first reply after its feedback.
    answers.write_text(
        json.dumps(
            {
                "answers": {
                    "apply-chat-template": [
                        "It renders the messages with the Jinja template; add_generation_prompt "
                        "opens the assistant turn.",
                        "/retry",
                        "The chat template ships with the tokenizer in tokenizer_config.json.",
                    ]
                }
            }
        )
    )
    export = tmp_path / "t.json"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--headless",
            "--backend",
            "scripted",
            "--max-follow-ups",
            "0",
            "--answers",
            str(answers),
            "--export",
            str(export),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "=== Question 2/6: Chat templates (retake 1) ===" in result.output
    assert "This retake:" in result.output
    data = json.loads(export.read_text())
    jsonschema.validate(data, transcript_json_schema())
    assert data["schema_version"] == SCHEMA_VERSION == 2
    transcript = Transcript.model_validate(data)
    result_q = transcript.results[1]
    assert len(result_q.retakes) == 1 and result_q.retakes[0].answers[0].startswith("The chat")
    retry_turns = [t for t in transcript.turns if t.kind == "retry_request"]
    assert [t.question_id for t in retry_turns] == ["apply-chat-template"]

    from interviewer.bank import load_bank

    bank = load_bank(default_bank_dir())
    md = render(transcript, bank, "md")
    assert "### Retake 1:" in md and "#### What changed" in md
    assert "tokenizer\\_config.json" in md  # the retake's answer, literal
    html = render(transcript, bank, "html")
    assert '<div class="retake">' in html and "Retake 1:" in html
    assert parse_transcript(render(transcript, bank, "json"), "again") == transcript


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("v*.json")), ids=lambda p: p.name)
def test_older_transcripts_load_and_export(path):
    from interviewer.bank import load_bank

    transcript = parse_transcript(path.read_text(encoding="utf-8"), str(path))
    assert transcript.schema_version == SCHEMA_VERSION  # read as the current version
    retakes = any(r.retakes for r in transcript.results)
    assert retakes == path.name.startswith("v2-")  # version 1 had none
    again = json.loads(render(transcript, None, "json"))
    jsonschema.validate(again, transcript_json_schema())
    bank = load_bank(default_bank_dir())
    for fmt in ("md", "html"):
        assert render(transcript, bank, fmt)  # type: ignore[arg-type]
