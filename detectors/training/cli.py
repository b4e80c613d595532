"""``debias train``: build your own reasoning-based bias detector.

Sub-commands, in pipeline order (each appends JSONL as records finish and skips
finished ids when re-run; failures go to ``<out>.errors.jsonl`` and are retried)::

    debias train construct ITEMS.jsonl --out pairs.jsonl [--generator MODEL]
    debias train collect pairs.jsonl --judge MODEL --out judged.jsonl
    debias train teacher judged.jsonl --teacher MODEL --out traces.jsonl
    debias train finetune traces.jsonl|rbd.csv --out runs/detector [--max-steps N]
    debias train evaluate rbd.csv|judged.jsonl --adapter runs/detector --out eval.jsonl

Exit codes: 0 done, 1 some records failed (re-run to retry), 2 bad input or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from debias.errors import ConfigError, InputError


def _add_common(p: argparse.ArgumentParser, *, concurrency: bool = True) -> None:
    p.add_argument("--limit", type=int, default=None, help="process only the first N records")
    if concurrency:
        p.add_argument("--concurrency", type=int, default=None,
                       help="records in flight (default 8; 1 for local models)")
        p.add_argument("--cache-dir", type=Path, default=None,
                       help="model-call cache folder (default $DEBIAS_CACHE_DIR or ~/.cache/judge-debias)")
        p.add_argument("--no-cache", action="store_true", help="do not cache model calls")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="build a reasoning bias detector: data, traces, LoRA, evaluation",
                       description=(__doc__ or "").replace("``", "").replace("::", ":"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = p.add_subparsers(dest="train_command", metavar="STEP")
    p.set_defaults(func=lambda _a: (p.print_help(), 2)[1])

    c = steps.add_parser("construct", help="clean items with gold labels -> D / D_bias pairs")
    c.add_argument("items", type=Path, help="clean judged-item JSONL (label = correct candidate)")
    c.add_argument("--out", type=Path, default=None, help="pairs JSONL (default ITEMS.pairs.jsonl)")
    c.add_argument("--biases", default=None,
                   help="comma-separated: position,bandwagon,verbosity,sentiment (default all)")
    c.add_argument("--generator", default=None,
                   help="model rewriting candidates for verbosity/sentiment: a litellm model "
                   "string, 'local' or 'local:PATH' (else rewrites must be in item metadata)")
    c.add_argument("--api-base", default=None, help="API base URL for the generator")
    c.add_argument("--config", type=Path, default=None, help="JSON file of ConstructConfig fields")
    c.add_argument("--bandwagon-template", action="append", default=None,
                   help="cue template, e.g. '{pct}%% of experts prefer {label}' (repeatable)")
    c.add_argument("--bandwagon-percent", type=int, default=None, help="value of {pct} (default 90)")
    c.add_argument("--seed", type=int, default=None, help="seed of the per-item choices")
    c.add_argument("--skip-invalid", action="store_true", help="report invalid items and continue")
    _add_common(c)
    c.set_defaults(func=construct_command)

    k = steps.add_parser("collect", help="judge D and D_bias, derive the gold bias label")
    k.add_argument("pairs", type=Path, help="pairs JSONL from 'construct'")
    k.add_argument("--judge", default="local",
                   help="'local', 'local:PATH', 'scripted:...' or a litellm model string")
    k.add_argument("--api-base", default=None, help="API base URL for the judge")
    k.add_argument("--out", type=Path, default=None, help="judged JSONL (default PAIRS.judged.jsonl)")
    _add_common(k)
    k.set_defaults(func=collect_command)

    t = steps.add_parser("teacher", help="teacher reasoning traces in the RBD detector format")
    t.add_argument("judged", type=Path, help="judged JSONL from 'collect'")
    t.add_argument("--teacher", required=True,
                   help="reasoning model: litellm model string (e.g. deepseek/deepseek-reasoner) "
                   "or 'local:PATH'")
    t.add_argument("--api-base", default=None, help="API base URL for the teacher")
    t.add_argument("--out", type=Path, default=None, help="traces JSONL (default JUDGED.traces.jsonl)")
    t.add_argument("--max-tokens", type=int, default=4096, help="teacher token budget")
    t.add_argument("--temperature", type=float, default=0.6, help="teacher temperature")
    t.add_argument("--min-trace-chars", type=int, default=40,
                   help="shorter reasoning counts as none (dropped)")
    _add_common(t)
    t.set_defaults(func=teacher_command)

    f = steps.add_parser("finetune", help="LoRA fine-tuning (QLoRA with bitsandbytes on a GPU)")
    f.add_argument("data", type=Path, help="teacher traces JSONL, examples JSONL, or the RBD CSV")
    f.add_argument("--out", type=Path, required=True, help="adapter directory")
    f.add_argument("--config", type=Path, default=None, help="JSON file of TrainConfig fields")
    f.add_argument("--base", dest="base_model", default=None,
                   help="base model: 'smollm2' (default, embedded), a .gguf file, a HF dir or hub id")
    for flag, typ, hint in (
        ("--max-steps", int, "stop after N optimizer steps"),
        ("--lr", float, "learning rate (default 2e-4)"),
        ("--epochs", float, "passes over the data (default 2)"),
        ("--batch-size", int, "examples per micro-batch (default 1)"),
        ("--grad-accum", int, "micro-batches per step (default 8)"),
        ("--max-seq-len", int, "max tokens per example (default 2048)"),
        ("--rank", int, "LoRA rank (default 16)"),
        ("--alpha", float, "LoRA alpha (default 32)"),
        ("--dropout", float, "LoRA dropout (default 0.05)"),
        ("--eval-fraction", float, "held-out share for an eval loss (default 0)"),
        ("--save-every", int, "checkpoint every N steps (default 50)"),
        ("--seed", int, "seed (default 0)"),
    ):
        f.add_argument(flag, type=typ, default=None, help=hint)
    f.add_argument("--target-modules", default=None,
                   help="comma-separated module names, or 'all-linear' (default attention + MLP)")
    f.add_argument("--overflow", choices=("truncate", "drop"), default=None,
                   help="too-long examples: cut the prompt's middle (default) or drop them")
    f.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    f.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default=None)
    f.add_argument("--quantization", choices=("auto", "4bit", "none"), default=None,
                   help="auto: 4-bit QLoRA when bitsandbytes and a GPU are available")
    f.add_argument("--gradient-checkpointing", action="store_true", default=None)
    f.add_argument("--keep-disagreeing", action="store_true", default=None,
                   help="RBD CSV: keep rows whose teacher label disagrees with the gold label")
    f.add_argument("--no-resume", dest="resume", action="store_false", default=None,
                   help="start over instead of resuming from the latest checkpoint")
    _add_common(f, concurrency=False)
    f.set_defaults(func=finetune_command)

    e = steps.add_parser("evaluate", help="accuracy/precision/recall/F1 of a detector adapter")
    e.add_argument("data", type=Path, help="RBD CSV, judged JSONL, traces or examples JSONL")
    e.add_argument("--adapter", type=Path, default=None, help="adapter directory from 'finetune'")
    e.add_argument("--base", default=None, help="base model of the adapter (default: from its card)")
    e.add_argument("--backend", default=None,
                   help="evaluate another detector backend instead: 'local:PATH' or a litellm "
                   "model string (e.g. hosted_vllm/joyfine/RBD-8B)")
    e.add_argument("--api-base", default=None, help="API base URL for a litellm backend")
    e.add_argument("--out", type=Path, default=None, help="per-example JSONL (default DATA.eval.jsonl)")
    e.add_argument("--max-new-tokens", type=int, default=1024, help="generation budget")
    e.add_argument("--batch-size", type=int, default=4, help="prompts per batched generation")
    _add_common(e, concurrency=False)
    e.set_defaults(func=evaluate_command)


# ------------------------------------------------------------------------------ helpers


def _progress(args: argparse.Namespace) -> Any:
    if args.quiet:
        return None
    return lambda m: print(f"debias: {m}", file=sys.stderr, flush=True)


def _default_out(path: Path, kind: str) -> Path:
    stem = path.name.removesuffix(".jsonl").removesuffix(".csv")
    return path.with_name(f"{stem}.{kind}.jsonl")


def _concurrency(args: argparse.Namespace, spec: str | None) -> int:
    if args.concurrency is not None:
        if args.concurrency < 1:
            raise ConfigError(f"--concurrency must be >= 1, got {args.concurrency}")
        return args.concurrency
    return 1 if spec and spec.startswith("local") else 8


def _limit(seq: list[Any], limit: int | None) -> list[Any]:
    if limit is None:
        return seq
    if limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    return seq[:limit]


def _backend(spec: str, args: argparse.Namespace) -> Any:
    from debias.cache import CallCache, default_cache_dir, with_cache
    from detectors.reasoning.backends import reasoning_backend

    backend = reasoning_backend(spec, api_base=args.api_base)
    if args.no_cache:
        return backend
    return with_cache(backend, CallCache((args.cache_dir or default_cache_dir()) / "calls.sqlite"))


def _finish(summary: Any) -> int:
    print(summary.render())
    return 1 if summary.errors else 0


# ----------------------------------------------------------------------------- commands


def construct_command(args: argparse.Namespace) -> int:
    """``debias train construct``."""
    from detectors.training.construct import ConstructConfig, aconstruct, read_clean_items

    if not args.items.exists():
        raise InputError("file not found", source=str(args.items))
    values: dict[str, Any] = {}
    if args.config:
        try:
            values = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read construct config {args.config}: {exc}") from None
    if args.biases:
        values["biases"] = [b.strip() for b in args.biases.split(",") if b.strip()]
    if args.bandwagon_template:
        values["bandwagon_templates"] = args.bandwagon_template
    if args.bandwagon_percent is not None:
        values["bandwagon_percent"] = args.bandwagon_percent
    if args.seed is not None:
        values["seed"] = args.seed
    try:
        config = ConstructConfig(**values)
    except ValueError as exc:
        raise ConfigError(f"invalid construct config: {exc}") from None
    errors: list[InputError] = []
    items = _limit(read_clean_items(args.items, skip_invalid=args.skip_invalid, errors=errors), args.limit)
    for err in errors:
        print(f"debias: skipped invalid record: {err}", file=sys.stderr)
    generator = _backend(args.generator, args) if args.generator else None
    out = args.out or _default_out(args.items, "pairs")
    summary = asyncio.run(aconstruct(items, out, config=config, generator=generator,
                                     concurrency=_concurrency(args, args.generator),
                                     source=str(args.items), progress=not args.quiet))
    return _finish(summary)


def collect_command(args: argparse.Namespace) -> int:
    """``debias train collect``."""
    from debias.cache import CallCache, default_cache_dir, with_cache
    from debias.judges import judges
    from debias.judges.chat import ChatJudge
    from detectors.training.collect import acollect
    from detectors.training.records import BiasPair, read_records

    pairs = _limit([p for _, p in read_records(args.pairs, BiasPair)], args.limit)
    judge = judges.create(args.judge, **({"api_base": args.api_base} if args.api_base else {}))
    if isinstance(judge, ChatJudge) and not args.no_cache:
        judge.backend = with_cache(judge.backend, CallCache((args.cache_dir or default_cache_dir())
                                                            / "calls.sqlite"))
    out = args.out or _default_out(args.pairs, "judged")
    summary = asyncio.run(acollect(pairs, judge, out, concurrency=_concurrency(args, args.judge),
                                   progress=not args.quiet, total=len(pairs)))
    return _finish(summary)


def teacher_command(args: argparse.Namespace) -> int:
    """``debias train teacher``."""
    from debias.judges.base import Sampling
    from detectors.training.records import JudgedPair, read_records
    from detectors.training.teacher import TeacherConfig, ateach

    records = _limit([r for _, r in read_records(args.judged, JudgedPair)], args.limit)
    try:
        config = TeacherConfig(sampling=Sampling(temperature=args.temperature, max_tokens=args.max_tokens),
                               min_trace_chars=args.min_trace_chars)
    except ValueError as exc:
        raise ConfigError(f"invalid teacher settings: {exc}") from None
    backend = _backend(args.teacher, args)
    out = args.out or _default_out(args.judged, "traces")
    summary = asyncio.run(ateach(records, backend, out, config=config,
                                 concurrency=_concurrency(args, args.teacher),
                                 progress=not args.quiet, total=len(records)))
    code = _finish(summary)
    print(f"  teacher traces kept: {summary.written}, dropped: {summary.dropped} "
          f"(see {summary.out.removesuffix('.jsonl')}.dropped.jsonl)")
    return code


FINETUNE_FLAGS = ("base_model", "max_steps", "lr", "epochs", "batch_size", "grad_accum",
                  "max_seq_len", "rank", "alpha", "dropout", "eval_fraction", "save_every", "seed",
                  "overflow", "device", "dtype", "quantization", "gradient_checkpointing",
                  "keep_disagreeing", "resume", "limit")


def finetune_command(args: argparse.Namespace) -> int:
    """``debias train finetune``."""
    from detectors.training.config import TrainConfig, make_config
    from detectors.training.finetune import finetune

    if not args.data.exists():
        raise InputError("file not found", source=str(args.data))
    overrides: dict[str, Any] = {k: getattr(args, k) for k in FINETUNE_FLAGS}
    overrides.update(data=str(args.data), out=str(args.out))
    if args.target_modules:
        overrides["target_modules"] = [m.strip() for m in args.target_modules.split(",")]
    if args.config:
        config = TrainConfig.from_file(args.config, **overrides)
    else:
        config = make_config(**{k: v for k, v in overrides.items() if v is not None})
    report = finetune(config, progress=_progress(args))
    print(report.render())
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """``debias train evaluate``."""
    from debias.judges.base import Sampling
    from detectors.reasoning.backends import reasoning_backend
    from detectors.training.evaluate import adapter_backend, evaluate
    from detectors.training.sources import load_examples

    if (args.adapter is None) == (args.backend is None):
        raise ConfigError("pass exactly one of --adapter PATH or --backend SPEC")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    examples, report = load_examples(args.data, training=False, limit=args.limit)
    say = _progress(args)
    if say:
        say(f"data: {report.used} examples from {report.source} ({report.kind})")
    if args.adapter is not None:
        backend = adapter_backend(args.adapter, base=args.base)
    else:
        backend = reasoning_backend(args.backend, api_base=args.api_base)
    out = args.out or _default_out(args.data, "eval")
    result = evaluate(examples, backend, out,
                      sampling=Sampling(temperature=0.0, max_tokens=args.max_new_tokens),
                      batch_size=args.batch_size, progress=say)
    print(result.render())
    return 1 if result.errors else 0
