"""The reasoning-based bias detector (RBD-style): format, parser, confidence, detector.

Its model backend comes from the shared registry (:func:`debias.backends.create_backend`)."""

from detectors.reasoning.detector import ReasoningDetector
from detectors.reasoning.format import (
    RBDInput,
    RBDTemplate,
    input_from_row,
    input_from_verdicts,
    render_prompt,
)
from detectors.reasoning.parse import ParsedDetection, feedback_analysis, parse_detection

__all__ = [
    "ParsedDetection",
    "RBDInput",
    "RBDTemplate",
    "ReasoningDetector",
    "feedback_analysis",
    "input_from_row",
    "input_from_verdicts",
    "parse_detection",
    "render_prompt",
]
