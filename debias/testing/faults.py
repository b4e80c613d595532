"""Judges that fail the way real deployments do: a worker process that dies mid-item.

:class:`DieOnceJudge` wraps a judge and kills its own process (``os._exit``) the first
time it is asked about one item; a marker file makes "once" hold across processes, so
the replacement worker that judges the item again succeeds. :class:`DieOnceFactory` is a
picklable judge factory for engines that build the judge in each worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debias.judges.base import JudgeRequest
from debias.types import Verdict


class DieOnceJudge:
    """Delegates to ``inner``, except that the process dies the first time ``item_id`` comes.

    Args:
        inner: The judge that answers.
        item_id: The item that kills the process.
        marker: File created just before dying (its existence means "already died").
        every_time: Die on every request about the item (a poison item), ignoring the marker.
    """

    def __init__(self, inner: Any, item_id: str, marker: str | Path, *, every_time: bool = False) -> None:
        self.inner = inner
        self.item_id = item_id
        self.marker = Path(marker)
        self.every_time = every_time
        self.name = getattr(inner, "name", "die-once")

    def _maybe_die(self, request: JudgeRequest) -> None:
        if request.item.id != self.item_id:
            return
        if self.every_time:
            os._exit(17)
        if not self.marker.exists():
            self.marker.write_text(str(os.getpid()), encoding="utf-8")
            os._exit(17)

    def judge(self, request: JudgeRequest) -> Verdict:
        self._maybe_die(request)
        return self.inner.judge(request)  # type: ignore[no-any-return]

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        self._maybe_die(request)
        return await self.inner.ajudge(request)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DieOnceFactory:
    """Builds a :class:`DieOnceJudge` over a scripted judge (picklable; for worker processes).

    Attributes:
        item_id: The item that kills the first worker judging it.
        marker: Marker file path.
        rates: Bias rates of the inner :class:`~debias.testing.ScriptedJudge`.
        latency: Seconds per call of the inner judge.
        every_time: Die on every request about the item.
    """

    item_id: str
    marker: str
    rates: dict[str, float] = field(default_factory=dict)
    latency: float = 0.0
    every_time: bool = False

    def __call__(self) -> DieOnceJudge:
        from debias.testing.judge import ScriptedJudge

        return DieOnceJudge(ScriptedJudge(latency=self.latency, **self.rates), self.item_id, self.marker,
                            every_time=self.every_time)
