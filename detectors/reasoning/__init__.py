"""The reasoning-based bias detector (RBD-style): format, parser, backends, detector."""

from detectors.reasoning.backends import backends, reasoning_backend
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
    "backends",
    "feedback_analysis",
    "input_from_row",
    "input_from_verdicts",
    "parse_detection",
    "reasoning_backend",
    "render_prompt",
]
