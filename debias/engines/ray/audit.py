"""``debias audit --engine ray``: read with Ray Data, classify in ``map_batches``, reduce here.

* **read** (:class:`ItemsDatasource`): one read task per JSONL file (lines streamed with
  their numbers) and one per Parquet row group (row numbers from the footer), on
  whichever node Ray picks, straight from shared storage (any pyarrow filesystem).
  Blocks hold ``(source, line, text | record)`` rows (JSON text, or a pickled item dict
  for Parquet) of ``chunk_size * CHUNKS_PER_BATCH``
  records.
* **map** (:class:`ChunkAuditor`, an actor pool): each batch of records is validated and
  classified by :func:`debias.audit.engine.process_chunk` (the local engine's code) into
  a :class:`~debias.audit.tally.Tally`: counts, bad records with file and line, flagged
  verdicts. A tally is a few KB whatever the batch size.
* **reduce** (this process): tallies arrive in input order (``preserve_order``) and go
  through :func:`debias.audit.engine.merge_chunks`, then the local engine's
  :func:`debias.audit.pipeline.finish` computes every metric and bootstrap interval from
  the merged counts, so the numbers equal the local engine's.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
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


def _table(source: str, lines: list[int], texts: list[str | None], records: list[bytes | None]) -> Any:
    import pyarrow as pa

    return pa.table({"source": pa.array([source] * len(lines), pa.string()),
                     "line": pa.array(lines, pa.int64()), "text": pa.array(texts, pa.large_string()),
                     "record": pa.array(records, pa.large_binary())})


def _blocks(records: Iterator[Pending], source: str, rows: int) -> Iterator[Any]:
    """Blocks of ``rows`` records: JSON text as is, item-shaped dicts (Parquet) pickled."""
    lines: list[int] = []
    texts: list[str | None] = []
    blobs: list[bytes | None] = []
    for rec in records:
        lines.append(rec.line)
        if isinstance(rec.payload, str):
            texts.append(rec.payload)
            blobs.append(None)
        else:
            texts.append(None)
            blobs.append(pickle.dumps(rec.payload, protocol=pickle.HIGHEST_PROTOCOL))
        if len(lines) >= rows:
            yield _table(source, lines, texts, blobs)
            lines, texts, blobs = [], [], []
    if lines:
        yield _table(source, lines, texts, blobs)


def _payload(text: str | None, blob: bytes | None) -> Any:
    return text if text is not None else pickle.loads(blob)  # type: ignore[arg-type]


def read_jsonl(f: InputFile, rows: int) -> Iterator[Any]:
    """Blocks of one JSONL file (read task)."""
    yield from _blocks(f.records(), f.name, rows)


def read_row_groups(f: InputFile, groups: list[int], first_row: int, rows: int) -> Iterator[Any]:
    """Blocks of some row groups of one Parquet file (read task)."""
    yield from _blocks(parquet_records(f.parquet(), groups, first_row), f.name, rows)


def make_datasource(files: list[InputFile], rows: int) -> Any:
    """A Ray Data datasource over the input files (ray is imported here)."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class ItemsDatasource(Datasource):  # type: ignore[misc]
        """Records of JSONL and Parquet files as ``(source, line, text, record)`` rows."""

        def estimate_inmemory_data_size(self) -> int:
            return sum(f.size for f in files)

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[Any]:
            tasks = []
            for f in files:
                if f.format == "jsonl":
                    meta = BlockMetadata(num_rows=None, size_bytes=f.size, input_files=[f.name],
                                         exec_stats=None)
                    tasks.append(ReadTask(partial(read_jsonl, f, rows), meta))
                    continue
                pf = f.parquet()
                for g, start in enumerate(group_starts(pf)):
                    rg = pf.metadata.row_group(g)
                    meta = BlockMetadata(num_rows=rg.num_rows, size_bytes=rg.total_byte_size,
                                         input_files=[f.name], exec_stats=None)
                    tasks.append(ReadTask(partial(read_row_groups, f, [g], start, rows), meta))
            return tasks

    return ItemsDatasource()


class ChunkAuditor:
    """Map step: a batch of records -> pickled chunk tallies (one per file in the batch).

    One per Ray actor, so the observer (detectors, tone lexicon, pattern memo) is built
    once per worker.

    Args:
        settings: What the local engine's workers get.
    """

    def __init__(self, settings: WorkSettings) -> None:
        self.settings = settings
        self.observer = Observer(settings.detectors, settings.sentiment)

    def __call__(self, batch: Any) -> dict[str, list[bytes]]:
        sources = batch.column("source").to_pylist()
        lines = batch.column("line").to_pylist()
        texts = batch.column("text").to_pylist()
        blobs = batch.column("record").to_pylist()
        out: list[bytes] = []
        start = 0
        for end in range(1, len(sources) + 1):
            if end == len(sources) or sources[end] != sources[start]:
                chunk: list[Any] = [Pending(lines[k], _payload(texts[k], blobs[k])) for k in range(start, end)]
                settings = replace(self.settings, source=sources[start])
                out.append(pickle.dumps(process_chunk(chunk, self.observer, settings),
                                        protocol=pickle.HIGHEST_PROTOCOL))
                start = end
        return {"tally": out}


def chunk_tallies(ray: Any, files: list[InputFile], settings: WorkSettings, *, workers: int,
                  chunk_size: int) -> Iterator[Tally]:
    """Chunk tallies of every record, in input order, computed on the Ray cluster."""
    ctx = ray.data.DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.enable_progress_bars)
    ctx.execution_options.preserve_order = True  # merge order = input order (kept samples)
    ctx.enable_progress_bars = False
    try:
        ds = ray.data.read_datasource(make_datasource(files, chunk_size), num_cpus=0)
        ds = ds.map_batches(ChunkAuditor, fn_constructor_args=(settings,), batch_size=chunk_size,
                            batch_format="pyarrow", num_cpus=1,
                            compute=ray.data.ActorPoolStrategy(size=workers))
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for blob in batch.column("tally").to_pylist():
                yield pickle.loads(blob)
    finally:
        ctx.execution_options.preserve_order, ctx.enable_progress_bars = saved


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
