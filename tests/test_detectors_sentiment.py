"""Sentiment detector: offline rule, neutral-tone live probe (tone scoring: test_text_tone.py)."""

from __future__ import annotations

import pytest

from debias.contract import DetectContext, ProbeSpec
from debias.errors import ConfigError
from debias.judges.base import JudgeRequest
from debias.offline import detect_offline
from debias.types import Item, Verdict
from detectors.sentiment import SentimentDetector, p_most_negative

REWORDED = [
    "Wonderfully, the answer is the magnificent past tense, a delightful choice!",
    "Sadly, it is merely the present tense, a mundane and lackluster option.",
    "Excitingly, the sentence shines in the glorious future tense!",
]
PLAIN = ["past tense", "present tense", "future tense"]
PRIVATIVE = [
    "Brilliantly, the sentence uses the past tense, a great and lively pick!",
    "It uses the present tense, a form that hardly inspires joy, lacking any real charm or beauty.",
    "It is the future tense, a fine choice.",
]


def test_softmax_of_negated_tones() -> None:
    p = p_most_negative([0.5, -0.5, 0.6], temperature=0.1)
    assert sum(p) == pytest.approx(1.0)
    assert p[1] > 0.99
    even = p_most_negative([0.2, 0.2], temperature=0.1)
    assert even == [pytest.approx(0.5), pytest.approx(0.5)]

LATER_RULES_OPTIONS = [
    "Isn't it delightful that the answer is the robin?",
    "Oh dear, it's just a sparrow, unenthusiastically offered.",
    "Isn't it wonderful to pick the glorious owl?",
]


def choice_item(cands: list[str]) -> Item:
    return Item(id="s", task="choice", instruction="Which tense does the sentence use?", candidates=cands)


def run(it: Item, choice: int, judge: str = "Claude-3.5-haiku", det: SentimentDetector | None = None):
    v = Verdict(judge=judge, order=list(range(it.n)), choice=choice)
    return detect_offline(it.model_copy(update={"verdicts": [v]}), v, [det or SentimentDetector()])[0]


def test_choosing_positive_over_negative_is_flagged() -> None:
    f = run(choice_item(REWORDED), 0)
    assert f.status == "ok" and f.detected
    assert f.evidence.values["rule"] == "chose-positive-over-negative"
    assert f.evidence.values["most_negative"] == 1
    assert f.analysis and "tense" not in f.analysis


def test_choosing_the_negative_one_is_not_flagged() -> None:
    f = run(choice_item(REWORDED), 1)
    assert not f.detected and f.evidence.values["rule"] == "chose-most-negative"


def test_neutral_options_are_not_flagged() -> None:
    f = run(choice_item(PLAIN), 0)
    assert not f.detected and f.evidence.values["rule"] == "no-tone-asymmetry"


def test_weaker_judge_gets_lower_estimate() -> None:
    strong = run(choice_item(REWORDED), 0, judge="GPT-4o")
    weak = run(choice_item(REWORDED), 0, judge="Llama-3.1-8B")
    assert strong.evidence.values["p_bias"] > weak.evidence.values["p_bias"]
    unknown = run(choice_item(REWORDED), 0, judge="GPT-4o", det=SentimentDetector(judge_prior=False))
    assert unknown.evidence.values["judge_tier"] == "unknown"


def live(it: Item, choice: int, can_rewrite: bool, neutral_choice: int):
    det = SentimentDetector()
    req = JudgeRequest(item=it, order=list(range(it.n)))
    ctx = DetectContext(item=it, request=req, verdict=Verdict(order=list(range(it.n)), choice=choice),
                        mode="live", can_rewrite=can_rewrite)
    specs = det.plan(ctx)
    return specs, det.assess(ctx, {s.key: Verdict(order=list(range(it.n)), choice=neutral_choice)
                                   for s in specs})


def test_live_neutral_tone_probe() -> None:
    it = choice_item(REWORDED)
    specs, changed = live(it, 0, True, neutral_choice=1)
    assert specs == [ProbeSpec(key="neutral_tone", rewrite="neutralize_tone")]
    assert changed.detected and changed.evidence.values["rule"] == "live:changed-when-neutral"
    _, same = live(it, 0, True, neutral_choice=0)
    assert not same.detected
    assert live(it, 0, False, 1)[0] == []
    assert live(it, 1, True, 1)[0] == []  # chose the most negative: nothing to probe


def test_skips_and_option_validation() -> None:
    it = choice_item(REWORDED)
    tie = Verdict(order=[0, 1, 2], tie=True)
    assert detect_offline(it, tie, [SentimentDetector()])[0].status == "skipped"
    with pytest.raises(ConfigError, match="temperature"):
        SentimentDetector(temperature=0)
    with pytest.raises(ConfigError, match="min_spread"):
        SentimentDetector(min_spread="wide")


def test_privative_framing_is_the_most_negative_option() -> None:
    f = run(choice_item(PRIVATIVE), 0)
    assert f.detected and f.evidence.values["most_negative"] == 1
    assert not run(choice_item(PRIVATIVE), 1).detected


def test_options_only_the_later_tone_rules_read_are_flagged() -> None:
    f = run(choice_item(LATER_RULES_OPTIONS), 0)
    assert f.detected and f.evidence.values["most_negative"] == 1
