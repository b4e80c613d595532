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
scorer(state, target)``), ``inspect-provider`` (``Model.generate`` on the ``debias/``
provider around a zero-latency mockllm grader), ``promptfoo`` (``get_assert`` with a
zero-latency scripted judge, called as promptfoo's Python bridge calls it), ``deepeval``
(``DebiasedMetric`` around an ``ArenaGEval`` with an in-process zero-latency model:
``measure`` and ``a_measure``), ``mlflow`` (``debiased_scorer`` around a zero-latency
pairwise function, called as ``mlflow.genai.evaluate`` calls a scorer). Add a framework
by adding a class with ``name``, ``unavailable()`` and ``measure(samples)`` to ``PLUGINS``.

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
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from debias.integrations.common import RequestJudge, build_debiaser, make_item
from debias.judges.base import JudgeRequest
from debias.testing import ScriptedJudge

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


class InspectProviderPlugin:
    """The ``debias/`` model provider vs its inner (zero-latency mockllm) grader model."""

    name = "inspect-provider"

    def unavailable(self) -> str | None:
        return InspectPlugin().unavailable()

    def measure(self, samples: int) -> dict[str, Any]:
        from inspect_ai.model import ModelOutput, ModelUsage, get_model

        from debias.integrations.inspect_ai import register_provider
        from debias.testing.prompt_view import view_of_messages

        register_provider()
        inside = Timer()

        def grader(input: Any, tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
            view = view_of_messages([{"role": m.role, "content": m.text} for m in input])
            out = ModelOutput.from_content("mockllm/model", view.answer(_slot_of_gold(view.candidates)))
            out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
            return out

        debiased_model = get_model("debias/mockllm/model", custom_outputs=grader, detectors=DETECTORS)
        inner = debiased_model.api.inner  # type: ignore[attr-defined]
        real_generate = inner.generate

        async def timed_generate(*args: Any, **kwargs: Any) -> Any:
            w0, c0 = time.perf_counter(), time.process_time()
            out = await real_generate(*args, **kwargs)
            inside.add(time.perf_counter() - w0, time.process_time() - c0)
            return out

        inner.generate = timed_generate
        prompts = []
        items = []
        for k in range(samples):
            cands = [GOLD, PLAIN] if k % 2 else [PLAIN, GOLD]
            item = make_item(f"What is the capital of Australia? ({k})", cands, item_id=str(k))
            items.append(item)
            from debias.judges.prompts import Templates, render_task

            prompts.append(render_task(JudgeRequest.first(item), Templates()))

        async def run() -> tuple[list[Any], list[Any], list[float]]:
            for p in prompts[:50]:
                await debiased_model.generate(p)
            rows, own = [], []
            for p in prompts:
                inside.reset()
                w0, c0 = time.perf_counter(), time.process_time()
                await debiased_model.generate(p)
                rows.append((time.perf_counter() - w0, time.process_time() - c0, inside.wall, inside.cpu))
            for p in prompts:
                w0, c0 = time.perf_counter(), time.process_time()
                await real_generate(p)
                own.append((time.perf_counter() - w0, time.process_time() - c0))
            return rows, await _loop_rows(items), own

        rows, loop, own = asyncio.run(run())
        out = summarise(rows, loop)
        # The outer debias/ call goes through Inspect's Model.generate machinery, which the
        # user's own single grader call pays too: it is not the adapter's.
        own_wall = _median_ms([w for w, _ in own])
        own_cpu = _median_ms([c for _, c in own])
        out["framework_generate_ms"] = own_wall
        out["added_including_outer_call_ms"] = out["added_ms"]
        out["added_ms"] = round(out["added_ms"] - own_wall, 4)
        out["added_cpu_ms"] = round(out["added_cpu_ms"] - own_cpu, 4)
        out["note"] = ("Model.generate on debias/mockllm/model (zero-latency grader); inside_ms = the "
                       "inner model's generate calls (first + swap probe); added_ms also excludes one "
                       "plain Model.generate (framework_generate_ms), the outer call's own machinery "
                       "that a grader call without judge-debias costs as well")
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


def _sync_loop_rows(judge_fn: Callable[[JudgeRequest], Any], items: list[Any],
                    inside: Timer) -> list[tuple[float, float, float, float]]:
    """The middleware alone, synchronously, on a judge callback whose time ``inside`` counts."""
    debiaser = build_debiaser(RequestJudge(judge_fn, name="zero"), detectors=DETECTORS)
    rows = []
    for item in items:
        inside.reset()
        w0, c0 = time.perf_counter(), time.process_time()
        debiaser.judge(item)
        rows.append((time.perf_counter() - w0, time.process_time() - c0, inside.wall, inside.cpu))
    return rows


def _timed_slot(inside: Timer) -> Callable[[JudgeRequest], int]:
    def judge_fn(request: JudgeRequest) -> int:
        w0, c0 = time.perf_counter(), time.process_time()
        slot = _slot_of_gold([request.item.candidates[i] for i in request.order])
        inside.add(time.perf_counter() - w0, time.process_time() - c0)
        return slot

    return judge_fn


class DeepEvalPlugin:
    """``DebiasedMetric(ArenaGEval)`` vs the ArenaGEval calls it makes (in-process zero-latency model)."""

    name = "deepeval"

    def unavailable(self) -> str | None:
        # before DeepEval's first import: it resolves its .deepeval/ folder then
        os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
        os.environ.setdefault("DEEPEVAL_CACHE_FOLDER", os.path.join(tempfile.gettempdir(), "judge-debias-deepeval"))
        try:
            import deepeval  # noqa: F401
        except ImportError as exc:
            return f"deepeval not installed ({exc})"
        return None

    def measure(self, samples: int) -> dict[str, Any]:
        from deepeval.metrics import ArenaGEval
        from deepeval.models import DeepEvalBaseLLM
        from deepeval.test_case import ArenaTestCase, Contestant, LLMTestCase, SingleTurnParams

        from debias.integrations.deepeval import DebiasedMetric
        from debias.testing.framework_graders import DeepEvalGrader
        from debias.testing.responders import ChatRequest

        inside = Timer()
        grader = DeepEvalGrader("fair", merit=lambda text: float("Canberra" in text))

        class ZeroLatencyModel(DeepEvalBaseLLM):
            """DeepEval's prompts answered in-process by a scripted, content-consistent grader."""

            def __init__(self) -> None:
                super().__init__("zero")

            def load_model(self) -> Any:
                return self

            def generate(self, prompt: str, schema: Any = None) -> str:
                return grader(ChatRequest(body={"messages": [{"role": "user", "content": prompt}]}))

            async def a_generate(self, prompt: str, schema: Any = None) -> str:
                return self.generate(prompt, schema)

            def get_model_name(self) -> str:
                return "zero"

        class TimedArenaGEval(ArenaGEval):
            """ArenaGEval timing its own measure / a_measure (the framework's scorer)."""

            def measure(self, *args: Any, **kwargs: Any) -> Any:
                w0, c0 = time.perf_counter(), time.process_time()
                try:
                    return super().measure(*args, **kwargs)
                finally:
                    inside.add(time.perf_counter() - w0, time.process_time() - c0)

            async def a_measure(self, *args: Any, **kwargs: Any) -> Any:
                w0, c0 = time.perf_counter(), time.process_time()
                try:
                    return await super().a_measure(*args, **kwargs)
                finally:
                    inside.add(time.perf_counter() - w0, time.process_time() - c0)

        def arena(async_mode: bool) -> Any:
            return TimedArenaGEval(name="Correctness", criteria="Pick the factually correct answer.",
                                   evaluation_params=[SingleTurnParams.INPUT, SingleTurnParams.ACTUAL_OUTPUT],
                                   evaluation_steps=["Check the answer is factually correct."],
                                   model=ZeroLatencyModel(), async_mode=async_mode)

        def case(k: int) -> Any:
            q = f"What is the capital of Australia? ({k})"
            first, second = (GOLD, PLAIN) if k % 2 else (PLAIN, GOLD)
            return ArenaTestCase(contestants=[
                Contestant(name="one", test_case=LLMTestCase(input=q, actual_output=first)),
                Contestant(name="two", test_case=LLMTestCase(input=q, actual_output=second))])

        cases = [case(k) for k in range(samples)]
        items = [make_item(c.contestants[0].test_case.input,
                           [x.test_case.actual_output for x in c.contestants], item_id=str(k))
                 for k, c in enumerate(cases)]
        sync_metric, async_metric = DebiasedMetric(arena(False), detectors=DETECTORS), \
            DebiasedMetric(arena(True), detectors=DETECTORS)

        def sync_rows(n: int) -> list[tuple[float, float, float, float]]:
            rows = []
            for c in cases[:n]:
                inside.reset()
                w0, c0 = time.perf_counter(), time.process_time()
                sync_metric.measure(c)
                rows.append((time.perf_counter() - w0, time.process_time() - c0, inside.wall, inside.cpu))
            return rows

        async def async_rows(n: int) -> list[tuple[float, float, float, float]]:
            rows = []
            for c in cases[:n]:
                inside.reset()
                w0, c0 = time.perf_counter(), time.process_time()
                await async_metric.a_measure(c)
                rows.append((time.perf_counter() - w0, time.process_time() - c0, inside.wall, inside.cpu))
            return rows

        sync_rows(min(50, samples))                                            # warm-up
        rows = sync_rows(samples)
        loop = _sync_loop_rows(_timed_slot(inside), items, inside)
        asyncio.run(async_rows(min(50, samples)))
        arows = asyncio.run(async_rows(samples))
        aloop = asyncio.run(_loop_rows(items))
        plain = arena(False)
        own = []
        for c in cases:
            w0 = time.perf_counter()
            plain.measure(c, _show_indicator=False)
            own.append(time.perf_counter() - w0)
        out = summarise(rows, loop)
        a_out = summarise(arows, aloop)
        out.update({"a_measure_added_ms": a_out["added_ms"], "a_measure_added_cpu_ms": a_out["added_cpu_ms"],
                    "framework_scorer_ms": _median_ms(own), "scorer_calls_per_sample": 2,
                    "status": sync_metric.debias_result.status.value if sync_metric.debias_result else None})
        out["note"] = ("DebiasedMetric(ArenaGEval with an in-process zero-latency DeepEvalBaseLLM), detectors "
                       "position,bandwagon; each sample = first judgement + swap probe, each a copy of the "
                       "ArenaGEval measured on a rebuilt ArenaTestCase; added_ms for measure(), "
                       "a_measure_added_ms for a_measure(); the unshuffled-order prompt template runs "
                       "inside ArenaGEval.measure and so counts as framework time")
        return out


class MlflowPlugin:
    """``debiased_scorer(pairwise fn)`` called as MLflow calls a scorer, vs the bare Debiaser."""

    name = "mlflow"

    def unavailable(self) -> str | None:
        try:
            import mlflow  # noqa: F401
        except ImportError as exc:
            return f"mlflow not installed ({exc})"
        return None

    def measure(self, samples: int) -> dict[str, Any]:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow.entities import Feedback
        from mlflow.genai.scorers import scorer

        from debias.integrations.mlflow import debiased_scorer

        inside = Timer()

        def pairwise(question: str, answer_a: str, answer_b: str) -> str:
            w0, c0 = time.perf_counter(), time.process_time()
            out = "A" if "Canberra" in answer_a else "B"
            inside.add(time.perf_counter() - w0, time.process_time() - c0)
            return out

        def plain_fn(inputs: Any, outputs: Any, expectations: Any) -> Any:
            v = pairwise(inputs["question"], outputs, expectations["baseline"])
            return Feedback(value=1.0 if v == "A" else 0.0, rationale=v)

        plain = scorer(plain_fn, name="plain")
        adapted = debiased_scorer(pairwise, name="debiased", detectors=DETECTORS)
        rows_in = [({"question": f"What is the capital of Australia? ({k})"},
                    GOLD if k % 2 else PLAIN, {"baseline": PLAIN if k % 2 else GOLD}) for k in range(samples)]
        items = [make_item(i["question"], [o, e["baseline"]], item_id=str(k))
                 for k, (i, o, e) in enumerate(rows_in)]

        def run(fn: Any, n: int) -> list[tuple[float, float, float, float]]:
            rows = []
            for i, o, e in rows_in[:n]:
                inside.reset()
                w0, c0 = time.perf_counter(), time.process_time()
                fn(inputs=i, outputs=o, expectations=e)
                rows.append((time.perf_counter() - w0, time.process_time() - c0, inside.wall, inside.cpu))
            return rows

        run(adapted, min(50, samples))                                         # warm-up
        rows = run(adapted, samples)
        own = run(plain, samples)
        loop = _sync_loop_rows(_timed_slot(inside), items, inside)
        out = summarise(rows, loop)
        dispatch = _median_ms([w - iw for w, _, iw, _ in own])
        out.update({"framework_scorer_ms": _median_ms([w for w, _, _, _ in own]),
                    "framework_scorer_dispatch_ms": dispatch,
                    "added_beyond_framework_dispatch_ms": round(out["added_ms"] - dispatch, 4),
                    "scorer_calls_per_sample": 1, "judge_calls_per_sample": 2})
        out["note"] = ("debiased_scorer(zero-latency pairwise function), detectors position,bandwagon, called "
                       "as mlflow.genai.evaluate calls a scorer (Scorer.__call__); inside_ms = time in the judge "
                       "function (first judgement + swap probe); added_ms includes MLflow's own scorer "
                       "dispatch, which a plain @scorer pays too (framework_scorer_dispatch_ms)")
        return out


PLUGINS: dict[str, Callable[[], Plugin]] = {
    "inspect": InspectPlugin,
    "inspect-provider": InspectProviderPlugin,
    "promptfoo": PromptfooPlugin,
    "deepeval": DeepEvalPlugin,
    "mlflow": MlflowPlugin,
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
