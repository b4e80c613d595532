"""Where the public benchmark data lives, and reading it with errors that name the record.

The data is never part of the project: it sits in a ``shared/data`` folder beside the
project's root (``../shared/data`` seen from the repository), or wherever
``--data-dir`` / ``$DEBIAS_BENCH_DATA`` point.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from debias.errors import ConfigError, InputError

DATA_ENV = "DEBIAS_BENCH_DATA"
"""Environment variable naming the benchmark data folder."""


class DataMissingError(ConfigError):
    """A suite's data files are not where the benchmark looks for them."""


def project_root() -> Path:
    """The folder holding the ``debias`` package (the repository root for a checkout)."""
    return Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """``shared/data`` beside the project root."""
    return project_root().parent / "shared" / "data"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``explicit``, else ``$DEBIAS_BENCH_DATA``, else the default."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else default_data_dir()


def require(data_dir: Path, relative: str, suite: str) -> Path:
    """The path of ``relative`` under ``data_dir``.

    Raises:
        DataMissingError: With what is missing, where it was looked for, and what to do.
    """
    path = data_dir / relative
    if not path.exists():
        where = "does not exist" if not data_dir.exists() else f"has no {relative}"
        raise DataMissingError(
            f"suite {suite!r} needs the public benchmark data, but the data folder {data_dir} "
            f"{where}. Put the data there, point --data-dir or ${DATA_ENV} at the folder "
            f"that holds {relative}, or run --suite sanity (synthetic, needs no data)."
        )
    return path


def load_json(path: Path) -> Any:
    """Parse a JSON file.

    Raises:
        InputError: Naming the file and the position of a syntax error.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                         source=str(path)) from None


def records(data: Any, path: Path, what: str = "a list of records") -> list[dict[str, Any]]:
    """Check that ``data`` is a list of JSON objects."""
    if not isinstance(data, list):
        raise InputError(f"expected {what}, got {type(data).__name__}", source=str(path))
    for k, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise InputError(f"record {k}: expected a JSON object, got {type(rec).__name__}",
                             source=str(path))
    return data


def field(rec: dict[str, Any], name: str, path: Path, index: int, kind: type | tuple[type, ...] = str) -> Any:
    """``rec[name]``, checked to exist and to be of ``kind``.

    Raises:
        InputError: Naming the file, the record index and the field.
    """
    if name not in rec:
        raise InputError(f"record {index}: missing", source=str(path), field=name)
    value = rec[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"record {index}: expected {want}, got {type(value).__name__}",
                         source=str(path), field=name)
    return value


def gold_index(value: Any, n: int, path: Path, index: int, name: str, base: int) -> int:
    """A gold label counted from ``base`` (1 for "1 = first output"), as a 0-based index."""
    if isinstance(value, bool) or not isinstance(value, int) or not base <= value < base + n:
        raise InputError(f"record {index}: expected {base}..{base + n - 1}, got {value!r}",
                         source=str(path), field=name)
    return value - base
