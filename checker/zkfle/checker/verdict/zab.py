"""The Zab invariants: ONE_LEADER_PER_EPOCH, NEW_EPOCH_IS_FRESH, COMMITTED_DURABLE, ZAB_ACK_ORDER."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from zkfle.checker.verdict.replay import Check, Sink
from zkfle.checker.verdict.world import Handler, HandlerKey, World
from zkfle.spec.invariants import Invariant
from zkfle.spec.quorum import MajoritySystem, is_quorum
from zkfle.spec.trace import (
    AckEpochPacket,
    AckPacket,
    Boot,
    Committed,
    Crash,
    Decide,
    EpochProposed,
    EpochWrite,
    Established,
    FollowerInfoPacket,
    NewLeaderPacket,
    ObserverInfoPacket,
    Recv,
    Send,
    StateChange,
)
from zkfle.spec.zxid import ServerId, epoch_of, java_hex


class OneLeaderPerEpoch(Check):
    """ONE_LEADER_PER_EPOCH: at most one server is `established` for any epoch.

    Zab's Leadership (Zab.tla and ZkV3_7_0.tla `Leadership2`: per epoch at most one `epochLeader`). It
    follows from `Leader.getEpochToPropose` choosing an epoch above the acceptedEpoch of a quorum, which
    then accepts it (`Learner.registerWithLeader` refuses lower ones), and from quorums intersecting.
    Memory: one entry per epoch.
    """

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._leaders: dict[int, tuple[int, int]] = {}
        """epoch -> (sid, seq of its `established`)."""

    def pre(self) -> dict[HandlerKey, Handler]:
        return {Established: self._established}

    def _established(self, ev: Established) -> None:
        first = self._leaders.get(ev.epoch)
        if first is None:
            self._leaders[ev.epoch] = (ev.sid, ev.seq)
        elif first[0] != ev.sid:
            message = f"server {ev.sid} is established for epoch {ev.epoch}, which server {first[0]} already leads"
            self._sink.report(Invariant.ONE_LEADER_PER_EPOCH, ev.seq, ev.sid, message, (first[1],))


class NewEpochIsFresh(Check):
    """NEW_EPOCH_IS_FRESH: a proposed epoch exceeds the acceptedEpoch of every server in its FOLLOWERINFO quorum.

    `Leader.getEpochToPropose` sets `epoch = lastAcceptedEpoch + 1` whenever a caller's acceptedEpoch (the
    leader's own, or `epoch(FOLLOWERINFO.zxid)` from a `LearnerHandler`) is not below it, so the result is
    above every acceptedEpoch it was given (Zab.tla: NEWEPOCH is above every CEPOCH of the quorum). The
    acceptedEpoch of a learner is the one in its latest FOLLOWERINFO / OBSERVERINFO the leader took in since
    its election; the leader's own is its acceptedEpoch when `lookForLeader` returned.

    A fresh epoch is also one a quorum has accepted before the leader uses it: `Leader.lead` writes it as its
    currentEpoch only when `waitForEpochAck` returns, once the leader and a quorum of voters acknowledged it
    with ACKEPOCH (ZOOKEEPER-1191/1192; Zab.tla: the leader waits for ACK-E from a quorum before NEWLEADER).
    An ACKEPOCH counts when it carries a currentEpoch and a zxid (not -1, as `waitForEpochAck` counts); one
    that `waitForEpochAck` rejects as "Follower is ahead" is counted too, so the check can miss, never invent.
    """

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._info: dict[int, dict[int, tuple[int, int]]] = {}
        """leader sid -> learner sid -> (acceptedEpoch it announced, seq of that recv)."""
        self._unused: dict[int, tuple[int, int, set[int]]] = {}
        """leader sid -> (epoch proposed and not yet written as currentEpoch, seq of its `epoch_proposed`, the
        senders of the ACKEPOCHs it took in since)."""

    def pre(self) -> dict[HandlerKey, Handler]:
        return {EpochProposed: self._proposed, EpochWrite: self._epoch_write}

    def post(self) -> dict[HandlerKey, Handler]:
        return {
            (Recv, FollowerInfoPacket): self._recv,
            (Recv, ObserverInfoPacket): self._recv,
            (Recv, AckEpochPacket): self._ack_epoch,
            Boot: self._forget,
            Decide: self._forget,
        }

    def _recv(self, ev: Recv) -> None:
        self._info.setdefault(ev.sid, {})[ev.from_] = (epoch_of(ev.msg.zxid), ev.seq)

    def _ack_epoch(self, ev: Recv) -> None:
        unused = self._unused.get(ev.sid)
        msg = ev.msg
        assert isinstance(msg, AckEpochPacket)
        if unused is not None and msg.current_epoch != -1 and msg.zxid != -1:
            unused[2].add(ev.from_)

    def _forget(self, ev: Boot | Decide) -> None:
        self._info.pop(ev.sid, None)
        self._unused.pop(ev.sid, None)

    def _epoch_write(self, ev: EpochWrite) -> None:
        unused = self._unused.get(ev.sid)
        if unused is None or ev.file != "currentEpoch" or ev.value != unused[0]:
            return
        del self._unused[ev.sid]
        epoch, seq, acked = unused
        voters = {ServerId(ev.sid), *(ServerId(s) for s in acked)}
        if not is_quorum(self._world.view.current, voters):
            message = (
                f"leader {ev.sid} writes epoch {epoch} as its currentEpoch, but only {sorted(voters)} acknowledged "
                f"it (ACKEPOCH): no quorum"
            )
            self._sink.report(Invariant.NEW_EPOCH_IS_FRESH, ev.seq, ev.sid, message, (seq,))

    def _proposed(self, ev: EpochProposed) -> None:
        self._unused[ev.sid] = (ev.epoch, ev.seq, set())
        info = self._info.get(ev.sid, {})
        for sid in sorted(set(ev.quorum)):
            if sid == ev.sid:
                accepted = self._world.servers[sid].accepted_at_decide
                if accepted is not None and ev.epoch <= accepted:
                    message = f"leader {sid} proposes epoch {ev.epoch} but its own acceptedEpoch was {accepted}"
                    self._sink.report(Invariant.NEW_EPOCH_IS_FRESH, ev.seq, ev.sid, message, ())
                continue
            seen = info.get(sid)
            if seen is None:
                message = (
                    f"leader {ev.sid} proposes epoch {ev.epoch} with server {sid} in its quorum, but took in no "
                    f"FOLLOWERINFO from it"
                )
                self._sink.report(Invariant.NEW_EPOCH_IS_FRESH, ev.seq, ev.sid, message, ())
            elif ev.epoch <= seen[0]:
                message = (
                    f"leader {ev.sid} proposes epoch {ev.epoch}, not above server {sid}'s acceptedEpoch {seen[0]} "
                    f"(its FOLLOWERINFO)"
                )
                self._sink.report(Invariant.NEW_EPOCH_IS_FRESH, ev.seq, ev.sid, message, (seen[1],))


class CommittedDurable(Check):
    """COMMITTED_DURABLE: every zxid committed by a quorum is durable on every leader established after it
    for a later epoch.

    Zab's PrefixConsistency / PrimaryIntegrity (Zab.tla, ZkV3_7_0.tla): a new primary's history contains
    every transaction delivered by a quorum in an earlier epoch. "Durable" is the txn log and snapshots: the
    leader's restore zxid. Only earlier epochs count: a leader of epoch e may be established after epoch
    e' > e committed (its wait for NEWLEADER ACKs counts an ACK of a learner that has since left for e',
    as `Leader.waitForNewLeaderAck` keeps the acks of learners that disconnect); e''s txns are not e's
    business, and e cannot commit anything (the voters of e' refuse its LEADERINFO). Bounded memory: per
    epoch the largest zxid a quorum (of the verifier's voters) has `committed` so far, and per zxid above
    it the servers that committed it; a leader of epoch e must have durable zxid at least the largest of
    the epochs below e. A leader whose durable zxid is larger but from another branch is not caught (the
    order of zxids stands in for the history, as it does in FLE's vote order).
    """

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._committers: dict[int, set[int]] = {}
        system = world.view.current
        self._smallest = len(system.participants) // 2 + 1 if isinstance(system, MajoritySystem) else 1
        """No set smaller than this is a quorum (so `is_quorum` is asked only from this size on)."""
        self._is_quorum: Callable[[frozenset[int]], bool] = lru_cache(maxsize=1024)(
            lambda sids: is_quorum(system, (ServerId(s) for s in sids))
        )
        """`is_quorum` of the verifier, remembered: every zxid asks it again of the same few sets of committers."""
        self._max: dict[int, tuple[int, int]] = {}
        """epoch -> (the largest zxid of it a quorum committed, the seq of the commit that made it so)."""

    def pre(self) -> dict[HandlerKey, Handler]:
        return {Established: self._established}

    def post(self) -> dict[HandlerKey, Handler]:
        return {Committed: self._committed}

    def _committed(self, ev: Committed) -> None:
        zxid = ev.zxid
        epoch = zxid >> 32  # = epoch_of: zxids are signed 64-bit and Python shifts arithmetically
        reached = self._max.get(epoch)
        if reached is not None and zxid <= reached[0]:
            return
        committers = self._committers
        sids = committers.get(zxid)
        if sids is None:
            sids = committers[zxid] = set()
        sids.add(ev.sid)
        if len(sids) >= self._smallest and self._is_quorum(frozenset(sids)):
            self._max[epoch] = (zxid, ev.seq)
            del committers[zxid]
            if committers:  # zxids of the epoch below this one can no longer matter
                self._committers = {z: s for z, s in committers.items() if z > zxid or z >> 32 != epoch}

    def _established(self, ev: Established) -> None:
        below = [m for e, m in self._max.items() if e < ev.epoch]
        if not below:
            return
        zxid, seq = max(below)
        durable = self._world.servers[ev.sid].zxid
        if durable < zxid:
            message = (
                f"leader {ev.sid} is established for epoch {ev.epoch} with durable zxid 0x{java_hex(durable)}, "
                f"but a quorum committed 0x{java_hex(zxid)}"
            )
            self._sink.report(Invariant.COMMITTED_DURABLE, ev.seq, ev.sid, message, (seq,))


class ZabAckOrder(Check):
    """ZAB_ACK_ORDER: a learner's first ACK to a leader after that leader's NEWLEADER acknowledges NEWLEADER.

    `LearnerHandler.run` reads exactly one packet after it sent NEWLEADER and hands its zxid to
    `Leader.waitForNewLeaderAck`, which counts it only when it is NEWLEADER's `makeZxid(epoch, 0)` ("NEWLEADER
    ACK from sid: ... is from a different epoch" otherwise): a proposal ACK that overtakes the NEWLEADER ACK
    leaves the learner uncounted, and without a quorum the leader gives up (ZOOKEEPER-4685). Judged at the
    learner's `send`s (what it wrote on the connection, in order): from its `recv` of NEWLEADER from a
    leader, the next ACK it sends to that leader must carry NEWLEADER's zxid. Leaving the connection (a
    `crash`, a `state` back to LOOKING) forgets the NEWLEADER. Memory: one entry per learner between its
    NEWLEADER and its ACK; an ACK send costs one look-up in that (almost always empty) map.
    """

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._awaiting: dict[int, tuple[int, int, int]] = {}
        """learner sid -> (leader sid, NEWLEADER zxid, seq of its recv)."""

    def post(self) -> dict[HandlerKey, Handler]:
        return {
            (Recv, NewLeaderPacket): self._newleader,
            (Send, AckPacket): self._ack,
            Crash: self._forget,
            StateChange: self._state,
        }

    def _newleader(self, ev: Recv) -> None:
        self._awaiting[ev.sid] = (ev.from_, ev.msg.zxid, ev.seq)

    def _ack(self, ev: Send) -> None:
        if not self._awaiting:
            return
        entry = self._awaiting.get(ev.sid)
        if entry is None or entry[0] != ev.to:
            return
        del self._awaiting[ev.sid]
        leader, zxid, seq = entry
        if ev.msg.zxid != zxid:
            message = (
                f"server {ev.sid}'s first ACK to leader {leader} after its NEWLEADER (0x{java_hex(zxid)}) "
                f"acknowledges 0x{java_hex(ev.msg.zxid)}: the leader takes it for the NEWLEADER ACK and does not "
                f"count server {ev.sid}"
            )
            self._sink.report(Invariant.ZAB_ACK_ORDER, ev.seq, ev.sid, message, (seq,))

    def _forget(self, ev: Crash) -> None:
        if self._awaiting:
            self._awaiting.pop(ev.sid, None)

    def _state(self, ev: StateChange) -> None:
        if self._awaiting and ev.state == "LOOKING":
            self._awaiting.pop(ev.sid, None)
