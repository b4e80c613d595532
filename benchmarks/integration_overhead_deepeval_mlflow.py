"""Adapter overhead per scored sample: DeepEval and MLflow, zero-latency scripted judges.

What the adapter adds on top of (a) the framework's own scorer calls it makes (one per
judgement the middleware asks for) and (b) the middleware itself (the
``Debiaser`` loop, measured separately on the same verdict pattern):

- **DeepEval** (:class:`debias.integrations.deepeval.DebiasedMetric` around ``ArenaGEval``
  with an in-process zero-latency ``DeepEvalBaseLLM`` answering as a scripted grader):
  ``added = median(adapter measure - time inside ArenaGEval.measure) - median(loop)``,
  where ``loop`` is ``Debiaser.judge`` with a :class:`ScriptedJudge` producing the same
  verdicts, minus the time inside that judge. The unshuffled-order template runs inside
  ArenaGEval.measure, so ``added_vs_plain_calls_ms`` also charges the adapter with any
  difference between its copies' calls and plain ``ArenaGEval.measure`` calls:
  ``median(adapter measure) - calls x median(plain measure) - median(loop)``.
- **MLflow** (:func:`debias.integrations.mlflow.debiased_scorer` around a pairwise judge
  function, called as MLflow calls a scorer): ``added = median(adapter call - time
  inside the judge function) - median(Debiaser.judge with FunctionJudge - time inside
  the function) - median(plain @scorer call - time inside the function)``.

Goal: added < 1 ms per sample. CPU time of the same spans is reported too (insensitive
to other load on the machine); the 1-minute load average before and after is recorded.

Reproduce: ``python benchmarks/integration_overhead_deepeval_mlflow.py [--samples 300]``
(writes ``benchmarks/results/integration_overhead_deepeval_mlflow.json``).
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
from typing import Any

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
os.environ.setdefault("DEEPEVAL_UPDATE_WARNING_OPT_IN", "NO")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from debias.judges.base import JudgeRequest
from debias.judges.function import FunctionJudge
from debias.judges.testing import ScriptedJudge
from debias.loop import DEFAULT_DETECTORS, Debiaser
from debias.testing.framework_graders import DeepEvalGrader
from debias.testing.responders import ChatRequest
from debias.types import Item, Verdict

GOOD = "Canberra is the capital of Australia, chosen as a compromise between Sydney and Melbourne."
BAD = "Sydney is the capital of Australia, and its largest city."


def merit(text: str) -> float:
    return 9.0 if "Canberra" in text else 2.0


class Clock:
    """Accumulates wall and CPU time spent inside timed calls."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.history: list[tuple[float, float]] = []

    def reset(self) -> None:
        self.wall = self.cpu = 0.0

    def timed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - t0
                self.cpu += time.process_time() - c0
        return inner


class TimedScripted(ScriptedJudge):
    """The loop reference: a ScriptedJudge whose time inside is not counted."""

    def __init__(self, clock: Clock, **rates: float) -> None:
        super().__init__(**rates)
        self.clock = clock

    def judge(self, request: JudgeRequest) -> Verdict:
        return self.clock.timed(super().judge)(request)

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        return self.judge(request)


def stats(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    return {"median_ms": round(statistics.median(s), 4), "p90_ms": round(s[int(0.9 * (len(s) - 1))], 4)}


def run_timed(n: int, call: Callable[[int], Any], clock: Clock) -> tuple[list[float], list[float]]:
    """Per-sample (wall - inside, cpu - inside) in ms; the inside wall ms go to ``clock.history``."""
    wall: list[float] = []
    cpu: list[float] = []
    clock.history = []
    for k in range(n):
        clock.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        call(k)
        wall.append((time.perf_counter() - t0 - clock.wall) * 1000)
        cpu.append((time.process_time() - c0 - clock.cpu) * 1000)
        clock.history.append((clock.wall * 1000, clock.cpu * 1000))
    return wall, cpu


def run_timed_async(n: int, call: Callable[[int], Any], clock: Clock) -> tuple[list[float], list[float]]:
    """As :func:`run_timed` for a coroutine function, all samples in one event loop."""
    wall: list[float] = []
    cpu: list[float] = []
    clock.history = []

    async def go() -> None:
        for k in range(n):
            clock.reset()
            t0, c0 = time.perf_counter(), time.process_time()
            await call(k)
            wall.append((time.perf_counter() - t0 - clock.wall) * 1000)
            cpu.append((time.process_time() - c0 - clock.cpu) * 1000)
            clock.history.append((clock.wall * 1000, clock.cpu * 1000))

    asyncio.run(go())
    return wall, cpu


def loop_reference(n: int, detectors: str, rates: dict[str, float], use_async: bool) -> tuple[list[float], list[float]]:
    clock = Clock()
    debiaser = Debiaser(TimedScripted(clock, **rates), detectors, max_rounds=2)
    items = [Item(id=f"s{k}", task="pairwise", instruction="What is the capital of Australia?",
                  candidates=[BAD, GOOD], label=1) for k in range(n)]
    if use_async:
        return run_timed_async(n, lambda k: debiaser.ajudge(items[k]), clock)
    return run_timed(n, lambda k: debiaser.judge(items[k]), clock)


# ---------------------------------------------------------------------------- DeepEval
def _deepeval_one(n: int, detectors: str, mode: str, rates: dict[str, float], use_async: bool,
                  case: Any, model_cls: Any) -> dict[str, Any]:
    from deepeval.metrics import ArenaGEval
    from deepeval.test_case import SingleTurnParams

    from debias.integrations.deepeval import DebiasedMetric

    clock = Clock()

    class TimedArena(ArenaGEval):
        """ArenaGEval that records the time spent inside its own measure/a_measure."""

        def measure(self, *a: Any, **k: Any) -> Any:
            return clock.timed(super().measure)(*a, **k)

        async def a_measure(self, *a: Any, **k: Any) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return await super().a_measure(*a, **k)
            finally:
                clock.wall += time.perf_counter() - t0
                clock.cpu += time.process_time() - c0

    inner = TimedArena(name="Correctness", criteria="Pick the factually correct answer.",
                       evaluation_params=[SingleTurnParams.INPUT, SingleTurnParams.ACTUAL_OUTPUT],
                       evaluation_steps=["Check the answer is factually correct."],
                       model=model_cls(DeepEvalGrader(mode, merit=merit)),  # type: ignore[arg-type]
                       async_mode=use_async)
    metric = DebiasedMetric(inner, detectors=detectors, max_rounds=2)
    runner = run_timed_async if use_async else run_timed

    def call(_k: int) -> Any:
        return metric.a_measure(case) if use_async else metric.measure(case)

    runner(min(30, n), call, clock)                                         # warm-up
    wall, cpu = runner(n, call, clock)
    totals = [w + i[0] for w, i in zip(wall, clock.history, strict=True)]
    totals_cpu = [c + i[1] for c, i in zip(cpu, clock.history, strict=True)]
    result = metric.debias_result
    assert result is not None

    def plain(_k: int) -> Any:
        return (inner.a_measure(case, _show_indicator=False) if use_async
                else inner.measure(case, _show_indicator=False))

    plain_wall, plain_cpu = runner(n, plain, Clock())
    loop_wall, loop_cpu = loop_reference(n, detectors, {"compliance": 1.0, **rates}, use_async)
    added = statistics.median(wall) - statistics.median(loop_wall)
    added_cpu = statistics.median(cpu) - statistics.median(loop_cpu)
    calls = len(result.rounds) + len(result.probes)
    versus_plain = statistics.median(totals) - calls * statistics.median(plain_wall) - statistics.median(loop_wall)
    versus_plain_cpu = (statistics.median(totals_cpu) - calls * statistics.median(plain_cpu)
                        - statistics.median(loop_cpu))
    return {
        "status": result.status.value,
        "framework_scorer_calls_per_sample": calls,
        "framework_scorer_ms_per_call": stats(plain_wall),
        "adapter_total": stats(totals),
        "added_vs_plain_calls_ms": round(versus_plain, 4),
        "added_vs_plain_calls_cpu_ms": round(versus_plain_cpu, 4),
        "adapter_minus_framework_calls": stats(wall),
        "middleware_loop": stats(loop_wall),
        "added_ms": round(added, 4), "added_cpu_ms": round(added_cpu, 4), "goal_met": added < 1.0,
    }


def deepeval_scenarios(n: int, detectors: str) -> dict[str, Any]:
    from deepeval.models import DeepEvalBaseLLM
    from deepeval.test_case import ArenaTestCase, Contestant, LLMTestCase

    class InProcessModel(DeepEvalBaseLLM):
        """Zero-latency grader model: DeepEval prompts answered by a scripted grader."""

        def __init__(self, grader: DeepEvalGrader) -> None:
            self.grader = grader
            super().__init__("scripted")

        def load_model(self) -> Any:
            return self

        def generate(self, prompt: str, schema: Any = None) -> str:
            return self.grader(ChatRequest(body={"messages": [{"role": "user", "content": prompt}]}))

        async def a_generate(self, prompt: str, schema: Any = None) -> str:
            return self.generate(prompt, schema)

        def get_model_name(self) -> str:
            return "scripted"

    out: dict[str, Any] = {}
    case = ArenaTestCase(contestants=[
        Contestant(name="bot-1", test_case=LLMTestCase(input="What is the capital of Australia?", actual_output=BAD)),
        Contestant(name="bot-2", test_case=LLMTestCase(input="What is the capital of Australia?", actual_output=GOOD)),
    ])
    scenarios = {"unbiased judge (clean)": ("fair", {}),
                 "position-biased judge, complies (revised)": ("compliant", {"position": 1.0})}
    for label, (mode, rates) in scenarios.items():
        for use_async in (False, True):
            key = f"deepeval ArenaGEval, {label} [{'a_measure' if use_async else 'measure'}]"
            out[key] = _deepeval_one(n, detectors, mode, rates, use_async, case, InProcessModel)
            print(f"{key:80s} added {out[key]['added_ms']:.3f} ms (cpu {out[key]['added_cpu_ms']:.3f}); "
                  f"vs plain calls {out[key]['added_vs_plain_calls_ms']:.3f} ms "
                  f"(cpu {out[key]['added_vs_plain_calls_cpu_ms']:.3f})")
    return out


# ---------------------------------------------------------------------------- MLflow
def _mlflow_pair(timed: Callable[..., str], scorer: Any, feedback: Any) -> tuple[Callable[..., str], Any]:
    """The judge function under test and the plain MLflow scorer built on it."""

    def judge_fn(question: str, answer_a: str, answer_b: str) -> str:
        return timed(question, answer_a, answer_b)

    def plain(inputs: Any, outputs: Any, expectations: Any) -> Any:
        v = timed(inputs["question"], outputs, expectations["baseline"])
        return feedback(value=1.0 if v == "A" else 0.0, rationale=v)

    return judge_fn, scorer(plain)


def _mlflow_one(n: int, detectors: str, fn: Callable[..., str]) -> dict[str, Any]:
    from mlflow.entities import Feedback
    from mlflow.genai.scorers import scorer

    from debias.integrations.mlflow import debiased_scorer

    clock = Clock()
    judge_fn, plain = _mlflow_pair(clock.timed(fn), scorer, Feedback)
    inputs, expectations = {"question": "What is the capital of Australia?"}, {"baseline": GOOD}
    adapted = debiased_scorer(judge_fn, name="pref", detectors=detectors, max_rounds=2)
    core = Debiaser(FunctionJudge(judge_fn), detectors, max_rounds=2)
    item = Item(id="row", task="pairwise", instruction=inputs["question"], candidates=[BAD, GOOD])

    def call_adapter(_k: int) -> Any:
        return adapted(inputs=inputs, outputs=BAD, expectations=expectations)

    run_timed(min(50, n), call_adapter, clock)                              # warm-up
    wall, cpu = run_timed(n, call_adapter, clock)
    plain_wall, plain_cpu = run_timed(
        n, lambda _k: plain(inputs=inputs, outputs=BAD, expectations=expectations), clock)
    core_wall, core_cpu = run_timed(n, lambda _k: core.judge(item), clock)
    fb = call_adapter(0)
    added = statistics.median(wall) - statistics.median(core_wall) - statistics.median(plain_wall)
    added_cpu = statistics.median(cpu) - statistics.median(core_cpu) - statistics.median(plain_cpu)
    return {
        "status": fb.metadata["debias_status"], "value": fb.value,
        "adapter_minus_judge_fn": stats(wall), "middleware_loop": stats(core_wall),
        "plain_scorer_minus_judge_fn": stats(plain_wall),
        "added_ms": round(added, 4), "added_cpu_ms": round(added_cpu, 4), "goal_met": added < 1.0,
    }


def mlflow_scenarios(n: int, detectors: str) -> dict[str, Any]:
    def fair(question: str, answer_a: str, answer_b: str) -> str:
        return "A" if merit(answer_a) >= merit(answer_b) else "B"

    def compliant(question: str, answer_a: str, answer_b: str) -> str:
        return fair(question, answer_a, answer_b) if "Reviewer feedback" in question else "A"

    out: dict[str, Any] = {}
    for label, fn in {"unbiased judge (clean)": fair,
                      "position-biased judge, complies (revised)": compliant}.items():
        key = f"mlflow debiased_scorer, {label} [scorer call]"
        out[key] = _mlflow_one(n, detectors, fn)
        print(f"{key:80s} added {out[key]['added_ms']:.3f} ms (cpu {out[key]['added_cpu_ms']:.3f})")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS))
    ap.add_argument("--json", type=Path,
                    default=Path(__file__).parent / "results" / "integration_overhead_deepeval_mlflow.json")
    args = ap.parse_args()
    report: dict[str, Any] = {
        "command": "python benchmarks/integration_overhead_deepeval_mlflow.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "samples": args.samples, "detectors": args.detectors, "goal_added_ms": 1.0,
        "load_avg_1m_before": round(os.getloadavg()[0], 2),
        "note": ("added_ms: median per-sample time of the adapter beyond the framework's own scorer "
                 "calls and the middleware loop (see the module docstring); *_cpu_ms: the same in "
                 "process CPU time."),
    }
    import deepeval
    import mlflow
    report["versions"] = {"deepeval": deepeval.__version__, "mlflow": mlflow.__version__}
    report["scenarios"] = {**deepeval_scenarios(args.samples, args.detectors),
                           **mlflow_scenarios(args.samples, args.detectors)}
    report["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
