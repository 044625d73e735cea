"""A tiny scripted ensemble that writes correct traces: the election by `zkfle.spec.fle`, Zab by script.

Used by tests/check and bench/bench_check.py. The traces it writes are what a
correct ZooKeeper 3.8 does on a reliable network: every notification is delivered in send order, a server
that finds a quorum waits out finalizeWait with no better vote arriving, a restarted server joins the
established leader out of election, and every epoch change and write goes through the disk events in
ZooKeeper's order (semantics.md §2.5).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from zkfle.spec import fle
from zkfle.spec import trace as tr
from zkfle.spec.quorum import MajoritySystem, QuorumView, has_all_quorums
from zkfle.spec.vocabulary import ServerState, Vote
from zkfle.spec.zxid import Epoch, ServerId, Zxid, epoch_of, make_zxid


@dataclass
class Server:
    sid: int
    zxid: int = 0
    current: int = 0
    accepted: int = 0
    up: bool = False
    state: tr.StateName = "LOOKING"
    clock: int = 0
    election: fle.ElectionState | None = None
    decided: fle.Decision | None = None
    vote_epoch: int = 0
    history: list[int] = field(default_factory=list)
    snapshotted: bool = False


class Ensemble:
    """`Ensemble(3)`; `boot(1, 2, 3)`; `elect()`; `write(5)`; `crash(2)`; `boot(2)`; `join(2)`; `events`."""

    def __init__(self, n: int, *, sink: Callable[[tr.Event], None] | None = None) -> None:
        self.sids = list(range(1, n + 1))
        self.header = tr.TraceHeader(
            zkfle_trace=1,
            servers=[tr.ServerEntry(ServerId(sid), "participant") for sid in self.sids],
            quorum=tr.MajorityQuorum(),
            source="test",
            seed=None,
            meta={},
        )
        self.view = QuorumView(MajoritySystem(frozenset(ServerId(s) for s in self.sids)))
        self.servers = {sid: Server(sid) for sid in self.sids}
        self.events: list[tr.Event] = []
        self._sink = sink if sink is not None else self.events.append
        self.seq = 0
        self._mids = 0
        self.leader: int | None = None
        self.epoch = 0
        self._queue: deque[tuple[str, int, int, tr.Message]] = deque()

    # ---------------------------------------------------------------------------------------------- emitting

    def emit(self, cls: type[Any], sid: int | None, **fields: Any) -> Any:
        self.seq += 1
        event = cls(seq=self.seq, t=float(self.seq), sid=sid, **fields)
        self._sink(event)
        return event

    def send(self, sid: int, to: int, msg: tr.Message, *, deliver: bool = True) -> str:
        self._mids += 1
        mid = f"{sid}-{self._mids}"
        self.emit(tr.Send, sid, to=to, mid=mid, msg=msg)
        if deliver:
            self.emit(tr.Recv, to, from_=sid, mid=mid, msg=msg)
        return mid

    def epoch_write(self, sid: int, file: str, value: int) -> None:
        self.emit(tr.EpochWrite, sid, file=file, value=value, stage="tmp")
        self.emit(tr.EpochWrite, sid, file=file, value=value, stage="done")
        if file == "currentEpoch":
            self.servers[sid].current = value
        else:
            self.servers[sid].accepted = value

    def live(self) -> list[int]:
        return [s for s in self.sids if self.servers[s].up]

    # -------------------------------------------------------------------------------------------- processes

    def boot(self, *sids: int) -> None:
        for sid in sids:
            s = self.servers[sid]
            self.emit(tr.Boot, sid)
            self.emit(tr.Recovered, sid, zxid=s.zxid, current_epoch=s.current, accepted_epoch=s.accepted)
            if not s.snapshotted:
                # the snapshot.0 of the empty database (FileTxnSnapLog.restore), taken as durable here
                self.emit(tr.Snapshot, sid, zxid=0)
                s.snapshotted = True
            s.up, s.state, s.clock, s.decided, s.election = True, "LOOKING", 0, None, None

    def crash(self, sid: int) -> None:
        s = self.servers[sid]
        self.emit(tr.Crash, sid)
        s.up, s.election = False, None
        if sid == self.leader:
            self.leader = None
            for other in self.live():
                self.servers[other].state = "LOOKING"
                self.servers[other].decided = None
                self.emit(tr.StateChange, other, state="LOOKING", phase="election")

    # ---------------------------------------------------------------------------------------------- election

    def _notify(self, sid: int) -> None:
        s = self.servers[sid]
        assert s.election is not None
        p = s.election.proposal
        msg = tr.Notification("LOOKING", p.leader, p.zxid, s.election.round, p.peer_epoch, version=2)
        for other in self.sids:
            if other != sid and self.servers[other].up:
                self._mids += 1
                mid = f"{sid}-{self._mids}"
                self.emit(tr.Send, sid, to=other, mid=mid, msg=msg)
                self._queue.append((mid, sid, other, msg))

    def start_election(self, sid: int) -> None:
        """`lookForLeader` begins on `sid`: election_start and its notifications (not delivered yet)."""
        s = self.servers[sid]
        initial = Vote(ServerId(sid), Zxid(s.zxid), Epoch(s.current))
        step = fle.look_for_leader(s.clock, initial)
        s.election, s.clock = step.state, step.state.round
        self.emit(
            tr.ElectionStart, sid, round=s.clock, vote=tr.TraceVote(ServerId(sid), Zxid(s.zxid), Epoch(s.current))
        )
        own = fle.Notification(
            ServerId(sid), ServerState.LOOKING, initial.leader, initial.zxid, s.clock, initial.peer_epoch
        )
        s.election = fle.handle_notification(self._peer(sid), s.election, own).state
        self._notify(sid)

    def _peer(self, sid: int) -> fle.Peer:
        return fle.Peer(ServerId(sid), self.view)

    def _deliver(self) -> None:
        while self._queue:
            mid, sender, to, msg = self._queue.popleft()
            r = self.servers[to]
            if not r.up:
                continue
            self.emit(tr.Recv, to, from_=sender, mid=mid, msg=msg)
            assert isinstance(msg, tr.Notification)
            n = fle.Notification(
                ServerId(sender),
                ServerState[msg.state],
                ServerId(msg.leader),
                Zxid(msg.zxid),
                msg.round,
                Epoch(msg.peer_epoch),
            )
            if r.election is None:
                if r.decided is not None and msg.state == "LOOKING":
                    d = r.decided
                    reply = tr.Notification(r.state, d.leader, d.zxid, d.election_epoch, Epoch(r.vote_epoch), version=2)
                    self._mids += 1
                    rmid = f"{to}-{self._mids}"
                    self.emit(tr.Send, to, to=sender, mid=rmid, msg=reply)
                    self._queue.append((rmid, to, sender, reply))
                continue
            state = r.election
            if state.finalizing:
                step = fle.finalize_received(self._peer(to), state, n)
                if step.requeue is not None:
                    step = fle.handle_notification(self._peer(to), step.state, step.requeue)
            else:
                step = fle.handle_notification(self._peer(to), state, n)
            self._after(to, state, step)

    def _after(self, sid: int, before: fle.ElectionState, step: fle.Step) -> None:
        s = self.servers[sid]
        assert not step.aborted
        s.election, s.clock = step.state, step.state.round
        if step.decision is not None:
            self._decide(sid, step.decision)
            return
        if (step.state.round, step.state.proposal) != (before.round, before.proposal):
            p = step.state.proposal
            self.emit(tr.Proposal, sid, round=step.state.round, vote=tr.TraceVote(p.leader, p.zxid, p.peer_epoch))
        if step.send_notifications:
            own = fle.Notification(
                ServerId(sid),
                ServerState.LOOKING,
                step.state.proposal.leader,
                step.state.proposal.zxid,
                step.state.round,
                step.state.proposal.peer_epoch,
            )
            s.election = fle.handle_notification(self._peer(sid), s.election, own).state
            self._notify(sid)

    def _decide(self, sid: int, d: fle.Decision) -> None:
        s = self.servers[sid]
        s.election, s.decided, s.clock = None, d, d.election_epoch
        s.state = "LEADING" if d.peer_state == ServerState.LEADING else "FOLLOWING"
        s.vote_epoch = d.peer_epoch
        self.emit(
            tr.Decide, sid, state=s.state, round=d.election_epoch, vote=tr.TraceVote(d.leader, d.zxid, d.peer_epoch)
        )
        self.emit(tr.StateChange, sid, state=s.state, phase="discovery")

    def elect(self) -> int:
        """Every live LOOKING server runs an election; the notifications are delivered until all decided."""
        lookers = [s for s in self.live() if self.servers[s].decided is None]
        for sid in lookers:
            self.start_election(sid)
        while True:
            self._deliver()
            finalizing = [s for s in lookers if (e := self.servers[s].election) is not None and e.finalizing]
            if not finalizing:
                break
            for sid in finalizing:
                e = self.servers[sid].election
                assert e is not None
                step = fle.finalize_timed_out(self._peer(sid), e)
                assert step.decision is not None
                self._decide(sid, step.decision)
        assert all(self.servers[s].decided is not None for s in lookers), "no leader: not a quorum up?"
        leader = self.servers[lookers[0]].decided
        assert leader is not None
        self.leader = leader.leader
        self._discover(self.leader, [s for s in lookers if s != self.leader])
        return self.leader

    def join(self, sid: int) -> None:
        """A restarted server looks for a leader; the others answer from outside the election; it follows."""
        self.start_election(sid)
        self._deliver()
        s = self.servers[sid]
        assert s.decided is not None and self.leader is not None and s.decided.leader == self.leader
        self._sync(self.leader, sid, self.epoch, registered=False)
        self._uptodate(self.leader, sid)

    # --------------------------------------------------------------------------------------------------- Zab

    def _discover(self, leader: int, followers: list[int]) -> None:
        lead = self.servers[leader]
        infos = {}
        for f in followers:
            self.send(f, leader, tr.FollowerInfoPacket(make_zxid(self.servers[f].accepted, 0)))
            infos[f] = self.servers[f].accepted
        epoch = max([lead.accepted, *infos.values()]) + 1
        self.epoch = epoch
        self.epoch_write(leader, "acceptedEpoch", epoch)
        self.emit(tr.EpochProposed, leader, epoch=epoch, quorum=sorted([leader, *followers]))
        for f in followers:
            self._sync(leader, f, epoch)
        self.epoch_write(leader, "currentEpoch", epoch)
        self.emit(tr.StateChange, leader, state="LEADING", phase="synchronization")
        assert has_all_quorums(self.view, (ServerId(s) for s in [leader, *followers]))
        self.emit(tr.Established, leader, epoch=epoch, quorum=sorted([leader, *followers]))
        lead.vote_epoch = epoch
        for f in followers:
            self._uptodate(leader, f)
        self.emit(tr.StateChange, leader, state="LEADING", phase="broadcast")

    def _sync(self, leader: int, f: int, epoch: int, *, registered: bool = True) -> None:
        lead, fol = self.servers[leader], self.servers[f]
        if not registered:
            self.send(f, leader, tr.FollowerInfoPacket(make_zxid(fol.accepted, 0)))
        self.send(leader, f, tr.LeaderInfoPacket(make_zxid(epoch, 0)))
        old_current = fol.current
        if epoch > fol.accepted:
            self.epoch_write(f, "acceptedEpoch", epoch)
            ack_epoch = old_current
        else:
            ack_epoch = -1
        self.send(f, leader, tr.AckEpochPacket(Zxid(fol.zxid), current_epoch=Epoch(ack_epoch)))
        self.emit(tr.StateChange, f, state="FOLLOWING", phase="synchronization")
        self.send(leader, f, tr.DiffPacket(Zxid(lead.zxid)))
        missing = [z for z in lead.history if z > fol.zxid]
        for z in missing:
            self.send(leader, f, tr.ProposalPacket(Zxid(z)))
            self.send(leader, f, tr.CommitPacket(Zxid(z)))
        self.send(leader, f, tr.NewLeaderPacket(make_zxid(epoch, 0)))
        self.epoch_write(f, "currentEpoch", epoch)
        for z in missing:
            self.emit(tr.TxnLogged, f, zxid=z)
            fol.history.append(z)
            fol.zxid = z
            self.emit(tr.Committed, f, zxid=z)
        self.send(f, leader, tr.AckPacket(make_zxid(epoch, 0)))

    def _uptodate(self, leader: int, f: int) -> None:
        self.send(leader, f, tr.UpToDatePacket(make_zxid(self.epoch, 0)))
        self.emit(tr.Synced, f, leader=leader, epoch=self.epoch, mode="DIFF")
        self.emit(tr.StateChange, f, state="FOLLOWING", phase="broadcast")
        self.servers[f].vote_epoch = self.epoch

    def write(self, count: int) -> None:
        """`count` client writes through the established leader to every live follower."""
        assert self.leader is not None
        leader = self.leader
        lead = self.servers[leader]
        followers = [s for s in self.live() if s != leader]
        for _ in range(count):
            counter = (lead.zxid & 0xFFFFFFFF) + 1 if epoch_of(lead.zxid) == self.epoch else 1
            z = make_zxid(self.epoch, counter)
            self.emit(tr.TxnLogged, leader, zxid=z)
            lead.zxid = z
            lead.history.append(z)
            for f in followers:
                self.send(leader, f, tr.ProposalPacket(Zxid(z)))
                self.emit(tr.TxnLogged, f, zxid=z)
                self.servers[f].zxid = z
                self.servers[f].history.append(z)
                self.send(f, leader, tr.AckPacket(z))
            self.emit(tr.Committed, leader, zxid=z)
            for f in followers:
                self.send(leader, f, tr.CommitPacket(Zxid(z)))
                self.emit(tr.Committed, f, zxid=z)


def encode(header: tr.TraceHeader, events: list[tr.Event]) -> bytes:
    """The trace file's bytes."""
    return tr.encode_header(header) + b"".join(tr.encode_event(e) for e in events)


def renumber(events: list[tr.Event]) -> list[tr.Event]:
    """The events with seq 1, 2, 3, ... again (after a mutation inserted or removed some)."""
    return [msgspec.structs.replace(e, seq=i) for i, e in enumerate(events, 1)]


def standard_run(n: int = 3) -> Ensemble:
    """Boot, elect, write, crash and restart a follower, write, crash the leader, elect again, write."""
    ens = Ensemble(n)
    ens.boot(*ens.sids)
    ens.elect()
    ens.write(3)
    follower = next(s for s in ens.live() if s != ens.leader)
    ens.crash(follower)
    ens.write(2)
    ens.boot(follower)
    ens.join(follower)
    ens.write(2)
    assert ens.leader is not None
    ens.crash(ens.leader)
    ens.elect()
    ens.write(2)
    return ens


def cycles(n: int, count: int, sink: Callable[[tr.Event], None]) -> Iterator[int]:
    """For benchmarks: `count` cycles of writes, follower restarts and leader changes, streamed to `sink`."""
    ens = Ensemble(n, sink=sink)
    ens.events = []
    ens.boot(*ens.sids)
    ens.elect()
    for i in range(count):
        ens.write(20)
        assert ens.leader is not None
        victim = ens.leader if i % 4 == 3 else next(s for s in ens.live() if s != ens.leader)
        was_leader = victim == ens.leader
        ens.crash(victim)
        ens.write(0) if not was_leader else ens.elect()
        ens.boot(victim)
        ens.join(victim)
        yield ens.seq
