"""The simulator end to end: fault-free cold starts, starts from real ZooKeeper data dirs, crash points,
heavy-fault sweeps, written-out data dirs. Every trace is read back with the checker's reader."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from zkfle.checker.reader import open_trace
from zkfle.checker.testing.runs import simulate_to_file
from zkfle.impl.bugs import Bug
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.datadir import inspect_data_dir
from zkfle.impl.drivers.localfs import LocalFileSystem
from zkfle.impl.drivers.simulator import (
    SimConfig,
    Simulator,
    read_data_dir,
    trace_header,
    write_data_dir,
)
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.spec import trace as tr
from zkfle.spec.zxid import epoch_of


def _majority(n: int) -> QuorumMaj:
    return QuorumMaj(frozenset(range(1, n + 1)))


@pytest.mark.parametrize("n", [3, 5, 7])
def test_fault_free_cold_start(n: int, tmp_path: Path) -> None:
    config = SimConfig(_majority(n), seed=n, faults="none", writes=6, duration_ms=12_000)
    summary, events, _ = simulate_to_file(config, tmp_path / "t.ndjson")
    first_decide: dict[int, tr.Decide] = {}
    for e in events:
        if isinstance(e, tr.Decide):
            first_decide.setdefault(e.sid, e)
    assert sorted(first_decide) == list(range(1, n + 1))
    assert all(d.round == 1 and d.vote.leader == n for d in first_decide.values())
    assert [d.state for s, d in sorted(first_decide.items())] == ["FOLLOWING"] * (n - 1) + ["LEADING"]
    established = [e for e in events if isinstance(e, tr.Established)]
    assert [(e.sid, e.epoch) for e in established] == [(n, 1)]
    proposed = [e for e in events if isinstance(e, tr.EpochProposed)]
    assert [(e.sid, e.epoch) for e in proposed] == [(n, 1)]
    committed: dict[int, set[int]] = defaultdict(set)
    for e in events:
        if isinstance(e, tr.Committed):
            committed[e.sid].add(e.zxid)
    assert summary.writes_done == 6
    leader_zxids = committed[n]
    assert len(leader_zxids) == 6 and all(epoch_of(z) == 1 for z in leader_zxids)
    assert all(committed[sid] == leader_zxids for sid in range(1, n + 1))
    assert summary.crashes == 0 and summary.epochs == [(1, n)]


def _corpus_disks(corpus: Path, dirs: dict[int, str]) -> dict[int, object]:
    return {sid: read_data_dir(str(corpus / rel)) for sid, rel in dirs.items()}


BASE = "epoch_file_faults/base_ensemble/data"
CASES = {
    # every server holds currentEpoch = acceptedEpoch = 2 and the same last zxid: the highest sid wins
    "base_ensemble": ({1: f"{BASE}/zk1", 2: f"{BASE}/zk2", 3: f"{BASE}/zk3"}, 3, 3),
    "writes_then_restart_3": (
        {s: f"writes_then_restart_3/data/zk{s}" for s in (1, 2, 3)},
        3,
        3,
    ),
    # server 1 holds both epochs = 5 (e9): its peerEpoch wins although its sid is the lowest; 1 + 5 = 6
    "e9_with_base": ({1: "epoch_file_faults/e9_epochs_higher/before/zk1", 2: f"{BASE}/zk2", 3: f"{BASE}/zk3"}, 1, 6),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_start_from_real_zookeeper_data_dirs(case: str, corpus: Path, tmp_path: Path) -> None:
    dirs, leader, epoch = CASES[case]
    before = {sid: sorted(os.listdir(corpus / rel / "version-2")) for sid, rel in dirs.items()}
    disks = {sid: read_data_dir(str(corpus / rel)) for sid, rel in dirs.items()}
    config = SimConfig(_majority(3), seed=11, faults="none", writes=3, duration_ms=8_000, disks=disks)
    _, events, _ = simulate_to_file(config, tmp_path / "t.ndjson")
    recovered = {e.sid: e for e in events if isinstance(e, tr.Recovered)}
    proposed = [e for e in events if isinstance(e, tr.EpochProposed)]
    assert [(e.sid, e.epoch) for e in proposed] == [(leader, epoch)]
    # NEW_EPOCH_IS_FRESH by construction: 1 + the highest acceptedEpoch among the FOLLOWERINFO quorum
    assert epoch == 1 + max(recovered[s].accepted_epoch for s in proposed[0].quorum)
    assert [(e.sid, e.epoch) for e in events if isinstance(e, tr.Established)] == [(leader, epoch)]
    best = max(recovered.values(), key=lambda r: (r.current_epoch, r.zxid, r.sid))
    assert best.sid == leader
    # the originals were only read
    assert {sid: sorted(os.listdir(corpus / rel / "version-2")) for sid, rel in dirs.items()} == before


def _durable_epochs(events: list[tr.Event]) -> dict[int, dict[str, int]]:
    """The epoch files each server holds according to the trace: its `recovered` values, then each `done`."""
    held: dict[int, dict[str, int]] = defaultdict(dict)
    for e in events:
        if isinstance(e, tr.Recovered):
            held[e.sid] = {"currentEpoch": e.current_epoch, "acceptedEpoch": e.accepted_epoch}
        elif isinstance(e, tr.EpochWrite) and e.stage == "done":
            held[e.sid][e.file] = e.value
    return held


def test_written_data_dirs_are_read_by_zkfle_datadir(tmp_path: Path) -> None:
    config = SimConfig(_majority(3), seed=5, faults="none", writes=8, duration_ms=10_000)
    _, events, sim = simulate_to_file(config, tmp_path / "t.ndjson")
    held = _durable_epochs(events)
    for sid, server in sorted(sim.servers.items()):
        out = tmp_path / f"zk{sid}"
        write_data_dir(server.disk, str(out))
        report = inspect_data_dir(LocalFileSystem(), str(out))
        assert report.would_start, report.message
        assert report.outcome is not None
        assert report.outcome.current_epoch == held[sid]["currentEpoch"] == 1
        assert report.outcome.accepted_epoch == held[sid]["acceptedEpoch"] == 1
        logged = max(e.zxid for e in events if isinstance(e, tr.TxnLogged) and e.sid == sid)
        assert report.outcome.zxid == logged


@pytest.mark.parametrize("seed", [2, 5, 8])
def test_written_data_dirs_after_faults_hold_what_the_trace_says(seed: int, tmp_path: Path) -> None:
    config = SimConfig(_majority(5), seed=seed, faults="default", writes=40, duration_ms=20_000, tick_time_ms=200)
    summary, events, sim = simulate_to_file(config, tmp_path / "t.ndjson")
    held = _durable_epochs(events)
    assert summary.crashes > 0
    for sid, server in sorted(sim.servers.items()):
        out = tmp_path / f"zk{sid}"
        write_data_dir(server.disk, str(out))
        report = inspect_data_dir(LocalFileSystem(), str(out))
        if sid in summary.halted:
            assert not report.would_start and report.message == summary.halted[sid]
            continue
        if server.peer is None:
            continue  # crashed and not restarted yet: its next start is still to be seen
        assert report.would_start, (sid, report.message)
        assert report.outcome is not None
        assert (report.outcome.current_epoch, report.outcome.accepted_epoch) == (
            held[sid]["currentEpoch"],
            held[sid]["acceptedEpoch"],
        ), sid


def test_crash_between_the_steps_of_an_epoch_write_leaves_the_tmp_file(tmp_path: Path) -> None:
    """Arm a crash at the rename of server 1's acceptedEpoch write (ops: write tmp, fsync tmp, rename)."""
    config = SimConfig(_majority(3), seed=3, faults="none", writes=0, duration_ms=3_000)
    with TraceWriter(tmp_path / "t.ndjson", trace_header(config, {})) as writer:
        sim = Simulator(config, writer.write)
        original = sim._start

        def start_and_arm(sid: int) -> None:
            original(sid)
            if sid == 1 and sim.servers[1].incarnation == 1:
                sim.servers[1].fs.arm(3)

        sim._start = start_and_arm  # type: ignore[method-assign]
        sim.run()
    with open_trace(tmp_path / "t.ndjson") as reader:
        events = [e for e in reader if e.sid == 1]
    writes = [e for e in events if isinstance(e, tr.EpochWrite)]
    crash_at = next(i for i, e in enumerate(events) if isinstance(e, tr.Crash))
    # the tmp stage was reached, the rename was not: acceptedEpoch.tmp = 1 next to acceptedEpoch = 0
    assert [(w.file, w.value, w.stage) for w in writes if events.index(w) < crash_at] == [("acceptedEpoch", 1, "tmp")]
    recovered = [e for e in events if isinstance(e, tr.Recovered)]
    assert len(recovered) == 2 and recovered[1].accepted_epoch == 0  # no .tmp fallback for acceptedEpoch


def test_heavy_faults_never_raise_and_always_say_why(tmp_path: Path) -> None:
    seeds = 5000 if os.environ.get("ZKFLE_LONG") == "1" else 200
    for seed in range(seeds):
        config = SimConfig(
            _majority(3 + 2 * (seed % 2)),
            seed=seed,
            faults="heavy",
            writes=10,
            duration_ms=4_000,
            tick_time_ms=200,
            bugs=frozenset(Bug) if seed % 3 == 0 else frozenset(),
        )
        path = tmp_path / f"{seed}.ndjson"
        with TraceWriter(path, trace_header(config, {})) as writer:
            summary = Simulator(config, writer.write).run()
        assert summary.progress, seed
        assert summary.epochs or "no quorum" in summary.progress or "no leader" in summary.progress, seed
        if seed % 20 == 0:
            with open_trace(path) as reader:
                assert sum(1 for _ in reader) == summary.events
        path.unlink()
