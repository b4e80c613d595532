"""Running totals of an audit: category counts, bad records and flagged items.

Everything here is bounded: counts grow with the number of judges and categories, not
with the number of items; bad records and flagged items keep the first few (the totals
are always exact). Tallies of chunks merge in input order, so results do not depend on
how many worker processes ran.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from debias.audit.records import BadRecord

#: Key of a count: (judge, family, category).
CountKey = tuple[str, str, Any]


@dataclass
class Tally:
    """Counts and samples of an audit (or of one chunk of it).

    Attributes:
        counts: ``(judge, family, category)`` -> units (or a running sum).
        records: Input records seen (valid or not).
        items: Valid items.
        bad_count: Records that could not be used.
        bad: The first ``max_bad`` bad records.
        flagged: Bias type -> the first ``max_flagged`` flagged verdicts.
        flagged_count: Bias type -> number of flagged verdicts.
        spill: Every flagged verdict of this chunk (only when they are written to a file).
        max_bad: How many bad records to keep.
        max_flagged: How many flagged verdicts to keep per bias type.
    """

    counts: Counter = field(default_factory=Counter)
    records: int = 0
    items: int = 0
    bad_count: int = 0
    bad: list[BadRecord] = field(default_factory=list)
    flagged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    flagged_count: Counter = field(default_factory=Counter)
    spill: list[dict[str, Any]] | None = None
    max_bad: int = 100
    max_flagged: int = 50

    def add_bad(self, bad: BadRecord) -> None:
        """Record a bad record (kept if there is room)."""
        self.records += 1
        self.bad_count += 1
        if len(self.bad) < self.max_bad:
            self.bad.append(bad)

    def add_flagged(self, bias: str, make_entry: Callable[[], dict[str, Any]]) -> None:
        """Record a flagged verdict; ``make_entry`` builds its record only if it is kept."""
        self.flagged_count[bias] += 1
        kept = self.flagged.setdefault(bias, [])
        if len(kept) >= self.max_flagged and self.spill is None:
            return
        entry = make_entry()
        if len(kept) < self.max_flagged:
            kept.append(entry)
        if self.spill is not None:
            self.spill.append(entry)

    def merge(self, other: Tally) -> None:
        """Add a later chunk's tally to this one (order matters for the samples)."""
        self.counts.update(other.counts)
        self.records += other.records
        self.items += other.items
        self.bad_count += other.bad_count
        room = self.max_bad - len(self.bad)
        if room > 0:
            self.bad.extend(other.bad[:room])
        for bias, entries in other.flagged.items():
            kept = self.flagged.setdefault(bias, [])
            kept.extend(entries[: max(self.max_flagged - len(kept), 0)])
        self.flagged_count.update(other.flagged_count)

    def judges(self) -> list[str]:
        """Judges with at least one verdict, in order of appearance of their counts."""
        seen: dict[str, None] = {}
        for judge, family, _cat in self.counts:
            if family == "meta":
                seen.setdefault(judge, None)
        return list(seen)

    def grouped(self) -> dict[tuple[str | None, str], Counter]:
        """Counts by ``(judge, family)`` and, with judge None, summed over judges (one pass)."""
        out: dict[tuple[str | None, str], Counter] = {}
        for (judge, fam, cat), v in self.counts.items():
            for key in ((judge, fam), (None, fam)):
                c = out.get(key)
                if c is None:
                    c = out[key] = Counter()
                c[cat] += v
        return out

    def family_counts(self, family: str, judge: str | None = None) -> Counter:
        """Counts of one family for one judge, or summed over all judges."""
        out: Counter = Counter()
        for (j, fam, cat), v in self.counts.items():
            if fam == family and (judge is None or j == judge):
                out[cat] += v
        return out
