"""One interviewer turn written by the model: the rules it must respect, and the reading of
its reply as it streams.

The model's reply is read chunk by chunk: a reply that starts reciting its instructions (or
naming the key point it probes) is stopped and replaced by a safe line; one that has its shape
(engine/shape.py) ends there, the model stopped; one stuck in a loop keeps what came before.
A model failure becomes a ``ModelFailed`` event, never a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass

from interviewer.bank.models import KeyPoint, Question
from interviewer.engine.events import Event, ModelFailed, TokenStreamed, TurnStarted
from interviewer.engine.leaks import LeakGuard
from interviewer.engine.questions import QuestionState
from interviewer.engine.shape import SHAPES, ReplyShape, first_repeat
from interviewer.llm.base import (
    ChatMessage,
    ChatModel,
    GenerationCancelled,
    GenerationOptions,
    ModelError,
    ModelUnavailable,
    Purpose,
    Reply,
)
from interviewer.prompts import InterviewerTask, PromptLibrary
from interviewer.textutil import finish_at_sentence
from interviewer.transcript import Turn, TurnKind


@dataclass(frozen=True)
class ReplyRules:
    """What an interviewer turn must respect: its secrets (``guard``), its ``shape``, and the
    safe line said instead of a reply that breaks them."""

    guard: LeakGuard
    shape: ReplyShape
    fallback: str

    @classmethod
    def for_turn(
        cls,
        task: InterviewerTask,
        instructions: str,
        question: Question,
        bank_title: str,
        history: Sequence[Turn],
        key_point: KeyPoint | None,
        questions: Sequence[str] = (),
    ) -> ReplyRules:
        """The rules of a ``task`` turn on ``question``, whose conversation so far is
        ``history``: ``instructions`` (the system prompt and the turn's task) and the probed
        point stay secret, unless the conversation or the bank's questions already say them."""
        guard = LeakGuard(
            instructions,
            point=[key_point.statement] if key_point is not None else [],
            allowed=[
                question.question,
                *questions,
                bank_title,
                *question.follow_up_angles,
                *(t.text for t in history),
            ],
        )
        return cls(guard, SHAPES[task], safe_reply(task, question, (t.text for t in history)))


PERSONA_LEAVES_OUT: frozenset[TurnKind] = frozenset({"feedback", "summary"})
"""Turns the interviewer's prompt never holds: the feedback cards hold reference answers."""

HISTORY_BUDGET = 16_000
"""Characters of conversation the interviewer's prompt holds at most (about 4,000 tokens):
beyond it, the earliest questions' exchanges are left out, whole questions at a time, so the
prompt's prefix changes only when one more question drops out."""


def persona_history(turns: Sequence[Turn], budget: int = HISTORY_BUDGET) -> list[Turn]:
    """The interview's conversation as the interviewer's prompt holds it: every turn said so
    far but the feedback cards, from the earliest question that keeps it within ``budget``."""
    kept = [t for t in turns if t.kind not in PERSONA_LEAVES_OUT]
    size = sum(len(t.text) for t in kept)
    if size <= budget:
        return kept
    for index, turn in enumerate(kept):
        if index and turn.kind == "question" and size <= budget:
            return kept[index:]
        size -= len(turn.text)
    starts = [i for i, t in enumerate(kept) if t.kind == "question"]
    return kept[starts[-1] :] if starts else kept


_SAFE_FOLLOW_UPS = (
    "Could you go a little deeper there? What else would you take into account?",
    "What trade-offs would you weigh there, and why?",
    "Can you walk me through how that works in practice, step by step?",
)


def safe_reply(task: InterviewerTask, question: Question, said: Iterable[str] = ()) -> str:
    """What the interviewer says instead of a reply that leaked its instructions or went
    astray: open, about nothing in particular, and not a line already said on this question
    while another is left."""
    if task == "follow_up":
        used = set(said)
        return next((q for q in _SAFE_FOLLOW_UPS if q not in used), _SAFE_FOLLOW_UPS[0])
    if task == "clarify":
        return (
            "Let me put it simply: I'd like to hear how you would approach this in practice, "
            f"step by step. Here is the question again: {question.question}"
        )
    return "Thank you. Let's move on."


def interviewer_turn(
    model: ChatModel,
    prompts: PromptLibrary,
    task: InterviewerTask,
    kind: TurnKind,
    qs: QuestionState,
    cancel: threading.Event | None,
    *,
    bank_title: str,
    question_count: int,
    history: Sequence[Turn],
    key_point: KeyPoint | None,
    max_new_tokens: int,
    questions: Sequence[str] = (),
) -> Generator[Event, None, str | None]:
    """Stream an interviewer turn written by the model on ``qs`` (``history``: the interview's
    conversation so far, as the persona reads it; ``questions``: the bank's); return its text
    (None if it failed)."""
    messages = prompts.interviewer_messages(
        task,
        bank_title=bank_title,
        question=qs.question,
        question_number=qs.number,
        question_count=question_count,
        history=list(history),
        key_point=key_point,
        questions=questions,
    )
    task_block = prompts.interviewer_task(
        task,
        question=qs.question,
        question_number=qs.number,
        question_count=question_count,
        key_point=key_point,
    )
    rules = ReplyRules.for_turn(
        task,
        f"{messages[0].content}\n{task_block}",
        qs.question,
        bank_title,
        history,
        key_point,
        questions,
    )
    return (
        yield from generate(
            model,
            task,
            messages,
            qs.question.id,
            cancel,
            max_new_tokens=max_new_tokens,
            stream_kind=kind,
            rules=rules,
        )
    )


def generate(
    model: ChatModel,
    purpose: Purpose,
    messages: list[ChatMessage],
    question_id: str,
    cancel: threading.Event | None,
    *,
    max_new_tokens: int,
    stream_kind: TurnKind | None,
    rules: ReplyRules | None = None,
) -> Generator[Event, None, str | None]:
    """Run one text generation; a model failure becomes a ModelFailed event, not a crash.

    With ``rules``, a reply that starts reciting its instructions (or naming the key point
    it probes) is stopped there and the safe line is said instead; the model is stopped as
    soon as the turn has its shape (only what is kept is streamed), and a reply that goes
    astray is replaced too. A shape that holds its turn back (a follow-up) streams nothing
    until the turn is settled, then all of it: the candidate never reads a lecture that is
    about to be replaced."""
    held = stream_kind is not None and rules is not None and rules.shape.hold
    if stream_kind is not None:
        yield TurnStarted(kind=stream_kind, question_id=question_id, held=held)
    options = GenerationOptions(purpose=purpose, max_new_tokens=max_new_tokens)
    live = stream_kind is not None and not held
    text = yield from read_reply(model, messages, options, question_id, cancel, live, rules)
    if held and text is not None:
        yield TokenStreamed(text=text)
    return text


def read_reply(
    model: ChatModel,
    messages: list[ChatMessage],
    options: GenerationOptions,
    question_id: str,
    cancel: threading.Event | None,
    live: bool,
    rules: ReplyRules | None,
) -> Generator[Event, None, str | None]:
    """The body of :func:`generate`: streams chunks when ``live``."""
    purpose = options.purpose
    guard, shape = (rules.guard, rules.shape) if rules is not None else (None, None)
    fallback = rules.fallback if rules is not None else ""
    reply = Reply.of(model.stream(messages, options, cancel))
    so_far = ""
    try:
        for chunk in reply:
            shown = len(so_far)
            so_far += chunk
            if guard is not None and guard.leaks_at_end(so_far):
                return fallback
            cut = first_repeat(so_far)  # stuck in a loop: keep what came before it
            if shape is not None:
                progress, end = shape.read(so_far[:cut])
                if progress == "astray":
                    return fallback
                if progress == "complete":
                    cut = end
            if cut is not None:  # the turn ends here: the model stops (finally below)
                so_far, chunk = so_far[:cut], so_far[shown:cut]
            if live and chunk:
                yield TokenStreamed(text=chunk)
            if cut is not None:
                break
    except (GenerationCancelled, ModelUnavailable):  # the interview stops here
        raise
    except ModelError as exc:
        yield ModelFailed(question_id=question_id, purpose=purpose, message=exc.describe())
        return None
    finally:
        reply.close()  # a reply stopped early stops generating now
    text = so_far.strip()
    if not text:
        yield ModelFailed(
            question_id=question_id, purpose=purpose, message="the model returned no text"
        )
        return None
    if shape is not None:
        progress, end = shape.read(text, finished=True)
        if progress != "complete":
            return fallback
        text = text[:end].strip()
    if reply.usage is not None and reply.usage.budget_exhausted:
        text = finish_at_sentence(text)  # it ran out of tokens mid-sentence
    return text
