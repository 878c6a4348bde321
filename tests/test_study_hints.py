"""What to study, in the candidate's own words: for a missed key point, the sentence of the
answer that came closest (from the evidence signal, verbatim) and the point's facts it lacks,
on the feedback card and in the reports; nothing when nothing came close."""

from __future__ import annotations

from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.feedback import feedback_markdown
from interviewer.engine.grading import LLMGrader, score_verdicts
from interviewer.llm.scripted import ScriptedModel
from interviewer.report import render
from interviewer.transcript import Grade, QuestionResult
from tests.helpers import grade_step

ANSWER = (
    "I format the chat messages with the tokenizer. Then the model has to know that it should "
    "speak next, so I add something at the end. Building the string by hand is fine for most "
    "models."
)


def test_a_missed_point_shows_what_came_closest_and_what_it_lacks(embedder, hf_bank, prompts):
    question = hf_bank.question("apply-chat-template")
    verdicts = EvidenceGrader(embedder).grade(question, [ANSWER])
    by_id = {v.key_point_id: v for v in verdicts}
    ships = by_id["template-ships-with-tokenizer"]
    assert ships.verdict == "missing"
    assert ships.closest == "I format the chat messages with the tokenizer."  # verbatim
    point = question.key_point("template-ships-with-tokenizer")
    assert ships.lacking and set(ships.lacking) <= set(point.facts)  # the bank's own words
    assert by_id["silent-failure"].closest == ""  # nothing came close: nothing is made up
    assert all(v.closest in ANSWER for v in verdicts)

    # Whoever judges the point missed, the hint comes from the evidence signal.
    model = ScriptedModel([grade_step(question, {})])
    llm = LLMGrader(model, prompts, quotes=EvidenceGrader(embedder)).grade(question, [ANSWER])
    assert {v.key_point_id: v.closest for v in llm} == {v.key_point_id: v.closest for v in verdicts}

    grade = Grade(key_points=verdicts, score=score_verdicts(question, verdicts), grader="evidence")
    result = QuestionResult(
        question_id=question.id,
        title=question.title,
        rubric_hash=question.rubric_hash,
        status="answered",
        answers=[ANSWER],
        grade=grade,
        score=grade.score,
    )
    card = feedback_markdown(question, result, "")
    assert 'closest you came: "I format the chat messages with the tokenizer."; it lacks: ' in card
    assert "chat\\_template.jinja" in card  # a lacking fact, escaped (literal)


def test_the_reports_show_the_hint(embedder, hf_bank):
    from interviewer.engine import Interview
    from interviewer.transcript import InterviewSettings

    interview = Interview(
        hf_bank, ScriptedModel(), EvidenceGrader(embedder), InterviewSettings(max_follow_ups=0)
    )
    list(interview.start())
    list(interview.reply("/skip"))
    list(interview.reply(ANSWER))
    list(interview.end())
    transcript = interview.transcript
    md = render(transcript, hf_bank, "md")
    assert "Closest you came: “I format the chat messages with the tokenizer.”" in md
    assert "It lacks: " in md
    html = render(transcript, hf_bank, "html")
    assert 'class="study">Closest you came: “<span class="text">I format the chat messages' in html
