"""The offline audit on Ray vs the local engine, on the same cores, plus the numbers behind
the N-node scaling plan (README, "Scaling out on Ray").

Generates N synthetic judged items (the generator of ``audit_throughput.py``), then in
this process:

1. audits them with the local engine (``--jobs`` worker processes);
2. starts a local Ray instance with the same number of CPUs (start-up timed on its own)
   and audits them with the Ray engine (as many map actors);
3. checks that every metric (value and bootstrap interval, same seed) is equal;
4. measures the reduce step: pickled size of one map task's tally and the time to merge
   one, which bound how many items per second one driver can absorb.

Usage:
    python benchmarks/audit_ray.py                        # 1,000,000 items, 2 CPUs
    python benchmarks/audit_ray.py --items 200000 --cpus 2 --parquet

Writes benchmarks/results/audit_ray.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from audit_throughput import generate, tree_stats  # noqa: E402

from debias.audit.engine import chunk_tallies, merge_chunks  # noqa: E402
from debias.audit.importers import open_input  # noqa: E402
from debias.audit.pipeline import make_config, work_settings  # noqa: E402
from debias.engines import get_engine  # noqa: E402
from debias.engines.ray.audit import CHUNKS_PER_BATCH  # noqa: E402


def _numbers(data: Any, prefix: str = "") -> dict[str, float | None]:
    """Every number of a JSON value, by path."""
    out: dict[str, float | None] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_numbers(v, f"{prefix}.{k}"))
    elif isinstance(data, list):
        for k, v in enumerate(data):
            out.update(_numbers(v, f"{prefix}[{k}]"))
    elif isinstance(data, int | float) and not isinstance(data, bool):
        out[prefix] = float(data)
    return out


def max_metric_diff(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Largest absolute difference between the metrics of two audits (inf if they differ in shape)."""
    na, nb = _numbers(a["metrics"]), _numbers(b["metrics"])
    if na.keys() != nb.keys():
        return float("inf")
    return max((abs(na[k] - nb[k]) for k in na if na[k] is not None and nb[k] is not None), default=0.0)


def _descendant_ticks(root: int) -> dict[int, int]:
    """CPU clock ticks (user + system) of every live descendant of ``root``."""
    return {pid: int(fields[11]) + int(fields[12])
            for pid, fields in tree_stats(root).items() if pid != root}


class TreeCPU:
    """CPU seconds used by this process and its descendants (sampled every 0.1 s, so a child
    that lives and dies between two samples is missed; Ray's actors and daemons live longer)."""

    def __enter__(self) -> TreeCPU:
        self.base = _descendant_ticks(os.getpid())
        self.last = dict(self.base)
        self.self0 = time.process_time()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self.stop.wait(0.1):
            self.last.update(_descendant_ticks(os.getpid()))

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.last.update(_descendant_ticks(os.getpid()))
        hz = os.sysconf("SC_CLK_TCK")
        children = sum(t - self.base.get(pid, 0) for pid, t in self.last.items()) / hz
        self.seconds = time.process_time() - self.self0 + children


def timed_audit(engine: str, path: Path, cfg: Any) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, CPU seconds of the process tree, JSON result) of one audit."""
    with TreeCPU() as cpu:
        t = time.perf_counter()
        data = get_engine(engine).audit(str(path), cfg).to_json()
        wall = time.perf_counter() - t
    return wall, cpu.seconds, data


def rates(n: int, wall: float, cpu: float, cpus: int) -> dict[str, Any]:
    """Wall and CPU figures of one run."""
    return {"wall_s": round(wall, 2), "items_per_s": round(n / wall), "cpu_s": round(cpu, 2),
            "cpu_us_per_item": round(cpu / n * 1e6, 1), f"cpu_bound_items_per_s_{cpus}_cores": round(cpus * n / cpu)}


def to_parquet(src: Path, dst: Path, rows_per_group: int) -> None:
    """The JSONL items as Parquet (streamed, fixed schema, ``rows_per_group`` rows per row group)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    verdict = pa.struct([("judge", pa.string()), ("order", pa.list_(pa.int64())), ("choice", pa.int64()),
                         ("with_cue", pa.bool_())])
    schema = pa.schema([("id", pa.string()), ("task", pa.string()), ("instruction", pa.string()),
                        ("candidates", pa.list_(pa.string())), ("label", pa.int64()), ("cue", pa.string()),
                        ("verdicts", pa.list_(verdict))])
    with pq.ParquetWriter(dst, schema) as writer, open(src, encoding="utf-8") as fh:
        batch: list[dict[str, Any]] = []
        for line in fh:
            batch.append(json.loads(line))
            if len(batch) == rows_per_group:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema), row_group_size=rows_per_group)
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema), row_group_size=rows_per_group)


def reduce_cost(path: Path, cfg: Any, batches: int = 4) -> dict[str, float]:
    """Size of one map task's pickled tally and the driver's time to unpickle and merge it.

    The tallies are made like the Ray engine's (``chunk_size * CHUNKS_PER_BATCH`` items
    each) from the first ``batches`` such batches of the input, in this process.
    """
    batch = cfg.chunk_size * CHUNKS_PER_BATCH
    _imp, records = open_input(path)
    settings = work_settings(cfg, str(path))
    head = (r for _, r in zip(range(batches * batch), records, strict=False))
    tallies = list(chunk_tallies(head, settings, jobs=1, chunk_size=batch))
    blobs = [pickle.dumps(t, protocol=pickle.HIGHEST_PROTOCOL) for t in tallies]
    t = time.perf_counter()
    for _ in range(20):
        merge_chunks((pickle.loads(b) for b in blobs), settings)
    merge_s = (time.perf_counter() - t) / (20 * len(blobs))
    return {"items_per_tally": batch, "tally_bytes_median": statistics.median(len(b) for b in blobs),
            "unpickle_and_merge_ms_per_tally": round(merge_s * 1e3, 3),
            "driver_reduce_items_per_s": round(batch / merge_s)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--cpus", type=int, default=2, help="local engine --jobs and Ray num_cpus")
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--detectors", default="auto")
    ap.add_argument("--parquet", action="store_true", help="also audit the items as Parquet on Ray")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/audit_ray.json")
    args = ap.parse_args(argv)
    import ray

    cfg = make_config(n_boot=args.bootstrap, seed=0, jobs=args.cpus, detectors=args.detectors)
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="audit-ray-") as tmp:
        src = Path(tmp) / "items.jsonl"
        t = time.perf_counter()
        generate(src, args.items)
        print(f"generated {args.items:,} items ({src.stat().st_size / 2**20:.0f} MB) in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        load = os.getloadavg()[0]
        wall, cpu, local = timed_audit("local", src, cfg)
        runs["local"] = {**rates(args.items, wall, cpu, args.cpus), "load_avg_1m_before": round(load, 2)}
        print("local", runs["local"], flush=True)
        t = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
        init_s = time.perf_counter() - t
        load = os.getloadavg()[0]
        wall, cpu, on_ray = timed_audit("ray", src, cfg)
        runs["ray"] = {**rates(args.items, wall, cpu, args.cpus), "ray_init_s": round(init_s, 2), "load_avg_1m_before": round(load, 2),
                       "max_abs_metric_diff_vs_local": max_metric_diff(local, on_ray),
                       "same_flagged_and_bad": (local["flagged"] == on_ray["flagged"]
                                                and local["bad_examples"] == on_ray["bad_examples"])}
        print("ray", runs["ray"], flush=True)
        if args.parquet:
            pq_path = Path(tmp) / "items.parquet"
            to_parquet(src, pq_path, rows_per_group=50_000)
            load = os.getloadavg()[0]
            wall, cpu, on_ray_pq = timed_audit("ray", pq_path, cfg)
            runs["ray_parquet"] = {**rates(args.items, wall, cpu, args.cpus), "row_group_rows": 50_000, "load_avg_1m_before": round(load, 2),
                                   "max_abs_metric_diff_vs_local": max_metric_diff(local, on_ray_pq)}
            print("ray_parquet", runs["ray_parquet"], flush=True)
        ray.shutdown()
        reduce = reduce_cost(src, cfg)
    report = {
        "benchmark": "debias audit: local engine vs Ray engine on the same CPUs (synthetic judged items)",
        "command": "python benchmarks/audit_ray.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "ray": ray.__version__},
        "items": args.items,
        "cpus_used": args.cpus,
        "detectors": args.detectors,
        "bootstrap": args.bootstrap,
        "note": ("wall_s: engine.audit() in this process: reading, validation, classification, detectors, "
                 "merge and the bootstrap of every metric; for Ray it excludes ray.init (ray_init_s) but "
                 "includes starting the map actors. cpu_s: CPU seconds of this process and all its "
                 "descendants during the audit (for Ray: the driver, raylet, GCS, read tasks and map "
                 "actors), sampled from /proc every 0.1 s. ray_vs_local_throughput_ratio = local wall / "
                 "ray wall; ray_vs_local_cpu_bound_ratio = local cpu_s / ray cpu_s, the throughput ratio "
                 "on otherwise idle cores. The machine is shared with other jobs (load_avg_1m_before), "
                 "so the wall-clock rates depend on their load; the CPU figures much less."),
        "runs": runs,
        "ray_vs_local_throughput_ratio": round(runs["local"]["wall_s"] / runs["ray"]["wall_s"], 3),
        "ray_vs_local_cpu_bound_ratio": round(runs["local"]["cpu_s"] / runs["ray"]["cpu_s"], 3),
        "reduce": reduce,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
