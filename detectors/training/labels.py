"""The gold bias label of a judged pair (RBD's definition; see the shared RBD notes).

``Yes`` when the judge is correct on the unbiased set D and wrong on the biased set
D_bias; ``No`` when it is wrong on D (whatever it does on D_bias) or correct on both.
A tie, or a verdict without a candidate decision, counts as wrong.
"""

from __future__ import annotations

from debias.types import Verdict
from detectors.training.records import Label


def is_correct(verdict: Verdict | None, gold: int) -> bool:
    """Whether a verdict picks the gold candidate (original numbering); ties are wrong."""
    return verdict is not None and not verdict.tie and verdict.choice == gold


def derive_bias_label(correct_clean: bool, correct_biased: bool) -> Label:
    """The gold bias label from correctness on D and on D_bias.

    Args:
        correct_clean: The judge picked the gold candidate on D.
        correct_biased: The judge picked the gold candidate on D_bias.

    Returns:
        ``"Yes"`` only for correct on D and wrong on D_bias; ``"No"`` otherwise.
    """
    return "Yes" if correct_clean and not correct_biased else "No"


def label_verdicts(clean: Verdict | None, biased: Verdict | None, gold: int) -> tuple[bool, bool, Label]:
    """Correctness on both sides and the derived label: ``(correct_clean, correct_biased, label)``."""
    ok_clean, ok_biased = is_correct(clean, gold), is_correct(biased, gold)
    return ok_clean, ok_biased, derive_bias_label(ok_clean, ok_biased)
