"""The deterministic ensemble simulator: QuorumPeers on a virtual network and virtual disks, writing a trace.

Everything that varies comes from ONE `random.Random(seed)`: message delays, fault times and kinds, crash
points, restart delays, write times. The event queue is a heap ordered by (virtual time, sequence number),
and every loop over servers or connections runs in sorted order, so a seed and the flags give the same
trace bytes on every run and under any PYTHONHASHSEED.

Model (docs/simulator.md has the rates):
* Election connections follow QuorumCnxManager at the message level (semantics.md §5): a 1-slot send queue
  per peer (a newer notification replaces an unsent one), a connection comes up on `toSend`/`connectAll`
  when both ends can reach each other, a new connection first carries the queued message or re-sends
  `lastMessageSent`, `haveDelivered` is true when some per-peer queue is empty.
* Zab connections are dialled by learners (`Dial`), accepted only by a LEADING peer, FIFO (TCP) with random
  delays. A `Hangup` delivers what was already written, then the other end reads EOF; a break (fault,
  partition, crash) loses everything in flight, each lost message gets a `drop` event.
* Disks are `MemoryFileSystem`s in ZooKeeper's real format. A crash may be armed to strike inside the n-th
  next disk operation (`CrashingFileSystem`): between the steps of an epoch write, between a txn's append
  and its fsync, inside a snapshot. `MemoryFileSystem.crash()` then drops what was not fsynced, and the
  restart runs loadDataBase on what the disk really holds.
"""

from __future__ import annotations

import heapq
import os
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from zkfle.impl.bugs import Bug, fle_options
from zkfle.impl.core import fle
from zkfle.impl.core.peer import (
    DISK_TIMERS,
    DRAWN_TIMERS,
    CancelTimer,
    ConnectAll,
    Dial,
    Halt,
    Hangup,
    PeerSettings,
    Ping,
    QuorumPeer,
    SendPacket,
    SendVote,
    SetTimer,
    Timer,
)
from zkfle.impl.core.quorum import QuorumHierarchical, QuorumMaj
from zkfle.impl.core.zab import Packet, PacketType
from zkfle.impl.drivers.faultplan import LEADER, Fault, event_key
from zkfle.impl.persistence.epochfiles import (
    ACCEPTED_EPOCH_FILENAME,
    CURRENT_EPOCH_FILENAME,
    TMP_EXTENSION,
    EpochFileError,
    read_long_from_file,
)
from zkfle.impl.persistence.filetxnsnaplog import RestoreError, restore
from zkfle.impl.persistence.fs import CopyOnWriteFileSystem, MemoryFileSystem
from zkfle.impl.recovery import UPDATING_EPOCH_FILENAME, LoadOptions
from zkfle.spec import trace as tr
from zkfle.spec.zxid import Epoch, ServerId, Zxid

WORKLOAD_NODES = 100
"""Write i goes to /zkfle-<(i-1) % 100 + 1>: a create, then setData (the tree stays small)."""
DATA_DIR = "/data"
SNAP_DIR = "/data/version-2"


class ProcessCrash(Exception):  # noqa: N818 - it is an event, not an error
    """Raised by `CrashingFileSystem` inside a disk operation: the process dies at that instant."""


class DiskError(OSError):
    """Raised by `CrashingFileSystem` for a planned `disk-fail`: the operation fails (Java's IOException) and
    the process goes on; the peer handles it where ZooKeeper catches the IOException."""


class CrashingFileSystem:
    """A FileSystem over a `MemoryFileSystem` that can kill the process at a chosen mutating operation.

    `arm(n)`: the n-th next write/append/fsync/rename/delete/truncate/mkdirs raises `ProcessCrash` instead
    of happening; `arm(n, fail=True)`: it raises `DiskError` instead. Reads pass through.
    """

    def __init__(self, disk: MemoryFileSystem) -> None:
        self.disk = disk
        self.countdown = 0
        self.fail = False

    def arm(self, n: int, *, fail: bool = False) -> None:
        assert n > 0
        self.countdown = n
        self.fail = fail

    def _tick(self) -> None:
        if self.countdown:
            self.countdown -= 1
            if self.countdown == 0:
                if self.fail:
                    raise DiskError("planned disk failure")
                raise ProcessCrash

    def exists(self, path: str) -> bool:
        return self.disk.exists(path)

    def is_dir(self, path: str) -> bool:
        return self.disk.is_dir(path)

    def list_dir(self, path: str) -> list[str]:
        return self.disk.list_dir(path)

    def size(self, path: str) -> int:
        return self.disk.size(path)

    def read_bytes(self, path: str) -> bytes:
        return self.disk.read_bytes(path)

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        return self.disk.read_range(path, offset, length)

    def write_bytes(self, path: str, data: bytes) -> None:
        self._tick()
        self.disk.write_bytes(path, data)

    def append_bytes(self, path: str, data: bytes) -> None:
        self._tick()
        self.disk.append_bytes(path, data)

    def write_at(self, path: str, offset: int, data: bytes) -> None:
        self._tick()
        self.disk.write_at(path, offset, data)

    def fsync(self, path: str) -> None:
        self._tick()
        self.disk.fsync(path)

    def rename(self, src: str, dst: str) -> None:
        self._tick()
        self.disk.rename(src, dst)

    def delete(self, path: str) -> None:
        self._tick()
        self.disk.delete(path)

    def truncate(self, path: str, size: int) -> None:
        self._tick()
        self.disk.truncate(path, size)

    def mkdirs(self, path: str) -> None:
        self._tick()
        self.disk.mkdirs(path)


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """Rates of one `--faults` profile. Times in ms of virtual time."""

    name: str
    mean_fault_interval_ms: float
    """Mean of the exponential gap between two faults (0: no faults)."""
    weights: tuple[tuple[str, int], ...]
    """Fault kinds and their relative weights: crash, disk_crash (inside a later disk operation),
    partition, break (one connection)."""
    restart_ms: tuple[float, float]
    partition_ms: tuple[float, float]
    delay_ms: tuple[float, float]
    """Network delay of one message (uniform)."""
    disk_jitter_ms: float
    """Extra delay (uniform 0..this) of the append/fsync steps and of the NEWLEADER ACK thread."""


_FAULT_KINDS = (("crash", 2), ("disk_crash", 2), ("partition", 1), ("break", 3))
PROFILES: dict[str, FaultProfile] = {
    "none": FaultProfile("none", 0, (), (0, 0), (0, 0), (0.2, 2.0), 2.0),
    "default": FaultProfile("default", 4000, _FAULT_KINDS, (500, 3000), (1000, 5000), (0.2, 2.0), 2.0),
    "heavy": FaultProfile("heavy", 500, _FAULT_KINDS, (100, 1500), (300, 2500), (0.2, 10.0), 5.0),
}


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One run: the ensemble, the bounds, the workload, the faults, the switches."""

    verifier: QuorumMaj | QuorumHierarchical
    seed: int = 0
    faults: str = "none"
    writes: int = 0
    max_events: int = 100_000
    duration_ms: float = 30_000.0
    tick_time_ms: int = 2000
    init_limit: int = 10
    sync_limit: int = 5
    bugs: frozenset[Bug] = frozenset()
    config: bytes = b""
    snap_count: int = 2_000
    """`zookeeper.snapCount` of every server (ZooKeeper's default is 100000; smaller keeps logs short)."""
    disks: dict[int, MemoryFileSystem] = field(default_factory=dict)
    """Servers that start from an existing data dir (read into memory); the others start empty."""
    plan: tuple[Fault, ...] = ()
    """Explicit faults (`--fault`), on top of the profile's random ones."""
    db_autocreate: bool = True
    """`zookeeper.db.autocreate` of every server (`--no-autocreate`: false). False: the servers that start empty
    get the `initialize` file (`zkServer-initialize.sh`), so only a later empty dir -- a `wipe` -- restores to
    zxid -1 (FileTxnSnapLog.restore, ZOOKEEPER-261)."""


@dataclass(slots=True)
class Summary:
    """What the run did, for the command's printout and for tests."""

    seed: int
    events: int = 0
    end_time_ms: float = 0.0
    end_reason: str = ""
    elections: int = 0
    max_round: int = 0
    epochs: list[tuple[int, int]] = field(default_factory=list)
    """(epoch, leader) of every `established`, in order."""
    commits: int = 0
    committed_zxids: int = 0
    crashes: int = 0
    writes_done: int = 0
    writes_skipped: int = 0
    halted: dict[int, str] = field(default_factory=dict)
    progress: str = ""
    """Why the run did or did not make progress (e.g. no quorum reachable)."""


@dataclass(slots=True)
class _Server:
    sid: int
    disk: MemoryFileSystem
    fs: CrashingFileSystem
    peer: QuorumPeer | None = None
    incarnation: int = 0
    halted: bool = False
    timers: dict[Timer, int] = field(default_factory=dict)
    mids: int = 0
    down_ms: float | None = None
    """The downtime a planned crash asked for, used by the next crash."""
    wipe: bool = False
    """A planned `wipe`: the next start finds an empty data dir."""


# Heap entry kinds (indexes into the handler table of `Simulator.run`).
_START, _TIMER, _VOTE, _ZAB, _DIAL, _EOF, _FAULT, _WRITE, _HEAL, _PLAN, _PING = range(11)

_PACKET_CLASSES: dict[PacketType, type[tr._Packet]] = {
    PacketType.FOLLOWERINFO: tr.FollowerInfoPacket,
    PacketType.OBSERVERINFO: tr.ObserverInfoPacket,
    PacketType.LEADERINFO: tr.LeaderInfoPacket,
    PacketType.DIFF: tr.DiffPacket,
    PacketType.TRUNC: tr.TruncPacket,
    PacketType.SNAP: tr.SnapPacket,
    PacketType.NEWLEADER: tr.NewLeaderPacket,
    PacketType.ACK: tr.AckPacket,
    PacketType.UPTODATE: tr.UpToDatePacket,
    PacketType.PROPOSAL: tr.ProposalPacket,
    PacketType.COMMIT: tr.CommitPacket,
    PacketType.INFORM: tr.InformPacket,
}
_PACKET_CLASS_BY_ID = {id(t): c for t, c in _PACKET_CLASSES.items()}
"""The same table keyed by the member's id: `Enum.__hash__` is Python code, and this runs for every message."""
_STATE_NAMES: dict[int, tr.StateName] = {0: "LOOKING", 1: "FOLLOWING", 2: "LEADING", 3: "OBSERVING"}


def packet_message(p: Packet) -> tr.Message:
    """The trace form of a Zab packet (type and zxid; ACKEPOCH also its current epoch)."""
    if p.type is PacketType.ACKEPOCH:
        return tr.AckEpochPacket(zxid=Zxid(p.zxid), current_epoch=Epoch(p.current_epoch))
    return cast(tr.Message, _PACKET_CLASS_BY_ID[id(p.type)](zxid=Zxid(p.zxid)))


def notification_message(n: fle.Notification) -> tr.Notification:
    """The trace form of a notification (the config bytes are left out)."""
    return tr.Notification(
        state=_STATE_NAMES[n.state.value],
        leader=ServerId(n.leader),
        zxid=Zxid(n.zxid),
        round=n.election_epoch,
        peer_epoch=Epoch(n.peer_epoch),
        version=n.version,
    )


Sink = Callable[[tr.Event], object]
_EFFECTS = frozenset({SetTimer, CancelTimer, ConnectAll, Dial, Hangup, Ping, Halt})


class Simulator:
    """Run one `SimConfig`, handing every trace event to `sink` (e.g. `TraceWriter.write`)."""

    def __init__(self, config: SimConfig, sink: Sink) -> None:
        self.config = config
        self.sink = sink
        self.rng = random.Random(config.seed)
        self.profile = PROFILES[config.faults]
        self.verifier = config.verifier
        self.view = frozenset(config.verifier.voting_members() | config.verifier.observing_members())
        self.sids = tuple(sorted(self.view))
        self.now = 0.0
        self._heap: list[tuple[float, int, int, tuple[object, ...]]] = []
        self._n = 0
        self.summary = Summary(config.seed)
        self.servers: dict[int, _Server] = {}
        for sid in self.sids:
            disk = config.disks.get(sid) or _empty_disk(sid, initialize=not config.db_autocreate)
            self.servers[sid] = _Server(sid, disk, CrashingFileSystem(disk))
        # election connections (QuorumCnxManager)
        self._vq: dict[int, dict[int, fle.Notification | None]] = {s: {} for s in self.sids}
        self._vlast: dict[tuple[int, int], fle.Notification] = {}
        self._vconn: dict[tuple[int, int], int] = {}  # (low, high) -> generation while connected
        # Zab connections: (learner, leader) -> generation while open; per direction arrival bookkeeping
        self._zconn: dict[tuple[int, int], int] = {}
        self._zclosing: dict[tuple[int, int], int] = {}  # connection -> the sid that hung up
        self._gen = 0
        self._arrival: dict[tuple[int, int], float] = {}
        """Latest arrival time per (sender, receiver), over both kinds of connection: everything from one
        server to another arrives in the order it was sent (a stricter order than two TCP connections give,
        and the one the checker's MSG_INTEGRITY assumes)."""
        self._inflight: dict[tuple[str, int, int], deque[str]] = {}
        self.group_of: dict[int, int] = {}
        self._partitioned = False
        self.halt_reason: dict[int, str] = {}
        self._last_established_t = -1.0
        self._written = 0
        self._partition_gen = 0
        self._watch: dict[tuple[int, str], list[Fault]] = {}
        for fault in config.plan:
            trigger = fault.trigger
            if trigger.sid is not None and trigger.event is not None:
                self._watch.setdefault((trigger.sid, trigger.event), []).append(fault)
        self._seen: dict[tuple[int, str], int] = {}
        if self._watch:
            self.sink = self._watching(sink)

    # ------------------------------------------------------------------------------------ plumbing

    def _push(self, t: float, kind: int, args: tuple[object, ...]) -> None:
        self._n += 1
        heapq.heappush(self._heap, (t, self._n, kind, args))

    def _emit(self, event: tr.Event) -> None:
        self._written += 1
        self.sink(event)

    def _env(self, event: tr.Event) -> None:
        self._emit(event)

    def _delay(self) -> float:
        lo, hi = self.profile.delay_ms
        return lo + (hi - lo) * self.rng.random()  # random.Random.uniform's own formula, without its call

    def reachable(self, a: int, b: int) -> bool:
        sa, sb = self.servers[a], self.servers[b]
        if sa.peer is None or sb.peer is None:
            return False
        return self.group_of.get(a, 0) == self.group_of.get(b, 0)

    # ------------------------------------------------------------------------------------ running

    def run(self) -> Summary:
        cfg = self.config
        for sid in self.sids:
            self._push(0.0, _START, (sid,))
        if self.profile.mean_fault_interval_ms > 0:
            self._push(self.rng.expovariate(1 / self.profile.mean_fault_interval_ms), _FAULT, ())
        if cfg.writes:
            start = min(cfg.duration_ms * 0.1, 2000.0)
            times = sorted(self.rng.uniform(start, cfg.duration_ms) for _ in range(cfg.writes))
            for index, t in enumerate(times, start=1):
                self._push(t, _WRITE, (index,))
        for fault in cfg.plan:
            if fault.trigger.at_ms is not None:
                self._push(fault.trigger.at_ms, _PLAN, (fault,))
        reason = "the event queue ran empty"
        # the hot loop: locals instead of attribute lookups, and a table of handlers indexed by the entry kind
        heap, pop, duration, max_events = self._heap, heapq.heappop, cfg.duration_ms, cfg.max_events
        handlers: tuple[Callable[..., None], ...] = (
            self._start,
            self._fire_timer,
            self._deliver_vote,
            self._deliver_zab,
            self._dial_done,
            self._eof,
            self._fault,
            self._write,
            self._heal,
            self._planned,
            self._deliver_ping,
        )
        while heap:
            t, _, kind, args = pop(heap)
            if t > duration:
                reason = f"--duration-ms {duration:g} reached"
                self.now = duration
                break
            if self._written >= max_events:
                reason = f"--max-events {max_events} reached"
                break
            self.now = t
            handlers[kind](*args)
        self.summary.events = self._written
        self.summary.end_time_ms = self.now
        self.summary.end_reason = reason
        self.summary.halted = dict(sorted(self.halt_reason.items()))
        self.summary.progress = self._progress()
        return self.summary

    def _call(self, server: _Server, action: Callable[[QuorumPeer], object]) -> None:
        """Run one input of the server's peer; a crash inside it kills the process at that instant."""
        peer = server.peer
        assert peer is not None
        try:
            action(peer)
        except (ProcessCrash, DiskError):  # a disk failure no handler caught kills the process, as in Java
            self._drain(server, peer)
            self._crash(server)
            return
        self._drain(server, peer)

    def _drain(self, server: _Server, peer: QuorumPeer) -> None:
        incarnation = server.incarnation
        sink = self.sink
        sid = server.sid
        for out in peer.take():
            kind = type(out)
            if kind is SendPacket:
                self._zab_send(sid, out.to, out.packet)  # type: ignore[union-attr]
            elif kind is SendVote:
                self._vote_send(sid, out.to, out.notification)  # type: ignore[union-attr]
            elif kind in _EFFECTS:
                self._effect(server, out)
                if server.peer is not peer or server.incarnation != incarnation:
                    return  # a Halt ended the process (only an effect can: sends and events never call a peer)
            else:
                self._written += 1
                sink(out)  # type: ignore[arg-type]
                if kind is tr.Committed:
                    self.summary.commits += 1
                elif kind is tr.Established:  # `is` tests: cheaper than isinstance on every event
                    established = cast(tr.Established, out)
                    self.summary.epochs.append((established.epoch, established.sid))
                    self._last_established_t = self.now
                elif kind is tr.ElectionStart:
                    self.summary.elections += 1
                    self.summary.max_round = max(self.summary.max_round, cast(tr.ElectionStart, out).round)

    def _effect(self, server: _Server, out: object) -> None:
        sid = server.sid
        if type(out) is SetTimer:  # the most frequent effect first, without the match's isinstance chain
            timer = out.timer
            self._n += 1
            token = self._n
            server.timers[timer] = token
            delay = float(out.ms)
            if timer in DISK_TIMERS:
                delay += self.rng.uniform(0, self.profile.disk_jitter_ms)
            elif timer in DRAWN_TIMERS:
                delay *= self.rng.random()
            self._push(self.now + delay, _TIMER, (sid, server.incarnation, timer, token))
            return
        if type(out) is Ping:  # the next most frequent: every learner, every tickTime/2
            self._ping(sid, out.to)
            return
        match out:
            case SendVote(to=to, notification=n):
                self._vote_send(sid, to, n)
            case SendPacket(to=to, packet=p):
                self._zab_send(sid, to, p)
            case CancelTimer(timer=timer):
                server.timers.pop(timer, None)
            case ConnectAll():
                self._connect_all(sid)
            case Dial(leader=leader):
                self._push(self.now + self._delay(), _DIAL, (sid, server.incarnation, leader))
            case Hangup(peer=other):
                self._hangup(sid, other)
            case Halt(reason=reason):
                self.halt_reason[sid] = reason
                server.halted = True
                self._crash(server, restart=False)
            case _:
                raise AssertionError(out)

    # ------------------------------------------------------------------------------------ processes

    def _start(self, sid: int) -> None:
        server = self.servers[sid]
        if server.peer is not None or server.halted:
            return
        if server.wipe:
            server.wipe = False
            server.disk = _empty_disk(sid)
            server.fs = CrashingFileSystem(server.disk)
            self._env(tr.Wipe(seq=0, t=self.now, sid=None, server=ServerId(sid)))
        settings = PeerSettings(
            sid=sid,
            view=self.view,
            verifier=self.verifier,
            tick_time_ms=self.config.tick_time_ms,
            init_limit=self.config.init_limit,
            sync_limit=self.config.sync_limit,
            snap_dir=SNAP_DIR,
            log_dir=SNAP_DIR,
            config=self.config.config,
            bugs=self.config.bugs,
            snap_count=self.config.snap_count,
            fle_options=fle_options(self.config.bugs),
            load_options=LoadOptions(db_autocreate=self.config.db_autocreate),
        )
        server.incarnation += 1
        server.timers.clear()
        server.peer = QuorumPeer(settings, server.fs)
        now = self.now
        self._call(server, lambda p: p.start(now))

    def _crash(self, server: _Server, *, restart: bool = True) -> None:
        sid = server.sid
        server.peer = None
        server.incarnation += 1
        server.timers.clear()
        server.fs.countdown = 0
        server.disk.crash()
        self.summary.crashes += 1
        for other in self.sids:  # what was travelling to the dying process is lost with its connections
            self._drop_inflight(("v", other, sid))
            self._drop_inflight(("z", other, sid))
        self._emit(tr.Crash(seq=0, t=self.now, sid=ServerId(sid)))
        self._vq[sid] = {}
        for key in [k for k in sorted(self._vlast) if k[0] == sid]:
            del self._vlast[key]
        self._break_links()
        if restart and not server.halted:
            down, server.down_ms = server.down_ms, None
            if down is None:
                lo, hi = self.profile.restart_ms if self.profile.mean_fault_interval_ms else (1000.0, 1000.0)
                down = self.rng.uniform(lo, hi)
            self._push(self.now + down, _START, (sid,))

    def _fire_timer(self, sid: int, incarnation: int, timer: Timer, token: int) -> None:
        server = self.servers[sid]
        if server.incarnation != incarnation or server.timers.get(timer) != token or server.peer is None:
            return
        del server.timers[timer]
        now = self.now
        if timer is Timer.FLE_POLL or timer is Timer.FLE_FINALIZE:
            delivered = self._have_delivered(sid)
            self._call(server, lambda p: p.fle_timer(now, timer, have_delivered=delivered))
        else:
            self._call(server, lambda p: p.timer(now, timer))

    # ------------------------------------------------------------------------------------ election links

    def _vote_send(self, a: int, b: int, n: fle.Notification) -> None:
        """`QuorumCnxManager.toSend`: into the 1-slot queue, then connectOne."""
        if b not in self.servers:
            return  # "Invalid server id"
        queue = self._vq[a]
        queue[b] = n
        if self.reachable(a, b):
            key = (min(a, b), max(a, b))
            if key in self._vconn:
                queue[b] = None
                self._vput(a, b, n)
            else:
                self._vconnect(a, b)

    def _vconnect(self, a: int, b: int) -> None:
        """Both SendWorkers start: the queued message, else `lastMessageSent` again."""
        self._gen += 1
        self._vconn[(min(a, b), max(a, b))] = self._gen
        for x, y in ((a, b), (b, a)):
            queued = self._vq[x].get(y)
            if queued is not None:
                self._vq[x][y] = None
                self._vput(x, y, queued)
            elif (x, y) in self._vlast:
                self._vput(x, y, self._vlast[(x, y)])

    def _connect_all(self, a: int) -> None:
        for b in sorted(self._vq[a]):
            if self.reachable(a, b) and (min(a, b), max(a, b)) not in self._vconn:
                self._vconnect(a, b)

    def _have_delivered(self, a: int) -> bool:
        return any(n is None for n in self._vq[a].values())

    def _next_mid(self, sid: int) -> str:
        server = self.servers[sid]
        server.mids += 1
        return f"{sid}-{server.mids}"

    def _arrival_time(self, a: int, b: int) -> float:
        lo, hi = self.profile.delay_ms
        t = self.now + (lo + (hi - lo) * self.rng.random())  # = self.now + self._delay(), inlined (per message)
        last = self._arrival.get((a, b), 0.0)
        t = max(t, last)
        self._arrival[(a, b)] = t
        return t

    def _vput(self, a: int, b: int, n: fle.Notification) -> None:
        self._vlast[(a, b)] = n
        mid = self._next_mid(a)
        msg = notification_message(n)
        self._emit(tr.Send(seq=0, t=self.now, sid=ServerId(a), to=ServerId(b), mid=mid, msg=msg))
        key = ("v", a, b)
        self._inflight.setdefault(key, deque()).append(mid)
        gen = self._vconn[(min(a, b), max(a, b))]
        self._push(self._arrival_time(a, b), _VOTE, (a, b, gen, mid, n, msg))

    def _deliver_vote(  # noqa: PLR0917 - the fields of one heap entry
        self, a: int, b: int, gen: int, mid: str, n: fle.Notification, msg: tr.Notification
    ) -> None:
        if self._vconn.get((min(a, b), max(a, b))) != gen:
            return  # the connection broke; the drop was traced then
        self._inflight[("v", a, b)].popleft()
        server = self.servers[b]
        self._emit(tr.Recv(seq=0, t=self.now, sid=ServerId(b), from_=ServerId(a), mid=mid, msg=msg))
        now = self.now
        self._call(server, lambda p: p.notification(now, n))

    # ------------------------------------------------------------------------------------ zab links

    def _zkey(self, a: int, b: int) -> tuple[int, int] | None:
        zconn = self._zconn
        if (a, b) in zconn:
            return (a, b)
        if (b, a) in zconn:
            return (b, a)
        return None

    def _zab_send(self, a: int, b: int, p: Packet) -> None:
        key = self._zkey(a, b)
        if key is None or key in self._zclosing:
            return  # the socket is closed: the write fails, the reader side finds out by itself
        mid = self._next_mid(a)
        msg = packet_message(p)
        self._written += 1  # _emit and _push inlined: this runs for every Zab message
        self.sink(tr.Send(seq=0, t=self.now, sid=ServerId(a), to=ServerId(b), mid=mid, msg=msg))
        queue = self._inflight.get(("z", a, b))
        if queue is None:
            queue = self._inflight[("z", a, b)] = deque()
        queue.append(mid)
        self._n += 1
        heapq.heappush(self._heap, (self._arrival_time(a, b), self._n, _ZAB, (a, b, self._zconn[key], mid, p, msg)))

    def _deliver_zab(  # noqa: PLR0917 - the fields of one heap entry
        self, a: int, b: int, gen: int, mid: str, p: Packet, msg: tr.Message
    ) -> None:
        key = self._zkey(a, b)
        if key is None or self._zconn[key] != gen or self._zclosing.get(key) == b:
            return
        self._inflight[("z", a, b)].popleft()
        server = self.servers[b]
        now = self.now
        self._written += 1
        self.sink(tr.Recv(seq=0, t=now, sid=ServerId(b), from_=ServerId(a), mid=mid, msg=msg))
        self._call(server, lambda peer: peer.packet(now, a, p))

    def _ping(self, a: int, b: int) -> None:
        """A PING from `a` to `b` (not traced, no random draw): it arrives after what `a` wrote to `b` before
        and before what `a` writes later (which takes at least the profile's smallest delay), so the trace
        is the same as without it."""
        key = self._zkey(a, b)
        if key is None or key in self._zclosing:
            return
        t = max(self.now + self.profile.delay_ms[0], self._arrival.get((a, b), 0.0))
        self._push(t, _PING, (a, b, self._zconn[key]))

    def _deliver_ping(self, a: int, b: int, gen: int) -> None:
        key = self._zkey(a, b)
        if key is None or self._zconn[key] != gen or self._zclosing.get(key) == b:
            return
        now = self.now
        self._call(self.servers[b], lambda peer: peer.ping(now, a))

    def _dial_done(self, learner: int, incarnation: int, leader: int) -> None:
        server = self.servers[learner]
        peer = server.peer
        if peer is None or server.incarnation != incarnation or not peer.expects_connection(leader):
            return
        target = self.servers.get(leader)
        now = self.now
        if target is None or target.peer is None or target.peer.leader is None or not self.reachable(learner, leader):
            self._call(server, lambda p: p.connect_failed(now, leader))
            return
        self._break_zab(learner, leader)
        self._gen += 1
        self._zconn[(learner, leader)] = self._gen
        self._call(target, lambda p: p.learner_connected(now, learner))
        if (learner, leader) in self._zconn and server.peer is peer:
            self._call(server, lambda p: p.connected(now, leader))

    def _drop_inflight(self, key: tuple[str, int, int]) -> None:
        queue = self._inflight.pop(key, None)
        while queue:
            self._env(tr.Drop(seq=0, t=self.now, sid=None, mid=queue.popleft()))

    def _hangup(self, a: int, b: int) -> None:
        """`a` closes its socket to `b`: what `a` wrote still arrives, then `b` reads EOF; what `b` had in
        flight towards `a` is lost."""
        key = self._zkey(a, b)
        if key is None or key in self._zclosing:
            return
        gen = self._zconn[key]
        self._zclosing[key] = a
        self._drop_inflight(("z", b, a))
        eof_at = max(self.now + self._delay(), self._arrival.get((a, b), 0.0))
        self._push(eof_at, _EOF, (a, b, gen))

    def _eof(self, a: int, b: int, gen: int) -> None:
        key = self._zkey(a, b)
        if key is None or self._zconn[key] != gen:
            return
        del self._zconn[key]
        self._zclosing.pop(key, None)
        self._inflight.pop(("z", a, b), None)
        self._notify_closed(b, a)

    def _notify_closed(self, sid: int, other: int) -> None:
        server = self.servers[sid]
        if server.peer is not None:
            now = self.now
            self._call(server, lambda p: p.disconnected(now, other))

    def _break_zab(self, a: int, b: int) -> None:
        key = self._zkey(a, b)
        if key is None:
            return
        del self._zconn[key]
        self._zclosing.pop(key, None)
        self._drop_inflight(("z", a, b))
        self._drop_inflight(("z", b, a))
        self._notify_closed(a, b)
        self._notify_closed(b, a)

    def _break_vote(self, key: tuple[int, int]) -> None:
        del self._vconn[key]
        a, b = key
        self._drop_inflight(("v", a, b))
        self._drop_inflight(("v", b, a))

    def _break_links(self) -> None:
        """Connections between servers that can no longer reach each other break."""
        for key in sorted(self._vconn):
            if not self.reachable(*key):
                self._break_vote(key)
        for key in sorted(self._zconn):
            if key in self._zconn and not self.reachable(*key):
                self._break_zab(*key)

    # ------------------------------------------------------------------------------------ faults

    def _fault(self) -> None:
        profile = self.profile
        self._push(self.now + self.rng.expovariate(1 / profile.mean_fault_interval_ms), _FAULT, ())
        kinds = [k for k, _ in profile.weights]
        kind = self.rng.choices(kinds, weights=[w for _, w in profile.weights])[0]
        alive = [s for s in self.sids if self.servers[s].peer is not None]
        if kind == "crash" and alive:
            self._crash(self.servers[self.rng.choice(alive)])
        elif kind == "disk_crash" and alive:
            self.servers[self.rng.choice(alive)].fs.arm(self.rng.randint(1, 8))
        elif kind == "partition" and not self._partitioned and len(self.sids) > 1:
            shuffled = list(self.sids)
            self.rng.shuffle(shuffled)
            cut = self.rng.randint(1, len(shuffled) - 1)
            lo, hi = profile.partition_ms
            self._partition([sorted(shuffled[:cut]), sorted(shuffled[cut:])], self.rng.uniform(lo, hi))
        elif kind == "break":
            links: list[tuple[str, tuple[int, int]]] = [("v", k) for k in sorted(self._vconn)]
            links += [("z", k) for k in sorted(self._zconn)]
            if links:
                which, key = links[self.rng.randrange(len(links))]
                if which == "v":
                    self._break_vote(key)
                else:
                    self._break_zab(*key)

    def _partition(self, groups: list[list[int]], ms: float) -> None:
        """Only servers of one group can talk, for `ms`; a partition in force is replaced."""
        groups.sort()
        self._partitioned = True
        self.group_of = {sid: i for i, group in enumerate(groups) for sid in group}
        self._env(tr.Partition(seq=0, t=self.now, sid=None, groups=[[ServerId(s) for s in g] for g in groups]))
        self._break_links()
        self._partition_gen += 1
        self._push(self.now + ms, _HEAL, (self._partition_gen,))

    def _watching(self, sink: Sink) -> Sink:
        """`sink`, after which each event counts towards the triggers of the plan (`faultplan.event_key`)."""
        watch, seen = self._watch, self._seen

        def watched(event: tr.Event) -> object:
            result = sink(event)
            if event.sid is not None:
                key = (event.sid, event_key(event))
                faults = watch.get(key)
                if faults is not None:
                    n = seen[key] = seen.get(key, 0) + 1
                    for fault in faults:
                        if fault.trigger.nth == n:
                            self._trigger(fault)
            return result

        return watched

    def _trigger(self, fault: Fault) -> None:
        """A planned fault's trigger fired: disk faults arm at once (so a `recv` trigger strikes inside the
        handling of that very message); the others wait until the current input is over."""
        if fault.action in ("disk-crash", "disk-fail"):
            server = self._target(fault)
            if server is not None and server.peer is not None:
                server.fs.arm(fault.count, fail=fault.action == "disk-fail")
                server.down_ms = fault.ms
        else:
            self._push(self.now, _PLAN, (fault,))

    def _target(self, fault: Fault) -> _Server | None:
        """The server a planned crash or disk fault hits: its sid, or the current leader for `leader`."""
        if fault.sids[0] != LEADER:
            return self.servers[fault.sids[0]]
        for sid in self.sids:
            peer = self.servers[sid].peer
            if peer is not None and peer.leader is not None:
                return self.servers[sid]
        return None

    def _planned(self, fault: Fault) -> None:
        """Carry out a planned fault (`zkfle.impl.drivers.faultplan`)."""
        match fault.action:
            case "crash":
                server = self._target(fault)
                if server is not None and server.peer is not None:
                    server.down_ms = fault.ms
                    self._crash(server)
            case "disk-crash" | "disk-fail":
                self._trigger(fault)
            case "partition":
                listed = {s for g in fault.groups for s in g}
                rest = [s for s in self.sids if s not in listed]
                groups = [list(g) for g in fault.groups] + ([rest] if rest else [])
                assert fault.ms is not None
                self._partition(groups, fault.ms)
            case "break":
                a, b = fault.sids
                if (a, b) in self._vconn:
                    self._break_vote((a, b))
                self._break_zab(a, b)
            case "wipe":
                self.servers[fault.sids[0]].wipe = True

    def _heal(self, generation: int) -> None:
        if generation != self._partition_gen:
            return  # a planned partition replaced the one this heal was for
        self._partitioned = False
        self.group_of = {}
        self._env(tr.Heal(seq=0, t=self.now, sid=None))

    def _write(self, index: int) -> None:
        """One client write, sent to the established leader (the lowest sid if a partition left two)."""
        now = self.now
        path = f"/zkfle-{(index - 1) % WORKLOAD_NODES + 1}"
        data = f"write {index}".encode()
        for sid in self.sids:
            server = self.servers[sid]
            if server.peer is not None and server.peer.leading_broadcast():
                self._call(server, lambda p: p.client_write(now, path, data))
                self.summary.writes_done += 1
                return
        self.summary.writes_skipped += 1

    # ------------------------------------------------------------------------------------ the end

    def _progress(self) -> str:
        alive = [s for s in self.sids if self.servers[s].peer is not None]
        groups: dict[int, list[int]] = {}
        for sid in alive:
            groups.setdefault(self.group_of.get(sid, 0), []).append(sid)
        voters = self.verifier.voting_members()  # containsQuorum expects voters only; observers count for nothing
        quorate = [g for _, g in sorted(groups.items()) if self.verifier.contains_quorum(voters.intersection(g))]
        leaders = [s for s in alive if self.servers[s].peer is not None and self.servers[s].peer.leading_broadcast()]  # type: ignore[union-attr]
        if leaders:
            return f"leader {leaders[0]} is established at the end; {self.summary.commits} commits applied"
        if not quorate:
            down = [s for s in self.sids if s not in alive]
            why = f"servers down: {down}" if down else ""
            if self._partitioned:
                why = (why + "; " if why else "") + f"partitioned: {sorted(groups.values())}"
            return f"no quorum reachable at the end ({why})"
        if not self.summary.epochs:
            return "a quorum is reachable but no leader was established during the run"
        return f"a quorum is reachable; no leader at the end (last established at t={self._last_established_t:.1f})"


# ---------------------------------------------------------------------------------------- data dirs, header


def _empty_disk(sid: int, *, initialize: bool = False) -> MemoryFileSystem:
    """A new server's data dir: `version-2/` and `myid`; with `initialize` also the `initialize` file that
    `zkServer-initialize.sh` leaves (FileTxnSnapLog.restore then trusts the empty database once)."""
    disk = MemoryFileSystem()
    disk.mkdirs(SNAP_DIR)
    disk.write_bytes(f"{DATA_DIR}/myid", f"{sid}\n".encode())
    disk.fsync(f"{DATA_DIR}/myid")
    if initialize:
        disk.write_bytes(f"{DATA_DIR}/initialize", b"")
        disk.fsync(f"{DATA_DIR}/initialize")
    return disk


def read_data_dir(path: str) -> MemoryFileSystem:
    """A copy of a real ZooKeeper data dir (DIR/myid, DIR/version-2/...) as `/data/...`, all of it durable.

    The original is only read. A data dir whose txn logs live elsewhere (dataLogDir) is not supported.
    """
    disk = MemoryFileSystem()
    disk.mkdirs(SNAP_DIR)
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{path} is not a directory")
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        rel = os.path.relpath(directory, root)
        target = DATA_DIR if rel == "." else f"{DATA_DIR}/{rel}"
        disk.mkdirs(target)
        for name in sorted(files):
            with open(os.path.join(directory, name), "rb") as f:
                data = f.read()
            disk.write_bytes(f"{target}/{name}", data)
            disk.fsync(f"{target}/{name}")
    return disk


def write_data_dir(disk: MemoryFileSystem, out: str) -> None:
    """Write a simulated server's disk (`/data/...`) out to the real directory `out` (its dataDir)."""
    for path in disk.paths():
        assert path.startswith(DATA_DIR + "/"), path
        target = os.path.join(out, path[len(DATA_DIR) + 1 :])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(disk.read_bytes(path))
    os.makedirs(os.path.join(out, "version-2"), exist_ok=True)


def disk_state(disk: MemoryFileSystem, *, marker_rule: bool = True) -> tr.DiskState:
    """The header's `disks` entry: restore's last zxid and the epoch files (None: missing or unreadable), and
    the `updatingEpoch` marker when start-up reads it (`marker_rule`: not with ZK_1653)."""
    view = CopyOnWriteFileSystem(disk)
    try:
        zxid = restore(view, SNAP_DIR, SNAP_DIR).highest_zxid
    except RestoreError:
        zxid = -1

    def value(name: str) -> Epoch | None:
        try:
            return Epoch(read_long_from_file(disk, f"{SNAP_DIR}/{name}"))
        except (FileNotFoundError, EpochFileError):
            return None

    return tr.DiskState(
        zxid=Zxid(zxid),
        current_epoch=value(CURRENT_EPOCH_FILENAME),
        accepted_epoch=value(ACCEPTED_EPOCH_FILENAME),
        current_epoch_tmp=value(CURRENT_EPOCH_FILENAME + TMP_EXTENSION),
        updating_epoch=marker_rule and disk.exists(f"{SNAP_DIR}/{UPDATING_EPOCH_FILENAME}"),
    )


def trace_header(config: SimConfig, meta: dict[str, object]) -> tr.TraceHeader:
    """Line 1 of the trace: the voting view, the quorum system, the seed, the starting disks."""
    verifier = config.verifier
    observers = verifier.observing_members()
    servers = [
        tr.ServerEntry(sid=ServerId(s), role="observer" if s in observers else "participant")
        for s in sorted(verifier.voting_members() | observers)
    ]
    quorum: tr.Quorum
    if isinstance(verifier, QuorumHierarchical):
        quorum = tr.HierarchicalQuorum(
            groups={gid: [ServerId(s) for s in sorted(members)] for gid, members in verifier.groups},
            weights={ServerId(s): w for s, w in verifier.weights},
        )
    else:
        quorum = tr.MajorityQuorum()
    marker_rule = Bug.ZK_1653 not in config.bugs
    disks = {ServerId(sid): disk_state(d, marker_rule=marker_rule) for sid, d in sorted(config.disks.items())} or None
    return tr.TraceHeader(
        zkfle_trace=1,
        servers=servers,
        quorum=quorum,
        source="sim",
        seed=config.seed,
        meta=meta,
        disks=disks,
        db_autocreate=config.db_autocreate,
    )
