"""Observers in the simulator (`Observer.observeLeader`): they look for the leader with FLE but never vote,
register with OBSERVERINFO, sync like a follower, then learn every commit by INFORM; the leader counts them in
no quorum. Every trace is judged by the checker, which must not raise false alarms on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from zkfle.checker.cli import main
from zkfle.checker.commands.check import check_path
from zkfle.checker.reader import open_trace
from zkfle.checker.testing.runs import simulate_to_file
from zkfle.checker.verdict.model import Verdict
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.datadir import inspect_data_dir
from zkfle.impl.drivers.localfs import LocalFileSystem
from zkfle.impl.drivers.simulator import SimConfig, trace_header, write_data_dir
from zkfle.impl.persistence.fs import MemoryFileSystem
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant
from zkfle.spec.zxid import INT64_MIN, counter_of

PARTICIPANTS = (1, 2, 3)
OBSERVERS = (4, 5)


def _verifier(participants: tuple[int, ...] = PARTICIPANTS, observers: tuple[int, ...] = OBSERVERS) -> QuorumMaj:
    return QuorumMaj(frozenset(participants), frozenset(observers))


def _verdict(path: Path) -> Verdict:
    result = check_path(str(path))
    assert not result.errors, result.errors
    assert result.verdict is not None
    return result.verdict


def _sent_packets(events: list[tr.Event]) -> list[tuple[int, int, str, int]]:
    """(sender, receiver, packet type, zxid) of every Zab packet sent."""
    return [
        (e.sid, e.to, str(e.msg.__struct_config__.tag), e.msg.zxid)
        for e in events
        if isinstance(e, tr.Send) and not isinstance(e.msg, tr.Notification)
    ]


def test_fault_free_cold_start_with_two_observers(tmp_path: Path) -> None:
    config = SimConfig(_verifier(), seed=4, faults="none", writes=8, duration_ms=12_000)
    summary, events, sim = simulate_to_file(config, tmp_path / "t.ndjson")
    header = trace_header(config, {})
    assert [(s.sid, s.role) for s in header.servers] == [(1, "participant"), (2, "participant"), (3, "participant"),
                                                         (4, "observer"), (5, "observer")]  # fmt: skip
    first_decide: dict[int, tr.Decide] = {}
    for e in events:
        if isinstance(e, tr.Decide):
            first_decide.setdefault(e.sid, e)
    assert sorted(first_decide) == [1, 2, 3, 4, 5]
    assert all(d.round == 1 and d.vote.leader == 3 for d in first_decide.values())
    assert [first_decide[s].state for s in (1, 2, 3, 4, 5)] == ["FOLLOWING", "FOLLOWING", "LEADING", "OBSERVING",
                                                                "OBSERVING"]  # fmt: skip
    # an observer's own vote can never win: Long.MIN_VALUE for id, zxid and epoch (getInitId & co.)
    starts = [e for e in events if isinstance(e, tr.ElectionStart) and e.sid in OBSERVERS]
    assert starts and all((e.vote.leader, e.vote.zxid, e.vote.peer_epoch) == (INT64_MIN,) * 3 for e in starts)
    # only participants are in the leader's quorums
    (proposed,) = [e for e in events if isinstance(e, tr.EpochProposed)]
    (established,) = [e for e in events if isinstance(e, tr.Established)]
    assert (proposed.sid, proposed.epoch) == (established.sid, established.epoch) == (3, 1)
    assert set(proposed.quorum) <= set(PARTICIPANTS) and set(established.quorum) <= set(PARTICIPANTS)
    states = {(e.sid, e.state, e.phase) for e in events if isinstance(e, tr.StateChange)}
    for sid in OBSERVERS:
        assert {(sid, "OBSERVING", p) for p in ("discovery", "synchronization", "broadcast")} <= states
    synced = {e.sid: (e.leader, e.epoch) for e in events if isinstance(e, tr.Synced)}
    assert synced == {1: (3, 1), 2: (3, 1), 4: (3, 1), 5: (3, 1)}
    sent = _sent_packets(events)
    assert {(s, kind) for s, _, kind, _ in sent if kind in ("FOLLOWERINFO", "OBSERVERINFO")} == {
        (1, "FOLLOWERINFO"), (2, "FOLLOWERINFO"), (4, "OBSERVERINFO"), (5, "OBSERVERINFO")}  # fmt: skip
    # broadcast: PROPOSAL / COMMIT to followers only, INFORM to observers only; observers ack no proposal
    to_observers = {kind for _, to, kind, _ in sent if to in OBSERVERS}
    assert "INFORM" in to_observers and not to_observers & {"PROPOSAL", "COMMIT"}
    assert not {kind for _, to, kind, _ in sent if to in PARTICIPANTS} & {"INFORM"}
    assert all(counter_of(z) == 0 for s, _, kind, z in sent if s in OBSERVERS and kind == "ACK")
    committed: dict[int, list[int]] = defaultdict(list)
    logged: dict[int, set[int]] = defaultdict(set)
    for e in events:
        if isinstance(e, tr.Committed):
            committed[e.sid].append(e.zxid)
        elif isinstance(e, tr.TxnLogged):
            logged[e.sid].add(e.zxid)
    assert summary.writes_done == 8 and len(committed[3]) == 8
    for sid in (1, 2, *OBSERVERS):
        assert committed[sid] == committed[3], sid  # every commit, applied in zxid order
    for sid in OBSERVERS:
        assert set(committed[3]) <= logged[sid], sid  # ObserverZooKeeperServer's sync processor logs them
    assert summary.epochs == [(1, 3)] and summary.crashes == 0
    assert all(sim.servers[s].peer is not None for s in OBSERVERS)
    assert _verdict(tmp_path / "t.ndjson").ok


def test_observers_are_in_no_quorum(tmp_path: Path) -> None:
    """Participant 2 refuses to start (currentEpoch after acceptedEpoch): participant 1 and three observers
    are four of five servers up, but one voter of two, so no epoch is ever proposed or established."""
    broken = MemoryFileSystem()
    broken.mkdirs("/data/version-2")
    for path, text in (("/data/myid", "2\n"), ("/data/version-2/currentEpoch", "2"),
                       ("/data/version-2/acceptedEpoch", "1")):  # fmt: skip
        broken.write_bytes(path, text.encode())
        broken.fsync(path)
    config = SimConfig(
        _verifier((1, 2), (3, 4, 5)), seed=1, faults="none", writes=4, duration_ms=8_000, disks={2: broken}
    )
    summary, events, _ = simulate_to_file(config, tmp_path / "t.ndjson")
    assert list(summary.halted) == [2]
    assert not [e for e in events if isinstance(e, tr.EpochProposed | tr.Established)]
    assert summary.writes_skipped == 4 and "no quorum reachable" in summary.progress
    assert _verdict(tmp_path / "t.ndjson").ok


def test_one_participant_leads_its_observers(tmp_path: Path) -> None:
    config = SimConfig(_verifier((1,), (2, 3)), seed=2, faults="none", writes=5, duration_ms=8_000)
    summary, events, _ = simulate_to_file(config, tmp_path / "t.ndjson")
    assert summary.epochs == [(1, 1)]
    assert {e.sid: e.leader for e in events if isinstance(e, tr.Synced)} == {2: 1, 3: 1}
    assert sum(1 for e in events if isinstance(e, tr.Committed)) == 15
    assert _verdict(tmp_path / "t.ndjson").ok


def _known_snapshot_epoch_gap(events: list[tr.Event], invariant: Invariant, seq: int) -> bool:
    """EPOCH_COVERS_LOG at a learner's NEWLEADER snapshot of a newer epoch, with the crash before currentEpoch
    is written: real ZooKeeper behaviour (ZOOKEEPER-1653/2354, docs/simulator.md), with or without observers."""
    at = events[seq - 1]
    after = events[seq] if seq < len(events) else None
    return (
        invariant is Invariant.EPOCH_COVERS_LOG
        and isinstance(at, tr.Snapshot)
        and isinstance(after, tr.Crash)
        and after.sid == at.sid
    )


@pytest.mark.parametrize("faults", ["default", "heavy"])
def test_no_false_alarm_under_faults(faults: str, tmp_path: Path) -> None:
    informs = observing_broadcast = 0
    for seed in range(20):
        config = SimConfig(_verifier(), seed=seed, faults=faults, writes=30, duration_ms=12_000, tick_time_ms=200)
        path = tmp_path / f"{seed}.ndjson"
        _, events, _ = simulate_to_file(config, path)
        verdict = _verdict(path)
        unexplained = [
            (v.invariant.value, v.seq, v.message)
            for v in verdict.violations
            if not _known_snapshot_epoch_gap(events, v.invariant, v.seq)
        ]
        assert unexplained == [], (seed, unexplained)
        informs += sum(1 for e in events if isinstance(e, tr.Recv) and isinstance(e.msg, tr.InformPacket))
        observing_broadcast += sum(
            1 for e in events if isinstance(e, tr.StateChange) and e.state == "OBSERVING" and e.phase == "broadcast"
        )
    assert informs > 100 and observing_broadcast > 20  # the observers did observe, through the faults


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    config = SimConfig(_verifier(), seed=7, faults="heavy", writes=20, duration_ms=6_000, tick_time_ms=200)
    simulate_to_file(config, tmp_path / "a.ndjson")
    simulate_to_file(config, tmp_path / "b.ndjson")
    assert (tmp_path / "a.ndjson").read_bytes() == (tmp_path / "b.ndjson").read_bytes()


def test_cli_observers_flag_same_bytes_under_two_hash_seeds(tmp_path: Path) -> None:
    flags = ["--servers", "3", "--observers", "2", "--seed", "3", "--faults", "default", "--writes", "10"]
    flags += ["--duration-ms", "5000", "--tick-time", "200", "--out", "t.ndjson", "--quiet"]
    outputs = []
    for hash_seed in ("1", "2"):
        cwd = tmp_path / hash_seed
        cwd.mkdir()
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run(
            [sys.executable, "-m", "zkfle.checker.cli", "simulate", *flags],
            env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append((cwd / "t.ndjson").read_bytes())
    assert outputs[0] == outputs[1]
    with open_trace(tmp_path / "1" / "t.ndjson") as reader:
        roles = [(s.sid, s.role) for s in reader.header.servers]
        assert "--observers 2" in str(reader.header.meta["cmd"])
    assert roles[3:] == [(4, "observer"), (5, "observer")]


def test_config_with_observer_lines(tmp_path: Path) -> None:
    cfg = tmp_path / "zoo.cfg"
    lines = ["tickTime=200", "initLimit=10", "syncLimit=5", "dataDir=/var/lib/zookeeper", "clientPort=2181"]
    lines += [f"server.{s}=127.0.0.1:{2887 + s}:{3887 + s}" for s in PARTICIPANTS]
    lines += [f"server.{s}=127.0.0.1:{2887 + s}:{3887 + s}:observer" for s in OBSERVERS]
    cfg.write_text("\n".join(lines) + "\n")
    out = tmp_path / "t.ndjson"
    argv = ["simulate", "--config", str(cfg), "--seed", "5", "--faults", "none", "--writes", "4"]
    assert main([*argv, "--duration-ms", "6000", "--out", str(out), "--quiet"]) == 0
    with open_trace(out) as reader:
        roles = {s.sid: s.role for s in reader.header.servers}
        events = list(reader)
    assert roles == {1: "participant", 2: "participant", 3: "participant", 4: "observer", 5: "observer"}
    assert {e.sid for e in events if isinstance(e, tr.Synced)} == {1, 2, 4, 5}
    assert _verdict(out).ok


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "t.ndjson")
    assert main(["simulate", "--servers", "3", "--observers", "-1", "--out", out]) == 2
    assert "--observers must not be negative" in capsys.readouterr().err
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n")
    assert main(["simulate", "--config", str(cfg), "--observers", "1", "--out", out]) == 2
    assert "--observers goes with --servers" in capsys.readouterr().err


def test_observer_data_dir_is_read_by_zkfle_datadir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = SimConfig(_verifier(), seed=6, faults="none", writes=6, duration_ms=8_000)
    _, events, sim = simulate_to_file(config, tmp_path / "t.ndjson")
    for sid in OBSERVERS:
        out = tmp_path / f"zk{sid}"
        write_data_dir(sim.servers[sid].disk, str(out))
        report = inspect_data_dir(LocalFileSystem(), str(out))
        assert report.would_start, report.message
        assert report.outcome is not None
        assert (report.outcome.current_epoch, report.outcome.accepted_epoch) == (1, 1)
        logged = max(e.zxid for e in events if isinstance(e, tr.TxnLogged) and e.sid == sid)
        assert report.outcome.zxid == logged
        capsys.readouterr()
        assert main(["datadir", str(out), "--format", "json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert (shown["verdict"], shown["last_processed_zxid"], shown["current_epoch"]) == ("start", logged, 1)
