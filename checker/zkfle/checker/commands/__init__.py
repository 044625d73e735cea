"""The subcommands of `zkfle`: every module of this package is one command.

Each module has `register(subparsers)`: it adds its parser and sets the `handler` default, a function from
the parsed arguments to the exit code. Modules are found by name, so adding a command is adding a module.
Every module is imported to build the parser, so a command imports its heavy dependencies (z3, networkx,
the simulator) inside its handler: `zkfle datadir` must not pay for z3.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

ORDER = ("demo", "datadir", "txnlog", "quorum", "simulate", "check", "prove", "fuzz", "bugs")
"""The order of `zkfle --help`: the main job first, then as cli.md lists them; others follow by name."""


def commands() -> list[ModuleType]:
    names = sorted(
        (m.name for m in pkgutil.iter_modules(__path__)),
        key=lambda n: (n not in ORDER, ORDER.index(n) if n in ORDER else 0, n),
    )
    return [importlib.import_module(f"{__name__}.{name}") for name in names]
