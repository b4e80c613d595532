"""``debias run``: debias a JSONL file of judged items with any judge."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from debias.cache import default_cache_dir
from debias.errors import ConfigError, InputError

if TYPE_CHECKING:
    from debias.budget import Budget
    from debias.runner import Summary


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="judge and debias items from a JSONL file",
                       description="Judge every item of INPUT with --judge, run the detectors, "
                       "send feedback, and append results to --out as they finish.")
    p.add_argument("input", type=Path, help="judged-item JSONL (see README: record format)")
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
                   help="items in flight (default 8; 1 for local models)")
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


def run_command(args: argparse.Namespace) -> int:
    from debias.backends import require_credentials
    from debias.cache import CallCache, with_cache
    from debias.io import iter_items
    from debias.judges import create_judge
    from debias.judges.chat import ChatJudge
    from debias.loop import Debiaser
    from debias.runner import arun_batch

    budget = parse_budget_option(args.budget)
    if not args.input.exists():
        raise InputError("file not found", source=str(args.input))
    errors: list[InputError] = []
    items = [item for _, item in iter_items(args.input, skip_invalid=args.skip_invalid, errors=errors)]
    for err in errors:
        print(f"debias: skipped invalid record: {err}", file=sys.stderr)
    judge_kwargs = {"api_base": args.api_base} if args.api_base else {}
    judge = create_judge(args.judge, **judge_kwargs)
    require_credentials(judge, role="--judge")  # before the first item, not 5 retries per item
    if isinstance(judge, ChatJudge) and not args.no_cache:
        cache = CallCache((args.cache_dir or default_cache_dir()) / "calls.sqlite")
        judge.backend = with_cache(judge.backend, cache)
    rewriter = None
    if args.rewriter:
        from debias.rewriter import ChatRewriter

        rewriter_judge = create_judge(args.rewriter, **judge_kwargs)
        if not isinstance(rewriter_judge, ChatJudge):
            raise ConfigError(f"--rewriter {args.rewriter!r} is not a chat model")
        require_credentials(rewriter_judge, role="--rewriter")
        rewriter = ChatRewriter(rewriter_judge.backend)
    detectors = [] if args.detectors in ("", "none") else args.detectors
    debiaser = Debiaser(judge, detectors, max_rounds=args.max_rounds, strict=args.strict,
                        rewriter=rewriter, budget=budget)
    out = args.out or args.input.with_suffix(".debiased.jsonl")
    concurrency = args.concurrency or (1 if args.judge.startswith("local") else 8)
    summary = asyncio.run(arun_batch(items, debiaser, out, concurrency=concurrency,
                                     progress=not args.quiet, total=len(items)))
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
