"""``debias run --engine ray``: judges as Ray actors, results appended here as they finish.

* Each :class:`JudgeWorker` actor builds the debiaser once (a local model loads once per
  actor) and judges up to ``concurrency`` items at a time (an async actor).
* API judges of all actors share one rate limit: a :class:`RateLimiter` actor hands out
  call slots ``60 / calls_per_minute`` seconds apart, and every model call (not cache
  hits) waits for its slot.
* This process keeps at most ``workers * concurrency`` items in flight, appends each
  finished record to the output JSONL at once (like :func:`debias.runner.arun_batch`)
  and skips ids already there, so a crashed or killed run resumes where it stopped.
* A worker that dies (killed, out of memory, lost node) is replaced and its in-flight
  items are judged again; an item whose worker dies ``max_attempts`` times is recorded
  as an error result instead of killing workers forever. Only this process writes, so
  no item is written twice.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from debias.engines.plan import RunPlan, build_debiaser
from debias.engines.ray.session import cluster_cpus, session
from debias.errors import ConfigError
from debias.io import JsonlAppender, finished_ids
from debias.runner import Summary, error_result, judge_record
from debias.types import Item, ResultRecord


class RateLimiter:
    """Hands out model-call slots at most ``calls_per_minute`` per minute (one actor per run).

    Args:
        calls_per_minute: The shared limit.
    """

    def __init__(self, calls_per_minute: float) -> None:
        self.interval = 60.0 / calls_per_minute
        self.next = 0.0

    def reserve(self) -> float:
        """Reserve the next slot; returns how many seconds the caller must wait for it."""
        now = time.monotonic()
        slot = max(now, self.next)
        self.next = slot + self.interval
        return slot - now


class LimiterGate:
    """A :class:`~debias.engines.plan.Gate` that waits for a :class:`RateLimiter` slot.

    Args:
        limiter: Handle of the limiter actor.
    """

    def __init__(self, limiter: Any) -> None:
        self.limiter = limiter

    async def wait(self) -> None:
        delay = await self.limiter.reserve.remote()
        if delay > 0:
            await asyncio.sleep(delay)

    def wait_sync(self) -> None:
        import ray

        delay = ray.get(self.limiter.reserve.remote())
        if delay > 0:
            time.sleep(delay)


class JudgeWorker:
    """One judge process: the plan's debiaser, built once.

    Args:
        plan: What to do with each item.
        limiter: Rate-limiter actor shared by all workers (None: no limit).
    """

    def __init__(self, plan: RunPlan, limiter: Any = None) -> None:
        self.debiaser = build_debiaser(plan, gate=LimiterGate(limiter) if limiter is not None else None)

    async def judge(self, item: Item) -> ResultRecord:
        """Debias one item (judge errors are recorded in the result, never raised)."""
        return await judge_record(self.debiaser, item)


def _worker_died(ray: Any) -> tuple[type[BaseException], ...]:
    ex = ray.exceptions
    return tuple(getattr(ex, n) for n in ("RayActorError", "WorkerCrashedError", "ActorUnavailableError",
                                          "NodeDiedError") if hasattr(ex, n))


def run(items: Sequence[Item], plan: RunPlan, out: str, *, address: str | None = None,
        progress: bool = True, workers: int | None = None, concurrency: int | None = None,
        rate_limit: float | None = None, worker_cpus: float | None = None,
        worker_gpus: float | None = None, max_attempts: int = 3) -> Summary:
    """Debias ``items`` on Ray, appending each result to ``out`` as it finishes.

    Args:
        items: Items to debias (ids unique).
        plan: The debiaser's description (built once per worker).
        out: Output JSONL on this machine; ids already in it are skipped.
        address: Ray address (None: start a local instance).
        progress: Progress bar on stderr.
        workers: Judge actors (default: cluster CPUs / ``worker_cpus``).
        concurrency: Items in flight per actor (default 1 for local models, else 8).
        rate_limit: Model calls per minute shared by all actors (None: no limit).
        worker_cpus: CPUs reserved per actor (default 1).
        worker_gpus: GPUs reserved per actor (default 0; e.g. 1 for a local model on GPU).
        max_attempts: Worker deaths an item may cause before it is recorded as an error.

    Returns:
        The run's summary (``resumed`` counts ids found in ``out``).

    Raises:
        ConfigError: Non-positive workers, concurrency, rate limit or attempts.
    """
    for name, value in (("workers", workers), ("concurrency", concurrency), ("rate-limit", rate_limit),
                        ("max attempts", max_attempts)):
        if value is not None and value <= 0:
            raise ConfigError(f"--{name.replace(' ', '-')} must be positive, got {value}")
    for name, value in (("worker-cpus", worker_cpus), ("worker-gpus", worker_gpus)):
        if value is not None and value < 0:
            raise ConfigError(f"--{name} must be >= 0, got {value}")
    cpus = 1.0 if worker_cpus is None else worker_cpus
    per_actor = concurrency or (1 if plan.local_model else 8)
    started = time.perf_counter()
    done = finished_ids(out)
    summary = Summary()
    todo: deque[Item] = deque()
    for item in items:
        if item.id in done:
            summary.resumed += 1
        else:
            todo.append(item)
    if not todo:
        summary.elapsed_s = time.perf_counter() - started
        return summary
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), initial=summary.resumed, unit="item", file=sys.stderr,
                   dynamic_ncols=True, desc="debias")
    with session(address) as ray:
        n = workers or max(1, int(cluster_cpus(ray) // cpus) if cpus > 0 else cluster_cpus(ray))
        n = min(n, len(todo))
        limiter = ray.remote(RateLimiter).options(num_cpus=0).remote(rate_limit) if rate_limit else None
        actor_cls = ray.remote(JudgeWorker).options(max_concurrency=per_actor, num_cpus=cpus,
                                                    num_gpus=worker_gpus or 0)
        pool = [actor_cls.remote(plan, limiter) for _ in range(n)]
        load = [0] * n
        attempts: dict[str, int] = {}
        in_flight: dict[Any, tuple[int, Any, Item]] = {}
        died = _worker_died(ray)
        try:
            with JsonlAppender(out) as writer:
                while todo or in_flight:
                    for k in range(n):
                        while todo and load[k] < per_actor:
                            item = todo.popleft()
                            in_flight[pool[k].judge.remote(item)] = (k, pool[k], item)
                            load[k] += 1
                    ready, _ = ray.wait(list(in_flight), num_returns=1)
                    for ref in ready:
                        k, actor, item = in_flight.pop(ref)
                        load[k] -= 1
                        try:
                            record = ray.get(ref)
                        except died as exc:
                            if pool[k] is actor:  # replace the dead worker once
                                ray.kill(actor, no_restart=True)
                                pool[k] = actor_cls.remote(plan, limiter)
                            attempts[item.id] = attempts.get(item.id, 0) + 1
                            if attempts[item.id] < max_attempts:
                                todo.appendleft(item)
                                continue
                            exc_note = RuntimeError(f"the worker judging this item died {max_attempts} "
                                                    f"times (last: {type(exc).__name__})")
                            record = ResultRecord(**item.model_dump(), result=error_result(exc_note, 0.0))
                        writer.write(record)
                        summary.add(record.result)
                        if bar is not None:
                            bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            for actor in pool:
                ray.kill(actor, no_restart=True)
            if limiter is not None:
                ray.kill(limiter, no_restart=True)
    summary.elapsed_s = time.perf_counter() - started
    return summary
