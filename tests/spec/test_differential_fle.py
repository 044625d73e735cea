"""Differential test: the declarative FLE spec (`zkfle.spec.fle`) against the sans-IO core (`zkfle.impl.core.fle`).

Both models of `FastLeaderElection` (semantics.md §4) are driven with the same random inputs and must agree
after every input on everything ZooKeeper would show: the proposal and round, every notification sent
(recipient and all fields, in order), `connectAll`, the decision (state and end vote) and when it happens,
the wait lookForLeader is blocked in (poll or finalize, and `notTimeout`), the receive queue, `currentVote`,
and the trace events.

The spec is a set of pure rules; `SpecServer` below is the driver its docstring asks for. It models the
queues exactly as the implementation documents them, because both must see the same order of events:
* `QuorumCnxManager.toSend` to ourselves puts the message straight into the receive queue (loopback): our own
  copies go through `worker_receiver` like any other message, before the next queued notification is polled;
* while LOOKING, WorkerReceiver queues voters' notifications; lookForLeader drains the queue within the input
  that filled it (the lookForLeader thread keeps up), and notifications that arrive while LOOKING but outside
  lookForLeader wait in the queue for the next call;
* the finalize loop's `Step.requeue` goes to the tail of the queue; `leaveInstance` clears the queue.

Not compared: `ReportLookingSid` (`Leader.reportLookingSid`, which the spec leaves out because it changes
nothing the election sends or decides) and `CancelTimer` (the implementation's bookkeeping; the armed wait
after each input is compared instead), and config bytes (neither model interprets them).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zkfle.impl.core import fle as impl
from zkfle.impl.core.quorum import QuorumHierarchical, QuorumMaj, QuorumVerifier
from zkfle.spec import fle as spec
from zkfle.spec.quorum import Group, HierarchicalSystem, MajoritySystem, QuorumSystem, QuorumView
from zkfle.spec.quorum import current_and_next_voters as spec_voters
from zkfle.spec.vocabulary import LearnerType, ServerState, Vote
from zkfle.spec.zxid import INT64_MIN, Epoch, ServerId, Zxid, make_zxid

LONG = os.environ.get("ZKFLE_LONG") == "1"
EXAMPLES = 100_000 if LONG else 2_000

LOOKING, FOLLOWING, LEADING = ServerState.LOOKING, ServerState.FOLLOWING, ServerState.LEADING
STRANGER = 9
"""A sid in no configuration: its notifications are answered, never queued (`WorkerReceiver`, non-voter)."""


# --- configurations ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigDesc:
    """One quorum configuration, described once and built as both models' verifier.

    `groups` is None for `QuorumMaj`; otherwise `QuorumHierarchical` groups as (gid, ((sid, weight), ...)),
    every participant in exactly one group and observers in none (`QuorumHierarchical.parse`).
    """

    participants: frozenset[int]
    observers: frozenset[int]
    groups: tuple[tuple[int, tuple[tuple[int, int], ...]], ...] | None
    version: int

    def spec(self) -> QuorumSystem:
        participants = frozenset(ServerId(s) for s in self.participants)
        observers = frozenset(ServerId(s) for s in self.observers)
        if self.groups is None:
            return MajoritySystem(participants, observers)
        groups = tuple(Group(gid, tuple((ServerId(s), w) for s, w in members)) for gid, members in self.groups)
        return HierarchicalSystem(participants, groups, observers)

    def impl(self) -> QuorumVerifier:
        if self.groups is None:
            return QuorumMaj(self.participants, self.observers, self.version)
        groups = {gid: frozenset(s for s, _ in members) for gid, members in self.groups}
        weights = {s: w for _, members in self.groups for s, w in members}
        return QuorumHierarchical(groups, weights, self.participants, self.observers, self.version)


@st.composite
def config_descs(draw: st.DrawFn, version: int) -> ConfigDesc:
    """A majority of 1..7 participants with 0..2 observers, or a hierarchical system of 1..3 groups whose
    weights are 0..3 (a group may be all zero: it then never has a majority and is not counted)."""
    n = draw(st.integers(1, 7))
    ids = draw(st.permutations(range(1, 9)))
    participants = frozenset(ids[:n])
    observers = frozenset(ids[n : n + draw(st.integers(0, min(2, 8 - n)))])
    if not draw(st.booleans()):
        return ConfigDesc(participants, observers, None, version)
    members = sorted(participants)
    placement = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    groups = []
    for gid in sorted(set(placement)):
        zero = draw(st.integers(0, 3)) == 0
        group = tuple(
            (s, 0 if zero else draw(st.integers(0, 3))) for s, g in zip(members, placement, strict=True) if g == gid
        )
        groups.append((gid, group))
    return ConfigDesc(participants, observers, tuple(groups), version)


@dataclass(frozen=True, slots=True)
class Case:
    """A configuration, an optional last-seen configuration and the server under test.

    The last-seen verifier either is the current one or has a higher version. `QuorumPeer.setQuorumVerifier`
    raises `lastSeenQuorumVerifier` to every newer config it installs, and `setLastSeenQuorumVerifier` treats
    an equal version as the same config ("a version uniquely identifies a configuration"). Not generated: a
    last-seen config older than the current one, which only a stale `setLastSeenQuorumVerifier` call (logged
    as ERROR "setLastSeenQuorumVerifier called with stale config") leaves behind; `spec.quorum.QuorumView`
    cannot express it (its voters are those of the tracked verifiers, while `getCurrentAndNextConfigVoters`
    adds the last-seen voters whatever the version).
    """

    current: ConfigDesc
    last_seen: ConfigDesc | None
    myid: int
    learner_type: LearnerType
    last_logged_zxid: int
    current_epoch: int

    def view(self) -> QuorumView:
        """`getVoteTracker`'s verifiers: the last-seen one counts only when its version is higher."""
        nxt = self.last_seen
        return QuorumView(
            self.current.spec(), nxt.spec() if nxt is not None and nxt.version > self.current.version else None
        )

    def voters(self) -> frozenset[int]:
        """`getCurrentAndNextConfigVoters`: current voters plus the last-seen voters, whatever its version."""
        nxt = self.last_seen
        return self.current.participants | (nxt.participants if nxt is not None else frozenset())

    def known_ids(self) -> tuple[int, ...]:
        nxt = self.last_seen
        ids = self.current.participants | self.current.observers
        if nxt is not None:
            ids |= nxt.participants | nxt.observers
        return tuple(sorted(ids))


ZXIDS = (-1, 0, make_zxid(1, 1), make_zxid(1, 2), make_zxid(2, 1))
EPOCHS = (0, 1, 2)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    current = draw(config_descs(0))
    last_seen = draw(st.one_of(st.none(), st.just(current), config_descs(1)))
    case = Case(current, last_seen, 0, LearnerType.PARTICIPANT, 0, 0)
    myid = draw(st.sampled_from(case.known_ids()))
    if myid in current.participants:
        learner_type = LearnerType.PARTICIPANT
    elif myid in current.observers:
        learner_type = LearnerType.OBSERVER
    else:  # a server of the next config only: either role
        learner_type = draw(st.sampled_from(LearnerType))
    return replace(
        case,
        myid=myid,
        learner_type=learner_type,
        last_logged_zxid=draw(st.sampled_from(ZXIDS)),
        current_epoch=draw(st.sampled_from(EPOCHS)),
    )


# --- inputs --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receive:
    """A decoded notification handed over by QuorumCnxManager."""

    sid: int
    state: ServerState
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    version: int


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The wait lookForLeader is blocked in ended empty: `poll(notTimeout)` or the finalize `poll(finalizeWait)`."""

    have_delivered: bool


@dataclass(frozen=True, slots=True)
class LookForLeader:
    """`QuorumPeer.run` calls `lookForLeader()` (we are LOOKING)."""


@dataclass(frozen=True, slots=True)
class BackToLooking:
    """`QuorumPeer.setPeerState(LOOKING)` after the previous election (the leader or follower gave up)."""


@dataclass(frozen=True, slots=True)
class UpdateElectionVote:
    """`QuorumPeer.updateElectionVote(newEpoch)` after sync."""

    epoch: int


@dataclass(frozen=True, slots=True)
class SetDisk:
    """Between elections the database and `currentEpoch` move on (semantics.md §1.4)."""

    last_logged_zxid: int
    current_epoch: int


Input = Receive | TimerFired | LookForLeader | BackToLooking | UpdateElectionVote | SetDisk


@dataclass(frozen=True, slots=True)
class Now:
    """What the decoder needs to aim an input at the server's present: its round, proposal and state."""

    in_election: bool
    peer_state: ServerState
    logicalclock: int
    proposal: Vote


LEADER_EXTRAS = (STRANGER, INT64_MIN)
NOTIFIED_ZXIDS = (*ZXIDS, INT64_MIN)
NOTIFIED_EPOCHS = (*EPOCHS, -1, INT64_MIN)
ESTABLISHED_ROUND = 7
ESTABLISHED_ZXID = make_zxid(1, 1)
ROUND_OFFSETS = (-2, -1, 0, 0, 0, 0, 1, 2)
"""Rounds of free notifications around our clock; our own round most often, so that recvset can fill."""
INPUT_BYTES = 8
"""Each input is decoded from 8 random bytes (one cheap draw; shrinking lowers them towards simple inputs)."""


def senders(case: Case) -> tuple[int, ...]:
    """Who may send to us: every configured server, a stranger, and ourselves if we are a voter.

    A non-voter never receives its own sid: it sends nothing to itself (`sendNotifications` goes to voters),
    and QuorumCnxManager refuses a connection from a server with our own id; fed such a message, both models
    would answer it to themselves forever.
    """
    return tuple(s for s in (*case.known_ids(), STRANGER) if s != case.myid or case.myid in case.voters())


def decode(case: Case, now: Now, raw: bytes) -> Input:
    """One input that can happen in the server's present state (as `QuorumPeer.run` sequences them).

    Notifications come from voters, non-voters and ourselves, in every state, about voters and others, with
    rounds below, at and above our clock, zxids and epochs including -1 and Long.MIN_VALUE, versions 0 and 2;
    three in eight are voters echoing our proposal (mostly LOOKING, mostly in our round) and two in eight are
    voters of an established ensemble (the highest voter LEADING in round 7, the others mostly FOLLOWING it),
    so that quorums do form, in our round and out of election; the other three in eight are free.
    """
    kind, b1, b2, b3, b4, b5, b6, b7 = raw
    if now.in_election and kind % 8 >= 6:
        return TimerFired(bool(b1 & 1))
    if not now.in_election and kind % 8 >= 3:
        match kind % 8:
            case 3 | 4 | 5:
                return LookForLeader() if now.peer_state is LOOKING else BackToLooking()
            case 6:
                return UpdateElectionVote(EPOCHS[b1 % len(EPOCHS)])
            case _:
                return SetDisk(ZXIDS[b1 % len(ZXIDS)], EPOCHS[b2 % len(EPOCHS)])
    state, version, mode = tuple(ServerState)[b2 % 4], 2 * (b7 & 1), b3 % 8
    # Echoes and the established ensemble come from voters: theirs are the votes that are counted.
    from_ = sorted(case.voters()) if mode < 5 else senders(case)
    sid = from_[b1 % len(from_)]
    if mode < 3:
        p = now.proposal
        state = LOOKING if b6 & 1 else state
        return Receive(sid, state, p.leader, p.zxid, now.logicalclock + int(b5 % 4 == 0), p.peer_epoch, version)
    if mode < 5:
        leader = max(case.voters())
        state = LEADING if sid == leader else FOLLOWING if b6 & 1 else state
        return Receive(sid, state, leader, ESTABLISHED_ZXID, ESTABLISHED_ROUND, 1, version)
    leaders = (*case.known_ids(), *LEADER_EXTRAS)
    return Receive(
        sid,
        state,
        leaders[(b3 >> 3) % len(leaders)],
        NOTIFIED_ZXIDS[b4 % len(NOTIFIED_ZXIDS)],
        now.logicalclock + ROUND_OFFSETS[b5 % len(ROUND_OFFSETS)],
        NOTIFIED_EPOCHS[b6 % len(NOTIFIED_EPOCHS)],
        version,
    )


# --- the common observation --------------------------------------------------------------------------------

Wire = tuple[int, ServerState, int, int, int, int, int]
"""A notification as both models see it: (sid, state, leader, zxid, electionEpoch, peerEpoch, version)."""

Out = tuple[object, ...]
"""One observable output: ("send", to, *wire), ("connect_all",), ("decide", state, leader, zxid, round, epoch),
("arm", timer kind, ms)."""


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything compared after one input."""

    outputs: tuple[Out, ...]
    events: tuple[object, ...]
    peer_state: ServerState
    in_election: bool
    logicalclock: int
    proposal: tuple[int, int, int]
    current_vote: tuple[int, int, int, int]
    queue: tuple[Wire, ...]
    armed: tuple[impl.TimerKind, int] | None


# --- the spec's driver ---------------------------------------------------------------------------------------


class SpecServer:
    """One server driven by the spec's pure rules, with the queues and QuorumPeer fields they leave to it."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.peer = spec.Peer(ServerId(case.myid), case.view(), case.learner_type)
        self.voters = tuple(sorted(spec_voters(self.peer.view)))
        assert set(self.voters) == case.voters()
        self.peer_state = LOOKING
        self.logicalclock = 0
        # FastLeaderElection.starter: proposedLeader = proposedZxid = -1; proposedEpoch keeps its default 0.
        self.proposal = Vote(ServerId(-1), Zxid(-1), Epoch(0))
        # QuorumPeer.startLeaderElection: currentVote = Vote(myid, lastLoggedZxid, currentEpoch), round -1.
        self.current_vote = spec.ElectionVote(
            ServerId(case.myid), Zxid(case.last_logged_zxid), -1, Epoch(case.current_epoch)
        )
        self.last_logged_zxid = case.last_logged_zxid
        self.current_epoch = case.current_epoch
        self.election: spec.ElectionState | None = None
        self.queue: deque[spec.Notification] = deque()
        self.loopback: deque[spec.Notification] = deque()
        self.outputs: list[Out] = []
        self.events: list[object] = []
        self.tally: list[str] = []
        """Which paths the run took (for hypothesis' statistics: the generator must reach them all)."""

    # inputs

    def apply(self, inp: Input) -> None:
        match inp:
            case Receive():
                self._worker_receiver(
                    spec.Notification(
                        ServerId(inp.sid),
                        inp.state,
                        ServerId(inp.leader),
                        Zxid(inp.zxid),
                        inp.election_epoch,
                        Epoch(inp.peer_epoch),
                        inp.version,
                    )
                )
                self._pump(polled=False)
            case TimerFired():
                self._timer_fired(inp.have_delivered)
            case LookForLeader():
                assert self.election is None and self.peer_state is LOOKING
                self._look_for_leader()
                self._pump(polled=True)
            case BackToLooking():
                assert self.election is None
                self.peer_state = LOOKING
            case UpdateElectionVote():
                self.current_vote = replace(self.current_vote, peer_epoch=Epoch(inp.epoch))
            case SetDisk():
                self.last_logged_zxid, self.current_epoch = inp.last_logged_zxid, inp.current_epoch

    def _look_for_leader(self) -> None:
        initial = spec.initial_vote(
            self.peer.view,
            self.peer.myid,
            self.peer.learner_type,
            Zxid(self.last_logged_zxid),
            Epoch(self.current_epoch),
        )
        step = spec.look_for_leader(self.logicalclock, initial)
        self.events.append(impl.ElectionStart(step.state.round, initial))
        self._apply_step(step)

    def _timer_fired(self, have_delivered: bool) -> None:
        state = self.election
        assert state is not None
        if state.finalizing:
            self._apply_step(spec.finalize_timed_out(self.peer, state))
            self._pump(polled=False)
            return
        step = spec.poll_timed_out(state, have_delivered)
        if not step.send_notifications:
            self.outputs.append(("connect_all",))
        self._apply_step(step)
        self._pump(polled=True)

    # the queues

    def _pump(self, *, polled: bool) -> None:
        """Loopback copies first, then queued notifications while lookForLeader runs; then the wait it is in."""
        while True:
            if self.loopback:
                self._worker_receiver(self.loopback.popleft())
            elif self.election is not None and self.queue:
                polled = True
                self._poll_returned(self.queue.popleft())
            else:
                break
        state = self.election
        if state is not None and polled:
            self.outputs.append(("arm", *self._armed(state)))

    @staticmethod
    def _armed(state: spec.ElectionState) -> tuple[impl.TimerKind, int]:
        if state.finalizing:
            return impl.TimerKind.FINALIZE, spec.FINALIZE_WAIT_MS
        return impl.TimerKind.POLL, state.notification_timeout_ms

    def armed(self) -> tuple[impl.TimerKind, int] | None:
        return None if self.election is None else self._armed(self.election)

    def _poll_returned(self, n: spec.Notification) -> None:
        state = self.election
        assert state is not None
        if state.finalizing:
            step = spec.finalize_received(self.peer, state, n)
            if step.requeue is not None:
                self.queue.append(step.requeue)
            self._apply_step(step, n)
            return
        step = spec.handle_notification(self.peer, state, n)
        if step.send_notifications:  # only the LOOKING rule notifies: the proposal was (re)set
            self.events.append(impl.ProposalChanged(step.state.round, step.state.proposal))
        self._apply_step(step, n)

    def _apply_step(self, step: spec.Step, n: spec.Notification | None = None) -> None:
        state, round_before = step.state, self.logicalclock
        self.election = state
        self.logicalclock = state.round
        self.proposal = state.proposal
        if step.aborted:
            assert n is not None
            self.tally.append("aborted")
            self.events.append(impl.ElectionAborted(state.round, n.leader))
            self._look_for_leader()
            return
        if step.send_notifications:
            self._send_notifications(state)
        if step.decision is not None:
            if n is None:
                self.tally.append("decided after finalizeWait")
            elif step.decision.election_epoch == round_before:
                self.tally.append(f"decided on {n.state.name} in our round")
            else:
                self.tally.append(f"decided on {n.state.name} out of election")
            self._decide(step.decision)

    def _decide(self, d: spec.Decision) -> None:
        """`setPeerState`, `leaveInstance` (clears the queue), and `QuorumPeer.run` stores the end vote."""
        self.peer_state = d.peer_state
        self.current_vote = spec.ElectionVote(d.leader, d.zxid, d.election_epoch, d.peer_epoch)
        self.election = None
        self.queue.clear()
        self.outputs.append(("decide", d.peer_state, d.leader, d.zxid, d.election_epoch, d.peer_epoch))
        self.events.append(impl.Decided(d.peer_state, d.election_epoch, Vote(d.leader, d.zxid, d.peer_epoch)))

    def _send(self, to: int, n: spec.Notification) -> None:
        """`QuorumCnxManager.toSend`: to ourselves through loopback, to anyone else on the wire."""
        if to == self.case.myid:
            self.loopback.append(n)
        else:
            self.outputs.append(("send", to, *wire(n)))

    def _send_notifications(self, state: spec.ElectionState) -> None:
        p = state.proposal
        n = spec.Notification(self.peer.myid, LOOKING, p.leader, p.zxid, state.round, p.peer_epoch)
        for sid in self.voters:
            self._send(sid, n)

    def _worker_receiver(self, n: spec.Notification) -> None:
        us = spec.ReceiverView(self.peer_state, self.logicalclock, self.proposal, self.current_vote)
        received = spec.worker_receiver(self.peer.view, us, n)
        if received.queued:
            assert self.peer_state is LOOKING
            self.queue.append(n)
        reply = received.reply
        if reply is not None:
            self._send(
                reply.recipient,
                spec.Notification(
                    self.peer.myid, reply.state, reply.leader, reply.zxid, reply.election_epoch, reply.peer_epoch
                ),
            )

    def observe(self) -> Observation:
        outputs, events = tuple(self.outputs), tuple(self.events)
        self.outputs.clear()
        self.events.clear()
        cv, p = self.current_vote, self.proposal
        return Observation(
            outputs,
            events,
            self.peer_state,
            self.election is not None,
            self.logicalclock,
            (p.leader, p.zxid, p.peer_epoch),
            (cv.leader, cv.zxid, cv.election_epoch, cv.peer_epoch),
            tuple(wire(n) for n in self.queue),
            self.armed(),
        )


def wire(n: spec.Notification | impl.Notification) -> Wire:
    return (n.sid, n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.version)


# --- the implementation, observed the same way --------------------------------------------------------------


class ImplServer:
    """The implementation's `FastLeaderElection`, with its effects reduced to the common observation."""

    def __init__(self, case: Case) -> None:
        nxt = case.last_seen
        self.fle = impl.FastLeaderElection(
            case.myid,
            case.current.impl(),
            last_logged_zxid=case.last_logged_zxid,
            current_epoch=case.current_epoch,
            learner_type=case.learner_type,
            last_seen_verifier=None if nxt is None else nxt.impl(),
        )
        self.armed: tuple[impl.TimerKind, int] | None = None
        self.step = impl.Step()

    def apply(self, inp: Input) -> None:
        fle = self.fle
        match inp:
            case Receive():
                n = impl.Notification(
                    inp.sid, inp.state, inp.leader, inp.zxid, inp.election_epoch, inp.peer_epoch, inp.version
                )
                self.step = fle.receive(n)
            case TimerFired():
                assert self.armed is not None
                kind, self.armed = self.armed[0], None  # the wait that ended is no longer armed
                self.step = fle.timer_fired(kind, have_delivered=inp.have_delivered)
            case LookForLeader():
                self.step = fle.look_for_leader()
            case BackToLooking():
                self.step = fle.set_peer_state(LOOKING)
            case UpdateElectionVote():
                fle.update_election_vote(inp.epoch)
                self.step = impl.Step()
            case SetDisk():
                fle.last_logged_zxid, fle.current_epoch = inp.last_logged_zxid, inp.current_epoch
                self.step = impl.Step()

    def observe(self) -> Observation:
        outputs: list[Out] = []
        for effect in self.step.effects:
            match effect:
                case impl.Send():
                    outputs.append(("send", effect.to, *wire(effect.notification)))
                case impl.ConnectAll():
                    outputs.append(("connect_all",))
                case impl.Decide():
                    v = effect.vote
                    outputs.append(("decide", effect.state, v.leader, v.zxid, v.election_epoch, v.peer_epoch))
                case impl.SetTimer():
                    self.armed = (effect.kind, effect.ms)
                    outputs.append(("arm", effect.kind, effect.ms))
                case impl.CancelTimer():
                    if self.armed is not None and self.armed[0] is effect.kind:
                        self.armed = None
                case impl.ReportLookingSid():
                    pass
        fle = self.fle
        cv = fle.current_vote
        return Observation(
            tuple(outputs),
            self.step.events,
            fle.peer_state,
            fle.in_election,
            fle.logicalclock,
            (fle.proposed_leader, fle.proposed_zxid, fle.proposed_epoch),
            (cv.leader, cv.zxid, cv.election_epoch, cv.peer_epoch),
            tuple(wire(n) for n in fle.recvqueue),
            self.armed,
        )


# --- the property ---------------------------------------------------------------------------------------------


class Pair:
    """Both models of one server, fed the same inputs and compared after each."""

    def __init__(self, case: Case) -> None:
        self.ours, self.theirs = SpecServer(case), ImplServer(case)
        self.history: list[Input] = []

    def now(self) -> Now:
        ours = self.ours
        return Now(ours.election is not None, ours.peer_state, ours.logicalclock, ours.proposal)

    def step(self, inp: Input) -> Observation:
        self.history.append(inp)
        self.ours.apply(inp)
        self.theirs.apply(inp)
        spec_obs, impl_obs = self.ours.observe(), self.theirs.observe()
        for name in Observation.__slots__:
            expected, actual = getattr(spec_obs, name), getattr(impl_obs, name)
            assert expected == actual, (
                f"{name} differs after input {len(self.history)}\n  spec: {expected}\n  impl: {actual}\n"
                + "  inputs:\n    "
                + "\n    ".join(map(str, self.history))
            )
        return spec_obs


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases(), st.integers(1, 40).flatmap(lambda k: st.binary(min_size=k * INPUT_BYTES, max_size=k * INPUT_BYTES)))
def test_spec_and_impl_agree_on_every_input(case: Case, raw: bytes) -> None:
    pair = Pair(case)
    for i in range(0, len(raw), INPUT_BYTES):
        pair.step(decode(case, pair.now(), raw[i : i + INPUT_BYTES]))
    for path in sorted(set(pair.ours.tally)):
        event(path)


# --- pinned cases: each path the property must reach, with the outcome ZooKeeper gives --------------------

MAJ3 = ConfigDesc(frozenset({1, 2, 3}), frozenset({4}), None, 0)


def test_three_voters_elect_the_highest_id_after_finalize_wait() -> None:
    """semantics.md §4.6: equal zxids and epochs, the highest id wins; we (id 2) follow 3 after finalizeWait."""
    pair = Pair(Case(MAJ3, None, 2, LearnerType.PARTICIPANT, 0, 0))
    first = pair.step(LookForLeader())
    assert [out[:2] for out in first.outputs] == [("send", 1), ("send", 3), ("arm", impl.TimerKind.POLL)]
    pair.step(Receive(3, LOOKING, 3, 0, 1, 0, 2))  # 3's vote beats ours: adopt it and tell everyone
    assert pair.step(Receive(1, LOOKING, 3, 0, 1, 0, 2)).armed == (impl.TimerKind.FINALIZE, 200)
    end = pair.step(TimerFired(have_delivered=True))
    assert end.outputs == (("decide", FOLLOWING, 3, 0, 1, 0),)
    assert (end.peer_state, end.current_vote, end.in_election) == (FOLLOWING, (3, 0, 1, 0), False)


def test_late_joiner_follows_an_established_leader_out_of_election() -> None:
    """receivedFollowingNotification: a quorum FOLLOWING/LEADING 3 in round 7 takes us (round 1) to round 7."""
    pair = Pair(Case(MAJ3, None, 1, LearnerType.PARTICIPANT, 0, 0))
    pair.step(LookForLeader())
    assert not pair.step(Receive(2, FOLLOWING, 3, 5, 7, 1, 2)).outputs[:-1]
    end = pair.step(Receive(3, LEADING, 3, 5, 7, 1, 2))
    assert end.outputs == (("decide", FOLLOWING, 3, 5, 7, 1),)
    assert end.logicalclock == 7


def test_leader_without_weight_aborts_the_election() -> None:
    """QuorumHierarchical.getWeight unboxes null (NullPointerException) in totalOrderPredicate; QuorumPeer.run
    catches it and calls lookForLeader again: a new round, the queue kept (semantics.md §6.2)."""
    hier = ConfigDesc(frozenset({1, 2}), frozenset(), ((1, ((1, 1), (2, 1))),), 0)
    joining = ConfigDesc(frozenset({1, 2, 3}), frozenset(), None, 1)  # 3 is a voter of the next config only
    pair = Pair(Case(hier, joining, 1, LearnerType.PARTICIPANT, 0, 0))
    pair.step(LookForLeader())
    obs = pair.step(Receive(2, LOOKING, 3, 0, 3, 0, 2))  # a later round, for 3, who has no weight in `hier`
    # logicalclock.set(3) ran before the predicate threw; the restarted lookForLeader increments it.
    assert obs.events[:2] == (impl.ElectionAborted(3, 3), impl.ElectionStart(4, Vote(ServerId(1), Zxid(0), Epoch(0))))
    assert ("send", 2, 1, LOOKING, 1, 0, 4, 0, 2) in obs.outputs
    # In the finalize loop the leader is not even checked for being a voter: a stranger aborts as well.
    pair.step(Receive(2, LOOKING, 1, 0, 4, 0, 2))
    assert pair.step(Receive(3, LOOKING, 1, 0, 4, 0, 2)).armed == (impl.TimerKind.FINALIZE, 200)
    obs = pair.step(Receive(2, FOLLOWING, STRANGER, 0, 4, 0, 2))
    assert obs.events[:2] == (
        impl.ElectionAborted(4, STRANGER),
        impl.ElectionStart(5, Vote(ServerId(1), Zxid(0), Epoch(0))),
    )
