"""The per-server state machine of a trace: process life cycle × (QuorumPeer state, Zab phase), as a table.

A server is `DOWN` (never started, or crashed), `STARTING` (booted, `loadDataBase` running), `FAILED`
(`loadDataBase` refused: "Unable to load database on disk", the process exits), or up in one of the pairs
(`QuorumPeer.ServerState`, `QuorumPeer.ZabState`) that `QuorumPeer.run` goes through:

* `QuorumPeer.start` -> `startLeaderElection` puts a recovered server into LOOKING / election.
* `lookForLeader` returns into FOLLOWING, LEADING or OBSERVING (`setPeerState`), and `Follower.followLeader`,
  `Leader.lead`, `Observer.observeLeader` then set the Zab phase to discovery, synchronization, broadcast in
  that order (`QuorumPeer.setZabState`); the phase may still read `election` just after the state changed.
* Whatever ends leading or following (an exception, a lost quorum, `shutdown`) returns to LOOKING / election
  (`QuorumPeer.run`'s `finally` blocks: `setPeerState(LOOKING)`, which also resets the Zab phase).
* A crash from any node goes to DOWN; only `boot` leaves DOWN or FAILED.

`TRANSITIONS` is the table; the checker checks every observed move against it and `zkfle.checker.graphs`
draws it. A `state` event that repeats the node it is in is not a move.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from zkfle.spec.vocabulary import ServerState, ZabPhase


class Life(enum.Enum):
    """The process part of a node: what `QuorumPeerMain` is doing."""

    DOWN = "DOWN"
    STARTING = "STARTING"
    FAILED = "FAILED"
    UP = "UP"


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the machine; `state` and `phase` are set exactly when `life` is UP."""

    life: Life
    state: ServerState | None = None
    phase: ZabPhase | None = None

    def __post_init__(self) -> None:
        assert (self.life == Life.UP) == (self.state is not None) == (self.phase is not None)

    def __str__(self) -> str:
        if self.state is None or self.phase is None:
            return self.life.value
        return f"{self.state.name}/{self.phase.name.lower()}"


class Step(enum.Enum):
    """What moves a server: the trace event kinds that change the node."""

    BOOT = "boot"
    RECOVERED = "recovered"
    RECOVERY_FAILED = "recovery_failed"
    CRASH = "crash"
    STATE = "state"


DOWN: Final = Node(Life.DOWN)
STARTING: Final = Node(Life.STARTING)
FAILED: Final = Node(Life.FAILED)
LOOKING: Final = Node(Life.UP, ServerState.LOOKING, ZabPhase.ELECTION)
"""Where `startLeaderElection` and every fall-back of `QuorumPeer.run` put a server."""

_DECIDED: Final = (ServerState.FOLLOWING, ServerState.LEADING, ServerState.OBSERVING)
_ZAB_PHASES: Final = (ZabPhase.DISCOVERY, ZabPhase.SYNCHRONIZATION, ZabPhase.BROADCAST)


def _table() -> frozenset[tuple[Node, Step, Node]]:
    rows: set[tuple[Node, Step, Node]] = {
        (DOWN, Step.BOOT, STARTING),
        (FAILED, Step.BOOT, STARTING),
        (STARTING, Step.RECOVERED, LOOKING),
        (STARTING, Step.RECOVERY_FAILED, FAILED),
    }
    for state in _DECIDED:
        just_decided = Node(Life.UP, state, ZabPhase.ELECTION)
        rows |= {(LOOKING, Step.STATE, just_decided), (just_decided, Step.STATE, LOOKING)}
        previous = just_decided
        for phase in _ZAB_PHASES:
            node = Node(Life.UP, state, phase)
            rows |= {(previous, Step.STATE, node), (node, Step.STATE, LOOKING)}
            if previous == just_decided:
                rows.add((LOOKING, Step.STATE, node))
            previous = node
    up_nodes = {source for source, _, _ in rows if source.life == Life.UP} | {LOOKING}
    for node in up_nodes | {STARTING, FAILED}:
        rows.add((node, Step.CRASH, DOWN))
    return frozenset(rows)


TRANSITIONS: Final = _table()
"""Every allowed move (from, step, to)."""

NODES: Final = tuple(sorted({n for source, _, target in TRANSITIONS for n in (source, target)}, key=str))
"""Every node of the machine, in a fixed order."""

_NEXT: Final = {(source, step): target for source, step, target in TRANSITIONS if step != Step.STATE}
_STATE_MOVES: Final = frozenset((source, target) for source, step, target in TRANSITIONS if step == Step.STATE)


def after(node: Node, step: Step, target: Node | None = None) -> Node | None:
    """The node after `step` from `node` (for STATE, `target` is the node the event names), or None when
    the table does not allow the move. A STATE event naming the current node is no move and is allowed."""
    if step == Step.STATE:
        assert target is not None
        return target if target == node or (node, target) in _STATE_MOVES else None
    return _NEXT.get((node, step))
