"""A sans-IO `QuorumPeer`: one server process from `QuorumPeer.start` to its death, inputs in, outputs out.

The peer owns one incarnation's memory (DataTree, epochs, committed log, FastLeaderElection core, its Zab
role) and does its disk IO inline through the `FileSystem` it was given, call by call, in ZooKeeper 3.8's
order. A driver that wraps the FileSystem can therefore kill the process between any two system calls:
the wrapper raises, the exception leaves the peer (nothing here catches it), and the driver calls
`take()` to collect what happened before the crash.

Inputs (each takes the virtual time `now` in ms): `start`, `notification`, `timer`, `learner_connected`,
`connected`, `connect_failed`, `packet`, `disconnected`, `client_write`. Outputs, in order, from `take()`:
trace events (`zkfle.spec.trace` structs with seq 0; the writer numbers them) and effects for the driver
(`SendVote`, `ConnectAll`, `SendPacket`, `Dial`, `Hangup`, `SetTimer`, `CancelTimer`, `Halt`).

What follows ZooKeeper (semantics.md §1.2-1.4, §2.5; Java classes named in each method): start-up checks and
`loadDataBase`; the run loop LOOKING -> FLE -> LEADING/FOLLOWING -> `updateServerState` -> LOOKING; the
leader's `lead()` (snapshot, getEpochToPropose, waitForEpochAck, currentEpoch, waitForNewLeaderAck,
startZkServer, tryToCommit) and LearnerHandler's sync choice; the learner's `registerWithLeader` and
`syncWithLeader`; the SyncRequestProcessor as an asynchronous append step and a later fsync step (timers the
driver fires), txns durable only at the fsync. Defaults are the corrected protocol; `zkfle.impl.bugs` names
each 3.8.0 difference.

Observers follow `Observer.observeLeader` (OBSERVERINFO, the shared Learner sync, INFORM for every commit,
`ObserverZooKeeperServer.commitRequest`); the leader counts them in no quorum and sends them no PROPOSAL.

PING is exchanged as an untraced effect (`Ping`): the leader's tick every tickTime/2 counts the learners heard
from within syncLimit ticks (`LearnerHandler.synced`) and pings them; a learner answers in broadcast, and its
read timeout is syncLimit*tickTime from NEWLEADER on.

Not modelled: `SyncLimitCheck` (closing a learner that leaves a proposal unacknowledged for syncLimit ticks),
the tick/tickSkip alternation of `Leader.lead` (the quorum check runs every tickTime/2), the observer master
(`observerMasterPort`), sessions and the request pipeline (a client write is one create txn, without digest),
reconfig, the txn-log based DIFF of syncFollower.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field, replace

from zkfle.impl.bugs import Bug
from zkfle.impl.core import fle
from zkfle.impl.core.quorum import QuorumVerifier
from zkfle.impl.core.zab import (
    COMMIT_LOG_COUNT,
    EpochChoice,
    LoggedTxn,
    Packet,
    PacketType,
    epoch_ack_more_recent,
    sync_follower,
)
from zkfle.impl.persistence.datatree import DataTree
from zkfle.impl.persistence.epochfiles import (
    ACCEPTED_EPOCH_FILENAME,
    CURRENT_EPOCH_FILENAME,
    EpochFileError,
    EpochWrite,
    WriteStep,
    read_long_from_file,
)
from zkfle.impl.persistence.filetxnsnaplog import RestoreError, process_transaction, restore, save
from zkfle.impl.persistence.fs import FileSystem, join
from zkfle.impl.persistence.records import OPEN_ACL_UNSAFE, CreateTxn, OpCode, SetDataTxn, TxnHeader, encode_txn_entry
from zkfle.impl.persistence.snapshot import SNAPSHOT_FILE_PREFIX, encode_snapshot, parse_snapshot
from zkfle.impl.persistence.txnlog import LogEntry, TxnLogError, TxnLogWriter, read_log, truncate_log, zxid_from_name
from zkfle.impl.recovery import UPDATING_EPOCH_FILENAME, DatabaseLoaded, LoadOptions, load_database
from zkfle.spec import trace as tr
from zkfle.spec.vocabulary import LearnerType, ServerState, SyncMode, Vote, ZabPhase
from zkfle.spec.zxid import Epoch, ServerId, Zxid, epoch_of, java_hex, make_zxid

LOOKING, FOLLOWING, LEADING, OBSERVING = (ServerState.LOOKING, ServerState.FOLLOWING, ServerState.LEADING,
                                          ServerState.OBSERVING)  # fmt: skip
STATE_NAMES: dict[ServerState, tr.StateName] = {
    LOOKING: "LOOKING",
    FOLLOWING: "FOLLOWING",
    LEADING: "LEADING",
    OBSERVING: "OBSERVING",
}
DECIDED_NAMES: dict[ServerState, tr.DecidedState] = {FOLLOWING: "FOLLOWING", LEADING: "LEADING", OBSERVING: "OBSERVING"}
PHASE_NAMES: dict[ZabPhase, tr.PhaseName] = {
    ZabPhase.ELECTION: "election",
    ZabPhase.DISCOVERY: "discovery",
    ZabPhase.SYNCHRONIZATION: "synchronization",
    ZabPhase.BROADCAST: "broadcast",
}
MODE_NAMES: dict[SyncMode, tr.SyncModeName] = {SyncMode.DIFF: "DIFF", SyncMode.SNAP: "SNAP", SyncMode.TRUNC: "TRUNC"}
EXIT_UNEXPECTED = 1
"""`ExitCode.UNEXPECTED_ERROR`: start() threw (config or loadDataBase)."""
EXIT_SNAPSHOT = 10
"""`ExitCode.TXNLOG_ERROR_TAKING_SNAPSHOT`: `ZooKeeperServer.takeSnapshot` failed."""
EXIT_QUORUM_PEER = 13
"""`ExitCode.QUORUM_PACKET_ERROR`: Learner.syncWithLeader could not truncate or got an unexpected packet."""
CONNECT_TRIES = 5
"""`Learner.connectToLeader`: attempts, 1 s apart, before the learner gives up; it also gives up when less
than 1 s of tickTime*initLimit is left after a failed attempt."""
CONNECT_RETRY_MS = 1000
SYNC_APPEND_MS = 1
"""Nominal delay before SyncRequestProcessor's thread takes queued requests and appends them."""
FSYNC_MS = 2
"""Nominal fsync latency (`FileTxnLog.commit`); the driver may add jitter to both."""
SESSION_ID = 0x1A2B3C4D
"""The client session of the simulated writes (txn header clientId)."""
TIME_BASE_MS = 1_764_000_000_000
"""Txn header times are this plus the virtual time: same run, same bytes."""


class Timer(enum.IntEnum):
    """The waits of one process; at most one of each kind is armed (an IntEnum: it is hashed often)."""

    FLE_POLL = 1
    FLE_FINALIZE = 2
    SYNC_APPEND = 3
    SYNC_FLUSH = 4
    LEADER_WAIT = 5
    LEADER_TICK = 6
    LEARNER_READ = 7
    CONNECT_RETRY = 8
    NEWLEADER_ACK = 9
    OBSERVER_ELECTION_DELAY = 10


DISK_TIMERS = frozenset({Timer.SYNC_APPEND, Timer.SYNC_FLUSH, Timer.NEWLEADER_ACK})
"""Timers that stand for thread scheduling and disk latency: a driver may jitter them."""
DRAWN_TIMERS = frozenset({Timer.OBSERVER_ELECTION_DELAY})
"""Timers whose wait ZooKeeper draws at random: the driver waits uniformly in [0, ms) instead of ms
(`Observer.waitForObserverElectionDelay`: `ThreadLocalRandom.nextLong(delay)`)."""
OBSERVER_ELECTION_DELAY_MS = 200
"""`zookeeper.observer.election.DelayMs` (`Observer.observerElectionDelayMs`, default 200)."""


@dataclass(frozen=True, slots=True)
class SendVote:
    to: int
    notification: fle.Notification


@dataclass(frozen=True, slots=True)
class ConnectAll:
    """`QuorumCnxManager.connectAll()`."""


@dataclass(frozen=True, slots=True)
class SendPacket:
    """Write a packet on the Zab (quorum port) connection to `to`."""

    to: int
    packet: Packet


@dataclass(frozen=True, slots=True)
class Dial:
    """Learner: open a Zab connection to the leader; answer with `connected` or `connect_failed`."""

    leader: int


@dataclass(frozen=True, slots=True)
class Hangup:
    """Close the Zab connection with `peer` (both ends see it closed; in-flight packets are lost)."""

    peer: int


@dataclass(frozen=True, slots=True)
class SetTimer:
    timer: Timer
    ms: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: Timer


@dataclass(frozen=True, slots=True)
class Halt:
    """The process exits with `exit_code`; `reason` is ZooKeeper's message."""

    exit_code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Ping:
    """A `Leader.PING` on the Zab connection with `to`: the leader's (`LearnerHandler.ping`) or a learner's
    answer (`Learner.ping`). Not traced (trace format v1 has no PING message): the driver delivers it after
    what was written on the connection before it and before what is written after it, then calls `ping`."""

    to: int


Effect = SendVote | ConnectAll | SendPacket | Dial | Hangup | Ping | SetTimer | CancelTimer | Halt
Output = Effect | tr.Event


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """What `QuorumPeerMain.runFromConfig` gives the peer (zoo.cfg) plus zkfle's switches."""

    sid: int
    view: frozenset[int]
    """`getView()`: every `server.N` id."""
    verifier: QuorumVerifier
    tick_time_ms: int = 2000
    init_limit: int = 10
    sync_limit: int = 5
    snap_dir: str = "/data/version-2"
    log_dir: str = "/data/version-2"
    config: bytes = b""
    bugs: frozenset[Bug] = frozenset()
    fle_options: fle.FleOptions = field(default_factory=fle.FleOptions)
    load_options: LoadOptions = field(default_factory=LoadOptions)
    prealloc_size: int = 0
    """`zookeeper.preAllocSize` in bytes; 0 turns preallocation off (the files stay readable by ZooKeeper)."""
    snap_count: int = 100_000
    """`zookeeper.snapCount`: SyncRequestProcessor rolls the log and snapshots after snapCount/2 appends
    (ZooKeeper adds a random `randRoll` in [0, snapCount/2); zkfle uses 0 to stay deterministic)."""


class _Stage(enum.Enum):
    """Where one LearnerHandler (leader side) or the Learner is."""

    CONNECTING = 0
    INFO = 1  # FOLLOWERINFO sent/received
    EPOCH = 2  # ACKEPOCH sent/received
    NEWLEADER = 3  # sync packets + NEWLEADER sent/received
    ACKED = 4  # NEWLEADER acknowledged
    UPTODATE = 5


@dataclass(slots=True)
class _Handler:
    sid: int
    stage: _Stage = _Stage.CONNECTING
    last_zxid: int = -1
    forwarding: bool = False
    observer: bool = False
    """The first packet was OBSERVERINFO (`LearnerHandler.learnerType` OBSERVER)."""
    deadline: float = 0.0
    """`tickOfNextAckDeadline` in ms: the handler is `synced()` while now <= deadline."""


@dataclass(slots=True)
class _Leader:
    choice: EpochChoice
    summary: tuple[int, int]
    handlers: dict[int, _Handler] = field(default_factory=dict)
    stage: _Stage = _Stage.INFO
    electing: set[int] = field(default_factory=set)
    newleader_acks: set[int] = field(default_factory=set)
    established: bool = False
    counter: int = 0
    outstanding: dict[int, tuple[LoggedTxn, set[int]]] = field(default_factory=dict)


@dataclass(slots=True)
class _Learner:
    leader: int
    generation: int
    stage: _Stage = _Stage.CONNECTING
    tries: int = 0
    dialled_at: float = 0.0
    new_epoch: int = -1
    mode: SyncMode | None = None
    not_committed: list[LoggedTxn] = field(default_factory=list)
    committed: list[int] = field(default_factory=list)
    newleader_acked: bool = False
    logged_at_newleader: int = 0
    """How many of `not_committed` (the first ones) went to the txn log at NEWLEADER."""
    deferred_acks: list[int] = field(default_factory=list)
    pending: dict[int, LoggedTxn] = field(default_factory=dict)
    observer: bool = False
    """An `Observer` (OBSERVING) rather than a `Follower`."""
    heard_at: float = 0.0
    """In broadcast: when the last packet from the leader was read (the read timeout counts from it)."""


@dataclass(slots=True)
class _Queued:
    txn: LoggedTxn
    ack_generation: int
    """Learner generation to ACK to after the fsync; 0 = the leader acks itself; -1 = no ACK."""


class QuorumPeer:
    """One server incarnation. Construct, then `start(now)`; after each input, `take()` the outputs."""

    def __init__(self, settings: PeerSettings, fs: FileSystem) -> None:
        self.settings = settings
        self.sid = ServerId(settings.sid)
        self.fs = fs
        self.learner_type = (
            LearnerType.OBSERVER if self.sid in settings.verifier.observing_members() else LearnerType.PARTICIPANT
        )
        """`QuorumPeerConfig`: a `server.N=...:observer` line for our own id makes us an OBSERVER."""
        self.now = 0.0
        self.state = LOOKING
        self.phase = ZabPhase.ELECTION
        self.halted = False
        self.tree: DataTree | None = None
        self.current_epoch = -1
        self.accepted_epoch = -1
        self.committed_log: deque[LoggedTxn] = deque(maxlen=COMMIT_LOG_COUNT)
        self.writer = TxnLogWriter(fs, settings.log_dir, settings.prealloc_size)
        self.fle: fle.FastLeaderElection | None = None
        self.leader: _Leader | None = None
        self.learner: _Learner | None = None
        self.established_epochs: list[tuple[int, int]] = []
        """(epoch, leader) of every epoch this process led or synced with, in order (for summaries)."""
        self._generation = 0
        self._queue: list[_Queued] = []
        self._log_count = 0
        self._last_appended = -1
        self._unflushed: list[_Queued] = []
        self._armed: set[Timer] = set()
        self._out: list[Output] = []

    # ------------------------------------------------------------------------------------ plumbing

    def take(self) -> list[Output]:
        """The outputs produced since the last call, in order."""
        out, self._out = self._out, []
        return out

    def _emit(self, event: tr.Event) -> None:
        self._out.append(event)

    def _set_timer(self, timer: Timer, ms: int) -> None:
        self._armed.add(timer)
        self._out.append(SetTimer(timer, ms))

    def _cancel(self, timer: Timer) -> None:
        if timer in self._armed:
            self._armed.discard(timer)
            self._out.append(CancelTimer(timer))

    def _send(
        self, to: int, ptype: PacketType, zxid: int, *, current_epoch: int = -1, txn: LoggedTxn | None = None,
        snapshot: bytes = b""
    ) -> None:  # fmt: skip
        self._out.append(SendPacket(to, Packet(ptype, zxid, current_epoch, txn, snapshot)))

    def _set_state(self, state: ServerState, phase: ZabPhase) -> None:
        """`setPeerState` / `setZabState`: one `state` event per change."""
        if (state, phase) != (self.state, self.phase):
            self.state, self.phase = state, phase
            self._emit(
                tr.StateChange(seq=0, t=self.now, sid=self.sid, state=STATE_NAMES[state], phase=PHASE_NAMES[phase])
            )

    def _halt(self, code: int, reason: str) -> None:
        self.halted = True
        for timer in sorted(self._armed, key=lambda t: t.value):
            self._cancel(timer)
        self._out.append(Halt(code, reason))

    def _write_epoch(self, name: tr.EpochFileName, value: int) -> None:
        """`QuorumPeer.writeLongToFile` step by step: `tmp` once fsynced, `done` once renamed; memory after
        the file (ZOOKEEPER-2307). With ZK_2307 `setAcceptedEpoch` sets the field first, as before that fix: a
        failing write leaves memory ahead of the disk."""
        if name != CURRENT_EPOCH_FILENAME and Bug.ZK_2307 in self.settings.bugs:
            self.accepted_epoch = value
        for step in EpochWrite(join(self.settings.snap_dir, name), value).steps(self.fs):
            if step is WriteStep.FSYNC_TMP:
                self._emit(tr.EpochWrite(seq=0, t=self.now, sid=self.sid, file=name, value=Epoch(value), stage="tmp"))
            elif step is WriteStep.RENAME:
                self._emit(tr.EpochWrite(seq=0, t=self.now, sid=self.sid, file=name, value=Epoch(value), stage="done"))
        if name == CURRENT_EPOCH_FILENAME:
            self.current_epoch = value
            if self.fle is not None:
                self.fle.current_epoch = value
        else:
            self.accepted_epoch = value

    @property
    def _tree(self) -> DataTree:
        assert self.tree is not None, "the database is loaded whenever a role runs"
        return self.tree

    def last_zxid(self) -> int:
        """`getLastLoggedZxid()`: the in-memory DataTree's lastProcessedZxid."""
        return self._tree.last_processed_zxid

    def leading_broadcast(self) -> bool:
        """True when this peer is an established leader that can take client writes."""
        return self.leader is not None and self.leader.established and not self.halted

    # ------------------------------------------------------------------------------------ start-up

    def start(self, now: float) -> None:
        """`QuorumPeerMain` -> `QuorumPeer.start()`: the view check, loadDataBase, startLeaderElection, run."""
        self.now = now
        self._emit(tr.Boot(seq=0, t=self.now, sid=self.sid))
        if self.sid not in self.settings.view:
            self._halt(EXIT_UNEXPECTED, f"My id {self.sid} not in the peer list")
            return
        if not self._load_database(at_boot=True):
            return
        tree = self._tree
        self.fle = fle.FastLeaderElection(
            self.sid,
            self.settings.verifier,
            last_logged_zxid=tree.last_processed_zxid,
            current_epoch=self.current_epoch,
            learner_type=self.learner_type,
            config=self.settings.config,
            options=self.settings.fle_options,
        )
        self._look()

    def _load_database(self, *, at_boot: bool) -> bool:
        """`QuorumPeer.loadDataBase`; False (and Halt) when ZooKeeper refuses. Fills the committed log with
        the replayed txns (ZKDatabase's restore listener, `addCommittedProposal`). The `updatingEpoch` rule is on
        unless ZK_1653 (the peer writes the marker then, see `_sync_newleader`), the `.tmp` one unless ZK_4269."""
        bugs, base = self.settings.bugs, self.settings.load_options
        options = replace(
            base,
            updating_epoch_marker=Bug.ZK_1653 not in bugs,
            current_epoch_tmp_fallback=base.current_epoch_tmp_fallback and Bug.ZK_4269 not in bugs,
        )
        marker = join(self.settings.snap_dir, UPDATING_EPOCH_FILENAME)
        had_marker, before = (
            self.fs.exists(marker),
            (self._epoch_on_disk(CURRENT_EPOCH_FILENAME), self._epoch_on_disk(ACCEPTED_EPOCH_FILENAME)),
        )
        outcome = load_database(self.fs, self.settings.snap_dir, self.settings.log_dir, options)
        if not isinstance(outcome, DatabaseLoaded):
            if not at_boot:
                # a reload by getLastLoggedZxid (after a SNAP learner's shutdown) throws the same IOException in
                # ZooKeeper, which run()'s LOOKING case catches and retries for ever; zkfle ends the process
                # instead, seen as a `crash` (`recovery_failed` is the refusal of a start-up only)
                self._halt(EXIT_UNEXPECTED, outcome.message)
                return False
            self._emit(
                tr.RecoveryFailed(
                    seq=0,
                    t=self.now,
                    sid=self.sid,
                    zxid=None if outcome.zxid is None else Zxid(outcome.zxid),
                    current_epoch=None if outcome.current_epoch is None else Epoch(outcome.current_epoch),
                    accepted_epoch=None if outcome.accepted_epoch is None else Epoch(outcome.accepted_epoch),
                    error=outcome.message,
                )
            )
            self._halt(EXIT_UNEXPECTED, outcome.message)
            return False
        self.tree = outcome.restore.tree
        if not at_boot:
            self._trace_reload_writes(before, (outcome.current_epoch, outcome.accepted_epoch), had_marker, marker)
        self.current_epoch, self.accepted_epoch = outcome.current_epoch, outcome.accepted_epoch
        used = outcome.restore.snapshot_used
        if outcome.restore.txns_replayed:
            self._fill_committed_log(-1 if used is None else zxid_from_name(used, SNAPSHOT_FILE_PREFIX))
        else:
            self.committed_log.clear()
        if at_boot:
            self._emit(
                tr.Recovered(
                    seq=0,
                    t=self.now,
                    sid=self.sid,
                    zxid=Zxid(outcome.zxid),
                    current_epoch=Epoch(outcome.current_epoch),
                    accepted_epoch=Epoch(outcome.accepted_epoch),
                )
            )
        return True

    def _epoch_on_disk(self, name: str) -> int | None:
        try:
            return read_long_from_file(self.fs, join(self.settings.snap_dir, name))
        except (FileNotFoundError, EpochFileError):
            return None

    def _trace_reload_writes(
        self, before: tuple[int | None, int | None], after: tuple[int, int], had_marker: bool, marker: str
    ) -> None:
        """A reload in the run loop (getLastLoggedZxid after a SNAP learner dropped its database) runs all of
        loadDataBase, which may write: an adopted currentEpoch (the `updatingEpoch` or `.tmp` rule) and the
        marker's deletion. Start-up reports its outcome as `recovered`; here the writes are traced one by one,
        so the trace holds what the disk holds."""
        files: tuple[tuple[tr.EpochFileName, int | None, int], ...] = (
            ("currentEpoch", before[0], after[0]),
            ("acceptedEpoch", before[1], after[1]),
        )
        stages: tuple[tr.WriteStage, ...] = ("tmp", "done")
        for name, old, new in files:
            if old != new:
                for stage in stages:
                    self._emit(tr.EpochWrite(seq=0, t=self.now, sid=self.sid, file=name, value=Epoch(new), stage=stage))
        if had_marker and not self.fs.exists(marker):
            self._emit(tr.UpdatingEpoch(seq=0, t=self.now, sid=self.sid, present=False))

    def _fill_committed_log(self, after: int) -> None:
        self.committed_log.clear()
        try:
            for item in read_log(self.fs, self.settings.log_dir, after + 1):
                if isinstance(item, LogEntry):
                    self.committed_log.append(LoggedTxn(item.header, item.txn))
        except TxnLogError:
            pass  # restore succeeded, so the part it read is what counts; the rest is not replayed either

    # ------------------------------------------------------------------------------------ election

    def _look(self) -> None:
        """`QuorumPeer.run`, case LOOKING: `lookForLeader()` with the vote data read afresh."""
        core = self.fle
        assert core is not None
        if self.tree is None and not self._load_database(at_boot=False):
            return
        core.last_logged_zxid = self.last_zxid()
        core.current_epoch = self.current_epoch
        self._fle_step(core.look_for_leader())

    def _fle_step(self, step: fle.Step) -> None:
        for ev in step.events:
            match ev:
                case fle.ElectionStart(round=rnd, vote=vote):
                    self._emit(tr.ElectionStart(seq=0, t=self.now, sid=self.sid, round=rnd, vote=_trace_vote(vote)))
                case fle.ProposalChanged(round=rnd, vote=vote):
                    self._emit(tr.Proposal(seq=0, t=self.now, sid=self.sid, round=rnd, vote=_trace_vote(vote)))
                case fle.Decided(state=state, round=rnd, vote=vote):
                    self._emit(
                        tr.Decide(
                            seq=0,
                            t=self.now,
                            sid=self.sid,
                            state=DECIDED_NAMES[state],
                            round=rnd,
                            vote=_trace_vote(vote),
                        )
                    )
                case fle.ElectionAborted():
                    pass
        decided: fle.Decide | None = None
        for eff in step.effects:
            match eff:
                case fle.Send(to=to, notification=n):
                    self._out.append(SendVote(to, n))
                case fle.SetTimer(kind=kind, ms=ms):
                    self._cancel(_other_fle_timer(kind))
                    self._set_timer(_fle_timer(kind), ms)
                case fle.CancelTimer(kind=kind):
                    self._cancel(_fle_timer(kind))
                case fle.ConnectAll():
                    self._out.append(ConnectAll())
                case fle.ReportLookingSid():
                    pass  # ZOOKEEPER-3109's maxTimeToWaitForEpoch is off by default
                case fle.Decide():
                    decided = eff
        if decided is not None:
            self._cancel(Timer.FLE_POLL)
            self._cancel(Timer.FLE_FINALIZE)
            self._enter(decided.state, decided.vote.leader)

    def notification(self, now: float, n: fle.Notification) -> None:
        """A notification taken from QuorumCnxManager's receive queue."""
        self.now = now
        assert self.fle is not None
        self._fle_step(self.fle.receive(n))

    def _enter(self, state: ServerState, leader: int) -> None:
        if state is LEADING:
            self._lead()
        else:
            self._follow(state, leader)

    def _back_to_looking(self) -> None:
        """`updateServerState()` -> LOOKING, then the run loop calls lookForLeader again."""
        self._set_state(LOOKING, ZabPhase.ELECTION)
        assert self.fle is not None
        self._fle_step(self.fle.set_peer_state(LOOKING))
        if self.learner_type is LearnerType.OBSERVER:
            # Observer.waitForObserverElectionDelay, then the LOOKING case; notifications that arrive in
            # between wait in the queue (WorkerReceiver queues for a LOOKING peer)
            self._set_timer(Timer.OBSERVER_ELECTION_DELAY, OBSERVER_ELECTION_DELAY_MS)
            return
        self._look()

    # ------------------------------------------------------------------------------------ timers

    def timer(self, now: float, timer: Timer) -> None:
        """An armed timer expired (the driver drops timers that were cancelled or re-armed)."""
        self.now = now
        assert timer in self._armed, timer
        self._armed.discard(timer)
        match timer:
            case Timer.FLE_POLL | Timer.FLE_FINALIZE:
                raise AssertionError("FLE timers go through fle_timer (they need haveDelivered)")
            case Timer.SYNC_APPEND:
                self._sync_append()
            case Timer.SYNC_FLUSH:
                self._sync_flush()
            case Timer.LEADER_WAIT:
                self._leader_wait_expired()
            case Timer.LEADER_TICK:
                self._leader_tick()
            case Timer.LEARNER_READ:
                self._learner_read_timeout()
            case Timer.CONNECT_RETRY:
                assert self.learner is not None
                self._out.append(Dial(self.learner.leader))
            case Timer.NEWLEADER_ACK:
                self._send_newleader_ack()
            case Timer.OBSERVER_ELECTION_DELAY:
                self._look()

    def fle_timer(self, now: float, timer: Timer, *, have_delivered: bool) -> None:
        """The election's poll timed out; `have_delivered` is QuorumCnxManager.haveDelivered()."""
        self.now = now
        assert timer in self._armed, timer
        self._armed.discard(timer)
        assert self.fle is not None
        kind = fle.TimerKind.POLL if timer is Timer.FLE_POLL else fle.TimerKind.FINALIZE
        self._fle_step(self.fle.timer_fired(kind, have_delivered=have_delivered))

    # ------------------------------------------------------------------------------------ sync processor

    def _log_async(self, txn: LoggedTxn, ack_generation: int) -> None:
        """`SyncRequestProcessor.processRequest`: queue; the processor thread appends, then fsyncs."""
        self._queue.append(_Queued(txn, ack_generation))
        if Timer.SYNC_APPEND not in self._armed and Timer.SYNC_FLUSH not in self._armed:
            self._set_timer(Timer.SYNC_APPEND, SYNC_APPEND_MS)

    def _sync_append(self) -> None:
        batch, self._queue = self._queue, []
        for item in batch:
            self._append(item.txn)
            self._unflushed.append(item)
        self._set_timer(Timer.SYNC_FLUSH, FSYNC_MS)

    def _append(self, txn: LoggedTxn) -> None:
        """`ZKDatabase.append`, and SyncRequestProcessor's roll + snapshot every snapCount/2 txns."""
        self.writer.append(txn.header, txn.txn, None, entry=txn.entry)
        self._last_appended = max(self._last_appended, txn.zxid)
        self._log_count += 1
        if self._log_count > self.settings.snap_count // 2 and self.tree is not None:
            self._log_count = 0
            self.writer.roll()
            save(self.fs, self.settings.snap_dir, self.tree, fsync=False)  # zks.takeSnapshot(): not fsynced

    def _sync_flush(self) -> None:
        """`FileTxnLog.commit` (flush + fsync), then the next processor: ACKs (SendAckRequestProcessor) or
        the leader's own ack (AckRequestProcessor)."""
        self.writer.commit()
        done, self._unflushed = self._unflushed, []
        for item in done:
            self._emit(tr.TxnLogged(seq=0, t=self.now, sid=self.sid, zxid=Zxid(item.txn.zxid)))
        for item in done:
            self._ack_logged(item)
        if self._queue:
            self._set_timer(Timer.SYNC_APPEND, SYNC_APPEND_MS)

    def _ack_logged(self, item: _Queued) -> None:
        if item.ack_generation == 0:
            if self.leader is not None:
                self._proposal_ack(self.sid, item.txn.zxid)
            return
        learner = self.learner
        if learner is None or learner.generation != item.ack_generation:
            return  # the socket of that learner is gone
        if learner.newleader_acked or Bug.ZK_4685 in self.settings.bugs:
            self._send(learner.leader, PacketType.ACK, item.txn.zxid)
        else:
            learner.deferred_acks.append(item.txn.zxid)

    def _log_now(self, txns: list[LoggedTxn]) -> None:
        """Append and commit at once (the fixed Learner.syncWithLeader at NEWLEADER, and a stopped processor)."""
        for txn in txns:
            self._append(txn)
        if txns:
            self.writer.commit()
            # the fsync also made durable what the sync processor had appended and not yet flushed
            earlier, self._unflushed = self._unflushed, []
            for item in earlier:
                self._emit(tr.TxnLogged(seq=0, t=self.now, sid=self.sid, zxid=Zxid(item.txn.zxid)))
            for txn in txns:
                self._emit(tr.TxnLogged(seq=0, t=self.now, sid=self.sid, zxid=Zxid(txn.zxid)))
            for item in earlier:
                self._ack_logged(item)

    def _stop_sync_processor(self) -> None:
        """`SyncRequestProcessor.shutdown`: what was queued is written and flushed, then the thread ends."""
        self._cancel(Timer.SYNC_APPEND)
        self._cancel(Timer.SYNC_FLUSH)
        pending = [q.txn for q in self._queue]
        self._queue = []
        if self._unflushed or pending:
            for txn in pending:
                self._append(txn)
            self.writer.commit()
            for q in self._unflushed:
                self._emit(tr.TxnLogged(seq=0, t=self.now, sid=self.sid, zxid=Zxid(q.txn.zxid)))
            for txn in pending:
                self._emit(tr.TxnLogged(seq=0, t=self.now, sid=self.sid, zxid=Zxid(txn.zxid)))
            self._unflushed = []

    def _apply(self, txn: LoggedTxn) -> None:
        """`ZooKeeperServer.processTxn` + `ZKDatabase.addCommittedProposal`."""
        process_transaction(txn.header, self._tree, txn.txn)
        self.committed_log.append(txn)
        self._emit(tr.Committed(seq=0, t=self.now, sid=self.sid, zxid=Zxid(txn.zxid)))

    def _fast_forward(self) -> None:
        """`ZKDatabase.fastForwardDataBase`: replay the txn log after the in-memory zxid, each txn also into the
        committed log (its `commitProposalPlaybackListener` calls `addCommittedProposal`), which the next
        `syncFollower` of this server as leader reads: without them a follower holding those txns is TRUNCed
        below them."""
        tree = self._tree
        if self._last_appended <= tree.last_processed_zxid:
            return  # nothing this process logged is missing from memory (the log holds no newer txn)
        try:
            for item in read_log(self.fs, self.settings.log_dir, tree.last_processed_zxid + 1):
                if isinstance(item, LogEntry) and item.zxid > tree.last_processed_zxid:
                    process_transaction(item.header, tree, item.txn)
                    self.committed_log.append(LoggedTxn(item.header, item.txn))
        except TxnLogError:
            pass

    # ------------------------------------------------------------------------------------ leader

    def _lead(self) -> None:
        """`Leader.lead()` up to the first wait: snapshot (zk.loadData), then getEpochToPropose(myid)."""
        self._set_state(LEADING, ZabPhase.DISCOVERY)
        tree = self._tree
        save(self.fs, self.settings.snap_dir, tree, fsync=False)
        choice = EpochChoice(self.sid, self.settings.verifier, greater_only=Bug.ZK_1343 in self.settings.bugs)
        self.leader = _Leader(choice, (self.current_epoch, tree.last_processed_zxid))
        self._set_timer(Timer.LEADER_WAIT, self._init_ms())
        if choice.offer(self.sid, self.accepted_epoch):
            self._epoch_chosen()

    def _init_ms(self) -> int:
        return self.settings.init_limit * self.settings.tick_time_ms

    def _sync_ms(self) -> int:
        return self.settings.sync_limit * self.settings.tick_time_ms

    def learner_connected(self, now: float, sid: int) -> None:
        """The learner acceptor took a connection from `sid` (a new LearnerHandler)."""
        self.now = now
        leader = self.leader
        assert leader is not None, "the driver connects learners only to a leading peer"
        old = leader.handlers.pop(sid, None)
        if old is not None:
            self._out.append(Hangup(sid))
        # getTickOfInitialAckDeadline: initLimit + syncLimit ticks to get through the synchronisation
        leader.handlers[sid] = _Handler(sid, deadline=now + self._init_ms() + self._sync_ms())

    def _epoch_chosen(self) -> None:
        """The quorum of FOLLOWERINFO is complete: acceptedEpoch := epoch (disk write #1), wake the handlers.
        With ZK_1282 the leader does not persist (nor set) acceptedEpoch at all (ZOOKEEPER-1291)."""
        leader = self.leader
        assert leader is not None
        epoch = leader.choice.epoch
        if Bug.ZK_1282 not in self.settings.bugs:
            self._write_epoch("acceptedEpoch", epoch)
        self._emit(
            tr.EpochProposed(
                seq=0,
                t=self.now,
                sid=self.sid,
                epoch=Epoch(epoch),
                quorum=[ServerId(s) for s in sorted(leader.choice.connecting)],
            )
        )
        leader.stage = _Stage.EPOCH
        for sid in sorted(leader.handlers):
            h = leader.handlers[sid]
            if h.stage is _Stage.INFO:
                self._send(sid, PacketType.LEADERINFO, make_zxid(epoch, 0))
        self._set_timer(Timer.LEADER_WAIT, self._init_ms())
        leader.electing.add(self.sid)
        self._check_epoch_acks()

    def _check_epoch_acks(self) -> None:
        """`Leader.waitForEpochAck`: on once the leader and a quorum acked the epoch. With ZK_1191 the wait
        loop tests `waitingForNewEpoch`, already false, instead of `electionFinished` (ZOOKEEPER-1192), so the
        leader goes on with its own ack alone."""
        leader = self.leader
        assert leader is not None
        if (
            leader.stage is _Stage.EPOCH
            and self.sid in leader.electing
            and (Bug.ZK_1191 in self.settings.bugs or self.settings.verifier.contains_quorum(leader.electing))
        ):
            self._epoch_acked()

    def _epoch_acked(self) -> None:
        """waitForEpochAck returned: currentEpoch := epoch (disk write #2), SYNCHRONIZATION, sync each learner."""
        leader = self.leader
        assert leader is not None
        epoch = leader.choice.epoch
        self._write_epoch("currentEpoch", epoch)
        leader.stage = _Stage.NEWLEADER
        self._set_state(LEADING, ZabPhase.SYNCHRONIZATION)
        for sid in sorted(leader.handlers):
            if leader.handlers[sid].stage is _Stage.EPOCH:
                self._sync_handler(leader.handlers[sid])
        leader.newleader_acks.add(self.sid)
        self._set_timer(Timer.LEADER_WAIT, self._init_ms())
        self._check_newleader_acks()

    def _sync_handler(self, h: _Handler) -> None:
        """LearnerHandler: syncFollower, startForwarding (outstanding proposals), then NEWLEADER."""
        leader = self.leader
        assert leader is not None
        tree = self._tree
        plan = sync_follower(h.last_zxid, tuple(self.committed_log), tree.last_processed_zxid)
        if plan.mode is SyncMode.SNAP:
            self._send(h.sid, PacketType.SNAP, tree.last_processed_zxid, snapshot=encode_snapshot(tree.to_snapshot()))
        else:
            self._send(h.sid, PacketType[plan.mode.name], plan.zxid)
        for txn in plan.proposals:
            self._send(h.sid, PacketType.PROPOSAL, txn.zxid, txn=txn)
            self._send(h.sid, PacketType.COMMIT, txn.zxid)
        if not h.observer:  # Leader.startForwarding: "Only participant need to get outstanding proposals"
            for zxid in sorted(leader.outstanding):
                if zxid > plan.forward_from:
                    self._send(h.sid, PacketType.PROPOSAL, zxid, txn=leader.outstanding[zxid][0])
        h.forwarding = True
        self._send(h.sid, PacketType.NEWLEADER, make_zxid(leader.choice.epoch, 0))
        h.stage = _Stage.NEWLEADER

    def _check_newleader_acks(self) -> None:
        leader = self.leader
        assert leader is not None
        if not leader.established and self.settings.verifier.contains_quorum(leader.newleader_acks):
            self._established()

    def _established(self) -> None:
        """`startZkServer`: lastProcessedZxid := (epoch, 0), updateElectionVote, BROADCAST, UPTODATE to all."""
        leader = self.leader
        assert leader is not None and self.fle is not None
        epoch = leader.choice.epoch
        self._emit(
            tr.Established(
                seq=0,
                t=self.now,
                sid=self.sid,
                epoch=Epoch(epoch),
                quorum=[ServerId(s) for s in sorted(leader.newleader_acks)],
            )
        )
        leader.established = True
        self.established_epochs.append((epoch, self.sid))
        self._tree.last_processed_zxid = make_zxid(epoch, 0)
        self.fle.update_election_vote(epoch)
        self._set_state(LEADING, ZabPhase.BROADCAST)
        self._cancel(Timer.LEADER_WAIT)
        for sid in sorted(leader.handlers):
            h = leader.handlers[sid]
            if h.stage is _Stage.ACKED:
                self._send(sid, PacketType.UPTODATE, make_zxid(epoch, 0))
                h.stage = _Stage.UPTODATE
        self._set_timer(Timer.LEADER_TICK, max(1, self.settings.tick_time_ms // 2))

    def _leader_packet(self, frm: int, p: Packet) -> None:
        leader = self.leader
        assert leader is not None
        h = leader.handlers.get(frm)
        if h is None:
            return
        voter = frm in self.settings.verifier.voting_members()
        match p.type:  # ACKs first: the broadcast traffic (the two ACK cases keep their order)
            case PacketType.ACK if h.stage is _Stage.NEWLEADER:
                h.stage = _Stage.ACKED
                # waitForNewLeaderAck: an ACK of another zxid is logged ("NEWLEADER ACK from sid: ... is from a
                # different epoch") and not counted (ZOOKEEPER-4685)
                if p.zxid == make_zxid(leader.choice.epoch, 0) and voter:
                    leader.newleader_acks.add(frm)
                    self._check_newleader_acks()
                if leader.established and h.stage is _Stage.ACKED:
                    self._send(frm, PacketType.UPTODATE, make_zxid(leader.choice.epoch, 0))
                    h.stage = _Stage.UPTODATE
            case PacketType.ACK if h.stage in (_Stage.ACKED, _Stage.UPTODATE):
                # LearnerHandler.run's loop after the NEWLEADER ACK: every packet read moves the ack deadline
                # to syncLimit ticks from now (getTickOfNextAckDeadline); learners send only ACKs and PINGs
                h.deadline = self.now + self._sync_ms()
                if voter:
                    self._proposal_ack(frm, p.zxid)
            case PacketType.FOLLOWERINFO | PacketType.OBSERVERINFO if h.stage is _Stage.CONNECTING:
                h.stage = _Stage.INFO
                h.observer = p.type is PacketType.OBSERVERINFO
                if leader.choice.offer(frm, epoch_of(p.zxid)):
                    self._epoch_chosen()
                elif not leader.choice.waiting:
                    self._send(frm, PacketType.LEADERINFO, make_zxid(leader.choice.epoch, 0))
            case PacketType.ACKEPOCH if h.stage is _Stage.INFO:
                h.stage = _Stage.EPOCH
                h.last_zxid = p.zxid
                if leader.stage is _Stage.INFO:
                    return
                # waitForEpochAck checks and counts each ACKEPOCH until a quorum acked (electionFinished); with
                # ZK_1191 the leader went on before that, and the handlers still check until then
                finished = leader.stage is not _Stage.EPOCH and (
                    Bug.ZK_1191 not in self.settings.bugs or self.settings.verifier.contains_quorum(leader.electing)
                )
                if not finished:
                    ce, zxid = leader.summary
                    if p.current_epoch != -1 and epoch_ack_more_recent(p.current_epoch, p.zxid, ce, zxid):
                        # "Follower is ahead of the leader, leader summary: ..." kills this LearnerHandler
                        self._drop_handler(frm)
                        return
                    if p.current_epoch != -1 and p.zxid != -1 and voter:
                        leader.electing.add(frm)
                if leader.stage is _Stage.EPOCH:
                    self._check_epoch_acks()
                else:
                    self._sync_handler(h)
            case _:
                pass  # "unexpected quorum packet"

    def _drop_handler(self, sid: int) -> None:
        leader = self.leader
        assert leader is not None
        if leader.handlers.pop(sid, None) is not None:
            self._out.append(Hangup(sid))

    def client_write(self, now: float, path: str, data: bytes) -> int | None:
        """A client write served by an established leader: a create of `path`, or a setData when the node
        exists (PrepRequestProcessor checks against the leader's tree); the zxid, or None if not leading."""
        self.now = now
        leader = self.leader
        if leader is None or not leader.established:
            return None
        create = self._tree.get(path) is None
        leader.counter += 1
        zxid = make_zxid(leader.choice.epoch, leader.counter)
        op = OpCode.CREATE if create else OpCode.SET_DATA
        header = TxnHeader(SESSION_ID, leader.counter, zxid, TIME_BASE_MS + int(now), int(op))
        record = CreateTxn(path, data, OPEN_ACL_UNSAFE, False, -1) if create else SetDataTxn(path, data, -1)
        txn = LoggedTxn(header, record, encode_txn_entry(header, record, None))  # encoded once for all logs
        leader.outstanding[zxid] = (txn, set())
        for sid in sorted(leader.handlers):
            h = leader.handlers[sid]
            if h.forwarding and not h.observer:  # Leader.propose: to forwardingFollowers only
                self._send(sid, PacketType.PROPOSAL, zxid, txn=txn)
        self._log_async(txn, 0)
        return zxid

    def _proposal_ack(self, sid: int, zxid: int) -> None:
        """`Leader.processAck` + `tryToCommit`: commit in zxid order once a quorum acked."""
        leader = self.leader
        assert leader is not None
        entry = leader.outstanding.get(zxid)
        if entry is None:
            return
        entry[1].add(sid)
        while leader.outstanding:
            first = min(leader.outstanding)
            txn, acks = leader.outstanding[first]
            if not self.settings.verifier.contains_quorum(acks):
                break
            del leader.outstanding[first]
            forwarding = [leader.handlers[peer] for peer in sorted(leader.handlers) if leader.handlers[peer].forwarding]
            for h in forwarding:  # Leader.commit (forwardingFollowers), then Leader.inform (observingLearners)
                if not h.observer:
                    self._send(h.sid, PacketType.COMMIT, first)
            for h in forwarding:
                if h.observer:
                    self._send(h.sid, PacketType.INFORM, first, txn=txn)
            self._apply(txn)

    def _leader_tick(self) -> None:
        """`Leader.lead` loop: without a quorum of voters `synced()` (heard from within their ack deadline) the
        leader gives up; then a PING to every learner whose sender runs (`LearnerHandler.ping`)."""
        leader = self.leader
        assert leader is not None
        now = self.now
        synced = {self.sid} | {s for s, h in leader.handlers.items() if h.forwarding and now <= h.deadline}
        voters = synced & self.settings.verifier.voting_members()
        if not self.settings.verifier.contains_quorum(voters):
            self._leader_shutdown(f"Not sufficient followers synced, only synced with sids: [ {sorted(voters)} ]")
            return
        for sid in sorted(leader.handlers):
            if leader.handlers[sid].forwarding:
                self._out.append(Ping(sid))
        self._set_timer(Timer.LEADER_TICK, max(1, self.settings.tick_time_ms // 2))

    def _leader_wait_expired(self) -> None:
        leader = self.leader
        assert leader is not None
        match leader.stage:
            case _Stage.INFO:
                reason = "Timeout while waiting for epoch from quorum"
            case _Stage.EPOCH:
                reason = "Timeout while waiting for epoch to be acked by quorum"
            case _:
                reason = (
                    f"Waiting for a quorum of followers, only synced with sids: [ {sorted(leader.newleader_acks)} ]"
                )
        self._leader_shutdown(reason)

    def _leader_shutdown(self, reason: str) -> None:
        """`Leader.shutdown(reason)`, then `updateServerState`."""
        leader = self.leader
        assert leader is not None
        for sid in sorted(leader.handlers):
            self._out.append(Hangup(sid))
        self._cancel(Timer.LEADER_WAIT)
        self._cancel(Timer.LEADER_TICK)
        self._stop_sync_processor()
        self.leader = None
        if leader.established:
            self._fast_forward()
        self._back_to_looking()

    # ------------------------------------------------------------------------------------ learner

    def _follow(self, state: ServerState, leader_sid: int) -> None:
        """`Follower.followLeader` (FOLLOWING) or `Observer.observeLeader` (OBSERVING): DISCOVERY, find the
        leader, connect. Both are a `Learner` (the same registerWithLeader and syncWithLeader); the observer's
        differences are marked by `learner.observer`."""
        self._set_state(state, ZabPhase.DISCOVERY)
        self._generation += 1
        self.learner = _Learner(leader_sid, self._generation, dialled_at=self.now, observer=state is OBSERVING)
        if leader_sid not in self.settings.view:
            self._learner_fail(f"Couldn't find the leader with id = {leader_sid}")
            return
        self._out.append(Dial(leader_sid))

    def connected(self, now: float, leader_sid: int) -> None:
        """The connection to the leader is up: `registerWithLeader(FOLLOWERINFO)` (an observer: OBSERVERINFO,
        with the same zxid; it writes acceptedEpoch at LEADERINFO like a follower)."""
        self.now = now
        learner = self.learner
        assert learner is not None and learner.leader == leader_sid and learner.stage is _Stage.CONNECTING
        learner.stage = _Stage.INFO
        info = PacketType.OBSERVERINFO if learner.observer else PacketType.FOLLOWERINFO
        self._send(leader_sid, info, make_zxid(self.accepted_epoch, 0))
        self._set_timer(Timer.LEARNER_READ, self._init_ms())

    def connect_failed(self, now: float, leader_sid: int) -> None:
        self.now = now
        learner = self.learner
        assert learner is not None and learner.leader == leader_sid
        learner.tries += 1
        remaining = self._init_ms() - (now - learner.dialled_at)
        if remaining <= CONNECT_RETRY_MS:
            self._learner_fail("Unexpected exception, initLimit exceeded.")
            return
        if learner.tries >= CONNECT_TRIES:
            self._learner_fail("Unexpected exception, retries exceeded.")
            return
        self._set_timer(Timer.CONNECT_RETRY, CONNECT_RETRY_MS)

    def expects_connection(self, leader_sid: int) -> bool:
        """True while this peer waits for its dial to `leader_sid` to complete."""
        learner = self.learner
        return learner is not None and learner.leader == leader_sid and learner.stage is _Stage.CONNECTING

    def _learner_packet(self, p: Packet) -> None:
        learner = self.learner
        assert learner is not None
        if learner.stage is not _Stage.UPTODATE:
            self._set_timer(Timer.LEARNER_READ, self._read_ms(learner))
        else:
            learner.heard_at = self.now  # the read timer is moved lazily (_learner_read_timeout)
        # the cases test different packet types except where noted, so their order only matters within one
        # type; the broadcast traffic (PROPOSAL, COMMIT) comes first because it is nearly all of it
        match p.type:
            case PacketType.PROPOSAL if learner.mode is not None and p.txn is not None:
                if learner.stage is _Stage.UPTODATE:
                    learner.pending[p.zxid] = p.txn
                    self._log_async(p.txn, learner.generation)
                else:
                    learner.not_committed.append(p.txn)
            case PacketType.COMMIT if learner.stage is _Stage.UPTODATE:
                txn = learner.pending.pop(p.zxid, None)
                if txn is not None:
                    self._apply(txn)
            case PacketType.COMMIT if learner.mode is not None:
                # writeToTxnLog: queued for a DIFF, and for every mode once NEWLEADER came; applied at once
                # before the NEWLEADER of a SNAP or TRUNC (Learner.syncWithLeader)
                if learner.mode is SyncMode.DIFF or learner.stage is _Stage.ACKED:
                    learner.committed.append(p.zxid)
                elif learner.not_committed and learner.not_committed[0].zxid == p.zxid:
                    self._apply(learner.not_committed.pop(0))
            case PacketType.INFORM if learner.mode is not None and p.txn is not None:
                self._inform(learner, p.txn)
            case PacketType.LEADERINFO if learner.stage is _Stage.INFO:
                epoch = epoch_of(p.zxid)
                if epoch > self.accepted_epoch:
                    current = self.current_epoch
                    self._write_epoch("acceptedEpoch", epoch)  # before ACKEPOCH is sent
                    self._send(learner.leader, PacketType.ACKEPOCH, self.last_zxid(), current_epoch=current)
                elif epoch == self.accepted_epoch:
                    self._send(learner.leader, PacketType.ACKEPOCH, self.last_zxid(), current_epoch=-1)
                else:
                    self._learner_fail(f"Leaders epoch, {epoch} is less than accepted epoch, {self.accepted_epoch}")
                    return
                learner.new_epoch = epoch
                learner.stage = _Stage.EPOCH
                self._set_state(self.state, ZabPhase.SYNCHRONIZATION)
            case PacketType.DIFF | PacketType.TRUNC | PacketType.SNAP if learner.mode is None:
                self._sync_start(learner, p)
            case PacketType.NEWLEADER if learner.mode is not None and learner.stage is _Stage.EPOCH:
                self._sync_newleader(learner, p.zxid)
            case PacketType.UPTODATE if learner.stage is _Stage.ACKED:
                self._sync_uptodate(learner)
            case _:
                pass

    def _read_ms(self, learner: _Learner) -> int:
        """The socket timeout: tickTime*initLimit until NEWLEADER, tickTime*syncLimit after."""
        stage = learner.stage
        return self._sync_ms() if stage is _Stage.ACKED or stage is _Stage.UPTODATE else self._init_ms()

    def _learner_read_timeout(self) -> None:
        """LEARNER_READ expired. In broadcast it is armed once and moved on only when it fires (cheaper than
        re-arming it for every packet): the socket timed out only if nothing was read for the whole timeout."""
        learner = self.learner
        assert learner is not None
        if learner.stage is _Stage.UPTODATE:
            left = learner.heard_at + self._read_ms(learner) - self.now
            if left > 0:
                self._set_timer(Timer.LEARNER_READ, max(1, int(left)))
                return
        self._learner_fail("Read timed out")

    def ping(self, now: float, frm: int) -> None:
        """A PING read from the connection with `frm` (see `Ping`): the leader takes it as a sign of life of
        that learner; a learner in broadcast answers (`Follower`/`Observer.processPacket` -> `Learner.ping`);
        in synchronisation `syncWithLeader` reads it and ignores it."""
        self.now = now
        leader = self.leader
        if leader is not None:
            h = leader.handlers.get(frm)
            if h is not None and (h.stage is _Stage.ACKED or h.stage is _Stage.UPTODATE):
                h.deadline = now + self._sync_ms()
            return
        learner = self.learner
        if learner is None or learner.leader != frm:
            return
        if learner.stage is _Stage.UPTODATE:
            learner.heard_at = now
            self._out.append(Ping(frm))
        else:
            self._set_timer(Timer.LEARNER_READ, self._read_ms(learner))

    def _sync_start(self, learner: _Learner, p: Packet) -> None:
        """The first packet of syncWithLeader: DIFF, TRUNC (the log is cut at once) or SNAP (DB replaced)."""
        learner.mode = SyncMode[p.type.name]
        if p.type is PacketType.TRUNC:
            # FileTxnSnapLog.truncateLog closes the log (flush, no fsync) and opens a new one: appends still
            # waiting for their fsync (only a surviving sync processor, ZK_4712, has any) never get it
            self.writer.close()
            self._unflushed = []
            try:
                kept = truncate_log(self.fs, self.settings.log_dir, p.zxid)
            except TxnLogError as exc:
                self._halt(EXIT_QUORUM_PEER, f"Not able to truncate the log 0x{java_hex(p.zxid)}: {exc.message}")
                return
            # the log's last entry now: p.zxid, or the next one above it when the log lacks p.zxid
            self._emit(tr.Truncated(seq=0, t=self.now, sid=self.sid, zxid=Zxid(kept)))
            self.writer = TxnLogWriter(self.fs, self.settings.log_dir, self.settings.prealloc_size)
            try:
                restored = restore(self.fs, self.settings.log_dir, self.settings.snap_dir)  # ZKDatabase.truncateLog
            except RestoreError:
                self.tree = None  # the IOException ends syncWithLeader; the next vote reloads (and refuses)
                self._learner_fail("Unable to load database on disk")
                return
            self.tree = restored.tree
            self._fill_committed_log(restored.tree.last_processed_zxid)
            self._tree.last_processed_zxid = p.zxid
        elif p.type is PacketType.SNAP:
            tree = DataTree()
            tree.load_snapshot(parse_snapshot(p.snapshot), p.zxid)
            tree.last_processed_zxid = p.zxid
            self.tree = tree
            self.committed_log.clear()
        elif Bug.ZK_2355 in self.settings.bugs:
            # before ZOOKEEPER-2355 syncWithLeader set lastProcessedZxid to the packet's zxid (the leader's
            # maxCommittedLog) for a DIFF too, before a single proposal was applied
            self._tree.last_processed_zxid = p.zxid

    def _sync_newleader(self, learner: _Learner, zxid: int) -> None:
        """NEWLEADER: updatingEpoch -> [snapshot] -> log and apply the committed sync txns -> currentEpoch ->
        delete updatingEpoch -> ACK (fixed); see zkfle.impl.bugs."""
        bugs = self.settings.bugs
        self._create_updating_epoch()
        if learner.mode is not SyncMode.DIFF:
            synced = learner.mode is SyncMode.SNAP
            zxid = Zxid(self._tree.last_processed_zxid)
            try:
                save(
                    self.fs,
                    self.settings.snap_dir,
                    self._tree,
                    fsync=synced,
                    on_durable=lambda: self._emit(tr.Snapshot(seq=0, t=self.now, sid=self.sid, zxid=zxid)),
                )
            except OSError:  # ZooKeeperServer.takeSnapshot: "Severe unrecoverable error, exiting"
                self._halt(EXIT_SNAPSHOT, "Severe unrecoverable error, exiting")
                return
        if learner.observer:
            # syncWithLeader hands the sync txns to a sync processor at NEWLEADER only for a follower; an
            # observer commits them after UPTODATE (no bug switch concerns it)
            self._learner_current_epoch(learner, at_uptodate=False)
            learner.stage = _Stage.ACKED
            self._set_timer(Timer.LEARNER_READ, self._read_ms(learner))
            self._send_newleader_ack()
            return
        # before ZOOKEEPER-3911 nothing was logged here: the DIFF proposals reached the sync processor after
        # UPTODATE, with the ones that came after NEWLEADER (_sync_uptodate); before ZOOKEEPER-4394 all the
        # queued proposals were logged here and applied only after UPTODATE; since, only the committed ones
        # are, and they are applied at once (_take_committed)
        unacked: list[int] = []
        if Bug.ZK_3911 in bugs:
            to_log = []
        elif Bug.ZK_4394 in bugs:
            to_log = list(learner.not_committed)
            unacked = [t.zxid for t in to_log if t.zxid not in learner.committed]
        else:
            to_log = self._take_committed(learner)
        learner.logged_at_newleader = len(to_log) if Bug.ZK_4394 in bugs else 0
        if Bug.ZK_4643 in bugs:
            self._learner_current_epoch(learner, at_uptodate=False)
        if Bug.ZK_4646 in bugs:
            for txn in to_log:
                self._log_async(txn, learner.generation)
        else:
            self._log_now(to_log)
            if Bug.ZK_4685 in bugs:
                # the sync processor's flush hands every logged txn to SendAckRequestProcessor at once, so
                # their ACKs are on the wire before the QuorumPeer thread writes the NEWLEADER ACK
                learner.deferred_acks.extend(t.zxid for t in to_log)
                self._flush_deferred_acks(learner)
            else:
                learner.deferred_acks.extend(unacked)
        if Bug.ZK_4394 not in bugs:
            for txn in to_log:
                self._apply(txn)
        if Bug.ZK_4643 not in bugs:
            self._learner_current_epoch(learner, at_uptodate=False)
        learner.stage = _Stage.ACKED
        self._set_timer(Timer.LEARNER_READ, self._read_ms(learner))
        if Bug.ZK_4685 in bugs and Bug.ZK_4646 in bugs:
            # the QuorumPeer thread races the SyncRequestProcessor: same nominal delay as its append + fsync,
            # so that the driver's jitter lets either ACK leave first
            self._set_timer(Timer.NEWLEADER_ACK, SYNC_APPEND_MS + FSYNC_MS)
        else:
            self._send_newleader_ack()

    @staticmethod
    def _take_committed(learner: _Learner) -> list[LoggedTxn]:
        """The txns master's `Learner.syncWithLeader` appends and applies at NEWLEADER (ZOOKEEPER-4394): each
        queued COMMIT takes the queued proposal at the head when the zxids match, and is dropped otherwise
        ("Committing 0x.., but next proposal is 0x.."). The COMMITs are used up; the proposals not committed
        stay queued for UPTODATE. Applying them here keeps the in-memory zxid (the vote, the ACKEPOCH zxid, a
        new leader's history) equal to the log's when the sync breaks before UPTODATE."""
        taken: list[LoggedTxn] = []
        for zxid in learner.committed:
            if learner.not_committed and learner.not_committed[0].zxid == zxid:
                taken.append(learner.not_committed.pop(0))
        learner.committed.clear()
        return taken

    def _learner_current_epoch(self, learner: _Learner, *, at_uptodate: bool) -> None:
        """`self.setCurrentEpoch(newEpoch)` of `Learner.syncWithLeader`, then branch 3.4's deletion of the
        `updatingEpoch` marker. At NEWLEADER since Zab 1.0; at UPTODATE with ZK_1282 (ZOOKEEPER-1282: before the
        fix the learner acked NEWLEADER with its old currentEpoch on disk)."""
        if at_uptodate != (Bug.ZK_1282 in self.settings.bugs):
            return
        self._write_epoch("currentEpoch", learner.new_epoch)
        if Bug.ZK_1653 not in self.settings.bugs:
            self.fs.delete(join(self.settings.snap_dir, UPDATING_EPOCH_FILENAME))  # a failure: IOException
            self._emit(tr.UpdatingEpoch(seq=0, t=self.now, sid=self.sid, present=False))

    def _create_updating_epoch(self) -> None:
        """Branch 3.4's `Learner.syncWithLeader` at NEWLEADER (ZOOKEEPER-1653, never merged into 3.5+; off with
        ZK_1653): `updatingEpoch` is created, unless left over, before the snapshot, so that a crash before
        `setCurrentEpoch` leaves a start-up that adopts the snapshot's epoch instead of refusing.

        ZooKeeper's `File.createNewFile` does not fsync: the empty file's directory entry reaches the disk
        with the next journal commit, which the snapshot's, the txn log's or currentEpoch.tmp's fsync forces
        before anything the marker guards is durable. The crash model of `MemoryFileSystem` keeps only fsynced
        files, so the marker is fsynced at once: the same durable state at every crash point that matters (a
        marker without a newer zxid on disk changes nothing at start-up). A marker that is already there is
        fsynced too: it may be one whose fsync failed before (a `disk-fail`), which a crash would drop."""
        if Bug.ZK_1653 in self.settings.bugs:
            return
        path = join(self.settings.snap_dir, UPDATING_EPOCH_FILENAME)
        if not self.fs.exists(path):
            self.fs.write_bytes(path, b"")
        self.fs.fsync(path)
        self._emit(tr.UpdatingEpoch(seq=0, t=self.now, sid=self.sid, present=True))

    def _send_newleader_ack(self) -> None:
        learner = self.learner
        assert learner is not None
        self._send(learner.leader, PacketType.ACK, make_zxid(learner.new_epoch, 0))
        learner.newleader_acked = True
        self._flush_deferred_acks(learner)

    def _flush_deferred_acks(self, learner: _Learner) -> None:
        for zxid in learner.deferred_acks:
            self._send(learner.leader, PacketType.ACK, zxid)
        learner.deferred_acks.clear()

    def _sync_uptodate(self, learner: _Learner) -> None:
        """UPTODATE: [currentEpoch, ZK_1282], BROADCAST, ACK, updateElectionVote, then the queued commits are
        applied."""
        assert self.fle is not None
        self._learner_current_epoch(learner, at_uptodate=True)
        learner.stage = _Stage.UPTODATE
        learner.heard_at = self.now
        self._set_timer(Timer.LEARNER_READ, self._read_ms(learner))  # syncLimit*tickTime, since NEWLEADER
        self._set_state(self.state, ZabPhase.BROADCAST)
        assert learner.mode is not None
        self._emit(
            tr.Synced(
                seq=0,
                t=self.now,
                sid=self.sid,
                leader=ServerId(learner.leader),
                epoch=Epoch(learner.new_epoch),
                mode=MODE_NAMES[learner.mode],
            )
        )
        self.established_epochs.append((learner.new_epoch, learner.leader))
        self._send(learner.leader, PacketType.ACK, make_zxid(learner.new_epoch, 0))
        self.fle.update_election_vote(learner.new_epoch)
        if learner.observer:
            self._observer_commit_synced(learner)
            return
        # "We need to log the stuff that came in between the snapshot and the uptodate": the proposals taken
        # in after NEWLEADER (all of them with ZK_3911) go to the sync processor, which ACKs them once fsynced
        for later in learner.not_committed[learner.logged_at_newleader :]:
            self._log_async(later, learner.generation)
        by_zxid = {t.zxid: t for t in learner.not_committed}
        for zxid in learner.committed:
            txn = by_zxid.pop(zxid, None)
            if txn is not None:
                self._apply(txn)
        learner.pending.update(by_zxid)
        learner.not_committed.clear()

    def _observer_commit_synced(self, learner: _Learner) -> None:
        """The end of `Learner.syncWithLeader` for an observer: a queued proposal whose zxid is the next
        queued commit goes to `commitRequest`; one without ("Committing 0x.., but next proposal is 0x..")
        is skipped."""
        committed = deque(learner.committed)
        for txn in learner.not_committed:
            if committed and committed[0] == txn.zxid:
                committed.popleft()
                self._commit_request(txn)
        learner.not_committed.clear()
        learner.committed.clear()

    def _inform(self, learner: _Learner, txn: LoggedTxn) -> None:
        """INFORM, a committed txn sent to an observer. After UPTODATE, `Observer.processPacket` gives it to
        `commitRequest`. During `syncWithLeader` it is applied at once before the NEWLEADER of a SNAP or TRUNC
        sync (writeToTxnLog false), else queued as a proposal together with its commit."""
        if learner.stage is _Stage.UPTODATE:
            self._commit_request(txn)
        elif learner.mode is SyncMode.DIFF or learner.stage is _Stage.ACKED:
            learner.not_committed.append(txn)
            learner.committed.append(txn.zxid)
        else:
            self._apply(txn)

    def _commit_request(self, txn: LoggedTxn) -> None:
        """`ObserverZooKeeperServer.commitRequest` (syncEnabled, the default): the sync processor logs it and
        sends no ACK (its next processor is null), and the commit processor applies it without waiting for
        the fsync."""
        self._log_async(txn, -1)
        self._apply(txn)

    def _learner_fail(self, reason: str) -> None:
        """An exception in followLeader: `Follower.shutdown`, then `updateServerState`."""
        del reason  # ZooKeeper logs it; the trace shows the state change
        learner = self.learner
        assert learner is not None
        if learner.stage is not _Stage.CONNECTING:
            self._out.append(Hangup(learner.leader))
        for timer in (Timer.LEARNER_READ, Timer.CONNECT_RETRY, Timer.NEWLEADER_ACK):
            self._cancel(timer)
        if Bug.ZK_4712 not in self.settings.bugs:
            self._stop_sync_processor()
        self.learner = None
        if learner.mode is SyncMode.SNAP and Bug.ZK_3642 not in self.settings.bugs:
            self.tree = None  # ZOOKEEPER-3642: zk.shutdown(true) clears the DB, the next vote reloads from disk
        elif learner.stage is _Stage.UPTODATE:
            self._fast_forward()
        self._back_to_looking()

    # ------------------------------------------------------------------------------------ connections

    def packet(self, now: float, frm: int, p: Packet) -> None:
        """A Zab packet read from the connection with `frm`.

        A failing disk operation (an `OSError`: Java's IOException, e.g. a planned `disk-fail`) ends the role
        where ZooKeeper catches it: `Follower.followLeader` / `Observer.observeLeader` around
        registerWithLeader and syncWithLeader (the learner shuts down, LOOKING again), `Leader.lead` around
        the epoch writes (leader shutdown; the quorum-completing `setAcceptedEpoch` may run in a
        LearnerHandler thread in ZooKeeper, which zkfle folds into the leader's)."""
        self.now = now
        if self.leader is not None:
            try:
                self._leader_packet(frm, p)
            except OSError as exc:
                if self.leader is None:
                    raise  # not the role's IO (the reload of the next election): the process dies of it
                self._leader_shutdown(f"Unexpected exception: {exc}")
        elif self.learner is not None and self.learner.leader == frm:
            try:
                self._learner_packet(p)
            except OSError as exc:
                if self.learner is None:
                    raise
                self._learner_fail(f"Exception when following the leader: {exc}")

    def disconnected(self, now: float, peer: int) -> None:
        """The Zab connection with `peer` broke (EOF / socket error on read)."""
        self.now = now
        if self.leader is not None:
            self.leader.handlers.pop(peer, None)
        elif self.learner is not None and self.learner.leader == peer and self.learner.stage is not _Stage.CONNECTING:
            self._learner_fail("Connection broken")


def _trace_vote(vote: Vote) -> tr.TraceVote:
    return tr.TraceVote(leader=vote.leader, zxid=vote.zxid, peer_epoch=vote.peer_epoch)


def _fle_timer(kind: fle.TimerKind) -> Timer:
    return Timer.FLE_POLL if kind is fle.TimerKind.POLL else Timer.FLE_FINALIZE


def _other_fle_timer(kind: fle.TimerKind) -> Timer:
    return Timer.FLE_FINALIZE if kind is fle.TimerKind.POLL else Timer.FLE_POLL
