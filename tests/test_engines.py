"""Engines without Ray: the registry, Parquet and URI inputs for both commands, the
shared run plan (rate gate, cache), and the missing-extra error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from debias.cli import main
from debias.engines import engine_names, get_engine
from debias.engines.plan import RunPlan, build_debiaser
from debias.engines.sources import read_items, resolve
from debias.errors import ConfigError, InputError, MissingDependencyError
from debias.judges.chat import ChatJudge
from debias.runner import run_batch
from debias.testing import ScriptedBackend
from debias.types import Item

ROOT = Path(__file__).resolve().parents[1]


def _items(n: int) -> list[Item]:
    return [Item(id=f"i{k}", task="pairwise", instruction=f"q{k}", candidates=[f"a{k}", f"b{k}"], label=k % 2)
            for k in range(n)]


def _parquet(path: Path, rows: list[dict]) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_registry_lists_engines_and_refuses_unknown_ones() -> None:
    assert {"local", "ray"} <= set(engine_names())
    with pytest.raises(ConfigError, match=r"unknown engine 'spark'; known: .*local"):
        get_engine("spark")


def test_choosing_the_ray_engine_does_not_import_ray() -> None:
    code = ("import sys; from debias.engines import get_engine; get_engine('ray'); "
            "import debias.cli.audit, debias.cli.run; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "judge-debias\[ray\]"'):
        get_engine("ray").audit("x.jsonl", None)  # type: ignore[arg-type]
    src = tmp_path / "in.jsonl"
    src.write_text(_items(1)[0].model_dump_json() + "\n")
    assert main(["run", str(src), "--engine", "ray", "--judge", "scripted", "--quiet", "--no-cache"]) == 2
    assert "judge-debias[ray]" in capsys.readouterr().err


def test_local_engine_refuses_ray_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(_items(1)[0].model_dump_json() + "\n")
    assert main(["audit", str(src), "--ray-address", "auto", "--quiet"]) == 2
    assert "--ray-address needs --engine ray" in capsys.readouterr().err
    assert main(["run", str(src), "--judge", "scripted", "--workers", "3", "--quiet", "--no-cache"]) == 2
    assert "--workers needs --engine ray" in capsys.readouterr().err
    assert not (tmp_path / "in.debiased.jsonl").exists() or not (tmp_path / "in.debiased.jsonl").read_text()


def test_local_audit_reads_parquet_with_row_numbers(tmp_path: Path) -> None:
    rows = [{"id": f"p{k}", "task": "pairwise", "instruction": "q", "candidates": ["a", "bb"], "label": k % 2,
             "cue": None, "metadata": None,
             "verdicts": [{"judge": "j", "order": [0, 1], "choice": 0, "tie": None},
                          {"judge": "j", "order": [1, 0], "choice": 1 if k % 3 else 0, "tie": None}]}
            for k in range(30)]
    rows[7]["candidates"] = ["only one"]
    src = _parquet(tmp_path / "v.parquet", rows)
    out = tmp_path / "m.json"
    assert main(["audit", str(src), "--json", str(out), "--quiet", "--bootstrap", "50"]) == 0
    data = json.loads(out.read_text())
    assert data["format"] == "parquet" and data["items"] == 29 and data["bad_records"] == 1
    assert data["bad_examples"][0]["line"] == 8 and "candidates" in data["bad_examples"][0]["message"]
    assert data["metrics"]["overall"]["position_consistency"]["value"] == pytest.approx(10 / 29, abs=1e-6)  # k % 3 == 0 agree


def test_broken_parquet_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyarrow")
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 not really")
    assert main(["audit", str(bad), "--quiet"]) == 2
    assert "broken.parquet: not a readable Parquet file" in capsys.readouterr().err


def test_run_reads_parquet_and_names_file_and_row_of_bad_records(tmp_path: Path) -> None:
    rows = [i.model_dump(exclude_defaults=True) for i in _items(5)]
    rows[3]["id"] = "i1"  # duplicate
    src = _parquet(tmp_path / "in.parquet", rows)
    with pytest.raises(InputError, match=r"in\.parquet, line 4, field 'id': duplicate id 'i1'"):
        list(read_items(str(src)))
    errors: list[InputError] = []
    assert [line for line, _ in read_items(str(src), skip_invalid=True, errors=errors)] == [1, 2, 3, 5]
    assert errors[0].line == 4
    rows[3]["id"] = "i3"
    _parquet(src, rows)
    assert main(["run", str(src), "--judge", "scripted:position=1", "--detectors", "position",
                 "--no-cache", "--quiet"]) == 0
    ids = [json.loads(line)["id"] for line in (tmp_path / "in.debiased.jsonl").read_text().splitlines()]
    assert sorted(ids) == [f"i{k}" for k in range(5)]


def test_sources_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    with pytest.raises(InputError, match="file not found"):
        resolve(str(tmp_path / "missing.jsonl"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"no non-empty \.jsonl or \.parquet file"):
        resolve(str(tmp_path))
    with pytest.raises(InputError, match="cannot tell the input format"):
        resolve(str(tmp_path / "notes.txt"))
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="empty"):
        resolve(str(tmp_path / "empty.jsonl"))
    with pytest.raises(ConfigError, match="use --engine local"):
        resolve(str(tmp_path / "notes.txt"), "csv")
    (tmp_path / "array.jsonl").write_text("[" + _items(1)[0].model_dump_json() + "]")
    with pytest.raises(InputError, match="one JSON array, not JSON Lines"):
        resolve(str(tmp_path / "array.jsonl"))
    (tmp_path / "array.jsonl").unlink()
    (tmp_path / "a.jsonl").write_text(_items(1)[0].model_dump_json() + "\n")
    files = resolve(f"file://{tmp_path}")
    assert [(f.name, f.format) for f in files] == [(f"file://{tmp_path}/a.jsonl", "jsonl")]
    assert [r.line for r in files[0].records()] == [1]


class CountingGate:
    """A gate that counts the model calls waiting for it."""

    def __init__(self) -> None:
        self.waits = 0

    async def wait(self) -> None:
        self.waits += 1

    def wait_sync(self) -> None:
        self.waits += 1


def test_every_model_call_waits_for_the_gate_and_cache_hits_do_not(tmp_path: Path) -> None:
    backend = ScriptedBackend(["Output (a)", "garbled", "Output (b)"])
    plan = RunPlan(detectors="position", max_rounds=1, cache_dir=tmp_path / "cache",
                   judge_factory=lambda: ChatJudge(backend, mode="generate"))
    gate = CountingGate()
    run_batch(_items(4), build_debiaser(plan, gate=gate), tmp_path / "out1.jsonl", progress=False)
    assert gate.waits == len(backend.requests) > 8  # re-asks after "garbled" wait too
    calls = len(backend.requests)
    again = CountingGate()
    run_batch(_items(4), build_debiaser(plan, gate=again), tmp_path / "out2.jsonl", progress=False)
    assert len(backend.requests) == calls and again.waits == 0  # all answered by the cache


def test_run_plan_validates_on_construction() -> None:
    with pytest.raises(ValueError, match="max_rounds"):
        RunPlan(max_rounds=-1)
    with pytest.raises(ValueError, match="judge spec is empty"):
        RunPlan(judge=" ")


def test_parquet_rows_become_records_with_nulls_meaning_absent() -> None:
    from debias.audit.importers.parquet import row_record

    row = {"id": "a", "task": "pairwise", "cue": None, "label": 1,
           "metadata": {"bias": "sentiment", "bias_label": None, "tags": [("k", "v"), ("x", None)]},
           "verdicts": [{"judge": "j", "order": [1, 0], "choice": 1, "tie": None, "probs": None}]}
    assert row_record(row) == {"id": "a", "task": "pairwise", "label": 1,
                               "metadata": {"bias": "sentiment", "tags": {"k": "v"}},
                               "verdicts": [{"judge": "j", "order": [1, 0], "choice": 1}]}
    assert row_record({"id": "b", "metadata": '{"bias": "position"}'})["metadata"] == {"bias": "position"}
    assert row_record({"id": "c", "metadata": "not json"})["metadata"] == "not json"  # validation names it
