"""Render the Jinja templates of ``prompts/`` into chat messages.

This is the only module that turns templates into prompts. It produces role/content messages;
the backend applies the model's own chat template, so no model-specific string is built here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import jinja2

from interviewer.bank.models import KeyPoint, Question
from interviewer.llm.base import ChatMessage
from interviewer.resources import resource_dir
from interviewer.transcript import KeyPointGrade, Turn

InterviewerTask = Literal["acknowledge", "follow_up", "clarify"]

_OPENING_REQUEST = "I'm ready. Please ask me the question."
"""Chat templates such as Mistral's require the conversation to open with a user turn."""

_TAG_LIKE = re.compile(r"<(/?\s*candidate_answer)", re.IGNORECASE)


_TASK_TAG = re.compile(r"<(/?\s*interviewer_task)", re.IGNORECASE)


def neutralize_task_tags(text: str) -> str:
    """Stop candidate text from opening or closing the block that holds the interviewer's task
    (it shares the candidate's last message)."""
    return _TASK_TAG.sub(r"&lt;\1", text)


def neutralize_delimiters(text: str) -> str:
    """Stop candidate text from closing or opening the tags that fence it in the grader prompt."""
    return _TAG_LIKE.sub(r"&lt;\1", text)


class PromptLibrary:
    """The prompt templates, loaded from ``prompts/`` (or another folder with the same names)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or resource_dir("prompts")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.directory),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **context: Any) -> str:
        return self._env.get_template(f"{name}.jinja").render(**context).strip()

    def greeting(
        self, *, bank_title: str, question_count: int, mode: str, max_follow_ups: int
    ) -> str:
        return self.render(
            "greeting",
            bank_title=bank_title,
            question_count=question_count,
            mode=mode,
            max_follow_ups=max_follow_ups,
        )

    def summary(
        self,
        *,
        score: float,
        question_count: int,
        answered: int,
        skipped: int,
        not_reached: int,
        ended_early: bool,
    ) -> str:
        return self.render(
            "summary",
            score=score,
            question_count=question_count,
            answered=answered,
            skipped=skipped,
            not_reached=not_reached,
            ended_early=ended_early,
        )

    def interviewer_system(self, *, bank_title: str, questions: Sequence[str]) -> str:
        """The interviewer's one system prompt for the whole interview (persona, rules, the
        bank's questions): every interviewer turn starts with it, so a prompt cache reuses it."""
        return self.render("interviewer_persona", bank_title=bank_title, questions=questions)

    def interviewer_task(
        self,
        task: InterviewerTask,
        *,
        question: Question,
        question_number: int,
        question_count: int,
        key_point: KeyPoint | None = None,
    ) -> str:
        """What this turn asks of the interviewer (the current question, the task, the point a
        follow-up probes): the block at the end of the prompt's last message."""
        if task == "follow_up" and key_point is None:
            raise ValueError("a follow-up needs the key point it probes")
        return self.render(
            task,
            question=question,
            question_number=question_number,
            question_count=question_count,
            key_point=key_point,
            angles=question.follow_up_angles,
        )

    def interviewer_messages(
        self,
        task: InterviewerTask,
        *,
        bank_title: str,
        question: Question,
        question_number: int,
        question_count: int,
        history: Sequence[Turn],
        key_point: KeyPoint | None = None,
        questions: Sequence[str] = (),
    ) -> list[ChatMessage]:
        """The interview's system prompt, the conversation so far (``history``), and this
        turn's task in a fenced block at the end of the last message.

        Consecutive turns share everything up to the candidate's latest words: the system
        prompt names every question of the bank (``questions``; default: only ``question``),
        and what changes per turn comes last. The task block is fenced in
        ``<interviewer_task>`` tags that the candidate's own text cannot open or close.
        """
        block = self.interviewer_task(
            task,
            question=question,
            question_number=question_number,
            question_count=question_count,
            key_point=key_point,
        )
        system = self.interviewer_system(
            bank_title=bank_title, questions=list(questions) or [question.question]
        )
        conversation: list[tuple[Literal["user", "assistant"], str]] = [("user", _OPENING_REQUEST)]
        for turn in history:
            role: Literal["user", "assistant"] = (
                "assistant" if turn.role == "interviewer" else "user"
            )
            text = turn.text if role == "assistant" else neutralize_task_tags(turn.text)
            if conversation[-1][0] == role:
                conversation[-1] = (role, f"{conversation[-1][1]}\n\n{text}")
            else:
                conversation.append((role, text))
        fenced = f"<interviewer_task>\n{block}\n</interviewer_task>"
        if conversation[-1][0] == "user":
            conversation[-1] = ("user", f"{conversation[-1][1]}\n\n{fenced}")
        else:
            conversation.append(("user", fenced))
        return [ChatMessage(role="system", content=system)] + [
            ChatMessage(role=role, content=text) for role, text in conversation
        ]

    def grader_messages(
        self,
        question: Question,
        answers: Sequence[str],
        *,
        rationale_max: int = 120,
        evidence_max: int = 100,
    ) -> list[ChatMessage]:
        """A fresh context for the grader: no persona, the candidate's text fenced as data."""
        system = self.render(
            "grader_system", rationale_max=rationale_max, evidence_max=evidence_max
        )
        return [
            ChatMessage(role="system", content=system),
            ChatMessage(
                role="user",
                content=self.render(
                    "grader_user",
                    question=question,
                    answers=[neutralize_delimiters(a) for a in answers],
                ),
            ),
        ]

    def draft_messages(
        self,
        question: str,
        answer: str,
        *,
        min_points: int = 3,
        max_points: int = 8,
        statement_max: int = 160,
        max_misconceptions: int = 3,
        max_angles: int = 4,
    ) -> list[ChatMessage]:
        """Ask for a rubric drafted from a question and the answer in a person's notes (``bank
        import --model``), in a fresh context; the answer is fenced as data."""
        system = self.render(
            "draft_system",
            min_points=min_points,
            max_points=max_points,
            statement_max=statement_max,
            max_misconceptions=max_misconceptions,
            max_angles=max_angles,
        )
        fenced = re.sub(r"<(/?\s*answer)", r"&lt;\1", answer, flags=re.IGNORECASE)
        return [
            ChatMessage(role="system", content=system),
            ChatMessage(
                role="user", content=self.render("draft_user", question=question, answer=fenced)
            ),
        ]

    def feedback_messages(
        self, question: Question, verdicts: Sequence[KeyPointGrade]
    ) -> list[ChatMessage]:
        graded = [
            {"verdict": v.verdict, "statement": question.key_point(v.key_point_id).statement}
            for v in verdicts
        ]
        return [
            ChatMessage(
                role="system",
                content=self.render("feedback", question=question, graded=graded),
            ),
            ChatMessage(role="user", content="Please give me my feedback on this question."),
        ]
