"""The spec's FLE rules: the vote order's algebra, ZooKeeper's own unit cases, and each lookForLeader rule."""

from __future__ import annotations

from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.spec.fle import (
    MAX_NOTIFICATION_INTERVAL_MS,
    ElectionState,
    ElectionVote,
    Notification,
    Peer,
    ReceiverView,
    Reply,
    check_leader,
    decision_allowed,
    finalize_received,
    finalize_timed_out,
    handle_notification,
    initial_vote,
    look_for_leader,
    notification_timeouts_ms,
    poll_timed_out,
    put_vote,
    total_order_predicate,
    vote_equals,
    vote_tracker_has_all_quorums,
    worker_receiver,
)
from zkfle.spec.quorum import Group, HierarchicalSystem, MajoritySystem, QuorumView, is_quorum
from zkfle.spec.vocabulary import LearnerType, ServerState, Vote
from zkfle.spec.zxid import INT64_MAX, INT64_MIN, Epoch, ServerId, Zxid, make_zxid

FOLLOWING, LEADING, LOOKING = ServerState.FOLLOWING, ServerState.LEADING, ServerState.LOOKING
MAJ = MajoritySystem(frozenset(ServerId(i) for i in range(5)))
VIEW = QuorumView(MAJ)


def vote(leader: int, zxid: int, epoch: int) -> Vote:
    return Vote(ServerId(leader), Zxid(zxid), Epoch(epoch))


def beats(new: Vote, cur: Vote, *, pre_1419: bool = False) -> bool:
    return total_order_predicate(MAJ, new, cur, pre_1419=pre_1419)


longs = st.integers(INT64_MIN, INT64_MAX)
small = st.integers(-2, 3)
votes = st.builds(vote, st.one_of(small, longs), st.one_of(small, longs), st.one_of(small, longs))


# --- the vote order -------------------------------------------------------------------------------------------


def test_fle_predicate_test_cases() -> None:
    """FLEPredicateTest.testPredicate: predicate(newId, newZxid, newEpoch, curId, curZxid, curEpoch)."""
    assert not beats(vote(4, 0, 0), vote(3, 0, 2))  # lower epoch
    assert beats(vote(0, 0, 1), vote(1, 0, 0))  # later epoch
    assert beats(vote(0, 1, 0), vote(1, 0, 0))  # higher zxid
    assert beats(vote(1, 1, 0), vote(0, 1, 0))  # higher id


@settings(max_examples=400, deadline=None)
@given(votes, votes, votes)
def test_vote_order_is_a_strict_total_order(a: Vote, b: Vote, c: Vote) -> None:
    assert not beats(a, a)
    assert not (beats(a, b) and beats(b, a))
    if beats(b, a) and beats(c, b):
        assert beats(c, a)
    if a != b:
        assert beats(a, b) or beats(b, a)


def test_zero_weight_leader_never_wins() -> None:
    """ZOOKEEPER-491 / FLEZeroWeightTest: a zero-weight server is never adopted, however good its vote."""
    system = HierarchicalSystem(
        frozenset(ServerId(i) for i in (1, 2, 3)),
        (Group(1, ((ServerId(1), 1), (ServerId(2), 1))), Group(2, ((ServerId(3), 0),))),
    )
    assert not total_order_predicate(system, vote(3, 100, 100), vote(1, 0, 0))
    assert total_order_predicate(system, vote(2, 0, 0), vote(1, 0, 0))


def test_pre_1419_order_is_not_transitive() -> None:
    """Search small votes for a < b < c with not a < c under the old predicate; the fixed one has none."""
    space = [vote(*fields) for fields in product(range(2), repeat=3)]
    witnesses = [
        (a, b, c)
        for a, b, c in product(space, repeat=3)
        if beats(b, a, pre_1419=True) and beats(c, b, pre_1419=True) and not beats(c, a, pre_1419=True)
    ]
    assert witnesses
    assert not [(a, b, c) for a, b, c in product(space, repeat=3) if beats(b, a) and beats(c, b) and not beats(c, a)]


# --- Vote.equals, getVoteTracker, checkLeader (FLEOutOfElectionTest) ----------------------------------------


def ev(  # noqa: PLR0917 - the argument order of Java's six-argument Vote constructor, as the Java tests use it
    version: int, leader: int, zxid: int, election_epoch: int, peer_epoch: int, state: ServerState
) -> ElectionVote:
    return ElectionVote(ServerId(leader), Zxid(zxid), election_epoch, Epoch(peer_epoch), state, version)


def votemap(*entries: tuple[int, ElectionVote]) -> tuple[tuple[ServerId, ElectionVote], ...]:
    result: tuple[tuple[ServerId, ElectionVote], ...] = ()
    for sid, v in entries:
        result = put_vote(result, ServerId(sid), v)
    return result


def test_ignoring_zxid_election_epoch() -> None:
    votes_ = votemap(
        (0, ev(1, 4, make_zxid(1, 1), 1, 2, FOLLOWING)),
        (1, ev(1, 4, make_zxid(1, 2), 1, 2, FOLLOWING)),
        (3, ev(1, 4, make_zxid(2, 1), 2, 2, FOLLOWING)),
        (4, ev(1, 4, make_zxid(2, 1), 2, 2, LEADING)),
    )
    assert vote_tracker_has_all_quorums(VIEW, votes_, ev(0, 4, make_zxid(2, 1), 2, 2, FOLLOWING))


def test_election_with_different_version() -> None:
    votes_ = votemap(
        (0, ev(1, 4, make_zxid(1, 1), 1, 1, FOLLOWING)),
        (1, ev(1, 4, make_zxid(1, 1), 1, 1, FOLLOWING)),
        (3, ev(0, 4, make_zxid(2, 1), 2, 2, FOLLOWING)),
        (4, ev(0, 4, make_zxid(2, 1), 2, 2, LEADING)),
    )
    assert vote_tracker_has_all_quorums(VIEW, votes_, ev(0, 4, make_zxid(2, 1), 2, 2, FOLLOWING))


def test_looking_normal() -> None:
    votes_ = votemap(
        (0, ev(0, 4, make_zxid(2, 1), 1, 1, LOOKING)),
        (1, ev(0, 4, make_zxid(2, 1), 1, 1, LOOKING)),
        (3, ev(0, 4, make_zxid(2, 1), 1, 1, LOOKING)),
        (4, ev(0, 4, make_zxid(2, 1), 1, 1, LEADING)),
    )
    assert vote_tracker_has_all_quorums(VIEW, votes_, ev(0, 4, make_zxid(2, 1), 1, 1, LOOKING))


def test_looking_diff_rounds() -> None:
    votes_ = votemap(
        (0, ev(0, 4, make_zxid(1, 1), 1, 1, LOOKING)),
        (1, ev(0, 4, make_zxid(2, 1), 2, 2, LOOKING)),
        (3, ev(0, 4, make_zxid(2, 1), 3, 2, LOOKING)),
        (4, ev(0, 4, make_zxid(2, 1), 3, 2, LEADING)),
    )
    assert not vote_tracker_has_all_quorums(VIEW, votes_, ev(0, 4, make_zxid(2, 1), 2, 2, LOOKING))


def test_out_of_election() -> None:
    """Server 3 with logicalclock 1 joins leader 5 from out-of-election votes (QuorumMaj over sids 0..4 + 5)."""
    view = QuorumView(MajoritySystem(frozenset(ServerId(i) for i in range(6))))
    leading = ev(1, 5, make_zxid(15, 0), 0xA, 0x18, LEADING)
    votes_ = votemap(
        (1, ev(0, 5, make_zxid(15, 0), 0xA, 0x17, FOLLOWING)),
        (2, ev(0, 5, make_zxid(15, 0), 0xA, 0x17, FOLLOWING)),
        (4, ev(1, 5, make_zxid(15, 0), 0xA, 0x18, FOLLOWING)),
        (5, leading),
    )
    assert vote_tracker_has_all_quorums(view, votes_, leading)
    assert check_leader(ServerId(3), 1, votes_, ServerId(5), 0xA)


def test_vote_equals_rules() -> None:
    a = ev(2, 1, 10, 3, 4, FOLLOWING)
    assert vote_equals(a, ev(2, 1, 99, 7, 4, LEADING))  # zxid and round ignored out of election
    assert not vote_equals(a, ev(2, 1, 10, 3, 5, FOLLOWING))  # same version class: peerEpoch compared
    assert vote_equals(a, ev(0, 1, 10, 3, 5, FOLLOWING))  # mixed versions: only the id
    assert not vote_equals(a, ev(2, 1, 11, 3, 4, LOOKING))  # LOOKING: zxid and round compared too
    assert vote_equals(a, ev(0, 1, 10, 3, 4, LOOKING))  # ... but not version or state
    assert vote_equals(ev(0, 1, 10, 3, 4, LOOKING), ev(2, 1, 10, 3, 4, LEADING))


def test_check_leader_round_rule_for_ourselves() -> None:
    """ZOOKEEPER-1514: we may lead only on votes of our own round; others must have said LEADING."""
    followers = votemap((1, ev(0, 2, 0, 1, 0, FOLLOWING)), (3, ev(0, 2, 0, 1, 0, FOLLOWING)))
    assert not check_leader(ServerId(2), 2, followers, ServerId(2), 1)
    assert check_leader(ServerId(2), 1, followers, ServerId(2), 1)
    assert not check_leader(ServerId(1), 1, followers, ServerId(2), 1)
    assert check_leader(ServerId(1), 1, put_vote(followers, ServerId(2), ev(0, 2, 0, 1, 0, LEADING)), ServerId(2), 1)


# --- lookForLeader ------------------------------------------------------------------------------------------

PEER = Peer(ServerId(1), QuorumView(MajoritySystem(frozenset(ServerId(i) for i in (1, 2, 3)))))


def looking(sid: int, leader: int, zxid: int, round_: int, epoch: int = 0) -> Notification:
    return Notification(ServerId(sid), LOOKING, ServerId(leader), Zxid(zxid), round_, Epoch(epoch))


def started(zxid: int = 5) -> ElectionState:
    step = look_for_leader(0, vote(1, zxid, 0))
    assert step.send_notifications
    return step.state


def test_initial_vote() -> None:
    assert initial_vote(PEER.view, ServerId(1), LearnerType.PARTICIPANT, Zxid(7), Epoch(2)) == vote(1, 7, 2)
    assert initial_vote(PEER.view, ServerId(9), LearnerType.OBSERVER, Zxid(7), Epoch(2)) == vote(
        INT64_MIN, INT64_MIN, INT64_MIN
    )


def test_looking_same_round_adopts_better_vote_and_notifies() -> None:
    state = started()
    step = handle_notification(PEER, state, looking(2, 2, 9, 1))
    assert step.send_notifications
    assert step.state.proposal == vote(2, 9, 0)
    assert not step.state.finalizing  # only 2's vote backs the proposal
    step = handle_notification(PEER, step.state, looking(3, 2, 9, 1))
    assert not step.send_notifications
    assert step.state.finalizing and decision_allowed(PEER, step.state)


def test_looking_later_round_compares_with_the_initial_vote() -> None:
    state = started()
    state = handle_notification(PEER, state, looking(2, 2, 9, 1)).state  # proposal now (2, 9, 0)
    step = handle_notification(PEER, state, looking(3, 3, 6, 4))  # round 4, better than initial, worse than 2
    assert step.send_notifications
    assert step.state.round == 4
    assert step.state.proposal == vote(3, 6, 0)
    assert [sid for sid, _ in step.state.recvset] == [3]


def test_looking_earlier_round_and_minus_one_zxid_are_ignored() -> None:
    state = handle_notification(PEER, started(), looking(2, 2, 9, 3)).state
    for n in (looking(3, 3, 99, 1), looking(3, 3, -1, 3)):
        assert handle_notification(PEER, state, n).state == state
    lost = started(zxid=-1)
    assert handle_notification(PEER, lost, looking(2, 2, 9, 1)).state == lost


def test_non_voter_and_observer_notifications_are_ignored() -> None:
    state = started()
    assert handle_notification(PEER, state, looking(7, 2, 9, 1)).state == state
    assert handle_notification(PEER, state, looking(2, 7, 9, 1)).state == state
    observing = Notification(ServerId(2), ServerState.OBSERVING, ServerId(2), Zxid(9), 1, Epoch(0))
    assert handle_notification(PEER, state, observing).state == state


def test_finalize_requeues_better_discards_worse_and_decides_on_timeout() -> None:
    state = handle_notification(PEER, started(), looking(1, 1, 5, 1)).state  # our own vote, via loopback
    assert not state.finalizing
    state = handle_notification(PEER, state, looking(2, 1, 5, 1)).state
    assert state.finalizing
    worse = looking(3, 2, 1, 9)
    assert finalize_received(PEER, state, worse).state == state
    better = looking(3, 3, 9, 1)
    step = finalize_received(PEER, state, better)
    assert step.requeue == better and not step.state.finalizing
    end = finalize_timed_out(PEER, state).decision
    assert end is not None
    assert (end.peer_state, end.leader, end.zxid, end.election_epoch) == (LEADING, 1, 5, 1)


def test_following_quorum_of_our_round_with_leader_ends_election() -> None:
    state = started()
    fol = Notification(ServerId(3), FOLLOWING, ServerId(2), Zxid(9), 1, Epoch(1))
    step = handle_notification(PEER, state, fol)
    assert step.decision is None
    lead = Notification(ServerId(2), LEADING, ServerId(2), Zxid(9), 1, Epoch(1))
    step = handle_notification(PEER, step.state, lead)
    assert step.decision is not None
    assert (step.decision.peer_state, step.decision.leader) == (FOLLOWING, 2)


def test_out_of_election_joins_established_leader_and_moves_clock() -> None:
    first = handle_notification(
        PEER, started(), Notification(ServerId(3), FOLLOWING, ServerId(2), Zxid(9), 7, Epoch(1))
    )
    assert first.decision is None
    step = handle_notification(PEER, first.state, Notification(ServerId(2), LEADING, ServerId(2), Zxid(9), 7, Epoch(1)))
    assert step.decision is not None and step.decision.leader == 2
    assert step.state.round == 7
    assert step.state.recvset == ()  # round 7 is not ours: nothing went to recvset


def test_stale_following_votes_for_us_do_not_make_us_lead() -> None:
    """FLEBackwardElectionRoundTest (ZOOKEEPER-1514): FOLLOWING votes for us from round 1 while we are in round 2."""
    state = look_for_leader(1, vote(1, 5, 0)).state
    for sid in (2, 3):
        step = handle_notification(
            PEER, state, Notification(ServerId(sid), FOLLOWING, ServerId(1), Zxid(5), 1, Epoch(0))
        )
        state = step.state
        assert step.decision is None


def test_notification_timeouts_double_to_the_cap() -> None:
    assert notification_timeouts_ms(3) == (200, 400, 800)
    assert notification_timeouts_ms(11)[-3:] == (51_200, MAX_NOTIFICATION_INTERVAL_MS, MAX_NOTIFICATION_INTERVAL_MS)
    step = poll_timed_out(started(), have_delivered=False)
    assert not step.send_notifications and step.state.notification_timeout_ms == 400
    assert poll_timed_out(step.state, have_delivered=True).send_notifications


# --- WorkerReceiver -----------------------------------------------------------------------------------------


def receiver(state: ServerState, clock: int) -> ReceiverView:
    return ReceiverView(state, clock, vote(3, 8, 1), ElectionVote(ServerId(2), Zxid(4), 6, Epoch(1)))


def test_non_voter_gets_current_vote_with_logicalclock() -> None:
    got = worker_receiver(PEER.view, receiver(FOLLOWING, 9), looking(7, 7, 0, 1))
    assert not got.queued
    assert got.reply == Reply(ServerId(7), FOLLOWING, ServerId(2), Zxid(4), 9, Epoch(1))


def test_looking_receiver_queues_and_answers_a_lagging_looking_sender() -> None:
    got = worker_receiver(PEER.view, receiver(LOOKING, 5), looking(2, 2, 0, 4))
    assert got.queued
    assert got.reply == Reply(ServerId(2), LOOKING, ServerId(3), Zxid(8), 5, Epoch(1))
    assert worker_receiver(PEER.view, receiver(LOOKING, 5), looking(2, 2, 0, 5)).reply is None


def test_established_receiver_answers_looking_sender_with_its_vote_round() -> None:
    got = worker_receiver(PEER.view, receiver(LEADING, 9), looking(2, 2, 0, 1))
    assert not got.queued
    assert got.reply == Reply(ServerId(2), LEADING, ServerId(2), Zxid(4), 6, Epoch(1))
    fol = Notification(ServerId(2), FOLLOWING, ServerId(2), Zxid(0), 1, Epoch(0))
    assert worker_receiver(PEER.view, receiver(LEADING, 9), fol).reply is None


# --- decisions need a quorum --------------------------------------------------------------------------------

notifications = st.builds(
    Notification,
    st.integers(1, 3).map(ServerId),
    st.sampled_from([LOOKING, FOLLOWING, LEADING]),
    st.integers(1, 3).map(ServerId),
    st.integers(0, 2).map(Zxid),
    st.integers(1, 3),
    st.integers(0, 1).map(Epoch),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(notifications, st.booleans()), max_size=12))
def test_every_decision_is_backed_by_a_quorum_for_its_leader(events: list[tuple[Notification, bool]]) -> None:
    """Drive the rules with random notifications (the flag: the finalize wait times out before the next one)."""
    state = started()
    quorum = PEER.view.current
    for n, timeout in events:
        step = finalize_received(PEER, state, n) if state.finalizing else handle_notification(PEER, state, n)
        if step.decision is None and step.state.finalizing and timeout:
            step = finalize_timed_out(PEER, step.state)
        state = step.state
        if step.decision is not None:
            backers = {
                sid
                for votes_ in (state.recvset, state.outofelection)
                for sid, v in votes_
                if v.leader == step.decision.leader
            }
            assert is_quorum(quorum, backers), (step.decision, state)
            if step.decision.peer_state == LEADING:
                assert step.decision.election_epoch == state.round
            return
