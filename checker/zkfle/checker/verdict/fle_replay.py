"""FLE_CONFORMS: replay each server's election through `zkfle.spec.fle` and hold its events to it.

How the replay reads a trace (docs/invariants.md has the full argument). A `recv` of a notification is the
moment the server takes it in; the replay hands it to lookForLeader right then, in the order of the server's
own events. Notifications taken in while the server is LOOKING but before `election_start` wait in a queue
(WorkerReceiver queues them, `recvqueue`) and are handed over when the election starts, as lookForLeader's
first polls would. Notifications taken in while not LOOKING are WorkerReceiver's business (replies), not
lookForLeader's. A server's notification to itself goes through the same queue in ZooKeeper
(`QuorumCnxManager.toSend` for our own sid); a trace need not show it, so until the trace shows a server
sending to itself the replay delivers the server's own notification itself, right after each
`sendNotifications`.

What must follow (anything else is a violation):
* `election_start`: the round is `logicalclock + 1`, the vote is ours (`getInitId`) with our currentEpoch
  (`getPeerEpoch`); the zxid is in-memory state (`getInitLastLoggedZxid`) and is taken as given.
* `proposal`: the (round, vote) is one the replay has held in this election (the events of the reaction to
  a notification may come after the server has taken in further notifications, so only membership is
  asked; VOTE_MONOTONIC asks the order).
* a LOOKING notification `send` to a voter during the election carries a (round, vote) the replay held.
  One that is neither WorkerReceiver's reply to an earlier-round sender nor part of a `sendNotifications`
  the replay already delivered our copy of is a poll-timeout resend (`lookForLeader`: `notTimeout`
  expired and `haveDelivered`); its copy to ourselves is delivered then, since it can complete a quorum.
* `decide`: the replay reached exactly this decision — by a FOLLOWING/LEADING quorum (`Step.decision`) or
  by the finalize loop (a quorum for the proposal and no better vote taken in since) — and every change of
  the proposal was reported by a `proposal` event before it.
"""

from __future__ import annotations

from typing import Final

from zkfle.checker.verdict.replay import Check, Sink
from zkfle.checker.verdict.world import Handler, HandlerKey, World
from zkfle.spec import fle
from zkfle.spec.invariants import Invariant
from zkfle.spec.quorum import current_and_next_voters
from zkfle.spec.trace import (
    Boot,
    Crash,
    Decide,
    ElectionStart,
    Notification,
    Proposal,
    Recovered,
    Recv,
    Send,
    StateChange,
    vocabulary_state,
)
from zkfle.spec.vocabulary import LearnerType, ServerState, Vote
from zkfle.spec.zxid import INT64_MIN, Epoch, ServerId, Zxid

MAX_QUEUED: Final = 4096
"""Bound of the pre-election queue per server; older notifications beyond it are forgotten (a limit of
this checker, far above what an ensemble of a few servers queues)."""


class _Election:
    """The replay of one server: its spec state, the queue before the election, what it held and reported."""

    __slots__ = (
        "clock",
        "decision",
        "fresh_own",
        "held",
        "owed",
        "peer",
        "queue",
        "queueing",
        "reported",
        "self_messages",
        "state",
    )

    def __init__(self, peer: fle.Peer) -> None:
        self.peer = peer
        self.state: fle.ElectionState | None = None
        self.queue: list[fle.Notification] = []
        self.queueing = False
        self.decision: fle.Decision | None = None
        self.held: set[tuple[int, Vote]] = set()
        self.reported: tuple[int, Vote] | None = None
        self.clock = 0
        self.self_messages = False
        self.owed: set[int] = set()
        """Senders of an earlier-round LOOKING notification: WorkerReceiver owes each a reply."""
        self.fresh_own = False
        """Our own notification was delivered after the last notification taken in from another server."""


def _notification(sender: int, msg: Notification) -> fle.Notification:
    return fle.Notification(
        ServerId(sender),
        vocabulary_state(msg.state),
        ServerId(msg.leader),
        Zxid(msg.zxid),
        msg.round,
        Epoch(msg.peer_epoch),
        fle.NOTIFICATION_VERSION if msg.version is None else msg.version,
    )


def _vote(leader: int, zxid: int, peer_epoch: int) -> Vote:
    return Vote(ServerId(leader), Zxid(zxid), Epoch(peer_epoch))


class FleConforms(Check):
    """FLE_CONFORMS: proposals, sends and decisions follow from the notifications taken in, by the rules of
    `FastLeaderElection.lookForLeader` as `zkfle.spec.fle` states them (FastLeaderElection.tla actions
    `HandleNotmsg`, `WaitNewNotmsg`, `ReceivedFollowingAndLeadingNotification`)."""

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._voters = current_and_next_voters(world.view)
        self._elections: dict[int, _Election] = {}

    def _of(self, sid: int) -> _Election:
        found = self._elections.get(sid)
        if found is None:
            peer = fle.Peer(ServerId(sid), self._world.view, self._world.servers[sid].learner_type)
            found = self._elections[sid] = _Election(peer)
        return found

    def pre(self) -> dict[HandlerKey, Handler]:
        return {
            ElectionStart: self._start,
            Proposal: self._proposal,
            (Send, Notification): self._send,
            Decide: self._decide,
            (Recv, Notification): self._recv,
        }

    def post(self) -> dict[HandlerKey, Handler]:
        return {Boot: self._reset, Crash: self._reset, Recovered: self._looking, StateChange: self._state}

    def _report(self, seq: int, sid: int, message: str) -> None:
        self._sink.report(Invariant.FLE_CONFORMS, seq, sid, message, ())

    # ------------------------------------------------------------------------------------ life cycle

    def _reset(self, ev: Boot | Crash) -> None:
        e = self._of(ev.sid)
        e.state, e.decision, e.reported, e.queueing, e.clock = None, None, None, False, 0
        e.queue.clear()
        e.held.clear()
        e.owed.clear()

    def _looking(self, ev: Recovered) -> None:
        self._of(ev.sid).queueing = True

    def _state(self, ev: StateChange) -> None:
        e = self._of(ev.sid)
        if ev.state == "LOOKING":
            e.queueing = e.queueing or e.state is None
        else:
            e.queueing = False
            e.queue.clear()

    # ------------------------------------------------------------------------------------ the election

    def _start(self, ev: ElectionStart) -> None:
        e = self._of(ev.sid)
        track = self._world.servers[ev.sid]
        vote = _vote(ev.vote.leader, ev.vote.zxid, ev.vote.peer_epoch)
        if ev.round != e.clock + 1:
            self._report(ev.seq, ev.sid, f"election_start in round {ev.round}, but logicalclock was {e.clock}")
        participant = track.learner_type == LearnerType.PARTICIPANT
        own_id = ev.sid if ev.sid in self._voters else INT64_MIN
        own_epoch = track.current_epoch if participant else INT64_MIN
        if vote.leader != own_id or (own_epoch is not None and vote.peer_epoch != own_epoch):
            self._report(
                ev.seq,
                ev.sid,
                f"election_start vote {vote} is not (getInitId, _, getPeerEpoch) = ({own_id}, _, {own_epoch})",
            )
        step = fle.look_for_leader(ev.round - 1, vote)
        e.state, e.decision, e.queueing = step.state, None, False
        e.held = {(ev.round, vote)}
        e.owed = set()
        e.reported = (ev.round, vote)
        e.clock = ev.round
        queued, e.queue = e.queue, []
        for n in queued:
            self._take(e, n)
        self._own_notification(e, step)

    def _recv(self, ev: Recv) -> None:
        msg = ev.msg
        assert type(msg) is Notification
        e = self._of(ev.sid)
        n = _notification(ev.from_, msg)
        state = e.state
        if state is not None and e.decision is None:
            if n.state == ServerState.LOOKING and n.election_epoch < state.round:
                e.owed.add(n.sid)
            e.fresh_own = False
            self._take(e, n)
        elif e.queueing and len(e.queue) < MAX_QUEUED:
            e.queue.append(n)

    def _take(self, e: _Election, n: fle.Notification) -> None:
        """lookForLeader polls `n` (and, when it is put back at the tail, polls it again at once: nothing
        else is queued in this reading of the trace)."""
        state = e.state
        if state is None or e.decision is not None:
            return
        if state.finalizing:
            step = fle.finalize_received(e.peer, state, n)
            if step.requeue is not None and not step.aborted:
                step = fle.handle_notification(e.peer, step.state, step.requeue)
        else:
            step = fle.handle_notification(e.peer, state, n)
        self._apply(e, step)

    def _apply(self, e: _Election, step: fle.Step) -> None:
        state = step.state
        e.clock = state.round
        if step.aborted:
            e.state = None
            e.queueing = True
            return
        e.state = state
        e.held.add((state.round, state.proposal))
        if step.decision is not None:
            e.decision = step.decision
            return
        self._own_notification(e, step)

    def _own_notification(self, e: _Election, step: fle.Step) -> None:
        """After a `sendNotifications` the rules asked for: our own notification (unless the trace shows
        self-messages)."""
        if step.send_notifications:
            self._deliver_own(e)

    def _deliver_own(self, e: _Election) -> None:
        state = e.state
        own = e.peer.myid
        if e.self_messages or state is None or e.decision is not None or own not in self._voters:
            return
        e.fresh_own = True
        n = fle.Notification(
            own, ServerState.LOOKING, state.proposal.leader, state.proposal.zxid, state.round, state.proposal.peer_epoch
        )
        self._take(e, n)

    def _proposal(self, ev: Proposal) -> None:
        e = self._of(ev.sid)
        vote = _vote(ev.vote.leader, ev.vote.zxid, ev.vote.peer_epoch)
        if e.state is None and e.decision is None:
            self._report(ev.seq, ev.sid, f"proposal {vote} in round {ev.round} outside an election")
        elif (ev.round, vote) not in e.held:
            self._report(
                ev.seq, ev.sid, f"proposal {vote} in round {ev.round} does not follow from the notifications taken in"
            )
        e.reported = (ev.round, vote)

    def _send(self, ev: Send) -> None:
        msg = ev.msg
        assert type(msg) is Notification
        if ev.to == ev.sid:
            e = self._of(ev.sid)
            e.self_messages = True
        if msg.state != "LOOKING" or ev.to not in self._voters:
            return
        e = self._of(ev.sid)
        if e.state is None or e.decision is not None:
            return
        vote = _vote(msg.leader, msg.zxid, msg.peer_epoch)
        if (msg.round, vote) not in e.held:
            self._report(
                ev.seq, ev.sid, f"sends LOOKING notification {vote} of round {msg.round}, a vote it never proposed"
            )
        elif ev.to in e.owed:
            e.owed.discard(ev.to)  # WorkerReceiver's reply to an earlier round
        elif not e.fresh_own and (msg.round, vote) == (e.state.round, e.state.proposal):
            # a sendNotifications the notifications taken in did not ask for: lookForLeader's poll timed out
            # (haveDelivered); its copy to ourselves is counted in recvset like any other
            self._deliver_own(e)

    def _decide(self, ev: Decide) -> None:
        e = self._of(ev.sid)
        got = fle.Decision(
            ServerState[ev.state], ServerId(ev.vote.leader), Zxid(ev.vote.zxid), ev.round, Epoch(ev.vote.peer_epoch)
        )
        state, decision = e.state, e.decision
        if decision is not None:
            if got != decision:
                self._report(ev.seq, ev.sid, f"decides {_show(got)}, but the notifications gave {_show(decision)}")
        elif state is None:
            self._report(ev.seq, ev.sid, f"decides {_show(got)} outside an election")
        elif not state.finalizing:
            self._report(
                ev.seq,
                ev.sid,
                f"decides {_show(got)} but no quorum backs its proposal {state.proposal} in round {state.round}",
            )
        else:
            expected = fle.finalize_timed_out(e.peer, state).decision
            assert expected is not None
            if got != expected:
                self._report(ev.seq, ev.sid, f"decides {_show(got)}, but the finalize wait gives {_show(expected)}")
            elif e.reported != (state.round, state.proposal):
                self._report(
                    ev.seq, ev.sid, f"decides for proposal {state.proposal}, never reported by a proposal event"
                )
        e.clock = ev.round
        e.state, e.decision = None, None
        e.held = set()
        e.queue.clear()


def _show(d: fle.Decision) -> str:
    vote = Vote(d.leader, d.zxid, d.peer_epoch)
    return f"{d.peer_state.name} {vote} in round {d.election_epoch}"
