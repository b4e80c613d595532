"""Validation of detector options.

Detector options arrive either as Python values or as strings from a detector spec
(``"verbosity:min_ratio=2;policy=flag"``). A detector declares them as a pydantic model
(a subclass of :class:`DetectorOptions`), validated on construction: strings are coerced
(``"2"`` -> 2.0, ``"true"`` -> True), ranges are checked, unknown options are refused, and
every failure is a :class:`~debias.errors.ConfigError` naming the detector, the option
and the value. The ``as_float``/``as_bool`` helpers below do the same for detectors that
validate by hand.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from debias.contract import POLICIES
from debias.errors import ConfigError
from debias.types import Policy

OptionsT = TypeVar("OptionsT", bound="DetectorOptions")


class DetectorOptions(BaseModel):
    """Options every detector takes; subclass it to add a detector's own.

    Attributes:
        policy: What happens when the detector finds bias: ``revise`` (feedback to the
            judge), ``aggregate`` (adopt the counterfactual verdict without a re-ask),
            ``flag`` (record only) or ``raise``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Policy = "revise"

    @classmethod
    def parse(cls: type[OptionsT], detector: str, **values: Any) -> OptionsT:
        """Validate ``values`` (None means "use the default").

        Raises:
            ConfigError: Naming the detector, the option, the value and what is wrong.
        """
        given = {k: v for k, v in values.items() if v is not None}
        try:
            return cls(**given)
        except ValidationError as exc:
            raise ConfigError(options_error(detector, exc, given)) from None


def options_error(detector: str, exc: ValidationError, given: dict[str, Any]) -> str:
    """One line per invalid option: ``detector 'x': option name='value': problem``."""
    parts = []
    for err in exc.errors():
        loc = err.get("loc") or ("?",)
        name = str(loc[0])
        if err.get("type") == "extra_forbidden":
            parts.append(f"detector {detector!r} has no option {name!r}")
        else:
            value = given.get(name, err.get("input"))
            parts.append(f"detector {detector!r}: option {name}={value!r}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


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
