"""`zkfle datadir DIR [--log-dir DIR]`: what ZooKeeper 3.8's start-up would do with a data directory.

Exit codes (cli.md): 0 would start, 1 would refuse, 2 not a data directory or unreadable.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from zkfle.checker.errors import UsageError
from zkfle.checker.textfmt import table, wrap
from zkfle.impl.datadir import (
    DataDirReport,
    NotADataDirError,
    SnapshotInfo,
    TxnLogInfo,
    explain,
    inspect_data_dir,
    zxid_text,
)
from zkfle.impl.drivers.localfs import LocalFileSystem
from zkfle.impl.persistence.epochfiles import CURRENT_EPOCH_FILENAME, TMP_EXTENSION
from zkfle.impl.recovery import DatabaseLoaded, LoadOptions
from zkfle.spec.zxid import counter_of, epoch_of


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "datadir",
        help="what ZooKeeper 3.8's start-up (loadDataBase) would do with a data directory",
        description=(
            "Read a ZooKeeper data directory (never writing to it) and say what ZooKeeper 3.8's start-up would do: "
            "every snapshot and txn log, the restored last zxid, the epoch files, and the verdict (start with "
            "which values and which files written, or refuse with ZooKeeper's message and exit code). "
            "Exit 0: would start; 1: would refuse; 2: not a data directory."
        ),
    )
    parser.add_argument("dir", metavar="DIR", help="the dataDir (the directory that holds myid and version-2)")
    parser.add_argument("--log-dir", metavar="DIR", help="the dataLogDir, when it differs from the dataDir")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--trust-empty-snapshot",
        action="store_true",
        help="as -Dzookeeper.snapshot.trust.empty=true: replay logs even without a snapshot",
    )
    parser.add_argument(
        "--no-db-autocreate",
        action="store_true",
        help="as -Dzookeeper.db.autocreate=false: an empty directory is not trusted (zxid -1)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = LoadOptions(db_autocreate=not args.no_db_autocreate, snapshot_trust_empty=args.trust_empty_snapshot)
    data_dir = os.path.abspath(args.dir)
    log_dir = os.path.abspath(args.log_dir) if args.log_dir else None
    try:
        report = inspect_data_dir(LocalFileSystem(), data_dir, log_dir, options)
    except NotADataDirError as exc:
        raise UsageError(f"{exc}.") from None
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename or data_dir}: {exc.strerror or exc}.") from None
    if args.format == "json":
        print(json.dumps(to_json(report), indent=2))
    else:
        print("\n".join(to_text(report)))
    return 0 if report.would_start else 1


def to_json(report: DataDirReport) -> dict[str, Any]:
    """The documented JSON object (cli.md): the keys scripts rely on, then the details."""
    outcome = report.outcome
    epoch = {info.name: info for info in report.epoch_files}
    current_tmp = epoch[CURRENT_EPOCH_FILENAME + TMP_EXTENSION]
    return {
        "data_dir": report.data_dir,
        "snap_dir": report.snap_dir,
        "log_dir": report.log_dir,
        "myid": report.myid,
        "last_processed_zxid": None if outcome is None else outcome.zxid,
        "current_epoch": None if outcome is None else outcome.current_epoch,
        "accepted_epoch": None if outcome is None else outcome.accepted_epoch,
        "current_epoch_tmp": current_tmp.value,
        "verdict": "start" if report.would_start else "refuse",
        "message": report.message,
        "exception": report.exception,
        "exit_code": report.exit_code,
        "epoch_files": {
            name: {"present": info.present, "value": info.value, "error": info.error} for name, info in epoch.items()
        },
        "snapshots": [_snapshot_json(s) for s in report.snapshots],
        "txn_logs": [_log_json(log) for log in report.txn_logs],
        "txns_replayed": None if outcome is None or outcome.restore is None else outcome.restore.txns_replayed,
        "snapshot_used": None if outcome is None or outcome.restore is None else outcome.restore.snapshot_used,
        "would_write": list(report.would_write),
        "zookeeper_log": [{"level": line.level.value, "text": line.text} for line in report.log],
        "explanation": list(explain(report)),
        "notes": list(report.notes),
    }


def _snapshot_json(s: SnapshotInfo) -> dict[str, Any]:
    return {
        "name": s.name,
        "zxid": s.zxid,
        "size": s.size,
        "valid": s.valid,
        "reason": s.reason,
        "used": s.used,
        "nodes": s.nodes,
        "sessions": s.sessions,
    }


def _log_json(log: TxnLogInfo) -> dict[str, Any]:
    return {
        "name": log.name,
        "start_zxid": log.start_zxid,
        "size": log.size,
        "valid": log.valid,
        "records": log.records,
        "first_zxid": log.first_zxid,
        "last_zxid": log.last_zxid,
        "epochs": list(log.epochs),
        "end": log.end.value,
        "message": log.message,
        "data_end": log.data_end,
        "partial_tail": log.partial_tail,
        "read_at_startup": log.read_at_startup,
    }


def _zxid_or_dash(zxid: int | None) -> str:
    return "-" if zxid is None else zxid_text(zxid)


def to_text(report: DataDirReport) -> list[str]:
    """The report for people: files, restore, epochs, verdict, why, and ZooKeeper's log."""
    out = [
        f"ZooKeeper data directory {report.data_dir}",
        f"  myid: {report.myid if report.myid is not None else '(missing)'}",
    ]
    if report.log_dir != report.snap_dir:
        out.append(f"  dataLogDir: {report.log_dir}")
    out += [f"  note: {note}" for note in report.notes]
    out += ["", "Snapshots (newest first)"]
    if report.snapshots:
        out += table(
            ("name", "bytes", "valid", "used", "detail"),
            [
                (s.name, str(s.size), "yes" if s.valid else "NO", "used" if s.used else "", s.reason)
                for s in report.snapshots
            ],
        )
    else:
        out.append("  (none)")
    out += ["", "Txn logs"]
    if report.txn_logs:
        out += table(
            ("name", "bytes", "records", "first zxid", "last zxid", "epochs", "end", "read at start-up"),
            [
                (
                    log.name,
                    str(log.size),
                    str(log.records),
                    _zxid_or_dash(log.first_zxid),
                    _zxid_or_dash(log.last_zxid),
                    ",".join(map(str, log.epochs)) or "-",
                    _log_end(log),
                    "yes" if log.read_at_startup else "no",
                )
                for log in report.txn_logs
            ],
        )
    else:
        out.append("  (none)")
    out += ["", "Epoch files"]
    for info in report.epoch_files:
        shown = (
            "(absent)" if not info.present else str(info.value) if info.error is None else f"unreadable: {info.error}"
        )
        out.append(f"  {info.name:<18} {shown}")
    outcome = report.outcome
    if outcome is not None and outcome.zxid is not None:
        restore = outcome.restore
        source = ""
        if restore is not None:
            source = f" from {restore.snapshot_used or 'no snapshot'} + {restore.txns_replayed} txns replayed"
        z = outcome.zxid
        out += ["", f"Restored last zxid: {zxid_text(z)} (epoch {epoch_of(z)}, counter {counter_of(z)}){source}"]
    out.append("")
    if isinstance(outcome, DatabaseLoaded):
        out.append(
            f"Verdict: START. ZooKeeper 3.8 loads the database and enters the election with zxid "
            f"{zxid_text(outcome.zxid)}, currentEpoch {outcome.current_epoch}, acceptedEpoch {outcome.accepted_epoch}."
        )
    else:
        out.append(f"Verdict: REFUSE. ZooKeeper 3.8 exits with code {report.exit_code}:")
        out.append(f"  {report.exception}")
    out.append("Start-up would write:" if report.would_write else "Start-up writes nothing.")
    out += [f"  {change}" for change in report.would_write]
    why = explain(report)
    if why:
        out += ["", "Why"]
        for paragraph in why:
            out += wrap(paragraph)
    if report.log:
        out += ["", "ZooKeeper would log"]
        out += [f"  {line}" for line in report.log]
    return out


def _log_end(log: TxnLogInfo) -> str:
    if log.partial_tail:
        return f"partial tail at {log.data_end}"
    if log.end.fatal:
        return f"{log.end.value} at {log.data_end}: {log.message}"
    return log.end.value
