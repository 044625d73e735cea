"""Write realistic ZooKeeper data directories with zkfle's own writers, for tests, interop and benchmarks.

The workload is what a client session does: createSession, creates (persistent and ephemeral), setData,
delete, closeSession; txn logs roll every `per_file` txns and a snapshot is taken every `snapshot_every`
txns, as SyncRequestProcessor does. Each txn carries the tree digest after it, as a 3.8 server writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.impl.persistence.datatree import DataTree
from zkfle.impl.persistence.epochfiles import ACCEPTED_EPOCH_FILENAME, CURRENT_EPOCH_FILENAME, write_long_to_file
from zkfle.impl.persistence.filetxnsnaplog import process_transaction, save
from zkfle.impl.persistence.fs import FileSystem, join
from zkfle.impl.persistence.records import (
    OPEN_ACL_UNSAFE,
    CloseSessionTxn,
    CreateSessionTxn,
    CreateTxn,
    DeleteTxn,
    OpCode,
    SetDataTxn,
    Txn,
    TxnDigest,
    TxnHeader,
)
from zkfle.impl.persistence.txnlog import TxnLogWriter
from zkfle.spec.zxid import make_zxid

BASE_TIME_MS = 1_764_000_000_000
"""A fixed wall-clock base for txn times: the same inputs give the same bytes."""


@dataclass(frozen=True, slots=True)
class WrittenDir:
    """What was written: the final tree, the last zxid, and the epoch file values (None = not written)."""

    tree: DataTree
    last_zxid: int
    current_epoch: int | None
    accepted_epoch: int | None


def history_head(txns_per_epoch: tuple[int, ...]) -> tuple[int, int]:
    """(last zxid, epoch of the epoch files) of a healthy `write_data_dir` over `txns_per_epoch`: the last
    txn of the last epoch that has any, and the last epoch listed (0 and 0 when there are no txns)."""
    zxids = [make_zxid(epoch, count) for epoch, count in enumerate(txns_per_epoch, start=1) if count]
    return (zxids[-1], len(txns_per_epoch)) if zxids else (0, 0)


def write_data_dir(
    fs: FileSystem,
    data_dir: str,
    *,
    txns_per_epoch: tuple[int, ...] = (20,),
    per_file: int = 1000,
    snapshot_every: int = 0,
    prealloc_size: int = 16 * 1024,
    current_epoch: int | None = -2,
    accepted_epoch: int | None = -2,
    myid: int | None = 1,
) -> WrittenDir:
    """Write `snapshot.0`, then for epoch 1, 2, ... the given number of txns, then the epoch files.

    `current_epoch`/`accepted_epoch`: -2 means "the last epoch written" (what a healthy server holds), None
    leaves the file out, any other value is written as it is (to make the faults start-up must catch).
    """
    snap_dir = join(data_dir, "version-2")
    fs.mkdirs(snap_dir)
    if myid is not None:
        fs.write_bytes(join(data_dir, "myid"), f"{myid}\n".encode())
    tree = DataTree()
    save(fs, snap_dir, tree, fsync=True)
    writer = TxnLogWriter(fs, snap_dir, prealloc_size=prealloc_size)
    written = 0
    for epoch, count in enumerate(txns_per_epoch, start=1):
        session = (epoch << 56) | 0x1A2B
        for counter in range(1, count + 1):
            zxid = make_zxid(epoch, counter)
            op, txn = _workload_step(epoch, counter, count)
            if op is OpCode.CLOSE_SESSION:  # PrepRequestProcessor lists the session's ephemerals to delete
                txn = CloseSessionTxn(tuple(sorted(tree.ephemerals.get(session, ()))))
            header = TxnHeader(session, counter, zxid, BASE_TIME_MS + written, int(op))
            process_transaction(header, tree, txn)
            writer.append(header, txn, TxnDigest(2, tree.tree_digest))
            writer.commit()
            written += 1
            if per_file and written % per_file == 0:
                writer.roll()
            if snapshot_every and written % snapshot_every == 0:
                writer.roll()
                save(fs, snap_dir, tree, fsync=True)
    writer.close()
    last, last_epoch = history_head(txns_per_epoch)
    values = {CURRENT_EPOCH_FILENAME: current_epoch, ACCEPTED_EPOCH_FILENAME: accepted_epoch}
    result: dict[str, int | None] = {}
    for name, value in values.items():
        chosen = last_epoch if value == -2 else value
        result[name] = chosen
        if chosen is not None:
            write_long_to_file(fs, join(snap_dir, name), chosen)
    return WrittenDir(tree, last, result[CURRENT_EPOCH_FILENAME], result[ACCEPTED_EPOCH_FILENAME])


def _workload_step(epoch: int, counter: int, count: int) -> tuple[OpCode, Txn]:
    """One client session per epoch: open, create under /e<epoch>, some updates and deletes, close."""
    base = f"/e{epoch}"
    if counter == 1:
        return OpCode.CREATE_SESSION, CreateSessionTxn(30000)
    if counter == count:
        return OpCode.CLOSE_SESSION, CloseSessionTxn(())
    if counter == 2:
        return OpCode.CREATE2, CreateTxn(base, b"", OPEN_ACL_UNSAFE, False, -1)
    parent_counter = counter - 1
    match counter % 10:
        case 3:
            return OpCode.SET_DATA, SetDataTxn(base, f"update {counter}".encode(), counter // 10)
        case 7 if counter > 12:
            return OpCode.DELETE, DeleteTxn(f"{base}/n{counter - 5}")
        case 9:
            return OpCode.CREATE, CreateTxn(f"{base}/eph{counter}", b"e", OPEN_ACL_UNSAFE, True, -1)
        case _:
            return OpCode.CREATE2, CreateTxn(
                f"{base}/n{counter}", f"v{parent_counter}".encode(), OPEN_ACL_UNSAFE, False, -1
            )
