"""The debiased reason an adapter shows: the judge's own reason, prefixed by what changed.

Shared by the DeepEval and MLflow adapters (a candidate for
:mod:`debias.integrations.common`).
"""

from __future__ import annotations

from collections.abc import Callable

from debias.integrations.common import choice_letter
from debias.types import Result, Status, Verdict


def default_label(verdict: Verdict) -> str:
    """A verdict as a short label: the score, the candidate letter, or ``tie``."""
    if verdict.score is not None:
        return f"{verdict.score:g}"
    return choice_letter(verdict) or "tie"


def debiased_reason(result: Result, label: Callable[[Verdict], str] = default_label) -> str:
    """The reason to show for a debiased verdict.

    A clean verdict keeps the judge's reason unchanged. Otherwise the reason starts with
    ``[judge-debias: STATUS (STOP REASON); bias found: ...; first verdict X, final Y]``
    followed by the judge's reason for the final verdict (for an aggregated verdict,
    which no judge call wrote, the first judgement's reason).

    Args:
        result: The debiasing result (with a verdict).
        label: How to name a verdict (e.g. by contestant name).
    """
    v = result.verdict
    if v is None:
        return f"[judge-debias: {result.status.value}] {result.error or result.stop.value}"
    if result.status is Status.CLEAN:
        return v.raw
    first = result.rounds[0].verdict if result.rounds else v
    biases: list[str] = []
    for rnd in result.rounds:
        biases.extend(f.bias for f in rnd.findings if f.actionable and f.bias not in biases)
    note = (f"[judge-debias: {result.status.value} ({result.stop.value}); bias found: "
            f"{', '.join(biases) or 'none'}; first verdict {label(first)}, final {label(v)}]")
    # A verdict the middleware combined (no judge call wrote it) shows the first reason.
    judged = v.raw if v.raw and not v.raw.startswith(("aggregate:", "counterfactual:")) else first.raw
    return f"{note} {judged}".strip()
