"""FastLeaderElection as small pure rules over immutable values (semantics.md §4.4–4.5).

This is the reference the checker judges with, written independently of `zkfle.impl.core.fle` (design.md:
"spec's FLE rules are written independently of impl's FLE"). Each rule is one step of
`FastLeaderElection.lookForLeader` or of `FastLeaderElection.Messenger.WorkerReceiver.run` and names the
action of `zookeeper-specifications/system-spec/zk-3.7/FastLeaderElection.tla` it corresponds to, where the
TLA+ spec has one. Queues, threads and clocks are not modelled: a driver feeds the rules one event at a time
(a polled notification, or a poll that timed out) and carries out what the returned `Step` asks for.

Not modelled: dynamic reconfiguration inside WorkerReceiver (`processReconfig`, "restarting leader election"),
the `QuorumOracleMaj` two-node oracle (never consulted for `QuorumMaj` or `QuorumHierarchical`), JMX, and
`Leader.reportLookingSid` (ZOOKEEPER-3109; it does not change what the election sends or decides).
Modelled although it is a crash: `QuorumHierarchical.getWeight` throws NullPointerException for a server
without a weight, which ends lookForLeader and makes `QuorumPeer.run` start it again (`Step.aborted`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from zkfle.spec.quorum import (
    QuorumSystem,
    QuorumView,
    current_and_next_voters,
    has_all_quorums,
    has_weight,
    voters,
    weight,
)
from zkfle.spec.vocabulary import LearnerType, ServerState, Vote
from zkfle.spec.zxid import INT64_MIN, NO_ZXID, Epoch, ServerId, Zxid

FINALIZE_WAIT_MS = 200
"""`FastLeaderElection.finalizeWait`: how long a found quorum waits for a better notification."""

MIN_NOTIFICATION_INTERVAL_MS = 200
"""`FastLeaderElection.minNotificationInterval` (= finalizeWait): the first poll timeout of lookForLeader."""

MAX_NOTIFICATION_INTERVAL_MS = 60_000
"""`FastLeaderElection.maxNotificationInterval`: the cap of the doubling poll timeout."""

NOTIFICATION_VERSION = 2
"""`FastLeaderElection.Notification.CURRENTVERSION`: the version a 3.8 sender puts in its notifications."""


@dataclass(frozen=True, slots=True)
class Notification:
    """`FastLeaderElection.Notification` as WorkerReceiver builds it from a voter's message.

    `election_epoch` is the sender's round (`logicalclock`); `version` is 2 for a 3.8 sender, 0 for the
    28- and 40-byte backward-compatible formats.
    """

    sid: ServerId
    state: ServerState
    leader: ServerId
    zxid: Zxid
    election_epoch: int
    peer_epoch: Epoch
    version: int = NOTIFICATION_VERSION

    @property
    def vote(self) -> Vote:
        return Vote(self.leader, self.zxid, self.peer_epoch)


@dataclass(frozen=True, slots=True)
class ElectionVote:
    """`Vote.java` with all six fields: what `recvset` and `outofelection` store, and what they are compared with.

    The defaults are those of the constructor `Vote(id, zxid, electionEpoch, peerEpoch)`: state LOOKING,
    version 0.
    """

    leader: ServerId
    zxid: Zxid
    election_epoch: int
    peer_epoch: Epoch
    state: ServerState = ServerState.LOOKING
    version: int = 0


VoteMap = tuple[tuple[ServerId, ElectionVote], ...]
"""A `Map<Long, Vote>` (recvset, outofelection) as a tuple of (sid, vote) pairs sorted by sid."""


def put_vote(votes: VoteMap, sid: ServerId, vote: ElectionVote) -> VoteMap:
    """`Map.put`: the map with `sid` bound to `vote` (replacing any earlier vote of that sender)."""
    return tuple(sorted([*((s, v) for s, v in votes if s != sid), (sid, vote)], key=lambda pair: pair[0]))


def get_vote(votes: VoteMap, sid: ServerId) -> ElectionVote | None:
    """`Map.get`: the vote stored for `sid`, if any."""
    for s, v in votes:
        if s == sid:
            return v
    return None


@dataclass(frozen=True, slots=True)
class Peer:
    """What an election instance knows about its own server and never changes while it runs.

    `pre_1419` selects the vote order ZooKeeper had before ZOOKEEPER-1419 (a bug-injection switch,
    semantics.md §9); 3.8 has the fixed order.
    """

    myid: ServerId
    view: QuorumView
    learner_type: LearnerType = LearnerType.PARTICIPANT
    pre_1419: bool = False


@dataclass(frozen=True, slots=True)
class ElectionState:
    """The local variables of one `lookForLeader` call plus the FLE fields it updates.

    `round` is `logicalclock`; `proposal` is (`proposedLeader`, `proposedZxid`, `proposedEpoch`); `initial` is
    the vote of `getInitId`, `getInitLastLoggedZxid`, `getPeerEpoch` (see `initial_vote`); `finalizing` is true
    while lookForLeader sits in the finalize loop (`poll(finalizeWait)` after a quorum was seen);
    `notification_timeout_ms` is `notTimeout`.
    """

    round: int
    initial: Vote
    proposal: Vote
    recvset: VoteMap = ()
    outofelection: VoteMap = ()
    finalizing: bool = False
    notification_timeout_ms: int = MIN_NOTIFICATION_INTERVAL_MS


@dataclass(frozen=True, slots=True)
class Decision:
    """The end of an election: the state `setPeerState` chooses and the end vote `lookForLeader` returns."""

    peer_state: ServerState
    leader: ServerId
    zxid: Zxid
    election_epoch: int
    peer_epoch: Epoch


@dataclass(frozen=True, slots=True)
class Step:
    """What one rule asks of its driver, besides moving to `state`.

    `send_notifications`: call `sendNotifications()` — one LOOKING notification with `state.proposal` and
    `state.round` to every sid in `current_and_next_voters` (ourselves included). `requeue`: put this
    notification back at the tail of the receive queue. `decision`: the election is over. `aborted`:
    lookForLeader threw (`QuorumHierarchical.getWeight` of a server without a weight, inside
    `totalOrderPredicate`); `QuorumPeer.run` catches it ("Unexpected exception"), stays LOOKING and calls
    lookForLeader again, so the driver starts `look_for_leader(state.round, ...)` and keeps the receive
    queue (`leaveInstance` was not reached).
    """

    state: ElectionState
    send_notifications: bool = False
    requeue: Notification | None = None
    decision: Decision | None = None
    aborted: bool = False


def total_order_predicate(system: QuorumSystem, new: Vote, cur: Vote, *, pre_1419: bool = False) -> bool:
    """`FastLeaderElection.totalOrderPredicate(newId, newZxid, newEpoch, curId, curZxid, curEpoch)`.

    TLA+ `TotalOrderPredicate`. True when `new` should replace `cur`: never for a zero-weight leader
    (ZOOKEEPER-491; `system` is the current verifier, whose `getWeight` ZooKeeper asks), otherwise the
    lexicographic order of (peerEpoch, zxid, id). With `pre_1419` the id clause ignores the epochs, as before
    ZOOKEEPER-1419: `newEpoch > curEpoch || (newEpoch == curEpoch && newZxid > curZxid) ||
    (newZxid == curZxid && newId > curId)`, which is not transitive.
    """
    if weight(system, new.leader) == 0:
        return False
    if pre_1419:
        return (
            new.peer_epoch > cur.peer_epoch
            or (new.peer_epoch == cur.peer_epoch and new.zxid > cur.zxid)
            or (new.zxid == cur.zxid and new.leader > cur.leader)
        )
    return (new.peer_epoch, new.zxid, new.leader) > (cur.peer_epoch, cur.zxid, cur.leader)


def vote_equals(a: ElectionVote, b: ElectionVote) -> bool:
    """`Vote.equals`: how a stored vote is matched against the vote being counted.

    If either side is LOOKING, leader, zxid, electionEpoch and peerEpoch must all match (TLA+ `VoteEqual`).
    Otherwise zxid and electionEpoch are ignored (ZOOKEEPER-1805); peerEpoch is compared too unless exactly
    one side has version > 0 (ZOOKEEPER-1732's mixed-version rule).
    """
    if ServerState.LOOKING in (a.state, b.state):
        return (a.leader, a.zxid, a.election_epoch, a.peer_epoch) == (b.leader, b.zxid, b.election_epoch, b.peer_epoch)
    if (a.version > 0) != (b.version > 0):
        return a.leader == b.leader
    return a.leader == b.leader and a.peer_epoch == b.peer_epoch


def vote_tracker_has_all_quorums(view: QuorumView, votes: VoteMap, vote: ElectionVote) -> bool:
    """`getVoteTracker(votes, vote).hasAllQuorums()`; TLA+ `HasQuorums`.

    Every sender whose stored vote equals `vote` acks it (`SyncedLearnerTracker.addAck` keeps voters only,
    as `quorum.is_quorum` does); a decision needs a quorum of the acks in every verifier of the view.
    """
    return has_all_quorums(view, (sid for sid, stored in votes if vote_equals(vote, stored)))


def check_leader(myid: ServerId, logicalclock: int, votes: VoteMap, leader: ServerId, election_epoch: int) -> bool:
    """`FastLeaderElection.checkLeader(votes, leader, electionEpoch)`; TLA+ `CheckLeader`.

    Another server may be followed only if `votes` holds a LEADING vote from it (ZOOKEEPER-975); we may lead
    only if the votes are of our own round, `logicalclock == electionEpoch` (ZOOKEEPER-1514).
    """
    if leader != myid:
        stored = get_vote(votes, leader)
        return stored is not None and stored.state == ServerState.LEADING
    return logicalclock == election_epoch


def learning_state(learner_type: LearnerType) -> ServerState:
    """`FastLeaderElection.learningState`: FOLLOWING for a participant, OBSERVING for an observer."""
    match learner_type:
        case LearnerType.PARTICIPANT:
            return ServerState.FOLLOWING
        case LearnerType.OBSERVER:
            return ServerState.OBSERVING


def peer_state_for(peer: Peer, leader: ServerId) -> ServerState:
    """`FastLeaderElection.setPeerState(proposedLeader, voteSet)`: LEADING for ourselves, else learning."""
    return ServerState.LEADING if leader == peer.myid else learning_state(peer.learner_type)


def initial_vote(
    view: QuorumView, myid: ServerId, learner_type: LearnerType, last_logged_zxid: Zxid, current_epoch: Epoch
) -> Vote:
    """(`getInitId`, `getInitLastLoggedZxid`, `getPeerEpoch`): the vote an election starts with.

    The id is ours only if we are a voter of the current config; zxid and epoch are ours only for a
    PARTICIPANT. Otherwise each is `Long.MIN_VALUE`, so an observer's vote never wins the predicate.
    """
    participant = learner_type == LearnerType.PARTICIPANT
    return Vote(
        myid if myid in voters(view.current) else ServerId(INT64_MIN),
        last_logged_zxid if participant else Zxid(INT64_MIN),
        current_epoch if participant else Epoch(INT64_MIN),
    )


def look_for_leader(previous_round: int, initial: Vote) -> Step:
    """The set-up of `lookForLeader`: a new round with our initial vote, announced to every voter.

    `logicalclock` is incremented, the proposal becomes the initial vote, `recvset` and `outofelection` start
    empty, `notTimeout` starts at the minimum interval, and `sendNotifications()` runs (TLA+ `ZabTimeout`
    does the same when a leader or follower falls back to LOOKING).
    """
    return Step(ElectionState(round=previous_round + 1, initial=initial, proposal=initial), send_notifications=True)


def next_notification_timeout_ms(current_ms: int) -> int:
    """The backoff of an empty poll in lookForLeader: `notTimeout * 2`, capped at `maxNotificationInterval`."""
    return min(2 * current_ms, MAX_NOTIFICATION_INTERVAL_MS)


def notification_timeouts_ms(count: int) -> tuple[int, ...]:
    """The first `count` poll timeouts of one lookForLeader call when nothing arrives: 200, 400, ..., 60000."""
    timeouts = [MIN_NOTIFICATION_INTERVAL_MS]
    while len(timeouts) < count:
        timeouts.append(next_notification_timeout_ms(timeouts[-1]))
    return tuple(timeouts[:count])


def poll_timed_out(state: ElectionState, have_delivered: bool) -> Step:
    """lookForLeader's `poll(notTimeout)` returned nothing (TLA+ `NotmsgTimeout` feeds this case).

    If `QuorumCnxManager.haveDelivered()` our notifications are sent again; otherwise ZooKeeper calls
    `connectAll()`, which sends no notification. Either way the timeout doubles up to the cap.
    """
    assert not state.finalizing, "the finalize loop has its own timeout: finalize_timed_out"
    next_state = replace(state, notification_timeout_ms=next_notification_timeout_ms(state.notification_timeout_ms))
    return Step(next_state, send_notifications=have_delivered)


def decision_allowed(peer: Peer, state: ElectionState) -> bool:
    """The LOOKING path's quorum test: do the votes of this round back our proposal in every verifier?

    `getVoteTracker(recvset, Vote(proposedLeader, proposedZxid, logicalclock, proposedEpoch)).hasAllQuorums()`.
    """
    tracked = ElectionVote(state.proposal.leader, state.proposal.zxid, state.round, state.proposal.peer_epoch)
    return vote_tracker_has_all_quorums(peer.view, state.recvset, tracked)


def handle_notification(peer: Peer, state: ElectionState, n: Notification) -> Step:
    """lookForLeader's handling of one polled notification outside the finalize loop; TLA+ `HandleNotmsg`.

    Only a notification from a voter about a voter is looked at (`validVoter(n.sid) && validVoter(n.leader)`,
    ZOOKEEPER-2988); OBSERVING notifications are ignored; LOOKING ones go to `receive_looking`, FOLLOWING and
    LEADING ones to `received_following_notification` (for LEADING the oracle is never needed with the
    majority or hierarchical verifier, so `receivedLeadingNotification` adds nothing).
    """
    assert not state.finalizing, "inside the finalize loop notifications go to finalize_received"
    valid = current_and_next_voters(peer.view)
    if n.sid not in valid or n.leader not in valid:
        return Step(state)
    match n.state:
        case ServerState.LOOKING:
            return receive_looking(peer, state, n)
        case ServerState.OBSERVING:
            return Step(state)
        case ServerState.FOLLOWING | ServerState.LEADING:
            return received_following_notification(peer, state, n)


def receive_looking(peer: Peer, state: ElectionState, n: Notification) -> Step:
    """The LOOKING case of lookForLeader (TLA+ `HandleNotmsg`, LOOKING branch).

    1. Ignored if our initial zxid is -1 or the sender's zxid is -1 (ZOOKEEPER-261).
    2. A later round moves our clock to it, clears `recvset` and re-proposes the better of the sender's vote and
       our *initial* vote (not the old proposal), then notifies; an earlier round is ignored and not recorded;
       in the same round a better vote becomes our proposal and we notify.
    3. The sender's vote is recorded in `recvset`; if it now backs our proposal with all quorums
       (`decision_allowed`) the finalize loop starts.

    Where `totalOrderPredicate` is called for a leader without a weight the election aborts (`Step.aborted`),
    after a later round has already moved our clock (`logicalclock.set` comes before the predicate).
    """
    if NO_ZXID in (state.initial.zxid, n.zxid):
        return Step(state)
    system, pre_1419 = peer.view.current, peer.pre_1419
    round_, proposal, recvset, send = state.round, state.proposal, state.recvset, False
    if n.election_epoch < state.round:
        return Step(state)
    if not has_weight(system, n.leader):
        if n.election_epoch > state.round:
            return Step(replace(state, round=n.election_epoch, recvset=()), aborted=True)
        return Step(state, aborted=True)
    if n.election_epoch > state.round:
        round_, recvset, send = n.election_epoch, (), True
        proposal = n.vote if total_order_predicate(system, n.vote, state.initial, pre_1419=pre_1419) else state.initial
    elif total_order_predicate(system, n.vote, state.proposal, pre_1419=pre_1419):
        proposal, send = n.vote, True
    recvset = put_vote(recvset, n.sid, ElectionVote(n.leader, n.zxid, n.election_epoch, n.peer_epoch))
    next_state = replace(state, round=round_, proposal=proposal, recvset=recvset)
    return Step(replace(next_state, finalizing=decision_allowed(peer, next_state)), send_notifications=send)


def finalize_received(peer: Peer, state: ElectionState, m: Notification) -> Step:
    """A notification polled inside the finalize loop; TLA+ `WaitNewNotmsg`.

    If it beats our proposal it is put back at the tail of the queue and the finalize loop ends (the main loop
    will handle it); anything else — whatever its round, state or sender — is discarded and the wait goes on.
    The loop filters nothing, so a leader without a weight aborts the election here too (`Step.aborted`).
    """
    assert state.finalizing
    if not has_weight(peer.view.current, m.leader):
        return Step(state, aborted=True)
    if total_order_predicate(peer.view.current, m.vote, state.proposal, pre_1419=peer.pre_1419):
        return Step(replace(state, finalizing=False), requeue=m)
    return Step(state)


def finalize_timed_out(peer: Peer, state: ElectionState) -> Step:
    """No better notification within `finalizeWait`: we decide for our proposal in our round."""
    assert state.finalizing
    proposal = state.proposal
    decision = Decision(
        peer_state_for(peer, proposal.leader), proposal.leader, proposal.zxid, state.round, proposal.peer_epoch
    )
    return Step(replace(state, finalizing=False), decision=decision)


def received_following_notification(peer: Peer, state: ElectionState, n: Notification) -> Step:
    """`FastLeaderElection.receivedFollowingNotification`; TLA+ `ReceivedFollowingAndLeadingNotification`.

    A FOLLOWING/LEADING vote of our round is recorded in `recvset` (version 0, so against the comparison vote
    of version `n.version` only the leader id is compared) and may end the election; every such vote is also
    recorded in `outofelection` (with `n.version`, ZOOKEEPER-1732), where a quorum with `check_leader` joins the
    established leader and sets our clock to its round. `check_leader` is evaluated before the clock moves.
    """
    compared = ElectionVote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.state, n.version)
    decision = Decision(peer_state_for(peer, n.leader), n.leader, n.zxid, n.election_epoch, n.peer_epoch)
    recvset = state.recvset
    if n.election_epoch == state.round:
        recvset = put_vote(recvset, n.sid, ElectionVote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.state))
        if vote_tracker_has_all_quorums(peer.view, recvset, compared) and check_leader(
            peer.myid, state.round, recvset, n.leader, n.election_epoch
        ):
            return Step(replace(state, recvset=recvset), decision=decision)
    outofelection = put_vote(state.outofelection, n.sid, compared)
    next_state = replace(state, recvset=recvset, outofelection=outofelection)
    if vote_tracker_has_all_quorums(peer.view, outofelection, compared) and check_leader(
        peer.myid, state.round, outofelection, n.leader, n.election_epoch
    ):
        return Step(replace(next_state, round=n.election_epoch), decision=decision)
    return Step(next_state)


@dataclass(frozen=True, slots=True)
class ReceiverView:
    """What WorkerReceiver reads of its server when a message arrives.

    `peer_state` is `QuorumPeer.getPeerState()`; `logicalclock` the FLE round; `proposal` the live proposal
    (`FastLeaderElection.getVote()`); `current_vote` is `QuorumPeer.getCurrentVote()` — during LOOKING the vote
    of `startLeaderElection` or of the previous election, not the live proposal.
    """

    peer_state: ServerState
    logicalclock: int
    proposal: Vote
    current_vote: ElectionVote


@dataclass(frozen=True, slots=True)
class Reply:
    """A `ToSend` that WorkerReceiver queues at once, without lookForLeader."""

    recipient: ServerId
    state: ServerState
    leader: ServerId
    zxid: Zxid
    election_epoch: int
    peer_epoch: Epoch


@dataclass(frozen=True, slots=True)
class Received:
    """WorkerReceiver's verdict on one parsed message: offered to lookForLeader's queue, and the reply owed."""

    queued: bool
    reply: Reply | None


def worker_receiver(view: QuorumView, us: ReceiverView, n: Notification) -> Received:
    """`FastLeaderElection.Messenger.WorkerReceiver.run` after parsing; TLA+ `ReceiveNotmsg` (+ `ReplyNotmsg`).

    * Sender not in `current_and_next_voters`: answered with our `current_vote` (its id, zxid and peerEpoch),
      our `logicalclock` and our real state; nothing is queued.
    * We are LOOKING: queued; and if the sender is LOOKING in an earlier round, answered with the live proposal,
      our `logicalclock` and LOOKING.
    * We are not LOOKING and the sender is: answered with `current_vote`, including *its* electionEpoch, and our
      state. Otherwise nothing happens.
    """
    current = us.current_vote
    if n.sid not in current_and_next_voters(view):
        return Received(
            False, Reply(n.sid, us.peer_state, current.leader, current.zxid, us.logicalclock, current.peer_epoch)
        )
    if us.peer_state == ServerState.LOOKING:
        if n.state == ServerState.LOOKING and n.election_epoch < us.logicalclock:
            proposal = us.proposal
            reply = Reply(
                n.sid, ServerState.LOOKING, proposal.leader, proposal.zxid, us.logicalclock, proposal.peer_epoch
            )
            return Received(True, reply)
        return Received(True, None)
    if n.state == ServerState.LOOKING:
        return Received(
            False,
            Reply(n.sid, us.peer_state, current.leader, current.zxid, current.election_epoch, current.peer_epoch),
        )
    return Received(False, None)
