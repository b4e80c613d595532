"""The cascade: which model-backed detectors to call, given the cheap detectors' findings.

Cheap detectors run first. A model detector (the reasoning detector) is then called
according to its ``cascade`` setting:

* ``always``: on every verdict;
* ``never``: not at all (it contributes a ``skipped`` finding);
* ``on-signal`` (default): only where the cheap evidence about a bias it covers is a
  signal. A bias has a signal when a cheap finding about it

  - detected bias (``actionable``), or
  - is ``ok`` with an ambiguous confidence, inside ``[low, high]`` (default
    ``[0.35, 0.65]``), or
  - is an ``error`` (the cheap check could not decide);

  or when no cheap detector produced an ``ok`` or ``error`` finding about it at all (no
  cheap evidence is the most ambiguous case; skipped findings mean "not applicable" and
  count as no evidence).

Which biases a model detector covers: its ``biases`` attribute when it has one (a
sequence of bias names; empty or absent = every bias), else its ``bias`` attribute
unless that is ``other``. Everything here is pure: no model calls, no state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from debias.errors import ConfigError
from debias.types import Finding

CASCADES: tuple[str, ...] = ("always", "never", "on-signal")


class Band(BaseModel):
    """The ambiguous confidence band of cheap findings.

    Attributes:
        low: Lower bound (inclusive).
        high: Upper bound (inclusive).
    """

    model_config = ConfigDict(frozen=True)

    low: float = Field(default=0.35, ge=0.0, le=1.0)
    high: float = Field(default=0.65, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.low > self.high:
            raise ValueError(f"ambiguous band: low {self.low} is above high {self.high}")
        return self

    def contains(self, confidence: float) -> bool:
        """Whether ``confidence`` is ambiguous."""
        return self.low <= confidence <= self.high


DEFAULT_BAND = Band()


class CascadeDecision(BaseModel):
    """Whether to call a model detector, and for which biases.

    Attributes:
        call: Call the model detector.
        biases: Biases with a signal (for ``always``: every covered bias seen, or empty
            meaning "all").
        reasons: Per bias, why it has a signal (or why nothing is called under ``_``).
    """

    model_config = ConfigDict(frozen=True)

    call: bool
    biases: tuple[str, ...] = ()
    reasons: dict[str, str] = Field(default_factory=dict)

    @property
    def reason(self) -> str:
        """One-line summary of the reasons."""
        return "; ".join(f"{b}: {r}" if b != "_" else r for b, r in self.reasons.items())


def check_cascade(mode: str) -> str:
    """Validate a cascade setting (raises ConfigError naming the bad value)."""
    if mode not in CASCADES:
        raise ConfigError(f"cascade {mode!r} is not one of {', '.join(CASCADES)}")
    return mode


def bias_signal(bias: str, findings: Iterable[Finding], band: Band = DEFAULT_BAND) -> str | None:
    """Why the cheap findings about ``bias`` are a signal, or None when they are not.

    Findings of model detectors (``calls > 0``) are ignored: only cheap evidence counts.
    """
    relevant = [f for f in findings if f.bias == bias and f.status != "skipped" and f.calls == 0]
    if not relevant:
        return "no cheap evidence"
    for f in relevant:
        if f.actionable:
            return f"{f.detector} detected bias (confidence {f.confidence:.2f})"
    for f in relevant:
        if f.status == "error":
            return f"{f.detector} failed: {f.reason}"
    for f in relevant:
        if band.contains(f.confidence):
            return f"{f.detector} is ambiguous (confidence {f.confidence:.2f})"
    return None


def covered_biases(detector: Any) -> tuple[str, ...]:
    """Biases a model detector covers; empty means every bias."""
    biases = getattr(detector, "biases", None)
    if biases:
        return tuple(biases)
    bias = getattr(detector, "bias", "other")
    return () if bias in (None, "other") else (bias,)


def decide_cascade(
    mode: str,
    findings: Sequence[Finding],
    biases: Sequence[str] = (),
    band: Band = DEFAULT_BAND,
) -> CascadeDecision:
    """Pure cascade rule for one model detector and one verdict.

    Args:
        mode: ``always``, ``never`` or ``on-signal``.
        findings: The cheap detectors' findings on the verdict.
        biases: Biases the model detector covers (empty: every bias that the findings
            mention; with no findings at all, "no cheap evidence" triggers a call).
        band: Ambiguous confidence band.
    """
    check_cascade(mode)
    if mode == "never":
        return CascadeDecision(call=False, reasons={"_": "cascade=never"})
    if mode == "always":
        return CascadeDecision(call=True, biases=tuple(biases), reasons={"_": "cascade=always"})
    candidates = list(biases) or sorted({f.bias for f in findings if f.calls == 0})
    if not candidates:
        return CascadeDecision(call=True, reasons={"_": "no cheap evidence"})
    reasons = {}
    for b in candidates:
        why = bias_signal(b, findings, band)
        if why is not None:
            reasons[b] = why
    if not reasons:
        return CascadeDecision(call=False, reasons={"_": "cascade=on-signal: no cheap signal"})
    return CascadeDecision(call=True, biases=tuple(reasons), reasons=reasons)


def plan_model_detectors(
    detectors: Sequence[Any],
    findings: Sequence[Finding],
    band: Band = DEFAULT_BAND,
) -> list[tuple[Any, CascadeDecision]]:
    """For each model detector, the cascade decision given the cheap findings (in order)."""
    return [
        (d, decide_cascade(getattr(d, "cascade", "on-signal"), findings, covered_biases(d), band))
        for d in detectors
    ]


def model_calls(findings: Iterable[Finding]) -> int:
    """Detector model calls recorded on findings (the per-item count benchmarks report)."""
    return sum(f.calls for f in findings)
