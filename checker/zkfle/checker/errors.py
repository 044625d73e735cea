"""Errors of the command line (design.md, Errors): bad input is a value, never a traceback."""


class UsageError(Exception):
    """Bad input or usage: the CLI prints `zkfle COMMAND: <message>` and exits 2."""
