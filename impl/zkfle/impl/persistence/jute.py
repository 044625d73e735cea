"""Jute's binary encoding, as `org.apache.jute.BinaryInputArchive` / `BinaryOutputArchive` define it.

Everything is big-endian; `ustring` and `buffer` are an int length then the bytes (-1 = null); a vector is
an int count (-1 = null) then its elements. Reading enforces `BinaryInputArchive.checkLength`: a string or
buffer length must lie in `[0, jute.maxbuffer + zookeeper.jute.maxbuffer.extrasize]` (both default
0xfffff), else `IOException("Unreasonable length = N")`. Running out of bytes is Java's `EOFException`,
which ZooKeeper's readers treat differently from other IO errors (end of a log versus corruption), so it is
a separate exception class here.

The reader works on one `bytes` object with an offset (`struct.unpack_from`), never on slices, because
the txn log scanner reads thousands of entries.
"""

from __future__ import annotations

import struct

MAX_BUFFER = 0xFFFFF
"""`BinaryInputArchive.maxBuffer`: the default of the `jute.maxbuffer` system property."""

EXTRA_MAX_BUFFER = 0xFFFFF
"""`BinaryInputArchive.extraMaxBuffer`: `zookeeper.jute.maxbuffer.extrasize`, which defaults to maxBuffer."""

UNREASONABLE_LENGTH = "Unreasonable length = "
"""`BinaryInputArchive.UNREASONBLE_LENGTH` (sic), the prefix of the IOException text."""

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_BYTE = struct.Struct(">b")


class JuteEOFError(Exception):
    """Java's `EOFException`: the data ended inside a value (`DataInputStream.readFully`)."""


class JuteLengthError(Exception):
    """Java's `IOException("Unreasonable length = N")` from `BinaryInputArchive.checkLength`."""

    def __init__(self, length: int) -> None:
        super().__init__(f"{UNREASONABLE_LENGTH}{length}")
        self.length = length


class JuteReader:
    """A `BinaryInputArchive` over an immutable byte string, reading from `pos` up to `end`."""

    __slots__ = ("data", "end", "max_length", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, max_length: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.max_length = MAX_BUFFER + EXTRA_MAX_BUFFER if max_length is None else max_length

    def _need(self, n: int) -> int:
        start = self.pos
        if start + n > self.end:
            raise JuteEOFError(f"needed {n} bytes at offset {start}, only {self.end - start} left")
        self.pos = start + n
        return start

    def remaining(self) -> int:
        return self.end - self.pos

    # read_int, read_long and read_struct inline `_need`: they run hundreds of thousands of times per restore.
    def read_int(self) -> int:
        start = self.pos
        if start + 4 > self.end:
            raise JuteEOFError(f"needed 4 bytes at offset {start}, only {self.end - start} left")
        self.pos = start + 4
        value: int = _INT.unpack_from(self.data, start)[0]
        return value

    def read_long(self) -> int:
        start = self.pos
        if start + 8 > self.end:
            raise JuteEOFError(f"needed 8 bytes at offset {start}, only {self.end - start} left")
        self.pos = start + 8
        value: int = _LONG.unpack_from(self.data, start)[0]
        return value

    def read_struct(self, layout: struct.Struct) -> tuple[int, ...]:
        """Several fixed-size fields at once (a record of ints and longs, e.g. StatPersisted)."""
        start = self.pos
        if start + layout.size > self.end:
            raise JuteEOFError(f"needed {layout.size} bytes at offset {start}, only {self.end - start} left")
        self.pos = start + layout.size
        values: tuple[int, ...] = layout.unpack_from(self.data, start)
        return values

    def read_byte(self) -> int:
        """A signed byte (`DataInput.readByte`)."""
        value: int = _BYTE.unpack_from(self.data, self._need(1))[0]
        return value

    def read_bool(self) -> bool:
        """`DataInput.readBoolean`: any non-zero byte is true."""
        return self.data[self._need(1)] != 0

    def read_buffer(self) -> bytes | None:
        length = self.read_int()
        if length == -1:
            return None
        if length < 0 or length > self.max_length:
            raise JuteLengthError(length)
        start = self.pos
        if start + length > self.end:
            raise JuteEOFError(f"needed {length} bytes at offset {start}, only {self.end - start} left")
        self.pos = start + length
        return self.data[start : start + length]

    def read_ustring(self) -> str | None:
        """`readString`: Java decodes with `new String(b, UTF_8)`, replacing malformed input; so do we."""
        raw = self.read_buffer()
        return None if raw is None else raw.decode("utf-8", errors="replace")

    def read_vector_count(self) -> int | None:
        """`startVector`: the count, or None for -1; no bound is checked (a negative count reads as empty)."""
        count = self.read_int()
        return None if count == -1 else count


class JuteWriter:
    """A `BinaryOutputArchive` into a growing bytearray."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def write_int(self, value: int) -> None:
        self.buf += _INT.pack(value)

    def write_long(self, value: int) -> None:
        self.buf += _LONG.pack(value)

    def write_byte(self, value: int) -> None:
        self.buf += _BYTE.pack(value)

    def write_bool(self, value: bool) -> None:
        self.buf.append(1 if value else 0)

    def write_buffer(self, value: bytes | None) -> None:
        if value is None:
            self.write_int(-1)
            return
        self.write_int(len(value))
        self.buf += value

    def write_ustring(self, value: str | None) -> None:
        self.write_buffer(None if value is None else value.encode("utf-8"))

    def write_vector_count(self, count: int | None) -> None:
        self.write_int(-1 if count is None else count)

    def getvalue(self) -> bytes:
        return bytes(self.buf)
