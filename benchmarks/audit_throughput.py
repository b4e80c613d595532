"""Throughput and memory of the offline audit (`debias audit`) on a synthetic judged-item file.

Generates N synthetic pairwise items (two display orders each; a third of them with a
bandwagon cue and a no-cue verdict; lengths and decisions drawn so every metric family
has data) into a temporary directory, then runs the real CLI as a subprocess for each
detector setting and records wall time, items per second, CPU time and the peak
resident memory of the audit process tree (sampled from /proc every 50 ms).

A run spec is ``DETECTORS[~SENTIMENT][@N]``: ``default`` runs the CLI with no
``--detectors``/``--sentiment`` flag (what a user gets: every cheap detector, tone scored
only on items tagged ``metadata.bias = "sentiment"``), ``none``, ``auto`` or detector
names joined by ``+``; ``~all`` adds ``--sentiment all`` (every item tone-scored); ``@N``
runs on the first N items.

Usage:
    python benchmarks/audit_throughput.py                       # 1,000,000 items
    python benchmarks/audit_throughput.py --items 100000 --runs none,default,auto~all@20000

Writes benchmarks/results/audit_throughput.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = "none,default,position+bandwagon+sentiment@200000,auto~all@20000"
TARGET_ITEMS_PER_S = 20_000
DEFAULT_CONFIGURATION = (
    "`debias audit FILE` with no --detectors/--sentiment flag runs every registered cheap detector "
    "(position, bandwagon, verbosity, sentiment) with --sentiment auto: the sentiment detector and the "
    "tone metrics only examine items tagged metadata.bias = \"sentiment\" (elsewhere the detector is "
    "counted as skipped, with the reason). Tone scoring (VADER) costs about 0.3 ms per item, four times "
    "everything else together, so scoring every item is opt-in (--sentiment all; the auto~all run, "
    "which gives the same findings as the former default). The synthetic file has no tagged items.")
WORDS = ["the", "answer", "is", "clear", "because", "we", "compute", "each", "step", "carefully", "and", "check", "the", "result", "again", "so", "that", "nothing", "is", "missed", "in", "the", "explanation"]


def text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def generate(path: Path, n: int, seed: int = 0) -> None:
    """Write ``n`` synthetic judged items (JSONL) to ``path``."""
    rng = random.Random(seed)
    judges = ["judge-a", "judge-b", "judge-c"]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            label = rng.randint(0, 1)
            cands = [text(rng, rng.randint(3, 60)), text(rng, rng.randint(3, 60))]
            judge = judges[i % 3]

            def pick(order: list[int], label: int = label) -> int:
                r = rng.random()
                if r < 0.25:
                    return order[0]  # position bias
                return label if r < 0.85 else 1 - label

            item = {"id": f"s{i}", "task": "pairwise", "instruction": "Which answer is better?",
                    "candidates": cands, "label": label}
            if i % 3 == 0:
                item["cue"] = f"90% believe that Output ({'ab'[1 - label]}) is better"
                item["verdicts"] = [
                    {"judge": judge, "order": [0, 1], "choice": pick([0, 1]), "with_cue": False},
                    {"judge": judge, "order": [1, 0], "choice": pick([1, 0]), "with_cue": False},
                    {"judge": judge, "order": [0, 1], "with_cue": True,
                     "choice": 1 - label if rng.random() < 0.3 else pick([0, 1])},
                ]
            else:
                item["verdicts"] = [{"judge": judge, "order": [0, 1], "choice": pick([0, 1])},
                                    {"judge": judge, "order": [1, 0], "choice": pick([1, 0])}]
            fh.write(json.dumps(item) + "\n")


def tree_stats(root: int) -> dict[int, list[str]]:
    """``/proc/PID/stat`` fields (those after the command name) of ``root`` and its live
    descendants, by pid."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        stats[int(entry)] = fields
    out, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in stats:
            out[pid] = stats[pid]
        stack.extend(children.get(pid, []))
    return out


def _tree_rss(pid: int) -> tuple[int, int]:
    """(RSS of ``pid``, RSS summed over ``pid`` and its descendants), in bytes."""
    page = os.sysconf("SC_PAGE_SIZE")
    rss = {p: int(fields[21]) * page for p, fields in tree_stats(pid).items()}
    return rss.get(pid, 0), sum(rss.values())


def run_audit(path: Path, detectors: str, jobs: int, out_json: Path, sentiment: str | None = None) -> dict:
    """Run the CLI once and measure it (``detectors == "default"``: no --detectors flag)."""
    cmd = [sys.executable, "-m", "debias", "audit", str(path)]
    if detectors != "default":
        cmd += ["--detectors", detectors]
    if sentiment is not None:
        cmd += ["--sentiment", sentiment]
    cmd += ["--json", str(out_json), "--quiet", "--bootstrap", "2000"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_main = peak_tree = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_main, peak_tree
        while not stop.is_set():
            main, tree = _tree_rss(proc.pid)
            peak_main, peak_tree = max(peak_main, main), max(peak_tree, tree)
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"audit failed ({proc.returncode}): {err[-2000:]}")
    data = json.loads(out_json.read_text())
    items = data["items"]
    stream_s = data["elapsed_s"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "detectors": detectors if detectors != "default" else f"default ({data['settings']['detectors']})",
        "sentiment": data["settings"]["sentiment"],
        "jobs": data["settings"]["jobs"],
        "items": items,
        "bad_records": data["bad_records"],
        "wall_s": round(wall, 2),
        "stream_s": stream_s,
        "items_per_s_stream": round(items / stream_s),
        "items_per_s_total": round(items / wall),
        "cpu_s": round(cpu, 2),
        "cpu_us_per_item": round(cpu / items * 1e6, 1),
        "cpu_bound_items_per_s_2_cores": round(2 * items / cpu),
        "peak_rss_main_mb": round(peak_main / 2**20, 1),
        "peak_rss_tree_mb": round(peak_tree / 2**20, 1),
        "max_child_rss_mb_getrusage": round(after.ru_maxrss / 1024, 1),
        "position_consistency": data["metrics"]["overall"]["position_consistency"]["value"],
        "command": shlex.join(["python", "-m", "debias", *cmd[3:]]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=1_000_000, help="items in the synthetic file")
    ap.add_argument("--runs", default=DEFAULT_RUNS,
                    help="comma-separated detector settings; '+' joins detectors; '@N' runs on the first N items")
    ap.add_argument("--jobs", type=int, default=0, help="--jobs for the audit (0: automatic)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/audit_throughput.json")
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        big = Path(tmp) / "items.jsonl"
        t = time.perf_counter()
        generate(big, args.items)
        gen_s = time.perf_counter() - t
        print(f"generated {args.items:,} items ({big.stat().st_size / 2**20:.0f} MB) in {gen_s:.0f} s", flush=True)
        subsets: dict[int, Path] = {args.items: big}
        for spec in args.runs.split(","):
            detectors, _, limit = spec.partition("@")
            detectors, _, sentiment = detectors.partition("~")
            n = min(int(limit), args.items) if limit else args.items
            if n not in subsets:
                subsets[n] = Path(tmp) / f"items-{n}.jsonl"
                with open(big, encoding="utf-8") as src, open(subsets[n], "w", encoding="utf-8") as dst:
                    for _, line in zip(range(n), src, strict=False):
                        dst.write(line)
            load = os.getloadavg()[0]
            res = run_audit(subsets[n], detectors.replace("+", ","), args.jobs, Path(tmp) / "m.json",
                            sentiment or None)
            res["load_avg_1m_before"] = round(load, 2)
            res["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
            results.append(res)
            print(json.dumps(res), flush=True)
    report = {
        "benchmark": "offline audit throughput and memory (debias audit on synthetic judged items)",
        "command": "python benchmarks/audit_throughput.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "note": ("items_per_s_stream = items / (reading + validation + classification + detectors), "
                 "from the audit's own elapsed_s; items_per_s_total includes interpreter start-up, the "
                 "bootstrap and writing the JSON. cpu_bound_items_per_s_2_cores = 2 * items / total CPU "
                 "seconds of the audit process tree: the rate two otherwise idle cores would reach "
                 "(derived, not measured; the measured rates depend on other load, see "
                 "load_avg_1m_before). peak_rss_tree_mb sums the main process and its workers."),
        "target_items_per_s": TARGET_ITEMS_PER_S,
        "default_configuration": DEFAULT_CONFIGURATION,
        "generated_items": args.items,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
