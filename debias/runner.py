"""Batch runner: bounded concurrency, results appended as each item finishes, resumable."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Collection, Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from debias.budget import BudgetReport, BudgetRun
from debias.concurrency import run_bounded
from debias.errors import BiasDetectedError, InputError
from debias.io import JsonlAppender, finished_ids
from debias.loop import Debiaser
from debias.types import Item, Reason, Result, ResultRecord, Status, Usage, Verdict


class Summary(BaseModel):
    """What a batch run did.

    Attributes:
        items: Items debiased in this run.
        resumed: Items skipped because the output already had them.
        invalid: Input lines skipped as invalid (``--skip-invalid``).
        statuses: Count per status.
        resolutions: Count per resolution path (how each final verdict was reached:
            ``accepted``, ``revised``, ``counterfactual``, ``aggregate``, ``tie``, ``kept``).
        unremoved: Per bias type, items where it was detected but no probe could remove
            it (e.g. verbosity or sentiment without a rewriter).
        labelled: Items with a gold label (choice tasks) among those debiased.
        right_before: Labelled items the judge alone (first verdict) got right.
        right_after: Labelled items whose debiased verdict is right.
        fixed: Labelled items wrong before and right after.
        broken: Labelled items right before and wrong after (a tie counts as wrong).
        ties_after: Labelled items whose debiased verdict is a tie.
        flips: Items whose final decision differs from the first judgement.
        flagged: Items with at least one flag-policy finding.
        usage: Model usage summed over the run.
        elapsed_s: Wall time of the run.
        budget: What the probe budget did (None without a budget): judge calls per
            item, probes run and skipped, and per detector the judge's estimated bias
            rate with its confidence interval. On a resumed run it covers the earlier
            sessions' items too.
    """

    items: int = 0
    resumed: int = 0
    invalid: int = 0
    statuses: dict[str, int] = Field(default_factory=dict)
    resolutions: dict[str, int] = Field(default_factory=dict)
    unremoved: dict[str, int] = Field(default_factory=dict)
    labelled: int = 0
    right_before: int = 0
    right_after: int = 0
    fixed: int = 0
    broken: int = 0
    ties_after: int = 0
    flips: int = 0
    flagged: int = 0
    usage: Usage = Field(default_factory=Usage)
    elapsed_s: float = 0.0
    budget: BudgetReport | None = None

    def add(self, item: Item, result: Result) -> None:
        """Count one debiased item."""
        self.items += 1
        self.statuses[result.status.value] = self.statuses.get(result.status.value, 0) + 1
        if result.resolution is not None:
            kind = result.resolution.kind.value
            self.resolutions[kind] = self.resolutions.get(kind, 0) + 1
            for bias in result.resolution.unremoved:
                self.unremoved[bias] = self.unremoved.get(bias, 0) + 1
        self.flips += int(result.flipped)
        self.flagged += int(bool(result.flagged))
        self.usage = self.usage.add(result.usage)
        if item.label is None or item.task == "score":
            return
        before = _right(result.rounds[0].verdict if result.rounds else None, int(item.label))
        after = _right(result.verdict, int(item.label))
        self.labelled += 1
        self.right_before += before
        self.right_after += after
        self.fixed += after and not before
        self.broken += before and not after
        self.ties_after += bool(result.verdict is not None and result.verdict.tie)

    def render(self) -> str:
        """Human-readable summary lines, in the words of the results."""
        st = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "none"
        rate = self.items / self.elapsed_s if self.elapsed_s > 0 else 0.0
        lines = [
            f"items: {self.items} debiased ({rate:.1f}/s), {self.resumed} already done, {self.invalid} invalid skipped",
            f"status: {st}",
        ]
        if self.resolutions:
            paths = ", ".join(f"{RESOLUTION_WORDS.get(k, k)} {self.resolutions[k]}"
                              for k in sorted(self.resolutions, key=_path_rank))
            lines.append(f"final verdict from: {paths}")
        if self.unremoved:
            left = ", ".join(f"{b} {n}" for b, n in sorted(self.unremoved.items()))
            lines.append(f"bias found but no probe could remove it (configure --rewriter for length/tone): {left}")
        if self.labelled:
            n = self.labelled
            lines.append(f"accuracy on {n} labelled items: judge alone {self.right_before / n:.2f} "
                         f"({self.right_before}/{n}) -> debiased {self.right_after / n:.2f} ({self.right_after}/{n}); "
                         f"{self.fixed} wrong -> right, {self.broken} right -> wrong, {self.ties_after} ties")
        lines += [
            f"flips: {self.flips}   flagged: {self.flagged}",
            f"model calls: {self.usage.calls} (+{self.usage.cached_calls} cached)   tokens: {self.usage.tokens}   cost: ${self.usage.cost:.4f}",
        ]
        if self.budget is not None:
            lines.append(self.budget.render())
        return "\n".join(lines)


#: How the summary names each resolution path.
RESOLUTION_WORDS = {
    "accepted": "accepted (first verdict, no bias found)",
    "revised": "revised by the judge",
    "counterfactual": "counterfactual (judge ignored feedback)",
    "aggregate": "aggregate over orders (judge ignored feedback)",
    "tie": "tie (counterfactual evidence disagrees)",
    "kept": "kept (bias found, no probe could remove it)",
}


def _path_rank(kind: str) -> int:
    order = list(RESOLUTION_WORDS)
    return order.index(kind) if kind in order else len(order)


def _right(verdict: Verdict | None, gold: int) -> bool:
    return verdict is not None and not verdict.tie and verdict.choice == gold


def error_result(exc: BaseException, elapsed: float) -> Result:
    """A Result recording an unexpected exception as data."""
    reason = Reason.RAISE_POLICY if isinstance(exc, BiasDetectedError) else Reason.EXCEPTION
    return Result(status=Status.ERROR, stop=reason, error=f"{type(exc).__name__}: {exc}", elapsed_s=elapsed)


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
    run = debiaser.begin_run()
    if run is not None and done:
        # Only this run's items count (an output file may hold other runs' results too).
        items = items if isinstance(items, (list, tuple)) else list(items)
        replay_finished(run, out, {item.id for item in items} & done)
    summary = Summary()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="item", file=sys.stderr, dynamic_ncols=True, desc="debias")

    with JsonlAppender(out) as writer:

        async def work(_: str, item: Item) -> None:
            record = await judge_record(debiaser, item)
            writer.write(record)
            summary.add(record, record.result)
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
    if run is not None:
        summary.budget = run.report()
    return summary


def replay_finished(run: BudgetRun, out: str | Path, ids: Collection[str]) -> int:
    """Feed the results of ``ids`` already in ``out`` into a new budget run (resume).

    Returns:
        The number of results fed.

    The allowance and the bias-rate estimates then continue where the earlier session
    stopped, so a resumed run spends and samples as the uninterrupted one would have.
    """
    n = 0
    with open(out, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if str(record.get("id")) not in ids:
                    continue
                result = Result.model_validate(record.get("result"))
            except (ValueError, AttributeError) as exc:
                raise InputError(f"unreadable result record ({type(exc).__name__}); move the output away",
                                 line=line_no, source=str(out)) from None
            run.replay(result)
            n += 1
    return n


def run_batch(items: Iterable[Item], debiaser: Debiaser, out: str | Path, **kwargs: object) -> Summary:
    """Blocking wrapper of :func:`arun_batch`."""
    return asyncio.run(arun_batch(items, debiaser, out, **kwargs))  # type: ignore[arg-type]
