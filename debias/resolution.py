"""Counterfactual resolution: the judge's verdict with every detected bias factor removed.

When the judge does not comply with feedback (it repeats the biased verdict, oscillates,
or the rounds run out) or a detector's policy is ``aggregate``, the debiased verdict is
what the same judge answers in the condition where every DETECTED bias factor is absent.

Detectors declare the factor they test generically, by the condition of the probes they
plan (:class:`~debias.contract.ProbeSpec`): ``with_cue=False`` removes the cue, ``order``
varies the display order, ``rewrite``/``candidates`` replace the candidates (length
equalised, tone neutralised). A detector may instead offer ``counterfactual(ctx)``
returning such specs (see :class:`Counterfactual`); the resolver never looks at detector
names, so third-party detectors take part on equal terms.

:func:`plan_counterfactual` joins the conditions of all detected factors into joint
probes (no cue x every display order x rewritten candidates), one per display order;
:func:`resolve` combines their verdicts: one order -> that verdict; several orders -> the
mean preference distribution when every verdict has one, else a strict majority of the
orders; otherwise a tie (never a coin flip). Both are pure; the loop executes the probes,
reusing those already made for the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from debias.contract import DetectContext, ProbeSpec
from debias.ordering import to_slot
from debias.types import Resolution, ResolutionKind, Rule, Verdict

CF_PREFIX = "cf"
"""Key prefix of the joint probes the resolution plans (``cf:order=1-0,cue=off``)."""
REWRITE_SEP = "+"
"""Separator of chained rewrites in a joint probe's ``rewrite`` (applied in turn)."""
_EPS = 1e-9


@runtime_checkable
class Counterfactual(Protocol):
    """Optional detector method: the probes whose conditions remove the factor it tests.

    Without it, the specs of the detector's ``plan`` are used. A detector that checks a
    factor no probe can remove returns ``[]``: its bias is then reported as unremoved.
    """

    def counterfactual(self, ctx: DetectContext) -> list[ProbeSpec]:
        """Probe specs (relative to ``ctx.request``) whose condition removes the factor."""
        ...


@dataclass(frozen=True)
class CounterfactualPlan:
    """The joint counterfactual probes for one item.

    Attributes:
        specs: One joint probe per display order (the base order first), relative to the
            item's first request (no feedback).
        removed: Factors the joint condition removes (``cue``, ``order``,
            ``rewrite:<op>``, ``candidates``), sorted.
        unremoved: Bias types detected whose factor no probe condition removes, sorted.
        covered: Bias types whose factor the joint probes remove, sorted.
        by_order: Detected bias types whose factor is the display order (removed only
            when verdicts in at least two orders are obtained), sorted.
    """

    specs: tuple[ProbeSpec, ...]
    removed: tuple[str, ...]
    unremoved: tuple[str, ...]
    covered: tuple[str, ...] = ()
    by_order: tuple[str, ...] = ()


def _removes(spec: ProbeSpec, base_order: Sequence[int]) -> bool:
    return (spec.with_cue is False or spec.rewrite is not None or spec.candidates is not None
            or (spec.order is not None and list(spec.order) != list(base_order)))


def _order_key(order: Sequence[int]) -> str:
    return "-".join(str(i) for i in order)


def plan_counterfactual(base_order: Sequence[int], factors: Sequence[tuple[str, Sequence[ProbeSpec]]],
                        tested: Sequence[tuple[str, Sequence[ProbeSpec]]] = ()) -> CounterfactualPlan:
    """Join the removal conditions of every detected factor into joint probes. Pure.

    Args:
        base_order: Display order of the item's first request.
        factors: ``(bias, specs)`` per detected finding: the probe specs of the detector
            that found it (their conditions say which factor it tests).
        tested: ``(bias, specs)`` of factors probed on the item and NOT detected. When a
            detected factor varies the display order, their probes (made in one order)
            could not clear them: the judge's answer depends on the order. Their
            conditions then join the joint probe too; otherwise they are ignored.

    Returns:
        The plan. The result does not depend on the order of ``factors`` or of the specs.
        A spec of another display order makes the plan cover every order named by any
        factor plus the base order; ``with_cue=False`` anywhere removes the cue from every
        joint probe; rewrites are chained (sorted); candidate replacements apply when
        they agree (conflicting ones leave their biases unremoved).
    """
    base = list(base_order)
    detected = {bias for bias, _ in factors}
    by_order = tuple(sorted({bias for bias, specs in factors
                             if any(s.order is not None and list(s.order) != base for s in specs)}))
    if by_order:
        factors = [*factors, *((bias, [s for s in specs if s.order is None or list(s.order) == base])
                               for bias, specs in tested)]
    cue_off = False
    rewrites: set[str] = set()
    orders: set[tuple[int, ...]] = set()
    replacements: dict[tuple[str, ...], set[str]] = {}
    removed: set[str] = set()
    unremoved: set[str] = set()
    covered: set[str] = set()
    for bias, specs in factors:
        useful = [s for s in specs if _removes(s, base)]
        if not useful:
            unremoved.add(bias)
            continue
        covered.add(bias)
        if all(s.candidates is not None and s.rewrite is None and s.with_cue is not False
               and (s.order is None or list(s.order) == base) for s in useful):
            covered.discard(bias)  # covered only if its replacement can be applied (below)
            unremoved.add(bias)
        for s in useful:
            if s.with_cue is False:
                cue_off = True
                removed.add("cue")
            if s.rewrite is not None:
                rewrites.update(op for op in s.rewrite.split(REWRITE_SEP) if op)
            if s.order is not None and list(s.order) != base:
                orders.add(tuple(s.order))
                removed.add("order")
            if s.candidates is not None:
                replacements.setdefault(tuple(s.candidates), set()).add(bias)
    candidates: list[str] | None = None
    if len(replacements) == 1:
        replaced, biases = next(iter(replacements.items()))
        candidates = list(replaced)
        removed.add("candidates")
        covered |= biases
    unremoved -= covered
    covered &= detected
    unremoved &= detected
    removed.update(f"rewrite:{op}" for op in rewrites)
    if not removed:
        return CounterfactualPlan((), (), tuple(sorted(unremoved | covered)))
    rewrite = REWRITE_SEP.join(sorted(rewrites)) or None
    all_orders = [base, *sorted(list(o) for o in orders if list(o) != base)]
    specs = []
    for order in all_orders:
        parts = [f"order={_order_key(order)}"]
        if cue_off:
            parts.append("cue=off")
        if rewrite:
            parts.append(f"rewrite={rewrite}")
        if candidates is not None:
            parts.append("candidates=replaced")
        specs.append(ProbeSpec(key=f"{CF_PREFIX}:{','.join(parts)}", order=order,
                               with_cue=False if cue_off else None, rewrite=rewrite,
                               candidates=candidates))
    return CounterfactualPlan(tuple(specs), tuple(sorted(removed)), tuple(sorted(unremoved)),
                              tuple(sorted(covered)), by_order)


@dataclass(frozen=True)
class Resolved:
    """What :func:`resolve` found.

    Attributes:
        verdict: The counterfactual verdict (a tie when the evidence disagrees), or None
            when there is no evidence.
        resolution: How it was reached (kind, rule, the keys it rests on, factors).
    """

    verdict: Verdict | None
    resolution: Resolution


def _decision(v: Verdict) -> object:
    if v.score is not None:
        return ("score", v.score)
    return None if v.tie else v.choice


def resolve(evidence: Sequence[tuple[str, Verdict | None]], plan: CounterfactualPlan) -> Resolved:
    """Combine the joint probes' verdicts into the debiased verdict. Pure.

    Args:
        evidence: ``(key, verdict)`` per joint probe of ``plan`` (None: the probe failed);
            ``key`` names where the verdict came from (a reused probe keeps its key).
        plan: The plan the evidence answers.

    Returns:
        One verdict: ``counterfactual`` (rule ``single``); several display orders:
        ``aggregate`` by the mean preference distribution when every verdict carries
        one (``mean_probs``), else by a strict majority of the orders (``majority``);
        a ``tie`` when they disagree (``disagree``, or ``same_slot`` when every verdict
        went to the same display slot: a slot-following judge carries no information).
        No verdict at all: ``verdict`` is None, kind ``kept``, rule ``no_evidence``.
        The result does not depend on the order of ``evidence``.
    """
    got = sorted(((k, v) for k, v in evidence if v is not None), key=lambda kv: kv[0])
    removed = list(plan.removed)
    unremoved = list(plan.unremoved)
    if not got:
        return Resolved(None, Resolution(kind=ResolutionKind.KEPT, rule=Rule.NO_EVIDENCE,
                                         removed=[], unremoved=sorted({*unremoved, *plan.covered})))
    keys = [k for k, _ in got]
    verdicts = [v for _, v in got]
    if len({tuple(v.order) for v in verdicts}) < 2 and "order" in removed:
        removed.remove("order")  # the other orders' probes failed: order was not removed
        unremoved = sorted({*unremoved, *plan.by_order})
    if len(verdicts) == 1:
        v = verdicts[0]
        kind = ResolutionKind.TIE if v.tie else ResolutionKind.COUNTERFACTUAL
        return Resolved(v, Resolution(kind=kind, rule=Rule.SINGLE, probes=keys, removed=removed,
                                      unremoved=unremoved))
    base = verdicts[0]
    n = len(base.order)
    with_cue = all(v.with_cue for v in verdicts)
    slots = {None if v.choice is None else to_slot(v.order, v.choice) for v in verdicts}
    same_slot = len(slots) == 1 and None not in slots and len({_decision(v) for v in verdicts}) > 1

    def tie(rule: Rule, probs: list[float] | None = None) -> Resolved:
        out = Verdict(judge=base.judge, order=list(range(n)), choice=None, tie=True, probs=probs,
                      with_cue=with_cue, raw=f"counterfactual: {rule.value} -> tie")
        return Resolved(out, Resolution(kind=ResolutionKind.TIE, rule=Rule.SAME_SLOT if same_slot else rule,
                                        probes=keys, removed=removed, unremoved=unremoved))

    if all(v.probs is not None and len(v.probs) == n for v in verdicts):
        avg = [sum(v.probs[i] for v in verdicts) / len(verdicts) for i in range(n)]  # type: ignore[index]
        best = max(range(n), key=lambda i: avg[i])
        if sum(1 for p in avg if abs(p - avg[best]) < _EPS) > 1:
            return tie(Rule.MEAN_PROBS, avg)
        out = Verdict(judge=base.judge, order=list(range(n)), choice=best, probs=avg,
                      confidence=avg[best], with_cue=with_cue,
                      raw="counterfactual: mean preference over display orders")
        return Resolved(out, Resolution(kind=ResolutionKind.AGGREGATE, rule=Rule.MEAN_PROBS, probes=keys,
                                        removed=removed, unremoved=unremoved))
    counts: dict[object, int] = {}
    for v in verdicts:
        d = _decision(v)
        if d is not None:
            counts[d] = counts.get(d, 0) + 1
    top = next(((d, c) for d, c in counts.items() if c * 2 > len(verdicts)), None)
    if top is None:
        return tie(Rule.DISAGREE)
    winner = next(v for v in verdicts if _decision(v) == top[0])
    out = Verdict(judge=base.judge, order=list(range(n)), choice=winner.choice, score=winner.score,
                  confidence=top[1] / len(verdicts), with_cue=with_cue,
                  raw="counterfactual: majority over display orders")
    return Resolved(out, Resolution(kind=ResolutionKind.AGGREGATE, rule=Rule.MAJORITY, probes=keys,
                                    removed=removed, unremoved=unremoved))


def factor_specs(detector: object, ctx: DetectContext) -> list[ProbeSpec]:
    """The specs whose conditions say which factor ``detector`` tests (see module doc)."""
    if isinstance(detector, Counterfactual):
        return list(detector.counterfactual(ctx))
    plan = getattr(detector, "plan", None)
    return list(plan(ctx)) if callable(plan) else []

