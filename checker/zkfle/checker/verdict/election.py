"""The election invariants read off the events: ROUND_MONOTONIC, VOTE_MONOTONIC, DECISION_QUORUM and
LEADER_HAS_MAX_HISTORY. (FLE_CONFORMS, the full replay, is in `fle_replay`.)"""

from __future__ import annotations

from zkfle.checker.verdict.replay import Check, Sink
from zkfle.checker.verdict.world import Ballot, Handler, HandlerKey, World
from zkfle.spec.invariants import Invariant
from zkfle.spec.quorum import has_all_quorums
from zkfle.spec.trace import Boot, Decide, ElectionStart, Notification, Proposal, Recv, TraceVote
from zkfle.spec.vocabulary import LearnerType, Vote
from zkfle.spec.zxid import Epoch, ServerId, Zxid


def _order(leader: int, zxid: int, peer_epoch: int) -> tuple[int, int, int]:
    """The key of `FastLeaderElection.totalOrderPredicate` (3.8, after ZOOKEEPER-1419): (peerEpoch, zxid, id)."""
    return (peer_epoch, zxid, leader)


class RoundMonotonic(Check):
    """ROUND_MONOTONIC: within one incarnation a server's election round never decreases.

    `logicalclock` only grows: `lookForLeader` increments it, a LOOKING notification of a later round sets
    it to that round, and an earlier round is ignored (FastLeaderElection.tla `logicalClock`). The one place
    ZooKeeper sets it lower is joining an established leader out of election (`lookForLeader`'s
    `outofelection` branch: `logicalclock.set(n.electionEpoch)`), which ends the election; the `decide` event
    reports that round, so the clock after a `decide` is the decided round and the next `election_start` must
    lie above it.
    """

    def pre(self) -> dict[HandlerKey, Handler]:
        return {ElectionStart: self._start, Proposal: self._proposal}

    def _start(self, ev: ElectionStart) -> None:
        clock = self._world.servers[ev.sid].clock
        if ev.round <= clock:
            message = f"server {ev.sid} starts an election in round {ev.round}, but its round was already {clock}"
            self._sink.report(Invariant.ROUND_MONOTONIC, ev.seq, ev.sid, message, ())

    def _proposal(self, ev: Proposal) -> None:
        clock = self._world.servers[ev.sid].clock
        if ev.round < clock:
            message = f"server {ev.sid} proposes in round {ev.round}, but its round was already {clock}"
            self._sink.report(Invariant.ROUND_MONOTONIC, ev.seq, ev.sid, message, ())


class VoteMonotonic(Check):
    """VOTE_MONOTONIC: within one round a server's proposals only grow in (peer_epoch, zxid, leader).

    In one round `lookForLeader` replaces its proposal only when `totalOrderPredicate(new, current)` holds
    (FastLeaderElection.tla `HandleNotmsg`); only a later round may restart from the initial vote.
    """

    def pre(self) -> dict[HandlerKey, Handler]:
        return {Proposal: self._proposal}

    def _proposal(self, ev: Proposal) -> None:
        t = self._world.servers[ev.sid]
        old = t.proposal
        if old is None or t.proposal_round != ev.round:
            return
        new = ev.vote
        if _order(new.leader, new.zxid, new.peer_epoch) <= _order(old.leader, old.zxid, old.peer_epoch):
            message = (
                f"server {ev.sid} in round {ev.round} changes its proposal from {old} to {_show(new)}, "
                f"which is not greater"
            )
            self._sink.report(Invariant.VOTE_MONOTONIC, ev.seq, ev.sid, message, ())


def backs(ballot: Ballot, decided: Decide) -> bool:
    """Whether a notification taken in supports a decision, as `Vote.equals` counts it in the vote trackers:
    a LOOKING vote of the decided round for the same (leader, zxid, peerEpoch), or a FOLLOWING / LEADING vote
    for the same leader (zxid and round are not compared then, ZOOKEEPER-1805)."""
    msg, vote = ballot.msg, decided.vote
    if msg.leader != vote.leader:
        return False
    if msg.state == "LOOKING":
        return msg.round == decided.round and msg.zxid == vote.zxid and msg.peer_epoch == vote.peer_epoch
    return msg.state != "OBSERVING"


def looking_backs(ballot: Ballot, decided: Decide) -> bool:
    return ballot.msg.state == "LOOKING" and backs(ballot, decided)


class DecisionQuorum(Check):
    """DECISION_QUORUM: every `decide` is backed by a quorum of matching votes the server had received.

    `lookForLeader` returns only when `getVoteTracker(recvset or outofelection, vote).hasAllQuorums()`
    (FastLeaderElection.tla `HasQuorums`). The votes counted are, per sender, its latest LOOKING notification
    of the decided round and its latest FOLLOWING/LEADING notification taken in in this incarnation
    (lookForLeader keeps `recvset` and `outofelection` apart), plus the server itself (its self-notification,
    which a trace need not show). A FOLLOWING/LEADING notification of the server's own round also stays in
    `recvset` when a later one of another round arrives (`receivedFollowingNotification` puts only a same-round
    one there), so the latest of each (sender, round) from the server's round on counts too: for example a
    stale FOLLOWING vote that QuorumCnxManager re-sent as `lastMessageSent` on a new connection.

    "Latest" is as of the moment the quorum was seen, which need not be the `decide`: once `recvset` holds a
    quorum, lookForLeader drains the queue for `finalizeWait` ms and drops every notification that is not
    greater than its proposal without putting it in `recvset` (a sender that restarted its election in the same
    round with a lower zxid, after a TRUNC, is one). The trace does not say which receipts were drained, so the
    decision is backed when the latest LOOKING votes form a quorum at some moment since the proposal became the
    decided vote (its last `proposal` or `election_start`): at that event, or at any receipt after it. The
    exact order of drained and counted receipts is FLE_CONFORMS's to judge. A LOOKING notification with zxid
    -1 (a member whose database is not trusted) is ignored by lookForLeader and so leaves `recvset` as it was.
    """

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._settled_by_round: dict[int, dict[tuple[int, int], Ballot]] = {}
        """receiver -> (sender, round) -> its latest FOLLOWING/LEADING notification, rounds from its own on."""
        self._looking: dict[int, dict[tuple[int, int], list[Ballot]]] = {}
        """receiver -> (sender, round) -> the LOOKING notifications taken in, one per change of vote."""
        self._since: dict[int, int] = {}
        """receiver -> seq of its last `proposal` or `election_start`: where its current proposal began."""

    def pre(self) -> dict[HandlerKey, Handler]:
        return {Decide: self._decide}

    def post(self) -> dict[HandlerKey, Handler]:
        return {
            (Recv, Notification): self._recv,
            ElectionStart: self._forget,
            Proposal: self._proposal,
            Boot: self._boot,
        }

    def _recv(self, ev: Recv) -> None:
        msg = ev.msg
        assert type(msg) is Notification
        state = msg.state
        if state == "LOOKING":
            if msg.zxid == -1:
                return  # lookForLeader ignores a member with zxid -1: it never enters recvset (ZOOKEEPER-261)
            looking = self._looking.setdefault(ev.sid, {})
            key = (ev.from_, msg.round)
            seen = looking.get(key)
            if seen is None:
                looking[key] = [Ballot(msg, ev.seq)]
            else:
                last = seen[-1].msg
                if last.leader != msg.leader or last.zxid != msg.zxid or last.peer_epoch != msg.peer_epoch:
                    seen.append(Ballot(msg, ev.seq))
        elif state != "OBSERVING":
            self._settled_by_round.setdefault(ev.sid, {})[(ev.from_, msg.round)] = Ballot(msg, ev.seq)

    def _proposal(self, ev: Proposal) -> None:
        self._since[ev.sid] = ev.seq

    def _boot(self, ev: Boot) -> None:
        self._settled_by_round.pop(ev.sid, None)
        self._looking.pop(ev.sid, None)
        self._since.pop(ev.sid, None)

    def _forget(self, ev: ElectionStart) -> None:
        self._since[ev.sid] = ev.seq
        clock = self._world.servers[ev.sid].clock
        kept = self._settled_by_round.get(ev.sid)
        if kept:
            self._settled_by_round[ev.sid] = {k: b for k, b in kept.items() if k[1] >= clock}
        looking = self._looking.get(ev.sid)
        if looking:
            self._looking[ev.sid] = {k: b for k, b in looking.items() if k[1] >= clock}

    def _decide(self, ev: Decide) -> None:
        settled: dict[int, int] = {}
        for (sid, round_), b in self._settled_by_round.get(ev.sid, {}).items():
            if round_ == ev.round and backs(b, ev):
                settled[sid] = max(settled.get(sid, 0), b.recv_seq)
        for sid, b in self._world.servers[ev.sid].settled_ballots.items():
            if backs(b, ev):
                settled[sid] = max(settled.get(sid, 0), b.recv_seq)
        rounds = {sid: seen for (sid, round_), seen in self._looking.get(ev.sid, {}).items() if round_ == ev.round}

        def backing_at(moment: int) -> dict[int, int]:
            backing = dict(settled)
            for sid, seen in rounds.items():
                latest = _latest_at(seen, moment)
                if latest is not None and backs(latest, ev):
                    backing[sid] = max(backing.get(sid, 0), latest.recv_seq)
            return backing

        def enough(backing: dict[int, int]) -> bool:
            return has_all_quorums(self._world.view, (ServerId(s) for s in [*backing, ev.sid]))

        at_decide = backing_at(ev.seq)
        if enough(at_decide):
            return
        since = self._since.get(ev.sid, 0)
        earlier = {since}.union(b.recv_seq for seen in rounds.values() for b in seen if b.recv_seq > since)
        if any(enough(backing_at(moment)) for moment in sorted(earlier)):
            return
        backers = sorted(at_decide)
        message = f"server {ev.sid} decides {_show(ev.vote)} in round {ev.round} backed only by {[*backers, ev.sid]}"
        self._sink.report(Invariant.DECISION_QUORUM, ev.seq, ev.sid, message, (at_decide[s] for s in backers))


def _latest_at(seen: list[Ballot], moment: int) -> Ballot | None:
    """The last of one sender's notifications (in receipt order) taken in at or before `moment`."""
    latest = None
    for ballot in seen:
        if ballot.recv_seq > moment:
            break
        latest = ballot
    return latest


class LeaderHasMaxHistory(Check):
    """LEADER_HAS_MAX_HISTORY: an elected leader's vote is at least the initial vote of every server that voted
    for it.

    A server's proposal starts as its initial vote (its last zxid and currentEpoch) and is only replaced by
    greater votes (`totalOrderPredicate`), so a vote that a quorum agreed on in one round is at least each
    voter's own history: the leader has the most recent history of its quorum (the Zab paper's
    precondition for skipping the history transfer; FastLeaderElection.tla `TotalOrderPredicate`).
    Checked at each `decide` that a quorum of LOOKING votes of its round backs (an election, not a join of an
    established leader): the voters are the senders of those votes, sent in their current election, and
    the server itself when its own proposal in that round is the decided vote (otherwise it joined).
    An observer's `decide` is not judged: it elects nobody, and the LOOKING notifications it gets are the
    voters' `currentVote` (WorkerReceiver's answer to a non-voter), not their proposals of that round.
    """

    def pre(self) -> dict[HandlerKey, Handler]:
        return {Decide: self._decide}

    def _decide(self, ev: Decide) -> None:
        world = self._world
        t = world.servers[ev.sid]
        if t.learner_type is not LearnerType.PARTICIPANT:
            return
        ballots = {sid: b for (sid, round_), b in t.looking_ballots.items() if round_ == ev.round}
        voters = {sid for sid, ballot in ballots.items() if looking_backs(ballot, ev)}
        own = t.proposal
        if own is not None and t.proposal_round == ev.round and _order(*_fields(ev.vote)) == _order(*_fields(own)):
            voters.add(ev.sid)
        if not has_all_quorums(world.view, (ServerId(s) for s in voters)):
            return
        decided = _order(ev.vote.leader, ev.vote.zxid, ev.vote.peer_epoch)
        for sid in sorted(voters):
            voter = world.servers[sid]
            initial = voter.initial
            if initial is None or (sid != ev.sid and ballots[sid].recv_seq < voter.election_seq):
                continue
            if decided < _order(initial.leader, initial.zxid, initial.peer_epoch):
                message = (
                    f"server {ev.sid} decides {_show(ev.vote)} in round {ev.round}, below the initial vote "
                    f"{initial} of voter {sid}"
                )
                witness = [voter.election_seq] + ([ballots[sid].recv_seq] if sid != ev.sid else [])
                self._sink.report(Invariant.LEADER_HAS_MAX_HISTORY, ev.seq, ev.sid, message, witness)
                return


def _fields(vote: TraceVote | Vote) -> tuple[int, int, int]:
    return (vote.leader, vote.zxid, vote.peer_epoch)


def _show(vote: TraceVote) -> str:
    """As `Vote.toString`: (id, hex zxid, hex peerEpoch)."""
    return str(Vote(ServerId(vote.leader), Zxid(vote.zxid), Epoch(vote.peer_epoch)))
