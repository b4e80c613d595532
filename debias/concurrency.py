"""Bounded-concurrency scheduling shared by the batch runners."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Container, Iterable
from typing import TypeVar

T = TypeVar("T")


async def run_bounded(
    jobs: Iterable[tuple[str, T]],
    work: Callable[[str, T], Awaitable[None]],
    *,
    concurrency: int,
    skip: Container[str] = frozenset(),
    on_skip: Callable[[str], None] | None = None,
) -> None:
    """Run ``work(job_id, job)`` for every job, at most ``concurrency`` at once.

    Jobs are pulled from the iterable only when a slot is free, so a long (or streamed)
    input never piles up in memory. Jobs whose id is in ``skip`` are not run
    (``on_skip`` is told). If the caller is cancelled or a job raises, the jobs still in
    flight are cancelled.

    Raises:
        ValueError: If ``concurrency`` is below 1.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    sem = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def guarded(job_id: str, job: T) -> None:
        try:
            await work(job_id, job)
        finally:
            sem.release()

    try:
        for job_id, job in jobs:
            if job_id in skip:
                if on_skip is not None:
                    on_skip(job_id)
                continue
            await sem.acquire()
            task = asyncio.create_task(guarded(job_id, job))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
