"""Calibration runner (benchmarks/detect_calibration.py) on small synthetic data folders."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFUSAL = "I'm sorry, but I cannot help with that request."
SHORT = "Paris."
LONG = "The capital of France is Paris, which has been the seat of government for centuries."


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("detect_calibration", ROOT / "benchmarks" / "detect_calibration.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def arena(a: str, b: str, gt: int) -> dict[str, Any]:
    return {"id": 1, "prompt": "q", "ground_truth_original": gt, "ground_truth_reversed": 3 - gt,
            "original": {"model_a": "m1", "model_b": "m2", "response_a": a, "response_b": b},
            "reversed": {"model_a": "m2", "model_b": "m1", "response_a": b, "response_b": a}}


def make_data(root: Path) -> None:
    bias4 = root / "rbd-bias4-eval"
    dump(bias4 / "Arena_Position_and_Bandwagon.json", [
        arena(LONG, REFUSAL, 1),     # one non-answer, the answer wins; longer wins
        arena(REFUSAL, LONG, 1),     # one non-answer, the refusal wins; shorter wins
        arena(SHORT, LONG, 2),       # longer wins
        arena(SHORT, LONG, 1),       # shorter wins
    ])
    dump(bias4 / "ScienceQA_Sentiment.json", [
        {"answer": 1, "sentiment_choices": [
            "Brilliantly, the sentence uses the past tense, a great and lively pick!",
            "It uses the present tense, a form that hardly inspires joy, lacking any real charm or beauty.",
            "It is the future tense, a fine choice."]},
        {"answer": 0, "sentiment_choices": ["Sadly, it is merely a dull, mundane rock.",
                                            "Wonderfully, it is a delightful, glorious plant!"]},
        # only the negative-polar-question rule finds the reworded option (1)
        {"answer": 1, "sentiment_choices": ["Isn't it wonderful that the answer is the sun?",
                                            "Isn't it dreary that the answer is the moon?",
                                            "A fine, lovely star!"]},
    ])
    dump(bias4 / "GSM8K_Verbosity.json", [
        {"question": "q", "single_correct_answer": "12", "gemma_answer": "3 * 4 = 12 apples. #### 12"},
        {"question": "q", "single_correct_answer": "7", "gemma_answer": "2 + 3 = 5. So the answer is 5."},
    ])
    dump(root / "pandalm" / "testset-v1.json", [
        {"idx": 0, "response1": LONG, "response2": SHORT, "annotator1": 1, "annotator2": 1, "annotator3": 2},
        {"idx": 1, "response1": SHORT, "response2": LONG, "annotator1": 1, "annotator2": 1, "annotator3": 0},
        {"idx": 2, "response1": SHORT, "response2": LONG, "annotator1": 2, "annotator2": 1, "annotator3": 0},
    ])
    dump(root / "pandalm" / "gpt-3.5-turbo-testset-v1.json",
         [{"idx": 0, "gpt_result": "1"}, {"idx": 1, "gpt_result": "2"}, {"idx": 2, "gpt_result": "1"}])
    dump(root / "pandalm" / "pandalm-7b-testset-v1.json",
         [{"idx": 0, "pandalm_result": 1}, {"idx": 1, "pandalm_result": 1}, {"idx": 2, "pandalm_result": 0}])
    dump(root / "llmbar" / "Natural" / "dataset.json",
         [{"input": "q", "output_1": SHORT, "output_2": LONG, "label": 2}])
    dump(root / "evalbiasbench" / "biasbench.json",
         {"length bias": [{"instruction": "q", "response1": SHORT, "response2": LONG, "label": 1}]})


def test_calibration_figures_on_synthetic_data(runner: ModuleType, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    make_data(tmp_path / "data")
    out = tmp_path / "cal.json"
    assert runner.main(["--data-dir", str(tmp_path / "data"), "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    na = report["bandwagon_non_answer"]
    assert (na["k"], na["n"], na["pairs"]) == (1, 2, 4)
    assert na["log_odds"] == 0.0  # 1 of 2: even odds
    sent = report["sentiment"]
    assert sent["lowest_tone_is_reworded_without_negation_scope"]["k"] == 2
    assert sent["lowest_tone_is_reworded_with_negation_scope"]["k"] == 3
    assert float(sent["best_temperature_of_grid"]) in runner.TEMPERATURES
    assert sent["before_later_rules"]["lowest_tone_is_reworded"]["k"] == 2
    assert sent["default"]["lowest_tone_is_reworded"]["k"] == 3
    assert (sent["default"]["fixed"], sent["default"]["broken"]) == (1, 0)
    rules = sent["rules_each_turned_off"]
    assert set(rules) == set(runner.SENTIMENT_RULES)
    assert rules["negation_scope"]["fixed"] == 1 and rules["rhetorical_questions"]["fixed"] == 1
    assert rules["rhetorical_questions"]["without"]["lowest_tone_is_reworded"]["k"] == 2
    assert rules["derived_forms"]["fixed"] == 0 and rules["derived_forms"]["broken"] == 0
    assert sum(sent["best_temperature_bootstrap"]["argmax_counts"].values()) == runner.BOOTSTRAP
    assert sent["detector_temperature"] == 0.05 and "reliability_at_temperature_0.05" in sent
    length = report["length_prior"]
    assert length["arena_human_winner_is_longer"]["overall"]["k"] == 2
    assert length["arena_human_winner_is_longer"]["overall"]["n"] == 4
    gpt = length["pandalm_judge_agrees_with_human_majority"]["gpt-3.5-turbo"]
    # idx 0: humans 1 (longer), judge 1; idx 1: humans 1 (shorter), judge 2; idx 2: no majority.
    assert (gpt["winner_longer"]["k"], gpt["winner_longer"]["n"]) == (1, 1)
    assert (gpt["winner_shorter"]["k"], gpt["winner_shorter"]["n"]) == (0, 1)
    panda = length["pandalm_judge_agrees_with_human_majority"]["pandalm-7b"]
    assert panda["winner_longer"]["k"] == 1 and panda["winner_shorter"]["k"] == 1
    assert length["llmbar_better_is_longer"]["Natural"]["k"] == 1
    assert length["evalbiasbench_better_is_longer"]["length bias"]["k"] == 0
    verb = report["verbosity"]
    assert verb["long_answer_reaches_reference_number"]["k"] == 1
    assert verb["reference_is_concise"]["k"] == 2
    assert report["command"] == "python benchmarks/detect_calibration.py"


def test_non_answer_log_odds(runner: ModuleType, tmp_path: Path) -> None:
    bias4 = tmp_path / "rbd-bias4-eval"
    pairs = [arena(LONG, REFUSAL, 1)] * 3 + [arena(REFUSAL, LONG, 1)]
    dump(bias4 / "Arena_Position_and_Bandwagon.json", pairs)
    excluded: dict[str, int] = {}
    out = runner.non_answer_calibration(tmp_path, set(), excluded)
    assert (out["k"], out["n"]) == (3, 4)
    assert excluded == {"Arena_Position_and_Bandwagon": 0}
    assert out["log_odds"] == pytest.approx(math.log(3), abs=1e-3)


def test_items_of_the_dev_csv_are_left_out(runner: ModuleType, tmp_path: Path, write_rbd_csv: Any) -> None:
    data = tmp_path / "data"
    make_data(data)
    (data / "rbd-reasoning-dev").mkdir()
    write_rbd_csv(data / "rbd-reasoning-dev" / "dev.csv")
    arena_file = data / "rbd-bias4-eval" / "Arena_Position_and_Bandwagon.json"
    pairs = json.loads(arena_file.read_text(encoding="utf-8"))
    # The fixture's bandwagon row judges this pair: a calibration must not reuse it.
    dump(arena_file, [*pairs, arena("Chess.", "OpenXcom, an open-source remake.", 1)])
    default, everything = tmp_path / "a.json", tmp_path / "b.json"
    assert runner.main(["--data-dir", str(data), "--out", str(default)]) == 0
    assert runner.main(["--data-dir", str(data), "--exclude", "none", "--out", str(everything)]) == 0
    left_out = json.loads(default.read_text(encoding="utf-8"))
    kept = json.loads(everything.read_text(encoding="utf-8"))
    assert left_out["excluded"]["items"]["Arena_Position_and_Bandwagon"] == 1
    assert left_out["bandwagon_non_answer"]["pairs"] == 4
    assert kept["excluded"] == {"source": "none", "items": {
        "ScienceQA_Sentiment": 0, "Arena_Position_and_Bandwagon": 0, "GSM8K_Verbosity": 0}}
    assert kept["bandwagon_non_answer"]["pairs"] == 5
    assert kept["command"].endswith("--exclude none")


def test_missing_data_is_skipped(runner: ModuleType, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cal.json"
    assert runner.main(["--data-dir", str(tmp_path / "nowhere"), "--out", str(out)]) == 0
    assert not out.exists()
    assert "SKIPPED" in capsys.readouterr().err
