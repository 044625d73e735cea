"""Unit checks of the FastLeaderElection core rules that scenarios show only indirectly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.impl.core.fle import (
    ElectionVote,
    FastLeaderElection,
    FleOptions,
    Notification,
    Send,
    SetTimer,
    TimerKind,
    vote_equals,
)
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.spec.vocabulary import ServerState

QV3 = QuorumMaj(frozenset({1, 2, 3}))
small = st.integers(min_value=-2, max_value=3)


def core(options: FleOptions | None = None) -> FastLeaderElection:
    options = options or FleOptions()
    return FastLeaderElection(1, QV3, last_logged_zxid=0, current_epoch=0, options=options)


@settings(max_examples=300, deadline=None)
@given(st.tuples(small, small, small), st.tuples(small, small, small), st.tuples(small, small, small))
def test_predicate_is_a_strict_total_order(
    a: tuple[int, int, int], b: tuple[int, int, int], c: tuple[int, int, int]
) -> None:
    """FLEPredicateTest / ZOOKEEPER-1419: (peerEpoch, zxid, id) lexicographic, hence transitive."""
    p = core().total_order_predicate
    assert p(a[2], a[1], a[0], b[2], b[1], b[0]) == (a > b)
    if p(a[2], a[1], a[0], b[2], b[1], b[0]) and p(b[2], b[1], b[0], c[2], c[1], c[0]):
        assert p(a[2], a[1], a[0], c[2], c[1], c[0])


def test_pre_zk1419_predicate_differs() -> None:
    """Equal zxids, lower epoch, higher id: the fixed predicate says no, the old one yes."""
    assert not core().total_order_predicate(3, 5, 1, 2, 5, 2)
    assert core(FleOptions(pre_zk1419_predicate=True)).total_order_predicate(3, 5, 1, 2, 5, 2)


def test_vote_equals_rules() -> None:
    """Vote.equals: LOOKING strict; non-LOOKING id+peerEpoch, id only across versions (FLEOutOfElectionTest)."""
    f2 = ElectionVote(2, 0x5, 1, 3, ServerState.FOLLOWING, 2)
    lead2 = ElectionVote(2, 0x9, 4, 3, ServerState.LEADING, 2)
    assert vote_equals(f2, lead2)
    assert not vote_equals(f2, lead2, strict=True)
    assert not vote_equals(f2, ElectionVote(2, 0x5, 1, 4, ServerState.LEADING, 2))
    assert vote_equals(f2, ElectionVote(2, 0x5, 1, 4, ServerState.LEADING, 0))
    assert not vote_equals(f2, ElectionVote(2, 0x6, 1, 3))  # one side LOOKING: all four fields


def test_first_election_sends_round_1_and_counts_own_loopback_vote() -> None:
    c = core()
    step = c.look_for_leader()
    sends = [e for e in step.effects if isinstance(e, Send)]
    assert [s.to for s in sends] == [2, 3]
    assert {(s.notification.election_epoch, s.notification.leader, s.notification.state) for s in sends} == {
        (1, 1, ServerState.LOOKING)
    }
    assert step.effects[-1] == SetTimer(TimerKind.POLL, 200)
    # Our own vote came back through loopback: one more matching vote from 2 is a quorum -> finalize.
    step = c.receive(Notification(2, ServerState.LOOKING, 1, 0, 1, 0))
    assert SetTimer(TimerKind.FINALIZE, 200) in step.effects


def test_poll_timeout_doubles_up_to_the_maximum() -> None:
    c = core()
    c.look_for_leader()
    timeouts: list[int] = []
    for _ in range(12):
        step = c.timer_fired(TimerKind.POLL, have_delivered=False)
        timeouts.extend(e.ms for e in step.effects if isinstance(e, SetTimer))
    assert timeouts == [400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000, 60000]


def test_non_voter_gets_current_vote_and_logicalclock_and_is_not_queued() -> None:
    c = core()
    c.look_for_leader()
    step = c.receive(Notification(7, ServerState.LOOKING, 7, 0, 5, 0))
    (reply,) = [e for e in step.effects if isinstance(e, Send)]
    n = reply.notification
    assert (reply.to, n.leader, n.zxid, n.election_epoch, n.state) == (7, 1, 0, 1, ServerState.LOOKING)
    assert not c.recvqueue
