"""Unit checks of the FastLeaderElection core rules that scenarios show only indirectly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.impl.core.fle import (
    MAX_POLLS_PER_INPUT,
    ElectionVote,
    FastLeaderElection,
    FleOptions,
    Notification,
    Send,
    SetTimer,
    TimerKind,
    _Round,
    _wait,
    vote_equals,
)
from zkfle.impl.core.quorum import QuorumHierarchical, QuorumMaj, QuorumVerifier
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
    assert c.proposal() == ElectionVote(1, 0, -1, 0)
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


keys = st.tuples(st.integers(1, 3), st.integers(0, 1), st.integers(1, 2), st.integers(0, 1))
puts = st.tuples(st.integers(1, 5), keys, st.sampled_from([ServerState.LOOKING, ServerState.FOLLOWING]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(puts, st.just("clear")), max_size=30))
def test_ack_sets_are_the_recvset_grouped_by_vote(
    ops: list[tuple[int, tuple[int, int, int, int], ServerState] | str],
) -> None:
    """The incremental `acks` index always equals recvset grouped by (leader, zxid, round, peerEpoch)."""
    rnd = _Round(_wait(TimerKind.POLL, 200), _wait(TimerKind.FINALIZE, 200))
    for op in ops:
        if isinstance(op, str):
            rnd.clear_recvset()
        else:
            sid, (leader, zxid, round_, peer_epoch), state = op
            rnd.put_vote(sid, ElectionVote(leader, zxid, round_, peer_epoch, state))
        grouped: dict[tuple[int, int, int, int], set[int]] = {}
        for sid, v in rnd.recvset.items():
            grouped.setdefault((v.leader, v.zxid, v.election_epoch, v.peer_epoch), set()).add(sid)
        assert rnd.acks == grouped


QH5 = QuorumHierarchical(
    {1: frozenset({1, 2}), 2: frozenset({3, 4}), 3: frozenset({5})}, {4: 3}, frozenset(range(1, 6))
)
looking = st.builds(
    Notification,
    sid=st.integers(2, 5),
    state=st.just(ServerState.LOOKING),
    leader=st.integers(1, 5),
    zxid=st.integers(0, 2),
    election_epoch=st.integers(1, 3),
    peer_epoch=st.integers(0, 1),
)


class CheckedCore(FastLeaderElection):
    """Re-checks every LOOKING quorum decision of the hot path with the generic scan."""

    checks: int = 0

    def _looking_notification(self, n: Notification, rnd: _Round) -> None:
        super()._looking_notification(n, rnd)
        if rnd.recvset.get(n.sid) is n:  # it was counted, and the quorum check ran right after
            assert rnd.finalizing == self.has_all_quorums(rnd.recvset, self.proposal_end_vote())
            self.checks += 1


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([QuorumMaj(frozenset(range(1, 6))), QH5]), st.lists(looking, max_size=25))
def test_quorum_lookup_agrees_with_the_scan(verifier: QuorumVerifier, ns: list[Notification]) -> None:
    """After each LOOKING vote is counted, the index lookup (`_Round.acks`) decides to finalize exactly when
    `has_all_quorums` -- a scan of recvset with `Vote.equals` -- finds a quorum for (proposal, logicalclock)."""
    c = CheckedCore(1, verifier, last_logged_zxid=1, current_epoch=0)
    c.look_for_leader()
    for n in ns:
        c.receive(n)
    assert c.checks > 0  # at least our own loopback vote was checked


def test_a_non_transitive_order_cannot_spin_one_input_forever() -> None:
    """With the pre-ZOOKEEPER-1419 predicate two queued votes can keep beating each other and the core's own
    loopback copies; one input then stops after MAX_POLLS_PER_INPUT polls and leaves the rest queued.
    (Found by a differential fuzz of the core; before the bound this `look_for_leader` never returned.)"""
    core = FastLeaderElection(
        2,
        QuorumMaj(frozenset({1, 2}), version=1),
        last_logged_zxid=0,
        current_epoch=1,
        last_seen_verifier=QuorumHierarchical(
            {1: frozenset({3}), 2: frozenset({2}), 3: frozenset({1})}, {1: 1, 2: 1, 3: 1}, frozenset({1, 2, 3})
        ),
        options=FleOptions(pre_zk1419_predicate=True, min_notification_interval_ms=50),
    )
    looking = ServerState.LOOKING
    core.receive(Notification(3, looking, 5, 3, 2, 3, 2, b""))
    core.receive(Notification(6, looking, 1, 2, 3, 1, 0, b""))
    core.set_peer_state(ServerState.OBSERVING)
    core.receive(Notification(0, looking, 5, -1, 1, 3, 0, b""))
    core.set_peer_state(looking)
    core.receive(Notification(3, looking, 1, 0, 1, 3, 2, b""))
    step = core.look_for_leader()
    assert len(core.recvqueue) == 2  # the two votes that beat each other are still queued
    sends = [e for e in step.effects if isinstance(e, Send)]
    assert MAX_POLLS_PER_INPUT <= len(sends) <= 3 * MAX_POLLS_PER_INPUT
    step = core.timer_fired(TimerKind.POLL, have_delivered=True)  # and the next input is bounded too
    assert len(core.recvqueue) == 2
