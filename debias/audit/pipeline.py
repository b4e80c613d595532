"""``audit()``: read an input, classify every judged item, and summarise the metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def work_settings(cfg: AuditConfig, source: str) -> WorkSettings:
    """What the workers of any engine need to classify the records of ``source``."""
    return WorkSettings(detectors=cfg.detectors, sentiment=cfg.sentiment, source=source,
                        max_bad=cfg.max_bad, max_flagged=cfg.max_flagged,
                        spill=cfg.flagged_path is not None)


@contextmanager
def flagged_writer(cfg: AuditConfig) -> Iterator[Callable[[Tally], None]]:
    """A chunk callback writing every flagged verdict to ``cfg.flagged_path`` (if set)."""
    if cfg.flagged_path is None:
        yield lambda _t: None
        return
    Path(cfg.flagged_path).parent.mkdir(parents=True, exist_ok=True)
    with open(cfg.flagged_path, "w", encoding="utf-8") as sink:

        def write(t: Tally) -> None:
            if t.spill:
                sink.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in t.spill)

        yield write


def finish(tally: Tally, cfg: AuditConfig, *, source: str, format: str, started: float,
           **settings: Any) -> AuditResult:
    """The result of a merged tally (every engine ends here: same metrics, same intervals).

    Args:
        tally: The merged tally.
        cfg: The audit settings.
        source: Input path or URI.
        format: Importer name.
        started: ``time.perf_counter()`` when reading began.
        **settings: Engine settings recorded next to ``cfg`` (e.g. ``jobs``).
    """
    elapsed = time.perf_counter() - started
    return summarize(
        tally, source=source, format=format, seed=cfg.seed, n_boot=cfg.n_boot,
        settings={**cfg.model_dump(mode="json"), **settings}, elapsed_s=elapsed,
    )


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
    settings = work_settings(cfg, str(path))
    jobs = cfg.jobs or auto_jobs(path)
    with flagged_writer(cfg) as on_chunk:
        tally = run(records, settings, jobs=jobs, chunk_size=cfg.chunk_size, on_chunk=on_chunk)
    return finish(tally, cfg, source=str(path), format=imp.name, started=start, jobs=jobs)
