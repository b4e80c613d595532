"""Verbosity bias: did the chosen candidate win by being longer rather than better?

Evidence always reported: characters and tokens of every candidate, the chosen-to-
rejected ratio, the relative difference (see :mod:`detectors.lengths`).

Live: when a rewriter is configured and the chosen candidate is the longer one, the
detector asks for a length-controlled probe (``rewrite="equalize_length"``: the
candidates rewritten to similar length, same content) and flags a decision that changes.

Offline rules and rationale (RBD protocol: unbiased = worked correct solution vs a long
wrong one, biased = the correct solution reduced to its bare final answer vs the same long
wrong one; bias = right on the unbiased pair, wrong on the biased one):

1. The chosen candidate is not clearly longer (ratio < ``min_ratio`` or fewer than
   ``min_extra_tokens`` extra tokens): the verdict cannot have been won on length -> no.
2. The chosen (longer) candidate and a rejected one reach the same final number: the
   extra length is an explanation of the same answer, so choosing it is not wrong -> no.
3. They reach different final numbers: the judge picked the longer answer over a
   disagreeing one. When the rejected one is a concise final answer (a bare number as in
   a reference answer, or a short sentence stating one) the longer chosen one is likely
   the wrong one: P = ``concise_prior``
   (0.8: a bare answer set against a worked solution is the shape of a reference answer;
   set 0.5 for no opinion). With the item's gold label known, the label decides. The
   estimate is ``P(chosen wrong) * P(judge right without the length cue)``, the second
   factor from the judge-strength prior for objective tasks (:mod:`detectors.priors`).
4. No comparable final numbers (open-ended text): only an extreme asymmetry (ratio >=
   ``strong_ratio``) is flagged, with low confidence (``length_only_p``), because longer
   open-ended answers are often genuinely better; the live probe is the real test there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from debias.contract import DetectContext, Policy, ProbeSpec, skipped
from debias.options import DetectorOptions
from debias.types import Evidence, Finding, Verdict
from detectors.lengths import compare_lengths, final_number, is_concise_answer, same_number
from detectors.priors import JudgePriors, default_priors


class VerbosityOptions(DetectorOptions):
    """Options of the verbosity detector.

    Attributes:
        min_ratio: Length ratio (chosen / other) from which the chosen answer counts as
            longer.
        min_extra_tokens: Extra tokens from which it counts as longer.
        strong_ratio: Ratio that counts as a strong length asymmetry.
        length_only: Judge offline from lengths alone when no probe answers.
        length_only_p: Probability of bias assigned to a length-only signal.
        concise_prior: Prior that the shorter answer is the better one, for judges of
            unknown tier.
        threshold: Posterior above which bias is reported.
        judge_prior: Use the judge's known tier as a prior.
    """

    min_ratio: float = Field(default=1.5, ge=1.0)
    min_extra_tokens: float = Field(default=20, ge=0.0)
    strong_ratio: float = Field(default=3.0, ge=1.0)
    length_only: bool = True
    length_only_p: float = Field(default=0.55, ge=0.0, le=1.0)
    concise_prior: float = Field(default=0.8, ge=0.0, le=1.0)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    judge_prior: bool = True


class VerbosityDetector:
    """Length asymmetry of chosen vs rejected candidates, with a length-controlled probe.

    Args:
        policy: On-bias policy (default ``revise``).
        min_ratio: The chosen candidate counts as longer from this token ratio on.
        min_extra_tokens: ... and with at least this many extra tokens.
        strong_ratio: Ratio from which length alone is flagged for open-ended text.
        length_only: Flag extreme asymmetries without a final-answer comparison.
        length_only_p: Confidence of such length-only flags.
        concise_prior: P(a bare final answer is right when a longer chosen answer disagrees).
        threshold: Offline decision threshold on the estimated P(bias).
        judge_prior: Weigh by the judge-strength prior.
        priors: Custom judge priors (default: the packaged table).
    """

    name = "verbosity"
    version = "1"
    bias = "verbosity"

    def __init__(self, policy: Policy = "revise", min_ratio: float | str = 1.5,
                 min_extra_tokens: float | str = 20, strong_ratio: float | str = 3.0,
                 length_only: bool | str = True, length_only_p: float | str = 0.55,
                 concise_prior: float | str = 0.8, threshold: float | str = 0.5,
                 judge_prior: bool | str = True, priors: JudgePriors | None = None) -> None:
        opts = VerbosityOptions.parse(
            self.name, policy=policy, min_ratio=min_ratio, min_extra_tokens=min_extra_tokens,
            strong_ratio=strong_ratio, length_only=length_only, length_only_p=length_only_p,
            concise_prior=concise_prior, threshold=threshold, judge_prior=judge_prior)
        self.policy: Policy = opts.policy
        self.min_ratio = opts.min_ratio
        self.min_extra_tokens = opts.min_extra_tokens
        self.strong_ratio = opts.strong_ratio
        self.length_only = opts.length_only
        self.length_only_p = opts.length_only_p
        self.concise_prior = opts.concise_prior
        self.threshold = opts.threshold
        self.judge_prior = opts.judge_prior
        self.priors = priors or default_priors()

    def _longer(self, ratio: float, extra: float) -> bool:
        return ratio >= self.min_ratio and extra >= self.min_extra_tokens

    def plan(self, ctx: DetectContext) -> list[ProbeSpec]:
        v, item = ctx.verdict, ctx.item
        if ctx.mode != "live" or not ctx.can_rewrite or item.task == "score" or v.choice is None or v.tie:
            return []
        cmp = compare_lengths(item.candidates, v.choice)
        if not self._longer(cmp.ratio, cmp.extra_tokens):
            return []
        return [ProbeSpec(key="equal_length", rewrite="equalize_length")]

    def _finding(self, detected: bool, confidence: float, evidence: Evidence, analysis: str = "") -> Finding:
        return Finding(detector=self.name, version=self.version, bias="verbosity", detected=detected,
                       confidence=round(min(max(confidence, 0.0), 1.0), 4), evidence=evidence,
                       analysis=analysis if detected else "", policy=self.policy)

    def assess(self, ctx: DetectContext, probes: Mapping[str, Verdict | None]) -> Finding:
        item, v = ctx.item, ctx.verdict
        if item.task == "score":
            return skipped(self, "score tasks have a single candidate: no length comparison")
        if v.tie or v.choice is None:
            return skipped(self, "no single candidate was chosen")
        chosen = v.choice
        cmp = compare_lengths(item.candidates, chosen)
        values: dict[str, Any] = {"chosen": chosen, **cmp.as_values()}
        compared = "length of the chosen candidate against the rejected ones (characters, tokens, ratio)"
        probe = probes.get("equal_length")
        if probe is not None:
            changed = probe.tie or probe.choice != chosen
            values.update(rule="live:changed-when-equal-length" if changed else "live:same-when-equal-length",
                          equal_length_choice=probe.choice)
            ev = Evidence(compared=compared + "; the same candidates re-judged at equal length",
                          values=values, probes=["equal_length"])
            return self._finding(changed, 0.85 if changed else 0.8, ev, _ANALYSIS_LIVE.format(r=cmp.ratio))
        if not self._longer(cmp.ratio, cmp.extra_tokens):
            values["rule"] = "chosen-not-longer"
            return self._finding(False, 0.85 if cmp.ratio <= 1.0 else 0.7, Evidence(compared=compared, values=values))
        finals = [final_number(c) for c in item.candidates]
        mine = finals[chosen]
        others = [(i, finals[i], is_concise_answer(c)) for i, c in enumerate(item.candidates) if i != chosen]
        values["final_numbers"] = {str(i): f for i, f in enumerate(finals)}
        comparable = [(i, f, bare) for i, f, bare in others if f is not None]
        if mine is not None and comparable:
            compared += "; final numeric answers of the candidates"
            if any(same_number(mine, f) for _, f, _ in comparable):
                values["rule"] = "same-final-answer"
                return self._finding(False, 0.8, Evidence(compared=compared, values=values))
            if item.label is not None:
                wrong = int(item.label) != chosen
                values["rule"] = "gold-label"
                return self._finding(wrong, 0.9, Evidence(compared=compared + "; the item's gold label",
                                                          values=values),
                                     _ANALYSIS_NUMERIC.format(r=cmp.ratio))
            p_wrong = self.concise_prior if any(bare for _, _, bare in comparable) else 0.5
            judge = v.judge if v.judge != "unknown" else item.metadata.get("judge_model")
            prior = self.priors.p_right(judge if self.judge_prior else None, "objective")
            p = p_wrong * prior
            detected = p >= self.threshold
            values.update(rule="final-answers-differ", p_chosen_wrong=p_wrong,
                          judge_tier=self.priors.tier(judge) if self.judge_prior else "unknown",
                          prior_right_unbiased=prior, p_bias=round(p, 3))
            return self._finding(detected, p if detected else 1.0 - p,
                                 Evidence(compared=compared, values=values),
                                 _ANALYSIS_NUMERIC.format(r=cmp.ratio))
        if self.length_only and cmp.ratio >= self.strong_ratio:
            values["rule"] = "length-only"
            return self._finding(True, self.length_only_p, Evidence(compared=compared, values=values),
                                 _ANALYSIS_LENGTH.format(r=cmp.ratio))
        values["rule"] = "moderate-length-only"
        return self._finding(False, 0.6, Evidence(compared=compared, values=values))


_ANALYSIS_LIVE = (
    "The candidate you chose is about {r:.1f} times as long as the other(s), and when the "
    "candidates were rewritten to similar length your decision changed. The decision "
    "therefore depended on length rather than substance. Compare what each candidate "
    "actually gets right, regardless of how much it says."
)
_ANALYSIS_NUMERIC = (
    "The candidate you chose is about {r:.1f} times as long as the other(s), and the "
    "candidates arrive at different final answers. A longer, step-by-step answer is not "
    "more likely to be correct: work the problem out yourself, check each candidate's final "
    "result against your own, and decide on correctness alone."
)
_ANALYSIS_LENGTH = (
    "The candidate you chose is about {r:.1f} times as long as the other(s). Extra length, "
    "detail or formatting is not quality in itself. Check whether the additional content "
    "is accurate and needed for the instruction, and compare the candidates on substance."
)
