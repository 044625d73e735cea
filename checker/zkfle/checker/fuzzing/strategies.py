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

from zkfle.checker.fuzzing.schedule import Schedule
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


@st.composite
def _lagging_learner(draw: st.DrawFn, sids: list[int]) -> list[Fault]:
    """A motif: a minority B (X first) falls behind, cut off or down while the others commit; every holder
    of the newer history but Z goes down, so Z alone can form a quorum only with B, and leads B's catch-up
    into a new epoch. Then either X dies inside the disk writes of that catch-up and Z (with the rest of B)
    goes down with it, or Z (with the rest of B) dies at that moment and X, after it leads the returning
    holders, goes down. Whether the committed txns survive depends on what X made durable, and in which
    order, before it acknowledged its catch-up (the NEWLEADER-order bugs), and on whether X's memory agreed
    with its log when it led (the lost-sync bugs). One `scale` sets every downtime, so the story fits in the
    run's duration and write rate for one of its values: the holders stay down past B's return and Z's
    return after X led, and B stays cut off for a few commits."""
    order = draw(st.permutations(sids))
    behind, z, holders = order[: (len(sids) - 1) // 2], order[(len(sids) - 1) // 2], order[(len(sids) + 1) // 2 :]
    x, rest = behind[0], behind[1:]
    scale = draw(st.sampled_from((2000.0, 4000.0, 8000.0)))
    nth = draw(st.integers(1, 3))
    lag = Trigger(sid=x, event="committed", nth=nth)
    crashed = draw(st.booleans())
    if crashed:
        plan = [Fault("crash", lag, (s,), ms=scale) for s in behind]
    else:
        plan = [Fault("partition", lag, groups=_sides(behind, sids), ms=scale)]
    gap = draw(st.integers(2, 4))
    plan += [Fault("crash", Trigger(sid=h, event="committed", nth=nth + gap), (h,), ms=2.5 * scale) for h in holders]
    # X's catch-up is its second sync: its first was in the epoch it fell behind in.
    moment = Trigger(sid=x, event=draw(st.sampled_from(("recv:NEWLEADER", "recv:NEWLEADER", "recv:UPTODATE"))), nth=2)
    if draw(st.booleans()):
        plan.append(Fault("disk-crash", moment, (x,), count=draw(st.integers(1, 8)), ms=scale))
        dies = Trigger(sid=x, event="crash", nth=2 if crashed else 1)
        plan += [Fault("crash", dies, (s,), ms=60000.0) for s in (z, *rest)]
    else:
        plan += [Fault("crash", moment, (s,), ms=1.5 * scale) for s in (z, *rest)]
        led = Trigger(sid=x, event="established", nth=draw(st.sampled_from((1, 2))))
        plan.append(Fault("crash", led, (x,), ms=60000.0))
    return plan


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


def _history(servers: int, fresh: bool = True) -> st.SearchStrategy[tuple[tuple[int, tuple[int, ...]], ...]]:
    """Servers that start as members of an earlier ensemble, each with its own amount of history, or (if
    `fresh`) sometimes a new ensemble."""
    counts = st.one_of(st.tuples(st.integers(0, 12)), st.tuples(st.integers(1, 12), st.integers(0, 6)))
    per_server = st.tuples(*[counts for _ in range(servers)])
    earlier = per_server.map(lambda c: tuple((sid, n) for sid, n in enumerate(c, start=1)))
    return st.one_of(st.just(()), earlier) if fresh else earlier


@st.composite
def schedules(draw: st.DrawFn, inject: tuple[str, ...] = (), max_servers: int = 5) -> Schedule:
    """A run of the simulator with `inject`ed switches: random planned faults, sometimes one of the motifs."""
    servers = draw(st.integers(3, max_servers))
    sids = list(range(1, servers + 1))
    duration_ms = draw(st.sampled_from(DURATIONS_MS))
    motif = draw(st.one_of(st.just([]), _lagging_learner(sids), _broken_sync(sids)))
    # The early-run motifs restart no server that logged txns, so they run on a new ensemble too.
    early = [] if motif else draw(st.one_of(st.just([]), _failed_catch_up(sids), _flapping_leader(sids)))
    story = [*motif, *early]
    # A motif is a story over the whole run: little random noise on top of it (no heavy profile, at most two
    # more faults), and servers that start from an earlier ensemble's durable snapshot (in a new ensemble
    # a server that crashes before its first fsynced snapshot refuses to start: "No snapshot found").
    plan = draw(st.lists(_faults(sids, duration_ms), max_size=2 if story else 6))
    faults = (*story, *(f for group in plan for f in group))
    return Schedule(
        servers=servers,
        seed=draw(st.integers(0, 2**20)),
        faults=draw(st.sampled_from(PROFILES[:2] if story else PROFILES)),
        writes=draw(st.integers(0, 40)),
        duration_ms=duration_ms,
        plan=faults,
        inject=inject,
        history=draw(_history(servers, fresh=not motif)),
        autocreate=not any(f.action == "wipe" for f in faults),
    )
