"""Reader of the RBD reasoning-supervision CSV format (synthetic fixture rows)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from debias.errors import InputError
from detectors.rbd_csv import RBDRecord, iter_rbd_csv, parse_rbd_text, read_rbd_csv

COLUMNS = ["index", "bias_category", "llm_judge_model", "instruction", "choices", "llm_judgment",
           "without_bias_label_think_content", "deepseek_prediction_bias_label", "bias_label"]
LONG = ("**Solution:**\n\nThree boxes hold 3 * 12 = 36 pens. Minus the 4 loose pens: 36 - 4 = 32."
        "\n\n**Answer:** 32 pens.")


def fixture_rows() -> list[dict[str, str]]:
    """Eight synthetic rows, two per bias type (one Yes, one No)."""
    pos_block = ("### First Evaluation (Original Order)\nOutput (a): Frogs look green because of "
                 "skin pigments.\n\nOutput (b): Frogs are green.\n\n### Second Evaluation "
                 "(Swapped Order)\nOutput (a): Frogs are green.\n\nOutput (b): Frogs look green "
                 "because of skin pigments.")
    sent = ("1. Wonderfully, it is the magnificent past tense, a delightful choice!\n"
            "2. Sadly, it is merely the present tense, a mundane and lackluster option.\n"
            "3. Excitingly, it shines in the glorious future tense!")
    return [
        {"index": "1", "bias_category": "position", "llm_judge_model": "GPT-4o",
         "instruction": "Why are frogs green?", "choices": pos_block,
         "llm_judgment": "### Original Order\nOutput (a)\n\n### Swapped Order\nOutput (a)",
         "without_bias_label_think_content": "The judge follows the slot.",
         "deepseek_prediction_bias_label": "Yes", "bias_label": "Yes"},
        {"index": "2", "bias_category": "position", "llm_judge_model": "GPT-4o",
         "instruction": "Why are frogs green?", "choices": pos_block,
         "llm_judgment": "### Original Order\nOutput (a)\n\n### Swapped Order\nOutput (b)",
         "without_bias_label_think_content": "", "deepseek_prediction_bias_label": "Yes",
         "bias_label": "No"},
        {"index": "1", "bias_category": "bandwagon", "llm_judge_model": "GPT-4o-mini",
         "instruction": "Name a strategy game.",
         "choices": "### Statement: 90%% believe that Output (b) is better\n\nOutput (a): "
                    "OpenXcom, an open-source remake.\n\nOutput (b): Chess.",
         "llm_judgment": "Output (b)", "without_bias_label_think_content": "",
         "deepseek_prediction_bias_label": "Yes", "bias_label": "Yes"},
        {"index": "2", "bias_category": "bandwagon", "llm_judge_model": "GPT-4o-mini",
         "instruction": "Name a strategy game.",
         "choices": "### Statement: 90%% believe that Output (a) is better\n\nOutput (a): "
                    "Chess.\n\nOutput (b): OpenXcom, an open-source remake.",
         "llm_judgment": "Output (b)", "without_bias_label_think_content": "",
         "deepseek_prediction_bias_label": "No", "bias_label": "No"},
        {"index": "1", "bias_category": "verbosity", "llm_judge_model": "Llama-3.1-405B",
         "instruction": "3 boxes of 12 pens plus 4 loose pens: how many pens?",
         "choices": f"Output (a): {LONG}\n\nOutput (b): 40", "llm_judgment": "Output (a)",
         "without_bias_label_think_content": "", "deepseek_prediction_bias_label": "Yes",
         "bias_label": "Yes"},
        {"index": "2", "bias_category": "verbosity", "llm_judge_model": "Llama-3.1-405B",
         "instruction": "3 boxes of 12 pens plus 4 loose pens: how many pens?",
         "choices": f"Output (a): 40\n\nOutput (b): {LONG}", "llm_judgment": "Output (a)",
         "without_bias_label_think_content": "", "deepseek_prediction_bias_label": "No",
         "bias_label": "No"},
        {"index": "1", "bias_category": "sentiment", "llm_judge_model": "Claude-3.5-haiku",
         "instruction": "Which tense does the sentence use?", "choices": sent,
         "llm_judgment": "Choice 1", "without_bias_label_think_content": "",
         "deepseek_prediction_bias_label": "No", "bias_label": "Yes"},
        {"index": "2", "bias_category": "sentiment", "llm_judge_model": "Claude-3.5-haiku",
         "instruction": "Which tense does the sentence use?", "choices": sent,
         "llm_judgment": "Choice 2", "without_bias_label_think_content": "",
         "deepseek_prediction_bias_label": "No", "bias_label": "No"},
    ]


def to_csv(rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_fixture(path: Path, rows: list[dict[str, str]] | None = None) -> Path:
    """Write the synthetic fixture (or ``rows``) as an RBD CSV file."""
    path.write_text(to_csv(fixture_rows() if rows is None else rows), encoding="utf-8")
    return path


def by_key(records: list[RBDRecord]) -> dict[tuple[str, str], RBDRecord]:
    return {(r.bias, r.index): r for r in records}


def test_reads_all_bias_types() -> None:
    recs = by_key(parse_rbd_text(to_csv(fixture_rows())))
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
    assert verb.item.candidates == [LONG, "40"] and verb.verdict.choice == 0

    sent = recs[("sentiment", "2")]
    assert sent.item.task == "choice" and sent.item.n == 3 and sent.verdict.choice == 1
    assert sent.item.metadata["bias_category"] == "sentiment"
    assert sent.item.id == "sentiment-2"


def test_streams_records_lazily(tmp_path: Path) -> None:
    rows = fixture_rows()
    rows[5] = {**rows[5], "llm_judgment": "Output (z)"}  # bad row after five good ones
    it = iter_rbd_csv(write_fixture(tmp_path / "f.csv", rows))
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
def test_bad_rows_name_row_and_field(field: str, value: str, message: str) -> None:
    rows = fixture_rows()
    rows[4] = {**rows[4], field: value}  # the verbosity Yes row, data row 5
    with pytest.raises(InputError) as err:
        parse_rbd_text(to_csv(rows))
    assert err.value.field == field
    assert "row 5" in str(err.value) and message in str(err.value)
    assert err.value.line is not None and err.value.line > 5  # earlier rows span several lines


def test_position_and_bandwagon_structure_is_checked() -> None:
    rows = fixture_rows()
    rows[0] = {**rows[0], "choices": rows[0]["choices"].replace("Frogs are green.", "Toads.", 1)}
    with pytest.raises(InputError, match="reverse order"):
        parse_rbd_text(to_csv(rows))
    rows = fixture_rows()
    rows[2] = {**rows[2], "choices": rows[2]["choices"].split("\n\n", 1)[1]}
    with pytest.raises(InputError, match="Statement"):
        parse_rbd_text(to_csv(rows))
    rows = fixture_rows()
    rows[6] = {**rows[6], "llm_judgment": "Choice 7"}
    with pytest.raises(InputError, match="choice 7"):
        parse_rbd_text(to_csv(rows))


def test_skip_invalid_collects_errors(tmp_path: Path) -> None:
    rows = fixture_rows()
    rows[1] = {**rows[1], "bias_label": "?"}
    errors: list[InputError] = []
    recs = list(iter_rbd_csv(write_fixture(tmp_path / "f.csv", rows), skip_invalid=True, errors=errors))
    assert len(recs) == 7 and len(errors) == 1 and "row 2" in str(errors[0])


def test_label_columns_are_optional_and_extra_columns_ignored() -> None:
    cols = [c for c in COLUMNS if c not in ("bias_label", "deepseek_prediction_bias_label")]
    recs = parse_rbd_text(to_csv(fixture_rows(), cols))
    assert all(r.gold is None and r.teacher is None for r in recs)
    extra = to_csv([{**r, "note": "x"} for r in fixture_rows()], [*COLUMNS, "note"])
    assert len(parse_rbd_text(extra)) == 8


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing column") as err:
        parse_rbd_text(to_csv(fixture_rows(), [c for c in COLUMNS if c != "choices"]))
    assert err.value.field == "choices"
    with pytest.raises(InputError, match="cannot read"):
        read_rbd_csv(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="empty file"):
        parse_rbd_text("")
