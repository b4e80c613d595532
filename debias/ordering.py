"""Display-order mapping between display slots and original candidate indices.

``order[slot] = original index``. Every judge adapter converts the slot the judge named
into an original index with :func:`to_original` and nothing else, so the mapping lives
in one place (and is property-tested for every permutation).
"""

from __future__ import annotations

import string
from collections.abc import Sequence

SLOT_LETTERS = string.ascii_lowercase


def check_order(order: Sequence[int], n: int) -> None:
    """Raise ValueError unless ``order`` is a permutation of ``range(n)``."""
    if len(order) != n or sorted(order) != list(range(n)):
        raise ValueError(f"order {list(order)} is not a permutation of 0..{n - 1}")


def to_original(order: Sequence[int], slot: int) -> int:
    """Original candidate index shown in display ``slot``."""
    if not 0 <= slot < len(order):
        raise ValueError(f"slot {slot} out of range for {len(order)} displayed candidates")
    return order[slot]


def to_slot(order: Sequence[int], index: int) -> int:
    """Display slot in which original candidate ``index`` is shown."""
    return list(order).index(index)


def displayed(candidates: Sequence[str], order: Sequence[int]) -> list[str]:
    """Candidates in display order."""
    check_order(order, len(candidates))
    return [candidates[i] for i in order]


def reversed_order(n: int) -> list[int]:
    """The fully reversed display order (the pairwise swap when n == 2)."""
    return list(range(n))[::-1]


def cyclic_orders(n: int) -> list[list[int]]:
    """All n cyclic rotations of the identity order (identity first)."""
    base = list(range(n))
    return [base[k:] + base[:k] for k in range(n)]


def slot_letter(slot: int) -> str:
    """Lower-case letter of a display slot: 0 -> 'a'."""
    return SLOT_LETTERS[slot]


def probs_to_original(order: Sequence[int], slot_probs: Sequence[float]) -> list[float]:
    """Re-index a distribution over display slots into original numbering."""
    out = [0.0] * len(order)
    for slot, p in enumerate(slot_probs):
        out[order[slot]] = float(p)
    return out
