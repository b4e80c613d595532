"""Registers the ``scripted`` judge spec: ``scripted`` or ``scripted:position=0.8,cue=1``."""

from __future__ import annotations

from typing import Any

from debias.errors import ConfigError
from debias.judges.base import judges
from debias.judges.testing import Biases, ScriptedJudge


@judges.register("scripted")
def scripted_judge(spec: str | None, **_: Any) -> ScriptedJudge:
    """A :class:`ScriptedJudge` whose bias rates come from ``key=value`` pairs."""
    rates: dict[str, float] = {}
    for part in filter(None, (spec or "").split(",")):
        key, eq, value = part.partition("=")
        if not eq or key.strip() not in Biases.model_fields:
            raise ConfigError(f"scripted judge option {part!r}: expected one of "
                              f"{', '.join(Biases.model_fields)} as key=value")
        try:
            rates[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"scripted judge option {part!r}: {value!r} is not a number") from None
    return ScriptedJudge(Biases(**rates), name=f"scripted:{spec}" if spec else "scripted")
