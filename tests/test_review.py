"""Practice over time: the spaced-repetition memory (fsrs), review sessions and the study plan,
driven through the session layer with real stores over a fake clock (the demo model, the
model-free evidence grader on keywords: every verdict below follows from the words used)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from interviewer.cli import cli
from interviewer.config import Settings
from interviewer.engine.events import Event, FollowUpAsked, QuestionAsked
from interviewer.headless import scripted_replies
from interviewer.review import (
    PointReview,
    due_questions,
    rebuild,
    replay,
    study_plan,
)
from interviewer.review.memory import Memory, load_memory
from interviewer.session.errors import SessionError
from interviewer.session.plan import plan_interview, plan_regrade
from interviewer.session.review import (
    ReviewRequest,
    plan_review,
    review_memory,
    sessions_with_banks,
)
from interviewer.session.running import open_session, run_regrade
from interviewer.session.stores import open_store
from interviewer.store import SessionStore

BANK_DIR = Path(__file__).parent / "fixtures" / "small-bank"
BANK_ID = "small-test-bank"
DAY0 = datetime(2021, 3, 1, 9, 0, tzinfo=UTC)  # long ago: what is due then is due now

# Keyword answers: two keywords of a point cover it, one is partial, none is missing.
SHARED = "Serverless is a shared pool, while an endpoint is dedicated to one model."
BILLING = "It bills per request, and an endpoint per hour."
BILLING_HALF = "It bills per request."
RENDERS = "It turns the messages into the model's template format."
BOTH_TEMPLATE = RENDERS + " add_generation_prompt=True opens the assistant turn."


class Clock:
    """The interview's clock: a second per call, days set by the test."""

    def __init__(self) -> None:
        self.now = DAY0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def day(self, n: float) -> datetime:
        self.now = DAY0 + timedelta(days=n)
        return self.now


def demo(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "backend": "scripted",
        "grader": "evidence",
        "bank": BANK_DIR,
        "max_follow_ups": 0,
    }
    return Settings(**(base | overrides))


def take(plan: Any, answers: dict[str, list[str]], clock: Clock) -> list[Event]:
    session = open_session(plan, on_status=lambda _: None, clock=clock)
    events: list[Event] = []
    session.run(scripted_replies(answers), events.append)
    return events


def point(memory: Memory, question: str, key_point: str) -> Any:
    found = memory.get(BANK_ID, question, key_point)
    assert found is not None, (question, key_point)
    return found


def interval(memory: Memory, question: str, key_point: str) -> float:
    return point(memory, question, key_point).interval / timedelta(days=1)


def test_three_sessions_over_a_fake_clock():
    clock = Clock()
    settings = demo()
    store = open_store(settings)

    # Day 0: the whole interview. Shared covered, billing missed, the template question skipped.
    clock.day(0)
    take(plan_interview(settings, store), {"serverless-vs-dedicated": [SHARED]}, clock)
    memory = review_memory(settings, store)
    first = {
        kp: interval(memory, q, kp)
        for q, kp in [
            ("serverless-vs-dedicated", "shared-vs-dedicated"),
            ("serverless-vs-dedicated", "billing"),
            ("chat-template-basics", "renders-messages"),
            ("chat-template-basics", "generation-prompt"),
        ]
    }
    assert first["shared-vs-dedicated"] > first["billing"]  # covered waits longer than missed
    assert first["renders-messages"] == first["generation-prompt"] == first["billing"]  # skipped
    assert point(memory, "chat-template-basics", "renders-messages").misses == 1

    # Day 1: nothing covered is due yet; the review asks both questions, the one with more
    # points due first, each with its due points as the focus.
    now = clock.day(1) + timedelta(minutes=5)
    due = due_questions(memory, plan_interview(settings, None).bank, now)
    assert [d.question.id for d in due] == ["chat-template-basics", "serverless-vs-dedicated"]
    review = plan_review(demo(max_follow_ups=1), store, now=now)
    assert review.bank.question_ids == ["chat-template-basics", "serverless-vs-dedicated"]
    assert review.focus == {
        "chat-template-basics": ["generation-prompt", "renders-messages"],
        "serverless-vs-dedicated": ["billing"],
    }
    events = take(
        review,
        {
            "chat-template-basics": [RENDERS, ""],
            # shared (heavier, not due) and billing (due) both fall short: the one follow-up
            # goes to billing, the point due that was missed again.
            "serverless-vs-dedicated": [BILLING_HALF, BILLING],
        },
        clock,
    )
    probes = {e.question_id: e.key_point_id for e in events if isinstance(e, FollowUpAsked)}
    assert probes == {
        "chat-template-basics": "generation-prompt",
        "serverless-vs-dedicated": "billing",
    }
    memory = review_memory(settings, store)
    second = {kp: interval(memory, q, kp) for (_, q, kp) in memory.points}
    assert second["billing"] > first["billing"]  # missed, then covered: the interval grows
    assert second["renders-messages"] > first["renders-messages"]
    assert second["shared-vs-dedicated"] < first["shared-vs-dedicated"]  # covered, then missed
    assert second["generation-prompt"] <= first["generation-prompt"]  # missed twice

    # Day 3: everything is due again; covered across the board, every interval grows.
    now = clock.day(3) + timedelta(hours=1)
    review = plan_review(demo(), store, now=now)
    assert sorted(review.bank.question_ids) == ["chat-template-basics", "serverless-vs-dedicated"]
    take(
        review,
        {
            "serverless-vs-dedicated": [SHARED + " " + BILLING],
            "chat-template-basics": [BOTH_TEMPLATE],
        },
        clock,
    )
    before = memory
    memory = review_memory(settings, store)
    third = {kp: interval(memory, q, kp) for (_, q, kp) in memory.points}
    assert all(p.last_verdict == "covered" for p in memory.points.values())
    # Every interval grows, except that a point missed twice stays at the one-day minimum
    # while its stability (what the next interval grows from) still rises.
    assert {kp for kp in third if third[kp] > second[kp]} == {
        "billing",
        "renders-messages",
        "shared-vs-dedicated",
    }, (second, third)
    assert all(
        p.card.stability > before.points[key].card.stability for key, p in memory.points.items()
    )
    assert {p.state(clock.now) for p in memory.points.values()} == {"learning"}
    assert not due_questions(memory, review.bank, clock.now)
    with pytest.raises(SessionError, match="is due"):
        plan_review(settings, store, now=clock.now)

    # The memory kept incrementally is the memory a rebuild gives.
    kept = load_memory(store)
    rebuilt = rebuild((t, b) for t, b in sessions_with_banks(settings, store, every=True))
    assert kept.same_as(rebuilt) and len(rebuilt.sessions) == 3


def test_a_plan_asks_every_missed_point_twice_before_the_date(tmp_path):
    clock = Clock()
    settings = demo()
    store = open_store(settings)
    clock.day(0)
    take(plan_interview(settings, store), {"serverless-vs-dedicated": [SHARED]}, clock)
    bank = plan_interview(settings, None).bank
    memory = review_memory(settings, store)
    until = DAY0.date() + timedelta(days=10)  # today (already practised) and nine more
    plan = study_plan(memory, bank, clock.now, until, per_day=1)
    missed = [
        ("serverless-vs-dedicated", "billing"),
        ("chat-template-basics", "renders-messages"),
        ("chat-template-basics", "generation-prompt"),
    ]
    for question, key_point in missed:
        days = plan.asks(question, key_point)
        assert len(days) >= 2 and len(set(days)) == len(days), (key_point, days)
        assert all(clock.now.date() < d < until for d in days)  # not today: just practised
        assert (days[1] - days[0]).days >= 4  # spread: the second ask half the time later
    # The covered point comes back on its due day, and the load is spread over the days.
    covered = plan.asks("serverless-vs-dedicated", "shared-vs-dedicated")
    assert (
        covered
        and covered[0] <= point(memory, "serverless-vs-dedicated", "shared-vs-dedicated").due.date()
    )
    assert plan.busiest <= 2 and sum(bool(d.questions) for d in plan.days) >= 4

    # Each day, `review --until` asks that day's share of the plan.
    first_day = next(d for d in plan.days if d.questions)
    review = plan_review(
        settings,
        store,
        ReviewRequest(until=until),
        now=datetime.combine(first_day.day, datetime.min.time(), UTC) + timedelta(hours=9),
    )
    assert review.bank.question_ids == [q.question_id for q in first_day.questions]

    # The command, on today's date (the sessions above are long past: all of it is due).
    later = (date.today() + timedelta(days=10)).isoformat()
    result = CliRunner().invoke(cli, ["plan", "--until", later, "--bank", str(BANK_DIR)])
    assert result.exit_code == 0, result.output
    assert "every missed key point asked twice" in result.output
    assert "missed: billing" in result.output


def test_a_single_day_left_asks_twice_that_day():
    reviews = [
        PointReview("s1", DAY0, BANK_ID, "serverless-vs-dedicated", "billing", "missing"),
        PointReview(
            "s1", DAY0, BANK_ID, "serverless-vs-dedicated", "shared-vs-dedicated", "covered"
        ),
    ]
    memory = replay(reviews)
    bank = plan_interview(demo(), None).bank
    plan = study_plan(memory, bank, DAY0 + timedelta(hours=1), DAY0.date() + timedelta(days=1))
    assert plan.asks("serverless-vs-dedicated", "billing") == [DAY0.date()] * 2
    assert plan.days[0].questions[0].times == 2
    with pytest.raises(ValueError, match="no day"):
        study_plan(memory, bank, DAY0, DAY0.date())


def test_review_picks_the_most_overdue_first_and_three_by_default():
    bank = plan_interview(demo(), None).bank
    # The template question fell due a day before the serverless one.
    reviews = [
        PointReview("a", DAY0, BANK_ID, "chat-template-basics", "renders-messages", "missing"),
        PointReview(
            "b", DAY0 + timedelta(days=1), BANK_ID, "serverless-vs-dedicated", "billing", "missing"
        ),
        PointReview(
            "b",
            DAY0 + timedelta(days=1),
            BANK_ID,
            "serverless-vs-dedicated",
            "shared-vs-dedicated",
            "missing",
        ),
    ]
    memory = replay(reviews)
    later = DAY0 + timedelta(days=5)
    chosen = due_questions(memory, bank, later)
    assert [d.question.id for d in chosen] == ["chat-template-basics", "serverless-vs-dedicated"]
    assert [d.question.id for d in due_questions(memory, bank, later, limit=1)] == [
        "chat-template-basics"
    ]
    assert not due_questions(memory, bank, DAY0)  # nothing is due the moment it was missed


def test_a_regrade_replaces_the_verdicts_and_an_old_database_is_rebuilt(tmp_path):
    clock = Clock()
    settings = demo()
    store = open_store(settings)
    clock.day(0)
    take(plan_interview(settings, store), {"serverless-vs-dedicated": [BILLING_HALF]}, clock)
    memory = review_memory(settings, store)
    assert point(memory, "serverless-vs-dedicated", "billing").last_verdict == "partial"

    # The stored answer regraded against a rubric where "per request" is covered outright.
    changed = tmp_path / "bank"
    changed.mkdir()
    for source in BANK_DIR.iterdir():
        (changed / source.name).write_text(
            source.read_text().replace(
                '["per request", "per hour", "hourly"]', '["bills", "request"]'
            )
        )
    run_regrade(plan_regrade(settings, store, bank_dir=changed), on_status=lambda _: None)
    memory = review_memory(settings, store)
    billing = point(memory, "serverless-vs-dedicated", "billing")
    assert billing.last_verdict == "covered" and billing.reviews == 1  # replaced, not added

    # A database from before the memory existed (its tables and migration gone) rebuilds it.
    store.close()
    db = sqlite3.connect(settings.store_path, isolation_level=None)
    db.execute("DROP TABLE review_cards")
    db.execute("DROP TABLE review_sessions")
    db.execute("DELETE FROM _migrations WHERE name = 'm004_review_memory'")
    db.close()
    reopened = SessionStore(settings.store_path)
    assert load_memory(reopened).points == {}  # migrated: empty until first read
    assert review_memory(settings, reopened).same_as(memory)
    assert load_memory(reopened).same_as(memory)  # and kept


def test_retakes_and_unfinished_sessions_are_not_reviews():
    clock = Clock()
    settings = demo(max_follow_ups=1)
    store = open_store(settings)
    clock.day(0)
    events = take(
        plan_interview(settings, store),
        # A weak answer, a retake that covers everything: the memory keeps the first answer.
        {"serverless-vs-dedicated": [BILLING_HALF, "/retry", SHARED + " " + BILLING, ""]},
        clock,
    )
    assert any(isinstance(e, QuestionAsked) and e.retake == 1 for e in events)
    memory = review_memory(settings, store)
    assert point(memory, "serverless-vs-dedicated", "billing").last_verdict == "partial"
    assert point(memory, "serverless-vs-dedicated", "shared-vs-dedicated").reviews == 1

    session = open_session(plan_interview(settings, store), on_status=lambda _: None, clock=clock)
    list(session.begin())
    list(session.reply(SHARED))  # never finished
    assert review_memory(settings, store).sessions.keys() == memory.sessions.keys()


def test_a_review_session_resumes_on_its_own_questions():
    from interviewer.session.plan import plan_resume

    clock = Clock()
    settings = demo()
    store = open_store(settings)
    clock.day(0)
    take(plan_interview(settings, store), {"serverless-vs-dedicated": [BILLING_HALF]}, clock)
    clock.day(2)
    review = plan_review(
        demo(max_follow_ups=1), store, ReviewRequest(max_questions=1), now=clock.now
    )
    # Both questions have two points due since day 1: the bank's order decides.
    assert review.bank.question_ids == ["serverless-vs-dedicated"]
    session = open_session(review, on_status=lambda _: None, clock=clock)
    list(session.begin())
    list(session.reply(SHARED))  # a follow-up on billing; the process dies here
    session.close()

    resumed = plan_resume(settings, store)
    assert resumed.bank.question_ids == ["serverless-vs-dedicated"]
    assert resumed.bank.title == "Small test bank (review)"
    again = open_session(resumed, on_status=lambda _: None, clock=clock)
    events = list(again.begin())
    assert any(isinstance(e, QuestionAsked) for e in events)
    assert again.interview.settings.focus == {
        "serverless-vs-dedicated": ["billing", "shared-vs-dedicated"]
    }
    list(again.reply(BILLING))
    assert again.interview.state == "finished"
    memory = review_memory(settings, store)
    shared = point(memory, "serverless-vs-dedicated", "shared-vs-dedicated")
    assert shared.last_verdict == "covered" and shared.reviews == 2


def test_stats_and_the_html_report_show_each_key_points_review_state():
    clock = Clock()
    settings = demo()
    store = open_store(settings)
    clock.day(0)  # long ago: what was missed is due now, what was covered too
    take(plan_interview(settings, store), {"serverless-vs-dedicated": [SHARED]}, clock)
    memory = review_memory(settings, store)
    assert {p.state(datetime.now(UTC)) for p in memory.points.values()} == {"due"}
    assert {p.state(DAY0 + timedelta(days=1, hours=-1)) for p in memory.points.values()} == {
        "learning"
    }
    runner = CliRunner()
    stats = runner.invoke(cli, ["stats"])
    assert stats.exit_code == 0, stats.output
    assert "Review state per key point" in stats.output
    assert "4 due, 0 learning, 0 learned" in stats.output
    assert "serverless-vs-dedicated/billing" in stats.output
    html = runner.invoke(cli, ["export", "--format", "html"]).output
    assert html.count('<span class="review due" title="review state">due (since 2021-03-0') == 2
    assert "<tr><th>Review</th>" in html
    md = runner.invoke(cli, ["export"]).output
    assert "Review: due (since 2021-03-0" in md


def test_a_point_covered_again_and_again_is_learned():
    times = [DAY0, DAY0 + timedelta(days=2), DAY0 + timedelta(days=13)]
    reviews = [
        PointReview(f"s{i}", at, BANK_ID, "serverless-vs-dedicated", "billing", "covered")
        for i, at in enumerate(times)
    ]
    memory = replay(reviews)
    billing = point(memory, "serverless-vs-dedicated", "billing")
    assert billing.interval >= timedelta(days=21)
    assert billing.state(times[-1] + timedelta(days=1)) == "learned"
    assert billing.state(billing.due) == "due"
    assert memory.same_as(replay(reversed(reviews)))  # replayed in time order, whatever given


def test_the_review_command_headless(tmp_path):
    clock = Clock()
    settings = demo()
    clock.day(0)  # long enough ago that what was missed is due today
    take(
        plan_interview(settings, open_store(settings)), {"serverless-vs-dedicated": [SHARED]}, clock
    )
    answers = tmp_path / "answers.json"
    answers.write_text('{"answers": {"serverless-vs-dedicated": ["' + BILLING + '"]}}')
    args = ["review", "--headless", "--backend", "scripted", "--grader", "evidence"]
    result = CliRunner().invoke(
        cli, [*args, "--bank", str(BANK_DIR), "--max", "1", "--answers", str(answers)]
    )
    assert result.exit_code == 0, result.output
    assert "Small test bank (review), 1 questions" in result.output
    memory = review_memory(settings, open_store(settings))
    assert point(memory, "serverless-vs-dedicated", "billing").last_verdict == "covered"
    assert len(memory.sessions) == 2
