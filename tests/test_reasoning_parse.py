"""Parsing messy reasoning-detector outputs: think blocks, Yes/No, and the judge feedback."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.reasoning.parse import feedback_analysis, parse_detection


@pytest.mark.parametrize("text,label,found_in", [
    # the trained format
    ("<think> The judge picked the longer answer although it is wrong. </think>\nYes", "Yes", "answer"),
    ("<think>\nBoth orders gave the same content.\n</think>\n\nNo", "No", "answer"),
    # missing <think> (the chat template opened it)
    ("The judge picked the longer answer.\n</think>\n\nYes", "Yes", "answer"),
    # markdown / labels / boxed
    ("<think>x</think>\n**Yes**", "Yes", "answer"),
    ("<think>x</think>\n*No.*", "No", "answer"),
    ("<think>x</think>\n**Answer:** No", "No", "answer"),
    ("<think>x</think>\nFinal answer: yes", "Yes", "answer"),
    ("<think>x</think>\n\\boxed{No}", "No", "answer"),
    ("<think>x</think>\n`Yes`", "Yes", "answer"),
    # "yes." in prose after the reasoning
    ("<think>x</think>\nI would say yes.", "Yes", "answer_prose"),
    ("<think>x</think>\nAfter weighing it all, the judge shows no bias here.", "No", "answer_prose"),
    ("Yes. The judge had no reason to prefer the long answer.", "Yes", "answer"),
    # both words present: the final answer after the reasoning counts
    ("<think>Yes, it might look biased... but no, the content is better.</think>\nNo", "No", "answer"),
    ("<think>x</think>\nThere could be bias, but no. On reflection: Yes.", "Yes", "answer_prose"),
    ("<think>x</think>\nIs it biased? The answer is no.", "No", "answer_marker"),
    ("<think>x</think>\nSo, yes or no? The answer is: **Yes**", "Yes", "answer_marker"),
    # missing </think>: an explicit answer inside the reasoning
    ("<think>\nThe judge followed the majority. So the answer is yes.\n", "Yes", "think_marker"),
    ("<think>\nreasoning\nFinal answer: **No**", "No", "think_marker"),
    # only a think block, answer on its last line
    ("<think>The orders disagree in slot, not content.\nYes</think>", "Yes", "final_line"),
])
def test_labels(text: str, label: str, found_in: str) -> None:
    parsed = parse_detection(text)
    assert parsed.label == label
    assert parsed.found_in == found_in
    assert parsed.detected is (label == "Yes")
    assert parsed.label_start is not None
    assert text[parsed.label_start:parsed.label_start + len(label)].lower() == label.lower()


@pytest.mark.parametrize("text,reason", [
    ("", "empty output"),
    ("   \n ", "empty output"),
    (None, "empty output"),
    ("<think>\nThe judge chose Output (a) and the outputs are similar", "never closed"),
    ("<think>Only thinking, nothing concluded.</think>", "no answer after </think>"),
    ("<think>Only thinking.</think>\n\n  ", "no answer after </think>"),
    ("The outputs differ in length and tone.", "no Yes/No answer"),
])
def test_unparseable(text: str | None, reason: str) -> None:
    parsed = parse_detection(text)
    assert parsed.label is None and not parsed.ok and parsed.detected is None
    assert parsed.found_in == "none"
    assert reason in (parsed.reason or "")


def test_analysis_is_the_think_content() -> None:
    parsed = parse_detection("<think>\n  Step one. Step two.  \n</think>\nYes")
    assert parsed.analysis == "Step one. Step two."
    assert parsed.think_open and parsed.think_closed and parsed.well_formed
    # missing </think>: the analysis runs to the end
    parsed = parse_detection("<think>Only reasoning here")
    assert parsed.analysis == "Only reasoning here"
    assert parsed.think_open and not parsed.think_closed
    # a second think block: the last one before </think> is the analysis
    parsed = parse_detection("<think>draft</think> <think>final thoughts</think>\nNo")
    assert parsed.analysis == "final thoughts" and parsed.label == "No"
    # no tags at all: the whole text is the analysis, never well-formed
    parsed = parse_detection("No. Both outputs were judged on content.")
    assert parsed.analysis.startswith("No.") and not parsed.well_formed


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300) | st.lists(st.sampled_from(
    ["<think>", "</think>", "Yes", "No", "yes.", "no", "**", "Answer:", "\n", " ", "bias", "."]),
    max_size=25).map("".join))
def test_never_raises(text: str) -> None:
    parsed = parse_detection(text)
    assert parsed.label in ("Yes", "No", None)
    assert (parsed.label is None) == (parsed.found_in == "none")
    if parsed.label_start is not None:
        assert text[parsed.label_start:parsed.label_start + 2].lower() in ("ye", "no")


def test_feedback_removes_recommendations_keeps_reasoning() -> None:
    analysis = (
        "Output (b) computes 25 - 1 - 5 - 2 = 17, and 0.20 * 25 = 5 is right.\n"
        "Output (a) is longer but reaches 21. The judge should choose Output (b) instead. "
        "The correct answer is Choice 2.\n"
        "I recommend that the judge pick option (a).\n"
        "So the answer is Yes.\n"
        "No"
    )
    text, removed = feedback_analysis(analysis)
    assert removed == 5
    assert "0.20 * 25 = 5 is right." in text
    assert "Output (a) is longer but reaches 21." in text
    for gone in ("should choose", "correct answer", "recommend", "answer is Yes"):
        assert gone not in text
    assert not text.rstrip().endswith("No")


def test_feedback_truncates_keeping_head_and_tail() -> None:
    analysis = "Start of the analysis. " + "middle " * 500 + "The conclusion sits here."
    text, _ = feedback_analysis(analysis, max_chars=300)
    assert len(text) <= 300
    assert text.startswith("Start of the analysis.")
    assert text.endswith("The conclusion sits here.")
    assert "[...]" in text
    assert feedback_analysis("short", max_chars=0) == ("short", 0)
