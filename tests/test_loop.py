"""The judge → detect → decide → revise loop, asserted on recorded rounds."""

from __future__ import annotations

import pytest

from debias.errors import BiasDetectedError, JudgeError
from debias.judges.base import JudgeRequest
from debias.judges.function import FunctionJudge
from debias.loop import Debiaser, decide
from debias.testing import ScriptedJudge
from debias.types import (
    Action,
    Evidence,
    Finding,
    Item,
    Reason,
    ResolutionKind,
    Rule,
    Status,
    Verdict,
)
from detectors.position import PositionDetector

ITEM = Item(id="q1", task="pairwise", instruction="Which answer is correct?",
            candidates=["The capital of Australia is Sydney.", "The capital of Australia is Canberra."],
            label=1)


def test_unbiased_judge_is_clean_after_one_probe():
    judge = ScriptedJudge()
    result = Debiaser(judge, ["position"]).judge(ITEM)
    assert result.status is Status.CLEAN
    assert len(result.rounds) == 1 and result.rounds[0].feedback is None
    assert [p.key for p in result.probes] == ["r0:swap"]
    assert result.verdict.choice == 1
    assert len(judge.calls) == 2


def test_position_biased_judge_is_revised_with_feedback_not_answer():
    judge = ScriptedJudge(position=1.0, compliance=1.0)
    result = Debiaser(judge, ["position"], max_rounds=2).judge(ITEM)
    assert result.status is Status.REVISED
    assert [r.decision.action for r in result.rounds] == [Action.REVISE, Action.ACCEPT]
    assert result.resolution.kind is ResolutionKind.REVISED and result.stop is Reason.NO_BIAS
    assert result.resolution.probes == ["r1", "r1:swap"]
    first = result.rounds[0]
    assert first.verdict.choice == 0 and first.findings[0].detected
    assert first.findings[0].evidence.values["slots"] == [0, 0]
    feedback = first.feedback.text
    assert "position" in feedback
    for cand in ITEM.candidates:
        assert cand not in feedback
    assert "Output (a)" not in feedback and "Output (b)" not in feedback
    assert result.verdict.choice == 1 and result.flipped
    # the revised judgement and its probe both carried the feedback
    revised = [c for c in judge.calls if c.feedback is not None]
    assert {tuple(c.order) for c in revised} == {(0, 1), (1, 0)}


def test_non_compliant_slot_follower_ends_unresolved_as_tie():
    result = Debiaser(ScriptedJudge(position=1.0, compliance=0.0), ["position"], max_rounds=3).judge(ITEM)
    assert result.status is Status.UNRESOLVED
    assert result.verdict.tie and result.verdict.choice is None
    assert result.stop is Reason.UNCHANGED
    assert result.resolution.kind is ResolutionKind.TIE and result.resolution.rule is Rule.SAME_SLOT
    assert result.resolution.probes == ["r0", "r0:swap"] and result.resolution.removed == ["order"]
    assert len(result.rounds) == 2


def test_logprob_judge_aggregates_by_mean_preference():
    # biased judge with probs: 0.8 on the first slot in both orders -> mean 0.5/0.5 -> tie
    result = Debiaser(ScriptedJudge(position=1.0, with_probs=True), ["position:policy=aggregate"]).judge(ITEM)
    assert result.verdict.tie and result.verdict.probs == pytest.approx([0.5, 0.5])
    assert len(result.rounds) == 1 and result.status is Status.UNRESOLVED
    assert result.stop is Reason.AGGREGATE_POLICY and result.resolution.rule is Rule.SAME_SLOT


def test_max_rounds_zero_is_detect_only():
    judge = ScriptedJudge(position=1.0)
    result = Debiaser(judge, ["position"], max_rounds=0).judge(ITEM)
    assert len(result.rounds) == 1 and result.rounds[0].feedback is None
    assert result.stop is Reason.MAX_ROUNDS
    assert all(c.feedback is None for c in judge.calls)


def test_flag_policy_keeps_verdict():
    result = Debiaser(ScriptedJudge(position=1.0), [PositionDetector(policy="flag")]).judge(ITEM)
    assert result.status is Status.CLEAN
    assert result.flagged == ["position"] and result.verdict.choice == 0


def test_raise_policy_raises():
    with pytest.raises(BiasDetectedError) as info:
        Debiaser(ScriptedJudge(position=1.0), ["position:policy=raise"]).judge(ITEM)
    assert info.value.findings[0].bias == "position"


class Boom:
    name, version, bias, policy = "boom", "1", "other", "revise"

    def plan(self, ctx):
        return []

    def assess(self, ctx, probes):
        raise RuntimeError("detector exploded")


def test_failing_detector_is_an_error_finding_not_a_crash():
    result = Debiaser(ScriptedJudge(), ["position", Boom()]).judge(ITEM)
    boom = result.rounds[0].findings[1]
    assert boom.status == "error" and "detector exploded" in boom.reason
    assert result.status is Status.CLEAN
    with pytest.raises(RuntimeError):
        Debiaser(ScriptedJudge(), [Boom()], strict=True).judge(ITEM)


def test_judge_failure_is_recorded_as_error():
    def broken(instruction, a, b):
        raise JudgeError("upstream 401")

    result = Debiaser(FunctionJudge(broken), ["position"]).judge(ITEM)
    assert result.status is Status.ERROR and "upstream 401" in result.error and result.verdict is None


def test_oscillation_stops():
    state = {"n": 0}

    def flip_flop(instruction, a, b):
        if a == ITEM.candidates[0]:
            state["n"] += 1
        return "A" if state["n"] % 2 == 1 else "B"  # always the same slot in both orders

    result = Debiaser(FunctionJudge(flip_flop), ["position"], max_rounds=5).judge(ITEM)
    assert [r.verdict.choice for r in result.rounds] == [0, 1, 0]
    assert result.stop is Reason.OSCILLATION


def test_failed_probe_is_recorded_and_finding_skipped():
    def only_original(instruction, a, b):
        if a != ITEM.candidates[0]:
            raise JudgeError("swapped order unavailable")
        return "B"

    result = Debiaser(FunctionJudge(only_original), ["position"]).judge(ITEM)
    assert result.probes[0].error and "unavailable" in result.probes[0].error
    assert result.rounds[0].findings[0].status == "skipped"
    assert result.status is Status.CLEAN


async def test_async_matches_sync():
    sync = Debiaser(ScriptedJudge(position=0.5, seed=3), ["position"]).judge(ITEM)
    asyn = await Debiaser(ScriptedJudge(position=0.5, seed=3), ["position"]).ajudge(ITEM)
    assert sync.model_dump(exclude={"elapsed_s"}) == asyn.model_dump(exclude={"elapsed_s"})


def _finding(detected=True, policy="revise", suggested=None):
    return Finding(detector="d", bias="position", detected=detected, confidence=0.9, policy=policy,
                   evidence=Evidence(compared="x"), suggested=suggested)


def test_decide_is_pure_and_ordered():
    v0 = Verdict(order=[0, 1], choice=0)
    v1 = Verdict(order=[0, 1], choice=1)
    tie = Verdict(order=[0, 1], tie=True)
    assert decide([], v0, [], 0, 2).action is Action.ACCEPT
    assert decide([_finding(detected=False)], v0, [], 0, 2).action is Action.ACCEPT
    assert decide([_finding(policy="flag")], v0, [], 0, 2).reason is Reason.FLAGGED_ONLY
    assert decide([_finding(), _finding(policy="raise")], v0, [], 0, 2).action is Action.RAISE
    assert decide([_finding()], v0, [], 0, 2).action is Action.REVISE
    stop = decide([_finding(suggested=tie)], v0, [v0], 1, 5)
    assert (stop.action, stop.reason) == (Action.RESOLVE, Reason.UNCHANGED)
    osc = decide([_finding()], v0, [v0, v1], 2, 5)
    assert (osc.action, osc.reason) == (Action.RESOLVE, Reason.OSCILLATION)
    spent = decide([_finding()], v1, [v0], 1, 1)
    assert (spent.action, spent.reason) == (Action.RESOLVE, Reason.MAX_ROUNDS)
    agg = decide([_finding(policy="aggregate", suggested=tie)], v0, [], 0, 2)
    assert (agg.action, agg.reason) == (Action.RESOLVE, Reason.AGGREGATE_POLICY)
    assert agg.detectors == ["d"] and agg.biases == ["position"]


def test_probe_cache_reuses_identical_requests():
    judge = ScriptedJudge(position=1.0, compliance=0.0)
    debiaser = Debiaser(judge, ["position", PositionDetector(policy="flag")], max_rounds=1)
    result = debiaser.judge(ITEM)
    # two detectors want the same swap probe: it is made once per round
    assert sum(1 for p in result.probes if not p.cached) == len(result.rounds)
    assert len(judge.calls) == 2 * len(result.rounds)
    assert JudgeRequest.first(ITEM).fingerprint() == JudgeRequest.first(ITEM).fingerprint()


def test_usage_counts_judge_probe_calls():
    judge = ScriptedJudge(position=1.0, compliance=1.0)
    result = Debiaser(judge, ["position"], max_rounds=2).judge(ITEM)
    assert result.usage.calls == len(judge.calls) == 4  # 2 rounds x (judgement + swap probe)


def test_live_detectors_and_judge_never_see_the_gold_label():
    seen = []

    class Spy:
        name, version, bias, policy = "spy", "1", "other", "flag"

        def plan(self, ctx):
            seen.append((ctx.item.label, ctx.request.item.label))
            return []

        def assess(self, ctx, probes):
            return Finding(detector="spy", bias="other")

    judge = ScriptedJudge()
    result = Debiaser(judge, [Spy()]).judge(ITEM)
    assert seen == [(None, None)]
    assert all(c.item.label is None for c in judge.calls)
    assert result.verdict.choice == ITEM.label  # the scripted judge still knows its merit
