"""The subcommands of `zkfle`, in the order `zkfle --help` lists them.

Each module has `register(subparsers)`: it adds its parser and sets the `handler` default, a function from
the parsed arguments to the exit code.
"""

from __future__ import annotations

from types import ModuleType

from zkfle.checker.commands import datadir, txnlog

COMMANDS: tuple[ModuleType, ...] = (datadir, txnlog)
