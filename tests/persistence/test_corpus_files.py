"""Every txn log and snapshot of the real ZooKeeper 3.8.0 corpus, read by zkfle and checked against
ZooKeeper's own dumps (TxnLogToolkit, SnapshotFormatter -d) and the harness's truth.json."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from zkfle.impl.persistence.datatree import DataTree
from zkfle.impl.persistence.records import CreateTxn, DeleteTxn, SetDataTxn, op_name
from zkfle.impl.persistence.snapshot import encode_snapshot, parse_snapshot
from zkfle.impl.persistence.txnlog import EndKind, scan_log
from zkfle.spec.zxid import epoch_of

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "zookeeper-3.8" / "corpus"


def _data_dirs() -> list[Path]:
    found = sorted(CORPUS.glob("*/data/zk*/version-2")) + sorted(CORPUS.glob("*/*/before/zk*/version-2"))
    found += sorted(CORPUS.glob("*/*/after/zk*/version-2"))
    return found


def _files(prefix: str) -> list[Path]:
    return [f for d in _data_dirs() for f in sorted(d.iterdir()) if f.name.startswith(prefix + ".")]


def _dump_for(path: Path) -> Path | None:
    """dumps/zkN/<name>.txt of the scenario the data dir belongs to (data/zkN only)."""
    if path.parent.parent.parent.name != "data":
        return None
    dump = path.parents[3] / "dumps" / path.parent.parent.name / f"{path.name}.txt"
    return dump if dump.exists() else None


_LOG_LINE = re.compile(r" session 0x[0-9a-f]+ cxid 0x[0-9a-f]+ zxid 0x([0-9a-f]+) (\w+)(?: (.*))?$")


def test_the_corpus_has_every_kind_of_file() -> None:
    assert len(_files("log")) >= 40
    assert len(_files("snapshot")) >= 40


@pytest.mark.parametrize("path", _files("log"), ids=lambda p: str(p.relative_to(CORPUS)))
def test_log_scan_matches_toolkit_dump_and_truth(path: Path) -> None:
    scan = scan_log(path.read_bytes(), str(path))
    assert scan.header is not None and scan.header.magic == 0x5A4B4C47 and scan.header.dbid == 0
    dump = _dump_for(path)
    if dump is not None:
        expected = []
        for line in dump.read_text().splitlines():
            m = _LOG_LINE.search(line)
            if m:
                path_field = (m.group(3) or "").split(",")[0]
                expected.append((int(m.group(1), 16), m.group(2), path_field if path_field.startswith("/") else ""))
        got = []
        for e in scan.entries:
            p = e.txn.path if isinstance(e.txn, CreateTxn | DeleteTxn | SetDataTxn) else ""
            got.append((e.zxid, op_name(e.header.type), p))
        assert got == expected
        assert scan.end is EndKind.CLEAN
    truth_file = path.parents[3] / "truth.json"
    if dump is not None and truth_file.exists():
        final = json.loads(truth_file.read_text())["final"]
        info = final[path.parent.parent.name.removeprefix("zk")]["txnlogs"][path.name]
        assert len(scan.entries) == info["records"]
        assert scan.entries[0].zxid == int(info["first_zxid"], 16)
        assert scan.entries[-1].zxid == int(info["last_zxid"], 16)
        assert op_name(scan.entries[-1].header.type) == info["last_type"]
        assert sorted({epoch_of(e.zxid) for e in scan.entries}) == info["epochs_in_file"]
        assert scan.data_end == info["data_end"]
        assert scan.partial_tail == info["partial_tail"]
        assert info["bad_crc"] == []
        assert path.stat().st_size == info["size"]


def test_damaged_logs_end_as_zookeeper_read_them() -> None:
    base = CORPUS / "truncated_txnlog"
    cases = {
        "f1_standalone_truncate_mid_last_record": (EndKind.EOF, 28, True),
        "f2_standalone_zero_tail_mid_last_record": (EndKind.PARTIAL, 28, True),
        "f3_standalone_crc_flip_last_record": (EndKind.CRC, 28, False),
    }
    for case, (end, count, partial) in cases.items():
        path = base / case / "before" / "zk1" / "version-2" / "log.100000001"
        scan = scan_log(path.read_bytes(), str(path))
        assert (scan.end, len(scan.entries), scan.partial_tail) == (end, count, partial), case
        assert scan.entries[-1].zxid == 0x10000001C
        assert scan.end_offset == 2909
    f4 = base / "f4_standalone_crc_flip_middle_record" / "before" / "zk1" / "version-2" / "log.100000001"
    scan = scan_log(f4.read_bytes(), str(f4))
    assert scan.end is EndKind.CRC and scan.message == "CRC check failed" and len(scan.entries) == 14


def _parse_formatter_dump(text: str) -> list[dict[str, str]]:
    nodes: list[dict[str, str]] = []
    body = text.split("Session Details", maxsplit=1)[0]
    for block in body.split("----\n")[1:]:
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        node = {"path": lines[0]}
        for ln in lines[1:]:
            key, _, value = ln.strip().partition(" = ")
            node[key] = value
        nodes.append(node)
    return nodes


@pytest.mark.parametrize("path", _files("snapshot"), ids=lambda p: str(p.relative_to(CORPUS)))
def test_snapshot_parses_reencodes_and_matches_formatter(path: Path) -> None:
    raw = path.read_bytes()
    content = parse_snapshot(raw)
    assert encode_snapshot(content) == raw
    tree = DataTree()
    tree.load_snapshot(content, int(path.name.split(".")[1], 16))
    for sid, timeout in content.sessions:
        tree.add_session(sid, timeout)
    # ZooKeeper's own order (Java hash order, from the loaded children) rewrites the same bytes; the digest
    # block after a load is the file's only once a txn was applied, so compare with the file's digest.
    assert encode_snapshot(replace(tree.to_snapshot(), digest=content.digest)) == raw
    dump = _dump_for(path)
    if dump is None:
        return
    expected = _parse_formatter_dump(dump.read_text())
    assert len(expected) == len(content.nodes)
    for want, got in zip(expected, content.nodes, strict=True):
        assert want["path"] == (got.path or "/")
        assert int(want["cZxid"], 16) == got.stat.czxid
        assert int(want["mZxid"], 16) == got.stat.mzxid
        assert int(want["pZxid"], 16) == got.stat.pzxid
        assert int(want["cversion"]) == got.stat.cversion
        assert int(want["dataVersion"]) == got.stat.version
        assert int(want["aclVersion"]) == got.stat.aversion
        assert int(want["ephemeralOwner"], 16) == got.stat.ephemeral_owner
        assert base64.b64decode(want.get("data", "")) == (got.data or b"")
    assert "Session Details" in dump.read_text() and not content.sessions


def test_empty_tree_is_byte_identical_to_a_fresh_servers_snapshot_0() -> None:
    raw = (CORPUS / "cold_start_3" / "data" / "zk1" / "version-2" / "snapshot.0").read_bytes()
    config = next(n for n in parse_snapshot(raw).nodes if n.path == "/zookeeper/config")
    tree = DataTree()
    # QuorumPeer -> ZKDatabase.initConfigInZKDatabase: setData(config, bytes, -1, qv.getVersion() = 0, now)
    tree.set_data("/zookeeper/config", config.data, -1, 0, config.stat.mtime)
    assert encode_snapshot(tree.to_snapshot()) == raw
    assert tree.tree_digest == 1371985504  # "highest zxid is 0x0, digest is 1371985504" in every zk*.log
