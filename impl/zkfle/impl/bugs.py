"""Named switches for the places where ZooKeeper 3.8.0 differs from the corrected protocol.

zkfle's default behaviour is the correct one: what ZooKeeper's master does after the fixes of
ZOOKEEPER-4643, 4646, 4685 and 4712 (semantics.md §9). Each `Bug` member turns one of those fixes off
again, at exactly one place in `zkfle.impl.core.peer`; `ZOOKEEPER_3_8_0` is the set that the 3.8.0
release contains, so `--as zookeeper-3.8.0` (or `--inject` of each member) reproduces 3.8.0's order of
disk writes and messages. A later issue completes this catalog (the FLE switches of `FleOptions`, the
recovery switches of `LoadOptions`); the names here are the public ones (`zkfle simulate --inject`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final


class Bug(enum.Enum):
    """One switch; the value is the name users type (`--inject ZK_4643`)."""

    ZK_4643 = "ZK_4643"
    """Learner.syncWithLeader at NEWLEADER writes currentEpoch := E before the DIFF txns are logged, so a
    crash leaves peerEpoch E over a short log (ZOOKEEPER-4643; 3.8.0 order: snapshot -> currentEpoch -> log)."""
    ZK_4646 = "ZK_4646"
    """The DIFF txns queued during sync are handed to the asynchronous SyncRequestProcessor at NEWLEADER and
    the NEWLEADER ACK goes out before they are fsynced (ZOOKEEPER-4646; fixed: append + commit, then ACK)."""
    ZK_4685 = "ZK_4685"
    """Proposal ACKs of the sync phase may leave before the NEWLEADER ACK; the leader reads the first ACK as
    the NEWLEADER ACK and ignores it ("NEWLEADER ACK from sid: ... is from a different epoch", ZOOKEEPER-4685)."""
    ZK_4712 = "ZK_4712"
    """Learner.shutdown reaches ZooKeeperServer.shutdown(boolean) directly: the follower's SyncRequestProcessor
    is not stopped and keeps logging old-epoch txns after the peer went back to LOOKING (ZOOKEEPER-4712)."""
    ZK_1343 = "ZK_1343"
    """Leader.getEpochToPropose with `>` instead of `>=`: a learner whose acceptedEpoch equals the epoch chosen
    so far does not bump it (fixed long before 3.8; ZOOKEEPER-1343, Zab1_0Test.testLastAcceptedEpoch)."""


ZOOKEEPER_3_8_0: Final = frozenset({Bug.ZK_4643, Bug.ZK_4646, Bug.ZK_4685, Bug.ZK_4712})
"""The switches whose bug the 3.8.0 release contains (semantics.md §9: "buggy in 3.8.0")."""

PROFILES: Final[dict[str, frozenset[Bug]]] = {"fixed": frozenset(), "zookeeper-3.8.0": ZOOKEEPER_3_8_0}
"""`--as NAME`: named sets of switches."""


class UnknownBugError(ValueError):
    """A switch name that is not in the catalog; the message lists the known ones."""


def parse_bugs(names: Iterable[str]) -> frozenset[Bug]:
    """The switches named (member names, case-insensitive); `UnknownBugError` for any other name."""
    known = {b.value.upper(): b for b in Bug}
    chosen: set[Bug] = set()
    for name in names:
        bug = known.get(name.strip().upper().replace("-", "_"))
        if bug is None:
            raise UnknownBugError(f"unknown bug {name!r}; known: {', '.join(b.value for b in Bug)}")
        chosen.add(bug)
    return frozenset(chosen)
