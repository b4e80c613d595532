"""Judged items in Parquet: one item per row, columns named like the JSONL contract.

Columns ``id``, ``task``, ``instruction``, ``candidates`` (list of strings), and
optionally ``cue``, ``label``, ``metadata`` (struct, map or JSON text) and ``verdicts``
(list of structs with the verdict fields). A null means "absent": Parquet structs carry
every field of the schema, so null fields of a verdict or of the metadata are dropped
before validation. Rows are numbered from 1 and reported as the record's ``line``.

pyarrow is optional (``pip install 'judge-debias[parquet]'``) and imported on first use.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.records import BadRecord, Pending
from debias.errors import InputError
from debias.optional import require

PARQUET_SUFFIXES = (".parquet", ".pq")
MAGIC = b"PAR1"
#: Rows converted per pyarrow batch.
BATCH_ROWS = 4096


def is_parquet(name: str) -> bool:
    """Whether a path or URI names a Parquet file (by its suffix)."""
    return name.lower().endswith(PARQUET_SUFFIXES)


def _drop_nulls(value: Any) -> Any:
    """``value`` with null fields of structs and maps removed (recursively)."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list) and value and isinstance(value[0], tuple):  # an Arrow map
        return {k: _drop_nulls(v) for k, v in value if v is not None}
    return value


def row_record(row: dict[str, Any]) -> dict[str, Any]:
    """An item-shaped dict from one Parquet row (nulls dropped, JSON-text metadata parsed)."""
    out = {k: v for k, v in row.items() if v is not None}
    verdicts = out.get("verdicts")
    if isinstance(verdicts, list):
        out["verdicts"] = [{k: x for k, x in v.items() if x is not None} if isinstance(v, dict) else v
                           for v in verdicts]
    meta = out.get("metadata")
    if isinstance(meta, str):
        with contextlib.suppress(ValueError):  # not JSON: validation names the field
            out["metadata"] = json.loads(meta)
    elif meta is not None:
        out["metadata"] = _drop_nulls(meta)
    return out


def parquet_records(pf: Any, row_groups: Iterable[int] | None = None,
                    first_row: int = 1) -> Iterator[Pending]:
    """Records of a ``pyarrow.parquet.ParquetFile``, numbered from ``first_row``.

    Args:
        pf: The open Parquet file.
        row_groups: Row groups to read (default: all, in order); ``first_row`` is the
            number of the first row of the first one.
        first_row: 1-based number of the first row read.
    """
    groups = list(range(pf.num_row_groups)) if row_groups is None else list(row_groups)
    row = first_row
    if not groups:
        return
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=groups):
        for rec in batch.to_pylist():
            yield Pending(row, row_record(rec))
            row += 1


def group_starts(pf: Any) -> list[int]:
    """1-based number of the first row of each row group (from the file's footer)."""
    starts, row = [], 1
    for g in range(pf.num_row_groups):
        starts.append(row)
        row += pf.metadata.row_group(g).num_rows
    return starts


@register_importer("parquet")
class ParquetImporter:
    """Judged items as Parquet rows (the JSONL contract's fields as columns)."""

    name = "parquet"
    summary = "judged items as Parquet rows (columns: the JSONL contract's fields); needs pyarrow"
    example = (
        "id: string, task: string, instruction: string, candidates: list<string>, label: int64,\n"
        "verdicts: list<struct<judge: string, order: list<int64>, choice: int64, with_cue: bool>>\n"
        "(write one with pyarrow.parquet.write_table(pyarrow.Table.from_pylist(items), PATH))"
    )
    options: ClassVar[dict[str, str]] = {}

    def sniff(self, path: Path, first: Any) -> bool:
        if is_parquet(str(path)):
            return True
        with open(path, "rb") as fh:
            return fh.read(4) == MAGIC

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        pq = require("pyarrow.parquet", "parquet", purpose="reading Parquet")
        try:
            pf = pq.ParquetFile(str(path))
        except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for a broken footer
            raise InputError(f"not a readable Parquet file ({exc})", source=str(path)) from None
        yield from parquet_records(pf)
