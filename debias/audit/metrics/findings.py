"""Findings of the offline cheap detectors, per bias type.

The audit runs the selected cheap detectors through
:func:`debias.offline.detect_offline` on each judge's verdicts (recorded verdicts
in other orders or without the cue answer the detectors' probes). Observations per
finding: ``("f", bias, detector, status)`` with status ``detected``, ``clean``,
``skipped`` (the data cannot answer the detector's probes, or the ``sentiment`` mode
left the item out of tone scoring) or ``error``; and, when the
item has a gold bias label about the detector's bias type (``metadata["bias"]``),
``("q", detector, gold, predicted)`` to score the detector.

Metrics: ``findings_rate.<bias>`` = detected / (detected + clean) over the detectors of
that bias type, and detector quality against gold labels (see
:func:`debias.audit.metrics.labels.quality`).
"""

from __future__ import annotations

from collections.abc import Iterable

from debias.audit.metrics.base import Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import Estimate, proportion
from debias.audit.metrics.labels import NO, YES, quality, yes_no
from debias.types import Finding

FAMILY = "findings"
STATUSES = ("detected", "clean", "skipped", "error")


def status_of(f: Finding) -> str:
    """``detected`` | ``clean`` | ``skipped`` | ``error``."""
    if f.status == "ok":
        return "detected" if f.detected else "clean"
    return f.status


def classify(findings: Iterable[Finding], bias_label: object = None,
             bias: str | None = None) -> Observations:
    """Observations for the findings of one judge's verdicts on one item.

    Args:
        findings: One finding per detector.
        bias_label: The item's gold bias label (Yes/No), if any.
        bias: The bias type the gold label is about; only detectors of that type are
            scored against it.
    """
    gold = yes_no(bias_label)
    out: Observations = []
    for f in findings:
        status = status_of(f)
        out.append((("f", f.bias, f.detector, status), 1))
        if gold is not None and f.status == "ok" and f.bias == bias:
            out.append((("q", f.detector, gold, YES if f.detected else NO), 1))
    return out


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """Detection rate per bias type, status counts per detector, quality vs gold."""
    metrics: dict[str, Estimate] = {}
    per_detector: dict[str, dict[str, int]] = {}
    biases = sorted({k[1] for k in counts if k[0] == "f"})
    for bias in biases:
        sub: dict[str, float] = {s: 0 for s in STATUSES}
        for k, v in counts.items():
            if k[0] == "f" and k[1] == bias:
                sub[k[3]] += v
                per_detector.setdefault(k[2], {s: 0 for s in STATUSES})[k[3]] += int(v)
        metrics[f"findings_rate.{bias}"] = proportion(
            sub, ("detected",), ("clean",), key=ctx.key(f"findings_rate.{bias}"),
            seed=ctx.seed, n_boot=ctx.n_boot,
            empty=f"every {bias} detector skipped (the data cannot answer its probes"
                  + (", or --sentiment left the items out)" if bias == "sentiment" else ")"))
    for name in sorted({k[1] for k in counts if k[0] == "q"}):
        sub_q = {(k[2], k[3]): v for k, v in counts.items() if k[0] == "q" and k[1] == name}
        metrics.update(quality(sub_q, name, ctx))
    return Section(metrics, {"detectors": per_detector})
