"""Zxids and epochs, as `server/util/ZxidUtils.java` defines them.

A zxid is a signed 64-bit integer: the high 32 bits are the epoch, the low 32 bits the counter of the
transaction within that epoch. ZooKeeper shifts arithmetically, so zxid -1 has epoch -1.
"""

from __future__ import annotations

from typing import NewType

Zxid = NewType("Zxid", int)
"""A transaction id, signed 64-bit (`long` in Java)."""

Epoch = NewType("Epoch", int)
"""An epoch as stored in `currentEpoch`/`acceptedEpoch` (a Java `long`; -1 means unknown)."""

ServerId = NewType("ServerId", int)
"""A server id (`myid`, the N of `server.N`)."""

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
NO_ZXID = Zxid(-1)
"""The zxid of an empty database that was not trusted (FileTxnSnapLog.restore's -1)."""


def to_int64(value: int) -> int:
    """Wrap an integer to a signed 64-bit value, as Java's `long` arithmetic does."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def epoch_of(zxid: int) -> Epoch:
    """`ZxidUtils.getEpochFromZxid`: `zxid >> 32`, arithmetic (so -1 gives -1)."""
    return Epoch(to_int64(zxid) >> 32)


def counter_of(zxid: int) -> int:
    """`ZxidUtils.getCounterFromZxid`: the low 32 bits."""
    return zxid & 0xFFFFFFFF


def make_zxid(epoch: int, counter: int) -> Zxid:
    """`ZxidUtils.makeZxid`: `(epoch << 32) | (counter & 0xffffffff)`, wrapped to 64 bits."""
    return Zxid(to_int64((epoch << 32) | (counter & 0xFFFFFFFF)))


def java_hex(value: int) -> str:
    """`Long.toHexString`: lower-case hex, no prefix, two's complement for negatives (16 digits)."""
    return format(value & ((1 << 64) - 1), "x")


def zxid_to_string(zxid: int) -> str:
    """`ZxidUtils.zxidToString` (= `Long.toHexString`); ZooKeeper's log lines add the `0x` themselves."""
    return java_hex(zxid)
