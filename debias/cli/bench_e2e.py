"""``debias bench e2e``: the end-to-end debiasing benchmark (see :mod:`debias.bench_e2e`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

SUITE_NAMES = ("rbd-bias4", "llmbar", "evalbiasbench", "sanity")


def register(sub: Any) -> None:
    """Add ``bench e2e`` to the ``bench`` sub-commands."""
    p = sub.add_parser(
        "e2e", help="end-to-end: judge accuracy/consistency before and after debiasing",
        description=(
            "Judge every case of a suite in its unbiased form D and its biased form D_bias "
            "through the middleware, and report accuracy and consistency before (the judge "
            "alone) and after (the middleware's verdict), detection precision/recall against "
            "derived gold bias labels, over-correction on D_bias and on the unbiased control "
            "D, and cost per item, with seeded bootstrap 95% intervals. Per-item results are "
            "appended to the run folder as they finish; re-running the same command resumes."),
        epilog=(
            "Suites: rbd-bias4 (position, bandwagon, verbosity, sentiment), llmbar (Natural + "
            "Adversarial subsets, both orders), evalbiasbench (by bias type, both orders) read "
            "the public data from --data-dir, $DEBIAS_BENCH_DATA or ../shared/data; sanity is "
            "synthetic (scripted judges with known bias rates, no data, no model)."),
    )
    p.add_argument("--suite", required=True, choices=SUITE_NAMES, help="benchmark suite")
    p.add_argument("--judge", default=None,
                   help="'local' (embedded SmolLM2), 'local:PATH', 'scripted:...', or any litellm "
                        "model string such as openai/gpt-4o-mini (default: local; for sanity, "
                        "its own scripted judges)")
    p.add_argument("--api-base", default=None, help="API base URL for a litellm judge")
    p.add_argument("--limit", type=int, default=None,
                   help="cases per bias type / subset: a fixed sample drawn with --seed (a larger "
                        "limit extends a smaller one); default all (sanity: 40)")
    p.add_argument("--detectors", default=None,
                   help="detector specs, e.g. 'position,bandwagon,reasoning:backend=...' "
                        "('none' for no detectors; default position,bandwagon,verbosity,sentiment)")
    p.add_argument("--max-rounds", type=int, default=2, help="revision rounds (default 2)")
    p.add_argument("--budget", default=None, metavar="auto|N",
                   help="average judge calls per item (N >= 1) or 'auto' (see debias run --budget); "
                        "default: every probe")
    p.add_argument("--concurrency", type=int, default=None,
                   help="items in flight (default 1 for local judges, 8 otherwise)")
    p.add_argument("--seed", type=int, default=0, help="sample and bootstrap seed (default 0)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap replicates (default 2000)")
    p.add_argument("--json", dest="json_out", type=Path, default=None,
                   help="write the summary JSON to this file (default: printed only)")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="per-item results folder (default: <cache>/bench-e2e/<suite>-<judge>/ in "
                        "$DEBIAS_CACHE_DIR or ~/.cache/judge-debias)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="benchmark data folder (default $DEBIAS_BENCH_DATA or ../shared/data)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not cache model calls in the run folder")
    p.add_argument("--fresh", action="store_true", help="discard the run folder's earlier results")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_e2e_command)


def run_e2e_command(args: argparse.Namespace) -> int:
    """Run ``bench e2e``; returns the exit code (2 for bad input or missing data)."""
    from pydantic import ValidationError

    from debias.bench_e2e.report import render_summary
    from debias.bench_e2e.runner import E2EConfig, run_e2e

    try:
        cfg = E2EConfig(suite=args.suite, judge=args.judge, api_base=args.api_base,
                        limit=args.limit, detectors=args.detectors, max_rounds=args.max_rounds,
                        budget=args.budget,
                        concurrency=args.concurrency, seed=args.seed, n_boot=args.n_boot,
                        data_dir=args.data_dir, run_dir=args.run_dir, json_out=args.json_out,
                        cache=not args.no_cache, fresh=args.fresh, progress=not args.quiet,
                        command=canonical_command(args))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        print(f"debias bench e2e: --{where.replace('_', '-')}: {err['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    report = run_e2e(cfg)
    print(render_summary(report))
    written = f"wrote {report['_path']}; " if report["_path"] else ""
    print(f"\n{written}per-item results in {report['run_dir']}")
    return 0


OPTIONS: tuple[tuple[str, str, Any], ...] = (
    ("--judge", "judge", None), ("--api-base", "api_base", None), ("--limit", "limit", None),
    ("--detectors", "detectors", None), ("--max-rounds", "max_rounds", 2), ("--budget", "budget", None),
    ("--concurrency", "concurrency", None), ("--seed", "seed", 0), ("--n-boot", "n_boot", 2000),
    ("--json", "json_out", None), ("--run-dir", "run_dir", None), ("--data-dir", "data_dir", None),
)
FLAGS: tuple[tuple[str, str], ...] = (("--no-cache", "no_cache"), ("--fresh", "fresh"))


def canonical_command(args: argparse.Namespace) -> str:
    """The command that reproduces this run (options at their defaults left out)."""
    from debias.bench_e2e.runner import quote

    parts = ["debias", "bench", "e2e", "--suite", args.suite]
    for flag, attr, default in OPTIONS:
        value = getattr(args, attr, default)
        if value is not None and value != default:
            parts += [flag, quote(str(value))]
    parts += [flag for flag, attr in FLAGS if getattr(args, attr, False)]
    return " ".join(parts)
