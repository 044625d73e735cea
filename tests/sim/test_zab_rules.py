"""Zab's pure rules: getEpochToPropose (the >= rule and ZOOKEEPER-1343), waitForEpochAck's order, syncFollower."""

from __future__ import annotations

from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.core.zab import EpochChoice, LoggedTxn, epoch_ack_more_recent, sync_follower
from zkfle.impl.persistence.records import TxnHeader
from zkfle.spec.vocabulary import SyncMode
from zkfle.spec.zxid import make_zxid

VOTERS = QuorumMaj(frozenset({1, 2, 3}))


def _txn(epoch: int, counter: int) -> LoggedTxn:
    return LoggedTxn(TxnHeader(1, counter, make_zxid(epoch, counter), 0, 1), None)


def test_new_epoch_is_one_more_than_the_highest_accepted_epoch_of_the_connecting_quorum() -> None:
    choice = EpochChoice(3, VOTERS)
    assert not choice.offer(3, 4)  # the leader alone is no quorum
    assert choice.epoch == 5
    assert choice.offer(1, 7)  # leader + 1 is a quorum: the wait ends
    assert choice.epoch == 8 and choice.connecting == {1, 3}
    assert not choice.offer(2, 20)  # later learners change nothing
    assert choice.epoch == 8


def test_equal_accepted_epoch_bumps_with_ge_but_not_with_the_zk1343_bug() -> None:
    fixed = EpochChoice(3, VOTERS)
    fixed.offer(2, 5)
    fixed.offer(3, 6)
    assert fixed.epoch == 7  # 6 >= 6: bumped past the learner's accepted epoch
    buggy = EpochChoice(3, VOTERS, greater_only=True)
    buggy.offer(2, 5)
    buggy.offer(3, 6)
    assert buggy.epoch == 6  # 6 > 6 is false: the new epoch equals an accepted epoch


def test_follower_ahead_of_the_leader() -> None:
    assert epoch_ack_more_recent(3, 0, 2, 100)
    assert epoch_ack_more_recent(2, 101, 2, 100)
    assert not epoch_ack_more_recent(2, 100, 2, 100)
    assert not epoch_ack_more_recent(1, 10**12, 2, 0)


def test_sync_follower_diff_trunc_snap() -> None:
    log = tuple(_txn(1, c) for c in range(1, 6))
    last = log[-1].zxid
    same = sync_follower(last, log, last)
    assert (same.mode, same.zxid, same.proposals) == (SyncMode.DIFF, last, ())
    behind = sync_follower(log[1].zxid, log, last)
    assert behind.mode is SyncMode.DIFF and [p.zxid for p in behind.proposals] == [t.zxid for t in log[2:]]
    ahead = sync_follower(make_zxid(1, 9), log, last)
    assert (ahead.mode, ahead.zxid) == (SyncMode.TRUNC, last)
    too_old = sync_follower(0, log[2:], last)
    assert too_old.mode is SyncMode.SNAP
    # a learner with a txn the leader never had, inside the log's range, in the same epoch: TRUNC, then DIFF
    holes = (_txn(1, 1), _txn(1, 2), _txn(1, 4))
    trunc = sync_follower(make_zxid(1, 3), holes, holes[-1].zxid)
    assert (trunc.mode, trunc.zxid) == (SyncMode.TRUNC, make_zxid(1, 2))
    assert [p.zxid for p in trunc.proposals] == [make_zxid(1, 4)]
    # a new-epoch zxid (counter 0) is never truncated: DIFF with what follows
    two_epochs = (*log, _txn(2, 1), _txn(2, 2))
    fresh = sync_follower(make_zxid(2, 0), two_epochs, two_epochs[-1].zxid)
    assert fresh.mode is SyncMode.DIFF and [p.zxid for p in fresh.proposals] == [make_zxid(2, 1), make_zxid(2, 2)]
    # the leader's in-memory (E,0) after establishment, no txns: a learner at 0 gets a snapshot
    assert sync_follower(0, (), make_zxid(1, 0)).mode is SyncMode.SNAP
