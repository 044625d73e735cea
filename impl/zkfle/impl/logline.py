"""A log line ZooKeeper would print: level and text, in the words of semantics.md §10.

The pure persistence code cannot log (no `logging` in impl.persistence); it returns these instead, so
`zkfle datadir` can show them. Durations are printed as 0 ms: the pure code has no clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.Enum):
    """The SLF4J levels ZooKeeper uses here."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line: `level` and the message text (no timestamp, thread or class)."""

    level: Level
    text: str

    def __str__(self) -> str:
        return f"{self.level.value:<5} {self.text}"
