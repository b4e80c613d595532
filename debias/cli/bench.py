"""``debias bench``: reproducible benchmarks.

Sub-commands:

* ``debias bench detect --data FILE.csv [--detectors NAMES] [--json OUT]``: detection
  quality on RBD-format labelled verdicts (default: the offline cheap detectors, no
  model calls). See :mod:`debias.bench.detect`.

Further benchmarks plug in as modules listed in :data:`BENCH_MODULES`; each exposes
``register(bench_subparsers)`` that adds its parser and sets ``func`` (args -> exit code),
exactly like the top-level command modules. A listed module that is not part of the
build is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH_MODULES: tuple[str, ...] = ("debias.cli.bench_e2e",)
DEFAULT_DETECT_SPEC = "position,bandwagon,verbosity,sentiment"


def register(subparsers: Any) -> None:
    """Add the ``bench`` command and its sub-commands."""
    parser = subparsers.add_parser(
        "bench", help="run a benchmark (detection quality, ...)",
        description="Reproducible benchmarks; each writes its results as JSON.")
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    register_detect(sub)
    for name in BENCH_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)

    def _usage(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    parser.set_defaults(func=_usage)


def register_detect(sub: Any) -> None:
    """Add ``bench detect``."""
    p = sub.add_parser(
        "detect", help="detection quality on RBD-format labelled verdicts",
        description=("Run detectors offline on each row of an RBD reasoning-supervision CSV "
                     "and report accuracy, precision, recall and F1 of the bias label overall, "
                     "per bias type and per judge, with the file's teacher labels as a "
                     "reference row."))
    p.add_argument("--data", required=True, type=Path, help="RBD-format CSV file")
    p.add_argument("--detectors", default=DEFAULT_DETECT_SPEC,
                   help=f"comma-separated detector specs (default: {DEFAULT_DETECT_SPEC}); "
                        "add e.g. 'reasoning' for the model-backed detector (cascade on signal)")
    p.add_argument("--json", dest="json_out", type=Path, help="write the report to this JSON file")
    p.add_argument("--limit", type=int, help="only the first N rows")
    p.add_argument("--rows", action="store_true",
                   help="include per-row outcomes (labels and predictions, no texts) in the JSON")
    p.add_argument("--skip-invalid", action="store_true",
                   help="skip malformed rows (they are counted) instead of stopping")
    p.set_defaults(func=run_detect)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_detect(args: argparse.Namespace) -> int:
    """Run ``bench detect``; returns the exit code."""
    from debias.bench.detect import bench_detect_file, format_table

    if args.limit is not None and args.limit < 1:
        print(f"debias bench detect: --limit must be >= 1, got {args.limit}", file=sys.stderr)
        return 2
    report = bench_detect_file(args.data, args.detectors, limit=args.limit, include_rows=args.rows,
                               skip_invalid=args.skip_invalid)
    parts = ["debias bench detect", "--data", str(args.data), "--detectors", args.detectors]
    if args.json_out:
        parts += ["--json", str(args.json_out)]
    if args.limit:
        parts += ["--limit", str(args.limit)]
    report["command"] = " ".join(parts)
    print(format_table(report))
    if args.json_out:
        write_json(args.json_out, report)
        print(f"wrote {args.json_out}")
    return 0
