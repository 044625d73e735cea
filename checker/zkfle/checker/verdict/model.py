"""The values the verdict produces: violations and the result of checking one trace."""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.spec.invariants import Invariant
from zkfle.spec.trace import Event
from zkfle.spec.transitions import Node, Step


@dataclass(frozen=True, slots=True)
class Violation:
    """One invariant found false: where (`seq`, the event that made it false, and its server `sid`), why
    (`message`), and the events that witness it (`witness`, seqs in increasing order, `seq` among them).

    `before` / `after` describe the server's tracked state around the event; `recent` holds the last events
    before the violation (a bounded window) from which reports cut the causal past."""

    invariant: Invariant
    seq: int
    sid: int | None
    message: str
    witness: tuple[int, ...]
    before: str
    after: str
    recent: tuple[Event, ...]

    def to_json(self) -> dict[str, object]:
        """An entry of `violations` in `zkfle check --format json` (cli.md)."""
        return {
            "invariant": self.invariant.value,
            "seq": self.seq,
            "sid": self.sid,
            "message": self.message,
            "witness": list(self.witness),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What checking one trace's events gave: the number of events, the violations kept (the first
    `MAX_PER_INVARIANT` of each invariant, in seq order) and how many there were of each in all."""

    events: int
    violations: tuple[Violation, ...]
    counts: tuple[tuple[Invariant, int], ...]
    moves: tuple[tuple[Node, Step, Node, int], ...] = ()
    """The state-machine moves the trace made (from, step, to, how often), allowed or not."""

    @property
    def ok(self) -> bool:
        return not self.violations
