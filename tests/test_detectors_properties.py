"""Property tests across detectors.

* An order-invariant judge never gets a position finding (pairwise and multiple choice).
* A judge that always picks the first display slot always does (when candidates differ).
* Renaming or reordering candidates never changes the meaning of an offline finding:
  relabelling the original numbering (display unchanged), changing the display order
  (the cue re-pointed at the same content), or rewording the cue's candidate reference
  gives the same detected flag, confidence and rule, and the endorsed candidate follows
  the relabelling.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from debias.contract import DetectContext
from debias.judges.base import JudgeRequest
from debias.offline import detect_offline
from debias.ordering import slot_letter, to_slot
from debias.types import Finding, Item, Verdict
from detectors.bandwagon import BandwagonDetector
from detectors.position import PositionDetector
from detectors.sentiment import SentimentDetector
from detectors.verbosity import VerbosityDetector

TEXTS = [
    "Happily, the answer is the wonderful past tense, a delightful choice!",
    "Sadly, it is merely the present tense, a mundane and lackluster option.",
    "Excitingly, the sentence shines in the glorious future tense!",
    "Brilliantly, it is the amazing perfect tense, truly fantastic!",
]
MATH = [
    "**Solution:** 3 * 12 = 36 pens in boxes, minus 4 loose pens: 36 - 4 = 32. **Answer:** 32 pens.",
    "40",
]


def live_position(item: Item, order: list[int], judge: Callable[[JudgeRequest], Verdict]) -> Finding:
    det = PositionDetector()
    request = JudgeRequest(item=item, order=order)
    ctx = DetectContext(item=item, request=request, verdict=judge(request), mode="live")
    return det.assess(ctx, {s.key: judge(s.apply(request)) for s in det.plan(ctx)})


@st.composite
def item_and_order(draw: st.DrawFn) -> tuple[Item, list[int]]:
    n = draw(st.integers(2, 4))
    cands = draw(st.lists(st.text(min_size=1, max_size=30), min_size=n, max_size=n, unique=True))
    task = "pairwise" if n == 2 else "choice"
    item = Item(id="p", task=task, instruction="Pick the best.", candidates=cands)
    return item, list(draw(st.permutations(list(range(n)))))


@settings(max_examples=80, deadline=None)
@given(item_and_order(), st.integers(0, 10_000))
def test_order_invariant_judge_never_gets_a_position_finding(case: tuple[Item, list[int]], seed: int) -> None:
    item, order = case

    def judge(req: JudgeRequest) -> Verdict:
        # Depends only on the candidates' content, never on where they are shown.
        best = max(range(req.item.n), key=lambda i: (hash((seed, req.item.candidates[i])), i))
        return Verdict(order=list(req.order), choice=best)

    finding = live_position(item, order, judge)
    assert finding.status == "ok"
    assert not finding.detected


@settings(max_examples=40, deadline=None)
@given(item_and_order())
def test_first_slot_judge_always_gets_a_position_finding(case: tuple[Item, list[int]]) -> None:
    item, order = case

    def judge(req: JudgeRequest) -> Verdict:
        return Verdict(order=list(req.order), choice=req.order[0])

    finding = live_position(item, order, judge)
    assert finding.detected
    assert set(finding.evidence.values["slots"]) == {0}


def relabel(item: Item, perm: list[int]) -> Item:
    """Candidate ``i`` becomes candidate ``perm[i]``; verdicts and label follow."""
    cands = [""] * item.n
    for i, c in enumerate(item.candidates):
        cands[perm[i]] = c
    verdicts = [v.model_copy(update={"order": [perm[o] for o in v.order],
                                     "choice": None if v.choice is None else perm[v.choice]})
                for v in item.verdicts]
    label = None if item.label is None else perm[int(item.label)]
    return item.model_copy(update={"candidates": cands, "verdicts": verdicts, "label": label})


def meaning(f: Finding) -> tuple[object, ...]:
    return (f.status, f.detected, round(f.confidence, 6), f.evidence.values.get("rule"))


def offline(det: object, item: Item) -> Finding:
    return detect_offline(item, item.verdicts[0], [det])[0]  # type: ignore[list-item]


@st.composite
def bandwagon_case(draw: st.DrawFn) -> tuple[Item, list[int]]:
    n = draw(st.integers(2, 4))
    order = list(draw(st.permutations(list(range(n)))))
    slot = draw(st.integers(0, n - 1))
    choice = draw(st.integers(0, n - 1))
    ref = f"Output ({slot_letter(slot)})" if n == 2 else f"Choice {slot + 1}"
    cue = draw(st.sampled_from(["90%% believe that {r} is better", "Experts agree {r} is best",
                                "Most users chose {r}."])).format(r=ref)
    item = Item(id="b", task="pairwise" if n == 2 else "choice", instruction="Best?",
                candidates=[f"candidate {i} says {i * 11}" for i in range(n)], cue=cue,
                verdicts=[Verdict(judge="GPT-4o-mini", order=order, choice=choice)])
    perm = list(draw(st.permutations(list(range(n)))))
    return item, perm


@settings(max_examples=60, deadline=None)
@given(bandwagon_case())
def test_bandwagon_offline_meaning_survives_relabelling(case: tuple[Item, list[int]]) -> None:
    item, perm = case
    before = offline(BandwagonDetector(), item)
    after = offline(BandwagonDetector(), relabel(item, perm))
    assert meaning(before) == meaning(after)
    if before.status == "ok":
        assert after.evidence.values["endorsed"] == perm[before.evidence.values["endorsed"]]


@settings(max_examples=40, deadline=None)
@given(st.permutations([0, 1]), st.integers(0, 1), st.integers(0, 1), st.integers(0, 2))
def test_bandwagon_meaning_survives_reordering_and_renaming(order: list[int], target: int,
                                                            choice: int, style: int) -> None:
    """Whatever the display order and wording, a cue backing the same content means the same."""
    cands = ["first candidate text", "second candidate text"]
    slot = to_slot(order, target)
    ref = [f"Output ({slot_letter(slot)})", f"Response {slot_letter(slot).upper()}",
           f"the {['first', 'second'][slot]} response"][style]
    item = Item(id="r", task="pairwise", instruction="Best?", candidates=cands,
                cue=f"Most people prefer {ref}.",
                verdicts=[Verdict(judge="GPT-4o-mini", order=list(order), choice=choice)])
    reference = Item(id="r", task="pairwise", instruction="Best?", candidates=cands,
                     cue=f"Most people prefer Output ({slot_letter(target)}).",
                     verdicts=[Verdict(judge="GPT-4o-mini", order=[0, 1], choice=choice)])
    f, g = offline(BandwagonDetector(), item), offline(BandwagonDetector(), reference)
    assert meaning(f) == meaning(g)
    assert f.evidence.values["endorsed"] == g.evidence.values["endorsed"] == target


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4).flatmap(lambda n: st.tuples(st.permutations(list(range(n))),
                                                      st.permutations(list(range(n))),
                                                      st.integers(0, n - 1))))
def test_sentiment_offline_meaning_survives_relabelling(case: tuple[list[int], list[int], int]) -> None:
    order, perm, choice = case
    n = len(order)
    item = Item(id="s", task="choice", instruction="Which tense?", candidates=TEXTS[:n],
                verdicts=[Verdict(judge="Claude-3.5-haiku", order=list(order), choice=choice)])
    assert meaning(offline(SentimentDetector(), item)) == meaning(offline(SentimentDetector(), relabel(item, perm)))


@settings(max_examples=20, deadline=None)
@given(st.permutations([0, 1]), st.permutations([0, 1]), st.integers(0, 1))
def test_verbosity_offline_meaning_survives_relabelling(order: list[int], perm: list[int], choice: int) -> None:
    item = Item(id="v", task="pairwise", instruction="How many pens?", candidates=MATH,
                verdicts=[Verdict(judge="Llama-3.1-405B", order=list(order), choice=choice)])
    assert meaning(offline(VerbosityDetector(), item)) == meaning(offline(VerbosityDetector(), relabel(item, perm)))


@settings(max_examples=30, deadline=None)
@given(st.permutations([0, 1]), st.integers(0, 1), st.integers(0, 1))
def test_position_offline_meaning_survives_relabelling(perm: list[int], first: int, second: int) -> None:
    item = Item(id="p", task="pairwise", instruction="Best?", candidates=["alpha", "beta"],
                verdicts=[Verdict(order=[1, 0], choice=first), Verdict(order=[0, 1], choice=second)])
    assert meaning(offline(PositionDetector(), item)) == meaning(offline(PositionDetector(), relabel(item, perm)))
