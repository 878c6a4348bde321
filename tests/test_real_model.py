"""A real instruct model end to end: SmolLM2-135M-Instruct (from PyPI) on the CPU."""

from __future__ import annotations

import io
import json

import jsonschema

from interviewer.bank import Bank
from interviewer.engine import Interview, LLMGrader
from interviewer.headless import EventPrinter, run_interview, scripted_replies
from interviewer.llm.base import ChatMessage, GenerationOptions
from interviewer.resources import resource_dir
from interviewer.transcript import InterviewSettings, Transcript
from tests.helpers.models import SMOLLM2_GGUF, smollm2_gguf


def test_the_gguf_file_loads_through_the_real_path():
    """The tokenizer half of the GGUF path runs every time (the model half runs when the
    conversion cache is cold; see the smollm2 fixture)."""
    from interviewer.llm.hf import HFModelConfig, plan_load

    plan = plan_load(HFModelConfig(model=str(smollm2_gguf())), False, False)
    assert (plan.kind, plan.gguf_file, plan.quantization) == ("gguf", SMOLLM2_GGUF, "none")


def test_smollm2_follows_its_chat_template(smollm2):
    text = smollm2.tokenizer.decode(
        smollm2.render([ChatMessage(role="user", content="Hi")])["input_ids"][0]
    )
    assert text.endswith("<|im_start|>assistant\n")
    assert smollm2.tokenizer.convert_tokens_to_ids("<|im_end|>") in smollm2._eos_ids
    reply = "".join(
        smollm2.stream(
            [ChatMessage(role="user", content="What is the capital of France?")],
            GenerationOptions(purpose="clarify", max_new_tokens=16, temperature=0),
        )
    )
    assert "Paris" in reply


def test_a_headless_interview_with_a_real_instruct_model(smollm2, prompts, tmp_path):
    # A short question with one key point: SmolLM2 decodes ~13 tokens/s on two cores, and the
    # prompts (reference answer included) are prefilled on every call.
    from pathlib import Path

    from interviewer.bank import load_bank

    small = load_bank(Path(__file__).parent / "fixtures" / "small-bank")
    question = small.question("serverless-vs-dedicated")
    one_point = question.model_copy(update={"key_points": question.key_points[:1]})
    bank = Bank(id="smoke", title="Smoke test", questions=(one_point,))
    interview = Interview(
        bank,
        smollm2,
        LLMGrader(smollm2, prompts),
        InterviewSettings(mode="exam", max_follow_ups=0, acknowledge=False),
        prompts,
    )
    answer = (
        "4-bit weights take 0.5 bytes per parameter, so a 7B model shrinks from 14 GB to 3.5 GB."
    )
    out = tmp_path / "t.json"
    printed = io.StringIO()
    run_interview(
        interview,
        scripted_replies({one_point.id: [answer]}),
        EventPrinter(printed),
        export=out,
    )
    data = json.loads(out.read_text())
    schema = json.loads((resource_dir("schemas") / "transcript.schema.json").read_text())
    jsonschema.validate(data, schema)
    transcript = Transcript.model_validate(data)
    result = transcript.results[0]
    assert transcript.status == "finished"
    assert result.grade is not None, result.grading_error
    assert result.grade.grader == "llm:" + smollm2.info.model_id
    assert [v.key_point_id for v in result.grade.key_points] == [one_point.key_points[0].id]
    for verdict in result.grade.key_points:
        assert verdict.evidence == "" or verdict.evidence.lower() in answer.lower()
    assert result.feedback and one_point.reference_answer in result.feedback
    assert "Interviewer:" in printed.getvalue()
