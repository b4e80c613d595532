"""Sentiment detector: tone scoring, offline rule, neutral-tone live probe."""

from __future__ import annotations

import pytest

from debias.contract import DetectContext, ProbeSpec
from debias.errors import ConfigError
from debias.judges.base import JudgeRequest
from debias.offline import detect_offline
from debias.types import Item, Verdict
from detectors.sentiment import (
    ADVERB_FACTOR,
    NOT_DERIVED,
    UN_FACTOR,
    SentimentDetector,
    ToneScorer,
    derived_entries,
    p_most_negative,
    vader_modifiers,
)

REWORDED = [
    "Wonderfully, the answer is the magnificent past tense, a delightful choice!",
    "Sadly, it is merely the present tense, a mundane and lackluster option.",
    "Excitingly, the sentence shines in the glorious future tense!",
]
PLAIN = ["past tense", "present tense", "future tense"]


@pytest.fixture(scope="module")
def scorer() -> ToneScorer:
    return ToneScorer()


def test_tone_ranks_negative_framing_lowest(scorer: ToneScorer) -> None:
    tones = scorer.tones(REWORDED)
    assert min(range(3), key=tones.__getitem__) == 1
    assert all(-1.0 <= t <= 1.0 for t in tones)
    plain = scorer.tones(PLAIN)
    assert max(plain) - min(plain) < 0.1


def test_framing_lexicon_extends_vader(scorer: ToneScorer) -> None:
    bare = ToneScorer(extra_lexicon={})
    text = "It is merely a mundane, lackluster change."
    assert scorer.tone(text) < bare.tone(text) - 0.2


def test_shared_words_are_content_not_tone(scorer: ToneScorer) -> None:
    opts = ["the terrible war of 1914", "the war that was great fun", "the war of independence"]
    masked = scorer.tones(opts)
    unmasked = ToneScorer(mask_shared=False).tones(opts)
    # "war" is in every option: masking it raises every tone but keeps "terrible" lowest.
    assert all(m >= u for m, u in zip(masked, unmasked, strict=True))
    assert min(range(3), key=masked.__getitem__) == 0


@pytest.mark.parametrize("text", [
    "A creature that hardly inspires warmth or friendliness.",
    "Both are physical changes, lacking any real excitement or significance.",
    "It is far from being an exciting choice.",
    "A plain bridge, devoid of charm.",
    "It is barely a good answer.",
])
def test_negation_openers_flip_the_sentiment_they_scope(scorer: ToneScorer, text: str) -> None:
    without_rule = ToneScorer(negation_openers=())
    assert without_rule.tone(text) > 0.2  # VADER alone reads the scoped words as positive
    assert scorer.tone(text) < 0.0


def test_mark_scope_inserts_vader_negator() -> None:
    s = ToneScorer(negation_openers=["far from", "lacking", " "])
    assert s.mark_scope("Far  from great, LACKING charm; slacking off.") == (
        "Far  from not great, LACKING not charm; slacking off.")
    assert ToneScorer(negation_openers=()).mark_scope("hardly fun") == "hardly fun"


# The negatively framed option (1) praises nothing: its positive words sit in the scope of
# "hardly" / "lacking". Without the scope rule it reads as the second most positive option.
PRIVATIVE = [
    "Brilliantly, the sentence uses the past tense, a great and lively pick!",
    "It uses the present tense, a form that hardly inspires joy, lacking any real charm or beauty.",
    "It is the future tense, a fine choice.",
]


def test_negation_scope_identifies_privative_framing(scorer: ToneScorer) -> None:
    off = ToneScorer(negation_openers=()).tones(PRIVATIVE)
    on = scorer.tones(PRIVATIVE)
    assert min(range(3), key=off.__getitem__) == 2
    assert min(range(3), key=on.__getitem__) == 1
    f = run(choice_item(PRIVATIVE), 0)
    assert f.detected and f.evidence.values["most_negative"] == 1
    assert not run(choice_item(PRIVATIVE), 1).detected


# --- derived forms ------------------------------------------------------------------------

def test_derived_entries_adverbs_and_un_prefix() -> None:
    lex = {"dismal": -3.0, "enthusiastic": 2.0, "happy": 2.0, "gentle": 1.0, "true": 1.0, "like": 1.5,
           "remarkable": 2.6, "inspiring": 1.0, "unkind": -1.6, "kind": 2.4, "sad": -2.0, "fancy": 0.0}
    got = derived_entries(lex, modifiers={"remarkably"})
    assert got["dismally"] == pytest.approx(ADVERB_FACTOR * -3.0, abs=0.01)
    assert got["enthusiastically"] == pytest.approx(ADVERB_FACTOR * 2.0, abs=0.01)
    assert got["happily"] == got["enthusiastically"] and "gently" in got and "truly" in got
    assert got["unenthusiastic"] == pytest.approx(UN_FACTOR * 2.0, abs=0.01)
    assert got["unenthusiastically"] == pytest.approx(UN_FACTOR * ADVERB_FACTOR * 2.0, abs=0.02)
    assert got["uninspiring"] < 0 and got["unhappy"] < 0
    # not derived: lexicalised forms, modifiers, bare verbs, negative stems, entries present,
    # zero valence, words too short
    assert "likely" in NOT_DERIVED and "likely" not in got and "unlikely" not in got
    assert "remarkably" not in got and "unlike" not in got and "unsad" not in got
    assert "unkind" not in got and "fancily" not in got and "sadly" not in got
    assert set(got).isdisjoint(lex)


def test_derivation_factors_are_vaders_own_medians() -> None:
    import statistics

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from detectors.sentiment import _adverb

    lex = SentimentIntensityAnalyzer().lexicon
    adverbs = [lex[_adverb(w)] / v for w, v in lex.items()
               if v and len(w) >= 4 and w.isalpha() and not w.endswith("ly") and _adverb(w) in lex]
    negated = [lex["un" + w] / v for w, v in lex.items() if v > 0 and "un" + w in lex]
    assert len(adverbs) > 400 and len(negated) > 50
    assert statistics.median(adverbs) == pytest.approx(ADVERB_FACTOR, abs=0.01)
    assert statistics.median(negated) == pytest.approx(UN_FACTOR, abs=0.01)


def test_modifiers_are_never_lexicon_words(scorer: ToneScorer) -> None:
    lexicon = scorer._analyzer.lexicon
    assert not {"remarkably", "amazingly", "unusually", "unbelievably"} & lexicon.keys()
    assert "remarkably" in vader_modifiers()


@pytest.mark.parametrize("text", [
    "Dismally, the answer is a pebble.",
    "Unenthusiastically, it is the third option.",
    "It is, unexcitingly, a pebble.",
])
def test_derived_forms_give_tone_to_unlisted_words(scorer: ToneScorer, text: str) -> None:
    assert ToneScorer(derive=False).tone(text) == 0.0
    assert scorer.tone(text) < -0.2


def test_fortunately_is_positive(scorer: ToneScorer) -> None:
    assert ToneScorer(derive=False).tone("Fortunately, it is a pebble.") == 0.0
    assert scorer.tone("Fortunately, it is a pebble.") > 0.2


# --- rewriting rules ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "sign"), [
    ("Isn't it wonderful that the kettle boils first?", 1),
    ("Well, isn't it lovely how the kite flies?", 1),
    ("Doesn't it seem dreary to count the pebbles again?", -1),
    ("The tea is ready. Is it not delightful to sip it slowly?", 1),
])
def test_negative_polar_questions_assert_their_proposition(scorer: ToneScorer, text: str, sign: int) -> None:
    off = ToneScorer(rhetorical_questions=False)
    assert scorer.tone(text) * sign > 0.2
    assert off.tone(text) * sign < scorer.tone(text) * sign


@pytest.mark.parametrize("text", [
    "Why isn't it wonderful?",               # wh-question: presupposes it is not
    "The kite is lovely, isn't it?",         # tag question
    "It isn't wonderful, is it?",            # declarative negation
    "Isn't it wonderful that the kite flies!",  # no question mark: not a question
])
def test_other_negations_are_left_alone(scorer: ToneScorer, text: str) -> None:
    assert scorer.prepare(text) == text


def test_question_rewrite_keeps_case_and_maps_irregular_auxiliaries(scorer: ToneScorer) -> None:
    assert scorer.prepare("Can't you see how bright it is?") == "Can you see how bright it is?"
    assert scorer.prepare("so won't they enjoy the view?") == "so will they enjoy the view?"
    assert scorer.prepare("Is it not grand?") == "Is it grand?"
    assert scorer.prepare("Ah, isn\u2019t it grand?") == "Ah, is it grand?"


@pytest.mark.parametrize("text", ["Oh dear, it is a teapot.", "Ah, dear! The kettle.", "Dear me, a teapot."])
def test_dear_as_interjection_is_dismay(scorer: ToneScorer, text: str) -> None:
    assert ToneScorer(interjections=False).tone(text) > 0.2
    assert scorer.tone(text) < -0.2


def test_dear_as_endearment_is_unchanged(scorer: ToneScorer) -> None:
    for text in ("My dear friend wrote the letter.", "Oh dear friend, the letter came."):
        assert scorer.prepare(text) == text and scorer.tone(text) > 0.2


def test_diminishing_just(scorer: ToneScorer) -> None:
    assert scorer.prepare("It's just a teapot.") == "It's merely a teapot."
    assert scorer.prepare("They\u2019re just another pair of shoes.") == "They\u2019re merely another pair of shoes."
    assert scorer.tone("It's just a teapot.") < 0.0 == ToneScorer(diminishing_just=False).tone("It's just a teapot.")
    for text in ("It arrived in just two days.", "It is just the right size!", "It is just as good."):
        assert scorer.prepare(text) == text


def test_exceptive_but(scorer: ToneScorer) -> None:
    off = ToneScorer(exceptive_but=False)
    praise = "The garden offers nothing but delight."
    assert off.tone(praise) < 0.0 < scorer.tone(praise)  # "nothing" no longer negates "delight"
    heavy = "The box is anything but pleasant to carry."
    assert off.tone(heavy) > 0.0 > scorer.tone(heavy)
    assert scorer.prepare(praise) == "The garden offers only delight."


def test_dismissive_adjectives(scorer: ToneScorer) -> None:
    assert scorer.tone("The jar holds a measly, paltry amount.") < -0.3
    assert scorer.tone("It is a mediocre, drab teapot.") < -0.3


# Invented options in the style of the RBD sentiment set: the negatively reworded option (1)
# uses only the constructions the later rules read; without them it is not the lowest.
LATER_RULES_OPTIONS = [
    "Isn't it delightful that the answer is the robin?",
    "Oh dear, it's just a sparrow, unenthusiastically offered.",
    "Isn't it wonderful to pick the glorious owl?",
]


def test_later_rules_identify_the_reworded_option(scorer: ToneScorer) -> None:
    off = ToneScorer(derive=False, rhetorical_questions=False, interjections=False, diminishing_just=False,
                     exceptive_but=False)
    before, after = off.tones(LATER_RULES_OPTIONS), scorer.tones(LATER_RULES_OPTIONS)
    assert min(range(3), key=before.__getitem__) != 1
    assert min(range(3), key=after.__getitem__) == 1
    f = run(choice_item(LATER_RULES_OPTIONS), 0)
    assert f.detected and f.evidence.values["most_negative"] == 1


def test_softmax_of_negated_tones() -> None:
    p = p_most_negative([0.5, -0.5, 0.6], temperature=0.1)
    assert sum(p) == pytest.approx(1.0)
    assert p[1] > 0.99
    even = p_most_negative([0.2, 0.2], temperature=0.1)
    assert even == [pytest.approx(0.5), pytest.approx(0.5)]


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
