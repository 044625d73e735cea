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
* `decide`: the replay reached exactly this decision — by a FOLLOWING/LEADING quorum (`Step.decision`) or
  by the finalize loop (a quorum for the proposal and no better vote taken in since) — and every change of
  the proposal was reported by a `proposal` event before it.
* once a FOLLOWING/LEADING quorum gave every reading its decision, lookForLeader has returned: a
  `proposal`, a LOOKING `send` that is not WorkerReceiver's reply owed to an earlier-round sender, or a new
  `election_start` before the `decide` shows a server that did not decide where FastLeaderElection decides
  (e.g. the pre-ZOOKEEPER-1732 `Vote.equals`, which keeps a joining server looking). This is the one
  liveness-flavoured rule, and it stays a check on the events seen: a trace that ends before the `decide` is
  not judged.

A poll timeout does not show in a trace, yet its `sendNotifications` puts our own vote into `recvset` again,
which can put a server back into the finalize loop; its sends cannot be told from a SendWorker re-sending
`lastMessageSent` on a new connection, and may not show at all. So the replay keeps the readings of an
election that agree with the events so far (`_Branch`; `FleConforms._forks` adds the one with a timed-out
poll), "held" and "reached" above mean "in some reading", and each `proposal`, `send` and `decide` keeps
only the readings it agrees with.
"""

from __future__ import annotations

from dataclasses import dataclass
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

MAX_BRANCHES: Final = 64
"""Bound of the readings of one election the replay keeps apart (`_Branch`); beyond it the latest are
forgotten (a limit of this checker: a hidden poll timeout forks at most one reading per step, and the
trace's `proposal`, `send` and `decide` events prune them, so a few servers stay far below it)."""


@dataclass(frozen=True, slots=True)
class _Branch:
    """One reading of a server's election that agrees with every event seen so far.

    The trace cannot show a poll timeout: lookForLeader's `sendNotifications` after an empty
    `poll(notTimeout)` puts our own vote into `recvset` again, which may put the server back into the
    finalize loop, and its sends to the others look like any other send of the current proposal (a
    QuorumCnxManager SendWorker re-sending `lastMessageSent` on a new connection, or a message queued while
    no connection was up) or do not show at all. So the replay keeps both readings apart until an event
    tells them apart (`FleConforms._forks`). `held`: the (round, proposal)s of this reading in this
    election; `aborted`: lookForLeader threw (`fle.Step.aborted`) and waits for its next `election_start`.
    """

    state: fle.ElectionState
    decision: fle.Decision | None = None
    held: frozenset[tuple[int, Vote]] = frozenset()
    aborted: bool = False

    @property
    def live(self) -> bool:
        """lookForLeader still runs in this reading."""
        return self.decision is None and not self.aborted


class _Election:
    """The replay of one server: its readings of the election, the queue before it, what it reported."""

    __slots__ = ("branches", "clock", "lost", "owed", "peer", "queue", "queueing", "reported", "self_messages")

    def __init__(self, peer: fle.Peer) -> None:
        self.peer = peer
        self.branches: list[_Branch] = []
        """The readings of the current election (empty outside one)."""
        self.queue: list[fle.Notification] = []
        self.queueing = False
        self.reported: tuple[int, Vote] | None = None
        self.clock = 0
        self.self_messages = False
        self.owed: set[int] = set()
        """Senders of an earlier-round LOOKING notification: WorkerReceiver owes each a reply."""
        self.lost = False
        """The server went on with an election the replay had decided (`FleConforms._undecided`)."""

    def live(self) -> list[_Branch]:
        return [b for b in self.branches if b.live]


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


def _own(peer: fle.Peer, state: fle.ElectionState) -> fle.Notification:
    """Our own LOOKING notification of `state`, as QuorumCnxManager's loopback hands it back."""
    p = state.proposal
    return fle.Notification(peer.myid, ServerState.LOOKING, p.leader, p.zxid, state.round, p.peer_epoch)


def _bounded(branches: list[_Branch]) -> list[_Branch]:
    """`branches` without repeats, at most `MAX_BRANCHES` of them."""
    if len(branches) > 1:
        return list(dict.fromkeys(branches))[:MAX_BRANCHES]
    return branches


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
        e.branches, e.reported, e.queueing, e.clock, e.lost = [], None, False, 0, False
        e.queue.clear()
        e.owed.clear()

    def _looking(self, ev: Recovered) -> None:
        self._of(ev.sid).queueing = True

    def _state(self, ev: StateChange) -> None:
        e = self._of(ev.sid)
        if ev.state == "LOOKING":
            e.queueing = e.queueing or not e.live()
        else:
            e.queueing = False
            e.queue.clear()

    # ------------------------------------------------------------------------------------ the election

    def _start(self, ev: ElectionStart) -> None:
        e = self._of(ev.sid)
        decided = [b.decision for b in e.branches if b.decision is not None]
        if decided and len(decided) == len(e.branches):
            self._undecided(ev.seq, ev.sid, decided[0], f"starts an election in round {ev.round}")
        track = self._world.servers[ev.sid]
        vote = _vote(ev.vote.leader, ev.vote.zxid, ev.vote.peer_epoch)
        clocks = sorted({b.state.round for b in e.branches if b.decision is None}) or [e.clock]
        if ev.round - 1 not in clocks and not e.lost:
            shown = " or ".join(map(str, clocks))
            self._report(ev.seq, ev.sid, f"election_start in round {ev.round}, but logicalclock was {shown}")
        e.lost = False
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
        e.branches = [_Branch(step.state, held=frozenset({(ev.round, vote)}))]
        e.queueing = False
        e.owed = set()
        e.reported = (ev.round, vote)
        e.clock = ev.round
        queued, e.queue = e.queue, []
        for n in queued:
            self._take(e, n)
        if step.send_notifications and self._loopback(e):
            e.branches = _bounded([c for b in e.branches for c in self._poll(e, b, _own(e.peer, b.state))])

    def _recv(self, ev: Recv) -> None:
        msg = ev.msg
        assert type(msg) is Notification
        if ev.from_ not in self._voters:
            return  # WorkerReceiver answers a non-voter (an observer) at once and never queues its notification
        e = self._of(ev.sid)
        live = e.live()
        if live:
            n = _notification(ev.from_, msg)
            if n.state == ServerState.LOOKING and any(n.election_epoch < b.state.round for b in live):
                e.owed.add(n.sid)
            self._take(e, n)
        elif e.queueing and len(e.queue) < MAX_QUEUED:
            e.queue.append(_notification(ev.from_, msg))

    def _take(self, e: _Election, n: fle.Notification) -> None:
        """lookForLeader polls `n` in every reading where it still runs."""
        found: list[_Branch] = []
        for b in e.branches:
            if not b.live:
                found.append(b)
                continue
            polled = self._poll(e, b, n)
            found += polled
            if b.state.finalizing or n.state != ServerState.LOOKING:
                found += self._forks(e, polled)
        e.branches = _bounded(found)

    def _poll(self, e: _Election, b: _Branch, n: fle.Notification) -> list[_Branch]:
        """The reading after `b` polls `n` (and, when it is put back at the tail, polls it again at once:
        nothing else is queued in this reading of the trace), with our own copy of any `sendNotifications`
        the rules asked for polled right after."""
        state = b.state
        if state.finalizing:
            step = fle.finalize_received(e.peer, state, n)
            if step.requeue is not None and not step.aborted:
                step = fle.handle_notification(e.peer, step.state, step.requeue)
        else:
            step = fle.handle_notification(e.peer, state, n)
        state = step.state
        if step.aborted:
            return [_Branch(state, held=b.held, aborted=True)]
        key = (state.round, state.proposal)
        after = _Branch(state, step.decision, b.held if key in b.held else b.held | {key})
        if step.decision is None and step.send_notifications and self._loopback(e):
            return self._poll(e, after, _own(e.peer, state))
        return [after]

    def _loopback(self, e: _Election) -> bool:
        """The replay delivers our own notifications: the trace shows no send to ourselves, and we vote."""
        return not e.self_messages and e.peer.myid in self._voters

    def _forks(self, e: _Election, branches: list[_Branch]) -> list[_Branch]:
        """For each of `branches` where lookForLeader waits in its main loop although `recvset` backs the
        proposal, the reading where a poll timed out since: our own copy of its `sendNotifications` puts the
        server back into the finalize loop.

        Only a step that left the finalize loop (a better vote put back, whatever became of it) or took in a
        FOLLOWING/LEADING vote (after which the main loop does not re-check the quorum) can end in such a
        wait: a LOOKING vote taken in by the main loop re-checks the quorum itself, and one it ignores leaves
        the reading, and its twin of an earlier step, as they were. Our own vote is in `recvset` already
        (delivered after each sendNotifications), so a twin needs a quorum as `recvset` stands; the cheap
        test spares the spec call."""
        if not self._loopback(e):
            return []
        twins = []
        for b in branches:
            if b.live and not b.state.finalizing and fle.decision_allowed(e.peer, b.state):
                step = fle.handle_notification(e.peer, b.state, _own(e.peer, b.state))
                if step.state.finalizing and not step.aborted:
                    twins.append(_Branch(step.state, held=b.held))
        return twins

    def _proposal(self, ev: Proposal) -> None:
        e = self._of(ev.sid)
        vote = _vote(ev.vote.leader, ev.vote.zxid, ev.vote.peer_epoch)
        e.reported = (ev.round, vote)
        if e.lost:
            return
        holding = [b for b in e.branches if b.live and (ev.round, vote) in b.held]
        if holding:
            e.branches = holding
        elif e.live():
            self._report(
                ev.seq, ev.sid, f"proposal {vote} in round {ev.round} does not follow from the notifications taken in"
            )
        elif (decided := self._decided(e)) is not None:
            self._undecided(ev.seq, ev.sid, decided, f"proposes {vote} in round {ev.round}")
        else:
            self._report(ev.seq, ev.sid, f"proposal {vote} in round {ev.round} outside an election")

    def _send(self, ev: Send) -> None:
        msg = ev.msg
        assert type(msg) is Notification
        if ev.to == ev.sid:
            e = self._of(ev.sid)
            e.self_messages = True
        if msg.state != "LOOKING" or ev.to not in self._voters:
            return
        e = self._of(ev.sid)
        if e.lost or not e.branches:
            return
        vote = _vote(msg.leader, msg.zxid, msg.peer_epoch)
        # WorkerReceiver's reply to an earlier-round sender may still leave while lookForLeader returns
        owed = ev.to in e.owed
        e.owed.discard(ev.to)
        agreeing = [b for b in e.branches if b.aborted or ((msg.round, vote) in b.held if b.decision is None else owed)]
        if agreeing:
            e.branches = agreeing
        elif (decided := self._decided(e)) is not None:
            what = f"sends LOOKING notification {vote} of round {msg.round} to {ev.to}"
            self._undecided(ev.seq, ev.sid, decided, what)
        else:
            self._report(
                ev.seq, ev.sid, f"sends LOOKING notification {vote} of round {msg.round}, a vote it never proposed"
            )

    @staticmethod
    def _decided(e: _Election) -> fle.Decision | None:
        """The decision of the readings, when every one of them had decided."""
        if e.branches and all(b.decision is not None for b in e.branches):
            return e.branches[0].decision
        return None

    def _undecided(self, seq: int, sid: int, decision: fle.Decision, what: str) -> None:
        """The replay decided (a FOLLOWING/LEADING quorum) and the server is still in lookForLeader. The
        replay cannot follow an election the spec has ended: it is `lost` (judges nothing of this server)
        until the next `decide`, `election_start` or `boot`, so one miss is reported once."""
        self._report(seq, sid, f"{what}, but the notifications taken in had decided {_show(decision)}")
        e = self._of(sid)
        e.branches, e.lost = [], True

    def _decide(self, ev: Decide) -> None:
        e = self._of(ev.sid)
        got = fle.Decision(
            ServerState[ev.state], ServerId(ev.vote.leader), Zxid(ev.vote.zxid), ev.round, Epoch(ev.vote.peer_epoch)
        )
        if e.lost:
            e.lost = False
        elif not e.branches:
            self._report(ev.seq, ev.sid, f"decides {_show(got)} outside an election")
        else:
            errors = [self._wrong_decision(e, b, got) for b in e.branches]
            first = errors[0]
            if first is not None and all(errors):
                self._report(ev.seq, ev.sid, first)
        e.clock = ev.round
        e.branches = []
        e.queue.clear()

    @staticmethod
    def _wrong_decision(e: _Election, b: _Branch, got: fle.Decision) -> str | None:
        """Why reading `b` does not end in `got` (None: it does)."""
        state = b.state
        if b.decision is not None:
            if got == b.decision:
                return None
            return f"decides {_show(got)}, but the notifications gave {_show(b.decision)}"
        if b.aborted:
            return f"decides {_show(got)} outside an election"
        if not state.finalizing:
            return f"decides {_show(got)} but no quorum backs its proposal {state.proposal} in round {state.round}"
        expected = fle.finalize_timed_out(e.peer, state).decision
        assert expected is not None
        if got != expected:
            return f"decides {_show(got)}, but the finalize wait gives {_show(expected)}"
        if e.reported != (state.round, state.proposal):
            return f"decides for proposal {state.proposal}, never reported by a proposal event"
        return None


def _show(d: fle.Decision) -> str:
    vote = Vote(d.leader, d.zxid, d.peer_epoch)
    return f"{d.peer_state.name} {vote} in round {d.election_epoch}"
