"""FileTxnSnapLog.restore on real data dirs (copied) and on dirs written by zkfle's own writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from zkfle.impl.drivers.localfs import LocalFileSystem
from zkfle.impl.logline import Level
from zkfle.impl.persistence.datatree import DataTree
from zkfle.impl.persistence.filetxnsnaplog import RestoreError, SnapshotVerdict, check_dirs, restore, save
from zkfle.impl.persistence.fs import MemoryFileSystem
from zkfle.impl.persistence.records import (
    OPEN_ACL_UNSAFE,
    CloseSessionTxn,
    CreateSessionTxn,
    CreateTxn,
    DeleteTxn,
    ErrorTxn,
    MultiTxn,
    OpCode,
    SetDataTxn,
    SubTxn,
    Txn,
    TxnDigest,
    TxnHeader,
    encode_sub_txn,
)
from zkfle.impl.persistence.snapshot import encode_snapshot, parse_snapshot
from zkfle.impl.persistence.txnlog import (
    NO_LOGS_TO_TRUNCATE,
    EndKind,
    TxnLogError,
    TxnLogWriter,
    last_logged_zxid,
    scan_log,
    truncate_log,
)
from zkfle.spec.zxid import make_zxid

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "zookeeper-3.8" / "corpus"


def _copy(src: Path, tmp_path: Path) -> str:
    dst = tmp_path / "data"
    shutil.copytree(src.parent, dst)
    return str(dst / "version-2")


def _zk_highest(case_dir: Path) -> str | None:
    result = json.loads((case_dir / "result.json").read_text())
    for line in result["key_log_lines"]:
        if "highest zxid is " in line:
            return str(line.split("highest zxid is ")[1].split(",")[0])
    return None


CASES = sorted(p for p in (CORPUS / "epoch_file_faults").iterdir() if (p / "result.json").exists())
CASES += sorted(p for p in (CORPUS / "truncated_txnlog").iterdir() if (p / "result.json").exists())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_restore_of_every_fault_case_matches_the_real_server(case: Path, tmp_path: Path) -> None:
    d = _copy(case / "before" / "zk1" / "version-2", tmp_path)
    result = json.loads((case / "result.json").read_text())
    expected = _zk_highest(case)
    if case.name.startswith(("f3", "f4", "f5")):
        with pytest.raises(RestoreError) as info:
            restore(LocalFileSystem(), d, d)
        assert info.value.message == "CRC check failed"
        assert any(
            "java.io.IOException: CRC check failed" in line for line in result["error_block"] + result["key_log_lines"]
        )
        return
    restored = restore(LocalFileSystem(), d, d)
    assert expected is not None
    assert f"0x{restored.highest_zxid:x}" == expected
    zk_lines = [line.split(" - ", 2)[-1] for line in result["key_log_lines"]]
    digest_line = next(line for line in zk_lines if line.startswith("Snapshot loaded in"))
    assert restored.log[-1].text.split(", ", 1)[1] == digest_line.split(", ", 1)[1]
    assert restored.tree.digest_mismatches == []
    if case.name.startswith("f2"):
        assert any(ln.level is Level.ERROR and ln.text == "Last transaction was partial." for ln in restored.log)
    if case.name.startswith("f1"):
        # the standalone server snapshots right after loading: zkfle writes the same bytes
        fs = LocalFileSystem()
        restored.tree.last_processed_zxid = restored.highest_zxid
        path = save(fs, d, restored.tree, fsync=True)
        after = case / "after" / "zk1" / "version-2" / "snapshot.10000001c"
        assert Path(path).read_bytes() == after.read_bytes()


@pytest.mark.parametrize("scenario", ["cold_start_3", "writes_then_restart_3"])
def test_restore_of_final_data_dirs(scenario: str, tmp_path: Path) -> None:
    truth = json.loads((CORPUS / scenario / "truth.json").read_text())
    used = []
    for sid in ("1", "2", "3"):
        d = _copy(CORPUS / scenario / "data" / f"zk{sid}" / "version-2", tmp_path / sid)
        restored = restore(LocalFileSystem(), d, d)
        logs = truth["final"][sid]["txnlogs"]
        last = max((int(v["last_zxid"], 16) for v in logs.values()), default=0)
        assert restored.highest_zxid == last
        assert restored.tree.digest_mismatches == []
        used.append((restored.snapshot_used, restored.txns_replayed))
    if scenario == "writes_then_restart_3":
        assert used[2] == ("snapshot.100000035", 23)  # zk3 took a snapshot when it started leading


def _hdr(zxid: int, op: OpCode, session: int = 0x1234) -> TxnHeader:
    return TxnHeader(session, zxid & 0xFFFF, zxid, 1_700_000_000_000 + zxid, int(op))


def _write(writer: TxnLogWriter, tree: DataTree, header: TxnHeader, txn: Txn) -> None:
    from zkfle.impl.persistence.filetxnsnaplog import process_transaction

    process_transaction(header, tree, txn)
    writer.append(header, txn, TxnDigest(2, tree.tree_digest))


def _build(fs: MemoryFileSystem, n: int, per_file: int, snapshot_every: int, prealloc: int = 16 * 1024) -> DataTree:
    fs.mkdirs("/d/version-2")
    d = "/d/version-2"
    tree = DataTree()
    save(fs, d, tree, fsync=True)
    writer = TxnLogWriter(fs, d, prealloc_size=prealloc)
    zxid = make_zxid(1, 0)
    _write(writer, tree, _hdr(zxid + 1, OpCode.CREATE_SESSION), CreateSessionTxn(4000))
    _write(writer, tree, _hdr(zxid + 2, OpCode.CREATE2), CreateTxn("/app", b"", OPEN_ACL_UNSAFE, False, -1))
    for i in range(3, n + 1):
        z = zxid + i
        if i % 7 == 0:
            txn: Txn = SetDataTxn("/app", b"v%d" % i, i)
            _write(writer, tree, _hdr(z, OpCode.SET_DATA), txn)
        elif i % 11 == 0:
            _write(writer, tree, _hdr(z, OpCode.CREATE), CreateTxn(f"/app/e{i}", b"x", OPEN_ACL_UNSAFE, True, -1))
        else:
            _write(
                writer, tree, _hdr(z, OpCode.CREATE2), CreateTxn(f"/app/n{i}", b"d" * 20, OPEN_ACL_UNSAFE, False, -1)
            )
        writer.commit()
        if i % per_file == 0:
            writer.roll()
        if i % snapshot_every == 0:
            save(fs, d, tree, fsync=True)
    _write(writer, tree, _hdr(zxid + n + 1, OpCode.CLOSE_SESSION), CloseSessionTxn(()))
    writer.commit()
    return tree


def test_round_trip_of_a_written_data_dir() -> None:
    fs = MemoryFileSystem()
    tree = _build(fs, 400, per_file=150, snapshot_every=170)
    restored = restore(fs, "/d/version-2", "/d/version-2")
    assert restored.highest_zxid == make_zxid(1, 401)
    assert restored.snapshot_used == "snapshot.100000154"
    assert restored.tree.tree_digest == tree.tree_digest
    assert restored.tree.digest_mismatches == []
    assert encode_snapshot(restored.tree.to_snapshot()) == encode_snapshot(tree.to_snapshot())
    assert not any(p.startswith("/app/e") for p in restored.tree.nodes)  # closeSession removed the ephemerals
    names = sorted(fs.list_dir("/d/version-2"))
    assert names[:3] == ["log.100000001", "log.100000097", "log.10000012d"]
    assert all(fs.size(f"/d/version-2/{n}") % (16 * 1024) == 16 for n in names if n.startswith("log."))
    assert last_logged_zxid(fs, "/d/version-2") == make_zxid(1, 401)


def test_newest_snapshot_corrupt_falls_back_and_replays_more() -> None:
    fs = MemoryFileSystem()
    _build(fs, 200, per_file=1000, snapshot_every=90)
    path = "/d/version-2/snapshot.1000000b4"
    data = bytearray(fs.read_bytes(path))
    data[100] ^= 0xFF
    fs.write_bytes(path, bytes(data))
    restored = restore(fs, "/d/version-2", "/d/version-2")
    verdicts = {s.name: (s.verdict, s.reason) for s in restored.snapshots}
    assert verdicts["snapshot.1000000b4"] == (SnapshotVerdict.CORRUPT, "CRC corruption")
    assert restored.snapshot_used == "snapshot.10000005a"
    assert restored.txns_replayed == 201 - 90
    assert any(ln.text == f"problem reading snap file {path}" and ln.level is Level.WARN for ln in restored.log)
    fs.write_bytes(path, bytes(data[:-3]))
    restored = restore(fs, "/d/version-2", "/d/version-2")
    assert any(ln.text.startswith("Invalid snapshot snapshot.1000000b4. len = ") for ln in restored.log)


def test_no_snapshot_cases() -> None:
    fs = MemoryFileSystem()
    fs.mkdirs("/d/version-2")
    restored = restore(fs, "/d/version-2", "/d/version-2")
    assert restored.highest_zxid == 0 and restored.wrote == ("/d/version-2/snapshot.0",)
    fs.delete("/d/version-2/snapshot.0")
    restored = restore(fs, "/d/version-2", "/d/version-2", db_autocreate=False)
    assert restored.highest_zxid == -1 and restored.log[0].text == "Unexpected empty data tree, setting zxid to -1"
    fs.write_bytes("/d/initialize", b"")
    restored = restore(fs, "/d/version-2", "/d/version-2", db_autocreate=False)
    assert restored.highest_zxid == 0 and not fs.exists("/d/initialize")
    fs2 = MemoryFileSystem()
    _build(fs2, 20, per_file=100, snapshot_every=1000)
    for name in fs2.list_dir("/d/version-2"):
        if name.startswith("snapshot."):
            fs2.delete(f"/d/version-2/{name}")
    with pytest.raises(RestoreError, match=r"^No snapshot found, but there are log entries\. Something is broken!$"):
        restore(fs2, "/d/version-2", "/d/version-2")
    restored = restore(fs2, "/d/version-2", "/d/version-2", snapshot_trust_empty=True)
    assert restored.highest_zxid == make_zxid(1, 21)
    fs2.write_bytes("/d/version-2/snapshot.5", b"garbage-garbage\x00\x00\x00\x01/")  # passes the quick test
    with pytest.raises(RestoreError, match=r"^Not able to find valid snapshots in /d/version-2$"):
        restore(fs2, "/d/version-2", "/d/version-2")


def test_multi_with_an_error_applies_nothing_and_ok_multi_applies_all() -> None:
    tree = DataTree()
    ok = MultiTxn(
        (
            SubTxn(int(OpCode.CREATE), encode_sub_txn(CreateTxn("/a", b"1", OPEN_ACL_UNSAFE, False, -1))),
            SubTxn(int(OpCode.CREATE), encode_sub_txn(CreateTxn("/a/b", b"2", OPEN_ACL_UNSAFE, False, -1))),
        )
    )
    tree.process_txn(_hdr(5, OpCode.MULTI), ok)
    assert "/a/b" in tree.nodes and tree.last_processed_zxid == 5
    bad = MultiTxn(
        (
            SubTxn(int(OpCode.DELETE), encode_sub_txn(DeleteTxn("/a/b"))),
            SubTxn(int(OpCode.ERROR), encode_sub_txn(ErrorTxn(-101))),
        )
    )
    before = tree.tree_digest
    result = tree.process_txn(_hdr(6, OpCode.MULTI), bad)
    assert "/a/b" in tree.nodes and tree.tree_digest == before and result.err == -101


def test_writer_truncate_and_dir_checks() -> None:
    fs = MemoryFileSystem()
    _build(fs, 60, per_file=25, snapshot_every=1000)
    d = "/d/version-2"
    truncate_log(fs, d, make_zxid(1, 30))
    assert last_logged_zxid(fs, d) == make_zxid(1, 30)
    assert sorted(n for n in fs.list_dir(d) if n.startswith("log.")) == ["log.100000001", "log.10000001a"]
    scan = scan_log(fs.read_bytes(f"{d}/log.10000001a"), "x")
    assert scan.end is EndKind.EOF and scan.entries[-1].zxid == make_zxid(1, 30)
    with pytest.raises(TxnLogError) as info:
        truncate_log(fs, d, make_zxid(1, 99))
    assert info.value.message == NO_LOGS_TO_TRUNCATE
    fs.mkdirs("/logs")
    fs.write_bytes("/logs/snapshot.1", b"")
    assert check_dirs(fs, "/logs", d) == (
        "Log directory has snapshot files. Check if dataLogDir and dataDir configuration is correct."
    )
    assert check_dirs(fs, d, d) is None


def test_restore_of_10000_txns() -> None:
    """Correctness at the size of the issue's speed target; the timing is bench/bench_datadir.py's job."""
    fs = MemoryFileSystem()
    _build(fs, 10_000, per_file=2_500, snapshot_every=4_000)
    restored = restore(fs, "/d/version-2", "/d/version-2")
    assert restored.highest_zxid == make_zxid(1, 10_001)
    assert restored.snapshot_used == "snapshot.100001f40"


def test_parse_is_exact_about_snapshot_magic() -> None:
    raw = bytearray((CORPUS / "cold_start_3" / "data" / "zk1" / "version-2" / "snapshot.0").read_bytes())
    raw[0] = 0
    from zkfle.impl.persistence.snapshot import SnapshotError

    with pytest.raises(SnapshotError, match=r"^mismatching magic headers 4936526 !=  1514885966$"):
        parse_snapshot(bytes(raw))
