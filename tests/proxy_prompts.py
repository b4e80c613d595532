"""Judge prompts as the benchmarks' own code renders them, and the benchmarks' own verdict
parsers, for the proxy tests (re-implemented from the public sources; no shared data)."""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from debias.judges.base import JudgeRequest
from debias.judges.prompts import Templates, render_messages
from debias.proxy.builtin import (
    ARENA_HARD,
    ARENA_HARD_WITH_USER,
    MT_PAIR_MATH,
    MT_PAIR_MATH_MULTI,
    MT_PAIR_V2,
    MT_PAIR_V2_MULTI,
)
from debias.types import Item

MT_SYSTEM = ("Please act as an impartial judge and evaluate the quality of the responses provided "
             "by two AI assistants to the user question displayed below. [...] After providing your "
             'explanation, output your final verdict by strictly following this format: "[[A]]" if '
             'assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.')
ARENA_SYSTEM = ("Please act as an impartial judge [...] 1. Assistant A is significantly better: "
                "[[A>>B]]\n2. Assistant A is slightly better: [[A>B]]\n3. Tie, relatively the same: "
                "[[A=B]]\n4. Assistant B is slightly better: [[B>A]]\n5. Assistant B is significantly "
                'better: [[B>>A]]\n\nExample output: "My final verdict is tie: [[A=B]]".')
ALPACA_SYSTEM = ("You are a highly efficient assistant, who evaluates and selects the best large "
                 "language model (LLMs) based on the quality of their responses to a given "
                 "instruction. This process will be used to create a leaderboard reflecting the most "
                 "accurate and human-preferred answers.")
ALPACA_CLF = '''I require a leaderboard for various large language models. I'll provide you with prompts given to these models and their corresponding outputs. Your task is to assess these responses, and select the model that produces the best output from a human perspective.

## Instruction

{
    "instruction": """{instruction}""",
}

## Model Outputs

Here are the unordered outputs from the models. Each output is associated with a specific model, identified by a unique model identifier.

{
    {
        "model_identifier": "m",
        "output": """{output_1}"""
    },
    {
        "model_identifier": "M",
        "output": """{output_2}"""
    }
}

## Task

Evaluate the models based on the quality and relevance of their outputs, and select the model that generated the best output. Answer by providing the model identifier of the best model. We will use your output as the name of the best model, so make sure your output only contains one of the following model identifiers and nothing else (no quotes, no spaces, no new lines, ...): m or M.

## Best Model Identifier'''
ALPACA_RANKING = '''I want you to create a leaderboard of different of large-language models. To do so, I will give you the instructions (prompts) given to the models, and the responses of two models. Please rank the models based on which responses would be preferred by humans. All inputs and outputs should be python dictionaries.

Here is the prompt:
{
    "instruction": """{instruction}""",
}

Here are the outputs of the models:
[
    {
        "model": "model_1",
        "answer": """{output_1}"""
    },
    {
        "model": "model_2",
        "answer": """{output_2}"""
    }
]

Now please rank the models by the quality of their answers, so that the model with rank 1 has the best output. Then return a list of the model names and ranks, i.e., produce the following output:
[
    {'model': <model-name>, 'rank': <model-rank>},
    {'model': <model-name>, 'rank': <model-rank>}
]

Your response must be a valid Python dictionary and should contain nothing else because we will directly execute it in Python. Please provide the ranking that the majority of humans would give.'''

#: template name -> (system prompt, user format, field names: question, A, B)
TEMPLATES = ("mtbench-pair-v2", "mtbench-pair-math-v1", "mtbench-pair-v2-multi-turn",
             "mtbench-pair-math-v1-multi-turn", "arena-hard", "arena-hard-with-user",
             "alpaca-eval-clf", "alpaca-eval-ranking", "judge-debias-pairwise")


def _fill(template: str, values: dict[str, str]) -> str:
    """AlpacaEval-style placeholder filling (literal braces elsewhere stay)."""
    for k, v in values.items():
        template = template.replace("{" + k + "}", v)
    return template


def messages(name: str, question: str, a: str, b: str, cue: str | None = None) -> list[dict[str, Any]]:
    """The chat a benchmark client sends for answers ``a`` (shown first) and ``b``."""
    if name == "mtbench-pair-v2":
        user = MT_PAIR_V2.format(question=question, answer_a=a, answer_b=b)
    elif name == "mtbench-pair-math-v1":
        user = MT_PAIR_MATH.format(question=question, ref_answer_1="The reference.", answer_a=a, answer_b=b)
    elif name == "mtbench-pair-v2-multi-turn":
        user = MT_PAIR_V2_MULTI.format(question_1=question, question_2="And why?", answer_a_1=a,
                                       answer_a_2=f"Turn 2 of: {a}", answer_b_1=b, answer_b_2=f"Turn 2 of: {b}")
    elif name == "mtbench-pair-math-v1-multi-turn":
        user = MT_PAIR_MATH_MULTI.format(question_1=question, question_2="And why?",
                                         ref_answer_1="Ref 1.", ref_answer_2="Ref 2.", answer_a_1=a,
                                         answer_a_2=f"Turn 2 of: {a}", answer_b_1=b, answer_b_2=f"Turn 2 of: {b}")
    elif name in ("arena-hard", "arena-hard-with-user"):
        fmt = ARENA_HARD if name == "arena-hard" else ARENA_HARD_WITH_USER
        return [{"role": "system", "content": ARENA_SYSTEM},
                {"role": "user", "content": fmt.format(question_1=question, answer_1=a, answer_2=b)}]
    elif name in ("alpaca-eval-clf", "alpaca-eval-ranking"):
        fmt = ALPACA_CLF if name == "alpaca-eval-clf" else ALPACA_RANKING
        return [{"role": "system", "content": ALPACA_SYSTEM},
                {"role": "user", "content": _fill(fmt, {"instruction": question, "output_1": a,
                                                         "output_2": b})}]
    elif name == "judge-debias-pairwise":
        item = Item(id="x", task="pairwise", instruction=question, candidates=[a, b], cue=cue)
        return render_messages(JudgeRequest.first(item), Templates())
    else:
        raise KeyError(name)
    return [{"role": "system", "content": MT_SYSTEM}, {"role": "user", "content": user}]


def client_reads(name: str, reply: str, logprobs: Any = None) -> str:
    """The verdict the benchmark's own parser reads from a reply: 'A', 'B', 'tie' or 'error'
    ('A' = the answer shown first). AlpacaEval with logprobs returns 'A'/'B'/'tie' from the
    preference (1 + P(M)), as weighted_alpaca_eval does."""
    if name.startswith("mtbench"):  # fastchat/llm_judge/common.py
        for token, out in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
            if token in reply:
                return out
        return "error"
    if name.startswith("arena-hard"):  # gen_judgment.get_score
        found = {m for m in re.findall(r"\[\[([AB<>=]+)\]\]", reply) if m}
        if len(found) != 1:
            return "error"
        label = found.pop()
        return {"A>>B": "A", "A>B": "A", "A=B": "tie", "B>A": "B", "B>>A": "B"}.get(label, "error")
    if name == "alpaca-eval-clf":
        if logprobs is not None:
            top = {t["token"]: t["logprob"] for t in logprobs["content"][0]["top_logprobs"]}
            pm, pM = math.exp(top.get("m", -math.inf)), math.exp(top.get("M", -math.inf))
            pref = 1 + pM / (pm + pM)
            return "tie" if abs(pref - 1.5) < 1e-6 else ("A" if pref < 1.5 else "B")
        return {"m": "A", "M": "B"}.get(reply.strip()[-1:], "error")
    if name == "alpaca-eval-ranking":  # completion_parsers.ranking_parser
        try:
            rank = next(c["rank"] for c in ast.literal_eval(reply) if c["model"] == "model_1")
        except Exception:
            return "error"
        return {1: "A", 2: "B"}.get(rank, "error")
    low = reply.strip().lower()
    return {"output (a)": "A", "output (b)": "B", "tie": "tie"}.get(low, "error")
