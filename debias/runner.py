"""Batch runner: bounded concurrency, results appended as each item finishes, resumable."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from debias.concurrency import run_bounded
from debias.errors import BiasDetectedError
from debias.io import JsonlAppender, finished_ids
from debias.loop import Debiaser
from debias.types import Item, Result, ResultRecord, Status, Usage


class Summary(BaseModel):
    """What a batch run did.

    Attributes:
        items: Items debiased in this run.
        resumed: Items skipped because the output already had them.
        invalid: Input lines skipped as invalid (``--skip-invalid``).
        statuses: Count per status.
        flips: Items whose final decision differs from the first judgement.
        flagged: Items with at least one flag-policy finding.
        usage: Model usage summed over the run.
        elapsed_s: Wall time of the run.
    """

    items: int = 0
    resumed: int = 0
    invalid: int = 0
    statuses: dict[str, int] = Field(default_factory=dict)
    flips: int = 0
    flagged: int = 0
    usage: Usage = Field(default_factory=Usage)
    elapsed_s: float = 0.0

    def add(self, result: Result) -> None:
        """Count one finished item."""
        self.items += 1
        self.statuses[result.status.value] = self.statuses.get(result.status.value, 0) + 1
        self.flips += int(result.flipped)
        self.flagged += int(bool(result.flagged))
        self.usage = self.usage.add(result.usage)

    def render(self) -> str:
        """Human-readable summary lines."""
        st = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "none"
        rate = self.items / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return "\n".join([
            f"items: {self.items} debiased ({rate:.1f}/s), {self.resumed} already done, {self.invalid} invalid skipped",
            f"status: {st}",
            f"flips: {self.flips}   flagged: {self.flagged}",
            f"model calls: {self.usage.calls} (+{self.usage.cached_calls} cached)   tokens: {self.usage.tokens}   cost: ${self.usage.cost:.4f}",
        ])


def error_result(exc: BaseException, elapsed: float) -> Result:
    """A Result recording an unexpected exception as data."""
    reason = "bias detected (policy raise)" if isinstance(exc, BiasDetectedError) else "exception"
    return Result(status=Status.ERROR, stop_reason=reason, error=f"{type(exc).__name__}: {exc}",
                  elapsed_s=elapsed)


async def judge_record(debiaser: Debiaser, item: Item) -> ResultRecord:
    """Debias one item into its output record (an unexpected exception becomes an error result)."""
    t0 = time.perf_counter()
    try:
        result = await debiaser.ajudge(item)
    except Exception as exc:  # recorded as data; the batch goes on
        result = error_result(exc, time.perf_counter() - t0)
    return ResultRecord(**item.model_dump(), result=result)


async def arun_batch(
    items: Iterable[Item],
    debiaser: Debiaser,
    out: str | Path,
    *,
    concurrency: int = 8,
    progress: bool = True,
    total: int | None = None,
) -> Summary:
    """Debias items concurrently, appending each result to ``out`` as it finishes.

    Items whose id is already in ``out`` are skipped, so a re-run after a crash resumes.

    Args:
        items: Items to debias.
        debiaser: The configured debiaser.
        out: Output JSONL (input records plus ``result``).
        concurrency: Items in flight at once.
        progress: Show a progress bar on stderr.
        total: Number of items, for the progress bar.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    started = time.perf_counter()
    done = finished_ids(out)
    summary = Summary()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="item", file=sys.stderr, dynamic_ncols=True, desc="debias")

    with JsonlAppender(out) as writer:

        async def work(_: str, item: Item) -> None:
            record = await judge_record(debiaser, item)
            writer.write(record)
            summary.add(record.result)
            if bar is not None:
                bar.update(1)

        def resumed(_: str) -> None:
            summary.resumed += 1
            if bar is not None:
                bar.update(1)

        try:
            await run_bounded(((item.id, item) for item in items), work,
                              concurrency=concurrency, skip=done, on_skip=resumed)
        finally:
            if bar is not None:
                bar.close()
    summary.elapsed_s = time.perf_counter() - started
    return summary


def run_batch(items: Iterable[Item], debiaser: Debiaser, out: str | Path, **kwargs: object) -> Summary:
    """Blocking wrapper of :func:`arun_batch`."""
    return asyncio.run(arun_batch(items, debiaser, out, **kwargs))  # type: ignore[arg-type]
