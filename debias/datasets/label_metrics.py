"""Quality of predicted Yes/No bias labels against gold labels (the RBD detector metrics).

As in the RBD paper, a missing (unparseable) prediction counts as wrong: accuracy,
precision, recall and F1 of the Yes (bias) class, with a Wilson 95% interval of the
accuracy. Used by the detection benchmark and by training's evaluation step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from pydantic import BaseModel


class Metrics(BaseModel):
    """Binary detection metrics of the Yes (bias) class.

    Attributes:
        n: Rows scored.
        accuracy: Share of rows predicted correctly (a missing prediction is wrong).
        precision: TP / (TP + FP), 0 when nothing was predicted Yes.
        recall: TP / (TP + FN), 0 when there is no Yes row.
        f1: Harmonic mean of precision and recall.
        tp: True positives.
        fp: False positives.
        tn: True negatives.
        fn: False negatives.
        missing: Rows without a usable prediction (errors), counted as wrong.
        accuracy_ci95: Wilson 95% interval of the accuracy.
    """

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    tn: int
    fn: int
    missing: int = 0
    accuracy_ci95: tuple[float, float] = (0.0, 0.0)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (round(max(0.0, mid - half), 4), round(min(1.0, mid + half), 4))


def binary_metrics(pairs: Iterable[tuple[bool, bool | None]]) -> Metrics:
    """Metrics from ``(gold, predicted)`` pairs; ``predicted=None`` is a wrong answer."""
    tp = fp = tn = fn = missing = 0
    for gold, pred in pairs:
        if pred is None:
            missing += 1
            pred = not gold  # counted as wrong
        if pred and gold:
            tp += 1
        elif pred:
            fp += 1
        elif gold:
            fn += 1
        else:
            tn += 1
    n = tp + fp + tn + fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(n=n, accuracy=round((tp + tn) / n, 4) if n else 0.0, precision=round(precision, 4),
                   recall=round(recall, 4), f1=round(f1, 4), tp=tp, fp=fp, tn=tn, fn=fn,
                   missing=missing, accuracy_ci95=wilson(tp + tn, n))
