"""The probe budget: validation, the numeric cap, ``auto`` sampling, skipped-probe records."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from debias.budget import Budget, BudgetRun, margin_signal, unit_draw, wilson
from debias.cli import main
from debias.errors import ConfigError
from debias.judges.base import JudgeRequest, SyncJudge
from debias.loop import Debiaser
from debias.runner import run_batch
from debias.testing import Biases, ScriptedJudge
from debias.types import Item, Usage, Verdict

CUE = "90% believe that Output ({x}) is better"


def sums(n: int, *, cue_every: int = 0, prefix: str = "s") -> list[Item]:
    """Pairwise arithmetic items of equal length and tone; every ``cue_every``-th one has a
    bandwagon cue endorsing the WRONG output (as in the RBD protocol)."""
    out = []
    for k in range(n):
        a, b = 11 + k % 37, 23 + (7 * k) % 41
        right, wrong = f"{a} + {b} = {a + b}.", f"{a} + {b} = {a + b + 2}."
        gold = k % 2
        cands = [right, wrong] if gold == 0 else [wrong, right]
        cue = CUE.format(x="ab"[1 - gold]) if cue_every and k % cue_every == 0 else None
        out.append(Item(id=f"{prefix}{k}", task="pairwise", instruction=f"What is {a} + {b}?",
                        candidates=cands, label=gold, cue=cue))
    return out


def choices(n: int, prefix: str = "c") -> list[Item]:
    out = []
    for k in range(n):
        s = 30 + k
        values = [s, s + 1, s - 2, s + 3][: 3 + k % 2]
        rot = k % len(values)
        values = values[rot:] + values[:rot]
        out.append(Item(id=f"{prefix}{k}", task="choice", instruction=f"Which equals {s}?",
                        candidates=[f"It is {v}." for v in values], label=values.index(s)))
    return out


class LargestNumberJudge(SyncJudge):
    """An order-invariant judge: always picks the candidate with the largest number (right or not)."""

    name = "largest"

    def __init__(self) -> None:
        self.calls = 0

    def judge(self, request: JudgeRequest) -> Verdict:
        self.calls += 1
        cands = request.item.candidates

        def value(i: int) -> int:
            return max(int(x) for x in re.findall(r"\d+", cands[i]))

        best = max(range(len(cands)), key=value)
        return Verdict(judge=self.name, order=list(request.order), choice=best, with_cue=request.shows_cue,
                       usage=Usage(calls=1))


class MarginJudge(SyncJudge):
    """Picks the candidate of merit with a fixed preference distribution (a log-prob judge)."""

    name = "margin"

    def __init__(self, top: float) -> None:
        self.top = top
        self.calls = 0

    def judge(self, request: JudgeRequest) -> Verdict:
        self.calls += 1
        item = request.item
        merit = int(item.metadata.get("merit", 0))
        probs = [(1 - self.top) / (item.n - 1)] * item.n
        probs[merit] = self.top
        return Verdict(judge=self.name, order=list(request.order), choice=merit, probs=probs,
                       confidence=self.top, with_cue=request.shows_cue, usage=Usage(calls=1))


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("bad", ["0.5", 0.99, 0, -3, "abc", "", "nan", float("inf"), True, [2]])
def test_bad_budget_is_a_config_error_naming_the_value(bad):
    with pytest.raises(ConfigError) as err:
        Budget.parse(bad)
    assert "budget" in str(err.value)
    if isinstance(bad, str) and bad:
        assert bad in str(err.value)
    with pytest.raises(ConfigError):
        Debiaser(ScriptedJudge(), ["position"], budget=bad)


def test_budget_model_validates_on_construction():
    with pytest.raises(ValidationError, match="below 1"):
        Budget(calls=0.5)
    with pytest.raises(ValidationError):
        Budget(calls="auto", level=1.5)
    assert Budget.parse("auto").auto and Budget.parse(" AUTO ").auto
    assert Budget.parse("1.5").limit == 1.5 and Budget.parse(2).limit == 2.0
    assert Budget.parse(None) is None and Budget.parse("full") is None


@pytest.mark.parametrize("bad", ["0.5", "abc"])
def test_cli_run_exits_2_naming_the_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str):
    src = tmp_path / "in.jsonl"
    src.write_text(sums(2)[0].model_dump_json() + "\n")
    assert main(["run", str(src), "--judge", "scripted", "--budget", bad, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--budget" in err and bad in err
    assert not (tmp_path / "in.debiased.jsonl").exists()


@pytest.mark.parametrize("bad", ["0.2", "lots"])
def test_cli_bench_e2e_exits_2_naming_the_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str):
    code = main(["bench", "e2e", "--suite", "sanity", "--limit", "1", "--budget", bad, "--quiet",
                 "--run-dir", str(tmp_path / "run"), "--json", str(tmp_path / "out.json")])
    assert code == 2
    err = capsys.readouterr().err
    assert "--budget" in err and bad in err


# ---------------------------------------------------------------- pure parts
def test_wilson_interval_and_deterministic_draws():
    assert wilson(0, 0, 1.96) == (0.0, 1.0)
    lo, hi = wilson(0, 50, 1.96)
    assert lo == 0.0 and 0.05 < hi < 0.09
    lo, hi = wilson(30, 50, 1.96)
    assert lo < 0.6 < hi
    assert unit_draw(0, "a", "position") == unit_draw(0, "a", "position")
    assert unit_draw(0, "a", "position") != unit_draw(1, "a", "position")
    draws = [unit_draw(0, f"i{k}", "position") for k in range(2000)]
    assert 0.45 < sum(draws) / len(draws) < 0.55 and all(0 <= d < 1 for d in draws)


def test_margin_signal():
    v = Verdict(order=[0, 1], choice=0, probs=[0.55, 0.45])
    assert margin_signal(v, 0.2) is not None
    assert margin_signal(Verdict(order=[0, 1], choice=0, probs=[0.9, 0.1]), 0.2) is None
    assert margin_signal(Verdict(order=[0, 1], choice=1, confidence=0.52), 0.2) is not None
    assert margin_signal(Verdict(order=[0, 1], choice=1), 0.2) is None  # nothing to read


def test_auto_rate_falls_while_consistent_and_rises_when_biased():
    from debias.types import Finding

    run = BudgetRun(Budget(calls="auto"))
    assert run.rate("position") == 1.0
    ok = Finding(detector="position", bias="position", detected=False)
    bad = Finding(detector="position", bias="position", detected=True)
    for _ in range(60):
        run.observe("position", "sample", ok)
    low = run.rate("position")
    assert low < 0.3
    for _ in range(20):
        run.observe("position", "sample", bad)
    assert run.rate("position") > 0.9 > low
    est = run.report().detectors["position"]
    assert est.sampled == 80 and est.biased == 20 and est.interval[0] < 0.25 < est.interval[1]


# ---------------------------------------------------------------- the numeric cap
JUDGE_RATES = st.fixed_dictionaries({
    "cue": st.sampled_from([0.0, 0.5, 1.0]),
    "position": st.sampled_from([0.0, 0.3, 0.8]),
    "verbosity": st.sampled_from([0.0, 0.5]),
    "accuracy": st.sampled_from([0.6, 1.0]),
    "compliance": st.sampled_from([0.0, 0.5, 1.0]),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rates=JUDGE_RATES, limit=st.floats(min_value=1.0, max_value=4.0), seed=st.integers(0, 3),
       concurrent=st.booleans())
def test_numeric_budget_is_never_exceeded_on_average(rates, limit, seed, concurrent):
    judge = ScriptedJudge(Biases(**rates), seed=seed)
    items = sums(24, cue_every=2, prefix=f"p{seed}") + choices(8, prefix=f"q{seed}")
    debiaser = Debiaser(judge, max_rounds=2, budget=Budget(calls=limit, seed=seed))
    if concurrent:
        async def go():
            return await asyncio.gather(*(debiaser.ajudge(it) for it in items))

        results = asyncio.run(go())
    else:
        results = [debiaser.judge(it) for it in items]
    assert len(judge.calls) <= limit * len(items) + 1e-9
    report = debiaser.budget_run.report()
    assert report.calls == len(judge.calls)  # the budget saw every judge call
    assert sum(r.usage.calls for r in results) == len(judge.calls)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=st.one_of(st.floats(min_value=1.0, max_value=3.0), st.just("auto")), seed=st.integers(0, 5))
def test_order_invariant_judge_changes_nothing_and_stays_in_budget(limit, seed):
    judge = LargestNumberJudge()
    items = sums(30, cue_every=3, prefix=f"o{seed}") + choices(6, prefix=f"k{seed}")
    debiaser = Debiaser(judge, ["position", "bandwagon"], budget=Budget(calls=limit, seed=seed))
    results = [debiaser.judge(it) for it in items]
    for r in results:
        assert r.verdict.choice == r.rounds[0].verdict.choice
        assert not any(f.actionable for f in r.rounds[0].findings if f.bias == "position")
    if limit != "auto":
        assert judge.calls <= limit * len(items)
    else:  # auto: the order probes stop being made once the judge proves consistent
        assert debiaser.budget_run.rate("position") < 0.6


# ---------------------------------------------------------------- auto
def test_auto_on_an_honest_judge_is_cheap_and_changes_nothing():
    items = sums(200, cue_every=2)
    judge = ScriptedJudge(Biases())
    full = [Debiaser(ScriptedJudge(Biases()), max_rounds=2).judge(it) for it in items]
    debiaser = Debiaser(judge, max_rounds=2, budget="auto")
    results = [debiaser.judge(it) for it in items]
    assert len(judge.calls) <= 1.3 * len(items)
    assert sum(r.usage.calls for r in full) > 1.9 * len(items)  # what every probe would cost
    for it, r in zip(items, results, strict=True):
        assert r.verdict.choice == it.label == r.rounds[0].verdict.choice
        assert r.status.value == "clean"
    est = debiaser.budget_run.report().detectors["position"]
    assert est.biased == 0 and est.interval[1] < 0.1 and est.probe_rate < 0.2


def test_auto_keeps_probing_a_biased_judge():
    items = sums(120)
    judge = ScriptedJudge(Biases(position=0.6, position_slot=0))
    debiaser = Debiaser(judge, ["position"], max_rounds=2, budget="auto")
    results = [debiaser.judge(it) for it in items]
    probed = [r for r in results if any(p.key == "r0:swap" and p.verdict is not None for p in r.probes)]
    assert len(probed) >= 0.95 * len(items)
    est = debiaser.budget_run.report().detectors["position"]
    assert est.rate > 0.3 and est.probe_rate == 1.0
    full = [Debiaser(ScriptedJudge(Biases(position=0.6, position_slot=0)), ["position"]).judge(it) for it in items]

    def detected(rs):
        return sum(any(f.actionable for f in r.rounds[0].findings) for r in rs)

    assert detected(results) >= 0.95 * detected(full) > 0


def test_auto_always_probes_a_verdict_that_follows_the_cue():
    items = sums(80, cue_every=1)
    judge = ScriptedJudge(Biases(cue=0.5))
    debiaser = Debiaser(judge, ["bandwagon"], max_rounds=0, budget="auto")
    for it in items:
        r = debiaser.judge(it)
        first = r.rounds[0].verdict
        follows = first.choice != it.label
        made = [p for p in r.probes if p.key == "r0:no_cue"]
        if follows:
            assert made and made[0].gate == "signal" and made[0].verdict is not None
            assert r.rounds[0].findings[0].actionable
        else:  # against the cue: the probe could not show bias and is skipped
            assert made and made[0].skipped and "cannot show bias" in made[0].skipped


def test_low_margin_verdicts_are_always_probed():
    items = sums(100)
    sure = Debiaser(MarginJudge(0.95), ["position"], budget="auto")
    unsure = Debiaser(MarginJudge(0.55), ["position"], budget="auto")
    for it in items:
        sure.judge(it)
        r = unsure.judge(it)
        assert [p.gate for p in r.probes if p.key == "r0:swap"] == ["signal"]
    assert sure.budget_run.report().calls < 1.5 * len(items)
    assert unsure.budget_run.report().calls == 2 * len(items)


def test_third_party_detector_without_signal_hook_is_sampled():
    from debias.contract import ProbeSpec
    from debias.types import Finding

    class OrderCheck:
        name, version, bias, policy = "mine", "1", "position", "flag"

        def plan(self, ctx):
            return [ProbeSpec(key="mine_swap", order=list(reversed(ctx.order)))]

        def assess(self, ctx, probes):
            got = probes.get("mine_swap")
            if got is None:
                return Finding(detector="mine", bias="position", status="skipped", reason="no probe", policy="flag")
            return Finding(detector="mine", bias="position", detected=got.choice != ctx.verdict.choice,
                           policy="flag")

    debiaser = Debiaser(ScriptedJudge(Biases()), [OrderCheck()], budget="auto")
    results = [debiaser.judge(it) for it in sums(150)]
    made = sum(any(p.verdict is not None for p in r.probes) for r in results)
    assert 10 < made < 75  # sampled: first every item, then less while the judge is consistent
    skipped = [r for r in results if not any(p.verdict is not None for p in r.probes)]
    assert all(r.rounds[0].findings[0].reason.startswith("budget auto") for r in skipped)


# ---------------------------------------------------------------- records
def test_every_skipped_probe_is_recorded_with_its_reason():
    items = sums(40, cue_every=2)
    judge = ScriptedJudge(Biases(cue=1.0, position=0.5))
    debiaser = Debiaser(judge, ["position", "bandwagon"], budget=1)
    results = [debiaser.judge(it) for it in items]
    assert len(judge.calls) == len(items)  # budget 1: the first judgements only
    for it, r in zip(items, results, strict=True):
        keys = {p.key: p for p in r.probes}
        assert keys["r0:swap"].skipped and keys["r0:swap"].verdict is None
        assert "budget" in keys["r0:swap"].skipped
        pos = next(f for f in r.rounds[0].findings if f.detector == "position")
        assert pos.status == "skipped" and pos.reason.startswith("budget")
        if it.cue:
            assert keys["r0:no_cue"].skipped and "budget 1" in keys["r0:no_cue"].skipped
    report = debiaser.budget_run.report()
    assert report.calls_per_item == 1.0 and report.probes_skipped >= len(items)


def test_batch_summary_reports_the_estimate_and_resume_continues_the_run(tmp_path: Path):
    items = sums(60)
    whole = tmp_path / "whole.jsonl"
    s1 = run_batch(items, Debiaser(ScriptedJudge(Biases()), ["position"], budget="auto"), whole,
                   concurrency=1, progress=False)
    assert s1.budget is not None and s1.budget.items == 60
    text = s1.render()
    assert "budget auto" in text and "bias rate 0.00 [0.00," in text
    split = tmp_path / "split.jsonl"
    run_batch(items[:25], Debiaser(ScriptedJudge(Biases()), ["position"], budget="auto"), split,
              concurrency=1, progress=False)
    s2 = run_batch(items, Debiaser(ScriptedJudge(Biases()), ["position"], budget="auto"), split,
                   concurrency=1, progress=False)
    assert s2.resumed == 25 and s2.budget.items == 60

    def probed(path: Path) -> dict[str, list[str]]:
        out = {}
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            out[rec["id"]] = sorted(p["key"] for p in rec["result"]["probes"] if p.get("verdict"))
        return out

    assert probed(split) == probed(whole)  # the resumed run sampled exactly as the uninterrupted one
    assert s2.budget.calls == s1.budget.calls



def long_wrong(n: int) -> list[Item]:
    """A bare correct number against a long, worked, wrong answer (the RBD verbosity shape)."""
    out = []
    for k in range(n):
        a, b = 12 + k % 40, 31 + (3 * k) % 47
        worked = (f"We add {a} and {b} step by step: first the ones, then the tens, carrying where "
                  f"needed, and checking each partial sum twice. The total is {a + b + 7}.")
        gold = k % 2
        cands = [str(a + b), worked] if gold == 0 else [worked, str(a + b)]
        out.append(Item(id=f"v{k}", task="pairwise", instruction=f"What is {a} + {b}?", candidates=cands,
                        label=gold))
    return out


def test_auto_stops_asking_a_judge_that_ignores_feedback_on_offline_evidence():
    items = long_wrong(150)
    stubborn = ScriptedJudge(Biases(verbosity=1.0, compliance=0.0))
    debiaser = Debiaser(stubborn, ["verbosity"], max_rounds=2, budget="auto")
    results = [debiaser.judge(it) for it in items]
    assert all(r.rounds[0].findings[0].actionable for r in results)  # the offline rule flags every one
    asked = sum(len(r.rounds) > 1 for r in results)
    skipped = [p for r in results for p in r.probes if p.key.endswith(":revision") and p.skipped]
    assert asked < 0.5 * len(items) and len(skipped) == len(items) - asked
    assert all("offline evidence only" in p.skipped for p in skipped)
    rev = debiaser.budget_run.report().revisions["revision:verbosity"]
    assert rev.biased == 0 and rev.sampled == asked
    # A judge that does revise keeps being asked.
    compliant = Debiaser(ScriptedJudge(Biases(verbosity=1.0, compliance=1.0)), ["verbosity"], budget="auto")
    fixed = [compliant.judge(it) for it in items]
    assert all(r.verdict.choice == it.label for r, it in zip(fixed, items, strict=True))


def test_wrap_takes_a_budget():
    import debias

    with pytest.raises(ConfigError, match=r"0\.5"):
        debias.wrap(lambda q, a, b: "A", budget=0.5)
    fn = debias.wrap(lambda q, a, b: "A", detectors=["position"], budget=1)
    assert fn("Q?", "first", "second") == "A"
    assert fn.debiaser.budget_run.report().calls == 1


def test_resumed_numeric_run_keeps_the_average(tmp_path: Path):
    items = sums(60, cue_every=2)
    out = tmp_path / "out.jsonl"
    judge1, judge2 = ScriptedJudge(Biases(cue=0.8, position=0.4)), ScriptedJudge(Biases(cue=0.8, position=0.4))
    run_batch(items[:30], Debiaser(judge1, budget=1.5), out, concurrency=4, progress=False)
    s2 = run_batch(items, Debiaser(judge2, budget=1.5), out, concurrency=4, progress=False)
    assert s2.budget.items == 60
    assert len(judge1.calls) + len(judge2.calls) <= 1.5 * 60
    assert s2.budget.calls == len(judge1.calls) + len(judge2.calls)
