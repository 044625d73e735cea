"""`FileTxnSnapLog` of ZooKeeper 3.8: restore (snapshot + txn log replay), save, and the dir checks.

`restore` follows FileTxnSnapLog.restore / FileSnap.deserialize / fastForwardFromEdits step by step
(semantics.md §3.5) and returns, besides the tree, what happened: which snapshots were considered and why
each was taken or refused, how many txns were replayed, and the log lines ZooKeeper would print, in order.
Fatal outcomes raise `RestoreError` whose message is the text of ZooKeeper's exception.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from zkfle.impl.logline import Level, LogLine
from zkfle.impl.persistence.datatree import ApplyError, DataTree
from zkfle.impl.persistence.fs import FileSystem, join
from zkfle.impl.persistence.records import CreateSessionTxn, OpCode, Txn, TxnHeader
from zkfle.impl.persistence.snapshot import (
    SNAPSHOT_FILE_PREFIX,
    SnapshotError,
    decompress,
    encode_snapshot,
    parse_snapshot,
    quick_check,
    snapshot_name,
)
from zkfle.impl.persistence.txnlog import (
    LOG_FILE_PREFIX,
    FileEnd,
    LogEntry,
    TxnLogError,
    last_logged_zxid,
    read_log,
    sort_data_dir,
    zxid_from_name,
)
from zkfle.spec.zxid import java_hex

MAX_SNAPSHOT_CANDIDATES = 100
"""FileSnap.deserialize looks at no more than 100 snapshots that pass the quick test."""


class RestoreError(Exception):
    """A fatal start-up outcome: `message` is ZooKeeper's exception text, `java_class` its class."""

    def __init__(self, message: str, java_class: str = "java.io.IOException") -> None:
        super().__init__(message)
        self.message = message
        self.java_class = java_class


class SnapshotVerdict(enum.Enum):
    """What FileSnap did with one snapshot file."""

    USED = "used"
    INVALID = "invalid"  # refused by the quick test (isValidSnapshot)
    CORRUPT = "corrupt"  # full read failed ("problem reading snap file")
    NOT_TRIED = "not_tried"  # an older candidate after the one used


@dataclass(frozen=True, slots=True)
class SnapshotConsidered:
    name: str
    zxid: int
    verdict: SnapshotVerdict
    reason: str


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What restore produced. `highest_zxid` is restore's return value (-1 for an untrusted empty DB)."""

    tree: DataTree
    highest_zxid: int
    snapshot_used: str | None
    snapshots: tuple[SnapshotConsidered, ...]
    txns_replayed: int
    log: tuple[LogLine, ...]
    wrote: tuple[str, ...]


def check_dirs(fs: FileSystem, data_log_dir: str, snap_dir: str) -> str | None:
    """FileTxnSnapLog's ZOOKEEPER-2967 checks (only when the two version-2 dirs differ): the error text, or None."""
    if data_log_dir == snap_dir:
        return None
    if fs.is_dir(data_log_dir) and any(n.startswith(SNAPSHOT_FILE_PREFIX + ".") for n in fs.list_dir(data_log_dir)):
        return "Log directory has snapshot files. Check if dataLogDir and dataDir configuration is correct."
    if fs.is_dir(snap_dir) and any(n.startswith(LOG_FILE_PREFIX + ".") for n in fs.list_dir(snap_dir)):
        return "Snapshot directory has log files. Check if dataLogDir and dataDir configuration is correct."
    return None


def process_transaction(header: TxnHeader, tree: DataTree, txn: Txn | None) -> None:
    """`FileTxnSnapLog.processTransaction`: sessions map upkeep, then DataTree.processTxn (errors ignored)."""
    if header.type == OpCode.CREATE_SESSION and isinstance(txn, CreateSessionTxn):
        tree.add_session(header.client_id, txn.timeout)
    elif header.type == OpCode.CLOSE_SESSION:
        tree.sessions.pop(header.client_id, None)
    tree.process_txn(header, txn)


def save(
    fs: FileSystem,
    snap_dir: str,
    tree: DataTree,
    fsync: bool,
    log: list[LogLine] | None = None,
    *,
    on_durable: Callable[[], None] | None = None,
) -> str:
    """`FileTxnSnapLog.save`: `snapshot.<hex lastProcessedZxid>`; fsync=true writes `<name>.tmp`, fsyncs, renames.

    The temp name is AtomicFileOutputStream's: the target's name plus ".tmp" in the same directory.
    `on_durable` runs right after that fsync, before the rename: from then on the snapshot survives a crash,
    because restore also takes `snapshot.<zxid>.tmp` as snapshot <zxid> (`Util.getZxidFromName` reads the part
    after the first dot, and the quick check passes a complete file).
    """
    path = join(snap_dir, snapshot_name(tree.last_processed_zxid))
    if log is not None:
        log.append(LogLine(Level.INFO, f"Snapshotting: 0x{java_hex(tree.last_processed_zxid)} to {path}"))
    data = encode_snapshot(tree.to_snapshot())
    if fsync:
        tmp = path + ".tmp"
        fs.write_bytes(tmp, data)
        fs.fsync(tmp)
        if on_durable is not None:
            on_durable()
        fs.rename(tmp, path)
    else:
        fs.write_bytes(path, data)
    return path


def restore(
    fs: FileSystem,
    data_log_dir: str,
    snap_dir: str,
    *,
    db_autocreate: bool = True,
    snapshot_trust_empty: bool = False,
    digest_enabled: bool = True,
) -> RestoreResult:
    """`FileTxnSnapLog.restore` + the "Snapshot loaded" line of ZKDatabase.loadDataBase.

    `data_log_dir`/`snap_dir` are the version-2 directories; the `initialize` file is looked for in the
    parent of `data_log_dir` and deleted when found.
    """
    log: list[LogLine] = []
    wrote: list[str] = []
    tree = DataTree()
    considered, used = _deserialize_snapshots(fs, snap_dir, tree, log, digest_enabled)
    init_file = join(data_log_dir.rstrip("/").rsplit("/", 1)[0] or "/", "initialize")
    trust_empty_db = db_autocreate
    if fs.exists(init_file) and not fs.is_dir(init_file):
        fs.delete(init_file)
        wrote.append(init_file)
        log.append(LogLine(Level.INFO, "Initialize file found, an empty database will not block voting participation"))
        trust_empty_db = True
    replayed = 0
    if used is None:
        try:
            last = last_logged_zxid(fs, data_log_dir)
        except TxnLogError as exc:
            raise RestoreError(exc.message, exc.java_class) from None
        if last != -1:
            if not snapshot_trust_empty:
                raise RestoreError("No snapshot found, but there are log entries. Something is broken!")
            log.append(
                LogLine(
                    Level.WARN,
                    "No snapshot found, but there are log entries. This should only be allowed during upgrading.",
                )
            )
            highest, replayed = _fast_forward(fs, data_log_dir, tree, log)
        elif trust_empty_db:
            wrote.append(save(fs, snap_dir, tree, fsync=False, log=log))
            highest = 0
        else:
            log.append(LogLine(Level.WARN, "Unexpected empty data tree, setting zxid to -1"))
            tree.last_processed_zxid = -1
            highest = -1
    else:
        highest, replayed = _fast_forward(fs, data_log_dir, tree, log)
    pending = tree.digest_from_loaded_snapshot
    if used is not None and pending is not None:
        log.append(
            LogLine(
                Level.WARN,
                f"Highest txn zxid 0x{java_hex(highest)} is not covering the snapshot digest zxid "
                f"0x{java_hex(pending.zxid)}, which might lead to inconsistent state",
            )
        )
    log.append(
        LogLine(
            Level.INFO, f"Snapshot loaded in 0 ms, highest zxid is 0x{java_hex(highest)}, digest is {tree.tree_digest}"
        )
    )
    return RestoreResult(tree, highest, used, tuple(considered), replayed, tuple(log), tuple(wrote))


def _deserialize_snapshots(
    fs: FileSystem, snap_dir: str, tree: DataTree, log: list[LogLine], digest_enabled: bool
) -> tuple[list[SnapshotConsidered], str | None]:
    """`FileSnap.deserialize` with findNValidSnapshots(100)."""
    considered: list[SnapshotConsidered] = []
    names = fs.list_dir(snap_dir) if fs.is_dir(snap_dir) else []
    candidates: list[tuple[str, bytes]] = []
    for name in sort_data_dir(names, SNAPSHOT_FILE_PREFIX, False):
        zxid = zxid_from_name(name, SNAPSHOT_FILE_PREFIX)
        path = join(snap_dir, name)
        if zxid == -1 or fs.is_dir(path):
            continue
        if len(candidates) == MAX_SNAPSHOT_CANDIDATES:
            considered.append(SnapshotConsidered(name, zxid, SnapshotVerdict.NOT_TRIED, "beyond 100 candidates"))
            continue
        data = fs.read_bytes(path)
        refusal = quick_check(name, data)
        if refusal is None:
            candidates.append((name, data))
            continue
        if refusal:
            log.append(LogLine(Level.INFO, refusal))
        considered.append(SnapshotConsidered(name, zxid, SnapshotVerdict.INVALID, refusal or "too short"))
    if not candidates:
        return considered, None
    used: str | None = None
    for name, data in candidates:
        zxid = zxid_from_name(name, SNAPSHOT_FILE_PREFIX)
        path = join(snap_dir, name)
        if used is not None:
            considered.append(SnapshotConsidered(name, zxid, SnapshotVerdict.NOT_TRIED, "a newer snapshot was used"))
            continue
        log.append(LogLine(Level.INFO, f"Reading snapshot {path}"))
        try:
            content = parse_snapshot(decompress(name, data), digest_enabled)
            for sid, timeout in content.sessions:
                tree.add_session(sid, timeout)
            tree.load_snapshot(content, zxid)
        except SnapshotError as exc:
            for sid, timeout in exc.sessions:
                tree.add_session(sid, timeout)
            if exc.kind != "io":
                raise RestoreError(exc.message, "java.lang.RuntimeException") from None
            log.append(LogLine(Level.WARN, f"problem reading snap file {path}"))
            considered.append(SnapshotConsidered(name, zxid, SnapshotVerdict.CORRUPT, exc.message))
            continue
        used = name
        tree.last_processed_zxid = zxid
        considered.append(SnapshotConsidered(name, zxid, SnapshotVerdict.USED, "read and sealed correctly"))
        if tree.digest_from_loaded_snapshot is not None:
            tree.compare_snapshot_digests(zxid)
    log.extend(tree.log)
    tree.log.clear()
    if used is None:
        raise RestoreError(f"Not able to find valid snapshots in {snap_dir}")
    return considered, used


def _fast_forward(fs: FileSystem, data_log_dir: str, tree: DataTree, log: list[LogLine]) -> tuple[int, int]:
    """`FileTxnSnapLog.fastForwardFromEdits`: replay from lastProcessedZxid + 1; returns (highest zxid, count)."""
    highest = tree.last_processed_zxid
    loaded = 0
    try:
        for item in read_log(fs, data_log_dir, tree.last_processed_zxid + 1):
            if isinstance(item, FileEnd):
                log.extend(item.log)
                continue
            assert isinstance(item, LogEntry)
            header = item.header
            if header.zxid < highest and highest != 0:
                log.append(
                    LogLine(Level.ERROR, f"{highest}(highestZxid) > {header.zxid}(next log) for type {header.type}")
                )
            else:
                highest = header.zxid
            try:
                process_transaction(header, tree, item.txn)
            except ApplyError as exc:
                raise RestoreError(str(exc), "java.lang.RuntimeException") from None
            tree.compare_digest(header, item.digest)
            log.extend(tree.log)
            tree.log.clear()
            loaded += 1
    except TxnLogError as exc:
        log.extend(tree.log)
        raise RestoreError(exc.message, exc.java_class) from None
    if loaded == 0:
        return tree.last_processed_zxid, 0
    log.append(LogLine(Level.INFO, f"{loaded} txns loaded in 0 ms"))
    return highest, loaded
