"""Step 2: collect a judge's verdicts on D and D_bias and derive the gold bias label.

Any :class:`~debias.judges.base.Judge` works (litellm, local, a wrapped function, the
scripted test double). Both sides of a pair are asked concurrently through the Judge
protocol with their exact display order and cue setting (the batch runner of
``debias run`` judges items in their original order only, which cannot express the
swapped side of a position pair).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from debias.datasets.rbd import is_correct, rbd_bias_label, yes_no_text
from debias.judges.base import Judge
from debias.types import Verdict
from detectors.training.batch import Outcome, StageSummary, run_jobs
from detectors.training.records import BiasPair, JudgedPair


def judged_pair(pair: BiasPair, clean: Verdict, biased: Verdict, judge: str) -> JudgedPair:
    """The judged record of a pair from its two verdicts (pure)."""
    ok_clean, ok_biased = is_correct(clean, pair.gold), is_correct(biased, pair.gold)
    label = yes_no_text(rbd_bias_label(ok_clean, ok_biased))
    return JudgedPair(id=pair.id, bias=pair.bias, judge=judge, gold=pair.gold,
                      clean_verdict=clean, biased_verdict=biased, correct_clean=ok_clean,
                      correct_biased=ok_biased, label=label, pair=pair)


def judge_pair(pair: BiasPair, judge: Judge) -> JudgedPair:
    """Judge both sides synchronously and derive the label."""
    clean = judge.judge(pair.clean.request())
    biased = judge.judge(pair.biased.request())
    return judged_pair(pair, clean, biased, judge.name)


async def ajudge_pair(pair: BiasPair, judge: Judge) -> JudgedPair:
    """Judge both sides concurrently and derive the label."""
    clean, biased = await asyncio.gather(judge.ajudge(pair.clean.request()),
                                         judge.ajudge(pair.biased.request()))
    return judged_pair(pair, clean, biased, judge.name)


async def acollect(pairs: Iterable[BiasPair], judge: Judge, out: str | Path, *,
                   concurrency: int = 8, progress: bool = False,
                   total: int | None = None) -> StageSummary:
    """Judge every pair, appending :class:`JudgedPair` records to ``out`` as they finish.

    Pairs already in ``out`` are skipped; failed ones go to ``<out>.errors.jsonl`` and are
    retried on the next run. The summary counts labels per bias (``position:Yes``, ...).
    """

    def jobs() -> Iterator[tuple[str, Any]]:
        for pair in pairs:

            async def job(pair: BiasPair = pair) -> Outcome:
                rec = await ajudge_pair(pair, judge)
                usage = rec.clean_verdict.usage.add(rec.biased_verdict.usage)
                return Outcome(rec, tag=f"{rec.bias}:{rec.label}", usage=usage)

            yield pair.id, job

    return await run_jobs(jobs(), out, stage="collect", concurrency=concurrency,
                          progress=progress, total=total)


def collect(pairs: Iterable[BiasPair], judge: Judge, out: str | Path, **kwargs: Any) -> StageSummary:
    """Blocking wrapper of :func:`acollect`."""
    return asyncio.run(acollect(pairs, judge, out, **kwargs))
