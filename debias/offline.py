"""Running cheap detectors on recorded verdicts only (no model calls)."""

from __future__ import annotations

from collections.abc import Sequence

from debias.contract import DetectContext, Detector, ProbeSpec, errored
from debias.judges.base import JudgeRequest
from debias.types import Finding, Item, Verdict


def lookup_probe(spec: ProbeSpec, request: JudgeRequest | DetectContext,
                 recorded: Sequence[Verdict]) -> Verdict | None:
    """The first recorded verdict that answers ``spec`` (asked from ``request``), or None."""
    for v in recorded:
        if spec.matches(v, request):
            return v
    return None


def detect_offline(
    item: Item,
    verdict: Verdict,
    detectors: Sequence[Detector],
    *,
    strict: bool = False,
) -> list[Finding]:
    """Run cheap detectors on ``verdict`` using the item's other recorded verdicts as probes.

    Args:
        item: The item; ``item.verdicts`` supplies probe answers.
        verdict: The verdict under examination (usually ``item.verdicts[0]``).
        detectors: Cheap detectors to run.
        strict: Re-raise detector exceptions instead of recording error findings.

    Returns:
        One finding per detector, in order.
    """
    # The request is the one the verdict answered; it is built only if a detector reads it.
    ctx = DetectContext(item=item, verdict=verdict, mode="offline")
    out: list[Finding] = []
    for det in detectors:
        try:
            specs = det.plan(ctx)
            probes = {s.key: lookup_probe(s, ctx, item.verdicts) for s in specs} if specs else {}
            out.append(det.assess(ctx, probes))
        except Exception as exc:
            if strict:
                raise
            out.append(errored(det, exc))
    return out
