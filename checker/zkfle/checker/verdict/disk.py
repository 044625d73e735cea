"""The durable-state invariants: EPOCH_ORDER, EPOCH_COVERS_LOG, RECOVERY_FAITHFUL, TXN_EPOCH."""

from __future__ import annotations

from zkfle.checker.verdict.replay import Check, Sink
from zkfle.checker.verdict.world import Handler, HandlerKey, ServerTrack, World
from zkfle.spec.invariants import Invariant
from zkfle.spec.recovery import Loaded, load_database
from zkfle.spec.trace import (
    AckEpochPacket,
    Boot,
    Crash,
    DiffPacket,
    EpochWrite,
    Established,
    NewLeaderPacket,
    Recovered,
    RecoveryFailed,
    Recv,
    Send,
    Snapshot,
    StateChange,
    Truncated,
    TruncPacket,
    TxnLogged,
    UpdatingEpoch,
)
from zkfle.spec.zxid import epoch_of, java_hex


class _DiskCondition(Check):
    """A condition on one server's disk that must hold whenever the disk can be read by a start-up.

    The disk is read only by the next incarnation's `loadDataBase`, so a condition that a write makes false
    is reported when a `crash` finds it still false (the seq of the violation is the write that made it
    false, the crash is a witness). A window that the next write closes before any crash is not reported:
    ZooKeeper 3.8 opens such windows itself in correct runs (`Learner.syncWithLeader` takes the SNAP
    snapshot before `setCurrentEpoch`, semantics.md §2.5), and they are harmless unless the process dies in
    them. Disks that already break the condition at the start of the trace are the header's input, judged by
    RECOVERY_FAITHFUL, not this.
    """

    invariant: Invariant
    writes: tuple[type, ...]

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._broken: dict[int, tuple[int, str]] = {}
        """sid -> (seq of the event that made the condition false, what is wrong)."""

    def pre(self) -> dict[HandlerKey, Handler]:
        return {Crash: self._crash}

    def post(self) -> dict[HandlerKey, Handler]:
        return {cls: self._after_write for cls in self.writes}

    def problem(self, t: ServerTrack) -> str | None:
        raise NotImplementedError

    def _after_write(self, ev: EpochWrite | UpdatingEpoch | TxnLogged | Truncated | Snapshot | Recovered) -> None:
        problem = self.problem(self._world.servers[ev.sid])
        if problem is None:
            if self._broken:
                self._broken.pop(ev.sid, None)
        elif ev.sid not in self._broken:
            self._broken[ev.sid] = (ev.seq, problem)

    def _crash(self, ev: Crash) -> None:
        broken = self._broken.pop(ev.sid, None)
        if broken is not None:
            seq, problem = broken
            self._sink.report(self.invariant, seq, ev.sid, f"{problem}, and server {ev.sid} crashed so", (ev.seq,))


class EpochOrder(_DiskCondition):
    """EPOCH_ORDER: on every disk acceptedEpoch >= currentEpoch.

    `QuorumPeer.loadDataBase` refuses to start otherwise ("The accepted epoch, a is less than the current
    epoch, c"); Zab writes acceptedEpoch before currentEpoch for every new epoch (`Leader.getEpochToPropose`
    before `Leader.lead`'s `setCurrentEpoch`; `Learner.registerWithLeader` before `syncWithLeader`'s NEWLEADER),
    ZkV3_7_0.tla keeps `acceptedEpoch >= currentEpoch` in every state.
    """

    invariant = Invariant.EPOCH_ORDER
    writes = (EpochWrite, Recovered)

    def problem(self, t: ServerTrack) -> str | None:
        current, accepted = t.current_epoch, t.accepted_epoch
        if current is not None and accepted is not None and accepted < current:
            return f"server {t.sid}'s disk has acceptedEpoch {accepted} < currentEpoch {current}"
        return None


class EpochCoversLog(_DiskCondition):
    """EPOCH_COVERS_LOG: on every disk currentEpoch >= the epoch of the last durable zxid.

    `QuorumPeer.loadDataBase` refuses otherwise ("The current epoch, c, is older than the last zxid, z"),
    unless it can adopt a value, so the epoch judged is the one start-up would use: the zxid's own epoch when
    branch 3.4's `updatingEpoch` marker is there (ZOOKEEPER-1653: the NEWLEADER snapshot was taken, the
    epoch not yet written; only traces that model that fix have the marker), else the `currentEpoch.tmp` value
    when present (ZOOKEEPER-4269). A missing currentEpoch is defaulted to the zxid's epoch and breaks nothing,
    and so does the -1 that start-up writes for an empty database it does not trust (no snapshot, no log,
    `zookeeper.db.autocreate=false`: zxid -1, whose epoch is -1).
    """

    invariant = Invariant.EPOCH_COVERS_LOG
    writes = (EpochWrite, UpdatingEpoch, TxnLogged, Truncated, Snapshot, Recovered)

    def problem(self, t: ServerTrack) -> str | None:
        current = t.current_epoch
        if current is None:
            return None
        if current == -1 and not t.snapshot and not t.log_entries:
            return None  # an untrusted empty database (no autocreate, ZOOKEEPER-261): restore gives zxid -1, epoch -1
        zxid_epoch = t.zxid >> 32  # = epoch_of: zxids are signed 64-bit and Python shifts arithmetically
        if zxid_epoch > current and t.updating_epoch:
            return None  # loadDataBase adopts the zxid's epoch
        if zxid_epoch > current and t.current_epoch_tmp is not None:
            current = t.current_epoch_tmp
        if zxid_epoch > current:
            return (
                f"server {t.sid}'s disk has currentEpoch {current} older than its last durable zxid "
                f"0x{java_hex(t.zxid)} (epoch {zxid_epoch})"
            )
        return None


class RecoveryFaithful(Check):
    """RECOVERY_FAITHFUL: `recovered` / `recovery_failed` report what `QuorumPeer.loadDataBase` gives.

    The durable state is the header's `disks` entry (or an empty data dir) changed by every durable event of
    the earlier incarnations; `spec.recovery.load_database` (semantics.md §2.1) says what start-up does with
    it: the zxid and epochs in force, or the refusal with ZooKeeper's exact IOException text.
    """

    def pre(self) -> dict[HandlerKey, Handler]:
        return {Recovered: self._check, RecoveryFailed: self._check}

    def _check(self, ev: Recovered | RecoveryFailed) -> None:
        t = self._world.servers[ev.sid]
        expected = load_database(t.durable, db_autocreate=self._world.header.db_autocreate)
        if isinstance(expected, Loaded):
            want = f"recovered zxid=0x{java_hex(expected.zxid)} currentEpoch={expected.current_epoch} " + (
                f"acceptedEpoch={expected.accepted_epoch}"
            )
            same = isinstance(ev, Recovered) and (ev.zxid, ev.current_epoch, ev.accepted_epoch) == (
                expected.zxid,
                expected.current_epoch,
                expected.accepted_epoch,
            )
        else:
            want = (
                f"recovery_failed {expected.message!r} (zxid={expected.zxid}, currentEpoch={expected.current_epoch},"
                f" acceptedEpoch={expected.accepted_epoch})"
            )
            same = isinstance(ev, RecoveryFailed) and (ev.error, ev.zxid, ev.current_epoch, ev.accepted_epoch) == (
                expected.message,
                expected.zxid,
                expected.current_epoch,
                expected.accepted_epoch,
            )
        if not same:
            if isinstance(ev, Recovered):
                got = f"recovered zxid=0x{java_hex(ev.zxid)} currentEpoch={ev.current_epoch} "
                got += f"acceptedEpoch={ev.accepted_epoch}"
            else:
                got = f"recovery_failed {ev.error!r} (zxid={ev.zxid}, currentEpoch={ev.current_epoch}, "
                got += f"acceptedEpoch={ev.accepted_epoch})"
            message = f"server {ev.sid} reports {got}, but loadDataBase on {t.durable} gives {want}"
            self._sink.report(Invariant.RECOVERY_FAITHFUL, ev.seq, ev.sid, message, ())


class TxnEpoch(Check):
    """TXN_EPOCH: what a server logs belongs to the epoch it is in. Three rules:

    * The log's zxids grow strictly, except across `truncated` and one re-synchronisation case (below).
      `FileTxnLog.append` refuses nothing ("Current zxid ... is <= ..." is only a warning), but
      `FileTxnSnapLog.restore` relies on the order ("highestZxid > next log" is logged as an error).
    * A leader logs only zxids of the epoch it leads: its `ZooKeeperServer` numbers proposals
      `makeZxid(epoch, n)` from `Leader.startZkServer` on (`lastProcessedZxid = makeZxid(epoch, 0)`), which is
      Zab's "a primary broadcasts only in its own epoch" (Zab.tla: the zxid of a PROPOSE has the leader's epoch).
    * A server that left its epoch (a `state` back to LOOKING) logs nothing until it is in a new one: a
      learner from its `recv` of NEWLEADER on, a leader from its `established` on. `Learner.shutdown` and
      `Leader.shutdown` stop the SyncRequestProcessor, which writes and flushes what was queued, before
      `updateServerState` (so that flush comes before the `state` event); in 3.8.0 the learner's processor
      survives and keeps logging the old leader's txns while the peer is LOOKING or syncing with the next
      leader (ZOOKEEPER-4712).

    Re-synchronisation: a learner whose sync is cut off after NEWLEADER has logged the DIFF's txns without
    applying them (`ZooKeeperServer.shutdown(false)` does nothing before UPTODATE: `canShutdown()` is false in
    state INITIAL, `startupWithoutServing`, so there is no `fastForwardDataBase`). Its next ACKEPOCH carries
    that lower lastProcessedZxid, the next leader DIFFs from there and the learner logs those zxids again.
    So after the `recv` of a DIFF, the first txn the learner logs needs only to lie above the zxid of its
    latest ACKEPOCH (when that is below its last logged zxid); the ones after it must grow again.
    A TRUNC to a zxid the log lacks keeps one txn more: `FileTxnLog.truncate` cuts where its iterator stopped,
    after the first record at or above the zxid. `syncWithLeader` sets lastProcessedZxid to the TRUNC's zxid,
    so the leader re-sends that txn as an outstanding proposal and the learner logs it again (`append` only
    warns): after the `recv` of a TRUNC the first txn logged needs only lie above the TRUNC's zxid.
    """

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._left: dict[int, int] = {}
        """sid -> seq of the `state` LOOKING with which it left its epoch (until it is in a new one)."""
        self._announced: dict[int, int] = {}
        """learner sid -> the zxid of its latest ACKEPOCH (its lastProcessedZxid)."""
        self._floor: dict[int, int] = {}
        """learner sid -> the zxid its next logged txn must lie above, after the `recv` of a DIFF."""

    def pre(self) -> dict[HandlerKey, Handler]:
        return {TxnLogged: self._logged}

    def post(self) -> dict[HandlerKey, Handler]:
        return {
            (Send, AckEpochPacket): self._ackepoch,
            (Recv, DiffPacket): self._diff,
            (Recv, TruncPacket): self._trunc,
            (Recv, NewLeaderPacket): self._joined,
            Established: self._joined,
            StateChange: self._state,
            Boot: self._boot,
        }

    def _logged(self, ev: TxnLogged) -> None:
        t = self._world.servers[ev.sid]
        last = t.logged
        if self._floor:
            floor = self._floor.pop(ev.sid, None)
            if floor is not None and floor < last:
                last = floor
        if ev.zxid <= last:
            message = (
                f"server {ev.sid} logged zxid 0x{java_hex(ev.zxid)} after 0x{java_hex(last)}: the log's zxids must grow"
            )
            self._sink.report(Invariant.TXN_EPOCH, ev.seq, ev.sid, message, ())
        elif t.leading_epoch is not None and ev.zxid >> 32 != t.leading_epoch:  # >> 32 = epoch_of, as above
            message = (
                f"server {ev.sid} leads epoch {t.leading_epoch} but logged zxid 0x{java_hex(ev.zxid)} "
                f"of epoch {epoch_of(ev.zxid)}"
            )
            self._sink.report(Invariant.TXN_EPOCH, ev.seq, ev.sid, message, ())
        elif self._left and ev.sid in self._left:
            message = (
                f"server {ev.sid} logged zxid 0x{java_hex(ev.zxid)} after it left its epoch (back to LOOKING) "
                f"and before it took in a new leader's NEWLEADER"
            )
            self._sink.report(Invariant.TXN_EPOCH, ev.seq, ev.sid, message, (self._left[ev.sid],))

    def _ackepoch(self, ev: Send) -> None:
        self._announced[ev.sid] = ev.msg.zxid

    def _diff(self, ev: Recv) -> None:
        announced = self._announced.get(ev.sid)
        if announced is not None:
            self._floor[ev.sid] = announced

    def _trunc(self, ev: Recv) -> None:
        assert isinstance(ev.msg, TruncPacket)
        self._floor[ev.sid] = ev.msg.zxid

    def _joined(self, ev: Recv | Established) -> None:
        if self._left:
            self._left.pop(ev.sid, None)

    def _state(self, ev: StateChange) -> None:
        if ev.state == "LOOKING":
            self._left[ev.sid] = ev.seq
            self._floor.pop(ev.sid, None)

    def _boot(self, ev: Boot) -> None:
        self._left.pop(ev.sid, None)
        self._floor.pop(ev.sid, None)
        self._announced.pop(ev.sid, None)
