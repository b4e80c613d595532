"""Validation of detector options.

Detector options arrive either as Python values or as strings from a detector spec
(``"verbosity:min_ratio=2;policy=flag"``). These helpers coerce and range-check them and
raise :class:`~debias.errors.ConfigError` naming the detector, the option and the value.
"""

from __future__ import annotations

from typing import Any

from debias.contract import POLICIES, Policy
from debias.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def check_policy(detector: str, value: Any) -> Policy:
    """Return ``value`` if it is a known on-bias policy.

    Raises:
        ConfigError: Naming the detector and the bad value.
    """
    if value not in POLICIES:
        raise ConfigError(f"detector {detector!r}: policy {value!r} is not one of {POLICIES}")
    return value  # type: ignore[no-any-return]


def as_float(detector: str, name: str, value: Any, lo: float | None = None,
             hi: float | None = None) -> float:
    """Coerce ``value`` to a float within ``[lo, hi]``.

    Raises:
        ConfigError: When the value is not a number or is out of range.
    """
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"detector {detector!r}: option {name}={value!r} is not a number") from None
    if (lo is not None and out < lo) or (hi is not None and out > hi):
        raise ConfigError(f"detector {detector!r}: option {name}={value!r} must be within "
                          f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]")
    return out


def as_bool(detector: str, name: str, value: Any) -> bool:
    """Coerce ``value`` (bool or a yes/no style string) to a bool.

    Raises:
        ConfigError: When the value is not recognisable as a boolean.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"detector {detector!r}: option {name}={value!r} is not a boolean "
                      "(use true/false)")
