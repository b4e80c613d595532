"""Detection benchmark: metrics, the cascade with model detectors, the CLI and the runner."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from debias.cli import main
from debias.contract import DetectContext, parse_detector_specs
from debias.types import Evidence, Finding
from detectors.bench import bench_detect_file, binary_metrics, run_detection_benchmark, wilson
from detectors.rbd_csv import iter_rbd_csv
from tests.test_detectors_rbd_csv import write_fixture

ROOT = Path(__file__).resolve().parents[1]


def test_binary_metrics() -> None:
    m = binary_metrics([(True, True), (True, False), (False, True), (False, False), (True, None)])
    assert (m.tp, m.fn, m.fp, m.tn, m.missing) == (1, 2, 1, 1, 1)
    assert m.accuracy == pytest.approx(2 / 5)
    assert m.precision == pytest.approx(0.5) and m.recall == pytest.approx(1 / 3, abs=1e-4)
    assert m.f1 == pytest.approx(0.4, abs=1e-4)
    empty = binary_metrics([])
    assert empty.n == 0 and empty.f1 == 0.0
    lo, hi = wilson(90, 100)
    assert lo < 0.9 < hi and lo > 0.8 and hi < 0.96


def test_fixture_benchmark_scores_every_row(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "fixture.csv")
    report = run_detection_benchmark(iter_rbd_csv(path), parse_detector_specs(
        "position,bandwagon,verbosity,sentiment"), include_rows=True)
    assert report["n"] == 8 and report["accuracy"] == 1.0 and report["f1"] == 1.0
    assert set(report["per_bias"]) == {"position", "bandwagon", "verbosity", "sentiment"}
    assert report["teacher"]["accuracy"] == pytest.approx(6 / 8)
    assert report["model_calls"] == 0
    assert report["errors_by_rule"] == {}
    assert len(report["row_outcomes"]) == 8
    assert all("instruction" not in r for r in report["row_outcomes"])


class StubModelDetector:
    """A model-backed detector double: always says Yes, one call per use."""

    name = "stub-model"
    version = "0"
    bias = "other"
    policy = "revise"

    def __init__(self, cascade: str) -> None:
        self.cascade = cascade
        self.seen: list[str] = []

    def detect(self, ctx: DetectContext, findings: list[Finding]) -> Finding:
        bias = ctx.item.metadata["bias_category"]
        self.seen.append(bias)
        return Finding(detector=self.name, bias=bias, detected=True, confidence=0.9, calls=1,
                       evidence=Evidence(values={"rule": "stub"}))

    async def adetect(self, ctx: DetectContext, findings: list[Finding]) -> Finding:
        return self.detect(ctx, findings)


def test_model_detectors_follow_the_cascade(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "fixture.csv")
    cheap = parse_detector_specs("position,bandwagon,verbosity,sentiment")
    always = StubModelDetector("always")
    report = run_detection_benchmark(iter_rbd_csv(path), [*cheap, always])
    assert report["model_calls"] == 8 and report["model_calls_per_item"] == 1.0
    assert report["accuracy"] == pytest.approx(4 / 8)  # the stub's Yes wins on every row
    on_signal = StubModelDetector("on-signal")
    report = run_detection_benchmark(iter_rbd_csv(path), [*cheap, on_signal])
    # Called only where a cheap finding fired or was ambiguous: never on confident "No" rows.
    assert 0 < report["model_calls"] < 8
    assert report["tn"] >= 3


def test_uncovered_biases_are_left_out(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "fixture.csv")
    report = bench_detect_file(path, "position")
    assert report["n"] == 2 and report["uncovered_rows"] == 6
    assert list(report["per_bias"]) == ["position"]


def test_cli_bench_detect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_fixture(tmp_path / "fixture.csv")
    out = tmp_path / "res" / "detect.json"
    assert main(["bench", "detect", "--data", str(data), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for key in ("accuracy", "precision", "recall", "f1", "per_bias", "teacher", "model_calls",
                "time_per_item_s", "command", "data", "detectors"):
        assert key in report
    assert report["teacher"]["label_column"] == "deepseek_prediction_bias_label"
    printed = capsys.readouterr().out
    assert "teacher (all)" in printed and "detectors (all)" in printed


def test_cli_bench_detect_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "detect", "--data", str(tmp_path / "absent.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("index,bias_category\n1,position\n", encoding="utf-8")
    assert main(["bench", "detect", "--data", str(bad)]) == 2
    assert "missing column" in capsys.readouterr().err
    data = write_fixture(tmp_path / "fixture.csv")
    assert main(["bench", "detect", "--data", str(data), "--detectors", "nonsense"]) == 2
    assert main(["bench"]) == 2


def _load_runner():
    spec = importlib.util.spec_from_file_location("bench_detect_runner", ROOT / "benchmarks" / "detect.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner_skips_cleanly_without_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = _load_runner()
    out = tmp_path / "detect_dev.json"
    assert runner.main(["--data", str(tmp_path / "missing.csv"), "--out", str(out)]) == 0
    assert "SKIPPED" in capsys.readouterr().err
    assert not out.exists()
    data = write_fixture(tmp_path / "fixture.csv")
    assert runner.main(["--data", str(data), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["n"] == 8
