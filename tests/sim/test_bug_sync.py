"""Reproducers of the synchronisation entries of the bug catalog (docs/bugs.md): for each switch, a small
ensemble and a fault plan for which `--inject BUG` breaks exactly the invariant the entry names, while the
fixed protocol on the same configuration checks clean.

The plans of ZK_4643, ZK_4646 and ZK_3911 share one story (3 servers, 5 txns of epoch 1 each, server 3
leads epoch 2): server 1 is cut off after its first commit while 2 and 3 commit more, 2 crashes and 3 gives
up; after the heal 3 leads epoch 3 and DIFFs server 1, which dies inside the 7th disk operation of that
NEWLEADER (the first txn append once the `updatingEpoch` marker and currentEpoch are written) and takes 3
down with it. Back up with currentEpoch 3 over a short log, server 1 out-votes server 2 (currentEpoch 2)
and truncates the committed txns away: COMMITTED_DURABLE at its `established`. The fixed order logs and
fsyncs the txns before currentEpoch, so the same crash leaves either the txns or the old epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from zkfle.checker.testing.datadirs import write_data_dir
from zkfle.checker.verdict import Verdict, check_events
from zkfle.impl.bugs import CATALOG, Bug
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.drivers.faultplan import parse_fault
from zkfle.impl.drivers.simulator import SimConfig, Simulator, trace_header
from zkfle.impl.persistence.fs import MemoryFileSystem
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant
from zkfle.spec.zxid import epoch_of, make_zxid

SHORT_LOG_WINS = (
    "partition 1|2,3 for 8000 when 1 committed#1",
    "crash 2 for 15000 when 2 committed#3",
    "disk-crash 1 after 7 when 1 recv:NEWLEADER#2",
    "crash 3 for 60000 when 1 crash",
)


@dataclass(frozen=True)
class Case:
    txns: tuple[int, int, int]
    """Txns of epoch 1 in the data dir of servers 1, 2, 3."""
    plan: tuple[str, ...]
    snapshot_every: tuple[int, int, int] = (0, 0, 0)
    writes: int = 30
    seed: int = 1


CASES: dict[Bug, Case] = {
    Bug.ZK_4643: Case((5, 5, 5), SHORT_LOG_WINS),
    Bug.ZK_4646: Case((5, 5, 5), SHORT_LOG_WINS),
    Bug.ZK_3911: Case((5, 5, 5), SHORT_LOG_WINS),
    # server 2 misses commits, re-joins leader 3 by DIFF and loses it (and 3) right after the DIFF packet:
    # with the switch its lastProcessedZxid is 3's, ties server 1's, and the higher sid wins with a short log
    Bug.ZK_2355: Case(
        (5, 5, 5),
        (
            "partition 2|1,3 for 8000 when 2 committed#1",
            "break 2-3 when 2 recv:DIFF#2",
            "crash 3 for 60000 when 2 recv:DIFF#2",
        ),
    ),
    # the same with a SNAP: servers 1 and 3 start from a snapshot of their 10 txns (no committed log to
    # DIFF from), server 2 from 5 txns; server 2's second SNAP sync fails at NEWLEADER (its first disk
    # operation, the `updatingEpoch` marker, raises an IOException) and with the switch it keeps the
    # leader's snapshot in memory only (the NEWLEADER comes with the SNAP, so a broken link would be late)
    Bug.ZK_3642: Case(
        (10, 5, 10),
        (
            "partition 2|1,3 for 8000 when 2 synced",
            "disk-fail 2 after 1 when 2 recv:NEWLEADER#2",
            "crash 3 for 60000 when 2 recv:NEWLEADER#2",
        ),
        snapshot_every=(10, 0, 10),
    ),
    # server 1's connection breaks right after its third broadcast PROPOSAL was queued for the log
    Bug.ZK_4712: Case((5, 5, 5), ("break 1-3 when 1 recv:PROPOSAL#3",)),
    # no fault: server 1 is 10 txns behind and DIFF-synced with them at boot (tests/sim/test_newleader_order.py)
    Bug.ZK_4685: Case((10, 20, 20), (), writes=0),
}
BUGS = sorted(CASES, key=lambda b: b.value)


def _run(case: Case, bugs: frozenset[Bug]) -> tuple[list[tr.Event], Verdict]:
    disks: dict[int, MemoryFileSystem] = {}
    for sid, (txns, every) in enumerate(zip(case.txns, case.snapshot_every, strict=True), start=1):
        disks[sid] = fs = MemoryFileSystem()
        write_data_dir(fs, "/data", txns_per_epoch=(txns,), snapshot_every=every, myid=sid)
    config = SimConfig(
        QuorumMaj(frozenset({1, 2, 3})),
        seed=case.seed,
        faults="none",
        writes=case.writes,
        disks=disks,
        bugs=bugs,
        plan=tuple(parse_fault(f) for f in case.plan),
    )
    header = trace_header(config, {})  # before the run: the disks are the run's
    events: list[tr.Event] = []
    Simulator(config, events.append).run()
    numbered = [
        e.__class__(**{**{f: getattr(e, f) for f in e.__struct_fields__}, "seq": i}) for i, e in enumerate(events, 1)
    ]
    return numbered, check_events(header, numbered)


def _broken(verdict: Verdict) -> set[Invariant]:
    return {v.invariant for v in verdict.violations}


@pytest.mark.parametrize("bug", BUGS, ids=[b.value for b in BUGS])
def test_the_switch_breaks_exactly_the_entrys_invariant(bug: Bug) -> None:
    _, verdict = _run(CASES[bug], frozenset({bug}))
    assert _broken(verdict) == {CATALOG[bug].invariant}, [v.message for v in verdict.violations]


@pytest.mark.parametrize("bug", BUGS, ids=[b.value for b in BUGS])
def test_the_fixed_protocol_checks_clean(bug: Bug) -> None:
    _, verdict = _run(CASES[bug], frozenset())
    assert verdict.ok, [v.message for v in verdict.violations]


def test_the_catalog_names_these_invariants() -> None:
    assert {b: CATALOG[b].invariant for b in CASES} == {
        Bug.ZK_4643: Invariant.COMMITTED_DURABLE,
        Bug.ZK_4646: Invariant.COMMITTED_DURABLE,
        Bug.ZK_3911: Invariant.COMMITTED_DURABLE,
        Bug.ZK_2355: Invariant.COMMITTED_DURABLE,
        Bug.ZK_3642: Invariant.COMMITTED_DURABLE,
        Bug.ZK_4712: Invariant.TXN_EPOCH,
        Bug.ZK_4685: Invariant.ZAB_ACK_ORDER,
    }


def test_zk4685_is_reported_exactly_when_a_proposal_ack_overtakes() -> None:
    """3.8.0's pair (async logging and early proposal ACKs) races the two ACKs: over a few seeds both orders
    occur, and ZAB_ACK_ORDER is reported for exactly the runs where server 1's first ACK after NEWLEADER
    is not the NEWLEADER ACK."""
    outcomes = set()
    for seed in range(8):
        events, verdict = _run(Case((10, 20, 20), (), writes=0, seed=seed), frozenset({Bug.ZK_4646, Bug.ZK_4685}))
        start = next(
            i
            for i, e in enumerate(events)
            if e.sid == 1 and isinstance(e, tr.Recv) and isinstance(e.msg, tr.NewLeaderPacket)
        )
        first = next(
            e for e in events[start:] if e.sid == 1 and isinstance(e, tr.Send) and isinstance(e.msg, tr.AckPacket)
        )
        overtaken = (first.msg.zxid & 0xFFFFFFFF) != 0
        outcomes.add(overtaken)
        assert (Invariant.ZAB_ACK_ORDER in _broken(verdict)) == overtaken, seed
    assert outcomes == {True, False}


@pytest.mark.parametrize("bugs", [frozenset(), frozenset({Bug.ZK_4394})], ids=["fixed", "ZK_4394"])
def test_a_re_sync_logs_the_diff_again_and_txn_epoch_allows_it(bugs: frozenset[Bug]) -> None:
    """3.8.0 re-logs after an interrupted DIFF: server 1 (5 txns behind) logs 0x100000006-a at NEWLEADER
    and loses the connection right after its NEWLEADER ACK, before UPTODATE applied them; its next ACKEPOCH
    says 0x100000005 again, leader 3 DIFFs the same five, and server 1 logs them a second time. TXN_EPOCH
    accepts that (they lie above its ACKEPOCH zxid). The fixed protocol applied them at NEWLEADER
    (ZOOKEEPER-4394): the next ACKEPOCH says 0x10000000a and nothing is logged twice."""
    events, verdict = _run(Case((5, 10, 10), ("break 1-3 when 1 send:ACK#1",), writes=10), bugs)
    behind = [make_zxid(1, c) for c in range(6, 11)]
    logged = [e.zxid for e in events if isinstance(e, tr.TxnLogged) and e.sid == 1]
    announced = [
        e.msg.zxid for e in events if e.sid == 1 and isinstance(e, tr.Send) and isinstance(e.msg, tr.AckEpochPacket)
    ]
    if bugs:
        assert logged[:10] == behind + behind
        assert announced[:2] == [make_zxid(1, 5)] * 2
    else:
        assert logged[:5] == behind and epoch_of(logged[5]) == 2
        assert announced[:2] == [make_zxid(1, 5), make_zxid(1, 10)]
    assert verdict.ok, [v.message for v in verdict.violations]
