"""The Ray engine on a local Ray instance: same audit numbers as the local engine, Parquet
and directory inputs, bad records with file and line, and batch runs that survive a
worker dying mid-item (every item exactly once in the output)."""

from __future__ import annotations

import json
import math
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from debias.audit.pipeline import make_config
from debias.cli import main
from debias.engines import get_engine
from debias.engines.plan import RunPlan
from debias.testing.faults import DieOnceFactory
from debias.types import Item

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[1]
POSITIVE = "Great question! Certainly, the answer is clear and I'm glad to help."
NEGATIVE = "Unfortunately this is just the answer, sadly."


@pytest.fixture(scope="session")
def ray_local() -> Any:
    """One local Ray instance for the whole session (2 CPUs, no dashboard, loopback only)."""
    started = not ray.is_initialized()
    if started:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                 logging_level="WARNING", runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    if started:
        ray.shutdown()


def _verdict(judge: str, order: list[int], choice: int | None, **extra: Any) -> dict[str, Any]:
    return {"judge": judge, "order": order, "choice": choice, **extra}


def varied_items(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Items that give every metric family data: pairwise with cues, 3-way choice,
    scores, sentiment-tagged tone pairs, RBD gold labels, unbiased-set verdicts,
    probabilities and ties, from three judges with position and cue biases."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        judge = f"judge-{i % 3}"
        kind = i % 5
        if kind == 3:  # a 3-way choice
            label = rng.randrange(3)
            orders = [[0, 1, 2], [2, 0, 1]]
            verdicts = [_verdict(judge, o, o[0] if rng.random() < 0.3 else label) for o in orders]
            out.append({"id": f"c{i}", "task": "choice", "instruction": f"pick {i}",
                        "candidates": ["x" * rng.randint(1, 40), "yy", "z" * rng.randint(1, 9)],
                        "label": label, "verdicts": verdicts})
            continue
        if kind == 4:  # a score
            out.append({"id": f"s{i}", "task": "score", "instruction": f"rate {i}", "candidates": ["ans"],
                        "label": rng.randint(1, 10),
                        "verdicts": [_verdict(judge, [0], None, score=rng.randint(1, 10)),
                                     _verdict(judge, [0], None, score=rng.randint(1, 10))]})
            continue
        label = rng.randint(0, 1)
        cands = ["short " * rng.randint(1, 3), "a much longer answer " * rng.randint(1, 6)]
        meta: dict[str, Any] = {}
        if kind == 2:  # sentiment-tagged tone pair
            cands = [POSITIVE, NEGATIVE] if rng.random() < 0.5 else [NEGATIVE, POSITIVE]
            meta["bias"] = "sentiment"
        cue = f"90% believe that Output ({'ab'[1 - label]}) is better" if kind == 1 else None

        def pick(order: list[int], label: int = label) -> int:
            return order[0] if rng.random() < 0.3 else (label if rng.random() < 0.8 else 1 - label)

        verdicts = [_verdict(judge, [0, 1], pick([0, 1]), with_cue=cue is None, probs=[0.6, 0.4]),
                    _verdict(judge, [1, 0], pick([1, 0]), with_cue=cue is None)]
        if cue:
            followed = rng.random() < 0.4
            verdicts.append(_verdict(judge, [0, 1], 1 - label if followed else pick([0, 1]), with_cue=True))
            meta["bias"] = "bandwagon"
            meta["bias_label"] = "Yes" if followed else "No"
            verdicts.append(_verdict(judge, [0, 1], label, with_cue=False, set="D"))
        if rng.random() < 0.05:
            verdicts.append(_verdict(judge, [0, 1], None, tie=True))
        item = {"id": f"p{i}", "task": "pairwise", "instruction": f"question {i}", "candidates": cands,
                "label": label, "verdicts": verdicts}
        if cue:
            item["cue"] = cue
        if meta:
            item["metadata"] = meta
        out.append(item)
    return out


BAD_LINES = ['{"id": "broken", "task": "pairwise"', '{"id": "one", "task": "pairwise", '
             '"instruction": "q", "candidates": ["only one"]}']


def write_jsonl(path: Path, items: list[dict[str, Any]], bad_after: int | None = None) -> Path:
    lines = [json.dumps(it) for it in items]
    if bad_after is not None:
        lines[bad_after:bad_after] = BAD_LINES
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_parquet(path: Path, items: list[dict[str, Any]], row_group_size: int = 97) -> Path:
    keys = ("id", "task", "instruction", "candidates", "cue", "label", "metadata", "verdicts")
    rows = [{**{k: it.get(k) for k in keys}, "metadata": json.dumps(it["metadata"]) if "metadata" in it else None,
             "label": float(it["label"]) if it["task"] == "score" else it["label"]} for it in items]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def numbers_close(a: Any, b: Any, where: str = "") -> None:
    """Every number equal within 1e-9, everything else equal."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            numbers_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            numbers_close(x, y, f"{where}[{k}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=1e-9), (where, a, b)
    else:
        assert a == b, (where, a, b)


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("settings", "elapsed_s")}


def test_cli_audit_on_ray_equals_local_engine(ray_local: Any, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "items.jsonl", varied_items(900), bad_after=400)
    common = ["--bootstrap", "300", "--seed", "7", "--sentiment", "auto", "--quiet"]
    assert main(["audit", str(src), "--json", str(tmp_path / "local.json"),
                 "--flagged", str(tmp_path / "local.flagged.jsonl"), *common]) == 0
    assert main(["audit", str(src), "--engine", "ray", "--json", str(tmp_path / "ray.json"),
                 "--flagged", str(tmp_path / "ray.flagged.jsonl"), *common]) == 0
    local = json.loads((tmp_path / "local.json").read_text())
    on_ray = json.loads((tmp_path / "ray.json").read_text())
    assert on_ray["settings"]["engine"] == "ray" and on_ray["settings"]["jobs"] == 2
    numbers_close(_comparable(local), _comparable(on_ray))
    overall = local["metrics"]["overall"]
    # The fixture exercises every family, with intervals from the same seeded bootstrap.
    for name in ("accuracy", "position_consistency", "robustness_rate", "longer_chosen_rate",
                 "positive_chosen_rate", "rbd_accuracy.bandwagon", "bias_label_rate.bandwagon"):
        assert overall[name]["value"] is not None, name
    lo, hi = overall["accuracy"]["ci"]
    assert lo < overall["accuracy"]["value"] < hi
    assert local["flagged_count"] and sum(local["flagged_count"].values()) > 50
    # Bad records: named by file and line, in input order.
    assert local["bad_records"] == on_ray["bad_records"] == 2
    assert [(b["source"], b["line"]) for b in on_ray["bad_examples"]] == [(str(src), 401), (str(src), 402)]
    assert "invalid JSON" in on_ray["bad_examples"][0]["message"]
    assert "candidates" in on_ray["bad_examples"][1]["message"]
    assert (tmp_path / "ray.flagged.jsonl").read_text() == (tmp_path / "local.flagged.jsonl").read_text()


def test_parquet_on_ray_equals_local_parquet_and_jsonl(ray_local: Any, tmp_path: Path) -> None:
    items = varied_items(500, seed=1)
    items.insert(250, {"id": "bad-row", "task": "pairwise", "instruction": "q", "candidates": ["a", "b"],
                       "label": 5, "verdicts": []})
    pq_path = write_parquet(tmp_path / "items.parquet", items)
    jsonl = write_jsonl(tmp_path / "items.jsonl", items)
    cfg = make_config(n_boot=200, seed=11, chunk_size=64)
    ray_result = get_engine("ray").audit(str(pq_path), cfg)
    local_result = get_engine("local").audit(str(pq_path), cfg)
    for scope in local_result.scopes():  # unrounded estimates and intervals
        mine, theirs = local_result.metrics(scope), ray_result.metrics(scope)
        assert mine.keys() == theirs.keys()
        for name, est in mine.items():
            numbers_close([est.value, est.lo, est.hi, est.n],
                          [theirs[name].value, theirs[name].lo, theirs[name].hi, theirs[name].n], name)
    on_ray, local_pq = ray_result.to_json(), local_result.to_json()
    local_jsonl = get_engine("local").audit(str(jsonl), cfg).to_json()
    assert on_ray["format"] == local_pq["format"] == "parquet"
    numbers_close(_comparable(local_pq), _comparable(on_ray))
    numbers_close(local_pq["metrics"], local_jsonl["metrics"])
    assert on_ray["items"] == 500 and on_ray["bad_records"] == 1
    bad = on_ray["bad_examples"][0]
    assert (bad["source"], bad["line"]) == (str(pq_path), 251) and "label" in bad["message"]


def test_directory_of_files_reports_bad_records_per_file(ray_local: Any, tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    items = varied_items(300, seed=2)
    write_jsonl(folder / "part-0.jsonl", items[:150], bad_after=10)
    write_parquet(folder / "part-1.parquet", items[150:])
    (folder / "README.txt").write_text("not an input")
    result = get_engine("ray").audit(str(folder), make_config(n_boot=0)).to_json()
    assert result["items"] == 300 and result["format"] == "jsonl+parquet"
    assert result["settings"]["files"] == 2
    assert [(b["source"], b["line"]) for b in result["bad_examples"]] == [
        (f"{folder}/part-0.jsonl", 11), (f"{folder}/part-0.jsonl", 12)]
    whole = write_jsonl(tmp_path / "all.jsonl", items)
    numbers_close(get_engine("local").audit(str(whole), make_config(n_boot=0)).to_json()["metrics"],
                  result["metrics"])
    local_dir = get_engine("local").audit(f"file://{folder}", make_config(n_boot=0)).to_json()
    assert [(b["source"], b["line"]) for b in local_dir["bad_examples"]] == [
        (f"file://{folder}/part-0.jsonl", 11), (f"file://{folder}/part-0.jsonl", 12)]
    numbers_close(local_dir["metrics"], result["metrics"])


def test_ray_engine_rejects_what_it_cannot_read(ray_local: Any, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n")
    assert main(["audit", str(csv), "--engine", "ray"]) == 2
    assert "jsonl or .parquet" in capsys.readouterr().err
    assert main(["audit", str(tmp_path / "missing.jsonl"), "--engine", "ray"]) == 2
    assert "missing.jsonl: file not found" in capsys.readouterr().err
    src = write_jsonl(tmp_path / "i.jsonl", varied_items(5))
    assert main(["audit", str(src), "--engine", "ray", "--detectors", "nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err


def _run_items(n: int) -> list[Item]:
    return [Item(id=f"i{k}", task="pairwise", instruction=f"q{k}", candidates=[f"a{k}", f"b{k}"],
                 label=k % 2) for k in range(n)]


def _ids(out: Path) -> list[str]:
    return [json.loads(line)["id"] for line in out.read_text().splitlines()]


def test_run_survives_a_worker_dying_mid_item(ray_local: Any, tmp_path: Path) -> None:
    items = _run_items(40)
    marker = tmp_path / "died"
    plan = RunPlan(detectors="position", max_rounds=1,
                   judge_factory=DieOnceFactory("i13", str(marker), {"position": 1.0}, latency=0.01))
    out = tmp_path / "out.jsonl"
    summary = get_engine("ray").run(items, plan, str(out), progress=False, workers=2, concurrency=3)
    assert marker.exists()  # a worker really died
    ids = _ids(out)
    assert sorted(ids) == sorted(i.id for i in items) and len(ids) == len(set(ids)) == 40
    records = {json.loads(line)["id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert records["i13"]["result"]["status"] == "revised"  # judged again by the new worker
    assert summary.items == 40 and summary.statuses == {"revised": 40}


def test_item_that_always_kills_its_worker_becomes_an_error_record(ray_local: Any, tmp_path: Path) -> None:
    items = _run_items(6)
    # Like an item that crashes the model server every time it is asked about.
    plan = RunPlan(detectors="none", max_rounds=0,
                   judge_factory=DieOnceFactory("i2", str(tmp_path / "m"), every_time=True))
    out = tmp_path / "out.jsonl"
    summary = get_engine("ray").run(items, plan, str(out), progress=False, workers=1, concurrency=1,
                                    max_attempts=2)
    records = {json.loads(line)["id"]: json.loads(line)["result"] for line in out.read_text().splitlines()}
    assert sorted(records) == [f"i{k}" for k in range(6)]
    assert records["i2"]["status"] == "error" and "died 2 times" in records["i2"]["error"]
    assert summary.statuses == {"clean": 5, "error": 1}


class BrokenJudgeFactory:
    """A judge that cannot be built (like a model path that does not exist)."""

    def __call__(self) -> Any:
        from debias.errors import ConfigError

        raise ConfigError("model 'nowhere/judge' not found")


def test_worker_that_cannot_start_stops_the_run_with_the_reason(ray_local: Any, tmp_path: Path) -> None:
    from debias.errors import ConfigError

    out = tmp_path / "out.jsonl"
    with pytest.raises(ConfigError, match=r"could not start: .*nowhere/judge' not found"):
        get_engine("ray").run(_run_items(5), RunPlan(judge_factory=BrokenJudgeFactory()), str(out),
                              progress=False, workers=1)
    assert not out.exists() or out.read_text() == ""  # no error records for a setup problem


def test_run_resumes_after_a_crash_without_judging_twice(ray_local: Any, tmp_path: Path) -> None:
    items = _run_items(30)
    inp = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist([i.model_dump(exclude_defaults=True) for i in items]), inp)
    out = tmp_path / "out.jsonl"
    common = ["run", str(inp), "--judge", "scripted:position=1", "--detectors", "position",
              "--out", str(out), "--no-cache", "--quiet", "--engine", "ray", "--workers", "2"]
    first = get_engine("ray").run(items[:12], RunPlan(judge="scripted:position=1", detectors="position"),
                                  str(out), progress=False)
    assert first.items == 12
    with open(out, "a", encoding="utf-8") as fh:
        fh.write('{"id": "i12", "task": "pairw')  # the driver was killed mid-write
    assert main(common) == 0
    ids = _ids(out)
    assert sorted(ids) == sorted(i.id for i in items) and len(ids) == 30
    assert main(common) == 0  # nothing left: nothing judged, nothing written
    assert len(_ids(out)) == 30


class ChatJudgeFactory:
    """A chat judge over a scripted backend that answers "Output (a)" (picklable by reference)."""

    def __call__(self) -> Any:
        from debias.judges.chat import ChatJudge
        from debias.testing.backend import ScriptedBackend

        return ChatJudge(ScriptedBackend(["Output (a)"]), mode="generate")


def test_chat_judges_on_actors_take_their_calls_from_the_shared_limiter(ray_local: Any, tmp_path: Path) -> None:
    items = _run_items(6)
    plan = RunPlan(detectors="position", max_rounds=1, judge_factory=ChatJudgeFactory(),
                   cache_dir=tmp_path / "cache")
    out = tmp_path / "out.jsonl"
    summary = get_engine("ray").run(items, plan, str(out), progress=False, workers=2, concurrency=2,
                                    rate_limit=60_000)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [f"i{k}" for k in range(6)]
    # Always "Output (a)" = always the first slot: the position probe catches it every time,
    # and the revision cannot fix it; same calls and outcomes as the local engine.
    local = get_engine("local").run(items, plan.model_copy(update={"cache_dir": tmp_path / "c2"}),
                                    str(tmp_path / "local.jsonl"), progress=False)
    assert summary.statuses == local.statuses == {"unresolved": 6}
    assert summary.usage.calls == local.usage.calls == 24
    assert all(r["result"]["rounds"][0]["findings"][0]["detected"] for r in records)


def test_rate_limiter_shared_by_actors_spaces_calls(ray_local: Any) -> None:
    from debias.engines.ray.run import RateLimiter

    limiter = ray.remote(RateLimiter).options(num_cpus=0).remote(6.0)  # one call per 10 s
    delays = ray.get([limiter.reserve.remote() for _ in range(3)])
    assert delays[0] == pytest.approx(0.0, abs=1.0)
    assert 9.0 < delays[1] <= 10.0 and 19.0 < delays[2] <= 20.0
    ray.kill(limiter)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
