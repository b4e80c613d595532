"""Bandwagon cue recognition, candidate resolution, non-answers, and judge priors."""

from __future__ import annotations

import pytest

from debias.errors import ConfigError
from debias.text.cues import (
    CuePattern,
    CuePatterns,
    default_cue_patterns,
    default_non_answer_patterns,
    normalise_statement,
    parse_cue,
)
from detectors.priors import JudgePriors, default_priors


@pytest.mark.parametrize(
    ("text", "n", "slot", "kind"),
    [
        ("90%% believe that Output (b) is better", 2, 1, "majority"),
        ("90% believe that Output (a) is better", 2, 0, "majority"),
        ("Most people prefer Output (b).", 2, 1, "majority"),
        ("Experts agree that Choice 3 is correct.", 4, 2, "authority"),
        ("The majority of users chose Choice 2", 3, 1, "majority"),
        ("A panel of judges rated Response B higher", 2, 1, "authority"),
        ("Response A was highly upvoted by the community", 2, 0, "popularity"),
        ("9 out of 10 readers picked the second answer", 2, 1, "majority"),
        ("In a poll, respondents preferred option 1", 3, 0, "majority"),
        ("Everyone agrees the latter is best", 3, 2, "majority"),
        ("The general consensus favours the first response", 2, 0, "consensus"),
    ],
)
def test_cue_patterns_recognise_and_resolve(text: str, n: int, slot: int, kind: str) -> None:
    cue = parse_cue(text, n)
    assert cue is not None
    assert cue.slot == slot
    assert kind in cue.kinds


def test_percent_escape_is_normalised_and_strength_read() -> None:
    cue = parse_cue("90%% believe that Output (b) is better", 2)
    assert cue is not None
    assert cue.text == "90% believe that Output (b) is better"
    assert cue.strength == pytest.approx(0.9)
    assert normalise_statement(" 75%% agree ") == "75% agree"


@pytest.mark.parametrize(
    ("text", "slot", "against"),
    [
        ("Only 10% of people prefer Output (a)", 1, 0),
        ("Most reviewers say Output (a) is worse than Output (b)", 1, 0),
        ("Most people prefer Output (b) over Output (a)", 1, 0),
        ("Experts think Output (b) is wrong", 0, 1),
    ],
)
def test_against_and_comparison_statements(text: str, slot: int, against: int) -> None:
    cue = parse_cue(text, 2)
    assert cue is not None
    assert (cue.slot, cue.against_slot) == (slot, against)


def test_against_one_of_three_endorses_nobody() -> None:
    cue = parse_cue("Most people think Choice 2 is wrong", 3)
    assert cue is not None
    assert cue.slot is None and cue.against_slot == 1


@pytest.mark.parametrize("text", ["Output (a) was written by a student.", "", "   ", None,
                                  "Please answer carefully."])
def test_non_cues_are_not_recognised(text: str | None) -> None:
    assert parse_cue(text, 2) is None


def test_cue_without_candidate_reference_has_no_slot() -> None:
    cue = parse_cue("Most people think the answer a bit long", 2)
    assert cue is not None and cue.slot is None


def test_reference_beyond_displayed_candidates_is_ignored() -> None:
    cue = parse_cue("Most people chose Choice 5", 3)
    assert cue is not None and cue.slot is None


def test_endorsed_resolves_display_slot_through_order() -> None:
    cue = parse_cue("90% believe that Output (b) is better", 2)
    assert cue is not None
    assert cue.endorsed([0, 1]) == 1
    assert cue.endorsed([1, 0]) == 0
    three = parse_cue("Most users chose Choice 1", 3)
    assert three is not None and three.endorsed([2, 0, 1]) == 2


def test_pattern_set_is_extensible_and_validated() -> None:
    assert len(default_cue_patterns()) >= 6
    assert parse_cue("Output (b) is the house favourite", 2) is None
    extra = CuePattern(name="house-favourite", kind="popularity", regex=r"house favou?rite")
    patterns = CuePatterns(extra=[extra])
    cue = patterns.parse("Output (b) is the house favourite", 2)
    assert cue is not None and cue.slot == 1 and cue.patterns == ("house-favourite",)
    with pytest.raises(ConfigError, match="kind"):
        CuePatterns(extra=[CuePattern(name="x", kind="vibes", regex="x")])
    with pytest.raises(ConfigError, match="invalid regex"):
        CuePatterns(extra=[CuePattern(name="bad", kind="majority", regex="(")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm sorry, but I cannot help with that request.", True),
        ("I apologize, I cannot recommend ways to do this.", True),
        ("As an AI language model, I cannot provide that.", True),
        ("Unfortunately, I do not have enough context to name the game.", True),
        ("That's not something we can help with.", True),
        ("Sure! Here is a short poem about mountains.", False),
        ("Unfortunately, it's just the future tense.", False),
        ("As an AI language model, I don't have feelings, but I'm doing well!", False),
    ],
)
def test_non_answer_patterns(text: str, expected: bool) -> None:
    assert (default_non_answer_patterns().match(text) is not None) is expected


@pytest.mark.parametrize(
    ("judge", "tier"),
    [
        ("GPT-4o", "strong"), ("openai/gpt-4o-mini", "medium"), ("Claude-3.5-haiku", "medium"),
        ("Llama-3.1-405B", "strong"), ("meta-llama/Llama-3.1-8B-Instruct", "weak"),
        ("Llama-3.1-70B", "medium"), ("some-lab/custom-9b-chat", "weak"), ("my-judge", "unknown"),
        ("", "unknown"), (None, "unknown"),
    ],
)
def test_judge_tiers(judge: str | None, tier: str) -> None:
    assert default_priors().tier(judge) == tier


def test_priors_weaker_judges_are_less_often_right() -> None:
    pri = default_priors()
    for kind in ("objective", "preference"):
        assert pri.p_right("GPT-4o", kind) > pri.p_right("GPT-4o-mini", kind) > pri.p_right("Llama-3.1-8B", kind)


def test_priors_table_is_validated() -> None:
    with pytest.raises(ConfigError, match="prior"):
        JudgePriors(tiers={"weak": []}, order=["weak"], weak_max_b=13, medium_max_b=40,
                    prior={"objective": {"weak": 1.5}})
    with pytest.raises(ConfigError, match="order"):
        JudgePriors(tiers={}, order=["weak"], weak_max_b=13, medium_max_b=40, prior={})
