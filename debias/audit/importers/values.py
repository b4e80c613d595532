"""Reading decisions written by other tools: ``A>B``, ``model_2``, ``Output (b)``, ``2``, ``tie``.

Decisions name a display slot; importers map slots to original candidate indices with
:func:`debias.ordering.to_original` and the order the verdict was given in.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from debias.errors import VerdictParseError
from debias.parsing import parse_choice

TIE: Literal["tie"] = "tie"
Slot = int | Literal["tie"]

_TIES = {"tie", "draw", "equal", "a=b", "b=a", "=", "same", "both", "tie (bothbad)", "tie(bothbad)",
         "both good", "both bad"}
_AB = re.compile(r"^\s*\[*\s*([AB])\s*(>>|>|<<|<)\s*([AB])\s*\]*\s*$", re.I)
_MODEL = re.compile(r"^\s*model[_ ]?([ab12])\s*$", re.I)


def parse_slot(value: Any, n: int, *, base: int = 1, zero_is_tie: bool = False) -> Slot | None:
    """The display slot a recorded decision names.

    Args:
        value: The recorded decision: a number (``base``-based), ``A``/``b``,
            ``A>B``/``B>>A``, ``model_1``/``model_b``, ``Output (b)``, ``Choice 2``,
            ``[[A]]``, a tie word (``tie``, ``A=B``, ``draw``), ...
        n: Number of displayed candidates.
        base: 1 when numbers count from 1 (``1`` = first), 0 when from 0.
        zero_is_tie: Read ``0`` as a tie (PandaLM-style 0/1/2 with base 1).

    Returns:
        The slot, ``"tie"``, or None when the value is missing (None/NaN/blank).

    Raises:
        ValueError: When the value is present but cannot be read.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise ValueError(f"decision {value!r} is a boolean, not a candidate")
    if isinstance(value, int | float):
        if float(value) != int(value):
            raise ValueError(f"decision {value!r} is not a whole number")
        k = int(value)
        if zero_is_tie and k == 0 and base == 1:
            return TIE
        slot = k - base
        if not 0 <= slot < n:
            raise ValueError(f"decision {value!r} is not a candidate number "
                             f"({base}..{n - 1 + base})")
        return slot
    text = str(value).strip()
    if not text:
        return None
    low = text.lower()
    if low in _TIES:
        return TIE
    if re.fullmatch(r"-?\d+(?:\.0+)?", text):
        return parse_slot(int(float(text)), n, base=base, zero_is_tie=zero_is_tie)
    if low in ("nan", "null", "none", "n/a", "na"):
        return None
    m = _AB.match(text)
    if m and n == 2:
        first, op, second = m.group(1).upper(), m.group(2), m.group(3).upper()
        if first == second:
            raise ValueError(f"decision {text!r} compares a candidate with itself")
        winner = first if op.startswith(">") else second
        return 0 if winner == "A" else 1
    m = _MODEL.match(text)
    if m:
        tok = m.group(1).lower()
        slot = {"a": 0, "1": 0, "b": 1, "2": 1}[tok]
        if slot < n:
            return slot
    try:
        return parse_choice(text, n)
    except VerdictParseError as exc:
        raise ValueError(f"cannot read decision {text[:60]!r} ({exc})") from None
