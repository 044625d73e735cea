"""Real ZooKeeper 3.8 reads what zkfle writes, and does what `zkfle datadir` predicts.

zkfle writes a data dir (snapshots, several rolled txn logs, epoch files); Debian's ZooKeeper then starts
on it on loopback: standalone, to compare the restored zxid, digest and znodes (through the snapshot it
takes at start-up, parsed back by zkfle); as one member of a 3-server config, to have loadDataBase read
the epoch files; and on deliberately damaged epoch files, to compare its verdict with zkfle's.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from zkfle.checker.testing.datadirs import write_data_dir
from zkfle.checker.testing.zookeeper import ZooKeeper
from zkfle.impl.datadir import inspect_data_dir
from zkfle.impl.drivers.localfs import LocalFileSystem
from zkfle.impl.persistence.snapshot import parse_snapshot
from zkfle.spec.zxid import java_hex

TXNS_PER_EPOCH = (45, 37)
"""Two epochs of txns, rolled every 30 txns, a snapshot every 50: several logs and snapshots."""


def highest(log: str) -> tuple[int, int]:
    match = re.findall(r"highest zxid is 0x([0-9a-f]+), digest is (-?\d+)", log)
    assert match, "no 'Snapshot loaded' line"
    zxid, digest = match[-1]
    return int(zxid, 16), int(digest)


def test_standalone_zookeeper_restores_what_zkfle_wrote(zookeeper: ZooKeeper, tmp_path: Path) -> None:
    data = tmp_path / "data"
    written = write_data_dir(
        LocalFileSystem(), str(data), txns_per_epoch=TXNS_PER_EPOCH, per_file=30, snapshot_every=50, myid=None
    )
    logs = sorted(p.name for p in (data / "version-2").glob("log.*"))
    assert len(logs) >= 3
    run = zookeeper.run(data, until=r"Snapshot taken in")
    assert run.returncode is None, run.log
    assert highest(run.log) == (written.last_zxid, written.tree.tree_digest)
    assert "Digests are not matching" not in run.log
    assert "ERROR" not in run.log.split("Snapshot taken in")[0], run.log
    assert run.srvr is not None
    assert f"Zxid: 0x{java_hex(written.last_zxid)}" in run.srvr
    node_count = int(re.findall(r"Node count: (\d+)", run.srvr)[0])
    assert node_count == written.tree.node_count
    # ZooKeeperServer.loadData took a snapshot of the tree it restored: it must be our tree, node for node.
    theirs = parse_snapshot((data / "version-2" / f"snapshot.{java_hex(written.last_zxid)}").read_bytes())
    ours = written.tree.to_snapshot()
    assert {n.path: (n.data, n.stat) for n in theirs.nodes} == {n.path: (n.data, n.stat) for n in ours.nodes}
    assert sorted(theirs.sessions) == sorted(ours.sessions)


def test_quorum_member_reads_zkfle_epoch_files_and_votes_with_them(zookeeper: ZooKeeper, tmp_path: Path) -> None:
    data = tmp_path / "data"
    written = write_data_dir(
        LocalFileSystem(), str(data), txns_per_epoch=TXNS_PER_EPOCH, per_file=30, current_epoch=3, accepted_epoch=4
    )
    run = zookeeper.run(data, servers=3, until=r"Notification: my state:LOOKING; n\.sid:1,")
    assert run.returncode is None, run.log
    assert highest(run.log)[0] == written.last_zxid
    vote = re.search(
        r"n\.sid:1, n\.state:LOOKING, n\.leader:1, n\.round:0x1, n\.peerEpoch:0x(\w+), n\.zxid:0x(\w+)", run.log
    )
    assert vote is not None, run.log
    assert (int(vote.group(1), 16), int(vote.group(2), 16)) == (3, written.last_zxid)
    assert (data / "version-2" / "currentEpoch").read_text() == "3"
    assert (data / "version-2" / "acceptedEpoch").read_text() == "4"


@dataclass(frozen=True)
class Variant:
    """Epoch files to write (-2: the healthy value, None: no file), a currentEpoch.tmp, or raw currentEpoch bytes."""

    current_epoch: int | None = -2
    accepted_epoch: int | None = -2
    tmp: str | None = None
    raw_current: str | None = None
    empty_newer_log: bool = False
    """A zero-length newest txn log, as a crash right after the log was created leaves (ZOOKEEPER-1621)."""


VARIANTS = {
    "healthy": Variant(),
    "current_older_than_log": Variant(current_epoch=1),
    "current_older_with_tmp": Variant(current_epoch=1, tmp="2"),
    "current_older_with_stale_tmp": Variant(current_epoch=1, tmp="1"),
    "accepted_below_current": Variant(accepted_epoch=1),
    "current_missing": Variant(current_epoch=None),
    "both_missing": Variant(current_epoch=None, accepted_epoch=None),
    "current_garbage": Variant(raw_current="2x"),
    "current_with_crlf": Variant(raw_current="2\r\n"),
    "empty_newest_log": Variant(empty_newer_log=True),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_zookeeper_does_what_zkfle_datadir_predicts(zookeeper: ZooKeeper, tmp_path: Path, variant: str) -> None:
    v = VARIANTS[variant]
    data = tmp_path / "data"
    write_data_dir(
        LocalFileSystem(),
        str(data),
        txns_per_epoch=(12, 9),
        current_epoch=v.current_epoch,
        accepted_epoch=v.accepted_epoch,
    )
    version2 = data / "version-2"
    if v.tmp is not None:
        (version2 / "currentEpoch.tmp").write_text(v.tmp)
    if v.raw_current is not None:
        (version2 / "currentEpoch").write_text(v.raw_current)
    if v.empty_newer_log:
        (version2 / "log.300000001").write_bytes(b"")
    predicted = inspect_data_dir(LocalFileSystem(), str(data))
    untouched = tmp_path / "untouched"
    shutil.copytree(data, untouched)

    run = zookeeper.run(data, servers=3, until=r"(?m)- LOOKING$|Exiting JVM with code")
    if predicted.would_start:
        assert run.returncode is None, run.log
        assert re.search(r"- LOOKING$", run.log, re.MULTILINE)
    else:
        assert run.returncode == predicted.exit_code == 1, run.log
        assert predicted.message is not None
        assert predicted.exception is not None
        assert predicted.exception in run.log.splitlines()
    # The epoch files ZooKeeper left are the ones zkfle predicted it would write.
    after = {p.name: p.read_bytes() for p in sorted(version2.iterdir()) if "Epoch" in p.name}
    expected = {p.name: p.read_bytes() for p in sorted((untouched / "version-2").iterdir()) if "Epoch" in p.name}
    outcome = predicted.outcome
    assert outcome is not None
    values = {"currentEpoch": outcome.current_epoch, "acceptedEpoch": outcome.accepted_epoch}
    for change in predicted.would_write:
        op, *paths = change.split()
        if op == "rename":  # the atomic write's tmp file renamed over its target
            source, target = Path(paths[0]), Path(paths[-1])
            expected.pop(source.name, None)
            expected[target.name] = str(values[target.name]).encode()
    assert after == expected
