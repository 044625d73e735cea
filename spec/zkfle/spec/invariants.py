"""The closed set of invariant ids a verdict can name (trace format v1, docs/trace-format.md).

Each violation the checker reports names one of these, the `seq` where it became false and the events that
witness it. The value is the id as written in reports; `holds_when` is the one-sentence statement. The checks
themselves live with the checker; Zab's property names (Leadership, Integrity, ...) follow the Zab paper and
ZooKeeper's TLA+ specs (`zookeeper-specifications/`, semantics.md §7).
"""

from __future__ import annotations

import enum


class Invariant(enum.Enum):
    """An invariant id; `holds_when` says what must be true for it to hold."""

    EPOCH_ORDER = "EPOCH_ORDER"
    EPOCH_COVERS_LOG = "EPOCH_COVERS_LOG"
    RECOVERY_FAITHFUL = "RECOVERY_FAITHFUL"
    ONE_LEADER_PER_EPOCH = "ONE_LEADER_PER_EPOCH"
    NEW_EPOCH_IS_FRESH = "NEW_EPOCH_IS_FRESH"
    ROUND_MONOTONIC = "ROUND_MONOTONIC"
    VOTE_MONOTONIC = "VOTE_MONOTONIC"
    FLE_CONFORMS = "FLE_CONFORMS"
    DECISION_QUORUM = "DECISION_QUORUM"
    LEADER_HAS_MAX_HISTORY = "LEADER_HAS_MAX_HISTORY"
    MSG_INTEGRITY = "MSG_INTEGRITY"
    CRASH_SILENCE = "CRASH_SILENCE"
    TXN_EPOCH = "TXN_EPOCH"
    COMMITTED_DURABLE = "COMMITTED_DURABLE"
    ZAB_ACK_ORDER = "ZAB_ACK_ORDER"

    @property
    def holds_when(self) -> str:
        return _HOLDS_WHEN[self]


_HOLDS_WHEN: dict[Invariant, str] = {
    Invariant.EPOCH_ORDER: (
        "on every server's disk, at all times, acceptedEpoch >= currentEpoch "
        "(QuorumPeer.loadDataBase refuses to start otherwise)"
    ),
    Invariant.EPOCH_COVERS_LOG: (
        "on every server's disk, at all times, currentEpoch >= the epoch of the last durable zxid"
    ),
    Invariant.RECOVERY_FAITHFUL: (
        "a recovered/recovery_failed event reports exactly what QuorumPeer.loadDataBase gives for the durable "
        "state left by the earlier incarnations"
    ),
    Invariant.ONE_LEADER_PER_EPOCH: "at most one server is established for any epoch (Zab's Leadership)",
    Invariant.NEW_EPOCH_IS_FRESH: (
        "an epoch a leader proposes is greater than the acceptedEpoch of every server in its FOLLOWERINFO quorum, "
        "and a quorum acknowledged it (ACKEPOCH) before the leader writes it as its currentEpoch"
    ),
    Invariant.ROUND_MONOTONIC: "within one incarnation a server's election round never decreases",
    Invariant.VOTE_MONOTONIC: (
        "within one round a server's proposals only grow in the total order (peer_epoch, zxid, leader)"
    ),
    Invariant.FLE_CONFORMS: (
        "a server's proposal, send and decide events follow from the notifications it received by the rules of "
        "FastLeaderElection; a decide comes only after a quorum agreed and no better vote arrived in between"
    ),
    Invariant.DECISION_QUORUM: "every decide is backed by a quorum of matching votes the server had received",
    Invariant.LEADER_HAS_MAX_HISTORY: (
        "an elected leader's vote is at least the initial vote of every server that voted for it"
    ),
    Invariant.MSG_INTEGRITY: (
        "every recv matches an earlier send (same mid, ends and content), at most once, in order per connection"
    ),
    Invariant.CRASH_SILENCE: "a crashed server has no events until its next boot",
    Invariant.TXN_EPOCH: (
        "a server's durable zxids grow strictly (except across truncated, and a learner's re-sync logging again "
        "what lies above its ACKEPOCH zxid), a leader logs only zxids of the epoch it leads, and a server logs "
        "nothing between leaving its epoch and entering the next"
    ),
    Invariant.COMMITTED_DURABLE: (
        "every zxid committed by a quorum is in the durable history of every leader established after it"
    ),
    Invariant.ZAB_ACK_ORDER: (
        "a learner's first ACK to a leader after that leader's NEWLEADER acknowledges NEWLEADER (its zxid)"
    ),
}
"""The statement of each invariant, as in the contract's table."""
