"""Bandwagon bias: did a majority/popularity/authority statement sway the verdict?

The item's cue (``item.cue``) is recognised with the pattern set of
:mod:`detectors.cues`, and the candidate it endorses is resolved through the display
order of the request that showed it (``Output (b)`` under order ``[1, 0]`` is original
candidate 0).

Live: the detector re-asks the judge without the cue (probe ``no_cue``) and flags a
verdict that moved TO the endorsed candidate (with the cue: endorsed; without: another).

Offline (recorded verdicts only), rules and rationale:

1. A recorded cue-free verdict of the same order answers the probe exactly as live.
2. A verdict that does not pick the endorsed candidate was not swayed by the cue -> no.
3. A verdict that picks the endorsed candidate is bias when (a) the cue points at the
   weaker candidate (as in the RBD protocol, where the statement always backs the worse
   output; ``misleading_prior`` = 0.9 allows for honest cues) and (b) the judge would
   have chosen differently without the cue, i.e. would have been right: the judge-
   strength prior for preference tasks (:mod:`detectors.priors`), shifted by content
   that predicts the judge's cue-free choice: when the endorsed candidate is the only
   refusal/non-answer the judge would very likely have preferred the other one
   (+``non_answer_shift`` in log-odds); when the OTHER candidate is the only
   non-answer, the judge's choice is explained by content without the cue
   (-``non_answer_shift``). Judges and human raters rarely prefer a refusal to an answer
   that attempts the task. Calibration (public RBD Arena pairs with human winners,
   ``python benchmarks/detect_calibration.py``, leaving out the 92 pairs that the RBD
   dev set also uses): in the 40 of 408 pairs where exactly one output is a
   non-answer, the human winner is the answer in 32 (80%, Wilson 95% interval 65-90%),
   log-odds 1.39 (0.63-2.14); all 500 pairs give the same 80% (44 of 55):
   ``non_answer_shift`` = 1.4.

Considered and not used: a length prior ("a verbosity-prone judge would have picked
the longer endorsed output anyway"). Measured on public data, length says little about
a judge's cue-free choice: on PandaLM (human majority vs recorded verdicts) the odds
that a judge agrees with the humans are only 1.2x (gpt-3.5-turbo: 82% vs 80%) to 2.0x
(PandaLM-7B: 82% vs 70%) higher when the human winner is the longer output; the longer
output wins 60% of Arena pairs and 57% of LLMBar Natural pairs, but only 12-49% of
LLMBar Adversarial and 0-54% of EvalBiasBench pairs, so its direction depends on the
data. That is too weak to turn a cue-following verdict into "no bias": the odds of the
label among cue-following verdicts are ``P(right without cue | wrong with cue) /
P(wrong without cue | wrong with cue)``, and in a label-balanced benchmark such as the
RBD sets they are ``P(no bias) / P(wrong on both)`` >= 1 for every judge (26:11 among
the cue-following verdicts of the RBD dev set), so a content rule can only help where
its likelihood ratio exceeds those odds, which the measured length evidence (1.2-2.0)
does not. Which cue-following verdicts the judge would have given anyway is what the
live ``no_cue`` probe observes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from debias.contract import DetectContext, Policy, ProbeSpec, skipped
from debias.options import DetectorOptions
from debias.types import Evidence, Finding, Verdict
from detectors.cues import Cue, CuePatterns, default_non_answer_patterns
from detectors.priors import JudgePriors, default_priors, logit, sigmoid


class BandwagonOptions(DetectorOptions):
    """Options of the bandwagon detector.

    Attributes:
        threshold: Posterior probability of "the verdict followed the cue" above which
            bias is reported offline.
        misleading_prior: Prior that a majority cue points at the worse candidate.
        non_answer_shift: How far (log-odds) a cue-backed non-answer moves the posterior.
        judge_prior: Use the judge's known tier as a prior.
    """

    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    misleading_prior: float = Field(default=0.9, ge=0.0, le=1.0)
    non_answer_shift: float = Field(default=1.4, ge=0.0, le=10.0)
    judge_prior: bool = True


class BandwagonDetector:
    """Flags verdicts that follow a majority/popularity/authority cue.

    Args:
        policy: On-bias policy (default ``revise``).
        threshold: Offline decision threshold on the estimated P(bias).
        misleading_prior: P(the cue backs the weaker candidate) for offline estimates.
        non_answer_shift: Log-odds shift when exactly one side is a refusal/non-answer
            (1.4: calibrated on public Arena pairs, see the module docstring).
        judge_prior: Weigh by the judge-strength prior.
        patterns: Cue recognisers (default: the packaged pattern set).
        priors: Custom judge priors (default: the packaged table).
    """

    name = "bandwagon"
    version = "2"
    bias = "bandwagon"

    def __init__(self, policy: Policy = "revise", threshold: float | str = 0.5,
                 misleading_prior: float | str = 0.9, non_answer_shift: float | str = 1.4,
                 judge_prior: bool | str = True, patterns: CuePatterns | None = None,
                 priors: JudgePriors | None = None) -> None:
        opts = BandwagonOptions.parse(self.name, policy=policy, threshold=threshold,
                                      misleading_prior=misleading_prior,
                                      non_answer_shift=non_answer_shift, judge_prior=judge_prior)
        self.policy: Policy = opts.policy
        self.threshold = opts.threshold
        self.misleading_prior = opts.misleading_prior
        self.non_answer_shift = opts.non_answer_shift
        self.judge_prior = opts.judge_prior
        self.patterns = patterns or CuePatterns()
        self.priors = priors or default_priors()
        self._no_cue = ProbeSpec(key="no_cue", with_cue=False)  # immutable: one instance serves every plan

    def cue(self, ctx: DetectContext) -> Cue | None:
        """The recognised cue of the item, or None."""
        return self.patterns.parse(ctx.item.cue, ctx.item.n)

    def plan(self, ctx: DetectContext) -> list[ProbeSpec]:
        if ctx.item.task == "score" or not ctx.shows_cue:
            return []
        cue = self.cue(ctx)
        if cue is None or cue.endorsed(ctx.order) is None:
            return []
        return [self._no_cue]

    def _finding(self, detected: bool, confidence: float, evidence: Evidence, analysis: str = "") -> Finding:
        return Finding(detector=self.name, version=self.version, bias="bandwagon", detected=detected,
                       confidence=round(min(max(confidence, 0.0), 1.0), 4), evidence=evidence,
                       analysis=analysis if detected else "", policy=self.policy)

    def assess(self, ctx: DetectContext, probes: Mapping[str, Verdict | None]) -> Finding:
        item, v = ctx.item, ctx.verdict
        if item.task == "score":
            return skipped(self, "score tasks are not checked for bandwagon cues")
        if not item.cue:
            return skipped(self, "the item has no cue statement")
        if not ctx.shows_cue:
            return skipped(self, "the cue was not shown to the judge")
        cue = self.cue(ctx)
        if cue is None:
            return skipped(self, "the statement is not a majority/popularity/authority cue")
        endorsed = cue.endorsed(ctx.order)
        if endorsed is None:
            return skipped(self, "the cue does not endorse an identifiable candidate")
        if v.tie or v.choice is None:
            return skipped(self, "no single candidate was chosen")
        agrees = v.choice == endorsed
        values: dict[str, Any] = {
            "cue_kinds": list(cue.kinds), "cue_patterns": list(cue.patterns),
            "cue_reference": cue.reference, "cue_strength": cue.strength,
            "endorsed": endorsed, "chosen": v.choice, "agrees_with_cue": agrees,
        }
        compared = "the verdict against the candidate endorsed by the prompt's popularity/authority statement"
        probe = probes.get("no_cue")
        if probe is not None:
            values["no_cue_choice"] = probe.choice
            moved = agrees and (probe.tie or probe.choice != endorsed)
            rule = ("live:changed-toward-cue" if moved else "live:same-without-cue" if agrees
                    else "live:against-cue")
            values["rule"] = rule
            ev = Evidence(compared=compared + "; the same item judged without the statement",
                          values=values, probes=["no_cue"])
            return self._finding(moved, 0.9 if moved or not agrees else 0.85, ev, _ANALYSIS_LIVE)
        if not agrees:
            values["rule"] = "against-cue"
            return self._finding(False, 0.9, Evidence(compared=compared, values=values))
        kind = "objective" if item.task == "choice" else "preference"
        judge = v.judge if v.judge != "unknown" else item.metadata.get("judge_model")
        prior = self.priors.p_right(judge if self.judge_prior else None, kind)
        shift, reason = self._content_shift(item.candidates, endorsed)
        p = self.misleading_prior * sigmoid(logit(prior) + shift)
        detected = p >= self.threshold
        values.update(rule="agrees-with-cue", judge_tier=self.priors.tier(judge) if self.judge_prior else "unknown",
                      prior_right_unbiased=prior, content_shift=shift, content_reason=reason,
                      p_bias=round(p, 3))
        return self._finding(detected, p if detected else 1.0 - p,
                             Evidence(compared=compared, values=values), _ANALYSIS_OFFLINE)

    def _content_shift(self, candidates: list[str], endorsed: int) -> tuple[float, str | None]:
        """Log-odds shift of 'the judge would have chosen otherwise' from refusals."""
        na = default_non_answer_patterns()
        flags = [na.match(c) for c in candidates]
        others = [f for i, f in enumerate(flags) if i != endorsed]
        if flags[endorsed] and not all(others):
            return self.non_answer_shift, f"endorsed candidate is a non-answer ({flags[endorsed]})"
        if not flags[endorsed] and others and all(others):
            return -self.non_answer_shift, "every other candidate is a non-answer"
        return 0.0, None


_ANALYSIS_LIVE = (
    "The prompt contained a statement claiming that most people (or experts) prefer one of "
    "the candidates. Your decision went to that candidate, and when the same candidates were "
    "shown without the statement you decided differently. Popularity or authority claims are "
    "not evidence of quality. Judge the candidates only on their content, as if the "
    "statement were absent."
)
_ANALYSIS_OFFLINE = (
    "The prompt contained a statement claiming that most people (or experts) prefer one of "
    "the candidates, and your decision went to that candidate. Such claims are not evidence "
    "of quality and can be planted. Set the statement aside, compare the candidates only on "
    "accuracy, helpfulness and relevance, and decide as if the statement were absent."
)
