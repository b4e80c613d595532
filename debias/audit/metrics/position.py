"""Position bias: does the decision follow the display slot instead of the content?

Unit: one judge on one item judged in at least two display orders with the same cue
setting (the main verdict plus the first verdict per other order). Categories:

* ``consistent``: the same decision (same candidate, or a tie) in every order;
* ``first``: inconsistent, and every order's choice sat in the first display slot;
* ``later``: inconsistent, and every choice sat in one and the same later slot
  (the second slot for pairwise items);
* ``mixed``: inconsistent otherwise (a tie in one order, or different slots);
* ``invalid``: some verdict has no decision (excluded).

Metrics: ``position_consistency`` = consistent / all; ``first_slot_preference`` =
first / (first + later), the share of slot-driven flips that went to the first slot
(0.5 = no direction); JudgeLM-style ``position_bias_first`` = first / all,
``position_bias_later`` = later / all and ``delta_bias`` = (first - later) / all
(signed: positive = the first slot is favoured).
"""

from __future__ import annotations

from debias.audit.metrics.base import INVALID, Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import Estimate, bootstrap, get, proportion, ratio
from debias.audit.view import JudgeView, decision

FAMILY = "position"
#: Metadata keys :func:`classify` reads (part of the pattern key, see :mod:`debias.audit.patterns`).
METADATA_KEYS: tuple[str, ...] = ()
CATEGORIES = ("consistent", "first", "later", "mixed")


def classify(view: JudgeView) -> Observations:
    """The category of the judge's verdicts across display orders (see module doc)."""
    main = view.main
    if main is None or not view.comparable:
        return []
    others = view.main_other_orders()
    if not others:
        return []
    verdicts = [main, *others]
    decisions = [decision(v) for v in verdicts]
    if any(d is None for d in decisions):
        return [(INVALID, 1)]
    if len(set(decisions)) == 1:
        return [("consistent", 1)]
    slots = set()
    for v in verdicts:
        if v.choice is None or v.tie:
            return [("mixed", 1)]
        slots.add(v.order.index(v.choice))
    if len(slots) == 1:
        return [("first" if slots.pop() == 0 else "later", 1)]
    return [("mixed", 1)]


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """Position consistency, first-slot preference and delta bias with intervals."""
    sub = {c: counts.get(c, 0) for c in CATEGORIES}
    n = int(sum(sub.values()))
    empty = "no item was judged in two display orders"
    metrics = {
        "position_consistency": proportion(sub, ("consistent",), ("first", "later", "mixed"),
                                           key=ctx.key("position_consistency"), seed=ctx.seed,
                                           n_boot=ctx.n_boot, empty=empty),
        "first_slot_preference": proportion(
            sub, ("first",), ("later",), key=ctx.key("first_slot_preference"), seed=ctx.seed,
            n_boot=ctx.n_boot,
            empty="no inconsistent verdict pair stayed on one display slot, so there is no "
                  "slot preference to measure" if n else empty),
    }
    for name, num in (("position_bias_first", ("first",)), ("position_bias_later", ("later",))):
        metrics[name] = proportion(sub, num, tuple(c for c in CATEGORIES if c not in num),
                                   key=ctx.key(name), seed=ctx.seed, n_boot=ctx.n_boot, empty=empty)
    if n:
        metrics["delta_bias"] = bootstrap(
            sub, lambda c: ratio(get(c, "first") - get(c, "later"), get(c, *CATEGORIES)),
            key=ctx.key("delta_bias"), seed=ctx.seed, n_boot=ctx.n_boot)
    else:
        metrics["delta_bias"] = Estimate.refused(empty)
    details = {c: int(sub[c]) for c in CATEGORIES}
    details["invalid"] = int(counts.get(INVALID, 0))
    return Section(metrics, details)
