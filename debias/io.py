"""Reading judged-item JSONL with line-numbered errors, and crash-safe result appending."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ValidationError

from debias.errors import InputError
from debias.types import Item


def _field_of(err: dict[str, Any]) -> str:
    return ".".join(str(p) for p in err.get("loc", ())) or "record"


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """(field, message) of the first error of a pydantic ValidationError."""
    err = exc.errors()[0]
    field = _field_of(err)
    msg = err.get("msg", str(exc)).removeprefix("Value error, ")
    named = re.match(r"^([\w\[\].]+): (.*)$", msg, re.S)
    if field == "record" and named:  # model-level checks name their field first
        field, msg = named.group(1), named.group(2)
    return field, msg


def parse_item(line: str, line_no: int, source: str | None = None) -> Item:
    """Parse one JSONL line into an :class:`Item`.

    Raises:
        InputError: Naming the line and the field that is wrong.
    """
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg} at column {exc.colno})", line=line_no,
                         source=source) from None
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object, got {type(data).__name__}", line=line_no, source=source)
    return item_from_record(data, line_no, source)


def item_from_record(data: Mapping[str, Any], line_no: int, source: str | None = None) -> Item:
    """Validate one decoded record (a JSON object, a Parquet row) into an :class:`Item`.

    A ``result`` field (a results file fed back as input) is ignored.

    Raises:
        InputError: Naming the line and the field that is wrong.
    """
    fields = {k: v for k, v in data.items() if k != "result"}
    try:
        return Item.model_validate(fields)
    except ValidationError as exc:
        field, msg = validation_message(exc)
        raise InputError(msg, line=line_no, field=field, source=source) from None


def report_invalid(exc: InputError, skip_invalid: bool, errors: list[InputError] | None) -> None:
    """Raise ``exc``, or with ``skip_invalid`` record it in ``errors`` (when given)."""
    if not skip_invalid:
        raise exc
    if errors is not None:
        errors.append(exc)


def unique_items(records: Iterable[tuple[int, str, Callable[[], Item]]], *, skip_invalid: bool = False,
                 errors: list[InputError] | None = None) -> Iterator[tuple[int, Item]]:
    """``(line, item)`` for each ``(line, source, parse)`` record, refusing repeated ids.

    Raises:
        InputError: From ``parse``, or for an id seen before, unless ``skip_invalid``.
    """
    seen: set[str] = set()
    for line_no, source, parse in records:
        try:
            item = parse()
            if item.id in seen:
                raise InputError(f"duplicate id {item.id!r}", line=line_no, field="id", source=source)
        except InputError as exc:
            report_invalid(exc, skip_invalid, errors)
            continue
        seen.add(item.id)
        yield line_no, item


def iter_items(path: str | Path, *, skip_invalid: bool = False,
               errors: list[InputError] | None = None) -> Iterator[tuple[int, Item]]:
    """Stream ``(line_number, item)`` from a JSONL file (blank lines ignored).

    Args:
        path: JSONL file.
        skip_invalid: Report invalid lines into ``errors`` and continue instead of raising.
        errors: Collects the errors of skipped lines.

    Raises:
        InputError: On the first invalid line unless ``skip_invalid``; also for duplicate ids.
    """
    source = str(path)
    with open(path, encoding="utf-8") as fh:
        yield from unique_items(((n, source, partial(parse_item, line, n, source))
                                 for n, line in enumerate(fh, start=1) if line.strip()),
                                skip_invalid=skip_invalid, errors=errors)


def repair_tail(path: str | Path) -> int:
    """Cut a partial last line (left by a killed writer) off a JSONL file.

    Returns:
        Number of bytes removed.
    """
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return 0
    with open(p, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        pos = size
        chunk = 4096
        while pos > 0:
            step = min(chunk, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            nl = block.rfind(b"\n")
            if nl != -1:
                keep = pos - step + nl + 1
                if keep != size:
                    fh.truncate(keep)
                return size - keep
            pos -= step
        fh.truncate(0)
        return size


def finished_ids(path: str | Path) -> set[str]:
    """Ids already present in an output JSONL (after repairing a partial last line)."""
    p = Path(path)
    if not p.exists():
        return set()
    repair_tail(p)
    done: set[str] = set()
    with open(p, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                done.add(str(json.loads(line)["id"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError("output file has an unreadable record; move it away or fix it",
                                 line=line_no, source=str(p)) from None
    return done


class JsonlAppender:
    """Appends one JSON record per line, flushed as soon as it is written.

    A process killed mid-run loses at most the record being written; :func:`finished_ids`
    repairs the partial line on the next run.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(self.path)
        self._fh: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, record: BaseModel | dict[str, Any]) -> None:
        """Append and flush one record."""
        line = record.model_dump_json() if isinstance(record, BaseModel) else json.dumps(record, ensure_ascii=False)
        self._fh.write(line + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Close the file (fsync first)."""
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


CSV_FIELD_LIMIT = 1 << 27


def raise_csv_field_limit() -> None:
    """Let the csv module read long fields (the limit is process-wide; never lowered)."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)


def csv_records(reader: Iterator[list[str]], *, source: str | None,
                name_rows: bool = False) -> Iterator[tuple[int, int, list[str]]]:
    """``(row, line, values)`` for each non-blank record left in a ``csv.reader``.

    ``row`` counts non-blank records from 1; ``line`` is the physical line where the
    record starts (records may span lines).

    Raises:
        InputError: For a malformed record, naming its line (and its row with ``name_rows``).
    """
    end = reader.line_num  # type: ignore[attr-defined]
    row = 0
    while True:
        start = end + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            prefix = f"row {row + 1}: " if name_rows else ""
            raise InputError(f"{prefix}malformed CSV ({exc})", line=start, source=source) from None
        end = reader.line_num  # type: ignore[attr-defined]
        if not any(v.strip() for v in values):
            continue
        row += 1
        yield row, start, values
