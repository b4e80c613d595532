"""The audit's validation fast path never accepts a record that ``Item`` rejects, and reads
accepted records exactly as ``Item`` does (property-based)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from debias.audit.engine import to_item
from debias.audit.fastpath import LightItem, light_item
from debias.audit.records import Pending
from debias.audit.view import verdict_set
from debias.types import Item

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 4), st.floats(-1, 3, allow_nan=False),
                    st.text(max_size=3), st.just("1"), st.just([0, 1]), st.just({"a": 1}))
VERDICT_KEYS = ("judge", "order", "choice", "tie", "with_cue", "raw", "score", "confidence", "probs", "set",
                "usage")


@st.composite
def items(draw: st.DrawFn) -> dict:
    """Mostly valid items, with up to two fields replaced by arbitrary values."""
    task = draw(st.sampled_from(["pairwise", "choice", "score"]))
    n = {"pairwise": 2, "choice": draw(st.integers(2, 4)), "score": 1}[task]
    verdicts = []
    for _ in range(draw(st.integers(0, 3))):
        v = {"judge": draw(st.sampled_from(["a", "b"])), "order": draw(st.permutations(list(range(n))))}
        if draw(st.booleans()):
            v["choice"] = draw(st.integers(0, n - 1))
        for key, strat in (("tie", st.booleans()), ("with_cue", st.booleans()), ("raw", st.text(max_size=3)),
                           ("score", st.floats(0, 10, allow_nan=False)), ("confidence", st.floats(0, 1)),
                           ("probs", st.lists(st.floats(0, 1), min_size=n, max_size=n)), ("set", st.just("D"))):
            if draw(st.integers(0, 3)) == 0:
                v[key] = draw(strat)
        verdicts.append(v)
    data = {"id": draw(st.one_of(st.text(max_size=3), st.integers(0, 99))), "task": task,
            "instruction": draw(st.text(max_size=5)),
            "candidates": draw(st.lists(st.text(max_size=4), min_size=n, max_size=n)), "verdicts": verdicts}
    if draw(st.booleans()):
        data["label"] = draw(st.integers(0, n - 1)) if task != "score" else draw(st.floats(0, 5, allow_nan=False))
    if draw(st.booleans()):
        data["cue"] = draw(st.text(max_size=5))
    if draw(st.booleans()):
        data["metadata"] = {"bias": draw(st.sampled_from(["position", "sentiment"]))}
    for _ in range(draw(st.integers(0, 2))):  # corrupt something
        if verdicts and draw(st.booleans()):
            v = draw(st.sampled_from(verdicts))
            v[draw(st.sampled_from(VERDICT_KEYS))] = draw(scalars)
        else:
            key = draw(st.sampled_from(["id", "task", "instruction", "candidates", "label", "cue", "metadata",
                                        "verdicts", "extra_field"]))
            data[key] = draw(scalars)
    return data


VERDICT_ATTRS = ("judge", "order", "choice", "score", "raw", "with_cue", "probs", "confidence", "tie")


@settings(max_examples=400, deadline=None)
@given(items())
def test_fast_path_agrees_with_item(data: dict) -> None:
    data = json.loads(json.dumps(data))  # exactly what a JSONL line can hold
    fast = light_item(json.loads(json.dumps(data)))
    try:
        model = Item.model_validate(data)
    except ValidationError:
        model = None
    if fast is None:
        return  # full validation decides
    assert model is not None, f"fast path accepted a record Item rejects: {data}"
    for attr in ("id", "task", "instruction", "candidates", "cue", "label", "metadata", "n"):
        assert getattr(fast, attr) == getattr(model, attr), attr
    assert len(fast.verdicts) == len(model.verdicts)
    for fv, mv in zip(fast.verdicts, model.verdicts, strict=True):
        for attr in VERDICT_ATTRS:
            assert getattr(fv, attr) == getattr(mv, attr), attr
        assert verdict_set(fv) == verdict_set(mv)  # type: ignore[arg-type]


def test_to_item_uses_the_fast_path_only_when_allowed() -> None:
    line = json.dumps({"id": 3, "task": "pairwise", "instruction": "q", "candidates": ["a", "b"], "label": 1,
                       "verdicts": [{"judge": "j", "order": [1, 0], "choice": 0, "set": "D"}],
                       "result": {"status": "clean"}})
    fast = to_item(Pending(1, line), "f", light=True)
    slow = to_item(Pending(1, line), "f", light=False)
    assert isinstance(fast, LightItem) and isinstance(slow, Item)
    assert fast.id == slow.id == "3" and verdict_set(fast.verdicts[0]) == "D"  # type: ignore[arg-type]
    coercible = line.replace('"label": 1', '"label": 1.0')  # valid, but not in the strict subset
    assert isinstance(to_item(Pending(1, coercible), "f", light=True), Item)
