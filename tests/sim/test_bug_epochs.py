"""The epoch and recovery entries of the bug catalog: ZK_1653, ZK_4269, ZK_2307, ZK_1282, ZK_1191.

Each reproducer is a small run with a fault plan for which `--inject BUG` gives exactly the entry's invariant
and the same run without the switch checks clean. Three servers, no random faults, seed 1: server 3 leads
epoch 1, server 1 syncs by DIFF and server 2, whose ACKEPOCH arrives after the leader is established, by SNAP
of the leader's database at zxid (1, 0), an epoch newer than its currentEpoch 0 (ZOOKEEPER-1653's window).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfle.checker.reader import open_trace
from zkfle.checker.verdict import check_file
from zkfle.impl.bugs import Bug
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.drivers.faultplan import parse_fault
from zkfle.impl.drivers.simulator import SimConfig, Simulator, trace_header
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant
from zkfle.spec.zxid import make_zxid

SNAP_CRASH_AFTER_SNAPSHOT = "disk-crash 2 after 5 when 2 recv:NEWLEADER"
"""Server 2 dies at NEWLEADER right after its SNAP snapshot became durable (in the snapshot's rename, before
currentEpoch is written): with the marker (created and fsynced first: 2 operations) that is the 5th disk
operation, without it (ZK_1653) the 3rd (the snapshot: tmp write, fsync, rename)."""


def _run(tmp_path: Path, bugs: set[Bug], *faults: str) -> Path:
    config = SimConfig(
        QuorumMaj(frozenset({1, 2, 3})),
        seed=1,
        faults="none",
        writes=5,
        duration_ms=20_000,
        bugs=frozenset(bugs),
        plan=tuple(parse_fault(f) for f in faults),
    )
    path = tmp_path / "trace.ndjson"
    with TraceWriter(path, trace_header(config, {})) as writer:
        Simulator(config, writer.write).run()
    return path


def _found(path: Path) -> set[Invariant]:
    return {v.invariant for v in check_file(path).violations}


def _events(path: Path, sid: int) -> list[tr.Event]:
    with open_trace(path) as reader:
        return [e for e in reader if e.sid == sid]


def test_zk_1653_marker_lets_the_learner_restart(tmp_path: Path) -> None:
    path = _run(tmp_path, set(), SNAP_CRASH_AFTER_SNAPSHOT)
    assert _found(path) == set()
    events = _events(path, 2)
    kinds = [type(e) for e in events]
    crash = kinds.index(tr.Crash)
    assert kinds[crash - 2 : crash] == [tr.UpdatingEpoch, tr.Snapshot]
    recovered = next(e for e in events[crash:] if isinstance(e, tr.Recovered))
    # loadDataBase adopted the snapshot's epoch (branch 3.4's rule) instead of refusing
    assert (recovered.zxid, recovered.current_epoch) == (make_zxid(1, 0), 1)


def test_zk_1653_without_the_marker_the_learner_never_starts_again(tmp_path: Path) -> None:
    path = _run(tmp_path, {Bug.ZK_1653}, "disk-crash 2 after 3 when 2 recv:NEWLEADER")
    assert _found(path) == {Invariant.EPOCH_COVERS_LOG}
    events = _events(path, 2)
    assert not any(isinstance(e, tr.UpdatingEpoch) for e in events)
    failed = next(e for e in events if isinstance(e, tr.RecoveryFailed))
    assert failed.error == f"The current epoch, 0, is older than the last zxid, {make_zxid(1, 0)}"


def test_zk_1653_marker_is_deleted_after_the_epoch_write(tmp_path: Path) -> None:
    events = _events(_run(tmp_path, set()), 2)
    names: list[str] = []
    for e in events:
        if isinstance(e, tr.UpdatingEpoch):
            names.append(f"marker={e.present}")
        elif isinstance(e, tr.EpochWrite) and e.stage == "done":
            names.append(e.file)
    assert names == ["acceptedEpoch", "marker=True", "currentEpoch", "marker=False"]


def test_zk_4269_without_the_tmp_fallback_start_up_refuses(tmp_path: Path) -> None:
    # without the marker (ZK_1653) the crash between currentEpoch.tmp's fsync and its rename is left to the
    # .tmp fallback, which 3.8 has and ZK_4269 takes away
    crash_at_rename = "disk-crash 2 after 6 when 2 recv:NEWLEADER"
    assert _found(_run(tmp_path, {Bug.ZK_1653}, crash_at_rename)) == set()
    path = _run(tmp_path, {Bug.ZK_1653, Bug.ZK_4269}, crash_at_rename)
    assert _found(path) == {Invariant.RECOVERY_FAITHFUL}
    assert any(isinstance(e, tr.RecoveryFailed) for e in _events(path, 2))


def test_zk_2307_failed_accepted_epoch_write(tmp_path: Path) -> None:
    faults = ("disk-fail 1 after 1 when 1 recv:LEADERINFO", "crash 1 when 1 epoch_write:currentEpoch:done")
    fixed = _run(tmp_path, set(), *faults)
    assert _found(fixed) == set()
    events = _events(fixed, 1)
    # the failed write ends following (back to LOOKING); the learner joins again and writes acceptedEpoch then
    first_info = next(
        i for i, e in enumerate(events) if isinstance(e, tr.Recv) and isinstance(e.msg, tr.LeaderInfoPacket)
    )
    after = events[first_info + 1 :]
    assert any(isinstance(e, tr.StateChange) and e.state == "LOOKING" for e in after)
    assert any(isinstance(e, tr.EpochWrite) and e.file == "acceptedEpoch" and e.stage == "done" for e in after)
    assert _found(_run(tmp_path, {Bug.ZK_2307}, *faults)) == {Invariant.EPOCH_ORDER}


def test_zk_1282_leader_without_accepted_epoch(tmp_path: Path) -> None:
    crash_leader = "crash 3 when 3 established"
    assert _found(_run(tmp_path, set(), crash_leader)) == set()
    path = _run(tmp_path, {Bug.ZK_1282}, crash_leader)
    assert _found(path) == {Invariant.EPOCH_ORDER}
    # the learners write currentEpoch only at UPTODATE, after they acknowledged NEWLEADER
    events = _events(path, 1)
    ack = next(i for i, e in enumerate(events) if isinstance(e, tr.Send) and isinstance(e.msg, tr.AckPacket))
    write = next(i for i, e in enumerate(events) if isinstance(e, tr.EpochWrite) and e.file == "currentEpoch")
    uptodate = next(i for i, e in enumerate(events) if isinstance(e, tr.Recv) and isinstance(e.msg, tr.UpToDatePacket))
    assert ack < uptodate < write


@pytest.mark.parametrize("bugs", [set(), {Bug.ZK_1191}])
def test_zk_1191_leader_goes_on_without_a_quorum_of_epoch_acks(tmp_path: Path, bugs: set[Bug]) -> None:
    path = _run(tmp_path, bugs)
    assert _found(path) == ({Invariant.NEW_EPOCH_IS_FRESH} if bugs else set())
