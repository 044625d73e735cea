"""Epoch files: ZooKeeper's text format, its reader's quirks and the atomic write's steps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkfle.impl.core.javalang import parse_long
from zkfle.impl.persistence.epochfiles import (
    EpochFileError,
    EpochWrite,
    WriteStep,
    read_long_from_file,
    write_long_to_file,
)
from zkfle.impl.persistence.fs import MemoryFileSystem
from zkfle.spec.zxid import INT64_MAX, INT64_MIN

PATH = "/d/version-2/currentEpoch"


def fs_with(content: bytes | None) -> MemoryFileSystem:
    fs = MemoryFileSystem()
    fs.mkdirs("/d/version-2")
    if content is not None:
        fs.write_bytes(PATH, content)
        fs.fsync(PATH)
    return fs


def test_written_as_decimal_without_newline() -> None:
    fs = fs_with(None)
    write_long_to_file(fs, PATH, 1)
    assert fs.read_bytes(PATH) == b"1"  # verified on 3.8.0: a file holding 1 is the single byte 0x31
    assert not fs.exists(PATH + ".tmp")
    write_long_to_file(fs, PATH, -1)
    assert fs.read_bytes(PATH) == b"-1"


@pytest.mark.parametrize(
    ("content", "value"),
    [(b"2", 2), (b"2\n", 2), (b"2\r\n", 2), (b"2\rjunk", 2), (b"+7", 7), (b"-1", -1), (b"2\nabc", 2)],
)
def test_reader_accepts_what_readline_and_parselong_accept(content: bytes, value: int) -> None:
    assert read_long_from_file(fs_with(content), PATH) == value


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (b"", "null"),  # corpus e7: "Found null in <dir>/version-2/currentEpoch"
        (b"abc", "abc"),  # corpus e6
        (b" 2", " 2"),  # no trimming
        (b"2 ", "2 "),
        (b"1_000", "1_000"),  # Python's int() would accept this; Long.parseLong does not
        (b"\n", ""),
        (b"-", "-"),
        (b"9223372036854775808", "9223372036854775808"),  # one past Long.MAX_VALUE
        (b"0x10", "0x10"),
    ],
)
def test_reader_rejects_with_zookeepers_message(content: bytes, shown: str) -> None:
    with pytest.raises(EpochFileError) as info:
        read_long_from_file(fs_with(content), PATH)
    assert info.value.message == f"Found {shown} in {PATH}"


def test_missing_file_is_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        read_long_from_file(fs_with(None), PATH)


def test_unicode_digits_as_java_character_digit() -> None:
    assert parse_long("\u0661\u0662") == 12  # ARABIC-INDIC digits one, two


@given(st.integers(INT64_MIN, INT64_MAX))
def test_round_trip(value: int) -> None:
    fs = fs_with(None)
    write_long_to_file(fs, PATH, value)
    assert read_long_from_file(fs, PATH) == value
    assert parse_long(str(value)) == value


def test_atomic_write_steps_and_crash_windows() -> None:
    fs = fs_with(b"1")
    write = EpochWrite(PATH, 2)
    steps = write.steps(fs)
    assert next(steps) is WriteStep.WRITE_TMP
    fs_after_write = fs.read_bytes(PATH + ".tmp")
    assert fs_after_write == b"2"
    assert fs.read_bytes(PATH) == b"1"
    assert next(steps) is WriteStep.FSYNC_TMP
    assert next(steps) is WriteStep.RENAME
    assert list(steps) == []
    assert fs.read_bytes(PATH) == b"2"
    assert not fs.exists(PATH + ".tmp")


def test_crash_before_fsync_loses_the_tmp() -> None:
    fs = fs_with(b"1")
    steps = EpochWrite(PATH, 2).steps(fs)
    next(steps)
    fs.crash()
    assert not fs.exists(PATH + ".tmp")  # never fsynced: gone, name and all (the crash model of fs.py)
    assert fs.read_bytes(PATH) == b"1"


def test_failed_write_deletes_tmp() -> None:
    class FailingFsync(MemoryFileSystem):
        def fsync(self, path: str) -> None:
            raise OSError("disk full")

    fs = FailingFsync()
    fs.mkdirs("/d/version-2")
    with pytest.raises(OSError, match="disk full"):
        write_long_to_file(fs, PATH, 3)
    assert not fs.exists(PATH + ".tmp")
    assert not fs.exists(PATH)
