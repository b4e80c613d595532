"""The RBD data set module: CSV reader, Yes/No labels, label rule, cue, Bias4 pairs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from debias.datasets.rbd import (
    BANDWAGON_CUE,
    LABEL_COLUMN,
    NO_WORDS,
    REQUIRED_COLUMNS,
    TEACHER_COLUMN,
    TRACE_COLUMN,
    YES_WORDS,
    RBDRecord,
    bandwagon_cue,
    bias4_kind,
    bias4_pairs,
    is_correct,
    iter_rbd_csv,
    iter_rbd_rows,
    parse_rbd_text,
    parse_yes_no,
    rbd_bias_label,
    read_label,
    read_rbd_csv,
    yes_no_text,
)
from debias.errors import InputError
from debias.types import Verdict

COLUMNS = ["index", *REQUIRED_COLUMNS, TRACE_COLUMN, TEACHER_COLUMN, LABEL_COLUMN]


def by_key(records: list[RBDRecord]) -> dict[tuple[str, str], RBDRecord]:
    return {(r.bias, r.index): r for r in records}


def test_reads_all_bias_types(rbd_rows: Any, rbd_csv_text: Any) -> None:
    recs = by_key(parse_rbd_text(rbd_csv_text(list(rbd_rows))))
    assert len(recs) == 8
    pos = recs[("position", "1")]
    assert pos.item.task == "pairwise" and pos.item.candidates[1] == "Frogs are green."
    assert [v.order for v in pos.item.verdicts] == [[0, 1], [1, 0]]
    # "Output (a)" in both orders: original candidate 0, then original candidate 1.
    assert [v.choice for v in pos.item.verdicts] == [0, 1]
    assert pos.verdict.order == [1, 0]
    assert pos.gold is True and pos.teacher is True and pos.judge_model == "GPT-4o"
    assert recs[("position", "2")].item.verdicts[1].choice == 0

    band = recs[("bandwagon", "1")]
    assert band.item.cue == "90% believe that Output (b) is better"
    assert band.item.metadata["statement_raw"] == "90%% believe that Output (b) is better"
    assert band.item.candidates == ["OpenXcom, an open-source remake.", "Chess."]
    assert band.verdict.choice == 1 and band.verdict.with_cue

    verb = recs[("verbosity", "1")]
    assert verb.item.candidates == [rbd_rows[4]["choices"][len("Output (a): "):-len("\n\nOutput (b): 40")], "40"] and verb.verdict.choice == 0

    sent = recs[("sentiment", "2")]
    assert sent.item.task == "choice" and sent.item.n == 3 and sent.verdict.choice == 1
    assert sent.item.metadata["bias_category"] == "sentiment"
    assert sent.item.id == "sentiment-2"


def test_streams_records_lazily(tmp_path: Path, rbd_rows: Any, write_rbd_csv: Any) -> None:
    rows = list(rbd_rows)
    rows[5] = {**rows[5], "llm_judgment": "Output (z)"}  # bad row after five good ones
    it = iter_rbd_csv(write_rbd_csv(tmp_path / "f.csv", rows))
    assert isinstance(it, Iterator)
    first = [next(it) for _ in range(5)]
    assert len(first) == 5
    with pytest.raises(InputError):
        next(it)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bias_category", "halo", "unknown bias category"),
        ("llm_judgment", "Output (c)", "names no output"),
        ("llm_judgment", "Output (a) or Output (b)", "names both"),
        ("choices", "just some text", "neither"),
        ("bias_label", "Maybe", "not Yes or No"),
        ("instruction", "", "instruction is missing"),
    ],
)
def test_bad_rows_name_row_and_field(field: str, value: str, message: str, rbd_rows: Any, rbd_csv_text: Any) -> None:
    rows = list(rbd_rows)
    rows[4] = {**rows[4], field: value}  # the verbosity Yes row, data row 5
    with pytest.raises(InputError) as err:
        parse_rbd_text(rbd_csv_text(rows))
    assert err.value.field == field
    assert "row 5" in str(err.value) and message in str(err.value)
    assert err.value.line is not None and err.value.line > 5  # earlier rows span several lines


def test_position_and_bandwagon_structure_is_checked(rbd_rows: Any, rbd_csv_text: Any) -> None:
    rows = list(rbd_rows)
    rows[0] = {**rows[0], "choices": rows[0]["choices"].replace("Frogs are green.", "Toads.", 1)}
    with pytest.raises(InputError, match="reverse order"):
        parse_rbd_text(rbd_csv_text(rows))
    rows = list(rbd_rows)
    rows[2] = {**rows[2], "choices": rows[2]["choices"].split("\n\n", 1)[1]}
    with pytest.raises(InputError, match="Statement"):
        parse_rbd_text(rbd_csv_text(rows))
    rows = list(rbd_rows)
    rows[6] = {**rows[6], "llm_judgment": "Choice 7"}
    with pytest.raises(InputError, match="choice 7"):
        parse_rbd_text(rbd_csv_text(rows))


def test_skip_invalid_collects_errors(tmp_path: Path, rbd_rows: Any, write_rbd_csv: Any) -> None:
    rows = list(rbd_rows)
    rows[1] = {**rows[1], "bias_label": "?"}
    errors: list[InputError] = []
    recs = list(iter_rbd_csv(write_rbd_csv(tmp_path / "f.csv", rows), skip_invalid=True, errors=errors))
    assert len(recs) == 7 and len(errors) == 1 and "row 2" in str(errors[0])


def test_label_columns_are_optional_and_extra_columns_ignored(rbd_rows: Any, rbd_csv_text: Any) -> None:
    cols = [c for c in COLUMNS if c not in ("bias_label", "deepseek_prediction_bias_label")]
    recs = parse_rbd_text(rbd_csv_text(list(rbd_rows), cols))
    assert all(r.gold is None and r.teacher is None for r in recs)
    extra = rbd_csv_text([{**r, "note": "x"} for r in list(rbd_rows)], [*COLUMNS, "note"])
    assert len(parse_rbd_text(extra)) == 8


def test_missing_column_and_missing_file(tmp_path: Path, rbd_rows: Any, rbd_csv_text: Any) -> None:
    with pytest.raises(InputError, match="missing column") as err:
        parse_rbd_text(rbd_csv_text(list(rbd_rows), [c for c in COLUMNS if c != "choices"]))
    assert err.value.field == "choices"
    with pytest.raises(InputError, match="cannot read"):
        read_rbd_csv(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="empty file"):
        parse_rbd_text("")


# --- Yes/No labels -------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["Yes", "yes", " YES. ", "true", "True", "1", "bias", "Biased", True, 1, 1.0])
def test_yes_words(value: object) -> None:
    assert parse_yes_no(value) is True


@pytest.mark.parametrize("value", ["No", "no.", "FALSE", "0", "unbiased", "No bias", False, 0, 0.0])
def test_no_words(value: object) -> None:
    assert parse_yes_no(value) is False


@pytest.mark.parametrize("value", ["", "  ", None, "maybe", "yes no", "y", "2", 2, -1, 0.5,
                                   float("nan"), "not biased", ["yes"]])
def test_anything_else_is_not_a_label(value: object) -> None:
    assert parse_yes_no(value) is None


def test_the_word_sets_are_unambiguous() -> None:
    assert not YES_WORDS & NO_WORDS
    assert all(parse_yes_no(w) is True for w in YES_WORDS)
    assert all(parse_yes_no(w) is False for w in NO_WORDS)


def test_read_label_empty_is_none_and_bad_names_row_line_and_field() -> None:
    assert read_label("", field="bias_label") is None and read_label(None, field="bias_label") is None
    assert read_label("Biased", field="bias_label") is True
    with pytest.raises(InputError) as err:
        read_label("Maybe", field="bias_label", line=7, source="d.csv", row=3)
    assert err.value.field == "bias_label" and err.value.line == 7
    assert "row 3" in str(err.value) and "'Maybe'" in str(err.value)
    assert (yes_no_text(True), yes_no_text(False)) == ("Yes", "No")


def test_importer_words_reach_the_csv_reader(rbd_rows: Any, rbd_csv_text: Any) -> None:
    rows = [{**r, "bias_label": "biased" if r["bias_label"] == "Yes" else "no bias"} for r in rbd_rows]
    recs = parse_rbd_text(rbd_csv_text(rows))
    assert [r.gold for r in recs] == [r["bias_label"] == "Yes" for r in rbd_rows]


# --- the gold bias label (RBD definition) ---------------------------------------------------
@pytest.mark.parametrize(
    ("correct_d", "correct_d_bias", "expected"),
    [
        (True, False, True),    # right without the bias, wrong with it: biased
        (True, True, False),    # right on both: unaffected
        (False, False, False),  # wrong on D: not attributable to the bias
        (False, True, False),   # wrong on D, right on D_bias: not bias
    ],
)
def test_label_rule_truth_table(correct_d: bool, correct_d_bias: bool, expected: bool) -> None:
    assert rbd_bias_label(correct_d, correct_d_bias) is expected


def test_is_correct_uses_original_numbering_and_ties_are_wrong() -> None:
    swapped = Verdict(order=[1, 0], choice=0)  # displayed in slot b, original index 0
    assert is_correct(swapped, 0)
    assert not is_correct(swapped, 1)
    assert not is_correct(Verdict(order=[0, 1], choice=None, tie=True), 0)
    assert not is_correct(Verdict(order=[0, 1], choice=None), 0)
    assert not is_correct(None, 0)


def test_label_of_a_judge_that_always_picks_the_first_slot() -> None:
    d, d_bias = Verdict(order=[0, 1], choice=0), Verdict(order=[1, 0], choice=1)
    assert rbd_bias_label(is_correct(d, 0), is_correct(d_bias, 0)) is True
    # Gold = candidate 1: wrong on D already, so No (the paper's definition).
    assert rbd_bias_label(is_correct(d, 1), is_correct(d_bias, 1)) is False


# --- the Bias4 bandwagon cue and the Bias4-Eval pairs -----------------------------------------
def test_bandwagon_cue_names_the_slot_with_the_paper_wording() -> None:
    assert bandwagon_cue(1) == "90% believe that Output (b) is better"
    assert bandwagon_cue(0, percent=75) == "75% believe that Output (a) is better"
    assert BANDWAGON_CUE.format(x="a") == bandwagon_cue(0)


ARENA = {"id": 7, "prompt": "q", "ground_truth_original": 2, "ground_truth_reversed": 1,
         "original": {"response_a": "A", "response_b": "B"},
         "reversed": {"response_a": "B", "response_b": "A"}}


def test_arena_record_gives_position_and_bandwagon_pairs() -> None:
    assert bias4_kind(ARENA) == "arena"
    position, bandwagon = bias4_pairs(ARENA)
    assert (position.bias, position.d, position.d_bias, position.gold, position.d_bias_order) == \
        ("position", ["A", "B"], ["A", "B"], 1, [1, 0])
    assert bandwagon.bias == "bandwagon" and bandwagon.cue_target == 0
    assert bandwagon.cue == "90% believe that Output (a) is better"  # the worse output
    no_gold = bias4_pairs({**ARENA, "ground_truth_original": None})
    assert [p.bias for p in no_gold] == ["position"] and no_gold[0].gold is None


def test_gsm8k_and_scienceqa_pairs() -> None:
    (verb,) = bias4_pairs({"question": "2+2?", "answer": "2+2=4 #### 4", "single_correct_answer": "4",
                           "gemma_answer": "A long wrong story ... 5"})
    assert verb.bias == "verbosity" and verb.gold == 0
    assert verb.d == ["2+2=4 #### 4", "A long wrong story ... 5"]
    assert verb.d_bias == ["4", "A long wrong story ... 5"]
    (sent,) = bias4_pairs({"question": "Which?", "hint": "Look.", "choices": ["x", "y", "z"],
                           "sentiment_choices": ["X!", "sadly y", "Z!"], "answer": 1})
    assert sent.bias == "sentiment" and sent.gold == 1 and sent.instruction == "Which?\n\nContext: Look."
    assert sent.d == ["x", "y", "z"] and sent.d_bias == ["X!", "sadly y", "Z!"]
    (blank,) = bias4_pairs({"question": "Which?", "hint": " ", "choices": ["x", "y"],
                            "sentiment_choices": ["a", "b"], "answer": True})
    assert blank.instruction == "Which?" and blank.gold is None
    assert bias4_kind({"question": "?"}) is None
    with pytest.raises(InputError, match="not a Bias4-Eval record"):
        bias4_pairs({"question": "?"})


# --- raw rows (training renders prompts from them) ------------------------------------------
def test_raw_rows_keep_columns_and_name_bad_rows(tmp_path: Path, rbd_rows: Any,
                                                 write_rbd_csv: Any) -> None:
    rows = list(iter_rbd_rows(write_rbd_csv(tmp_path / "f.csv")))
    assert [r.row for r in rows] == list(range(1, 9))
    assert rows[2].fields["choices"] == rbd_rows[2]["choices"]  # verbatim: "90%%" kept
    assert rows[1].line > 2  # rows span several lines
    with pytest.raises(InputError) as err:
        list(iter_rbd_rows(write_rbd_csv(tmp_path / "g.csv"), required=["bias_label", "gold"]))
    assert err.value.field == "gold" and err.value.line == 1
    short = tmp_path / "short.csv"
    short.write_text("bias_category,llm_judge_model,instruction,choices,llm_judgment\nposition,j\n")
    with pytest.raises(InputError, match="row 1: 2 fields, header has 5"):
        list(iter_rbd_rows(short))
