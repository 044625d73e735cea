"""Closed vocabularies of ZooKeeper's quorum code: server states, Zab phases, sync modes, learner types, votes.

Ordinals matter: `ServerState` is sent on the wire by its ordinal (FastLeaderElection.buildMsg), so the
enum values below are ZooKeeper's ordinals (`QuorumPeer.ServerState`, `ZabState`, `SyncMode`, `LearnerType`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from zkfle.spec.zxid import Epoch, ServerId, Zxid, java_hex


class ServerState(enum.IntEnum):
    """`QuorumPeer.ServerState`; the value is the wire ordinal."""

    LOOKING = 0
    FOLLOWING = 1
    LEADING = 2
    OBSERVING = 3


class ZabPhase(enum.IntEnum):
    """`QuorumPeer.ZabState`; written in traces in lower case (`election`, `discovery`, ...)."""

    ELECTION = 0
    DISCOVERY = 1
    SYNCHRONIZATION = 2
    BROADCAST = 3


class SyncMode(enum.IntEnum):
    """`QuorumPeer.SyncMode`: how a learner was brought up to date by its leader."""

    NONE = 0
    DIFF = 1
    SNAP = 2
    TRUNC = 3


class LearnerType(enum.IntEnum):
    """`QuorumPeer.LearnerType`: voting participant or non-voting observer."""

    PARTICIPANT = 0
    OBSERVER = 1


@dataclass(frozen=True, slots=True)
class Vote:
    """The part of `Vote.java` that orders candidates: (leader id, zxid, peerEpoch).

    `Vote.toString()` prints "(id, hexzxid, hexpeerEpoch)"; `str()` does the same.
    """

    leader: ServerId
    zxid: Zxid
    peer_epoch: Epoch

    def __str__(self) -> str:
        return f"({self.leader}, {java_hex(self.zxid)}, {java_hex(self.peer_epoch)})"
