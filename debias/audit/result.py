"""From a finished tally to the audit result: every metric, per judge and overall."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from debias.audit.metrics import (
    accuracy,
    agreement,
    cues,
    findings,
    labels,
    position,
    rbd,
    sentiment,
    verbosity,
)
from debias.audit.metrics.base import Section, SummaryContext, plain_counts
from debias.audit.metrics.estimate import Estimate
from debias.audit.records import BadRecord
from debias.audit.tally import Tally

OVERALL = "overall"
#: Families in report order.
FAMILIES = (accuracy, rbd, position, cues, verbosity, sentiment, agreement, labels, findings)
#: Every metric the audit can produce; dotted ones end in a bias type or detector name.
METRIC_NAMES = (
    "accuracy",
    "position_consistency", "first_slot_preference", "position_bias_first",
    "position_bias_later", "delta_bias",
    "robustness_rate", "flip_toward_endorsed", "flip_toward_share", "reask_consistency",
    "longer_chosen_rate", "lc_win_rate", "length_coef", "raw_win_rate",
    "positive_chosen_rate", "accuracy_negative_correct", "accuracy_other",
    "negative_correct_accuracy_gap",
    "human_agreement", "cohen_kappa",
)
DOTTED_PREFIXES = (
    "rbd_accuracy", "rbd_consistency", "rbd_bias_rate", "rbd_unbiased_accuracy",
    "bias_label_rate", "findings_rate",
    "detector_accuracy", "detector_precision", "detector_recall", "detector_f1",
)


def known_metric(name: str) -> bool:
    """Whether ``name`` is a metric the audit can produce (for validating gates)."""
    if name in METRIC_NAMES:
        return True
    prefix, dot, rest = name.partition(".")
    return bool(dot and rest) and prefix in DOTTED_PREFIXES


@dataclass
class AuditResult:
    """Everything an audit measured.

    Attributes:
        source: Input path.
        format: Importer that read it.
        records: Records read (valid or not).
        items: Valid items.
        bad_count: Records that could not be used.
        bad: The first bad records, with line numbers.
        judges: Judges found, in order of appearance.
        sections: Scope (``overall`` or a judge) -> family -> metrics and details.
        flagged: Bias type -> first flagged verdicts with evidence.
        flagged_count: Bias type -> number of flagged verdicts.
        settings: The audit settings (for the record).
        elapsed_s: Wall time of reading and classifying.
    """

    source: str
    format: str
    records: int
    items: int
    bad_count: int
    bad: list[BadRecord]
    judges: list[str]
    sections: dict[str, dict[str, Section]]
    flagged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    flagged_count: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def scopes(self) -> list[str]:
        """``overall`` then each judge."""
        return [OVERALL, *self.judges]

    def metrics(self, scope: str = OVERALL) -> dict[str, Estimate]:
        """All metrics of one scope, flat."""
        out: dict[str, Estimate] = {}
        for section in self.sections.get(scope, {}).values():
            out.update(section.metrics)
        return out

    def metric(self, name: str, judge: str | None = None) -> Estimate | None:
        """One metric, overall or for one judge (None when not produced)."""
        return self.metrics(judge or OVERALL).get(name)

    def details(self, family: str, scope: str = OVERALL) -> dict[str, Any]:
        """The details of one family in one scope."""
        section = self.sections.get(scope, {}).get(family)
        return section.details if section else {}

    def to_json(self) -> dict[str, Any]:
        """Every number, JSON-ready (never NaN: undefined numbers are null)."""
        return _finite({
            "source": self.source,
            "format": self.format,
            "records": self.records,
            "items": self.items,
            "bad_records": self.bad_count,
            "bad_examples": [b.to_json() for b in self.bad],
            "judges": self.judges,
            "metrics": {s: {k: e.to_json() for k, e in sorted(self.metrics(s).items())}
                        for s in self.scopes()},
            "details": {s: {fam: sec.details for fam, sec in self.sections.get(s, {}).items()}
                        for s in self.scopes()},
            "flagged_count": dict(sorted(self.flagged_count.items())),
            "flagged": self.flagged,
            "settings": self.settings,
            "elapsed_s": round(self.elapsed_s, 3),
        })


def _finite(x: Any) -> Any:
    """``x`` with non-finite floats replaced by None (recursively)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def summarize_scope(grouped: dict[tuple[str | None, str], Counter], judge: str | None,
                    ctx: SummaryContext) -> dict[str, Section]:
    """All families of one scope (``judge`` None = all judges pooled)."""
    out: dict[str, Section] = {}
    for fam in FAMILIES:
        counts: Counter = grouped.get((judge, fam.FAMILY), Counter())
        section = fam.summarize(counts, ctx)
        section.details.setdefault("counts", plain_counts(counts))
        out[fam.FAMILY] = section
    return out


def summarize(tally: Tally, *, source: str, format: str, seed: int, n_boot: int,
              settings: dict[str, Any] | None = None, elapsed_s: float = 0.0) -> AuditResult:
    """Build the result from a finished tally.

    With a single judge the overall scope is that judge's (same numbers, same intervals).
    """
    judges = tally.judges()
    grouped = tally.grouped()
    sections: dict[str, dict[str, Section]] = {}
    for judge in judges:
        sections[judge] = summarize_scope(grouped, judge, SummaryContext(judge, seed, n_boot))
    if len(judges) == 1:
        sections[OVERALL] = sections[judges[0]]
    else:
        sections[OVERALL] = summarize_scope(grouped, None, SummaryContext(OVERALL, seed, n_boot))
    return AuditResult(
        source=source, format=format, records=tally.records, items=tally.items,
        bad_count=tally.bad_count, bad=sorted(tally.bad, key=lambda b: b.line), judges=judges,
        sections=sections, flagged=tally.flagged, flagged_count=dict(tally.flagged_count),
        settings=settings or {}, elapsed_s=elapsed_s,
    )
