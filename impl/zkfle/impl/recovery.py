"""`QuorumPeer.loadDataBase`: restore the database, then read and check the epoch files (semantics.md §2.1).

This is the code path behind "The current epoch, 1, is older than the last zxid, ..." and "The accepted
epoch, 1 is less than the current epoch, 2". It runs over any `FileSystem`, so the simulator can run it on
what a crashed server's disk really holds, and `zkfle datadir` can run it on a copy-on-write view of a real
directory and report which files ZooKeeper would write.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.impl.logline import Level, LogLine
from zkfle.impl.persistence.epochfiles import (
    ACCEPTED_EPOCH_FILENAME,
    CURRENT_EPOCH_FILENAME,
    TMP_EXTENSION,
    EpochFileError,
    epoch_path,
    read_long_from_file,
    write_long_to_file,
)
from zkfle.impl.persistence.filetxnsnaplog import RestoreError, RestoreResult, restore
from zkfle.impl.persistence.fs import FileSystem
from zkfle.spec.zxid import epoch_of, java_hex

UPDATING_EPOCH_FILENAME = "updatingEpoch"
"""Branch 3.4's `QuorumPeer.UPDATING_EPOCH_FILENAME` (ZOOKEEPER-1653): in the snapshot dir while a learner's
NEWLEADER handling runs (`Learner.syncWithLeader` creates it before the snapshot, deletes it after
`setCurrentEpoch`). 3.5+ neither write nor read it."""

EXIT_CODE_UNEXPECTED = 1
"""`ExitCode.UNEXPECTED_ERROR`: QuorumPeerMain's exit code when `start()` throws (any load failure)."""


@dataclass(frozen=True, slots=True)
class DatabaseLoaded:
    """`loadDataBase` succeeded: the values in force after it (defaults written, `.tmp` adopted)."""

    zxid: int
    """`DataTree.lastProcessedZxid` after restore: the zxid the server will vote with."""
    current_epoch: int
    accepted_epoch: int
    restore: RestoreResult
    log: tuple[LogLine, ...]


@dataclass(frozen=True, slots=True)
class DatabaseRefused:
    """`loadDataBase` threw: ZooKeeper logs "Unable to load database on disk" and exits with code 1.

    `zxid`, `current_epoch`, `accepted_epoch` are what was known when it failed (None where not read yet).
    """

    message: str
    """The exception's text, exactly as ZooKeeper prints it."""
    zxid: int | None
    current_epoch: int | None
    accepted_epoch: int | None
    restore: RestoreResult | None
    log: tuple[LogLine, ...]
    java_class: str = "java.io.IOException"
    exit_code: int = EXIT_CODE_UNEXPECTED


LoadOutcome = DatabaseLoaded | DatabaseRefused


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """The switches of loadDataBase's behaviour: ZooKeeper 3.8's is the default."""

    db_autocreate: bool = True
    """`zookeeper.db.autocreate`: an empty data dir is trusted and gets `snapshot.0`."""
    snapshot_trust_empty: bool = False
    """`zookeeper.snapshot.trust.empty`: logs without a snapshot are replayed instead of refused."""
    digest_enabled: bool = True
    """`zookeeper.digest.enabled`."""
    current_epoch_tmp_fallback: bool = True
    """ZOOKEEPER-4269's fix (in 3.8): adopt `currentEpoch.tmp` when currentEpoch is older than the log."""
    updating_epoch_marker: bool = False
    """Branch 3.4's fix of ZOOKEEPER-1653 (never in 3.5+, so off here): with the `updatingEpoch` marker, a
    currentEpoch older than the log's epoch is replaced by the log's epoch. zkfle's peer turns it on."""


def load_database(
    fs: FileSystem, snap_dir: str, data_log_dir: str | None = None, options: LoadOptions | None = None
) -> LoadOutcome:
    """`QuorumPeer.loadDataBase` over `fs`, in ZooKeeper's order of reads and writes.

    `snap_dir` and `data_log_dir` are the `version-2` directories (`FileTxnSnapLog(dataLogDir, dataDir)`).
    """
    opts = options or LoadOptions()
    log: list[LogLine] = []
    try:
        restored = restore(
            fs,
            data_log_dir or snap_dir,
            snap_dir,
            db_autocreate=opts.db_autocreate,
            snapshot_trust_empty=opts.snapshot_trust_empty,
            digest_enabled=opts.digest_enabled,
        )
    except RestoreError as exc:
        return _refuse(exc.message, log, java_class=exc.java_class)
    log.extend(restored.log)
    zxid = restored.tree.last_processed_zxid
    zxid_epoch = epoch_of(zxid)
    current: int | None = None
    accepted: int | None = None
    current_path = epoch_path(snap_dir, CURRENT_EPOCH_FILENAME)
    try:
        try:
            current = read_long_from_file(fs, current_path)
        except FileNotFoundError:
            current = zxid_epoch
            log.append(LogLine(Level.INFO, _default_text(CURRENT_EPOCH_FILENAME, current)))
            write_long_to_file(fs, current_path, current)
        else:
            marker = epoch_path(snap_dir, UPDATING_EPOCH_FILENAME)
            if opts.updating_epoch_marker and zxid_epoch > current and fs.exists(marker):
                # branch 3.4's QuorumPeer.loadDataBase: the NEWLEADER snapshot was taken, setCurrentEpoch not
                log.append(LogLine(Level.INFO, _marker_text(zxid_epoch)))
                write_long_to_file(fs, current_path, zxid_epoch)
                current = zxid_epoch
                try:
                    fs.delete(marker)
                except OSError:  # File.delete() returned false
                    return _refuse(f"Failed to delete {marker}", log, zxid=zxid, current=current, restored=restored)
        if zxid_epoch > current:
            tmp_path = current_path + TMP_EXTENSION
            if not (opts.current_epoch_tmp_fallback and fs.exists(tmp_path)):
                return _refuse(
                    f"The current epoch, {java_hex(current)}, is older than the last zxid, {zxid}",
                    log,
                    zxid=zxid,
                    current=current,
                    restored=restored,
                )
            tmp_value = read_long_from_file(fs, tmp_path)
            log.append(LogLine(Level.INFO, f"{tmp_path} found. Setting current epoch to {tmp_value}."))
            write_long_to_file(fs, current_path, tmp_value)  # setCurrentEpoch: the file first, then memory
            current = tmp_value
        accepted_path = epoch_path(snap_dir, ACCEPTED_EPOCH_FILENAME)
        try:
            accepted = read_long_from_file(fs, accepted_path)
        except FileNotFoundError:
            accepted = zxid_epoch
            log.append(LogLine(Level.INFO, _default_text(ACCEPTED_EPOCH_FILENAME, accepted)))
            write_long_to_file(fs, accepted_path, accepted)
        if accepted < current:
            return _refuse(
                f"The accepted epoch, {java_hex(accepted)} is less than the current epoch, {java_hex(current)}",
                log,
                zxid=zxid,
                current=current,
                accepted=accepted,
                restored=restored,
            )
    except EpochFileError as exc:
        return _refuse(exc.message, log, zxid=zxid, current=current, accepted=accepted, restored=restored)
    return DatabaseLoaded(zxid, current, accepted, restored, tuple(log))


def _marker_text(epoch: int) -> str:
    return (
        f"{UPDATING_EPOCH_FILENAME} found. The server was terminated after taking a snapshot but before updating "
        f"current epoch. Setting current epoch to {epoch}."
    )


def _default_text(name: str, value: int) -> str:
    return (
        f"{name} not found! Creating with a reasonable default of {value}. "
        "This should only happen when you are upgrading your installation"
    )


def _refuse(
    message: str,
    log: list[LogLine],
    *,
    zxid: int | None = None,
    current: int | None = None,
    accepted: int | None = None,
    restored: RestoreResult | None = None,
    java_class: str = "java.io.IOException",
) -> DatabaseRefused:
    log.append(LogLine(Level.ERROR, "Unable to load database on disk"))
    log.append(LogLine(Level.ERROR, f"{java_class}: {message}" if message else java_class))
    log.append(LogLine(Level.ERROR, "Unexpected exception, exiting abnormally"))
    log.append(LogLine(Level.ERROR, f"Exiting JVM with code {EXIT_CODE_UNEXPECTED}"))
    return DatabaseRefused(message, zxid, current, accepted, restored, tuple(log), java_class)
