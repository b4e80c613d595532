"""The default engine: this machine's processes (``--engine local``).

Audits go through :func:`debias.audit.audit` (worker processes, chunk tallies merged in
input order); batch runs through :func:`debias.runner.arun_batch` (one event loop,
bounded concurrency, results appended as they finish).
"""

from __future__ import annotations

import asyncio
import os
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
        """Audit ``source`` with worker processes.

        A local file in any registered format goes through :func:`debias.audit.audit`; a
        URI (``s3://``, ``gs://`` ...) or a directory of JSONL/Parquet files is read
        through pyarrow, file by file, with the same chunk classification and merge.
        """
        from debias.audit.pipeline import audit
        from debias.engines.sources import is_uri

        if address is not None:
            raise ConfigError("--ray-address needs --engine ray")
        if is_uri(source) or os.path.isdir(source):
            return self._audit_files(source, config)
        return audit(source, config)

    def _audit_files(self, source: str, cfg: AuditConfig) -> AuditResult:
        import time
        from dataclasses import replace
        from itertools import chain

        from debias.audit.engine import PARALLEL_MIN_BYTES, chunk_tallies, merge_chunks
        from debias.audit.pipeline import finish, flagged_writer, work_settings
        from debias.engines.sources import resolve

        if cfg.join is not None or cfg.mapping:
            raise ConfigError("--join and --map need a local file (URIs and directories are read as "
                              "JSONL or Parquet)")
        started = time.perf_counter()
        files = resolve(source, cfg.format)
        settings = work_settings(cfg, source)
        small = sum(f.size for f in files) < PARALLEL_MIN_BYTES  # worker start-up would dominate
        jobs = cfg.jobs or (1 if small else max(1, min(os.cpu_count() or 1, 8)))
        tallies = chain.from_iterable(
            chunk_tallies(f.records(), replace(settings, source=f.name), jobs=jobs, chunk_size=cfg.chunk_size)
            for f in files)
        with flagged_writer(cfg) as on_chunk:
            tally = merge_chunks(tallies, settings, on_chunk=on_chunk)
        return finish(tally, cfg, source=source, format="+".join(sorted({f.format for f in files})),
                      started=started, jobs=jobs, files=len(files))

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

