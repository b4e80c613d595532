"""The reasoning detector's input rendering (RBD training format), against hand-written
expected renderings of small synthetic items."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debias.errors import InputError
from debias.types import Item, Verdict
from detectors.reasoning.format import (
    RBDInput,
    RBDTemplate,
    display_judge_name,
    input_from_row,
    input_from_verdicts,
    render_prompt,
    to_messages,
)

PAIR = Item(id="p1", task="pairwise", instruction="What is 2+3?",
            candidates=["5", "Adding two and three step by step gives 6."])


def v(order: list[int], choice: int | None, *, judge: str = "openai/gpt-4o-mini",
      with_cue: bool = True, tie: bool = False) -> Verdict:
    return Verdict(judge=judge, order=order, choice=choice, with_cue=with_cue, tie=tie)


def test_pairwise_verbosity_renders_display_order_and_slot() -> None:
    # The long candidate (original index 1) was shown FIRST and chosen -> "Output (a)".
    inp = input_from_verdicts(PAIR, "verbosity", v([1, 0], 1))
    assert inp.choices == "Output (a): Adding two and three step by step gives 6.\n\nOutput (b): 5"
    assert inp.judgment == "Output (a)"
    assert inp.judge_model == "gpt-4o-mini"
    assert inp.instruction == "What is 2+3?"


def test_position_renders_both_orders_original_first() -> None:
    original = v([0, 1], 0)   # picked "5", shown first
    swapped = v([1, 0], 1)    # picked the long one, shown first
    expected_choices = (
        "### First Evaluation (Original Order)\n"
        "Output (a): 5\n\n"
        "Output (b): Adding two and three step by step gives 6.\n\n"
        "### Second Evaluation (Swapped Order)\n"
        "Output (a): Adding two and three step by step gives 6.\n\n"
        "Output (b): 5"
    )
    expected_judgment = "### Original Order\nOutput (a)\n\n### Swapped Order\nOutput (a)"
    for verdict, other in ((swapped, original), (original, swapped)):
        inp = input_from_verdicts(PAIR, "position", verdict, other)
        assert inp.choices == expected_choices
        assert inp.judgment == expected_judgment


def test_position_needs_two_orders() -> None:
    with pytest.raises(ValueError, match="two different display orders"):
        input_from_verdicts(PAIR, "position", v([0, 1], 0))
    with pytest.raises(ValueError, match="two different display orders"):
        input_from_verdicts(PAIR, "position", v([0, 1], 0), v([0, 1], 1))


def test_bandwagon_statement_first() -> None:
    item = PAIR.model_copy(update={"cue": "90% believe that Output (b) is better"})
    inp = input_from_verdicts(item, "bandwagon", v([0, 1], 1))
    assert inp.choices == (
        "### Statement: 90% believe that Output (b) is better\n\n"
        "Output (a): 5\n\n"
        "Output (b): Adding two and three step by step gives 6."
    )
    assert inp.judgment == "Output (b)"
    with pytest.raises(ValueError, match="cue shown"):
        input_from_verdicts(item, "bandwagon", v([0, 1], 1, with_cue=False))
    with pytest.raises(ValueError, match="cue shown"):
        input_from_verdicts(PAIR, "bandwagon", v([0, 1], 1))


def test_multiple_choice_numbered_in_display_order() -> None:
    item = Item(id="c1", task="choice", instruction="Which tense?",
                candidates=["past", "Sadly, it is only the future tense.", "Great news: present!"])
    inp = input_from_verdicts(item, "sentiment", v([2, 0, 1], 0, judge="Claude-3.5-haiku"))
    assert inp.choices == ("1. Great news: present!\n"
                           "2. past\n"
                           "3. Sadly, it is only the future tense.")
    assert inp.judgment == "Choice 2"
    assert inp.judge_model == "Claude-3.5-haiku"


def test_tie_and_score_verdicts() -> None:
    assert input_from_verdicts(PAIR, "verbosity", v([0, 1], None, tie=True)).judgment == "Tie"
    with pytest.raises(ValueError, match="neither a choice nor a tie"):
        input_from_verdicts(PAIR, "verbosity", v([0, 1], None))
    score = Item(id="s", task="score", instruction="Rate", candidates=["x"])
    with pytest.raises(ValueError, match="pairwise/choice only"):
        input_from_verdicts(score, "verbosity", Verdict(order=[0], score=3.0))
    with pytest.raises(ValueError, match="not one of"):
        input_from_verdicts(PAIR, "length", v([0, 1], 0))


EXPECTED_PROMPT = """\
Below are an instruction and the candidate outputs that were shown to an LLM judge. \
The judge model **GPT-4o** was asked to pick the best of them.

Decide whether the LLM-as-a-Judge decision shows Verbosity Bias. Take the judge's \
capability into account while you reason: weaker or smaller judge models (fewer parameters, \
less or noisier training data, weaker alignment) are more prone to biased decisions, whereas \
larger and stronger models tend to judge more reliably.

Verbosity Bias means favouring a response because it is longer, even when a shorter response \
is clearer, better, or more accurate.

### Instruction:
What is 2+3?

### Choices:
Output (a): 5

Output (b): Adding two and three step by step gives 6.

### Evaluation by LLM-as-a-Judge:
Output (b)

- If the decision shows no bias, reply only with: "No".
- If the decision shows bias, reply only with: "Yes".

### Response:
"""


def test_full_prompt_hand_written() -> None:
    inp = input_from_verdicts(PAIR, "verbosity", v([0, 1], 1), judge_model="GPT-4o")
    assert render_prompt(inp) == EXPECTED_PROMPT
    messages = to_messages(inp)
    assert messages == [{"role": "user", "content": EXPECTED_PROMPT}]


@pytest.mark.parametrize("bias,name", [("position", "Position Bias"), ("bandwagon", "Bandwagon Bias"),
                                       ("sentiment", "Sentiment Bias")])
def test_prompt_names_and_defines_the_checked_bias_only(bias: str, name: str) -> None:
    inp = RBDInput(bias=bias, judge_model="m", instruction="i", choices="c", judgment="j")
    text = render_prompt(inp)
    assert f"shows {name}." in text
    assert f"\n\n{name} means" in text
    others = {"Verbosity Bias", "Position Bias", "Bandwagon Bias", "Sentiment Bias"} - {name}
    assert not any(o in text for o in others)
    # Section markers appear once each, in order.
    markers = ["### Instruction:\ni\n", "### Choices:\nc\n", "### Evaluation by LLM-as-a-Judge:\nj\n",
               "### Response:\n"]
    positions = [text.index(m) for m in markers]
    assert positions == sorted(positions)
    assert text.endswith("### Response:\n")


def test_template_validation_and_custom_wording() -> None:
    with pytest.raises(ValueError, match="judge_model"):
        RBDTemplate(intro="no placeholder")
    with pytest.raises(ValueError, match="bias_name"):
        RBDTemplate(task="no placeholder")
    with pytest.raises(ValueError, match="sentiment"):
        RBDTemplate(definitions={"verbosity": "x", "position": "y", "bandwagon": "z"})
    with pytest.raises(ValueError, match="Yes"):
        RBDTemplate(answer_request="answer please")
    custom = RBDTemplate(version="mine", intro="Judge: {judge_model}.")
    inp = RBDInput(bias="position", judge_model="m", instruction="i", choices="c", judgment="j")
    assert render_prompt(inp, custom).startswith("Judge: m.\n\nDecide whether")


def test_list_all_types_variant() -> None:
    inp = RBDInput(bias="sentiment", judge_model="m", instruction="i", choices="c", judgment="j")
    text = render_prompt(inp, RBDTemplate(list_all_types=True))
    block = text.split("\n\n")[2]
    assert block.split("\n") == [
        "### Types of Bias to Consider:",
        "- Verbosity Bias: Favouring a response because it is longer, even when a shorter "
        "response is clearer, better, or more accurate.",
        "- Position Bias: Favouring a response because of where it is presented (first or "
        "second) instead of because of its quality, clarity, or accuracy.",
        "- Bandwagon Bias: Favouring a response because of outside influence, such as a stated "
        "majority opinion or a popular belief, instead of assessing its quality, clarity, or "
        "accuracy on its own.",
        "- Sentiment Bias: Favouring responses written in a positive tone and undervaluing "
        "responses written in a negative tone, instead of assessing their quality, clarity, or "
        "accuracy.",
    ]
    assert "decision shows bias." in text and "Sentiment Bias means" not in text
    assert text.endswith("### Response:\n")


def test_judge_name_display() -> None:
    assert display_judge_name("openai/gpt-4o-mini") == "gpt-4o-mini"
    assert display_judge_name("hosted_vllm/meta/Llama-3.1-8B") == "Llama-3.1-8B"
    assert display_judge_name("GPT-4o") == "GPT-4o"
    with pytest.raises(ValueError, match="empty"):
        RBDInput(bias="position", judge_model="  ", instruction="", choices="c", judgment="j")


ROW = {
    "index": "7", "bias_category": "bandwagon", "llm_judge_model": "GPT-4o-mini",
    "instruction": "Name a prime.",
    "choices": "### Statement: 90% believe that Output (a) is better\n\nOutput (a): 9\n\nOutput (b): 7",
    "llm_judgment": "Output (a)", "bias_label": "Yes",
}


def test_row_rendered_verbatim() -> None:
    inp = input_from_row(ROW)
    text = render_prompt(inp)
    assert "**GPT-4o-mini**" in text
    assert f"### Choices:\n{ROW['choices']}\n\n### Evaluation by LLM-as-a-Judge:\nOutput (a)\n\n" in text
    assert "Bandwagon Bias means" in text
    # The same item built from our types renders identically.
    item = Item(id="7", task="pairwise", instruction="Name a prime.", candidates=["9", "7"],
                cue="90% believe that Output (a) is better")
    mine = input_from_verdicts(item, "bandwagon", v([0, 1], 0, judge="GPT-4o-mini"))
    assert mine == inp


@pytest.mark.parametrize("field,value,message", [
    ("choices", None, "missing column 'choices'"),
    ("llm_judgment", "  ", "empty value in column 'llm_judgment'"),
    ("bias_category", "length", "bias_category 'length'"),
])
def test_row_errors_name_line_and_field(field: str, value: str | None, message: str) -> None:
    row = dict(ROW)
    if value is None:
        del row[field]
    else:
        row[field] = value
    with pytest.raises(InputError, match=message) as info:
        input_from_row(row, line=12, source="dev.csv")
    assert info.value.line == 12 and info.value.field == field
    assert "dev.csv, line 12" in str(info.value)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
               min_size=1, max_size=20).map(str.strip).filter(bool)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(TEXT, min_size=3, max_size=5, unique=True), data=st.data())
def test_judgment_names_the_chosen_candidate_in_display_order(texts: list[str], data: st.DataObject) -> None:
    n = len(texts)
    cands = [f"cand{k}:{t}" for k, t in enumerate(texts)]
    item = Item(id="h", task="choice", instruction="q", candidates=cands)
    order = data.draw(st.permutations(range(n)))
    choice = data.draw(st.integers(0, n - 1))
    inp = input_from_verdicts(item, "sentiment", v(list(order), choice))
    lines = inp.choices.split("\n")
    assert [re.sub(r"^\d+\. ", "", line) for line in lines] == [cands[i] for i in order]
    slot = int(inp.judgment.removeprefix("Choice ")) - 1
    assert lines[slot].split(". ", 1)[1] == cands[choice]


@settings(max_examples=40, deadline=None)
@given(a=TEXT, b=TEXT, first_choice=st.integers(0, 1), second_choice=st.integers(0, 1),
       swapped_first=st.booleans())
def test_position_judgments_map_back_to_candidates(a: str, b: str, first_choice: int,
                                                   second_choice: int, swapped_first: bool) -> None:
    item = Item(id="h", task="pairwise", instruction="q", candidates=[f"A:{a}", f"B:{b}"])
    original, swapped = v([0, 1], first_choice), v([1, 0], second_choice)
    verdict, other = (swapped, original) if swapped_first else (original, swapped)
    inp = input_from_verdicts(item, "position", verdict, other)
    blocks = inp.choices.split("### Second Evaluation (Swapped Order)\n")
    decisions = re.findall(r"Output \(([ab])\)", inp.judgment)
    for block, letter, expected in zip(blocks, decisions, (first_choice, second_choice), strict=True):
        shown = re.search(rf"Output \({letter}\): (.*)", block)
        assert shown is not None
        assert shown.group(1) == item.candidates[expected]


DEV_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "rbd-reasoning-dev" / "dev.csv"


@pytest.mark.skipif(not DEV_CSV.is_file(), reason="public RBD dev data not present (optional)")
def test_items_read_from_the_rbd_csv_render_back_to_their_columns() -> None:
    """Round trip on the public dev file: row -> Item + verdicts (debias.datasets.rbd) ->
    our rendering == the row's own ``choices``/``llm_judgment`` columns (modulo the
    reader's whitespace trimming and the training data's ``90%%`` artifact)."""
    import csv

    rbd_csv = pytest.importorskip("debias.datasets.rbd")

    def norm(text: str) -> str:
        return " ".join(text.replace("%%", "%").split())

    with DEV_CSV.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    records = list(rbd_csv.iter_rbd_csv(DEV_CSV))
    assert len(records) == len(rows)
    for rec, row in zip(records, rows, strict=True):
        others = [v for v in rec.item.verdicts if v.order != rec.verdict.order]
        mine = input_from_verdicts(rec.item, rec.bias, rec.verdict, others[0] if others else None,
                                   judge_model=rec.judge_model)
        ref = input_from_row(row)
        assert (mine.bias, mine.judge_model) == (ref.bias, ref.judge_model)
        assert norm(mine.choices) == norm(ref.choices), rec.row
        assert mine.judgment == ref.judgment, rec.row
        assert norm(mine.instruction) == norm(ref.instruction), rec.row
