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

Not modelled: observers, PING (a connected learner in broadcast never times out; broken connections are
reported by the driver), sessions and the request pipeline (a client write is one create txn, without digest),
reconfig, the txn-log based DIFF of syncFollower, periodic snapshots (snapCount).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

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
from zkfle.impl.persistence.epochfiles import CURRENT_EPOCH_FILENAME, EpochWrite, WriteStep
from zkfle.impl.persistence.filetxnsnaplog import RestoreError, process_transaction, restore, save
from zkfle.impl.persistence.fs import FileSystem, join
from zkfle.impl.persistence.records import OPEN_ACL_UNSAFE, CreateTxn, OpCode, SetDataTxn, TxnHeader, encode_txn_entry
from zkfle.impl.persistence.snapshot import SNAPSHOT_FILE_PREFIX, encode_snapshot, parse_snapshot
from zkfle.impl.persistence.txnlog import LogEntry, TxnLogError, TxnLogWriter, read_log, truncate_log, zxid_from_name
from zkfle.impl.recovery import DatabaseLoaded, LoadOptions, load_database
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


DISK_TIMERS = frozenset({Timer.SYNC_APPEND, Timer.SYNC_FLUSH, Timer.NEWLEADER_ACK})
"""Timers that stand for thread scheduling and disk latency: a driver may jitter them."""


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


Effect = SendVote | ConnectAll | SendPacket | Dial | Hangup | SetTimer | CancelTimer | Halt
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
    deferred_acks: list[int] = field(default_factory=list)
    pending: dict[int, LoggedTxn] = field(default_factory=dict)


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
        the file (ZOOKEEPER-2307)."""
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
            learner_type=LearnerType.PARTICIPANT,
            config=self.settings.config,
            options=self.settings.fle_options,
        )
        self._look()

    def _load_database(self, *, at_boot: bool) -> bool:
        """`QuorumPeer.loadDataBase`; False (and Halt) when ZooKeeper refuses. Fills the committed log with
        the replayed txns (ZKDatabase's restore listener, `addCommittedProposal`)."""
        outcome = load_database(self.fs, self.settings.snap_dir, self.settings.log_dir, self.settings.load_options)
        if not isinstance(outcome, DatabaseLoaded):
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
        elif state is FOLLOWING:
            self._follow(leader)
        else:
            raise AssertionError("observers are not modelled")

    def _back_to_looking(self) -> None:
        """`updateServerState()` -> LOOKING, then the run loop calls lookForLeader again."""
        self._set_state(LOOKING, ZabPhase.ELECTION)
        assert self.fle is not None
        self._fle_step(self.fle.set_peer_state(LOOKING))
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
                self._learner_fail("Read timed out")
            case Timer.CONNECT_RETRY:
                assert self.learner is not None
                self._out.append(Dial(self.learner.leader))
            case Timer.NEWLEADER_ACK:
                self._send_newleader_ack()

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
        """`ZKDatabase.fastForwardDataBase`: replay the txn log after the in-memory zxid."""
        tree = self._tree
        if self._last_appended <= tree.last_processed_zxid:
            return  # nothing this process logged is missing from memory (the log holds no newer txn)
        try:
            for item in read_log(self.fs, self.settings.log_dir, tree.last_processed_zxid + 1):
                if isinstance(item, LogEntry) and item.zxid > tree.last_processed_zxid:
                    process_transaction(item.header, tree, item.txn)
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

    def learner_connected(self, now: float, sid: int) -> None:
        """The learner acceptor took a connection from `sid` (a new LearnerHandler)."""
        self.now = now
        leader = self.leader
        assert leader is not None, "the driver connects learners only to a leading peer"
        old = leader.handlers.pop(sid, None)
        if old is not None:
            self._out.append(Hangup(sid))
        leader.handlers[sid] = _Handler(sid)

    def _epoch_chosen(self) -> None:
        """The quorum of FOLLOWERINFO is complete: acceptedEpoch := epoch (disk write #1), wake the handlers."""
        leader = self.leader
        assert leader is not None
        epoch = leader.choice.epoch
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
        leader = self.leader
        assert leader is not None
        if (
            leader.stage is _Stage.EPOCH
            and self.sid in leader.electing
            and self.settings.verifier.contains_quorum(leader.electing)
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
                if voter:
                    self._proposal_ack(frm, p.zxid)
            case PacketType.FOLLOWERINFO if h.stage is _Stage.CONNECTING:
                h.stage = _Stage.INFO
                if leader.choice.offer(frm, epoch_of(p.zxid)):
                    self._epoch_chosen()
                elif not leader.choice.waiting:
                    self._send(frm, PacketType.LEADERINFO, make_zxid(leader.choice.epoch, 0))
            case PacketType.ACKEPOCH if h.stage is _Stage.INFO:
                h.stage = _Stage.EPOCH
                h.last_zxid = p.zxid
                if leader.stage is _Stage.EPOCH:
                    ce, zxid = leader.summary
                    if p.current_epoch != -1 and epoch_ack_more_recent(p.current_epoch, p.zxid, ce, zxid):
                        # "Follower is ahead of the leader, leader summary: ..." kills this LearnerHandler
                        self._drop_handler(frm)
                        return
                    if p.current_epoch != -1 and p.zxid != -1 and voter:
                        leader.electing.add(frm)
                    self._check_epoch_acks()
                elif leader.stage is not _Stage.INFO:
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
            if leader.handlers[sid].forwarding:
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
            for peer in sorted(leader.handlers):
                if leader.handlers[peer].forwarding:
                    self._send(peer, PacketType.COMMIT, first)
            self._apply(txn)

    def _leader_tick(self) -> None:
        """`Leader.lead` loop: without a quorum of synced followers the leader gives up."""
        leader = self.leader
        assert leader is not None
        synced = {self.sid} | {s for s, h in leader.handlers.items() if h.forwarding}
        voters = synced & self.settings.verifier.voting_members()
        if not self.settings.verifier.contains_quorum(voters):
            self._leader_shutdown(f"Not sufficient followers synced, only synced with sids: [ {sorted(voters)} ]")
            return
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

    def _follow(self, leader_sid: int) -> None:
        """`Follower.followLeader`: DISCOVERY, find the leader, connect."""
        self._set_state(FOLLOWING, ZabPhase.DISCOVERY)
        self._generation += 1
        self.learner = _Learner(leader_sid, self._generation, dialled_at=self.now)
        if leader_sid not in self.settings.view:
            self._learner_fail(f"Couldn't find the leader with id = {leader_sid}")
            return
        self._out.append(Dial(leader_sid))

    def connected(self, now: float, leader_sid: int) -> None:
        """The connection to the leader is up: `registerWithLeader(FOLLOWERINFO)`."""
        self.now = now
        learner = self.learner
        assert learner is not None and learner.leader == leader_sid and learner.stage is _Stage.CONNECTING
        learner.stage = _Stage.INFO
        self._send(leader_sid, PacketType.FOLLOWERINFO, make_zxid(self.accepted_epoch, 0))
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
                if learner.mode is SyncMode.DIFF:
                    learner.committed.append(p.zxid)
                elif learner.not_committed and learner.not_committed[0].zxid == p.zxid:
                    self._apply(learner.not_committed.pop(0))
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
                self._set_state(FOLLOWING, ZabPhase.SYNCHRONIZATION)
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
        limit = self.settings.sync_limit if learner.stage is _Stage.ACKED else self.settings.init_limit
        return limit * self.settings.tick_time_ms

    def _sync_start(self, learner: _Learner, p: Packet) -> None:
        """The first packet of syncWithLeader: DIFF, TRUNC (the log is cut at once) or SNAP (DB replaced)."""
        learner.mode = SyncMode[p.type.name]
        if p.type is PacketType.TRUNC:
            # FileTxnSnapLog.truncateLog closes the log (flush, no fsync) and opens a new one: appends still
            # waiting for their fsync (only a surviving sync processor, ZK_4712, has any) never get it
            self.writer.close()
            self._unflushed = []
            try:
                truncate_log(self.fs, self.settings.log_dir, p.zxid)
            except TxnLogError as exc:
                self._halt(EXIT_QUORUM_PEER, f"Not able to truncate the log 0x{java_hex(p.zxid)}: {exc.message}")
                return
            self._emit(tr.Truncated(seq=0, t=self.now, sid=self.sid, zxid=Zxid(p.zxid)))
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

    def _sync_newleader(self, learner: _Learner, zxid: int) -> None:
        """NEWLEADER: [snapshot] -> log the sync txns -> currentEpoch -> ACK (fixed); see zkfle.impl.bugs."""
        bugs = self.settings.bugs
        if learner.mode is not SyncMode.DIFF:
            synced = learner.mode is SyncMode.SNAP
            zxid = Zxid(self._tree.last_processed_zxid)
            save(
                self.fs,
                self.settings.snap_dir,
                self._tree,
                fsync=synced,
                on_durable=lambda: self._emit(tr.Snapshot(seq=0, t=self.now, sid=self.sid, zxid=zxid)),
            )
        to_log = list(learner.not_committed)
        if Bug.ZK_4643 in bugs:
            self._write_epoch("currentEpoch", learner.new_epoch)
        if Bug.ZK_4646 in bugs:
            for txn in to_log:
                self._log_async(txn, learner.generation)
        else:
            self._log_now(to_log)
            if Bug.ZK_4685 in bugs:
                learner.deferred_acks.extend(t.zxid for t in to_log if t.zxid not in learner.committed)
                self._flush_deferred_acks(learner)
            else:
                learner.deferred_acks.extend(t.zxid for t in to_log if t.zxid not in learner.committed)
        if Bug.ZK_4643 not in bugs:
            self._write_epoch("currentEpoch", learner.new_epoch)
        learner.stage = _Stage.ACKED
        self._set_timer(Timer.LEARNER_READ, self._read_ms(learner))
        if Bug.ZK_4685 in bugs and Bug.ZK_4646 in bugs:
            # the QuorumPeer thread races the SyncRequestProcessor: same nominal delay as its append + fsync,
            # so that the driver's jitter lets either ACK leave first
            self._set_timer(Timer.NEWLEADER_ACK, SYNC_APPEND_MS + FSYNC_MS)
        else:
            self._send_newleader_ack()

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
        """UPTODATE: BROADCAST, ACK, updateElectionVote, then the queued commits are applied."""
        assert self.fle is not None
        learner.stage = _Stage.UPTODATE
        self._cancel(Timer.LEARNER_READ)
        self._set_state(FOLLOWING, ZabPhase.BROADCAST)
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
        by_zxid = {t.zxid: t for t in learner.not_committed}
        for zxid in learner.committed:
            txn = by_zxid.pop(zxid, None)
            if txn is not None:
                self._apply(txn)
        learner.pending.update(by_zxid)
        learner.not_committed.clear()

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
        if learner.mode is SyncMode.SNAP:
            self.tree = None  # ZOOKEEPER-3642: a learner leaving a SNAP sync reloads from disk
        elif learner.stage is _Stage.UPTODATE:
            self._fast_forward()
        self._back_to_looking()

    # ------------------------------------------------------------------------------------ connections

    def packet(self, now: float, frm: int, p: Packet) -> None:
        """A Zab packet read from the connection with `frm`."""
        self.now = now
        if self.leader is not None:
            self._leader_packet(frm, p)
        elif self.learner is not None and self.learner.leader == frm:
            self._learner_packet(p)

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
