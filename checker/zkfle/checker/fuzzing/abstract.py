"""Abstract states: the coarse picture of an ensemble that a fuzz campaign counts and steers towards.

Epoch bugs live in the relations between a server's role and its durable numbers, not in the numbers: a
follower in synchronisation whose currentEpoch is behind its acceptedEpoch, a LOOKING server whose log
holds zxids of an epoch above its currentEpoch. So a server's abstract state is (peer state, Zab phase or
down, currentEpoch vs acceptedEpoch, epoch of the last logged zxid vs currentEpoch), each comparison one of
<, =, >, and the ensemble's abstract state is the sorted tuple of its servers' (server ids are symmetric).
A campaign's coverage is the number of distinct ensemble states its runs visited; a run is "interesting"
when it visits states the campaign had not seen (hypothesis `target()` climbs on that count).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from zkfle.spec import trace as tr
from zkfle.spec.zxid import epoch_of

_DOWN = ("down", "", 0, 0)


def _cmp(a: int, b: int) -> int:
    return (a > b) - (a < b)


class _Server:
    __slots__ = ("accepted", "current", "last_epoch", "phase", "state")

    def __init__(self) -> None:
        self.state, self.phase = "down", ""
        self.current = self.accepted = self.last_epoch = 0

    def key(self) -> tuple[str, str, int, int]:
        if self.state == "down":
            return _DOWN
        return (self.state, self.phase, _cmp(self.current, self.accepted), _cmp(self.last_epoch, self.current))


class AbstractStates:
    """Follows a run's events (`see`) and collects the ensemble states it passes through, as 64-bit
    digests that are the same in every process (Python's `hash` of strings is salted per process)."""

    def __init__(self, sids: Iterable[int]) -> None:
        self._servers = {sid: _Server() for sid in sorted(sids)}
        self.visited: set[int] = set()

    def see(self, event: tr.Event) -> None:
        sid = event.sid
        if sid is None:
            return
        server = self._servers.get(sid)
        if server is None:
            return
        match event:
            case tr.StateChange(state=state, phase=phase):
                server.state, server.phase = state, phase
            case tr.Recovered(current_epoch=current, accepted_epoch=accepted, zxid=zxid):
                server.state, server.phase = "LOOKING", "election"
                server.current, server.accepted, server.last_epoch = current, accepted, epoch_of(zxid)
            case tr.RecoveryFailed():
                server.state, server.phase = "failed", ""
            case tr.Crash():
                server.state, server.phase = "down", ""
            case tr.EpochWrite(file=file, value=value, stage="done"):
                if file == "currentEpoch":
                    server.current = value
                else:
                    server.accepted = value
            case tr.TxnLogged(zxid=zxid) | tr.Truncated(zxid=zxid) | tr.Snapshot(zxid=zxid):
                server.last_epoch = epoch_of(zxid)
            case _:
                return
        picture = repr(sorted(s.key() for s in self._servers.values())).encode()
        self.visited.add(int.from_bytes(hashlib.blake2b(picture, digest_size=8).digest(), "big"))
