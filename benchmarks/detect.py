"""Detection benchmark on the RBD reasoning-supervision dev set.

Runs the offline cheap detectors (no model calls) on every row of
``../shared/data/rbd-reasoning-dev/dev.csv`` (relative to the project root) and writes
``benchmarks/results/detect_dev.json``. The data is public reference data kept beside
the project, never in it: when it is absent the runner says so and exits with 0 without
writing anything.

Usage (from the project root)::

    python benchmarks/detect.py [--data PATH] [--detectors SPEC] [--out PATH]

Equivalent CLI::

    debias bench detect --data ../shared/data/rbd-reasoning-dev/dev.csv \\
        --json benchmarks/results/detect_dev.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "rbd-reasoning-dev" / "dev.csv"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "detect_dev.json"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    from debias.bench.detect import bench_detect_file, format_table
    from debias.cli.bench import DEFAULT_DETECT_SPEC, write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RBD-format CSV")
    parser.add_argument("--detectors", default=DEFAULT_DETECT_SPEC, help="detector specs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="result JSON")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"SKIPPED: benchmark data not found at {args.data}. It is public reference data "
              "kept beside the project (../shared/data/rbd-reasoning-dev/dev.csv); pass --data "
              "to point at a copy.", file=sys.stderr)
        return 0
    report = bench_detect_file(args.data, args.detectors)
    try:
        shown = args.data.resolve().relative_to(ROOT.parent)
        report["data"] = f"../{shown}"
    except ValueError:
        report["data"] = str(args.data)
    report["command"] = "python benchmarks/detect.py" + (
        f" --detectors {args.detectors}" if args.detectors != DEFAULT_DETECT_SPEC else "")
    report["equivalent_cli"] = (f"debias bench detect --data {report['data']} "
                                f"--detectors {args.detectors} --json benchmarks/results/detect_dev.json")
    print(format_table(report))
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
