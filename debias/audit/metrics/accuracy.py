"""Accuracy of the judge's main verdict against the gold label.

Unit: one judge on one pairwise/multiple-choice item with a ``label``. A tie counts as
not correct; a verdict without a decision (unparseable) is excluded and counted as
``invalid``; items without a label are counted as ``no_label``.
"""

from __future__ import annotations

from debias.audit.metrics.base import INVALID, Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import proportion
from debias.audit.view import TIE, JudgeView, decision

FAMILY = "accuracy"
#: Metadata keys :func:`classify` reads (part of the pattern key, see :mod:`debias.audit.patterns`).
METADATA_KEYS: tuple[str, ...] = ()


def classify(view: JudgeView) -> Observations:
    """``correct`` | ``wrong`` | ``tie`` | ``invalid`` | ``no_label`` for the main verdict."""
    main = view.main
    if main is None or not view.comparable:
        return []
    if view.item.label is None:
        return [("no_label", 1)]
    d = decision(main)
    if d is None:
        return [(INVALID, 1)]
    if d == TIE:
        return [("tie", 1)]
    return [("correct" if d == view.item.label else "wrong", 1)]


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """``accuracy`` = correct / (correct + wrong + tie)."""
    acc = proportion(counts, ("correct",), ("wrong", "tie"), key=ctx.key("accuracy"),
                     seed=ctx.seed, n_boot=ctx.n_boot,
                     empty="no judged item has a gold label")
    details = {
        "correct": int(counts.get("correct", 0)),
        "wrong": int(counts.get("wrong", 0)),
        "ties": int(counts.get("tie", 0)),
        "invalid": int(counts.get(INVALID, 0)),
        "missing_label": int(counts.get("no_label", 0)),
    }
    return Section({"accuracy": acc}, details)
