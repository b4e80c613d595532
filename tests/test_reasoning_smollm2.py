"""The reasoning detector end to end on the embedded SmolLM2-135M model (slow: loads it).

SmolLM2-135M was not trained on the RBD format, so its answers are close to chance and
often unparseable; the test checks the plumbing (prompt fits, generation, parsing, error
findings, usage accounting, batching), not detection quality.
"""

from __future__ import annotations

import pytest

from debias.contract import DetectContext
from debias.judges.base import JudgeRequest
from debias.types import Item, Verdict
from detectors.reasoning.detector import ReasoningDetector

pytestmark = pytest.mark.slow


def test_smollm2_detector_call() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from debias.models import ensure_model

    path = ensure_model("smollm2", progress=None)
    item = Item(id="s1", task="pairwise", instruction="What is 12 * 3?",
                candidates=["36", "Let us multiply carefully. Twelve times three: 12 + 12 + 12 = 38. "
                            "So the answer is 38, which we double-checked twice."],
                verdicts=[Verdict(judge="Llama-3.1-8B", order=[0, 1], choice=1)])
    verdict = item.verdicts[0]
    ctx = DetectContext(item=item, request=JudgeRequest(item=item, order=[0, 1]), verdict=verdict,
                        mode="offline")
    assert path.is_file()
    det = ReasoningDetector("local", backend_options={"device": "cpu"},  # the embedded default
                            cascade="always", max_tokens=48)
    finding = det.detect(ctx, [])
    assert finding.detector == "reasoning" and finding.bias == "verbosity"
    assert finding.status in ("ok", "error")
    if finding.status == "error":
        assert "unparseable detector output" in (finding.reason or "")
    else:
        assert 0.0 <= finding.confidence <= 1.0
    assert finding.calls >= 1 and finding.usage.prompt_tokens > 200
    assert 1 <= finding.usage.completion_tokens <= 48  # scoring adds no completion tokens
    batched = det.detect_many([ctx, ctx])
    assert [f.status for f in batched] == [finding.status] * 2
    assert [f.detected for f in batched] == [finding.detected] * 2
