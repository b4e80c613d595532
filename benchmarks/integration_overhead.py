"""Adapter overhead per scored sample, one plug-in per eval framework.

For each framework the adapter is timed on the same samples as (a) the framework's own
scorer / judge calls it makes (zero-latency scripted judges, timed from inside) and (b)
the middleware itself (:meth:`Debiaser.ajudge` / :meth:`Debiaser.judge` with a judge
producing the same verdicts, its judge time excluded). Reported per framework:

- ``adapter_ms``: median wall time of one adapter call per sample;
- ``inside_ms``: median time spent inside the framework's scorer / judge calls;
- ``middleware_ms``: median time of the Debiaser loop alone (judge time excluded);
- ``added_ms = adapter_ms - inside_ms - middleware_ms``: what the adapter itself adds
  (goal < 1 ms), also as CPU time (``added_cpu_ms``), which other load on the machine
  barely moves.

Plug-ins (``PLUGINS``): ``inspect`` (``debias.integrations.inspect_ai.debiased`` around a
zero-latency pairwise Inspect scorer, called as Inspect calls a scorer: ``await
scorer(state, target)``), ``promptfoo`` (``get_assert`` with a zero-latency scripted judge,
called as promptfoo's Python bridge calls it). Add a framework by adding a class with
``name``, ``unavailable()`` and ``measure(samples)`` to ``PLUGINS``.

Reproduce: ``python benchmarks/integration_overhead.py [--frameworks inspect,promptfoo]
[--samples 400]`` (merges its entries into ``benchmarks/results/integration_overhead.json``).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from debias.integrations.common import RequestJudge, build_debiaser, make_item
from debias.judges.base import JudgeRequest
from debias.judges.testing import ScriptedJudge

RESULTS = Path(__file__).resolve().parent / "results" / "integration_overhead.json"
GOLD = "Canberra is the capital of Australia."
PLAIN = "Sydney is the capital of Australia."
DETECTORS = "position,bandwagon"


class Timer:
    """Accumulates wall and CPU time spent inside timed calls."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def reset(self) -> None:
        self.wall = self.cpu = 0.0

    def add(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 4)


def summarise(adapter: list[tuple[float, float, float, float]],
              loop: list[tuple[float, float, float, float]]) -> dict[str, Any]:
    """Rows are (wall, cpu, inside wall, inside cpu) per sample."""
    a_wall = [w - iw for w, _, iw, _ in adapter]
    a_cpu = [c - ic for _, c, _, ic in adapter]
    l_wall = [w - iw for w, _, iw, _ in loop]
    l_cpu = [c - ic for _, c, _, ic in loop]
    return {
        "samples": len(adapter),
        "adapter_ms": _median_ms([w for w, _, _, _ in adapter]),
        "inside_ms": _median_ms([iw for _, _, iw, _ in adapter]),
        "middleware_ms": _median_ms(l_wall),
        "added_ms": round(_median_ms(a_wall) - _median_ms(l_wall), 4),
        "added_cpu_ms": round(_median_ms(a_cpu) - _median_ms(l_cpu), 4),
        "goal_ms": 1.0,
    }


class Plugin(Protocol):
    """One framework's measurement."""

    name: str

    def unavailable(self) -> str | None:
        """Why this framework cannot be measured here, or None."""
        ...

    def measure(self, samples: int) -> dict[str, Any]:
        """Run ``samples`` scored samples through the adapter and the bare middleware."""
        ...


def _slot_of_gold(shown: list[str]) -> int:
    return next(k for k, c in enumerate(shown) if "Canberra" in c)


async def _loop_rows(items: list[Any]) -> list[tuple[float, float, float, float]]:
    """The middleware alone on the same verdict pattern (content-consistent judge)."""
    inside = Timer()

    def judge_fn(request: JudgeRequest) -> int:
        w0, c0 = time.perf_counter(), time.process_time()
        shown = [request.item.candidates[i] for i in request.order]
        slot = _slot_of_gold(shown)
        inside.add(time.perf_counter() - w0, time.process_time() - c0)
        return slot

    async def ajudge_fn(request: JudgeRequest) -> int:
        return judge_fn(request)

    debiaser = build_debiaser(RequestJudge(ajudge_fn, name="zero"), detectors=DETECTORS)
    rows = []
    for item in items:
        inside.reset()
        w0, c0 = time.perf_counter(), time.process_time()
        await debiaser.ajudge(item)
        rows.append((time.perf_counter() - w0, time.process_time() - c0, inside.wall, inside.cpu))
    return rows


class InspectPlugin:
    """``debiased(inner)`` vs the inner zero-latency pairwise Inspect scorer."""

    name = "inspect"

    def unavailable(self) -> str | None:
        try:
            import inspect_ai  # noqa: F401
        except ImportError as exc:
            return f"inspect-ai not installed ({exc})"
        return None

    def measure(self, samples: int) -> dict[str, Any]:
        from inspect_ai.model._model import ModelName
        from inspect_ai.scorer import Score, Target, mean, scorer
        from inspect_ai.solver import TaskState

        from debias.integrations.inspect_ai import debiased

        inside = Timer()

        @scorer(metrics=[mean()])
        def zero_latency_pairwise() -> Any:
            async def score(state: TaskState, target: Target) -> Score:
                w0, c0 = time.perf_counter(), time.process_time()
                slot = _slot_of_gold(state.metadata["candidates"])
                out = Score(value=1.0 if slot == 0 else 0.0, answer="AB"[slot])
                inside.add(time.perf_counter() - w0, time.process_time() - c0)
                return out

            return score

        inner = zero_latency_pairwise()
        wrapped = debiased(inner, detectors=DETECTORS)
        target = Target("")
        states = [TaskState(model=ModelName("mockllm/model"), sample_id=k, epoch=1,
                            input=f"What is the capital of Australia? ({k})", messages=[],
                            metadata={"candidates": [GOLD, PLAIN] if k % 2 else [PLAIN, GOLD]})
                  for k in range(samples)]
        items = [make_item(s.input_text, s.metadata["candidates"], item_id=str(k))
                 for k, s in enumerate(states)]

        async def run() -> tuple[list[Any], list[Any], list[float]]:
            for s in states[:50]:  # warm-up
                await wrapped(s, target)
            await _loop_rows(items[:50])
            rows, own = [], []
            for s in states:
                inside.reset()
                w0, c0 = time.perf_counter(), time.process_time()
                await wrapped(s, target)
                rows.append((time.perf_counter() - w0, time.process_time() - c0, inside.wall, inside.cpu))
            for s in states:
                w0 = time.perf_counter()
                await inner(s, target)
                own.append(time.perf_counter() - w0)
            return rows, await _loop_rows(items), own

        rows, loop, own = asyncio.run(run())
        out = summarise(rows, loop)
        out["framework_scorer_ms"] = _median_ms(own)
        out["scorer_calls_per_sample"] = 2
        out["note"] = ("debiased(zero-latency pairwise @scorer), detectors position,bandwagon; "
                       "each sample = first grading + swap probe on a re-graded state copy")
        return out


class PromptfooPlugin:
    """``get_assert`` (as promptfoo's Python bridge calls it) vs the bare Debiaser."""

    name = "promptfoo"

    def unavailable(self) -> str | None:
        return None  # the adapter needs no package beyond the core

    def measure(self, samples: int) -> dict[str, Any]:
        from debias.integrations import promptfoo as pf

        contexts = [{"vars": {"baseline": PLAIN if k % 2 else GOLD, "question": f"q{k}"},
                     "prompt": f"What is the capital of Australia? ({k})",
                     "config": {"judge": "scripted", "detectors": DETECTORS, "max_rounds": 2,
                                "instruction_var": "question"}}
                    for k in range(samples)]
        outputs = [GOLD if k % 2 else PLAIN for k in range(samples)]
        for ctx, output in list(zip(contexts, outputs, strict=True))[:50]:
            pf.get_assert(output, ctx)
        rows = []
        for ctx, output in zip(contexts, outputs, strict=True):
            w0, c0 = time.perf_counter(), time.process_time()
            pf.get_assert(output, ctx)
            rows.append((time.perf_counter() - w0, time.process_time() - c0, 0.0, 0.0))
        # the same judge (ScriptedJudge, zero latency) through the bare loop: judge time
        # is inside both, so it cancels in added_ms
        debiaser = build_debiaser(ScriptedJudge(name="scripted"), detectors=DETECTORS)
        items = [make_item(f"q{k}", [outputs[k], ctx["vars"]["baseline"]], item_id=f"t{k}")
                 for k, ctx in enumerate(contexts)]
        loop = []
        for item in items:
            w0, c0 = time.perf_counter(), time.process_time()
            debiaser.judge(item)
            loop.append((time.perf_counter() - w0, time.process_time() - c0, 0.0, 0.0))
        out = summarise(rows, loop)
        out["note"] = ("get_assert with judge 'scripted' (zero latency), detectors position,bandwagon; "
                       "includes config validation and judge construction per call, as in promptfoo; "
                       "middleware_ms here includes the scripted judge's own time (it cancels)")
        return out


PLUGINS: dict[str, Callable[[], Plugin]] = {
    "inspect": InspectPlugin,
    "promptfoo": PromptfooPlugin,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=",".join(PLUGINS),
                        help=f"comma-separated, from {', '.join(PLUGINS)}")
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.frameworks.split(",") if n.strip()]
    unknown = [n for n in names if n not in PLUGINS]
    if unknown:
        parser.error(f"unknown framework(s) {unknown}; known: {sorted(PLUGINS)}")
    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    frameworks = results.setdefault("frameworks", {})
    load0 = os.getloadavg()[0]
    for name in names:
        plugin = PLUGINS[name]()
        why = plugin.unavailable()
        if why:
            frameworks[name] = {"skipped": why}
            print(f"{name}: skipped ({why})")
            continue
        got = plugin.measure(args.samples)
        got["command"] = f"python benchmarks/integration_overhead.py --frameworks {name} --samples {args.samples}"
        got["loadavg_1m_before_after"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
        frameworks[name] = got
        print(f"{name}: adapter {got['adapter_ms']} ms/sample, inside framework {got['inside_ms']} ms, "
              f"middleware {got['middleware_ms']} ms -> added {got['added_ms']} ms "
              f"(cpu {got['added_cpu_ms']} ms)")
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
