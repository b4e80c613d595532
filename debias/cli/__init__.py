"""The ``debias`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``; the module
sets ``func`` on its parser, which receives the parsed args and returns an exit code.
The core's commands are listed here; other packages add theirs through the
``judge_debias.commands`` entry-point group (value: the ``register`` function), as the
built-in detectors' training does (``debias train``).
Exit codes: 0 ok, 1 a gate/check failed, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from debias.errors import DebiasError
from debias.registry import Registry

COMMAND_MODULES = (
    "debias.cli.run",
    "debias.cli.models",
    "debias.cli.audit",
    "debias.cli.bench",
    "debias.cli.serve",
)
#: Sub-commands contributed by other packages (``register`` functions).
commands: Registry[None] = Registry("command", group="judge_debias.commands")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="debias",
        description="Detect and correct bias in LLM-as-a-judge verdicts.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # the command module itself is not part of this build
                continue
            raise
        module.register(sub)
    for name in commands.names():
        commands.get(name)(sub)
    return parser


def _version() -> str:
    from debias import __version__

    return f"judge-debias {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``debias`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DebiasError as exc:
        print(f"debias: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("debias: interrupted (finished items are saved; re-run to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
