"""Deprecated location of the scripted test doubles: import them from :mod:`debias.testing`.

A thin re-export kept for one round while code written against ``debias.judges.testing``
moves over; delete it then. The names resolve on first access (``debias.testing`` imports
the judges package, so importing it here at module level would be a cycle).
"""

from __future__ import annotations

import importlib
from typing import Any

_MOVED = {"Biases": "debias.testing.judge", "ScriptedJudge": "debias.testing.judge",
          "cue_endorsed_slot": "debias.testing.judge", "tone": "debias.testing.judge",
          "ScriptedRewriter": "debias.testing.judge",
          "ScriptedBackend": "debias.testing.backend",
          "ScriptedScoringBackend": "debias.testing.backend"}
__all__ = sorted(_MOVED)


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'debias.judges.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
