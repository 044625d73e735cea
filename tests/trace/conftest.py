"""Sample trace content shared by the trace tests (and by bench_reader.py): one event of every kind, every
message type, both quorum kinds, a header with disks."""

from __future__ import annotations

import pytest

import zkfle.spec.trace as tr
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.spec.zxid import Epoch, ServerId, Zxid, make_zxid

S1, S2, S3, S4 = ServerId(1), ServerId(2), ServerId(3), ServerId(4)


def sample_header(hierarchical: bool = False) -> tr.TraceHeader:
    quorum: tr.Quorum = (
        tr.HierarchicalQuorum(groups={2: [S4], 1: [S1, S2, S3]}, weights={S2: 1, S1: 2})
        if hierarchical
        else tr.MajorityQuorum()
    )
    return tr.TraceHeader(
        zkfle_trace=1,
        servers=[*(tr.ServerEntry(s, "participant") for s in (S1, S2, S3)), tr.ServerEntry(S4, "observer")],
        quorum=quorum,
        source="sim",
        seed=42,
        meta={"cmd": "zkfle simulate --seed 42", "bounds": {"max_events": 100, "crashes": 2}},
        disks={
            S2: tr.DiskState(Zxid(make_zxid(2, 18)), Epoch(2), Epoch(2), None),
            S1: tr.DiskState(Zxid(-1), None, None, Epoch(1)),
            S3: tr.DiskState(Zxid(make_zxid(3, 1)), Epoch(2), Epoch(3), None, updating_epoch=True),
        },
    )


def _vote(leader: ServerId, zxid: int, epoch: int) -> tr.TraceVote:
    return tr.TraceVote(leader, Zxid(zxid), Epoch(epoch))


def sample_messages() -> list[tr.Message]:
    z = Zxid(make_zxid(1, 0))
    return [
        tr.Notification(state="LOOKING", leader=S3, zxid=Zxid(0), round=1, peer_epoch=Epoch(0)),
        tr.Notification(state="LEADING", leader=S3, zxid=Zxid(-1), round=7, peer_epoch=Epoch(-1), version=2),
        tr.Notification(
            state="FOLLOWING", leader=S1, zxid=z, round=2, peer_epoch=Epoch(1), version=2, config_version=0x100000000
        ),
        tr.FollowerInfoPacket(z),
        tr.ObserverInfoPacket(z),
        tr.LeaderInfoPacket(Zxid(make_zxid(2, 0))),
        tr.AckEpochPacket(Zxid(make_zxid(1, 5)), current_epoch=Epoch(-1)),
        tr.DiffPacket(Zxid(make_zxid(1, 5))),
        tr.TruncPacket(Zxid(make_zxid(1, 3))),
        tr.SnapPacket(Zxid(make_zxid(1, 5))),
        tr.NewLeaderPacket(Zxid(make_zxid(2, 0))),
        tr.AckPacket(Zxid(make_zxid(2, 0))),
        tr.UpToDatePacket(Zxid(make_zxid(2, 0))),
        tr.ProposalPacket(Zxid(make_zxid(2, 1))),
        tr.CommitPacket(Zxid(make_zxid(2, 1))),
        tr.InformPacket(Zxid(make_zxid(2, 1))),
    ]


def sample_events() -> list[tr.Event]:
    """Every event kind at least once (seq 0: the writer numbers them), with extreme 64-bit values."""
    top = Zxid((1 << 63) - 1)
    bottom = Zxid(-(1 << 63))
    events: list[tr.Event] = [
        tr.Boot(0, 0.0, S1),
        tr.Recovered(0, 0.25, S1, zxid=Zxid(-1), current_epoch=Epoch(-1), accepted_epoch=Epoch(0)),
        tr.RecoveryFailed(
            0,
            1,
            S2,
            zxid=Zxid(8589934593),
            current_epoch=Epoch(0),
            accepted_epoch=None,
            error="The current epoch, 0, is older than the last zxid, 8589934593",
        ),
        tr.EpochWrite(0, 2, S1, file="acceptedEpoch", value=Epoch(1), stage="tmp"),
        tr.EpochWrite(0, 2, S1, file="currentEpoch", value=Epoch(1), stage="done"),
        tr.TxnLogged(0, 3, S1, zxid=top),
        tr.Truncated(0, 3, S1, zxid=bottom),
        tr.Snapshot(0, 3.5, S1, zxid=Zxid(make_zxid(1, 2))),
        tr.UpdatingEpoch(0, 3.5, S1, present=True),
        tr.Crash(0, 4, S2),
        tr.ElectionStart(0, 5, S1, round=1, vote=_vote(S1, 0, 0)),
        tr.Proposal(0, 6, S1, round=2, vote=_vote(S3, make_zxid(1, 2), 1)),
        tr.Decide(0, 7, S1, state="FOLLOWING", round=2, vote=_vote(S3, make_zxid(1, 2), 1)),
        tr.StateChange(0, 7, S1, state="FOLLOWING", phase="discovery"),
        tr.StateChange(0, 7, S3, state="LOOKING", phase="election"),
        tr.EpochProposed(0, 8, S3, epoch=Epoch(2), quorum=[S3, S1]),
        tr.Established(0, 9, S3, epoch=Epoch(2), quorum=[S1, S3]),
        tr.Synced(0, 9, S1, leader=S3, epoch=Epoch(2), mode="DIFF"),
        tr.Synced(0, 9, S2, leader=S3, epoch=Epoch(2), mode="SNAP"),
        tr.Synced(0, 9, S4, leader=S3, epoch=Epoch(2), mode="TRUNC"),
        tr.Committed(0, 10, S1, zxid=Zxid(make_zxid(2, 1))),
        tr.Partition(0, 11, None, groups=[[S1, S2], [S3]]),
        tr.Heal(0, 12, None),
        tr.Wipe(0, 12, None, server=ServerId(2)),
        tr.Drop(0, 13, None, mid="3-2"),
    ]
    for i, message in enumerate(sample_messages()):
        mid = f"3-{i + 1}"
        events.append(tr.Send(0, 20 + i, S3, to=S1, mid=mid, msg=message))
        events.append(tr.Recv(0, 20.5 + i, S1, from_=S3, mid=mid, msg=message))
    return events


@pytest.fixture
def header() -> tr.TraceHeader:
    return sample_header()


@pytest.fixture
def events() -> list[tr.Event]:
    return sample_events()


@pytest.fixture(scope="session")
def trace_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """The sample trace as the writer writes it, split into lines (header first, then seq 1, 2, ...)."""
    path = tmp_path_factory.mktemp("trace") / "sample.ndjson"
    with TraceWriter(path, sample_header()) as writer:
        for event in sample_events():
            writer.write(event)
    return path.read_bytes().splitlines(keepends=True)
