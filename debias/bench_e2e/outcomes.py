"""Per-case outcomes: what the judge did before and after the middleware, as booleans.

"Before" is the first judgement of the item (round 0: the judge alone, exactly what it
answers without the middleware); "after" is the middleware's final verdict. A tie, an
error or a missing verdict counts as not correct.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from debias.bench_e2e.cases import Case
from debias.datasets.rbd import is_correct as correct
from debias.datasets.rbd import rbd_bias_label
from debias.types import Result, Usage, Verdict


class ItemCost(BaseModel):
    """Cost of debiasing one item.

    Attributes:
        calls: Model calls the middleware made for the item (judge, probes, detectors),
            including those answered from the call cache: what a fresh run pays.
        sent_calls: Calls actually sent (cache hits excluded).
        first_calls: Calls of the first judgement alone (the judge without middleware).
        tokens: Prompt plus completion tokens reported by the backends.
        cost: USD as priced by litellm (0 when unknown or local).
        seconds: Wall time spent on the item.
    """

    calls: int = 0
    sent_calls: int = 0
    first_calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0


class CaseOutcome(BaseModel):
    """What happened to one case (D and D_bias) before and after the middleware.

    Attributes:
        case: Case id.
        group: Case group.
        bias: The case's bias type.
        d_before: First judgement of D is correct.
        d_after: Final verdict on D is correct.
        b_before: First judgement of D_bias is correct.
        b_after: Final verdict on D_bias is correct.
        agree_before: The first judgements of D and D_bias pick the same candidate (no
            tie); for order-swapped cases this is position consistency.
        agree_after: The final verdicts of D and D_bias pick the same candidate.
        tie_d_before: The first judgement of D is a tie.
        tie_b_before: The first judgement of D_bias is a tie.
        tie_d_after: The final verdict on D is a tie.
        tie_b_after: The final verdict on D_bias is a tie.
        label: Derived gold bias label (RBD): correct on D and wrong on D_bias, before.
        detected: An ok finding about ``bias`` detected bias on D_bias's first judgement.
        detected_d: ... on D's first judgement (the unbiased control).
        flags_d: Bias types detected on D's first judgement (any detector).
        flags_b: Bias types detected on D_bias's first judgement.
        status_d: Final status on D.
        status_b: Final status on D_bias.
        stop_d: Stop reason on D.
        stop_b: Stop reason on D_bias.
        resolution_d: How the final verdict on D was reached (``accepted``, ``revised``,
            ``counterfactual``, ``aggregate``, ``tie``, ``kept``; ``""`` on error).
        resolution_b: The same on D_bias.
        errors: Error messages (judge failures, detector errors, failed probes).
        cost_d: Cost of D.
        cost_b: Cost of D_bias.
    """

    case: str
    group: str
    bias: str
    d_before: bool
    d_after: bool
    b_before: bool
    b_after: bool
    agree_before: bool
    agree_after: bool
    tie_d_before: bool = False
    tie_b_before: bool = False
    tie_d_after: bool
    tie_b_after: bool
    label: bool
    detected: bool
    detected_d: bool
    flags_d: list[str] = Field(default_factory=list)
    flags_b: list[str] = Field(default_factory=list)
    status_d: str = ""
    status_b: str = ""
    stop_d: str = ""
    stop_b: str = ""
    resolution_d: str = ""
    resolution_b: str = ""
    errors: list[str] = Field(default_factory=list)
    cost_d: ItemCost = Field(default_factory=ItemCost)
    cost_b: ItemCost = Field(default_factory=ItemCost)


def first_verdict(result: Result) -> Verdict | None:
    """The judge's first verdict (what it answers without the middleware)."""
    return result.rounds[0].verdict if result.rounds else None


def detected_biases(result: Result) -> list[str]:
    """Bias types with an ok, detected finding on the first judgement."""
    if not result.rounds:
        return []
    return sorted({f.bias for f in result.rounds[0].findings if f.actionable})


def _errors(result: Result, variant: str) -> list[str]:
    out = [f"{variant}: {result.error}"] if result.error else []
    for r in result.rounds:
        out += [f"{variant}: {f.detector}: {f.reason}" for f in r.findings if f.status == "error"]
    out += [f"{variant}: probe {p.key}: {p.error}" for p in result.probes if p.error]
    return out


def spent(result: Result) -> Usage:
    """Usage of every model call of an item: round verdicts, probes, model detectors.

    Summed from the parts rather than read from ``result.usage`` so that probe calls
    are counted whether or not the loop adds them to the item's total (probes answered
    from the item's own probe cache made no call and are skipped).
    """
    total = Usage()
    for r in result.rounds:
        total = total.add(r.verdict.usage)
        for f in r.findings:
            total = total.add(f.usage)
    for p in result.probes:
        if p.verdict is not None and not p.cached:
            total = total.add(p.verdict.usage)
    return total


def cost(result: Result) -> ItemCost:
    """The cost of one debiased item."""
    u = spent(result)
    first = result.rounds[0].verdict.usage if result.rounds else Usage()
    return ItemCost(calls=u.calls + u.cached_calls, sent_calls=u.calls,
                    first_calls=first.calls + first.cached_calls, tokens=u.tokens, cost=u.cost,
                    seconds=result.elapsed_s)


def _tie(verdict: Verdict | None) -> bool:
    return bool(verdict is not None and verdict.tie)


def _kind(result: Result) -> str:
    return result.resolution.kind.value if result.resolution is not None else ""


def _same(case: Case, d: Verdict | None, b: Verdict | None) -> bool:
    if d is None or b is None or d.tie or b.tie or d.choice is None or b.choice is None:
        return False
    return case.to_d(b.choice) == d.choice


def outcome(case: Case, result_d: Result, result_b: Result) -> CaseOutcome:
    """Reduce a case's two results to its outcome (pure)."""
    gold_d = int(case.d.label)  # type: ignore[arg-type]
    gold_b = int(case.d_bias.label)  # type: ignore[arg-type]
    d0, b0 = first_verdict(result_d), first_verdict(result_b)
    d1, b1 = result_d.verdict, result_b.verdict
    flags_d, flags_b = detected_biases(result_d), detected_biases(result_b)
    d_before, b_before = correct(d0, gold_d), correct(b0, gold_b)
    return CaseOutcome(
        case=case.id, group=case.group, bias=case.bias,
        d_before=d_before, d_after=correct(d1, gold_d),
        b_before=b_before, b_after=correct(b1, gold_b),
        agree_before=_same(case, d0, b0), agree_after=_same(case, d1, b1),
        tie_d_before=_tie(d0), tie_b_before=_tie(b0), tie_d_after=_tie(d1), tie_b_after=_tie(b1),
        label=rbd_bias_label(d_before, b_before),
        detected=case.bias in flags_b, detected_d=case.bias in flags_d,
        flags_d=flags_d, flags_b=flags_b,
        status_d=result_d.status.value, status_b=result_b.status.value,
        stop_d=result_d.stop.value, stop_b=result_b.stop.value,
        resolution_d=_kind(result_d), resolution_b=_kind(result_b),
        errors=_errors(result_d, "D") + _errors(result_b, "D_bias"),
        cost_d=cost(result_d), cost_b=cost(result_b),
    )
