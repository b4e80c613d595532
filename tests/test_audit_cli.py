"""``debias audit`` end to end: exit codes 0/1/2, outputs, gates, parallel determinism."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from debias.audit import AuditConfig, audit, check_gates, parse_gate
from debias.cli import main
from debias.errors import ConfigError


def make_items(path: Path, n: int = 120, seed: int = 0, bad_lines: int = 1) -> Path:
    """A judge that follows the first display slot 30% of the time and the cue 40%."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        label = rng.randint(0, 1)
        cands = ["short", "a considerably longer answer " * rng.randint(1, 5)]
        rng.shuffle(cands)

        def pick(order: list[int], label: int = label) -> int:
            if rng.random() < 0.3:
                return order[0]
            return label if rng.random() < 0.8 else 1 - label

        cue = f"90% believe that Output ({'ab'[1 - label]}) is better" if i % 2 else None
        verdicts = [{"judge": f"judge-{i % 3}", "order": [0, 1], "choice": pick([0, 1]), "with_cue": cue is None},
                    {"judge": f"judge-{i % 3}", "order": [1, 0], "choice": pick([1, 0]), "with_cue": cue is None}]
        if cue:
            follow = rng.random() < 0.4
            verdicts.append({"judge": f"judge-{i % 3}", "order": [0, 1],
                             "choice": 1 - label if follow else pick([0, 1]), "with_cue": True})
        lines.append(json.dumps({"id": f"i{i}", "task": "pairwise", "instruction": "q", "candidates": cands,
                                 "label": label, "cue": cue, "verdicts": verdicts}))
    lines += ["{broken"] * bad_lines
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_exit_0_writes_json_flagged_and_prints_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_items(tmp_path / "in.jsonl")
    out, flagged = tmp_path / "m.json", tmp_path / "flagged.jsonl"
    code = main(["audit", str(src), "--json", str(out), "--flagged", str(flagged), "--bootstrap", "200",
                 "--fail-on", "position_consistency<0.05"])
    assert code == 0
    printed = capsys.readouterr()
    assert "| `position_consistency` |" in printed.out and "pass position_consistency<0.05" in printed.out
    assert "line 121: invalid JSON" in printed.out and "1 bad record" in printed.err
    data = json.loads(out.read_text())
    assert data["items"] == 120 and data["bad_records"] == 1 and data["bad_examples"][0]["line"] == 121
    assert set(data["judges"]) == {"judge-0", "judge-1", "judge-2"}
    pc = data["metrics"]["overall"]["position_consistency"]
    assert 0 < pc["value"] < 1 and pc["ci"][0] <= pc["value"] <= pc["ci"][1] and pc["n"] == 120
    assert data["metrics"]["judge-1"]["position_consistency"]["n"] == 40
    assert data["gates"][0]["failed"] is False
    lines = flagged.read_text().splitlines()
    assert len(lines) == sum(data["flagged_count"].values()) > 0
    assert {"id", "line", "judge", "detector", "bias", "values"} <= set(json.loads(lines[0]))


def test_exit_1_when_a_gate_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_items(tmp_path / "in.jsonl", bad_lines=0)
    code = main(["audit", "--bootstrap", "100", "--detectors", "none",
                 "--fail-on", "position_consistency<0.99", "accuracy[*].n<1", str(src)])
    assert code == 1
    err = capsys.readouterr().err
    assert "gate failed: FAIL position_consistency<0.99: position_consistency = 0." in err
    assert "accuracy[" not in err  # the n-gates passed for every judge


def test_gate_on_unavailable_metric_fails_with_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_items(tmp_path / "in.jsonl", bad_lines=0)
    assert main(["audit", str(src), "--quiet", "--bootstrap", "50", "--fail-on", "reask_consistency<0.9",
                 "--fail-on", "accuracy[nobody]<0.5"]) == 1
    err = capsys.readouterr().err
    assert "reask_consistency is unavailable (no verdict was repeated" in err
    assert "no judge 'nobody'" in err


@pytest.mark.parametrize("argv", [
    ["audit", "MISSING.jsonl"],
    ["audit", "IN", "--format", "nope"],
    ["audit", "IN", "--fail-on", "position_consistency<<0.8"],
    ["audit", "IN", "--fail-on", "positon_consistency<0.8"],
    ["audit", "IN", "--detectors", "no-such-detector"],
    ["audit", "IN", "--map", "colour"],
    ["audit", "BAD"],
    ["audit", "IN", "--bootstrap", "-5"],
    ["audit"],
])
def test_exit_2_for_bad_input_or_usage(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_items(tmp_path / "in.jsonl", n=10, bad_lines=0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n[1, 2]\n", encoding="utf-8")
    argv = [str(src) if a == "IN" else str(bad) if a == "BAD" else str(tmp_path / a) if a.endswith(".jsonl") else a
            for a in argv]
    assert main(argv) == 2
    assert "debias: error:" in capsys.readouterr().err


def test_strict_turns_bad_records_into_exit_2(tmp_path: Path) -> None:
    src = make_items(tmp_path / "in.jsonl", n=10)
    assert main(["audit", str(src), "--quiet", "--bootstrap", "0"]) == 0
    assert main(["audit", str(src), "--quiet", "--bootstrap", "0", "--strict"]) == 2


def test_list_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--list-formats"]) == 0
    out = capsys.readouterr().out
    for name in ("jsonl", "csv", "rbd-csv", "rbd-bias4", "pandalm", "judgebench", "mtbench", "alpacaeval"):
        assert f"  {name}: " in out


def test_parallel_workers_give_identical_results(tmp_path: Path) -> None:
    src = make_items(tmp_path / "in.jsonl", n=300)
    one = audit(src, AuditConfig(n_boot=100, jobs=1, chunk_size=37))
    two = audit(src, AuditConfig(n_boot=100, jobs=2, chunk_size=37))
    a, b = one.to_json(), two.to_json()
    for d in (a, b):
        d.pop("elapsed_s")
        d["settings"].pop("jobs")
    assert a == b


def test_gate_parser() -> None:
    g = parse_gate(" cohen_kappa[gpt-4o/v2].lo <= 40% ")
    assert (g.metric, g.judge, g.field, g.op, g.threshold) == ("cohen_kappa", "gpt-4o/v2", "lo", "<=", 0.4)
    g = parse_gate("rbd_accuracy.position>=0.7")
    assert (g.metric, g.judge, g.field) == ("rbd_accuracy.position", None, "value")
    assert parse_gate("findings_rate.verbosity[*].n>10").judge == "*"
    for bad in ("position_consistency", "__import__('os')<1", "accuracy < x", "accuracy[a]b<1"):
        with pytest.raises(ConfigError):
            parse_gate(bad)


def test_check_gates_semantics(tmp_path: Path) -> None:
    res = audit(make_items(tmp_path / "in.jsonl", bad_lines=0), AuditConfig(n_boot=100, detectors="none"))
    pc = res.metric("position_consistency")
    gates = [parse_gate(f"position_consistency<{pc.value + 0.01}"), parse_gate(f"position_consistency<{pc.value}"),
             parse_gate("position_consistency.hi>=0.999"), parse_gate("position_consistency[*]>1")]
    out = check_gates(gates, res)
    assert [o.failed for o in out] == [True, False, False, False, False, False]
    assert {o.scope for o in out[3:]} == set(res.judges)
