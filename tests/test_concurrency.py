from __future__ import annotations

import asyncio

import pytest

from debias.concurrency import run_bounded


async def test_bound_is_respected_and_skips_reported():
    running = peak = 0
    done: list[str] = []
    skipped: list[str] = []

    async def work(job_id: str, delay: float) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(delay)
        running -= 1
        done.append(job_id)

    jobs = ((f"j{k}", 0.001 * (k % 3)) for k in range(40))
    await run_bounded(jobs, work, concurrency=4, skip={"j1", "j2"}, on_skip=skipped.append)
    assert peak == 4 and len(done) == 38 and skipped == ["j1", "j2"]


async def test_failure_cancels_jobs_in_flight():
    cancelled: list[str] = []

    async def work(job_id: str, _: None) -> None:
        if job_id == "bad":
            raise RuntimeError("boom")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(job_id)
            raise

    with pytest.raises(RuntimeError, match="boom"):
        await run_bounded([("a", None), ("b", None), ("bad", None)], work, concurrency=3)
    await asyncio.sleep(0)
    assert sorted(cancelled) == ["a", "b"]


async def test_rejects_zero_concurrency():
    with pytest.raises(ValueError, match="concurrency"):
        await run_bounded([], lambda *_: asyncio.sleep(0), concurrency=0)
