"""Outcome extraction and metrics of ``debias bench e2e`` against hand-computed values."""

from __future__ import annotations

import pytest

from debias.bench_e2e.cases import Case, make_item
from debias.bench_e2e.metrics import control_check, cost_summary, flag_rates, group_report, rates
from debias.bench_e2e.outcomes import CaseOutcome, ItemCost, outcome
from debias.types import (
    Evidence,
    Finding,
    ProbeRecord,
    Reason,
    Result,
    Round,
    Status,
    Usage,
    Verdict,
)

FLAGS = ("d_before", "d_after", "b_before", "b_after", "agree_before", "agree_after", "detected")


def oc(spec: str, *, i: int = 0, detected_d: bool = False, tie_d: bool = False,
       tie_b: bool = False, flags_b: tuple[str, ...] = ()) -> CaseOutcome:
    """An outcome from a 7-character T/F string in the order of FLAGS."""
    vals = dict(zip(FLAGS, (ch == "T" for ch in spec), strict=True))
    label = vals["d_before"] and not vals["b_before"]
    return CaseOutcome(case=f"c{i}", group="g", bias="position", label=label, detected_d=detected_d,
                       tie_d_after=tie_d, tie_b_after=tie_b, flags_b=list(flags_b), **vals)


#            d0 d1 b0 b1 a0 a1 det
HAND = [
    "TTFTFTT",  # fixed on D_bias, bias label, detected (TP)
    "TTFFFFF",  # bias label missed (FN)
    "TTTTTTF",  # clean (TN)
    "TFTTTTT",  # false alarm that broke D (FP, over-correction on D)
    "FFFTFTT",  # wrong on D, fixed on D_bias (FP by the RBD label)
    "FTTFFFF",  # over-correction on D_bias, fixed on D (TN)
    "TTTTTTF", "TTTTFTF", "TTTTFTF", "TTTTFTF",
]


def test_ties_count_half_in_the_tie_as_half_accuracy_and_zero_in_the_strict_one() -> None:
    # 4 cases on D_bias: wrong before in all; after: 1 right, 2 ties, 1 wrong; D: 1 tie before
    outs = [oc("TTFTFFF", i=0), oc("TTFFFFF", i=1, tie_b=True), oc("TTFFFFF", i=2, tie_b=True),
            oc("TTFFFFF", i=3)]
    outs[3] = outs[3].model_copy(update={"tie_d_before": True, "d_before": False, "d_after": False})
    r = {k: v.value for k, v in rates(outs, scope="t", n_boot=0).items()}
    assert r["accuracy_bias_after"] == pytest.approx(0.25)
    assert r["accuracy_bias_half_after"] == pytest.approx((1 + 0.5 * 2) / 4)
    assert r["tie_rate_bias_after"] == pytest.approx(0.5) and r["tie_rate_bias_before"] == 0.0
    assert r["accuracy_d_half_before"] == pytest.approx((3 + 0.5) / 4)
    assert r["tie_rate_d_before"] == pytest.approx(0.25)


def test_rates_match_hand_computed_values() -> None:
    outs = [oc(s, i=k) for k, s in enumerate(HAND)]
    r = {k: v.value for k, v in rates(outs, scope="t", n_boot=0).items()}
    expect = {
        "accuracy_d_before": 0.8, "accuracy_d_after": 0.8,
        "accuracy_bias_before": 0.7, "accuracy_bias_after": 0.8,
        "consistency_before": 0.6, "consistency_after": 0.6,
        "agreement_before": 0.3, "agreement_after": 0.8, "delta_agreement": 0.5,
        "delta_accuracy_d": 0.0, "delta_accuracy_bias": 0.1, "delta_consistency": 0.0,
        "over_correction_d": 0.1, "over_correction_bias": 0.1,
        "over_correction_d_given_right": 1 / 8, "over_correction_bias_given_right": 1 / 7,
        "fixed_d": 0.1, "fixed_bias": 0.2,
        "bias_label_rate": 0.2,
        "detection_precision": 1 / 3, "detection_recall": 1 / 2, "detection_f1": 0.4,
        "detection_accuracy": 0.7, "flag_rate_bias": 0.3, "flag_rate_d": 0.0,
        "tie_rate_d_after": 0.0, "tie_rate_bias_after": 0.0,
        "tie_rate_d_before": 0.0, "tie_rate_bias_before": 0.0,
        # no ties: tie-as-half accuracy equals the strict one
        "accuracy_d_half_before": 0.8, "accuracy_d_half_after": 0.8,
        "accuracy_bias_half_before": 0.7, "accuracy_bias_half_after": 0.8,
    }
    assert set(expect) == set(r)
    for name, value in expect.items():
        assert r[name] == pytest.approx(value), name


def test_intervals_are_seeded_and_bracket_the_estimate() -> None:
    outs = [oc(s, i=k) for k, s in enumerate(HAND * 3)]
    a = rates(outs, scope="t", seed=1, n_boot=400)
    b = rates(outs, scope="t", seed=1, n_boot=400)
    c = rates(outs, scope="t", seed=2, n_boot=400)
    assert a == b
    assert any(a[k] != c[k] for k in a)
    for name, est in a.items():
        assert est.value is not None and est.lo is not None and est.hi is not None, name
        assert est.lo - 1e-9 <= est.value <= est.hi + 1e-9, name
    assert a["accuracy_d_before"].hi - a["accuracy_d_before"].lo > 0.1  # 30 cases: wide
    assert a["delta_accuracy_bias"].lo < 0 < a["delta_accuracy_bias"].hi  # paired difference


def test_undefined_rates_are_refused_not_zero() -> None:
    outs = [oc("TTTTTTF", i=k) for k in range(5)]  # no bias labels, no detections
    r = rates(outs, scope="t", n_boot=100)
    assert r["detection_precision"].value is None and r["detection_recall"].value is None
    assert r["detection_precision"].note
    assert r["over_correction_d"].value == 0.0
    assert rates([], scope="t")["accuracy_d_before"].note == "no cases"


def test_control_check_fails_when_wrapping_lowers_accuracy_on_d() -> None:
    ok = control_check(rates([oc(s, i=k) for k, s in enumerate(HAND)], scope="t", n_boot=300))
    assert ok["ok"] is True
    harmed = [oc("TFTTTTF" if k % 2 else "TTTTTTF", i=k) for k in range(20)]
    bad = control_check(rates(harmed, scope="t", n_boot=300))
    assert bad["ok"] is False
    assert bad["accuracy_d_before"]["value"] == 1.0 and bad["accuracy_d_after"]["value"] == 0.5


def test_flag_rates_and_ties() -> None:
    outs = [oc("TTTTTTF", i=0, flags_b=("bandwagon",), tie_b=True), oc("TTTTTTF", i=1),
            oc("TTTTTTF", i=2, flags_b=("bandwagon", "position")), oc("TTTTTTF", i=3)]
    f = flag_rates(outs, scope="t", n_boot=0)
    assert f["bandwagon"]["D_bias"].value == 0.5 and f["bandwagon"]["D"].value == 0.0
    assert f["position"]["D_bias"].value == 0.25
    assert rates(outs, scope="t", n_boot=0)["tie_rate_bias_after"].value == 0.25


def test_cost_summary_means_per_item() -> None:
    a = oc("TTTTTTF", i=0)
    a.cost_d = ItemCost(calls=4, sent_calls=2, first_calls=1, tokens=100, cost=0.02, seconds=2.0)
    a.cost_b = ItemCost(calls=2, sent_calls=2, first_calls=1, tokens=50, cost=0.01, seconds=1.0)
    s = cost_summary([a])
    assert s["items"] == 2
    assert s["per_item"]["calls"] == 3 and s["per_item"]["sent_calls"] == 2
    assert s["per_item"]["tokens"] == 75 and s["per_item"]["cost"] == pytest.approx(0.015)
    assert s["call_overhead"] == 3.0 and s["totals"]["seconds"] == 3.0
    assert s["per_item_by_form"]["D"]["calls"] == 4


# ------------------------------------------------------------------------ outcome()
def _case() -> Case:
    common = {"task": "pairwise", "instruction": "q", "suite": "t", "group": "position"}
    return Case(id="p/1", suite="t", group="position", bias="position", role_map=[1, 0],
                d=make_item("p/1", "D", candidates=["x", "y"], label=1, **common),
                d_bias=make_item("p/1", "D_bias", candidates=["y", "x"], label=0, **common))


def _v(choice: int | None, order: list[int] | None = None, *, tie: bool = False,
       usage: Usage | None = None) -> Verdict:
    return Verdict(order=order or [0, 1], choice=choice, tie=tie, usage=usage or Usage(calls=1))


def _finding(bias: str, detected: bool, status: str = "ok", usage: Usage | None = None,
             detector: str | None = None) -> Finding:
    return Finding(detector=detector or bias, bias=bias, detected=detected, status=status,  # type: ignore[arg-type]
                   reason="boom" if status == "error" else None, usage=usage or Usage(),
                   evidence=Evidence())


def _result(first: Verdict, final: Verdict | None, findings: list[Finding],
            probes: list[ProbeRecord] | None = None, status: Status = Status.REVISED) -> Result:
    return Result(verdict=final, status=status,
                  rounds=[Round(index=0, verdict=first, findings=findings)],
                  probes=probes or [], elapsed_s=1.5)


def test_outcome_maps_d_bias_choices_through_the_role_map() -> None:
    case = _case()
    # D: first picks "x" (wrong), final "y" (right); D_bias: picks "y" (right) throughout
    rd = _result(_v(0), _v(1), [_finding("position", True)])
    rb = _result(_v(0), _v(0), [_finding("position", False), _finding("bandwagon", True)])
    o = outcome(case, rd, rb)
    assert (o.d_before, o.d_after, o.b_before, o.b_after) == (False, True, True, True)
    assert o.agree_before is False  # "x" on D vs "y" on D_bias
    assert o.agree_after is True  # "y" on both
    assert o.label is False  # wrong on D: never a bias label
    assert o.detected is False and o.detected_d is True
    assert o.flags_b == ["bandwagon"] and o.flags_d == ["position"]


def test_outcome_derives_the_bias_label_and_counts_ties_as_wrong() -> None:
    case = _case()
    rd = _result(_v(1), _v(1), [])
    rb = _result(_v(1), _v(None, tie=True), [_finding("position", True)])
    o = outcome(case, rd, rb)
    assert o.label is True and o.detected is True
    assert o.b_after is False and o.tie_b_after is True and o.agree_after is False


def test_outcome_of_an_error_and_costs() -> None:
    case = _case()
    err = Result(status=Status.ERROR, stop=Reason.JUDGE_FAILED, error="JudgeError: down")
    probes = [ProbeRecord(key="r0:swap", detector="position",
                          verdict=_v(1, [1, 0], usage=Usage(calls=1, prompt_tokens=5))),
              ProbeRecord(key="r1:swap", detector="position", verdict=_v(1, [1, 0]), cached=True),
              ProbeRecord(key="r0:no_cue", detector="bandwagon", error="TimeoutError: slow")]
    rb = _result(_v(0, usage=Usage(calls=1, prompt_tokens=10, completion_tokens=2)), _v(0),
                 [_finding("other", False, "error", usage=Usage(calls=1, cost=0.01), detector="reasoning")], probes)
    o = outcome(case, err, rb)
    assert not (o.d_before or o.d_after) and o.b_before and o.label is False
    assert o.cost_b.calls == 3 and o.cost_b.first_calls == 1  # cached probe is not a call
    assert o.cost_b.tokens == 17 and o.cost_b.cost == pytest.approx(0.01)
    assert o.cost_b.seconds == 1.5 and o.cost_d.calls == 0
    assert any("JudgeError: down" in e for e in o.errors)
    assert any("reasoning: boom" in e for e in o.errors)
    assert any("probe r0:no_cue" in e for e in o.errors)
    assert group_report([o], scope="t", n_boot=0)["errors"]["count"] == 3
