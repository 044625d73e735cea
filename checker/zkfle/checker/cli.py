"""The `zkfle` command line: one subcommand per module in `zkfle.checker.commands`.

Each command module exposes `register(subparsers)`, which adds its parser and sets `handler`, a function
from the parsed arguments to the exit code. Bad input is reported by the handlers as `UsageError`, printed
as one paragraph without a traceback, exit 2 (cli.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from zkfle.checker.commands import commands
from zkfle.checker.errors import UsageError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zkfle",
        description="ZooKeeper 3.8 start-up, recovery and leader election: reference implementation and checker.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in commands():
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"zkfle {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
