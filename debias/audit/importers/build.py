"""Small builders shared by the format importers."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from debias.audit.importers.jsonstream import missing
from debias.audit.importers.values import TIE, Slot
from debias.audit.records import BadRecord
from debias.errors import ConfigError, InputError
from debias.io import csv_records, raise_csv_field_limit


def text(value: Any) -> str:
    """A string field ('' for missing values)."""
    return "" if missing(value) else str(value)


def verdict(judge: str, order: list[int], decision: Slot | None, *, raw: Any = "",
            with_cue: bool = True, original: bool = False, **extra: Any) -> dict[str, Any]:
    """An item-contract verdict dict.

    Args:
        judge: Judge name.
        order: Display order of the verdict.
        decision: A display slot (or an original index when ``original``), ``"tie"``, or
            None for a verdict without a usable decision (kept, counted as invalid).
        raw: The recorded decision, kept as the verdict's ``raw``.
        with_cue: Whether the cue was shown.
        original: ``decision`` is already an original candidate index.
        **extra: Extra verdict fields (e.g. ``set="D"``).
    """
    out: dict[str, Any] = {"judge": judge, "order": order, "with_cue": with_cue,
                           "raw": "" if missing(raw) else str(raw)}
    if decision == TIE:
        out["tie"] = True
    elif decision is not None:
        out["choice"] = int(decision) if original else order[int(decision)]
    out.update(extra)
    return out


def judge_from_path(path: Path, *suffixes: str) -> str:
    """A judge name from a file name, minus known suffixes (``gpt-4-testset-v1`` -> ``gpt-4``)."""
    stem = path.name
    for ext in (".jsonl", ".json", ".csv", ".tsv"):
        stem = stem.removesuffix(ext)
    for suffix in suffixes:
        stem = re.sub(re.escape(suffix) + "$", "", stem)
    return stem or "judge"


def require_join(options_join: Path | None, what: str, fmt: str) -> Path:
    """The ``--join`` file, or a ConfigError saying what it must be."""
    if options_join is None:
        raise ConfigError(f"format {fmt!r} needs --join {what}")
    if not options_join.exists():
        raise ConfigError(f"--join file {str(options_join)!r} does not exist")
    return options_join


def iter_csv_rows(path: Path, delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]] | BadRecord]:
    """``(line, row)`` for each data row of a CSV with a header (line = where it starts).

    Raises:
        InputError: Empty file or unreadable header/row structure.
    """
    raise_csv_field_limit()
    source = str(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError("empty file: no header row", line=1, source=source) from None
        for _, start, values in csv_records(reader, source=source):
            if len(values) != len(header):
                yield BadRecord(start, f"{len(values)} fields, the header has {len(header)}", source)
                continue
            yield start, dict(zip(header, values, strict=True))


def csv_header(path: Path, delimiter: str = ",") -> list[str]:
    """The header row of a CSV ([] when unreadable)."""
    raise_csv_field_limit()
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return [h.strip() for h in next(csv.reader(fh, delimiter=delimiter), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def majority(values: list[Any]) -> Any:
    """The value given by more than half of the non-missing ``values`` (None if none)."""
    present = [v for v in values if not missing(v)]
    for v in dict.fromkeys(present):
        if present.count(v) * 2 > len(present):
            return v
    return None


def get_ci(record: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``record`` (case-insensitive), else None."""
    lowered = {k.lower(): v for k, v in record.items()}
    for n in names:
        if n.lower() in lowered:
            return lowered[n.lower()]
    return None
