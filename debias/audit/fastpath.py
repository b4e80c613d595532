"""A validation fast path for judged items that the metrics can read without pydantic.

Validating every line with pydantic is the largest cost of an audit without detectors.
:func:`light_item` checks a parsed JSON object against a strict subset of the
:class:`~debias.types.Item` contract (exact JSON types, no coercion) and returns a
light, read-only object with the same attributes. Anything outside that subset -
coercible values, ``usage`` blocks, invalid records - returns None and goes through
full pydantic validation instead, so a record is accepted exactly when ``Item`` would
accept it and errors keep pydantic's field-naming messages. Detectors need real
models, so the audit only takes this path when no detector runs.
"""

from __future__ import annotations

from typing import Any

from debias.types import CANDIDATE_LIMITS

_ITEM_KEYS = frozenset({"id", "task", "instruction", "candidates", "cue", "label", "metadata", "verdicts"})
_VERDICT_FIELDS = frozenset({"judge", "order", "choice", "score", "raw", "with_cue", "probs", "confidence",
                             "tie"})


def _is_num(x: Any) -> bool:
    return type(x) is int or type(x) is float


class LightVerdict:
    """Read-only stand-in for :class:`~debias.types.Verdict` (same attribute names)."""

    __slots__ = ("__pydantic_extra__", "choice", "confidence", "judge", "order", "probs", "raw",
                 "score", "tie", "with_cue")

    def __init__(self, d: dict[str, Any], extra: dict[str, Any] | None) -> None:
        self.judge = d.get("judge", "unknown")
        self.order = d["order"]
        self.choice = d.get("choice")
        self.score = d.get("score")
        self.raw = d.get("raw", "")
        self.with_cue = d.get("with_cue", True)
        self.probs = d.get("probs")
        self.confidence = d.get("confidence")
        self.tie = d.get("tie", False)
        self.__pydantic_extra__ = extra


class LightItem:
    """Read-only stand-in for :class:`~debias.types.Item` (same attribute names)."""

    __slots__ = ("candidates", "cue", "id", "instruction", "label", "metadata", "task", "verdicts")

    def __init__(self, d: dict[str, Any], verdicts: list[LightVerdict], label: Any) -> None:
        self.id = str(d["id"])
        self.task = d["task"]
        self.instruction = d["instruction"]
        self.candidates = d["candidates"]
        self.cue = d.get("cue")
        self.label = label
        self.metadata = d.get("metadata") or {}
        self.verdicts = verdicts

    @property
    def n(self) -> int:
        """Number of candidates."""
        return len(self.candidates)


_KNOWN = _VERDICT_FIELDS | {"order"}


def _verdict(v: Any, n: int, ident: list[int]) -> LightVerdict | None:
    if type(v) is not dict:
        return None
    order = v.get("order")
    if type(order) is not list or len(order) != n:
        return None
    for k in order:
        if type(k) is not int:
            return None
    if sorted(order) != ident:
        return None
    extra = None
    if not v.keys() <= _KNOWN:
        if "usage" in v:
            return None
        extra = {k: val for k, val in v.items() if k not in _KNOWN}
    judge = v.get("judge", "unknown")
    choice = v.get("choice")
    if type(judge) is not str or (choice is not None and not (type(choice) is int and 0 <= choice < n)):
        return None
    if type(v.get("raw", "")) is not str or type(v.get("with_cue", True)) is not bool \
            or type(v.get("tie", False)) is not bool:
        return None
    score, conf, probs = v.get("score"), v.get("confidence"), v.get("probs")
    if (score is not None and not _is_num(score)) or (conf is not None and not _is_num(conf)):
        return None
    if probs is not None and (type(probs) is not list or not all(_is_num(p) for p in probs)):
        return None
    return LightVerdict(v, extra)


def light_item(d: Any) -> LightItem | None:
    """A light item when ``d`` is certainly a valid item; None to use full validation."""
    if type(d) is not dict or not d.keys() <= _ITEM_KEYS:
        return None
    task = d.get("task")
    if type(task) is not str or task not in CANDIDATE_LIMITS:
        return None
    item_id = d.get("id")
    if type(item_id) is not str and type(item_id) is not int:
        return None
    if type(d.get("instruction")) is not str:
        return None
    cands = d.get("candidates")
    if type(cands) is not list or not all(type(c) is str for c in cands):
        return None
    n = len(cands)
    lo, hi = CANDIDATE_LIMITS[task]
    if not lo <= n <= hi:
        return None
    cue = d.get("cue")
    if cue is not None and type(cue) is not str:
        return None
    if "metadata" in d and type(d["metadata"]) is not dict:
        return None
    label = d.get("label")
    if label is not None:
        if task == "score":
            if not _is_num(label):
                return None
        elif not (type(label) is int and 0 <= label < n):
            return None
    raw_verdicts = d.get("verdicts", [])
    if type(raw_verdicts) is not list:
        return None
    verdicts = []
    ident = list(range(n))
    for v in raw_verdicts:
        lv = _verdict(v, n, ident)
        if lv is None:
            return None
        verdicts.append(lv)
    return LightItem(d, verdicts, label)
