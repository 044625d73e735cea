"""Zab's rules that do not depend on a peer's state machine: packets, the new-epoch choice, the sync choice.

* `Packet`: a `QuorumPacket` as the simulator carries it (type, zxid and what the data field holds).
* `EpochChoice`: `Leader.getEpochToPropose` -- new epoch = 1 + the highest acceptedEpoch among the leader
  and the learners that connected before a quorum formed (the `>=` rule of ZOOKEEPER-1343).
* `epoch_ack_more_recent`: the test of `Leader.waitForEpochAck` behind "Follower is ahead of the leader".
* `sync_follower`: `LearnerHandler.syncFollower` + `queueCommittedProposals` over the committed log:
  DIFF, TRUNC or SNAP and the proposals to send (semantics.md §2.5; the txn-log based sync of case 5 is not
  modelled: a learner older than the committed log gets a SNAP).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from zkfle.impl.core.quorum import QuorumVerifier
from zkfle.impl.persistence.records import Txn, TxnHeader
from zkfle.spec.vocabulary import SyncMode
from zkfle.spec.zxid import epoch_of

COMMIT_LOG_COUNT = 500
"""`ZKDatabase.DEFAULT_COMMIT_LOG_COUNT` (`zookeeper.commitLogCount`): proposals kept for DIFF sync."""
PROTOCOL_VERSION = 0x10000
"""`Leader.LEADERINFO` data / `LearnerInfo.protocolVersion`: Zab 1.0."""


class PacketType(enum.Enum):
    """The `Leader` packet constants the simulator exchanges; the value is the trace format's name."""

    FOLLOWERINFO = "FOLLOWERINFO"
    OBSERVERINFO = "OBSERVERINFO"
    LEADERINFO = "LEADERINFO"
    ACKEPOCH = "ACKEPOCH"
    DIFF = "DIFF"
    TRUNC = "TRUNC"
    SNAP = "SNAP"
    NEWLEADER = "NEWLEADER"
    ACK = "ACK"
    UPTODATE = "UPTODATE"
    PROPOSAL = "PROPOSAL"
    COMMIT = "COMMIT"
    INFORM = "INFORM"
    """`Leader.inform`: a committed txn (header and record) for an observer, which sees no PROPOSAL."""


@dataclass(frozen=True, slots=True)
class LoggedTxn:
    """A transaction as `Proposal.packet` carries it: the header (its zxid) and the record.

    `entry`, when known, is `encode_txn_entry(header, txn, None)`: the leader encodes a client write once
    and every server's txn log appends those bytes (a speed-only shortcut; not part of the value)."""

    header: TxnHeader
    txn: Txn | None
    entry: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def zxid(self) -> int:
        return self.header.zxid


@dataclass(frozen=True, slots=True)
class Packet:
    """A `QuorumPacket`. `current_epoch` is ACKEPOCH's data (the learner's currentEpoch or -1), `txn` is a
    PROPOSAL's or an INFORM's record, `snapshot` the serialized DataTree that follows a SNAP on the stream."""

    type: PacketType
    zxid: int
    current_epoch: int = -1
    txn: LoggedTxn | None = None
    snapshot: bytes = b""


@dataclass(slots=True)
class EpochChoice:
    """`Leader.getEpochToPropose` state: `epoch` starts at -1; `connecting` holds the voters seen so far."""

    leader: int
    verifier: QuorumVerifier
    greater_only: bool = False
    """ZOOKEEPER-1343's bug: bump only when `lastAcceptedEpoch > epoch` instead of `>=`."""
    epoch: int = -1
    waiting: bool = True
    connecting: set[int] = field(default_factory=set)

    def offer(self, sid: int, last_accepted_epoch: int) -> bool:
        """One call of getEpochToPropose(sid, lastAcceptedEpoch); True when this call ended the wait (the
        caller then writes acceptedEpoch := epoch). Later calls change nothing."""
        if not self.waiting:
            return False
        bump = last_accepted_epoch > self.epoch if self.greater_only else last_accepted_epoch >= self.epoch
        if bump:
            self.epoch = last_accepted_epoch + 1
        if sid in self.verifier.voting_members():
            self.connecting.add(sid)
        if self.leader in self.connecting and self.verifier.contains_quorum(self.connecting):
            self.waiting = False
            return True
        return False


def epoch_ack_more_recent(current_epoch: int, last_zxid: int, leader_epoch: int, leader_zxid: int) -> bool:
    """`StateSummary.isMoreRecentThan`: a higher currentEpoch, or the same one and a higher last zxid."""
    return current_epoch > leader_epoch or (current_epoch == leader_epoch and last_zxid > leader_zxid)


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What a LearnerHandler sends before NEWLEADER: `mode` (never NONE) with `zxid`, then each of `proposals` as a
    PROPOSAL followed by its COMMIT; `forward_from` is the zxid startForwarding continues after."""

    mode: SyncMode
    zxid: int
    proposals: tuple[LoggedTxn, ...]
    forward_from: int


def sync_follower(peer_last_zxid: int, committed: Sequence[LoggedTxn], last_processed_zxid: int) -> SyncPlan:
    """`LearnerHandler.syncFollower` (forceSnapSync off, txn-log sync not modelled) over `committed`, the
    leader's `ZKDatabase.committedLog` (oldest first)."""
    new_epoch_zxid = (peer_last_zxid & 0xFFFFFFFF) == 0
    if committed:
        min_log, max_log = committed[0].zxid, committed[-1].zxid
    else:
        min_log = max_log = last_processed_zxid
    if last_processed_zxid == peer_last_zxid:
        return SyncPlan(SyncMode.DIFF, peer_last_zxid, (), peer_last_zxid)
    if peer_last_zxid > max_log and not new_epoch_zxid:
        return SyncPlan(SyncMode.TRUNC, max_log, (), max_log)
    if min_log <= peer_last_zxid <= max_log:
        plan = _queue_committed(committed, peer_last_zxid, max_log)
        if plan is not None:
            return plan
    return SyncPlan(SyncMode.SNAP, last_processed_zxid, (), last_processed_zxid)


def _queue_committed(committed: Iterable[LoggedTxn], peer_last_zxid: int, last_committed: int) -> SyncPlan | None:
    """`queueCommittedProposals(itr, peerLastZxid, null, maxCommittedLog)`; None where it gives up (a TRUNC
    across an epoch boundary, or no op packet found: the caller falls back to SNAP)."""
    new_epoch_zxid = (peer_last_zxid & 0xFFFFFFFF) == 0
    queued = peer_last_zxid
    prev = -1
    op: tuple[SyncMode, int] | None = None
    proposals: list[LoggedTxn] = []
    for proposal in committed:
        zxid = proposal.zxid
        if zxid < peer_last_zxid:
            prev = zxid
            continue
        if op is None:
            if zxid == peer_last_zxid:
                op = (SyncMode.DIFF, last_committed)
                continue
            if new_epoch_zxid:
                op = (SyncMode.DIFF, last_committed)
            elif zxid > peer_last_zxid:
                if epoch_of(zxid) != epoch_of(peer_last_zxid):
                    return None  # "Cannot send TRUNC to peer sid: ... peer zxid is from different epoch"
                op = (SyncMode.TRUNC, prev)
        if zxid <= queued:
            continue
        proposals.append(proposal)
        queued = zxid
    if op is None and new_epoch_zxid:
        op = (SyncMode.DIFF, last_committed)
    if op is None:
        return None  # "Unhandled scenario for peer sid: ... fall back to use snapshot"
    return SyncPlan(op[0], op[1], tuple(proposals), queued)
