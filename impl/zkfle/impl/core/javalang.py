"""The few `java.lang` behaviours ZooKeeper's parsing relies on, written once for config, wire and epoch files.

`Long.parseLong`/`Integer.parseInt` accept an optional sign and digits as `Character.digit` knows them (any
Unicode decimal digit, plus a-f/A-F for radix 16) and nothing else: no whitespace, no underscores, unlike
Python's `int()`. `String.split` with a literal separator drops trailing empty strings.
"""

from __future__ import annotations

import unicodedata

INT_BITS = 32
LONG_BITS = 64


def parse_long(text: str, *, bits: int = LONG_BITS, radix: int = 10) -> int | None:
    """`Long.parseLong(text, radix)` (`bits=32`: `Integer.parseInt`); None where Java throws NumberFormatException."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits:
        return None
    value = 0
    for char in digits:
        if unicodedata.category(char) == "Nd":
            digit = unicodedata.decimal(char)
        elif radix == 16 and char in "abcdefABCDEF":
            digit = int(char, 16)
        else:
            return None
        value = value * radix + digit
    if text.startswith("-"):
        value = -value
    return value if -(1 << (bits - 1)) <= value < 1 << (bits - 1) else None


def java_split(text: str, sep: str) -> list[str]:
    """`String.split(sep)` for a literal separator: trailing empty strings removed; no match gives [text]."""
    if sep not in text:
        return [text]
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


class HostPortError(ValueError):
    """`ConfigUtils.getHostAndPort`'s ConfigException; `message` is ZooKeeper's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def host_and_port(text: str) -> list[str]:
    """`ConfigUtils.getHostAndPort`: `[v6]:a:b` keeps the bracketed host whole; otherwise split on `:`."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise HostPortError(text + " starts with '[' but has no matching ']:'")
        if close + 2 == len(text):
            raise HostPortError(text + " doesn't have a port after colon")
        if close + 2 < len(text):
            return [text[1:close], *java_split(text[close + 2 :], ":")]
        return [text.replace("[", "").replace("]", "")]
    return java_split(text, ":")
