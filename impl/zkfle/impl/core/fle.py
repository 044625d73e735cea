"""FastLeaderElection as a sans-IO state machine: one server's election, inputs in, effects out.

This models `server/quorum/FastLeaderElection.java` of ZooKeeper 3.8 together with the fields of
`QuorumPeer` that the election reads or writes (myid, peer state, `currentVote`, learner type, last
logged zxid, `currentEpoch`, the current and last-seen quorum verifiers). ZooKeeper runs the election on
three threads (WorkerReceiver, WorkerSender, the QuorumPeer thread inside `lookForLeader`); here they are
one object whose inputs are:

* `look_for_leader()` -- `QuorumPeer.run` calling `lookForLeader()` (one call per election);
* `receive(n)` -- a decoded notification handed over by QuorumCnxManager (WorkerReceiver's logic runs
  first; when we are LOOKING the notification is queued and, while `lookForLeader` runs, processed);
* `timer_fired(kind, have_delivered=...)` -- the end of a `recvqueue.poll(timeout)` that found nothing;
* `set_peer_state(state)` / `update_election_vote(new_epoch)` / the `last_logged_zxid` and
  `current_epoch` attributes -- what QuorumPeer changes between elections.

Each input returns a `Step`: effects for the driver (`Send`, `SetTimer`, `CancelTimer`, `ConnectAll`,
`ReportLookingSid`, `Decide`) and trace events (`ElectionStart`, `ProposalChanged`, `Decided`).

Ordering model: the lookForLeader thread is assumed to keep up with WorkerReceiver, so the receive queue
is drained inside the input that filled it. Our own notifications take QuorumCnxManager's loopback path
(`QuorumCnxManager.toSend` to self puts the message straight into the receive queue): they are fed to
the same WorkerReceiver code as any other notification right after the step that sent them, and so are
counted in `recvset` exactly as ZooKeeper counts them. The queue still matters: notifications that
arrive while LOOKING but outside `lookForLeader` wait in it (they are not cleared at the start of an
election), the finalize loop puts a better notification back at its tail, and `leaveInstance` clears it.

Not modelled: config bytes are opaque (no `processReconfig`), notifications with an unknown state ordinal
never reach the core (WorkerReceiver drops them; a decoded `Notification` always has a `ServerState`),
the 2-node oracle (`QuorumOracleMaj`; never consulted for QuorumMaj/QuorumHierarchical), FLE `shutdown`.
"""

from __future__ import annotations

import enum
import functools
from collections import deque
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Protocol

from zkfle.impl.core.quorum import MissingWeightError, QuorumVerifier
from zkfle.spec.vocabulary import LearnerType, ServerState, Vote
from zkfle.spec.zxid import INT64_MIN, Epoch, ServerId, Zxid

CURRENT_VERSION = 2
"""`FastLeaderElection.Notification.CURRENTVERSION` (0x2): the format version we send."""

LOOKING = ServerState.LOOKING
FOLLOWING = ServerState.FOLLOWING
LEADING = ServerState.LEADING
OBSERVING = ServerState.OBSERVING


MAX_POLLS_PER_INPUT = 10_000
"""A bound on the notifications lookForLeader takes from its queue in reaction to one input.

The core drains its queue within an input, as if the election thread always kept up. Only a vote order that
is not a total order (the pre-ZOOKEEPER-1419 switch) can keep requeueing votes that beat each other forever;
there the bound leaves the rest queued for the next input or timer, and the election, as in ZooKeeper, does
not settle. A correct order never comes near it.
"""


@dataclass(frozen=True, slots=True)
class FleOptions:
    """Timer constants and switches that bring back fixed ZooKeeper bugs (all off = ZooKeeper 3.8).

    Timers (`FastLeaderElection` statics): `finalizeWait` 200 ms, `minNotificationInterval` 200 ms
    (`zookeeper.fastleader.minNotificationInterval`), `maxNotificationInterval` 60000 ms.

    Bug switches, each restoring the code before the named fix:
    * `pre_zk1419_predicate`: `totalOrderPredicate` without the equal-epoch condition on the id clause
      (higher id wins whenever the zxids are equal, whatever the epochs) -- not a total order.
    * `pre_zk1514_check_leader`: `checkLeader` accepts ourselves as leader without
      `logicalclock == electionEpoch`, so FOLLOWING votes of an older round can make us lead.
    * `pre_zk1732_vote_equality`: `Vote.equals` compares id, zxid, electionEpoch and peerEpoch for every
      vote, also FOLLOWING/LEADING ones, so a joiner may never see a quorum of "equal" votes.
    * `pre_zk261_zxid_filter`: no ignoring of LOOKING notifications when our or the sender's zxid is -1.
    * `pre_zk975_all_votes`: the shortcut of `lookForLeader` before ZOOKEEPER-975 (3.3's LOOKING case, "If
      have received from all nodes, then terminate"): once `recvset` holds a vote from every voter, decide
      for the proposal at once, without a quorum for it and without the finalize wait. A restarted server
      with the highest (zxid, id) that is sent the last LOOKING notifications of the others' election again
      (QuorumCnxManager re-sends `lastMessageSent` on a new connection) goes LEADING beside a running leader.
    """

    finalize_wait_ms: int = 200
    min_notification_interval_ms: int = 200
    max_notification_interval_ms: int = 60000
    pre_zk1419_predicate: bool = False
    pre_zk1514_check_leader: bool = False
    pre_zk1732_vote_equality: bool = False
    pre_zk261_zxid_filter: bool = False
    pre_zk975_all_votes: bool = False


@dataclass(frozen=True, slots=True)
class Notification:
    """`FastLeaderElection.Notification` as WorkerReceiver builds it, or a `ToSend` we emit.

    `sid` is the sender. `version` is the message format version (2 for 3.8 messages, 0 for the legacy
    28/40-byte forms); `config` is the opaque `QuorumVerifier.toString()` bytes (empty when absent).
    """

    sid: int
    state: ServerState
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    version: int = CURRENT_VERSION
    config: bytes = b""


@dataclass(frozen=True, slots=True)
class ElectionVote:
    """`server/quorum/Vote.java` in full: what `recvset`, `outofelection` and `currentVote` hold.

    The spec's `Vote` keeps only the ordered part (leader, zxid, peerEpoch); the election also needs the
    round (`electionEpoch`), the sender's state and the message version for `Vote.equals`.
    Java's constructors default `electionEpoch` to -1, the state to LOOKING and the version to 0.
    """

    leader: int
    zxid: int
    election_epoch: int = -1
    peer_epoch: int = -1
    state: ServerState = LOOKING
    version: int = 0

    def ordered(self) -> Vote:
        """The (leader, zxid, peerEpoch) part, as `Vote.toString()` prints it."""
        return Vote(ServerId(self.leader), Zxid(self.zxid), Epoch(self.peer_epoch))


class VoteView(Protocol):
    """The fields `Vote.equals` and `checkLeader` read: an `ElectionVote`, or a LOOKING `Notification`
    standing for the vote built from it (see `_Round.recvset`)."""

    @property
    def leader(self) -> int: ...
    @property
    def zxid(self) -> int: ...
    @property
    def election_epoch(self) -> int: ...
    @property
    def peer_epoch(self) -> int: ...
    @property
    def state(self) -> ServerState: ...
    @property
    def version(self) -> int: ...


def vote_equals(a: VoteView, b: VoteView, *, strict: bool = False) -> bool:
    """`Vote.equals` (ZOOKEEPER-1732/1805): LOOKING on either side -> id, zxid, electionEpoch, peerEpoch;
    otherwise id only when exactly one side has version > 0, else id and peerEpoch.

    `strict` is the pre-ZOOKEEPER-1732 equality: all four fields whatever the states.
    """
    if strict or a.state is LOOKING or b.state is LOOKING:
        return (
            a.leader == b.leader
            and a.zxid == b.zxid
            and a.election_epoch == b.election_epoch
            and a.peer_epoch == b.peer_epoch
        )
    if (a.version > 0) != (b.version > 0):
        return a.leader == b.leader
    return a.leader == b.leader and a.peer_epoch == b.peer_epoch


class TimerKind(enum.Enum):
    """The two waits of `lookForLeader`: `recvqueue.poll(notTimeout)` and the finalize `poll(finalizeWait)`."""

    POLL = "poll"
    FINALIZE = "finalize"


@dataclass(frozen=True, slots=True)
class Send:
    """`sendqueue.offer(ToSend)`: the driver hands `notification` (sender = us) to QuorumCnxManager for `to`."""

    to: int
    notification: Notification


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Start (or restart) the one wait of `lookForLeader`; any other armed timer was cancelled first."""

    kind: TimerKind
    ms: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Stop the wait of this kind: the election left that poll for good."""

    kind: TimerKind


@dataclass(frozen=True, slots=True)
class ConnectAll:
    """`QuorumCnxManager.connectAll()`: the poll timed out and `haveDelivered()` was false."""


@dataclass(frozen=True, slots=True)
class ReportLookingSid:
    """`Leader.reportLookingSid(sid)` (ZOOKEEPER-3109): we lead and a voter told us it is LOOKING."""

    sid: int


@dataclass(frozen=True, slots=True)
class Decide:
    """`lookForLeader` returned `vote` after `setPeerState(state)`; `vote.election_epoch` is the round."""

    state: ServerState
    vote: ElectionVote


Effect = Send | SetTimer | CancelTimer | ConnectAll | ReportLookingSid | Decide


@dataclass(frozen=True, slots=True)
class ElectionStart:
    """Trace event: `lookForLeader` began round `round` proposing `vote` ("New election. My id = ...")."""

    round: int
    vote: Vote


@dataclass(frozen=True, slots=True)
class ProposalChanged:
    """Trace event: `updateProposal` inside `lookForLeader` (a higher round, or a better vote this round)."""

    round: int
    vote: Vote


@dataclass(frozen=True, slots=True)
class Decided:
    """Trace event: the election ended in `state` for `vote` in round `round`."""

    state: ServerState
    round: int
    vote: Vote


@dataclass(frozen=True, slots=True)
class ElectionAborted:
    """Trace event: `lookForLeader` threw (a hierarchical weight lookup for a server without weight is a
    NullPointerException in ZooKeeper); `QuorumPeer.run` logs "Unexpected exception" and starts over."""

    round: int
    sid: int


TraceEvent = ElectionStart | ProposalChanged | Decided | ElectionAborted


@dataclass(frozen=True, slots=True)
class Step:
    """What one input produced, in order."""

    effects: tuple[Effect, ...] = ()
    events: tuple[TraceEvent, ...] = ()


_NOTHING = Step()


@dataclass(frozen=True, slots=True)
class _Wait:
    """A wait of `lookForLeader` and the step that does nothing but (re)arm it -- what most notifications
    produce. Both are immutable, so `_wait` builds them once per timeout value instead of once per input."""

    timer: SetTimer
    rearm_only: Step


@functools.cache
def _wait(kind: TimerKind, ms: int) -> _Wait:
    """The shared `_Wait` for `kind` and `ms` (few distinct values: the constants and the doublings)."""
    timer = SetTimer(kind, ms)
    return _Wait(timer, Step((timer,)))


VoteKey = tuple[int, int, int, int]
"""(leader, zxid, electionEpoch, peerEpoch): all that `Vote.equals` compares when either vote is LOOKING."""

_NO_ACKS: frozenset[int] = frozenset()
"""The ack set of a vote nobody in `recvset` holds."""


@dataclass(slots=True)
class _Round:
    """The locals of one `lookForLeader` call: `recvset`, `outofelection`, the two waits, finalize flag.

    Speed choices (the LOOKING notification is the hot path):
    * `recvset[sid]` for a LOOKING sender is the notification itself. ZooKeeper stores
      `new Vote(leader, zxid, electionEpoch, peerEpoch)`: the same fields, state LOOKING, version 0, and
      `Vote.equals` never reads the version when either side is LOOKING. Building a frozen `ElectionVote`
      per notification cost more than the rest of its processing.
    * `acks[key]` is the set of sids in `recvset` whose vote has that key, kept in step by `put_vote`, so
      "does a quorum back (proposal, logicalclock)?" after each LOOKING notification is a dict lookup
      instead of a scan of `recvset` (the query is LOOKING, so equality is equality of keys).

    `poll` is the `recvqueue.poll(notTimeout)` wait (its ms is `notTimeout`), `finalize` the
    `poll(finalizeWait)` one.
    """

    poll: _Wait
    finalize: _Wait
    recvset: dict[int, VoteView] = field(default_factory=dict)
    acks: dict[VoteKey, set[int]] = field(default_factory=dict)
    outofelection: dict[int, ElectionVote] = field(default_factory=dict)
    finalizing: bool = False

    def put_vote(self, sid: int, vote: VoteView) -> None:
        """`recvset.put(sid, vote)`, moving `sid` to the ack set of its new vote."""
        key = (vote.leader, vote.zxid, vote.election_epoch, vote.peer_epoch)
        old = self.recvset.get(sid)
        self.recvset[sid] = vote
        if old is not None:
            old_key = (old.leader, old.zxid, old.election_epoch, old.peer_epoch)
            if old_key == key:
                return
            old_acks = self.acks[old_key]
            old_acks.discard(sid)
            if not old_acks:
                del self.acks[old_key]
        acks = self.acks.get(key)
        if acks is None:
            self.acks[key] = {sid}
        else:
            acks.add(sid)

    def clear_recvset(self) -> None:
        """`recvset.clear()`."""
        self.recvset.clear()
        self.acks.clear()


class FastLeaderElection:
    """One server's FastLeaderElection plus the QuorumPeer fields it uses.

    Construction is `QuorumPeer.startLeaderElection`: `currentVote = Vote(myid, lastLoggedZxid,
    currentEpoch)`, a fresh `logicalclock` of 0 and the proposal (-1, -1, 0) of `FastLeaderElection.starter`.
    The object lives as long as the process: `logicalclock` carries over from one election to the next.
    """

    def __init__(
        self,
        myid: int,
        verifier: QuorumVerifier,
        *,
        last_logged_zxid: int,
        current_epoch: int,
        learner_type: LearnerType = LearnerType.PARTICIPANT,
        last_seen_verifier: QuorumVerifier | None = None,
        config: bytes = b"",
        options: FleOptions = FleOptions(),
    ) -> None:
        self.myid = myid
        self.learner_type = learner_type
        self.last_logged_zxid = last_logged_zxid
        """`QuorumPeer.getLastLoggedZxid()` (the in-memory DataTree zxid), read afresh whenever used."""
        self.current_epoch = current_epoch
        """`QuorumPeer.getCurrentEpoch()`, read afresh whenever used."""
        self.config = config
        self.options = options
        self.peer_state = LOOKING
        self.current_vote: ElectionVote = ElectionVote(myid, last_logged_zxid, -1, current_epoch)
        self.logicalclock = 0
        self.proposed_leader = -1
        self.proposed_zxid = -1
        self.proposed_epoch = 0
        self.recvqueue: deque[Notification] = deque()
        self._loopback: deque[Notification] = deque()
        self._round: _Round | None = None
        self._armed: TimerKind | None = None
        self._effects: list[Effect] = []
        self._events: list[TraceEvent] = []
        self.verifier = verifier
        self.last_seen_verifier = last_seen_verifier
        self._set_views()

    # ----------------------------------------------------------------- QuorumPeer views

    def _set_views(self) -> None:
        """Cache `getCurrentAndNextConfigVoters()` and the verifiers `getVoteTracker` uses."""
        voters = set(self.verifier.voting_members())
        trackers: list[tuple[QuorumVerifier, frozenset[int]]] = [(self.verifier, self.verifier.voting_members())]
        last_seen = self.last_seen_verifier
        if last_seen is not None:
            voters |= last_seen.voting_members()
            if last_seen.version > self.verifier.version:
                trackers.append((last_seen, last_seen.voting_members()))
        self._voters = frozenset(voters)
        self._voter_order = tuple(sorted(voters))
        self._trackers = tuple(trackers)
        # recvset/outofelection only hold votes from `_voters`; with one verifier whose voters are exactly
        # those, SyncedLearnerTracker's voter filter changes nothing and can be skipped.
        self._unfiltered = len(trackers) == 1 and trackers[0][1] == self._voters

    def set_verifiers(self, verifier: QuorumVerifier, last_seen_verifier: QuorumVerifier | None = None) -> None:
        """`QuorumPeer.setQuorumVerifier` / `setLastSeenQuorumVerifier` (e.g. after a committed reconfig)."""
        self.verifier = verifier
        self.last_seen_verifier = last_seen_verifier
        self._set_views()

    @property
    def in_election(self) -> bool:
        """True while `lookForLeader` runs."""
        return self._round is not None

    def valid_voter(self, sid: int) -> bool:
        """`FastLeaderElection.validVoter`: `sid` is a voter of the current or the last-seen config."""
        return sid in self._voters

    def init_id(self) -> int:
        """`getInitId`: our id if we are a voting member of the current config, else Long.MIN_VALUE."""
        return self.myid if self.myid in self.verifier.voting_members() else INT64_MIN

    def init_last_logged_zxid(self) -> int:
        """`getInitLastLoggedZxid`: the last logged zxid for a PARTICIPANT, else Long.MIN_VALUE."""
        return self.last_logged_zxid if self.learner_type is LearnerType.PARTICIPANT else INT64_MIN

    def init_peer_epoch(self) -> int:
        """`getPeerEpoch`: `currentEpoch` for a PARTICIPANT, else Long.MIN_VALUE."""
        return self.current_epoch if self.learner_type is LearnerType.PARTICIPANT else INT64_MIN

    def proposal(self) -> ElectionVote:
        """`getVote()`: `Vote(proposedLeader, proposedZxid, proposedEpoch)`."""
        return ElectionVote(self.proposed_leader, self.proposed_zxid, -1, self.proposed_epoch)

    # ----------------------------------------------------------------- inputs

    def look_for_leader(self) -> Step:
        """`lookForLeader()` up to its first poll: a new round, the initial vote, `sendNotifications()`."""
        assert self._round is None, "lookForLeader is already running"
        assert self.peer_state is LOOKING, "QuorumPeer only calls lookForLeader when LOOKING"
        self._start_round()
        return self._pump(polled=True)

    def _start_round(self) -> None:
        """Fresh `recvset`/`outofelection`/`notTimeout`; `logicalclock += 1`; the initial vote; send it."""
        options = self.options
        self._round = _Round(
            _wait(TimerKind.POLL, options.min_notification_interval_ms),
            _wait(TimerKind.FINALIZE, options.finalize_wait_ms),
        )
        self.logicalclock += 1
        self._update_proposal(self.init_id(), self.init_last_logged_zxid(), self.init_peer_epoch())
        self._events.append(ElectionStart(self.logicalclock, self._proposed_vote()))
        self._send_notifications()

    def receive(self, n: Notification) -> Step:
        """A notification from QuorumCnxManager's receive queue (WorkerReceiver, then lookForLeader)."""
        self._worker_receiver(n)
        return self._pump(polled=False)

    def timer_fired(self, kind: TimerKind, *, have_delivered: bool) -> Step:
        """The armed poll found nothing within its timeout.

        POLL: `haveDelivered()` (given by the driver: some per-peer send queue is empty) decides between
        `sendNotifications()` and `connectAll()`; then `notTimeout` doubles up to the maximum.
        FINALIZE: no better vote came within `finalizeWait`: the proposal wins.
        """
        assert self._round is not None and self._armed is kind, f"timer {kind} is not armed"
        self._armed = None
        rnd = self._round
        if kind is TimerKind.FINALIZE:
            self._decide(self.proposed_leader, self.proposal_end_vote())
            return self._pump(polled=False)
        if have_delivered:
            self._send_notifications()
        else:
            self._effects.append(ConnectAll())
        rnd.poll = _wait(TimerKind.POLL, min(2 * rnd.poll.timer.ms, self.options.max_notification_interval_ms))
        return self._pump(polled=True)

    def set_peer_state(self, state: ServerState) -> Step:
        """`QuorumPeer.setPeerState` from outside the election (e.g. `updateServerState` -> LOOKING)."""
        assert self._round is None, "QuorumPeer changes its state outside lookForLeader"
        self.peer_state = state
        return self._pump(polled=False)

    def update_election_vote(self, new_epoch: int) -> None:
        """`QuorumPeer.updateElectionVote`: after sync the current vote carries the new peer epoch."""
        v = self.current_vote
        self.current_vote = ElectionVote(v.leader, v.zxid, v.election_epoch, new_epoch, v.state, v.version)

    def proposal_end_vote(self) -> ElectionVote:
        """`Vote(proposedLeader, proposedZxid, logicalclock, proposedEpoch)`: the tracked and returned vote."""
        return ElectionVote(self.proposed_leader, self.proposed_zxid, self.logicalclock, self.proposed_epoch)

    # ----------------------------------------------------------------- rules

    def total_order_predicate(  # noqa: PLR0917 - Java's six longs; a hot path, no wrapper objects
        self, new_id: int, new_zxid: int, new_epoch: int, cur_id: int, cur_zxid: int, cur_epoch: int
    ) -> bool:
        """`totalOrderPredicate`: never for a zero-weight candidate (ZOOKEEPER-491); else higher peerEpoch,
        then higher zxid, then higher id (the id clause only for equal epochs, ZOOKEEPER-1419)."""
        if self.verifier.weight(new_id) == 0:
            return False
        if self.options.pre_zk1419_predicate:
            return (
                new_epoch > cur_epoch
                or (new_epoch == cur_epoch and new_zxid > cur_zxid)
                or (new_zxid == cur_zxid and new_id > cur_id)
            )
        return new_epoch > cur_epoch or (
            new_epoch == cur_epoch and (new_zxid > cur_zxid or (new_zxid == cur_zxid and new_id > cur_id))
        )

    def has_all_quorums(self, votes: Mapping[int, VoteView], vote: VoteView) -> bool:
        """`getVoteTracker(votes, vote).hasAllQuorums()`: the sids whose vote equals `vote` are a quorum of
        every tracked verifier (see `_is_quorum`)."""
        strict = self.options.pre_zk1732_vote_equality
        return self._is_quorum({sid for sid, v in votes.items() if vote_equals(vote, v, strict=strict)})

    def _is_quorum(self, acks: Set[int]) -> bool:
        """`SyncedLearnerTracker.hasAllQuorums`: `acks`, restricted to each verifier's voters (`addAck`),
        contains a quorum of every verifier."""
        if self._unfiltered:
            return self.verifier.contains_quorum(acks)
        return all(verifier.contains_quorum(acks & voting) for verifier, voting in self._trackers)

    def check_leader(self, votes: Mapping[int, VoteView], leader: int, election_epoch: int) -> bool:
        """`checkLeader`: another leader must have told us it is LEADING; we may lead only in the round we
        are in (ZOOKEEPER-1514)."""
        if leader != self.myid:
            v = votes.get(leader)
            return v is not None and v.state is LEADING
        return self.options.pre_zk1514_check_leader or self.logicalclock == election_epoch

    # ----------------------------------------------------------------- WorkerReceiver

    def _worker_receiver(self, n: Notification) -> None:
        """`Messenger.WorkerReceiver.run` for one decoded message (config handling not modelled)."""
        if n.sid not in self._voters:
            # A non-voter (observer, non-voting follower): answer at once with currentVote, never queue.
            cv = self.current_vote
            self._send(n.sid, cv.leader, cv.zxid, self.logicalclock, self.peer_state, cv.peer_epoch)
            return
        if self.peer_state is LOOKING:
            self.recvqueue.append(n)
            if n.state is LOOKING and n.election_epoch < self.logicalclock:
                # A LOOKING peer lags behind: tell it our live proposal and round.
                self._send(n.sid, self.proposed_leader, self.proposed_zxid, self.logicalclock, LOOKING,
                           self.proposed_epoch)  # fmt: skip
        elif n.state is LOOKING:
            if self.peer_state is LEADING:
                self._effects.append(ReportLookingSid(n.sid))
            cv = self.current_vote
            self._send(n.sid, cv.leader, cv.zxid, cv.election_epoch, self.peer_state, cv.peer_epoch)

    def _send(  # noqa: PLR0917 - the fields of a ToSend, in ToSend's order
        self, to: int, leader: int, zxid: int, election_epoch: int, state: ServerState, peer_epoch: int
    ) -> None:
        msg = Notification(self.myid, state, leader, zxid, election_epoch, peer_epoch, CURRENT_VERSION, self.config)
        if to == self.myid:
            self._loopback.append(msg)
        else:
            self._effects.append(Send(to, msg))

    def _send_notifications(self) -> None:
        """`sendNotifications()`: the proposal, our round and LOOKING to every current or next voter."""
        msg = Notification(
            self.myid,
            LOOKING,
            self.proposed_leader,
            self.proposed_zxid,
            self.logicalclock,
            self.proposed_epoch,
            CURRENT_VERSION,
            self.config,
        )
        effects = self._effects
        for sid in self._voter_order:
            if sid == self.myid:
                self._loopback.append(msg)
            else:
                effects.append(Send(sid, msg))

    # ----------------------------------------------------------------- lookForLeader

    def _pump(self, *, polled: bool) -> Step:
        """Run WorkerReceiver on loopback copies and lookForLeader on queued notifications until both wait;
        then (re)arm the wait lookForLeader is blocked in. `polled` = a poll has already returned."""
        loopback = self._loopback
        queue = self.recvqueue
        polls = 0
        while True:
            if loopback:
                self._worker_receiver(loopback.popleft())
            elif self._round is not None and queue and polls < MAX_POLLS_PER_INPUT:
                polls += 1
                polled = True
                try:
                    self._poll_returned(queue.popleft(), self._round)
                except MissingWeightError as e:
                    self._abort(e.sid)
            else:
                break
        rnd = self._round
        effects = self._effects
        if rnd is not None and polled:
            wait = rnd.finalize if rnd.finalizing else rnd.poll
            kind = wait.timer.kind
            if self._armed is not None and self._armed is not kind:
                effects.append(CancelTimer(self._armed))
            self._armed = kind
            if not effects and not self._events:
                return wait.rearm_only
            effects.append(wait.timer)
        elif not effects and not self._events:
            return _NOTHING
        step = Step(tuple(effects), tuple(self._events))
        self._effects.clear()
        self._events.clear()
        return step

    def _poll_returned(self, n: Notification, rnd: _Round) -> None:
        if rnd.finalizing:
            # Finalize loop: a better vote goes back to the tail and the main loop resumes; anything else
            # is dropped, whatever its round, state or sender.
            if self.total_order_predicate(
                n.leader, n.zxid, n.peer_epoch, self.proposed_leader, self.proposed_zxid, self.proposed_epoch
            ):
                self.recvqueue.append(n)
                rnd.finalizing = False
            return
        if not (n.sid in self._voters and n.leader in self._voters):
            return  # "Ignoring notification for [non-cluster member] sid ... from [non-quorum member] sid ..."
        state = n.state
        if state is LOOKING:
            self._looking_notification(n, rnd)
        elif state is not OBSERVING:  # FOLLOWING or LEADING; OBSERVING: "Notification from observer"
            self._received_following_notification(n, rnd)

    def _looking_notification(self, n: Notification, rnd: _Round) -> None:
        if not self.options.pre_zk261_zxid_filter and (self.init_last_logged_zxid() == -1 or n.zxid == -1):
            return  # "Ignoring notification as our zxid is -1" / "... from member with -1 zxid"
        if n.election_epoch > self.logicalclock:
            self.logicalclock = n.election_epoch
            rnd.clear_recvset()
            init_id, init_zxid, init_epoch = self.init_id(), self.init_last_logged_zxid(), self.init_peer_epoch()
            if self.total_order_predicate(n.leader, n.zxid, n.peer_epoch, init_id, init_zxid, init_epoch):
                self._update_proposal(n.leader, n.zxid, n.peer_epoch)
            else:
                self._update_proposal(init_id, init_zxid, init_epoch)
            self._events.append(ProposalChanged(self.logicalclock, self._proposed_vote()))
            self._send_notifications()
        elif n.election_epoch < self.logicalclock:
            return  # "Notification election epoch is smaller than logicalclock"
        elif self.total_order_predicate(
            n.leader, n.zxid, n.peer_epoch, self.proposed_leader, self.proposed_zxid, self.proposed_epoch
        ):
            self._update_proposal(n.leader, n.zxid, n.peer_epoch)
            self._events.append(ProposalChanged(self.logicalclock, self._proposed_vote()))
            self._send_notifications()
        rnd.put_vote(n.sid, n)  # the notification stands for its LOOKING vote (see `_Round`)
        if (
            self.options.pre_zk975_all_votes
            and len(rnd.recvset) == len(self._voters)
            and self.verifier.weight(self.proposed_leader) != 0
        ):
            self._decide(self.proposed_leader, self.proposal_end_vote())  # 3.3: "received from all nodes"
            return
        end_vote = (self.proposed_leader, self.proposed_zxid, self.logicalclock, self.proposed_epoch)
        if self._is_quorum(rnd.acks.get(end_vote, _NO_ACKS)):  # has_all_quorums(recvset, proposal_end_vote())
            rnd.finalizing = True

    def _received_following_notification(self, n: Notification, rnd: _Round) -> None:
        """`receivedFollowingNotification` (and `receivedLeadingNotification`, whose oracle is never
        consulted for QuorumMaj/QuorumHierarchical: it logs "Oracle indicates not to follow")."""
        seen = ElectionVote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.state, n.version)
        end_vote = ElectionVote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        if n.election_epoch == self.logicalclock:
            rnd.put_vote(n.sid, ElectionVote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.state))
            if self.has_all_quorums(rnd.recvset, seen) and self.check_leader(rnd.recvset, n.leader, n.election_epoch):
                self._decide(n.leader, end_vote)
                return
        # Joining an established ensemble: a quorum must follow the same leader (ZOOKEEPER-1732 keeps the
        # current round's votes here too).
        rnd.outofelection[n.sid] = seen
        if self.has_all_quorums(rnd.outofelection, seen) and self.check_leader(
            rnd.outofelection, n.leader, n.election_epoch
        ):
            self.logicalclock = n.election_epoch
            self._decide(n.leader, end_vote)

    def _update_proposal(self, leader: int, zxid: int, epoch: int) -> None:
        self.proposed_leader = leader
        self.proposed_zxid = zxid
        self.proposed_epoch = epoch

    def _proposed_vote(self) -> Vote:
        """`proposal().ordered()` without the intermediate `ElectionVote`."""
        return Vote(ServerId(self.proposed_leader), Zxid(self.proposed_zxid), Epoch(self.proposed_epoch))

    def _decide(self, leader: int, vote: ElectionVote) -> None:
        """`setPeerState(leader, voteSet)`, `leaveInstance` (clears the receive queue), return `vote`;
        QuorumPeer.run then stores it as `currentVote`."""
        if leader == self.myid:
            state = LEADING
        else:
            state = FOLLOWING if self.learner_type is LearnerType.PARTICIPANT else OBSERVING
        self.peer_state = state
        self.current_vote = vote
        self._leave()
        self.recvqueue.clear()
        self._effects.append(Decide(state, vote))
        self._events.append(Decided(state, vote.election_epoch, vote.ordered()))

    def _leave(self) -> None:
        self._round = None
        if self._armed is not None:
            self._effects.append(CancelTimer(self._armed))
            self._armed = None

    def _abort(self, sid: int) -> None:
        """lookForLeader threw; QuorumPeer.run catches it, stays LOOKING and calls lookForLeader again
        (the receive queue is not cleared: leaveInstance was not reached)."""
        self._events.append(ElectionAborted(self.logicalclock, sid))
        self._leave()
        self._start_round()
