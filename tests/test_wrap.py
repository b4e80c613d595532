"""The decorator and function-judge adapters keep users' code working."""

from __future__ import annotations

import pytest

import debias
from debias.errors import ConfigError
from debias.judges.base import JudgeRequest
from debias.judges.function import FunctionJudge
from debias.types import Item


def test_wrap_returns_debiased_letter_and_full_record():
    calls = []

    @debias.wrap(detectors=["position"], max_rounds=1)
    def first_slot(question, a, b):
        calls.append((a, b))
        return "A"

    assert first_slot("q", "x", "y") == "tie"  # position-biased and never revises -> tie, not a coin flip
    assert ("x", "y") in calls and ("y", "x") in calls
    record = first_slot.result("q", "x", "y")
    assert record.status.value == "unresolved" and record.rounds[0].findings[0].detected
    assert first_slot.__name__ == "first_slot"


def test_wrap_consistent_judge_and_int_style():
    @debias.wrap(detectors=["position"])
    def by_content(question, candidates):
        return next(k for k, c in enumerate(candidates) if "right" in c)

    assert by_content("q", ["wrong", "right", "meh"]) == 1
    assert by_content.result("q", ["wrong", "right", "meh"]).status.value == "clean"


def test_feedback_reaches_a_judge_that_accepts_it():
    seen = []

    @debias.wrap(detectors=["position"], max_rounds=2)
    def listens(question, a, b, feedback=None):
        seen.append(feedback)
        if feedback:
            return "A" if "correct" in a else "B"
        return "A"

    assert listens("q", "wrong", "correct") == "B"
    assert any(f and "position" in f for f in seen)


async def test_async_function_wrapped():
    @debias.wrap(detectors=["position"])
    async def ajudge(question, a, b):
        return "B" if "good" in b else "A"

    assert await ajudge("q", "bad", "good") == "B"


def test_cue_passed_as_keyword_or_in_instruction():
    got = {}

    def with_cue(instruction, a, b, cue=None):
        got["cue"] = cue
        return "A"

    def without_cue(instruction, a, b):
        got["instruction"] = instruction
        return "A"

    item = Item(id="c", task="pairwise", instruction="Q", candidates=["a", "b"], cue="most people prefer Output (b)")
    FunctionJudge(with_cue).judge(JudgeRequest.first(item))
    FunctionJudge(without_cue).judge(JudgeRequest.first(item))
    assert got["cue"] == item.cue and got["instruction"].startswith("### Statement: most people")
    FunctionJudge(with_cue).judge(JudgeRequest.first(item).variant(with_cue=False))
    assert got["cue"] is None


def test_unusable_signatures_rejected():
    with pytest.raises(ConfigError, match="positional"):
        FunctionJudge(lambda a, b, c, d: "A")
    with pytest.raises(ConfigError, match="chat function"):
        debias.wrap(lambda messages: "A")
