"""Middleware overhead per item with a zero-latency scripted judge.

Measures the wall time of ``Debiaser.judge(item)`` (sync) and ``ajudge`` minus the time
spent inside the judge itself, over many items, and writes the distribution to
``benchmarks/results/overhead.json``. Target: median overhead <= 1 ms per item. The CPU
time of the same span (``time.process_time``, also minus the judge's) is reported next
to it, because wall times grow with other load on the machine (the 1-minute load
average before and after is recorded).

Reproduce: ``python benchmarks/overhead.py [--items 2000] [--detectors NAMES]``
(default detectors: the Debiaser's default, position,bandwagon,verbosity,sentiment)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from debias.judges.base import JudgeRequest
from debias.loop import DEFAULT_DETECTORS, Debiaser
from debias.testing import ScriptedJudge
from debias.types import Item, Verdict


class TimedJudge(ScriptedJudge):
    """A ScriptedJudge that accumulates the wall and CPU time spent inside judge()."""

    def __init__(self, **rates: float) -> None:
        super().__init__(**rates)
        self.inside = 0.0
        self.inside_cpu = 0.0

    def judge(self, request: JudgeRequest) -> Verdict:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return super().judge(request)
        finally:
            self.inside += time.perf_counter() - t0
            self.inside_cpu += time.process_time() - c0

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        return self.judge(request)


def items(n: int) -> list[Item]:
    return [Item(id=f"i{k}", task="pairwise", instruction=f"Question {k}: which answer is right?",
                 candidates=[f"An answer of moderate length number {k}. " * 3, f"Another answer {k}. " * 4],
                 cue="90% believe that Output (b) is better" if k % 3 == 0 else None, label=k % 2)
            for k in range(n)]


def measure(debiaser: Debiaser, judge: TimedJudge, data: list[Item], use_async: bool,
            cpu: list[float] | None = None) -> list[float]:
    """Per-item wall overhead in ms (one event loop for the async variant); CPU overhead to ``cpu``."""
    out: list[float] = []
    cpu = cpu if cpu is not None else []

    async def run_async() -> None:
        for item in data:
            judge.inside = judge.inside_cpu = 0.0
            t0, c0 = time.perf_counter(), time.process_time()
            await debiaser.ajudge(item)
            out.append((time.perf_counter() - t0 - judge.inside) * 1000)
            cpu.append((time.process_time() - c0 - judge.inside_cpu) * 1000)

    if use_async:
        asyncio.run(run_async())
        return out
    for item in data:
        judge.inside = judge.inside_cpu = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        debiaser.judge(item)
        out.append((time.perf_counter() - t0 - judge.inside) * 1000)
        cpu.append((time.process_time() - c0 - judge.inside_cpu) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS))
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "overhead.json")
    args = ap.parse_args()
    data = items(args.items)
    report: dict[str, object] = {
        "command": "python benchmarks/overhead.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
        "items": args.items, "detectors": args.detectors, "target_median_ms": 1.0,
        "load_avg_1m_before": round(os.getloadavg()[0], 2),
        "note": ("*_ms: wall time of Debiaser.judge/ajudge per item minus the time inside the judge; "
                 "cpu_*_ms: the same span in process CPU time (insensitive to other load)."),
        "scenarios": {},
    }
    scenarios = {
        "unbiased judge (1 round)": {},
        "position-biased judge, complies (2 rounds)": {"position": 1.0},
    }
    for label, rates in scenarios.items():
        for use_async in (False, True):
            judge = TimedJudge(**rates)
            debiaser = Debiaser(judge, args.detectors, max_rounds=2)
            measure(debiaser, judge, data[:100], use_async)  # warm-up
            cpu: list[float] = []
            ms = measure(debiaser, judge, data, use_async, cpu)
            key = f"{label} [{'async' if use_async else 'sync'}]"
            report["scenarios"][key] = {  # type: ignore[index]
                "median_ms": round(statistics.median(ms), 4), "p90_ms": round(pct(ms, 0.9), 4),
                "p99_ms": round(pct(ms, 0.99), 4), "mean_ms": round(statistics.fmean(ms), 4),
                "cpu_median_ms": round(statistics.median(cpu), 4), "cpu_p90_ms": round(pct(cpu, 0.9), 4),
            }
            print(f"{key:60s} median {statistics.median(ms):.3f} ms  p90 {pct(ms, 0.9):.3f} ms  "
                  f"cpu median {statistics.median(cpu):.3f} ms")
    report["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
