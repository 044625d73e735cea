"""`zkfle txnlog FILE`: the entries of one txn log file, as ZooKeeper's TxnLogToolkit lists them.

It reads the file exactly as restore does (`FileTxnLog.FileTxnIterator`), so it stops where ZooKeeper
stops and says why: the zero padding, a partial tail, or a fatal checksum or length error.
Exit codes: 0 the file was read (damage is reported, not an error), 2 not a txn log file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from typing import Any

from zkfle.checker.errors import UsageError
from zkfle.checker.textfmt import table
from zkfle.impl.datadir import zxid_text
from zkfle.impl.drivers.localfs import LocalFileSystem
from zkfle.impl.persistence.records import (
    CheckVersionTxn,
    CloseSessionTxn,
    CreateContainerTxn,
    CreateSessionTxn,
    CreateTTLTxn,
    CreateTxn,
    DeleteTxn,
    ErrorTxn,
    MultiTxn,
    SetACLTxn,
    SetDataTxn,
    Txn,
    op_name,
)
from zkfle.impl.persistence.txnlog import EndKind, LogEntry, LogScan, scan_log
from zkfle.spec.zxid import java_hex


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "txnlog",
        help="list the entries of one txn log file (zxid, type, path, checksum), like TxnLogToolkit",
        description=(
            "List the entries of one ZooKeeper txn log file (log.<zxid>) as restore reads them: zxid, time, "
            "session, type, path and details, and how the file ends (zero padding, partial tail, checksum or "
            "length failure). Exit 0: the file was read; 2: not a txn log."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="a txn log file, e.g. version-2/log.100000001")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = os.path.abspath(args.file)
    fs = LocalFileSystem()
    if not fs.exists(path):
        raise UsageError(f"{args.file} does not exist.")
    if fs.is_dir(path):
        raise UsageError(f"{args.file} is a directory; give one log.<zxid> file (try `zkfle datadir` for a directory).")
    try:
        data = fs.read_bytes(path)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}.") from None
    scan = scan_log(data, path)
    if scan.end in (EndKind.BAD_MAGIC, EndKind.HEADER_EOF):
        raise UsageError(
            f"{args.file} is not a ZooKeeper txn log: {scan.message or 'shorter than its 16-byte header'}."
        )
    if args.format == "json":
        print(json.dumps(to_json(path, scan), indent=2))
    else:
        print("\n".join(to_text(path, scan)))
    return 0


def describe(txn: Txn | None) -> tuple[str, str]:
    """The path (or "") and a short description of a txn's body."""
    match txn:
        case CreateTxn() | CreateContainerTxn() | CreateTTLTxn():
            size = len(txn.data) if txn.data is not None else 0
            extra = " ephemeral" if isinstance(txn, CreateTxn) and txn.ephemeral else ""
            return txn.path, f"{size} bytes{extra}"
        case SetDataTxn():
            return txn.path, f"{len(txn.data) if txn.data is not None else 0} bytes, version {txn.version}"
        case DeleteTxn():
            return txn.path, ""
        case CheckVersionTxn() | SetACLTxn():
            return txn.path, f"version {txn.version}"
        case CreateSessionTxn():
            return "", f"timeout {txn.timeout} ms"
        case CloseSessionTxn():
            return "", f"{len(txn.paths_to_delete or ())} paths to delete"
        case ErrorTxn():
            return "", f"error {txn.err}"
        case MultiTxn():
            ops = ", ".join(op_name(sub.type) for sub in txn.txns or ())
            return "", f"multi of {len(txn.txns or ())}: {ops}"
        case None:
            return "", ""


def _time(ms: int) -> str:
    try:
        return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    except (OverflowError, ValueError, OSError):
        return str(ms)


def _entry_json(entry: LogEntry) -> dict[str, Any]:
    path, detail = describe(entry.txn)
    return {
        "offset": entry.offset,
        "zxid": entry.zxid,
        "zxid_hex": zxid_text(entry.zxid),
        "time": entry.header.time,
        "session": entry.header.client_id,
        "cxid": entry.header.cxid,
        "type": op_name(entry.header.type),
        "path": path or None,
        "detail": detail or None,
        "checksum": "ok",
        "digest": entry.digest.tree_digest if entry.digest is not None else None,
    }


def _end_text(scan: LogScan) -> str:
    match scan.end:
        case EndKind.CLEAN:
            return f"end: zero padding at offset {scan.end_offset} (a clean end; file size {scan.size})"
        case EndKind.EOF:
            if scan.partial_tail:
                return f"end: partial record at offset {scan.data_end} (the file ends inside it; ZooKeeper ignores it)"
            return f"end: end of file at offset {scan.end_offset}"
        case EndKind.PARTIAL:
            return (
                f"end: partial record at offset {scan.end_offset}: ZooKeeper logs 'Last transaction was partial.' "
                "and ignores it"
            )
        case _:
            return (
                f"end: FATAL at offset {scan.end_offset}: {scan.message or scan.end.value}; ZooKeeper refuses to "
                "start while this file is read at start-up"
            )


def to_json(path: str, scan: LogScan) -> dict[str, Any]:
    return {
        "file": path,
        "header": None
        if scan.header is None
        else {"magic": scan.header.magic, "version": scan.header.version, "dbid": scan.header.dbid},
        "entries": [_entry_json(entry) for entry in scan.entries],
        "end": scan.end.value,
        "fatal": scan.end.fatal,
        "message": scan.message or None,
        "end_offset": scan.end_offset,
        "data_end": scan.data_end,
        "partial_tail": scan.partial_tail,
        "size": scan.size,
    }


def to_text(path: str, scan: LogScan) -> list[str]:
    header = scan.header
    out = [
        f"ZooKeeper txn log {path}",
        f"  format version {header.version if header else '?'}, dbid {header.dbid if header else '?'}, "
        f"{len(scan.entries)} entries, {scan.size} bytes",
        "",
    ]
    rows = []
    for entry in scan.entries:
        where, detail = describe(entry.txn)
        rows.append(
            (
                zxid_text(entry.zxid),
                _time(entry.header.time),
                "0x" + java_hex(entry.header.client_id),
                "0x" + java_hex(entry.header.cxid & 0xFFFFFFFF),
                op_name(entry.header.type),
                where or "-",
                detail,
            )
        )
    out += table(("zxid", "time (UTC)", "session", "cxid", "type", "path", "detail"), rows)
    out += ["", _end_text(scan)]
    return out
