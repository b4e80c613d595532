"""The cascade rule between cheap detectors and model detectors (pure logic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from debias.cascade import (
    Band,
    bias_signal,
    covered_biases,
    decide_cascade,
    model_calls,
    plan_model_detectors,
)
from debias.errors import ConfigError
from debias.testing import ScriptedBackend
from debias.types import Finding
from detectors.reasoning.detector import ReasoningDetector


def f(bias: str, detected: bool = False, confidence: float = 0.9, status: str = "ok",
      calls: int = 0) -> Finding:
    return Finding(detector=f"d-{bias}", bias=bias, detected=detected, confidence=confidence,  # type: ignore[arg-type]
                   status=status, calls=calls)  # type: ignore[arg-type]


def test_modes() -> None:
    quiet = [f("position"), f("bandwagon")]
    assert decide_cascade("always", quiet).call
    assert not decide_cascade("never", [f("position", True)]).call
    assert not decide_cascade("on-signal", quiet).call
    assert decide_cascade("on-signal", quiet).reason == "cascade=on-signal: no cheap signal"
    with pytest.raises(ConfigError, match="cascade 'maybe'"):
        decide_cascade("maybe", quiet)


def test_signals_per_bias() -> None:
    findings = [f("position", detected=True, confidence=0.95), f("bandwagon", confidence=0.5),
                f("verbosity", confidence=0.9), f("sentiment", status="error")]
    d = decide_cascade("on-signal", findings)
    assert d.call and set(d.biases) == {"position", "bandwagon", "sentiment"}
    assert "detected bias" in d.reasons["position"]
    assert "ambiguous" in d.reasons["bandwagon"]
    assert "failed" in d.reasons["sentiment"]
    assert "verbosity" not in d.reasons
    # restricted to the biases a detector covers
    assert decide_cascade("on-signal", findings, ["verbosity"]).call is False
    assert decide_cascade("on-signal", findings, ["verbosity", "bandwagon"]).biases == ("bandwagon",)


def test_missing_evidence_and_skipped_findings() -> None:
    assert bias_signal("position", []) == "no cheap evidence"
    assert bias_signal("position", [f("position", status="skipped")]) == "no cheap evidence"
    assert decide_cascade("on-signal", [], ["sentiment"]).biases == ("sentiment",)
    assert decide_cascade("on-signal", []).call  # nothing known at all
    # findings of model detectors are not cheap evidence
    assert bias_signal("position", [f("position", detected=True, calls=1)]) == "no cheap evidence"


def test_band_edges_and_validation() -> None:
    band = Band(low=0.4, high=0.6)
    assert bias_signal("other", [f("other", confidence=0.4)], band) is not None
    assert bias_signal("other", [f("other", confidence=0.6)], band) is not None
    assert bias_signal("other", [f("other", confidence=0.61)], band) is None
    with pytest.raises(ValueError, match=r"low 0\.7 is above high 0\.3"):
        Band(low=0.7, high=0.3)


def test_plan_model_detectors_and_call_counts() -> None:
    on = ReasoningDetector(ScriptedBackend(["No"]), biases="position")
    always = ReasoningDetector(ScriptedBackend(["No"]), cascade="always")
    never = ReasoningDetector(ScriptedBackend(["No"]), cascade="never")
    assert covered_biases(on) == ("position",) and covered_biases(always) == ()
    plan = plan_model_detectors([on, always, never], [f("position"), f("bandwagon", True)])
    assert [(d is det, dec.call) for (d, dec), det in zip(plan, [on, always, never], strict=True)] == \
        [(True, False), (True, True), (True, False)]
    assert model_calls([f("position"), f("position", calls=2), f("bandwagon", calls=1)]) == 3


BIASES = st.sampled_from(["position", "bandwagon", "verbosity", "sentiment"])
FINDINGS = st.lists(st.builds(f, BIASES, st.booleans(), st.floats(0, 1),
                              st.sampled_from(["ok", "skipped", "error"])), max_size=6)


@given(FINDINGS)
def test_on_signal_calls_iff_a_bias_has_a_signal(findings: list[Finding]) -> None:
    decision = decide_cascade("on-signal", findings, ["position", "bandwagon"])
    expected = [b for b in ("position", "bandwagon") if bias_signal(b, findings) is not None]
    assert decision.call == bool(expected)
    assert list(decision.biases) == (expected if expected else [])
    # an actionable cheap finding about a covered bias always triggers a call
    if any(x.actionable and x.bias in ("position", "bandwagon") for x in findings):
        assert decision.call
