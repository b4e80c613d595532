"""What every metric family provides, and the shared summary context."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from debias.audit.metrics.estimate import DEFAULT_BOOT, Estimate

#: Category counts of one family for one scope (a judge or all judges).
Counts = Mapping[Hashable, float]
#: What a classifier returns: categories with the amount to add (1 for a unit).
Observations = list[tuple[Hashable, float]]
INVALID = "invalid"


@dataclass(frozen=True)
class SummaryContext:
    """Settings shared by all estimators.

    Attributes:
        scope: ``"overall"`` or the judge's name (part of each metric's seed key).
        seed: Audit seed.
        n_boot: Bootstrap replicates per metric.
    """

    scope: str = "overall"
    seed: int = 0
    n_boot: int = DEFAULT_BOOT

    def key(self, metric: str) -> str:
        """Seed key of ``metric`` in this scope."""
        return f"{self.scope}/{metric}"


@dataclass
class Section:
    """Metrics of one family in one scope.

    Attributes:
        metrics: Flat metric name -> estimate (names are what ``--fail-on`` uses).
        details: Extra numbers for tables and plots (counts, bins, matrices).
    """

    metrics: dict[str, Estimate] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def plain_counts(counts: Counts) -> dict[str, float]:
    """Counts with string keys (tuples joined by ``/``) for JSON."""
    out: dict[str, float] = {}
    for k, v in counts.items():
        name = "/".join(str(p) for p in k) if isinstance(k, tuple) else str(k)
        out[name] = int(v) if float(v).is_integer() else v
    return dict(sorted(out.items()))
