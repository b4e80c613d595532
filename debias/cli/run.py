"""``debias run``: debias a JSONL file of judged items with any judge."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from debias.cache import default_cache_dir
from debias.engines import DEFAULT_ENGINE, engine_names
from debias.errors import ConfigError, InputError

if TYPE_CHECKING:
    from debias.budget import Budget
    from debias.runner import Summary


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="judge and debias items from a JSONL file",
                       description="Judge every item of INPUT with --judge, run the detectors, "
                       "send feedback, and append results to --out as they finish.")
    p.add_argument("input", help="judged items: JSONL (see README: record format) or Parquet; a path, "
                   "a directory of them, or a URI pyarrow reads (s3://, gs://)")
    p.add_argument("--judge", default="local",
                   help="'local' (embedded SmolLM2), 'local:PATH' (HF dir or .gguf), or any "
                   "litellm model string, e.g. openai/gpt-4o-mini (default: local)")
    p.add_argument("--api-base", default=None, help="API base URL for the litellm judge")
    p.add_argument("--detectors", default="position,bandwagon,verbosity,sentiment",
                   help="comma-separated detector specs, e.g. 'position,bandwagon:policy=flag' "
                   "('none' for no detectors)")
    p.add_argument("--rewriter", default=None,
                   help="model (same spec forms as --judge) that rewrites candidates for "
                   "length/tone probes; off by default")
    p.add_argument("--max-rounds", type=int, default=2, help="revision rounds after the first judgement")
    p.add_argument("--budget", default=None, metavar="auto|N",
                   help="average judge calls per item the run may spend (N >= 1, e.g. 1.5), or 'auto' "
                   "(probe where an offline signal says the verdict may be biased, sample the rest "
                   "at a rate that follows the judge's estimated bias rate); default: every probe")
    p.add_argument("--concurrency", type=int, default=None,
                   help="items in flight (per worker with --engine ray; default 8; 1 for local models)")
    p.add_argument("--engine", default=DEFAULT_ENGINE, choices=engine_names(),
                   help="where judging runs: this process (local, default) or Ray actors (ray; needs "
                   "judge-debias[ray])")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="with --engine ray: join this cluster (auto, or ray://HOST:10001); default: "
                   "start a local Ray instance")
    p.add_argument("--workers", type=int, default=None,
                   help="with --engine ray: judge actors (default: one per cluster CPU)")
    p.add_argument("--rate-limit", type=float, default=None, metavar="CALLS_PER_MIN",
                   help="with --engine ray: model calls per minute shared by all actors")
    p.add_argument("--worker-cpus", type=float, default=None,
                   help="with --engine ray: CPUs reserved per judge actor (default 1; e.g. 0.25 to "
                   "pack API-judge actors)")
    p.add_argument("--worker-gpus", type=float, default=None,
                   help="with --engine ray: GPUs per judge actor (e.g. 1 for a local model on GPU)")
    p.add_argument("--out", type=Path, default=None, help="output JSONL (default INPUT.debiased.jsonl)")
    p.add_argument("--skip-invalid", action="store_true", help="report invalid lines and continue")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="model-call cache folder (default $DEBIAS_CACHE_DIR or ~/.cache/judge-debias)")
    p.add_argument("--no-cache", action="store_true", help="do not cache model calls")
    p.add_argument("--strict", action="store_true", help="raise on detector errors")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_command)


def parse_budget_option(value: str | None) -> Budget | None:
    """The ``--budget`` option as a :class:`~debias.budget.Budget` (None: no budget).

    Raises:
        ConfigError: Naming the bad value (the CLI exits with status 2).
    """
    from debias.budget import Budget

    try:
        return Budget.parse(value)
    except ConfigError as exc:
        raise ConfigError(f"--budget: {exc}") from None


def default_out(source: str) -> Path:
    """Where results go without ``--out``: next to a local input, in the working folder for a URI."""
    from debias.engines.sources import is_uri

    base = Path(source.rstrip("/").rsplit("/", 1)[-1]) if is_uri(source) else Path(source.rstrip("/"))
    return base.with_suffix(".debiased.jsonl")


def run_command(args: argparse.Namespace) -> int:
    from debias.engines import get_engine
    from debias.engines.plan import RunPlan
    from debias.engines.sources import read_items

    engine = get_engine(args.engine)
    source = str(args.input)
    parse_budget_option(args.budget)  # exit 2 on a bad value before reading anything
    errors: list[InputError] = []
    items = [item for _, item in read_items(source, skip_invalid=args.skip_invalid, errors=errors)]
    for err in errors:
        print(f"debias: skipped invalid record: {err}", file=sys.stderr)
    try:
        plan = RunPlan(judge=args.judge, api_base=args.api_base, detectors=args.detectors,
                       max_rounds=args.max_rounds, strict=args.strict, rewriter=args.rewriter,
                       cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
                       budget=args.budget)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    out = args.out or default_out(source)
    summary = engine.run(items, plan, str(out), address=args.ray_address, progress=not args.quiet,
                         concurrency=args.concurrency, workers=args.workers, rate_limit=args.rate_limit,
                         worker_cpus=args.worker_cpus, worker_gpus=args.worker_gpus)
    summary.invalid = len(errors)
    print(summary.render())
    print(f"results: {out}")
    return exit_code(summary)


def exit_code(summary: Summary) -> int:
    """0, or 1 when every item of this run failed (the errors are in the output records).

    A run that resumed everything (no item judged now) or in which some item succeeded
    exits 0; a run that judged items and got none through exits 1, so scripts notice a
    wrong model name, a dead server or a rejected key.
    """
    from debias.types import Status

    failed = summary.statuses.get(Status.ERROR.value, 0)
    if summary.items and failed == summary.items:
        print(f"debias: every item failed ({failed} of {summary.items}); see the 'error' "
              "field of the output records", file=sys.stderr)
        return 1
    return 0
