"""``debias audit``: offline bias audit of recorded verdicts, with report and CI gates."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from debias.engines import DEFAULT_ENGINE, engine_names
from debias.errors import ConfigError, InputError

EPILOG = """\
examples:
  debias audit verdicts.jsonl --report audit.html --json audit.json
  debias audit judgments.csv --map candidates=resp_a,resp_b --map choice=winner --map label=gold
  debias audit gpt-3.5-turbo-testset-v1.json --format pandalm --join testset-v1.json
  debias audit verdicts.jsonl --fail-on "position_consistency<0.8" --fail-on "cohen_kappa[*].lo<0.4"
  debias audit s3://bucket/verdicts/ --engine ray --ray-address auto --json audit.json

exit status: 0 ok, 1 a --fail-on gate failed, 2 bad input or usage.
gate syntax: METRIC[JUDGE].FIELD OP NUMBER (JUDGE: a name or *; FIELD: value, lo, hi, n).
"""


def register(subparsers: Any) -> None:
    """Add the ``audit`` sub-command."""
    p = subparsers.add_parser(
        "audit", help="audit recorded judge verdicts for bias (no model calls)",
        description="Measure position, cue, verbosity and sentiment effects, accuracy and human "
                    "agreement of recorded judge verdicts, with bootstrap 95% intervals.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", help="verdict file (JSONL items, Parquet, CSV, or another tool's "
                   "format); with --engine ray also a directory or URI (s3://, gs://)")
    p.add_argument("--format", default="auto", metavar="auto|jsonl|csv|NAME",
                   help="input format (default: recognised from the file; see --list-formats)")
    p.add_argument("--map", action="extend", nargs="+", default=[], metavar="FIELD=COLUMN",
                   help="CSV column mapping or importer option (repeatable)")
    p.add_argument("--join", type=Path, metavar="FILE",
                   help="second file for joined formats (PandaLM test set, Bias4-Eval items)")
    p.add_argument("--detectors", default="auto", metavar="NAMES",
                   help="cheap detectors to run offline: auto (all; sentiment-bias detectors only on the "
                        "items --sentiment selects), none, or e.g. position,bandwagon")
    p.add_argument("--sentiment", choices=("auto", "all", "off"), default="auto",
                   help="which items get tone scores, for the sentiment metrics and the sentiment "
                        "detector (auto: items tagged metadata.bias=sentiment, the others count as "
                        "skipped; all: every item, 2-3 times the audit's CPU cost; off: none)")
    p.add_argument("--report", type=Path, metavar="report.html", help="write the HTML report")
    p.add_argument("--json", type=Path, metavar="metrics.json", help="write every number as JSON")
    p.add_argument("--flagged", type=Path, metavar="flagged.jsonl",
                   help="write every flagged verdict with its evidence")
    p.add_argument("--fail-on", action="extend", nargs="+", default=[], metavar="EXPR",
                   help='exit 1 when the condition holds, e.g. "position_consistency<0.8" (repeatable)')
    p.add_argument("--bootstrap", type=int, default=2000, metavar="N", help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--jobs", type=int, default=0,
                   help="worker processes (with --engine ray: map actors; default: automatic)")
    p.add_argument("--engine", default=DEFAULT_ENGINE, choices=engine_names(),
                   help="where the per-item work runs: this machine's processes (local, default) or "
                        "Ray Data on a Ray cluster (ray; needs judge-debias[ray]; reads JSONL and "
                        "Parquet files, directories of them, and URIs such as s3://...)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="with --engine ray: join this cluster (auto, or ray://HOST:10001); default: "
                        "start a local Ray instance")
    p.add_argument("--strict", action="store_true", help="exit 2 if any record is bad")
    p.add_argument("--quiet", action="store_true", help="do not print the Markdown summary")
    p.add_argument("--list-formats", action="store_true", help="list input formats with examples")
    p.set_defaults(func=run_audit)


def _mapping(tokens: list[str], args: argparse.Namespace) -> dict[str, str]:
    out: dict[str, str] = {}
    for tok in tokens:
        key, eq, value = tok.partition("=")
        if not eq:
            if args.input is None:  # `--map a=b INPUT`: the input was swallowed by --map
                args.input = tok
                continue
            raise ConfigError(f"--map {tok!r} is not FIELD=COLUMN")
        if not key.strip() or not value.strip():
            raise ConfigError(f"--map {tok!r}: both FIELD and COLUMN are needed")
        out[key.strip()] = value.strip()
    return out


def list_formats() -> str:
    """Every registered input format with its example and options."""
    from debias.audit.importers import importers

    parts = []
    for imp in importers.all():
        opts = "".join(f"\n      --map {k}=...  {v}" for k, v in imp.options.items())
        example = "\n".join("      " + line for line in imp.example.splitlines())
        parts.append(f"  {imp.name}: {imp.summary}\n    example:\n{example}"
                     + (f"\n    options:{opts}" if opts else ""))
    return "input formats (--format NAME; auto recognises them):\n" + "\n\n".join(parts) + "\n"


def run_audit(args: argparse.Namespace) -> int:
    """Run the audit; return 0, 1 (a gate failed) or raise for bad input (2)."""
    if args.list_formats:
        print(list_formats(), end="")
        return 0
    from debias.audit import check_gates, parse_gate
    from debias.audit.markdown import render_markdown
    from debias.audit.pipeline import make_config
    from debias.engines import get_engine

    mapping = _mapping(args.map, args)
    exprs = []
    for tok in args.fail_on:
        if args.input is None and not any(op in tok for op in "<>=!"):
            args.input = tok  # `--fail-on EXPR INPUT`: the input was swallowed by --fail-on
        else:
            exprs.append(tok)
    if args.input is None:
        raise ConfigError("INPUT is required (see `debias audit --help`)")
    gates = [parse_gate(g) for g in exprs]
    config = make_config(format=args.format, mapping=mapping, join=args.join, detectors=args.detectors,
                         sentiment=args.sentiment, n_boot=args.bootstrap, seed=args.seed,
                         jobs=args.jobs, flagged_path=args.flagged)
    result = get_engine(args.engine).audit(args.input, config, address=args.ray_address)
    if result.items == 0:
        first = f"; first: {result.bad[0]}" if result.bad else ""
        raise InputError(f"no usable item ({result.bad_count} bad records{first})", source=args.input)
    outcomes = check_gates(gates, result)
    command = "debias " + shlex.join(sys.argv[1:]) if sys.argv and sys.argv[0] else None
    written = []
    if args.json is not None:
        data = result.to_json()
        data["gates"] = [{"expr": g.gate.text, "scope": g.scope, "value": g.value, "failed": g.failed,
                          "message": g.message} for g in outcomes]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                             encoding="utf-8")
        written.append(str(args.json))
    if args.report is not None:
        from debias.audit.report import write_report

        write_report(result, args.report, outcomes, command=command)
        written.append(str(args.report))
    if args.flagged is not None:
        written.append(str(args.flagged))
    if not args.quiet:
        print(render_markdown(result, outcomes, written), end="")
    if result.bad_count:
        print(f"debias: warning: {result.bad_count} bad record(s) were not used "
              f"(first: {result.bad[0]})", file=sys.stderr)
        if args.strict:
            raise InputError(f"{result.bad_count} bad record(s) and --strict", source=args.input)
    failed = [g for g in outcomes if g.failed]
    if failed:
        for g in failed:
            print(f"debias: gate failed: {g.message}", file=sys.stderr)
        return 1
    return 0
