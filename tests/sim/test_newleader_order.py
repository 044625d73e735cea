"""The learner's order of disk writes and ACKs at NEWLEADER: the fixed protocol and each 3.8.0 switch.

Server 1 holds 10 txns of epoch 1, servers 2 and 3 hold 20: server 3 leads epoch 2 and brings server 1
up to date by DIFF with 10 proposals, which server 1 must log before (or, with the switches, after) it
writes currentEpoch = 2 and acknowledges NEWLEADER.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfle.checker.reader import open_trace
from zkfle.checker.testing.datadirs import write_data_dir
from zkfle.impl.bugs import Bug
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.drivers.simulator import SimConfig, Simulator, trace_header
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.impl.persistence.fs import MemoryFileSystem
from zkfle.spec import trace as tr
from zkfle.spec.zxid import make_zxid


def _disk(txns: int, myid: int) -> MemoryFileSystem:
    fs = MemoryFileSystem()
    write_data_dir(fs, "/data", txns_per_epoch=(txns,), myid=myid)
    return fs


def _learner_events(tmp_path: Path, bugs: frozenset[Bug], seed: int = 1) -> list[tr.Event]:
    disks = {1: _disk(10, 1), 2: _disk(20, 2), 3: _disk(20, 3)}
    config = SimConfig(QuorumMaj(frozenset({1, 2, 3})), seed=seed, faults="none", duration_ms=3000, disks=disks,
                       bugs=bugs)  # fmt: skip
    path = tmp_path / f"t{seed}.ndjson"
    with TraceWriter(path, trace_header(config, {})) as writer:
        Simulator(config, writer.write).run()
    with open_trace(path) as reader:
        return list(reader)


def _order(events: list[tr.Event]) -> list[str]:
    """From the NEWLEADER server 1 received: the logging of the ten sync txns, the currentEpoch write, the
    NEWLEADER ACK and the ACKs of the proposals, in short names, runs collapsed."""
    events = [e for e in events if e.sid == 1]
    start = next(i for i, e in enumerate(events) if isinstance(e, tr.Recv) and isinstance(e.msg, tr.NewLeaderPacket))
    sync_zxids = {make_zxid(1, c) for c in range(11, 21)}
    names: list[str] = []
    for e in events[start + 1 :]:
        if isinstance(e, tr.TxnLogged) and e.zxid in sync_zxids:
            names.append("logged")
        elif isinstance(e, tr.EpochWrite) and e.file == "currentEpoch" and e.stage == "done":
            names.append("currentEpoch")
        elif isinstance(e, tr.Send) and isinstance(e.msg, tr.AckPacket):
            if e.msg.zxid == make_zxid(2, 0):
                names.append("ack-newleader")
            elif e.msg.zxid in sync_zxids:
                names.append("ack-proposal")
        elif isinstance(e, tr.Crash):
            break
    collapsed = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
    # the ACK after UPTODATE repeats the NEWLEADER zxid: keep the first one only
    return [n for i, n in enumerate(collapsed) if n != "ack-newleader" or "ack-newleader" not in collapsed[:i]]


def test_setup_is_a_diff_of_ten_proposals(tmp_path: Path) -> None:
    events = [e for e in _learner_events(tmp_path, frozenset()) if e.sid == 1]
    synced = [e for e in events if isinstance(e, tr.Synced)]
    assert [(s.leader, s.epoch, s.mode) for s in synced] == [(3, 2, "DIFF")]
    proposals = [e for e in events if isinstance(e, tr.Recv) and isinstance(e.msg, tr.ProposalPacket)]
    assert [p.msg.zxid for p in proposals] == [make_zxid(1, c) for c in range(11, 21)]


@pytest.mark.parametrize(
    ("bugs", "order"),
    [
        (frozenset(), ["logged", "currentEpoch", "ack-newleader"]),
        (frozenset({Bug.ZK_4643}), ["currentEpoch", "logged", "ack-newleader"]),
        # 3.8.0: the sync processor logs the DIFF txns later and acknowledges each of them then
        (frozenset({Bug.ZK_4646}), ["currentEpoch", "ack-newleader", "logged", "ack-proposal"]),
        (frozenset({Bug.ZK_4643, Bug.ZK_4646}), ["currentEpoch", "ack-newleader", "logged", "ack-proposal"]),
    ],
)
def test_newleader_order(bugs: frozenset[Bug], order: list[str], tmp_path: Path) -> None:
    assert _order(_learner_events(tmp_path, bugs)) == order


def test_zk4685_a_proposal_ack_can_overtake_the_newleader_ack(tmp_path: Path) -> None:
    """With 3.8.0's switches the two ACKs race; over a few seeds both orders occur, and when the proposal
    ACK wins, the leader takes it for server 1's NEWLEADER ACK and does not count server 1."""
    firsts = set()
    for seed in range(12):
        events = _learner_events(tmp_path, frozenset({Bug.ZK_4646, Bug.ZK_4685}), seed)
        acks = [n for n in _order(events) if n.startswith("ack")]
        first = acks[0] if acks else "none"
        firsts.add(first)
        established = [e for e in events if isinstance(e, tr.Established)]
        assert established, seed  # servers 2 and 3 are a quorum without server 1
        if first == "ack-proposal":
            assert 1 not in established[0].quorum, seed
    assert {"ack-newleader", "ack-proposal"} <= firsts
