"""The epoch files `currentEpoch` and `acceptedEpoch` (semantics.md §2.2–2.3).

Written as decimal ASCII without a newline through ZooKeeper's atomic idiom (`AtomicFileWritingIdiom`:
write `<name>.tmp`, fsync it, rename it over `<name>`; the directory is never fsynced). Read as
`QuorumPeer.readLongFromFile` does: the first line (`BufferedReader.readLine`, so `\\n`, `\\r` and `\\r\\n` end
it), then `Long.parseLong` with no trimming; anything else is `IOException("Found <line> in <file>")`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from zkfle.impl.core.javalang import parse_long
from zkfle.impl.persistence.fs import FileSystem, join

CURRENT_EPOCH_FILENAME = "currentEpoch"
"""`QuorumPeer.CURRENT_EPOCH_FILENAME`."""
ACCEPTED_EPOCH_FILENAME = "acceptedEpoch"
"""`QuorumPeer.ACCEPTED_EPOCH_FILENAME`."""
TMP_EXTENSION = ".tmp"
"""`AtomicFileOutputStream.TMP_EXTENSION`."""


class EpochFileError(Exception):
    """`readLongFromFile`'s IOException: the file exists but does not hold a Java long.

    `message` is ZooKeeper's text, `Found <first line> in <path>` (`Found null in <path>` for an empty file).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def first_line(data: bytes) -> str | None:
    """`BufferedReader.readLine()` of the file's first line; None for an empty file.

    Bytes are decoded as UTF-8 with U+FFFD for invalid sequences, as Java's decoder does under a UTF-8
    default charset (the JVM's charset follows the locale on Java 17; UTF-8 is the common case).
    """
    if not data:
        return None
    text = data.decode("utf-8", errors="replace")
    for index, char in enumerate(text):
        if char in "\r\n":
            return text[:index]
    return text


def read_long_from_file(fs: FileSystem, path: str) -> int:
    """`QuorumPeer.readLongFromFile`: `FileNotFoundError` if absent, `EpochFileError` if not a long."""
    line = first_line(fs.read_bytes(path))
    value = None if line is None else parse_long(line)
    if value is None:
        raise EpochFileError(f"Found {'null' if line is None else line} in {path}")
    return value


class WriteStep(Enum):
    """The steps of `AtomicFileWritingIdiom`, in order: a crash can fall between any two of them."""

    WRITE_TMP = "write_tmp"
    """`new FileOutputStream(<target>.tmp)` + write + flush: the tmp file exists, its bytes are not durable."""
    FSYNC_TMP = "fsync_tmp"
    """`AtomicFileOutputStream.close`: `getFD().sync()` of the tmp file; the tmp content is durable."""
    RENAME = "rename"
    """`rename(tmp, target)`: the new value is in place (POSIX replaces the target)."""


@dataclass(frozen=True, slots=True)
class EpochWrite:
    """One epoch file write: the target path and the value it will hold."""

    path: str
    value: int

    @property
    def tmp_path(self) -> str:
        return self.path + TMP_EXTENSION

    def steps(self, fs: FileSystem) -> Iterator[WriteStep]:
        """Perform the write one step at a time, yielding each step after it is done.

        Callers that model crashes (the simulator, the crash-point tests) stop iterating where the
        process dies; `write_long_to_file` runs it to the end.
        """
        try:
            fs.write_bytes(self.tmp_path, str(self.value).encode("ascii"))
            yield WriteStep.WRITE_TMP
            fs.fsync(self.tmp_path)
            yield WriteStep.FSYNC_TMP
        except OSError:
            # AtomicFileOutputStream.close / abort: the tmp file is deleted when the write fails.
            if fs.exists(self.tmp_path):
                fs.delete(self.tmp_path)
            raise
        fs.rename(self.tmp_path, self.path)
        yield WriteStep.RENAME


def write_long_to_file(fs: FileSystem, path: str, value: int) -> None:
    """`QuorumPeer.writeLongToFile`: the whole atomic write of `value` to `path`."""
    for _ in EpochWrite(path, value).steps(fs):
        pass


def epoch_path(snap_dir: str, name: str) -> str:
    """Where an epoch file lives: in the snapshot directory (`logFactory.getSnapDir()`), not the log dir."""
    return join(snap_dir, name)
