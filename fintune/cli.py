"""The ``fintune`` command. Each package adds its own subcommands through ``register(subparsers)``.

Heavy libraries are imported inside the command functions, so ``fintune --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fintune.errors import FinTuneError
from fintune.quiet import quiet_libraries

# Packages that contribute subcommands, in help order.
_COMMAND_MODULES = ("fintune.commands", "advisor.cli", "rag.cli", "trainer.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fintune",
        description="Decide between RAG and fine-tuning for a finance LLM, then do it.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FinTuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
