"""``debias bench e2e`` end to end: the sanity suite's known outcome, resuming, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from debias.bench_e2e.report import render_table
from debias.bench_e2e.runner import RESULTS, SESSIONS, E2EConfig, judge_slug, run_e2e
from debias.bench_e2e.sanity import SANITY_GROUPS
from debias.cli import main
from debias.errors import ConfigError

BIASED = ("position", "bandwagon", "verbosity", "sentiment")
G = len(SANITY_GROUPS)
#: Judges that ignore feedback (all or half of the time), alone or with a second (position) bias,
#: whose counterfactual probes carry the information: the final verdict must be right.
NON_COMPLIANT = ("position-stubborn", "bandwagon-stubborn", "bandwagon-half", "verbosity-stubborn",
                 "verbosity-half", "sentiment-stubborn", "sentiment-half", "cue+position",
                 "verbosity+position", "sentiment+position")


def _cfg(tmp_path: Path, **kw: object) -> E2EConfig:
    base = {"suite": "sanity", "limit": 6, "run_dir": tmp_path / "run", "json_out": tmp_path / "s.json",
            "n_boot": 200, "progress": False}
    return E2EConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_sanity_suite_recovers_injected_bias_without_over_correction(tmp_path: Path) -> None:
    report = run_e2e(_cfg(tmp_path))
    assert json.loads((tmp_path / "s.json").read_text())["sample"] == report["sample"]
    assert report["sample"] == {g: 6 for g in SANITY_GROUPS}
    assert report["rewriter"] == "ScriptedRewriter"
    assert report["detectors"] == "position,bandwagon,verbosity,sentiment"
    for group in BIASED:
        r = report["groups"][group]["rates"]
        assert r["bias_label_rate"]["value"] > 0, group  # the injected bias shows up
        assert r["accuracy_bias_before"]["value"] < 1.0, group
        assert r["detection_recall"]["value"] == 1.0, group
        assert r["accuracy_bias_after"]["value"] == 1.0, group
        assert r["consistency_after"]["value"] == 1.0, group
    for group, block in report["groups"].items():
        if group in ("position-slot", "position-half"):
            continue  # a slot follower's right answers are luck; see the test below
        r = block["rates"]
        assert r["over_correction_d"]["value"] == 0.0, group
        assert r["over_correction_bias"]["value"] == 0.0, group
        assert block["control_check"]["ok"] is True, group
        assert block["errors"]["count"] == 0, group
    clean = report["groups"]["clean"]
    assert clean["rates"]["flag_rate_bias"]["value"] == 0.0
    assert clean["rates"]["flag_rate_d"]["value"] == 0.0
    assert clean["status"] == {"D": {"clean": 6}, "D_bias": {"clean": 6}}
    assert clean["rates"]["detection_recall"]["value"] is None  # no labels to recall
    # probes are paid for: at least the first judgement plus one probe on flagged items
    assert report["groups"]["position"]["cost"]["per_item"]["calls"] > 1.0
    assert report["judges"]["bandwagon"].startswith("scripted[cue=0.7")
    assert "position_consistency_after" in report["groups"]["position"]["rates"]
    assert "position_consistency_after" not in report["groups"]["bandwagon"]["rates"]


def test_judges_that_ignore_feedback_get_the_counterfactual_verdict(tmp_path: Path) -> None:
    report = run_e2e(_cfg(tmp_path, limit=8))
    for group in NON_COMPLIANT:
        block = report["groups"][group]
        r = block["rates"]
        assert r["accuracy_bias_before"]["value"] < 1.0, group
        assert r["accuracy_bias_after"]["value"] == 1.0, group
        assert r["accuracy_d_after"]["value"] == 1.0, group
        assert r["tie_rate_bias_after"]["value"] == 0.0, group
        assert block["status"]["D_bias"].get("resolved", 0) > 0, group
    # stubborn judges never revise; the resolution says where each final verdict came from
    assert set(report["groups"]["sentiment-stubborn"]["resolution"]["D_bias"]) <= {"accepted", "aggregate",
                                                                                     "counterfactual"}
    # a judge that always answers the first slot carries no information: ties, not coin flips
    slot = report["groups"]["position-slot"]
    assert slot["resolution"] == {"D": {"tie": 8}, "D_bias": {"tie": 8}}
    assert slot["rates"]["tie_rate_bias_after"]["value"] == 1.0
    assert slot["rates"]["accuracy_bias_half_after"]["value"] == 0.5
    assert slot["status"]["D_bias"] == {"unresolved": 8}


def test_runs_resume_and_a_larger_limit_extends_the_sample(tmp_path: Path) -> None:
    first = run_e2e(_cfg(tmp_path, limit=3))
    assert first["wall_time"]["items_judged"] == 6 * G
    second = run_e2e(_cfg(tmp_path, limit=5))
    sessions = [json.loads(x) for x in (tmp_path / "run" / SESSIONS).read_text().splitlines()]
    assert [s["items"] for s in sessions] == [6 * G, 4 * G]
    assert sessions[1]["resumed"] == 6 * G
    lines = (tmp_path / "run" / RESULTS).read_text().splitlines()
    assert len(lines) == 10 * G and len({json.loads(x)["id"] for x in lines}) == 10 * G
    assert second["sample"]["position"] == 5
    again = run_e2e(_cfg(tmp_path, limit=5))
    assert again["groups"]["position"]["rates"] == second["groups"]["position"]["rates"]
    # the items the middleware saw carried no gold label
    assert all(json.loads(x)["label"] is None for x in lines)


def test_a_run_folder_refuses_other_settings_unless_fresh(tmp_path: Path) -> None:
    run_e2e(_cfg(tmp_path, limit=2))
    with pytest.raises(ConfigError, match=r"max_rounds: 2 -> 1.*--fresh"):
        run_e2e(_cfg(tmp_path, limit=2, max_rounds=1))
    report = run_e2e(_cfg(tmp_path, limit=2, max_rounds=1, fresh=True))
    assert report["max_rounds"] == 1 and report["wall_time"]["sessions"] == 1


def test_flag_only_middleware_changes_no_verdict(tmp_path: Path) -> None:
    report = run_e2e(_cfg(tmp_path, limit=4, detectors="position:policy=flag"))
    assert report["groups"]["position"]["rates"]["flag_rate_bias"]["value"] > 0
    for group, block in report["groups"].items():
        r = block["rates"]
        for form in ("d", "bias"):
            assert r[f"accuracy_{form}_after"]["value"] == r[f"accuracy_{form}_before"]["value"], group
            assert r[f"over_correction_{form}"]["value"] == 0.0, group
            assert r[f"fixed_{form}"]["value"] == 0.0, group
        assert block["status"]["D"].get("revised", 0) == 0, group


def test_cli_on_a_data_suite_with_a_scripted_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, write_llmbar) -> None:
    write_llmbar(tmp_path / "data", n=4)
    out = tmp_path / "llmbar.json"
    code = main(["bench", "e2e", "--suite", "llmbar", "--judge", "scripted:position=1",
                 "--data-dir", str(tmp_path / "data"), "--limit", "4", "--detectors", "position",
                 "--run-dir", str(tmp_path / "run"), "--json", str(out), "--n-boot", "100", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "[Natural] 4 cases" in printed and f"wrote {out}" in printed
    report = json.loads(out.read_text())
    assert report["command"].startswith("debias bench e2e --suite llmbar --judge scripted:position=1")
    for block in report["groups"].values():
        r = block["rates"]
        assert r["agreement_before"]["value"] == 0.0  # always the first slot
        assert r["position_consistency_before"] == r["agreement_before"]
        assert r["agreement_after"]["value"] == 1.0
        assert r["accuracy_bias_after"]["value"] == 1.0
        assert r["bias_label_rate"]["value"] == 0.5  # gold first in half the pairs
        assert r["detection_recall"]["value"] == 1.0
        assert r["detection_precision"]["value"] == 0.5  # the other half is inconsistent too
    assert report["judges"] == {"all": "scripted:position=1"}

    # a finished run is summarised again without building (loading) the judge
    def no_judge(*_: object) -> None:
        raise AssertionError("the judge was built although every item is finished")

    monkeypatch.setattr("debias.bench_e2e.runner.make_judge", no_judge)
    assert main(["bench", "e2e", "--suite", "llmbar", "--judge", "scripted:position=1",
                 "--data-dir", str(tmp_path / "data"), "--limit", "4", "--detectors", "position",
                 "--run-dir", str(tmp_path / "run"), "--json", str(out), "--n-boot", "100",
                 "--quiet"]) == 0
    assert json.loads(out.read_text())["groups"] == report["groups"]
    table = render_table([report])
    assert table.count("| llmbar (scripted:position=1) |") == 4  # three subsets and the pooled row
    assert "0.00 → 1.00" in table
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len({row.count("|") for row in rows}) == 1  # header, rule and rows line up


def test_judge_slug() -> None:
    assert judge_slug("local") == "smollm2"
    assert judge_slug("openai/gpt-4o-mini") == "openai-gpt-4o-mini"
    assert judge_slug("hosted_vllm/Qwen/Qwen2.5-7B") == "hosted-vllm-qwen-qwen2.5-7b"


def test_without_paths_nothing_is_written_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("DEBIAS_CACHE_DIR", str(tmp_path / "cache"))
    report = run_e2e(E2EConfig(suite="sanity", limit=2, n_boot=0, progress=False))
    assert report["_path"] is None
    assert (tmp_path / "cache" / "bench-e2e" / "sanity-scripted" / RESULTS).exists()
    assert main(["bench", "e2e", "--suite", "sanity", "--limit", "2", "--n-boot", "0", "--quiet"]) == 0
    assert "wrote" not in capsys.readouterr().out
    assert list(cwd.iterdir()) == []
