"""Resumable, concurrent execution of one pipeline stage over many records.

Each job has an id and an async callable returning an :class:`Outcome`. Kept outcomes are
appended to the stage's output JSONL, rejected ones (e.g. teacher traces that disagree
with the gold label) to ``<out stem>.dropped.jsonl``, and failures to
``<out stem>.errors.jsonl`` as they finish. A re-run skips ids found in the output or the
dropped file and retries failed ones (the errors file is rewritten on every run).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from debias.concurrency import run_bounded
from debias.io import JsonlAppender, finished_ids
from debias.types import Usage
from detectors.training.records import ErrorRecord


@dataclass
class Outcome:
    """What a job produced.

    Attributes:
        record: The record to write.
        kept: Write to the output (True) or to the dropped file (False).
        tag: A category counted in the summary (e.g. a drop reason).
        usage: Model usage spent.
    """

    record: BaseModel
    kept: bool = True
    tag: str | None = None
    usage: Usage | None = None


Job = tuple[str, Callable[[], Awaitable[Outcome]]]


class StageSummary(BaseModel):
    """What one run of a stage did.

    Attributes:
        stage: Stage name.
        out: Output file.
        written: Records appended to the output in this run.
        dropped: Records appended to the dropped file in this run.
        resumed: Jobs skipped because an earlier run finished them.
        errors: Jobs that failed in this run (retried on the next run).
        tags: Count per outcome tag.
        first_errors: The first few error messages.
        usage: Model usage of this run.
        elapsed_s: Wall time.
    """

    stage: str
    out: str
    written: int = 0
    dropped: int = 0
    resumed: int = 0
    errors: int = 0
    tags: dict[str, int] = Field(default_factory=dict)
    first_errors: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    elapsed_s: float = 0.0

    def render(self) -> str:
        """Human-readable summary."""
        lines = [f"{self.stage}: {self.written} written, {self.dropped} dropped, "
                 f"{self.resumed} already done, {self.errors} errors ({self.elapsed_s:.1f}s)"]
        if self.tags:
            lines.append("  " + ", ".join(f"{k}: {v}" for k, v in sorted(self.tags.items())))
        if self.usage.calls or self.usage.cached_calls:
            lines.append(f"  model calls: {self.usage.calls} (+{self.usage.cached_calls} cached), "
                         f"tokens: {self.usage.tokens}, cost: ${self.usage.cost:.4f}")
        for err in self.first_errors:
            lines.append(f"  error: {err}")
        if self.errors:
            lines.append(f"  errors are listed in {errors_path(self.out)}; re-run to retry them")
        lines.append(f"  output: {self.out}")
        return "\n".join(lines)


def sidecar(out: str | Path, kind: str) -> Path:
    """``runs/pairs.jsonl`` -> ``runs/pairs.<kind>.jsonl``."""
    p = Path(out)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(f"{stem}.{kind}.jsonl")


def dropped_path(out: str | Path) -> Path:
    """Where rejected records of ``out`` go."""
    return sidecar(out, "dropped")


def errors_path(out: str | Path) -> Path:
    """Where failures of the latest run of ``out`` go."""
    return sidecar(out, "errors")


def done_ids(out: str | Path) -> set[str]:
    """Ids finished by earlier runs (in the output or its dropped file)."""
    return finished_ids(out) | finished_ids(dropped_path(out))


async def run_jobs(jobs: Iterable[Job], out: str | Path, *, stage: str, concurrency: int = 8,
                   progress: bool = False, total: int | None = None) -> StageSummary:
    """Run jobs concurrently, appending each outcome as it finishes; skip finished ids.

    Args:
        jobs: ``(id, async callable)`` pairs; ids must be unique.
        out: Output JSONL.
        stage: Stage name (for the summary and error records).
        concurrency: Jobs in flight at once (>= 1).
        progress: Show a progress bar on stderr.
        total: Number of jobs, for the progress bar.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    started = time.perf_counter()
    out = Path(out)
    skip = done_ids(out)
    summary = StageSummary(stage=stage, out=str(out))
    tags: Counter[str] = Counter()
    err_file = errors_path(out)
    err_file.parent.mkdir(parents=True, exist_ok=True)
    err_file.write_text("", encoding="utf-8")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="rec", file=sys.stderr, dynamic_ncols=True, desc=stage)

    with JsonlAppender(out) as kept_w, JsonlAppender(dropped_path(out)) as drop_w, \
            JsonlAppender(err_file) as err_w:

        async def work(job_id: str, fn: Callable[[], Awaitable[Outcome]]) -> None:
            try:
                outcome = await fn()
            except Exception as exc:  # stored as data; the batch goes on
                msg = f"{type(exc).__name__}: {exc}"
                err_w.write(ErrorRecord(id=job_id, stage=stage, error=msg))
                summary.errors += 1
                if len(summary.first_errors) < 3:
                    summary.first_errors.append(f"{job_id}: {msg}")
            else:
                (kept_w if outcome.kept else drop_w).write(outcome.record)
                if outcome.kept:
                    summary.written += 1
                else:
                    summary.dropped += 1
                if outcome.tag:
                    tags[outcome.tag] += 1
                if outcome.usage is not None:
                    summary.usage = summary.usage.add(outcome.usage)
            finally:
                if bar is not None:
                    bar.update(1)

        def unique(pairs: Iterable[Job]) -> Iterator[Job]:
            seen: set[str] = set()
            for job_id, fn in pairs:
                if job_id in seen:
                    raise ValueError(f"duplicate id {job_id!r} in the {stage} input")
                seen.add(job_id)
                yield job_id, fn

        def resumed(_: str) -> None:
            summary.resumed += 1
            if bar is not None:
                bar.update(1)

        try:
            await run_bounded(unique(jobs), work, concurrency=concurrency, skip=skip,
                              on_skip=resumed)
        finally:
            if bar is not None:
                bar.close()
    summary.tags = dict(tags)
    summary.elapsed_s = time.perf_counter() - started
    return summary
