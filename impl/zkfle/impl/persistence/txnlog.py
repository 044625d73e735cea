"""ZooKeeper 3.8's transaction log files, both ways (`FileTxnLog`, `FileTxnLog.FileTxnIterator`,
`Util.readTxnBytes`, `Util.sortDataDir`, `FilePadding`).

Layout (verified by hex dump of the corpus)::

    FileHeader{magic "ZKLG" 0x5A4B4C47, version 2, dbid 0}             16 bytes
    entry*: long adler32(txn) | int len | txn (TxnHeader+body+TxnDigest) | byte 'B'
    zeros up to the preallocated size

How reading one file ends (FileTxnIterator.next), as `EndKind`:
* CLEAN: a zero length, the preallocated zeros ("empty transaction") - normal end;
* EOF: the bytes ran out (possibly inside an entry: a partial tail, dropped silently);
* PARTIAL: the byte after an entry is not 'B': ERROR "Last transaction was partial.", end of this file;
* CRC: checksum mismatch: `IOException("CRC check failed")`, fatal for restore;
* LENGTH: a length outside [0, 2 MiB]: `IOException("Unreasonable length = N")`, fatal;
* NULL_BUFFER: length -1: readBuffer returns null and readTxnBytes dereferences it, a
  NullPointerException (read from code, not run), fatal;
* UNSUPPORTED: an unknown txn type, `IOException("Unsupported Txn with type=%d<type>")`, fatal;
* BAD_MAGIC: `IOException("Transaction log: <file> has invalid magic number M != 1514884167")`, fatal;
* HEADER_EOF: the file is shorter than its 16-byte header: EOFException when it is opened, fatal in
  3.8.0 (later versions delete an empty last log; 3.8.0 does not - read from code).
A txn body cut short inside a CRC-valid entry is an EOFException too, so it ends the file like EOF.
"""

from __future__ import annotations

import enum
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from zkfle.impl.logline import Level, LogLine
from zkfle.impl.persistence.fs import FileSystem, join
from zkfle.impl.persistence.jute import JuteEOFError, JuteLengthError, JuteReader, JuteWriter
from zkfle.impl.persistence.records import (
    FileHeader,
    Txn,
    TxnDecodeError,
    TxnDigest,
    TxnHeader,
    decode_txn_entry,
    encode_txn_entry,
    op_name,
)
from zkfle.spec.zxid import INT64_MAX, INT64_MIN, java_hex

TXNLOG_MAGIC = 0x5A4B4C47
"""`FileTxnLog.TXNLOG_MAGIC` = "ZKLG" (1514884167)."""
TXNLOG_VERSION = 2
TXNLOG_DBID = 0
"""`FileTxnLog.dbId`: never set, so 0."""
LOG_FILE_PREFIX = "log"
HEADER_SIZE = 16
DEFAULT_PREALLOC_SIZE = 64 * 1024 * 1024
"""`FilePadding.preAllocSize` default (`zookeeper.preAllocSize` is in KiB)."""
CRC_ERROR = "CRC check failed"
NO_LOGS_TO_TRUNCATE = (
    "No log files found to truncate! This could happen if you still have snapshots from an old setup or "
    "log files were deleted accidentally or dataLogDir was changed in zoo.cfg."
)
_HEX = re.compile(r"[+-]?[0-9a-fA-F]+")


def zxid_from_name(name: str, prefix: str) -> int:
    """`Util.getZxidFromName`: split on '.'; the first part must be `prefix`, the second a hex long; else -1."""
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == prefix and _HEX.fullmatch(parts[1]):
        value = int(parts[1], 16)
        if INT64_MIN <= value <= INT64_MAX:
            return value
    return -1


def log_name(zxid: int) -> str:
    """`Util.makeLogName`: `log.<Long.toHexString(zxid)>`."""
    return f"{LOG_FILE_PREFIX}.{java_hex(zxid)}"


def sort_data_dir(names: list[str], prefix: str, ascending: bool) -> list[str]:
    """`Util.sortDataDir`: a stable sort by the name's zxid (non-matching names count as -1)."""
    return sorted(names, key=lambda n: zxid_from_name(n, prefix), reverse=not ascending)


def log_files(names: list[str], snapshot_zxid: int) -> list[str]:
    """`FileTxnLog.getLogFiles`: the newest log starting at or before `snapshot_zxid`, and all later ones."""
    files = sort_data_dir(names, LOG_FILE_PREFIX, True)
    log_zxid = 0
    for name in files:
        fzxid = zxid_from_name(name, LOG_FILE_PREFIX)
        if fzxid > snapshot_zxid:
            break
        log_zxid = max(log_zxid, fzxid)
    return [n for n in files if zxid_from_name(n, LOG_FILE_PREFIX) >= log_zxid]


class EndKind(enum.Enum):
    """How reading one log file stopped (see the module docstring)."""

    CLEAN = "clean"
    EOF = "eof"
    PARTIAL = "partial"
    CRC = "crc"
    LENGTH = "length"
    NULL_BUFFER = "null_buffer"
    UNSUPPORTED = "unsupported"
    BAD_MAGIC = "bad_magic"
    HEADER_EOF = "header_eof"

    @property
    def fatal(self) -> bool:
        return self not in (EndKind.CLEAN, EndKind.EOF, EndKind.PARTIAL)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry whose checksum matched: where it is, and what it holds."""

    offset: int
    length: int
    header: TxnHeader
    txn: Txn | None
    digest: TxnDigest | None

    @property
    def zxid(self) -> int:
        return self.header.zxid

    @property
    def end(self) -> int:
        """Offset just after the entry's 'B'."""
        return self.offset + 8 + 4 + self.length + 1


@dataclass(frozen=True, slots=True)
class LogScan:
    """Everything `FileTxnIterator` would read from one file.

    `end_offset` is where the ending read started (the offset of the entry that ended the file);
    `data_end` is where the valid data ends (after the last good entry, or after the header).
    `message` is ZooKeeper's exception text for fatal ends ("" for EOFException/NPE without one).
    """

    header: FileHeader | None
    entries: tuple[LogEntry, ...]
    end: EndKind
    end_offset: int
    size: int
    message: str = ""

    @property
    def data_end(self) -> int:
        return self.entries[-1].end if self.entries else min(self.end_offset, HEADER_SIZE)

    @property
    def partial_tail(self) -> bool:
        """Bytes after the last good entry that are not the zero padding (a torn or cut write)."""
        return self.end is EndKind.PARTIAL or (self.end is EndKind.EOF and self.size > self.end_offset)


_SCAN_CACHE: dict[tuple[str, bytes], LogScan] = {}
_SCAN_CACHE_SIZE = 16
_SCAN_CACHE_MAX_FILE = 4 * 1024 * 1024
"""Files larger than this (a real 64 MiB preallocated log) are never cached: 16 of them would pin 1 GiB."""
"""Speed only (the simulator restarts servers thousands of times): the last scans, by (path, bytes).

A start-up reads the same file up to three times unchanged (getLastLoggedZxid, restore's fast-forward, the
committed-log fill), and a file that only grew since it was last scanned (appends) needs only its new tail
read. `scan_log` is a pure function of (path, bytes) and a LogScan is immutable, so this changes nothing but
the time. The oldest scan is evicted first (dict insertion order): memory stays bounded."""


def scan_log(data: bytes, path: str) -> LogScan:
    """Read one log file's bytes as FileTxnIterator does (header check, then `next()` until it stops)."""
    if type(data) is not bytes or len(data) > _SCAN_CACHE_MAX_FILE:
        return _scan_log(data, path, None)
    key = (path, data)
    scan = _SCAN_CACHE.get(key)
    if scan is None:
        scan = _scan_log(data, path, _scanned_prefix(data, path))
        if len(_SCAN_CACHE) >= _SCAN_CACHE_SIZE:
            del _SCAN_CACHE[next(iter(_SCAN_CACHE))]
        _SCAN_CACHE[key] = scan
    return scan


def forget_scans() -> None:
    """Empty the scan cache (for benchmarks: a repeated run must not find the previous run's scans)."""
    _SCAN_CACHE.clear()


def _scanned_prefix(data: bytes, path: str) -> LogScan | None:
    """The cached scan of the longest earlier version of this file that `data` extends, if any.

    Resuming such a scan where it stopped is the same as scanning `data` from the start: every entry it
    accepted was checked against bytes before its stop offset only, and its size checks (`offset + 12 >
    size`, `start + length + 1 > size`) still pass for the larger size. Only a scan that got past the file
    header can be resumed (a file too short for its header reads differently once it is longer).
    """
    best: LogScan | None = None
    for (cached_path, cached_data), scan in _SCAN_CACHE.items():
        if (
            cached_path == path
            and scan.end not in (EndKind.HEADER_EOF, EndKind.BAD_MAGIC)
            and (best is None or scan.size > best.size)
            and len(cached_data) < len(data)
            and data.startswith(cached_data)
        ):
            best = scan
    return best


def _scan_log(data: bytes, path: str, resume: LogScan | None) -> LogScan:
    r = JuteReader(data)
    if resume is not None:
        assert resume.header is not None
        header = resume.header
        r.pos = resume.end_offset
    else:
        try:
            header = FileHeader.decode(r)
        except JuteEOFError:
            return LogScan(None, (), EndKind.HEADER_EOF, 0, len(data), "")
        if header.magic != TXNLOG_MAGIC:
            message = f"Transaction log: {path} has invalid magic number {header.magic} != {TXNLOG_MAGIC}"
            return LogScan(header, (), EndKind.BAD_MAGIC, 0, len(data), message)
    entries: list[LogEntry] = [] if resume is None else list(resume.entries)
    size = len(data)
    while True:
        offset = r.pos
        end, message, entry = _next_entry(r, data, size)
        if entry is None:
            return LogScan(header, tuple(entries), end, offset, size, message)
        entries.append(entry)


def _next_entry(r: JuteReader, data: bytes, size: int) -> tuple[EndKind, str, LogEntry | None]:
    offset = r.pos
    if offset + 12 > size:
        return EndKind.EOF, "", None
    crc = r.read_long()
    length = r.read_int()
    if length == -1:
        return EndKind.NULL_BUFFER, "", None
    if length < 0 or length > r.max_length:
        return EndKind.LENGTH, str(JuteLengthError(length)), None
    if length == 0:
        return EndKind.CLEAN, "", None
    start = r.pos
    if start + length + 1 > size:
        return EndKind.EOF, "", None
    r.pos = start + length + 1
    if data[start + length] != 0x42:
        return EndKind.PARTIAL, "", None
    if zlib.adler32(memoryview(data)[start : start + length]) != crc:
        return EndKind.CRC, CRC_ERROR, None
    try:
        decoded = decode_txn_entry(data, start, start + length)
    except JuteEOFError:
        return EndKind.EOF, "", None
    except JuteLengthError as exc:
        return EndKind.LENGTH, str(exc), None
    except TxnDecodeError as exc:
        return EndKind.UNSUPPORTED, exc.message, None
    return EndKind.CLEAN, "", LogEntry(offset, length, decoded.header, decoded.txn, decoded.digest)


class TxnLogError(Exception):
    """A fatal read error: `message` is ZooKeeper's exception text, `java_class` the exception's class."""

    def __init__(self, message: str, java_class: str = "java.io.IOException", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.java_class = java_class
        self.path = path


_JAVA_CLASSES = {
    EndKind.NULL_BUFFER: "java.lang.NullPointerException",
    EndKind.HEADER_EOF: "java.io.EOFException",
}


@dataclass(frozen=True, slots=True)
class FileEnd:
    """Yielded by `read_log` after a file's entries: which file, how it ended, what ZooKeeper logged."""

    path: str
    scan: LogScan
    log: tuple[LogLine, ...]


def _chosen_files(fs: FileSystem, log_dir: str, zxid: int) -> list[str]:
    """FileTxnIterator.init: files starting at or after `zxid` plus the newest one before it, oldest first."""
    names = log_files(fs.list_dir(log_dir), 0) if fs.is_dir(log_dir) else []
    chosen: list[str] = []
    for name in sort_data_dir(names, LOG_FILE_PREFIX, False):
        chosen.append(name)
        if zxid_from_name(name, LOG_FILE_PREFIX) < zxid:
            break
    return [join(log_dir, name) for name in reversed(chosen)]


def _raise_if_fatal(scan: LogScan, path: str) -> None:
    if scan.end.fatal:
        raise TxnLogError(scan.message, _JAVA_CLASSES.get(scan.end, "java.io.IOException"), path)


def read_log(fs: FileSystem, log_dir: str, zxid: int) -> Iterator[LogEntry | FileEnd]:
    """`FileTxnLog.read(zxid)`: entries from the newest file starting below `zxid` and every later file.

    Entries before the first one with zxid >= `zxid` are skipped (the iterator's fast-forward); after
    that every entry is returned, in file order, with no continuity check. Fatal ends raise TxnLogError
    when reached, after the entries before them were yielded.
    """
    skipping = True
    for path in _chosen_files(fs, log_dir, zxid):
        scan = scan_log(fs.read_bytes(path), path)
        for entry in scan.entries:
            if skipping and entry.zxid < zxid:
                continue
            skipping = False
            yield entry
        _raise_if_fatal(scan, path)
        lines = (LogLine(Level.ERROR, "Last transaction was partial."),) if scan.end is EndKind.PARTIAL else ()
        yield FileEnd(path, scan, lines)


def last_logged_zxid(fs: FileSystem, log_dir: str) -> int:
    """`FileTxnLog.getLastLoggedZxid` on a fresh FileTxnLog: scan from the newest file's name zxid (-1 if none).

    The newest file's name is the starting value, so a log holding only its header reports its name.
    """
    names = log_files(fs.list_dir(log_dir), 0) if fs.is_dir(log_dir) else []
    if not names:
        return -1
    newest = zxid_from_name(names[-1], LOG_FILE_PREFIX)
    zxid = newest
    first = True
    for item in read_log(fs, log_dir, newest):
        if isinstance(item, LogEntry):
            if not first:
                zxid = item.zxid
            first = False
    return zxid


def truncate_log(fs: FileSystem, log_dir: str, zxid: int) -> int:
    """`FileTxnLog.truncate(zxid)`: cut the file after the first entry with zxid >= `zxid`, delete later logs;
    the zxid of that entry, now the log's last, is returned.

    The entry at `zxid` is kept; when the logs lack `zxid`, so is the next entry above it (`FileTxnIterator`
    fast-forwards to the first entry >= zxid and the file is cut after it). If no entry reaches `zxid` (or
    there are no logs) ZooKeeper's iterator has no open stream and it raises "No log files found to truncate!
    ..." (TxnLogError).
    """
    files = _chosen_files(fs, log_dir, zxid)
    for index, path in enumerate(files):
        scan = scan_log(fs.read_bytes(path), path)
        for entry in scan.entries:
            if entry.zxid >= zxid:
                fs.truncate(path, entry.end)
                for later in files[index + 1 :]:
                    fs.delete(later)
                return entry.zxid
        _raise_if_fatal(scan, path)
    raise TxnLogError(NO_LOGS_TO_TRUNCATE)


def calculate_file_size_with_padding(position: int, file_size: int, prealloc_size: int) -> int:
    """`FilePadding.calculateFileSizeWithPadding`: grow by `prealloc_size` when within 4 KiB of the end."""
    if prealloc_size > 0 and position + 4096 >= file_size:
        if position > file_size:
            file_size = position + prealloc_size
            file_size -= file_size % prealloc_size
        else:
            file_size += prealloc_size
    return file_size


_BUFFER_SIZE = 8192
"""`BufferedOutputStream`'s default buffer, through which FileTxnLog writes."""


@dataclass
class _OpenLog:
    """The write state of the current file: buffered bytes, the channel position and the padded size."""

    path: str
    pending: bytearray = field(default_factory=bytearray)
    position: int = 0
    size: int = 0
    padded: int = 0


class TxnLogWriter:
    """`FileTxnLog`'s writing side over a FileSystem: append, commit, roll, close.

    Bytes go through a model of Java's 8 KiB `BufferedOutputStream` (fed by `DataOutputStream`: an int is
    four single-byte writes, a long one 8-byte write - JDK 17), so the channel position that
    `FilePadding.padFile` looks at is ZooKeeper's. Preallocation writes one zero byte at the new end
    (a sparse file on a real disk, as ZooKeeper's), and entries are written at the channel position.
    """

    def __init__(
        self, fs: FileSystem, log_dir: str, prealloc_size: int = DEFAULT_PREALLOC_SIZE, force_sync: bool = True
    ) -> None:
        self.fs = fs
        self.log_dir = log_dir
        self.prealloc_size = prealloc_size
        self.force_sync = force_sync
        self.last_zxid_seen = 0
        self.last_zxid_flushed = 0
        self.log: list[LogLine] = []
        self._current: _OpenLog | None = None
        self._to_flush: list[_OpenLog] = []

    @property
    def current_path(self) -> str | None:
        return None if self._current is None else self._current.path

    def _physical_write(self, log: _OpenLog, chunk: bytes) -> None:
        if not chunk:
            return
        self.fs.write_at(log.path, log.position, chunk)
        log.position += len(chunk)
        log.size = max(log.size, log.position)

    def _flush_buffer(self, log: _OpenLog) -> None:
        chunk = bytes(log.pending)
        log.pending.clear()
        self._physical_write(log, chunk)

    def _write_single(self, log: _OpenLog, value: int) -> None:
        if len(log.pending) >= _BUFFER_SIZE:
            self._flush_buffer(log)
        log.pending.append(value & 0xFF)

    def _write_array(self, log: _OpenLog, chunk: bytes) -> None:
        if len(chunk) >= _BUFFER_SIZE:
            self._flush_buffer(log)
            self._physical_write(log, chunk)
            return
        if len(chunk) > _BUFFER_SIZE - len(log.pending):
            self._flush_buffer(log)
        log.pending += chunk

    def _write_int(self, log: _OpenLog, value: int) -> None:
        for byte in (value & 0xFFFFFFFF).to_bytes(4, "big"):
            self._write_single(log, byte)

    def _pad(self, log: _OpenLog) -> None:
        """`FilePadding.padFile(channel)`: one zero byte at the new size - 1."""
        new_size = calculate_file_size_with_padding(log.position, log.padded, self.prealloc_size)
        if new_size != log.padded:
            if new_size > log.size:
                self.fs.write_at(log.path, new_size - 1, b"\0")
                log.size = new_size
            log.padded = new_size

    def append(
        self, header: TxnHeader, txn: Txn | None, digest: TxnDigest | None, *, entry: bytes | None = None
    ) -> bool:
        """`FileTxnLog.append(hdr, txn, digest)`: a new file on the first append after open/roll.

        `entry`, if given, must be `encode_txn_entry(header, txn, digest)` (a caller that appends one txn to
        several logs encodes it once)."""
        if header.zxid <= self.last_zxid_seen:
            self.log.append(
                LogLine(
                    Level.WARN,
                    f"Current zxid {header.zxid} is <= {self.last_zxid_seen} for {op_name(header.type)}",
                )
            )
        else:
            self.last_zxid_seen = header.zxid
        log = self._current
        if log is None:
            name = log_name(header.zxid)
            self.log.append(LogLine(Level.INFO, f"Creating new log file: {name}"))
            log = _OpenLog(join(self.log_dir, name))
            self.fs.write_bytes(log.path, b"")
            w = JuteWriter()
            FileHeader(TXNLOG_MAGIC, TXNLOG_VERSION, TXNLOG_DBID).encode(w)
            log.pending += w.getvalue()
            self._flush_buffer(log)
            log.padded = log.position
            self._current = log
            self._to_flush.append(log)
        self._pad(log)
        body = encode_txn_entry(header, txn, digest) if entry is None else entry
        crc = zlib.adler32(body).to_bytes(8, "big")
        if len(log.pending) + 13 + len(body) <= _BUFFER_SIZE:
            # the whole entry fits in the buffer: none of the writes below would flush, so one += is the same
            log.pending += crc + (len(body) & 0xFFFFFFFF).to_bytes(4, "big") + body + b"B"
            return True
        self._write_array(log, crc)
        self._write_int(log, len(body))
        self._write_array(log, body)
        self._write_single(log, 0x42)
        return True

    def commit(self) -> None:
        """`FileTxnLog.commit`: flush, fsync every stream since the last commit, close all but the newest."""
        if self._current is not None:
            self._flush_buffer(self._current)
        for log in self._to_flush:
            self._flush_buffer(log)
            if self.force_sync:
                self.fs.fsync(log.path)
        self.last_zxid_flushed = self.last_zxid_seen
        del self._to_flush[:-1]

    def roll(self) -> None:
        """`FileTxnLog.rollLog`: flush (no fsync) and forget the stream; the next append starts a new file."""
        if self._current is not None:
            self._flush_buffer(self._current)
            self._current = None

    def close(self) -> None:
        """`FileTxnLog.close`: flush and close every stream (no fsync)."""
        for log in self._to_flush:
            self._flush_buffer(log)
        self._to_flush.clear()
        self._current = None
