"""Validation of detector options.

Detector options arrive either as Python values or as strings from a detector spec
(``"verbosity:min_ratio=2;policy=flag"``). A detector declares them as a pydantic model
(a subclass of :class:`DetectorOptions`), validated on construction: strings are coerced
(``"2"`` -> 2.0, ``"true"`` -> True), ranges are checked, unknown options are refused, and
every failure is a :class:`~debias.errors.ConfigError` naming the detector, the option
and the value.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

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
        loc = err.get("loc") or ()
        if not loc:  # a check across options (a model validator)
            parts.append(f"detector {detector!r}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
            continue
        name = str(loc[0])
        if err.get("type") == "extra_forbidden":
            parts.append(f"detector {detector!r} has no option {name!r}")
        else:
            value = given.get(name, err.get("input"))
            parts.append(f"detector {detector!r}: option {name}={value!r}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)
