"""`QuorumPeer.loadDataBase` as one pure function over a server's durable state (semantics.md §2.1).

The checker's RECOVERY_FAITHFUL judges a trace's `recovered` / `recovery_failed` events with this function,
so it is written from the semantics alone, independently of `zkfle.impl` (design.md: the verdict never
reuses the implementation as its own judge).

The input is what start-up reads: whether a durable snapshot and durable txn log entries exist, the highest
durable zxid (what `FileTxnSnapLog.restore` gives when it succeeds), and the epoch files of the snapshot dir —
each holding a number, being missing, or being unreadable (`QuorumPeer.readLongFromFile` fails with "Found
<line> in <path>") — and whether the marker `updatingEpoch` of branch 3.4's ZOOKEEPER-1653 fix is there for a
start-up that reads it (3.5+ do not: for them it is never set), and whether the `initialize` file is there.
`zookeeper.db.autocreate` is a parameter (default true: an empty data dir is trusted);
`zookeeper.snapshot.trust.empty=false` is assumed (log entries without a snapshot are refused).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from zkfle.spec.zxid import NO_ZXID, Epoch, Zxid, epoch_of, java_hex

CURRENT_EPOCH = "currentEpoch"
"""`QuorumPeer.CURRENT_EPOCH_FILENAME`."""
ACCEPTED_EPOCH = "acceptedEpoch"
"""`QuorumPeer.ACCEPTED_EPOCH_FILENAME`."""
TMP_SUFFIX = ".tmp"
"""`AtomicFileOutputStream.TMP_EXTENSION`: `currentEpoch.tmp` is the write in progress."""
UPDATING_EPOCH = "updatingEpoch"
"""Branch 3.4's `QuorumPeer.UPDATING_EPOCH_FILENAME`: the NEWLEADER epoch update in progress."""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An epoch file that exists but does not parse: `line` is its first line (None for an empty file, which
    `BufferedReader.readLine` returns as null) and `path` the file's path as ZooKeeper prints it."""

    line: str | None
    path: str

    @property
    def message(self) -> str:
        """`QuorumPeer.readLongFromFile`: `IOException("Found " + line + " in " + file)`; Java prints a null
        line as "null" (semantics.md §2.2: an empty file gives "Found null in <path>")."""
        return f"Found {'null' if self.line is None else self.line} in {self.path}"


EpochFile = Epoch | None | Unreadable
"""The content of one epoch file: its number, None when the file is missing, or `Unreadable`."""


NO_SNAPSHOT_MESSAGE = "No snapshot found, but there are log entries. Something is broken!"
"""`FileTxnSnapLog.restore`'s IOException when the txn log has entries but no snapshot is valid (§3.5)."""


@dataclass(frozen=True, slots=True)
class DurableState:
    """What a server's data dir holds durably: the inputs of `loadDataBase`.

    `snapshot`: a valid snapshot exists; `log_entries`: the txn log has entries; `zxid`: the highest durable
    zxid of both (0 when there are none); `updating_epoch`: the `updatingEpoch` marker is there and start-up
    applies branch 3.4's rule to it (ZOOKEEPER-1653; False for a 3.5+ server, which ignores the file)."""

    zxid: Zxid
    current_epoch: EpochFile
    accepted_epoch: EpochFile
    current_epoch_tmp: EpochFile = None
    snapshot: bool = True
    log_entries: bool = False
    updating_epoch: bool = False
    initialize: bool = False
    """The `initialize` file (`zkServer-initialize.sh`) is in the data dir: restore trusts an empty database
    whatever `zookeeper.db.autocreate` says, and deletes the file."""


FRESH = DurableState(Zxid(0), None, None, None, snapshot=False)
"""An empty data dir. `FileTxnSnapLog.restore` trusts it (db.autocreate) and gives zxid 0; the `snapshot.0` it
writes then is not fsynced (`save(..., syncSnap=false)`), so it does not make the dir durable by itself."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """`loadDataBase` returned: the values in force, and the durable state after its writes (the defaults of
    missing files, the adopted `.tmp` value or zxid epoch; each write goes through `currentEpoch.tmp`,
    consuming it; an adopting marker is deleted)."""

    zxid: Zxid
    current_epoch: Epoch
    accepted_epoch: Epoch
    after: DurableState


@dataclass(frozen=True, slots=True)
class Refused:
    """`loadDataBase` threw the IOException behind "Unable to load database on disk". `message` is its text;
    each value is None when loadDataBase had not read it when it threw."""

    message: str
    zxid: Zxid | None
    current_epoch: Epoch | None
    accepted_epoch: Epoch | None


def load_database(state: DurableState, *, db_autocreate: bool = True) -> Loaded | Refused:
    """`QuorumPeer.loadDataBase` (semantics.md §2.1 steps 1-6).

    restore (§3.5): the `initialize` file is deleted; log entries without a snapshot are refused; nothing at
    all is the empty database, zxid 0 if it is trusted (`db_autocreate`, `zookeeper.db.autocreate`, or the
    `initialize` file), else zxid -1 ("Unexpected empty data tree, setting zxid to -1", ZOOKEEPER-261).
    currentEpoch: missing -> the zxid's epoch, written; older than the zxid's epoch -> with the `updatingEpoch`
    marker the zxid's epoch is adopted, written and the marker deleted (branch 3.4's `loadDataBase`, checked
    right after reading the file; ZOOKEEPER-1653); else `currentEpoch.tmp` is adopted (and written,
    ZOOKEEPER-4269; no check that it is large enough) or the start is refused.
    acceptedEpoch: missing -> the zxid's epoch, written (no `.tmp` fallback); below currentEpoch -> refused.
    """
    if not state.snapshot and state.log_entries:
        return Refused(NO_SNAPSHOT_MESSAGE, None, None, None)
    trusted_empty = db_autocreate or state.initialize
    zxid = state.zxid if state.snapshot else Zxid(0) if trusted_empty else NO_ZXID
    zxid_epoch = epoch_of(zxid)
    after = replace(state, initialize=False)
    current = state.current_epoch
    if isinstance(current, Unreadable):
        return Refused(current.message, zxid, None, None)
    if current is None:
        current = zxid_epoch
        after = replace(after, current_epoch=current, current_epoch_tmp=None)
    elif zxid_epoch > current and state.updating_epoch:
        current = zxid_epoch
        after = replace(after, current_epoch=current, current_epoch_tmp=None, updating_epoch=False)
    if zxid_epoch > current:
        tmp = state.current_epoch_tmp
        if isinstance(tmp, Unreadable):
            return Refused(tmp.message, zxid, current, None)
        if tmp is None:
            message = f"The current epoch, {java_hex(current)}, is older than the last zxid, {zxid}"
            return Refused(message, zxid, current, None)
        current = tmp
        after = replace(after, current_epoch=current, current_epoch_tmp=None)
    accepted = state.accepted_epoch
    if isinstance(accepted, Unreadable):
        return Refused(accepted.message, zxid, current, None)
    if accepted is None:
        accepted = zxid_epoch
        after = replace(after, accepted_epoch=accepted)
    if accepted < current:
        message = f"The accepted epoch, {java_hex(accepted)} is less than the current epoch, {java_hex(current)}"
        return Refused(message, zxid, current, accepted)
    return Loaded(zxid, current, accepted, after)
