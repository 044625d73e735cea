"""CRASH_SILENCE and the per-server state machine (`spec.transitions`).

Which invariant an impossible move breaks: a move of the process life cycle (`boot`, `recovered`,
`recovery_failed`, `crash` where the table does not allow it, e.g. a second `boot` while the server runs or
a `recovered` twice) is filed under CRASH_SILENCE, the invariant about incarnations; a `state` event the
table does not allow (e.g. FOLLOWING/discovery straight to FOLLOWING/broadcast, or LEADING -> FOLLOWING
without passing LOOKING) is filed under FLE_CONFORMS, since the peer state is what `lookForLeader` and
`QuorumPeer.run` drive. docs/invariants.md repeats this.
"""

from __future__ import annotations

from zkfle.checker.verdict.replay import Check, Sink
from zkfle.checker.verdict.world import Handler, HandlerKey, World, up_node
from zkfle.spec import transitions
from zkfle.spec.invariants import Invariant
from zkfle.spec.trace import (
    EVENT_TYPES,
    Boot,
    Crash,
    Event,
    Recovered,
    RecoveryFailed,
    StateChange,
)

_MOVES = {
    Boot: transitions.Step.BOOT,
    Recovered: transitions.Step.RECOVERED,
    RecoveryFailed: transitions.Step.RECOVERY_FAILED,
    Crash: transitions.Step.CRASH,
}

_TARGETS = {
    transitions.Step.BOOT: transitions.STARTING,
    transitions.Step.RECOVERED: transitions.LOOKING,
    transitions.Step.RECOVERY_FAILED: transitions.FAILED,
    transitions.Step.CRASH: transitions.DOWN,
}
"""Where each life-cycle event leads, whatever node it comes from (the trace is followed as written)."""


class CrashSilence(Check):
    """CRASH_SILENCE: a crashed server has no events until its next `boot`.

    A crash kills the JVM: no thread of the old incarnation can log, send or write afterwards, and the next
    events come from a new `QuorumPeerMain.main` (ZkV3_7_0.tla `NodeCrash` disables every action of the
    server until `NodeStart`). A server that never booted is down in the same sense. Also checks the life
    cycle and the peer-state moves against `spec.transitions` (see the module docstring for the ids).
    """

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._alive: set[int] = set()
        """The servers booted and not crashed since (the hot test of every event)."""

    def _count(self, source: transitions.Node, step: transitions.Step, target: transitions.Node) -> None:
        moves = self._sink.moves
        key = (source, step, target)
        moves[key] = moves.get(key, 0) + 1

    def pre(self) -> dict[HandlerKey, Handler]:
        handlers: dict[HandlerKey, Handler] = {
            cls: self._silent for cls in EVENT_TYPES.values() if cls not in _MOVES and cls is not StateChange
        }
        handlers.update({cls: self._move for cls in _MOVES})
        handlers[StateChange] = self._state
        return handlers

    def _silent(self, ev: Event) -> None:
        sid = ev.sid
        if sid not in self._alive and sid is not None:
            self._down(ev, sid)

    def _down(self, ev: Event, sid: int) -> None:
        what = "never booted" if self._world.servers[sid].incarnation == 0 else "crashed"
        self._sink.report(
            Invariant.CRASH_SILENCE, ev.seq, sid, f"server {sid} {what} but has a {ev.__struct_config__.tag} event", ()
        )

    def _move(self, ev: Boot | Recovered | RecoveryFailed | Crash) -> None:
        node = self._world.servers[ev.sid].node
        step = _MOVES[type(ev)]
        self._count(node, step, _TARGETS[step])
        if node == transitions.DOWN and type(ev) is not Boot:
            self._down(ev, ev.sid)
        elif transitions.after(node, step) is None:
            kind = ev.__struct_config__.tag
            self._sink.report(
                Invariant.CRASH_SILENCE, ev.seq, ev.sid, f"server {ev.sid}: no {kind} is possible in {node}", ()
            )
        if step == transitions.Step.BOOT:
            self._alive.add(ev.sid)
        elif step == transitions.Step.CRASH:
            self._alive.discard(ev.sid)

    def _state(self, ev: StateChange) -> None:
        node = self._world.servers[ev.sid].node
        if node == transitions.DOWN:
            self._down(ev, ev.sid)
            return
        target = up_node(ev.state, ev.phase)
        if target != node:
            self._count(node, transitions.Step.STATE, target)
        if transitions.after(node, transitions.Step.STATE, target) is None:
            self._sink.report(
                Invariant.FLE_CONFORMS,
                ev.seq,
                ev.sid,
                f"server {ev.sid}: {node} -> {target} is not a move of QuorumPeer's state machine",
                (),
            )
