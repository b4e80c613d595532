"""Sentiment bias: did the chosen candidate win on tone rather than on content?

Tone is measured with VADER (``vaderSentiment``, a maintained lexicon-and-rules
sentiment analyser) extended by a small framing lexicon (``detectors/data/
tone_lexicon.tsv``: "merely", "mundane", "lackluster", ... which VADER lacks). A
candidate's tone is the mean of VADER's compound score and its positive-minus-negative
share, both in [-1, 1]. Words that occur in EVERY candidate are content, not tone (the
word "war" in four answers about the First World War), so their valence is masked for
the comparison.

Negation scope. VADER flips (and damps by 0.74) a sentiment word that follows one of
its negators ("not", "without", "rarely", "seldom", ...) within three tokens, but its
negator list lacks the approximate negators "hardly", "scarcely", "barely" (VADER
treats them only as dampeners, although it negates the synonymous "rarely" and
"seldom") and the privatives "lacking/lacks/lack", "devoid of", "far from (being)". So
"a creature that hardly inspires warmth", "lacking any real excitement" and "far from
being an exciting choice" scored as warm, exciting text. The scorer marks the scope of
these openers (:data:`NEGATION_OPENERS`) by inserting VADER's own negator "not" after
them, so VADER's negation rule applies; the opener keeps its own valence. Measured on
the public RBD ScienceQA sentiment set (one option reworded negatively, the others
positively; ``python benchmarks/detect_calibration.py``, which leaves out the 51 items
that the RBD dev set also uses): the lowest tone identifies the negatively reworded
option in 441/449 items without the scope rule and 445/449 with it (4 fixed, none
broken; on all 500 items 490 -> 494).

Live: when a rewriter is configured the detector asks for a probe with tone-neutralised
candidates (``rewrite="neutralize_tone"``) and flags a decision that changes.

Offline rule and rationale: a verdict is suspicious when the candidates differ in tone
(spread >= ``min_spread``) and the chosen one is clearly more positive than the most
negatively worded one (gap >= ``min_gap``). Under the RBD protocol the correct option is
the one reworded negatively, so such a verdict is wrong on the biased item; it is
sentiment bias when the judge would have been right on the plain wording, which the
judge-strength prior estimates. ``P(bias) = P(chosen is not the negatively worded one) *
P(judge right without the rewording)``; the first factor is a softmax over negated tones
with temperature ``temperature`` (0.1: a tone gap of 0.1 gives ~73%, 0.3 gives ~95%).
Calibration on the same 449 public items: the likelihood of the reworded option under
this softmax peaks at 0.09 on the grid 0.02-0.3 (log-likelihood -18.5 at 0.09, -18.8 at
0.1, -20.3 at 0.12, -23.4 at 0.05), and at 0.1 the items predicted at >= 0.9 (424) are
right 99.8% of the time, those at 0.8-0.9 94% (16 items). A verdict for the most
negative candidate cannot have been won on tone.

What the offline rule cannot see: whether the judge would also have been wrong on the
plain wording (hard items, e.g. unit estimates). Only the live ``neutral_tone`` probe
observes that; offline, the judge-strength prior stands in for it.
"""

from __future__ import annotations

import copy
import math
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from debias.errors import ConfigError, MissingDependencyError
from debias.types import Evidence, Finding, Verdict
from detectors.base import DetectContext, Policy, ProbeSpec, register_detector, skipped
from detectors.memo import BoundedCache
from detectors.options import as_bool, as_float, check_policy
from detectors.priors import JudgePriors, default_priors

_WORD = re.compile(r"[a-z][a-z']*")

#: Approximate negators and privatives that open a negation scope (see the module docstring).
NEGATION_OPENERS: tuple[str, ...] = (
    "hardly", "scarcely", "barely", "lacking", "lacks", "lacked", "lack", "devoid of",
    "far from being", "far from",
)


def _opener_pattern(openers: Sequence[str]) -> re.Pattern[str] | None:
    alternatives = sorted((re.escape(o.strip()).replace(r"\ ", r"\s+") for o in openers if o.strip()),
                          key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(rf"\b(?:{'|'.join(alternatives)})\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def default_tone_lexicon() -> dict[str, float]:
    """The packaged framing lexicon (word -> VADER valence)."""
    text = resources.files("detectors").joinpath("data/tone_lexicon.tsv").read_text("utf-8")
    out: dict[str, float] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            out[parts[0].strip().lower()] = float(parts[1])
        except (IndexError, ValueError):
            raise ConfigError(f"detectors/data/tone_lexicon.tsv line {n}: expected word<TAB>valence") from None
    return out


class MaskedLexicon(Mapping[str, float]):
    """Read-only view of a VADER lexicon with some words removed (no copy).

    VADER only reads its lexicon with ``word in lexicon`` and ``lexicon[word]``, so this
    view scores exactly like a copy of the lexicon without the masked words, at no cost
    proportional to the lexicon's size (copying VADER's 7,500 entries per item was the
    largest cost of scoring a set of candidates).

    Args:
        base: The full lexicon (not modified).
        masked: Words that read as absent.
    """

    __slots__ = ("_base", "_masked")

    def __init__(self, base: Mapping[str, float], masked: frozenset[str]) -> None:
        self._base = base
        self._masked = masked

    def __contains__(self, word: object) -> bool:
        return word in self._base and word not in self._masked

    def __getitem__(self, word: str) -> float:
        if word in self._masked:
            raise KeyError(word)
        return self._base[word]

    def __iter__(self) -> Iterator[str]:
        return (k for k in self._base if k not in self._masked)

    def __len__(self) -> int:
        return len(self._base) - sum(1 for k in self._masked if k in self._base)


class ToneScorer:
    """Tone of candidates relative to each other (VADER plus a framing lexicon).

    Scores are remembered per tuple of texts (a small bounded cache on the instance:
    the loop re-scores the same candidates every round, the audit once per judge).

    Args:
        extra_lexicon: Entries added to VADER's lexicon; default: the packaged framing lexicon.
        mask_shared: Ignore the valence of words present in every candidate.
        negation_openers: Words and phrases that open a negation scope besides VADER's
            own negators; default :data:`NEGATION_OPENERS`; ``()`` turns the rule off.
        cache_size: How many tuples of texts to remember (0: no cache).

    Raises:
        MissingDependencyError: When ``vaderSentiment`` is not installed.
    """

    def __init__(self, extra_lexicon: Mapping[str, float] | None = None, mask_shared: bool = True,
                 negation_openers: Sequence[str] | None = None, cache_size: int = 256) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError(
                "the sentiment detector needs vaderSentiment: pip install vaderSentiment") from exc
        self._analyzer = SentimentIntensityAnalyzer()
        self._analyzer.lexicon.update(default_tone_lexicon() if extra_lexicon is None else extra_lexicon)
        self.mask_shared = mask_shared
        self._openers = _opener_pattern(NEGATION_OPENERS if negation_openers is None else negation_openers)
        self._cache: BoundedCache[tuple[str, ...], tuple[float, ...]] = BoundedCache(cache_size)
        # VADER first replaces emoji by their descriptions; none is ASCII, so ASCII text
        # reaches the tokeniser unchanged and can be checked for lexicon words directly.
        self._plain_ascii = not any(k.isascii() for k in self._analyzer.emojis)

    def mark_scope(self, text: str) -> str:
        """``text`` with VADER's negator "not" inserted after each negation opener."""
        if self._openers is None:
            return text
        return self._openers.sub(lambda m: m.group(0) + " not", text)

    def tone(self, text: str) -> float:
        """Tone of one text in [-1, 1] (no masking)."""
        return self._score(self._analyzer, self.mark_scope(text))

    def tones(self, texts: Sequence[str]) -> list[float]:
        """Tone of each text in [-1, 1], masking words shared by all texts."""
        key = tuple(texts)
        got = self._cache.get(key)
        if got is None:
            got = self._cache.put(key, tuple(self._tones(key)))
        return list(got)

    def _tones(self, texts: Sequence[str]) -> list[float]:
        analyzer = self._analyzer
        if self.mask_shared and len(texts) > 1:
            vocab = [set(_WORD.findall(t.lower())) for t in texts]
            shared = set.intersection(*vocab) & analyzer.lexicon.keys()
            if shared:
                analyzer = copy.copy(self._analyzer)
                analyzer.lexicon = MaskedLexicon(self._analyzer.lexicon, frozenset(shared))
        return [self._score(analyzer, self.mark_scope(t)) for t in texts]

    def _score(self, analyzer: Any, text: str) -> float:
        if self._plain_ascii and text.isascii() and not _has_lexicon_token(text, analyzer.lexicon):
            return 0.0  # exactly what VADER returns for a text without a lexicon word (see below)
        s = analyzer.polarity_scores(text)
        return (s["compound"] + s["pos"] - s["neg"]) / 2.0


def _has_lexicon_token(text: str, lexicon: Mapping[str, float]) -> bool:
    """Whether VADER would look up a word of ``text`` in ``lexicon`` and find it.

    Mirrors VADER 3.3's tokenisation for text without emoji (``SentiText``: split on
    whitespace, strip surrounding punctuation unless 2 characters or fewer would be
    left, lower-case). VADER gives a valence only to tokens found in its lexicon;
    boosters, negators, "but", "kind of", idioms and punctuation emphasis only scale
    those valences. So a text without such a token has every valence 0 and scores
    compound = pos = neg = 0, i.e. tone 0.0, and VADER (about 0.1 ms per text) can be
    skipped. Equivalence is property-tested against VADER itself.
    """
    for word in text.split():
        stripped = word.strip(string.punctuation)
        if (word if len(stripped) <= 2 else stripped).lower() in lexicon:
            return True
    return False


def p_most_negative(tones: Sequence[float], temperature: float) -> list[float]:
    """Softmax over negated tones: P(each candidate is the negatively worded one)."""
    lo = min(tones)
    weights = [math.exp(-(t - lo) / temperature) for t in tones]
    total = sum(weights)
    return [w / total for w in weights]


@register_detector("sentiment")
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
    version = "2"
    bias = "sentiment"

    def __init__(self, policy: Policy = "revise", min_spread: float | str = 0.25,
                 min_gap: float | str = 0.1, temperature: float | str = 0.1,
                 threshold: float | str = 0.5, judge_prior: bool | str = True,
                 priors: JudgePriors | None = None) -> None:
        self.policy = check_policy(self.name, policy)
        self.min_spread = as_float(self.name, "min_spread", min_spread, 0.0, 2.0)
        self.min_gap = as_float(self.name, "min_gap", min_gap, 0.0, 2.0)
        self.temperature = as_float(self.name, "temperature", temperature, 1e-3, 10.0)
        self.threshold = as_float(self.name, "threshold", threshold, 0.0, 1.0)
        self.judge_prior = as_bool(self.name, "judge_prior", judge_prior)
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
