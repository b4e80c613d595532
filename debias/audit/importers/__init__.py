"""Importers: other tools' verdict files -> judged items, streamed.

Registered formats (``debias audit --list-formats`` prints each with an example):
``jsonl`` (the project's own contract), ``rbd-bias4``, ``pandalm``, ``judgebench``,
``mtbench``, ``alpacaeval``, ``rbd-csv``, ``parquet``, ``csv`` (any CSV with ``--map``). Add one with
``@register_importer("name")`` on a class with ``summary``, ``example``, ``options``,
``sniff`` and ``read`` (see :class:`~debias.audit.importers.registry.Importer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from debias.audit.importers import alpacaeval as _alpacaeval  # noqa: F401
from debias.audit.importers import csv_mapped as _csv_mapped  # noqa: F401

# Importing the modules registers the formats; the generic CSV is sniffed last (fallback).
from debias.audit.importers import jsonl as _jsonl  # noqa: F401
from debias.audit.importers import judgebench as _judgebench  # noqa: F401
from debias.audit.importers import mtbench as _mtbench  # noqa: F401
from debias.audit.importers import pandalm as _pandalm  # noqa: F401
from debias.audit.importers import parquet as _parquet
from debias.audit.importers import rbd_bias4 as _rbd_bias4  # noqa: F401
from debias.audit.importers import rbd_csv as _rbd_csv  # noqa: F401
from debias.audit.importers.build import csv_header
from debias.audit.importers.jsonstream import first_record
from debias.audit.importers.registry import (
    Importer,
    ImportOptions,
    check_options,
    importers,
    register_importer,
)
from debias.audit.records import BadRecord, Pending
from debias.errors import InputError

__all__ = ["ImportOptions", "Importer", "importers", "open_input", "register_importer"]


def _first(path: Path) -> Any:
    if _parquet.is_parquet(path.name):
        return None  # binary; sniffed by its suffix
    if path.suffix.lower() in (".csv", ".tsv"):
        return csv_header(path, "\t" if path.suffix.lower() == ".tsv" else ",")
    return first_record(path)


def open_input(path: str | Path, fmt: str = "auto",
               options: ImportOptions | None = None) -> tuple[Importer, Iterator[Pending | BadRecord]]:
    """The importer for ``path`` and its record stream.

    Args:
        path: Input file.
        fmt: A registered format name, or ``auto`` to sniff it.
        options: ``--map`` options and the ``--join`` file.

    Raises:
        InputError: Missing/empty file or unrecognised format.
        ConfigError: Unknown format or options.
    """
    p = Path(path)
    options = options or ImportOptions()
    if not p.is_file():
        raise InputError("file not found", source=str(p))
    if p.stat().st_size == 0:
        raise InputError("the input file is empty", source=str(p))
    imp = importers.detect(p, _first(p)) if fmt == "auto" else importers.create(fmt)
    check_options(imp, options)
    return imp, imp.read(p, options)
