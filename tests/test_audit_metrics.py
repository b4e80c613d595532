"""Audit metrics against hand-computed values on small synthetic fixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from debias.audit.metrics import (
    accuracy,
    agreement,
    cues,
    labels,
    position,
    rbd,
    sentiment,
    verbosity,
)
from debias.audit.metrics.base import SummaryContext
from debias.audit.metrics.estimate import Estimate, bootstrap, get, proportion, ratio
from debias.audit.metrics.findings import classify as classify_findings
from debias.audit.metrics.findings import summarize as summarize_findings
from debias.audit.metrics.length_control import fit, length_controlled
from debias.audit.observe import Observer
from debias.audit.tally import Tally
from debias.audit.view import views
from debias.types import Evidence, Finding, Item, Verdict

CTX = SummaryContext(n_boot=300, seed=1)


def pair(i: int, verdicts: list[dict], label: int | None = 0, cue: str | None = None,
         cands: tuple[str, str] = ("alpha answer", "beta"), **meta: object) -> Item:
    return Item(id=str(i), task="pairwise", instruction="q", candidates=list(cands), label=label,
                cue=cue, metadata=dict(meta), verdicts=[Verdict(**v) for v in verdicts])


def V(order: list[int], choice: int | None = None, *, tie: bool = False, judge: str = "j",
      with_cue: bool = True, **extra: object) -> dict:
    return {"judge": judge, "order": order, "choice": choice, "tie": tie, "with_cue": with_cue, **extra}


def summarize(items: list[Item], module, sentiment_mode: str = "off"):
    tally = Tally()
    obs = Observer("none", sentiment_mode)  # type: ignore[arg-type]
    for it in items:
        obs.observe(it, 0, tally)
    return module.summarize(tally.family_counts(module.FAMILY), CTX), tally


# --- position ---------------------------------------------------------------------------


def test_position_all_consistent_refuses_slot_preference() -> None:
    items = [pair(i, [V([0, 1], i % 2), V([1, 0], i % 2)]) for i in range(8)]
    sec, _ = summarize(items, position)
    assert sec.metrics["position_consistency"].value == 1.0
    assert sec.metrics["position_consistency"].n == 8
    pref = sec.metrics["first_slot_preference"]
    assert pref.value is None and "no inconsistent verdict pair" in pref.note
    assert sec.metrics["delta_bias"].value == 0.0


def test_position_all_inconsistent_first_slot() -> None:
    # The judge always picks whatever is shown first: choice = order[0].
    items = [pair(i, [V([0, 1], 0), V([1, 0], 1)]) for i in range(5)]
    sec, _ = summarize(items, position)
    m = sec.metrics
    assert m["position_consistency"].value == 0.0
    assert m["first_slot_preference"].value == 1.0
    assert m["delta_bias"].value == 1.0
    assert m["position_bias_first"].value == 1.0 and m["position_bias_later"].value == 0.0


def test_position_hand_computed_mix_with_ties() -> None:
    items = (
        [pair(i, [V([0, 1], 0), V([1, 0], 0)]) for i in range(5)]          # consistent
        + [pair(10, [V([0, 1], tie=True), V([1, 0], tie=True)])]            # tie both: consistent
        + [pair(20 + i, [V([0, 1], 0), V([1, 0], 1)]) for i in range(3)]   # first slot both times
        + [pair(30, [V([0, 1], 1), V([1, 0], 0)])]                          # second slot both times
        + [pair(40, [V([0, 1], 0), V([1, 0], tie=True)])]                   # tie in one order: mixed
        + [pair(50, [V([0, 1], 0)])]                                        # one order only: excluded
        + [pair(60, [V([0, 1], None), V([1, 0], 0)])]                       # no decision: invalid
    )
    sec, _ = summarize(items, position)
    m = sec.metrics
    # 6 consistent, 3 first, 1 later, 1 mixed = 11 units
    assert m["position_consistency"].value == pytest.approx(6 / 11)
    assert m["position_consistency"].n == 11
    assert m["first_slot_preference"].value == pytest.approx(3 / 4)
    assert m["first_slot_preference"].n == 4
    assert m["delta_bias"].value == pytest.approx((3 - 1) / 11)
    assert sec.details["invalid"] == 1 and sec.details["mixed"] == 1


def test_position_multiple_choice_rotations() -> None:
    it = Item(id="m", task="choice", instruction="q", candidates=["a", "b", "c"], label=2, verdicts=[
        Verdict(judge="j", order=[0, 1, 2], choice=0), Verdict(judge="j", order=[1, 2, 0], choice=1),
        Verdict(judge="j", order=[2, 0, 1], choice=2)])
    assert position.classify(next(views(it))) == [("first", 1)]


def test_position_confidence_interval_brackets_value_and_is_seeded() -> None:
    items = [pair(i, [V([0, 1], 0), V([1, 0], 0 if i % 4 else 1)]) for i in range(200)]
    a, _ = summarize(items, position)
    b, _ = summarize(items, position)
    est = a.metrics["position_consistency"]
    assert est.lo < est.value < est.hi
    assert (est.lo, est.hi) == (b.metrics["position_consistency"].lo, b.metrics["position_consistency"].hi)
    # normal approximation of a proportion: half-width ~ 1.96 * sqrt(p(1-p)/n)
    half = 1.96 * math.sqrt(0.75 * 0.25 / 200)
    assert (est.hi - est.lo) / 2 == pytest.approx(half, rel=0.25)


# --- accuracy / rbd ---------------------------------------------------------------------


def test_accuracy_ties_and_missing_labels() -> None:
    items = [pair(0, [V([0, 1], 0)]), pair(1, [V([0, 1], 0)]), pair(2, [V([0, 1], 1)]),
             pair(3, [V([0, 1], tie=True)]), pair(4, [V([0, 1], 0)], label=None),
             pair(5, [V([0, 1], None)])]
    sec, _ = summarize(items, accuracy)
    assert sec.metrics["accuracy"].value == pytest.approx(2 / 4)
    assert sec.metrics["accuracy"].n == 4
    assert sec.details == {**sec.details, "ties": 1, "missing_label": 1, "invalid": 1}


def test_accuracy_refuses_without_labels() -> None:
    sec, _ = summarize([pair(0, [V([0, 1], 0)], label=None)], accuracy)
    est = sec.metrics["accuracy"]
    assert est.value is None and est.note == "no judged item has a gold label"
    assert est.to_json()["value"] is None and est.to_json()["ci"] is None


def test_rbd_accuracy_consistency_and_bias_rate() -> None:
    items = [
        pair(0, [V([0, 1], 0), V([1, 0], 0)]),   # D right, D_bias right
        pair(1, [V([0, 1], 0), V([1, 0], 1)]),   # D right, D_bias wrong -> gold bias Yes
        pair(2, [V([0, 1], 1), V([1, 0], 0)]),   # D wrong, D_bias right
        pair(3, [V([0, 1], 1), V([1, 0], 1)]),   # both wrong
        # verbosity-style: verdict on the unbiased counterpart marked set=D
        pair(4, [V([0, 1], 1), V([0, 1], 0, set="D")], bias="verbosity"),
        pair(5, [V([0, 1], 0), V([0, 1], 0, set="D")], bias="verbosity"),
    ]
    sec, _ = summarize(items, rbd)
    m = sec.metrics
    assert m["rbd_accuracy.position"].value == 0.5
    assert m["rbd_consistency.position"].value == 0.25
    assert m["rbd_bias_rate.position"].value == 0.25
    assert m["rbd_unbiased_accuracy.position"].value == 0.5
    assert m["rbd_accuracy.verbosity"].value == 0.5
    assert m["rbd_bias_rate.verbosity"].value == 0.5
    assert sec.details["verbosity"] == {"both_correct": 1, "only_D_correct": 1,
                                        "only_D_bias_correct": 0, "both_wrong": 0}


def test_set_d_verdicts_do_not_count_as_position_probes() -> None:
    it = pair(0, [V([0, 1], 1), V([1, 0], 0, set="D")], bias="verbosity")
    assert position.classify(next(views(it))) == []


# --- cues -------------------------------------------------------------------------------


def test_cue_robustness_flips_and_reask() -> None:
    cue = "90% believe that Output (b) is better"
    items = [
        pair(0, [V([0, 1], 0, with_cue=False), V([0, 1], 0)], cue=cue),  # unchanged
        pair(1, [V([0, 1], 0, with_cue=False), V([0, 1], 1)], cue=cue),  # toward endorsed (b = 1)
        pair(2, [V([0, 1], 1, with_cue=False), V([0, 1], 1)], cue=cue),  # unchanged
        pair(3, [V([0, 1], 1, with_cue=False), V([0, 1], 0)], cue=cue),  # away from endorsed
        # endorsed given explicitly in metadata, shown in swapped order
        pair(4, [V([1, 0], 1, with_cue=False), V([1, 0], 0)], cue="Most people prefer this one", cue_target=0),
        # repeats (plain re-asks) without a cue
        pair(5, [V([0, 1], 0), V([0, 1], 0)]),
        pair(6, [V([0, 1], 0), V([0, 1], 1)]),
    ]
    sec, _ = summarize(items, cues)
    m = sec.metrics
    assert m["robustness_rate"].value == pytest.approx(2 / 5)
    assert m["flip_toward_endorsed"].value == pytest.approx(2 / 5)
    assert m["flip_toward_share"].value == pytest.approx(2 / 3)
    assert m["reask_consistency"].value == pytest.approx(1 / 2)


def test_cue_endorsement_maps_display_slot_through_order() -> None:
    # "Output (a)" shown in swapped order is original candidate 1.
    it = pair(0, [V([1, 0], 0, with_cue=False), V([1, 0], 1)], cue="90% believe that Output (a) is better")
    assert cues.classify(next(views(it))) == [("toward", 1)]


def test_cue_metrics_refused_without_pairs() -> None:
    sec, _ = summarize([pair(0, [V([0, 1], 0)])], cues)
    assert sec.metrics["robustness_rate"].value is None
    assert "with and without" in sec.metrics["robustness_rate"].note


# --- verbosity & length control ---------------------------------------------------------


def test_longer_chosen_rate_and_bins() -> None:
    items = [
        pair(0, [V([0, 1], 0)], cands=("x" * 50, "y" * 10)),    # longer chosen, |d| = 40
        pair(1, [V([0, 1], 1)], cands=("x" * 10, "y" * 15)),    # longer chosen, |d| = 5
        pair(2, [V([0, 1], 1)], cands=("x" * 500, "y" * 10)),   # shorter chosen, |d| = 490
        pair(3, [V([0, 1], 0)], cands=("x" * 10, "y" * 10)),    # equal length
        pair(4, [V([0, 1], tie=True)], cands=("x" * 10, "y")),  # tie
        pair(5, [V([0, 1], 0)], cands=("", "y")),                # unknown text: skipped
    ]
    sec, _ = summarize(items, verbosity)
    assert sec.metrics["longer_chosen_rate"].value == pytest.approx(2 / 3)
    assert sec.details["equal_length"] == 1 and sec.details["ties"] == 1
    bins = {b["bin"]: (b["value"], b["n"]) for b in sec.details["length_bins"]}
    assert bins == {"1-9": (1.0, 1), "30-99": (1.0, 1), "300-999": (0.0, 1)}
    # raw win rate of candidate 2: outcomes 0, 1, 1, 0, tie -> (0 + 1 + 1 + 0 + .5) / 5
    assert sec.metrics["raw_win_rate"].value == pytest.approx(2.5 / 5)


def test_logistic_fit_recovers_parameters_on_expected_counts() -> None:
    a, b = 0.4, 1.3
    x = np.linspace(-0.9, 0.9, 13)
    p = 1 / (1 + np.exp(-(a + b * x)))
    # fractional outcomes equal to the model's probabilities: the MLE is exactly (a, b)
    fa, fb = fit(x, p, np.full_like(x, 50.0))
    assert fa[0] == pytest.approx(a, abs=1e-6) and fb[0] == pytest.approx(b, abs=1e-6)


def _lc_counts(pairs: list[tuple[int, int]]) -> dict:
    from debias.audit.metrics.length_control import fine_bin

    out: dict = {}
    for d, y in pairs:
        k = (fine_bin(d), y)
        out[k] = out.get(k, 0) + 1
    return out


def _sd(pairs: list[tuple[int, int]]) -> float:
    return float(np.std([d for d, _ in pairs]))


def test_length_control_fit_and_interval() -> None:
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(600):
        d = int(rng.normal(0, 200))
        p = 1 / (1 + np.exp(-(0.2 + 1.5 * np.tanh(d / 200))))
        pairs.append((d, 2 if rng.random() < p else 0))
    out = length_controlled(_lc_counts(pairs), _sd(pairs), key="t", seed=0, n_boot=200)
    lc, coef = out["lc_win_rate"], out["length_coef"]
    assert coef.lo < 1.5 < coef.hi and coef.value > 0.8
    assert lc.lo < 1 / (1 + math.exp(-0.2)) < lc.hi


@pytest.mark.parametrize(("pairs", "reason"), [
    ([(30, 2)] * 15 + [(30, 0)] * 15, "same length difference"),
    ([(d, 2 if d > 0 else 0) for d in range(-20, 21) if d], "separates"),
    ([(d, 2 if d % 3 else 0) for d in range(1, 40)], "extrapolation"),
    ([(d, 2) for d in range(-20, 21) if d], "every pair"),
    ([(5, 2), (-5, 0)], "too few pairs"),
])
def test_length_control_refuses_ill_posed_fits(pairs: list[tuple[int, int]], reason: str) -> None:
    out = length_controlled(_lc_counts(pairs), _sd(pairs), key="t", seed=0, n_boot=50)
    est = out["lc_win_rate"]
    assert est.value is None and reason in est.note
    assert out["length_coef"].value is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in est.to_json().values())


# --- sentiment --------------------------------------------------------------------------


def test_sentiment_classify_with_given_tones() -> None:
    it = Item(id="s", task="choice", instruction="q", candidates=["a", "b", "c"], label=1,
              verdicts=[Verdict(judge="j", order=[0, 1, 2], choice=0)])
    view = next(views(it))
    obs = sentiment.classify(view, [0.8, -0.6, 0.1])
    assert ("most_positive", 1) in obs and (("gap", True, False), 1) in obs
    assert ("chance_sum", 1 / 3) in obs
    assert ("no_unique_max", 1) in sentiment.classify(view, [0.5, 0.5, 0.1])


def test_sentiment_gap_hand_computed_and_refusal() -> None:
    counts = {("gap", True, True): 1, ("gap", True, False): 3, ("gap", False, True): 6,
              ("gap", False, False): 2, "most_positive": 7, "not_most": 3, "chance_sum": 4.0}
    sec = sentiment.summarize(counts, CTX)
    assert sec.metrics["negative_correct_accuracy_gap"].value == pytest.approx(0.25 - 0.75)
    assert sec.metrics["positive_chosen_rate"].value == pytest.approx(0.7)
    assert sec.details["chance_rate"] == pytest.approx(0.4)
    only_other = {("gap", False, True): 3}
    gap = sentiment.summarize(only_other, CTX).metrics["negative_correct_accuracy_gap"]
    assert gap.value is None and "negative-sounding" in gap.note


def test_sentiment_scored_only_when_tagged() -> None:
    it = pair(0, [V([0, 1], 0)], cands=("This is wonderful and great!", "Sadly, it is terrible."),
              bias="sentiment")
    sec, _ = summarize([it], sentiment, sentiment_mode="auto")
    assert sec.metrics["positive_chosen_rate"].value == 1.0
    untagged = pair(1, [V([0, 1], 0)], cands=("This is wonderful and great!", "Sadly, terrible."))
    sec2, _ = summarize([untagged], sentiment, sentiment_mode="auto")
    assert sec2.metrics["positive_chosen_rate"].value is None


# --- agreement --------------------------------------------------------------------------


def _agreement_items(matrix: dict[tuple[object, object], int]) -> list[Item]:
    items = []
    for (ref, judged), n in matrix.items():
        for _ in range(n):
            v = V([0, 1], tie=True) if judged == "tie" else V([0, 1], judged)
            items.append(pair(len(items), [v], label=None, human_label=ref))
    return items


def test_cohen_kappa_hand_computed() -> None:
    # reference x judge: [[20, 5], [10, 15]] -> po = .7, pe = .5*.6 + .5*.4 = .5, kappa = .4
    items = _agreement_items({(0, 0): 20, (0, 1): 5, (1, 0): 10, (1, 1): 15})
    sec, _ = summarize(items, agreement)
    assert sec.metrics["human_agreement"].value == pytest.approx(0.7)
    assert sec.metrics["cohen_kappa"].value == pytest.approx(0.4)
    assert sec.details["matrix"] == [[20, 5], [10, 15]]
    assert sec.details["reference"] == {"human": 50, "gold": 0}


def test_cohen_kappa_with_explicit_ties() -> None:
    m = {(0, 0): 10, (0, "tie"): 2, (1, 1): 8, ("tie", "tie"): 4, ("tie", 0): 1}
    sec, _ = summarize(_agreement_items(m), agreement)
    n = 25
    po = (10 + 8 + 4) / n
    rows = {"1": 12 / n, "2": 8 / n, "tie": 5 / n}
    cols = {"1": 11 / n, "2": 8 / n, "tie": 6 / n}
    pe = sum(rows[k] * cols[k] for k in rows)
    assert sec.details["classes"] == ["1", "2", "tie"]
    assert sec.details["judge_ties"] == 6 and sec.details["reference_ties"] == 5
    assert sec.metrics["cohen_kappa"].value == pytest.approx((po - pe) / (1 - pe))


def test_cohen_kappa_refused_for_a_single_class() -> None:
    sec, _ = summarize(_agreement_items({(0, 0): 6}), agreement)
    assert sec.metrics["human_agreement"].value == 1.0
    k = sec.metrics["cohen_kappa"]
    assert k.value is None and "chance agreement is 1" in k.note


# --- labels & findings ------------------------------------------------------------------


def test_detector_quality_counts_unparseable_as_wrong() -> None:
    rows = [("Yes", "Yes")] * 4 + [("Yes", "No")] * 1 + [("No", "Yes")] * 2 + [("No", "No")] * 2 \
        + [("Yes", "???")] + [("No", "maybe")]
    items = [pair(i, [V([0, 1], 0)], bias="position", bias_label=g, detector_labels={"t": p})
             for i, (g, p) in enumerate(rows)]
    sec, _ = summarize(items, labels)
    m = sec.metrics
    # TP 4, FN 1 + 1 unparseable, FP 2 + 1 unparseable, TN 2; n = 11
    assert m["detector_accuracy.t"].value == pytest.approx(6 / 11)
    assert m["detector_precision.t"].value == pytest.approx(4 / 7)
    assert m["detector_recall.t"].value == pytest.approx(4 / 6)
    assert m["detector_f1.t"].value == pytest.approx(8 / (8 + 3 + 2))
    assert m["bias_label_rate.position"].value == pytest.approx(6 / 11)


def test_findings_rates_per_bias_and_gold_scoring() -> None:
    def f(det: str, bias: str, detected: bool, status: str = "ok") -> Finding:
        return Finding(detector=det, bias=bias, detected=detected, status=status, evidence=Evidence())

    obs = classify_findings([f("position", "position", True), f("bandwagon", "bandwagon", False, "skipped")],
                            bias_label="Yes", bias="position")
    obs += classify_findings([f("position", "position", False)], bias_label="Yes", bias="position")
    obs += classify_findings([f("position", "position", True)], bias_label="No", bias="verbosity")
    counts: dict = {}
    for k, v in obs:
        counts[k] = counts.get(k, 0) + v
    sec = summarize_findings(counts, CTX)
    assert sec.metrics["findings_rate.position"].value == pytest.approx(2 / 3)
    assert sec.metrics["findings_rate.bandwagon"].value is None  # only skipped
    assert sec.details["detectors"]["bandwagon"]["skipped"] == 1
    # only the two position-labelled items score the position detector (gold Yes twice)
    assert sec.metrics["detector_recall.position"].value == pytest.approx(1 / 2)
    assert sec.metrics["detector_accuracy.position"].n == 2


# --- estimate helpers -------------------------------------------------------------------


def test_bootstrap_withholds_interval_when_replicates_are_undefined() -> None:
    # ratio of a rare category to another rare category: often 0/0 in resamples
    counts = {"a": 1, "b": 1, "c": 200}
    est = bootstrap(counts, lambda c: ratio(get(c, "a"), get(c, "a", "b")), key="k", n_boot=400)
    assert est.value == 0.5 and est.lo is None and "undefined" in est.note


def test_proportion_and_estimate_format() -> None:
    est = proportion({"h": 30, "m": 10}, ("h",), ("m",), key="p", seed=0, n_boot=500, empty="none")
    assert est.value == 0.75 and est.n == 40
    assert est.format().startswith("0.750 [")
    assert Estimate.refused("why").format() == "n/a (why)"
    assert proportion({}, ("h",), ("m",), key="p", seed=0, n_boot=10, empty="none").note == "none"
