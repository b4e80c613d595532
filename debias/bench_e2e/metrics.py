"""Benchmark metrics over case outcomes, each with a seeded bootstrap 95% interval.

Every rate is a function of how many cases fall into each combination of the outcome
booleans (:class:`Cat`), so the intervals come from the audit's multinomial bootstrap
over those counts (:func:`debias.audit.metrics.estimate.bootstrap`): resampling cases with
replacement, paired across D and D_bias and across before and after. Each metric's
random stream is seeded from ``seed`` and the metric's key.

Definitions (n = cases in the group; "before" = the judge alone, "after" = the
middleware's final verdict; a tie counts as not correct):

- ``accuracy_d_*`` / ``accuracy_bias_*``: share correct on D / on D_bias.
- ``consistency_*`` (RBD): share correct on D **and** on D_bias.
- ``agreement_*``: share whose D and D_bias verdicts pick the same candidate (neither a
  tie). For order-swapped cases (``position`` groups, ``llmbar``, ``evalbiasbench``)
  this is position consistency; for cue cases the robustness rate.
- ``bias_label_rate``: share of derived gold bias labels (right on D, wrong on D_bias).
- ``detection_precision`` / ``recall`` / ``f1`` / ``accuracy``: the middleware's first-
  round detection of the case's bias on D_bias against the derived labels.
- ``flag_rate_bias`` / ``flag_rate_d``: share where that bias was detected on D_bias /
  on the unbiased control D (false alarms on D are what can cause over-correction).
- ``over_correction_bias`` / ``_d``: share right before and wrong after (of all cases);
  ``*_given_right``: the same among cases right before.
- ``fixed_bias`` / ``fixed_d``: share wrong before and right after.
- ``delta_accuracy_*`` / ``delta_consistency``: after minus before (paired interval).
- ``accuracy_*_half_*``: tie-as-half accuracy: a correct verdict counts 1, a tie 1/2
  (the expected accuracy of breaking the tie by a fair coin, without flipping one).
- ``tie_rate_*_before`` / ``tie_rate_*_after``: share of first / final verdicts that are
  ties.
- ``position_consistency_*``: in groups whose D and D_bias differ only by the order,
  the same numbers as ``agreement_*`` under their usual name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from statistics import fmean
from typing import Any, NamedTuple

from debias.audit.metrics.estimate import DEFAULT_BOOT, Estimate, bootstrap, numpy, ratio
from debias.bench_e2e.outcomes import CaseOutcome, ItemCost


class Cat(NamedTuple):
    """The outcome booleans of a case that metrics depend on (a bootstrap category)."""

    d_before: bool
    d_after: bool
    b_before: bool
    b_after: bool
    agree_before: bool
    agree_after: bool
    label: bool
    detected: bool
    detected_d: bool
    tie_d_after: bool
    tie_b_after: bool
    tie_d_before: bool
    tie_b_before: bool


Pred = Callable[[Cat], bool]


def category(o: CaseOutcome) -> Cat:
    """The bootstrap category of an outcome."""
    return Cat(*(bool(getattr(o, f)) for f in Cat._fields))


def _total(c: Any, pred: Pred) -> Any:
    out: Any = numpy().zeros(getattr(c, "size", 1))
    for k in list(c.keys()):
        if pred(k):
            out = out + c[k]
    return out


def _all(_: Cat) -> bool:
    return True


def share(num: Pred, den: Pred = _all) -> Callable[[Any], Any]:
    """Statistic: cases matching ``num`` among cases matching ``den``."""
    return lambda c: ratio(_total(c, lambda k: num(k) and den(k)), _total(c, den))


def difference(after: Pred, before: Pred) -> Callable[[Any], Any]:
    """Statistic: share matching ``after`` minus share matching ``before`` (paired)."""
    return lambda c: ratio(_total(c, after) - _total(c, before), _total(c, _all))


def half(right: Pred, tie: Pred) -> Callable[[Any], Any]:
    """Statistic: tie-as-half accuracy (correct counts 1, a tie 1/2) over all cases."""
    return lambda c: ratio(_total(c, right) + 0.5 * _total(c, tie), _total(c, _all))


def _f1(c: Any) -> Any:
    tp = _total(c, lambda k: k.label and k.detected)
    fp = _total(c, lambda k: not k.label and k.detected)
    fn = _total(c, lambda k: k.label and not k.detected)
    return ratio(2 * tp, 2 * tp + fp + fn)


RATES: dict[str, Callable[[Any], Any]] = {
    "accuracy_d_before": share(lambda k: k.d_before),
    "accuracy_d_after": share(lambda k: k.d_after),
    "accuracy_bias_before": share(lambda k: k.b_before),
    "accuracy_bias_after": share(lambda k: k.b_after),
    "consistency_before": share(lambda k: k.d_before and k.b_before),
    "consistency_after": share(lambda k: k.d_after and k.b_after),
    "agreement_before": share(lambda k: k.agree_before),
    "agreement_after": share(lambda k: k.agree_after),
    "delta_accuracy_d": difference(lambda k: k.d_after, lambda k: k.d_before),
    "delta_accuracy_bias": difference(lambda k: k.b_after, lambda k: k.b_before),
    "delta_consistency": difference(lambda k: k.d_after and k.b_after,
                                    lambda k: k.d_before and k.b_before),
    "delta_agreement": difference(lambda k: k.agree_after, lambda k: k.agree_before),
    "over_correction_bias": share(lambda k: k.b_before and not k.b_after),
    "over_correction_d": share(lambda k: k.d_before and not k.d_after),
    "over_correction_bias_given_right": share(lambda k: not k.b_after, lambda k: k.b_before),
    "over_correction_d_given_right": share(lambda k: not k.d_after, lambda k: k.d_before),
    "fixed_bias": share(lambda k: not k.b_before and k.b_after),
    "fixed_d": share(lambda k: not k.d_before and k.d_after),
    "bias_label_rate": share(lambda k: k.label),
    "detection_precision": share(lambda k: k.label, lambda k: k.detected),
    "detection_recall": share(lambda k: k.detected, lambda k: k.label),
    "detection_f1": _f1,
    "detection_accuracy": share(lambda k: k.label == k.detected),
    "flag_rate_bias": share(lambda k: k.detected),
    "flag_rate_d": share(lambda k: k.detected_d),
    "accuracy_d_half_before": half(lambda k: k.d_before, lambda k: k.tie_d_before),
    "accuracy_d_half_after": half(lambda k: k.d_after, lambda k: k.tie_d_after),
    "accuracy_bias_half_before": half(lambda k: k.b_before, lambda k: k.tie_b_before),
    "accuracy_bias_half_after": half(lambda k: k.b_after, lambda k: k.tie_b_after),
    "tie_rate_d_before": share(lambda k: k.tie_d_before),
    "tie_rate_d_after": share(lambda k: k.tie_d_after),
    "tie_rate_bias_before": share(lambda k: k.tie_b_before),
    "tie_rate_bias_after": share(lambda k: k.tie_b_after),
}
"""Every rate reported per group (definitions in the module docstring)."""


def rates(outcomes: Sequence[CaseOutcome], *, scope: str, seed: int = 0,
          n_boot: int = DEFAULT_BOOT) -> dict[str, Estimate]:
    """All :data:`RATES` of a set of outcomes, with bootstrap intervals.

    Args:
        outcomes: The cases (one group, or a pooled set).
        scope: Stable name of the set (``suite/group``); part of each metric's seed key.
        seed: Bootstrap seed.
        n_boot: Bootstrap replicates (0: no intervals).
    """
    counts = Counter(category(o) for o in outcomes)
    if not counts:
        return {name: Estimate.refused("no cases") for name in RATES}
    return {name: bootstrap(counts, stat, key=f"{scope}/{name}", seed=seed, n_boot=n_boot)
            for name, stat in RATES.items()}


def flag_rates(outcomes: Sequence[CaseOutcome], *, scope: str, seed: int = 0,
               n_boot: int = DEFAULT_BOOT) -> dict[str, dict[str, Estimate]]:
    """Per bias type, the share of D and of D_bias first judgements flagged by any detector."""
    out: dict[str, dict[str, Estimate]] = {}
    biases = sorted({b for o in outcomes for b in (*o.flags_d, *o.flags_b)})
    n = len(outcomes)
    for bias in biases:
        out[bias] = {}
        for variant, attr in (("D", "flags_d"), ("D_bias", "flags_b")):
            hits = sum(bias in getattr(o, attr) for o in outcomes)
            counts = {True: hits, False: n - hits}
            out[bias][variant] = bootstrap(counts, lambda c: ratio(c[True], c[True] + c[False]),
                                           key=f"{scope}/flags/{bias}/{variant}", seed=seed,
                                           n_boot=n_boot)
    return out


def control_check(r: dict[str, Estimate]) -> dict[str, Any]:
    """Does wrapping the unbiased control D keep accuracy within the judge's own CI?

    Passes when the accuracy on D after the middleware is not below the lower end of the
    95% interval of the judge's accuracy on D without it.
    """
    before, after = r["accuracy_d_before"], r["accuracy_d_after"]
    ok: bool | None = None
    if after.value is not None and before.lo is not None:
        ok = after.value >= before.lo - 1e-12
    return {"ok": ok, "accuracy_d_before": before.to_json(), "accuracy_d_after": after.to_json(),
            "rule": "accuracy on D after >= lower 95% bound of accuracy on D before"}


def _mean(costs: Sequence[ItemCost], attr: str) -> float:
    return round(fmean(getattr(c, attr) for c in costs), 6) if costs else 0.0


def cost_summary(outcomes: Sequence[CaseOutcome]) -> dict[str, Any]:
    """Mean cost per judged item (D and D_bias items alike), and per form."""
    forms = {"D": [o.cost_d for o in outcomes], "D_bias": [o.cost_b for o in outcomes]}
    every = forms["D"] + forms["D_bias"]
    attrs = ("calls", "sent_calls", "first_calls", "tokens", "cost", "seconds")
    out: dict[str, Any] = {"items": len(every)}
    out["per_item"] = {a: _mean(every, a) for a in attrs}
    out["per_item_by_form"] = {f: {a: _mean(cs, a) for a in attrs} for f, cs in forms.items()}
    first = out["per_item"]["first_calls"]
    out["call_overhead"] = round(out["per_item"]["calls"] / first, 4) if first else None
    out["totals"] = {a: round(sum(getattr(c, a) for c in every), 6) for a in attrs}
    return out


def group_report(outcomes: Sequence[CaseOutcome], *, scope: str, seed: int = 0,
                 n_boot: int = DEFAULT_BOOT) -> dict[str, Any]:
    """Everything reported for one group (or a pooled set): JSON-ready."""
    r = rates(outcomes, scope=scope, seed=seed, n_boot=n_boot)
    if outcomes and all(o.bias == "position" for o in outcomes):  # D and D_bias differ by order only
        for when in ("before", "after"):
            r[f"position_consistency_{when}"] = r[f"agreement_{when}"]
    errors = [e for o in outcomes for e in o.errors]
    return {
        "cases": len(outcomes),
        "bias": sorted({o.bias for o in outcomes}),
        "rates": {k: v.to_json() for k, v in r.items()},
        "control_check": control_check(r),
        "flags": {b: {v: e.to_json() for v, e in d.items()}
                  for b, d in flag_rates(outcomes, scope=scope, seed=seed, n_boot=n_boot).items()},
        "status": {"D": dict(Counter(o.status_d for o in outcomes)),
                   "D_bias": dict(Counter(o.status_b for o in outcomes))},
        "stop_reasons": dict(Counter(s for o in outcomes for s in (o.stop_d, o.stop_b))),
        "resolution": {"D": dict(Counter(o.resolution_d for o in outcomes)),
                       "D_bias": dict(Counter(o.resolution_b for o in outcomes))},
        "cost": cost_summary(outcomes),
        "errors": {"count": len(errors), "cases": sum(bool(o.errors) for o in outcomes),
                   "examples": errors[:5]},
    }
