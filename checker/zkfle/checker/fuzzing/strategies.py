"""Hypothesis strategies over the simulator's choices: the ensemble, the seed, the fault profile, the
workload and a short plan of faults that wait for protocol moments.

Wiped disks (`wipe`) come with `--no-autocreate`: with ZooKeeper's default `zookeeper.datadir.autocreate=true`
a server whose disk was replaced rejoins as an empty but valid voter, and wiping the holders of a committed txn
loses it, which is an operator's data loss, not a protocol bug. With autocreate off (what production setups
that fear replaced disks run) the wiped server restores zxid -1 and must sit elections out (ZOOKEEPER-261).

Epoch and synchronisation bugs need a fault at one moment (inside the disk writes of a NEWLEADER, right
after an ACKEPOCH, between a snapshot and a currentEpoch write), which random fault times almost never hit.
So most planned faults are triggered by a server's n-th event of a kind drawn from `TRIGGER_EVENTS` (the
moments where ZooKeeper's start-up and Zab write epochs, logs or snapshots or hand over leadership), and a
few by time. Every strategy shrinks towards fewer servers, no random faults, fewer writes, shorter runs and
fewer, earlier planned faults, so a shrunk reproducer is short and readable.
"""

from __future__ import annotations

from hypothesis import strategies as st

from zkfle.checker.fuzzing.schedule import History, Schedule
from zkfle.checker.testing.datadirs import history_head
from zkfle.impl.drivers.faultplan import LEADER, Fault, Trigger

TRIGGER_EVENTS: tuple[str, ...] = (
    "recv:NEWLEADER",
    "recv:NEWLEADER",
    "recv:DIFF",
    "recv:SNAP",
    "recv:TRUNC",
    "recv:UPTODATE",
    "recv:LEADERINFO",
    "recv:PROPOSAL",
    "recv:COMMIT",
    "send:ACK",
    "send:ACK",
    "send:ACKEPOCH",
    "send:FOLLOWERINFO",
    "epoch_write:acceptedEpoch:done",
    "epoch_write:currentEpoch:tmp",
    "epoch_write:currentEpoch:done",
    "txn_logged",
    "snapshot",
    "truncated",
    "synced",
    "established",
    "epoch_proposed",
    "decide:LEADING",
    "decide:FOLLOWING",
    "state:LOOKING",
    "recovered",
    "committed",
)
"""Trigger events, repeated by weight (the NEWLEADER moment and the ACKs are where most known bugs live)."""

SYNC_MOMENTS: tuple[str, ...] = (
    "recv:NEWLEADER",
    "recv:DIFF",
    "recv:SNAP",
    "recv:UPTODATE",
    "recv:PROPOSAL",
    "send:ACK",
)
"""A learner's moments of synchronisation and broadcast, for the motifs."""
PROFILES: tuple[str, ...] = ("none", "default", "heavy")
DURATIONS_MS: tuple[int, ...] = (5_000, 10_000, 20_000, 30_000)


def _trigger(sids: list[int], duration_ms: int) -> st.SearchStrategy[Trigger]:
    by_event = st.builds(
        Trigger, sid=st.sampled_from(sids), event=st.sampled_from(TRIGGER_EVENTS), nth=st.integers(1, 4)
    )
    by_time = st.builds(Trigger, at_ms=st.integers(0, duration_ms).map(float))
    return st.one_of(by_event, by_event, by_event, by_time)


def _sides(side: list[int] | tuple[int, ...], sids: list[int]) -> tuple[tuple[int, ...], ...]:
    """The groups of a partition that cuts `side` off from the rest of `sids`, in the fault grammar's order."""
    rest = tuple(s for s in sorted(sids) if s not in side)
    return tuple(sorted((tuple(sorted(side)), rest)))


def _split(sids: list[int]) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    return st.permutations(sids).flatmap(
        lambda order: st.integers(1, len(order) - 1).map(lambda at: _sides(order[:at], sids))
    )


@st.composite
def _faults(draw: st.DrawFn, sids: list[int], duration_ms: int) -> list[Fault]:
    """One planned fault. Its server is most often the trigger's own (die in the middle of what it just
    did) or the current leader (lose the leader at that moment of a learner's sync)."""
    trigger = draw(_trigger(sids, duration_ms))
    own = [trigger.sid] if trigger.sid is not None else []
    sid = draw(st.sampled_from([*own, *own, LEADER, *sids]))
    server = sid if sid != LEADER else draw(st.sampled_from(sids))
    kind = draw(
        st.sampled_from(("crash", "disk-crash", "crash", "disk-crash", "partition", "break", "disk-fail", "wipe"))
    )
    downtime = draw(st.one_of(st.none(), st.sampled_from((200.0, 1000.0, 3000.0, 8000.0))))
    match kind:
        case "crash":
            return [Fault("crash", trigger, (sid,), ms=downtime)]
        case "disk-crash":
            return [Fault("disk-crash", trigger, (sid,), count=draw(st.integers(1, 6)), ms=downtime)]
        case "disk-fail":
            return [Fault("disk-fail", trigger, (sid,), count=draw(st.integers(1, 4)))]
        case "wipe":
            return [Fault("wipe", trigger, (server,)), Fault("crash", trigger, (server,), ms=downtime)]
        case "partition":
            return [
                Fault(
                    "partition", trigger, groups=draw(_split(sids)), ms=draw(st.sampled_from((500.0, 2000.0, 5000.0)))
                )
            ]
        case _:
            other = draw(st.sampled_from([s for s in sids if s != server]))
            return [Fault("break", trigger, (min(server, other), max(server, other)))]


def first_leader(history: History) -> int | None:
    """The server that wins the first election when every server starts from `history` at once: the highest
    vote (currentEpoch, last zxid, sid) (FastLeaderElection.totalOrderPredicate) over what `--history` writes
    (`datadirs.history_head`); None for a new ensemble."""
    votes = [(epoch, zxid, sid) for sid, counts in history for zxid, epoch in [history_head(counts)]]
    return max(votes)[2] if votes else None


@st.composite
def _lagging_learner(draw: st.DrawFn, sids: list[int], history: History) -> list[Fault]:
    """A motif: a minority B (X first, a follower of the first epoch) is cut off while the others commit; the
    holders H of the newer history but Z are cut off in turn, so Z alone can form a quorum only with B and
    leads B's catch-up into a new epoch. At that moment either X dies inside the disk writes of its catch-up
    and Z (with the rest of B) goes down with it, or Z (with the rest of B) dies and X, after it leads the
    holders, goes down; either way the partition moves once more, to put X with the holders. Whether the
    committed txns survive depends on what X made durable, and in which order, before it acknowledged its
    catch-up (the NEWLEADER-order bugs), and on whether X's memory agreed with its log when it led (the
    lost-sync bugs). Each partition replaces the last at a protocol event (X's n-th commit, the holders'
    n+gap-th, X's catch-up), so the story does not depend on the write rate; it needs an odd ensemble (B with
    Z and X with H are both quorums) and, for the holders to reach their later commits, a steady workload."""
    order = draw(st.permutations(sids))
    if order[0] == first_leader(history):
        order = [*order[1:], order[0]]
    behind, z, holders = order[: (len(sids) - 1) // 2], order[(len(sids) - 1) // 2], order[(len(sids) + 1) // 2 :]
    x, rest = behind[0], behind[1:]
    nth, gap = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    plan = [
        Fault("partition", Trigger(sid=x, event="committed", nth=nth), groups=_sides(behind, sids), ms=60000.0),
        Fault(
            "partition",
            Trigger(sid=holders[0], event="committed", nth=nth + gap),
            groups=_sides(holders, sids),
            ms=60000.0,
        ),
    ]
    # X's catch-up is its second sync: its first was in the first epoch.
    moment = Trigger(sid=x, event=draw(st.sampled_from(("recv:NEWLEADER", "recv:NEWLEADER", "recv:UPTODATE"))), nth=2)
    scale = draw(st.sampled_from((1000.0, 2000.0, 4000.0)))
    if draw(st.booleans()):
        # A NEWLEADER's first 6 disk operations write the epoch files (the updatingEpoch marker, currentEpoch,
        # the marker's removal); what it logs and in which order comes after them.
        count = draw(st.one_of(st.integers(6, 8), st.integers(1, 5)))
        plan.append(Fault("disk-crash", moment, (x,), count=count, ms=scale))
        dies = Trigger(sid=x, event="crash")
        plan += [Fault("crash", dies, (s,), ms=60000.0) for s in (z, *rest)]
    else:
        dies = moment
        plan += [Fault("crash", moment, (s,), ms=1.5 * scale) for s in (z, *rest)]
        led = Trigger(sid=x, event="established", nth=draw(st.sampled_from((1, 2))))
        plan.append(Fault("crash", led, (x,), ms=60000.0))
    return [*plan, Fault("partition", dies, groups=_sides((z, *rest), sids), ms=scale)]


@st.composite
def _broken_sync(draw: st.DrawFn, sids: list[int]) -> list[Fault]:
    """A motif: a learner's connection to its leader breaks at a moment of its synchronisation or broadcast,
    and possibly the leader dies at the same moment, so the learner goes back to LOOKING with whatever its
    database, its sync processor and its disk hold then."""
    x = draw(st.sampled_from(sids))
    event = draw(st.sampled_from(SYNC_MOMENTS))
    moment = Trigger(sid=x, event=event, nth=draw(st.integers(1, 3)))
    plan: list[Fault] = []
    if draw(st.booleans()):
        plan.append(Fault("disk-fail", moment, (x,), count=draw(st.integers(1, 3))))
    leader = draw(st.sampled_from([s for s in sids if s != x]))
    plan.append(Fault("break", moment, (min(x, leader), max(x, leader))))
    if draw(st.booleans()):
        plan.append(Fault("crash", moment, (LEADER,), ms=draw(st.sampled_from((3000.0, 60000.0)))))
    if draw(st.booleans()):
        cut = Trigger(sid=x, event="committed", nth=draw(st.integers(1, 3)))
        plan.insert(0, Fault("partition", cut, groups=_sides((x,), sids), ms=8000.0))
    return plan


@st.composite
def _failed_catch_up(draw: st.DrawFn, sids: list[int]) -> list[Fault]:
    """A motif: learner X is cut off alone right after a sync (before it holds a txn of the epoch) or after a
    commit, while the others go on committing; when it comes back, the same leader catches it up (a SNAP or a
    DIFF), the first disk write of its NEWLEADER fails and the leader dies at that moment for good. X goes
    back to LOOKING with whatever the failed sync left in its memory, over a disk without it, and meets
    survivors of its own epoch: whether the committed txns survive depends on whether its vote, made from
    its memory, matches its disk (the lost-sync-state bugs). A vote that ties the survivors' goes to the
    higher sid, so X is one of the two highest, the second first (in a new ensemble the highest leads)."""
    x = draw(st.sampled_from(sorted(sids)[-2:]))
    event = draw(st.sampled_from(("committed", "synced")))
    cut = Trigger(sid=x, event=event, nth=draw(st.integers(1, 3)) if event == "committed" else 1)
    moment = Trigger(sid=x, event="recv:NEWLEADER", nth=2)
    return [
        Fault("partition", cut, groups=_sides((x,), sids), ms=draw(st.sampled_from((2000.0, 4000.0)))),
        Fault("disk-fail", moment, (x,), count=draw(st.integers(1, 2))),
        Fault("crash", moment, (LEADER,), ms=60000.0),
    ]


@st.composite
def _flapping_leader(draw: st.DrawFn, sids: list[int]) -> list[Fault]:
    """A motif: the leader X crashes as soon as it is established and is back within 150 ms, then crashes
    again right after each of its next LEADING decisions (short downtimes): its followers still follow the
    dead incarnation (they dial it) and answer X's new elections with FOLLOWING votes of an older round.
    Election code that counts such votes in the wrong round (the checkLeader bugs) decides on them. X is the
    highest sid, the leader of a new ensemble or of servers with equal histories."""
    x = max(sids)
    plan = [Fault("crash", Trigger(sid=x, event="established"), (x,), ms=draw(st.sampled_from((50.0, 100.0, 150.0))))]
    down = draw(st.sampled_from((300.0, 100.0, 1000.0)))
    decisions = range(2, 2 + draw(st.integers(2, 3)))
    return plan + [Fault("crash", Trigger(sid=x, event="decide:LEADING", nth=n), (x,), ms=down) for n in decisions]


@st.composite
def _torn_sync(draw: st.DrawFn, sids: list[int]) -> list[Fault]:
    """A motif: learner X dies inside one of the disk operations of its first or second NEWLEADER (the
    snapshot of a SNAP sync, the updatingEpoch marker, currentEpoch's .tmp write, fsync and rename, the first
    log appends) and comes back, so start-up must make sense of what the crash left (the marker and `.tmp`
    rules of loadDataBase); or one of those operations, or of its LEADERINFO's (acceptedEpoch), fails: X goes
    on (ZooKeeper catches the IOException, the learner shuts down and the peer looks again) and dies right
    after its next currentEpoch write, so what its memory wrote over the failure is on disk when it restarts.
    A learner of a new ensemble gets a SNAP or an empty DIFF, by timing."""
    x = draw(st.sampled_from(sids))
    nth = draw(st.integers(1, 2))
    down = draw(st.sampled_from((200.0, 1000.0)))
    if draw(st.booleans()):
        moment = Trigger(sid=x, event="recv:NEWLEADER", nth=nth)
        return [Fault("disk-crash", moment, (x,), count=draw(st.integers(1, 9)), ms=down)]
    moment = Trigger(sid=x, event=draw(st.sampled_from(("recv:NEWLEADER", "recv:LEADERINFO"))), nth=nth)
    later = Trigger(sid=x, event="epoch_write:currentEpoch:done", nth=nth + draw(st.integers(0, 1)))
    return [Fault("disk-fail", moment, (x,), count=draw(st.integers(1, 3))), Fault("crash", later, (x,), ms=down)]


def _history(servers: int) -> st.SearchStrategy[History]:
    """Servers that start as members of an earlier ensemble, each with its own amount of history."""
    counts = st.one_of(st.tuples(st.integers(0, 12)), st.tuples(st.integers(1, 12), st.integers(0, 6)))
    per_server = st.tuples(*[counts for _ in range(servers)])
    return per_server.map(lambda c: tuple((sid, n) for sid, n in enumerate(c, start=1)))


@st.composite
def schedules(draw: st.DrawFn, inject: tuple[str, ...] = (), max_servers: int = 5) -> Schedule:
    """A run of the simulator with `inject`ed switches: random planned faults, alone or on top of one of the
    motifs (each kind of run equally likely; the lagging learner only on 3 or 5 servers)."""
    servers = draw(st.integers(3, max_servers))
    sids = list(range(1, servers + 1))
    earlier = draw(_history(servers))
    kinds = ("none", "broken", "failed", "flapping", "torn", "lagging")
    kind = draw(st.sampled_from(kinds if servers % 2 else kinds[:-1]))
    match kind:
        case "lagging":
            story = draw(_lagging_learner(sids, earlier))
        case "broken":
            story = draw(_broken_sync(sids))
        case "failed":
            story = draw(_failed_catch_up(sids))
        case "flapping":
            story = draw(_flapping_leader(sids))
        case "torn":
            story = draw(_torn_sync(sids))
        case _:
            story = []
    # A motif is a story over the whole run: little random noise on top of it (no heavy profile, at most two
    # more faults). The lagging learner's takes three elections with commits between them: a long run with a
    # steady workload.
    duration_ms = draw(st.sampled_from(DURATIONS_MS[2:] if kind == "lagging" else DURATIONS_MS))
    writes = draw(st.integers(15 if kind == "lagging" else 0, 40))
    plan = draw(st.lists(_faults(sids, duration_ms), max_size=2 if story else 6))
    faults = (*story, *(f for group in plan for f in group))
    # The lagging learner and the broken sync restart servers that logged txns, so they start from an earlier
    # ensemble's durable snapshot (in a new ensemble a server that crashes before its first fsynced snapshot
    # refuses to start: "No snapshot found"); the other kinds run on a new ensemble half of the time.
    fresh = kind not in ("lagging", "broken") and draw(st.booleans())
    return Schedule(
        servers=servers,
        seed=draw(st.integers(0, 2**20)),
        faults=draw(st.sampled_from(PROFILES[:2] if story else PROFILES)),
        writes=writes,
        duration_ms=duration_ms,
        plan=faults,
        inject=inject,
        history=() if fresh else earlier,
        autocreate=not any(f.action == "wipe" for f in faults),
    )
