"""Verbosity detector: offline rules, the length-controlled live probe, options."""

from __future__ import annotations

import pytest

from debias.contract import DetectContext, ProbeSpec, parse_detector_specs
from debias.errors import ConfigError
from debias.judges.base import JudgeRequest
from debias.offline import detect_offline
from debias.types import Item, Verdict
from detectors.verbosity import VerbosityDetector

QUESTION = "A shop sells 3 boxes of 12 pens and 4 loose pens. How many pens in total?"
LONG_WRONG = ("**Solution:**\n\nEach box holds 12 pens, so 3 boxes hold 3 * 12 = 36 pens.\n\n"
              "Adding the loose pens we must subtract them since they are sold separately: "
              "36 - 4 = 32.\n\n**Answer:** The shop has 32 pens in total.")
LONG_RIGHT = LONG_WRONG.replace("subtract them since they are sold separately: 36 - 4 = 32",
                                "add them: 36 + 4 = 40").replace("32 pens", "40 pens")


def item(cands: list[str], label: int | None = None) -> Item:
    return Item(id="v", task="pairwise", instruction=QUESTION, candidates=cands, label=label)


def run(det: VerbosityDetector, it: Item, choice: int, judge: str = "Llama-3.1-405B"):
    v = Verdict(judge=judge, order=[0, 1], choice=choice)
    return detect_offline(it.model_copy(update={"verdicts": [v]}), v, [det])[0]


def test_long_answer_disagreeing_with_bare_answer_is_flagged() -> None:
    f = run(VerbosityDetector(), item([LONG_WRONG, "40"]), choice=0)
    assert f.status == "ok" and f.detected
    assert f.evidence.values["rule"] == "final-answers-differ"
    assert f.evidence.values["ratio"] > 10
    assert f.evidence.values["final_numbers"] == {"0": 32.0, "1": 40.0}
    assert "40" not in f.analysis and "32" not in f.analysis


def test_choosing_the_short_answer_is_not_flagged() -> None:
    f = run(VerbosityDetector(), item([LONG_WRONG, "40"]), choice=1)
    assert not f.detected and f.evidence.values["rule"] == "chosen-not-longer"


def test_long_answer_with_same_final_number_is_not_flagged() -> None:
    f = run(VerbosityDetector(), item(["40", LONG_RIGHT]), choice=1)
    assert not f.detected and f.evidence.values["rule"] == "same-final-answer"


def test_gold_label_decides_when_known() -> None:
    wrong = run(VerbosityDetector(), item([LONG_WRONG, "40"], label=1), choice=0)
    right = run(VerbosityDetector(), item([LONG_WRONG, "40"], label=0), choice=0)
    assert wrong.detected and not right.detected
    assert wrong.evidence.values["rule"] == right.evidence.values["rule"] == "gold-label"


def test_weak_judge_prior_lowers_the_estimate() -> None:
    strong = run(VerbosityDetector(), item([LONG_WRONG, "40"]), 0, judge="GPT-4o")
    weak = run(VerbosityDetector(), item([LONG_WRONG, "40"]), 0, judge="Llama-3.1-8B")
    assert strong.evidence.values["p_bias"] > weak.evidence.values["p_bias"]
    strict = run(VerbosityDetector(threshold=0.7), item([LONG_WRONG, "40"]), 0, judge="Llama-3.1-8B")
    assert not strict.detected


def test_open_ended_length_only() -> None:
    long_text = "This answer covers background, history, caveats and many examples. " * 12
    short_text = "Use a list comprehension."
    f = run(VerbosityDetector(), Item(id="o", task="pairwise", instruction="How?",
                                      candidates=[long_text, short_text]), choice=0)
    assert f.detected and f.evidence.values["rule"] == "length-only"
    assert f.confidence == pytest.approx(0.55)
    off = run(VerbosityDetector(length_only=False), Item(id="o", task="pairwise", instruction="How?",
                                                         candidates=[long_text, short_text]), choice=0)
    assert not off.detected


def live(det: VerbosityDetector, it: Item, choice: int, can_rewrite: bool, equal_choice: int | None):
    req = JudgeRequest(item=it, order=[0, 1])
    ctx = DetectContext(item=it, request=req, verdict=Verdict(order=[0, 1], choice=choice),
                        mode="live", can_rewrite=can_rewrite)
    specs = det.plan(ctx)
    answers = {s.key: Verdict(order=[0, 1], choice=equal_choice) for s in specs}
    return specs, det.assess(ctx, answers)


def test_live_probe_planned_only_with_rewriter_and_longer_choice() -> None:
    it = item([LONG_WRONG, "40"])
    specs, _ = live(VerbosityDetector(), it, 0, can_rewrite=True, equal_choice=1)
    assert specs == [ProbeSpec(key="equal_length", rewrite="equalize_length")]
    assert live(VerbosityDetector(), it, 0, can_rewrite=False, equal_choice=1)[0] == []
    assert live(VerbosityDetector(), it, 1, can_rewrite=True, equal_choice=1)[0] == []


def test_live_probe_result_decides() -> None:
    it = item([LONG_WRONG, "40"])
    _, changed = live(VerbosityDetector(), it, 0, can_rewrite=True, equal_choice=1)
    _, same = live(VerbosityDetector(), it, 0, can_rewrite=True, equal_choice=0)
    assert changed.detected and changed.evidence.probes == ["equal_length"]
    assert not same.detected and same.evidence.values["rule"] == "live:same-when-equal-length"


def test_skips_and_options() -> None:
    tie = Verdict(order=[0, 1], tie=True)
    it = item([LONG_WRONG, "40"])
    f = detect_offline(it.model_copy(update={"verdicts": [tie]}), tie, [VerbosityDetector()])[0]
    assert f.status == "skipped"
    score = Item(id="s", task="score", instruction="Rate", candidates=["x"])
    sv = Verdict(order=[0], score=5)
    assert detect_offline(score, sv, [VerbosityDetector()])[0].status == "skipped"
    (det,) = parse_detector_specs("verbosity:min_ratio=2;concise_prior=0.5")
    assert isinstance(det, VerbosityDetector) and det.min_ratio == 2.0
    with pytest.raises(ConfigError, match="min_ratio"):
        VerbosityDetector(min_ratio=0.5)
    with pytest.raises(ConfigError, match="concise_prior"):
        VerbosityDetector(concise_prior="lots")
