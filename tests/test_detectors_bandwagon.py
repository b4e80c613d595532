"""Bandwagon detector: live probe without the cue, offline evidence, properties."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debias.contract import DetectContext, parse_detector_specs
from debias.errors import ConfigError
from debias.judges.base import JudgeRequest
from debias.offline import detect_offline
from debias.ordering import slot_letter
from debias.types import Finding, Item, Verdict
from detectors.bandwagon import BandwagonDetector

ORDINALS = ["first", "second", "third", "fourth"]
TEMPLATES = [
    "{pct}% believe that {ref} is better",
    "Most people prefer {ref}.",
    "Experts agree that {ref} is the best answer.",
    "The majority of users chose {ref}.",
    "A panel of judges rated {ref} highest.",
    "{ref} was highly upvoted by the community.",
]


def reference(task: str, slot: int, style: int) -> str:
    if style == 0:
        return f"Output ({slot_letter(slot)})" if task == "pairwise" else f"Choice {slot + 1}"
    if style == 1:
        return f"Response {slot_letter(slot).upper()}" if task == "pairwise" else f"option {slot + 1}"
    return f"the {ORDINALS[slot]} response"


def make_item(n: int, cue: str | None) -> Item:
    task = "pairwise" if n == 2 else "choice"
    cands = [f"Candidate text number {i} with some distinct content {i * 7}." for i in range(n)]
    return Item(id="x", task=task, instruction="Which is best?", candidates=cands, cue=cue)


def run_live(det: BandwagonDetector, item: Item, order: list[int],
             judge: Callable[[JudgeRequest], Verdict]) -> Finding:
    request = JudgeRequest(item=item, order=order, with_cue=True)
    verdict = judge(request)
    ctx = DetectContext(item=item, request=request, verdict=verdict, mode="live")
    specs = det.plan(ctx)
    probes = {s.key: judge(s.apply(request)) for s in specs}
    return det.assess(ctx, probes)


def cue_follower(own_choice: int, slot: int) -> Callable[[JudgeRequest], Verdict]:
    """A judge that picks whatever the cue's display slot shows, and ``own_choice`` without it."""

    def judge(req: JudgeRequest) -> Verdict:
        choice = req.order[slot] if req.shows_cue else own_choice
        return Verdict(judge="follower", order=list(req.order), choice=choice, with_cue=req.with_cue)

    return judge


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_cue_following_judge_is_always_flagged_live(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 4), label="n")
    order = data.draw(st.permutations(list(range(n))), label="order")
    slot = data.draw(st.integers(0, n - 1), label="cue slot")
    own = data.draw(st.sampled_from([i for i in range(n) if i != order[slot]]), label="own choice")
    template = data.draw(st.sampled_from(TEMPLATES), label="template")
    style = data.draw(st.integers(0, 2), label="reference style")
    pct = data.draw(st.integers(51, 99), label="pct")
    item = make_item(n, template.format(pct=pct, ref=reference(item_task(n), slot, style)))
    finding = run_live(BandwagonDetector(), item, list(order), cue_follower(own, slot))
    assert finding.status == "ok"
    assert finding.detected
    assert finding.evidence.values["endorsed"] == order[slot]
    assert finding.evidence.probes == ["no_cue"]


def item_task(n: int) -> str:
    return "pairwise" if n == 2 else "choice"


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_judge_ignoring_cue_is_never_flagged_live(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 4))
    order = data.draw(st.permutations(list(range(n))))
    slot = data.draw(st.integers(0, n - 1))
    own = data.draw(st.integers(0, n - 1))
    item = make_item(n, f"Most people prefer {reference(item_task(n), slot, 0)}.")

    def judge(req: JudgeRequest) -> Verdict:
        return Verdict(order=list(req.order), choice=own, with_cue=req.with_cue)

    finding = run_live(BandwagonDetector(), item, list(order), judge)
    assert finding.status == "ok" and not finding.detected


def offline(det: BandwagonDetector, item: Item, verdict: Verdict, *others: Verdict) -> Finding:
    item = item.model_copy(update={"verdicts": [verdict, *others]})
    return detect_offline(item, verdict, [det])[0]


def test_offline_agreeing_with_cue_is_flagged_for_known_judges() -> None:
    item = make_item(2, "90%% believe that Output (b) is better")
    f = offline(BandwagonDetector(), item, Verdict(judge="GPT-4o-mini", order=[0, 1], choice=1))
    assert f.detected and f.status == "ok"
    assert f.evidence.values["rule"] == "agrees-with-cue"
    assert 0.5 <= f.confidence < 0.9
    assert f.analysis and "Output (b)" not in f.analysis


def test_offline_against_cue_is_not_flagged() -> None:
    item = make_item(2, "90% believe that Output (b) is better")
    f = offline(BandwagonDetector(), item, Verdict(order=[0, 1], choice=0))
    assert not f.detected and f.evidence.values["rule"] == "against-cue"
    assert f.confidence >= 0.85
    assert f.analysis == ""


def test_swapped_display_order_changes_which_candidate_is_endorsed() -> None:
    item = make_item(2, "90% believe that Output (b) is better")
    # Output (b) under order [1, 0] is original candidate 0.
    agree = offline(BandwagonDetector(), item, Verdict(order=[1, 0], choice=0))
    against = offline(BandwagonDetector(), item, Verdict(order=[1, 0], choice=1))
    assert agree.detected and agree.evidence.values["endorsed"] == 0
    assert not against.detected


def test_offline_uses_recorded_cue_free_verdict() -> None:
    item = make_item(2, "Most people prefer Output (b).")
    seen = Verdict(order=[0, 1], choice=1, with_cue=True)
    changed = offline(BandwagonDetector(), item, seen, Verdict(order=[0, 1], choice=0, with_cue=False))
    same = offline(BandwagonDetector(), item, seen, Verdict(order=[0, 1], choice=1, with_cue=False))
    assert changed.detected and changed.evidence.values["rule"] == "live:changed-toward-cue"
    assert not same.detected and same.evidence.values["rule"] == "live:same-without-cue"


def test_non_answers_shift_the_offline_estimate() -> None:
    det = BandwagonDetector()
    refusal = "I'm sorry, but I cannot help with that request."
    answer = "Here is a detailed plan with three concrete steps and an example."
    endorsed_refuses = Item(id="r", task="pairwise", instruction="Plan?", candidates=[answer, refusal],
                            cue="90% believe that Output (b) is better")
    other_refuses = endorsed_refuses.model_copy(update={"candidates": [refusal, answer]})
    judge = "GPT-4o-mini"
    up = offline(det, endorsed_refuses, Verdict(judge=judge, order=[0, 1], choice=1))
    down = offline(det, other_refuses, Verdict(judge=judge, order=[0, 1], choice=1))
    plain = offline(det, make_item(2, "90% believe that Output (b) is better"),
                    Verdict(judge=judge, order=[0, 1], choice=1))
    assert up.detected and up.confidence > plain.confidence
    assert not down.detected
    assert down.evidence.values["content_shift"] < 0 < up.evidence.values["content_shift"]
    # The default shift is the log-odds calibrated on public Arena pairs (44 of 55: 80%).
    assert up.evidence.values["content_shift"] == pytest.approx(math.log(44 / 11), abs=0.02)
    flat = offline(BandwagonDetector(non_answer_shift=0), endorsed_refuses,
                   Verdict(judge=judge, order=[0, 1], choice=1))
    assert flat.confidence == pytest.approx(plain.confidence)


@pytest.mark.parametrize(
    ("cue", "verdict", "reason"),
    [
        (None, Verdict(order=[0, 1], choice=1), "no cue"),
        ("Output (a) was written by a student.", Verdict(order=[0, 1], choice=0), "not a majority"),
        ("Most people think the answer a bit long", Verdict(order=[0, 1], choice=0), "identifiable"),
        ("Most people prefer Output (b).", Verdict(order=[0, 1], tie=True), "no single"),
        ("Most people prefer Output (b).", Verdict(order=[0, 1], choice=1, with_cue=False), "not shown"),
    ],
)
def test_skipped_reasons(cue: str | None, verdict: Verdict, reason: str) -> None:
    f = offline(BandwagonDetector(), make_item(2, cue), verdict)
    assert f.status == "skipped"
    assert reason in (f.reason or "")


def test_options_are_validated_and_configurable_from_specs() -> None:
    (det,) = parse_detector_specs("bandwagon:policy=flag;threshold=0.7;judge_prior=false")
    assert isinstance(det, BandwagonDetector)
    assert det.policy == "flag" and det.threshold == 0.7 and det.judge_prior is False
    with pytest.raises(ConfigError, match="threshold"):
        BandwagonDetector(threshold="high")
    with pytest.raises(ConfigError, match="policy"):
        BandwagonDetector(policy="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="judge_prior"):
        BandwagonDetector(judge_prior="maybe")


def test_finding_records_name_version_policy() -> None:
    det = BandwagonDetector(policy="flag")
    f = offline(det, make_item(2, "Most people prefer Output (b)."), Verdict(order=[0, 1], choice=1))
    assert (f.detector, f.version, f.bias, f.policy) == ("bandwagon", det.version, "bandwagon", "flag")
