"""Display-order mapping is right for every permutation, through every judge adapter."""

from __future__ import annotations

import itertools
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debias.judges.base import JudgeRequest
from debias.judges.chat import ChatJudge
from debias.judges.function import FunctionJudge
from debias.ordering import displayed, probs_to_original, to_original, to_slot
from debias.testing import ScriptedBackend, ScriptedJudge, ScriptedScoringBackend
from debias.types import Item

MARK = "GOLD"


def gold_item(n: int, gold: int, task: str | None = None, cue: str | None = None, item_id: str = "x") -> Item:
    """An item whose candidate ``gold`` contains the marker, others do not."""
    cands = [f"candidate {k} {'GOLD' if k == gold else 'plain'}" for k in range(n)]
    task = task or ("pairwise" if n == 2 else "choice")
    return Item(id=item_id, task=task, instruction="Which is best?", candidates=cands, label=gold, cue=cue)


def displayed_gold_slot(prompt: str) -> int:
    """The display slot of the GOLD candidate in a rendered judge prompt."""
    outputs = re.findall(r"### Output \(([a-j])\):\n(.*)", prompt)
    if outputs:
        return next(ord(letter) - ord("a") for letter, text in outputs if MARK in text)
    choices = re.findall(r"^(\d+)\. (.*)$", prompt, re.M)
    return next(int(num) - 1 for num, text in choices if MARK in text)


def _reply(messages):  # content-fair chat judge: names the slot holding the gold candidate
    prompt = messages[1]["content"]
    slot = displayed_gold_slot(prompt)
    return f"Output ({chr(97 + slot)})" if "### Output (" in prompt else f"Choice {slot + 1}"


def _scores(messages, prefix, options):
    slot = displayed_gold_slot(messages[1]["content"])
    return [0.0 if k == slot else -3.0 - k for k in range(len(options))]


permutation_cases = st.integers(min_value=2, max_value=7).flatmap(
    lambda n: st.tuples(st.just(n), st.permutations(list(range(n))), st.integers(0, n - 1)))


@given(permutation_cases)
@settings(max_examples=150, deadline=None)
def test_mapping_roundtrip(case):
    n, order, _ = case
    for slot in range(n):
        assert to_slot(order, to_original(order, slot)) == slot
    shown = displayed([f"c{i}" for i in range(n)], order)
    assert [int(c[1:]) for c in shown] == list(order)


@given(permutation_cases)
@settings(max_examples=150, deadline=None)
def test_probs_follow_content(case):
    n, order, gold = case
    slot_probs = [0.0] * n
    slot_probs[to_slot(order, gold)] = 1.0
    assert probs_to_original(order, slot_probs)[gold] == 1.0


@given(permutation_cases)
@settings(max_examples=120, deadline=None)
def test_chat_judge_generate_maps_back(case):
    n, order, gold = case
    item = gold_item(n, gold)
    verdict = ChatJudge(ScriptedBackend(_reply), mode="generate").judge(JudgeRequest(item=item, order=list(order)))
    assert verdict.choice == gold
    assert MARK in item.candidates[verdict.choice]
    assert verdict.order == list(order)


@given(permutation_cases)
@settings(max_examples=120, deadline=None)
def test_chat_judge_logprobs_maps_back(case):
    n, order, gold = case
    item = gold_item(n, gold)
    judge = ChatJudge(ScriptedScoringBackend(["unused"], _scores), mode="logprobs")
    verdict = judge.judge(JudgeRequest(item=item, order=list(order)))
    assert verdict.choice == gold
    assert verdict.probs is not None and max(range(n), key=lambda i: verdict.probs[i]) == gold
    assert math.isclose(sum(verdict.probs), 1.0)
    assert 0.5 < verdict.confidence <= 1.0


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
@pytest.mark.parametrize("style", ["A", "Output (a)", "[[A]]", "1", 0])
def test_function_judge_pair_every_order(order, style):
    item = gold_item(2, 1)

    def judge(instruction, a, b):
        gold_slot = 0 if MARK in a else 1
        if isinstance(style, int):
            return gold_slot
        return style.replace("A", "AB"[gold_slot]).replace("a", "ab"[gold_slot]).replace("1", "12"[gold_slot])

    verdict = FunctionJudge(judge).judge(JudgeRequest(item=item, order=list(order)))
    assert verdict.choice == 1


@given(permutation_cases)
@settings(max_examples=80, deadline=None)
def test_function_judge_candidates_every_permutation(case):
    n, order, gold = case
    item = gold_item(n, gold)
    judge = FunctionJudge(lambda instruction, cands: next(k for k, c in enumerate(cands) if MARK in c))
    assert judge.judge(JudgeRequest(item=item, order=list(order))).choice == gold


@given(permutation_cases)
@settings(max_examples=80, deadline=None)
def test_scripted_judge_slot_bias_maps_to_displayed_content(case):
    n, order, gold = case
    item = gold_item(n, gold)
    verdict = ScriptedJudge(position=1.0).judge(JudgeRequest(item=item, order=list(order)))
    assert verdict.choice == order[0]  # the content shown first, in original numbering


async def test_async_paths_agree():
    item = gold_item(3, 2)
    req = JudgeRequest(item=item, order=[2, 0, 1])
    chat = ChatJudge(ScriptedBackend(_reply), mode="generate")
    assert (await chat.ajudge(req)).choice == chat.judge(req).choice == 2


def test_auto_mode_falls_back_to_generation_without_logprobs():
    from debias.errors import LogprobsUnavailableError

    def no_logprobs(messages, prefix, options):
        raise LogprobsUnavailableError("provider returns no logprobs")

    backend = ScriptedScoringBackend(_reply, no_logprobs)
    judge = ChatJudge(backend, mode="auto")
    item = gold_item(2, 1)
    assert judge.judge(JudgeRequest(item=item, order=[1, 0])).choice == 1
    assert judge.judge(JudgeRequest(item=item, order=[0, 1])).choice == 1
    assert len(backend.requests) == 3  # one failed scoring, then generation only
    with pytest.raises(LogprobsUnavailableError):
        ChatJudge(backend, mode="logprobs").judge(JudgeRequest(item=item, order=[0, 1]))
