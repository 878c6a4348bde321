"""The evidence signal on answers it was not fitted on: clause units, the margin over the other
key points, the reference answer's wording, a misconception flag that lets a rejection through,
a rationale that names the closest sentence, surely-missing points probed first, and the fit's
cross-validation. The three labelled sets are measured in ``test_the_three_labelled_sets``."""

from __future__ import annotations

from interviewer.calibration import fit_thresholds, load_calibration, run_calibration
from interviewer.engine.evidence import EvidenceGrader
from interviewer.engine.questions import probe_order
from interviewer.engine.units import answer_units
from interviewer.transcript import KeyPointGrade


def test_units_are_verbatim_clauses_and_know_their_sentence():
    answer = (
        "So it's a shared pool, you pay per call, and a cold model can take a while. "
        "Endpoints (dedicated ones) bill hourly - even when idle."
    )
    units, parents = answer_units([answer])
    squashed = " ".join(answer.split())
    assert all(" ".join(u.split()) in squashed for u in units)  # every unit can be quoted
    assert "you pay per call" in units and "and a cold model can take a while." in units
    assert "So it's a shared pool, you pay per call" in units  # a clause with its neighbour
    assert "dedicated ones" not in units  # under four words: not a unit of its own
    assert "even when idle." not in units
    for unit, parent in zip(units, parents, strict=True):
        assert " ".join(unit.split()) in " ".join(units[parent].split())
        assert units[parents[parent]] == units[parent]  # a sentence is its own parent


def test_a_rejected_misconception_is_not_held_against_the_answer(hf_bank, embedder):
    """A correct answer often names the mistake to rule it out; restating it still earns
    nothing, and neither does a clause cut from a sentence that restates it."""
    question = hf_bank.question("inference-api-vs-endpoints")
    grader = EvidenceGrader(embedder)
    claim = "Inference Endpoints are always warm, so they never have cold starts."
    _, flagged = grader._table(question, *answer_units([claim]))
    assert flagged  # the claim itself, and its clauses with it
    rejecting = (
        "People often think Endpoints are always warm and never cold-start, but that's not "
        "true: with scale-to-zero on, the first request after idling waits for a replica."
    )
    units, parents = answer_units([rejecting])
    _, flagged = grader._table(question, units, parents)
    assert rejecting not in flagged
    verdicts = {v.key_point_id: v for v in grader.grade(question, [rejecting])}
    assert verdicts["latency-and-cold-start"].verdict != "missing"

    said = "The serverless API can run any model on the Hub, including my private fine-tuned repo."
    verdicts = {v.key_point_id: v for v in grader.grade(question, [said])}
    assert verdicts["model-coverage-and-privacy"].verdict == "missing"  # no clause sneaks by


def test_a_missed_point_names_its_closest_sentence_and_score(hf_bank, embedder):
    question = hf_bank.question("inference-api-vs-endpoints")
    grader = EvidenceGrader(embedder)
    answer = "Serverless is shared by everyone. Honestly I am not sure about anything else."
    assessed = {e.key_point_id: e for e in grader.assess(question, [answer])}
    verdicts = {v.key_point_id: v for v in grader.grade(question, [answer])}
    billing = verdicts["billing-model"]
    assert billing.verdict == "missing"
    closest = assessed["billing-model"]
    assert f'closest: "{closest.sentence[:40]}' in billing.rationale
    assert f"at {closest.signal:.2f}" in billing.rationale
    assert f"under the {grader.thresholds.partial:.2f}" in billing.rationale
    assert "no sentence of the answer matches" not in billing.rationale


def test_a_surely_missing_point_is_probed_before_one_the_answer_came_close_to(hf_bank):
    question = hf_bank.question("inference-api-vs-endpoints")
    heavy, light = "shared-vs-dedicated", "numbers-are-volatile"  # weights 2.0 and 0.5
    view = [
        KeyPointGrade(key_point_id=heavy, verdict="missing", closest="something close"),
        KeyPointGrade(key_point_id=light, verdict="missing"),
        KeyPointGrade(key_point_id="billing-model", verdict="missing", uncertain=True),
        KeyPointGrade(key_point_id="when-to-use-which", verdict="partial"),
        KeyPointGrade(key_point_id="latency-and-cold-start", verdict="covered", uncertain=True),
        KeyPointGrade(key_point_id="inference-providers-rename", verdict="covered"),
    ]
    order = [v.key_point_id for v in probe_order(question, view)]
    assert order == [light, heavy, "billing-model", "when-to-use-which", "latency-and-cold-start"]
    assert probe_order(question, view, focus={heavy})[0].key_point_id == heavy


def test_the_fit_is_cross_validated_and_scored_on_what_it_never_saw(default_bank, embedder):
    sets = load_calibration(default_bank)[:2]
    fitted = fit_thresholds(sets, EvidenceGrader(embedder))
    assert fitted.cross_validated is not None and set(fitted.folds) == {s.question.id for s in sets}
    assert all(0 <= value <= 1 for value in fitted.folds.values())
    # The search's own agreement is what the report measures with the thresholds it chose.
    again = run_calibration(sets, EvidenceGrader(embedder, fitted.thresholds))
    assert abs(again.agreement - fitted.agreement) < 1e-9
    assert fitted.thresholds.partial < fitted.thresholds.covered


def test_the_three_labelled_sets(calibration_reports):
    """Fitted on knowledge/calibration only; the held-out set and the style set (spoken
    paragraphs, bullets, terse notes, rejected misconceptions; written before any tuning)
    are only ever scored. The floors are today's measured values less a margin, so that a
    change that loses ground fails here; the issue's targets (85% agreement, 90% probe
    precision, strong >= 80%, wrong <= 20%) are reported in benchmarks/RESULTS.md, with the
    gaps."""
    floors = {"dev": 0.82, "held-out": 0.80, "styles": 0.76}
    for name, floor in floors.items():
        report = calibration_reports[name]
        assert report.agreement >= floor, (name, report.agreement)
        precision = report.probe_precision()
        assert precision is not None and precision >= 0.70, (name, precision)
        assert all(o.score == 0 for o in report.null_outcomes()), name
        assert report.unverified_quotes() == []
        strong = [m["strong"] for m in report.mean_scores().values()]
        assert sum(strong) / len(strong) >= 0.70, (name, strong)
