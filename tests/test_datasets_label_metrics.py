"""Quality metrics of predicted Yes/No bias labels (a missing prediction is wrong)."""

from __future__ import annotations

import pytest

from debias.datasets.label_metrics import binary_metrics, wilson


def test_binary_metrics() -> None:
    m = binary_metrics([(True, True), (True, False), (False, True), (False, False), (True, None)])
    assert (m.tp, m.fn, m.fp, m.tn, m.missing) == (1, 2, 1, 1, 1)
    assert m.accuracy == pytest.approx(2 / 5)
    assert m.precision == pytest.approx(0.5) and m.recall == pytest.approx(1 / 3, abs=1e-4)
    assert m.f1 == pytest.approx(0.4, abs=1e-4)
    empty = binary_metrics([])
    assert empty.n == 0 and empty.f1 == 0.0
    lo, hi = wilson(90, 100)
    assert lo < 0.9 < hi and lo > 0.8 and hi < 0.96
