"""The verdict: streams a trace through the invariant catalog. Imports `zkfle.spec` only, never `zkfle.impl`
(design.md), so the implementation can never be its own judge."""

from __future__ import annotations

import os

from zkfle.checker.reader import open_trace
from zkfle.checker.verdict.model import Verdict, Violation
from zkfle.checker.verdict.replay import Replay, check_events

__all__ = ["Replay", "Verdict", "Violation", "check_events", "check_file"]


def check_file(path: str | os.PathLike[str], *, skip_unknown: bool = False) -> Verdict:
    """Check one trace file; raises `reader.TraceError` (with line and column) for bad input."""
    with open_trace(path, skip_unknown_kinds=skip_unknown) as reader:
        replay = Replay(reader.header)
        replay.feed_all(reader)
        return replay.verdict()
