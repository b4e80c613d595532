"""``debias audit --engine ray``: read with Ray Data, classify in ``map_batches``, reduce here.

* **JSONL** (:class:`JsonlDatasource` + :class:`ChunkAuditor`): one read task per file
  streams its lines with their numbers, on whichever node Ray picks, straight from
  shared storage (any pyarrow filesystem), in blocks of ``chunk_size *
  CHUNKS_PER_BATCH`` ``(source, line, text)`` rows; an actor pool classifies each batch.
* **Parquet** (:class:`RowGroupAuditor`): one map call per row group: the actor reads
  the row group itself (row numbers from the footer) and classifies it, so records never
  travel between processes.
* **map**: records are validated and classified by
  :func:`debias.audit.engine.process_chunk` (the local engine's code) into a
  :class:`~debias.audit.tally.Tally`: counts, bad records with file and line, flagged
  verdicts. A tally is ~70 KB whatever the number of items in it.
* **reduce** (this process): tallies arrive in input order (``preserve_order``) and go
  through :func:`debias.audit.engine.merge_chunks`, then the local engine's
  :func:`debias.audit.pipeline.finish` computes every metric and bootstrap interval from
  the merged counts, so the numbers equal the local engine's.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial
from itertools import groupby
from typing import Any

from debias.audit.config import AuditConfig
from debias.audit.engine import WorkSettings, merge_chunks, process_chunk
from debias.audit.importers.parquet import group_starts, parquet_records
from debias.audit.observe import Observer
from debias.audit.pipeline import finish, flagged_writer, work_settings
from debias.audit.records import Pending
from debias.audit.result import AuditResult
from debias.audit.tally import Tally
from debias.engines.ray.session import cluster_cpus, session
from debias.engines.sources import InputFile, resolve
from debias.errors import ConfigError

#: Records per map task: this many audit chunks. A task then runs for about a second
#: (cheap detectors: ~70 us per item), so Ray's per-task cost is negligible, and the
#: driver merges one tally per task. Classifying a batch at once gives the same tally as
#: classifying its chunks and merging them in order.
CHUNKS_PER_BATCH = 16


def _table(source: str, lines: list[int], texts: list[str]) -> Any:
    import pyarrow as pa

    return pa.table({"source": pa.array([source] * len(lines), pa.string()),
                     "line": pa.array(lines, pa.int64()), "text": pa.array(texts, pa.large_string())})


def read_jsonl(f: InputFile, rows: int) -> Iterator[Any]:
    """Blocks of ``rows`` ``(source, line, text)`` records of one JSONL file (a read task)."""
    lines: list[int] = []
    texts: list[str] = []
    for rec in f.records():
        lines.append(rec.line)
        texts.append(rec.payload)  # type: ignore[arg-type]
        if len(lines) >= rows:
            yield _table(f.name, lines, texts)
            lines, texts = [], []
    if lines:
        yield _table(f.name, lines, texts)


def make_datasource(files: list[InputFile], rows: int) -> Any:
    """A Ray Data datasource over JSONL files: one read task per file (ray is imported here)."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class JsonlDatasource(Datasource):  # type: ignore[misc]
        """Lines of JSONL files as ``(source, line, text)`` rows."""

        def estimate_inmemory_data_size(self) -> int:
            return sum(f.size for f in files)

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[Any]:
            return [ReadTask(partial(read_jsonl, f, rows),
                             BlockMetadata(num_rows=None, size_bytes=f.size, input_files=[f.name],
                                           exec_stats=None))
                    for f in files]

    return JsonlDatasource()


class _Auditor:
    """Holds the observer (detectors, tone lexicon, pattern memo): built once per actor."""

    def __init__(self, settings: WorkSettings) -> None:
        self.settings = settings
        self.observer = Observer(settings.detectors, settings.sentiment)

    def tally(self, records: Iterable[Pending], source: str) -> bytes:
        """The pickled tally of some records of ``source``."""
        settings = replace(self.settings, source=source)
        return pickle.dumps(process_chunk(records, self.observer, settings), protocol=pickle.HIGHEST_PROTOCOL)


class ChunkAuditor(_Auditor):
    """Map step for JSONL: a batch of lines -> pickled tallies (one per file in the batch)."""

    def __call__(self, batch: Any) -> dict[str, list[bytes]]:
        sources = batch.column("source").to_pylist()
        lines = batch.column("line").to_pylist()
        texts = batch.column("text").to_pylist()
        out: list[bytes] = []
        start = 0
        for end in range(1, len(sources) + 1):
            if end == len(sources) or sources[end] != sources[start]:
                out.append(self.tally([Pending(lines[k], texts[k]) for k in range(start, end)], sources[start]))
                start = end
        return {"tally": out}


class RowGroupAuditor(_Auditor):
    """Map step for Parquet: row groups (``(source, line, group)`` rows) -> pickled tallies."""

    def __call__(self, batch: Any) -> dict[str, list[bytes]]:
        out: list[bytes] = []
        for source, first, blob in zip(batch.column("source").to_pylist(), batch.column("line").to_pylist(),
                                       batch.column("group").to_pylist(), strict=True):
            f, g = pickle.loads(blob)
            out.append(self.tally(parquet_records(f.parquet(), [g], first), source))
        return {"tally": out}


def _dataset(ray: Any, files: list[InputFile], settings: WorkSettings, workers: int, batch: int) -> Any:
    """The mapped dataset of consecutive files of one format (one row of tallies per map call)."""
    if files[0].format == "jsonl":
        ds = ray.data.read_datasource(make_datasource(files, batch), num_cpus=0,
                                     concurrency=max(1, min(workers, len(files))))
        return ds.map_batches(ChunkAuditor, fn_constructor_args=(settings,), batch_size=batch,
                              batch_format="pyarrow", num_cpus=1, compute=ray.data.ActorPoolStrategy(size=workers))
    groups = [{"source": f.name, "line": start, "group": pickle.dumps((f, g))}
              for f in files for g, start in enumerate(group_starts(f.parquet()))]
    ds = ray.data.from_items(groups, override_num_blocks=len(groups))
    return ds.map_batches(RowGroupAuditor, fn_constructor_args=(settings,), batch_size=1,
                          batch_format="pyarrow", num_cpus=1,
                          compute=ray.data.ActorPoolStrategy(size=max(1, min(workers, len(groups)))))


def chunk_tallies(ray: Any, files: list[InputFile], settings: WorkSettings, *, workers: int,
                  chunk_size: int) -> Iterator[Tally]:
    """Tallies of every record, in input order, computed on the Ray cluster."""
    ctx = ray.data.DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.enable_progress_bars)
    ctx.execution_options.preserve_order = True  # merge order = input order (kept samples)
    ctx.enable_progress_bars = False
    log = logging.getLogger("ray.data")
    level = log.level
    log.setLevel(max(level, logging.WARNING))  # no per-dataset INFO lines around the report
    try:
        for _fmt, run in groupby(files, key=lambda f: f.format):
            ds = _dataset(ray, list(run), settings, workers, chunk_size)
            for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                for blob in batch.column("tally").to_pylist():
                    yield pickle.loads(blob)
    finally:
        ctx.execution_options.preserve_order, ctx.enable_progress_bars = saved
        log.setLevel(level)


def audit(source: str, cfg: AuditConfig, *, address: str | None = None) -> AuditResult:
    """Audit ``source`` (JSONL/Parquet file or directory, path or URI) on Ray.

    Args:
        source: The input.
        cfg: Audit settings; ``jobs`` is the number of map actors (0: one per cluster CPU).
        address: Ray address (None: start a local instance).

    Raises:
        ConfigError: Settings this engine does not support (``--join``/``--map``, formats
            other than jsonl/parquet), or a bad detector spec.
        InputError: Missing or empty input.
    """
    if cfg.join is not None or cfg.mapping:
        raise ConfigError("--join and --map need --engine local (the ray engine reads the JSONL "
                          "contract and Parquet with the same columns)")
    started = time.perf_counter()
    files = resolve(source, cfg.format)
    settings = work_settings(cfg, source)
    Observer(settings.detectors, "off")  # a bad detector spec fails here, before Ray starts
    formats = sorted({f.format for f in files})
    with session(address) as ray:
        workers = cfg.jobs or cluster_cpus(ray)
        batch = cfg.chunk_size * CHUNKS_PER_BATCH
        with flagged_writer(cfg) as on_chunk:
            tally = merge_chunks(chunk_tallies(ray, files, settings, workers=workers, chunk_size=batch),
                                 settings, on_chunk=on_chunk)
    return finish(tally, cfg, source=source, format="+".join(formats), started=started,
                  jobs=workers, engine="ray", files=len(files))
