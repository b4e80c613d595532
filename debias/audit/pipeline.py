"""``audit()``: read an input, classify every judged item, and summarise the metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from debias.audit.config import AuditConfig
from debias.audit.engine import WorkSettings, auto_jobs, run
from debias.audit.importers import ImportOptions, open_input
from debias.audit.result import AuditResult, summarize
from debias.audit.tally import Tally
from debias.errors import ConfigError


def make_config(**settings: Any) -> AuditConfig:
    """An :class:`AuditConfig`, with validation errors turned into ConfigError."""
    try:
        return AuditConfig(**settings)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ()))
        raise ConfigError(f"audit setting {field}: {err.get('msg', exc)}") from None


def audit(path: str | Path, config: AuditConfig | None = None) -> AuditResult:
    """Audit the recorded verdicts in ``path`` without calling any model.

    Args:
        path: Input file (any registered format).
        config: Settings (defaults: auto-detected format, all cheap detectors).

    Returns:
        Every metric per judge and overall, flagged items and bad records.

    Raises:
        InputError: Unreadable input (missing file, unknown format, broken JSON array).
        ConfigError: Bad settings (unknown format/detector, missing ``--join``/``--map``).
    """
    cfg = config or AuditConfig()
    start = time.perf_counter()
    imp, records = open_input(path, cfg.format, ImportOptions(mapping=dict(cfg.mapping), join=cfg.join))
    settings = WorkSettings(detectors=cfg.detectors, sentiment=cfg.sentiment, source=str(path),
                            max_bad=cfg.max_bad, max_flagged=cfg.max_flagged,
                            spill=cfg.flagged_path is not None)
    jobs = cfg.jobs or auto_jobs(path)
    sink: IO[str] | None = None
    try:
        if cfg.flagged_path is not None:
            Path(cfg.flagged_path).parent.mkdir(parents=True, exist_ok=True)
            sink = open(cfg.flagged_path, "w", encoding="utf-8")  # noqa: SIM115

        def write_flagged(t: Tally) -> None:
            if sink is not None and t.spill:
                sink.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in t.spill)

        tally = run(records, settings, jobs=jobs, chunk_size=cfg.chunk_size, on_chunk=write_flagged)
    finally:
        if sink is not None:
            sink.close()
    elapsed = time.perf_counter() - start
    return summarize(
        tally, source=str(path), format=imp.name, seed=cfg.seed, n_boot=cfg.n_boot,
        settings={**cfg.model_dump(mode="json"), "jobs": jobs}, elapsed_s=elapsed,
    )
