"""What the verdict tracks about each server while it streams through a trace (memory: per server, not per event).

`World.apply` moves the tracked state past one event; the invariant checks read the state *before* an event
(their `pre` handlers run first) or *after* it (`post` handlers). Each field says which ZooKeeper value it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from zkfle.spec import transitions
from zkfle.spec.quorum import Group as QuorumGroup
from zkfle.spec.quorum import HierarchicalSystem, MajoritySystem, QuorumSystem, QuorumView
from zkfle.spec.recovery import FRESH, DurableState, Loaded, load_database
from zkfle.spec.trace import (
    Boot,
    Crash,
    Decide,
    ElectionStart,
    EpochWrite,
    Established,
    HierarchicalQuorum,
    MajorityQuorum,
    Notification,
    PhaseName,
    Proposal,
    Recovered,
    RecoveryFailed,
    Recv,
    Snapshot,
    StateChange,
    StateName,
    TraceHeader,
    Truncated,
    TxnLogged,
    UpdatingEpoch,
    Wipe,
    vocabulary_phase,
    vocabulary_state,
)
from zkfle.spec.vocabulary import LearnerType, Vote
from zkfle.spec.zxid import Epoch, ServerId, Zxid, java_hex

Handler = Callable[[Any], None]
"""A handler of one event kind (the event's class is the dispatch key, so the argument is that class)."""
HandlerKey = type | tuple[type, type]
"""What a handler is registered for: an event class, or (Send or Recv, a message class)."""


class Ballot:
    """The latest notification a server took in from one sender: the vote, and the seq of its recv."""

    __slots__ = ("msg", "recv_seq")

    def __init__(self, msg: Notification, recv_seq: int) -> None:
        self.msg = msg
        self.recv_seq = recv_seq


class ServerTrack:
    """One server as the trace shows it so far.

    Disk (durable, survives crashes): `zxid` is the highest durable zxid of the log and snapshots (what
    `FileTxnSnapLog.restore` gives when it succeeds), `logged` the last zxid of the txn log, `snapshot_zxid` the
    newest durable snapshot's zxid seen in the trace (0 for a header `disks` entry, whose snapshot is not
    given), `snapshot` /
    `log_entries` whether a durable snapshot / txn exists (a header `disks` entry is a restorable dir: it has
    a snapshot), `current_epoch` / `accepted_epoch` the epoch files (None: missing), `current_epoch_tmp` a
    `currentEpoch.tmp` whose rename has not happened (`AtomicFileWritingIdiom`; an `acceptedEpoch.tmp` is
    never read by `loadDataBase`, so it is not kept), `updating_epoch` branch 3.4's marker file (ZOOKEEPER-1653;
    set only by `updating_epoch` events and the header, so a 3.8.0 trace never has it), `initialize` the
    `initialize` file (header `db_autocreate: false`: a server without a `disks` entry has it until its first
    start-up deletes it).

    Process (lost at a crash): `node` in `spec.transitions`, `incarnation` (boots so far), `clock` the election
    round (`logicalclock`), `proposal` / `proposal_round` the current FLE proposal, `initial` and
    `election_seq` the vote and seq of the last `election_start`, `leading_epoch` the epoch it was
    `established` for while it still leads, `accepted_at_decide` its acceptedEpoch when `lookForLeader` last
    returned (what `Leader.getEpochToPropose` reads as its own `lastAcceptedEpoch`), `looking_ballots` the
    latest LOOKING notification taken in from each (sender, round) for the rounds from the server's own on
    (the finalize loop may discard a later-round one without recording it, so one per sender is not enough),
    `settled_ballots` the latest FOLLOWING-or-LEADING one from each sender in this incarnation (kept apart as
    lookForLeader keeps `recvset` and `outofelection` apart).
    """

    __slots__ = (
        "accepted_at_decide",
        "accepted_epoch",
        "clock",
        "current_epoch",
        "current_epoch_tmp",
        "election_seq",
        "incarnation",
        "initial",
        "initialize",
        "leading_epoch",
        "learner_type",
        "log_entries",
        "logged",
        "looking_ballots",
        "node",
        "proposal",
        "proposal_round",
        "settled_ballots",
        "sid",
        "snapshot",
        "snapshot_zxid",
        "updating_epoch",
        "zxid",
    )

    def __init__(self, sid: ServerId, learner_type: LearnerType, disk: DurableState) -> None:
        self.sid = sid
        self.learner_type = learner_type
        self.zxid: int = disk.zxid
        self.logged: int = disk.zxid
        self.current_epoch: int | None = _number(disk.current_epoch)
        self.accepted_epoch: int | None = _number(disk.accepted_epoch)
        self.current_epoch_tmp: int | None = _number(disk.current_epoch_tmp)
        self.snapshot = disk.snapshot
        self.snapshot_zxid = 0
        self.log_entries = disk.log_entries
        self.updating_epoch = disk.updating_epoch
        self.initialize = disk.initialize
        self.node = transitions.DOWN
        self.incarnation = 0
        self.clock = 0
        self.proposal: Vote | None = None
        self.proposal_round = 0
        self.initial: Vote | None = None
        self.election_seq = 0
        self.leading_epoch: int | None = None
        self.accepted_at_decide: int | None = None
        self.looking_ballots: dict[tuple[int, int], Ballot] = {}
        self.settled_ballots: dict[int, Ballot] = {}

    @property
    def durable(self) -> DurableState:
        """The durable state as `spec.recovery` takes it."""
        return DurableState(
            Zxid(self.zxid),
            None if self.current_epoch is None else Epoch(self.current_epoch),
            None if self.accepted_epoch is None else Epoch(self.accepted_epoch),
            None if self.current_epoch_tmp is None else Epoch(self.current_epoch_tmp),
            self.snapshot,
            self.log_entries,
            self.updating_epoch,
            self.initialize,
        )

    def summary(self) -> str:
        """One line for reports: the process node, the disk and the election."""
        disk = (
            f"disk zxid=0x{java_hex(self.zxid)} currentEpoch={_show(self.current_epoch)} "
            f"acceptedEpoch={_show(self.accepted_epoch)}"
        )
        if self.current_epoch_tmp is not None:
            disk += f" currentEpoch.tmp={self.current_epoch_tmp}"
        if self.updating_epoch:
            disk += " updatingEpoch"
        if not self.snapshot:
            disk += " no-snapshot"
        election = f"round={self.clock}"
        if self.proposal is not None:
            election += f" proposal={self.proposal}@{self.proposal_round}"
        leading = "" if self.leading_epoch is None else f" leading epoch {self.leading_epoch}"
        return f"server {self.sid}: {self.node} (incarnation {self.incarnation}){leading}; {disk}; {election}"


def _number(value: object) -> int | None:
    assert value is None or isinstance(value, int)
    return value


def _show(value: int | None) -> str:
    return "missing" if value is None else str(value)


class HeaderError(ValueError):
    """A header that parses but describes no ensemble ZooKeeper would accept (bad input, not a violation)."""


def quorum_view(header: TraceHeader) -> QuorumView:
    """The header's voting view as the quorum verifier `QuorumPeer.getQuorumVerifier` would build it;
    `HeaderError` for what `QuorumPeerConfig` / `QuorumHierarchical` would reject."""
    sids = [s.sid for s in header.servers]
    if len(sids) != len(set(sids)):
        raise HeaderError("header: a server is listed twice in `servers`")
    participants = frozenset(ServerId(s.sid) for s in header.servers if s.role == "participant")
    observers = frozenset(ServerId(s.sid) for s in header.servers if s.role == "observer")
    system: QuorumSystem
    match header.quorum:
        case MajorityQuorum():
            system = MajoritySystem(participants, observers)
        case HierarchicalQuorum(groups=groups, weights=weights):
            grouped = [sid for gid in sorted(groups) for sid in groups[gid]]
            twice = sorted({sid for sid in grouped if grouped.count(sid) > 1})
            if twice:
                raise HeaderError(f"header: server {twice[0]} is in more than one group")
            alone = sorted(participants - set(grouped))
            if alone:
                raise HeaderError(f"header: participant {alone[0]} is in no group")
            if any(w < 0 for w in weights.values()):
                raise HeaderError("header: a weight is negative")
            system = HierarchicalSystem(
                participants,
                tuple(
                    QuorumGroup(gid, tuple((ServerId(sid), weights.get(sid, 1)) for sid in sorted(groups[gid])))
                    for gid in sorted(groups)
                ),
                observers,
            )
    return QuorumView(system)


class _Tracks(dict[int, ServerTrack]):
    """sid -> track; a server the header does not list is tracked on first sight as an observer with an empty
    disk (it cannot vote: it is not in the verifier). `tracks[sid]` is the hot path of every check."""

    def __missing__(self, sid: int) -> ServerTrack:
        found = self[sid] = ServerTrack(ServerId(sid), LearnerType.OBSERVER, FRESH)
        return found


class World:
    """Every server's track, built from the header (`disks` gives the durable state before the run)."""

    def __init__(self, header: TraceHeader) -> None:
        self.header = header
        self.view = quorum_view(header)
        disks = header.disks or {}
        self.servers: dict[int, ServerTrack] = _Tracks()
        fresh = replace(FRESH, initialize=not header.db_autocreate)
        for entry in sorted(header.servers, key=lambda e: e.sid):
            disk = disks.get(entry.sid)
            durable = (
                fresh
                if disk is None
                else DurableState(
                    Zxid(disk.zxid),
                    None if disk.current_epoch is None else Epoch(disk.current_epoch),
                    None if disk.accepted_epoch is None else Epoch(disk.accepted_epoch),
                    None if disk.current_epoch_tmp is None else Epoch(disk.current_epoch_tmp),
                    updating_epoch=disk.updating_epoch,
                )
            )
            learner = LearnerType.PARTICIPANT if entry.role == "participant" else LearnerType.OBSERVER
            self.servers[entry.sid] = ServerTrack(ServerId(entry.sid), learner, durable)

    def track(self, sid: int) -> ServerTrack:
        """The track of `sid` (created on first sight for a server the header does not list)."""
        return self.servers[sid]

    def handlers(self) -> dict[HandlerKey, Handler]:
        """The state update for each event kind that changes tracked state."""
        return {
            Boot: self._boot,
            Recovered: self._recovered,
            RecoveryFailed: self._recovery_failed,
            Crash: self._crash,
            Wipe: self._wipe,
            EpochWrite: self._epoch_write,
            UpdatingEpoch: self._updating_epoch,
            TxnLogged: self._txn_logged,
            Truncated: self._truncated,
            Snapshot: self._snapshot,
            StateChange: self._state,
            ElectionStart: self._election_start,
            Proposal: self._proposal,
            Decide: self._decide,
            Established: self._established,
            (Recv, Notification): self._recv,
        }

    def _boot(self, ev: Boot) -> None:
        t = self.servers[ev.sid]
        t.node = transitions.STARTING
        t.incarnation += 1
        t.clock = 0
        t.proposal = t.initial = None
        t.proposal_round = t.election_seq = 0
        t.leading_epoch = t.accepted_at_decide = None
        t.looking_ballots, t.settled_ballots = {}, {}

    def _recovered(self, ev: Recovered) -> None:
        t = self.servers[ev.sid]
        result = load_database(t.durable, db_autocreate=self.header.db_autocreate)
        t.initialize = False  # restore deletes it
        if isinstance(result, Loaded):
            if result.after.current_epoch_tmp is None:
                t.current_epoch_tmp = None
            t.updating_epoch = result.after.updating_epoch
        t.current_epoch, t.accepted_epoch = ev.current_epoch, ev.accepted_epoch
        t.node = transitions.LOOKING

    def _recovery_failed(self, ev: RecoveryFailed) -> None:
        self.servers[ev.sid].node = transitions.FAILED

    def _wipe(self, ev: Wipe) -> None:
        t = self.servers[ev.server]
        t.zxid = t.logged = FRESH.zxid
        t.current_epoch = t.accepted_epoch = t.current_epoch_tmp = None
        t.snapshot, t.log_entries = FRESH.snapshot, FRESH.log_entries
        t.snapshot_zxid = 0
        t.updating_epoch, t.initialize = FRESH.updating_epoch, FRESH.initialize

    def _crash(self, ev: Crash) -> None:
        t = self.servers[ev.sid]
        t.node = transitions.DOWN
        t.leading_epoch = None

    def _epoch_write(self, ev: EpochWrite) -> None:
        t = self.servers[ev.sid]
        if ev.file == "currentEpoch":
            if ev.stage == "tmp":
                t.current_epoch_tmp = ev.value
            else:
                t.current_epoch, t.current_epoch_tmp = ev.value, None
        elif ev.stage == "done":
            t.accepted_epoch = ev.value

    def _updating_epoch(self, ev: UpdatingEpoch) -> None:
        self.servers[ev.sid].updating_epoch = ev.present

    def _txn_logged(self, ev: TxnLogged) -> None:
        t = self.servers[ev.sid]
        t.logged = ev.zxid
        t.log_entries = True
        t.zxid = max(t.zxid, ev.zxid)

    def _truncated(self, ev: Truncated) -> None:
        """`FileTxnSnapLog.truncateLog` cuts the log; it leaves the snapshots alone, so a durable snapshot above
        `zxid` (a SNAP sync's NEWLEADER snapshot) is still what restore starts from (ZOOKEEPER-1549)."""
        t = self.servers[ev.sid]
        t.logged = ev.zxid
        t.zxid = max(ev.zxid, t.snapshot_zxid)

    def _snapshot(self, ev: Snapshot) -> None:
        t = self.servers[ev.sid]
        t.snapshot = True
        t.snapshot_zxid = max(t.snapshot_zxid, ev.zxid)
        t.zxid = max(t.zxid, ev.zxid)

    def _state(self, ev: StateChange) -> None:
        t = self.servers[ev.sid]
        t.node = up_node(ev.state, ev.phase)
        if ev.state != "LEADING":
            t.leading_epoch = None

    def _election_start(self, ev: ElectionStart) -> None:
        t = self.servers[ev.sid]
        vote = _vote(ev.vote.leader, ev.vote.zxid, ev.vote.peer_epoch)
        t.clock = t.proposal_round = ev.round
        _forget_rounds_before(t, ev.round)
        t.proposal = t.initial = vote
        t.election_seq = ev.seq

    def _proposal(self, ev: Proposal) -> None:
        t = self.servers[ev.sid]
        if ev.round > t.clock:
            _forget_rounds_before(t, ev.round)
        t.clock = max(t.clock, ev.round)
        t.proposal_round = ev.round
        t.proposal = _vote(ev.vote.leader, ev.vote.zxid, ev.vote.peer_epoch)

    def _decide(self, ev: Decide) -> None:
        t = self.servers[ev.sid]
        t.clock = ev.round
        t.accepted_at_decide = t.accepted_epoch

    def _established(self, ev: Established) -> None:
        self.servers[ev.sid].leading_epoch = ev.epoch

    def _recv(self, ev: Recv) -> None:
        assert type(ev.msg) is Notification
        state = ev.msg.state
        if state == "LOOKING":
            self.servers[ev.sid].looking_ballots[(ev.from_, ev.msg.round)] = Ballot(ev.msg, ev.seq)
        elif state != "OBSERVING":
            self.servers[ev.sid].settled_ballots[ev.from_] = Ballot(ev.msg, ev.seq)


@cache
def up_node(state: StateName, phase: PhaseName) -> transitions.Node:
    """The node of a server that a `state` event puts in (built once per pair: a trace names only a few)."""
    return transitions.Node(transitions.Life.UP, vocabulary_state(state), vocabulary_phase(phase))


def _forget_rounds_before(t: ServerTrack, round_: int) -> None:
    """The LOOKING ballots of rounds below the server's own can back none of its decisions any more."""
    if t.looking_ballots:
        t.looking_ballots = {k: b for k, b in t.looking_ballots.items() if k[1] >= round_}


def _vote(leader: int, zxid: int, peer_epoch: int) -> Vote:
    return Vote(ServerId(leader), Zxid(zxid), Epoch(peer_epoch))
