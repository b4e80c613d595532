"""The audit's tone gate (debias.audit.tone): which items get tone scores, and whose scorer."""

from __future__ import annotations

from debias.audit.tone import CandidateTones, tagged_sentiment
from debias.contract import parse_detector_specs
from debias.text.tone import ToneScorer
from debias.types import Item

UPBEAT_VS_GLUM = ["Wonderfully, it is the glorious past tense!", "Sadly, merely the dull present tense."]


def item(bias: object = None, task: str = "pairwise", candidates: list[str] | None = None) -> Item:
    return Item(id="i", task=task, instruction="Which tense?", candidates=candidates or UPBEAT_VS_GLUM,
                metadata={} if bias is None else {"bias": bias})


def test_modes_decide_which_items_are_scored() -> None:
    tagged, plain = item("sentiment"), item()
    assert tagged_sentiment(tagged) and tagged_sentiment(item(["position", "sentiment"]))
    assert not tagged_sentiment(plain) and not tagged_sentiment(item("position"))
    auto, every, off = CandidateTones("auto"), CandidateTones("all"), CandidateTones("off")
    assert auto.scores(plain) is None and off.scores(tagged) is None
    scores = auto.scores(tagged)
    assert scores is not None and scores[0] > scores[1]
    assert every.scores(plain) == scores


def test_unknown_candidate_texts_are_not_scored() -> None:
    assert CandidateTones("all").scores(item(candidates=["", "Sadly, merely dull."])) is None


def test_shares_the_sentiment_detectors_scorer_by_name_only() -> None:
    (det,) = parse_detector_specs("sentiment")
    tones = CandidateTones("all", source=det)
    tones.scores(item())
    assert tones._scorer is det.scorer

    class Stranger:
        scorer = "not a tone scorer"

    own = CandidateTones("all", source=Stranger())
    own.scores(item())
    assert isinstance(own._scorer, ToneScorer)
