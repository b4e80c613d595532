"""Each audit importer on a small fixture of its format (written here, not copied from data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from debias.audit.engine import to_item
from debias.audit.importers import ImportOptions, importers, jsonstream, open_input
from debias.audit.importers.values import TIE, parse_slot
from debias.audit.records import BadRecord, Pending
from debias.errors import ConfigError, InputError
from debias.types import Item


def read(path: Path, fmt: str = "auto", join: Path | None = None, **mapping: str) -> tuple[str, list[Item], list[BadRecord]]:
    imp, recs = open_input(path, fmt, ImportOptions(mapping=mapping, join=join))
    items, bad = [], []
    for r in recs:
        if isinstance(r, BadRecord):
            bad.append(r)
        else:
            try:
                items.append(to_item(r, str(path)))
            except InputError as exc:
                bad.append(BadRecord(r.line, str(exc)))
    return imp.name, items, bad


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_every_importer_documents_a_three_line_example() -> None:
    names = importers.names()
    assert {"jsonl", "csv", "rbd-csv", "rbd-bias4", "pandalm", "judgebench", "mtbench", "alpacaeval"} <= set(names)
    for imp in importers.all():
        assert len(imp.example.splitlines()) == 3, imp.name
        assert imp.summary


# --- values -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "slot"), [
    (1, 0), (2, 1), ("2", 1), ("A", 0), ("b", 1), ("A>B", 0), ("B>>A", 1), ("[[B]]", 1),
    ("model_1", 0), ("model_b", 1), ("Output (b)", 1), ("Choice 2", 1), ("tie", TIE), ("A=B", TIE),
    (0, TIE), (None, None), (float("nan"), None), ("", None),
])
def test_parse_slot(value: object, slot: object) -> None:
    assert parse_slot(value, 2, zero_is_tie=True) == slot


def test_parse_slot_rejects_garbage_and_out_of_range() -> None:
    for bad in ("garbage", 3, -1, 1.5, True):
        with pytest.raises(ValueError):
            parse_slot(bad, 2)
    assert parse_slot(0, 3, base=0) == 0


# --- jsonl ------------------------------------------------------------------------------


def test_jsonl_items_bad_lines_and_run_output(tmp_path: Path) -> None:
    good = {"id": "a", "task": "pairwise", "instruction": "q", "candidates": ["x", "y"], "label": 0,
            "verdicts": [{"judge": "j", "order": [0, 1], "choice": 0}, {"judge": "j", "order": [1, 0], "choice": 1}]}
    run_out = {**good, "id": "b", "result": {"status": "clean", "verdict": None}}
    lines = [json.dumps(good), "", "{not json", json.dumps({**good, "id": "c", "candidates": ["x"]}),
             json.dumps(run_out), json.dumps({**good, "id": "d", "verdicts": [{"order": [0, 0]}]})]
    name, items, bad = read(write(tmp_path / "in.jsonl", "\n".join(lines) + "\n"))
    assert name == "jsonl"
    assert [i.id for i in items] == ["a", "b"]
    assert [b.line for b in bad] == [3, 4, 6]
    assert "invalid JSON" in bad[0].message
    assert "needs 2 candidates" in bad[1].message
    assert "permutation" in bad[2].message


# --- csv --------------------------------------------------------------------------------


def test_mapped_csv(tmp_path: Path) -> None:
    text = ("id,question,ra,rb,gold,v,vs,judge\n"
            'q1,"2+2?",4,5,A,A,B,m1\n'
            "q2,cap?,Paris,Lyon,1,B,tie,m1\n"
            "q3,x?,a,b,7,A,A,m2\n"          # unreadable gold label -> bad row
            "q4,y?,a,b,,???,A,m2\n"        # unreadable decision -> verdict without decision
            "q5,short\n")                  # wrong field count -> bad row
    path = write(tmp_path / "v.csv", text)
    name, items, bad = read(path, candidates="ra,rb", instruction="question", label="gold", choice="v",
                            choice_swapped="vs", judge="judge", id="id")
    assert name == "csv"
    assert [i.id for i in items] == ["q1", "q2", "q4"]
    q1 = items[0]
    assert q1.label == 0 and q1.candidates == ["4", "5"]
    # swapped verdict "B" = second shown = original candidate 0
    assert [(v.order, v.choice) for v in q1.verdicts] == [([0, 1], 0), ([1, 0], 0)]
    assert items[1].verdicts[1].tie
    assert items[2].verdicts[0].choice is None and not items[2].verdicts[0].tie
    assert [b.line for b in bad] == [4, 6]
    assert "label" in bad[0].message


def test_mapped_csv_needs_mapping_and_known_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "v.csv", "a,b,c\n1,2,1\n")
    with pytest.raises(ConfigError, match="needs a column mapping"):
        read(path)
    with pytest.raises(ConfigError, match=r"not in v\.csv"):
        read(path, candidates="a,b", choice="zzz")
    with pytest.raises(ConfigError, match="not an option"):
        read(path, candidates="a,b", choice="c", colour="red")


# --- rbd-csv ----------------------------------------------------------------------------

RBD_HEADER = ("index,bias_category,llm_judge_model,instruction,choices,llm_judgment,"
              "without_bias_label_think_content,deepseek_prediction_bias_label,bias_label\n")


def _csv_field(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def test_rbd_reasoning_csv(tmp_path: Path) -> None:
    pos = ("### First Evaluation (Original Order)\nOutput (a): Frogs are green for camouflage.\n\n"
           "Output (b): Because.\n\n### Second Evaluation (Swapped Order)\nOutput (a): Because.\n\n"
           "Output (b): Frogs are green for camouflage.")
    band = "### Statement: 90%% believe that Output (b) is better\n\nOutput (a): Paris\n\nOutput (b): Lyon"
    senti = "1. Sadly, it is the future tense.\n2. Great news, it is the past tense!\n3. Wonderful, present tense!"
    rows = [
        ["1", "position", "GPT-4o", "Why green?", pos, "### Original Order\nOutput (a)\n\n### Swapped Order\nOutput (a)", "t", "Yes", "Yes"],
        ["2", "bandwagon", "GPT-4o-mini", "Capital?", band, "Output (b)", "t", "Yes", "No"],
        ["3", "sentiment", "Claude", "Tense?", senti, "Choice 2", "t", "No", "Yes"],
        ["4", "nonsense", "X", "?", "Output (a): a\n\nOutput (b): b", "Output (a)", "t", "No", "No"],
    ]
    text = RBD_HEADER + "".join(",".join(_csv_field(c) for c in r) + "\n" for r in rows)
    name, items, bad = read(write(tmp_path / "dev.csv", text))
    assert name == "rbd-csv"
    assert len(items) == 3 and len(bad) == 1 and "bias category" in bad[0].message
    p, b, s = items
    assert [(v.order, v.choice) for v in p.verdicts] == [([0, 1], 0), ([1, 0], 1)]
    assert p.metadata["bias_label"] == "Yes" and p.metadata["detector_labels"] == {"teacher": "Yes"}
    assert b.cue == "90% believe that Output (b) is better" and b.verdicts[0].with_cue
    assert s.task == "choice" and s.verdicts[0].choice == 1 and s.metadata["bias"] == "sentiment"


# --- rbd-bias4 --------------------------------------------------------------------------


def test_rbd_bias4_arena_join(tmp_path: Path) -> None:
    arena = [{"id": 11, "prompt": "hi?", "original": {"response_a": "long answer A", "response_b": "B"},
              "reversed": {"response_a": "B", "response_b": "long answer A"},
              "ground_truth_original": 1, "ground_truth_reversed": 2},
             {"id": 12, "prompt": "yo?", "original": {"response_a": "a", "response_b": "bb"},
              "reversed": {"response_a": "bb", "response_b": "a"},
              "ground_truth_original": 2, "ground_truth_reversed": 1}]
    items_path = write(tmp_path / "Arena.json", json.dumps(arena))
    preds = [{"index": 0, "judge": "g", "prediction_original": 1, "prediction_position": 2, "prediction_bandwagon": 2},
             {"id": 12, "judge": "g", "prediction_original": "Output (b)", "prediction_position": -1},
             {"index": 9, "judge": "g", "prediction_original": 1}]
    path = write(tmp_path / "preds.jsonl", "\n".join(json.dumps(p) for p in preds) + "\n")
    name, items, bad = read(path, join=items_path)
    assert name == "rbd-bias4"
    assert len(items) == 2 and [b.line for b in bad] == [3]
    a = items[0]
    assert a.label == 0 and a.cue == "90% believe that Output (b) is better" and a.metadata["cue_target"] == 1
    # original (no cue), swapped (no cue: answer "2" = second shown = original 0), with the statement
    assert [(v.order, v.choice, v.with_cue) for v in a.verdicts] == [([0, 1], 0, False), ([1, 0], 0, False), ([0, 1], 1, True)]
    b = items[1]
    assert b.cue is None and b.verdicts[1].choice is None  # -1: a verdict without a decision


def test_rbd_bias4_gsm8k_and_scienceqa(tmp_path: Path) -> None:
    gsm = [{"question": "2+3?", "answer": "2+3=5\n#### 5", "single_correct_answer": "5",
            "gemma_answer": "Let x be... so the answer is 6 after a lot of words."}]
    sqa = [{"question": "Which?", "choices": ["x", "y", "z"], "answer": 2, "hint": "",
            "sentiment_choices": ["Great x!", "Wonderful y!", "Sadly, z."]}]
    gp = write(tmp_path / "GSM8K_Verbosity.json", json.dumps(gsm))
    sp = write(tmp_path / "ScienceQA_Sentiment.json", json.dumps(sqa))
    csv = write(tmp_path / "g.csv", "index,prediction_original,prediction_verbose\n0,1,2\n")
    _, items, bad = read(csv, "rbd-bias4", join=gp, judge="llama")
    assert not bad
    it = items[0]
    assert it.candidates[0] == "5" and it.label == 0 and it.metadata["bias"] == "verbosity"
    assert [(v.choice, v.model_extra.get("set")) for v in it.verdicts] == [(1, None), (0, "D")]
    assert it.verdicts[0].judge == "llama"
    sj = write(tmp_path / "s.jsonl", json.dumps({"index": 0, "judge": "m", "prediction_original": "Choice 3",
                                                 "prediction_sentiment": "Choice 1"}) + "\n")
    _, items, _ = read(sj, join=sp)
    assert items[0].task == "choice" and items[0].label == 2
    assert [v.choice for v in items[0].verdicts] == [0, 2]


def test_rbd_bias4_needs_join(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", json.dumps({"index": 0, "prediction_original": 1}) + "\n")
    with pytest.raises(ConfigError, match=r"needs --join"):
        read(path)


# --- pandalm ----------------------------------------------------------------------------

TESTSET = """[
    {"idx": 0, "instruction": "Shorten:", "input": "a long sentence", "response1": "short",
     "response2": "a much longer response", "annotator1": 2, "annotator2": 2, "annotator3": 1},
    {"idx": 1, "instruction": "Say hi", "input": "", "response1": "hi", "response2": "hello",
     "annotator1": 0, "annotator2": 0, "annotator3": NaN},
    {"idx": 2, "instruction": "Pick", "input": "", "response1": "x", "response2": "y",
     "annotator1": 1, "annotator2": 2, "annotator3": 0}
]"""


def test_pandalm_verdicts_against_testset(tmp_path: Path) -> None:
    write(tmp_path / "testset-v1.json", TESTSET)
    verdicts = [{"idx": 0, "gpt_result": "2", "gpt_reason": "r"}, {"idx": 1, "gpt_result": "Tie"},
                {"idx": 2, "gpt_result": "garbage"}, {"idx": 7, "gpt_result": "1"}]
    path = write(tmp_path / "gpt-3.5-turbo-testset-v1.json", json.dumps(verdicts, indent=1))
    name, items, bad = read(path)  # the test set is found next to the verdict file
    assert name == "pandalm"
    assert [i.id for i in items] == ["0", "1", "2"] and len(bad) == 1 and "not in the test set" in bad[0].message
    a, b, c = items
    assert a.verdicts[0].judge == "gpt-3.5-turbo" and a.verdicts[0].choice == 1
    assert a.label == 1 and a.metadata["human_label"] == 1 and a.instruction.endswith("a long sentence")
    assert b.verdicts[0].tie and b.metadata["human_label"] == "tie" and b.label is None
    assert b.metadata["annotators"] == [0, 0, None]   # bare NaN read as missing
    assert c.verdicts[0].choice is None and not c.verdicts[0].tie and c.verdicts[0].raw == "garbage"
    assert "human_label" not in c.metadata  # 1/2/0: no majority


def test_pandalm_without_testset_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path / "x-testset-v1.json", json.dumps([{"idx": 0, "x_result": 1}]))
    with pytest.raises(ConfigError, match=r"--join testset-v1\.json"):
        read(path)


# --- judgebench / mtbench / alpacaeval --------------------------------------------------


def test_judgebench_two_judgments_second_swapped(tmp_path: Path) -> None:
    rows = [
        {"pair_id": "p1", "question": "q", "response_A": "ra", "response_B": "rb", "label": "A>B",
         "judge_name": "arena_hard", "judgments": [{"judgment": {"judge_model": "gpt-4o"}, "decision": "A>B"},
                                                   {"judgment": {"judge_model": "gpt-4o"}, "decision": "A>B"}]},
        {"pair_id": "p2", "question": "q", "response_A": "ra", "response_B": "rb", "label": "B>A",
         "judge_name": "arena_hard", "judgments": [None, {"judgment": {}, "decision": "A=B"}]},
        {"pair_id": "p3", "question": "q", "label": "A>B", "judgments": []},
    ]
    path = write(tmp_path / "out.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    name, items, bad = read(path)
    assert name == "judgebench" and [b.line for b in bad] == [3]
    p1, p2 = items
    assert p1.verdicts[0].judge == "arena_hard:gpt-4o"
    # second judgment shown B then A: "A>B" there picks original candidate 1
    assert [(v.order, v.choice) for v in p1.verdicts] == [([0, 1], 0), ([1, 0], 1)]
    assert p2.label == 1 and p2.verdicts[0].choice is None and p2.verdicts[1].tie


def test_mtbench_pairwise_judgments(tmp_path: Path) -> None:
    prompt = ("[User Question]\nWrite a haiku.\n\n[The Start of Assistant A's Answer]\nleaves fall\n"
              "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\nan autumn poem, long\n"
              "[The End of Assistant B's Answer]")
    rows = [{"question_id": 81, "model_1": "m1", "model_2": "m2", "g1_winner": "model_1", "g2_winner": "model_2",
             "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": prompt, "turn": 1},
            {"question_id": 82, "model_1": "m1", "model_2": "m2", "g1_winner": "tie", "g2_winner": "error",
             "judge": ["gpt-4", "pair-v2"], "turn": 1}]
    path = write(tmp_path / "gpt-4_pair.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    name, items, bad = read(path)
    assert name == "mtbench" and not bad
    a, b = items
    assert a.instruction == "Write a haiku." and a.candidates == ["leaves fall", "an autumn poem, long"]
    assert a.verdicts[0].judge == "gpt-4/pair-v2"
    assert [(v.order, v.choice) for v in a.verdicts] == [([0, 1], 0), ([1, 0], 1)]
    assert b.candidates == ["", ""] and b.verdicts[0].tie and b.verdicts[1].choice is None


def test_alpacaeval_annotations(tmp_path: Path) -> None:
    rows = [{"instruction": "tips", "output_1": "base", "output_2": "model answer", "generator_1": "gpt4",
             "generator_2": "mine", "annotator": "weighted_gpt4", "preference": 1.73},
            {"instruction": "t2", "output_1": "a", "output_2": "b", "annotator": "weighted_gpt4", "preference": 1.5},
            {"instruction": "t3", "output_1": "a", "output_2": "b", "annotator": "weighted_gpt4", "preference": None},
            {"instruction": "t4", "output_1": "a", "output_2": "b", "annotator": "weighted_gpt4", "preference": 7}]
    path = write(tmp_path / "annotations.json", json.dumps(rows))
    name, items, bad = read(path)
    assert name == "alpacaeval" and len(bad) == 1 and "outside 1..2" in bad[0].message
    a, b, c = items
    assert a.verdicts[0].choice == 1 and a.verdicts[0].probs == pytest.approx([0.27, 0.73])
    assert a.metadata["generator_2"] == "mine" and a.verdicts[0].judge == "weighted_gpt4"
    assert b.verdicts[0].tie and c.verdicts[0].choice is None


# --- streaming JSON ---------------------------------------------------------------------


def test_json_array_streams_with_line_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "BLOCK", 7)  # force many partial buffers
    text = '[\n {"a": 1},\n {"a": "x\\ny", "b": NaN},\n\n {"a": 12345678}\n]\n'
    recs = list(jsonstream.iter_json(write(tmp_path / "a.json", text)))
    assert [r[0] for r in recs] == [2, 3, 5]
    assert recs[2][1] == {"a": 12345678}
    assert jsonstream.missing(recs[1][1]["b"])
    with pytest.raises(InputError, match="line 3"):
        list(jsonstream.iter_json(write(tmp_path / "b.json", '[\n {"a": 1},\n {"a": oops}\n]')))


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        open_input(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="cannot tell the input format"):
        open_input(write(tmp_path / "x.json", '{"foo": 1}\n'))
    with pytest.raises(ConfigError, match="unknown input format"):
        open_input(write(tmp_path / "y.jsonl", '{"foo": 1}\n'), "nope")
    assert isinstance(Pending(1, "x"), Pending)
