"""Rewrite probes run through the configured rewriter, and only when one is configured."""

from __future__ import annotations

from debias.contract import ProbeSpec
from debias.loop import Debiaser
from debias.rewriter import ChatRewriter
from debias.testing import ScriptedBackend, ScriptedJudge
from debias.types import Evidence, Finding, Item


class LengthProbe:
    name, version, bias, policy = "lenprobe", "1", "verbosity", "revise"

    def __init__(self):
        self.seen = None

    def plan(self, ctx):
        return [ProbeSpec(key="equal_len", rewrite="equalize_length")] if ctx.can_rewrite else []

    def assess(self, ctx, probes):
        self.seen = probes.get("equal_len")
        changed = self.seen is not None and self.seen.choice != ctx.verdict.choice
        return Finding(detector=self.name, bias="verbosity", detected=changed, confidence=0.8,
                       evidence=Evidence(compared="verdict with lengths equalised"), policy=self.policy,
                       analysis="Your preference changed when the answers were made equally long.")


ITEM = Item(id="v", task="pairwise", instruction="What is 6 x 7?",
            candidates=["The answer is 41, " + "after a long and careful derivation " * 10, "42"], label=1)


def test_rewrite_probe_uses_rewriter_and_feeds_back():
    backend = ScriptedBackend(lambda messages: "1")
    judge = ScriptedJudge(verbosity=1.0, compliance=1.0)
    det = LengthProbe()
    result = Debiaser(judge, [det], rewriter=ChatRewriter(backend), max_rounds=1).judge(ITEM)
    assert len(backend.requests) == 2  # one rewrite per round: only the long candidate
    assert "at most about 1 words" in backend.requests[0][0]["content"]
    probe_requests = [c for c in judge.calls if c.item.candidates[0] == "1"]
    assert len(probe_requests) == 2
    assert result.rounds[0].findings[0].detected
    assert result.status.value == "revised" and result.verdict.choice == 1


def test_no_rewriter_no_rewrite_probe():
    det = LengthProbe()
    result = Debiaser(ScriptedJudge(verbosity=1.0), [det]).judge(ITEM)
    assert result.probes == [] and det.seen is None and result.status.value == "clean"


async def test_async_rewrite():
    backend = ScriptedBackend(lambda messages: "neutral text")
    out = await ChatRewriter(backend).arewrite("neutralize_tone", ITEM)
    assert out == ["neutral text", "neutral text"] and len(backend.requests) == 2
