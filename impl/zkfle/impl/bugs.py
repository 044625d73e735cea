"""The bug catalog: one named switch per known ZooKeeper election / epoch / recovery bug (`zkfle bugs`).

zkfle's default behaviour is the corrected protocol: what ZooKeeper's master does after the fixes listed
here (semantics.md §9), plus the branch-3.4 fix of ZOOKEEPER-1653 that 3.5+ never merged. Each `Bug`
member turns one fix off again, restoring ZooKeeper's code path before it, at the place in impl its entry
names (`where`). `ZOOKEEPER_3_8_0` is the set the 3.8.0 release contains, so `--as zookeeper-3.8.0` gives
3.8.0's order of disk writes and messages. Every entry names the invariant of `zkfle check` that catches
it, which is what `zkfle fuzz --inject BUG` hunts for.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from zkfle.impl.core.fle import FleOptions
from zkfle.spec.invariants import Invariant


class Bug(enum.Enum):
    """One switch; the value is the name users type (`--inject ZK_4643`)."""

    ZK_1419 = "ZK_1419"
    ZK_1514 = "ZK_1514"
    ZK_1732 = "ZK_1732"
    ZK_261 = "ZK_261"
    ZK_975 = "ZK_975"
    ZK_1343 = "ZK_1343"
    ZK_1191 = "ZK_1191"
    ZK_1282 = "ZK_1282"
    ZK_2307 = "ZK_2307"
    ZK_4269 = "ZK_4269"
    ZK_1653 = "ZK_1653"
    ZK_2355 = "ZK_2355"
    ZK_3642 = "ZK_3642"
    ZK_3911 = "ZK_3911"
    ZK_4394 = "ZK_4394"
    ZK_4643 = "ZK_4643"
    ZK_4646 = "ZK_4646"
    ZK_4685 = "ZK_4685"
    ZK_4712 = "ZK_4712"

    @property
    def info(self) -> BugInfo:
        return CATALOG[self]


@dataclass(frozen=True, slots=True)
class BugInfo:
    """What `zkfle bugs` prints for one switch."""

    jira: str
    """ZooKeeper's issue ids, e.g. "ZOOKEEPER-1191/1192"."""
    scenario: str
    """What goes wrong when the fix is off."""
    invariant: Invariant
    """The invariant of `zkfle check` that a run hitting the bug violates."""
    fix: str
    """What the fix does and where it lives in ZooKeeper."""
    where: str
    """The place in zkfle's impl that the switch changes."""
    in_3_8_0: bool
    """Whether the ZooKeeper 3.8.0 release has the bug (`--as zookeeper-3.8.0`)."""
    requires: tuple[Bug, ...] = ()
    """Switches that the code before this fix also lacked and without which the bug cannot happen in zkfle;
    `parse_bugs` turns them on with it."""


CATALOG: Final[dict[Bug, BugInfo]] = {
    Bug.ZK_1419: BugInfo(
        "ZOOKEEPER-1419",
        "totalOrderPredicate applies the server-id tie-break even when the epochs differ: the vote order is not "
        "transitive, a server moves to a vote that is lower in (peerEpoch, zxid, sid) and elections may not settle",
        Invariant.VOTE_MONOTONIC,
        "the id clause only when epochs and zxids are equal (FastLeaderElection.totalOrderPredicate)",
        "impl.core.fle.FastLeaderElection.total_order_predicate",
        in_3_8_0=False,
    ),
    Bug.ZK_1514: BugInfo(
        "ZOOKEEPER-1514",
        "checkLeader accepts the server itself as leader without logicalclock == electionEpoch: a quorum of "
        "FOLLOWING votes from an older round makes it declare itself leader",
        Invariant.FLE_CONFORMS,
        "when the proposed leader is this server, require the current round (FastLeaderElection.checkLeader)",
        "impl.core.fle.FastLeaderElection.check_leader",
        in_3_8_0=False,
    ),
    Bug.ZK_1732: BugInfo(
        "ZOOKEEPER-1732/1805/1818",
        "Vote.equals compares zxid, round and peerEpoch also for FOLLOWING/LEADING votes: members of a running "
        "ensemble that joined at different times report different values and a joining server never sees a "
        "quorum of equal votes",
        Invariant.FLE_CONFORMS,
        "compare only the leader id (and peerEpoch) for votes of non-LOOKING servers (Vote.equals)",
        "impl.core.fle.vote_equals (FastLeaderElection.has_all_quorums)",
        in_3_8_0=False,
    ),
    Bug.ZK_261: BugInfo(
        "ZOOKEEPER-261",
        "a server whose database is empty (zxid -1: a wiped data dir with zookeeper.db.autocreate=false) takes "
        "part in the election: it adopts and spreads votes, and its vote counts towards the quorum that elects a "
        "leader, which may lack what the server held before it lost its data",
        Invariant.FLE_CONFORMS,
        "ignore LOOKING notifications when the own or the sender's zxid is -1 (FastLeaderElection.lookForLeader)",
        "impl.core.fle.FastLeaderElection._looking_notification",
        in_3_8_0=False,
    ),
    Bug.ZK_975: BugInfo(
        "ZOOKEEPER-975",
        "a restarted server with the highest id and zxid goes LEADING although an ensemble with a leader is running: "
        "it is sent the others' last LOOKING notifications again (lastMessageSent), holds a vote from every voter and "
        "decides for its own proposal that no quorum backs",
        Invariant.FLE_CONFORMS,
        "remove 3.3's 'received from all nodes, then terminate' shortcut: decide only for a quorum after the finalize "
        "wait (FastLeaderElection.lookForLeader)",
        "impl.core.fle.FastLeaderElection._looking_notification",
        in_3_8_0=False,
    ),
    Bug.ZK_1343: BugInfo(
        "ZOOKEEPER-1343",
        "getEpochToPropose with `>` instead of `>=`: a learner whose acceptedEpoch equals the epoch chosen so far "
        "does not raise it, so the new epoch is not above that learner's acceptedEpoch",
        Invariant.NEW_EPOCH_IS_FRESH,
        "`>=` in Leader.getEpochToPropose (Zab1_0Test.testLastAcceptedEpoch)",
        "impl.core.zab.EpochChoice",
        in_3_8_0=False,
    ),
    Bug.ZK_1191: BugInfo(
        "ZOOKEEPER-1191/1192",
        "waitForEpochAck tests the wrong flag: the leader goes on with an epoch that no quorum acknowledged",
        Invariant.NEW_EPOCH_IS_FRESH,
        "wait until a quorum sent ACKEPOCH (Leader.waitForEpochAck on electionFinished)",
        "impl.core.peer.QuorumPeer._check_epoch_acks (and the ACKEPOCH handling)",
        in_3_8_0=False,
    ),
    Bug.ZK_1282: BugInfo(
        "ZOOKEEPER-1282/1291",
        "the learner writes currentEpoch at UPTODATE instead of NEWLEADER, and the leader does not persist "
        "acceptedEpoch: a crash leaves acceptedEpoch below currentEpoch or an acked NEWLEADER unrecorded",
        Invariant.EPOCH_ORDER,
        "Zab 1.0's write order: acceptedEpoch before ACKEPOCH / on the leader, currentEpoch before the NEWLEADER ACK",
        "impl.core.peer.QuorumPeer._epoch_chosen and _learner_current_epoch",
        in_3_8_0=False,
    ),
    Bug.ZK_2307: BugInfo(
        "ZOOKEEPER-2307",
        "acceptedEpoch is set in memory before its file is written; when the write fails the server goes on, "
        "later writes currentEpoch, and the disk holds acceptedEpoch < currentEpoch: it refuses every restart",
        Invariant.EPOCH_ORDER,
        "write the file first, then the field (QuorumPeer.setAcceptedEpoch)",
        "impl.core.peer.QuorumPeer._write_epoch",
        in_3_8_0=False,
    ),
    Bug.ZK_4269: BugInfo(
        "ZOOKEEPER-4269",
        "start-up ignores currentEpoch.tmp: after a crash between the .tmp write and its rename the server holds "
        "an old currentEpoch over newer data and refuses to start. Turns ZK_1653 on too: the code before the fix "
        "(3.5-3.7) had no updatingEpoch marker either, and zkfle's default marker covers the same window first",
        Invariant.RECOVERY_FAITHFUL,
        "read currentEpoch.tmp when epochOfZxid > currentEpoch (QuorumPeer.loadDataBase)",
        "impl.recovery.load_database (LoadOptions.current_epoch_tmp_fallback)",
        in_3_8_0=False,
        requires=(Bug.ZK_1653,),
    ),
    Bug.ZK_1653: BugInfo(
        "ZOOKEEPER-1653/2354",
        "a learner takes the NEWLEADER snapshot (its zxid already in the new epoch) and crashes before currentEpoch "
        "is written: 'The current epoch, X, is older than the last zxid, Y' at every restart",
        Invariant.EPOCH_COVERS_LOG,
        "branch 3.4's updatingEpoch marker: created before the snapshot, deleted after setCurrentEpoch, and at "
        "start-up marker + epochOfZxid > currentEpoch => currentEpoch := epochOfZxid (never merged into 3.5+)",
        "impl.core.peer.QuorumPeer._sync_newleader / _learner_current_epoch and impl.recovery.load_database",
        in_3_8_0=True,
    ),
    Bug.ZK_2355: BugInfo(
        "ZOOKEEPER-2355",
        "a DIFF sync sets lastProcessedZxid to the leader's zxid before the proposals are applied; a learner that "
        "fails mid-DIFF votes with a zxid ahead of its data",
        Invariant.COMMITTED_DURABLE,
        "set lastProcessedZxid only for SNAP and TRUNC (Learner.syncWithLeader)",
        "impl.core.peer.QuorumPeer._sync_start (DIFF)",
        in_3_8_0=False,
    ),
    Bug.ZK_3642: BugInfo(
        "ZOOKEEPER-3642",
        "a learner whose SNAP sync fails keeps the leader's snapshot in memory (nothing of it on disk) and votes "
        "or leads with it",
        Invariant.COMMITTED_DURABLE,
        "Learner.shutdown clears the database when the sync mode was SNAP",
        "impl.core.peer.QuorumPeer._learner_fail",
        in_3_8_0=False,
    ),
    Bug.ZK_3911: BugInfo(
        "ZOOKEEPER-3911",
        "the proposals of a DIFF sync are logged only after UPTODATE although NEWLEADER was already acked: a "
        "quorum crash loses committed txns",
        Invariant.COMMITTED_DURABLE,
        "log the sync proposals at NEWLEADER, before its ACK (Learner.syncWithLeader)",
        "impl.core.peer.QuorumPeer._sync_newleader and _sync_uptodate",
        in_3_8_0=False,
    ),
    Bug.ZK_4394: BugInfo(
        "ZOOKEEPER-4394",
        "at NEWLEADER a DIFF learner logs the synced txns but applies the committed ones only after UPTODATE: "
        "when the sync breaks in between, its in-memory zxid lags its log under the new currentEpoch, it wins "
        "the next election with it and, as leader, truncates committed txns away",
        Invariant.COMMITTED_DURABLE,
        "append and apply the committed sync txns before the NEWLEADER ACK, log the others after UPTODATE "
        "(Learner.syncWithLeader, master cdd13ca1)",
        "impl.core.peer.QuorumPeer._sync_newleader",
        in_3_8_0=True,
    ),
    Bug.ZK_4643: BugInfo(
        "ZOOKEEPER-4643",
        "at NEWLEADER currentEpoch := E is written before the DIFF txns are logged; a crash leaves peerEpoch E "
        "over a short log, which wins the next election and truncates committed txns away",
        Invariant.COMMITTED_DURABLE,
        "persist the txns, then setCurrentEpoch, then ACK (Learner.syncWithLeader)",
        "impl.core.peer.QuorumPeer._sync_newleader",
        in_3_8_0=True,
    ),
    Bug.ZK_4646: BugInfo(
        "ZOOKEEPER-4646",
        "the DIFF txns go to the asynchronous SyncRequestProcessor and NEWLEADER is acked before they are fsynced; "
        "a crash loses txns the leader counted as held",
        Invariant.COMMITTED_DURABLE,
        "append and commit() (fsync) the txns before the ACK (Learner.syncWithLeader, master cdd13ca1)",
        "impl.core.peer.QuorumPeer._sync_newleader",
        in_3_8_0=True,
    ),
    Bug.ZK_4685: BugInfo(
        "ZOOKEEPER-4685",
        "proposal ACKs of the sync phase may leave before the NEWLEADER ACK; the leader takes the first ACK for "
        "the NEWLEADER ACK ('NEWLEADER ACK from sid: ... is from a different epoch') and does not count it",
        Invariant.ZAB_ACK_ORDER,
        "send the proposal ACKs only after the NEWLEADER ACK (Learner.syncWithLeader)",
        "impl.core.peer.QuorumPeer._sync_newleader and _ack_logged",
        in_3_8_0=True,
    ),
    Bug.ZK_4712: BugInfo(
        "ZOOKEEPER-4712/4541/4502",
        "Learner.shutdown reaches ZooKeeperServer.shutdown(boolean) directly: the follower's SyncRequestProcessor "
        "is not stopped and keeps logging old-epoch txns after the server went back to LOOKING",
        Invariant.TXN_EPOCH,
        "shut down every request processor, the sync processor included, before the fast-forward "
        "(ZooKeeperServer.shutdownComponents)",
        "impl.core.peer.QuorumPeer._learner_fail",
        in_3_8_0=True,
    ),
}

ZOOKEEPER_3_8_0: Final = frozenset(b for b, info in CATALOG.items() if info.in_3_8_0)
"""The switches whose bug the 3.8.0 release contains (semantics.md §9: "buggy in 3.8.0", "open in 3.5+")."""

PROFILES: Final[dict[str, frozenset[Bug]]] = {"fixed": frozenset(), "zookeeper-3.8.0": ZOOKEEPER_3_8_0}
"""`--as NAME`: named sets of switches."""


class UnknownBugError(ValueError):
    """A switch name that is not in the catalog; the message lists the known ones."""


def parse_bug(name: str) -> Bug:
    """The switch named (its member name, case-insensitive, `-` for `_`, or the JIRA number alone: `4643`,
    `ZOOKEEPER-4643`); `UnknownBugError` for any other name."""
    known = {b.value: b for b in Bug}
    key = name.strip().upper().replace("-", "_").removeprefix("ZOOKEEPER_")
    bug = known.get(key) or known.get(f"ZK_{key}")
    if bug is None:
        raise UnknownBugError(f"unknown bug {name!r}; known: {', '.join(b.value for b in Bug)}")
    return bug


def parse_bugs(names: Iterable[str]) -> frozenset[Bug]:
    """The switches named (`parse_bug`) and the ones they require."""
    return frozenset(b for name in names for bug in [parse_bug(name)] for b in (bug, *CATALOG[bug].requires))


def fle_options(bugs: frozenset[Bug], base: FleOptions | None = None) -> FleOptions:
    """The FastLeaderElection switches of `bugs` on top of `base` (default timers)."""
    base = base or FleOptions()
    return FleOptions(
        finalize_wait_ms=base.finalize_wait_ms,
        min_notification_interval_ms=base.min_notification_interval_ms,
        max_notification_interval_ms=base.max_notification_interval_ms,
        pre_zk1419_predicate=Bug.ZK_1419 in bugs,
        pre_zk1514_check_leader=Bug.ZK_1514 in bugs,
        pre_zk1732_vote_equality=Bug.ZK_1732 in bugs,
        pre_zk261_zxid_filter=Bug.ZK_261 in bugs,
        pre_zk975_all_votes=Bug.ZK_975 in bugs,
    )
