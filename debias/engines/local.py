"""The default engine: this machine's processes (``--engine local``).

Audits go through :func:`debias.audit.audit` (worker processes, chunk tallies merged in
input order); batch runs through :func:`debias.runner.arun_batch` (one event loop,
bounded concurrency, results appended as they finish).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from debias.audit.config import AuditConfig
from debias.audit.result import AuditResult
from debias.engines.plan import RunPlan, build_debiaser
from debias.errors import ConfigError
from debias.runner import Summary, arun_batch
from debias.types import Item


class LocalEngine:
    """Runs everything on this machine."""

    name = "local"

    def audit(self, source: str, config: AuditConfig, *, address: str | None = None) -> AuditResult:
        """Audit ``source`` with worker processes (any registered input format)."""
        from debias.audit.pipeline import audit

        if address is not None:
            raise ConfigError("--ray-address needs --engine ray")
        return audit(source, config)

    def run(self, items: Sequence[Item], plan: RunPlan, out: str, *, address: str | None = None,
            progress: bool = True, concurrency: int | None = None, **options: Any) -> Summary:
        """Debias ``items`` in this process (``concurrency`` items in flight)."""
        if address is not None:
            raise ConfigError("--ray-address needs --engine ray")
        unknown = sorted(k for k, v in options.items() if v is not None)
        if unknown:
            raise ConfigError(f"--{unknown[0].replace('_', '-')} needs --engine ray")
        k = concurrency or (1 if plan.local_model else 8)
        return asyncio.run(arun_batch(items, build_debiaser(plan), out, concurrency=k,
                                      progress=progress, total=len(items)))

