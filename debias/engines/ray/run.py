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


class _Workers:
    """The judge actors, the items in flight on each, and replacement of dead ones.

    Args:
        ray: The connected ray module.
        make: Starts one judge actor.
        n: Number of actors.
        per_actor: Items in flight per actor.
    """

    def __init__(self, ray: Any, make: Any, n: int, per_actor: int) -> None:
        self.ray = ray
        self.make = make
        self.per_actor = per_actor
        self.pool = [make() for _ in range(n)]
        self.load = [0] * n
        self.in_flight: dict[Any, tuple[int, Any, Item]] = {}
        self.died = _worker_died(ray)

    def fill(self, todo: deque[Item]) -> None:
        """Hand items to actors with a free slot."""
        for k, actor in enumerate(self.pool):
            while todo and self.load[k] < self.per_actor:
                item = todo.popleft()
                self.in_flight[actor.judge.remote(item)] = (k, actor, item)
                self.load[k] += 1

    def next_finished(self) -> tuple[Item, ResultRecord | None, BaseException | None]:
        """Wait for one item: ``(item, record, None)``, or ``(item, None, why)`` if its worker died.

        A dead worker is replaced (once, whatever number of its items report it).

        Raises:
            ConfigError: A worker failed while starting (bad judge spec, model that cannot
                load): retrying would fail the same way.
        """
        ready, _ = self.ray.wait(list(self.in_flight), num_returns=1)
        k, actor, item = self.in_flight.pop(ready[0])
        self.load[k] -= 1
        try:
            return item, self.ray.get(ready[0]), None
        except self.died as exc:
            if getattr(exc, "actor_init_failed", False):  # the last line names the exception
                lines = [ln for ln in str(exc).splitlines() if ln.strip()]
                raise ConfigError(f"a judge worker could not start: {lines[-1] if lines else exc}") from None
            if self.pool[k] is actor:
                self.ray.kill(actor, no_restart=True)
                self.pool[k] = self.make()
            return item, None, exc

    def close(self) -> None:
        """Stop every actor."""
        for actor in self.pool:
            self.ray.kill(actor, no_restart=True)


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
        ConfigError: Non-positive workers, concurrency, rate limit or attempts; a worker
            that cannot start.
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
        limiter = ray.remote(RateLimiter).options(num_cpus=0).remote(rate_limit) if rate_limit else None
        actor_cls = ray.remote(JudgeWorker).options(max_concurrency=per_actor, num_cpus=cpus,
                                                    num_gpus=worker_gpus or 0)
        pool = _Workers(ray, lambda: actor_cls.remote(plan, limiter), min(n, len(todo)), per_actor)
        attempts: dict[str, int] = {}
        try:
            with JsonlAppender(out) as writer:
                while todo or pool.in_flight:
                    pool.fill(todo)
                    item, record, died = pool.next_finished()
                    if died is not None:
                        attempts[item.id] = attempts.get(item.id, 0) + 1
                        if attempts[item.id] < max_attempts:
                            todo.appendleft(item)
                            continue
                        why = RuntimeError(f"the worker judging this item died {max_attempts} times "
                                           f"(last: {type(died).__name__})")
                        record = ResultRecord(**item.model_dump(), result=error_result(why, 0.0))
                    assert record is not None
                    writer.write(record)
                    summary.add(record, record.result)
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            pool.close()
            if limiter is not None:
                ray.kill(limiter, no_restart=True)
    summary.elapsed_s = time.perf_counter() - started
    return summary
