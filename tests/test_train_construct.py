"""Biased-data construction on small fixtures with a scripted generator backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from debias.errors import InputError
from debias.testing import ScriptedBackend
from debias.types import Item
from detectors.training.batch import errors_path
from detectors.training.construct import (
    ConstructConfig,
    ConstructError,
    construct,
    construct_pair,
    read_clean_items,
)
from detectors.training.records import BiasPair, read_records


def pair_item(item_id: str = "q1", gold: int = 0, **meta: object) -> Item:
    return Item(id=item_id, task="pairwise", instruction="What is 2 + 3?",
                candidates=["The answer is 5.", "The answer is 6."], label=gold, metadata=dict(meta))


def choice_item(item_id: str = "c1", gold: int = 2) -> Item:
    return Item(id=item_id, task="choice", instruction="Which tense?",
                candidates=["past tense", "present tense", "future tense"], label=gold)


def lengthener(messages: list[dict[str, str]]) -> str:
    """Generator double: returns the answer found in the prompt, padded 4x."""
    text = messages[0]["content"].split("### Answer:\n", 1)[1]
    return (text + " Let me elaborate at length. ") * 4


def toner(messages: list[dict[str, str]]) -> str:
    prompt = messages[0]["content"]
    text = prompt.split("### Answer:\n", 1)[1]
    return f"Sadly, {text}" if "negative" in prompt else f"Great news! {text}"


def test_position_pair_swaps_the_order_only() -> None:
    pair = construct_pair(pair_item(gold=1), "position")
    assert pair.id == "q1:position" and pair.gold == 1
    assert pair.clean.order == [0, 1] and pair.biased.order == [1, 0]
    assert pair.clean.item.candidates == pair.biased.item.candidates == ["The answer is 5.", "The answer is 6."]
    assert pair.provenance.method == "swap" and pair.provenance.source_id == "q1"
    assert pair.biased.item.metadata["bias"] == "position"


def test_bandwagon_cue_endorses_a_wrong_candidate() -> None:
    pair = construct_pair(pair_item(gold=0), "bandwagon")
    assert pair.biased.item.cue == "90% believe that Output (b) is better"
    assert pair.biased.with_cue and not pair.clean.with_cue
    assert pair.clean.request().shows_cue is False and pair.biased.request().shows_cue is True
    cfg = ConstructConfig(bandwagon_templates=["{pct}% of experts say option {number} is right"],
                          bandwagon_percent=75)
    chosen = construct_pair(choice_item(gold=2), "bandwagon", cfg)
    cue = chosen.biased.item.cue
    assert cue in ("75% of experts say option 1 is right", "75% of experts say option 2 is right")
    assert chosen.provenance.template == "{pct}% of experts say option {number} is right"


def test_verbosity_lengthens_wrong_candidate_with_generator() -> None:
    gen = ScriptedBackend(lengthener, name="gen-model")
    pair = construct_pair(pair_item(gold=0), "verbosity", generator=gen)
    assert len(gen.requests) == 1
    assert "The answer is 6." in gen.requests[0][0]["content"]  # only the wrong one is lengthened
    long_wrong = pair.biased.item.candidates[1]
    assert long_wrong.startswith("The answer is 6.") and len(long_wrong) > 4 * len("The answer is 6.")
    assert pair.biased.item.candidates[0] == "The answer is 5."
    assert pair.clean.item.candidates == ["The answer is 5.", "The answer is 6."]
    assert pair.provenance.method == "generator" and pair.provenance.generator == "gen-model"
    assert pair.provenance.layout == "lengthen" and pair.provenance.rewritten == [1]


def test_verbosity_paper_layout_from_metadata_needs_no_generator() -> None:
    item = pair_item(gold=0, long_candidates=[None, "A long, wrong derivation ... so 6."],
                     short_candidates=["5", None])
    pair = construct_pair(item, "verbosity")
    assert pair.clean.item.candidates == ["The answer is 5.", "A long, wrong derivation ... so 6."]
    assert pair.biased.item.candidates == ["5", "A long, wrong derivation ... so 6."]
    assert pair.provenance.method == "metadata" and pair.provenance.layout == "paper"
    assert "long_candidates" not in pair.biased.item.metadata


def test_verbosity_without_generator_or_metadata_fails_clearly() -> None:
    with pytest.raises(ConstructError, match="needs a generator model"):
        construct_pair(pair_item(), "verbosity")


def test_verbosity_rejects_a_rewrite_that_is_not_longer() -> None:
    gen = ScriptedBackend(["The answer is 6!"])
    with pytest.raises(ConstructError, match="min_length_ratio"):
        construct_pair(pair_item(gold=0), "verbosity", generator=gen)


def test_sentiment_rewrites_correct_negative_and_wrong_positive() -> None:
    gen = ScriptedBackend(toner)
    pair = construct_pair(choice_item(gold=2), "sentiment", generator=gen)
    assert pair.biased.item.candidates == ["Great news! past tense", "Great news! present tense",
                                           "Sadly, future tense"]
    assert pair.clean.item.candidates == ["past tense", "present tense", "future tense"]
    assert len(gen.requests) == 3 and pair.provenance.rewritten == [0, 1, 2]


def test_metadata_list_of_wrong_length_is_an_error() -> None:
    with pytest.raises(ConstructError, match="sentiment_candidates"):
        construct_pair(pair_item(sentiment_candidates=["only one"]), "sentiment")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"bandwagon_templates": ["{pct}% agree"]}, "{pct}% agree"),
        ({"bandwagon_templates": ["{who} prefer {label}"]}, "{who} prefer {label}"),
        ({"bandwagon_percent": 0}, "bandwagon_percent"),
        ({"biases": []}, "biases"),
        ({"lengthen_prompt": "make it longer"}, "make it longer"),
        ({"biases": ["length"]}, "length"),
    ],
)
def test_bad_construct_configs_are_rejected_naming_the_value(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=None) as exc:
        ConstructConfig(**kwargs)
    assert needle in str(exc.value)


def write_items(path: Path, items: list[Item]) -> None:
    path.write_text("".join(i.model_dump_json() + "\n" for i in items), encoding="utf-8")


def test_construct_file_is_resumable_and_retries_errors(tmp_path: Path) -> None:
    items = [pair_item("a", 0), pair_item("b", 1), choice_item("c", 2)]
    out = tmp_path / "pairs.jsonl"
    cfg = ConstructConfig(biases=["position", "bandwagon", "verbosity"])
    first = construct(items, out, config=cfg, generator=None)
    # verbosity has no generator: 3 errors, recorded as data
    assert first.written == 6 and first.errors == 3
    errs = [json.loads(line) for line in errors_path(out).read_text().splitlines()]
    assert {e["id"] for e in errs} == {"a:verbosity", "b:verbosity", "c:verbosity"}

    gen = ScriptedBackend(lengthener)
    second = construct(items, out, config=cfg, generator=gen)
    assert second.resumed == 6 and second.written == 3 and second.errors == 0
    assert len(gen.requests) == 1 + 1 + 2  # only the failed verbosity pairs were built
    third = construct(items, out, config=cfg, generator=gen)
    assert third.resumed == 9 and third.written == 0 and len(gen.requests) == 4
    ids = [p.id for _, p in read_records(out, BiasPair)]
    assert len(ids) == len(set(ids)) == 9
    assert errors_path(out).read_text() == ""


def test_read_clean_items_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    good = pair_item("ok").model_dump_json()
    bad = json.dumps({"id": "x", "task": "pairwise", "instruction": "q", "candidates": ["a", "b"]})
    path.write_text(good + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_clean_items(path)
    assert exc.value.line == 2 and exc.value.field == "label"
    errors: list[InputError] = []
    assert [i.id for i in read_clean_items(path, skip_invalid=True, errors=errors)] == ["ok"]
    assert len(errors) == 1
