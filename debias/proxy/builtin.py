"""The built-in judge templates of the proxy.

Sources (the prompt formats these benchmarks send, so the proxy recognises them):

- FastChat MT-Bench, ``fastchat/llm_judge/data/judge_prompts.jsonl``: ``pair-v2``,
  ``pair-math-v1`` and their ``-multi-turn`` variants (verdicts ``[[A]]``/``[[B]]``/``[[C]]``).
- Arena-Hard-Auto, ``config/judge_config.yaml`` / ``config/arena-hard-v2.0.yaml``
  (``<|The Start of Assistant A's Answer|>``), and the ``... Answer with User|>`` variant;
  verdicts ``[[A>>B]]`` ... ``[[B>>A]]``.
- AlpacaEval 2: the classification template of ``alpaca_eval_clf_gpt4_turbo`` /
  ``weighted_alpaca_eval_gpt4_turbo`` (and the ``_cot`` variant: model identifiers ``m``
  and ``M``), and the ranking template of ``alpaca_eval_gpt4`` and friends
  (``model_1``/``model_2`` ranks). These are recognised by structure (the instruction
  and output fields), not by the full text, so small wording changes still match.
- This project's own pairwise template (:mod:`debias.judges.prompts`), cue included.

Order matters: more specific templates come first (``pair-math-v1`` before ``pair-v2``,
whose free-text question would otherwise swallow the reference block).
"""

from __future__ import annotations

import re

from debias.judges.prompts import PAIRWISE, STATEMENT
from debias.proxy.formats import (
    BracketFormat,
    GradeFormat,
    LetterFormat,
    OutputFormat,
    RankingFormat,
)
from debias.proxy.templates import JudgeTemplate

FASTCHAT = "lm-sys/FastChat fastchat/llm_judge/data/judge_prompts.jsonl"
ARENA = "lmarena/arena-hard-auto config/judge_config.yaml"
ALPACA = "tatsu-lab/alpaca_eval src/alpaca_eval/evaluators_configs"

MT_PAIR_V2 = ("[User Question]\n{question}\n\n"
              "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
              "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]")
MT_PAIR_MATH = ("[User Question]\n{question}\n\n"
                "[The Start of Reference Answer]\n{ref_answer_1}\n[The End of Reference Answer]\n\n"
                "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
                "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]")
_CONV = ("<|The Start of Assistant {x}'s Conversation with User|>\n\n"
         "### User:\n{{question_1}}\n\n### Assistant {x}:\n{{answer_{y}_1}}\n\n"
         "### User:\n{{question_2}}\n\n### Assistant {x}:\n{{answer_{y}_2}}\n\n"
         "<|The End of Assistant {x}'s Conversation with User|>")
MT_PAIR_V2_MULTI = _CONV.format(x="A", y="a") + "\n\n\n" + _CONV.format(x="B", y="b")
MT_PAIR_MATH_MULTI = ("<|The Start of Reference Answer|>\n\n"
                      "### User:\n{question_1}\n\n### Reference answer:\n{ref_answer_1}\n\n"
                      "### User:\n{question_2}\n\n### Reference answer:\n{ref_answer_2}\n\n"
                      "<|The End of Reference Answer|>\n\n\n" + MT_PAIR_V2_MULTI)
ARENA_HARD = ("<|User Prompt|>\n{question_1}\n\n"
              "<|The Start of Assistant A's Answer|>\n{answer_1}\n<|The End of Assistant A's Answer|>\n\n"
              "<|The Start of Assistant B's Answer|>\n{answer_2}\n<|The End of Assistant B's Answer|>")
ARENA_HARD_WITH_USER = (ARENA_HARD.replace("Answer|>", "Answer with User|>"))
NATIVE_PAIRWISE = PAIRWISE.replace(
    "{outputs}", "### Output (a):\n{answer_a}\n\n### Output (b):\n{answer_b}")

_ALPACA_CLF = re.compile(
    r'\A.*?"instruction"\s*:\s*"""(?P<instruction>.*?)"""\s*,?\s*\}.*?'
    r'"model_identifier"\s*:\s*"m"\s*,\s*"output"\s*:\s*"""(?P<output_1>.*?)"""\s*\}\s*,\s*\{\s*'
    r'"model_identifier"\s*:\s*"M"\s*,\s*"output"\s*:\s*"""(?P<output_2>.*?)"""\s*\}.*\Z', re.S)
_ALPACA_RANKING = re.compile(
    r'\A.*?"instruction"\s*:\s*"""(?P<instruction>.*?)"""\s*,.*?'
    r'"model"\s*:\s*"model_1"\s*,\s*"answer"\s*:\s*"""(?P<output_1>.*?)"""\s*\}\s*,\s*\{\s*'
    r'"model"\s*:\s*"model_2"\s*,\s*"answer"\s*:\s*"""(?P<output_2>.*?)"""\s*\}.*\Z', re.S)


def builtin_templates() -> list[JudgeTemplate]:
    """The built-in templates, in matching order (a new list of new objects each call)."""
    bracket = BracketFormat()
    multi = (("answer_a_1", "answer_a_2"), ("answer_b_1", "answer_b_2"))
    return [
        JudgeTemplate.from_format(
            "mtbench-pair-math-v1-multi-turn", MT_PAIR_MATH_MULTI, instruction=["question_1", "question_2"],
            slots=multi, verdict=bracket, marker="<|The Start of Reference Answer|>",
            description="MT-Bench pairwise, math, two turns, with reference answers", source=FASTCHAT),
        JudgeTemplate.from_format(
            "mtbench-pair-v2-multi-turn", MT_PAIR_V2_MULTI, instruction=["question_1", "question_2"],
            slots=multi, verdict=bracket,
            marker="<|The Start of Assistant A's Conversation with User|>",
            description="MT-Bench pairwise, two turns", source=FASTCHAT),
        JudgeTemplate.from_format(
            "mtbench-pair-math-v1", MT_PAIR_MATH, instruction=["question"],
            slots=(["answer_a"], ["answer_b"]), verdict=bracket,
            marker="[The Start of Reference Answer]",
            description="MT-Bench pairwise, math, with a reference answer", source=FASTCHAT),
        JudgeTemplate.from_format(
            "mtbench-pair-v2", MT_PAIR_V2, instruction=["question"],
            slots=(["answer_a"], ["answer_b"]), verdict=bracket,
            marker="[The Start of Assistant A's Answer]",
            description="MT-Bench pairwise (general questions)", source=FASTCHAT),
        JudgeTemplate.from_format(
            "arena-hard", ARENA_HARD, instruction=["question_1"],
            slots=(["answer_1"], ["answer_2"]), verdict=GradeFormat(),
            marker="<|The Start of Assistant A's Answer|>",
            description="Arena-Hard-Auto pairwise judgement ([[A>>B]] ... [[B>>A]])", source=ARENA),
        JudgeTemplate.from_format(
            "arena-hard-with-user", ARENA_HARD_WITH_USER, instruction=["question_1"],
            slots=(["answer_1"], ["answer_2"]), verdict=GradeFormat(),
            marker="<|The Start of Assistant A's Answer with User|>",
            description="Arena-Hard-Auto layout with '... Answer with User' markers", source=ARENA),
        JudgeTemplate(
            name="alpaca-eval-clf", pattern=_ALPACA_CLF, instruction=("instruction",),
            slots=(("output_1",), ("output_2",)), verdict=LetterFormat(("m", "M")),
            marker='"model_identifier"',
            description="AlpacaEval 2 classification (alpaca_eval_clf_gpt4_turbo, "
                        "weighted_alpaca_eval_gpt4_turbo, cot variant): answer m or M",
            source=ALPACA),
        JudgeTemplate(
            name="alpaca-eval-ranking", pattern=_ALPACA_RANKING, instruction=("instruction",),
            slots=(("output_1",), ("output_2",)), verdict=RankingFormat(), marker='"model_1"',
            description="AlpacaEval ranking (alpaca_eval_gpt4 and similar): model_1/model_2 ranks",
            source=ALPACA),
        JudgeTemplate.from_format(
            "judge-debias-pairwise", NATIVE_PAIRWISE, instruction=["instruction"],
            slots=(["answer_a"], ["answer_b"]), verdict=OutputFormat(),
            optional={"statement": STATEMENT}, cue_section="statement",
            marker="### Output (a):",
            description="judge-debias's own pairwise template (cue as '### Statement:')",
            source="debias/prompts.py"),
    ]
