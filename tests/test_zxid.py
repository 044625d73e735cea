"""Zxid helpers against ZxidUtils' definitions and values seen in real ZooKeeper logs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zkfle.spec.zxid import INT64_MAX, INT64_MIN, counter_of, epoch_of, java_hex, make_zxid, to_int64


def test_values_from_real_logs() -> None:
    assert epoch_of(8589934610) == 2  # "The current epoch, 1, is older than the last zxid, 8589934610"
    assert counter_of(0x200000012) == 0x12
    assert make_zxid(2, 0) == 0x200000000
    assert java_hex(0x100000021) == "100000021"


def test_minus_one() -> None:
    assert epoch_of(-1) == -1
    assert counter_of(-1) == 0xFFFFFFFF
    assert java_hex(-1) == "ffffffffffffffff"


@given(st.integers(INT64_MIN, INT64_MAX))
def test_make_of_parts_is_identity(zxid: int) -> None:
    assert make_zxid(epoch_of(zxid), counter_of(zxid)) == zxid
    assert to_int64(zxid) == zxid
