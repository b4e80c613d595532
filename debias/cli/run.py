"""``debias run``: debias a JSONL file of judged items with any judge."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from debias.cache import default_cache_dir
from debias.errors import ConfigError, InputError


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


def run_command(args: argparse.Namespace) -> int:
    from debias.cache import CallCache, with_cache
    from debias.io import iter_items
    from debias.judges import judges
    from debias.judges.chat import ChatJudge
    from debias.loop import Debiaser
    from debias.runner import arun_batch

    if not args.input.exists():
        raise InputError("file not found", source=str(args.input))
    errors: list[InputError] = []
    items = [item for _, item in iter_items(args.input, skip_invalid=args.skip_invalid, errors=errors)]
    for err in errors:
        print(f"debias: skipped invalid record: {err}", file=sys.stderr)
    judge_kwargs = {"api_base": args.api_base} if args.api_base else {}
    judge = judges.create(args.judge, **judge_kwargs)
    if isinstance(judge, ChatJudge) and not args.no_cache:
        cache = CallCache((args.cache_dir or default_cache_dir()) / "calls.sqlite")
        judge.backend = with_cache(judge.backend, cache)
    rewriter = None
    if args.rewriter:
        from debias.rewriter import ChatRewriter

        rewriter_judge = judges.create(args.rewriter, **judge_kwargs)
        if not isinstance(rewriter_judge, ChatJudge):
            raise ConfigError(f"--rewriter {args.rewriter!r} is not a chat model")
        rewriter = ChatRewriter(rewriter_judge.backend)
    detectors = [] if args.detectors in ("", "none") else args.detectors
    debiaser = Debiaser(judge, detectors, max_rounds=args.max_rounds, strict=args.strict,
                        rewriter=rewriter)
    out = args.out or args.input.with_suffix(".debiased.jsonl")
    concurrency = args.concurrency or (1 if args.judge.startswith("local") else 8)
    summary = asyncio.run(arun_batch(items, debiaser, out, concurrency=concurrency,
                                     progress=not args.quiet, total=len(items)))
    summary.invalid = len(errors)
    print(summary.render())
    print(f"results: {out}")
    return 0
