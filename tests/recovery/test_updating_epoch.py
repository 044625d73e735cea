"""Branch 3.4's `updatingEpoch` rule (ZOOKEEPER-1653) in impl's `load_database` and in the checker's spec.

`QuorumPeer.loadDataBase` on branch 3.4: when currentEpoch (read from its file) is older than the epoch of
the last zxid and `version-2/updatingEpoch` exists, currentEpoch := that epoch (written) and the marker is
deleted; otherwise the marker changes nothing. 3.8 (`LoadOptions()`'s default) ignores the file.
"""

from __future__ import annotations

import pytest

from zkfle.checker.testing.datadirs import write_data_dir
from zkfle.impl.datadir import explain, inspect_data_dir
from zkfle.impl.logline import Level
from zkfle.impl.persistence.fs import MemoryFileSystem
from zkfle.impl.recovery import UPDATING_EPOCH_FILENAME, DatabaseLoaded, DatabaseRefused, LoadOptions, load_database
from zkfle.spec import recovery as spec
from zkfle.spec.zxid import Epoch, Zxid, make_zxid

SNAP = "/d/version-2"
MARKER = f"{SNAP}/{UPDATING_EPOCH_FILENAME}"
WITH_MARKER_RULE = LoadOptions(updating_epoch_marker=True)


def _disk(current: int, *, marker: bool, tmp: int | None = None) -> MemoryFileSystem:
    """Txns of epochs 1 and 2 (last zxid (2, 3)), acceptedEpoch 2, currentEpoch `current`."""
    fs = MemoryFileSystem()
    write_data_dir(fs, "/d", txns_per_epoch=(3, 3), current_epoch=current, accepted_epoch=2)
    if marker:
        fs.write_bytes(MARKER, b"")
    if tmp is not None:
        fs.write_bytes(f"{SNAP}/currentEpoch.tmp", str(tmp).encode())
    return fs


def test_marker_adopts_the_zxid_epoch_and_is_deleted() -> None:
    fs = _disk(1, marker=True)
    outcome = load_database(fs, SNAP, options=WITH_MARKER_RULE)
    assert isinstance(outcome, DatabaseLoaded)
    assert (outcome.zxid, outcome.current_epoch, outcome.accepted_epoch) == (make_zxid(2, 3), 2, 2)
    assert fs.read_bytes(f"{SNAP}/currentEpoch") == b"2"
    assert not fs.exists(MARKER)
    text = (
        "updatingEpoch found. The server was terminated after taking a snapshot but before updating current "
        "epoch. Setting current epoch to 2."
    )
    assert [(line.level, line.text) for line in outcome.log if "updatingEpoch" in line.text] == [(Level.INFO, text)]


def test_3_8_ignores_the_marker() -> None:
    fs = _disk(1, marker=True)
    outcome = load_database(fs, SNAP)
    assert isinstance(outcome, DatabaseRefused)
    assert outcome.message == f"The current epoch, 1, is older than the last zxid, {make_zxid(2, 3)}"
    assert fs.exists(MARKER)


def test_marker_without_a_newer_zxid_stays_and_changes_nothing() -> None:
    fs = _disk(2, marker=True)
    outcome = load_database(fs, SNAP, options=WITH_MARKER_RULE)
    assert isinstance(outcome, DatabaseLoaded) and outcome.current_epoch == 2
    assert fs.exists(MARKER)


def test_marker_goes_before_the_tmp_fallback() -> None:
    # 3.4 checks the marker right after reading currentEpoch; the .tmp value is never read then
    fs = _disk(1, marker=True, tmp=7)
    outcome = load_database(fs, SNAP, options=WITH_MARKER_RULE)
    assert isinstance(outcome, DatabaseLoaded) and outcome.current_epoch == 2


@pytest.mark.parametrize("current", [0, 1, 2])
@pytest.mark.parametrize("marker", [False, True])
@pytest.mark.parametrize("tmp", [None, 2])
def test_spec_agrees_with_impl(current: int, marker: bool, tmp: int | None) -> None:
    """The checker's rule (written independently) and impl's give the same values."""
    fs = _disk(current, marker=marker, tmp=tmp)
    outcome = load_database(fs, SNAP, options=WITH_MARKER_RULE)
    state = spec.DurableState(
        Zxid(make_zxid(2, 3)),
        Epoch(current),
        Epoch(2),
        None if tmp is None else Epoch(tmp),
        updating_epoch=marker,
    )
    expected = spec.load_database(state)
    if isinstance(expected, spec.Loaded):
        assert isinstance(outcome, DatabaseLoaded)
        assert (outcome.zxid, outcome.current_epoch, outcome.accepted_epoch) == (
            expected.zxid,
            expected.current_epoch,
            expected.accepted_epoch,
        )
        assert fs.exists(MARKER) == expected.after.updating_epoch
        assert spec.load_database(expected.after) == spec.Loaded(
            expected.zxid, expected.current_epoch, expected.accepted_epoch, expected.after
        )
    else:
        assert isinstance(outcome, DatabaseRefused) and outcome.message == expected.message


def test_datadir_models_3_8_and_mentions_the_marker() -> None:
    fs = _disk(1, marker=True)
    report = inspect_data_dir(fs, "/d")
    assert report.updating_epoch and not report.would_start
    assert any(UPDATING_EPOCH_FILENAME in note and "3.8 ignores it" in note for note in report.notes)
    assert any("ZooKeeper 3.4 would set currentEpoch to 2" in line for line in explain(report))
    assert fs.exists(MARKER)  # inspected on a copy-on-write view


def test_datadir_without_a_marker_says_nothing_of_it() -> None:
    report = inspect_data_dir(_disk(1, marker=False), "/d")
    assert not report.updating_epoch
    assert not any(UPDATING_EPOCH_FILENAME in note for note in report.notes)
    assert not any("ZooKeeper 3.4 would set" in line for line in explain(report))
