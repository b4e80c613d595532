"""Streaming the records of an input through the observer, optionally in worker processes.

The importer runs in the calling process and yields records; they are grouped in
chunks and validated + classified either inline or in a pool of worker processes. At
most ``2 * jobs`` chunks are in flight, so memory stays constant whatever the input
size, and chunk tallies are merged in input order, so the result is the same for any
number of jobs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from debias.audit.fastpath import LightItem, light_item
from debias.audit.observe import Observer
from debias.audit.records import BadRecord, Pending
from debias.audit.tally import Tally
from debias.audit.tone import SentimentMode
from debias.errors import InputError
from debias.io import parse_item, validation_message
from debias.types import Item

#: Inputs smaller than this are audited in-process (worker start-up would dominate).
PARALLEL_MIN_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class WorkSettings:
    """What a worker needs to classify records (picklable).

    Attributes:
        detectors: Detector spec (see :func:`debias.audit.observe.cheap_detectors`).
        sentiment: Tone-scoring mode.
        source: Input path, for messages.
        max_bad: Bad records kept per chunk.
        max_flagged: Flagged verdicts kept per bias type and chunk.
        spill: Keep every flagged verdict (they are written to a file).
    """

    detectors: str | None
    sentiment: SentimentMode
    source: str
    max_bad: int = 100
    max_flagged: int = 50
    spill: bool = False


def to_item(p: Pending, source: str, *, light: bool = False) -> Item | LightItem:
    """Validate one pending record.

    Args:
        p: The record.
        source: Input path (for messages).
        light: Allow a :class:`~debias.audit.fastpath.LightItem` for JSON text that is
            certainly valid (no pydantic on the hot path; used when no detector runs).
            Otherwise JSON text goes through pydantic's JSON parser directly.

    On failure the line is re-parsed to produce the line- and field-naming error (and
    to accept ``debias run`` output lines, whose ``result`` is dropped).

    Raises:
        InputError: Naming the line and field.
    """
    if isinstance(p.payload, Item):
        return p.payload
    if isinstance(p.payload, str):
        if light:
            try:
                data = json.loads(p.payload)
            except ValueError:
                data = None
            if isinstance(data, dict):
                data.pop("result", None)
                fast = light_item(data)
                if fast is not None:
                    return fast
            return parse_item(p.payload, p.line, source)
        try:
            return Item.model_validate_json(p.payload)
        except ValidationError:
            return parse_item(p.payload, p.line, source)
    if light:
        fast = light_item(p.payload)
        if fast is not None:
            return fast
    try:
        return Item.model_validate(p.payload)
    except ValidationError as exc:
        field, msg = validation_message(exc)
        raise InputError(msg, line=p.line, field=field, source=source) from None


def process_chunk(chunk: Iterable[Pending | BadRecord], observer: Observer, settings: WorkSettings) -> Tally:
    """Validate and classify one chunk of records (any iterable: it is read once)."""
    tally = Tally(max_bad=settings.max_bad, max_flagged=settings.max_flagged,
                  spill=[] if settings.spill else None)
    for rec in chunk:
        if isinstance(rec, BadRecord):
            tally.add_bad(rec)
            continue
        try:
            item = to_item(rec, settings.source, light=not observer.detectors)
        except InputError as exc:
            msg = str(exc)
            for prefix in (f"{settings.source}, line {rec.line}, ", f"{settings.source}, line {rec.line}: "):
                msg = msg.removeprefix(prefix)
            tally.add_bad(BadRecord(rec.line, msg, settings.source))
            continue
        tally.records += 1
        observer.observe(item, rec.line, tally)
    return tally


_worker: dict[str, Any] = {}  # per-process state of a pool worker (set by _init_worker)


def _die_with_parent() -> None:
    """Ask Linux to stop this worker when the audit process dies (no orphans on kill -9)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(settings: WorkSettings) -> None:
    _die_with_parent()
    _worker["observer"] = Observer(settings.detectors, settings.sentiment)
    _worker["settings"] = settings


def _work(chunk: list[Pending | BadRecord]) -> Tally:
    return process_chunk(chunk, _worker["observer"], _worker["settings"])


def chunked(records: Iterable[Pending | BadRecord], size: int) -> Iterator[list[Pending | BadRecord]]:
    """Consecutive lists of ``size`` records."""
    chunk: list[Pending | BadRecord] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def auto_jobs(path: str | os.PathLike[str] | None) -> int:
    """Worker processes for an input: 1 for small files, else one per CPU core."""
    try:
        size = os.path.getsize(path) if path is not None else 0
    except OSError:
        size = 0
    if size < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run(
    records: Iterable[Pending | BadRecord],
    settings: WorkSettings,
    *,
    jobs: int = 1,
    chunk_size: int = 1000,
    on_chunk: Callable[[Tally], None] | None = None,
) -> Tally:
    """Audit a stream of records.

    Args:
        records: Records from an importer.
        settings: Worker settings.
        jobs: Worker processes (1 = in this process).
        chunk_size: Records per chunk.
        on_chunk: Called with each chunk's tally in input order before it is merged
            (used to write every flagged verdict to a file as the audit goes).

    Returns:
        The merged tally.
    """
    return merge_chunks(chunk_tallies(records, settings, jobs=jobs, chunk_size=chunk_size),
                        settings, on_chunk=on_chunk)


def merge_chunks(tallies: Iterable[Tally], settings: WorkSettings, *,
                 on_chunk: Callable[[Tally], None] | None = None) -> Tally:
    """Merge chunk tallies given in input order (the reduce step of every engine).

    Counts add up; the kept bad records and flagged verdicts are the first ones in input
    order, so the result does not depend on how the chunks were computed.

    Args:
        tallies: Chunk tallies, in input order.
        settings: The settings the chunks were classified with (sample limits).
        on_chunk: Called with each chunk's tally before it is merged.

    Returns:
        The merged tally.
    """
    total = Tally(max_bad=settings.max_bad, max_flagged=settings.max_flagged)
    for t in tallies:
        if on_chunk is not None:
            on_chunk(t)
        total.merge(t)
    return total


def chunk_tallies(records: Iterable[Pending | BadRecord], settings: WorkSettings, *,
                  jobs: int = 1, chunk_size: int = 1000) -> Iterator[Tally]:
    """The tally of every chunk of ``records``, in input order (the local engine's map step).

    Args:
        records: Records from an importer.
        settings: Worker settings.
        jobs: Worker processes (1 = in this process).
        chunk_size: Records per chunk.
    """
    chunks = chunked(records, chunk_size)
    if jobs <= 1:
        observer = Observer(settings.detectors, settings.sentiment)
        for chunk in chunks:
            yield process_chunk(chunk, observer, settings)
        return
    # Fail fast on a bad detector spec in this process, with the ConfigError.
    Observer(settings.detectors, "off")
    in_flight: deque[Future[Tally]] = deque()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_init_worker,
                             initargs=(settings,)) as pool:
        for chunk in chunks:
            in_flight.append(pool.submit(_work, chunk))
            while len(in_flight) >= 2 * jobs:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
