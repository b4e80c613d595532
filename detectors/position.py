"""Position bias: does the verdict follow the display slot rather than the content?

Live, it re-asks the judge with the order swapped (pairwise) or cyclically rotated
(multiple choice); offline it uses recorded verdicts in other orders. Aggregation
averages the judge's preference distribution over orders when the judge exposes one;
otherwise an inconsistent set of verdicts becomes a tie (never a coin flip).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from debias.contract import DetectContext, Policy, ProbeSpec, skipped
from debias.memo import BoundedCache
from debias.options import DetectorOptions
from debias.ordering import reversed_order, to_slot
from debias.types import Evidence, Finding, Verdict


class PositionOptions(DetectorOptions):
    """Options of the position detector.

    Attributes:
        max_orders: For multiple choice, how many cyclic rotations to probe besides the
            original (default: all n-1).
    """

    max_orders: int | None = Field(default=None, ge=1)


def _rotations(order: list[int], k: int) -> list[int]:
    return order[k:] + order[:k]


class PositionDetector:
    """Counterfactual order probe for pairwise and multiple-choice verdicts.

    Args:
        policy: On-bias policy (default ``revise``; ``aggregate`` skips the re-ask).
        max_orders: For multiple choice, how many cyclic rotations to probe besides the
            original (default: all n-1).
    """

    name = "position"
    version = "1"
    bias = "position"

    def __init__(self, policy: Policy = "revise", max_orders: int | str | None = None) -> None:
        opts = PositionOptions.parse(self.name, policy=policy, max_orders=max_orders)
        self.policy: Policy = opts.policy
        self.max_orders = opts.max_orders
        # Probe specs are immutable and depend only on (task, order): build each once.
        self._specs: BoundedCache[tuple[str, tuple[int, ...]], tuple[ProbeSpec, ...]] = BoundedCache(256)
        # A finding depends only on the task and the verdicts' pattern (orders, choices,
        # ties, preferences, judge, cue setting), never on the texts: an audit of a
        # million pairs sees a few dozen patterns. Findings are immutable, so they are shared.
        self._memo: BoundedCache[tuple[object, ...], Finding] = BoundedCache(4096)

    def plan(self, ctx: DetectContext) -> list[ProbeSpec]:
        item = ctx.item
        if item.task == "score":
            return []
        key = (item.task, tuple(ctx.order))
        specs = self._specs.get(key)
        if specs is None:
            specs = self._specs.put(key, tuple(self._plan(item.task, list(key[1]))))
        return list(specs)

    def _plan(self, task: str, order: list[int]) -> list[ProbeSpec]:
        if task == "pairwise":
            return [ProbeSpec(key="swap", order=[order[i] for i in reversed_order(2)])]
        rotations = [_rotations(order, k) for k in range(1, len(order))]
        if self.max_orders is not None:
            rotations = rotations[: self.max_orders]
        return [ProbeSpec(key=f"rot{k + 1}", order=r) for k, r in enumerate(rotations)]

    def assess(self, ctx: DetectContext, probes: Mapping[str, Verdict | None]) -> Finding:
        task = ctx.item.task
        if task == "score":
            return skipped(self, "score task has no candidate order")
        used = [(k, v) for k, v in probes.items() if v is not None]
        if not used:
            return skipped(self, "no verdict in another display order")
        key = (task, _pattern(ctx.verdict), *((k, _pattern(v)) for k, v in used))
        found = self._memo.get(key)
        if found is None:
            found = self._memo.put(key, self._assess(ctx.verdict, used))
        return found

    def _assess(self, verdict: Verdict, used: list[tuple[str, Verdict]]) -> Finding:
        verdicts = [verdict, *(v for _, v in used)]
        decisions = [None if v.tie else v.choice for v in verdicts]
        slots = [None if v.choice is None else to_slot(v.order, v.choice) for v in verdicts]
        consistent = len(set(decisions)) == 1
        same_slot = len(set(slots)) == 1 and slots[0] is not None
        evidence = Evidence(
            compared="the same candidates judged in different display orders",
            values={
                "orders": [list(v.order) for v in verdicts],
                "choices": decisions,
                "slots": slots,
                "consistent": consistent,
                "rule": "consistent" if consistent else "same-slot" if same_slot else "inconsistent",
            },
            probes=[k for k, _ in used],
        )
        if consistent:
            return Finding(detector=self.name, version=self.version, bias="position",
                           detected=False, confidence=0.9, evidence=evidence,
                           policy=self.policy)
        n_orders = len(verdicts)
        if same_slot:
            analysis = (
                f"Across {n_orders} display orders of the same candidates, your decision always "
                f"went to the candidate shown in position {slots[0] + 1}, so it changed whenever "
                "the candidates moved. The decision followed the display position, not the "
                "content. Judge each candidate on its merits, independent of where it appears."
            )
        else:
            analysis = (
                f"Across {n_orders} display orders of the same candidates your decision changed "
                "(it picked different candidates depending on the order). A content-based "
                "judgement should not depend on the order. Compare the candidates carefully "
                "on their merits and decide independently of their positions."
            )
        return Finding(
            detector=self.name, version=self.version, bias="position", detected=True,
            confidence=0.95 if same_slot else 0.75, evidence=evidence, analysis=analysis,
            policy=self.policy, suggested=aggregate_orders(verdicts),
        )


def _pattern(v: Verdict) -> tuple[object, ...]:
    """Everything of a verdict that a position finding depends on."""
    return (tuple(v.order), v.choice, v.tie, v.judge, v.with_cue,
            None if v.probs is None else tuple(v.probs))


def aggregate_orders(verdicts: list[Verdict]) -> Verdict:
    """Combine verdicts of the same item in several orders into one.

    With preference distributions on every verdict, average them (in original
    numbering) and take the argmax; otherwise take a strict majority, or a tie.
    """
    n = len(verdicts[0].order)
    base = verdicts[0]
    if all(v.probs is not None and len(v.probs) == n for v in verdicts):
        avg = [sum(v.probs[i] for v in verdicts) / len(verdicts) for i in range(n)]  # type: ignore[index]
        best = max(range(n), key=lambda i: avg[i])
        tied = sum(1 for p in avg if abs(p - avg[best]) < 1e-9) > 1
        return Verdict(judge=base.judge, order=list(range(n)), choice=None if tied else best,
                       probs=avg, confidence=avg[best], tie=tied, with_cue=base.with_cue,
                       raw="aggregate: mean preference over display orders")
    counts: dict[int, int] = {}
    for v in verdicts:
        if not v.tie and v.choice is not None:
            counts[v.choice] = counts.get(v.choice, 0) + 1
    # A strict majority is unique, so no tie-breaking is involved.
    top = next(((c, k) for c, k in counts.items() if k * 2 > len(verdicts)), None)
    if top is not None:
        return Verdict(judge=base.judge, order=list(range(n)), choice=top[0],
                       confidence=top[1] / len(verdicts), with_cue=base.with_cue,
                       raw="aggregate: majority over display orders")
    return Verdict(judge=base.judge, order=list(range(n)), choice=None, tie=True,
                   with_cue=base.with_cue, raw="aggregate: inconsistent across orders -> tie")
