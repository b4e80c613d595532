"""Streaming JSON records (JSON arrays or JSON Lines) with line numbers.

Arrays are decoded element by element from a sliding buffer, so a large JSON array is
read in constant memory. Bare ``NaN``/``Infinity`` (not JSON, but written by pandas and
Python's ``json``) are accepted and become floats; :func:`missing` treats NaN as absent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from debias.audit.records import BadRecord
from debias.errors import InputError

BLOCK = 1 << 20
_decoder = json.JSONDecoder()


def missing(value: Any) -> bool:
    """None, NaN or an empty/blank string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def first_char(path: Path) -> str:
    """The first non-blank character of a text file ('' when empty)."""
    with open(path, encoding="utf-8-sig") as fh:
        while True:
            block = fh.read(4096)
            if not block:
                return ""
            stripped = block.lstrip()
            if stripped:
                return stripped[0]


def iter_json(path: Path) -> Iterator[tuple[int, Any] | BadRecord]:
    """``(line, record)`` for every record of a JSON array or JSON Lines file.

    Invalid JSON Lines are yielded as :class:`BadRecord`; a broken JSON array cannot be
    resynchronised and raises.

    Raises:
        InputError: Broken JSON array (naming the line), or a top-level value that is
            neither an array nor objects.
    """
    if first_char(path) == "[":
        yield from _iter_array(path)
        return
    source = str(path)
    with open(path, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                yield BadRecord(line_no, f"invalid JSON ({exc.msg} at column {exc.colno})", source)


def _iter_array(path: Path) -> Iterator[tuple[int, Any]]:
    source = str(path)
    with open(path, encoding="utf-8-sig") as fh:
        buf = fh.read(BLOCK)
        pos = buf.index("[") + 1
        line = 1 + buf.count("\n", 0, pos)
        eof = False
        while True:
            # skip whitespace and one separating comma
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    if buf[pos] == "\n":
                        line += 1
                    pos += 1
                if pos < len(buf) or eof:
                    break
                buf, pos = buf[pos:] + fh.read(BLOCK), 0
                eof = len(buf) == 0
            if pos >= len(buf):
                raise InputError("JSON array is not closed (missing ']')", line=line, source=source)
            if buf[pos] == "]":
                return
            while True:
                try:
                    value, end = _decoder.raw_decode(buf, pos)
                    if end < len(buf) or eof:
                        break
                    more = fh.read(BLOCK)  # a bare number may continue in the next block
                    if not more:
                        eof = True
                        break
                    buf, pos = buf[pos:] + more, 0
                    continue
                except json.JSONDecodeError as exc:
                    more = "" if eof else fh.read(BLOCK)
                    if not more:
                        eof = True
                        bad_line = line + buf.count("\n", pos, exc.pos)
                        raise InputError(f"invalid JSON ({exc.msg})", line=bad_line,
                                         source=source) from None
                    buf, pos = buf[pos:] + more, 0
            yield line, value
            line += buf.count("\n", pos, end)
            pos = end
            if pos > BLOCK:
                buf, pos = buf[pos:], 0


def first_record(path: Path) -> Any:
    """The first record of a JSON/JSONL file (None if it has none or starts badly)."""
    try:
        for rec in iter_json(path):
            if isinstance(rec, BadRecord):
                return None
            return rec[1]
    except (InputError, ValueError, UnicodeDecodeError):
        return None
    return None
