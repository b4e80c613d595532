"""Offline bias audit of recorded judge verdicts (``debias audit``).

Read verdicts in any registered format, measure position/cue/verbosity/sentiment
effects, accuracy and human agreement per judge with bootstrap 95% intervals, run the
cheap detectors offline, and render a Markdown summary, JSON, and a self-contained
HTML report; ``--fail-on`` gates turn metrics into a CI check.
"""

from debias.audit.config import AuditConfig
from debias.audit.gates import Gate, GateResult, check_gates, parse_gate
from debias.audit.importers import ImportOptions, importers, open_input, register_importer
from debias.audit.metrics.estimate import Estimate
from debias.audit.pipeline import audit
from debias.audit.result import AuditResult

__all__ = [
    "AuditConfig",
    "AuditResult",
    "Estimate",
    "Gate",
    "GateResult",
    "ImportOptions",
    "audit",
    "check_gates",
    "importers",
    "open_input",
    "parse_gate",
    "register_importer",
]
