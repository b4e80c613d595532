"""Deprecated location of the scripted test doubles: import them from :mod:`debias.testing`.

Kept as a thin re-export for one release while code written against
``debias.judges.testing`` moves over.
"""

from debias.testing.backend import ScriptedBackend, ScriptedScoringBackend
from debias.testing.judge import Biases, ScriptedJudge, cue_endorsed_slot, tone

__all__ = ["Biases", "ScriptedBackend", "ScriptedJudge", "ScriptedScoringBackend",
           "cue_endorsed_slot", "tone"]
