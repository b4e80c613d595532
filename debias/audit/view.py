"""One judge's recorded verdicts on one item, with the roles the metrics need.

An item may carry verdicts of several judges; every metric is computed per judge, so
the audit looks at an item through one :class:`JudgeView` per judge. Roles:

* the **main** verdict: the judge's first verdict on the item's own candidates;
* verdicts of the same judge in **other display orders** (position probes);
* a verdict **without the cue** next to one **with** it, in the same order (cue probes);
* **repeats**: two verdicts with the same order and cue setting (plain re-asks);
* **unbiased-set** verdicts: a verdict carrying the extra field ``"set": "D"`` was given
  on the item's unbiased counterpart (RBD's set D: e.g. the full worked solution
  instead of the bare answer), with candidates numbered like this item's. They only
  feed the RBD accuracy/consistency metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from debias.types import Item, Verdict

TIE = "tie"
#: A decision: an original candidate index, ``"tie"``, or None (no usable decision).
Decision = int | str | None
UNBIASED_SET = "D"


def decision(v: Verdict) -> Decision:
    """What the verdict decided: an original index, ``"tie"``, or None (invalid/score)."""
    if v.tie:
        return TIE
    return v.choice


def verdict_set(v: Verdict) -> str | None:
    """The ``set`` extra field of a verdict (``"D"`` marks the unbiased counterpart)."""
    extra = v.__pydantic_extra__
    return extra.get("set") if extra else None


@dataclass(slots=True)
class JudgeView:
    """Verdicts of one judge on one item.

    Attributes:
        item: The item.
        judge: Judge name.
        verdicts: The judge's verdicts on the item's candidates, in file order.
        unbiased: The judge's verdicts on the unbiased counterpart (``set == "D"``).
        line: Line of the item in the input (for flagged-item listings).
    """

    item: Item
    judge: str
    verdicts: list[Verdict]
    unbiased: list[Verdict] = field(default_factory=list)
    line: int = 0
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def main(self) -> Verdict | None:
        """The judge's first verdict on the item's own candidates."""
        return self.verdicts[0] if self.verdicts else None

    @property
    def comparable(self) -> bool:
        """Whether the item is a pairwise or multiple-choice item (not a score task)."""
        return self.item.task != "score"

    def main_other_orders(self) -> list[Verdict]:
        """:meth:`other_orders` of the main verdict (computed once per view)."""
        got = self._cache.get("others")
        if got is None:
            main = self.main
            got = self._cache["others"] = self.other_orders(main) if main is not None else []
        return got  # type: ignore[return-value]

    def other_orders(self, v: Verdict) -> list[Verdict]:
        """Verdicts with ``v``'s cue setting in other display orders (first per order)."""
        seen = {tuple(v.order)}
        out = []
        for w in self.verdicts:
            key = tuple(w.order)
            if w.with_cue == v.with_cue and key not in seen:
                seen.add(key)
                out.append(w)
        return out

    def cue_pair(self) -> tuple[Verdict, Verdict] | None:
        """(without cue, with cue) in the same order, preferring the main verdict's order."""
        if not self.item.cue:
            return None
        if "cue" not in self._cache:
            self._cache["cue"] = self._cue_pair()
        return self._cache["cue"]  # type: ignore[return-value]

    def _cue_pair(self) -> tuple[Verdict, Verdict] | None:
        plain = [w for w in self.verdicts if not w.with_cue]
        cued = [w for w in self.verdicts if w.with_cue]
        if not plain or not cued:
            return None
        main = self.main
        orders = [main.order] if main is not None else []
        orders += [w.order for w in cued]
        for order in orders:
            p = next((w for w in plain if w.order == order), None)
            c = next((w for w in cued if w.order == order), None)
            if p is not None and c is not None:
                return p, c
        return None

    def repeat_pair(self) -> tuple[Verdict, Verdict] | None:
        """The first two verdicts asked identically (same order and cue setting)."""
        seen: dict[tuple[tuple[int, ...], bool], Verdict] = {}
        for w in self.verdicts:
            key = (tuple(w.order), w.with_cue)
            if key in seen:
                return seen[key], w
            seen[key] = w
        return None

    def examined(self) -> list[Verdict]:
        """Verdicts the offline detectors examine: the first one per cue setting."""
        out: list[Verdict] = []
        settings: set[bool] = set()
        for w in self.verdicts:
            if w.with_cue not in settings:
                settings.add(w.with_cue)
                out.append(w)
        return out


def views(item: Item, line: int = 0) -> Iterator[JudgeView]:
    """One view per judge, in order of the judges' first verdicts."""
    if not item.verdicts:
        return
    groups: dict[str, JudgeView] = {}
    for v in item.verdicts:
        view = groups.get(v.judge)
        if view is None:
            view = groups[v.judge] = JudgeView(item=item, judge=v.judge, verdicts=[], line=line)
        if verdict_set(v) == UNBIASED_SET:
            view.unbiased.append(v)
        else:
            view.verdicts.append(v)
    yield from groups.values()
