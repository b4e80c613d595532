"""Counterfactual resolution: pure planning/combination, the loop with judges that ignore
feedback, and ``debias run`` against a loopback OpenAI-compatible judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debias.cli import main
from debias.contract import ProbeSpec
from debias.errors import JudgeError
from debias.loop import Debiaser, decide
from debias.resolution import plan_counterfactual, resolve
from debias.testing import Biases, OpenAIServer, ScriptedJudge, ScriptedRewriter, StubbornCue
from debias.types import (
    Action,
    Evidence,
    Finding,
    Item,
    Reason,
    ResolutionKind,
    Result,
    Rule,
    Status,
    Verdict,
)

CUE = "90% believe that Output ({x}) is better"


def _cue_item(k: int, gold: int) -> Item:
    cands = [f"{k} + {k} = {2 * k}.", f"{k} + {k} = {2 * k + 1}."]
    if gold == 1:
        cands.reverse()
    return Item(id=f"b{k}", task="pairwise", instruction=f"What is {k} + {k}?", candidates=cands,
                label=gold, cue=CUE.format(x="ab"[1 - gold]))


# ------------------------------------------------------------------------ pure planning
def test_joint_probe_plan_covers_no_cue_times_every_order():
    plan = plan_counterfactual([0, 1], [("bandwagon", [ProbeSpec(key="no_cue", with_cue=False)]),
                                        ("position", [ProbeSpec(key="swap", order=[1, 0])])])
    assert [(s.order, s.with_cue) for s in plan.specs] == [([0, 1], False), ([1, 0], False)]
    assert plan.removed == ("cue", "order") and plan.unremoved == ()
    assert plan.covered == ("bandwagon", "position")


def test_factor_without_a_removing_probe_is_unremoved():
    plan = plan_counterfactual([0, 1], [("verbosity", []), ("bandwagon", [ProbeSpec(key="no_cue", with_cue=False)])])
    assert plan.unremoved == ("verbosity",) and plan.removed == ("cue",) and len(plan.specs) == 1
    nothing = plan_counterfactual([0, 1], [("other", [ProbeSpec(key="again")])])
    assert nothing.specs == () and nothing.unremoved == ("other",)


def test_rewrites_chain_and_tested_factors_join_only_when_order_is_detected():
    eq = ProbeSpec(key="equal_length", rewrite="equalize_length")
    tone = ProbeSpec(key="neutral_tone", rewrite="neutralize_tone")
    both = plan_counterfactual([0, 1], [("verbosity", [eq]), ("sentiment", [tone])])
    assert [s.rewrite for s in both.specs] == ["equalize_length+neutralize_tone"]
    swap = ProbeSpec(key="swap", order=[1, 0])
    alone = plan_counterfactual([0, 1], [("verbosity", [eq])], tested=[("bandwagon", [ProbeSpec(key="n", with_cue=False)])])
    assert alone.removed == ("rewrite:equalize_length",)
    joined = plan_counterfactual([0, 1], [("position", [swap])], tested=[("verbosity", [eq])])
    assert joined.removed == ("order", "rewrite:equalize_length") and joined.covered == ("position",)
    assert all(s.rewrite == "equalize_length" for s in joined.specs) and len(joined.specs) == 2


specs_st = st.lists(st.sampled_from([
    ProbeSpec(key="no_cue", with_cue=False), ProbeSpec(key="swap", order=[1, 0]),
    ProbeSpec(key="eq", rewrite="equalize_length"), ProbeSpec(key="tone", rewrite="neutralize_tone"),
    ProbeSpec(key="same")]), max_size=3)
factors_st = st.lists(st.tuples(st.sampled_from(["position", "bandwagon", "verbosity", "sentiment"]), specs_st),
                      max_size=4)


@settings(max_examples=80, deadline=None)
@given(factors_st, st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_the_order_of_factors(factors, rnd):
    shuffled = [(b, rnd.sample(s, len(s))) for b, s in factors]
    rnd.shuffle(shuffled)
    assert plan_counterfactual([0, 1], factors) == plan_counterfactual([0, 1], shuffled)


def _v(order, choice, probs=None, tie=False):
    return Verdict(order=order, choice=choice, probs=probs, tie=tie, with_cue=False)


def test_resolve_rules():
    plan = plan_counterfactual([0, 1], [("position", [ProbeSpec(key="swap", order=[1, 0])])])
    same_slot = resolve([("r0", _v([0, 1], 0)), ("r0:swap", _v([1, 0], 1))], plan)
    assert same_slot.verdict.tie and same_slot.resolution.rule is Rule.SAME_SLOT
    assert same_slot.resolution.kind is ResolutionKind.TIE
    agree = resolve([("r0", _v([0, 1], 1)), ("r0:swap", _v([1, 0], 1))], plan)
    assert agree.verdict.choice == 1 and agree.resolution.rule is Rule.MAJORITY
    assert agree.resolution.kind is ResolutionKind.AGGREGATE and agree.resolution.probes == ["r0", "r0:swap"]
    probs = resolve([("r0", _v([0, 1], 0, [0.6, 0.4])), ("r0:swap", _v([1, 0], 1, [0.0, 1.0]))], plan)
    assert probs.verdict.choice == 1 and probs.verdict.probs == pytest.approx([0.3, 0.7])
    assert probs.resolution.rule is Rule.MEAN_PROBS
    one = resolve([("r0", _v([0, 1], 0)), ("r0:swap", None)], plan)
    assert one.resolution.kind is ResolutionKind.COUNTERFACTUAL and one.resolution.removed == []
    assert one.resolution.unremoved == ["position"]  # the other order's probe failed
    none = resolve([("r0:swap", None)], plan)
    assert none.verdict is None and none.resolution.kind is ResolutionKind.KEPT
    assert none.resolution.rule is Rule.NO_EVIDENCE and none.resolution.unremoved == ["position"]


# ------------------------------------------------------------------------------ decide()
findings_st = st.lists(st.builds(
    Finding, detector=st.sampled_from(["a", "b", "c"]), bias=st.sampled_from(["position", "bandwagon", "other"]),
    detected=st.booleans(), status=st.sampled_from(["ok", "ok", "skipped", "error"]),
    policy=st.sampled_from(["revise", "aggregate", "flag", "raise"]), confidence=st.floats(0, 1),
    evidence=st.just(Evidence())), max_size=6)
verdict_st = st.builds(Verdict, order=st.just([0, 1]), choice=st.sampled_from([0, 1]))


@settings(max_examples=150, deadline=None)
@given(findings_st, verdict_st, st.lists(verdict_st, max_size=3), st.integers(0, 3), st.integers(0, 3),
       st.randoms(use_true_random=False))
def test_decide_does_not_depend_on_the_order_of_findings(findings, verdict, previous, index, max_rounds, rnd):
    shuffled = rnd.sample(findings, len(findings))
    a = decide(findings, verdict, previous, index, max_rounds)
    b = decide(shuffled, verdict, previous, index, max_rounds)
    assert a == b and a.findings == b.findings


# ---------------------------------------------------------------- the loop, stubborn judges
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 1), st.floats(0.0, 1.0), st.floats(0.0, 1.0),
       st.integers(0, 3), st.integers(0, 1))
def test_stubborn_cue_follower_gets_its_cue_free_verdict(seed, gold, position, accuracy, max_rounds, slot):
    """Compliance 0 and cue rate 1: the final verdict is what the judge answers without the cue
    (in every display order; when those disagree, a tie)."""
    biases = Biases(cue=1.0, compliance=0.0, position=position, position_slot=slot, accuracy=accuracy)
    item = _cue_item(seed, gold)
    result = Debiaser(ScriptedJudge(biases, seed=seed), ["position", "bandwagon"], max_rounds=max_rounds).judge(item)
    oracle = ScriptedJudge(biases, seed=seed)
    free = Debiaser(oracle, ["position"], max_rounds=0).judge(item.model_copy(update={"cue": None}))
    first = free.rounds[0].verdict
    swap = next(p.verdict for p in free.probes if p.key == "r0:swap")
    assert result.rounds[0].verdict.choice == 1 - gold  # it followed the cue
    if first.choice == swap.choice:
        assert result.verdict.choice == first.choice and not result.verdict.tie
        assert result.status is Status.RESOLVED
    else:
        assert result.verdict.tie and result.status is Status.UNRESOLVED
    assert result.resolution.removed == ["cue", "order"]
    assert result.stop in (Reason.UNCHANGED, Reason.MAX_ROUNDS, Reason.OSCILLATION)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 4), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_order_invariant_judge_changes_nothing(seed, n, verbosity, accuracy):
    """A judge whose answer never depends on the display order (no position bias, nothing
    random across orders) keeps its verdict: no position finding, no revision."""
    cands = [f"option {k} " + "word " * (3 * k) for k in range(n)]
    item = Item(id=f"o{seed}", task="pairwise" if n == 2 else "choice", instruction="Pick one.",
                candidates=cands, label=seed % n)
    judge = ScriptedJudge(Biases(verbosity=float(verbosity > 0.5), accuracy=1.0), seed=seed)
    result = Debiaser(judge, ["position"]).judge(item)
    assert result.status is Status.CLEAN and result.resolution.kind is ResolutionKind.ACCEPTED
    assert not result.rounds[0].findings[0].detected and len(result.rounds) == 1
    assert result.verdict == result.rounds[0].verdict


def test_compliant_revision_is_preferred_and_recorded_as_revised():
    item = _cue_item(3, 0)
    result = Debiaser(ScriptedJudge(cue=1.0, compliance=1.0), ["position", "bandwagon"]).judge(item)
    assert result.status is Status.REVISED and result.resolution.kind is ResolutionKind.REVISED
    assert result.verdict.choice == 0 and result.resolution.probes[0] == "r1"
    assert not any(p.detector == "resolution" for p in result.probes)  # no counterfactual needed


def test_joint_probe_is_planned_once_and_made_probes_are_reused():
    item = _cue_item(5, 1)
    judge = ScriptedJudge(cue=1.0, compliance=0.0)
    result = Debiaser(judge, ["position", "bandwagon"], max_rounds=1).judge(item)
    made = [p for p in result.probes if p.detector == "resolution"]
    assert [p.key for p in made] == ["cf:order=1-0,cue=off"]  # no cue x swapped order: the only new one
    assert result.resolution.probes == ["cf:order=1-0,cue=off", "r0:no_cue"]  # reused the no_cue probe
    assert result.verdict.choice == 1 and result.status is Status.RESOLVED
    assert result.resolution.kind is ResolutionKind.AGGREGATE and result.stop is Reason.UNCHANGED


def test_rewriter_backed_counterfactual_for_a_stubborn_verbosity_judge():
    item = Item(id="v", task="pairwise", instruction="What is 40 + 61?", label=0,
                candidates=["101", "We add the numbers. First take 40, then add 61: adding the digits "
                                   "and carrying gives 98. So the answer is 98."])
    judge = ScriptedJudge(verbosity=1.0, compliance=0.0)
    without = Debiaser(judge, ["position", "verbosity"]).judge(item)
    assert without.verdict.choice == 1  # no rewriter: nothing can remove the length factor
    result = Debiaser(ScriptedJudge(verbosity=1.0, compliance=0.0), ["position", "verbosity"],
                      rewriter=ScriptedRewriter()).judge(item)
    assert result.verdict.choice == 0 and result.status is Status.RESOLVED
    assert "rewrite:equalize_length" in result.resolution.removed


def test_joint_probe_that_times_out_leaves_the_order_factor_unresolved():
    """A judge that follows the cue, ignores feedback and times out on some requests."""
    item = _cue_item(4, 0)
    scripted = ScriptedJudge(cue=1.0, compliance=0.0)

    class TimesOut:
        name = "flaky"

        def judge(self, request):
            if not request.with_cue and request.order != [0, 1]:
                raise JudgeError("timed out after 30 s")
            return scripted.judge(request)

        async def ajudge(self, request):
            return self.judge(request)

    result = Debiaser(TimesOut(), ["position", "bandwagon"], max_rounds=1).judge(item)
    failed = [p for p in result.probes if p.detector == "resolution"]
    assert len(failed) == 1 and "timed out" in failed[0].error
    assert result.verdict.choice == 0  # the no-cue answer in the one order obtained
    assert result.resolution.kind is ResolutionKind.COUNTERFACTUAL and result.resolution.removed == ["cue"]
    assert result.resolution.unremoved == ["position"] and result.status is Status.UNRESOLVED


async def test_async_resolution_matches_sync():
    item = _cue_item(7, 0)
    dets = ["position", "bandwagon"]
    sync = Debiaser(ScriptedJudge(cue=1.0, compliance=0.0, position=0.5), dets).judge(item)
    asyn = await Debiaser(ScriptedJudge(cue=1.0, compliance=0.0, position=0.5), dets).ajudge(item)
    assert sync.model_dump(exclude={"elapsed_s"}) == asyn.model_dump(exclude={"elapsed_s"})


def test_old_records_are_still_read():
    old = {"verdict": {"order": [0, 1], "choice": 1}, "status": "revised",
           "stop_reason": "aggregated (revision changed nothing)",
           "rounds": [{"index": 0, "verdict": {"order": [0, 1], "choice": 0}, "decision": "revise: bias found"}]}
    r = Result.model_validate(old)
    assert r.status is Status.RESOLVED and r.stop is Reason.UNCHANGED
    assert r.resolution.kind is ResolutionKind.AGGREGATE
    assert r.rounds[0].decision.action is Action.REVISE and r.rounds[0].decision.reason is Reason.BIAS_FOUND
    assert Result.model_validate({"status": "clean", "stop_reason": "no actionable bias"}).stop is Reason.NO_BIAS
    assert Result.model_validate_json(r.model_dump_json()) == r


# --------------------------------------------------------------- CLI, loopback server
def test_cli_run_with_a_stubborn_cue_following_openai_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-resolution")
    rows = []
    for k in range(4):
        gold = k % 2
        cands = [f"{k} + 1 = {k + 1}. [correct]", f"{k} + 1 = {k + 3}."]
        if gold:
            cands.reverse()
        rows.append({"id": f"bw{k}", "task": "pairwise", "instruction": f"What is {k} + 1?",
                     "candidates": cands, "label": gold, "cue": CUE.format(x="ab"[1 - gold])})
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    with OpenAIServer(StubbornCue()) as server:
        code = main(["run", str(inp), "--judge", "openai-compat:stubborn", "--api-base", server.base_url,
                     "--detectors", "position,bandwagon", "--no-cache", "--quiet", "--out", str(out)])
        assert code == 0 and server.request_count > 0
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for row, rec in zip(rows, sorted(records, key=lambda r: r["id"]), strict=True):
        res = rec["result"]
        assert res["rounds"][0]["verdict"]["choice"] == 1 - row["label"]  # followed the cue
        assert res["rounds"][-1]["verdict"]["choice"] == 1 - row["label"]  # and ignored the feedback
        assert res["verdict"]["choice"] == row["label"] and not res["verdict"]["tie"]  # the no-cue answer
        assert res["status"] == "resolved" and res["resolution"]["kind"] == "aggregate"
        assert res["resolution"]["removed"] == ["cue", "order"]
    assert "status: resolved 4" in printed and "revised" not in printed.split("final verdict from:")[0]
    assert "aggregate over orders (judge ignored feedback) 4" in printed
    assert "accuracy on 4 labelled items: judge alone 0.00 (0/4) -> debiased 1.00 (4/4)" in printed
