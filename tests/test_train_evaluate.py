"""Evaluation of a detector backend, and the ``debias train`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from debias.cli import main
from debias.errors import ConfigError
from debias.testing import ScriptedBackend
from debias.types import Item
from detectors.training.evaluate import adapter_backend, evaluate
from detectors.training.records import BiasPair, JudgedPair, TrainExample, read_records

REPLIES = {
    "p0": "<think>The order decided it.</think>\nYes",   # gold Yes -> TP
    "p1": "<think>The order decided it.</think>\nYes",   # gold No  -> FP
    "p2": "<think>I keep thinking and never answer",     # gold Yes -> unparseable, FN
    "p3": "<think>Content decided it.</think>\nNo",      # gold No  -> TN
}


def ex(k: int, bias: str = "position") -> TrainExample:
    return TrainExample(id=f"e{k}", bias=bias, prompt=f"prompt p{k}", label="Yes" if k % 2 == 0 else "No")


def reply(messages: list[dict[str, str]]) -> str:
    return REPLIES[messages[0]["content"].split()[-1]]


def test_evaluate_metrics_hand_computed_and_resumable(tmp_path: Path) -> None:
    backend = ScriptedBackend(reply, name="adapter-double")
    out = tmp_path / "eval.jsonl"
    data = [ex(0), ex(1), ex(2), ex(3, "bandwagon")]
    report = evaluate(data, backend, out, batch_size=3)
    m = report.metrics
    assert (m["tp"], m["fp"], m["fn"], m["tn"], m["missing"]) == (1, 1, 1, 1, 1)
    assert m["accuracy"] == 0.5 and m["precision"] == 0.5 and m["recall"] == 0.5 and m["f1"] == 0.5
    assert report.unparseable == 1 and report.well_formed == 3
    assert report.per_bias["bandwagon"]["tn"] == 1 and report.per_bias["position"]["n"] == 3
    again = evaluate(data, backend, out)
    assert again.evaluated == 0 and len(backend.requests) == 4 and again.metrics == m
    summary = json.loads((tmp_path / "eval.summary.json").read_text())
    assert summary["metrics"]["f1"] == 0.5


def test_adapter_without_card_needs_a_base(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"card\.json"):
        adapter_backend(tmp_path)


def write_items(path: Path) -> None:
    items = [Item(id=f"i{k}", task="pairwise", instruction="Capital of France?",
                  candidates=["Paris.", "Lyon."], label=k % 2) for k in range(3)]
    path.write_text("".join(i.model_dump_json() + "\n" for i in items), encoding="utf-8")


def test_cli_construct_then_collect(tmp_path: Path) -> None:
    items, pairs, judged = tmp_path / "items.jsonl", tmp_path / "pairs.jsonl", tmp_path / "judged.jsonl"
    write_items(items)
    code = main(["train", "construct", str(items), "--out", str(pairs), "--biases",
                 "position,bandwagon", "--bandwagon-template", "{pct}% pick {label}", "--quiet",
                 "--no-cache"])
    assert code == 0
    recs = [p for _, p in read_records(pairs, BiasPair)]
    assert len(recs) == 6
    assert {p.biased.item.cue for p in recs if p.bias == "bandwagon"} == {"90% pick Output (b)",
                                                                          "90% pick Output (a)"}
    code = main(["train", "collect", str(pairs), "--judge", "scripted:position=1", "--out",
                 str(judged), "--quiet", "--no-cache"])
    assert code == 0
    labels = {r.id: r.label for _, r in read_records(judged, JudgedPair)}
    assert labels["i0:position"] == "Yes" and labels["i1:position"] == "No"
    assert labels["i0:bandwagon"] == "No"  # a position-only judge ignores the cue


def test_cli_reports_failed_records_and_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    write_items(items)
    code = main(["train", "construct", str(items), "--biases", "verbosity", "--quiet", "--no-cache"])
    assert code == 1  # no generator: every verbosity pair failed (retried on re-run)
    assert "needs a generator model" in capsys.readouterr().out
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    assert main(["train", "finetune", str(data), "--out", str(tmp_path / "o"), "--lr", "0"]) == 2
    err = capsys.readouterr().err
    assert "lr" in err and "0.0" in err
    assert main(["train", "finetune", str(data), "--out", str(tmp_path / "o"),
                 "--target-modules", " , "]) == 2
    assert "target_modules" in capsys.readouterr().err
    assert main(["train", "evaluate", str(data)]) == 2
    assert "--adapter" in capsys.readouterr().err
