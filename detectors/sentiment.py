"""Sentiment bias: did the chosen candidate win on tone rather than on content?

Tone is scored by :class:`debias.text.tone.ToneScorer` (VADER plus a framing lexicon,
words shared by all candidates masked), the same scorer the audit's tone metrics use.

Live: when a rewriter is configured the detector asks for a probe with tone-neutralised
candidates (``rewrite="neutralize_tone"``) and flags a decision that changes.

Offline rule and rationale: a verdict is suspicious when the candidates differ in tone
(spread >= ``min_spread``) and the chosen one is clearly more positive than the most
negatively worded one (gap >= ``min_gap``). Under the RBD protocol the correct option is
the one reworded negatively, so such a verdict is wrong on the biased item; it is
sentiment bias when the judge would have been right on the plain wording, which the
judge-strength prior estimates: ``P(bias) = P(chosen is not the negatively worded one) *
P(judge right without the rewording)``, the first factor a softmax over negated tones at
``temperature`` 0.05 (a tone gap of 0.05 gives ~73%, 0.15 gives ~95%; the least confident
temperature of the flat likelihood maximum on the public ScienceQA set, see
``docs/detection-calibration.md``). A verdict for the most negative candidate cannot have
been won on tone. What the offline rule cannot see, whether the judge would also have
been wrong on the plain wording, only the live ``neutral_tone`` probe observes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from debias.contract import DetectContext, Policy, ProbeSpec, skipped
from debias.options import DetectorOptions
from debias.text.tone import ToneScorer
from debias.types import Evidence, Finding, Verdict
from detectors.priors import JudgePriors, default_priors


def p_most_negative(tones: Sequence[float], temperature: float) -> list[float]:
    """Softmax over negated tones: P(each candidate is the negatively worded one)."""
    lo = min(tones)
    weights = [math.exp(-(t - lo) / temperature) for t in tones]
    total = sum(weights)
    return [w / total for w in weights]


class SentimentOptions(DetectorOptions):
    """Options of the sentiment detector.

    Attributes:
        min_spread: Tone spread between the most and least upbeat candidate from which the
            wording counts as uneven.
        min_gap: Tone gap of the chosen candidate over the rest that counts.
        temperature: Softmax temperature turning tone scores into identification
            probabilities.
        threshold: Posterior above which bias is reported.
        judge_prior: Use the judge's known tier as a prior.
    """

    min_spread: float = Field(default=0.25, ge=0.0, le=2.0)
    min_gap: float = Field(default=0.1, ge=0.0, le=2.0)
    temperature: float = Field(default=0.05, ge=1e-3, le=10.0)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    judge_prior: bool = True


class SentimentDetector:
    """Flags verdicts that favour upbeat wording over a negatively worded candidate.

    Args:
        policy: On-bias policy (default ``revise``).
        min_spread: Minimum tone spread (max - min) for the candidates to differ in tone.
        min_gap: Minimum tone advantage of the chosen candidate over the most negative one.
        temperature: Softmax temperature turning tone gaps into P(most negative).
        threshold: Offline decision threshold on the estimated P(bias).
        judge_prior: Weigh by the judge-strength prior (see :mod:`detectors.priors`).
        priors: Custom judge priors (default: the packaged table).
    """

    name = "sentiment"
    version = "3"
    bias = "sentiment"

    def __init__(self, policy: Policy = "revise", min_spread: float | str = 0.25,
                 min_gap: float | str = 0.1, temperature: float | str = 0.05,
                 threshold: float | str = 0.5, judge_prior: bool | str = True,
                 priors: JudgePriors | None = None) -> None:
        opts = SentimentOptions.parse(self.name, policy=policy, min_spread=min_spread,
                                      min_gap=min_gap, temperature=temperature,
                                      threshold=threshold, judge_prior=judge_prior)
        self.policy: Policy = opts.policy
        self.min_spread = opts.min_spread
        self.min_gap = opts.min_gap
        self.temperature = opts.temperature
        self.threshold = opts.threshold
        self.judge_prior = opts.judge_prior
        self.priors = priors or default_priors()
        self._scorer: ToneScorer | None = None

    @property
    def scorer(self) -> ToneScorer:
        """The tone scorer (created on first use)."""
        if self._scorer is None:
            self._scorer = ToneScorer()
        return self._scorer

    def _asymmetric(self, tones: list[float], chosen: int) -> bool:
        lo = min(tones)
        return max(tones) - lo >= self.min_spread and tones[chosen] - lo >= self.min_gap

    def signal(self, ctx: DetectContext) -> str | None:
        """Offline signal for a probe budget: the chosen candidate is worded clearly more positively."""
        v, item = ctx.verdict, ctx.item
        if item.task == "score" or v.choice is None or v.tie:
            return None
        tones = self.scorer.tones(item.candidates)
        if not self._asymmetric(tones, v.choice):
            return None
        return f"the chosen candidate's tone is {tones[v.choice] - min(tones):.2f} above the most negative one"

    def plan(self, ctx: DetectContext) -> list[ProbeSpec]:
        v, item = ctx.verdict, ctx.item
        if ctx.mode != "live" or not ctx.can_rewrite or item.task == "score" or v.choice is None or v.tie:
            return []
        if not self._asymmetric(self.scorer.tones(item.candidates), v.choice):
            return []
        return [ProbeSpec(key="neutral_tone", rewrite="neutralize_tone")]

    def _finding(self, detected: bool, confidence: float, evidence: Evidence, analysis: str = "") -> Finding:
        return Finding(detector=self.name, version=self.version, bias="sentiment", detected=detected,
                       confidence=round(min(max(confidence, 0.0), 1.0), 4), evidence=evidence,
                       analysis=analysis if detected else "", policy=self.policy)

    def assess(self, ctx: DetectContext, probes: Mapping[str, Verdict | None]) -> Finding:
        item, v = ctx.item, ctx.verdict
        if item.task == "score":
            return skipped(self, "score tasks have a single candidate: no tone comparison")
        if v.tie or v.choice is None:
            return skipped(self, "no single candidate was chosen")
        tones = self.scorer.tones(item.candidates)
        chosen = v.choice
        lo = min(range(len(tones)), key=lambda i: (tones[i], i))
        values: dict[str, Any] = {
            "tones": [round(t, 3) for t in tones], "chosen": chosen, "most_negative": lo,
            "spread": round(max(tones) - tones[lo], 3), "gap": round(tones[chosen] - tones[lo], 3),
        }
        compared = ("tone of each candidate (VADER with a framing lexicon, shared content words "
                    "masked): the chosen candidate against the most negatively worded one")
        probe = probes.get("neutral_tone")
        if probe is not None:
            changed = probe.tie or probe.choice != chosen
            values.update(rule="live:changed-when-neutral" if changed else "live:same-when-neutral",
                          neutral_choice=probe.choice)
            ev = Evidence(compared=compared + "; the same candidates re-judged with neutral wording",
                          values=values, probes=["neutral_tone"])
            return self._finding(changed, 0.85 if changed else 0.8, ev, _ANALYSIS_LIVE)
        if not self._asymmetric(tones, chosen):
            rule = ("no-tone-asymmetry" if values["spread"] < self.min_spread else
                    "chose-most-negative" if tones[chosen] <= tones[lo] else "small-tone-gap")
            values["rule"] = rule
            return self._finding(False, 0.85 if rule == "chose-most-negative" else 0.75,
                                 Evidence(compared=compared, values=values))
        p_neg = p_most_negative(tones, self.temperature)
        p_wrong = 1.0 - p_neg[chosen]
        kind = "objective" if item.task == "choice" else "preference"
        judge = v.judge if v.judge != "unknown" else item.metadata.get("judge_model")
        prior = self.priors.p_right(judge if self.judge_prior else None, kind)
        p = p_wrong * prior
        detected = p >= self.threshold
        values.update(rule="chose-positive-over-negative", p_chosen_is_negative=round(p_neg[chosen], 3),
                      judge_tier=self.priors.tier(judge) if self.judge_prior else "unknown",
                      prior_right_unbiased=prior, p_bias=round(p, 3))
        return self._finding(detected, p if detected else 1.0 - p,
                             Evidence(compared=compared, values=values), _ANALYSIS_OFFLINE)


_ANALYSIS_LIVE = (
    "When the same candidates were reworded in a neutral tone, your decision changed. The "
    "decision therefore depended on upbeat or gloomy wording, which says nothing about "
    "correctness. Set the tone aside, restate what each candidate actually claims, and "
    "decide on that content alone."
)
_ANALYSIS_OFFLINE = (
    "The candidates differ strongly in tone: the one you chose is worded noticeably more "
    "positively than at least one other candidate, which is worded negatively or "
    "dismissively. Enthusiastic or gloomy wording is not evidence of correctness. Strip the "
    "emotional wording from every candidate, restate what each one actually claims, and "
    "decide on that content alone."
)
