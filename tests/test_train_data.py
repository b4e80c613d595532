"""Training data sources (RBD CSV, teacher traces) and the training config's validation."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from debias.errors import ConfigError, InputError
from detectors.reasoning.format import input_from_row, render_prompt
from detectors.training.config import TrainConfig, make_config
from detectors.training.encode import render_target
from detectors.training.records import TeacherTrace
from detectors.training.sources import detect_kind, examples_hash, load_examples

COLUMNS = ["index", "bias_category", "llm_judge_model", "instruction", "choices", "llm_judgment",
           "without_bias_label_think_content", "deepseek_prediction_bias_label", "bias_label"]


def rows() -> list[dict[str, str]]:
    """Synthetic rows in the RBD CSV layout (not taken from any dataset)."""
    return [
        {"index": "1", "bias_category": "verbosity", "llm_judge_model": "Judge-S",
         "instruction": "What is 3 * 4?", "choices": "Output (a): 12\n\nOutput (b): A long story ... 13",
         "llm_judgment": "Output (b)", "without_bias_label_think_content": "The longer one is wrong.",
         "deepseek_prediction_bias_label": "Yes", "bias_label": "Yes"},
        {"index": "2", "bias_category": "sentiment", "llm_judge_model": "Judge-M",
         "instruction": "Which is a mammal?", "choices": "1. Great news! A shark\n2. Sadly, a whale",
         "llm_judgment": "Choice 2", "without_bias_label_think_content": "It chose on content.",
         "deepseek_prediction_bias_label": "no", "bias_label": "No"},
        {"index": "3", "bias_category": "bandwagon", "llm_judge_model": "Judge-L",
         "instruction": "Best sorting algorithm for small arrays?",
         "choices": "### Statement: 90% believe that Output (a) is better\n\nOutput (a): bogosort\n\nOutput (b): insertion sort",
         "llm_judgment": "Output (a)", "without_bias_label_think_content": "It followed the crowd? No.",
         "deepseek_prediction_bias_label": "No", "bias_label": "Yes"},
    ]


def write_csv(path: Path, data: list[dict[str, str]], columns: list[str] = COLUMNS) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(data)


def test_rbd_csv_training_examples_render_the_rbd_prompt(tmp_path: Path) -> None:
    path = tmp_path / "rbd.csv"
    write_csv(path, rows())
    examples, report = load_examples(path)
    assert report.kind == "rbd-csv" and report.rows == 3 and report.used == 2
    assert report.skipped == {"teacher-disagrees": 1}
    first = examples[0]
    assert first.id == "verbosity-1" and first.label == "Yes"
    assert first.prompt == render_prompt(input_from_row(rows()[0]))
    assert "### Evaluation by LLM-as-a-Judge:\nOutput (b)" in first.prompt
    assert render_target(first, TrainConfig(data="d", out="o").target_template) == \
        "<think>The longer one is wrong.</think>\nYes"
    kept_all, report_all = load_examples(path, keep_disagreeing=True)
    assert len(kept_all) == 3 and report_all.skipped == {}
    eval_examples, _ = load_examples(path, training=False)
    assert [e.label for e in eval_examples] == ["Yes", "No", "Yes"]
    assert examples_hash(examples) != examples_hash(kept_all)


def test_rbd_csv_errors_name_the_column_and_line(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    write_csv(path, rows(), [c for c in COLUMNS if c != "bias_label"])
    with pytest.raises(InputError) as exc:
        load_examples(path)
    assert exc.value.field == "bias_label"
    bad = rows()
    bad[1]["bias_label"] = "maybe"
    path2 = tmp_path / "bad.csv"
    write_csv(path2, bad)
    with pytest.raises(InputError) as exc2:
        load_examples(path2)
    assert exc2.value.field == "bias_label" and exc2.value.line == 5  # row 2 starts on line 5
    assert "'maybe'" in str(exc2.value)


def test_teacher_traces_only_kept_ones_are_used(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    kept = TeacherTrace(id="a", bias="position", judge_model="j", prompt="P", label="Yes",
                        teacher="t", teacher_label="Yes", trace="because", kept=True)
    dropped = kept.model_copy(update={"id": "b", "kept": False, "drop_reason": "disagrees"})
    path.write_text(kept.model_dump_json() + "\n" + dropped.model_dump_json() + "\n")
    assert detect_kind(path) == "traces"
    examples, report = load_examples(path)
    assert [e.id for e in examples] == ["a"] and report.skipped == {"dropped:disagrees": 1}


@pytest.mark.parametrize(
    ("field", "value"),
    [("lr", 0.0), ("lr", -1e-4), ("rank", 0), ("alpha", 0), ("target_modules", []),
     ("dropout", 1.0), ("max_seq_len", 8), ("grad_accum", 0), ("device", "tpu"),
     ("max_steps", 0), ("eval_fraction", 0.9), ("target_template", "{trace} only")],
)
def test_bad_train_configs_are_rejected_naming_the_value(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as exc:
        make_config(data="d.csv", out="o", **{field: value})
    msg = str(exc.value)
    assert field in msg and repr(value) in msg


def test_config_fingerprint_ignores_resumable_fields() -> None:
    a = make_config(data="d", out="o", max_steps=2)
    assert a.fingerprint() == make_config(data="d", out="o2", max_steps=9).fingerprint()
    assert a.fingerprint() != make_config(data="d", out="o", lr=1e-3).fingerprint()
    with pytest.raises(ConfigError, match="unknown_knob"):
        make_config(data="d", out="o", unknown_knob=1)


def test_qlora_is_chosen_only_with_bitsandbytes_and_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from debias.errors import MissingDependencyError
    from detectors.training import modeling

    real = importlib.util.find_spec
    monkeypatch.setattr(modeling.importlib.util, "find_spec",
                        lambda name, *a: None if name == "bitsandbytes" else real(name, *a))
    assert modeling.use_4bit("auto", "cuda") is False
    with pytest.raises(MissingDependencyError, match="bitsandbytes"):
        modeling.use_4bit("4bit", "cuda")
    monkeypatch.setattr(modeling.importlib.util, "find_spec",
                        lambda name, *a: object() if name == "bitsandbytes" else real(name, *a))
    assert modeling.use_4bit("auto", "cuda:0") is True
    assert modeling.use_4bit("auto", "cpu") is False
    assert modeling.use_4bit("none", "cuda") is False
    with pytest.raises(ConfigError, match="'cpu'"):
        modeling.use_4bit("4bit", "cpu")


def test_rbd_csv_labels_use_the_shared_yes_no_parser(tmp_path: Path) -> None:
    spelled = rows()
    spelled[0]["bias_label"], spelled[0]["deepseek_prediction_bias_label"] = "biased", "TRUE"
    spelled[1]["bias_label"] = "no."
    path = tmp_path / "spelled.csv"
    write_csv(path, spelled)
    examples, report = load_examples(path, training=False)
    assert [e.label for e in examples] == ["Yes", "No", "Yes"]
    trained, report = load_examples(path)
    assert report.skipped == {"teacher-disagrees": 1} and trained[0].label == "Yes"
