"""The one streaming pass: every event through the checks' `pre` handlers, the world's update, then `post`.

Memory is bounded by the ensemble, not the trace: the world keeps per-server summaries, the checks keep
per-server / per-epoch / in-flight summaries, and only the last `RECENT_EVENTS` events are kept (a ring) so
that a violation can show its context. No list of events is ever built.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterable
from typing import Final

from zkfle.checker.verdict.model import Verdict, Violation
from zkfle.checker.verdict.world import Handler, HandlerKey, World
from zkfle.spec.invariants import Invariant
from zkfle.spec.trace import EVENT_TYPES, MESSAGE_TYPES, Event, Recv, Send, TraceHeader
from zkfle.spec.transitions import Node, Step

RECENT_EVENTS: Final = 256
"""How many of the latest events a violation keeps for its report (the causal past is cut from these)."""
MAX_PER_INVARIANT: Final = 20
"""How many violations of one invariant a verdict keeps (all are counted); the first is where it broke."""


class Sink:
    """Where checks report what they find; it records the state of the servers around the event."""

    def __init__(self, world: World, recent: deque[Event]) -> None:
        self._world = world
        self._recent = recent
        self._kept: dict[Invariant, int] = {}
        self.counts: dict[Invariant, int] = {}
        self.found: list[tuple[Invariant, int, int | None, str, tuple[int, ...], str]] = []
        self.completed: list[Violation] = []
        self.moves: dict[tuple[Node, Step, Node], int] = {}
        """Every state-machine move observed (allowed or not) and how often: what `zkfle check --graph` draws."""

    def report(self, invariant: Invariant, seq: int, sid: int | None, message: str, witness: Iterable[int]) -> None:
        """`invariant` became false at `seq` (on server `sid`); `witness` are the other events that show it."""
        count = self.counts.get(invariant, 0)
        self.counts[invariant] = count + 1
        if count >= MAX_PER_INVARIANT:
            return
        before = "" if sid is None else self._world.servers[sid].summary()
        self.found.append((invariant, seq, sid, message, tuple(sorted({seq, *witness})), before))

    def settle(self) -> None:
        """Called after the event's updates: the violations found during it get their after-state."""
        for invariant, seq, sid, message, witness, before in self.found:
            after = "" if sid is None else self._world.servers[sid].summary()
            recent = tuple(self._recent)
            self.completed.append(Violation(invariant, seq, sid, message, witness, before, after, recent))
        self.found.clear()


class Check:
    """One invariant (or a family sharing state): handlers per event class (or per (Send | Recv, message
    class)), before and after the world's update, and `finish` at the end of the trace. A check overrides
    only the hooks it needs; the defaults do nothing."""

    def __init__(self, world: World, sink: Sink) -> None:
        self._world, self._sink = world, sink

    def pre(self) -> dict[HandlerKey, Handler]:
        return {}

    def post(self) -> dict[HandlerKey, Handler]:
        return {}

    def finish(self, events: int) -> None:
        """Called once after the last event (for invariants judged over the whole run)."""


class Replay:
    """Feed a trace's events (`feed_all`, as often as wanted), then `verdict()`."""

    def __init__(self, header: TraceHeader, checks: Iterable[Check] | None = None) -> None:
        from zkfle.checker.verdict.catalog import all_checks

        self.world = World(header)
        self._recent: deque[Event] = deque(maxlen=RECENT_EVENTS)
        self.sink = Sink(self.world, self._recent)
        self._checks = list(all_checks(self.world, self.sink) if checks is None else checks)
        updates: dict[HandlerKey, Handler] = dict(self.world.handlers())
        pres = [c.pre() for c in self._checks]
        posts = [c.post() for c in self._checks]

        def chain(*keys: HandlerKey) -> list[Handler]:
            found = [p[k] for p in pres for k in keys if k in p]
            found += [updates[k] for k in keys if k in updates]
            return found + [p[k] for p in posts for k in keys if k in p]

        self._table = {cls: chain(cls) for cls in EVENT_TYPES.values() if cls not in (Send, Recv)}
        self._sends = {msg: chain(Send, (Send, msg)) for msg in MESSAGE_TYPES.values()}
        self._recvs = {msg: chain(Recv, (Recv, msg)) for msg in MESSAGE_TYPES.values()}
        self._events = 0

    def feed_all(self, events: Iterable[Event]) -> None:
        """Feed every event: the handlers of its class (of its class and message type for send / recv).

        The cyclic garbage collector is paused meanwhile (and restored after): the pass allocates millions of
        short-lived objects (events, ballots, tuples) that reference counting frees, as none is in a cycle
        (a `gc.collect()` after a million-event check finds nothing), and the collector's passes over them
        cost about a tenth of the check (docs/performance.md)."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._feed(events)
        finally:
            if collecting:
                gc.enable()

    def _feed(self, events: Iterable[Event]) -> None:
        table, sends, recvs, sink = self._table, self._sends, self._recvs, self.sink
        append, found = self._recent.append, sink.found
        count = 0
        for count, event in enumerate(events, 1):  # noqa: B007 (count is read after the loop)
            append(event)
            kind = type(event)
            if kind is Send:  # a send or a recv: dispatched on the message type too
                chain = sends[type(event.msg)]  # type: ignore[union-attr]
            elif kind is Recv:
                chain = recvs[type(event.msg)]  # type: ignore[union-attr]
            else:
                chain = table[kind]
            for handler in chain:
                handler(event)
            if found:
                sink.settle()
        self._events += count

    def verdict(self) -> Verdict:
        """Finish every check and collect the violations in seq order."""
        for check in self._checks:
            check.finish(self._events)
        self.sink.settle()
        violations = tuple(sorted(self.sink.completed, key=lambda v: (v.seq, v.invariant.value)))
        counts = tuple(sorted(self.sink.counts.items(), key=lambda item: item[0].value))
        moves = tuple(
            sorted(
                ((a, step, b, n) for (a, step, b), n in self.sink.moves.items()),
                key=lambda m: (str(m[0]), m[1].value, str(m[2])),
            )
        )
        return Verdict(self._events, violations, counts, moves)


def check_events(header: TraceHeader, events: Iterable[Event]) -> Verdict:
    """Check a whole trace given as its header and an iterable of its events (streamed, never stored)."""
    replay = Replay(header)
    replay.feed_all(events)
    return replay.verdict()
