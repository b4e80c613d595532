"""Inputs of the engines: JSONL or Parquet files on any filesystem pyarrow reads.

A source is a path or URI (``items.jsonl``, ``s3://bucket/verdicts/``,
``gs://bucket/part-0001.parquet``); a directory stands for every ``.jsonl``/``.parquet``
file under it, in path order. Files are opened through :mod:`pyarrow.fs` so the workers
of a cluster read shared storage themselves. Plain local JSONL needs no pyarrow.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from debias.audit.importers.parquet import is_parquet, parquet_records
from debias.audit.records import Pending
from debias.errors import InputError
from debias.io import item_from_record, parse_item, unique_items
from debias.optional import require
from debias.types import Item

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
FORMATS = ("jsonl", "parquet")


def is_uri(source: str) -> bool:
    """Whether ``source`` names a filesystem scheme (``s3://``, ``gs://``, ``file://``)."""
    return "://" in source


def format_of(name: str) -> str | None:
    """``jsonl`` or ``parquet`` from a file name's suffix (None if neither)."""
    if is_parquet(name):
        return "parquet"
    if name.lower().endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


@dataclass(frozen=True)
class InputFile:
    """One input file (picklable: sent to the workers that read it).

    Attributes:
        fs: The pyarrow filesystem holding it.
        path: Its path on ``fs``.
        name: How messages name it (the source as given for a single file).
        format: ``jsonl`` or ``parquet``.
        size: Bytes.
    """

    fs: Any
    path: str
    name: str
    format: str
    size: int

    def open_text(self) -> io.TextIOWrapper:
        """The file as text (a UTF-8 byte-order mark is skipped)."""
        return io.TextIOWrapper(self.fs.open_input_stream(self.path), encoding="utf-8-sig")

    def parquet(self) -> Any:
        """The file as a ``pyarrow.parquet.ParquetFile``.

        Raises:
            InputError: The file is not readable Parquet.
        """
        pq = require("pyarrow.parquet", "parquet", purpose="reading Parquet")
        try:
            return pq.ParquetFile(self.fs.open_input_file(self.path))
        except Exception as exc:  # ArrowInvalid/OSError for a broken footer
            raise InputError(f"not a readable Parquet file ({exc})", source=self.name) from None

    def records(self) -> Iterator[Pending]:
        """Every record of the file, numbered by line (JSONL) or row (Parquet) from 1."""
        if self.format == "parquet":
            yield from parquet_records(self.parquet())
            return
        with self.open_text() as fh:
            for line_no, line in enumerate(fh, start=1):
                if line.strip():
                    yield Pending(line_no, line)


def resolve(source: str, fmt: str = "auto") -> list[InputFile]:
    """The files of a source, in path order.

    Args:
        source: A file or directory path, or a URI (``s3://``, ``gs://``, ``file://`` ...).
        fmt: ``auto`` (from each file's suffix; other files are an error for a single file
            and ignored in a directory), ``jsonl`` or ``parquet``.

    Raises:
        InputError: Missing or empty input, no readable file in a directory.
        ConfigError: A format other than auto/jsonl/parquet.
        MissingDependencyError: pyarrow is missing (needed for URIs and Parquet).
    """
    from debias.errors import ConfigError

    if fmt not in ("auto", *FORMATS):
        raise ConfigError(f"format {fmt!r}: this engine reads jsonl and parquet inputs "
                          "(use --engine local for the other formats)")
    pafs = require("pyarrow.fs", "parquet", purpose="reading URIs")
    if is_uri(source):
        try:
            fs, path = pafs.FileSystem.from_uri(source)
        except Exception as exc:  # unknown scheme, missing credentials configuration, ...
            raise InputError(f"cannot open ({exc})", source=source) from None
    else:
        fs, path = pafs.LocalFileSystem(), os.path.abspath(source)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise InputError("file not found", source=source)
    if info.type == pafs.FileType.Directory:
        found = [f for f in fs.get_file_info(pafs.FileSelector(path, recursive=True))
                 if f.type == pafs.FileType.File and f.size and
                 (format_of(f.path) is not None if fmt == "auto" else format_of(f.path) == fmt)]
        if not found:
            raise InputError("no non-empty .jsonl or .parquet file in this directory", source=source)
        base = source.rstrip("/")
        return [_checked(InputFile(fs, f.path, f"{base}/{os.path.relpath(f.path, path)}",
                                   format_of(f.path) or fmt, f.size)) for f in sorted(found, key=lambda f: f.path)]
    form = format_of(path) if fmt == "auto" else fmt
    if form is None:
        raise InputError("cannot tell the input format from the name (expected .jsonl or .parquet); "
                         "pass --format jsonl|parquet", source=source)
    if not info.size:
        raise InputError("the input file is empty", source=source)
    return [_checked(InputFile(fs, path, source, form, info.size))]


def _checked(f: InputFile) -> InputFile:
    """``f``, after making sure a JSONL file is not one JSON array (read as a whole only locally)."""
    if f.format == "jsonl":
        with f.fs.open_input_stream(f.path) as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"["):
            raise InputError("this is one JSON array, not JSON Lines; this engine reads JSON Lines "
                             "(one item per line; --engine local reads arrays too)", source=f.name)
    return f


def _item(rec: Pending, source: str) -> Item:
    if isinstance(rec.payload, str):
        return parse_item(rec.payload, rec.line, source)
    return item_from_record(rec.payload, rec.line, source)  # type: ignore[arg-type]


def read_items(source: str, *, skip_invalid: bool = False,
               errors: list[InputError] | None = None) -> Iterator[tuple[int, Item]]:
    """``(line, item)`` of every record of a run input (JSONL or Parquet, path or URI).

    Plain local JSONL goes through :func:`debias.io.iter_items` (no pyarrow needed).

    Raises:
        InputError: On the first invalid record unless ``skip_invalid``; also for
            duplicate ids (naming the file and line).
    """
    if not is_uri(source) and format_of(source) != "parquet" and not os.path.isdir(source):
        from debias.io import iter_items

        if not os.path.exists(source):
            raise InputError("file not found", source=source)
        yield from iter_items(source, skip_invalid=skip_invalid, errors=errors)
        return
    yield from unique_items(((rec.line, f.name, partial(_item, rec, f.name))
                             for f in resolve(source) for rec in f.records()),
                            skip_invalid=skip_invalid, errors=errors)
