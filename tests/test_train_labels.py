"""Gold bias label derivation against hand-computed cases (RBD definition)."""

from __future__ import annotations

import pytest

from debias.types import Verdict
from detectors.training.labels import derive_bias_label, is_correct, label_verdicts


@pytest.mark.parametrize(
    ("correct_clean", "correct_biased", "expected"),
    [
        (True, False, "Yes"),   # right without the bias, wrong with it: biased
        (True, True, "No"),     # right on both: unaffected
        (False, False, "No"),   # wrong on D: not attributable to the bias
        (False, True, "No"),    # wrong on D, right on D_bias: not bias
    ],
)
def test_derive_bias_label_truth_table(correct_clean: bool, correct_biased: bool, expected: str) -> None:
    assert derive_bias_label(correct_clean, correct_biased) == expected


def test_is_correct_uses_original_numbering_and_ties_are_wrong() -> None:
    swapped = Verdict(order=[1, 0], choice=0)  # displayed in slot b, original index 0
    assert is_correct(swapped, 0)
    assert not is_correct(swapped, 1)
    assert not is_correct(Verdict(order=[0, 1], choice=None, tie=True), 0)
    assert not is_correct(Verdict(order=[0, 1], choice=None), 0)
    assert not is_correct(None, 0)


def test_label_verdicts_position_first_slot_judge() -> None:
    # A judge that always picks the FIRST slot, gold = candidate 0.
    # D (order [0, 1]): slot a = candidate 0 -> correct.
    # D_bias (order [1, 0]): slot a = candidate 1 -> wrong.  => Yes.
    d = Verdict(order=[0, 1], choice=0)
    d_bias = Verdict(order=[1, 0], choice=1)
    assert label_verdicts(d, d_bias, gold=0) == (True, False, "Yes")
    # Same judge, gold = candidate 1: wrong on D already => No (the paper's definition).
    assert label_verdicts(d, d_bias, gold=1) == (False, True, "No")


def test_label_verdicts_three_choices() -> None:
    # Sentiment item with 3 options, gold 2; the judge is right on D, picks 0 on D_bias.
    d = Verdict(order=[0, 1, 2], choice=2)
    d_bias = Verdict(order=[0, 1, 2], choice=0)
    assert label_verdicts(d, d_bias, gold=2) == (True, False, "Yes")
    assert label_verdicts(d_bias, d, gold=2) == (False, True, "No")
