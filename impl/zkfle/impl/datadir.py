"""What ZooKeeper 3.8's start-up would do with a data directory: the model behind `zkfle datadir`.

It runs the real start-up code (`load_database`) on a copy-on-write view of the directory, so the answer
is what this implementation of ZooKeeper does, not a second opinion, and the directory is never written.
Beside the verdict it inspects every snapshot and txn log on its own, because an operator wants to see
the file that is broken even where start-up would never read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.impl.logline import LogLine
from zkfle.impl.persistence.epochfiles import (
    ACCEPTED_EPOCH_FILENAME,
    CURRENT_EPOCH_FILENAME,
    TMP_EXTENSION,
    EpochFileError,
    read_long_from_file,
)
from zkfle.impl.persistence.filetxnsnaplog import check_dirs
from zkfle.impl.persistence.fs import CopyOnWriteFileSystem, FileSystem, join
from zkfle.impl.persistence.snapshot import SNAPSHOT_FILE_PREFIX, SnapshotError, decompress, parse_snapshot, quick_check
from zkfle.impl.persistence.txnlog import LOG_FILE_PREFIX, EndKind, log_files, scan_log, sort_data_dir, zxid_from_name
from zkfle.impl.recovery import UPDATING_EPOCH_FILENAME, DatabaseLoaded, DatabaseRefused, LoadOptions, load_database
from zkfle.spec.zxid import epoch_of, java_hex

VERSION_DIR = "version-2"
"""`FileTxnSnapLog.version` + 2: both the snapshot and the log directory live in `version-2`."""
EXIT_DATADIR = 3
"""`ExitCode.UNABLE_TO_ACCESS_DATADIR`: QuorumPeerMain's exit code for a `DatadirException`."""


class NotADataDirError(Exception):
    """The path cannot be a ZooKeeper data directory (absent, not a directory, unreadable)."""


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """One `snapshot.<zxid>` file, judged on its own, and what restore did with it."""

    name: str
    zxid: int
    size: int
    valid: bool
    reason: str
    """Why it is invalid (ZooKeeper's text), or a short description when valid."""
    used: bool
    nodes: int | None
    sessions: int | None


@dataclass(frozen=True, slots=True)
class TxnLogInfo:
    """One `log.<zxid>` file, scanned on its own."""

    name: str
    start_zxid: int
    size: int
    records: int
    first_zxid: int | None
    last_zxid: int | None
    epochs: tuple[int, ...]
    end: EndKind
    message: str
    """ZooKeeper's text for the way the file ended, "" for a clean end."""
    data_end: int
    partial_tail: bool
    read_at_startup: bool
    """Whether restore reads this file (`FileTxnLog.getLogFiles` from the snapshot's zxid)."""

    @property
    def valid(self) -> bool:
        return not self.end.fatal


@dataclass(frozen=True, slots=True)
class EpochFileInfo:
    """An epoch file as found: its value, or why it could not be read."""

    name: str
    present: bool
    value: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DataDirReport:
    """Everything `zkfle datadir` says about one data directory."""

    data_dir: str
    snap_dir: str
    log_dir: str
    myid: str | None
    """The first line of `myid`, or None when the file is missing."""
    snapshots: tuple[SnapshotInfo, ...]
    txn_logs: tuple[TxnLogInfo, ...]
    epoch_files: tuple[EpochFileInfo, ...]
    outcome: DatabaseLoaded | DatabaseRefused | None
    """None when start-up stops before loadDataBase (`datadir_error`)."""
    datadir_error: str | None
    """A `DatadirException` of FileTxnSnapLog's constructor (exit code 3), e.g. logs in the snapshot dir."""
    would_write: tuple[str, ...]
    """The changes start-up makes to the directory, in order (`write <path>`, `rename <a> -> <b>`, ...)."""
    notes: tuple[str, ...]
    updating_epoch: bool = False
    """`version-2/updatingEpoch` is there: branch 3.4's ZOOKEEPER-1653 marker, which 3.8 ignores."""

    @property
    def would_start(self) -> bool:
        return isinstance(self.outcome, DatabaseLoaded)

    @property
    def exit_code(self) -> int | None:
        """QuorumPeerMain's exit code if it refuses, None if it starts."""
        if self.datadir_error is not None:
            return EXIT_DATADIR
        if isinstance(self.outcome, DatabaseRefused):
            return self.outcome.exit_code
        return None

    @property
    def message(self) -> str | None:
        if self.datadir_error is not None:
            return self.datadir_error
        if isinstance(self.outcome, DatabaseRefused):
            return self.outcome.message
        return None

    @property
    def exception(self) -> str | None:
        """The exception line ZooKeeper prints for a refusal: `java.io.IOException: <message>`, or the class
        alone when the exception has no message (an EOFException from a log cut inside its header)."""
        if self.datadir_error is not None:
            kind = (
                "LogDirContentCheckException"
                if self.datadir_error.startswith("Log")
                else "SnapDirContentCheckException"
            )
            return f"org.apache.zookeeper.server.persistence.FileTxnSnapLog${kind}: {self.datadir_error}"
        if isinstance(self.outcome, DatabaseRefused):
            refused = self.outcome
            return f"{refused.java_class}: {refused.message}" if refused.message else refused.java_class
        return None

    @property
    def log(self) -> tuple[LogLine, ...]:
        return () if self.outcome is None else self.outcome.log

    def epoch_file(self, name: str) -> EpochFileInfo:
        return next(info for info in self.epoch_files if info.name == name)


def inspect_data_dir(
    fs: FileSystem, data_dir: str, log_dir: str | None = None, options: LoadOptions | None = None
) -> DataDirReport:
    """Inspect `data_dir` (and `log_dir`, ZooKeeper's dataLogDir, when it differs) and predict start-up."""
    for path in (data_dir, log_dir):
        if path is not None and not fs.is_dir(path):
            raise NotADataDirError(f"{path} is not a directory" if fs.exists(path) else f"{path} does not exist")
    notes: list[str] = []
    snap_dir = join(data_dir, VERSION_DIR)
    txn_dir = join(log_dir or data_dir, VERSION_DIR)
    names = fs.list_dir(data_dir)
    if not fs.is_dir(snap_dir):
        looks_like_version_dir = any(
            n.startswith((SNAPSHOT_FILE_PREFIX + ".", LOG_FILE_PREFIX + ".")) or n == CURRENT_EPOCH_FILENAME
            for n in names
        )
        if looks_like_version_dir:
            parent = data_dir.rstrip("/").rsplit("/", 1)[0] or "/"
            raise NotADataDirError(
                f"{data_dir} holds snapshots, logs or epoch files itself: it looks like the {VERSION_DIR} "
                f"directory; pass the data directory that contains it ({parent})"
            )
        notes.append(f"there is no {VERSION_DIR} directory: ZooKeeper creates it and starts with an empty database")
    myid = _read_myid(fs, data_dir)
    if myid is None:
        notes.append("there is no myid file: a quorum member refuses to start with 'myid file is missing'")
    view = CopyOnWriteFileSystem(fs)
    for directory in (snap_dir, txn_dir):
        view.mkdirs(directory)  # FileTxnSnapLog's constructor creates them (zookeeper.datadir.autocreate=true)
    epoch_files = tuple(_epoch_file(fs, snap_dir, name) for name in _EPOCH_FILES)
    marker = fs.exists(join(snap_dir, UPDATING_EPOCH_FILENAME))
    if marker:
        notes.append(
            f"{VERSION_DIR}/{UPDATING_EPOCH_FILENAME} is there: ZooKeeper 3.4 leaves it when it stops between the "
            "NEWLEADER snapshot and the currentEpoch write and acts on it at start-up (ZOOKEEPER-1653); 3.8 ignores it"
        )
    datadir_error = check_dirs(view, txn_dir, snap_dir)
    outcome = None if datadir_error is not None else load_database(view, snap_dir, txn_dir, options)
    used = outcome.restore.snapshot_used if outcome is not None and outcome.restore is not None else None
    snapshots = _snapshots(fs, snap_dir, used)
    snapshot_zxid = -1 if used is None else zxid_from_name(used, SNAPSHOT_FILE_PREFIX)
    return DataDirReport(
        data_dir=data_dir,
        snap_dir=snap_dir,
        log_dir=txn_dir,
        myid=myid,
        snapshots=snapshots,
        txn_logs=_txn_logs(fs, txn_dir, snapshot_zxid),
        epoch_files=epoch_files,
        outcome=outcome,
        datadir_error=datadir_error,
        would_write=tuple(_describe(change) for change in view.changes),
        notes=tuple(notes),
        updating_epoch=marker,
    )


_EPOCH_FILES = (
    CURRENT_EPOCH_FILENAME,
    ACCEPTED_EPOCH_FILENAME,
    CURRENT_EPOCH_FILENAME + TMP_EXTENSION,
    ACCEPTED_EPOCH_FILENAME + TMP_EXTENSION,
)


def _read_myid(fs: FileSystem, data_dir: str) -> str | None:
    path = join(data_dir, "myid")
    if not fs.exists(path) or fs.is_dir(path):
        return None
    text = fs.read_bytes(path).decode("utf-8", errors="replace")
    return text.splitlines()[0] if text else ""


def _epoch_file(fs: FileSystem, snap_dir: str, name: str) -> EpochFileInfo:
    path = join(snap_dir, name)
    if not fs.exists(path):
        return EpochFileInfo(name, present=False, value=None, error=None)
    try:
        return EpochFileInfo(name, present=True, value=read_long_from_file(fs, path), error=None)
    except EpochFileError as exc:
        return EpochFileInfo(name, present=True, value=None, error=exc.message)


def _snapshots(fs: FileSystem, snap_dir: str, used: str | None) -> tuple[SnapshotInfo, ...]:
    if not fs.is_dir(snap_dir):
        return ()
    infos = []
    for name in sort_data_dir(fs.list_dir(snap_dir), SNAPSHOT_FILE_PREFIX, False):
        zxid = zxid_from_name(name, SNAPSHOT_FILE_PREFIX)
        path = join(snap_dir, name)
        if zxid == -1 or fs.is_dir(path):
            continue
        data = fs.read_bytes(path)
        refusal = quick_check(name, data)
        nodes = sessions = None
        if refusal is not None:
            valid, reason = False, refusal or f"too short ({len(data)} bytes)"
        else:
            try:
                content = parse_snapshot(decompress(name, data))
            except SnapshotError as exc:
                valid, reason = False, exc.message
            else:
                valid, reason = True, "valid: header, nodes and seals check"
                nodes, sessions = len(content.nodes), len(content.sessions)
        infos.append(SnapshotInfo(name, zxid, len(data), valid, reason, name == used, nodes, sessions))
    return tuple(infos)


def _txn_logs(fs: FileSystem, log_dir: str, snapshot_zxid: int) -> tuple[TxnLogInfo, ...]:
    if not fs.is_dir(log_dir):
        return ()
    names = [
        n for n in fs.list_dir(log_dir) if zxid_from_name(n, LOG_FILE_PREFIX) != -1 and not fs.is_dir(join(log_dir, n))
    ]
    read = set(log_files(names, snapshot_zxid)) if snapshot_zxid != -1 else set()
    infos = []
    for name in sort_data_dir(names, LOG_FILE_PREFIX, True):
        path = join(log_dir, name)
        data = fs.read_bytes(path)
        scan = scan_log(data, path)
        zxids = [entry.zxid for entry in scan.entries]
        infos.append(
            TxnLogInfo(
                name=name,
                start_zxid=zxid_from_name(name, LOG_FILE_PREFIX),
                size=len(data),
                records=len(zxids),
                first_zxid=zxids[0] if zxids else None,
                last_zxid=zxids[-1] if zxids else None,
                epochs=tuple(sorted({epoch_of(z) for z in zxids})),
                end=scan.end,
                message=scan.message,
                data_end=scan.data_end,
                partial_tail=scan.partial_tail,
                read_at_startup=name in read,
            )
        )
    return tuple(infos)


def _describe(change: tuple[str, str]) -> str:
    operation, path = change
    if operation.startswith("rename->"):
        return f"rename {path} -> {operation.removeprefix('rename->')}"
    return f"{operation} {path}"


def zxid_text(zxid: int) -> str:
    """A zxid as ZooKeeper's logs print it: `0x` + `Long.toHexString`."""
    return "0x" + java_hex(zxid)


def explain(report: DataDirReport) -> tuple[str, ...]:
    """Why start-up does what it does, and what an operator can do about a refusal, in plain words.

    The causes named here are the known ways ZooKeeper 3.8 reaches each state (semantics.md §9).
    """
    message = report.message
    zxid = report.outcome.zxid if report.outcome is not None else None
    lines: list[str] = []
    if message is None:
        loaded = report.outcome
        assert isinstance(loaded, DatabaseLoaded)
        tmp = report.epoch_file(CURRENT_EPOCH_FILENAME + TMP_EXTENSION)
        if any("currentEpoch.tmp found" in line.text for line in loaded.log):
            lines.append(
                f"currentEpoch is older than the last zxid, but {CURRENT_EPOCH_FILENAME}{TMP_EXTENSION} holds "
                f"{tmp.value}: ZooKeeper adopts that value without checking it (ZOOKEEPER-4269) and the rename "
                "removes the tmp file."
            )
            if loaded.current_epoch < epoch_of(loaded.zxid):
                lines.append(
                    f"The adopted currentEpoch {loaded.current_epoch} is still below the epoch of the last zxid "
                    f"({epoch_of(loaded.zxid)}); 3.8 starts anyway and votes with peerEpoch {loaded.current_epoch}."
                )
        lines.extend(
            f"{log.name} ends with a partial record at offset {log.data_end}: ZooKeeper ignores it, and the next "
            "transaction goes to a new log file."
            for log in report.txn_logs
            if log.partial_tail and log.read_at_startup
        )
        lines.extend(
            f"{snap.name} is not usable ({snap.reason}); restore fell back to an older snapshot."
            for snap in report.snapshots
            if not snap.valid and loaded.restore.snapshot_used is not None and snap.zxid > _used_zxid(report)
        )
        return tuple(lines)
    if report.datadir_error is not None:
        return (
            "FileTxnSnapLog refuses directories whose contents do not match their role: check that dataDir and "
            "dataLogDir in zoo.cfg name the right directories.",
        )
    if message.startswith("The current epoch,") and zxid is not None:
        holder = next((log.name for log in report.txn_logs if epoch_of(zxid) in log.epochs), None)
        where = f" (in {holder})" if holder else ""
        lines += [
            f"The newest transaction restored is {zxid_text(zxid)}{where}, of epoch {epoch_of(zxid)}, but "
            f"currentEpoch says {report.outcome.current_epoch if report.outcome else '?'}. loadDataBase refuses "
            "a database that holds transactions of an epoch newer than currentEpoch, and there is no "
            "currentEpoch.tmp to recover from.",
            "Known causes: a learner crashed after writing the NEWLEADER snapshot and before writing "
            "currentEpoch (ZOOKEEPER-1653/2354, still open in 3.8); an epoch file restored or copied from an "
            "older state; a version-2 directory put together from different servers.",
            "What you can do: if the other servers still form a quorum, stop this one, move its version-2 "
            "directory aside and restart it: it syncs from the leader. To keep this data instead, write "
            f"{epoch_of(zxid)} into currentEpoch (what 3.4's updatingEpoch fix does), provided acceptedEpoch is at "
            "least that.",
        ]
        if report.updating_epoch:
            lines.append(
                f"{UPDATING_EPOCH_FILENAME} is there, so this is that crash: ZooKeeper 3.4 would set currentEpoch "
                f"to {epoch_of(zxid)}, delete the file and start; 3.5+ (3.8 too) never read it."
            )
    elif message.startswith("The accepted epoch,"):
        current = report.outcome.current_epoch if report.outcome else None
        lines += [
            "acceptedEpoch is below currentEpoch: in a correct run acceptedEpoch is written (discovery) before "
            "currentEpoch (synchronisation), so this cannot happen without a failed or lost epoch write "
            "(ZOOKEEPER-2307, where memory was updated although the file write failed) or a manual edit.",
            f"What you can do: write {current} into acceptedEpoch, or move version-2 aside and let the server "
            "sync from the leader.",
        ]
    elif message.startswith("Found "):
        lines += [
            "An epoch file exists but does not hold a decimal number on its first line. ZooKeeper falls back to "
            "a default only when the file is missing, never when it is unreadable.",
            "What you can do: write the right value into it; if you delete it, ZooKeeper writes the epoch of the "
            f"last zxid ({epoch_of(zxid) if zxid is not None else '?'}) as its default.",
        ]
    elif message in ("CRC check failed",) or message.startswith(("Unreasonable length", "Transaction log:")):
        bad = [log for log in report.txn_logs if log.end.fatal and log.read_at_startup]
        for log in bad:
            lines.append(
                f"{log.name}: reading stops at offset {log.data_end} ({log.message or log.end.value}); "
                f"{log.records} good records before it, last zxid "
                f"{zxid_text(log.last_zxid) if log.last_zxid is not None else 'none'}."
            )
        lines.append(
            "ZooKeeper never skips a damaged entry. What you can do: move version-2 aside and let the server sync "
            "from the leader, or cut the log file at the offset above (the entries from there on are lost)."
        )
    elif (
        message == ""
        and isinstance(report.outcome, DatabaseRefused)
        and report.outcome.java_class.endswith("EOFException")
    ):
        short = [log for log in report.txn_logs if log.end is EndKind.HEADER_EOF]
        names = ", ".join(f"{log.name} ({log.size} bytes)" for log in short) or "a txn log"
        lines.append(
            f"{names} is shorter than the 16-byte log header, as a crash right after ZooKeeper created the file "
            "leaves it; 3.8 cannot open it and fails with a bare EOFException. Such a file holds no transaction: "
            "moving it aside lets the server start."
        )
    elif message.startswith("No snapshot found"):
        lines.append(
            "There are txn logs but no snapshot to apply them to (snapshots deleted, or purged too eagerly). "
            "What you can do: sync this server from the ensemble, or start once with "
            "-Dzookeeper.snapshot.trust.empty=true if the logs begin at the very first transaction."
        )
    elif message.startswith("Not able to find valid snapshots"):
        lines.append(
            "Every snapshot that passed the quick check failed to read (see the snapshots above). "
            "What you can do: sync this server from the ensemble."
        )
    return tuple(lines)


def _used_zxid(report: DataDirReport) -> int:
    return next((snap.zxid for snap in report.snapshots if snap.used), -1)
