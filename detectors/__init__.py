"""Bias detectors for judge verdicts.

Importing this package registers the built-in detectors. Third-party detectors register
through the ``judge_debias.detectors`` entry-point group.
"""

from detectors import bandwagon as _bandwagon  # noqa: F401  (registers "bandwagon")
from detectors import position as _position  # noqa: F401  (registers "position")
from detectors import sentiment as _sentiment  # noqa: F401  (registers "sentiment")
from detectors import verbosity as _verbosity  # noqa: F401  (registers "verbosity")
from detectors.base import (
    DetectContext,
    Detector,
    ModelDetector,
    ProbeSpec,
    parse_detector_specs,
    register_detector,
    registry,
)
from detectors.offline import detect_offline
from detectors.reasoning import detector as _reasoning  # noqa: F401  (registers "reasoning")

__all__ = [
    "DetectContext",
    "Detector",
    "ModelDetector",
    "ProbeSpec",
    "detect_offline",
    "parse_detector_specs",
    "register_detector",
    "registry",
]
